"""The orbit (bifurcation) diagram of a map: the kept iterates above each parameter value.

Black dots on white, one per kept iterate (hundreds of thousands), rasterised inside SVG and
PDF files so that those stay small while the axes and labels stay vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..orbits import OrbitDiagram
from .style import house_style, new_figure, number


@dataclass(frozen=True)
class DiagramInfo:
    """What an orbit diagram drew: ``values`` parameter values, ``points`` dots, the limits."""

    values: int
    points: int
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def orbit_diagram_plot(
    diagram: OrbitDiagram, *, ax: Axes | None = None
) -> tuple[Figure, DiagramInfo]:
    """Draw ``diagram`` on ``ax`` (default: a new 7 x 5 inch figure): the parameter on x,
    the kept state on y."""
    x = np.repeat(diagram.values, diagram.keep)
    y = diagram.points.ravel()
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = 0.03 * (hi - lo) if hi > lo else 0.5
    xlim = (float(diagram.values[0]), float(diagram.values[-1]))
    if xlim[0] == xlim[1]:
        xlim = (xlim[0] - 0.5, xlim[1] + 0.5)
    ylim = (lo - pad, hi + pad)
    fixed = ", ".join(f"{k}={number(v)}" for k, v in diagram.fixed.items())
    title = f"{diagram.system}{f' ({fixed})' if fixed else ''}: orbit diagram, " + (
        f"{diagram.keep} iterates after {diagram.transient} per {diagram.param}"
    )
    with house_style():
        if ax is None:
            fig = new_figure(7.0, 5.0)
            ax = fig.add_subplot()
        else:
            fig = ax.get_figure()
        ax.plot(x, y, ls="none", marker=",", color="black", rasterized=True, antialiased=False)
        ax.set(xlim=sorted(xlim), ylim=ylim, xlabel=diagram.param, ylabel=diagram.state)
        ax.set_title(title)
    return fig, DiagramInfo(len(diagram.values), int(y.size), xlim, ylim)
