"""Figures of a trajectory as it is: the saved states themselves, nothing simulated again.

``timeseries``: each state s_i(t_n) against t_n (against n for a map), one panel per state, or
every state on one caller's Axes.  ``phase``: two states (s_i(t_n), s_j(t_n)) on a plane, each
trajectory of a batch its own curve starting at a dot (a map's iterates as points).  The
trajectories of a batch are told apart by what differs between them: the parameter values of a
parameter batch, else the initial states.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import InputError, unknown_name
from . import marks
from .checks import state_indices
from .style import CYCLE, house_style, new_figure, number, one_axes, some_axes, system_title

KINDS = ("timeseries", "phase")
"""The figures :func:`trajectory_plot` draws."""
LINESTYLES = ("-", "--", ":", "-.")
"""The states of a batch drawn on one Axes: a colour per trajectory, a line style per state."""
MAX_LEGEND = 12
"""More legend entries than this are left out (the curves are still drawn)."""


@dataclass(frozen=True)
class SavedPlotInfo:
    """What :func:`trajectory_plot` drew: the kind, the states drawn (by name), the number of
    trajectories (1, or the batch size), the kept times of each, and the panels."""

    kind: str
    states: tuple[str, ...]
    trajectories: int
    times: int
    panels: int

    def summary(self) -> str:
        """'3 trajectories of 101 times: x, y'."""
        plural = "y" if self.trajectories == 1 else "ies"
        return f"{self.trajectories} trajector{plural} of {self.times} times: " + ", ".join(
            self.states
        )


def trajectory_plot(
    traj: Any,
    kind: str = "timeseries",
    *,
    states: Any = None,
    ax: Axes | None = None,
    axes: Any = None,
) -> tuple[Figure, SavedPlotInfo]:
    """Draw the states a :class:`~dynsys.trajectory.Trajectory` holds; ``(figure, info)``.

    ``kind="timeseries"``: the states (``states``: names or indices, default all) against
    time, one panel per state on a new figure, on the caller's ``axes`` (one Axes per state),
    or all together on the caller's ``ax``.  ``kind="phase"``: the two ``states`` (default the
    first two) against each other on a new figure or the caller's ``ax``.  With ``ax``/``axes``
    nothing new is created and the figure returned is the caller's.
    """
    if kind not in KINDS:
        raise unknown_name("kind of trajectory plot", str(kind), KINDS)
    if ax is not None and axes is not None:
        raise InputError("give ax (one panel) or axes (one panel per state), not both")
    if kind == "phase" and axes is not None:
        raise InputError("axes applies to kind='timeseries'; a phase plot draws on one ax")
    system = traj.system
    if kind == "phase":
        if system.n_states < 2:
            raise InputError(
                f"a phase plot needs two states; {system.name} has one "
                f"({system.states[0]}): draw kind='timeseries'"
            )
        index = state_indices(system, (0, 1) if states is None else states, 2)
    else:
        index = tuple(range(system.n_states)) if states is None else state_indices(system, states)
    members = traj.states if traj.batched else traj.states[None]
    labels = member_labels(traj)
    with house_style():
        if kind == "phase":
            fig, panels = _phase(traj, members, labels, index, ax)
        else:
            fig, panels = _timeseries(traj, members, labels, index, ax, axes)
    names = tuple(system.states[k] for k in index)
    return fig, SavedPlotInfo(kind, names, len(members), len(traj.t), panels)


def member_labels(traj: Any) -> list[str]:
    """What tells the trajectories apart: 'A=0.1' for a parameter batch, 's0 = (1, 0)' for
    initial states (both when both vary); one trajectory: its initial state."""
    members = traj.states if traj.batched else traj.states[None]
    varied = {k: v for k, v in traj.system.params.items() if v.ndim == 1}
    starts = members[:, 0, :]
    show_start = not varied or np.any(starts != starts[0])
    labels = []
    for m, start in enumerate(starts):
        parts = [f"{k}={number(v[m])}" for k, v in varied.items()]
        if show_start:
            parts.append(f"s0 = {_point(start)}")
        labels.append(", ".join(parts))
    return labels


def _timeseries(traj, members, labels, index, ax, axes) -> tuple[Figure, int]:
    system = traj.system
    is_map = system.kind == "map"
    if ax is not None:  # every state on the caller's Axes
        fig, ax = one_axes(ax)
        handles = []
        for j, k in enumerate(index):
            for m, values in enumerate(members[..., k]):
                colour = CYCLE[(m if traj.batched else j) % len(CYCLE)]
                style = LINESTYLES[j % len(LINESTYLES)] if traj.batched else "-"
                label = system.states[k] + (f", {labels[m]}" if traj.batched else "")
                handles.append(_series(ax, traj.t, values, colour, is_map, style, label))
        ax.set_xlabel("n" if is_map else "t")
        ax.set_ylabel(", ".join(system.states[k] for k in index))
        ax.set_title(_title(system, "states against time" + _how(traj)))
        if len(handles) <= MAX_LEGEND:
            ax.legend(handles=handles, loc="best")
        return fig, 1
    own = axes is None
    if own:
        fig = new_figure(7.5, 1.2 + 2.1 * len(index))
        panels = _panels(fig, len(index))
    else:
        fig, panels = some_axes(axes, len(index), "a trajectory's timeseries")
    handles = []
    for panel, k in zip(panels, index, strict=True):
        for m, values in enumerate(members[..., k]):
            colour = CYCLE[m % len(CYCLE)]
            line = _series(panel, traj.t, values, colour, is_map, "-", labels[m])
            if panel is panels[0]:
                handles.append(line)
        panel.set_ylabel(system.states[k])
    panels[-1].set_xlabel("n" if is_map else "t")
    panels[0].set_title(_title(system, "states against time" + _how(traj)))
    if traj.batched and len(handles) <= MAX_LEGEND:
        _legend(fig if own else None, panels[0], handles)
    return fig, len(panels)


def _phase(traj, members, labels, index, ax) -> tuple[Figure, int]:
    system = traj.system
    i, j = index
    own = ax is None
    fig, ax = one_axes(ax, 6.5, 5.5)
    handles = []
    for m, member in enumerate(members):
        colour = CYCLE[m % len(CYCLE)]
        if system.kind == "map":
            (line,) = ax.plot(
                member[:, i],
                member[:, j],
                "o",
                color=colour,
                ms=2.5,
                label=labels[m],
                gid=marks.TRAJECTORY,
            )
        else:
            line = marks.trajectory(ax, member[:, i], member[:, j], colour, label=labels[m])
        handles.append(line)
    ax.set_xlabel(system.states[i])
    ax.set_ylabel(system.states[j])
    ax.set_title(_title(system, "phase plane" + _how(traj)))
    if traj.batched and len(handles) <= MAX_LEGEND:
        _legend(fig if own else None, ax, handles)
    return fig, 1


def _panels(fig: Figure, count: int) -> list[Axes]:
    """``count`` panels one above the other, sharing the time axis."""
    panels: list[Axes] = []
    for row in range(count):
        panel = fig.add_subplot(count, 1, row + 1, sharex=panels[0] if panels else None)
        panels.append(panel)
    for panel in panels[:-1]:
        panel.tick_params(labelbottom=False)
    return panels


def _series(ax, t, values, colour: str, is_map: bool, style: str, label: str):
    """One state against time: a line, or a map's iterates as dots joined by a thin line."""
    if is_map:
        (line,) = ax.plot(
            t, values, "o", ls=style, color=colour, ms=2.5, lw=0.6, label=label,
            gid=marks.TRAJECTORY,
        )  # fmt: skip
    else:
        (line,) = ax.plot(
            t, values, ls=style, color=colour, lw=1.2, label=label, gid=marks.TRAJECTORY
        )
    return line


def _legend(own: Figure | None, ax: Axes, handles: list) -> None:
    """Below the axes on a figure dynsys made; on the caller's Axes otherwise."""
    if own is not None:
        own.legend(handles=handles, loc="outside lower center", ncols=min(3, len(handles)))
    else:
        ax.legend(handles=handles, loc="best")


def _title(system, what: str) -> str:
    """The house title with the parameters every trajectory shares (a batch's own values are
    in the legend)."""
    shared = {k: v for k, v in system.params.items() if v.ndim == 0}
    return system_title(SimpleNamespace(name=system.name, params=shared), what)


def _how(traj) -> str:
    """' (rk4, h = 0.01)': how the trajectory was made."""
    if traj.system.kind == "map" or traj.dt is None:
        return f" ({traj.method})"
    return f" ({traj.method}, h = {traj.dt:g})"


def _point(s: np.ndarray) -> str:
    """'(1, 0.5)', or '1' for one state."""
    text = ", ".join(f"{v:.6g}" for v in s)
    return text if len(s) == 1 else f"({text})"
