"""The settings of a fit, declared once, and the one merge of recipe, config and command line.

Three dataclasses declare every setting a user can give, each field with its default and
``metadata={"help": ...}``, ``"choices"`` where the values come from a list, and ``"minimum"``
for a number that may be zero or negative (numbers are positive otherwise):

- :class:`~dynsys.rnn.data.DatasetSpec`: the trajectories (``dataset:`` in YAML);
- the ``Settings`` of each model kind (``model:``; see :mod:`dynsys.rnn.kinds`);
- :class:`TrainSettings`: how a gradient-fitted kind is fitted (``training:``).

The command-line options of ``dynsys train`` (:func:`dynsys.cli.rnn_commands`) and the YAML
schema (:mod:`dynsys.experiments.config`) are generated from these fields by :func:`option_fields`
and :func:`section_fields`; :func:`plan_fit` merges the system's recipe with what the user gave,
for the command line, for ``dynsys run`` and for ``--resume`` alike.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from typing import Any

import numpy as np

from .. import checks
from ..errors import InputError, unknown_name
from .data import DatasetSpec
from .evaluate import EVALUATION_COPIES
from .kinds import DEFAULT_KIND, MODEL_KINDS, model_class
from .recipes import recipe
from .train import ACTIVATIONS_PER_UNIT, OPTIMIZERS, PARAM_COPIES

SECTIONS = ("dataset", "model", "training")


@dataclass(frozen=True)
class TrainSettings:
    """How a gradient-fitted model is fitted (see :func:`dynsys.rnn.train.fit`), in stages:

    1. ``epochs`` on the dataset's sequences (``seq_len`` steps), teacher forced where the kind
       feeds back its output (a one-step loss);
    2. ``whole_epochs`` on whole trajectories (short windows first is a curriculum);
    3. ``closed_loop_epochs`` through the network's own fed-back outputs, on windows of
       ``rollout`` steps (a multi-step loss; None: the stage's sequences).
    """

    optimizer: str = field(
        default="lbfgs",
        metadata={"help": "adam, sgd (minibatches) or lbfgs (full batch).", "choices": OPTIMIZERS},
    )
    epochs: int = field(
        default=500, metadata={"help": "Epochs of the first stage (lbfgs: iterations)."}
    )
    lr: float = field(default=1e-3, metadata={"help": "Learning rate (adam, sgd)."})
    batch_size: int = field(default=32, metadata={"help": "Sequences per minibatch (adam, sgd)."})
    patience: int | None = field(
        default=None, metadata={"help": "Stop when the validation loss stalls this many epochs."}
    )
    clip: float | None = field(
        default=None, metadata={"help": "Clip the gradient's global norm to this value."}
    )
    truncate: int | None = field(
        default=None, metadata={"help": "Truncated BPTT: windows of this many steps."}
    )
    whole_epochs: int = field(
        default=0,
        metadata={"help": "Then fit on whole trajectories for this many epochs.", "minimum": 0},
    )
    closed_loop_epochs: int = field(
        default=0,
        metadata={
            "help": "Then fit free-running on the model's own outputs (multi-step loss).",
            "minimum": 0,
        },
    )
    rollout: int | None = field(
        default=None,
        metadata={"help": "Steps of each free-running window of the closed-loop stage."},
    )
    seed: int = field(default=0, metadata={"help": "Seed of the initial parameters and shuffles."})


DATASET_OPTIONS = ("h", "t_end", "n_train", "n_val", "n_test", "seq_len", "transient")
"""The dataset fields the command line offers as options (the rest are YAML only)."""
OPTION_NAMES = {"h": "dt"}
"""Fields whose command-line option is named otherwise (``--dt``)."""


@dataclass(frozen=True)
class FitPlan:
    """Everything one fit needs: the dataset, the model kind and its settings, the training."""

    spec: DatasetSpec
    kind: str
    model: Any
    training: TrainSettings

    @property
    def model_class(self) -> type:
        return MODEL_KINDS[self.kind]

    def record(self) -> dict[str, Any]:
        """JSON-ready settings, as a model file stores them."""
        from dataclasses import asdict

        return {
            "kind": self.kind,
            "model": asdict(self.model),
            "training": asdict(self.training),
        }


def model_fields() -> dict[str, Field]:
    """Every model setting of every kind by name (a name shared by kinds appears once)."""
    out: dict[str, Field] = {}
    for cls in MODEL_KINDS.values():
        for f in fields(cls.Settings):
            out.setdefault(f.name, f)
    return out


def section_fields(section: str) -> dict[str, Field]:
    """The user-settable fields of ``dataset``, ``model`` or ``training``, by name."""
    if section == "model":
        return model_fields()
    if section == "training":
        return {f.name: f for f in fields(TrainSettings) if f.name != "seed"}
    if section == "dataset":
        internal = ("system", "task", "seed", "params", "reference_method", "rtol", "atol")
        return {f.name: f for f in fields(DatasetSpec) if f.name not in internal}
    raise InputError(f"unknown settings section {section!r}; known: {', '.join(SECTIONS)}")


def option_fields() -> dict[str, tuple[str, Field]]:
    """The command-line options of a fit: option name -> (section, field), scalars only."""
    out: dict[str, tuple[str, Field]] = {}
    for section in ("model", "training"):
        for name, f in section_fields(section).items():
            out[name] = (section, f)
    dataset = section_fields("dataset")
    for name in DATASET_OPTIONS:
        if name in dataset:
            out[OPTION_NAMES.get(name, name)] = ("dataset", dataset[name])
    return out


def scalar_type(f: Field) -> type:
    """int, float, bool or str: the type of a scalar setting (None allowed or not)."""
    hint = typing.get_type_hints(_owner(f))[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = args[0] if len(args) == 1 else hint
    if hint not in (int, float, bool, str):
        raise TypeError(f"setting {f.name!r} is not a scalar: {hint}")
    return hint


def _owner(f: Field) -> type:
    for cls in (TrainSettings, DatasetSpec, *(k.Settings for k in MODEL_KINDS.values())):
        if f in fields(cls):
            return cls
    raise TypeError(f"no settings class declares {f.name!r}")


def default_of(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def plan_fit(
    system: str,
    kind: str | None = None,
    *,
    params: Mapping[str, float] | None = None,
    dataset: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    seed: int = 0,
    reference: Mapping[str, Any] | None = None,
) -> FitPlan:
    """The recipe of ``kind`` on ``system`` with what the user gave set over it.

    ``params`` fixes parameters (and takes them out of the recipe's sampled ``ranges``);
    ``dataset["ranges"]`` adds or replaces sampled ranges (and takes those names out of the
    fixed ones); every other given field replaces the recipe's.  ``seed`` seeds the data and the
    model.  A model setting that the kind does not have is refused, naming the kind's settings;
    training settings are refused for a kind fitted in closed form.
    """
    kind = DEFAULT_KIND if kind is None else kind
    cls = model_class(kind)
    book = recipe(system, kind)
    given = {k: v for k, v in (dataset or {}).items() if v is not None}
    fixed = {**book["dataset"].get("params", {}), **(params or {})}
    ranges = {k: v for k, v in book["dataset"].get("ranges", {}).items() if k not in (params or {})}
    ranges |= {k: tuple(v) for k, v in given.pop("ranges", {}).items()}
    fixed = {k: v for k, v in fixed.items() if k not in ranges}
    spec_fields = {k: v for k, v in book["dataset"].items() if k not in ("params", "ranges")}
    spec_fields |= given
    spec_fields |= {k: v for k, v in (reference or {}).items() if v is not None}
    spec = DatasetSpec(system, task=cls.task, params=fixed, ranges=ranges, seed=seed, **spec_fields)
    model_given = {k: v for k, v in (model or {}).items() if v is not None}
    own = cls.settings_fields()
    for name in model_given:
        if name not in own:
            raise InputError(
                f"model setting {name!r} does not apply to model kind {kind!r}; "
                f"its settings: {', '.join(own)}"
            )
    settings = _checked(cls.Settings, {**book["model"], **model_given})
    train_given = {k: v for k, v in (training or {}).items() if v is not None}
    if cls.fitting != "gradient" and train_given:
        raise InputError(
            f"training setting {next(iter(train_given))!r} does not apply to model kind "
            f"{kind!r}: it is fitted in closed form (its settings: {', '.join(own)})"
        )
    for name in train_given:
        if name not in section_fields("training"):
            raise unknown_name("training setting", str(name), section_fields("training"))
    train = _checked(TrainSettings, {**book["training"], **train_given, "seed": seed})
    plan = FitPlan(spec, kind, settings, train)
    check_plan(plan)
    return plan


def _checked(cls: type, values: dict[str, Any]) -> Any:
    """``cls(**values)`` with every scalar field checked as its declaration says: a whole number
    (>= 1, or its ``minimum``), a finite number (> 0, or >= its ``minimum``, <= its
    ``maximum``), a flag, or one of its ``choices``; None only where the default is None."""
    out = {}
    for f in fields(cls):
        value = values.get(f.name, default_of(f))
        out[f.name] = value if f.name == "seed" else _checked_value(f, value)
    return cls(**out)


def _checked_value(f: Field, value: Any) -> Any:
    try:
        kind = scalar_type(f)
    except TypeError:  # a list or mapping: its owner checks it
        return value
    if value is None and default_of(f) is None:
        return None
    minimum, maximum = f.metadata.get("minimum"), f.metadata.get("maximum")
    choices = f.metadata.get("choices")
    if choices is not None:
        if value not in choices:
            raise unknown_name(f.name, str(value), choices)
        return value
    if kind is bool:
        if not isinstance(value, bool | np.bool_):
            raise InputError(f"{f.name} must be true or false, got {value!r}")
        return bool(value)
    if kind is int:
        number = checks.integer(f.name, value, minimum=1 if minimum is None else minimum)
    elif kind is float:
        number = checks.finite_number(f.name, value)
        if minimum is None and number <= 0:
            raise InputError(f"{f.name} must be > 0, got {value!r}")
        if minimum is not None and number < minimum:
            raise InputError(f"{f.name} must be >= {minimum:g}, got {value!r}")
    else:
        if not isinstance(value, str):
            raise InputError(f"{f.name} must be a text, got {value!r}")
        return value
    if maximum is not None and number > maximum:
        raise InputError(f"{f.name} must be <= {maximum:g}, got {value!r}")
    return number


GATES = 3
"""Blocks of weights per layer at most (a GRU has three gates)."""


def check_plan(plan: FitPlan) -> None:
    """Refuse, before any data is simulated, a fit whose settings do not go together or whose
    data, parameters and back-propagation would exceed the memory ceiling, or whose data,
    epochs and evaluation the step ceiling (:mod:`dynsys.checks`)."""
    from .pipeline import stages

    spec, training, cls = plan.spec, plan.training, plan.model_class
    gradient = cls.fitting == "gradient"
    plan_stages = stages(spec, training, cls) if gradient else []
    if gradient and training.patience is not None and spec.n_val == 0:
        raise InputError("patience needs validation trajectories: set n_val >= 1")
    if gradient and training.rollout is not None and training.rollout > spec.n_steps:
        raise InputError(
            f"rollout must be at most the {spec.n_steps} steps of t_end / h, got {training.rollout}"
        )
    n_in, n_out = spec.n_channels
    N = spec.n_steps
    lengths = {spec.seq_len} | {
        spec.seq_len if s.seq_len == "spec" else s.seq_len for s in plan_stages
    }
    counts = {"training": spec.n_train, "validation": spec.n_val, "test": spec.n_test}
    if spec.holdout:
        counts["extrapolation"] = spec.n_test
    data = 0
    for length in lengths:
        cut = replace(spec, seq_len=length) if length != spec.seq_len else spec
        data += sum(
            cut.split_bytes(n, whole=name in ("test", "extrapolation"))
            for name, n in counts.items()
        )
        data += 8 * (spec.n_train + spec.n_val) * (N + 1) * (n_in + n_out)  # normalised copies
    settings = plan.model
    hidden = getattr(settings, "hidden", None) or getattr(settings, "units", None) or 0
    layers = getattr(settings, "layers", 1)
    params = activations = 0
    if gradient:
        n_params = GATES * layers * (n_in + n_out + hidden + 2) * hidden
        params = 8 * PARAM_COPIES * n_params
        longest = max(N if length is None else length for length in lengths)
        sequences = (spec.n_train + spec.n_val) * (N // longest)
        batch = sequences if training.optimizer == "lbfgs" else min(training.batch_size, sequences)
        activations = 8 * ACTIVATIONS_PER_UNIT * layers * batch * (longest + 1) * max(hidden, n_out)
    evaluation = 8 * EVALUATION_COPIES * spec.n_test * (N + 1) * n_out * (2 if spec.holdout else 1)
    parts = {"data": data, "parameters": params, "activations": activations}
    advice = {
        "data": "use fewer trajectories (n_train, n_val, n_test), a larger h or a shorter t_end",
        "parameters": "use a smaller model (hidden, units or layers)",
        "activations": "use shorter sequences (seq_len) or, with adam or sgd, a smaller batch_size",
    }
    largest = max(parts, key=parts.get)
    size = ", ".join(
        f"{k}={getattr(settings, k)}" for k in ("hidden", "units", "layers") if hasattr(settings, k)
    )
    what = (
        f"fitting a {plan.kind} model ({size or 'its settings'}) to {spec.n_train} "
        f"trajectories of {N:.4g} steps"
    )
    epochs = sum(s.epochs for s in plan_stages) if gradient else 1
    runs = len(lengths)
    steps = runs * sum(counts.values()) * N + epochs * (spec.n_train + spec.n_val) * N
    steps += 4 * spec.n_test * N * (2 if spec.holdout else 1)
    checks.within_steps(
        steps,
        f"{what} over {epochs} epochs",
        "use fewer epochs or trajectories, a larger h or a shorter t_end",
    )
    checks.fits_in_memory(sum(parts.values()) + evaluation, None, what, advice[largest])
