"""The commands: systems, simulate, compare, convergence."""

from __future__ import annotations

import json
import warnings

import click
import numpy as np

from .. import steppers
from ..errors import InputError
from ..output import FORMATS, write_trajectory
from ..parallel.newton import MODES as NEWTON_VARIANTS
from ..simulate import SIMULATE_BACKENDS, simulate
from ..study import DEFAULT_METHODS, compare, convergence
from ..systems import SYSTEMS, system_class
from ..tables import number, params_text, table
from . import main
from .options import build, dt_option, json_option, parse_methods, resolve_dt, system_options

PLOT_KINDS = ("auto", "phase", "timeseries")
"""The figures of ``simulate --plot``: the trajectory drawn as simulated."""
METHOD_HELP = "One of: " + ", ".join(steppers.METHODS) + " (map for discrete maps)."


def _echo_json(doc: dict) -> None:
    click.echo(json.dumps(doc, indent=2))


@main.command("systems")
@click.argument("name", required=False)
@json_option
def systems_command(name: str | None, as_json: bool) -> None:
    """List the systems, or show one: its states, parameters and equations.

    \b
    Examples:
      dynsys systems
      dynsys systems driven_oscillator
      dynsys systems lorenz --json
    """
    if name is None:
        docs = [cls().describe() for cls in SYSTEMS.values()]
        if as_json:
            _echo_json({"systems": docs})
            return
        rows = [(d["name"], d["kind"], ",".join(d["states"]), d["summary"]) for d in docs]
        click.echo(table(("system", "kind", "states", "description"), rows))
        return
    doc = system_class(name)().describe()
    if as_json:
        _echo_json(doc)
        return
    click.echo(f"{doc['name']} ({doc['kind']}): {doc['summary']}\n")
    click.echo("equations:")
    for line in doc["equations"]:
        click.echo(f"  {line}")
    click.echo(f"\nstates: {', '.join(doc['states'])}   default s0: {doc['default_s0']}")
    click.echo("parameters:")
    click.echo(
        table(
            ("name", "default", "domain", "description"),
            [
                (p["name"], f"{p['default']:g}", p["domain"], p["description"])
                for p in doc["parameters"]
            ],
        )
    )
    has = [k for k in ("driven", "exact", "jacobian", "energy", "affine") if doc[k]]
    click.echo(f"\nprovides: {', '.join(has) if has else 'the vector field only'}")


