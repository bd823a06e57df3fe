"""Fixed points and periodic orbits of maps, with their multipliers.

A point x of period p of a map f solves F(x) = f^p(x) - x = 0 and no f^k(x) = x for a k < p
dividing p.  Newton's method x <- x - (J_p(x) - I)^-1 F(x) runs from many starting points at
once, with the Jacobian of the p-th iterate by the chain rule along the orbit
x_0 = x, x_{k+1} = f(x_k)::

    J_p(x) = Df(x_{p-1}) Df(x_{p-2}) ... Df(x_0)

The eigenvalues μ of J_p (the multipliers) give the orbit's stability: every |μ| < 1 stable,
every |μ| > 1 unstable, both kinds a saddle, some |μ| = 1 (to 1e-9) non-hyperbolic.  Every
point of an orbit has the same multipliers (the products are cyclic permutations).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checks
from .errors import InputError
from .systems.base import System

MAX_PERIOD = 64
"""The longest period searched (f^p of a chaotic map loses every digit beyond)."""
NEWTON_ITERATIONS = 60
RESIDUAL = 1e-10
"""|f^p(x) - x| (relative to max(1, |x|)) below which a Newton end is a periodic point."""
SAME = 1e-7
"""Points closer than this (relative to max(1, |x|), max norm) are one point."""


@dataclass(frozen=True, eq=False)
class PeriodicOrbit:
    """An orbit of period ``period``: its points (period, n) in the order the map visits them,
    starting from the smallest (by coordinates), the multipliers (n,) (eigenvalues of the
    Jacobian of f^period, sorted by modulus) and its ``kind``: "stable", "unstable", "saddle"
    or "non-hyperbolic"."""

    period: int
    points: np.ndarray
    multipliers: np.ndarray
    kind: str

    @property
    def stable(self) -> bool:
        return self.kind == "stable"

    def __repr__(self) -> str:
        pts = "; ".join(", ".join(f"{v:.6g}" for v in q) for q in self.points)
        return f"PeriodicOrbit(period {self.period}, [{pts}], {self.kind})"


def orbit_kind(multipliers: Sequence[complex], tol: float = 1e-9) -> str:
    """'stable' (all |μ| < 1), 'unstable' (all > 1), 'saddle' (both) or 'non-hyperbolic'.

    >>> orbit_kind([0.16]), orbit_kind([-1.2]), orbit_kind([-3.0, 0.1])
    ('stable', 'unstable', 'saddle')
    """
    size = np.abs(np.asarray(multipliers, dtype=np.complex128))
    if np.any(np.abs(size - 1) <= tol):
        return "non-hyperbolic"
    if np.all(size < 1):
        return "stable"
    if np.all(size > 1):
        return "unstable"
    return "saddle"


def periodic_orbits(
    system: System,
    period: int = 1,
    *,
    box: Sequence[tuple[float, float]] | None = None,
    n_starts: int = 400,
    seed: int = 0,
) -> list[PeriodicOrbit]:
    """Every orbit of exactly ``period`` found by Newton's method on f^period(x) - x from
    ``n_starts`` points drawn uniformly in ``box`` (one (lo, hi) per state) with
    ``numpy.random.default_rng(seed)``, and kept when a point of the orbit lies in the box.

    The default box is that of 200 iterates of the map from its ``default_s0``, widened by
    its width (at least 1) on each side.  Each orbit is listed once, sorted by its first point.
    """
    if not isinstance(system, System) or system.kind != "map":
        name = getattr(system, "name", type(system).__name__)
        raise InputError(f"system must be a discrete map for periodic orbits, got {name}")
    if system.batch_size is not None:
        raise InputError("periodic orbits need one value per parameter, not a batch")
    period = checks.integer("period", period)
    if period > MAX_PERIOD:
        raise InputError(f"period must be a whole number from 1 to {MAX_PERIOD}, got {period}")
    n_starts = checks.integer("n_starts", n_starts)
    checks.within_steps(
        n_starts * period * NEWTON_ITERATIONS, "the periodic orbit search", "use fewer starts"
    )
    n = system.n_states
    lo, hi = _box(system, box)
    rng = np.random.default_rng(checks.integer("seed", seed, minimum=0))
    x = lo + (hi - lo) * rng.random((n_starts, n))
    points = _newton(system, x, period, hi - lo)
    orbits: list[PeriodicOrbit] = []
    seen: list[np.ndarray] = []
    for point in points:
        orbit = iterate(system, point, period)
        if not np.any(np.all((orbit >= lo) & (orbit <= hi), axis=-1)):
            continue
        if _smaller_period(system, point, period):
            continue
        first = orbit[np.lexsort(orbit.T[::-1])[0]]
        if any(_close(first, q) for q in seen):
            continue
        seen.append(first)
        start = int(np.flatnonzero(np.all(orbit == first, axis=-1))[0])
        orbit = np.roll(orbit, -start, axis=0)
        mult = np.linalg.eigvals(jacobian_of_iterate(system, orbit[0], period))
        mult = mult[np.argsort(np.abs(mult), kind="stable")]
        mult = mult.real if np.all(mult.imag == 0) else mult
        orbits.append(PeriodicOrbit(period, orbit, mult, orbit_kind(mult)))
    orbits.sort(key=lambda o: tuple(o.points[0]))
    return orbits


def iterate(system: System, x: np.ndarray, count: int) -> np.ndarray:
    """The orbit x_0 = x, ..., x_{count-1}: (count, n), or (..., count, n) for x (..., n)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((*x.shape[:-1], count, x.shape[-1]))
    with np.errstate(all="ignore"):
        for k in range(count):
            out[..., k, :] = x
            x = system.next(k, x, system.params)
    return out


