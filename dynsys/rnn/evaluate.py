"""A fitted RNN against the reference and against steppers at the same step h.

Valid prediction time (as in reservoir computing, Pathak et al. 2018): with the normalised
error

    e(t) = ||pred(t) - ref(t)|| / sqrt(mean over t of ||ref(t)||^2)

(norms over the states, the mean over the times of the trajectory), the valid time of a
trajectory is t* - t_0 for the first time t* with e(t*) > threshold (0.4 by default); the full
horizon t_end - t_0 when e never exceeds it.  A value that is not finite counts as exceeding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from .. import checks
from ..errors import DivergenceError, InputError
from ..metrics import error_metrics, finite_or_none
from ..simulate import simulate
from ..steppers import get_stepper
from ..systems.base import System
from ..tables import number, table
from .data import Dataset, Normalizer, pad_initial_state

DEFAULT_METHODS = ("euler", "semi_implicit_euler", "rk4")
METRICS = ("rel_l2", "rmse", "max_abs_error", "valid_time")


class Predictor(Protocol):
    """Anything with ``predict(X, h0=None) -> (batch, time, n_out)``."""

    def predict(self, X: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray: ...


class ValidTime(NamedTuple):
    """The valid prediction time: its mean over the batch, and each trajectory's (shape (...))."""

    mean: float
    per_trajectory: np.ndarray