@main.command("simulate")
@system_options
@click.option("--method", default=None, help=METHOD_HELP + " Default: euler.")
@dt_option()
@click.option("--save-every", type=int, default=1, show_default=True, help="Keep every k-th step.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Write the trajectory: " + ", ".join(FORMATS) + " by suffix.",
)
@click.option(
    "--backend",
    type=click.Choice(SIMULATE_BACKENDS),
    default="auto",
    show_default=True,
    help="Time loop: numpy, numba (compiled once per machine and cached; pip install "
    "'dynsys[fast]'), or auto (numba when its loop is cached, or for large runs). All steps "
    "at once: scan (a step map affine in the state, by an associative scan) or newton "
    "(Newton's method over the trajectory; the numpy loop runs when it does not converge).",
)
@click.option(
    "--newton-variant",
    type=click.Choice(NEWTON_VARIANTS),
    default=None,
    help="With --backend newton: full Jacobians (DEER), their diagonals (quasi) or "
    "Levenberg-Marquardt steps (damped). Default: full.",
)
@click.option(
    "--newton-iterations",
    type=click.IntRange(min=1),
    default=None,
    help="With --backend newton: the budget of linear solves per block of steps. Default: 50.",
)
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="EXPR",
    help="List the zero crossings of LEFT=RIGHT (states, parameters, t), e.g. 'z=27,dz>0' "
    "(upward), 'x=0,dx<0' (downward), 'x-y=0'; repeat for several. Needs --save-every 1.",
)
@click.option(
    "--terminal", is_flag=True, help="With --event: each member stops at its first crossing."
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FIGURE",
    help="Also draw the simulated trajectory to FIGURE (.png, .svg, .pdf): two states on the "
    "plane when the system has two or more, else the states against time (--plot-kind).",
)
@click.option(
    "--plot-kind",
    type=click.Choice(PLOT_KINDS),
    default="auto",
    show_default=True,
    help="With --plot: phase (the first two states on the plane), timeseries (each state "
    "against time) or auto (phase for two or more states).",
)
def simulate_command(
    system_name,
    params,
    s0,
    t0,
    t_end,
    method,
    dt,
    save_every,
    out,
    backend,
    newton_variant,
    newton_iterations,
    events,
    terminal,
    plot_path,
    plot_kind,
) -> None:
    """Simulate SYSTEM with a stepper (or solve_ivp) and print a summary or write a file.

    \b
    Examples:
      dynsys simulate driven_oscillator --method euler --dt 0.01 --t-end 50
      dynsys simulate driven_oscillator -p k=4 --s0 1,0 --method rk4 --out traj.csv
      dynsys simulate lorenz --method rk4 --s0 1,1,1 --s0 1,1,1.001 --out lorenz.npz
      dynsys simulate logistic_map -p r=3.2,3.5,3.9 --t-end 100 --out logistic.json
      dynsys simulate driven_oscillator -p omega=0.5,1,1.5 --method rk4 --backend numba
      dynsys simulate lorenz --method rk4 --t-end 20 --event "z=27,dz>0"
      dynsys simulate driven_oscillator --method rk4 --t-end 10000 --backend scan
      dynsys simulate pendulum -p damping=0.5 --method rk4 --t-end 100 --backend newton \
        --newton-variant damped
      dynsys simulate van_der_pol -p mu=0.5,1,2 --method rk4 --t-end 20 --plot vdp.png
      dynsys simulate lorenz --method rk4 --t-end 40 --plot lorenz.png --plot-kind timeseries
    """
    figure = _figure_target(plot_path, plot_kind)
    system, start = build(system_name, params, s0)
    wanted = _events(system, events, terminal, save_every)
    newton = _newton(backend, newton_variant, newton_iterations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the fallback is printed below
        traj = simulate(
            system,
            start,
            t_span=(t0, t_end),
            dt=resolve_dt(system, dt),
            method=method,
            save_every=save_every,
            backend=backend,
            newton=newton,
        )
    if "fallback" in traj.info:
        click.echo(f"note: {traj.info['fallback']}", err=True)
    elif "newton_iterations" in traj.info:
        click.echo(
            f"note: Newton's method over the trajectory ({traj.info['newton_variant']}) "
            f"converged in {traj.info['newton_iterations']} iterations",
            err=True,
        )
    if traj.info.get("jacobian") == "finite differences":
        click.echo(
            f"note: {system.name} defines no jacobian, so Newton's method in {method} uses "
            "forward differences of its vector field",
            err=True,
        )
    if out:
        path = write_trajectory(traj, out)
        batch = f", a batch of {traj.states.shape[0]}" if traj.batched else ""
        click.echo(f"wrote {len(traj.t)} steps of {system.name} ({traj.method}{batch}) to {path}")
    else:
        click.echo(_summary(traj))
    if wanted:
        from ..events import find_events

        click.echo(find_events(traj, wanted).table())
    if figure is not None:
        from ..plots.style import save_figure

        kind = plot_kind if plot_kind != "auto" else _auto_kind(system)
        fig, info = traj.plot(kind)
        save_figure(fig, figure)
        click.echo(f"wrote {figure}: {kind} plot of {system.name}; {info.summary()}")


def _figure_target(path: str | None, kind: str):
    """The figure file of --plot, checked before simulating: a known suffix, a folder that
    takes it; --plot-kind only with --plot."""
    if path is None:
        if kind != "auto":
            raise InputError(f"--plot-kind applies with --plot FIGURE, got --plot-kind {kind}")
        return None
    from ..files import writable
    from ..plots.style import check_suffix

    check_suffix(path)
    return writable(path)


def _auto_kind(system) -> str:
    """phase for two or more states, timeseries for one."""
    return "phase" if system.n_states >= 2 else "timeseries"


def _newton(backend: str, variant: str | None, iterations: int | None) -> dict | None:
    """The Newton settings asked for: only with --backend newton."""
    given = {
        k: v for k, v in (("variant", variant), ("max_iterations", iterations)) if v is not None
    }
    if given and backend != "newton":
        flag = "--newton-variant" if variant is not None else "--newton-iterations"
        raise InputError(f"{flag} applies to --backend newton, got --backend {backend}")
    return given or None


def _events(system, texts, terminal: bool, save_every: int) -> list:
    """The events asked for, checked before simulating."""
    if terminal and not texts:
        raise InputError("--terminal applies to events: give --event too")
    if not texts:
        return []
    from ..events import parse_event

    if save_every != 1:
        raise InputError(
            f"--event needs every step kept (--save-every 1), got --save-every {save_every}"
        )
    return [parse_event(text, system, terminal=terminal) for text in texts]


def _summary(traj) -> str:
    system = traj.system
    params = params_text(system.param_values())
    batch = f", batch of {traj.batch_size}" if traj.batched else ""
    dt = "" if traj.dt is None else f", dt={traj.dt:g}"
    lines = [
        f"{system.name} ({params}): {traj.method}{dt}, {len(traj.t)} kept steps "
        f"on [{traj.t[0]:g}, {traj.t[-1]:g}]{batch}",
    ]
    states = traj.states if traj.batched else traj.states[None]
    rows = [
        (
            name,
            number(float(np.min(states[..., i]))),
            number(float(np.max(states[..., i]))),
            number(float(states[0, -1, i])),
        )
        for i, name in enumerate(traj.state_names)
    ]
    lines.append(
        table(("state", "min", "max", "final" + (" (first)" if traj.batched else "")), rows)
    )
    if system.exact is not None:
        lines.append(f"max abs error against the exact solution: {_exact_error(traj):.3e}")
    return "\n".join(lines)


SUMMARY_BLOCK = 65536
"""Kept steps compared with the exact solution at a time: the summary holds no copy of the
trajectory (the run's memory estimate does not count one)."""


def _exact_error(traj) -> float:
    """max |states - exact| over the run, the exact solution evaluated block by block."""
    system, states = traj.system, traj.states
    s0, t0 = states[..., 0, :], float(traj.t[0])
    worst = 0.0
    for first in range(0, len(traj.t), SUMMARY_BLOCK):
        rows = slice(first, first + SUMMARY_BLOCK)
        exact = system.exact(traj.t[rows], s0, t0, system.params)
        worst = max(worst, float(np.max(np.abs(states[..., rows, :] - exact))))
    return worst


@main.command("compare")
@system_options
@click.option(
    "--methods",
    default=",".join(DEFAULT_METHODS),
    show_default=True,
    help="Comma-separated methods. " + METHOD_HELP,
)
@dt_option(0.01)
@click.option(
    "--save-every",
    type=int,
    default=1,
    show_default=True,
    help="Measure the errors on every k-th step (and the last).",
)
@click.option("--rtol", type=float, default=1e-10, show_default=True, help="Reference rtol.")
@click.option("--atol", type=float, default=1e-12, show_default=True, help="Reference atol.")
@json_option
def compare_command(
    system_name, params, s0, t0, t_end, methods, dt, save_every, rtol, atol, as_json
) -> None:
    """Compare steppers on SYSTEM against a tight solve_ivp reference (DOP853; Radau, with the
    Jacobian, for a stiff system).

    Errors are over every kept step and state; with an exact solution, its errors too.

    \b
    Examples:
      dynsys compare driven_oscillator --dt 0.01 --t-end 50
      dynsys compare van_der_pol -p mu=2 --methods euler,rk4 --dt 0.001 --json
    """
    system, start = build(system_name, params, s0)
    result = compare(
        system,
        start,
        t_span=(t0, t_end),
        dt=dt,
        methods=parse_methods(methods),
        rtol=rtol,
        atol=atol,
        save_every=save_every,
    )
    if as_json:
        _echo_json(result.to_dict())
        return
    click.echo(result.table())


@main.command("convergence")
@system_options
@click.option("--method", default="euler", show_default=True, help=METHOD_HELP)
@dt_option(0.1, "Largest step size.")
@click.option("--levels", type=int, default=6, show_default=True, help="How often to halve dt.")
@json_option
def convergence_command(system_name, params, s0, t0, t_end, method, dt, levels, as_json) -> None:
    """Measure the observed order of a stepper: halve dt LEVELS times and fit the slope.

    The error is the max abs error over the grid against the exact solution where the system
    has one, else against a tight solve_ivp reference.

    \b
    Examples:
      dynsys convergence driven_oscillator --method rk4 --dt 0.1 --levels 5 --t-end 10
      dynsys convergence van_der_pol --method heun --t-end 10 --json
    """
    if method not in steppers.STEPPERS:
        raise InputError(
            f"--method must be a stepper for a convergence study, one of: "
            f"{', '.join(m for m in steppers.STEPPERS if m != 'map')}; got {method!r}"
        )
    system, start = build(system_name, params, s0)
    result = convergence(system, start, method=method, t_span=(t0, t_end), dt=dt, levels=levels)
    if as_json:
        _echo_json(result.to_dict())
        return
    click.echo(result.table())
