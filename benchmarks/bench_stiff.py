"""dynsys's implicit steppers on stiff problems: orders, stability and speed against scipy.

Three sections, each with verdict lines (PASS/FAIL, the measured number and the bound):

1. orders: the observed order (least-squares slope of log max error against log h over 4
   halvings, :func:`dynsys.study.convergence`) of every implicit stepper on exponential_decay
   (rate 1, t in [0, 2]) and on the damped driven oscillator, both against their exact
   solutions; bound |observed - declared| <= 0.1;
2. stability: implicit_euler, trapezoidal, bdf2 and sdirk3 on exponential_decay with rate 1e4,
   h = 0.1, to t = 10 stay finite and bounded, |s(t_n)| <= |s0|; explicit Euler does not
   (a DivergenceError, or growth beyond 1e100 |s0| while still finite);
3. stiff speed: a batch of members of Van der Pol (mu = 1000, one period from s0 = (2, 0)) and
   of Robertson (to t = 1e5): the largest fixed step of each implicit stepper whose max relative
   error is <= 1e-3, timed (median of 3), against ONE stacked scipy solve_ivp call (Radau or
   BDF, the faster, at the loosest rtol of 1e-2, 1e-3, ... that reaches 1e-3) given the
   block-diagonal sparse Jacobian.  Bound: dynsys's best wall time <= scipy's.

The relative error of a run is max over members, kept times and components of
|s_j - ref_j| / scale_j, where ref is a stacked Radau solve (rtol 1e-10) on the kept times and
scale_j = max |ref_j| over every accepted step of a solo Radau solve of member 0 (rtol 1e-10).

Usage::

    python benchmarks/bench_stiff.py [--quick] [--budget S] [--json FILE]

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
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
from scipy.integrate import solve_ivp

from dynsys import DivergenceError, kernels
from dynsys.simulate import choose_backend, simulate
from dynsys.steppers import STEPPERS
from dynsys.study import convergence
from dynsys.systems import System, get_system

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_core  # the benchmarks folder is not a package: found through sys.path
from bench_core import secs, table, verdict

SEED = 20240601
ORDER_TOL = 0.1  # |observed - declared order|
TARGET = 1e-3  # max relative error of the stiff-speed runs
REF_RTOL = 1e-10
RTOLS = tuple(10.0**-k for k in range(2, 11))  # scipy's ladder, loosest first
IVP_METHODS = ("Radau", "BDF")
STIFF_METHODS = ("sdirk3", "bdf2", "implicit_euler", "trapezoidal")
STABLE_METHODS = ("implicit_euler", "trapezoidal", "bdf2", "sdirk3")
PERTURB = 1e-3  # relative spread of Robertson's rate constants over the members
VDP_PERTURB = 1e-8  # relative spread of Van der Pol's x0: the members' fast jumps (~1e-3 long)
# then fall within ~3e-5 of each other, so one stacked solve_ivp resolves one jump, not 1,000
BLOWUP = 1e100  # explicit Euler "diverges": DivergenceError, or |s| beyond this times |s0|
VDP_MU = 1000.0
VDP_PERIOD = 1614.2959  # the period at mu = 1000 (the standard value 1614.2959...)
WARM_STEPS = 2


@dataclass(frozen=True)
class Sizes:
    """The sizes of one run (full or quick)."""

    batch: int  # members of the stiff-speed batch
    vdp_span: float  # Van der Pol: t in [0, vdp_span]
    robertson_span: float  # Robertson: t in [0, robertson_span]
    kept: int  # kept intervals of the error grid (the coarsest dynsys grid)
    order_dt: float  # coarsest h of the order study
    oscillator_span: float  # driven oscillator: t in [0, oscillator_span]
    budget_s: float  # time a dynsys step search or scipy ladder may spend on one problem
    check_members: int  # members with their own solo Radau reference
    repeats: int
    verdicts: bool


FULL = Sizes(1000, VDP_PERIOD, 1e5, 64, 0.05, 10.0, 45.0, 3, 3, True)
QUICK = Sizes(10, VDP_PERIOD / 4, 100.0, 16, 0.2, 2.0, 0.5, 3, 1, False)


# ----------------------------------------------------------------------------- 1. orders


def orders(sizes: Sizes) -> list[dict[str, Any]]:
    """Observed order of every implicit stepper on two systems with exact solutions."""
    cases = (
        (get_system("exponential_decay", rate=1.0), [1.0], 2.0),
        (
            get_system("driven_oscillator", c=0.2, omega=1.3, A=0.5),
            [1.0, 0.0],
            sizes.oscillator_span,
        ),
    )
    rows = []
    for system, s0, span in cases:
        for name, stepper in STEPPERS.items():
            if not getattr(stepper, "implicit", False):
                continue
            found = convergence(
                system, s0, method=name, t_span=(0.0, span), dt=sizes.order_dt, levels=4
            )
            observed = found.observed_order
            ok = observed is not None and abs(observed - stepper.order) <= ORDER_TOL
            rows.append(
                {
                    "system": system.name,
                    "method": name,
                    "declared": stepper.order,
                    "observed": observed,
                    "dt": found.dt.tolist(),
                    "error": found.error.tolist(),
                    "against": found.against,
                    "pass": bool(ok),
                }
            )
    return rows


# -------------------------------------------------------------------------- 2. stability


def stability() -> list[dict[str, Any]]:
    """Exponential decay, rate 1e4, h = 0.1, to t = 10: bounded and finite, or diverging."""
    system = get_system("exponential_decay", rate=1e4)
    rows = []
    for name in (*STABLE_METHODS, "euler"):
        row: dict[str, Any] = {"method": name, "error": None}
        try:
            traj = simulate(system, [1.0], t_span=(0.0, 10.0), dt=0.1, method=name)
            states = traj.states
            row["max_abs"] = float(np.max(np.abs(states)))
            row["finite"] = bool(np.isfinite(states).all())
            row["backend"] = traj.info["backend"]
        except DivergenceError as err:
            row.update(max_abs=math.inf, finite=False, error=type(err).__name__, backend="-")
        if name == "euler":
            row["pass"] = row["error"] is not None or row["max_abs"] > BLOWUP
        else:
            row["pass"] = row["finite"] and row["max_abs"] <= 1.0
        rows.append(row)
    return rows


# ------------------------------------------------------------------------ 3. stiff speed


@dataclass(frozen=True)
class Problem:
    """A stiff batch: its system (per-member parameters allowed), s0 (B, n), span, grid."""

    name: str
    system: System
    s0: np.ndarray
    span: float
    kept: int
    ref_atol: float

    @property
    def grid(self) -> np.ndarray:
        return np.linspace(0.0, self.span, self.kept + 1)


def problems(sizes: Sizes) -> list[Problem]:
    """Van der Pol (x0 = 2 (1 + 1e-8 u)) and Robertson (k1, k2, k3 times 1 + 1e-3 u)."""
    rng = np.random.default_rng(SEED)
    b = sizes.batch
    s0 = np.zeros((b, 2))
    s0[:, 0] = 2.0 * (1 + VDP_PERTURB * rng.uniform(-1, 1, b))
    vdp = Problem(
        "van_der_pol", get_system("van_der_pol", mu=VDP_MU), s0, sizes.vdp_span, sizes.kept, 1e-12
    )
    base = get_system("robertson")
    rates = {
        k: float(base.params[k]) * (1 + PERTURB * rng.uniform(-1, 1, b)) for k in ("k1", "k2", "k3")
    }
    rob_s0 = np.tile([1.0, 0.0, 0.0], (b, 1))
    rob = Problem(
        "robertson",
        get_system("robertson", **rates),
        rob_s0,
        sizes.robertson_span,
        sizes.kept,
        1e-14,
    )
    return [vdp, rob]


def member(system: System, i: int) -> System:
    """Member i's system: every per-member parameter reduced to its i-th value."""
    values = {k: (v[i] if np.ndim(v) else v) for k, v in system.params.items()}
    return type(system)(**{k: float(v) for k, v in values.items()})


