"""The trajectories a figure draws: solve_ivp references, steppers' runs, stroboscopic samples.

Pure computation on top of :func:`dynsys.reference` and :func:`dynsys.simulate`; nothing here
touches matplotlib.  A stepper that leaves the finite numbers is kept up to its last finite
step (and named in ``diverged``), since "explicit Euler blew up at t = 31" is worth drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import checks
from ..errors import DivergenceError, InputError, SolverError
from ..reference import reference
from ..simulate import simulate
from ..steppers import REFERENCE_METHOD, get_stepper
from ..systems.base import System

RTOL, ATOL = 1e-9, 1e-11
"""Tolerances of the reference for drawing: far below a line's width, and quick."""


@dataclass(frozen=True)
class Orbits:
    """Reference trajectories on the grid ``t``: ``states`` (k, time, n) for the k starts that
    solve_ivp carried to the end, ``solved`` (m,) which of the m starts those were; the others
    escaped to infinity."""

    t: np.ndarray
    states: np.ndarray
    solved: np.ndarray

    @property
    def failed(self) -> int:
        return int(np.sum(~self.solved))


@dataclass(frozen=True)
class Run:
    """One method's trajectory from one initial state; ``diverged_at`` is the time of the first
    state that is not finite (None when it stayed finite)."""

    method: str
    t: np.ndarray
    states: np.ndarray
    diverged_at: float | None


def time_grid(t_span: tuple[float, float], dt: float) -> np.ndarray:
    """t0 + n dt, n = 0..N, as :func:`dynsys.simulate` steps it."""
    t0, t_end = checks.time_span(t_span)
    dt = checks.positive_number("dt", dt)
    return t0 + np.arange(checks.step_count(t0, t_end, dt) + 1) * dt


def drawing_grid(t_span: tuple[float, float], dt: float, points: int = 2000) -> np.ndarray:
    """The grid of :func:`time_grid` refined by a whole factor until it has about ``points``
    times, so a reference drawn beside a coarse method is a smooth curve through its times."""
    t = time_grid(t_span, dt)
    factor = max(1, int(np.ceil(points / (len(t) - 1))))
    if factor == 1:
        return t
    fine = (t[:-1, None] + np.diff(t)[:, None] * np.arange(factor) / factor).ravel()
    return np.append(fine, t[-1])


def reference_orbits(system: System, starts: np.ndarray, t: np.ndarray) -> Orbits:
    """solve_ivp from each start (m, n) on ``t``: all in one stacked call, or one by one when
    that fails, dropping the starts whose solution escapes."""
    starts = np.asarray(starts, dtype=np.float64).reshape(-1, system.n_states)
    try:
        ref = reference(system, starts, t, rtol=RTOL, atol=ATOL, stack=True)
        return Orbits(t, ref.states, np.ones(len(starts), dtype=bool))
    except SolverError:
        pass
    kept, solved = [], np.zeros(len(starts), dtype=bool)
    for k, start in enumerate(starts):
        try:
            kept.append(reference(system, start, t, rtol=RTOL, atol=ATOL).states)
        except SolverError:
            continue
        solved[k] = True
    states = np.stack(kept) if kept else np.empty((0, len(t), system.n_states))
    return Orbits(t, states, solved)


def run_method(
    system: System, s0: np.ndarray, t_span: tuple[float, float], dt: float, method: str
) -> Run:
    """``method`` (a stepper or 'solve_ivp') from ``s0`` (n,) with step dt."""
    if method == REFERENCE_METHOD:
        ref = reference(system, s0, drawing_grid(t_span, dt), rtol=RTOL, atol=ATOL)
        return Run(method, ref.t, ref.states, None)
    get_stepper(method, system)
    try:
        traj = simulate(system, s0, t_span=t_span, dt=dt, method=method)
    except DivergenceError as err:
        part = err.partial
        return Run(method, part.t, part.states, float(err.t))
    return Run(method, traj.t, traj.states, None)


def with_reference(methods: tuple[str, ...]) -> tuple[str, ...]:
    """solve_ivp first (drawn underneath), then the other methods in the order given."""
    return (REFERENCE_METHOD, *(m for m in methods if m != REFERENCE_METHOD))


def forcing_period(system: System, period: float | None = None) -> float:
    """The period 2π/omega of the drive (from the parameter 'omega'), or ``period`` if given."""
    if not system.driven:
        raise InputError(f"a Poincaré section needs a driven system; {system.name} is not driven")
    if period is not None:
        return checks.positive_number("period", period)
    if "omega" not in system.params:
        raise InputError(
            f"{system.name} has no parameter 'omega'; give the forcing period (period=...)"
        )
    omega = float(system.params["omega"])
    if omega <= 0:
        raise InputError(
            f"a Poincaré section needs a periodic drive: omega must be > 0, got {omega:g}"
        )
    return 2 * np.pi / omega


def stroboscopic(
    system: System, s0: np.ndarray, t_span: tuple[float, float], period: float
) -> np.ndarray:
    """The states s(t0 + k T), k = 0..K (the Poincaré section), from the reference: (K+1, n)."""
    t0, t_end = checks.time_span(t_span)
    count = int(np.floor((t_end - t0) / period + 1e-9))
    if count < 2:
        raise InputError(
            f"a Poincaré section needs t_end - t0 >= 2 forcing periods "
            f"(2 x {period:.4g}), got {t_end - t0:g}"
        )
    t = t0 + period * np.arange(count + 1)
    return reference(system, s0, t, rtol=RTOL, atol=ATOL).states


def box(points: np.ndarray, pad: float = 0.08) -> list[tuple[float, float]]:
    """Per state (lo, hi) of the finite points (..., n), padded by ``pad`` of the width; a flat
    direction gets width 2 (or 2 |value| / 5 away from 0)."""
    flat = points.reshape(-1, points.shape[-1])
    flat = flat[np.all(np.isfinite(flat), axis=1)]
    if not len(flat):
        return [(-1.0, 1.0)] * points.shape[-1]
    out = []
    for lo, hi in zip(flat.min(axis=0), flat.max(axis=0), strict=True):
        width = hi - lo
        if width <= 1e-9 * max(1.0, abs(lo), abs(hi)):
            half = max(1.0, abs(lo) / 5)
            out.append((float(lo - half), float(hi + half)))
        else:
            out.append((float(lo - pad * width), float(hi + pad * width)))
    return out
