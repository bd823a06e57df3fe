"""Equilibria of a system and their type, from the eigenvalues of the Jacobian (pure maths).

An equilibrium s* of ds/dt = g(t, s, x) solves g(t, s*, 0) = 0; for a driven system the drive
is switched off (x = 0), so these are the rest points of the undriven system.  A fixed point of
a map solves f(s*) = s*.  Equilibria are found by :func:`scipy.optimize.root` from a grid of
starting points inside the given bounds (damped Newton from all of them at once, then
:func:`scipy.optimize.root` from those where Newton failed), kept when the residual is tiny and
the root lies in the bounds, and deduplicated.

The type follows from the eigenvalues λ of the Jacobian J = dg/ds at s*::

    all Re λ < 0: stable node (all λ real) or stable focus (some complex)
    all Re λ > 0: unstable node or unstable focus
    Re λ of both signs, none zero: saddle
    all Re λ = 0 and λ ≠ 0 (purely imaginary): centre (of the linearisation)
    otherwise (a zero eigenvalue, or zero beside nonzero real parts): non-hyperbolic

"Zero" means |Re λ| <= tol * max(1, max |λ|).  For a map the growth rate of an eigenvalue
(multiplier) μ is log |μ| in place of Re λ, and it is complex when Im μ ≠ 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import root

from ..errors import InputError
from ..systems.base import System

KINDS = (
    "stable node",
    "stable focus",
    "unstable node",
    "unstable focus",
    "saddle",
    "centre",
    "non-hyperbolic",
)


@dataclass(frozen=True, eq=False)
class Equilibrium:
    """A rest point ``point`` (n,), the eigenvalues of the Jacobian there, and its type."""

    point: np.ndarray
    eigenvalues: np.ndarray
    kind: str

    @property
    def stable(self) -> bool:
        return self.kind.startswith("stable")

    def __repr__(self) -> str:
        coords = ", ".join(f"{v:.4g}" for v in self.point)
        return f"Equilibrium(({coords}), {self.kind})"


def classify(eigenvalues: Sequence[complex], *, discrete: bool = False, tol: float = 1e-8) -> str:
    """The type of a rest point from the eigenvalues of its Jacobian (see the module doc).

    >>> classify([-1 + 2j, -1 - 2j]), classify([1.0, -2.0]), classify([3j, -3j])
    ('stable focus', 'saddle', 'centre')
    """
    lam = np.asarray(eigenvalues, dtype=np.complex128)
    if lam.ndim != 1 or lam.size == 0:
        raise InputError(f"eigenvalues must be a non-empty 1-d sequence, got shape {lam.shape}")
    scale = tol * max(1.0, float(np.max(np.abs(lam))))
    if discrete:
        with np.errstate(divide="ignore"):
            growth = np.log(np.abs(lam))
        zero = np.abs(np.abs(lam) - 1) <= scale
    else:
        growth = lam.real
        zero = np.abs(growth) <= scale
    complex_pair = bool(np.any(np.abs(lam.imag) > scale))
    shape = "focus" if complex_pair else "node"
    if np.all(zero):
        rotating = np.abs(lam.imag) > scale if not discrete else complex_pair
        return "centre" if np.all(rotating) else "non-hyperbolic"
    if np.any(zero):
        return "non-hyperbolic"
    if np.all(growth < 0):
        return f"stable {shape}"
    if np.all(growth > 0):
        return f"unstable {shape}"
    return "saddle"


def jacobian_at(system: System, point: np.ndarray, t: float = 0.0) -> np.ndarray:
    """J = dg/ds (or df/ds for a map) at ``point``: the system's own, else centred differences."""
    point = np.asarray(point, dtype=np.float64)
    if system.jacobian is not None:
        return np.asarray(system.jacobian(t, point, system.params), dtype=np.float64)
    n = len(point)
    step = 1e-6 * np.maximum(1.0, np.abs(point))
    shifts = np.eye(n) * step
    g = _residual_function(system, t)
    return np.stack([(g(point + d) - g(point - d)) / (2 * d[i]) for i, d in enumerate(shifts)], 1)


