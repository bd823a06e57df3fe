"""Phase portraits of three or more states: a 3D trajectory, or the projections on pairs of states.

No vector field is drawn: the field lives in the full state space, and its projection on a
plane is not a flow.  The equilibria found in the box of the trajectories are marked by type.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the "3d" projection)

from ..systems.base import System
from . import marks
from .equilibria import find_equilibria
from .orbits import box, drawing_grid, reference_orbits, run_method, with_reference
from .results import PhaseInfo
from .style import (
    CYCLE,
    house_style,
    method_colour,
    new_figure,
    one_axes,
    root_figure,
    system_title,
)


def spatial_portrait(
    system: System,
    starts: np.ndarray | None,
    layout: str,
    *,
    t_span: tuple[float, float],
    dt: float,
    methods: tuple[str, ...] = (),
    ax: Any = None,
    axes: Any = None,
) -> tuple[Figure, PhaseInfo]:
    """The "3d" picture (the first three states) or the "projections" on every pair of the
    first three states; returns (Figure, PhaseInfo).  ``ax``/``axes``: draw into the caller's
    3D Axes ("3d") or 3 Axes ("projections"), and return their figure."""
    pairs = list(combinations(range(min(system.n_states, 3)), 2))
    count, projection = (1, "3d") if layout == "3d" else (len(pairs), None)
    what = "a 3d phase portrait" if layout == "3d" else "a phase portrait with projections=True"
    given = marks.given_axes(ax, axes, count, what, projection=projection)
    t = drawing_grid(t_span, dt)
    if starts is None:
        starts = np.array([system.default_s0], dtype=np.float64)
    orbits = reference_orbits(system, starts, t)
    runs = []
    if methods:
        runs = [run_method(system, starts[0], t_span, dt, m) for m in with_reference(methods)]
    states = orbits.states[1:] if runs and orbits.solved[0] else orbits.states
    finite = [states] + [r.states[None] for r in runs if r.method == "solve_ivp"]
    equilibria = find_equilibria(
        system, box(np.concatenate(finite, axis=1) if len(states) else finite[-1])
    )
    with house_style():
        if layout == "3d":
            fig, ax = one_axes(given[0] if given else None, 7.0, 6.4, projection="3d")
            axes = [ax]
            _lines_3d(ax, system, states, runs, equilibria)
            ax.set_title(system_title(system, "phase portrait" + _h(runs, dt)))
        elif given:
            fig, axes = root_figure(given[0]), given
        else:
            fig = new_figure(4.0 * len(pairs), 4.4)
            axes = [fig.add_subplot(1, len(pairs), k + 1) for k in range(len(pairs))]
        if layout != "3d":
            for ax, (i, j) in zip(axes, pairs, strict=True):
                _lines_2d(ax, system, states, runs, (i, j))
                ax.autoscale_view()
                marks.equilibria(ax, equilibria, i, j, label=ax is axes[0])
            text = system_title(system, "projections of the phase portrait" + _h(runs, dt))
            marks.title(axes[len(axes) // 2], text, own=None if given else fig)
        handles = [marks.line_handle(method_colour(r.method), r.method) for r in runs]
        marks.legend(axes[0], handles, own=None if given else fig, ncols=4)
    diverged = tuple(r.method for r in runs if r.diverged_at is not None)
    info = PhaseInfo(
        layout=layout,
        trajectories=len(states) + len(runs),
        equilibria=equilibria,
        methods=tuple(r.method for r in runs),
        diverged=diverged,
        failed=orbits.failed,
    )
    return fig, info


def _h(runs, dt) -> str:
    return f", h = {dt:g}" if runs else ""


def _colour(k: int, runs) -> str:
    return "#999999" if runs else CYCLE[k % len(CYCLE)]


def _lines_2d(ax, system, states, runs, pair) -> None:
    i, j = pair
    for k, orbit in enumerate(states):
        marks.trajectory(ax, orbit[:, i], orbit[:, j], _colour(k, runs), width=0.7, arrow=False)
    marks.method_runs(ax, runs, i, j)
    ax.set(xlabel=system.states[i], ylabel=system.states[j])


def _lines_3d(ax, system, states, runs, equilibria) -> None:
    for k, orbit in enumerate(states):
        ax.plot(*orbit[:, :3].T, color=_colour(k, runs), lw=0.7, gid=marks.TRAJECTORY)
    for run in runs:
        wide = run.method == "solve_ivp"
        ax.plot(
            *run.states[:, :3].T,
            color=method_colour(run.method),
            lw=1.6 if wide else 0.8,
            alpha=0.55 if wide else 1.0,
            gid=marks.TRAJECTORY,
        )
    for eq in equilibria:
        style = marks.MARKERS[eq.kind]
        ax.plot(
            *eq.point[:3, None],
            ls="none",
            ms=8,
            mec="black",
            mew=1.2,
            gid=marks.EQUILIBRIUM,
            **style,
        )
        ax.text(*eq.point[:3], "  " + eq.kind, fontsize=8, zorder=10)
    x, y, z = system.states[:3]
    ax.set(xlabel=x, ylabel=y, zlabel=z)
