"""The plotting commands: ``phase`` (phase portraits) and ``plot KIND`` (the other figures).

matplotlib is imported when a plotting command runs, not when the command line starts.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from ..errors import InputError, unknown_name
from . import main
from .options import build


def _figure_path(out: str | None, default: str) -> Path:
    """The output path, checked before any computing: a known suffix, an existing folder."""
    from ..plots.style import check_suffix

    path = Path(out or default)
    check_suffix(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    return path


def _param_option(f):
    return click.option(
        "-p",
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a parameter (one value each).",
    )(f)


def _out_option(default: str):
    return click.option(
        "--out",
        type=click.Path(dir_okay=False),
        default=None,
        help=f"Figure file, .png, .svg or .pdf by suffix. Default: {default}.",
    )


@main.command("phase")
@click.argument("system_name", metavar="SYSTEM")
@_param_option
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
      dynsys phase duffing --poincare --t-end 2000 --out duffing.png
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
    )
    save_figure(fig, path)
    click.echo(f"wrote {path}: {info.layout} phase portrait of {system.name}; {info.summary()}")


ONLY_FOR = {
    "methods": ("timeseries", "error", "convergence", "stability"),
    "s0": ("timeseries", "error", "convergence", "stability"),
    "t_end": ("timeseries", "error", "convergence", "stability"),
    "levels": ("convergence",),
    "states": ("timeseries",),
    "xlim": ("stability",),
    "ylim": ("stability",),
    "method": ("unrolled",),
    "steps": ("unrolled",),
}
DEFAULTS = {  # KIND: (t_end, dt, methods) when not given
    "timeseries": (20.0, 0.01, "euler,semi_implicit_euler,heun,rk4"),
    "error": (20.0, 0.01, "euler,semi_implicit_euler,heun,rk4"),
    "convergence": (10.0, 0.1, "euler,heun,rk4"),
    "stability": (20.0, 0.1, "euler,semi_implicit_euler,heun,rk4"),
    "unrolled": (None, None, None),
}


@main.command("plot")
@click.argument("kind", metavar="KIND")
@click.argument("system_name", metavar="SYSTEM")
@_param_option
@click.option("--s0", "s0", metavar="V1,V2,...", help="Initial state. Default: the system's own.")
@click.option("--t-end", type=float, default=None, help="End time (from t = 0). Default by KIND.")
@click.option("--dt", type=float, default=None, help="Step h (convergence: the largest).")
@click.option("--methods", default=None, metavar="M1,M2", help="Comma-separated methods.")
@click.option("--levels", type=int, default=5, show_default=True, help="convergence: halvings.")
@click.option("--states", metavar="I,J,...", help="timeseries: the states, by name or index.")
@click.option("--xlim", metavar="A,B", help="stability: Re z limits.")
@click.option("--ylim", metavar="A,B", help="stability: Im z limits.")
@click.option("--method", default=None, help="unrolled: the stepper. Default: rk4 (maps: map).")
@click.option("--steps", type=int, default=4, show_default=True, help="unrolled: steps T.")
@_out_option("SYSTEM_KIND.png")
@click.pass_context
def plot_command(
    ctx,
    kind,
    system_name,
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
    out,
) -> None:
    """Draw a figure of KIND for SYSTEM to a PNG, SVG or PDF file.

    \b
    KIND is one of:
      timeseries   the states against time, for each method and solve_ivp
      error        the error against time on a log axis (against the exact
                   solution where there is one, else solve_ivp)
      convergence  error against h on log-log axes, fitted slopes, guides 1, 2, 4
      stability    each method's region |R(z)| <= 1, z = h λ, with the
                   system's h λ at its equilibria marked
      unrolled     the computational graph s(0) -> f -> s(1) -> ... of a stepper

    \b
    Examples:
      dynsys plot timeseries driven_oscillator --dt 0.1 --t-end 30 --out ts.png
      dynsys plot error van_der_pol --methods euler,heun,rk4 --dt 0.05
      dynsys plot convergence driven_oscillator --methods euler,heun,rk4 --out conv.svg
      dynsys plot stability driven_oscillator --dt 0.5 --out stability.png
      dynsys plot unrolled driven_oscillator --method rk4 --steps 4 --out graph.pdf
    """
    from .. import plots

    if kind not in plots.PLOT_KINDS:
        raise unknown_name("plot kind", kind, plots.PLOT_KINDS)
    for name, kinds in ONLY_FOR.items():
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE and kind not in kinds:
            option = "--" + name.replace("_", "-")
            raise InputError(f"{option} applies to plot {' and '.join(kinds)}, not to {kind}")
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
