"""dynsys's analysis tools against known values: Lyapunov exponents, Feigenbaum's delta, and
the speed of orbit diagrams, exponents over parameter sweeps and basin maps.

Verdict lines (PASS/FAIL, the measured number and the bound):

1. Lorenz (10, 28, 8/3), RK4 at dt = 0.001, 1,000 time units after 10: the spectrum within
   0.01 of Sprott's (0.9056, 0, -14.5723), and its sum within 1e-6 of -(sigma + 1 + beta) =
   -13.6667 (the trace of the Jacobian, constant);
2. Henon (1.4, 0.3), 100,000 iterations after 100: lambda_1 within 0.005 of 0.4192 and the sum
   within 1e-6 of ln 0.3 (|det Df| = b);
3. logistic map: lambda within 0.005 of ln 2 at r = 4, and negative in the period-3 window
   (r = 3.83), 100,000 iterations after 100;
4. stable linear systems, exact: the over-damped oscillator (m = k = 1, c = 2.5: eigenvalues
   -0.5 and -2) per unit time, and the damped one (c = 0.2, driven at w_d) per drive period,
   -c T / 2 twice; each within 1e-6; the chaotic Duffing oscillator (delta = 0.3, gamma = 0.5,
   omega = 1.2) per drive period: sum within 1e-8 of -delta T, lambda_1 > 0;
5. Feigenbaum's delta from the first six period-doubling points of the logistic map
   (:func:`dynsys.orbits.feigenbaum`, the ratio of the last three) within 0.01 of 4.6692;
6. speed (median of 3): the logistic orbit diagram, 2,000 values of r x 1,000 kept iterates
   (after 1,000), under 1 s; the Lorenz largest exponent for 1,000 values of rho in [20, 200]
   (RK4, dt = 0.01, 500 time units after 10), under 30 s; a 400 x 400 basin map of the
   unforced double-well Duffing oscillator (delta = 0.25, gamma = 0, RK4, t_end = 100) under
   60 s.

Usage::

    python benchmarks/bench_analysis.py [--json FILE]

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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dynsys.lyapunov import drive_period, lyapunov
from dynsys.orbits import feigenbaum, orbit_diagram
from dynsys.systems import get_system

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_core  # the benchmarks folder is not a package: found through sys.path
from bench_core import secs, verdict

SPROTT_LORENZ = (0.9056, 0.0, -14.5723)
HENON = 0.4192
FEIGENBAUM = 4.6692
REPEATS = 3


def timed(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, list[float], Any]:
    """(median wall time, every time, the last result) of ``repeats`` calls of ``fn``."""
    times, out = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), times, out


def line(name: str, ok: bool, measured: str, bound: str) -> dict[str, Any]:
    print(f"  {verdict(ok)}  {name}: {measured} ({bound})")
    return {"name": name, "pass": bool(ok), "measured": measured, "bound": bound}


def known_values() -> list[dict[str, Any]]:
    print("\nKnown values")
    rows = []
    lorenz = get_system("lorenz")
    res = lyapunov(
        lorenz, lorenz.default_s0, dt=0.001, method="rk4", t_end=1010.0, transient=10.0,
        spectrum=True,
    )  # fmt: skip
    gap = np.max(np.abs(res.exponents - np.array(SPROTT_LORENZ)))
    shown = ", ".join(f"{v:.4f}" for v in res.exponents)
    rows.append(line("Lorenz spectrum", gap <= 0.01, f"({shown}), max gap {gap:.4f}", "<= 0.01"))
    err = abs(float(res.sum) + 41.0 / 3.0)
    rows.append(
        line("Lorenz sum", err <= 1e-6, f"{float(res.sum):.9f}, |err| {err:.1e}", "<= 1e-6")
    )

    henon = get_system("henon_map", a=1.4, b=0.3)
    res = lyapunov(henon, henon.default_s0, t_end=100_100, transient=100, spectrum=True)
    gap = abs(res.exponents[0] - HENON)
    rows.append(line("Henon lambda_1", gap <= 0.005, f"{res.exponents[0]:.4f}, gap {gap:.4f}",
                     "<= 0.005 of 0.4192"))  # fmt: skip
    err = abs(float(res.sum) - math.log(0.3))
    rows.append(line("Henon sum", err <= 1e-6, f"{float(res.sum):.9f}, |err| {err:.1e}",
                     "<= 1e-6 of ln 0.3"))  # fmt: skip

    logistic = get_system("logistic_map", r=[4.0, 3.83])
    lam = lyapunov(logistic, [0.3], t_end=100_100, transient=100).exponents[:, 0]
    gap = abs(lam[0] - math.log(2))
    rows.append(line("logistic r=4", gap <= 0.005, f"{lam[0]:.5f}, gap {gap:.1e}",
                     "<= 0.005 of ln 2"))  # fmt: skip
    rows.append(line("logistic r=3.83", lam[1] < 0, f"{lam[1]:.4f}", "< 0, period-3 window"))

    over = get_system("driven_oscillator", c=2.5)
    res = lyapunov(over, (1.0, 0.0), dt=0.01, method="rk4", t_end=60.0, transient=20.0,
                   spectrum=True)  # fmt: skip
    err = np.max(np.abs(res.exponents - np.array([-0.5, -2.0])))
    shown = ", ".join(f"{v:.9f}" for v in res.exponents)
    rows.append(line("over-damped oscillator", err <= 1e-6, f"({shown}), |err| {err:.1e}",
                     "<= 1e-6 of (-0.5, -2)"))  # fmt: skip
    wd = math.sqrt(1 - 0.1**2)
    damped = get_system("driven_oscillator", c=0.2, omega=wd)
    T = drive_period(damped)
    res = lyapunov(damped, (1.0, 0.0), dt=T / 200, method="rk4", t_end=100 * T, transient=10 * T,
                   spectrum=True, section="stroboscopic")  # fmt: skip
    err = np.max(np.abs(res.exponents + 0.1 * T))
    shown = f"{res.exponents[0]:.9f}, |err| {err:.1e}"
    rows.append(line("damped oscillator per period", err <= 1e-6, shown, "<= 1e-6 of -c T / 2"))

    duffing = get_system("duffing", delta=0.3, alpha=-1.0, beta=1.0, gamma=0.5, omega=1.2)
    T = drive_period(duffing)
    res = lyapunov(duffing, duffing.default_s0, dt=T / 1000, method="rk4", t_end=450 * T,
                   transient=50 * T, spectrum=True, section="stroboscopic")  # fmt: skip
    err = abs(float(res.sum) + 0.3 * T)
    ok = err <= 1e-8 and res.exponents[0] > 0
    rows.append(line("Duffing per period", ok, f"lambda_1 {res.exponents[0]:.4f}, sum "
                     f"{float(res.sum):.9f}, |sum + delta T| {err:.1e}",
                     "lambda_1 > 0, <= 1e-8"))  # fmt: skip

    cascade = feigenbaum(levels=6, doublings=6)
    delta = float(cascade.doubling_delta[-1])
    gap = abs(delta - FEIGENBAUM)
    rows.append(line("Feigenbaum delta (r_4, r_5, r_6)", gap <= 0.01,
                     f"{delta:.5f}, gap {gap:.1e}", "<= 0.01 of 4.6692"))  # fmt: skip
    return rows


def speed() -> list[dict[str, Any]]:
    print(f"\nSpeed (median of {REPEATS}; every run in brackets)")
    rows = []
    values = np.linspace(2.8, 4.0, 2000)
    orbit_diagram("logistic_map", "r", values[:2], transient=10, keep=10)  # imports, warm-up
    med, times, _ = timed(
        lambda: orbit_diagram("logistic_map", "r", values, transient=1000, keep=1000)
    )
    shown = f"{med:.3f} s [{secs(times, '.3f')}]"
    rows.append(line("logistic diagram 2,000 x 1,000", med < 1.0, shown, "< 1 s"))
    lorenz = get_system("lorenz", rho=np.linspace(20.0, 200.0, 1000))

    def sweep():
        s0 = np.broadcast_to(np.array(lorenz.default_s0), (1000, 3))
        return lyapunov(lorenz, s0, dt=0.01, method="rk4", t_end=510.0, transient=10.0)

    med, times, res = timed(sweep)
    chaotic = int(np.sum(res.exponents[:, 0] > 0.05))
    rows.append(line("Lorenz lambda_1 over 1,000 rho", med < 30.0,
                     f"{med:.2f} s [{secs(times)}], {chaotic} values with lambda_1 > 0.05",
                     "< 30 s"))  # fmt: skip
    try:
        from dynsys.basins import basins
    except ImportError:
        print("  SKIP  Duffing basin map 400 x 400: dynsys.basins is not there")
        rows.append({"name": "Duffing basin map", "pass": None, "measured": "skipped"})
        return rows
    well = get_system("duffing", delta=0.25, gamma=0.0)

    def basin_map():
        return basins(well, grid=400, xlim=(-2.0, 2.0), ylim=(-2.0, 2.0), t_end=100.0)

    med, times, res = timed(basin_map)
    rows.append(line("Duffing basin map 400 x 400", med < 60.0, f"{med:.2f} s [{secs(times)}]",
                     "< 60 s"))  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    info = bench_core.machine()
    print("dynsys analysis benchmark")
    for key, value in info.items():
        print(f"  {key}: {value}")
    rows = known_values() + speed()
    judged = [r["pass"] for r in rows if r["pass"] is not None]
    total = time.perf_counter() - began
    print(f"\nSummary: {sum(judged)} of {len(judged)} PASS; {verdict(all(judged))}")
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"  load average at the end: {info['load_average_at_end']}")
    print(f"\ntotal: {total:.0f} s")
    if args.json:
        from dynsys.files import atomic_write

        doc = {"machine": info, "rows": rows, "total_seconds": total}
        text = json.dumps(doc, indent=1, default=float).encode()
        atomic_write(args.json, lambda f: f.write(text))
    return 0 if all(judged) else 1


if __name__ == "__main__":
    sys.exit(main())
