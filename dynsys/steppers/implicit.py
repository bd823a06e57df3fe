"""Implicit steppers: diagonally implicit Runge-Kutta methods and BDF2, solved by Newton's method.

A diagonally implicit Runge-Kutta (DIRK) method with tableau (A, b, c), a_ij = 0 for j > i,
computes its stages one after another.  Stage i solves, for the stage value z_i,

    z_i = B_i + h a_ii g(t + c_i h, z_i),   B_i = s + h sum_{j<i} a_ij k_j,

and k_i = (z_i - B_i) / (h a_ii) (the solved equation's own g, free of a further evaluation
whose rounding stiffness would magnify); a stage with a_ii = 0 is explicit, k_i = g(t + c_i h, B_i).
Then s(n+1) = s + h sum_i b_i k_i.  Backward Euler, the implicit midpoint rule, the trapezoidal
rule and Alexander's L-stable SDIRK3 are such tableaus.

BDF2 is a two-step method: s(n+1) = 4/3 s(n) - 1/3 s(n-1) + 2/3 h g(t_{n+1}, s(n+1)).  Its
recurrence carries the pair (s(n), s(n-1)), as an RNN with a delay line carries its last two
hidden states: (s(n+1), s(n)) = F(s(n), s(n-1), x(n+1)).  The first step, which has no
s(-1), is a backward Euler step.

Each implicit equation z = B + γ h g(t, z) is solved by :func:`newton`, member by member of the
batch (one small linear solve each, vectorised over the batch by :func:`solve_small`), with
the system's Jacobian, or forward differences of g where the system has none.  A member whose
iteration does not converge in :data:`MAX_ITERATIONS` gets a state that is not finite, which
the time loop reports as a failure of Newton's method (:class:`NewtonError`) at that step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import InputError
from ..systems.base import Params, System
from .base import Stepper

TOLERANCE = 1e-10
"""Newton stops when every component's update |δ_j| <= TOLERANCE (1 + |z_j|); quadratic
convergence leaves an error far below the last update."""
CONTRACTION = 0.25
"""Newton accepts a small update only when it contracts, max|δ_k| <= CONTRACTION max|δ_{k-1}|
(quadratic convergence gives far less): a crawl toward a point that is no root, where a huge
derivative keeps every update small, never passes for convergence."""
ROOT_EPS = float(np.sqrt(np.finfo(np.float64).eps))
"""sqrt(machine epsilon), the relative step of forward differences."""
MAX_ITERATIONS = 50
"""Newton iterations a solve may take before it counts as failed."""


class NewtonError(ArithmeticError):
    """Newton's method did not converge for the members ``which`` (a boolean mask)."""

    def __init__(self, which: np.ndarray):
        super().__init__("Newton's method did not converge")
        self.which = which


def jacobian(system: System, t: float, z: np.ndarray, x, p: Params) -> np.ndarray:
    """dg/ds at (t, z): the system's own, else forward differences (..., n, n).

    Column j of the differences is (g(z + e_j δ_j) - g(z)) / δ_j, δ_j = (z_j + ε_j) - z_j
    with ε_j = sqrt(eps) max(1, |z_j|) (the step as it is represented).
    """
    if system.jacobian is not None:
        n = z.shape[-1]
        matrix = np.asarray(system.jacobian(t, z, p), dtype=np.float64)
        try:
            if matrix.shape[-2:] != (n, n):
                raise ValueError
            return np.broadcast_to(matrix, (*z.shape, n))
        except ValueError:
            raise InputError(
                f"the jacobian of {system.name} has shape {matrix.shape}; Newton's method needs "
                f"(..., {n}, {n}) for its {n} states and the batch {z.shape[:-1]}"
            ) from None
    g = system.rhs(t, z, x, p)
    out = np.empty((*g.shape, z.shape[-1]))
    for j in range(z.shape[-1]):
        moved = z.copy()
        moved[..., j] = z[..., j] + np.sqrt(np.finfo(float).eps) * np.maximum(
            1.0, np.abs(z[..., j])
        )
        delta = moved[..., j] - z[..., j]
        out[..., :, j] = (system.rhs(t, moved, x, p) - g) / delta[..., None]
    return out