def find_equilibria(
    system: System,
    bounds: Sequence[tuple[float, float]],
    *,
    points_per_axis: int | None = None,
    t: float = 0.0,
) -> tuple[Equilibrium, ...]:
    """Every equilibrium (fixed point, for a map) found inside ``bounds``, one (lo, hi) per state.

    Root finding starts from a ``points_per_axis``-per-state grid (default 9 for up to two
    states, 5 for three, 3 beyond): damped Newton from every start at once
    (:func:`newton_batch`), then :func:`scipy.optimize.root` (hybr) from each start whose
    Newton iterates did not settle on an equilibrium inside the bounds.  The equilibria come
    sorted by their coordinates.
    """
    n = system.n_states
    if len(bounds) != n:
        raise InputError(f"bounds must give (lo, hi) for each of the {n} states of {system.name}")
    lo, hi = np.array(bounds, dtype=np.float64).T
    if not np.all(np.isfinite(lo) & np.isfinite(hi) & (lo < hi)):
        raise InputError(f"bounds must be finite pairs (lo, hi) with lo < hi, got {bounds!r}")
    if points_per_axis is None:
        points_per_axis = 9 if n <= 2 else 5 if n == 3 else 3
    fractions = (np.arange(points_per_axis) + 0.5) / points_per_axis
    axes = [lo[i] + fractions * (hi[i] - lo[i]) for i in range(n)]
    starts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, n)
    g = _residual_function(system, t)
    jac = _residual_jacobian(system, t)
    width = hi - lo
    found: list[np.ndarray] = []

    def accepted(points: np.ndarray) -> np.ndarray:
        """Which rows of ``points`` are equilibria inside the bounds: finite, with a residual
        below 1e-9 of their size (at least 1)."""
        size = np.maximum(1.0, np.max(np.abs(points), axis=1))
        residual = np.max(np.abs(g(points)), axis=1) if len(points) else np.zeros(0)
        margin = 1e-9 * width
        inside = np.all((points >= lo - margin) & (points <= hi + margin), axis=1)
        return np.all(np.isfinite(points), axis=1) & (residual <= 1e-9 * size) & inside

    def keep(point: np.ndarray) -> None:
        """Add an accepted ``point`` to ``found`` unless it is one found before, or a small
        residual far from the origin that a Newton step shows is no root."""
        if any(np.all(np.abs(point - q) <= 1e-6 * _scale(q, width)) for q in found):
            return
        if _newton_close(system, g, point, t, width):
            found.append(point)

    with np.errstate(all="ignore"):
        points, converged = newton_batch(system, starts, (lo, hi), t)
        good = converged.copy()
        good[converged] = accepted(points[converged])
        # Newton's iterates that converged outside the bounds or ran more than a width out of
        # them are not retried: hybr, Newton with a trust region, goes the same way (at the
        # cost of up to hundreds of evaluations of g)
        inside = np.all((points >= lo - width) & (points <= hi + width), axis=1)
        settled = converged & np.all(np.isfinite(g(points)), axis=1)
        gone = (converged & settled & ~good) | (~converged & ~inside)
        for start, point, ok, away in zip(starts, points, good, gone, strict=True):
            if away:
                continue
            if not ok:  # Newton stalled here, or its root failed a check: hybr
                point = root(g, start, jac=jac, method="hybr").x
                if not accepted(point[None])[0]:
                    continue
            keep(point)
    found.sort(key=lambda q: tuple(np.round(q, 9)))
    return tuple(_equilibrium(system, _clean(q, width), t) for q in found)


NEWTON_ITERATIONS = 25
"""Damped Newton iterations :func:`newton_batch` makes at most (converging ones take 5 to 10)."""


