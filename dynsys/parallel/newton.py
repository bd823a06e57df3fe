"""Nonlinear recurrences by Newton's method over the whole trajectory (DEER).

The T states of s(k+1) = f_k(s(k)) from s(0) = s0 are the root of the residual
r_k(S) = s(k+1) - f_k(s(k)), k = 0..T-1.  Newton's method linearises every step at once around
the current guess S^(i),

    s(k+1) = J_k s(k) + (f_k(s^(i)(k)) - J_k s^(i)(k)),    J_k = df_k/ds at s^(i)(k),

an affine recurrence solved by :func:`~dynsys.parallel.scan.affine_scan` (DEER: Lim et al.,
2023).  Each iteration makes at least one more state exact, so it ends in at most T iterations;
it converges in a few when the system forgets its past (largest Lyapunov exponent below zero)
and slowly when it is chaotic, since the products of the J_k then grow like exp(lambda k).

Variants (:data:`MODES`):

- ``"full"``: the full Jacobians, quadratic convergence near the trajectory (DEER);
- ``"quasi"``: only the Jacobians' diagonals (quasi-DEER, Gonzalez et al., 2024): the scan is
  elementwise and cheaper, convergence is linear;
- ``"damped"``: Levenberg-Marquardt steps, min sum_k |r_k + dS(k+1) - J_k dS(k)|^2 +
  lam |dS|^2, with lam lowered after a step that reduces the residual and raised after one that
  does not.  These are the steps ELK computes with a parallel Kalman smoother (Gonzalez et al.,
  2024); here the normal equations, block tridiagonal, are solved by a banded Cholesky
  factorisation (sequential in time, O(T n^3)).  As lam -> 0 the step is DEER's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..errors import InputError, unknown_name
from .scan import affine_scan

MODES = ("full", "quasi", "damped")
"""Newton's method over the trajectory: full Jacobians, their diagonals, or damped steps."""
TOLERANCE = 1e-10
"""Converged when the last update and the residuals max_k |r_k| are at most TOLERANCE times
max(1, max |s|)."""
MAX_ITERATIONS = 50
"""Linear solves (scans) before giving up."""
MAX_DAMPING = 1e200
"""The damped variant gives up when its lam must exceed this to lower the residual."""
DAMPING = 1e-3
"""The damped variant's first lam, relative to the mean of |J_k|^2 + 1."""

