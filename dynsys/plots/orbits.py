"""The trajectories a figure draws: solve_ivp references, steppers' runs, stroboscopic samples.

Pure computation on top of :func:`dynsys.reference` and :func:`dynsys.simulate`; nothing here
touches matplotlib.  A stepper that leaves the finite numbers is kept up to its last finite
step (and named in ``diverged``), since "explicit Euler blew up at t = 31" is worth drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from .. import checks
from ..errors import DivergenceError, InputError, SolverError
from ..reference import default_method, reference, stacked_jacobian
from ..simulate import simulate
from ..steppers import REFERENCE_METHOD, get_stepper
from ..systems.base import System
from . import checks as plot_checks

RTOL, ATOL = 1e-9, 1e-11
"""Tolerances of the reference for drawing: far below a line's width, and quick."""
EVALUATIONS_PER_STEP = 3
"""Evaluations of the vector field that the solve_ivp reference of a figure may need per step
of the figure ceiling (3,000,000 at the default 1,000,000 steps: one to three minutes),
estimated by :func:`check_reference` before it runs."""
PROBE = 2_000
"""Evaluations of the vector field that the probe of :func:`check_reference` spends at most."""


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


def check_size(
    system: System,
    t_span: tuple[float, float],
    dt: float,
    *,
    what: str,
    references: int = 0,
    runs: int = 0,
    panels: int = 1,
    extra: int = 0,
) -> None:
    """Refuse, before anything is computed, a figure of ``references`` solve_ivp trajectories
    on the :func:`drawing_grid` and ``runs`` stepper runs (or orbits of a map) with step dt over
    t_span, each drawn in ``panels`` panels, and ``extra`` more points (a Poincaré section):
    its steps against :func:`~dynsys.plots.checks.max_figure_steps`, its memory against the memory
    ceiling.  The one-line refusal names dt and t_end and what would fit."""
    is_map = system.kind == "map"
    t0, t_end, dt, n = plot_checks.grid(t_span, 1.0 if is_map else dt)
    times = plot_checks.drawn_times(n) if references else 0
    points = references * times + runs * (n + 1) + extra
    n_bytes = 8 * plot_checks.STATE_COPIES * points * system.n_states
    n_bytes += plot_checks.POINT_BYTES * points * panels
    over = f"over t_end - t0 = {t_end - t0:g}" + ("" if is_map else f" with dt={dt:g}")
    plot_checks.figure_size(
        f"{what} {over}",
        steps=runs * n,
        n_bytes=n_bytes,
        advice=plot_checks.shorter(t0, t_end, dt, n, runs, is_map),
        memory_advice=(
            "take a shorter t_end"
            + ("" if is_map else " or a larger dt")
            + " (or fewer trajectories)"
        ),
    )


class _Enough(Exception):
    """The probe of :func:`check_reference` spent its evaluations."""


class _Escapes(Exception):
    """The probe of :func:`check_reference` met a state that is not finite."""


def check_reference(
    system: System, starts: np.ndarray, t_span: tuple[float, float], what: str
) -> None:
    """Refuse a reference from ``starts`` (m, n), solved together, that would need more than
    :data:`EVALUATIONS_PER_STEP` evaluations of the vector field over t_span for each step of
    the figure step ceiling (:func:`~dynsys.plots.checks.max_figure_steps`).

    The work of solve_ivp depends on the system (its time scales, its stiffness), not on any
    grid, so a probe solves from t0 until it has spent :data:`PROBE` evaluations and the
    estimate is PROBE times the span over the part it covered.  A span the probe finishes is
    cheap; a probe that fails leaves the failure to the solve itself.
    """
    if system.kind == "map":
        return
    t0, t_end = checks.time_span(t_span)
    y0 = np.asarray(starts, dtype=np.float64).reshape(-1)
    shape = (-1, system.n_states)
    params, forcing = system.params, system.forcing
    reached, calls = [t0], [0]

    def fun(t, y):
        calls[0] += 1
        if calls[0] > PROBE:
            raise _Enough
        if not np.all(np.isfinite(y)):  # it escapes: the solve stops there at once
            raise _Escapes
        reached[0] = max(reached[0], t)
        x = forcing(t, params) if forcing is not None else None
        return system.rhs(t, y.reshape(shape), x, params).reshape(-1)

    method = default_method(system)
    jac = stacked_jacobian(system, params, (len(y0) // system.n_states, system.n_states), method)
    try:
        with np.errstate(all="ignore"):
            options = {"jac": jac} if jac is not None else {}
            solve_ivp(fun, (t0, t_end), y0, method=method, rtol=RTOL, atol=ATOL, **options)
        return
    except _Enough:
        pass
    except (_Escapes, ArithmeticError, ValueError):
        return  # the solve itself stops there, or reports it
    covered = reached[0] - t0
    if covered <= 0:
        return  # no progress at all: the solve fails at once and says so
    rate = PROBE / covered
    limit = EVALUATIONS_PER_STEP * plot_checks.max_figure_steps()
    if rate * (t_end - t0) <= limit:
        return
    most = t0 + limit / rate
    raise InputError(
        f"{what}: solve_ivp would need about {rate * (t_end - t0):.2g} evaluations of the vector "
        f"field to reach t_end={t_end:g} ({rate:.3g} per unit of time from t0={t0:g}), more "
        f"than the {plot_checks.count(limit)} a figure takes ({checks.RAISE_STEPS}); "
        f"take t_end <= {most:.3g}"
    )


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


def section_count(t_span: tuple[float, float], period: float) -> int:
    """K, the forcing periods in t_span: the section has the K + 1 points s(t0 + k T)."""
    t0, t_end = checks.time_span(t_span)
    periods = (t_end - t0) / period + 1e-9
    if periods < 2:
        raise InputError(
            f"a Poincaré section needs t_end - t0 >= 2 forcing periods "
            f"(2 x {period:.4g}), got {t_end - t0:g}"
        )
    return int(periods) if periods < 2.0**53 else 2**53


def section_times(t_span: tuple[float, float], period: float) -> np.ndarray:
    """t0 + k T, k = 0..K: the times of the Poincaré section."""
    t0 = checks.time_span(t_span)[0]
    count = section_count(t_span, period)
    plot_checks.figure_size(
        f"a Poincaré section of {plot_checks.count(count + 1)} points",
        n_bytes=8 * plot_checks.STATE_COPIES * (count + 1),
        advice="take a shorter t_end or a longer forcing period",
    )
    return t0 + period * np.arange(count + 1)


def stroboscopic(
    system: System, s0: np.ndarray, t_span: tuple[float, float], period: float
) -> np.ndarray:
    """The states s(t0 + k T), k = 0..K (the Poincaré section), from the reference: (K+1, n)."""
    t = section_times(t_span, period)
    return reference(system, s0, t, rtol=RTOL, atol=ATOL).states


def merged(t: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of two increasing grids, and where each of them lies in it, so that one
    solve_ivp call gives the states on both."""
    both = np.union1d(t, extra)
    return both, np.searchsorted(both, t), np.searchsorted(both, extra)


def box(points: np.ndarray, pad: float = 0.08) -> list[tuple[float, float]]:
    """Per state (lo, hi) of the finite points (..., n), padded by ``pad`` of the width; a flat
    direction gets width 2 (or 2 |value| / 5 away from 0).  Clipped to the limits a figure can
    draw (:data:`dynsys.plots.checks.LIMIT`)."""
    return [plot_checks.clip_limits(lim) for lim in _box(points, pad)]


def _box(points: np.ndarray, pad: float) -> list[tuple[float, float]]:
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
