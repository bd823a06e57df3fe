"""The driven oscillator's accuracy floors for the RNNs, measured over several seeds with the
CLI's defaults.

On driven_oscillator (m = k = 1, c = 0, A in [0.2, 1], s0 in [-1, 1]^2, h = 0.1, horizon 20 =
200 steps, test trajectories not seen in training), for every seed:

- the free-running Jordan network's rel L2 error against solve_ivp is at most 1/5 of
  semi-implicit Euler's and at most 1/100 of explicit Euler's at the same h;
- the Elman network on the driven-response task is below 5%.

Each seed trains exactly what ``dynsys train driven_oscillator --model KIND --seed S`` trains
(:func:`dynsys.rnn.settings.plan_fit`), and evaluates it on the run's own test split (32 whole
trajectories) and on a fresh test set drawn as ``dynsys evaluate`` draws it.

Usage::

    python benchmarks/rnn_floors.py [--seeds 0 1 2 3 4] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import dynsys
from dynsys.rnn.data import sample
from dynsys.rnn.evaluate import rollout_table
from dynsys.rnn.pipeline import train_model
from dynsys.rnn.settings import plan_fit

SYSTEM = "driven_oscillator"
FRESH_TEST = 64  # trajectories of the second, fresh test set


def run_seed(kind: str, seed: int) -> dict[str, Any]:
    """Train ``kind`` with the recipe and ``seed``; its test and fresh-test figures."""
    plan = plan_fit(SYSTEM, kind, seed=seed)
    spec = plan.spec
    began = time.perf_counter()
    trained = train_model(plan, progress=False)
    seconds = time.perf_counter() - began
    fresh = sample(spec, FRESH_TEST, seed + 1, whole=True)
    fresh_eval = rollout_table(trained.model, fresh, trained.normalizer, split="fresh")
    return {
        "kind": kind,
        "seed": seed,
        "seconds": seconds,
        "epochs": trained.history.epochs_run,
        "stopped": trained.history.stopped_reason,
        "test": trained.evaluation.to_dict()["test"],
        "fresh": fresh_eval.to_dict()["fresh"],
    }


def verdicts(row: dict[str, Any]) -> dict[str, bool]:
    """The floors of one run, on both test sets."""
    out = {}
    for split in ("test", "fresh"):
        t = row[split]
        rnn = t["model"]["rel_l2"]
        if row["kind"] == "jordan":
            out[f"{split}: <= semi/5"] = rnn <= t["semi_implicit_euler"]["rel_l2"] / 5
            out[f"{split}: <= euler/100"] = rnn <= t["euler"]["rel_l2"] / 100
        else:
            out[f"{split}: < 5%"] = rnn < 0.05
    return out


def report(rows: list[dict[str, Any]]) -> bool:
    header = (
        f"{'model':6} {'seed':>4} {'train s':>8} {'epochs':>6}  {'split':5} {'rnn':>9} "
        f"{'euler':>9} {'semi':>9} {'rk4':>9} {'rnn/semi':>9} {'rnn/euler':>9} {'rnn/rk4':>9}  "
        "floors"
    )
    print(header)
    print("-" * len(header))
    ok_all = True
    for row in rows:
        checks = verdicts(row)
        ok_all &= all(checks.values())
        for split in ("test", "fresh"):
            t = {k: v["rel_l2"] for k, v in row[split].items()}
            marks = ", ".join(
                f"{k.split(': ')[1]} {'ok' if v else 'FAIL'}"
                for k, v in checks.items()
                if k.startswith(split)
            )
            print(
                f"{row['kind']:6} {row['seed']:>4} {row['seconds']:>8.1f} {row['epochs']:>6}  "
                f"{split:5} {t['rnn']:>9.2e} {t['euler']:>9.2e} {t['semi_implicit_euler']:>9.2e} "
                f"{t['rk4']:>9.2e} {t['rnn'] / t['semi_implicit_euler']:>9.2e} "
                f"{t['rnn'] / t['euler']:>9.2e} {t['rnn'] / t['rk4']:>9.2e}  {marks}"
            )
    for kind in ("jordan", "elman"):
        mine = [r["test"]["model"]["rel_l2"] for r in rows if r["kind"] == kind]
        if mine:
            print(
                f"{kind}: median test rel L2 {statistics.median(mine):.3g}, worst {max(mine):.3g}"
            )
    print(f"floors: {'PASS' if ok_all else 'FAIL'} (every seed, both test sets)")
    return ok_all


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--models", nargs="+", default=["jordan", "elman"])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    print(f"dynsys {dynsys.__version__}: RNN floors on {SYSTEM}, seeds {args.seeds}")
    rows = [run_seed(kind, seed) for kind in args.models for seed in args.seeds]
    ok = report(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "pass": ok}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