def jacobian_of_iterate(system: System, x: np.ndarray, period: int) -> np.ndarray:
    """J_p(x) = Df(x_{p-1}) ... Df(x_0) (..., n, n), by the chain rule along the orbit."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    out = np.broadcast_to(np.eye(n), (*x.shape[:-1], n, n)).copy()
    with np.errstate(all="ignore"):
        for k in range(period):
            out = _jacobian(system, k, x) @ out
            x = system.next(k, x, system.params)
    return out


def _jacobian(system: System, k: int, x: np.ndarray) -> np.ndarray:
    """Df at x (..., n, n): the map's own, else centred differences."""
    if system.jacobian is not None:
        return np.asarray(system.jacobian(k, x, system.params), dtype=np.float64)
    n = x.shape[-1]
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    cols = []
    for i in range(n):
        d = np.zeros_like(x)
        d[..., i] = h[..., i]
        fp, fm = system.next(k, x + d, system.params), system.next(k, x - d, system.params)
        cols.append((fp - fm) / (2 * h[..., i, None]))
    return np.stack(cols, axis=-1)


def _newton(system: System, x: np.ndarray, period: int, width: np.ndarray) -> np.ndarray:
    """Newton on f^p(x) - x from every row of x (m, n); returns the converged ends."""
    n = x.shape[-1]
    eye = np.eye(n)
    with np.errstate(all="ignore"):
        for _ in range(NEWTON_ITERATIONS):
            f = iterate(system, x, period + 1)[..., -1, :] - x
            jac = jacobian_of_iterate(system, x, period) - eye
            ok = np.all(np.isfinite(f), axis=-1) & np.all(np.isfinite(jac), axis=(-2, -1))
            ok &= np.abs(np.linalg.det(np.where(ok[:, None, None], jac, eye))) > 1e-300
            x, f, jac = x[ok], f[ok], jac[ok]
            if len(x) == 0:
                return x
            step = np.linalg.solve(jac, f[..., None])[..., 0]
            step = np.clip(step, -width, width)  # no jump far outside the box
            x = x - step
        f = iterate(system, x, period + 1)[..., -1, :] - x
        good = np.all(np.abs(f) <= RESIDUAL * np.maximum(1.0, np.abs(x)), axis=-1)
    return x[good]


def _smaller_period(system: System, point: np.ndarray, period: int) -> bool:
    """Whether f^k(point) = point for a proper divisor k of ``period``."""
    orbit = iterate(system, point, period + 1)
    divisors = (k for k in range(1, period) if period % k == 0)
    return any(_close(orbit[k], point, 1e3 * SAME) for k in divisors)


def _close(a: np.ndarray, b: np.ndarray, tol: float = SAME) -> bool:
    return bool(np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))))


def _box(system: System, box: Any) -> tuple[np.ndarray, np.ndarray]:
    n = system.n_states
    if box is None:
        orbit = iterate(system, np.array(system.default_s0, dtype=np.float64), 200)
        orbit = orbit[np.all(np.isfinite(orbit), axis=-1)]
        lo, hi = orbit.min(axis=0), orbit.max(axis=0)
        pad = np.maximum(hi - lo, 1.0)
        return lo - pad, hi + pad
    try:
        pairs = np.array(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"box must give (lo, hi) for each of the {n} states") from None
    if pairs.shape != (n, 2):
        raise InputError(f"box must give (lo, hi) for each of the {n} states of {system.name}")
    lo, hi = pairs.T
    if not np.all(np.isfinite(pairs)) or not np.all(lo < hi):
        raise InputError(f"box must hold finite pairs (lo, hi) with lo < hi, got {box!r}")
    return lo, hi