def stacked(system: System, b: int) -> tuple[Callable, Callable]:
    """f(t, y) and a block-diagonal sparse jac(t, y) of B members stacked member-major,
    y = (s_0, s_1, ..., s_{B-1}), from the system's own vectorised rhs and jacobian."""
    n = system.n_states
    p = system.params
    indices = np.arange(b)
    indptr = np.arange(b + 1)

    def f(t, y):
        return system.rhs(t, y.reshape(b, n), None, p).reshape(-1)

    def jac(t, y):
        blocks = np.broadcast_to(system.jacobian(t, y.reshape(b, n), p), (b, n, n))
        return scipy.sparse.bsr_matrix(
            (np.ascontiguousarray(blocks), indices, indptr), shape=(b * n, b * n)
        ).tocsc()

    return f, jac


def reference(problem: Problem, sizes: Sizes) -> dict[str, Any]:
    """Stacked Radau (rtol 1e-10) on the grid; solo Radau of the check members; the scale."""
    b, n = problem.s0.shape
    f, jac = stacked(problem.system, b)
    began = time.perf_counter()
    sol = solve_ivp(
        f,
        (0.0, problem.span),
        problem.s0.reshape(-1),
        method="Radau",
        rtol=REF_RTOL,
        atol=problem.ref_atol,
        jac=jac,
        t_eval=problem.grid,
    )
    wall = time.perf_counter() - began
    if not sol.success:
        raise RuntimeError(f"reference for {problem.name}: {sol.message}")
    ref = sol.y.T.reshape(len(problem.grid), b, n).transpose(1, 0, 2)  # (B, time, n)
    scale = np.zeros(n)
    solo_diff = 0.0
    for i in range(min(sizes.check_members, b)):
        one = member(problem.system, i)
        g, jac1 = stacked(one, 1)
        run = solve_ivp(
            g,
            (0.0, problem.span),
            problem.s0[i],
            method="Radau",
            rtol=REF_RTOL,
            atol=problem.ref_atol,
            jac=lambda t, y, j=jac1: j(t, y).toarray(),
            dense_output=True,
        )
        if i == 0:
            scale = np.max(np.abs(run.y), axis=1)
        on_grid = run.sol(problem.grid).T
        solo_diff = max(solo_diff, float(np.max(np.abs(on_grid - ref[i]) / scale)))
    return {"states": ref, "scale": scale, "wall_s": wall, "solo_diff": solo_diff}


