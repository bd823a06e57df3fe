"""Plots against time: the states of several methods beside the reference, and their errors.

The error of a method at time t_n is max_i |s_i(n) - s_i(t_n)|, the largest error over the
states, against the exact solution when the system has one, else against the solve_ivp
reference (DOP853, rtol 1e-9) on the same grid; it is drawn on a log axis.  A method that
leaves the finite numbers is drawn up to its last finite state, ending in a cross.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..steppers import get_stepper
from ..study import DEFAULT_METHODS
from ..systems.base import System
from . import checks, marks
from .orbits import (
    Run,
    check_reference,
    check_size,
    drawing_grid,
    reference_orbits,
    run_method,
    time_grid,
    with_reference,
)
from .results import PhaseInfo, SeriesInfo
from .style import (
    CYCLE,
    GREY,
    house_style,
    method_colour,
    new_figure,
    one_axes,
    root_figure,
    system_title,
)

TIMESERIES = "a timeseries plot"
"""The figure of :func:`timeseries_plot` as named in an error about its panels."""


def timeseries_plot(
    system: System,
    s0: Any = None,
    *,
    t_span: tuple[float, float] = (0.0, 20.0),
    dt: float = 0.01,
    methods: Sequence[str] | str = DEFAULT_METHODS,
    states: Any = None,
    ax: Any = None,
    axes: Any = None,
) -> tuple[Figure, SeriesInfo]:
    """Each state against time, one panel per state (``states``: names or indices), for each
    method with step dt and the solve_ivp reference; a map is iterated ('map').
    ``ax``/``axes``: draw into the caller's Axes (one state) or one Axes per state drawn."""
    start, index = check_timeseries(
        system, s0, t_span=t_span, dt=dt, methods=methods, states=states, ax=ax, axes=axes
    )
    given = marks.given_axes(ax, axes, len(index), TIMESERIES)
    runs = _runs(system, start, t_span, dt, methods)
    with house_style():
        fig, own, axes = _figure(given, system, index, 1.2)
        lines = 0
        for run in runs:
            for ax, k in zip(axes, index, strict=True):
                lines += _series(ax, run.t, run.states[:, k], run, system.kind == "map")
        h = "" if system.kind == "map" else f", h = {dt:g}"
        axes[0].set_title(system_title(system, "states against time" + h))
        handles = [marks.method_handle(r.method, _label(r)) for r in runs]
        marks.legend(axes[0], handles, own=own, ncols=5)
    diverged = tuple(r.method for r in runs if r.diverged_at is not None)
    names = tuple(system.states[k] for k in index)
    return fig, SeriesInfo(names, tuple(r.method for r in runs), lines, diverged)


