"""The plotting commands: ``phase`` (phase portraits) and ``plot KIND`` (the other figures).

matplotlib is imported when a plotting command runs, not when the command line starts.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np
from click.core import ParameterSource

from .. import checks
from ..errors import InputError, unknown_name
from . import main
from .options import build, param_option, parse_params, parse_state


def _figure_path(out: str | None, default: str) -> Path:
    """The output path, checked before any computing: a known suffix, an existing folder."""
    from ..plots.style import check_suffix

    path = Path(out or default)
    check_suffix(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    return path


def _out_option(default: str):
    return click.option(
        "--out",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"Figure file, .png, .svg or .pdf by suffix. Default: {default}.",
    )


@main.command("phase")
@click.argument("system_name", metavar="SYSTEM|FILE|CONFIG", required=False)
@click.option(
    "--equations",
    "equations",
    multiple=True,
    metavar="'STATE: EXPR'",
    help="Instead of SYSTEM: ds/dt of one state, e.g. 'y: -sin(x)'; repeat, one per state, "
    "in the order of the states. -p NAME=VALUE sets the parameters they read.",
)
@param_option
@click.option(
    "--s0",
    "s0",
    multiple=True,
    metavar="V1,V2,...",
    help="Initial state of a trajectory; repeat for several. Default: the system's own.",
)
@click.option("--grid", type=int, default=0, metavar="N", help="Add N x N initial states.")
@click.option("--xlim", metavar="A,B", help="Horizontal limits. Default: fit the trajectories.")
@click.option("--ylim", metavar="A,B", help="Vertical limits. Default: fit the trajectories.")
@click.option("--states", metavar="I,J", help="The two states on the axes, by name or index.")
@click.option(
    "--methods",
    default="",
    metavar="M1,M2",
    help="Also step the first initial state with these methods, beside solve_ivp.",
)
@click.option("--dt", type=float, default=0.01, show_default=True, help="Step of the methods.")
@click.option(
    "--t-end", type=float, default=None, help="End time. Default: 20 (maps: 40 or 5000 steps)."
)
@click.option("--poincare", is_flag=True, help="Driven systems: add the stroboscopic section.")
@click.option(
    "--section",
    metavar="EVENT",
    default=None,
    help="Add the Poincaré section where EVENT crosses, e.g. 'z=27,dz>0' (LEFT=RIGHT of "
    "states, parameters, t; dz>0 upward), projected on --states (default: two states it does "
    "not read). Default t_end then 200.",
)
@click.option(
    "--transient",
    type=float,
    default=0.0,
    show_default=True,
    help="With --poincare or --section: drop the section points before t0 + TRANSIENT.",
)
@click.option("--projections", is_flag=True, help="3+ states: three 2D projections, not 3D.")
@click.option("--vs-time", is_flag=True, help="The states against time instead.")
@_out_option("SYSTEM_phase.png (FILE_phase.png, CONFIG_phase.png, equations_phase.png)")
@click.pass_context
def phase_command(
    ctx,
    system_name,
    equations,
    params,
    s0,
    grid,
    xlim,
    ylim,
    states,
    methods,
    dt,
    t_end,
    poincare,
    section,
    transient,
    projections,
    vs_time,
    out,
) -> None:
    """Draw the phase portrait of SYSTEM (or of a saved trajectory FILE, of the system of a
    CONFIG, of --equations) to a PNG, SVG or PDF file.

    Two states: streamlines of the vector field coloured by speed, the nullclines, the
    equilibria labelled by type (stable/unstable node or focus, saddle, centre) and the
    trajectories (solve_ivp). Driven systems: the trajectory without a field (it turns with the
    drive), and with --poincare the section sampled once per forcing period 2π/omega. Three
    states: a 3D trajectory, or --projections. Maps: a cobweb diagram or the orbit.

    \b
    Examples:
      dynsys phase van_der_pol -p mu=1 --grid 6 --xlim -3,3 --ylim -4,4 --out vdp.png
      dynsys phase pendulum --s0 1,0 --methods euler,semi_implicit_euler --dt 0.05
      dynsys phase duffing --poincare --t-end 2000 --transient 100 --out duffing.png
      dynsys phase lorenz --section "z=27,dz>0" --out lorenz_section.png
      dynsys phase lorenz --projections --t-end 40 --out lorenz.svg
      dynsys phase logistic_map -p r=3.9 --out cobweb.png
      dynsys phase exponential_decay --vs-time --methods euler --dt 0.5 --t-end 5

    FILE, a trajectory written by dynsys simulate --out (.csv, .npz, .json), is drawn as it
    was saved, nothing simulated again: two states on the plane (--states; default the first
    two), each trajectory of a batch its own curve, or with --vs-time every state against
    time.  CONFIG, an experiment file (.yaml), gives the system of its system section (a
    built-in one, or your own equations) with its s0, t_end and dt as defaults.  --equations
    types a system on the command line, read by the same parser as a config's equations
    (numbers, the states, the -p parameters, t, pi, e, + - * / **, sin, cos, exp, ...).

    \b
    Examples of files and equations:
      dynsys simulate lorenz --method rk4 --s0 1,1,1 --s0 1,1,1.001 --out lorenz.npz
      dynsys phase lorenz.npz --states x,z --out lorenz_saved.png
      dynsys phase configs/user_pendulum.yaml --grid 5 --out user_pendulum.png
      dynsys phase --equations "x: y" --equations "y: -sin(x) - b*y" -p b=0.2 \\
        --s0 2,0 --grid 5 --xlim -6,6 --ylim -3,3 --out damped.png
    """
    from ..plots import phase_portrait, save_figure

    if equations or system_name is None or _is_file(system_name, (*TRAJECTORY, *CONFIG)):
        _phase_other(ctx, system_name, equations, params, s0, dt, t_end, vs_time, states, out)
        return
    path = _figure_path(out, f"{system_name}_phase.png")
    system, start = build(system_name, params, s0)
    fig, info = phase_portrait(
        system,
        start if s0 else None,
        t_span=None if t_end is None else (0.0, t_end),
        dt=dt,
        xlim=xlim,
        ylim=ylim,
        grid=grid,
        methods=methods,
        states=states,
        poincare=poincare,
        projections=projections,
        vs_time=vs_time,
        section=section,
        transient=transient,
    )
    save_figure(fig, path)
    click.echo(f"wrote {path}: {info.layout} phase portrait of {system.name}; {info.summary()}")


TRAJECTORY = (".csv", ".npz", ".json")
"""The suffixes of a trajectory FILE (what dynsys simulate --out writes)."""
CONFIG = (".yaml", ".yml")
"""The suffixes of an experiment CONFIG."""
FILE_OPTIONS = ("system_name", "states", "vs_time", "out")
"""The options of ``phase FILE``: the saved trajectory is drawn as it is."""
EQUATIONS_NAME = "equations"
"""The name of a system typed with --equations."""


def _is_file(target: str, suffixes: tuple[str, ...]) -> bool:
    """Whether the argument names a file rather than a system: a registered system's name is a
    system; a name with one of ``suffixes``, or a path that exists, is a file."""
    from ..systems import SYSTEMS

    if target in SYSTEMS:
        return False
    return Path(target).suffix.lower() in suffixes or os.path.lexists(target)


def _phase_other(ctx, target, equations, params, s0, dt, t_end, vs_time, states, out) -> None:
    """``phase FILE``, ``phase CONFIG`` and ``phase --equations ...``."""
    from ..plots import phase_portrait, save_figure

    given = [
        name for name in ctx.params if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    ]
    if equations and target is not None:
        raise InputError(f"give SYSTEM, FILE or CONFIG ({target!r}) or --equations, not both")
    if target is None and not equations:
        raise InputError(
            "phase needs a SYSTEM, a trajectory FILE (.csv, .npz, .json), a CONFIG (.yaml) or "
            "--equations, e.g. dynsys phase van_der_pol"
        )
    if target is not None and Path(target).suffix.lower() not in CONFIG:
        _phase_of_file(given, target, vs_time, states, out)
        return
    if equations:
        name = EQUATIONS_NAME
        system = _equations_system(equations, params)
        defaults = None
    else:
        name = Path(target).stem
        system, defaults = _config_system(target, params)
    if s0:
        start = _starts(system, s0)
    elif defaults is not None and defaults.s0 is not None:
        start = checks.initial_state(system, np.array(defaults.s0, dtype=np.float64))
    else:
        start = None
    if defaults is not None:
        t_end = defaults.t_end if t_end is None else t_end
        dt = defaults.dt if "dt" not in given else dt
    path = _figure_path(out, f"{name}_phase.png")
    fig, info = phase_portrait(
        system,
        start,
        t_span=None if t_end is None else (0.0 if defaults is None else defaults.t0, t_end),
        dt=dt,
        **{k: ctx.params[k] for k in PORTRAIT_OPTIONS},
    )
    save_figure(fig, path)
    click.echo(f"wrote {path}: {info.layout} phase portrait of {system.name}; {info.summary()}")


PORTRAIT_OPTIONS = (
    "xlim",
    "ylim",
    "grid",
    "methods",
    "states",
    "poincare",
    "projections",
    "vs_time",
    "section",
    "transient",
)
"""The options of ``phase`` passed to the phase portrait as they are."""


def _phase_of_file(given, target, vs_time, states, out) -> None:
    """``phase FILE``: the saved trajectory in the phase plane, or against time."""
    for name in given:
        if name not in FILE_OPTIONS:
            flag = "-p/--param" if name == "params" else "--" + name.replace("_", "-")
            raise InputError(
                f"{flag} does not apply to a saved trajectory ({target}), which is drawn as it "
                "was saved; its options are --states, --vs-time and --out"
            )
    kind = "timeseries" if vs_time else "phase"
    what = "phase plot" if kind == "phase" else "states against time"
    hint = f"against time with --vs-time, or dynsys plot timeseries {target}"
    _draw_saved(
        target, kind, states, _figure_path(out, f"{Path(target).stem}_phase.png"), what, hint
    )


def _draw_saved(target: str, kind: str, states, path: Path, what: str, hint: str) -> None:
    """Draw the trajectory saved in ``target`` as ``kind`` (timeseries or phase) into ``path``
    and say so; a phase plot of one state is refused with ``hint`` (how to draw it)."""
    from ..output import load_trajectory
    from ..plots.saved import trajectory_plot
    from ..plots.style import save_figure

    traj = load_trajectory(target)
    if kind == "phase" and traj.system.n_states < 2:
        raise InputError(f"{target} holds one state ({traj.state_names[0]}): draw it {hint}")
    fig, info = trajectory_plot(traj, kind, states=states)
    save_figure(fig, path)
    click.echo(f"wrote {path}: {what} of {traj.system.name} saved in {target}; {info.summary()}")


def _equations_system(texts: tuple[str, ...], params: tuple[str, ...]):
    """The system of ``--equations 'x: y' --equations 'y: -sin(x)'`` with the parameters of
    ``-p NAME=VALUE``: each expression checked by the config's parser (never eval'd)."""
    from ..experiments.expressions import compile_expression
    from ..experiments.user_system import make_system_class, name_problem, reserved_names

    equations: dict[str, str] = {}
    for text in texts:
        state, sep, expression = text.partition(":")
        state = state.strip()
        if not sep or not state or not expression.strip():
            raise InputError(
                f"--equations expects 'STATE: EXPRESSION', e.g. 'y: -sin(x)', got {text!r}"
            )
        problem = name_problem(state, reserved_names(driven=False, parameter=False))
        if problem is not None:
            raise InputError(f"--equations {text!r}: {problem}")
        if state in equations:
            raise InputError(f"--equations: state {state!r} has two equations; give one each")
        equations[state] = expression.strip()
    values = parse_params(params)
    for name, value in values.items():
        problem = name_problem(name, reserved_names(driven=False, parameter=True))
        if problem is not None:
            raise InputError(f"-p {name}: {problem}")
        if name in equations:
            raise InputError(f"-p {name}: {name!r} is also a state; choose another name")
        if isinstance(value, list):
            raise InputError(f"-p {name}: one value with --equations, got {len(value)}")
    names = (*equations, *values, "t")
    for state, expression in equations.items():
        compile_expression(expression, names, field=f"--equations {state}")
    cls = make_system_class(EQUATIONS_NAME, list(equations), values, equations)
    return cls()


def _config_system(target: str, params: tuple[str, ...]):
    """The system of an experiment file's system section (-p overriding its parameters), and
    its simulation section (s0, t0, t_end and dt as defaults)."""
    from ..experiments.config import config_system, load_config
    from ..experiments.run import user_system_name

    config = load_config(target)
    system = config_system(config.system, user_system_name(config.name))
    values = parse_params(params)
    known = [p.name for p in system.parameters]
    for name in values:
        if name not in known:
            raise unknown_name(f"parameter of {system.name}", name, known)
    return system.with_params(**values) if values else system, config.simulation


def _starts(system, texts: tuple[str, ...]) -> np.ndarray:
    """The initial states of --s0 (one value per state each)."""
    rows = []
    for text in texts:
        values = parse_state(text, type(system))
        if len(values) != system.n_states:
            raise InputError(
                f"s0 must have {system.n_states} values ({', '.join(system.states)}), got {text!r}"
            )
        rows.append(values)
    start = np.array(rows, dtype=np.float64)
    return checks.initial_state(system, start[0] if len(start) == 1 else start)


SYSTEM_KINDS = ("timeseries", "error", "convergence", "stability", "unrolled")
MODEL_KINDS = ("training", "rollout", "field")
ONLY_FOR = {  # option: the kinds it applies to
    "params": SYSTEM_KINDS,
    "methods": ("timeseries", "error", "convergence", "stability"),
    "s0": ("timeseries", "error", "convergence", "stability"),
    "t_end": ("timeseries", "error", "convergence", "stability"),
    "dt": SYSTEM_KINDS,
    "levels": ("convergence",),
    "states": ("timeseries",),
    "xlim": ("stability", "field"),
    "ylim": ("stability", "field"),
    "method": ("unrolled",),
    "steps": ("unrolled",),
    "model_file": ("unrolled",),
    "n": ("rollout",),
    "seed": ("rollout", "field"),
    "drive": ("field",),
}
OPTION_NAMES = {"params": "-p/--param", "model_file": "--model"}
STEPPER_ONLY = ("params", "dt", "method")
"""Options of ``unrolled`` that draw a stepper's graph, not a model's (``--model``)."""
DEFAULTS = {  # KIND: (t_end, dt, methods) when not given
    "timeseries": (20.0, 0.01, "euler,semi_implicit_euler,heun,rk4"),
    "error": (20.0, 0.01, "euler,semi_implicit_euler,heun,rk4"),
    "convergence": (10.0, 0.1, "euler,heun,rk4"),
    "stability": (20.0, 0.1, "euler,semi_implicit_euler,heun,rk4"),
    "unrolled": (None, None, None),
}


@main.command("plot")
@click.argument("kind", metavar="KIND")
@click.argument("target", metavar="SYSTEM|MODEL|FILE", required=False)
@param_option
@click.option("--s0", "s0", metavar="V1,V2,...", help="Initial state. Default: the system's own.")
@click.option("--t-end", type=float, default=None, help="End time (from t = 0). Default by KIND.")
@click.option("--dt", type=float, default=None, help="Step h (convergence: the largest).")
@click.option("--methods", default=None, metavar="M1,M2", help="Comma-separated methods.")
@click.option("--levels", type=int, default=5, show_default=True, help="convergence: halvings.")
@click.option("--states", metavar="I,J,...", help="timeseries: the states, by name or index.")
@click.option("--xlim", metavar="A,B", help="stability: Re z limits; field: first state.")
@click.option("--ylim", metavar="A,B", help="stability: Im z limits; field: second state.")
@click.option("--method", default=None, help="unrolled: the stepper. Default: rk4 (maps: map).")
@click.option("--steps", type=int, default=4, show_default=True, help="unrolled: steps T.")
@click.option(
    "--model",
    "model_file",
    metavar="MODEL",
    default=None,
    help="unrolled: the graph of this model file (.npz) instead of a stepper's.",
)
@click.option("--n", type=int, default=4, show_default=True, help="rollout: trajectories (1-7).")
@click.option(
    "--seed", type=int, default=None, help="rollout, field: seed of the trajectories drawn."
)
@click.option(
    "--drive", type=float, default=0.0, show_default=True, help="field: the drive x held."
)
@_out_option("SYSTEM_KIND.png or MODEL_KIND.png")
@click.pass_context
def plot_command(
    ctx,
    kind,
    target,
    params,
    s0,
    t_end,
    dt,
    methods,
    levels,
    states,
    xlim,
    ylim,
    method,
    steps,
    model_file,
    n,
    seed,
    drive,
    out,
) -> None:
    """Draw a figure of KIND for SYSTEM, or for a fitted MODEL file, to PNG, SVG or PDF.

    \b
    KIND is one of, for a SYSTEM:
      timeseries   the states against time, for each method and solve_ivp
      error        the error against time on a log axis (against the exact
                   solution where there is one, else solve_ivp)
      convergence  error against h on log-log axes, fitted slopes, guides 1, 2, 4
      stability    each method's region |R(z)| <= 1, z = h λ, with the
                   system's h λ at its equilibria marked
      unrolled     the computational graph s(0) -> f -> s(1) -> ... of a stepper,
                   or with --model MODEL that of a fitted RNN
    and for a MODEL (.npz, written by dynsys train, or a run folder with one):
      training     the training and validation loss per epoch, log scale
      rollout      free-running rollouts against solve_ivp: the states against
                   time and in the phase plane, for --n fresh test trajectories
      field        residual Jordan networks of two-state systems: the learned
                   field (step - s) / h beside the true one, drive held at --drive
    and for a trajectory FILE (.csv, .npz, .json, written by dynsys simulate --out),
    drawn as it was saved, nothing simulated again:
      timeseries   each state against time, one panel per state (--states)
      phase        two states on the plane (--states; default the first two),
                   each trajectory of a batch its own curve

    \b
    Examples:
      dynsys plot timeseries driven_oscillator --dt 0.1 --t-end 30 --out ts.png
      dynsys plot error van_der_pol --methods euler,heun,rk4 --dt 0.05
      dynsys plot convergence driven_oscillator --methods euler,heun,rk4 --out conv.svg
      dynsys plot stability driven_oscillator --dt 0.5 --out stability.png
      dynsys plot unrolled driven_oscillator --method rk4 --steps 4 --out graph.pdf
      dynsys train driven_oscillator --model jordan --out jordan.npz
      dynsys plot training jordan.npz --out curves.png
      dynsys plot rollout jordan.npz --n 4 --seed 7 --out rollout.png
      dynsys plot field jordan.npz --out field.png
      dynsys plot unrolled --model jordan.npz --steps 3 --out jordan_graph.png
      dynsys simulate driven_oscillator -p A=0.1,0.5,1.0 --method rk4 --out sweep.npz
      dynsys plot timeseries sweep.npz --out sweep_states.png
      dynsys plot phase sweep.npz --out sweep_phase.png
    """
    from .. import plots

    if kind in FILE_KINDS and target is not None and _is_file(target, TRAJECTORY):
        _plot_file(ctx, kind, target, states, out)
        return
    if kind == "phase":
        raise InputError(
            "plot phase draws a trajectory FILE (.csv, .npz, .json, written by dynsys simulate "
            "--out); for a SYSTEM use dynsys phase SYSTEM"
        )
    if kind not in plots.PLOT_KINDS:
        raise unknown_name("plot kind", kind, plots.PLOT_KINDS)
    given = {
        name for name in ONLY_FOR if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    for name in sorted(given, key=list(ONLY_FOR).index):
        if kind not in ONLY_FOR[name]:
            option = OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
            raise InputError(f"{option} applies to {_kinds_text(ONLY_FOR[name])}, not to {kind}")
    if kind in MODEL_KINDS or model_file is not None:
        _plot_model(kind, target, model_file, given, out, n, seed, drive, xlim, ylim, steps)
        return
    if target is None:
        example = "--model jordan.npz" if kind == "unrolled" else "van_der_pol"
        hint = "a SYSTEM or --model MODEL" if kind == "unrolled" else "a SYSTEM"
        raise InputError(f"plot {kind} needs {hint}, e.g. dynsys plot {kind} {example}")
    system_name = target
    path = _figure_path(out, f"{system_name}_{kind}.png")
    system, start = build(system_name, params, (s0,) if s0 else ())
    default_t_end, default_dt, default_methods = DEFAULTS[kind]
    t_span = (0.0, default_t_end if t_end is None else t_end)
    dt = default_dt if dt is None else dt
    methods = default_methods if methods is None else methods
    if kind == "timeseries":
        fig, info = plots.timeseries_plot(
            system, start, t_span=t_span, dt=dt, methods=methods, states=states
        )
        what = f"{', '.join(info.panels)} against time: {', '.join(info.methods)}"
    elif kind == "error":
        fig, info = plots.error_plot(system, start, t_span=t_span, dt=dt, methods=methods)
        what = f"errors against the {info.against}: {', '.join(info.methods)}"
    elif kind == "convergence":
        fig, info = plots.convergence_plot(
            system, start, methods=methods, t_span=t_span, dt=dt, levels=levels
        )
        what = "fitted slopes " + ", ".join(
            f"{m} {'-' if v is None else f'{v:.2f}'}" for m, v in info.slopes.items()
        )
    elif kind == "stability":
        fig, info = plots.stability_plot(
            system, start, dt=dt, methods=methods, t_span=t_span, xlim=xlim, ylim=ylim
        )
        what = _stability_summary(info)
    else:
        name = method or ("map" if system.kind == "map" else "rk4")
        spec = plots.stepper_graph(system, name, dt)
        fig, info = plots.unrolled_plot(spec, steps)
        what = f"{name} unrolled for {steps} steps" + (" (elided)" if info.elided else "")
    if info_diverged := getattr(info, "diverged", ()):
        what += f"; diverged: {', '.join(info_diverged)}"
    plots.save_figure(fig, path)
    click.echo(f"wrote {path}: {kind} plot of {system.name}; {what}")


FILE_KINDS = ("timeseries", "phase")
"""The figures of ``dynsys plot KIND FILE``, a saved trajectory."""


def _plot_file(ctx, kind: str, target: str, states: str | None, out: str | None) -> None:
    """``plot timeseries|phase FILE``: the saved trajectory as it is."""
    for name in ctx.params:
        if name in ("kind", "target", "states", "out"):
            continue
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            option = OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
            raise InputError(
                f"{option} does not apply to a saved trajectory ({target}), which is drawn as "
                "it was saved; its options are --states and --out"
            )
    path = _figure_path(out, f"{Path(target).stem}_{kind}.png")
    _draw_saved(target, kind, states, path, f"{kind} plot", f"with dynsys plot timeseries {target}")


def _plot_model(kind, target, model_file, given, out, n, seed, drive, xlim, ylim, steps) -> None:
    """``plot training|rollout|field MODEL`` and ``plot unrolled --model MODEL``."""
    from .. import plots
    from ..rnn.io import load_model

    if kind == "unrolled":
        if target is not None:
            raise InputError(
                f"plot unrolled draws SYSTEM {target!r} or --model {model_file!r}, not both"
            )
        stepper = [OPTION_NAMES.get(k, "--" + k) for k in STEPPER_ONLY if k in given]
        if stepper:
            raise InputError(f"{stepper[0]} sets a stepper's graph; --model draws the network's")
        target = model_file
    elif target is None:
        raise InputError(
            f"plot {kind} needs a MODEL file (.npz, written by dynsys train), "
            f"e.g. dynsys plot {kind} jordan.npz"
        )
    model_path = Path(target)
    name = model_path.stem
    if model_path.is_dir():  # a run folder: the model it trained
        if not (model_path / RUN_MODEL).is_file():
            raise InputError(
                f"plot {kind} reads a MODEL file or a run folder with {RUN_MODEL}; {target} has "
                f"no {RUN_MODEL} (its config has no model, or its training did not finish)"
            )
        name, model_path = model_path.resolve().name, model_path / RUN_MODEL
    elif model_path.suffix != ".npz" and not model_path.exists():
        raise InputError(
            f"plot {kind} takes a MODEL file (.npz, written by dynsys train); {target!r} is not one"
        )
    path = _figure_path(out, f"{name}_{kind}.png")
    # the figures read the file themselves, naming it in their errors
    loaded = load_model(model_path) if kind == "unrolled" else model_path
    if kind == "training":
        fig, info = plots.training_curves(loaded)
        what = "; ".join(
            f"{name}: {info.epochs[name]} epochs, best loss {loss:.3g} at {at}"
            for name, (at, loss) in info.best.items()
        )
    elif kind == "rollout":
        fig, info = plots.rollout_plot(loaded, n=n, seed=seed)
        n = info.trajectories
        what = f"{n} test trajector{'y' if n == 1 else 'ies'}, rel L2 error " + ", ".join(
            f"{r:.3g}" for r in info.rel_l2
        )
    elif kind == "field":
        fig, info = plots.vector_field_plot(loaded, drive=drive, xlim=xlim, ylim=ylim, seed=seed)
        held = "undriven" if info.drive is None else f"drive x = {info.drive:g}"
        what = (
            f"{held}; max |learned - g| / max |g| = {info.max_rel_diff:.3g} "
            f"(against the exact h-step: {info.step_rel_diff:.3g})"
        )
    else:
        fig, info = plots.rnn_unrolled_plot(loaded, steps)
        what = f"{loaded.model.kind} network unrolled for {steps} steps" + (
            " (elided)" if info.elided else ""
        )
    plots.save_figure(fig, path)
    click.echo(f"wrote {path}: {kind} plot of {target}; {what}")


RUN_MODEL = "model.npz"
"""The model file of a run folder (``dynsys run`` with a model)."""


def _kinds_text(kinds: tuple[str, ...]) -> str:
    """'plot stability and field', or 'plots of a SYSTEM' for every system kind."""
    if kinds == SYSTEM_KINDS:
        return "plots of a SYSTEM (a MODEL's system is the one it was trained on)"
    head = ", ".join(kinds[:-1])
    return f"plot {head + ' and ' if head else ''}{kinds[-1]}"


def _stability_summary(info) -> str:
    if not info.h_lambda:
        return "no equilibrium found near the trajectory: regions only"
    first = info.h_lambda[0]
    inside = [m for m, flags in info.inside.items() if all(flags[0])]
    outside = [m for m in info.methods if m not in inside]
    z = ", ".join(f"{z.real:.3g}{z.imag:+.3g}i" for z in first)
    return (
        f"h λ = {z}: inside {', '.join(inside) or 'none'}; outside {', '.join(outside) or 'none'}"
    )