def rel_error(states: np.ndarray, ref: dict[str, Any]) -> float:
    """max over members, kept times and components of |s_j - ref_j| / scale_j."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.max(np.abs(states - ref["states"]) / ref["scale"])
    return float(err) if np.isfinite(err) else math.inf


def run_dynsys(problem: Problem, method: str, n_steps: int, backend: str) -> tuple[float, Any]:
    """One timed simulate call of ``n_steps`` steps, keeping the error grid's times."""
    began = time.perf_counter()
    traj = simulate(
        problem.system,
        problem.s0,
        t_span=(0.0, problem.span),
        dt=problem.span / n_steps,
        method=method,
        save_every=n_steps // problem.kept,
        backend=backend,
    )
    return time.perf_counter() - began, traj


def search_dynsys(problem: Problem, method: str, ref: dict, sizes: Sizes) -> dict[str, Any]:
    """Halve h = span / N from N = kept until the error is <= TARGET (the largest such h on
    this ladder) or the projected run time (the last run's seconds per step times N) exceeds
    the budget; then time the winner ``repeats`` times."""
    b = problem.s0.shape[0]
    stepper = STEPPERS[method]
    rungs = []
    n_steps, per_step, spent = problem.kept, 0.0, 0.0
    result: dict[str, Any] = {"method": method, "rungs": rungs, "pass": False, "stop": ""}
    while True:
        if per_step * n_steps > sizes.budget_s - spent:
            result["stop"] = (
                f"next h = {problem.span / n_steps:.3g} would take ~{per_step * n_steps:.0f} s"
            )
            break
        loop = choose_backend("auto", problem.system, stepper, b * n_steps)
        h = problem.span / n_steps
        simulate(
            problem.system,
            problem.s0,
            t_span=(0.0, WARM_STEPS * h),
            dt=h,
            method=method,
            backend=loop,
        )
        began = time.perf_counter()
        try:
            wall, traj = run_dynsys(problem, method, n_steps, "auto")
            err, note, backend = rel_error(traj.states, ref), "", traj.info["backend"]
        except DivergenceError as failure:
            wall, err, note, backend = (
                time.perf_counter() - began,
                math.inf,
                type(failure).__name__,
                loop,
            )
        spent += wall
        per_step = wall / n_steps
        rungs.append(
            {
                "n_steps": n_steps,
                "h": h,
                "error": err,
                "wall_s": wall,
                "note": note,
                "backend": backend,
            }
        )
        if err <= TARGET:
            times = [wall]
            if wall < sizes.budget_s:
                times += [
                    run_dynsys(problem, method, n_steps, "auto")[0]
                    for _ in range(sizes.repeats - 1)
                ]
            result.update(
                {
                    "pass": True,
                    "n_steps": n_steps,
                    "h": h,
                    "error": err,
                    "backend": backend,
                    "runs_s": times,
                    "median_s": statistics.median(times),
                    "us_per_member_step": 1e6 * statistics.median(times) / (b * n_steps),
                }
            )
            break
        n_steps *= 2
    if not result["pass"] and rungs:
        last = rungs[-1]
        result["us_per_member_step"] = 1e6 * last["wall_s"] / (b * last["n_steps"])
        result["backend"] = last["backend"]
    return result


