"""A fitted RNN against the reference and against steppers at the same step h.

Valid prediction time (as in reservoir computing, Pathak et al. 2018): with the normalised
error

    e(t) = ||pred(t) - ref(t)|| / sqrt(mean over t of ||ref(t)||^2)

(norms over the states, the mean over the times of the trajectory), the valid time of a
trajectory is t* - t_0 for the first time t* with e(t*) > threshold (0.4 by default); the full
horizon t_end - t_0 when e never exceeds it.  A value that is not finite counts as exceeding.
``valid_time_smape`` is the same with the symmetric mean absolute percentage error of the
dysts forecasting benchmark (Gilpin 2021) in place of e, and the threshold 30 (%)::

    sMAPE(t) = 100 * 2/n sum_i |pred_i(t) - ref_i(t)| / (|pred_i(t)| + |ref_i(t)|)

Where the system is chaotic at the dataset's parameters (the same for every sequence), its
largest Lyapunov exponent lambda is computed (:func:`dynsys.lyapunov.largest_exponent`: RK4 at
dt = 0.01 over 500 time units, once per process) and each row also gives
``valid_time_lyapunov`` = lambda x valid_time, the valid time in Lyapunov times 1/lambda.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from .. import checks
from ..errors import DivergenceError, DynsysError, InputError
from ..metrics import error_metrics, finite_or_none
from ..simulate import simulate
from ..steppers import get_stepper
from ..systems.base import System
from ..tables import number, table
from .angles import decode
from .data import Dataset, Normalizer

DEFAULT_METHODS = ("euler", "semi_implicit_euler", "rk4")
SMAPE_THRESHOLD = 30.0
MODEL_ROW = "model"
"""The name of the fitted model's row in a table, before the steppers' rows."""
METRICS = ("rel_l2", "rmse", "max_abs_error", "valid_time", "valid_time_smape")
OWN_COPIES = 5
"""Arrays of the states' size an evaluation holds besides one per stepper: the model's
rollout, the reference, and the copies the errors take."""
EVALUATION_COPIES = OWN_COPIES + len(DEFAULT_METHODS)


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


def smape_valid_time(pred, ref, t, threshold: float = SMAPE_THRESHOLD) -> ValidTime:
    """Time until sMAPE(t) (in %, see the module docstring) first exceeds ``threshold``."""
    pred, ref = np.asarray(pred, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(all="ignore"):
        denominator = np.abs(pred) + np.abs(ref)
        ratio = np.where(denominator > 0, np.abs(pred - ref) / denominator, 0.0)
        smape = 200.0 * np.mean(ratio, axis=-1)
    exceeded = ~(smape <= threshold)
    first = np.argmax(exceeded, axis=-1)
    valid = np.where(exceeded.any(axis=-1), t[first], t[-1]) - t[0]
    return ValidTime(float(np.mean(valid)), valid)


def lyapunov_exponent(spec) -> float | None:
    """lambda_max of a dataset's system at its parameters, computed
    (:func:`dynsys.lyapunov.largest_exponent`), when no parameter is sampled and the system is
    chaotic there; else None (no valid times in Lyapunov times).  A computation that fails
    (e.g. diverges from the system's default_s0) also gives None."""
    from ..lyapunov import largest_exponent

    if spec.ranges:
        return None
    try:
        return largest_exponent(spec.base_system())
    except DynsysError:
        return None


def lyapunov_note(exponent: float, system: System | None = None) -> str:
    """'the largest Lyapunov exponent 0.9048 (computed: rk4, dt=0.01, ...)': the value used."""
    from ..lyapunov import LARGEST_EXPONENT

    how = "" if system is None else f" (computed: {LARGEST_EXPONENT.describe(system)})"
    return f"the largest Lyapunov exponent {exponent:.4g}{how}"


@dataclass(frozen=True)
class Evaluation:
    """Errors of the RNN rollout and of each stepper against the reference, on one split.

    ``rows`` maps a name (``model``, then the steppers) to its rel_l2, rmse, max_abs_error and
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
    lyapunov: float | None = None
    """The largest Lyapunov exponent behind ``valid_time_lyapunov`` (None: not chaotic)."""
    system: System | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """{split: {name: {rel_l2, rmse, max_abs_error, valid_time, valid_time_smape}}} (and
        valid_time_lyapunov where the Lyapunov exponent is known), non-finite values None."""
        out = {}
        for name, row in self.rows.items():
            values = {k: finite_or_none(float(v)) for k, v in row.items()}
            if self.lyapunov is not None:
                valid = values["valid_time"]
                values["valid_time_lyapunov"] = None if valid is None else valid * self.lyapunov
            out[name] = values
        return {self.split: out}

    def table(self) -> str:
        """The rows as an aligned text table, with the valid-time definitions under it."""
        headers = [*METRICS]
        if self.lyapunov is not None:
            headers.append("valid_time_lyapunov")
        rows = []
        for name, row in self.to_dict()[self.split].items():
            cells = [number(row[k]) for k in METRICS[:3]]
            cells += [_time(row[k]) for k in headers[3:]]
            rows.append([name, *cells])
        notes = [
            f"{self.split}: {self.n_sequences} sequences, h = {self.h:g}, horizon {self.horizon:g}",
            f"valid_time: until ||pred - ref|| / rms ||ref|| > {self.threshold:g}; "
            f"valid_time_smape: until sMAPE > {SMAPE_THRESHOLD:g}%",
            *(
                [f"valid_time_lyapunov: valid_time x {lyapunov_note(self.lyapunov, self.system)}"]
                if self.lyapunov is not None
                else []
            ),
            *(f"{name} diverged: {message}" for name, message in self.diverged.items()),
        ]
        return "\n".join([table(["method", *headers], rows), *notes])


def _time(value: float | None) -> str:
    """A valid time in one format for every row: three decimals ('-' when not finite)."""
    value = finite_or_none(value)
    return "-" if value is None else f"{value:.3f}"


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
    n_values = dataset.batch_size * len(dataset.t) * system.n_states
    checks.within_steps(
        len(methods) * n_values // system.n_states,
        f"evaluating {len(methods)} stepper{'s' * (len(methods) != 1)} on the "
        f"{dataset.batch_size} {split} sequence{'s' * (dataset.batch_size != 1)}",
        "use fewer sequences or methods",
    )
    checks.fits_in_memory(
        8 * (OWN_COPIES + len(methods)) * n_values,
        None,
        f"evaluating on the {dataset.batch_size} {split} sequences of {len(dataset.t)} times",
        "use fewer sequences or methods",
    )
    start = _context(model, dataset)
    ref, t = dataset.states[:, start:], dataset.t[start:]

    predictions = {MODEL_ROW: model_rollout(model, dataset, normalizer)[:, start:]}
    diverged: dict[str, str] = {}
    bad = ~np.isfinite(predictions[MODEL_ROW]).all(axis=-1)
    if bad.any():
        seq, step = np.argwhere(bad)[np.argmin(np.argwhere(bad)[:, 1])]
        diverged[MODEL_ROW] = (
            f"the forecast left the finite numbers at step {start + step} "
            f"(t = {float(t[step]):.6g}) in sequence {seq}"
        )
    for name in methods:
        predictions[name], message = _stepper_rollout(system, dataset, name, start)
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
            "valid_time_smape": smape_valid_time(pred, ref, t).mean,
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
        lyapunov=lyapunov_exponent(spec),
        system=spec.base_system(),
    )


def _context(model: Predictor, data: Dataset) -> int:
    """c: the true past states a model needs before it runs free (0 for most models)."""
    c = int(getattr(model, "context", 0))
    if c and data.h0 is None:
        raise InputError("a model that needs past states forecasts step maps (task step_map)")
    if c >= data.Y.shape[1]:
        raise InputError(
            f"the model needs {c} past states; the sequences have only {data.Y.shape[1]} steps"
        )
    return c


def model_rollout(model: Predictor, data: Dataset, normalizer: Normalizer | None) -> np.ndarray:
    """The model's states on ``data.t`` in physical units: (batch, L + 1, n).

    A step-map model starts from h0 = s(t_k); one that needs c past states (``model.context``)
    is given the true s(t_k), ..., s(t_k + c h) and forecasts from there: the first c + 1 states
    of its rollout are the true ones.
    """
    X = data.X if normalizer is None else normalizer.scale_inputs(data.X)
    initial = getattr(model, "initial", lambda s0: s0)
    c = _context(model, data)
    if data.h0 is None:
        with np.errstate(all="ignore"):
            out = model.predict(X)
    else:
        known = data.model_states[:, : c + 1] if c else data.h0
        h0 = known if normalizer is None else normalizer.scale_states(known)
        with np.errstate(all="ignore"):  # a diverging forecast is reported by the table
            out = model.predict(X, h0=initial(h0))
    out = np.asarray(out, dtype=np.float64)
    expected = (data.Y.shape[0], data.Y.shape[1] - c, data.Y.shape[2])
    if out.shape != expected:
        raise InputError(f"model.predict returned shape {out.shape}, expected {expected}")
    if normalizer is not None:
        out = normalizer.unscale_states(out)
    if data.h0 is not None:
        out = np.concatenate([data.model_states[:, : c + 1], out], axis=1)
    return decode(out, data.spec.angles, data.s0)


def _stepper_rollout(
    system: System, data: Dataset, method: str, start: int = 0
) -> tuple[np.ndarray, str | None]:
    """``method`` at step h from each sequence's state ``start`` steps in (s0 by default) and
    its parameters: (batch, L + 1 - start, n).

    Sequences that start at the same time run as one batch.  When a batch diverges, its states
    after the last finite step are nan, and the DivergenceError's message is returned too.
    """
    h = data.spec.h
    horizon = float(data.t[-1] - data.t[start])
    states = data.states[:, start:]
    out = np.full(states.shape, np.nan)
    message = None
    for t0 in np.unique(data.t0):
        idx = np.flatnonzero(data.t0 == t0)
        batched = system.with_params(**{k: v[idx] for k, v in data.params.items()})
        begin = t0 + data.t[start]
        try:
            traj = simulate(
                batched, states[idx, 0], t_span=(begin, begin + horizon), dt=h, method=method
            )
            out[idx] = traj.states
        except DivergenceError as err:
            partial = err.partial_states
            out[idx, : partial.shape[-2]] = partial
            message = message or str(err)
    return out, message
