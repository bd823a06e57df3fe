"""The command ``dynsys lyapunov``: Lyapunov exponents of a stepper's recurrence."""

from __future__ import annotations

import json

import click
import numpy as np

from .. import steppers
from ..lyapunov import TANGENT_MODES, LyapunovResult, drive_period, lyapunov
from ..orbits import STEPS_PER_PERIOD
from ..tables import params_text, table
from . import main
from .options import build, dt_option, json_option, resolve_dt, system_options

STEPPER_HELP = (
    "Stepper whose recurrence is measured, one of: "
    + ", ".join(name for name in steppers.STEPPERS if name != "map")
    + " (map for discrete maps). Default: euler."
)


@main.command("lyapunov")
@system_options
@click.option("--method", default=None, help=STEPPER_HELP)
@dt_option()
@click.option(
    "--transient",
    type=float,
    default=0.0,
    show_default=True,
    help="Time run first (states and tangent vectors) before accumulating.",
)
@click.option("--spectrum", is_flag=True, help="Every exponent (default: the largest only).")
@click.option(
    "--count", type=int, default=None, help="The COUNT largest exponents (1 to the states)."
)
@click.option(
    "--every", type=int, default=1, show_default=True, help="Steps between re-orthonormalisations."
)
@click.option(
    "--tangent",
    type=click.Choice(TANGENT_MODES),
    default="auto",
    show_default=True,
    help="Tangent map: the system's jacobian through the step (exact), centred differences "
    "of the step (finite_difference), or exact when there is a jacobian (auto).",
)
@click.option(
    "--stroboscopic",
    is_flag=True,
    help="A driven ODE: the exponents of its stroboscopic map s(t0 + kT) -> s(t0 + (k+1)T), "
    f"per drive period T = 2 pi/omega (dt must divide T; default T/{STEPS_PER_PERIOD}; the "
    "transient is rounded up and the end down to whole periods).",
)
@json_option
def lyapunov_command(
    system_name, params, s0, t0, t_end, method, dt, transient, spectrum, count, every, tangent,
    stroboscopic, as_json,
) -> None:  # fmt: skip
    """Lyapunov exponents of SYSTEM's recurrence under a stepper (QR method).

    The exponents are those of the map s(n+1) = F(s(n)) the stepper makes (per unit time;
    per iteration for a discrete map), largest first, with their spread (max - min of the
    running estimate over the last 20% of the run: how far they have converged).  With
    --spectrum, the sum and the Kaplan-Yorke dimension too.

    \b
    Examples:
      dynsys lyapunov lorenz --method rk4 --dt 0.01 --t-end 1000 --transient 10 --spectrum
      dynsys lyapunov henon_map --t-end 100000 --transient 100 --spectrum --json
      dynsys lyapunov logistic_map -p r=3.5,3.9,4 --t-end 10000 --transient 100
      dynsys lyapunov duffing --method rk4 --t-end 500 --count 2
      dynsys lyapunov duffing -p delta=0.3 -p gamma=0.5 --method rk4 --t-end 2000
          --transient 200 --spectrum --stroboscopic
    """
    system, start = build(system_name, params, s0)
    if stroboscopic and dt is None:
        dt = drive_period(system) / STEPS_PER_PERIOD
    result = lyapunov(
        system,
        start,
        dt=resolve_dt(system, dt),
        method=method,
        t0=t0,
        t_end=t_end,
        transient=transient,
        spectrum=count if count is not None else spectrum,
        every=every,
        tangent=tangent,
        section="stroboscopic" if stroboscopic else None,
    )
    note = unsettled(result)
    if as_json:  # the note is part of the document
        click.echo(json.dumps(result.to_dict() | ({"note": note} if note else {}), indent=2))
        return
    click.echo(summary(result))
    if note:
        click.echo(f"note: {note}", err=True)


SETTLED = 0.1
"""Estimates count as settled when every spread is at most this fraction of the size of the
largest exponent lambda1 (or of 0.01, when lambda1 is near zero)."""


def unsettled(result: LyapunovResult) -> str | None:
    """A one-line warning when the running estimates still move over the last fifth of the
    run: a spread (the estimated uncertainty) above SETTLED |lambda1|, for any batch member."""
    spread = np.max(result.spread, axis=-1)
    size = np.maximum(np.abs(result.exponents[..., 0]), 0.01)
    worst = np.unravel_index(int(np.argmax(spread / size)), np.shape(size))
    if spread[worst] <= SETTLED * size[worst]:
        return None
    return (
        f"the estimate has not settled: it still moves by up to {float(spread[worst]):.2g} "
        f"over the last fifth of the run, {float(spread[worst] / size[worst]):.0%} of "
        "|lambda1|; take a later --t-end"
    )


def summary(result: LyapunovResult) -> str:
    """The settings on one line, then the exponents with their spread (one table per batch
    member's row when batched), their sum and the Kaplan-Yorke dimension of a spectrum."""
    head = (
        f"{result.system} ({params_text(result.params)}): {result.method}, dt={result.dt:g}, "
        f"{result.tangent} tangent, {result.steps} steps accumulated on "
        f"({result.t0 + result.transient:g}, {result.t_end:g}], exponents {result.units}"
        + ("" if result.period is None else f" (T = {result.period:.6g})")
    )
    exponents = result.exponents
    dims = result.kaplan_yorke
    if exponents.ndim == 1:
        rows = [
            (f"lambda{i + 1}", f"{value:.6g}", f"{spread:.2e}")
            for i, (value, spread) in enumerate(zip(exponents, result.spread, strict=True))
        ]
        lines = [head, table(("exponent", "value", "spread"), rows)]
        if len(exponents) > 1:
            lines.append(f"sum: {float(result.sum):.6g}")
        if dims is not None:
            lines.append(f"Kaplan-Yorke dimension: {float(dims):.4g}")
        return "\n".join(lines)
    m = exponents.shape[-1]
    headers = ["member", *(f"lambda{i + 1}" for i in range(m)), "max spread"]
    if m > 1:
        headers.append("sum")
    if dims is not None:
        headers.append("D_KY")
    rows = []
    for b in range(exponents.shape[0]):
        row = [str(b), *(f"{v:.6g}" for v in exponents[b]), f"{np.max(result.spread[b]):.2e}"]
        if m > 1:
            row.append(f"{result.sum[b]:.6g}")
        if dims is not None:
            row.append(f"{dims[b]:.4g}")
        rows.append(row)
    return "\n".join([head, table(headers, rows)])