def check_timeseries(
    system: System,
    s0: Any = None,
    *,
    t_span: tuple[float, float] = (0.0, 20.0),
    dt: float = 0.01,
    methods: Sequence[str] | str = DEFAULT_METHODS,
    states: Any = None,
    ax: Any = None,
    axes: Any = None,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """The arguments of :func:`timeseries_plot` and its size checked without computing it;
    returns the initial state and the indices of the states drawn."""
    checks.scalar_params(system)
    start = checks.one_initial_state(system, s0, "a plot against time")
    index = (
        tuple(range(system.n_states)) if states is None else checks.state_indices(system, states)
    )
    marks.given_axes(ax, axes, len(index), TIMESERIES)
    what = f"a plot against time of {system.name}"
    if system.kind == "map":
        _map_methods(system, methods)
        check_size(system, t_span, 1.0, what=what, runs=1, panels=len(index))
        return start, index
    steppers = _steppers(system, methods)
    what += f" ({len(steppers)} method{'s' * (len(steppers) != 1)} and solve_ivp)"
    check_size(system, t_span, dt, what=what, references=1, runs=len(steppers), panels=len(index))
    check_reference(system, start[None], t_span, what)
    return start, index


def error_plot(
    system: System,
    s0: Any = None,
    *,
    t_span: tuple[float, float] = (0.0, 20.0),
    dt: float = 0.01,
    methods: Sequence[str] | str = DEFAULT_METHODS,
    ax: Any = None,
) -> tuple[Figure, SeriesInfo]:
    """max_i |s_i - s_i(t)| against time on a log axis for each method (see the module doc);
    ``ax``: draw into the caller's Axes and return its figure."""
    start = check_error(system, s0, t_span=t_span, dt=dt, methods=methods, ax=ax)
    t = time_grid(t_span, dt)
    reference = Run("solve_ivp", t, reference_orbits(system, start[None], t).states[0], None)
    runs = [run_method(system, start, t_span, dt, m) for m in _methods(methods)]
    if system.exact is not None:
        against = "exact"
        truth = np.asarray(system.exact(t, start, t[0], system.params))
        runs_shown = [reference, *runs]
    else:
        against, truth, runs_shown = "reference", reference.states, runs
    with house_style():
        fig, panel = one_axes(ax, 7.5, 5.0)
        own = fig if ax is None else None
        ax = panel
        positive = False
        for run in runs_shown:
            n = len(run.t)
            with np.errstate(all="ignore"):
                err = np.max(np.abs(run.states - truth[:n]), axis=-1)
            err = np.where(err > 0, err, np.nan)
            positive |= bool(np.any(np.isfinite(err)))
            wide = run.method == "solve_ivp"
            ax.plot(
                run.t,
                err,
                color=method_colour(run.method),
                lw=1.0 if wide else 1.4,
                label=_label(run),
                gid=marks.TRAJECTORY,
            )
            if run.diverged_at is not None:
                ax.plot(run.t[-1:], err[-1:], "x", color=method_colour(run.method), ms=7)
        if positive:
            ax.set_yscale("log")
        what = "the exact solution" if against == "exact" else "the solve_ivp reference"
        ax.set(xlabel="t", ylabel=f"max abs error over ({', '.join(system.states)})")
        ax.set_title(system_title(system, f"error against {what}, h = {dt:g}"))
        ax.grid(True, which="major", color="#DDDDDD", lw=0.6)
        marks.legend(ax, ax.get_legend_handles_labels()[0], own=own, ncols=5)
    diverged = tuple(r.method for r in runs_shown if r.diverged_at is not None)
    return fig, SeriesInfo(
        ("error",), tuple(r.method for r in runs_shown), len(runs_shown), diverged, against
    )


def check_error(
    system: System,
    s0: Any = None,
    *,
    t_span: tuple[float, float] = (0.0, 20.0),
    dt: float = 0.01,
    methods: Sequence[str] | str = DEFAULT_METHODS,
    ax: Any = None,
) -> np.ndarray:
    """The arguments of :func:`error_plot` and its size checked without computing it; returns
    the initial state."""
    marks.given_axes(ax, None, 1, "an error plot")
    checks.scalar_params(system)
    checks.ode(system, "an error plot")
    start = checks.one_initial_state(system, s0, "an error plot")
    steppers = _steppers(system, methods)
    what = f"an error plot of {system.name} ({len(steppers)} method{'s' * (len(steppers) != 1)})"
    check_size(system, t_span, dt, what=what, references=2, runs=len(steppers))
    check_reference(system, start[None], t_span, what)
    return start


def states_against_time(
    system: System,
    starts: np.ndarray | None,
    *,
    t_span: tuple[float, float],
    dt: float,
    methods: tuple[str, ...] = (),
    ax: Any = None,
    axes: Any = None,
) -> tuple[Figure, PhaseInfo]:
    """The phase portrait's ``vs_time`` layout: every state against time from each initial
    state (its reference, in its own colour), and the methods from the first.  ``ax``/``axes``:
    draw into the caller's Axes (one state) or one Axes per state."""
    index = tuple(range(system.n_states))
    given = marks.given_axes(ax, axes, len(index), "a phase portrait with vs_time=True")
    if starts is None:
        starts = np.array([system.default_s0], dtype=np.float64)
    is_map = system.kind == "map"
    if is_map:
        lines = [run_method(system, s0, t_span, 1.0, "map") for s0 in starts]
    else:
        orbits = reference_orbits(system, starts, drawing_grid(t_span, dt))
        lines = [Run("solve_ivp", orbits.t, states, None) for states in orbits.states]
    runs = [run_method(system, starts[0], t_span, dt, m) for m in methods if m != "solve_ivp"]
    with house_style():
        fig, own, axes = _figure(given, system, index, 1.6)
        handles = []
        for c, line in enumerate(lines):
            if runs:  # the first is the reference of the methods' run, the others grey
                colour = method_colour("solve_ivp") if c == 0 else GREY
            else:
                colour = CYCLE[c % len(CYCLE)]
            for ax, k in zip(axes, index, strict=True):
                _series(ax, line.t, line.states[:, k], line, is_map, colour=colour)
            label = f"s0 = {_point(line.states[0])}"
            if runs and c == 0:
                label = f"solve_ivp, {label}"
            handles.append(marks.method_handle(line.method, label, colour=colour))
        for run in runs:
            for ax, k in zip(axes, index, strict=True):
                _series(ax, run.t, run.states[:, k], run, False)
            handles.append(marks.method_handle(run.method, _label(run)))
        h = f", h = {dt:g}" if runs else ""
        axes[0].set_title(system_title(system, "states against time" + h))
        marks.legend(axes[0], handles, own=own, ncols=4)
    diverged = tuple(r.method for r in runs if r.diverged_at is not None)
    count = len(lines) + len(runs)
    return fig, PhaseInfo(
        "vs_time", count, methods=tuple(r.method for r in runs), diverged=diverged
    )


def _methods(methods) -> tuple[str, ...]:
    """The methods named, without solve_ivp (always drawn as the reference)."""
    methods = checks.method_names(methods)
    if not methods:
        raise InputError("methods must name at least one method, e.g. euler,rk4")
    return tuple(m for m in methods if m != "solve_ivp")


def _steppers(system, methods) -> tuple[str, ...]:
    """The methods named, without solve_ivp, each a stepper of ``system``."""
    names = _methods(methods)
    for name in names:
        get_stepper(name, system)
    return names


def _map_methods(system, methods) -> None:
    names = checks.method_names(methods)
    if names != tuple(DEFAULT_METHODS) and any(m != "map" for m in names):
        raise InputError(f"{system.name} is a discrete map; its only method is 'map'")


def _runs(system, start, t_span, dt, methods) -> list[Run]:
    if system.kind == "map":
        _map_methods(system, methods)
        return [run_method(system, start, t_span, 1.0, "map")]
    return [run_method(system, start, t_span, dt, m) for m in with_reference(_methods(methods))]


def _figure(given, system, index, top: float) -> tuple[Figure, Figure | None, list]:
    """The figure, the figure dynsys made (None for the caller's) and one panel per state of
    ``index``: the caller's ``given`` Axes, labelled, or a new column sharing the time axis."""
    if given is None:
        fig = new_figure(7.5, top + 2.1 * len(index))
        return fig, fig, _panels(fig, system, index)
    for ax, k in zip(given, index, strict=True):
        ax.set(xlabel="n" if system.kind == "map" else "t", ylabel=system.states[k])
    return root_figure(given[0]), None, given


def _panels(fig, system, index) -> list:
    axes = []
    for row, k in enumerate(index):
        ax = fig.add_subplot(len(index), 1, row + 1, sharex=axes[0] if axes else None)
        ax.set_ylabel(system.states[k])
        axes.append(ax)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("n" if system.kind == "map" else "t")
    return axes


def _series(ax, t, values, run: Run, is_map: bool, colour: str | None = None) -> int:
    colour = colour or method_colour(run.method)
    if is_map:
        ax.plot(t, values, "o-", color=colour, ms=2.5, lw=0.6, gid=marks.TRAJECTORY)
        return 1
    wide = run.method == "solve_ivp" and colour == method_colour("solve_ivp")
    ax.plot(
        t,
        values,
        color=colour,
        lw=marks.REFERENCE_WIDTH if wide else 1.2,
        alpha=marks.REFERENCE_ALPHA if wide else 1.0,
        zorder=1.5 if wide else 2,
        gid=marks.TRAJECTORY,
    )
    if run.diverged_at is not None:
        ax.plot(t[-1:], values[-1:], "x", color=colour, ms=7, mew=1.5)
    return 1


def _label(run: Run) -> str:
    if run.diverged_at is None:
        return run.method
    return f"{run.method} (diverged, t={run.diverged_at:.3g})"


def _point(s: np.ndarray) -> str:
    """'(1, 0.5)', or '1' for one state."""
    text = ", ".join(f"{v:.3g}" for v in s)
    return text if len(s) == 1 else f"({text})"