Linearise = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``linearise(S)`` for the states S = s(0..T-1), (T, *batch, n): the next states
f_k(s(k)) (T, *batch, n) and the Jacobians df_k/ds (T, *batch, n, n)."""


@dataclass(frozen=True)
class NewtonResult:
    """What Newton's method over the trajectory did.

    ``states`` s(1..T) (T, *batch, n) of the last iterate; ``iterations`` the linear solves
    made (a rejected damped step counts); ``residuals`` max_k |r_k| / max(1, max |s|) of the
    guess and after each solve;
    ``converged`` whether the last is at most the tolerance; ``reason`` why not ("" when it did).
    """

    states: np.ndarray
    iterations: int
    residuals: list[float] = field(default_factory=list)
    converged: bool = False
    reason: str = ""
    mode: str = "full"


def solve(
    linearise: Linearise,
    s0: np.ndarray,
    guess: np.ndarray,
    *,
    mode: str = "full",
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> NewtonResult:
    """Newton's method for the states s(1..T) of s(k+1) = f_k(s(k)) from s(0) = s0, starting
    from ``guess`` (T, *batch, n); see the module docstring for ``mode``.

    It stops when an accepted update moves no state by more than ``tolerance`` times
    max(1, max |s|) and the residual is that small too: Newton's update is then about the
    error of the iterate before it, so the states are accurate to about the tolerance (to its
    square for the full variant).
    """
    states = np.array(guess, dtype=np.float64)
    lam = None
    iterations, update = 0, np.inf
    with np.errstate(all="ignore"):
        F, J, r, size = _evaluate(linearise, s0, states)
        residuals = [size]
        while True:
            if not np.isfinite(size):
                reason = "the iterate left the finite numbers"
                return _result(states, iterations, residuals, mode, reason)
            if update <= tolerance and size <= tolerance:
                return _result(states, iterations, residuals, mode, "")
            if iterations >= max_iterations:
                reason = f"not converged in {iterations} iterations"
                return _result(states, iterations, residuals, mode, reason)
            iterations += 1
            prev = _previous(s0, states)
            if mode == "damped":
                if lam is None:
                    lam = DAMPING * (1.0 + float(np.mean(np.sum(J * J, axis=(-2, -1)))))
                trial = states + _levenberg_marquardt(J, r, lam)
                F2, J2, r2, size2 = _evaluate(linearise, s0, trial)
                if not (np.isfinite(size2) and np.sum(r2 * r2) < np.sum(r * r)):
                    lam *= 10.0  # a shorter step, nearer the gradient's direction
                    residuals.append(size)
                    # at rounding level no step lowers the residual: the rejected step's size
                    # says whether the iterate has converged
                    update = float(np.max(np.abs(trial - states))) / _scale(states)
                    if not lam <= MAX_DAMPING:
                        reason = "the damped step stalled (no step lowers the residual)"
                        return _result(states, iterations, residuals, mode, reason)
                    continue
                lam /= 10.0
            elif mode == "quasi":
                D = np.diagonal(J, axis1=-2, axis2=-1)
                trial = affine_scan(D, F - D * prev, s0, diagonal=True)
                F2, J2, r2, size2 = _evaluate(linearise, s0, trial)
            else:
                trial = affine_scan(J, F - np.einsum("...ij,...j->...i", J, prev), s0)
                F2, J2, r2, size2 = _evaluate(linearise, s0, trial)
            update = float(np.max(np.abs(trial - states))) / _scale(trial)
            states, F, J, r, size = trial, F2, J2, r2, size2
            residuals.append(size)


def _scale(states: np.ndarray) -> float:
    """max(1, max |s|): what the tolerance is relative to."""
    return max(1.0, float(np.max(np.abs(states)))) if np.isfinite(states).all() else np.inf


def _previous(s0: np.ndarray, states: np.ndarray) -> np.ndarray:
    """s(0..T-1) from s0 and s(1..T)."""
    return np.concatenate((np.broadcast_to(s0, states.shape[1:])[None], states[:-1]))


def _evaluate(linearise: Linearise, s0, states):
    """f_k and J_k at the iterate, the residuals r_k = s(k+1) - f_k(s(k)) and their size."""
    F, J = linearise(_previous(s0, states))
    r = states - F
    size = float(np.max(np.abs(r))) / _scale(states) if np.isfinite(r).all() else np.inf
    return F, J, r, size


def _result(states, iterations, residuals, mode, reason) -> NewtonResult:
    return NewtonResult(states, iterations, residuals, not reason, reason, mode)


def _levenberg_marquardt(J: np.ndarray, r: np.ndarray, lam: float) -> np.ndarray:
    """The step dS (T, *batch, n) minimising sum_k |r_k + dS(k+1) - J_k dS(k)|^2 + lam |dS|^2
    with dS(0) = 0, from its normal equations (M^T M + lam I) dS = -M^T r.

    With M = I - L, L holding J_k at block (k, k-1): block j of the diagonal is
    (1 + lam) I + J_{j+1}^T J_{j+1} (no J term for the last), the block below it is -J_{j+1},
    and the right side is -(r_j - J_{j+1}^T r_{j+1}).  Each member is one banded solve.
    """
    from scipy.linalg import solveh_banded

    T, n = r.shape[0], r.shape[-1]
    batch = r.shape[1:-1]
    Jf = J.reshape(T, -1, n, n)
    rf = r.reshape(T, -1, n)
    out = np.empty_like(rf)
    for m in range(rf.shape[1]):
        Jm, rm = Jf[:, m], rf[:, m]
        nxt = Jm[1:]  # J_{j+1}, j = 0..T-2
        diag = np.broadcast_to((1.0 + lam) * np.eye(n), (T, n, n)).copy()
        diag[:-1] += np.einsum("kai,kaj->kij", nxt, nxt)
        rhs = -rm.copy()
        rhs[:-1] += np.einsum("kai,ka->ki", nxt, rm[1:])
        ab = np.zeros((2 * n, T * n))
        for a in range(n):
            for c in range(a + 1):
                ab[a - c, c::n] = diag[:, a, c]  # rows k n + a, columns k n + c
            for c in range(n):
                ab[n + a - c, c : (T - 1) * n : n] = -nxt[:, a, c]  # block (k+1, k)
        out[:, m] = solveh_banded(ab, rhs.reshape(-1), lower=True).reshape(T, n)
    return out.reshape(T, *batch, n)


@dataclass(frozen=True)
class NewtonSettings:
    """Newton's method over the trajectory: ``variant`` (one of :data:`MODES`), its budget of
    linear solves per block, its tolerance, and the steps of a block (``block``; None: as many
    as the caller's memory bound allows).  Shorter blocks need fewer iterations each (at most
    their length) and keep Newton's linearisations near the trajectory, at the price of more
    blocks one after another."""

    variant: str = "full"
    max_iterations: int = MAX_ITERATIONS
    tolerance: float = TOLERANCE
    block: int | None = None

    def __post_init__(self):
        if self.variant not in MODES:
            raise unknown_name("newton variant", self.variant, MODES)
        if not isinstance(self.max_iterations, int) or self.max_iterations < 1:
            raise InputError(
                f"max_iterations must be a whole number >= 1, got {self.max_iterations!r}"
            )
        if not (isinstance(self.tolerance, float | int) and 0 < self.tolerance < 1):
            raise InputError(f"tolerance must be a number in (0, 1), got {self.tolerance!r}")
        if self.block is not None and (not isinstance(self.block, int) or self.block < 1):
            raise InputError(f"block must be a whole number >= 1 or None, got {self.block!r}")

    @classmethod
    def of(cls, value: Any) -> NewtonSettings:
        """``value`` (None: the defaults, a NewtonSettings, or a dict of its fields) as one."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = tuple(f.name for f in fields(cls))
            for key in value:
                if key not in known:
                    raise unknown_name("newton setting", str(key), known)
            return cls(**value)
        raise InputError(f"newton must be a NewtonSettings or a dict of its fields, got {value!r}")


