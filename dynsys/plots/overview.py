"""The overview of a simulation: each state against time for every method and the reference,
and beneath them each method's error against the reference on a log axis.

The error of a method at time t_n is e(n) = max_i |s_i(n) - r_i(t_n)|, the largest absolute
error over the states against the reference r on the same grid; a zero error (a method equal
to the reference there) leaves a gap on the log axis.  A batch of trajectories is drawn by its
first member.  Lines of more than :data:`MAX_POINTS` points are thinned to every k-th point
(the last one kept), so a long simulation still gives a small figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import InputError
from ..trajectory import Trajectory
from .style import house_style, method_colour, new_figure, some_axes

MAX_POINTS = 4000
"""The most points of a line drawn (thinned to every k-th beyond that)."""


@dataclass(frozen=True)
class OverviewInfo:
    """What an overview drew: the methods (the reference last, when given), the states, each
    method's largest error against the reference over the time span (None without a
    reference, or where it is not finite), and the batch member drawn (None for one
    trajectory)."""

    methods: tuple[str, ...]
    states: tuple[str, ...]
    max_error: dict[str, float | None]
    member: int | None = None

    def summary(self) -> str:
        """'3 methods and the reference, 2 states'."""
        ref = " and the reference" if "reference" in self.methods else ""
        n = len(self.methods) - bool(ref)
        return f"{n} method{'s' * (n != 1)}{ref}, {len(self.states)} states"


def overview_plot(
    trajectories: Mapping[str, Trajectory],
    reference: Trajectory | None,
    *,
    axes: Any = None,
) -> tuple[Figure, OverviewInfo]:
    """Each state against time (one panel per state) for each method of ``trajectories`` and
    the ``reference``, and below them e(n) = max_i |s_i(n) - r_i(t_n)| of each method on a
    log axis (no error panel without a reference: a discrete map).  ``axes``: the caller's
    n_states (+1 with a reference) Axes, top to bottom."""
    runs = dict(trajectories)
    first = next(iter(runs.values()), reference)
    if first is None:
        raise InputError("the overview needs at least one trajectory or a reference")
    names = tuple(first.state_names)
    for name, traj in [*runs.items(), ("reference", reference)]:
        if traj is not None and tuple(traj.state_names) != names:
            raise InputError(
                f"trajectory {name} has states {', '.join(traj.state_names)}; the overview "
                f"draws trajectories of one system ({', '.join(names)})"
            )
    member = 0 if first.batched else None
    count = len(names) + (reference is not None)
    with house_style():
        if axes is None:
            fig = new_figure(7.5, 1.0 + 1.8 * count)
            panels = list(np.atleast_1d(fig.subplots(count, 1, sharex=True)))
        else:
            fig, panels = some_axes(axes, count, "the overview")
        shown = [*runs.items(), *([("reference", reference)] if reference is not None else [])]
        is_map = first.system.kind == "map"  # iterates: dots joined by thin lines
        dots = {"marker": ".", "ms": 4} if is_map else {}
        for name, traj in shown:
            t, states = _series(traj)
            wide = name == "reference"
            for k, ax in enumerate(panels[: len(names)]):
                ax.plot(
                    t,
                    states[:, k],
                    color=method_colour("solve_ivp" if wide else name),
                    lw=2.4 if wide else 0.6 if is_map else 1.2,
                    alpha=0.45 if wide else 1.0,
                    label=name,
                    zorder=1 if wide else 2,
                    **dots,
                )
        for k, ax in enumerate(panels[: len(names)]):
            ax.set_ylabel(names[k])
        max_error: dict[str, float | None] = {}
        if reference is not None:
            ax = panels[-1]
            for name, traj in runs.items():
                t, err = _error(traj, reference)
                finite = err[np.isfinite(err)]
                max_error[name] = float(np.max(finite)) if finite.size else None
                err = np.where(err > 0, err, np.nan)
                ax.plot(t, err, color=method_colour(name), lw=1.2, label=name)
            if any(np.any(np.isfinite(line.get_ydata())) for line in ax.lines):
                ax.set_yscale("log")
            ax.set_ylabel("abs error")
            ax.set_title("max abs error over the states against the reference", loc="left")
            ax.grid(True, which="major", color="#DDDDDD", lw=0.6)
        panels[-1].set_xlabel("t")
        system = first.system.name
        what = f"{system}: states against time" + (
            f" (member {member})" if member is not None else ""
        )
        panels[0].set_title(what)
        panels[0].legend(ncols=min(5, len(shown)), loc="best", fontsize=8)
    methods = (*runs, *(["reference"] if reference is not None else []))
    return fig, OverviewInfo(tuple(methods), names, max_error, member)


def _series(traj: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """(t, states) of one trajectory (a batch's first member), thinned to MAX_POINTS."""
    states = traj.states[0] if traj.batched else traj.states
    keep = _thinned(len(traj.t))
    return traj.t[keep], states[keep]


def _error(traj: Trajectory, reference: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """(t, e) with e(n) = max_i |s_i(n) - r_i(t_n)| over the times both share (a method
    that diverged stops early), thinned to MAX_POINTS."""
    states = traj.states[0] if traj.batched else traj.states
    ref = reference.states[0] if reference.batched else reference.states
    n = min(len(traj.t), len(reference.t))
    with np.errstate(all="ignore"):
        err = np.max(np.abs(states[:n] - ref[:n]), axis=-1)
    keep = _thinned(n)
    return traj.t[:n][keep], err[keep]


def _thinned(n: int) -> np.ndarray:
    """Indices 0, k, 2k, ... and the last, at most about MAX_POINTS of them."""
    k = max(1, -(-n // MAX_POINTS))
    index = np.arange(0, n, k)
    if n and index[-1] != n - 1:
        index = np.append(index, n - 1)
    return index


__all__ = ["MAX_POINTS", "OverviewInfo", "overview_plot"]
