"""Energy over long runs: symplectic splittings against RK4 on the undamped pendulum.

The pendulum theta'' = -sin(theta) (g = 1, length = 1: time in units of sqrt(length/g); change
g with ``--g``) from theta(0) = 1 rad at rest, h = 0.05, 10^6 steps (t = 50,000, about 7,500
periods), each method's relative energy error
e(t) = |E(t) - E(0)| / E(0) at the kept times (every ``--save-every`` step): its maximum over
the run and over each decade of time (0, 10], (10, 100], ..., its growth exponent (the
least-squares slope of log(max over a decade) against log(end of the decade), over the decades
from t = 10 on: 0 for an error that stays bounded, 1 for one that grows linearly) and the wall
time (median of ``--repeats`` runs, compiling not timed).

Verdicts: verlet's and yoshida4's maxima below ``--verlet-max`` and ``--yoshida-max`` with
growth exponents below 0.1 (no growth), and RK4's exponent above 0.5 (drifting).

Usage::

    python benchmarks/bench_longtime.py [--dt H] [--steps N] [--save-every K] [--repeats R]
        [--backend auto|numpy|numba] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

import dynsys
from dynsys import kernels
from dynsys.files import atomic_write
from dynsys.tables import table

METHODS = ("verlet", "yoshida4", "rk4", "semi_implicit_euler")
S0 = (1.0, 0.0)  # theta = 1 rad, at rest
NO_GROWTH = 0.1  # largest growth exponent of a bounded energy error
DRIFTING = 0.5  # smallest growth exponent of a drifting one


@dataclass(frozen=True)
class LongRun:
    """One method's energy error over the run, by decade of time, and its wall times."""

    method: str
    backend: str
    max_error: float
    decades: list[tuple[float, float, float]]
    """(start, end, max relative energy error over start < t <= end)."""
    growth_exponent: float | None
    wall_s: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.wall_s)


def decade_windows(t_end: float) -> list[tuple[float, float]]:
    """(0, 10], (10, 100], ... up to t_end (the last window ends at t_end)."""
    edges = [0.0]
    edge = 10.0
    while edge < t_end:
        edges.append(edge)
        edge *= 10
    edges.append(t_end)
    return list(itertools.pairwise(edges))


def growth_exponent(decades: list[tuple[float, float, float]]) -> float | None:
    """Slope of log(max error) against log(window end) over the windows after (0, 10]."""
    later = [(end, err) for start, end, err in decades if start > 0 and err > 0]
    if len(later) < 2:
        return None
    ends, errors = np.array(later).T
    return float(np.polyfit(np.log(ends), np.log(errors), 1)[0])


def measure(method: str, args: argparse.Namespace) -> LongRun:
    system = dynsys.get_system("pendulum", g=args.g, length=1.0)
    t_end = args.steps * args.dt
    run = dict(dt=args.dt, method=method, backend=args.backend)
    # untimed warm-up: with "auto", compile (and so cache) the loop when numba can run the
    # method, as a user's first session would, so that the timed runs take the cached loop
    stepper = dynsys.get_stepper(method, system)
    warm = args.backend
    if warm == "auto" and kernels.available() and kernels.supports(system, stepper):
        warm = "numba"
    dynsys.simulate(system, S0, t_span=(0, 2 * args.dt), **{**run, "backend": warm})
    walls, traj = [], None
    for _ in range(args.repeats):
        began = time.perf_counter()
        traj = dynsys.simulate(system, S0, t_span=(0, t_end), save_every=args.save_every, **run)
        walls.append(time.perf_counter() - began)
    energy = traj.energy()
    error = np.abs(energy - energy[0]) / energy[0]
    decades = []
    for start, end in decade_windows(float(traj.t[-1])):
        inside = (traj.t > start) & (traj.t <= end)
        decades.append((start, end, float(error[inside].max())))
    return LongRun(
        method=method,
        backend=traj.info["backend"],
        max_error=float(error.max()),
        decades=decades,
        growth_exponent=growth_exponent(decades),
        wall_s=walls,
    )


def verdicts(results: dict[str, LongRun], args: argparse.Namespace) -> list[tuple[str, bool]]:
    """(line, passed) for each verdict whose method ran."""
    out = []
    limits = {"verlet": args.verlet_max, "yoshida4": args.yoshida_max}
    for name, limit in limits.items():
        if name in results:
            r = results[name]
            bounded = r.growth_exponent is not None and r.growth_exponent < NO_GROWTH
            ok = r.max_error < limit and bounded
            out.append(
                (
                    f"{name}: max energy error {r.max_error:.3e} < {limit:g} and growth exponent "
                    f"{_exp(r.growth_exponent)} < {NO_GROWTH} (bounded)",
                    ok,
                )
            )
    if "rk4" in results:
        r = results["rk4"]
        ok = r.growth_exponent is not None and r.growth_exponent > DRIFTING
        out.append((f"rk4: growth exponent {_exp(r.growth_exponent)} > {DRIFTING} (drifting)", ok))
    return out


def _exp(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dt", type=float, default=0.05, help="step h (default 0.05)")
    parser.add_argument("--steps", type=int, default=1_000_000, help="steps (default 1e6)")
    parser.add_argument(
        "--save-every", type=int, default=5, help="keep every K-th step (default 5: 3.2 MB)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method")
    parser.add_argument("--backend", choices=("auto", "numpy", "numba"), default="auto")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument("--g", type=float, default=1.0, help="g/length (default 1)")
    parser.add_argument("--verlet-max", type=float, default=1e-3, help="verlet's verdict bound")
    parser.add_argument("--yoshida-max", type=float, default=1e-6, help="yoshida4's bound")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args(argv)
    if args.backend == "numba" and not kernels.available():
        print("--backend numba needs numba: pip install -e '.[fast]'", file=sys.stderr)
        return 2

    t_end = args.steps * args.dt
    print(
        f"pendulum (g={args.g:g}, length=1) from theta=1 rad at rest, h={args.dt:g}, "
        f"{args.steps:.3g} steps (t in [0, {t_end:g}]), kept every {args.save_every}; "
        f"backend {args.backend}; load average {os.getloadavg()[0]:.2f}"
    )
    results = {m: measure(m, args) for m in args.methods.split(",") if m}
    windows = next(iter(results.values())).decades
    headers = ["method", "loop", "max error", *(f"({a:g}, {b:g}]" for a, b, _ in windows)]
    headers += ["growth exp", "wall s"]
    rows = [
        [
            r.method,
            r.backend,
            f"{r.max_error:.3e}",
            *(f"{err:.3e}" for _, _, err in r.decades),
            _exp(r.growth_exponent),
            f"{r.median_s:.3f}",
        ]
        for r in results.values()
    ]
    print("relative energy error |E(t) - E(0)| / E(0): maximum over the run and per decade")
    print(table(headers, rows))
    print(f"wall s: median of {args.repeats} runs (compiling not timed)")
    checks = verdicts(results, args)
    for line, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    if args.json:
        doc = {
            "dt": args.dt,
            "steps": args.steps,
            "save_every": args.save_every,
            "backend": args.backend,
            "results": {name: asdict(r) for name, r in results.items()},
            "verdicts": [{"line": line, "passed": ok} for line, ok in checks],
        }
        text = json.dumps(doc, indent=1, default=float).encode()
        atomic_write(args.json, lambda f: f.write(text))
    finite = all(math.isfinite(r.max_error) for r in results.values())
    return 0 if finite and all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
