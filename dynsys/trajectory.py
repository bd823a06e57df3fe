"""The one result type of every simulation: a :class:`Trajectory`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .systems.base import Params, System


@dataclass(frozen=True, eq=False)
class Trajectory:
    """States on a time grid, and what produced them.

    ``t`` has shape (time,); ``states`` has shape (time, n) for one initial state and
    (batch, time, n) for a batch; ``x`` is the drive x(t) on the same grid with shape
    ``states.shape[:-1]`` (None for an undriven system), computed when first asked for, since
    it is a function of t and the parameters.  ``method`` is a stepper name or
    ``"solve_ivp"``; ``dt`` is the step (None for solve_ivp); ``info`` holds what the method
    reports (for solve_ivp: the scipy method, rtol, atol, nfev and status per trajectory).
    """

    t: np.ndarray
    states: np.ndarray
    system: System
    method: str
    dt: float | None
    save_every: int = 1
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        batch = f"batch={self.batch_size}, " if self.batched else ""
        dt = "" if self.dt is None else f", dt={self.dt:g}"
        return (
            f"Trajectory({self.system!r}, method={self.method!r}{dt}, {batch}"
            f"{len(self.t)} times on [{self.t[0]:g}, {self.t[-1]:g}], "
            f"states={self.state_names})"
        )

    @cached_property
    def x(self) -> np.ndarray | None:
        """The drive x(t) on the grid, shape ``states.shape[:-1]``; None when undriven."""
        if not self.system.driven:
            return None
        drive = self.system.forcing(self.t, params_over_time(self.system.params))
        return np.broadcast_to(drive, self.states.shape[:-1])

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.system.states

    @property
    def batched(self) -> bool:
        return self.states.ndim == 3

    @property
    def batch_size(self) -> int | None:
        return self.states.shape[0] if self.batched else None

    def __getitem__(self, name: str) -> np.ndarray:
        """One state by name, shape ``states.shape[:-1]``."""
        try:
            return self.states[..., self.state_names.index(name)]
        except ValueError:
            raise KeyError(f"no state {name!r}; states: {', '.join(self.state_names)}") from None

    def energy(self) -> np.ndarray:
        """The system's energy along the trajectory, shape ``states.shape[:-1]``."""
        if self.system.energy is None:
            raise AttributeError(f"{self.system.name} has no energy")
        return self.system.energy(self.states, params_over_time(self.system.params))

    def plot(
        self, kind: str = "timeseries", ax: Any = None, *, states: Any = None, axes: Any = None
    ) -> tuple[Any, Any]:
        """Draw the states held here, nothing simulated again: ``(figure, info)``.

        ``kind="timeseries"``: each state against time, one panel per state (on the caller's
        ``axes``, one per state), or all on the caller's ``ax``; ``kind="phase"``: two
        ``states`` (default the first two) on a plane, a batch as several curves.  See
        :func:`dynsys.plots.saved.trajectory_plot`.
        """
        from .plots.saved import trajectory_plot

        return trajectory_plot(self, kind, states=states, ax=ax, axes=axes)

    def exact(self) -> np.ndarray:
        """The exact solution on the same grid from the same initial state, shaped like states."""
        if self.system.exact is None:
            raise AttributeError(f"{self.system.name} has no exact solution")
        return self.system.exact(self.t, self.states[..., 0, :], self.t[0], self.system.params)


def params_over_time(p: Params) -> Params:
    """Parameters of shape (batch,) as (batch, 1), so that they broadcast over a time axis."""
    return Params({k: v[..., None] if v.ndim else v for k, v in p.items()})
