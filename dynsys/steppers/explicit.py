"""Explicit steppers: Runge-Kutta methods given by their Butcher tableau, and semi-implicit
Euler on a system's position/velocity split."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import Stepper, Workspace


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


EXPLICIT: tuple[Stepper, ...] = (
    ExplicitRungeKutta("euler", 1, (0.0,), "explicit (forward) Euler", a=((),), b=(1.0,), c=(0.0,)),
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
)
"""The explicit methods, in the order the registry lists them."""
