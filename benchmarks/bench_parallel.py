"""Parallel in time: the scan's exactness and speed, and Newton's method over the trajectory.

Sections, each with verdict lines (PASS/FAIL, the measured number and the bound):

1. exactness: every ODE stepper on the driven oscillator (the lecture's m = k = 1, A = 0.5,
   undamped, driven at resonance), one trajectory from s0 = (1, 0), h = 0.01, T steps
   (10^6): the scan (``backend="scan"``) against the sequential loop (the compiled loop, bit
   for bit the numpy loop's numbers; numpy's when numba is missing).  The relative difference
   is max |s_scan - s_loop| / max |s_loop| over every step and component; bound 1e-12.  Then
   how it grows with T, for RK4 undamped and damped (c = 0.1).
2. speed: RK4 on the same oscillator, B = 1, T = 10^6: the numpy time loop, a pure-Python
   loop (floats and math.cos, no numpy), the compiled loop and the scan, side by side in one
   run (median of --repeats runs; the numpy and pure-Python loops once each, they take tens
   of seconds).  Bound: the scan at least 10x faster than the numpy loop.
3. Newton over the trajectory: the damped pendulum (damping 0.5, s0 = (1, 0)), RK4, h = 0.01,
   T = 10^4, B = 1, each variant (full, quasi, damped) against the numpy loop; a tanh Jordan
   network (hidden 32) run free for 10^4 steps; and Lorenz (chaotic), in one block and in
   blocks of 50 steps.  Bound: the best variant converges to 1e-10 relative in at most 20
   iterations and runs faster than the numpy loop.
4. BPTT by scan: the adjoint pass of Elman and Jordan networks, tanh and identity, by a
   reverse scan against the sequential loop; bound 1e-12 relative on every gradient.

Usage::

    python benchmarks/bench_parallel.py [--quick] [--repeats N] [--json FILE]

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dynsys import kernels
from dynsys.simulate import simulate
from dynsys.steppers import STEPPERS
from dynsys.systems import get_system

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_core import table, verdict  # the benchmarks folder is not a package

EXACT = 1e-12  # relative difference of the scan (and BPTT by scan) against the loop
SPEEDUP = 10.0  # the scan against the numpy loop
NEWTON_ITERATIONS = 20
H = 0.01


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), out


def loop_backend() -> str:
    return "numba" if kernels.available() else "numpy"


def oscillator(c: float = 0.0):
    return get_system("driven_oscillator").with_params(c=c)


def run(system, method: str, n_steps: int, backend: str, **kw):
    return simulate(
        system, [1.0, 0.0], t_span=(0.0, n_steps * H), dt=H, method=method, backend=backend, **kw
    )


# -- 1. exactness ----------------------------------------------------------------------------


def exactness(n_steps: int) -> dict[str, Any]:
    loop = loop_backend()
    rows = []
    for method in (m for m in STEPPERS if m != "map"):
        system = oscillator()
        run(system, method, 10, loop)  # compile (or load) the loop before timing anything
        reference = run(system, method, n_steps, loop)
        began = time.perf_counter()
        scanned = run(system, method, n_steps, "scan")
        rows.append(
            {
                "method": method,
                "rel": rel(scanned.states, reference.states),
                "scan_s": time.perf_counter() - began,
                "max_state": float(np.abs(reference.states).max()),
            }
        )
    growth = []
    for c in (0.0, 0.1):
        for count in sorted({10**3, 10**4, 10**5, n_steps} & set(range(n_steps + 1))):
            ref = run(oscillator(c), "rk4", count, loop)
            scanned = run(oscillator(c), "rk4", count, "scan")
            growth.append({"c": c, "T": count, "rel": rel(scanned.states, ref.states)})
    return {"loop": loop, "n_steps": n_steps, "methods": rows, "growth": growth}


def report_exactness(result: dict[str, Any], judged: bool) -> bool:
    rows = result["methods"]
    table(
        f"1. scan vs the sequential loop ({result['loop']}), driven oscillator, "
        f"T = {result['n_steps']:.0e}, B = 1",
        ("method", "relative difference", "max |s|", "scan s"),
        [
            (r["method"], f"{r['rel']:.2e}", f"{r['max_state']:.3g}", f"{r['scan_s']:.2f}")
            for r in rows
        ],
    )
    worst = max(rows, key=lambda r: r["rel"])
    ok = worst["rel"] <= EXACT
    print(f"  worst {worst['method']}: {worst['rel']:.2e} (bound {EXACT:g}): {verdict(ok, judged)}")
    table(
        "   growth with T, RK4",
        ("damping c", "T", "relative difference", "/ (sqrt(T) eps)"),
        [
            (
                g["c"],
                f"{g['T']:.0e}",
                f"{g['rel']:.2e}",
                f"{g['rel'] / (math.sqrt(g['T']) * 2.2e-16):.2f}",
            )
            for g in result["growth"]
        ],
    )
    return ok


# -- 2. speed --------------------------------------------------------------------------------


def python_rk4(n_steps: int, h: float = H) -> tuple[float, float]:
    """RK4 on s'' = -s + 0.5 cos t with Python floats: the loop without numpy."""
    s, v = 1.0, 0.0
    cos = math.cos
    for n in range(n_steps):
        t = n * h
        x0, xh, x1 = 0.5 * cos(t), 0.5 * cos(t + 0.5 * h), 0.5 * cos(t + h)
        k1s, k1v = v, x0 - s
        k2s, k2v = v + 0.5 * h * k1v, xh - (s + 0.5 * h * k1s)
        k3s, k3v = v + 0.5 * h * k2v, xh - (s + 0.5 * h * k2s)
        k4s, k4v = v + h * k3v, x1 - (s + h * k3s)
        s += h / 6 * (k1s + 2 * k2s + 2 * k3s + k4s)
        v += h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)
    return s, v


def speed(n_steps: int, repeats: int) -> dict[str, Any]:
    system = oscillator()
    out: dict[str, Any] = {"n_steps": n_steps}
    out["numpy_s"], ref = median_time(lambda: run(system, "rk4", n_steps, "numpy"), 1)
    out["python_s"], last = median_time(lambda: python_rk4(n_steps), 1)
    out["python_rel_end"] = rel(np.array(last), ref.states[-1])
    if kernels.available():
        run(system, "rk4", 10, "numba")
        out["compiled_s"], _ = median_time(lambda: run(system, "rk4", n_steps, "numba"), repeats)
    out["scan_s"], scanned = median_time(lambda: run(system, "rk4", n_steps, "scan"), repeats)
    out["scan_rel"] = rel(scanned.states, ref.states)
    return out


def report_speed(result: dict[str, Any], judged: bool) -> bool:
    numpy_s = result["numpy_s"]
    rows = [
        ("numpy time loop", numpy_s, "1 run"),
        ("pure-Python loop", result["python_s"], "1 run"),
        ("compiled loop (numba)", result.get("compiled_s"), "median"),
        ("scan", result["scan_s"], "median"),
    ]
    table(
        f"2. RK4, driven oscillator, B = 1, T = {result['n_steps']:.0e}",
        ("loop", "seconds", "numpy loop / this", "timing"),
        [
            (
                name,
                "n/a" if s is None else f"{s:.3f}",
                "n/a" if s is None else f"{numpy_s / s:.1f}x",
                how,
            )
            for name, s, how in rows
        ],
    )
    ratio = numpy_s / result["scan_s"]
    ok = ratio >= SPEEDUP
    print(f"  scan vs numpy loop: {ratio:.1f}x (bound {SPEEDUP:g}x): {verdict(ok, judged)}")
    return ok


# -- 3. Newton over the trajectory -----------------------------------------------------------


def newton(n_steps: int, repeats: int) -> dict[str, Any]:
    pendulum = get_system("pendulum").with_params(damping=0.5)
    span = (0.0, n_steps * H)

    def sim(system, backend, **kw):
        return simulate(
            system,
            system.default_s0 if system.name == "lorenz" else [1.0, 0.0],
            t_span=span,
            dt=H,
            method="rk4",
            backend=backend,
            **kw,
        )

    loop_s, ref = median_time(lambda: sim(pendulum, "numpy"), repeats)
    variants = []
    for variant in ("full", "quasi", "damped"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            wall, traj = median_time(
                lambda v=variant: sim(
                    pendulum, "newton", newton={"variant": v, "max_iterations": 100}
                ),
                repeats,
            )
        variants.append(
            {
                "variant": variant,
                "iterations": traj.info["newton_iterations"],
                "converged": "fallback" not in traj.info,
                "seconds": wall,
                "rel": rel(traj.states, ref.states),
            }
        )
    lorenz = get_system("lorenz")
    _, lorenz_ref = median_time(lambda: sim(lorenz, "numpy"), 1)
    chaos = []
    for block in (None, 50):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            traj = sim(lorenz, "newton", newton={"block": block, "max_iterations": 200})
        chaos.append(
            {
                "block": block,
                "iterations": traj.info["newton_iterations"],
                "blocks": traj.info["newton_blocks"],
                "fallback": traj.info.get("fallback", ""),
                "rel": rel(traj.states, lorenz_ref.states),
            }
        )
    return {
        "n_steps": n_steps,
        "loop_s": loop_s,
        "variants": variants,
        "lorenz": chaos,
        "jordan": jordan_newton(n_steps),
    }


def jordan_newton(n_steps: int) -> dict[str, Any] | None:
    try:
        from dynsys.rnn.parallel import newton_forward_report
    except ImportError:
        return None
    return newton_forward_report(n_steps)


def report_newton(result: dict[str, Any], judged: bool) -> bool:
    loop_s = result["loop_s"]
    table(
        f"3. Newton over the trajectory, damped pendulum, RK4, T = {result['n_steps']:.0e}, B = 1 "
        f"(numpy loop {loop_s:.3f} s)",
        (
            "variant",
            "iterations",
            "converged",
            "seconds",
            "numpy loop / this",
            "relative difference",
        ),
        [
            (
                v["variant"],
                v["iterations"],
                "yes" if v["converged"] else "no (fell back)",
                f"{v['seconds']:.3f}",
                f"{loop_s / v['seconds']:.1f}x",
                f"{v['rel']:.1e}",
            )
            for v in result["variants"]
        ],
    )
    good = [
        v
        for v in result["variants"]
        if v["converged"]
        and v["iterations"] <= NEWTON_ITERATIONS
        and v["rel"] <= 1e-10
        and v["seconds"] < loop_s
    ]
    ok = bool(good)
    best = ", ".join(v["variant"] for v in good) or "none"
    print(
        f"  converged to 1e-10 in <= {NEWTON_ITERATIONS} iterations and faster than the numpy "
        f"loop: {best}: {verdict(ok, judged)}"
    )
    jordan = result.get("jordan")
    if jordan:
        print(f"  tanh Jordan network: {json.dumps(jordan, default=float)}")
    table(
        "   Lorenz (chaotic), full variant, budget 200 iterations per block",
        ("block", "iterations", "blocks", "relative difference", "outcome"),
        [
            (
                "whole run" if c["block"] is None else c["block"],
                c["iterations"],
                c["blocks"],
                f"{c['rel']:.1e}",
                c["fallback"][:60] + "..." if c["fallback"] else "converged",
            )
            for c in result["lorenz"]
        ],
    )
    return ok


# -- 4. BPTT by scan -------------------------------------------------------------------------


def bptt() -> list[dict[str, Any]] | None:
    try:
        from dynsys.rnn.parallel import bptt_scan_report
    except ImportError:
        return None
    return bptt_scan_report()


def report_bptt(rows: list[dict[str, Any]] | None, judged: bool) -> bool:
    if rows is None:
        print("\n4. BPTT by scan: not available")
        return False
    table(
        "4. BPTT by scan vs the sequential loop",
        tuple(rows[0]),
        [tuple(f"{v:.2e}" if isinstance(v, float) else v for v in r.values()) for r in rows],
    )
    worst = max(r["rel"] for r in rows)
    ok = worst <= EXACT
    print(f"  worst: {worst:.2e} (bound {EXACT:g}): {verdict(ok, judged)}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: no verdicts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = parser.parse_args(argv)
    judged = not args.quick
    long_run = 10**4 if args.quick else 10**6
    began = time.perf_counter()
    print("dynsys parallel-in-time benchmark" + (" (--quick)" if args.quick else ""))
    print(f"  numpy {np.__version__}, {os.cpu_count()} cores, loop: {loop_backend()}")
    results: dict[str, Any] = {}
    oks = []
    results["exactness"] = exactness(long_run)
    oks.append(report_exactness(results["exactness"], judged))
    results["speed"] = speed(long_run, args.repeats)
    oks.append(report_speed(results["speed"], judged))
    results["newton"] = newton(10**3 if args.quick else 10**4, args.repeats)
    oks.append(report_newton(results["newton"], judged))
    results["bptt"] = bptt()
    oks.append(report_bptt(results["bptt"], judged))
    print(f"\n{sum(oks)}/{len(oks)} PASS in {time.perf_counter() - began:.0f} s")
    if args.json:
        from dynsys.files import atomic_write

        text = json.dumps(results, indent=1, default=float).encode()
        atomic_write(args.json, lambda f: f.write(text))
    return 0 if all(oks) or not judged else 1


if __name__ == "__main__":
    sys.exit(main())
