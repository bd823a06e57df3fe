"""The convergence plot: error against step h on log-log axes, and the fitted slopes.

For each method, :func:`dynsys.convergence` halves h ``levels`` times and measures the max abs
error over the grid (against the exact solution where the system has one, else a tight
solve_ivp reference); a method of order p shows a line of slope p.  Grey guide lines of slopes
1, 2 and 4 start from the largest step, below the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..study import convergence
from ..systems.base import System
from . import checks, marks
from .results import ConvergenceInfo
from .style import GREY, house_style, method_colour, new_figure, system_title

GUIDE_SLOPES = (1, 2, 4)


def convergence_plot(
    system: System,
    s0: Any = None,
    *,
    methods: Sequence[str] | str = ("euler", "heun", "rk4"),
    t_span: tuple[float, float] = (0.0, 10.0),
    dt: float = 0.1,
    levels: int = 5,
) -> tuple[Figure, ConvergenceInfo]:
    """log error against log h for each stepper in ``methods``, h = dt, dt/2, ..., dt/2^levels."""
    checks.scalar_params(system)
    checks.ode(system, "a convergence plot")
    start = checks.one_initial_state(system, s0, "a convergence plot")
    names = checks.method_names(methods)
    if not names or "solve_ivp" in names:
        raise InputError("methods of a convergence plot must be steppers, e.g. euler,heun,rk4")
    studies = [
        convergence(system, start, method=m, t_span=t_span, dt=dt, levels=levels) for m in names
    ]
    against = studies[0].against
    with house_style():
        fig = new_figure(6.8, 5.6)
        ax = fig.add_subplot()
        ax.set(xscale="log", yscale="log")
        for study in studies:
            slope = "-" if study.observed_order is None else f"{study.observed_order:.2f}"
            ax.plot(
                study.dt,
                study.error,
                "o-",
                color=method_colour(study.method),
                ms=4.5,
                label=f"{study.method}: slope {slope} (order {study.expected_order})",
                gid=marks.TRAJECTORY,
            )
        _guides(ax, studies)
        what = "the exact solution" if against == "exact" else "the solve_ivp reference"
        ax.set(xlabel="step h", ylabel=f"max abs error against {what}")
        ax.set_title(system_title(system, f"convergence, t in [{t_span[0]:g}, {t_span[1]:g}]"))
        ax.grid(True, which="major", color="#DDDDDD", lw=0.6)
        marks.legend_below(fig, ax.get_legend_handles_labels()[0], ncols=2)
    info = ConvergenceInfo(
        slopes={s.method: s.observed_order for s in studies},
        expected={s.method: s.expected_order for s in studies},
        against=against,
    )
    return fig, info


def _guides(ax, studies) -> None:
    """Lines C h^p for p in GUIDE_SLOPES: under the method of order p, a factor 5 below its
    error at the largest h (a decade below all the data when no method has order p), clipped
    to the data's range and labelled at their visible left end."""
    errors = np.concatenate([s.error for s in studies])
    errors = errors[np.isfinite(errors) & (errors > 0)]
    if not errors.size:
        return
    low, high = errors.min() / 3, errors.max() * 3
    ax.set_ylim(low, high)
    h_max = max(float(s.dt.max()) for s in studies)
    h_min = min(float(s.dt.min()) for s in studies)
    firsts = [s.error[0] for s in studies if np.isfinite(s.error[0]) and s.error[0] > 0]
    for p in GUIDE_SLOPES:
        own = [s.error[0] for s in studies if s.expected_order == p and s.error[0] in firsts]
        anchor = min(own) / 5 if own else (min(firsts) if firsts else high) / 10
        end = max(h_min, h_max * (low / anchor) ** (1 / p)) if anchor > low else h_max
        x = np.array([end, h_max])
        y = anchor * (x / h_max) ** p
        ax.plot(x, y, color=GREY, ls=":", lw=1.2, zorder=1)
        ax.annotate(
            f"slope {p}",
            (x[0], y[0]),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
            color=GREY,
        )
