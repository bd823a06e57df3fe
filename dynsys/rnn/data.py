"""Datasets of simulated trajectories for fitting RNNs: sampled, simulated, cut, normalised.

A :class:`DatasetSpec` names a system, uniform ranges for some of its parameters and for the
initial states, the grid t_n = n h, n = 0..N (N h <= t_end), and the task.  Each trajectory is
solved by :func:`dynsys.reference` (solve_ivp, DOP853, rtol 1e-10, atol 1e-12 by default) on
that grid, and cut into sequences of ``seq_len`` steps (default: the whole trajectory, N steps;
the N mod seq_len steps left at the end are dropped).  Arrays are batch-first: X has shape
(batch, time, n_in), Y (batch, time, n_out) with n_out the number of states.  A sequence starting
at step k (t_k = k h) with L = seq_len steps gives:

``driven_response`` (Elman, a(j) = b + W h(j-1) + U X[:, j], o(j) = c + V h(j)); L + 1 times::

    X[:, j] = (x(t_{k+j}), s(t_k), θ_in)    j = 0..L
    Y[:, j] = s(t_{k+j})                     so Y[:, 0] = s(t_k)
    h0 = None

    x(t) is the drive at the output's own time; the initial state s(t_k) is repeated as
    constant channels at every j, and θ_in (the ``param_inputs``) too.  Not a pulse at j = 0
    only: then the network must carry s(t_k) in h over the whole sequence.  In a trial on the
    resonant oscillator (Elman, 32 tanh units, Adam, 6000 steps, 100-step sequences, three
    seeds) constant channels reached a test rel_l2 of 0.04-0.07, the pulse 0.07-0.18.

With ``initial_state="h0"`` the driven response is laid out like the step map below instead
(same X, Y and h0 = s(t_k)): the initial state reaches the Elman network as its first hidden
units, h(0) = (s(t_k), 0, ..., 0) (:func:`pad_initial_state`), rather than as input channels.

``step_map`` (Jordan, s(n+1) = f(s(n), x(n+1)), o(0) = h0, run free on its own outputs)::

    h0      = s(t_k)                                     the initial output o(0)
    X[:, j] = (x(t_{k+j} + c h) for c in nodes, θ_in)    j = 0..L-1
    Y[:, j] = s(t_{k+j+1})

    X[:, j] = x(n+1) holds the drive samples of the step from n = k+j to n+1, exactly those
    that the stepper named by ``drive_nodes`` evaluates (by default RK4's c = 0, 1/2, 1; see
    :mod:`dynsys.steppers`, built with :meth:`dynsys.Recurrence.inputs`), so the model sees at
    least what the stepper it is compared with sees.

An undriven system without ``param_inputs`` has one constant input channel, 1, since a
network needs an input (normalised, it is 0: the network then runs on its own state).

Parameters that vary across the dataset reach the model only through the drive (A and omega
of the driven oscillator shape x), unless listed in ``param_inputs``: then each is a constant
input channel.  A sampled parameter the drive does not reveal (k, c, m) should be listed, or
the target is not a function of the inputs.

Normalisation (:class:`Normalizer`, fitted on the training split only): every channel u is
mapped to (u - mean) / std, with one mean and std per input channel and one per state.  The
states use one affine map wherever they appear: Y, h0, and the s(t_k) input channels of
``driven_response``.  So o(n) and s(n) are in the same units, and a residual Jordan network
o(n) = o(n-1) + c + V h(n) learns the normalised increment (s(n) - s(n-1)) / std.

Splits are by trajectory (every sequence of a trajectory lands in one split), seeded.  Only
training and validation trajectories are cut: the test and extrapolation sets keep each
trajectory whole, since a model is judged on its rollout over the whole horizon.
``holdout={"A": (0.8, 1.0)}`` keeps those values out of train, validation and test (which draw
A from the rest of its range) and puts them only in the extrapolation set, which draws every
held-out parameter from its held-out interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .. import checks
from ..errors import InputError, unknown_name
from ..reference import SOLVE_IVP_METHODS, reference
from ..simulate import Recurrence
from ..steppers import STEPPERS, Stepper
from ..systems import get_system
from ..systems.base import System

TASKS = ("driven_response", "step_map")
INITIAL_STATES = ("inputs", "h0")
ODE_STEPPERS = tuple(name for name, s in STEPPERS.items() if s.kind == "ode")
_TINY = 1e-12


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to draw a dataset again: the system, the ranges, the grid, the task.

    ``params`` fixes parameters; ``ranges`` samples others uniformly in [low, high];
    ``s0_ranges`` samples each initial state uniformly (default [-1, 1]).  ``drive_nodes`` is a
    stepper name or a tuple of nodes c in [0, 1] (step_map only).  ``seq_len`` is the number of
    steps per sequence (None: the whole trajectory).  Validated on construction.
    """

    system: str
    task: str = "step_map"
    params: dict[str, float] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    s0_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    h: float = 0.1
    t_end: float = 20.0
    drive_nodes: str | tuple[float, ...] = "rk4"
    param_inputs: tuple[str, ...] = ()
    seq_len: int | None = None
    seed: int = 0
    n_train: int = 64
    n_val: int = 16
    n_test: int = 16
    holdout: dict[str, tuple[float, float]] = field(default_factory=dict)
    initial_state: str = "inputs"
    reference_method: str = "DOP853"
    rtol: float = 1e-10
    atol: float = 1e-12

    def __post_init__(self):
        for name, value in _validated(self).items():
            object.__setattr__(self, name, value)

    @property
    def n_steps(self) -> int:
        """N: the grid is t_n = n h, n = 0..N."""
        return checks.step_count(0.0, self.t_end, self.h)

    def base_system(self) -> System:
        """The system with the fixed ``params`` set (sampled ones at their defaults)."""
        return get_system(self.system, **self.params)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready; :meth:`from_dict` reads them back."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSpec:
        """The spec written by :meth:`to_dict` (unknown keys are refused)."""
        if not isinstance(data, dict):
            raise InputError(f"a dataset spec must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        if "system" not in data:
            raise InputError("a dataset spec needs a system name (the key 'system')")
        for key in data:
            if key not in known:
                raise unknown_name("dataset spec field", key, known)
        return cls(**data)


def _validated(spec: DatasetSpec) -> dict[str, Any]:
    """The fields of ``spec`` checked and in canonical form, or a one-line InputError."""
    if not isinstance(spec.system, str):
        raise InputError(f"system must be a system name, got {spec.system!r}")
    if not isinstance(spec.params, dict):
        raise InputError(
            f"params must be a mapping of parameter names to numbers, got {spec.params!r}"
        )
    for name, value in spec.params.items():
        if np.ndim(value) != 0:
            raise InputError(f"params[{name!r}] must be one number, got {value!r}")
    system = get_system(spec.system, **spec.params)  # unknown system or parameter, bad value
    if system.kind != "ode":
        raise InputError(f"system {spec.system!r} is a discrete map; datasets need an ODE")
    if spec.task not in TASKS:
        raise unknown_name("task", str(spec.task), TASKS)
    if spec.initial_state not in INITIAL_STATES:
        raise unknown_name("initial_state", str(spec.initial_state), INITIAL_STATES)
    names = [p.name for p in system.parameters]
    ranges = _intervals("ranges", spec.ranges, names, f"parameter of {spec.system} in ranges")
    for name, (lo, hi) in ranges.items():
        if name in spec.params:
            raise InputError(f"parameter {name!r} is both fixed in params and sampled in ranges")
        system.with_params(**{name: np.array([lo, hi])})  # the parameter's domain
    s0_given = _intervals("s0_ranges", spec.s0_ranges, system.states, f"state of {spec.system}")
    s0_ranges = {s: s0_given.get(s, (-1.0, 1.0)) for s in system.states}
    holdout = _intervals("holdout", spec.holdout, names, f"parameter of {spec.system} in holdout")
    for name, (lo, hi) in holdout.items():
        if name not in ranges:
            raise InputError(
                f"holdout parameter {name!r} is not sampled; holdout names must be keys of "
                f"ranges: {', '.join(ranges) or '(none)'}"
            )
        r_lo, r_hi = ranges[name]
        if lo < r_lo or hi > r_hi or (lo == r_lo and hi == r_hi):
            raise InputError(
                f"holdout[{name!r}] = ({lo:g}, {hi:g}) must lie inside ranges[{name!r}] = "
                f"({r_lo:g}, {r_hi:g}) and leave part of it for training"
            )
    h = checks.positive_number("h", spec.h)
    t_end = checks.positive_number("t_end", spec.t_end)
    if h > t_end:
        raise InputError(f"h={h:g} must not exceed t_end={t_end:g}")
    n_steps = checks.step_count(0.0, t_end, h)
    seq_len = spec.seq_len
    if seq_len is not None:
        seq_len = checks.integer("seq_len", seq_len)
        if seq_len > n_steps:
            raise InputError(
                f"seq_len must be at most the {n_steps} steps of t_end / h, got {seq_len}"
            )
    param_inputs = tuple(_names("param_inputs", spec.param_inputs))
    for name in param_inputs:
        if name not in names:
            raise unknown_name(f"parameter of {spec.system} in param_inputs", name, names)
    if len(set(param_inputs)) != len(param_inputs):
        raise InputError(f"param_inputs must not repeat a name, got {list(param_inputs)}")
    if spec.reference_method not in SOLVE_IVP_METHODS:
        raise unknown_name("reference_method", str(spec.reference_method), SOLVE_IVP_METHODS)
    return {
        "params": {k: float(v) for k, v in spec.params.items()},
        "ranges": ranges,
        "s0_ranges": s0_ranges,
        "h": h,
        "t_end": t_end,
        "drive_nodes": _drive_nodes(spec.drive_nodes),
        "param_inputs": param_inputs,
        "seq_len": seq_len,
        "seed": checks.integer("seed", spec.seed, minimum=0),
        "n_train": checks.integer("n_train", spec.n_train, minimum=1),
        "n_val": checks.integer("n_val", spec.n_val, minimum=0),
        "n_test": checks.integer("n_test", spec.n_test, minimum=0),
        "holdout": holdout,
        "rtol": checks.positive_number("rtol", spec.rtol),
        "atol": checks.positive_number("atol", spec.atol),
    }


def _names(field_name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not all(isinstance(v, str) for v in _iterable(field_name, value)):
        raise InputError(f"{field_name} must be a list of names, got {value!r}")
    return list(value)


def _iterable(field_name: str, value: Any) -> list:
    try:
        return list(value)
    except TypeError:
        raise InputError(f"{field_name} must be a list, got {value!r}") from None


def _intervals(field_name: str, value: Any, known, what: str) -> dict[str, tuple[float, float]]:
    """{name: (low, high)} with names among ``known``, finite numbers and low < high."""
    if not isinstance(value, dict):
        raise InputError(f"{field_name} must be a mapping of names to (low, high), got {value!r}")
    out = {}
    for name, pair in value.items():
        if name not in known:
            raise unknown_name(what, str(name), known)
        where = f"{field_name}[{name!r}]"
        try:
            lo, hi = pair
        except (TypeError, ValueError):
            raise InputError(f"{where} must be a pair (low, high), got {pair!r}") from None
        lo, hi = checks.finite_number(f"{where} low", lo), checks.finite_number(f"{where} high", hi)
        if not lo < hi:
            raise InputError(f"{where} must have low < high (not empty or reversed), got {pair!r}")
        out[name] = (lo, hi)
    return {name: out[name] for name in known if name in out}  # in the system's order


def _drive_nodes(value: Any) -> str | tuple[float, ...]:
    """A stepper name of an ODE stepper, or increasing nodes c in [0, 1]."""
    if isinstance(value, str):
        if value not in ODE_STEPPERS:
            raise unknown_name("drive_nodes", value, ODE_STEPPERS)
        return value
    nodes = tuple(checks.finite_number("drive_nodes", c) for c in _iterable("drive_nodes", value))
    if not nodes or any(not 0 <= c <= 1 for c in nodes) or any(np.diff(nodes) <= 0):
        raise InputError(
            f"drive_nodes must be a stepper name or increasing numbers in [0, 1], got {value!r}"
        )
    return nodes


@dataclass(frozen=True, eq=False)
class Dataset:
    """Sequences for one split: the arrays a model sees and where they came from.

    X (batch, time, n_in), Y (batch, time, n_out) and h0 (batch, n_out) or None are what the
    model sees, normalised when ``normalized`` (see the module docstring for what they hold).
    The rest is always in physical units: ``t`` the times of the states of a sequence relative
    to its start (L + 1 of them: h0 and Y for step_map, Y for driven_response), ``t0`` (batch,)
    the start of each sequence, ``s0`` (batch, n) its initial state, ``params`` every parameter
    of the system per sequence (batch,), and ``trajectory`` (batch,) which simulated trajectory
    of the split it was cut from.
    """

    X: np.ndarray
    Y: np.ndarray
    h0: np.ndarray | None
    t: np.ndarray
    t0: np.ndarray
    s0: np.ndarray
    params: dict[str, np.ndarray]
    trajectory: np.ndarray
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    spec: DatasetSpec
    normalized: bool = False

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def batch_size(self) -> int:
        return self.X.shape[0]

    @property
    def states(self) -> np.ndarray:
        """The states on ``t``, (batch, L + 1, n): h0 then Y for step_map, Y for driven_response."""
        if self.h0 is None:
            return self.Y
        return np.concatenate([self.h0[:, None], self.Y], axis=1)


@dataclass(frozen=True, eq=False)
class Normalizer:
    """u_n = (u - mean) / std per channel, for the inputs (x_*) and the states (y_*).

    The states use the same map for Y, h0 and the initial-state inputs of driven_response.
    A channel with no spread in the training split gets std = 1.
    """

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()

    def scale_inputs(self, X: np.ndarray) -> np.ndarray:
        """(X - x_mean) / x_std on the last axis."""
        return (np.asarray(X, dtype=np.float64) - self.x_mean) / self.x_std

    def unscale_inputs(self, X: np.ndarray) -> np.ndarray:
        """X x_std + x_mean: the inverse of :meth:`scale_inputs`."""
        return np.asarray(X, dtype=np.float64) * self.x_std + self.x_mean

    def scale_states(self, S: np.ndarray) -> np.ndarray:
        """(S - y_mean) / y_std on the last axis: Y, h0, or a predicted trajectory."""
        return (np.asarray(S, dtype=np.float64) - self.y_mean) / self.y_std

    def unscale_states(self, S: np.ndarray) -> np.ndarray:
        """S y_std + y_mean: the inverse of :meth:`scale_states`."""
        return np.asarray(S, dtype=np.float64) * self.y_std + self.y_mean

    def transform(self, data: Dataset) -> Dataset:
        """The dataset with X, Y and h0 normalised."""
        self._check(data, normalized=False)
        return _replace(
            data,
            X=self.scale_inputs(data.X),
            Y=self.scale_states(data.Y),
            h0=None if data.h0 is None else self.scale_states(data.h0),
            normalized=True,
        )

    def inverse(self, data: Dataset) -> Dataset:
        """The dataset back in physical units."""
        self._check(data, normalized=True)
        return _replace(
            data,
            X=self.unscale_inputs(data.X),
            Y=self.unscale_states(data.Y),
            h0=None if data.h0 is None else self.unscale_states(data.h0),
            normalized=False,
        )

    def _check(self, data: Dataset, normalized: bool) -> None:
        if data.normalized != normalized:
            state = "already normalised" if data.normalized else "not normalised"
            raise InputError(f"the dataset is {state}")
        if data.X.shape[-1] != len(self.x_mean) or data.Y.shape[-1] != len(self.y_mean):
            raise InputError(
                f"the normalizer has {len(self.x_mean)} inputs and {len(self.y_mean)} states, "
                f"the dataset {data.X.shape[-1]} and {data.Y.shape[-1]}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, JSON-ready, to store with a model."""
        return {
            "x_mean": self.x_mean.tolist(),
            "x_std": self.x_std.tolist(),
            "y_mean": self.y_mean.tolist(),
            "y_std": self.y_std.tolist(),
            "input_names": list(self.input_names),
            "output_names": list(self.output_names),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalizer:
        """The normalizer written by :meth:`to_dict`."""
        keys = ("x_mean", "x_std", "y_mean", "y_std")
        if not isinstance(data, dict) or any(k not in data for k in keys):
            raise InputError(f"a normalizer needs the keys {', '.join(keys)}")
        arrays = {k: np.array(data[k], dtype=np.float64).reshape(-1) for k in keys}
        if arrays["x_mean"].shape != arrays["x_std"].shape or (
            arrays["y_mean"].shape != arrays["y_std"].shape
        ):
            raise InputError("normalizer means and stds must have the same lengths")
        if not all(np.all(arrays[k] > 0) for k in ("x_std", "y_std")):
            raise InputError("normalizer stds must be > 0")
        return cls(
            **arrays,
            input_names=tuple(data.get("input_names", ())),
            output_names=tuple(data.get("output_names", ())),
        )


def fit_normalizer(train: Dataset) -> Normalizer:
    """Per-channel mean and std of the training split's X and Y (over batch and time)."""
    if train.normalized:
        raise InputError(
            "fit the normalizer on the dataset in physical units, not a normalised one"
        )
    if train.batch_size == 0:
        raise InputError("cannot fit a normalizer on an empty dataset")
    y_mean, y_std = _mean_std(train.Y)
    x_mean, x_std = _mean_std(train.X)
    if train.spec.task == "driven_response":  # the s(t_k) inputs are states: the states' map
        first = 1 if train.spec.base_system().driven else 0
        x_mean[first : first + len(y_mean)] = y_mean
        x_std[first : first + len(y_mean)] = y_std
    return Normalizer(x_mean, x_std, y_mean, y_std, train.input_names, train.output_names)


def _mean_std(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = a.reshape(-1, a.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    return mean, np.where(std > _TINY * np.maximum(1.0, np.abs(mean)), std, 1.0)


@dataclass(frozen=True)
class Splits:
    """Train, validation and test datasets (physical units), the normalizer fitted on train,
    and, with a holdout, the extrapolation set drawn from the held-out ranges only."""

    train: Dataset
    val: Dataset
    test: Dataset
    normalizer: Normalizer
    extrapolation: Dataset | None = None


def make_splits(spec: DatasetSpec) -> Splits:
    """Draw and simulate the splits of ``spec``, seeded by ``spec.seed``.

    Each split has its own stream (``SeedSequence(seed).spawn``), so changing n_val does not
    change the training set.  The extrapolation set (n_test trajectories) exists with a holdout.
    """
    train_seq, val_seq, test_seq, out_seq = np.random.SeedSequence(spec.seed).spawn(4)
    system = spec.base_system()
    train = _simulate(spec, system, spec.n_train, np.random.default_rng(train_seq), False)
    extrapolation = None
    if spec.holdout:
        rng = np.random.default_rng(out_seq)
        extrapolation = _simulate(spec, system, spec.n_test, rng, True, whole=True)
    return Splits(
        train=train,
        val=_simulate(spec, system, spec.n_val, np.random.default_rng(val_seq), False),
        test=_simulate(
            spec, system, spec.n_test, np.random.default_rng(test_seq), False, whole=True
        ),
        normalizer=fit_normalizer(train),
        extrapolation=extrapolation,
    )


def sample(
    spec: DatasetSpec, n: int, seed: int, *, holdout: bool = False, whole: bool = False
) -> Dataset:
    """A fresh dataset of ``n`` trajectories from the distribution of ``spec``, seeded by ``seed``.

    ``holdout=True`` draws the held-out parameters from their held-out intervals instead;
    ``whole=True`` keeps each trajectory whole (one sequence) whatever ``seq_len`` says.
    """
    n = checks.integer("n", n)
    seed = checks.integer("seed", seed, minimum=0)
    if holdout and not spec.holdout:
        raise InputError("holdout=True needs a spec with a holdout range")
    return _simulate(spec, spec.base_system(), n, np.random.default_rng(seed), holdout, whole)


def _draw(
    spec: DatasetSpec, n: int, rng: np.random.Generator, held_out: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sampled parameters {name: (n,)} (in the system's order) and initial states (n, states)."""
    params = {}
    for name, (lo, hi) in spec.ranges.items():
        if name not in spec.holdout:
            params[name] = rng.uniform(lo, hi, n)
        elif held_out:
            params[name] = rng.uniform(*spec.holdout[name], n)
        else:  # uniform on [lo, a) and (b, hi], the range without the held-out [a, b]
            a, b = spec.holdout[name]
            u = rng.uniform(0.0, (a - lo) + (hi - b), n)
            params[name] = np.where(u < a - lo, lo + u, b + (u - (a - lo)))
    lo, hi = np.array(list(spec.s0_ranges.values())).T
    return params, rng.uniform(lo, hi, (n, len(lo)))


def _simulate(
    spec: DatasetSpec,
    system: System,
    n: int,
    rng: np.random.Generator,
    held_out: bool,
    whole: bool = False,
) -> Dataset:
    """Draw n trajectories, solve them on the grid and cut them into sequences (or not)."""
    sampled, s0 = _draw(spec, n, rng, held_out)
    n_steps, ns = spec.n_steps, system.n_states
    step_map = spec.task == "step_map" or spec.initial_state == "h0"
    stepper = _nodes_stepper(spec.drive_nodes if step_map else (0.0,))
    n_drive = len(stepper.nodes) if system.driven else 0
    n_inputs = n_steps if step_map else n_steps + 1  # x(n+1), n = 0..N-1; or x(t_n), n = 0..N
    if n == 0:
        states = np.empty((0, n_steps + 1, ns))
        drive = np.empty((0, n_inputs, n_drive))
        values = {k: np.empty(0) for k in system.params}
    else:
        batched = system.with_params(**sampled) if sampled else system
        t_grid = np.arange(n_steps + 1) * spec.h
        ref = reference(
            batched, s0, t_grid, method=spec.reference_method, rtol=spec.rtol, atol=spec.atol
        )
        states = ref.states
        drive = _drive(batched, stepper, spec.h, n_inputs, n)
        values = {k: np.broadcast_to(v, (n,)).copy() for k, v in batched.params.items()}
    L = n_steps if whole else spec.seq_len or n_steps
    starts = np.arange(n_steps // L) * L
    w = len(starts)
    span = starts[:, None] + np.arange(L + 1)  # the state indices of each sequence
    if step_map:
        h0 = states[:, starts].reshape(n * w, ns)
        Y = states[:, span[:, 1:]].reshape(n * w, L, ns)
        channels = [drive[:, span[:, :-1]].reshape(n * w, L, n_drive)]
    else:
        h0 = None
        Y = states[:, span].reshape(n * w, L + 1, ns)
        first = states[:, starts].reshape(n * w, 1, ns)
        channels = [drive[:, span].reshape(n * w, L + 1, n_drive), _repeat(first, L + 1)]
    per_seq = {k: np.repeat(v, w) for k, v in values.items()}
    if spec.param_inputs:
        p_in = np.stack([per_seq[k] for k in spec.param_inputs], axis=-1)[:, None]
        channels.append(_repeat(p_in, Y.shape[1]))
    X = np.concatenate(channels, axis=-1)
    if X.shape[-1] == 0:  # an undriven system: one constant channel, as a network needs an input
        X = np.ones((*X.shape[:-1], 1))
    arrays = {
        "X": X,
        "Y": Y,
        "h0": h0,
        "t": np.arange(L + 1) * spec.h,
        "t0": np.tile(starts * spec.h, n),
        "s0": states[:, starts].reshape(n * w, ns),
        "trajectory": np.repeat(np.arange(n), w),
    }
    for a in [*arrays.values(), *per_seq.values()]:
        if a is not None:
            a.setflags(write=False)
    return Dataset(
        **arrays,
        params=per_seq,
        input_names=_input_names(spec, system, stepper),
        output_names=tuple(system.states),
        spec=spec,
    )


def pad_initial_state(h0: np.ndarray, width: int) -> np.ndarray:
    """States (batch, n) as initial hidden states (batch, width): (s, 0, ..., 0), n <= width."""
    h0 = np.asarray(h0)
    if h0.shape[-1] > width:
        raise InputError(
            f"an initial state of {h0.shape[-1]} values does not fit {width} hidden units; "
            f"use at least {h0.shape[-1]} hidden units"
        )
    out = np.zeros((*h0.shape[:-1], width), dtype=h0.dtype)
    out[..., : h0.shape[-1]] = h0
    return out


def _nodes_stepper(drive_nodes: str | tuple[float, ...]) -> Stepper:
    """A stepper whose ``nodes`` are those of ``drive_nodes``, for :class:`Recurrence.inputs`."""
    if isinstance(drive_nodes, str):
        return STEPPERS[drive_nodes]
    return Stepper("nodes", 0, tuple(drive_nodes), "drive samples at the given nodes")


def _drive(system: System, stepper: Stepper, h: float, n_inputs: int, n: int) -> np.ndarray:
    """x(t_n + c h) for n = 0..n_inputs-1 and c in the nodes: (batch, n_inputs, nodes)."""
    x = Recurrence(system, stepper, h).inputs(n_inputs)
    if x is None:
        return np.empty((n, n_inputs, 0))
    if x.ndim == 2:  # scalar parameters: one drive for the batch
        return np.broadcast_to(x, (n, *x.shape))
    return np.moveaxis(x, -1, 0)  # (n_inputs, nodes, batch) -> (batch, n_inputs, nodes)


def _repeat(a: np.ndarray, times: int) -> np.ndarray:
    """(batch, 1, k) repeated along time: (batch, times, k)."""
    return np.repeat(a, times, axis=1)


def _input_names(spec: DatasetSpec, system: System, stepper: Stepper) -> tuple[str, ...]:
    names: list[str] = []
    step_layout = spec.task == "step_map" or spec.initial_state == "h0"
    if system.driven:
        if step_layout:
            names += [f"x(t+{c:g}h)" for c in stepper.nodes]
        else:
            names.append("x(t)")
    if not step_layout:
        names += [f"{s}(t0)" for s in system.states]
    names += spec.param_inputs
    return tuple(names) if names else ("1",)


def _replace(data: Dataset, **changes: Any) -> Dataset:
    values = {f.name: getattr(data, f.name) for f in fields(data)} | changes
    return Dataset(**values)