def search_scipy(problem: Problem, ref: dict, sizes: Sizes) -> list[dict[str, Any]]:
    """For Radau and BDF: the loosest rtol of RTOLS whose stacked solve reaches TARGET
    (atol_j = rtol scale_j), timed ``repeats`` times."""
    b, n = problem.s0.shape
    f, jac = stacked(problem.system, b)
    atol_per_rtol = np.tile(ref["scale"], b)
    out = []
    for method in IVP_METHODS:

        def solve(rtol, method=method):
            began = time.perf_counter()
            sol = solve_ivp(
                f,
                (0.0, problem.span),
                problem.s0.reshape(-1),
                method=method,
                rtol=rtol,
                atol=rtol * atol_per_rtol,
                jac=jac,
                t_eval=problem.grid,
            )
            wall = time.perf_counter() - began
            if not sol.success or sol.y.shape[1] != len(problem.grid):
                return wall, math.inf, sol
            states = sol.y.T.reshape(len(problem.grid), b, n).transpose(1, 0, 2)
            return wall, rel_error(states, ref), sol

        rungs, spent = [], 0.0
        found: dict[str, Any] = {"method": method, "rungs": rungs, "pass": False}
        for rtol in RTOLS:
            if spent > sizes.budget_s:
                break
            wall, err, sol = solve(rtol)
            spent += wall
            rungs.append({"rtol": rtol, "error": err, "wall_s": wall, "nfev": int(sol.nfev)})
            if err <= TARGET:
                times = [wall] + [solve(rtol)[0] for _ in range(sizes.repeats - 1)]
                found.update(
                    pass_=True,
                    rtol=rtol,
                    error=err,
                    runs_s=times,
                    median_s=statistics.median(times),
                    nfev=int(sol.nfev),
                    njev=int(sol.njev),
                    nlu=int(sol.nlu),
                )
                found["pass"] = found.pop("pass_")
                break
        out.append(found)
    return out


def stiff_speed(sizes: Sizes) -> list[dict[str, Any]]:
    results = []
    for problem in problems(sizes):
        ref = reference(problem, sizes)
        ivp = search_scipy(problem, ref, sizes)
        runs = [search_dynsys(problem, m, ref, sizes) for m in STIFF_METHODS]
        scipy_best = min((r for r in ivp if r["pass"]), key=lambda r: r["median_s"], default=None)
        dyn_best = min((r for r in runs if r["pass"]), key=lambda r: r["median_s"], default=None)
        for r in runs:
            if r["pass"] and scipy_best is not None:
                r["ratio"] = r["median_s"] / scipy_best["median_s"]
        ok = dyn_best is not None and scipy_best is not None
        ok = ok and dyn_best["median_s"] <= scipy_best["median_s"]
        results.append(
            {
                "problem": problem.name,
                "batch": problem.s0.shape[0],
                "span": problem.span,
                "kept": problem.kept,
                "reference": {
                    "wall_s": ref["wall_s"],
                    "scale": ref["scale"].tolist(),
                    "solo_diff": ref["solo_diff"],
                },
                "scipy": ivp,
                "dynsys": runs,
                "scipy_best": None if scipy_best is None else scipy_best["method"],
                "dynsys_best": None if dyn_best is None else dyn_best["method"],
                "pass": bool(ok),
            }
        )
    return results


