"""Steppers: the rules that turn ds/dt = g(t, s, x) and a step h into a recurrence.

A stepper is a pure function ``step(system, t, h, s, x, p) -> s_next``: it takes the state
s(n) at time t = t_n, the drive samples ``x`` it needs over the step, and the parameters, and
returns s(n+1).  Nothing is kept between calls.

Which drive samples feed the step from n to n+1: a stepper reads the drive at the times
t_n + c h for each of its ``nodes`` c, in order, and ``x`` has shape ``(len(nodes), ...)``.
Explicit Euler and semi-implicit Euler have nodes (0,): the step from n to n+1 reads x(t_n),
the drive at the *start* of the step.  Heun reads (0, 1); RK4 reads (0, 1/2, 1); dopri5 reads
(0, 1/5, 3/10, 4/5, 8/9, 1).  In RNN notation, s(n+1) = f(s(n), x(n+1)) with
x(n+1) = (x(t_n + c h) for c in nodes).
Discrete maps read no drive (nodes ()).

The time loop calls ``step_into(system, t, h, s, x, p, work)``: the same numbers as ``step``, bit
for bit (the same operations in the same order), computed into the preallocated arrays of a
:class:`Workspace` and written over ``s``.  ``step`` stays the plain statement of the method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..systems.base import Params, System

StepFunction = Callable[[System, float, float, np.ndarray, "np.ndarray | None", Params], np.ndarray]


@dataclass(frozen=True)
class Stepper:
    """A named one-step method: its order, the drive nodes it reads, and its step function.

    A new stepper implements :meth:`step`; it may also implement :meth:`step_into` (the same
    bits, in place, in the arrays of :meth:`workspace`, sized by :attr:`n_stages`), which the
    numpy time loop calls and which by default calls :meth:`step`.
    """

    name: str
    order: int
    nodes: tuple[float, ...]
    description: str
    kind: str = "ode"  # "ode" steppers need a step h; "map" iterates a DiscreteMap
    history: ClassVar[int] = 1
    """States the recurrence carries: 1 for a one-step method, k for a k-step method, whose
    ``step`` then takes ``past`` = (s(n-1), ..., s(n-k+1)) (None on the first steps)."""
    implicit: ClassVar[bool] = False
    """Whether a step solves an equation (by Newton's method)."""

    def check(self, system: System) -> None:
        """Raise a one-line InputError when this method cannot run ``system``."""

    def width(self, n_states: int) -> int:
        """Numbers per member a compiled loop carries as the state: the system's n."""
        return n_states

    def step(self, system: System, t: float, h: float, s: np.ndarray, x, p: Params) -> np.ndarray:
        """s(n+1) from s(n) = ``s`` at time ``t``; ``x`` holds the drive at t + c h, c in nodes."""
        raise NotImplementedError

    @property
    def n_stages(self) -> int:
        """Evaluations of the vector field that :meth:`step_into` keeps in its workspace."""
        return 0

    def workspace(self, shape: tuple[int, ...]) -> Workspace:
        """The arrays :meth:`step_into` works in, for states of ``shape`` (..., n)."""
        return Workspace.of(shape, self.n_stages)

    def step_into(
        self, system: System, t: float, h: float, s: np.ndarray, x, p: Params, work: Workspace
    ) -> np.ndarray:
        """:meth:`step`'s s(n+1), bit for bit, computed in ``work`` (from :meth:`workspace`).

        A stepper that can writes s(n+1) over ``s`` and returns ``s``; ``p`` must be a
        :class:`Params`.  This default returns a new array from :meth:`step`.
        """
        return self.step(system, t, h, s, x, p)


@dataclass(frozen=True)
class Workspace:
    """The arrays a step writes into instead of allocating, made once for a batch shape.

    Each has the states' shape (..., n) and holds its components one after another in memory
    (:func:`components_first`), so that a component ``a[..., i]``, what a vector field reads
    and writes, is one contiguous block.
    """

    state: np.ndarray
    """s(n), for the time loop to step in place."""
    k: tuple[np.ndarray, ...]
    """k_i = g(t + c_i h, stage_i, x_i), one per stage."""
    stage: np.ndarray | None
    """The state a stage evaluates g at, s + h sum_j a_ij k_j (None: no stage needs one)."""
    scaled: np.ndarray | None
    """A term (h a_ij) k_j before it is added to a stage that has one already (None: none)."""
    columns: dict[int, tuple[np.ndarray, ...]]
    """The component views of state, stage and each k, by id (see System.rhs_into)."""

    @classmethod
    def of(
        cls, shape: tuple[int, ...], n_k: int, stage: bool = False, scaled: bool = False
    ) -> Workspace:
        """A state, ``n_k`` k arrays, and a stage and a term array if asked for."""
        state, *k = (components_first(shape) for _ in range(1 + n_k))
        staged = components_first(shape) if stage else None
        arrays = (state, *k) if staged is None else (state, staged, *k)
        columns = {id(a): tuple(a[..., i] for i in range(shape[-1])) for a in arrays}
        term = components_first(shape) if scaled else None
        return cls(state, tuple(k), staged, term, columns)


class AttributeParams(Params):
    """The same :class:`Params` with each value also an instance attribute, so that a vector
    field reads ``p.k`` as an ordinary attribute rather than through ``Params.__getattr__``
    after a failed lookup (0.5 us a read, a fifth of a small vector field's time)."""

    def __init__(self, p: Params):
        super().__init__(p)
        self.__dict__.update((k, v) for k, v in p.items() if not hasattr(Params, k))


def components_first(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array of ``shape`` (..., n) stored component by component."""
    *batch, n = shape
    return np.empty((n, *batch)).transpose((*range(1, len(shape)), 0))


@dataclass(frozen=True)
class MapIteration(Stepper):
    """Iterate a discrete map: s(n+1) = f(n, s(n); θ)."""

    def step(self, system, t, h, s, x, p):
        return system.next(t, s, p)
