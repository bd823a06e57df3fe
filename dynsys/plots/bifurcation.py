"""The orbit (bifurcation) diagram of a map: the kept iterates above each parameter value.

Black dots on white, one per kept iterate (hundreds of thousands), rasterised inside SVG and
PDF files so that those stay small while the axes and labels stay vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import InputError
from ..orbits import OrbitDiagram
from . import marks
from .style import house_style, new_figure, number, one_axes, root_figure


@dataclass(frozen=True)
class DiagramInfo:
    """What an orbit diagram drew: ``values`` parameter values, ``points`` dots, the limits."""

    values: int
    points: int
    xlim: tuple[float, float]
    ylim: tuple[float, float]


TITLE_WIDTH = 72
"""Characters of a one-line title; a longer one puts the fixed parameters on a second line."""


def orbit_diagram_plot(
    diagram: OrbitDiagram,
    *,
    ax: Axes | None = None,
    axes: Any = None,
    exponents: np.ndarray | None = None,
) -> tuple[Figure, DiagramInfo]:
    """Draw ``diagram``: the parameter on x, the kept state on y.  With ``exponents`` (one
    largest Lyapunov exponent per parameter value), a panel beneath draws them against the same
    axis, with the line lambda = 0 where the orbits turn chaotic.  ``ax``: the caller's Axes
    for the diagram alone, ``axes``: its two (diagram, exponents) with ``exponents``; default:
    a new 7 x 5 inch figure (7 x 6.5 with the exponents)."""
    if exponents is not None:
        exponents = np.asarray(exponents, dtype=np.float64).reshape(-1)
        if exponents.shape != diagram.values.shape:
            raise InputError(
                f"exponents must hold one number per parameter value ({diagram.values.size}), "
                f"got {exponents.size}"
            )
    what = "an orbit diagram" + (" with its exponents" if exponents is not None else "")
    given = marks.given_axes(ax, axes, 1 if exponents is None else 2, what)
    x, y = diagram.dots()
    lo, hi = (float(np.min(y)), float(np.max(y))) if y.size else (0.0, 0.0)
    pad = 0.03 * (hi - lo) if hi > lo else 0.5
    xlim = (float(diagram.values[0]), float(diagram.values[-1]))
    if xlim[0] == xlim[1]:
        xlim = (xlim[0] - 0.5, xlim[1] + 0.5)
    ylim = (lo - pad, hi + pad)
    fixed = ", ".join(f"{k}={number(v)}" for k, v in diagram.fixed.items())
    unit = "iterates" if diagram.period is None else "drive periods"
    what = f"orbit diagram, {diagram.keep} {unit} after {diagram.transient} per {diagram.param}"
    if diagram.section is not None:
        what = (
            f"section {diagram.section}, up to {diagram.keep} crossings after "
            f"t = {diagram.transient:g} per {diagram.param}"
        )
    title = f"{diagram.system} ({fixed}): {what}" if fixed else f"{diagram.system}: {what}"
    if len(title) > TITLE_WIDTH:  # the fixed parameters on a line of their own
        title = f"{diagram.system}: {what}\n{fixed}"
    with house_style():
        lower = None
        if given is not None:
            fig, ax = root_figure(given[0]), given[0]
            lower = given[1] if len(given) == 2 else None
        elif exponents is not None:
            fig = new_figure(7.0, 6.5)
            ax, lower = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        else:
            fig, ax = one_axes(None, 7.0, 5.0)
        ax.plot(x, y, ls="none", marker=",", color="black", rasterized=True, antialiased=False)
        ax.set(xlim=sorted(xlim), ylim=ylim, ylabel=diagram.state)
        ax.set_title(title)
        if lower is None:
            ax.set_xlabel(diagram.param)
        else:
            lower.axhline(0.0, color="grey", lw=0.8)
            lower.plot(diagram.values, exponents, color="black", lw=0.6)
            finite = exponents[np.isfinite(exponents)]
            if finite.size:  # a superstable value's -inf is left off the scale
                low = max(float(finite.min()), -4.0 * max(float(finite.max()), 0.25))
                lower.set_ylim(low, max(float(finite.max()), 0.0) * 1.1 + 0.05)
            lower.set(xlim=sorted(xlim), xlabel=diagram.param, ylabel="largest Lyapunov exponent")
    return fig, DiagramInfo(len(diagram.values), int(y.size), xlim, ylim)
