"""The command ``dynsys bifurcation``: the orbit diagram of a map, or of a driven ODE on its
stroboscopic section, as a figure or an .npz file."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .. import checks
from ..errors import InputError
from . import main
from .options import build

DATA_SUFFIX = ".npz"
LYAPUNOV_ITERATIONS = 2000
"""Iterations over which --lyapunov accumulates each value's largest exponent."""
LYAPUNOV_PERIODS = 200
"""Drive periods over which --lyapunov accumulates each value's largest exponent (driven ODE)."""


def parse_range(text: str) -> tuple[str, float, float]:
    """'r=2.8,4' -> ('r', 2.8, 4.0): a name, then two finite numbers lo < hi."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InputError(f"--param expects NAME=LO,HI (e.g. r=2.8,4), got {text!r}")
    items = checks.comma_list(f"--param {name}", rest, "value")
    if len(items) != 2:
        raise InputError(f"--param expects NAME=LO,HI with two numbers, got {text!r}")
    lo, hi = (checks.finite_number(f"--param {name}", v) for v in items)
    if not lo < hi:
        raise InputError(f"--param {name} needs LO < HI, got {text!r}")
    return name, lo, hi


def _out_path(out: str | None, default: str) -> Path:
    """The output path: a figure suffix or .npz, in a folder that exists."""
    from ..plots.style import FORMATS

    path = Path(out or default)
    if path.suffix.lower() not in (*FORMATS, DATA_SUFFIX):
        raise InputError(
            f"--out must end in one of {', '.join((*FORMATS, DATA_SUFFIX))}, got {str(path)!r}"
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    return path


@main.command("bifurcation")
@click.argument("system_name", metavar="SYSTEM")
@click.option(
    "--param",
    "sweep",
    required=True,
    metavar="NAME=LO,HI",
    help="The parameter swept, from LO to HI.",
)
@click.option(
    "-p",
    "--set",
    "fixed",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set another parameter (one value each); -p is --set.",
)
@click.option("--n", type=int, default=1000, show_default=True, help="Parameter values.")
@click.option(
    "--transient",
    type=int,
    default=1000,
    show_default=True,
    help="Iterations dropped first (drive periods for a driven ODE).",
)
@click.option("--keep", type=int, default=200, show_default=True, help="Iterations kept.")
@click.option(
    "--periods",
    type=int,
    default=None,
    help="A driven ODE: drive periods kept, one point s(kT) each (default: --keep).",
)
@click.option(
    "--dt",
    type=float,
    default=None,
    help="A driven ODE: the RK4 step, a divisor of the drive period T = 2 pi/omega "
    "(default T/100).",
)
@click.option("--state", default="0", show_default=True, help="The state drawn, name or index.")
@click.option("--s0", default=None, metavar="V1,V2,...", help="Initial state of every orbit.")
@click.option(
    "--lyapunov",
    "with_lyapunov",
    is_flag=True,
    help=f"Also compute the largest Lyapunov exponent of each value (over "
    f"{LYAPUNOV_ITERATIONS} iterations after the transient; for a driven ODE, of the "
    f"stroboscopic map, per drive period, over {LYAPUNOV_PERIODS} periods), drawn beneath the "
    "diagram and saved in the .npz as 'lyapunov'.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="A figure (.png, .svg, .pdf) or the data (.npz), by suffix. "
    "Default: SYSTEM_bifurcation.png.",
)
def bifurcation_command(
    system_name, sweep, fixed, n, transient, keep, periods, dt, state, s0, with_lyapunov, out
) -> None:
    """Draw the orbit diagram of the map SYSTEM, or write its points to an .npz file.

    Every value of the swept parameter is iterated at once from the same initial state; the
    first --transient iterations are dropped and the next --keep values of the state are
    drawn as dots above the parameter value.  A driven ODE is integrated (RK4, all values at
    once) and sampled once per drive period T: --transient periods are dropped and s(kT) is
    drawn for the next --periods periods (omega, which sets T, cannot be swept).

    \b
    Examples:
      dynsys bifurcation logistic_map --param r=2.8,4 --n 2000 --out logistic.png
      dynsys bifurcation henon_map --param a=1,1.4 --set b=0.3 --out henon.svg
      dynsys bifurcation logistic_map --param r=3.5,3.6 --keep 500 --out cascade.npz
      dynsys bifurcation logistic_map --param r=2.8,4 --lyapunov --out with_exponents.png
      dynsys bifurcation duffing --param gamma=0.2,0.6 --set delta=0.3 --n 400 --periods 200
          --transient 100 --out duffing.png
    """
    from ..orbits import orbit_diagram, parameter_range

    name, lo, hi = parse_range(sweep)
    path = _out_path(out, f"{system_name}_bifurcation.png")
    system, start = build(system_name, fixed, (s0,) if s0 else ())
    known = [p.name for p in system.parameters]
    if name not in known:
        raise InputError(f"--param names no parameter of {system.name}: {name!r}; known: "
                         f"{', '.join(known)}")  # fmt: skip
    if name in {pair.partition("=")[0].strip() for pair in fixed}:
        raise InputError(f"--set {name} is the swept parameter (--param {name}=LO,HI)")
    if system.kind == "map" and (periods is not None or dt is not None):
        raise InputError(
            f"--periods and --dt are for a driven ODE; {system.name} is a map (use --keep)"
        )
    keep = keep if periods is None else _count("--periods", periods, 2)
    values = parameter_range(lo, hi, checks.integer("--n", n))
    diagram = orbit_diagram(
        system,
        name,
        values,
        s0=start,
        transient=_count("--transient", transient, 0),
        keep=_count("--keep", keep, 2),
        state=int(state) if state.isdigit() else state,
        dt=dt,
    )
    exponents = (
        _largest_exponents(system, name, values, start, transient, diagram)
        if with_lyapunov
        else None
    )
    if path.suffix.lower() == DATA_SUFFIX:
        diagram.to_npz(path, **({} if exponents is None else {"lyapunov": exponents}))
        what = f"{len(values)} x {keep} points"
    else:
        from ..plots.bifurcation import orbit_diagram_plot
        from ..plots.style import save_figure

        fig, info = orbit_diagram_plot(diagram, exponents=exponents)
        save_figure(fig, path)
        what = f"{info.points} points"
    if exponents is not None:
        what += f", largest Lyapunov exponent > 0 at {int(np.sum(exponents > 0))} values"
    periods = diagram.periods()
    chaotic = int(np.sum(periods == 0))
    section = (
        ""
        if diagram.period is None
        else f" (stroboscopic: s(kT), T = {diagram.period:.6g}, rk4 dt = {diagram.dt:.6g})"
    )
    click.echo(
        f"wrote {path}: orbit diagram of {system.name}{section}, {name} from {lo:g} to {hi:g}; "
        f"{what}; {chaotic} of {len(values)} values without a period up to {keep // 2}"
    )


def _largest_exponents(system, name, values, start, transient, diagram) -> np.ndarray:
    """The largest Lyapunov exponent at each value of ``name`` (values,): of the map, per
    iteration, or of a driven ODE's stroboscopic map, per drive period."""
    from ..lyapunov import lyapunov

    swept = system.with_params(**{name: values})
    if diagram.period is None:
        result = lyapunov(swept, start, t_end=transient + LYAPUNOV_ITERATIONS, transient=transient)
    else:
        result = lyapunov(
            swept,
            start,
            dt=diagram.dt,
            method=diagram.method,
            t_end=(transient + LYAPUNOV_PERIODS) * diagram.period,
            transient=transient * diagram.period,
            section="stroboscopic",
        )
    return result.exponents[..., 0].reshape(-1)


def _count(field: str, value: int, minimum: int) -> int:
    return checks.integer(field, value, minimum=minimum)
