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
    """A named one-step method: its order, the drive nodes it reads, and its step function."""

    name: str
    order: int
    nodes: tuple[float, ...]
    description: str
    kind: str = "ode"  # "ode" steppers need a step h; "map" iterates a DiscreteMap

    def step(self, system: System, t: float, h: float, s: np.ndarray, x, p: Params) -> np.ndarray:
        """s(n+1) from s(n) = ``s`` at time ``t``; ``x`` holds the drive at t + c h, c in nodes."""
        raise NotImplementedError


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

    def __post_init__(self):
        object.__setattr__(self, "_node_of_stage", tuple(self.nodes.index(ci) for ci in self.c))

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
