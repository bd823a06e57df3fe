"""The command ``dynsys basins``: the basins of attraction of a plane of initial states."""

from __future__ import annotations

import json

import click

from .. import checks
from ..errors import InputError
from . import main
from .bifurcation_command import DATA_SUFFIX, _out_path
from .options import build, json_option, param_option


def parse_limits(field: str, text: str) -> tuple[float, float]:
    """'-2,2' -> (-2.0, 2.0): two finite numbers, low < high."""
    items = checks.comma_list(field, text, "value")
    if len(items) != 2:
        raise InputError(f"{field} expects LOW,HIGH (e.g. -2,2), got {text!r}")
    lo, hi = (checks.finite_number(field, v) for v in items)
    if not lo < hi:
        raise InputError(f"{field} needs LOW < HIGH, got {text!r}")
    return lo, hi


@main.command("basins")
@click.argument("system_name", metavar="SYSTEM")
@param_option
@click.option("--grid", type=int, default=400, show_default=True, help="Initial states per axis.")
@click.option("--xlim", required=True, metavar="LOW,HIGH", help="Range of the first state.")
@click.option("--ylim", required=True, metavar="LOW,HIGH", help="Range of the second state.")
@click.option(
    "--states",
    default="0,1",
    show_default=True,
    metavar="I,J",
    help="The two states of the plane, by name or index; the others start at --s0.",
)
@click.option(
    "--s0", default=None, metavar="V1,V2,...", help="Values of the states outside the plane."
)
@click.option("--t-end", type=float, default=100.0, show_default=True, help="End time.")
@click.option("--dt", type=float, default=None, help="Step size h. Default: 0.02 (1 for maps).")
@click.option("--method", default=None, help="Stepper. Default: rk4 (map for maps).")
@click.option(
    "--backend",
    type=click.Choice(["auto", "numpy", "numba"]),
    default="auto",
    show_default=True,
    help="Time loop: auto compiles large runs when numba is installed.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="A figure (.png, .svg, .pdf) or the data (.npz), by suffix. Default: SYSTEM_basins.png.",
)
@json_option
def basins_command(
    system_name, params, grid, xlim, ylim, states, s0, t_end, dt, method, backend, out, as_json
) -> None:
    """Colour each initial state of a plane by the attractor it ends on.

    A --grid x --grid plane of initial states (the first state over --xlim, the second over
    --ylim) is stepped at once up to --t-end; each state ends at a fixed point, on a cycle,
    escaped (not finite or far beyond the limits) or undecided (take a larger --t-end).

    \b
    Examples:
      dynsys basins duffing -p alpha=-1 -p beta=1 -p delta=0.3 -p gamma=0 \\
          --xlim -2,2 --ylim -2,2 --out duffing_basins.png
      dynsys basins pendulum -p damping=0.5 --xlim -10,10 --ylim -8,8 --out pendulum.png
      dynsys basins henon_map --xlim -2,2 --ylim -2,2 --t-end 200 --out henon.npz --json
    """
    from ..basins import basins

    for pair in params:
        if "," in pair.partition("=")[2]:
            raise InputError(f"-p takes one value per parameter in a basin map, got {pair!r}")
    x_range, y_range = parse_limits("--xlim", xlim), parse_limits("--ylim", ylim)
    path = _out_path(out, f"{system_name}_basins.png")
    system, start = build(system_name, params, (s0,) if s0 else ())
    plane = [int(v) if v.strip().isdigit() else v.strip() for v in states.split(",")]
    result = basins(
        system,
        grid=grid,
        xlim=x_range,
        ylim=y_range,
        states=plane,
        fixed=start if s0 else None,
        t_end=t_end,
        dt=dt,
        method=method,
        backend=backend,
    )
    if path.suffix.lower() == DATA_SUFFIX:
        result.to_npz(path)
    else:
        from ..plots.basins import basins_plot
        from ..plots.style import save_figure

        fig, _ = basins_plot(result)
        save_figure(fig, path)
    if as_json:
        click.echo(json.dumps({"out": str(path), **result.summary()}))
        return
    counts, total = result.counts, result.labels.size
    parts = [
        f"{result.name(k)} {100 * counts[k] / total:.1f}%"
        for k in (*range(len(result.attractors)), -1, -2)
        if counts[k]
    ]
    click.echo(
        f"wrote {path}: basins of {system.name}, {grid} x {grid} states; " + "; ".join(parts)
    )
