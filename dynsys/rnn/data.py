"""Datasets of simulated trajectories for fitting RNNs: sampled, simulated, cut, normalised.

A :class:`DatasetSpec` names a system, uniform ranges for some of its parameters and for the
initial states (by default the system's typical ones, ``System.typical_s0``), the grid
t_n = n h, n = 0..N (N h <= t_end), and the task.  A drawn state s0 is the state at
t = -transient (by default ``System.transient``, 0 for most systems): the trajectory runs from
there, so the data starts at t = 0 on the attractor, and the drive x(t) keeps its phase (x(t_n)
is the drive at t_n = n h whatever the transient).  The trajectories of a split are solved
together by one :func:`dynsys.reference` call (solve_ivp, DOP853, on the stacked system; see
:func:`solve_trajectories`), and cut into sequences of ``seq_len`` steps (default: the whole
trajectory, N steps; the N mod seq_len steps left at the end are dropped).  Arrays are
batch-first: X has shape (batch, time, n_in), Y (batch, time, n_out) with n_out the number of
states.  A sequence starting at step k (t_k = k h) with L = seq_len steps gives:

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
units, h(0) = (s(t_k), 0, ..., 0) (:func:`dynsys.rnn.models.pad_initial_state`), rather than
as input channels.

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
from ..errors import InputError, SolverError, unknown_name
from ..reference import IMPLICIT, SOLVE_IVP_METHODS, reference
from ..simulate import REFERENCE_COPIES, Recurrence
from ..steppers import STEPPERS, Stepper
from ..systems import get_system
from ..systems.base import System
from .angles import decode, encode, encoded_names

TASKS = ("driven_response", "step_map")
INITIAL_STATES = ("inputs", "h0")
ODE_STEPPERS = tuple(name for name, s in STEPPERS.items() if s.kind == "ode")
_TINY = 1e-12


def _help(text: str, **more: Any) -> dict[str, Any]:
    return {"help": text, **more}


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to draw a dataset again: the system, the ranges, the grid, the task.

    ``params`` fixes parameters; ``ranges`` samples others uniformly in [low, high];
    ``s0_ranges`` samples each initial state uniformly (a state not given: the system's typical
    range, ``System.typical_s0``), at t = -``transient`` (None: ``System.transient``).
    ``drive_nodes`` is a stepper name or a tuple of nodes c in [0, 1] (step_map only).
    ``seq_len`` is the number of steps per sequence (None: the whole trajectory).  Validated on
    construction, which fills in the system's s0_ranges and transient.
    """

    system: str = field(metadata=_help("name of the ODE system whose trajectories make the data"))
    task: str = field(
        default="step_map",
        metadata=_help("what the model learns: the step map or the driven response", choices=TASKS),
    )
    params: dict[str, float] = field(
        default_factory=dict,
        metadata=_help("parameter values fixed for every trajectory (others keep defaults)"),
    )
    ranges: dict[str, tuple[float, float]] = field(
        default_factory=dict,
        metadata=_help("parameters drawn per trajectory, uniformly in (low, high), by name"),
    )
    s0_ranges: dict[str, tuple[float, float]] = field(
        default_factory=dict,
        metadata=_help("initial states drawn uniformly in (low, high); default: typical ranges"),
    )
    h: float = field(default=0.1, metadata=_help("time step of the grid t_n = n h (> 0)"))
    t_end: float = field(
        default=20.0, metadata=_help("length of each trajectory: n = 0..N with N h <= t_end")
    )
    drive_nodes: str | tuple[float, ...] = field(
        default="rk4",
        metadata=_help("drive samples per step (step map): a stepper's nodes, or c in [0, 1]"),
    )
    param_inputs: tuple[str, ...] = field(
        default=(), metadata=_help("parameters given to the model as constant input channels")
    )
    seq_len: int | None = field(
        default=None, metadata=_help("steps per training sequence (None: whole trajectories)")
    )
    seed: int = field(default=0, metadata=_help("seed of the draws of parameters and states"))
    n_train: int = field(default=64, metadata=_help("number of training trajectories (>= 1)"))
    n_val: int = field(
        default=16, metadata=_help("number of validation trajectories (>= 0)", minimum=0)
    )
    n_test: int = field(default=16, metadata=_help("number of test trajectories (>= 0)", minimum=0))
    holdout: dict[str, tuple[float, float]] = field(
        default_factory=dict,
        metadata=_help("parameter intervals inside ranges kept for the extrapolation set only"),
    )
    initial_state: str = field(
        default="inputs",
        metadata=_help(
            "how a driven-response model gets s(t_k): input channels or hidden state",
            choices=INITIAL_STATES,
        ),
    )
    reference_method: str = field(
        default="DOP853",
        metadata=_help("solve_ivp method that simulates the data", choices=SOLVE_IVP_METHODS),
    )
    rtol: float = field(
        default=1e-10, metadata=_help("relative tolerance of the solver, per trajectory")
    )
    atol: float = field(
        default=1e-12, metadata=_help("absolute tolerance of the solver, per trajectory")
    )
    embed_angles: bool = field(
        default=True,
        metadata=_help("give models each angle state (the system's angles) as (cos, sin)"),
    )
    transient: float | None = field(
        default=None,
        metadata=_help(
            "time run before t = 0 from each drawn state (None: the system's)", minimum=0
        ),
    )

    def __post_init__(self):
        for name, value in _validated(self).items():
            object.__setattr__(self, name, value)

    @property
    def n_steps(self) -> int:
        """N: the grid is t_n = n h, n = 0..N."""
        return checks.step_count(0.0, self.t_end, self.h)

    @property
    def n_channels(self) -> tuple[int, int]:
        """(n_in, n_out): the input channels and states a model of this dataset sees, known
        without drawing it."""
        system = self.base_system()
        step_map = self.task == "step_map" or self.initial_state == "h0"
        stepper = _nodes_stepper(self.drive_nodes if step_map else (0.0,))
        n_out = len(encoded_names(system.states, self.angles))
        return len(_input_names(self, system, stepper)), n_out

    def split_bytes(self, n: int, *, whole: bool = False) -> int:
        """Bytes at the peak of drawing ``n`` trajectories (:func:`sample`): the solved states
        (solve_ivp's copies of a stack of up to :data:`STACK_SIZE`, and the whole batch
        twice), the drive samples, the encoded states and the cut sequences X, Y, h0."""
        system = self.base_system()
        n_in, n_out = self.n_channels
        N, ns = self.n_steps, system.n_states
        L = N if whole or self.seq_len is None else self.seq_len
        rows = n * (N // L) * (L + 1)  # the times of the cut sequences
        drive = len(_nodes_stepper(self.drive_nodes).nodes) if system.driven else 0
        solve = REFERENCE_COPIES * min(n, STACK_SIZE) * (N + 2) * ns
        held = n * (N + 1) * (2 * ns + n_out + drive) + rows * (2 * n_in + 2 * n_out + drive)
        return 8 * (solve + held) + 2**20

    def check_draw(self, counts: dict[str, int], whole: tuple[str, ...] = ()) -> None:
        """Refuse, before solving anything, drawing the splits ``counts`` ({name: number of
        trajectories}, those in ``whole`` kept whole) over the memory or step ceilings."""
        total = sum(counts.values())
        what = f"drawing {total} trajectories of {self.n_steps} steps (h = {self.h:g})"
        checks.within_steps(
            total * self.n_steps,
            what,
            "use fewer trajectories (n_train, n_val, n_test), a larger h or a shorter t_end",
        )
        checks.fits_in_memory(
            sum(self.split_bytes(n, whole=name in whole) for name, n in counts.items()),
            None,
            what,
            "use fewer trajectories (n_train, n_val, n_test), a larger h or a shorter t_end",
        )

    @property
    def angles(self) -> tuple[int, ...]:
        """Indices of the states a model sees as (cos, sin) (see :mod:`dynsys.rnn.angles`)."""
        if not self.embed_angles:
            return ()
        cls = type(self.base_system())
        return tuple(cls.states.index(name) for name in cls.angles)

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
        """The spec written by :meth:`to_dict` (unknown keys are refused).

        A spec without ``transient`` was written before that field existed, when no transient
        was run: it reads as transient 0, so that it draws the same data again.
        """
        if not isinstance(data, dict):
            raise InputError(f"a dataset spec must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        if "system" not in data:
            raise InputError("a dataset spec needs a system name (the key 'system')")
        for key in data:
            if key not in known:
                raise unknown_name("dataset spec field", key, known)
        return cls(**{"transient": 0.0, **data})


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
    s0_ranges = system.typical_s0_ranges() | s0_given
    transient = system.transient if spec.transient is None else spec.transient
    transient = checks.finite_number("transient", transient)
    if transient < 0:
        raise InputError(f"transient must be >= 0 (a time run before t = 0), got {transient:g}")
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
    n_steps = checks.step_count(0.0, t_end, h, field="h")
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
        "transient": transient,
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
        **dict(zip(("rtol", "atol"), checks.tolerances(spec.rtol, spec.atol), strict=True)),
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
    def model_states(self) -> np.ndarray:
        """The states on ``t`` as models see them (angles as (cos, sin)): h0 then Y for
        step_map, Y for driven_response, (batch, L + 1, n_out)."""
        if self.h0 is None:
            return self.Y
        return np.concatenate([self.h0[:, None], self.Y], axis=1)

    @property
    def states(self) -> np.ndarray:
        """The states on ``t`` in the system's own coordinates, (batch, L + 1, n)."""
        if self.normalized:
            raise InputError("the dataset is normalised: map it back to read its states")
        return decode(self.model_states, self.spec.angles, self.s0)


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
        """The normalizer written by :meth:`to_dict`.

        Each of x_mean, x_std, y_mean, y_std must be a flat list of finite numbers (the stds
        > 0, each as long as its mean); input_names and output_names, when given, lists of
        names, one per input or state.  Anything else is an InputError naming the field
        (``normalizer.x_mean: ...``).
        """
        keys = ("x_mean", "x_std", "y_mean", "y_std")
        if not isinstance(data, dict) or any(k not in data for k in keys):
            raise InputError(f"a normalizer needs the keys {', '.join(keys)}")
        arrays = {k: _numbers(f"normalizer.{k}", data[k]) for k in keys}
        for mean, std in (("x_mean", "x_std"), ("y_mean", "y_std")):
            if len(arrays[mean]) != len(arrays[std]):
                raise InputError(
                    f"normalizer.{std}: must have as many values as normalizer.{mean} "
                    f"({len(arrays[mean])}), got {len(arrays[std])}"
                )
            if not np.all(arrays[std] > 0):
                raise InputError(f"normalizer.{std}: stds must be > 0, got {data[std]!r:.80}")
        names = {}
        for key, mean in (("input_names", "x_mean"), ("output_names", "y_mean")):
            value = data.get(key, [])
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise InputError(f"normalizer.{key}: must be a list of names, got {value!r:.80}")
            if value and len(value) != len(arrays[mean]):
                raise InputError(
                    f"normalizer.{key}: must have one name per value of normalizer.{mean} "
                    f"({len(arrays[mean])}), got {len(value)}"
                )
            names[key] = tuple(value)
        return cls(**arrays, **names)


def _numbers(field_name: str, value: Any) -> np.ndarray:
    """A flat list of finite numbers as float64, or an InputError naming ``field_name``."""
    if isinstance(value, np.ndarray):
        ok = value.ndim == 1 and value.dtype.kind in "iuf"
    else:
        ok = isinstance(value, list | tuple) and all(
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            for v in value
        )
    if not ok:
        raise InputError(f"{field_name}: must be a list of numbers, got {value!r:.80}")
    array = np.array(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise InputError(f"{field_name}: must be finite numbers, got {value!r:.80}")
    return array


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
    if train.spec.task == "driven_response" and train.spec.initial_state == "inputs":
        # the s(t_k) inputs are states: the states' map
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
    counts = {"training": spec.n_train, "validation": spec.n_val, "test": spec.n_test}
    if spec.holdout:
        counts["extrapolation"] = spec.n_test
    spec.check_draw(counts, whole=("test", "extrapolation"))
    train_seq, val_seq, test_seq, out_seq = np.random.SeedSequence(spec.seed).spawn(4)
    system = spec.base_system()

    def split(what: str, n: int, seq, held_out: bool = False, whole: bool = False) -> Dataset:
        return _simulate(spec, system, n, np.random.default_rng(seq), held_out, whole, what)

    train = split("training", spec.n_train, train_seq)
    extrapolation = None
    if spec.holdout:
        extrapolation = split("extrapolation", spec.n_test, out_seq, True, whole=True)
    return Splits(
        train=train,
        val=split("validation", spec.n_val, val_seq),
        test=split("test", spec.n_test, test_seq, whole=True),
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
    spec.check_draw({"sampled": n}, whole=("sampled",) if whole else ())
    rng = np.random.default_rng(seed)
    return _simulate(spec, spec.base_system(), n, rng, holdout, whole, "sampled")


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
    what: str = "sampled",
) -> Dataset:
    """Draw n trajectories, solve them on the grid and cut them into sequences (or not).

    ``what`` names the split in a solver error.
    """
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
        states = solve_trajectories(spec, batched, s0, what)
        drive = _drive(batched, stepper, spec.h, n_inputs, n)
        values = {k: np.broadcast_to(v, (n,)).copy() for k, v in batched.params.items()}
    physical, states = states, encode(states, spec.angles)
    ns = states.shape[-1]
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
        "s0": physical[:, starts].reshape(n * w, physical.shape[-1]),
        "trajectory": np.repeat(np.arange(n), w),
    }
    for a in [*arrays.values(), *per_seq.values()]:
        if a is not None:
            a.setflags(write=False)
    return Dataset(
        **arrays,
        params=per_seq,
        input_names=_input_names(spec, system, stepper),
        output_names=encoded_names(system.states, spec.angles),
        spec=spec,
    )


STACK_SIZE = 1024
"""Trajectories per stacked solve_ivp call: rtol and atol shrink by at most sqrt(1024) = 32."""


def solve_trajectories(
    spec: DatasetSpec, system: System, s0: np.ndarray, what: str = "sampled"
) -> np.ndarray:
    """The states s(t_n), t_n = n h, n = 0..N, from s(-transient) = s0 (batch, n): (batch, N+1, n).

    ``system`` carries one value per trajectory of each sampled parameter.  One solve_ivp call
    solves the whole batch (up to :data:`STACK_SIZE` trajectories) as one system of batch * n
    states, with rtol and atol divided by sqrt(batch): scipy's error norm is the RMS over all
    the components, so every step then meets each trajectory's own criterion
    RMS(err / (atol + rtol |s|)) <= 1, the one a call per trajectory meets (and the shared
    step, set by the hardest trajectory, is often smaller).  Implicit methods (whose stacked
    Jacobian would be dense), or a stacked call that fails, solve the trajectories one by one
    with rtol and atol; the first that fails is named in a one-line SolverError (with
    ``what``, the split).  The transient, when > 0, is the same call from t = -transient, so
    the drive keeps its phase: x(t_n) is the drive at t_n = n h.
    """
    grid = np.arange(spec.n_steps + 1) * spec.h
    t = np.concatenate([[-spec.transient], grid]) if spec.transient > 0 else grid
    options = {"method": spec.reference_method, "rtol": spec.rtol, "atol": spec.atol}
    parts = []
    for first in range(0, len(s0), STACK_SIZE):
        rows = slice(first, first + STACK_SIZE)
        part = system.with_params(**{k: v[rows] for k, v in system.params.items() if v.ndim})
        parts.append(_solve_stack(part, s0[rows], t, options, what, first))
    return np.concatenate(parts)[:, -len(grid) :]


def _solve_stack(
    system: System, s0: np.ndarray, t: np.ndarray, options: dict, what: str, first: int
) -> np.ndarray:
    """The batch s0 (m, n) in one stacked call, else one by one: (m, time, n)."""
    if options["method"] not in IMPLICIT:
        shrink = np.sqrt(len(s0))  # not below what solve_ivp can meet (scipy's own floor)
        tight = {
            **options,
            "rtol": max(checks.MIN_RTOL, options["rtol"] / shrink),
            "atol": max(checks.MIN_ATOL, options["atol"] / shrink),
        }
        try:
            return reference(system, s0, t, stack=True, **tight).states
        except SolverError:
            pass  # solved again one by one, to name the trajectory that fails
    return np.stack([_solve_one(system, s0, i, t, options, what, first) for i in range(len(s0))])


def _solve_one(
    system: System, s0: np.ndarray, i: int, t: np.ndarray, options: dict, what: str, first: int
) -> np.ndarray:
    """Trajectory i of the batch alone, (time, n); a failure names it, its s0 and parameters."""
    member = {k: float(v[i]) for k, v in system.params.items() if v.ndim}
    try:
        return reference(system.with_params(**member), s0[i], t, **options).states
    except SolverError as err:
        start = ", ".join(f"{k} = {v:.6g}" for k, v in zip(system.states, s0[i], strict=True))
        drawn = "".join(f", {k} = {v:.6g}" for k, v in member.items())
        at = f" at t = {t[0]:g}" if t[0] else ""
        raise SolverError(f"{what} trajectory {first + i} ({start}{at}{drawn}): {err}") from None


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


def rollout_dataset(spec: DatasetSpec, system: System, starts: np.ndarray, n_steps: int) -> Dataset:
    """A step-map Dataset of one sequence per start, its targets Y unknown (zeros): the inputs
    a model reads on n_steps steps of h = spec.h, laid out as :func:`sample` lays them out
    (the drive at the nodes of ``spec.drive_nodes``, then the parameter inputs; one constant
    channel when there are none).  For a free-running rollout of a step-map model
    (:func:`dynsys.rnn.evaluate.model_rollout`) from states no dataset holds."""
    m = len(starts)
    stepper = _nodes_stepper(spec.drive_nodes)
    n_drive = len(stepper.nodes) if system.driven else 0
    channels = [_drive(system, stepper, spec.h, n_steps, m).reshape(m, n_steps, n_drive)]
    if spec.param_inputs:
        p_in = np.array([float(system.params[k]) for k in spec.param_inputs])
        channels.append(np.broadcast_to(p_in, (m, n_steps, len(p_in))))
    X = np.concatenate(channels, axis=-1)
    if X.shape[-1] == 0:
        X = np.ones((m, n_steps, 1))
    h0 = encode(starts, spec.angles)
    return Dataset(
        X=np.ascontiguousarray(X),
        Y=np.zeros((m, n_steps, h0.shape[-1])),
        h0=h0,
        t=np.arange(n_steps + 1) * spec.h,
        t0=np.zeros(m),
        s0=starts,
        params={k: np.full(m, float(v)) for k, v in system.params.items()},
        trajectory=np.arange(m),
        input_names=_input_names(spec, system, stepper),
        output_names=encoded_names(system.states, spec.angles),
        spec=spec,
    )


def _replace(data: Dataset, **changes: Any) -> Dataset:
    values = {f.name: getattr(data, f.name) for f in fields(data)} | changes
    return Dataset(**values)
