"""The command ``dynsys bifurcation``: the orbit diagram of a map, of a driven ODE on its
stroboscopic section, or of an autonomous ODE on a Poincare section (an event), as a figure or
an .npz file."""

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
SECTION_PERIOD_TOL = 1e-3
"""Relative tolerance of the periods reported on a Poincare section: the crossings come from a
cubic interpolant between steps, whose error at the default dt is far above 1e-6."""


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
    type=float,
    default=None,
    help="Iterations dropped first (drive periods for a driven ODE; a time with --section). "
    "Default 1000 (with --section: the system's transient time).",
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
    help="An ODE: the RK4 step; for a driven ODE a divisor of the drive period "
    "T = 2 pi/omega (default T/100), with --section default 0.01.",
)
@click.option(
    "--section",
    default=None,
    metavar="EXPR",
    help="An autonomous ODE: the Poincare section, an event with a direction such as "
    "'z=27,dz>0'; the state is drawn at up to --keep crossings after --transient.",
)
@click.option(
    "--t-end",
    "t_end",
    type=float,
    default=None,
    help="With --section: the end time of the integration (default: transient + 100).",
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
    system_name,
    sweep,
    fixed,
    n,
    transient,
    keep,
    periods,
    dt,
    section,
    t_end,
    state,
    s0,
    with_lyapunov,
    out,
) -> None:
    """Draw the orbit diagram of SYSTEM (a map, or an ODE through a section), or write an .npz.

    Every value of the swept parameter is iterated at once from the same initial state; the
    first --transient iterations are dropped and the next --keep values of the state are
    drawn as dots above the parameter value.  A driven ODE is integrated (RK4, all values at
    once) and sampled once per drive period T: --transient periods are dropped and s(kT) is
    drawn for the next --periods periods (omega, which sets T, cannot be swept).  An
    autonomous ODE needs --section, an event e(s) = 0 with a direction: it is integrated (RK4,
    all values at once) up to --t-end, and the state at the first --keep crossings after time
    --transient is drawn (a value whose orbit stops crossing, e.g. settled on a fixed point, has
    no points and is counted).

    \b
    Examples:
      dynsys bifurcation logistic_map --param r=2.8,4 --n 2000 --out logistic.png
      dynsys bifurcation henon_map --param a=1,1.4 --set b=0.3 --out henon.svg
      dynsys bifurcation logistic_map --param r=3.5,3.6 --keep 500 --out cascade.npz
      dynsys bifurcation logistic_map --param r=2.8,4 --lyapunov --out with_exponents.png
      dynsys bifurcation duffing --param gamma=0.2,0.6 --set delta=0.3 --n 400 --periods 200
          --transient 100 --out duffing.png
      dynsys bifurcation lorenz --param rho=25,200 --n 200 --section "z=27,dz>0"
          --t-end 60 --transient 20 --state x --out lorenz.png
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
    if section is not None:
        diagram = _section_diagram(
            system, name, lo, hi, n, start, section, transient, t_end, keep, periods, dt, state
        )
        values = diagram.values
        exponents = _largest_exponents(system, name, values, start, diagram, with_lyapunov)
        _write(diagram, path, exponents)
        counts = diagram.counts
        crossing = diagram.periods(tol=SECTION_PERIOD_TOL)
        click.echo(
            f"wrote {path}: orbit diagram of {system.name} on the section {diagram.section} "
            f"(rk4 dt = {diagram.dt:.6g}, crossings after t = {diagram.transient:g} up to "
            f"{diagram.t_end:g}), {name} from {lo:g} to {hi:g}; {int(counts.sum())} points, "
            f"{int(np.sum(counts == 0))} of {len(values)} values without a crossing after the "
            f"transient, {int(np.sum((crossing == 0) & (counts > 0)))} without a period up to "
            f"{keep // 2} (to {SECTION_PERIOD_TOL:g})"
        )
        return
    if t_end is not None:
        raise InputError("--t-end is for a Poincare section (give --section, e.g. 'z=27,dz>0')")
    transient = _whole("--transient", 1000 if transient is None else transient)
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
    exponents = _largest_exponents(system, name, values, start, diagram, with_lyapunov)
    points = _write(diagram, path, exponents)
    what = f"{len(values)} x {keep} points" if points is None else f"{points} points"
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


def _section_diagram(system, name, lo, hi, n, start, section, transient, t_end, keep, periods, dt,
                     state):  # fmt: skip
    """The orbit diagram of an autonomous ODE on the Poincare section ``section``."""
    from ..orbits import orbit_diagram, parameter_range

    if system.kind == "map" or system.driven:
        kind = "a discrete map" if system.kind == "map" else "a driven ODE"
        raise InputError(
            f"--section is for an autonomous ODE; {system.name} is {kind} (drop --section)"
        )
    if periods is not None:
        raise InputError("--periods is for a driven ODE; with --section use --keep")
    return orbit_diagram(
        system,
        name,
        parameter_range(lo, hi, checks.integer("--n", n)),
        s0=start,
        section=section,
        transient=transient,
        t_end=t_end,
        keep=_count("--keep", keep, 1),
        state=int(state) if state.isdigit() else state,
        dt=dt,
    )


def _write(diagram, path: Path, exponents: np.ndarray | None) -> int | None:
    """Write ``diagram`` to ``path``: the .npz data (None), or the figure (its dot count)."""
    if path.suffix.lower() == DATA_SUFFIX:
        diagram.to_npz(path, **({} if exponents is None else {"lyapunov": exponents}))
        return None
    from ..plots.bifurcation import orbit_diagram_plot
    from ..plots.style import save_figure

    fig, info = orbit_diagram_plot(diagram, exponents=exponents)
    save_figure(fig, path)
    return info.points


def _largest_exponents(system, name, values, start, diagram, wanted) -> np.ndarray | None:
    """The largest Lyapunov exponent at each value of ``name`` (values,), when ``wanted``: of
    the map, per iteration, of a driven ODE's stroboscopic map, per drive period, or of an
    autonomous ODE, per unit time over the diagram's span."""
    from ..lyapunov import lyapunov

    if not wanted:
        return None
    swept = system.with_params(**{name: values})
    transient = diagram.transient
    if diagram.section is not None:
        result = lyapunov(
            swept,
            start,
            dt=diagram.dt,
            method=diagram.method,
            t_end=diagram.t_end,
            transient=transient,
        )
    elif diagram.period is None:
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


def _whole(field: str, value: float) -> int:
    """A count given as a float option (``--transient 100``): a whole number >= 0."""
    if not float(value).is_integer():
        raise InputError(f"{field} must be a whole number >= 0 here, got {value:g}")
    return _count(field, int(value), 0)
