"""The work-precision diagram: error against wall time and against evaluations of g.

Two log-log panels side by side share the error axis: on the left the error of each point of
a :class:`~dynsys.workprecision.WorkPrecision` set against its wall time, on the right against
the evaluations of the vector field per trajectory.  Each method is one line with markers in
its own colour, the fixed-step steppers solid (one point per step h) and the solve_ivp
methods dashed (one point per rtol).  A point without accuracy, one that diverged or whose
error exceeds :data:`NO_ACCURACY` (100 %), is left out and the method's legend entry says from
which h on ("diverged at h >= ...").  Lower and further left is better.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from ..workprecision import WorkPrecision
from . import marks
from .style import (
    METHOD_COLOURS,
    house_style,
    method_colour,
    new_figure,
    root_figure,
    system_title,
)

NO_ACCURACY = 1.0
"""A point whose relative error exceeds this (100 %) is drawn as diverged."""
ADAPTIVE_DASHES = (0, (5.0, 2.5))
OTHER_COLOURS = (
    "#882255",
    "#117733",
    "#332288",
    "#AA4499",
    "#44AA99",
    "#999933",
    "#CC6677",
    "#661100",
    "#DDCC77",
    "#6699CC",
)
"""Colours of the methods without a house colour, in order (Paul Tol's muted palette, safe for
colour-vision deficiencies, with two of his others)."""
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h")


def workprecision_plot(result: WorkPrecision, *, system: Any = None, axes: Any = None) -> Figure:
    """Both panels of the work-precision diagram of ``result`` (``system`` titles it when
    given, else the name and parameters the result records).  ``axes``: the caller's two
    panels (against wall time, against evaluations), given the same error range; default: a
    new 11 x 5.2 inch figure, its legend below the panels."""
    given = None if axes is None else marks.given_axes(None, axes, 2, "a work-precision diagram")
    with house_style():
        if given is None:
            fig = own = new_figure(11.0, 5.2)
            time_ax, evals_ax = fig.subplots(1, 2, sharey=True)
        else:
            own, (time_ax, evals_ax) = None, given
            fig = root_figure(time_ax)
        colours = method_colours(result.methods)
        handles = [
            _method(time_ax, evals_ax, result, m, colours[m], MARKERS[k % len(MARKERS)])
            for k, m in enumerate(result.methods)
        ]
        for ax, label in ((time_ax, "wall time (s), median"), (evals_ax, "evaluations of g")):
            ax.set(xscale="log", yscale="log", xlabel=label)
            ax.grid(True, which="major", color="#DDDDDD", lw=0.6)
        what = "exact solution" if result.reference == "exact" else result.reference
        time_ax.set_ylabel(f"max relative error (against {what})")
        evals_ax.set_xlabel("evaluations of g per trajectory")
        t0, t_end = result.t_span
        title = f"work-precision, t in [{t0:g}, {t_end:g}]" + (", stiff" if result.stiff else "")
        if own is None:  # one error range on both panels, as the figure dynsys makes shares it
            low = min(time_ax.get_ylim()[0], evals_ax.get_ylim()[0])
            high = max(time_ax.get_ylim()[1], evals_ax.get_ylim()[1])
            for ax in (time_ax, evals_ax):
                ax.set_ylim(low, high)
        marks.title(time_ax, _title(result, system, title), own=own)
        marks.legend(time_ax, handles, own=own, ncols=4)
    return fig


def method_colours(methods) -> dict[str, str]:
    """The house colour of each method that has one, the others :data:`OTHER_COLOURS` in
    order, skipping the colours those methods take (repeating when they run out)."""
    taken = {METHOD_COLOURS[m] for m in methods if m in METHOD_COLOURS}
    free = [c for c in OTHER_COLOURS if c not in taken] or list(OTHER_COLOURS)
    others = iter(free * (1 + len(methods) // len(free)))
    return {m: method_colour(m) if m in METHOD_COLOURS else next(others) for m in methods}


def _method(time_ax, evals_ax, result: WorkPrecision, method: str, colour: str, marker: str):
    """The method's line on both panels; returns its legend handle."""
    points = result.of(method)
    kept = [p for p in points if not p.diverged and p.error is not None and p.error <= NO_ACCURACY]
    fixed = points[0].kind == "fixed"
    style = {
        "color": colour,
        "marker": marker,
        "ms": 4.5,
        "ls": "-" if fixed else ADAPTIVE_DASHES,
        "lw": 1.4,
        "gid": marks.TRAJECTORY,
    }
    # a line through the points from the coarsest setting (largest h or rtol) to the finest
    ordered = sorted(kept, key=lambda p: -p.setting)
    for ax, work in ((time_ax, "wall_s"), (evals_ax, "evaluations")):
        ax.plot([getattr(p, work) for p in ordered], [p.error for p in ordered], **style)
    label = method if fixed else f"{method} (solve_ivp)"
    lost = [p for p in points if p not in kept]
    if lost:
        label += f", {_lost_text(points, lost, fixed)}"
    return marks.line_handle(
        style["color"], label, marker=marker, ms=4.5, ls=style["ls"], lw=style["lw"]
    )


def _lost_text(points, lost, fixed: bool) -> str:
    """'diverged at h >= 0.1' when every setting from the first lost one on (larger h, or
    smaller rtol) is lost, else the lost settings listed."""
    diverged = [p.diverged for p in lost]
    what = (
        "diverged"
        if all(diverged)
        else "diverged or error > 100 %"
        if any(diverged)
        else ("error > 100 %")
    )
    name = "h" if fixed else "rtol"
    if len(lost) == len(points):
        return f"{what} at every {name}"
    sign = 1 if fixed else -1  # h grows towards failure, rtol shrinks
    edge = min(sign * p.setting for p in lost)
    if all(p in lost for p in points if sign * p.setting >= edge):
        return f"{what} at {name} {'>=' if fixed else '<='} {sign * edge:.3g}"
    return f"{what} at {name} = " + ", ".join(f"{p.setting:.3g}" for p in lost)


def _title(result: WorkPrecision, system: Any, what: str) -> str:
    if system is not None:
        return system_title(system, what)
    params = ", ".join(f"{k}={v:.4g}" for k, v in result.params.items() if isinstance(v, float))
    return f"{result.system} ({params}): {what}" if params else f"{result.system}: {what}"
