"""Pictures of discrete maps: the cobweb diagram of a one-state map, the orbit of a larger one.

Cobweb: the graph y = f(x), the diagonal y = x, and the orbit drawn as the staircase
(x(n), x(n)) -> (x(n), x(n+1)) -> (x(n+1), x(n+1)); fixed points sit where the graph meets the
diagonal.  Orbit: the iterates (s_i(n), s_j(n)) as dots, so an attractor shows as a cloud.
Fixed points are marked by type (see :mod:`dynsys.plots.equilibria`; stable when every
multiplier |μ| < 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..systems.base import System
from . import checks, marks
from .equilibria import find_equilibria
from .orbits import box, run_method
from .results import PhaseInfo
from .style import CYCLE, GREY, house_style, one_axes, system_title


def map_portrait(
    system: System,
    starts: np.ndarray | None,
    layout: str,
    *,
    t_span: tuple[float, float],
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    states: Any = None,
    ax: Any = None,
) -> tuple[Figure, PhaseInfo]:
    """The "cobweb" or "orbit" picture of a map from each initial state over t_span; ``ax``:
    draw into the caller's Axes and return its figure."""
    marks.given_axes(ax, None, 1, f"a {layout} diagram")
    if starts is None:
        starts = np.array([system.default_s0], dtype=np.float64)
    runs = [run_method(system, s0, t_span, 1.0, "map") for s0 in starts]
    points = np.concatenate([r.states for r in runs])
    if layout == "cobweb":
        return _cobweb(system, runs, points, xlim, ylim, ax)
    i, j = (0, 1) if states is None else checks.state_indices(system, states, count=2)
    return _orbit(system, runs, points, (i, j), xlim, ylim, ax)


def _cobweb(system, runs, points, xlim, ylim, given=None) -> tuple[Figure, PhaseInfo]:
    xlim = xlim or box(points)[0]
    ylim = ylim or xlim
    equilibria = find_equilibria(system, [xlim])
    with house_style():
        fig, ax = one_axes(given, 6.4, 6.2)
        ax.set(
            xlim=xlim,
            ylim=ylim,
            xlabel=f"{system.states[0]}(n)",
            ylabel=f"{system.states[0]}(n+1)",
            aspect="equal",
        )
        x = np.linspace(*xlim, 400)
        with np.errstate(all="ignore"):
            fx = system.next(0, x[:, None], system.params)[:, 0]
        ax.plot(x, fx, color="black", lw=1.6, label=f"f({system.states[0]})")
        ax.plot(xlim, xlim, color=GREY, lw=1.0, ls="--", label="diagonal")
        for k, run in enumerate(runs):
            orbit = run.states[:, 0]
            stairs_x, stairs_y = staircase(orbit)
            marks.trajectory(
                ax,
                stairs_x,
                stairs_y,
                CYCLE[k % len(CYCLE)],
                width=0.9,
                label=f"x(0) = {orbit[0]:.3g}",
                arrow=False,
            )
        onto = [_on_diagonal(e) for e in equilibria]
        marks.equilibria(ax, onto, 0, 1)
        extra = _periodic_marks(ax, system, [xlim], 0, 0, cobweb=True)
        steps = len(runs[0].t) - 1
        ax.set_title(system_title(system, f"cobweb diagram, {steps} iterations"))
        own = None if given is not None else fig
        marks.legend(ax, ax.get_legend_handles_labels()[0] + extra, own=own, ncols=3)
    return fig, PhaseInfo("cobweb", len(runs), equilibria, xlim=tuple(xlim), ylim=tuple(ylim))


def staircase(orbit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cobweb of the iterates x(0), x(1), ...: from (x(0), x(0)) on the diagonal, the
    corners (x(n), x(n+1)) and (x(n+1), x(n+1)) in turn; two arrays of 2 len(orbit) - 1."""
    doubled = np.repeat(orbit, 2)
    return doubled[:-1], doubled[1:]


PERIOD_MARKERS = {1: "o", 2: "D"}
"""The marker of a fixed point (period 1) and of the points of a period-2 orbit."""


def _periodic_marks(ax, system, bounds, i, j, *, cobweb: bool = False) -> list:
    """Mark the period-2 orbits found in ``bounds`` (diamonds, filled when stable, open
    otherwise; on a cobweb the orbit {a, b} at (a, b) and (b, a), on the graph of f) and
    return legend entries for them and for the fixed points (:mod:`dynsys.fixed_points`)."""
    from ..fixed_points import periodic_orbits

    handles = []
    fixed = periodic_orbits(system, 1, box=bounds)
    if fixed:
        handles.append(_period_handle(1, "fixed point (filled = stable)"))
    orbits = periodic_orbits(system, 2, box=bounds)
    for orbit in orbits:
        pts = orbit.points
        x, y = (pts[:, 0], pts[::-1, 0]) if cobweb else (pts[:, i], pts[:, j])
        ax.plot(
            x,
            y,
            ls="none",
            marker=PERIOD_MARKERS[2],
            ms=7,
            mec="black",
            mew=1.2,
            mfc="black" if orbit.stable else "white",
            zorder=6,
            gid="periodic",
        )
    if orbits:
        handles.append(_period_handle(2, "period-2 orbit (filled = stable)"))
    return handles


def _period_handle(period: int, label: str):
    return marks.line_handle(
        "black", label, ls="none", marker=PERIOD_MARKERS[period], mfc="white", mec="black"
    )


def _on_diagonal(eq):
    """A fixed point x* of a one-state map drawn at (x*, x*)."""
    from .equilibria import Equilibrium

    return Equilibrium(np.array([eq.point[0], eq.point[0]]), eq.eigenvalues, eq.kind)


def _orbit(system, runs, points, pair, xlim, ylim, given=None) -> tuple[Figure, PhaseInfo]:
    i, j = pair
    auto = box(points)
    xlim, ylim = xlim or auto[i], ylim or auto[j]
    bounds = list(auto)
    bounds[i], bounds[j] = xlim, ylim
    equilibria = find_equilibria(system, bounds)
    with house_style():
        fig, ax = one_axes(given, 7.0, 6.0)
        ax.set(xlim=xlim, ylim=ylim, xlabel=system.states[i], ylabel=system.states[j])
        handles = []
        for k, run in enumerate(runs):
            n, colour = len(run.states), CYCLE[k % len(CYCLE)]
            size = 6 if n < 500 else 0.8 if n < 20000 else 0.3
            ax.scatter(
                run.states[:, i], run.states[:, j], s=size, lw=0, color=colour, gid=marks.TRAJECTORY
            )
            start = ", ".join(f"{v:.3g}" for v in run.states[0])
            handles.append(marks.line_handle(colour, f"s(0) = ({start})", ls="none", marker="o"))
        marks.equilibria(ax, equilibria, i, j)
        handles += _periodic_marks(ax, system, bounds, i, j)
        steps = len(runs[0].t) - 1
        ax.set_title(system_title(system, f"orbit, {steps} iterations"))
        marks.legend(ax, handles, own=None if given is not None else fig, ncols=3)
    diverged = tuple("map" for r in runs if r.diverged_at is not None)
    return fig, PhaseInfo(
        "orbit", len(runs), equilibria, diverged=diverged[:1], xlim=tuple(xlim), ylim=tuple(ylim)
    )