@dataclass(frozen=True)
class NewtonRun:
    """How Newton's method over the trajectory went, block by block: the linear solves of each
    block, the residual history of each, and the message of a fallback ("" when none)."""

    iterations: list[int]
    residuals: list[list[float]]
    variant: str
    fallback: str = ""

    def info(self) -> dict:
        return {
            "newton_variant": self.variant,
            "newton_iterations": int(sum(self.iterations)),
            "newton_blocks": len(self.iterations),
            "newton_residuals": [r for block in self.residuals for r in block],
            **({"fallback": self.fallback} if self.fallback else {}),
        }


def solve_blocks(
    linearise_at: Callable[[int, int], Linearise],
    s0: np.ndarray,
    n_steps: int,
    block: int,
    settings: NewtonSettings,
    keep: Callable[[int, np.ndarray], None],
    what: str,
) -> NewtonRun:
    """Newton's method over steps 0..n_steps-1 in blocks of ``block`` steps, each from the last
    state of the one before (the guess: that state at every step).  ``linearise_at(start,
    count)`` is the linearisation of a block's steps, ``keep(start, states)`` takes its states
    s(start+1..start+count).  At the first block that does not converge it stops, and the run's
    ``fallback`` says where and why, naming ``what`` ran (e.g. "rk4 on pendulum")."""
    s = s0
    iterations: list[int] = []
    residuals: list[list[float]] = []
    for start in range(0, n_steps, block):
        count = min(block, n_steps - start)
        result = solve(
            linearise_at(start, count),
            s,
            np.broadcast_to(s, (count, *s.shape)),
            mode=settings.variant,
            tolerance=settings.tolerance,
            max_iterations=settings.max_iterations,
        )
        iterations.append(result.iterations)
        residuals.append(result.residuals)
        if not result.converged:
            message = (
                f"Newton's method over the trajectory ({settings.variant}) did not converge on "
                f"steps {start}..{start + count} of {what}: {result.reason} (residual "
                f"{result.residuals[-1]:.2g}); ran the sequential loop instead"
            )
            return NewtonRun(iterations, residuals, settings.variant, message)
        keep(start, result.states)
        s = result.states[-1]
    return NewtonRun(iterations, residuals, settings.variant)
