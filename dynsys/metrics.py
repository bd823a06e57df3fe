"""How far a trajectory is from a reference: error metrics, energy error and energy drift."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import InputError
from .trajectory import Trajectory


@dataclass(frozen=True)
class ErrorMetrics:
    """Errors of y against y_ref over every time, state and batch member.

    max_abs_error = max |y - y_ref|;  rmse = sqrt(mean (y - y_ref)^2);
    rel_l2 = ||y - y_ref||_2 / ||y_ref||_2;  final_abs_error = max |y(t_end) - y_ref(t_end)|.
    With ``per_trajectory=True`` each field is an array over the batch instead.
    """

    max_abs_error: float | np.ndarray
    rmse: float | np.ndarray
    rel_l2: float | np.ndarray
    final_abs_error: float | np.ndarray

    def to_dict(self) -> dict:
        """Plain numbers, JSON-ready; a non-finite value (an overflowing method) becomes None."""
        return {k: finite_or_none(np.asarray(v).tolist()) for k, v in asdict(self).items()}


def error_metrics(y, y_ref, *, per_trajectory: bool = False) -> ErrorMetrics:
    """Compare arrays of shape (..., time, n); reduce over everything or over (time, n)."""
    y, y_ref = np.asarray(y, dtype=np.float64), np.asarray(y_ref, dtype=np.float64)
    if y.shape != y_ref.shape:
        raise InputError(f"cannot compare shapes {y.shape} and {y_ref.shape}")
    axes = (-2, -1) if per_trajectory else None
    count = y.size if axes is None else y.shape[-2] * y.shape[-1]
    with np.errstate(all="ignore"):  # inf in, inf or nan out (None in to_dict), no warning
        err = y - y_ref
        err_norm = _l2(err, axes)
        return ErrorMetrics(
            max_abs_error=_out(np.max(np.abs(err), axis=axes)),
            rmse=_out(err_norm / np.sqrt(count)),
            rel_l2=_out(err_norm / _l2(y_ref, axes)),
            final_abs_error=_out(
                np.max(np.abs(err[..., -1, :]), axis=-1 if per_trajectory else None)
            ),
        )


def trajectory_errors(traj: Trajectory, ref: Trajectory | np.ndarray, **kw) -> ErrorMetrics:
    """:func:`error_metrics` of ``traj.states`` against a reference on the same grid."""
    if isinstance(ref, Trajectory):
        if ref.t.shape != traj.t.shape or not np.allclose(ref.t, traj.t, rtol=0, atol=1e-9):
            raise InputError("the trajectory and its reference are not on the same time grid")
        ref = ref.states
    return error_metrics(traj.states, ref, **kw)


def energy_drift(traj: Trajectory) -> float | None:
    """max |E(t) - E(t0)| over the run: zero for an exact solution of a conservative system;
    None where the energy is not defined along the run (Lotka-Volterra's log of a population a
    method drove below zero)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # diverging: inf
        energy = traj.energy()
        drift = np.abs(energy - energy[..., :1])
    if np.isnan(drift).any():
        return None
    return float(np.max(drift))


def energy_error(traj: Trajectory, ref: Trajectory) -> float | None:
    """The energy error of ``traj`` against a reference on the same grid:
    max_t |E(traj, t) - E(ref, t)| / max_t |E(ref, t)| over the kept times (each batch member
    scaled by its own reference energy, then the largest member; unscaled where the reference
    energy is zero throughout).  For a conservative system this is the method's energy drift;
    for a driven or damped one it leaves out the physical change of energy that both share.
    None where the energy is not defined along either run (Lotka-Volterra's log of a population
    a method drove below zero)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # diverging: inf
        energy, reference = traj.energy(), ref.energy()
        scale = np.max(np.abs(reference), axis=-1, keepdims=True)
        error = np.abs(energy - reference) / np.where(scale > 0, scale, 1.0)
    if np.isnan(error).any():
        return None
    return float(np.max(error))


def observed_order(dt, error) -> float | None:
    """Least-squares slope of log(error) against log(dt); None with fewer than two errors > 0."""
    dt, error = np.asarray(dt, dtype=np.float64), np.asarray(error, dtype=np.float64)
    ok = (error > 0) & np.isfinite(error)
    if ok.sum() < 2:
        return None
    return float(np.polyfit(np.log(dt[ok]), np.log(error[ok]), 1)[0])


def _l2(a: np.ndarray, axes) -> np.ndarray:
    """sqrt(sum a^2) over ``axes``, scaled by max |a| so that squares of finite values (a
    diverging method can reach 1e200) do not overflow."""
    scale = np.max(np.abs(a), axis=axes, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    return np.sqrt(np.sum((a / scale) ** 2, axis=axes)) * np.squeeze(scale, axis=axes)


def finite_or_none(value):
    """A number, or a list of them, with inf and nan replaced by None (strict JSON has neither)."""
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value if value is None or np.isfinite(value) else None


def _out(value):
    return float(value) if np.ndim(value) == 0 else value
