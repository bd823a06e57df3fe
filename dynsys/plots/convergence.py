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

from .. import checks as core_checks
from ..errors import InputError
from ..steppers import get_stepper
from ..study import convergence
from ..systems.base import System
from . import checks, marks
from .orbits import check_reference
from .results import ConvergenceInfo
from .style import GREY, house_style, method_colour, one_axes, system_title

GUIDE_SLOPES = (1, 2, 4)
MAX_LEVELS = 64
"""Beyond 64 halvings the step count is only said to be larger (h would be dt/2^64 or less,
finer than float64 resolves times anyway)."""


def convergence_plot(
    system: System,
    s0: Any = None,
    *,
    methods: Sequence[str] | str = ("euler", "heun", "rk4"),
    t_span: tuple[float, float] = (0.0, 10.0),
    dt: float = 0.1,
    levels: int = 5,
    ax: Any = None,
) -> tuple[Figure, ConvergenceInfo]:
    """log error against log h for each stepper in ``methods``, h = dt, dt/2, ..., dt/2^levels;
    ``ax``: draw into the caller's Axes and return its figure."""
    start, names = check_convergence(
        system, s0, methods=methods, t_span=t_span, dt=dt, levels=levels, ax=ax
    )
    studies = [
        convergence(system, start, method=m, t_span=t_span, dt=dt, levels=levels) for m in names
    ]
    against = studies[0].against
    with house_style():
        fig, panel = one_axes(ax, 6.8, 5.6)
        own = fig if ax is None else None
        ax = panel
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
        marks.legend(ax, ax.get_legend_handles_labels()[0], own=own, ncols=2)
    info = ConvergenceInfo(
        slopes={s.method: s.observed_order for s in studies},
        expected={s.method: s.expected_order for s in studies},
        against=against,
    )
    return fig, info


def check_convergence(
    system: System,
    s0: Any = None,
    *,
    methods: Sequence[str] | str = ("euler", "heun", "rk4"),
    t_span: tuple[float, float] = (0.0, 10.0),
    dt: float = 0.1,
    levels: int = 5,
    ax: Any = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The arguments of :func:`convergence_plot` and its size checked without computing it;
    returns the initial state and the methods."""
    marks.given_axes(ax, None, 1, "a convergence plot")
    checks.scalar_params(system)
    checks.ode(system, "a convergence plot")
    start = checks.one_initial_state(system, s0, "a convergence plot")
    names = checks.method_names(methods)
    if not names or "solve_ivp" in names:
        raise InputError("methods of a convergence plot must be steppers, e.g. euler,heun,rk4")
    for name in names:
        get_stepper(name, system)
    _check_size(system, start, names, t_span, dt, levels)
    return start, names


def _check_size(system, start, names, t_span, dt, levels) -> None:
    """Refuse, before computing, a study too large: each method runs the grid of dt halved
    ``levels`` times, N (2^(levels+1) - 1) steps, against a truth on the finest grid."""
    levels = core_checks.integer("levels", levels, minimum=1)
    t0, t_end, dt, n = checks.grid(t_span, dt)
    most = checks.max_figure_steps() // max(
        1, len(names) * n
    )  # 2^(levels+1) - 1 must not exceed it
    fit = (most + 1).bit_length() - 2
    advice = (
        f"take levels <= {fit}" if fit >= 1 else "take a larger dt or a shorter t_end"
    ) + " (or fewer methods)"
    what = (
        f"a convergence plot of {len(names)} method{'s' * (len(names) != 1)} with levels={levels} "
        f"(h from dt={dt:g} to dt/2^{levels}) over t_end - t0 = {t_end - t0:g}"
    )
    if levels > MAX_LEVELS:  # no arithmetic on 2^levels: it may have a billion digits
        raise InputError(
            f"{what} would take more than {checks.count(n * 2**MAX_LEVELS)} steps, more than "
            f"the {checks.count(checks.max_figure_steps())} a figure computes; {advice}"
        )
    per_method = n * (2 ** (levels + 1) - 1)
    finest = n * 2**levels + 1
    n_bytes = 8 * checks.STATE_COPIES * system.n_states * (finest + per_method)
    steps = len(names) * per_method
    checks.figure_size(what, steps=steps, n_bytes=n_bytes, advice=advice)
    if system.exact is None:
        check_reference(system, start[None], t_span, what)


def _guides(ax, studies) -> None:
    """Lines C h^p for p in GUIDE_SLOPES: under the method of order p, a factor 5 below its
    error at the largest h (a decade below all the data when no method has order p), clipped
    to the data's range and labelled at their right end, beyond the largest h where no data
    is, the labels moved apart where they would overlap."""
    errors = np.concatenate([s.error for s in studies])
    errors = errors[np.isfinite(errors) & (errors > 0)]
    if not errors.size:
        return
    h_max = max(float(s.dt.max()) for s in studies)
    h_min = min(float(s.dt.min()) for s in studies)
    firsts = [s.error[0] for s in studies if np.isfinite(s.error[0]) and s.error[0] > 0]
    high = errors.max() * 3
    anchors = {}
    for p in GUIDE_SLOPES:
        own = [s.error[0] for s in studies if s.expected_order == p and s.error[0] in firsts]
        anchors[p] = min(own) / 5 if own else (min(firsts) if firsts else high) / 10
    low = min(errors.min() / 3, min(anchors.values()) / 2)
    ax.set_ylim(low, high)
    decades = np.log10(h_max / h_min) if h_max > h_min else 0.3
    ax.set_xlim(h_min / 10 ** (0.03 * decades), h_max * 10 ** max(0.15, 0.16 * decades))
    for p, anchor in anchors.items():
        end = max(h_min, h_max * (low / anchor) ** (1 / p)) if anchor > low else h_max
        x = np.array([end, h_max])
        ax.plot(x, anchor * (x / h_max) ** p, color=GREY, ls=":", lw=1.2, zorder=1)
    gap = 0.05 * np.log10(high / low)  # of the axis height, in decades
    placed: list[float] = []
    for p, anchor in sorted(anchors.items(), key=lambda item: item[1]):
        y = np.log10(anchor)
        if placed and y < placed[-1] + gap:
            y = placed[-1] + gap
        placed.append(y)
        ax.annotate(
            f"slope {p}",
            (h_max, 10**y),
            xytext=(5, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
            color=GREY,
        )