# ----------------------------------------------------------------------------- reporting


def fmt(x: float | None, spec: str = ".2e") -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "inf"
    return f"{x:{spec}}"


def report_orders(rows: list[dict[str, Any]], judged: bool) -> bool:
    table(
        "1. Observed orders (slope of log max error vs log h, 4 halvings, exact solutions)",
        ("system", "method", "declared", "observed", "h", "errors"),
        [
            (
                r["system"],
                r["method"],
                r["declared"],
                fmt(r["observed"], ".3f"),
                f"{r['dt'][0]:g}..{r['dt'][-1]:g}",
                " ".join(fmt(e, ".1e") for e in r["error"]),
            )
            for r in rows
        ],
    )
    worst = max(rows, key=lambda r: abs((r["observed"] or math.inf) - r["declared"]))
    ok = all(r["pass"] for r in rows)
    gap = abs((worst["observed"] or math.inf) - worst["declared"])
    print(
        f"  {verdict(ok, judged)}: |observed - declared| <= {ORDER_TOL} for every stepper: worst "
        f"{gap:.3f} ({worst['method']} on {worst['system']})"
    )
    return ok


def report_stability(rows: list[dict[str, Any]], judged: bool) -> bool:
    table(
        "2. Stability: exponential_decay, rate 1e4, h = 0.1, t in [0, 10], s0 = 1",
        ("method", "max |s|", "finite", "raised", "loop"),
        [
            (r["method"], fmt(r["max_abs"], ".3g"), r["finite"], r["error"] or "-", r["backend"])
            for r in rows
        ],
    )
    implicit_ok = all(r["pass"] for r in rows if r["method"] != "euler")
    euler = next(r for r in rows if r["method"] == "euler")
    worst = max(r["max_abs"] for r in rows if r["method"] != "euler")
    print(
        f"  {verdict(implicit_ok, judged)}: implicit steppers finite and |s| <= |s0| = 1: "
        f"max {worst:.3g}"
    )
    how = euler["error"] or f"max |s| {euler['max_abs']:.3g}, finite, no DivergenceError"
    print(
        f"  {verdict(euler['pass'], judged)}: explicit Euler diverges ({how}; "
        f"bound: an error or > {BLOWUP:.0e})"
    )
    return implicit_ok and euler["pass"]


