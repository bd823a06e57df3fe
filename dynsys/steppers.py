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
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError, unknown_name
from .systems.base import Params, System

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
class ExplicitRungeKutta(Stepper):
    """An explicit Runge-Kutta method given by its Butcher tableau (a, b, c).

    k_i = g(t + c_i h, s + h sum_{j<i} a_ij k_j, x(t + c_i h)),  s(n+1) = s + h sum_i b_i k_i.
    One kernel runs every tableau; zero coefficients cost nothing.
    """

    a: tuple[tuple[float, ...], ...] = ()
    b: tuple[float, ...] = ()
    c: tuple[float, ...] = ()
    _node_of_stage: tuple[int, ...] = field(init=False, repr=False, default=())
    _stages: tuple[tuple[int, float, int, tuple[tuple[int, float], ...]], ...] = field(
        init=False, repr=False, default=()
    )
    """Per stage: i, c_i, the node of c_i, and the (j, a_ij) with a_ij != 0 in order."""
    _weights: tuple[tuple[int, float], ...] = field(init=False, repr=False, default=())
    """The (i, b_i) with b_i != 0, in order."""

    def __post_init__(self):
        object.__setattr__(self, "_node_of_stage", tuple(self.nodes.index(ci) for ci in self.c))
        terms = [tuple((j, aij) for j, aij in enumerate(row) if aij) for row in self.a]
        stages = tuple(zip(range(len(self.c)), self.c, self._node_of_stage, terms, strict=True))
        object.__setattr__(self, "_stages", stages)
        object.__setattr__(self, "_weights", tuple((i, bi) for i, bi in enumerate(self.b) if bi))

    @property
    def n_stages(self) -> int:
        return len(self.c)

    def workspace(self, shape: tuple[int, ...]) -> Workspace:
        """A k per stage; the stage array if a stage has a nonzero a_ij, the term array if one
        has two."""
        terms = [len(stage[-1]) for stage in self._stages]
        stage, scaled = max(terms, default=0) >= 1, max(terms, default=0) >= 2
        return Workspace.of(shape, self.n_stages, stage=stage, scaled=scaled)

    def step(self, system, t, h, s, x, p):
        ks: list[np.ndarray] = []
        for i, ci in enumerate(self.c):
            stage = s
            for aij, kj in zip(self.a[i], ks, strict=False):
                if aij:
                    stage = stage + (h * aij) * kj
            xi = None if x is None else x[self._node_of_stage[i]]
            ks.append(system.rhs(t + ci * h, stage, xi, p))
        out = s
        for bi, ki in zip(self.b, ks, strict=False):
            if bi:
                out = out + (h * bi) * ki
        return out

    def step_into(self, system, t, h, s, x, p, work):
        """:meth:`step` in place: stage = s, then stage += (h a_ij) k_j over the nonzero a_ij;
        k_i = g(t + c_i h, stage, x_i); finally s += (h b_i) k_i over the nonzero b_i.

        Each term (h a) k is formed in the array it is added to (the stage; ``work.scaled``
        for a stage's second term on; k_i itself once the stages are done), as k (h a), which
        is (h a) k exactly.
        """
        k, stage, scaled, columns = work.k, work.stage, work.scaled, work.columns
        rhs_into = system.rhs_into
        for i, ci, node, terms in self._stages:
            y = s
            for j, aij in terms:
                term = stage if y is s else scaled
                np.multiply(k[j], h * aij, out=term)
                np.add(y, term, out=stage)
                y = stage
            rhs_into(t + ci * h, y, None if x is None else x[node], p, k[i], columns)
        for i, bi in self._weights:
            np.multiply(k[i], h * bi, out=k[i])
            np.add(s, k[i], out=s)
        return s


