"""Drawing primitives shared by the figures: trajectories, equilibria, legends.

Every trajectory is a Line2D with gid ``"trajectory"`` and every equilibrium marker one with gid
``"equilibrium"``, so a test (or a reader of an SVG) can count what was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..errors import InputError
from .equilibria import Equilibrium
from .orbits import Run
from .style import GREY, check_axes, method_colour, one_axes, some_axes

MARKERS: dict[str, dict] = {
    "stable node": {"marker": "o", "markerfacecolor": "black"},
    "stable focus": {"marker": "o", "markerfacecolor": "black"},
    "unstable node": {"marker": "o", "markerfacecolor": "white"},
    "unstable focus": {"marker": "o", "markerfacecolor": "white"},
    "saddle": {
        "marker": "o",
        "markerfacecolor": "black",
        "fillstyle": "left",
        "markerfacecoloralt": "white",
    },
    "centre": {"marker": "o", "markerfacecolor": "#BBBBBB"},
    "non-hyperbolic": {"marker": "s", "markerfacecolor": "#BBBBBB"},
}
"""Textbook convention: filled = stable, open = unstable, half-filled = saddle, grey = centre."""

TRAJECTORY = "trajectory"
EQUILIBRIUM = "equilibrium"
REFERENCE_WIDTH, REFERENCE_ALPHA = 4.0, 0.3
"""solve_ivp is drawn wide and pale underneath the methods, so that it shows on both sides of
a method that follows it exactly (RK4 at a small h)."""


def trajectory(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    colour: str,
    *,
    label: str | None = None,
    width: float = 1.4,
    arrow: bool = True,
    start: bool = True,
    **kw,
) -> Line2D:
    """A trajectory from (x[0], y[0]), with a dot at its start and an arrowhead showing its
    direction a third of the way along its visible length."""
    (line,) = ax.plot(x, y, color=colour, lw=width, label=label, gid=TRAJECTORY, zorder=3, **kw)
    if start and len(x):
        ax.plot(x[:1], y[:1], "o", color=colour, ms=3.5, zorder=4, gid="start")
    if arrow and len(x) > 2:
        _arrowhead(ax, np.asarray(x), np.asarray(y), colour)
    return line


def _arrowhead(ax: Axes, x: np.ndarray, y: np.ndarray, colour: str) -> None:
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    sx, sy = xlim[1] - xlim[0], ylim[1] - ylim[0]
    with np.errstate(all="ignore"):
        step = np.hypot(np.diff(x) / sx, np.diff(y) / sy)
    inside = (x[1:] >= xlim[0]) & (x[1:] <= xlim[1]) & (y[1:] >= ylim[0]) & (y[1:] <= ylim[1])
    step = np.where(inside & np.isfinite(step), step, 0.0)
    arc = np.cumsum(step)
    if arc[-1] <= 0.02:
        return
    i = int(np.searchsorted(arc, min(arc[-1] / 3, 0.6)))
    j = int(np.searchsorted(arc, arc[i] + 0.01))  # a short chord sets the direction
    j = min(j + 1, len(x) - 1)
    if i + 1 >= j:
        return
    ax.annotate(
        "",
        xy=(x[j], y[j]),
        xytext=(x[i + 1], y[i + 1]),
        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 0, "mutation_scale": 13},
        zorder=4,
    )


def equilibria(
    ax: Axes,
    points: Sequence[Equilibrium],
    i: int,
    j: int,
    *,
    muted: bool = False,
    label: bool = True,
) -> int:
    """Mark each equilibrium at coordinates (point[i], point[j]) by its type (in grey when
    ``muted``); returns how many fell inside the axes."""
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    drawn = 0
    for eq in points:
        x, y = eq.point[i], eq.point[j]
        if not (xlim[0] <= x <= xlim[1] and ylim[0] <= y <= ylim[1]):
            continue
        style = dict(MARKERS[eq.kind])
        if muted:
            style = {k: "#BBBBBB" if v == "black" else v for k, v in style.items()}
        edge = GREY if muted else "black"
        ax.plot([x], [y], ls="none", ms=8.5, mec=edge, mew=1.2, zorder=6, gid=EQUILIBRIUM, **style)
        if label:
            ax.annotate(
                eq.kind,
                (x, y),
                xytext=(7, 7),
                textcoords="offset points",
                fontsize=8,
                color=GREY if muted else "black",
                zorder=7,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
        drawn += 1
    return drawn


def method_runs(
    ax: Axes, runs: Sequence[Run], i: int, j: int
) -> tuple[list[Line2D], tuple[str, ...]]:
    """Each method's trajectory in its colour (solve_ivp black and wider, underneath); returns
    the lines and the methods that diverged (drawn up to their last finite state and a cross)."""
    lines, diverged = [], []
    for run in runs:
        ref = run.method == "solve_ivp"
        label = run.method + (
            "" if run.diverged_at is None else f" (diverged, t={run.diverged_at:.3g})"
        )
        line = trajectory(
            ax,
            run.states[:, i],
            run.states[:, j],
            method_colour(run.method),
            label=label,
            width=REFERENCE_WIDTH if ref else 1.2,
            arrow=ref,
            alpha=REFERENCE_ALPHA if ref else 1.0,
        )
        lines.append(line)
        if run.diverged_at is not None:
            diverged.append(run.method)
            last = run.states[-1]
            ax.plot([last[i]], [last[j]], "x", color=method_colour(run.method), ms=7, mew=1.5)
    return lines, tuple(diverged)


def line_handle(colour: str, label: str, **kw) -> Line2D:
    """A legend entry for something that is not a Line2D (a contour, a streamplot)."""
    return Line2D([], [], color=colour, label=label, **kw)


def method_handle(method: str, label: str, colour: str | None = None) -> Line2D:
    """A legend entry drawn as :func:`method_runs` draws the method (solve_ivp wide and pale)."""
    colour = colour or method_colour(method)
    if method == "solve_ivp" and colour == method_colour("solve_ivp"):
        return line_handle(colour, label, lw=REFERENCE_WIDTH, alpha=REFERENCE_ALPHA)
    return line_handle(colour, label, lw=1.4)


def legend_below(fig, handles: Sequence, ncols: int = 3) -> None:
    """One legend under the axes, outside the data."""
    if handles:
        fig.legend(
            handles=list(handles), loc="outside lower center", ncols=min(ncols, len(handles))
        )


def legend(ax: Axes, handles: Sequence, *, own: Figure | None, ncols: int = 3) -> None:
    """The figure's legend: below the axes of ``own``, the figure dynsys made
    (:func:`legend_below`), or, when the caller gave the Axes (``own=None``), on ``ax`` itself
    so that the layout of the caller's figure is left alone."""
    if own is not None:
        legend_below(own, handles, ncols=ncols)
    elif handles:
        ax.legend(handles=list(handles), loc="best")


