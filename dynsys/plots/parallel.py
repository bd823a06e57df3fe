"""Newton's method over the trajectory (DEER): iterations to converge against the largest
Lyapunov exponent lambda_1, from a :class:`~dynsys.parallel.study.NewtonStudy`.

One marker per system and variant of Newton's method (its own colour and shape), the
iterations on a log scale against lambda_1 (per unit time for an ODE, with lambda_1 dt per
step on the top axis; per iteration for a map).  A filled marker converged; an open one did
not: at the budget when the budget ran out, in the row above the ceiling when the iterate left
the finite numbers (or the computation failed), since no number of iterations would do.  The
dashed line is the ceiling T (the full variant makes at least one more state exact per
iteration), the vertical line lambda_1 = 0 between forgetting the past and chaos.  The
variants of one system are set a few points apart sideways so that they do not hide each
other; their lambda_1 is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation

from ..errors import InputError
from ..parallel.study import NewtonStudy
from . import marks
from .style import GREY, OKABE_ITO, house_style, one_axes

VARIANT_STYLES = {
    "full": {"color": OKABE_ITO["blue"], "marker": "o"},
    "quasi": {"color": OKABE_ITO["vermillion"], "marker": "s"},
    "damped": {"color": OKABE_ITO["bluish green"], "marker": "^"},
}
"""Each variant's colour and marker."""
DODGE_POINTS = 7.0
"""Sideways distance between the markers of neighbouring variants of one system, in points."""
NO_RESULT = 2.2
"""The row of runs that left the finite numbers or failed sits at this factor times the budget."""
GID = "newton-iterations"
"""gid of every Line2D of markers (a test, or a reader of an SVG, counts them by it)."""


