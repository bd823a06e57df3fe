"""Dataset generation: one solve_ivp call per trajectory (old) against one stacked call per split.

For each case the splits' parameters and initial states are drawn as ``make_splits`` draws them,
then solved two ways on the dataset's grid (from t = -transient):

* old: ``dynsys.reference`` one trajectory at a time (DOP853 at the spec's rtol 1e-10,
  atol 1e-12), as datasets were made before;
* new: :func:`dynsys.rnn.data.solve_trajectories`, one stacked call per split with rtol and
  atol divided by sqrt(batch).  ``make_splits`` (which also cuts and normalises) is timed too.

The times are the median of ``--repeats`` runs.  Accuracy: per trajectory, the largest
|s - s_fine| over the grid divided by the RMS of s_fine, where s_fine is DOP853 at rtol 1e-12,
atol 1e-14, one trajectory at a time, from the data's own s(t = 0); the table gives the largest
over all trajectories (the bar: 1e-9), and for the driven oscillator also the error to its exact
solution.  Lorenz is chaotic (errors grow like exp(0.9 t)), so its accuracy is measured over
its first 2 time units only.

Usage::

    python benchmarks/data_generation.py [--system driven_oscillator|lotka_volterra|lorenz|all]
        [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from bench_core import source_version, table  # the same script folder

from dynsys import reference
from dynsys.rnn.data import DatasetSpec, _draw, make_splits, solve_trajectories
from dynsys.rnn.recipes import recipe

CASES: dict[str, dict[str, Any]] = {
    # the driven oscillator's recipe (dynsys.rnn.recipes), n_test 32
    "driven_oscillator": {
        "spec": recipe("driven_oscillator", "jordan")["dataset"],
        "horizon": 20.0,
    },
    "lotka_volterra": {
        "spec": {"h": 0.1, "t_end": 20.0, "n_train": 64, "n_val": 16, "n_test": 32},
        "horizon": 20.0,
    },
    "lorenz": {
        "spec": {"h": 0.01, "t_end": 20.0, "n_train": 64, "n_val": 0, "n_test": 0},
        "horizon": 2.0,
    },
}
FINE = {"method": "DOP853", "rtol": 1e-12, "atol": 1e-14}
BAR = 1e-9


def draws(spec: DatasetSpec) -> list[tuple[Any, np.ndarray]]:
    """(system with the sampled parameters, s0) of each non-empty split, as make_splits draws."""
    seqs = np.random.SeedSequence(spec.seed).spawn(4)[:3]
    out = []
    for n, seq in zip((spec.n_train, spec.n_val, spec.n_test), seqs, strict=True):
        if n:
            sampled, s0 = _draw(spec, n, np.random.default_rng(seq), False)
            system = spec.base_system()
            out.append((system.with_params(**sampled) if sampled else system, s0))
    return out


def old_solve(spec: DatasetSpec, system, s0: np.ndarray) -> np.ndarray:
    """One reference call per trajectory (what datasets did before), on the grid."""
    grid = np.arange(spec.n_steps + 1) * spec.h
    t = np.concatenate([[-spec.transient], grid]) if spec.transient > 0 else grid
    options = {"method": spec.reference_method, "rtol": spec.rtol, "atol": spec.atol}
    return reference(system, s0, t, **options).states[:, -len(grid) :]


def median_time(fn, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def error(spec: DatasetSpec, system, states: np.ndarray, horizon: float) -> float:
    """max over trajectories of max |s - s_fine| / RMS(s_fine) on t <= horizon."""
    keep = round(horizon / spec.h) + 1
    t = np.arange(keep) * spec.h
    fine = reference(system, states[:, 0], t, **FINE).states
    rms = np.sqrt(np.mean(fine**2, axis=(1, 2)))
    return float(np.max(np.max(np.abs(states[:, :keep] - fine), axis=(1, 2)) / rms))


def exact_error(spec: DatasetSpec, system, states: np.ndarray) -> float | None:
    if system.exact is None:
        return None
    t = np.arange(spec.n_steps + 1) * spec.h
    exact = system.exact(t, states[:, 0], 0.0, system.params)
    rms = np.sqrt(np.mean(exact**2, axis=(1, 2)))
    return float(np.max(np.max(np.abs(states - exact), axis=(1, 2)) / rms))


def run_case(name: str, repeats: int) -> list[Any]:
    case = CASES[name]
    spec = DatasetSpec(name, task="step_map", **case["spec"])
    parts = draws(spec)
    n = sum(len(s0) for _, s0 in parts)
    old_time, old = median_time(lambda: [old_solve(spec, *p) for p in parts], repeats)
    new_time, new = median_time(lambda: [solve_trajectories(spec, *p) for p in parts], repeats)
    splits_time, _ = median_time(lambda: make_splits(spec), repeats)
    old_err = max(error(spec, p[0], s, case["horizon"]) for p, s in zip(parts, old, strict=True))
    new_err = max(error(spec, p[0], s, case["horizon"]) for p, s in zip(parts, new, strict=True))
    exact = [exact_error(spec, p[0], s) for p, s in zip(parts, new, strict=True)]
    exact_text = "-" if exact[0] is None else f"{max(exact):.1e}"
    return [
        name,
        n,
        f"{spec.h:g}",
        f"{spec.transient:g}",
        f"{old_time:.3f}",
        f"{new_time:.3f}",
        f"{splits_time:.3f}",
        f"{old_time / new_time:.0f}x",
        f"{old_err:.1e}",
        f"{new_err:.1e}",
        exact_text,
        f"{case['horizon']:g}",
        "yes" if new_err <= BAR else "NO",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=[*CASES, "all"], default="driven_oscillator")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    names = list(CASES) if args.system == "all" else [args.system]
    print(f"dataset generation, dynsys {source_version()}, median of {args.repeats} runs")
    rows = [run_case(name, args.repeats) for name in names]
    header = (
        "system",
        "traj",
        "h",
        "transient",
        "old s",
        "new s",
        "make_splits s",
        "speed-up",
        "old err",
        "new err",
        "exact err",
        "err horizon",
        f"new <= {BAR:g}",
    )
    table(
        "solve times (old: one call per trajectory; new: one stacked call per split)", header, rows
    )
    missed = [row[0] for row in rows if row[-1] != "yes"]
    if missed:
        print(f"FAIL: the stacked solve misses the accuracy bar {BAR:g} on {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