def title(ax: Axes, text: str, *, own: Figure | None, **kw) -> None:
    """The title of a figure of several panels: over the whole of ``own``, the figure dynsys
    made, or on ``ax`` when the caller gave the Axes."""
    if own is not None:
        own.suptitle(text, **kw)
    else:
        ax.set_title(text, **kw)


def given_axes(
    ax: Any, axes: Any, count: int, what: str, *, projection: str | None = None
) -> list[Axes] | None:
    """The caller's panels for ``what``, a figure of ``count`` panels, checked; None when
    neither ``ax`` (one panel) nor ``axes`` (a sequence of ``count``) is given.

    ``ax`` is refused for a figure of several panels, and both together; with ``projection``
    (``"3d"``) the one panel must be an Axes of that projection.
    """
    if ax is not None and axes is not None:
        raise InputError("give ax (one panel) or axes (a sequence of panels), not both")
    if ax is not None:
        if count != 1:
            raise InputError(
                f"ax draws one panel, but {what} has {count} panels: "
                f"give axes= with {count} matplotlib Axes"
            )
        return [one_axes(ax, projection=projection)[1]]
    if axes is None:
        return None
    _, panels = some_axes(axes, count, what)
    if projection is not None:
        check_axes("axes", panels[0], projection)
    return panels