def newton_batch(
    system: System,
    starts: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    t: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Damped Newton on G(s) = g(t, s, 0) (f(s) - s for a map) from every row of ``starts``
    (m, n) at once; returns the last iterates (m, n) and which of them converged (m,).

    Each iteration solves J(s) d = -G(s) for every row (J from the system's Jacobian, else
    centred differences of the batch), shrinks d so no component exceeds the width of
    ``bounds`` (lo, hi), and halves it up to 6 times until |G| decreases:  s <- s + λ d.  A
    row converges when a full step is below 1e-12 of |s| (at least 1); a singular J, a step
    that no halving makes better, or an iterate more than a width outside the bounds stops
    it.  For parameters given as arrays (a batch of systems) nothing converges: the
    caller's one-start-at-a-time method takes over.
    """
    s = np.array(starts, dtype=np.float64)
    lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
    width = hi - lo
    m = len(s)
    converged = np.zeros(m, dtype=bool)
    if any(np.ndim(v) for v in system.params.values()):
        return s, converged
    g = _residual_function(system, t)
    active = np.ones(m, dtype=bool)
    with np.errstate(all="ignore"):
        residual = g(s)
        for _ in range(NEWTON_ITERATIONS):
            near = np.all((s >= lo - width) & (s <= hi + width), axis=1)
            active &= near & np.all(np.isfinite(residual), axis=1)
            rows = np.flatnonzero(active)
            if not len(rows):
                break
            step, solved = _newton_steps(system, g, s[rows], residual[rows], t)
            active[rows[~solved]] = False
            rows, step = rows[solved], step[solved]
            big = np.max(np.abs(step) / width, axis=1)
            step *= np.minimum(1.0, 1.0 / np.where(big > 0, big, 1.0))[:, None]
            done = np.all(np.abs(step) <= 1e-12 * np.maximum(1.0, np.abs(s[rows])), axis=1)
            converged[rows[done]] = True
            active[rows[done]] = False
            rows, step = rows[~done], step[~done]
            norm = np.linalg.norm(residual[rows], axis=1)
            lam = np.ones(len(rows))
            pending = np.ones(len(rows), dtype=bool)
            for _halving in range(7):
                k = np.flatnonzero(pending)
                if not len(k):
                    break
                trial = s[rows[k]] + lam[k, None] * step[k]
                value = g(trial)
                better = np.linalg.norm(value, axis=1) < norm[k]
                accepted = rows[k[better]]
                s[accepted], residual[accepted] = trial[better], value[better]
                pending[k[better]] = False
                lam[k[~better]] /= 2
            active[rows[pending]] = False  # no halving helped: Newton stalls here
    return s, converged


def _newton_steps(system, g, s, residual, t) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps d with J(s) d = -G(s) for each row, and which rows J could be solved for."""
    if system.jacobian is not None:
        jac = np.asarray(system.jacobian(t, s, system.params), dtype=np.float64)
        jac = np.broadcast_to(jac, (*s.shape, s.shape[1]))
        if system.kind == "map":
            jac = jac - np.eye(s.shape[1])
    else:
        h = 1e-6 * np.maximum(1.0, np.abs(s))
        columns = []
        for i in range(s.shape[1]):
            d = np.zeros_like(s)
            d[:, i] = h[:, i]
            columns.append((g(s + d) - g(s - d)) / (2 * h[:, i, None]))
        jac = np.stack(columns, axis=-1)
    ok = np.all(np.isfinite(jac), axis=(1, 2))
    step = np.zeros_like(s)
    try:
        step[ok] = np.linalg.solve(jac[ok], -residual[ok][..., None])[..., 0]
    except np.linalg.LinAlgError:  # some J singular: row by row, the singular ones stopped
        for i in np.flatnonzero(ok):
            try:
                step[i] = np.linalg.solve(jac[i], -residual[i])
            except np.linalg.LinAlgError:
                ok[i] = False
    return step, ok & np.all(np.isfinite(step), axis=1)


def _equilibrium(system: System, point: np.ndarray, t: float) -> Equilibrium:
    eig = np.linalg.eigvals(jacobian_at(system, point, t))
    eig = eig[np.lexsort((eig.imag, eig.real))]
    return Equilibrium(point, eig, classify(eig, discrete=system.kind == "map"))


def _newton_close(system: System, g, point: np.ndarray, t: float, width: np.ndarray) -> bool:
    """Whether a Newton step from ``point`` stays within 1e-6 of its scale: far from the
    origin a residual can be small by cancellation alone (g = y, mu (1 - x²) y - x at
    x = 1e11), where the step shows how far the root really is."""
    jac = jacobian_at(system, point, t)
    if system.kind == "map":
        jac = jac - np.eye(len(point))
    if not np.all(np.isfinite(jac)):
        return False
    try:  # not lstsq: it would drop the direction of the small singular value, the telling one
        step = np.linalg.solve(jac, g(point))
    except np.linalg.LinAlgError:  # singular (a non-hyperbolic point): the least-squares step
        step = np.linalg.lstsq(jac, g(point), rcond=None)[0]
    return bool(np.all(np.abs(step) <= 1e-6 * _scale(point, width)))


def _scale(point: np.ndarray, width: np.ndarray) -> np.ndarray:
    """The size a coordinate is measured against: the point's own (at least 1), or the width
    of the bounds when that is smaller (wide bounds must not merge nearby points)."""
    return np.minimum(width, np.maximum(1.0, np.abs(point)))


def _clean(point: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Round coordinates within 1e-12 of their scale to zero (-0.0 and 1e-17 become 0)."""
    out = np.where(np.abs(point) <= 1e-12 * np.minimum(width, 1.0), 0.0, point)
    out.setflags(write=False)
    return out


def _residual_function(system: System, t: float):
    """s -> g(t, s, x = 0) for an ODE, s -> f(s) - s for a map."""
    p = system.params
    if system.kind == "map":
        return lambda s: system.next(t, s, p) - s
    x = np.float64(0.0) if system.driven else None
    return lambda s: system.rhs(t, s, x, p)


def _residual_jacobian(system: System, t: float):
    if system.jacobian is None:
        return None
    p = system.params
    if system.kind == "map":
        eye = np.eye(system.n_states)
        return lambda s: system.jacobian(t, s, p) - eye
    return lambda s: system.jacobian(t, s, p)