def report_speed(results: list[dict[str, Any]], judged: bool) -> bool:
    all_ok = True
    for res in results:
        ref = res["reference"]
        print(
            f"\n3. Stiff speed: {res['problem']}, {res['batch']} members, "
            f"t in [0, {res['span']:g}], "
            f"error on {res['kept'] + 1} kept times"
        )
        print(
            f"  reference: stacked Radau rtol {REF_RTOL:g} in {ref['wall_s']:.1f} s; scale "
            f"{' '.join(fmt(s, '.3g') for s in ref['scale'])}; solo Radau of the check members "
            f"agrees to {ref['solo_diff']:.1e} (relative)"
        )
        rows = []
        for r in res["scipy"]:
            for rung in r["rungs"]:
                rows.append(
                    (
                        r["method"],
                        f"{rung['rtol']:.0e}",
                        fmt(rung["error"]),
                        f"{rung['wall_s']:.2f}",
                        rung["nfev"],
                    )
                )
        table(
            "  scipy solve_ivp, one stacked call (sparse block-diagonal jac), "
            "atol_j = rtol scale_j",
            ("method", "rtol", "rel error", "s", "nfev"),
            rows,
        )
        rows = []
        for r in res["dynsys"]:
            for rung in r["rungs"]:
                rows.append(
                    (
                        r["method"],
                        rung["n_steps"],
                        f"{rung['h']:.3g}",
                        rung["note"] or fmt(rung["error"]),
                        f"{rung['wall_s']:.2f}",
                        rung["backend"],
                    )
                )
        table(
            "  dynsys step search (fixed h = span / N)",
            ("method", "N", "h", "rel error", "s", "loop"),
            rows,
        )
        rows = []
        for r in res["scipy"]:
            if r["pass"]:
                rows.append(
                    (
                        f"scipy {r['method']}",
                        f"rtol {r['rtol']:.0e}",
                        fmt(r["error"]),
                        f"{r['median_s']:.2f}",
                        secs(r["runs_s"]),
                        "-",
                        "-",
                        "scipy",
                    )
                )
            else:
                rows.append(
                    (f"scipy {r['method']}", "not reached", "-", "-", "-", "-", "-", "scipy")
                )
        for r in res["dynsys"]:
            if r["pass"]:
                rows.append(
                    (
                        r["method"],
                        f"h {r['h']:.3g}",
                        fmt(r["error"]),
                        f"{r['median_s']:.2f}",
                        secs(r["runs_s"]),
                        f"{r['ratio']:.2f}" if "ratio" in r else "-",
                        f"{r['us_per_member_step']:.2f}",
                        r["backend"],
                    )
                )
            else:
                rows.append(
                    (
                        r["method"],
                        "not reached",
                        "-",
                        "-",
                        "-",
                        "-",
                        fmt(r.get("us_per_member_step"), ".2f"),
                        r.get("backend", "-"),
                    )
                )
        table(
            f"  winning settings (max rel error <= {TARGET:g}), median of the runs",
            (
                "solver",
                "setting",
                "rel error",
                "median s",
                "runs (s)",
                "/ scipy",
                "us/member-step",
                "loop",
            ),
            rows,
        )
        for r in res["dynsys"]:
            if not r["pass"]:
                print(f"  {r['method']}: not reached ({r['stop'] or 'ladder ended'})")
        best = {r["method"]: r for r in res["dynsys"] if r["pass"]}.get(res["dynsys_best"])
        sc = {r["method"]: r for r in res["scipy"] if r["pass"]}.get(res["scipy_best"])
        if best and sc:
            msg = (
                f"dynsys {best['method']} {best['median_s']:.2f} s <= scipy {sc['method']} "
                f"{sc['median_s']:.2f} s: ratio {best['median_s'] / sc['median_s']:.2f} (bound 1)"
            )
        else:
            msg = (
                "no dynsys stepper reached the error within the budget"
                if not best
                else "scipy did not reach the error"
            )
        print(f"  {verdict(res['pass'], judged)}: {res['problem']}: {msg}")
        all_ok = all_ok and res["pass"]
    return all_ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke sizes, no verdicts")
    parser.add_argument("--budget", type=float, help="seconds a step search may spend per problem")
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.budget is not None:
        if args.budget <= 0:
            parser.error("--budget must be > 0")
        sizes = Sizes(**{**sizes.__dict__, "budget_s": args.budget})
    began = time.perf_counter()
    info = bench_core.machine()
    print(
        "dynsys stiff benchmark" + ("" if sizes.verdicts else " (--quick: small sizes, not judged)")
    )
    for key, value in info.items():
        print(f"  {key}: {value}")
    print(
        f"  compiled steppers: {', '.join(kernels.compiled_methods())} (backend='auto' throughout)"
    )
    print(f"  sizes: {sizes}")
    judged = sizes.verdicts
    order_rows = orders(sizes)
    ok_orders = report_orders(order_rows, judged)
    stab_rows = stability()
    ok_stab = report_stability(stab_rows, judged)
    speed = stiff_speed(sizes)
    ok_speed = report_speed(speed, judged)
    total = time.perf_counter() - began
    print("\nSummary")
    print(f"  orders: {verdict(ok_orders, judged)}; stability: {verdict(ok_stab, judged)}")
    for res in speed:
        print(f"  stiff speed, {res['problem']}: {verdict(res['pass'], judged)}")
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"  load average at the end: {info['load_average_at_end']}")
    print(f"\ntotal: {total:.0f} s")
    results = {
        "machine": info,
        "sizes": sizes.__dict__,
        "orders": order_rows,
        "stability": stab_rows,
        "stiff_speed": speed,
        "pass": {"orders": ok_orders, "stability": ok_stab, "stiff_speed": ok_speed},
        "total_seconds": total,
    }
    if args.json:
        from dynsys.files import atomic_write

        text = json.dumps(results, indent=1, default=float).encode()
        atomic_write(args.json, lambda f: f.write(text))
    return 0 if not judged or (ok_orders and ok_stab and ok_speed) else 1


if __name__ == "__main__":
    sys.exit(main())