@dataclass(frozen=True)
class NewtonPlotInfo:
    """What was drawn: markers in all (``points``), how many converged, ran out of the budget,
    or gave no result (overflowed or failed), the ceiling T, the budget and the limits."""

    points: int
    converged: int
    budget: int
    no_result: int
    ceiling: int
    max_iterations: int
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def newton_iterations_plot(
    study: NewtonStudy, *, ax: Axes | None = None, kind: str | None = None
) -> tuple[Figure, NewtonPlotInfo]:
    """Draw the iterations of each variant against lambda_1 for the systems of ``kind``
    ("ode" or "map"; default the only kind the study holds) on ``ax``, the caller's Axes
    (default: a new 7 x 5.2 inch figure, its legend below the plot)."""
    kinds = study.kinds()
    if kind is None:
        if len(kinds) > 1:
            raise InputError(f"kind must be one of {', '.join(kinds)}: the study holds both")
        kind = kinds[0] if kinds else "ode"
    rows = [r for r in study.rows if r.kind == kind]
    if not rows:
        raise InputError(f"kind must be one of {', '.join(kinds) or 'ode, map'}, got {kind!r}")
    budget, ceiling = study.max_iterations, study.n_steps
    top = NO_RESULT * max(budget, ceiling)
    counts = {"converged": 0, "budget": 0, "no_result": 0}
    with house_style():
        own = ax is None
        fig, ax = one_axes(ax, 7.0, 5.2)
        n = len(study.variants)
        handles = []
        for i, variant in enumerate(study.variants):
            style = VARIANT_STYLES.get(variant, {"color": GREY, "marker": "D"})
            shift = ScaledTranslation((i - (n - 1) / 2) * DODGE_POINTS / 72, 0, fig.dpi_scale_trans)
            groups = {"converged": ([], []), "budget": ([], []), "no_result": ([], [])}
            for r in rows:
                o = r.outcome(variant)
                group = o.status if o.status in ("converged", "budget") else "no_result"
                y = o.solves if group == "converged" else budget if group == "budget" else top
                groups[group][0].append(r.lambda_1)
                groups[group][1].append(y)
            for group, (xs, ys) in groups.items():
                if not xs:
                    continue
                filled = group == "converged"
                ax.plot(
                    xs,
                    ys,
                    ls="none",
                    ms=6.5,
                    mew=1.3,
                    mfc=style["color"] if filled else "white",
                    mec=style["color"],
                    marker=style["marker"],
                    transform=ax.transData + shift,
                    gid=GID,
                    zorder=4,
                )
                counts[group] += len(xs)
            handles.append(
                marks.line_handle(
                    style["color"], variant, ls="none", marker=style["marker"], ms=6.5
                )
            )
        handles.append(
            marks.line_handle(
                GREY,
                "open: did not converge",
                ls="none",
                marker="o",
                ms=6.5,
                mfc="white",
            )
        )
        ax.axvline(0.0, color=GREY, lw=0.9, zorder=1)
        ax.axhline(ceiling, color="black", lw=1.0, ls="--", zorder=2)
        handles.append(marks.line_handle("black", f"ceiling T = {ceiling}", ls="--", lw=1.0))
        if budget != ceiling:
            ax.axhline(budget, color=GREY, lw=1.0, ls=":", zorder=2)
            handles.append(marks.line_handle(GREY, f"budget {budget}", ls=":", lw=1.0))
        ax.set_yscale("log")
        ax.set_ylim(0.7, top * 1.8)
        ax.axhspan(top / 1.35, top * 1.8, color="#EEEEEE", zorder=0, lw=0)
        ticks = [10.0**k for k in range(int(np.log10(max(budget, ceiling))) + 1)]
        ax.set_yticks([*ticks, top], [*(f"{t:g}" for t in ticks), "never"])
        ax.minorticks_off()
        lo = min(r.lambda_1 for r in rows)
        hi = max(r.lambda_1 for r in rows)
        pad = 0.08 * max(hi - lo, 0.5)
        ax.set_xlim(min(lo, 0.0) - pad, max(hi, 0.0) + pad)
        for dx, text, ha in (
            (-5, "$\\lambda_1 < 0$: forgets its past", "right"),
            (5, "$\\lambda_1 > 0$: chaotic", "left"),
        ):
            ax.annotate(
                text,
                (0.0, 0.02),
                xycoords=ax.get_xaxis_transform(),
                xytext=(dx, 0),
                textcoords="offset points",
                ha=ha,
                va="bottom",
                fontsize=8.5,
                color="#444444",
            )
        per = rows[0].per
        if kind == "ode":
            dt = rows[0].dt
            ax.set_xlabel(f"largest Lyapunov exponent $\\lambda_1$ (per unit time; dt = {dt:g})")
            if all(r.dt == dt for r in rows):
                top_axis = ax.secondary_xaxis("top", functions=(lambda x: x * dt, lambda x: x / dt))
                top_axis.set_xlabel("$\\lambda_1$ dt (per step)")
        else:
            ax.set_xlabel(f"largest Lyapunov exponent $\\lambda_1$ (per {per} = per step)")
        ax.set_ylabel("iterations (linear solves) to converge")
        ax.grid(True, which="major", axis="y", color="#DDDDDD", lw=0.6)
        what = f"{study.method}, dt = {study.dt:g}" if kind == "ode" else "maps"
        ax.set_title(
            f"Newton's method over the trajectory: iterations against $\\lambda_1$\n"
            f"T = {ceiling} steps ({what}) from the guess s(k) = s(0), tolerance "
            f"{study.tolerance:g}"
        )
        if own:
            marks.legend_below(fig, handles, ncols=len(handles))
        else:
            ax.legend(handles=handles, loc="center left")
    info = NewtonPlotInfo(
        points=sum(counts.values()),
        converged=counts["converged"],
        budget=counts["budget"],
        no_result=counts["no_result"],
        ceiling=ceiling,
        max_iterations=budget,
        xlim=tuple(ax.get_xlim()),
        ylim=tuple(ax.get_ylim()),
    )
    return fig, info