def solve_small(m: np.ndarray, r: np.ndarray) -> np.ndarray:
    """x with m x = r for each member: m (..., n, n), r (..., n); Gaussian elimination with
    partial pivoting (the first largest |pivot|), the arithmetic the compiled loop repeats.

    Elimination: for k < n, swap row k with the pivot row, then row_i -= (m_ik / m_kk) row_k
    for i > k.  Back substitution: x_k = (r_k - sum_{j>k} m_kj x_j) / m_kk, j ascending.
    """
    m = np.array(m, dtype=np.float64)
    r = np.array(r, dtype=np.float64)
    n = m.shape[-1]
    for k in range(n - 1):
        pivot = k + np.argmax(np.abs(m[..., k:, k]), axis=-1)  # (...,)
        swap = pivot != k
        if np.any(swap):
            rows = np.take_along_axis(m, pivot[..., None, None], axis=-2)  # (..., 1, n)
            m_k = m[..., k, :].copy()
            m[..., k, :] = rows[..., 0, :]
            np.put_along_axis(m, pivot[..., None, None], m_k[..., None, :], axis=-2)
            r_p = np.take_along_axis(r, pivot[..., None], axis=-1)[..., 0]
            r_k = r[..., k].copy()
            r[..., k] = r_p
            np.put_along_axis(r, pivot[..., None], r_k[..., None], axis=-1)
        for i in range(k + 1, n):
            f = m[..., i, k] / m[..., k, k]
            for j in range(k + 1, n):
                m[..., i, j] = m[..., i, j] - f * m[..., k, j]
            r[..., i] = r[..., i] - f * r[..., k]
    x = np.empty_like(r)
    for k in range(n - 1, -1, -1):
        acc = r[..., k]
        for j in range(k + 1, n):
            acc = acc - m[..., k, j] * x[..., j]
        x[..., k] = acc / m[..., k, k]
    return x


def newton(
    system: System, t: float, base: np.ndarray, gamma_h: float, x, p: Params
) -> tuple[np.ndarray, np.ndarray]:
    """Solve z = base + γh g(t, z) for every member; return (z, failed mask).

    Each iteration: r = (base + γh g(t, z)) - z, M = I - γh dg/ds(t, z) (formed as
    dg/ds (-γh), then 1 added on the diagonal), δ = M^{-1} r, z += δ; a member stops once
    |δ_j| <= TOLERANCE (1 + |z_j|) for every j, and fails when it has not after
    MAX_ITERATIONS (or its update is not finite); a small update counts only when it is at most
    CONTRACTION times the one before (the first always counts).
    """
    z = np.array(np.broadcast_to(base, base.shape), dtype=np.float64)
    n = z.shape[-1]
    batch = z.shape[:-1]
    active = np.ones(batch, dtype=bool)
    previous = np.full(batch, np.inf)  # max|δ| of the last iteration
    minus = -gamma_h
    with np.errstate(all="ignore"):
        for _ in range(MAX_ITERATIONS):
            g = system.rhs(t, z, x, p)
            r = (base + gamma_h * g) - z
            m = np.array(np.broadcast_to(jacobian(system, t, z, x, p), (*batch, n, n))) * minus
            for i in range(n):
                m[..., i, i] = m[..., i, i] + 1.0
            delta = solve_small(m, r)
            moved = z + delta
            size = np.max(np.abs(delta), axis=-1)
            contracts = size / previous <= CONTRACTION
            previous = size
            small = np.all(np.abs(delta) <= TOLERANCE * (1.0 + np.abs(moved)), axis=-1)
            done = small & contracts
            z = np.where(active[..., None], moved, z)
            active = active & ~done
            if not active.any():
                break
    failed = active | ~np.isfinite(z).all(axis=-1)
    return z, failed


@dataclass(frozen=True)
class DiagonallyImplicitRungeKutta(Stepper):
    """A diagonally implicit Runge-Kutta method given by its tableau (a, b, c).

    Row i of ``a`` is (a_i0, ..., a_ii), the diagonal included.  Stage i solves
    z_i = s + h sum_{j<i} a_ij k_j + h a_ii g(t + c_i h, z_i) by Newton's method,
    k_i = (z_i - B_i) / (h a_ii); s(n+1) = s + h sum_i b_i k_i.
    """

    a: tuple[tuple[float, ...], ...] = ()
    b: tuple[float, ...] = ()
    c: tuple[float, ...] = ()
    implicit: ClassVar[bool] = True

    def step(self, system, t, h, s, x, p):
        s = np.asarray(s, dtype=np.float64)
        ks: list[np.ndarray] = []
        failed = np.zeros(s.shape[:-1], dtype=bool)
        for i, ci in enumerate(self.c):
            row = self.a[i]
            base = s
            for aij, kj in zip(row[:i], ks, strict=False):
                if aij:
                    base = base + (h * aij) * kj
            xi = None if x is None else x[self.nodes.index(ci)]
            aii = row[i] if len(row) > i else 0.0
            if aii:
                z, bad = newton(system, t + ci * h, base, h * aii, xi, p)
                failed = failed | bad
                ks.append((z - base) / (h * aii))
            else:
                ks.append(system.rhs(t + ci * h, base, xi, p))
        out = s
        for bi, ki in zip(self.b, ks, strict=True):
            if bi:
                out = out + (h * bi) * ki
        if failed.any():
            out = np.where(failed[..., None], np.nan, out)
        return out


