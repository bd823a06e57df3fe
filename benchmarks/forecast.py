"""The forecasting benchmark over every built-in ODE system and every model kind.

Each system x kind x seed is fitted with its recipe (what ``dynsys train SYSTEM --model KIND
--seed N`` does) and scored on its test set against solve_ivp, beside explicit Euler,
semi-implicit Euler and RK4 at the same h; the table gives medians over the seeds, and the
solver-agreement horizon of the chaotic systems.  See :mod:`dynsys.rnn.forecast`.

    python benchmarks/forecast.py                       # every system and kind, seeds 0 1 2
    python benchmarks/forecast.py --systems lorenz --kinds ngrc esn --seeds 0 1 2
    python benchmarks/forecast.py --json forecast.json  # also the per-fit results
    python benchmarks/forecast.py --merge a.json b.json # one table of runs made in parts

Prints a Markdown table (the one in the README) and the floors' verdicts: on the non-chaotic
systems the best kind's rel L2 <= 1/20 of semi-implicit Euler's and <= 30x RK4's; on Lorenz the
best median valid time >= 10 Lyapunov times, and >= 5 for a network trained by BPTT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dynsys.rnn.forecast import BENCHMARK_SYSTEMS, ForecastTable, forecast_benchmark
from dynsys.rnn.kinds import MODEL_KINDS

CHAOTIC = ("lorenz",)


def verdicts(table) -> list[tuple[str, bool]]:
    """One line per system, the best kind and whether it meets its floor; and that verdict."""
    medians = table.medians()
    lines = []
    for system in dict.fromkeys(s for s, _ in medians):
        kinds = [m for (s, m) in medians if s == system and m in MODEL_KINDS]
        if not kinds:
            continue
        if system in CHAOTIC:

            def lyap(kind, system=system):
                return medians[(system, kind)]["valid_time_lyapunov"] or 0.0

            best = max(kinds, key=lyap)
            bptt = [k for k in kinds if MODEL_KINDS[k].fitting == "gradient"]
            best_bptt = max(bptt, key=lyap) if bptt else None
            ok = lyap(best) >= 10 and (best_bptt is None or lyap(best_bptt) >= 5)
            extra = f", best BPTT {best_bptt} {lyap(best_bptt):.3g}" if best_bptt else ""
            lines.append(
                (
                    f"{system}: best {best} {lyap(best):.3g} Lyapunov times{extra}: "
                    f"{'PASS' if ok else 'FAIL'}",
                    ok,
                )
            )
            continue

        def rel(kind, system=system):
            value = medians[(system, kind)]["rel_l2"]
            return float("inf") if value is None else value

        best = min(kinds, key=rel)
        semi = medians[(system, "semi_implicit_euler")]["rel_l2"] or float("inf")
        rk4 = medians[(system, "rk4")]["rel_l2"] or float("inf")
        ok = rel(best) <= semi / 20 and rel(best) <= 30 * rk4
        lines.append(
            (
                f"{system}: best {best} rel L2 {rel(best):.3g} = {rel(best) / semi:.3g} x "
                f"semi-implicit Euler, {rel(best) / rk4:.3g} x RK4: {'PASS' if ok else 'FAIL'}",
                ok,
            )
        )
    return lines


def main() -> int:
    """Print the table and the verdicts; 1 when a system misses its floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", default=list(BENCHMARK_SYSTEMS))
    parser.add_argument("--kinds", nargs="+", default=list(MODEL_KINDS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--json", type=Path, help="Write the per-fit results here.")
    parser.add_argument("--merge", type=Path, nargs="+", help="Tabulate saved --json files.")
    parser.add_argument("--plot", type=Path, help="Draw the figure here (.png, .svg, .pdf).")
    args = parser.parse_args()
    if args.merge:
        table = ForecastTable.merged([json.loads(p.read_text()) for p in args.merge])
    else:
        table = forecast_benchmark(args.systems, args.kinds, args.seeds, echo=print)
    print()
    print(table.markdown())
    print()
    print(table.summary())
    print()
    judged = verdicts(table)
    print("\n".join(line for line, _ in judged))
    if args.json:
        args.json.write_text(json.dumps(table.to_dict(), indent=2))
    if args.plot:
        from dynsys.plots import forecast_plot, save_figure

        fig, _ = forecast_plot(table)
        print(f"wrote {save_figure(fig, args.plot)}")
    missed = [line.split(":")[0] for line, ok in judged if not ok]
    if missed:
        print(f"FAIL: {', '.join(missed)} below the floor")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
