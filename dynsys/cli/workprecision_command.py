"""The command ``dynsys workprecision``: error against work for steppers and solve_ivp."""

from __future__ import annotations

import json

import click

from .. import checks
from ..workprecision import (
    ADAPTIVE_ATOL_RATIO,
    DEFAULT_STEP_COUNTS,
    REFERENCES,
    WorkPrecision,
    work_precision,
)
from . import main
from .options import build, json_option, parse_methods, system_options


def parse_numbers(field: str, text: str | None) -> list[float] | None:
    """'0.1,0.01' -> [0.1, 0.01] (None stays None): finite numbers, no empty item; the
    library checks that they are > 0."""
    if text is None:
        return None
    return [checks.finite_number(field, v) for v in checks.comma_list(field, text, "number")]


@main.command("workprecision")
@system_options
@click.option(
    "--methods",
    default=None,
    metavar="A,B,...",
    help="Steppers (euler, rk4, implicit_euler, ...) and solve_ivp methods (RK45, DOP853, "
    "Radau, BDF, LSODA, RK23). Default: euler, rk4, dopri5, every implicit stepper, RK45, "
    "DOP853, Radau, BDF, LSODA.",
)
@click.option(
    "--dts",
    default=None,
    metavar="H1,H2,...",
    help="Steps of the steppers. Default: (t_end - t0) / N for N = "
    f"{DEFAULT_STEP_COUNTS[0]}, {DEFAULT_STEP_COUNTS[1]}, ..., {DEFAULT_STEP_COUNTS[-1]}.",
)
@click.option(
    "--rtols",
    default=None,
    metavar="R1,R2,...",
    help=f"Tolerances of the solve_ivp methods (atol = rtol x {ADAPTIVE_ATOL_RATIO:g}). "
    "Default: 1e-3, 1e-4, ..., 1e-10.",
)
@click.option(
    "--repeats", type=int, default=3, show_default=True, help="Timed runs; the median is kept."
)
@click.option(
    "--reference",
    type=click.Choice(REFERENCES),
    default="auto",
    show_default=True,
    help="What errors are measured against: the exact solution (auto, when there is one), "
    "else solve_ivp at rtol 1e-12, atol 1e-14 (auto: Radau for a stiff system, else DOP853).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the diagram to this figure file (.png, .svg or .pdf by suffix).",
)
@json_option
def workprecision_command(
    system_name, params, s0, t0, t_end, methods, dts, rtols, repeats, reference, out, as_json
) -> None:
    """Work-precision diagram of SYSTEM: each method's error against its wall time and its
    evaluations of the vector field g.

    Each stepper runs at every step h of --dts, each solve_ivp method at every rtol of
    --rtols; a point's error is the largest relative error over the kept times and states
    (each state measured against its largest size over the run), its wall time the median
    of --repeats runs, its work the evaluations of g per trajectory, counted as they happen
    (Newton iterations of the implicit steppers included).  A stepper whose states leave the
    finite numbers at some h is reported as diverged there.

    \b
    Examples:
      dynsys workprecision exponential_decay -p rate=50 --t-end 1
      dynsys workprecision van_der_pol -p mu=5 --t-end 10 --methods rk4,dopri5,RK45,DOP853
      dynsys workprecision robertson --t-end 100 --methods implicit_euler,sdirk3,bdf2,Radau,BDF
      dynsys workprecision prothero_robinson --t-end 2 --out wp.png --json
    """
    path = None
    if out is not None:
        from .plot_commands import _figure_path

        path = _figure_path(out, out)
    system, start = build(system_name, params, s0)
    result = work_precision(
        system,
        start,
        t_end=t_end,
        t0=t0,
        methods=None if methods is None else parse_methods(methods),
        dts=parse_numbers("--dts", dts),
        rtols=parse_numbers("--rtols", rtols),
        reference=reference,
        repeats=checks.integer("--repeats", repeats),
    )
    if path is not None:
        from ..plots.style import save_figure
        from ..plots.workprecision import workprecision_plot

        save_figure(workprecision_plot(result, system=system), path)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    click.echo(summary(result))
    if path is not None:
        click.echo(f"wrote {path}: work-precision diagram of {len(result.methods)} methods")


def summary(result: WorkPrecision) -> str:
    """The settings on one line, then one row per point."""
    diverged = sum(p.diverged for p in result.points)
    head = (
        f"{result.system}: {len(result.methods)} methods on t in [{result.t_span[0]:g}, "
        f"{result.t_span[1]:g}], errors against {result.reference}"
        f"{', stiff' if result.stiff else ''}; wall time the median of {result.repeats} runs"
        + (f"; {diverged} diverged" if diverged else "")
    )
    return "\n".join([head, result.table()])