@dataclass(frozen=True)
class BDF2(Stepper):
    """BDF2: s(n+1) = 4/3 s(n) - 1/3 s(n-1) + 2/3 h g(t_{n+1}, s(n+1)), a two-step method.

    Its recurrence carries (s(n), s(n-1)) (``history = 2``); the first step, without s(-1),
    is backward Euler.  ``alpha`` are the coefficients of s(n-1), s(n), s(n+1) and ``beta``
    that of h g(t_{n+1}, s(n+1)) in sum_j alpha_j s(n-1+j) = beta h g(t_{n+1}, s(n+1)).
    """

    alpha: tuple[float, ...] = (1 / 3, -4 / 3, 1.0)
    beta: float = 2 / 3
    history: ClassVar[int] = 2
    implicit: ClassVar[bool] = True

    def step(self, system, t, h, s, x, p, past=None):
        """s(n+1) from s(n) = ``s`` and s(n-1) = ``past`` (None: the first step, backward
        Euler); x[0] is the drive at t + h."""
        s = np.asarray(s, dtype=np.float64)
        x1 = None if x is None else x[0]
        if past is None:
            z, failed = newton(system, t + h, s, h, x1, p)
        else:
            base = (4 / 3) * s - (1 / 3) * np.asarray(past)
            z, failed = newton(system, t + h, base, (2 / 3) * h, x1, p)
        return np.where(failed[..., None], np.nan, z) if failed.any() else z


GAMMA3 = 0.43586652150845899941601945
"""The root in (1/6, 1/2) of x^3 - 3x^2 + 3x/2 - 1/6, SDIRK3's diagonal (Alexander 1977)."""

IMPLICIT: tuple[Stepper, ...] = (
    DiagonallyImplicitRungeKutta(
        "implicit_euler",
        1,
        (1.0,),
        "backward (implicit) Euler, L-stable",
        a=((1.0,),),
        b=(1.0,),
        c=(1.0,),
    ),
    DiagonallyImplicitRungeKutta(
        "implicit_midpoint",
        2,
        (0.5,),
        "implicit midpoint rule, A-stable and symplectic",
        a=((0.5,),),
        b=(1.0,),
        c=(0.5,),
    ),
    DiagonallyImplicitRungeKutta(
        "trapezoidal",
        2,
        (0.0, 1.0),
        "trapezoidal rule (Crank-Nicolson), A-stable",
        a=((0.0,), (0.5, 0.5)),
        b=(0.5, 0.5),
        c=(0.0, 1.0),
    ),
    DiagonallyImplicitRungeKutta(
        "sdirk3",
        3,
        (GAMMA3, (1 + GAMMA3) / 2, 1.0),
        "Alexander's three-stage SDIRK, order 3, L-stable and stiffly accurate",
        a=(
            (GAMMA3,),
            ((1 - GAMMA3) / 2, GAMMA3),
            (
                -(6 * GAMMA3**2 - 16 * GAMMA3 + 1) / 4,
                (6 * GAMMA3**2 - 20 * GAMMA3 + 5) / 4,
                GAMMA3,
            ),
        ),
        b=(
            -(6 * GAMMA3**2 - 16 * GAMMA3 + 1) / 4,
            (6 * GAMMA3**2 - 20 * GAMMA3 + 5) / 4,
            GAMMA3,
        ),
        c=(GAMMA3, (1 + GAMMA3) / 2, 1.0),
    ),
    BDF2("bdf2", 2, (1.0,), "second-order backward differentiation formula, A-stable"),
)
"""The implicit methods, in the order the registry lists them."""