@dataclass(frozen=True)
class SemiImplicitEuler(Stepper):
    """Semi-implicit (symplectic) Euler on the split state s = (q, p).

    p(n+1) = p(n) + h g_p(t_n, q(n), p(n));  q(n+1) = q(n) + h g_q(t_n, q(n), p(n+1)).
    The velocities are updated first and the positions use the updated velocities
    (Euler-Cromer); the split is the system's ``n_positions``.
    """

    def step(self, system, t, h, s, x, p):
        q = system.n_positions
        x0 = None if x is None else x[0]
        half = s.copy()
        half[..., q:] += h * system.rhs(t, s, x0, p)[..., q:]
        half[..., :q] += h * system.rhs(t, half, x0, p)[..., :q]
        return half

    @property
    def n_stages(self) -> int:
        return 1

    def step_into(self, system, t, h, s, x, p, work):
        """:meth:`step` in place: s[q:] += h g(t, s)[q:], then s[:q] += h g(t, s)[:q]
        (each h g formed in g itself)."""
        q = system.n_positions
        x0 = None if x is None else x[0]
        g = work.k[0]
        for part in (np.s_[..., q:], np.s_[..., :q]):
            system.rhs_into(t, s, x0, p, g, work.columns)
            np.multiply(g[part], h, out=g[part])
            np.add(s[part], g[part], out=s[part])
        return s


@dataclass(frozen=True)
class MapIteration(Stepper):
    """Iterate a discrete map: s(n+1) = f(n, s(n); θ)."""

    def step(self, system, t, h, s, x, p):
        return system.next(t, s, p)


STEPPERS: dict[str, Stepper] = {
    s.name: s
    for s in (
        ExplicitRungeKutta(
            "euler", 1, (0.0,), "explicit (forward) Euler", a=((),), b=(1.0,), c=(0.0,)
        ),
        SemiImplicitEuler("semi_implicit_euler", 1, (0.0,), "semi-implicit (symplectic) Euler"),
        ExplicitRungeKutta(
            "midpoint",
            2,
            (0.0, 0.5),
            "explicit midpoint rule",
            a=((), (0.5,)),
            b=(0.0, 1.0),
            c=(0.0, 0.5),
        ),
        ExplicitRungeKutta(
            "heun",
            2,
            (0.0, 1.0),
            "Heun's method (explicit trapezoidal rule)",
            a=((), (1.0,)),
            b=(0.5, 0.5),
            c=(0.0, 1.0),
        ),
        ExplicitRungeKutta(
            "rk4",
            4,
            (0.0, 0.5, 1.0),
            "classic fourth-order Runge-Kutta",
            a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
            b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
            c=(0.0, 0.5, 0.5, 1.0),
        ),
        ExplicitRungeKutta(
            "dopri5",
            5,
            (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0),
            "Dormand-Prince fifth order (RK45's propagating solution) at a fixed step",
            a=(
                (),
                (1 / 5,),
                (3 / 40, 9 / 40),
                (44 / 45, -56 / 15, 32 / 9),
                (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
                (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
            ),
            b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
            c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0),
        ),
        MapIteration("map", 0, (), "iteration of a discrete map", kind="map"),
    )
}

REFERENCE_METHOD = "solve_ivp"
METHODS = (*tuple(name for name in STEPPERS if name != "map"), REFERENCE_METHOD)
"""Method names accepted for continuous systems: the steppers and scipy's solve_ivp."""


def get_stepper(name: str, system: System | None = None) -> Stepper:
    """The stepper called ``name``, checked against the kind of ``system`` if one is given."""
    if name not in STEPPERS:
        raise unknown_name("method", name, (*METHODS, "map"))
    stepper = STEPPERS[name]
    if system is not None and stepper.kind != system.kind:
        if system.kind == "map":
            raise InputError(f"{system.name} is a discrete map; its only method is 'map'")
        raise InputError(f"method 'map' iterates discrete maps; {system.name} is an ODE")
    return stepper


def default_method(system: System) -> str:
    """'euler' for an ODE, 'map' for a discrete map."""
    return "map" if system.kind == "map" else "euler"
