"""The plotting commands: ``phase`` (phase portraits) and ``plot KIND`` (the other figures).

matplotlib is imported when a plotting command runs, not when the command line starts.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from ..errors import InputError, unknown_name
from . import main
from .options import build, param_option


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
@click.argument("system_name", metavar="SYSTEM")
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
@_out_option("SYSTEM_phase.png")
def phase_command(
    system_name,
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
    """Draw the phase portrait of SYSTEM to a PNG, SVG or PDF file.

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
    """
    from ..plots import phase_portrait, save_figure

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
@click.argument("target", metavar="SYSTEM|MODEL", required=False)
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
    """
    from .. import plots

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