def valid_prediction_time(pred, ref, t, threshold: float = 0.4) -> ValidTime:
    """Time until e(t) = ||pred - ref|| / sqrt(mean_t ||ref||^2) first exceeds ``threshold``.

    ``pred`` and ``ref`` have shape (..., time, n), ``t`` shape (time,).  A trajectory whose
    error never exceeds the threshold is valid for the whole horizon t[-1] - t[0].
    """
    pred, ref = np.asarray(pred, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    threshold = checks.positive_number("threshold", threshold)
    if pred.shape != ref.shape or pred.ndim < 2:
        raise InputError(
            f"pred and ref must have one shape (..., time, n), got {pred.shape} and {ref.shape}"
        )
    if t.shape != pred.shape[-2:-1]:
        raise InputError(f"t must have shape ({pred.shape[-2]},) like the time axis, got {t.shape}")
    with np.errstate(all="ignore"):  # a diverged prediction: inf or nan, counted as exceeding
        scale = np.sqrt(np.mean(np.sum(ref**2, axis=-1), axis=-1, keepdims=True))
        e = np.linalg.norm(pred - ref, axis=-1) / scale
    exceeded = ~(e <= threshold)
    first = np.argmax(exceeded, axis=-1)
    valid = np.where(exceeded.any(axis=-1), t[first], t[-1]) - t[0]
    return ValidTime(float(np.mean(valid)), valid)


@dataclass(frozen=True)
class Evaluation:
    """Errors of the RNN rollout and of each stepper against the reference, on one split.

    ``rows`` maps a name (``rnn``, then the steppers) to its rel_l2, rmse, max_abs_error and
    valid_time (inf for a method that diverged, named in ``diverged``); ``valid_times`` holds
    each row's per-sequence valid times.
    """

    rows: dict[str, dict[str, float]]
    split: str
    horizon: float
    h: float
    threshold: float
    n_sequences: int
    diverged: dict[str, str] = field(default_factory=dict)
    valid_times: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """{split: {name: {rel_l2, rmse, max_abs_error, valid_time}}}, non-finite values None."""
        return {
            self.split: {
                name: {k: finite_or_none(float(v)) for k, v in row.items()}
                for name, row in self.rows.items()
            }
        }

    def table(self) -> str:
        """The rows as an aligned text table, with the valid-time definition under it."""
        rows = [
            [name, *(number(finite_or_none(row[k])) for k in METRICS[:3]), _time(row)]
            for name, row in self.rows.items()
        ]
        notes = [
            f"{self.split}: {self.n_sequences} sequences, h = {self.h:g}, horizon {self.horizon:g}",
            f"valid_time: until ||pred - ref|| / rms ||ref|| > {self.threshold:g}",
            *(f"{name} diverged: {message}" for name, message in self.diverged.items()),
        ]
        return "\n".join([table(["method", *METRICS], rows), *notes])


def _time(row: dict[str, float]) -> str:
    value = finite_or_none(row["valid_time"])
    return "-" if value is None else f"{value:g}"


def rollout_table(
    model: Predictor,
    dataset: Dataset,
    normalizer: Normalizer | None = None,
    system: System | None = None,
    h: float | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    threshold: float = 0.4,
    split: str = "test",
) -> Evaluation:
    """Free-running rollout of ``model`` on ``dataset``, and each stepper at the same step h.

    The model gets the inputs (and, for step_map, h0 = s(t_k)) normalised by ``normalizer``
    (None: the model works in physical units); its outputs are mapped back.  For step_map the
    rollout is s(t_k) followed by the L predicted states.  Each stepper runs
    :func:`dynsys.simulate` from the same initial states with the same parameters, step h.
    Everything is compared with the dataset's solve_ivp states on its grid.  ``system``
    (default: the spec's) and ``h`` (default: the spec's, and it must be that) are optional.
    """
    spec = dataset.spec
    if dataset.normalized:
        if normalizer is None:
            raise InputError("the dataset is normalised: give the normalizer to map it back")
        dataset = normalizer.inverse(dataset)
    if h is not None and not np.isclose(checks.positive_number("h", h), spec.h, rtol=1e-12):
        raise InputError(f"h must be the dataset's step {spec.h:g}, got {h!r}")
    system = spec.base_system() if system is None else system
    if system.name != spec.system:
        raise InputError(f"system {system.name!r} is not the dataset's {spec.system!r}")
    for name in methods:
        get_stepper(name, system)
    if dataset.batch_size == 0:
        raise InputError(f"the {split} dataset is empty")
    ref, t = dataset.states, dataset.t

    predictions = {"rnn": _rollout(model, dataset, normalizer)}
    diverged: dict[str, str] = {}
    for name in methods:
        predictions[name], message = _stepper_rollout(system, dataset, name)
        if message is not None:
            diverged[name] = message
    rows, valid_times = {}, {}
    for name, pred in predictions.items():
        errors = error_metrics(pred, ref)
        valid = valid_prediction_time(pred, ref, t, threshold)
        finite = np.isfinite(pred).all()
        rows[name] = {
            "rel_l2": errors.rel_l2 if finite else np.inf,
            "rmse": errors.rmse if finite else np.inf,
            "max_abs_error": errors.max_abs_error if finite else np.inf,
            "valid_time": valid.mean,
        }
        valid_times[name] = valid.per_trajectory
    return Evaluation(
        rows=rows,
        split=split,
        horizon=float(t[-1] - t[0]),
        h=spec.h,
        threshold=threshold,
        n_sequences=dataset.batch_size,
        diverged=diverged,
        valid_times=valid_times,
    )


def _rollout(model: Predictor, data: Dataset, normalizer: Normalizer | None) -> np.ndarray:
    """The model's states on ``data.t`` in physical units: (batch, L + 1, n)."""
    X = data.X if normalizer is None else normalizer.scale_inputs(data.X)
    if data.h0 is None:
        out = model.predict(X)
    else:
        h0 = data.h0 if normalizer is None else normalizer.scale_states(data.h0)
        width = getattr(model, "n_state", h0.shape[-1])  # an Elman network's hidden units
        out = model.predict(X, h0=pad_initial_state(h0, width) if width > h0.shape[-1] else h0)
    out = np.asarray(out, dtype=np.float64)
    if out.shape != data.Y.shape:
        raise InputError(f"model.predict returned shape {out.shape}, expected {data.Y.shape}")
    if normalizer is not None:
        out = normalizer.unscale_states(out)
    if data.h0 is None:
        return out
    return np.concatenate([data.s0[:, None], out], axis=1)


def _stepper_rollout(system: System, data: Dataset, method: str) -> tuple[np.ndarray, str | None]:
    """``method`` at step h from each sequence's s0 and parameters: (batch, L + 1, n).

    Sequences that start at the same time run as one batch.  When a batch diverges, its states
    after the last finite step are nan, and the DivergenceError's message is returned too.
    """
    h, horizon = data.spec.h, float(data.t[-1])
    out = np.full(data.states.shape, np.nan)
    message = None
    for t0 in np.unique(data.t0):
        idx = np.flatnonzero(data.t0 == t0)
        batched = system.with_params(**{k: v[idx] for k, v in data.params.items()})
        try:
            traj = simulate(batched, data.s0[idx], t_span=(t0, t0 + horizon), dt=h, method=method)
            out[idx] = traj.states
        except DivergenceError as err:
            partial = err.partial_states
            out[idx, : partial.shape[-2]] = partial
            message = message or str(err)
    return out, message
