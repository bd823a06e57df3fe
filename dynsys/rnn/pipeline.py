"""From a system to a fitted, evaluated and saved RNN: what ``dynsys train`` and ``evaluate`` run.

:func:`recipe` gives the settings a system is trained with by default; :func:`train_rnn` draws
the dataset, fits the model on the normalised training split (validation split for the best
parameters), and evaluates its free-running rollout on the test split against solve_ivp and
the steppers at the same h; :func:`save_trained` and :func:`evaluate_file` write and reread it.

The recipe of the driven oscillator is the setting of the issue's floors (m = k = 1, c = 0,
A in [0.2, 1], s0 in [-1, 1]^2, h = 0.1, 200 steps).  The oscillator is linear, so its exact
step map is linear in s(n) and in the drive samples; both networks use the identity
activation there, which can represent it, where tanh has to imitate a linear map in the
nearly-linear part of its range (measured: a residual tanh Jordan network reached a rollout
rel L2 of 4.3e-3 after 2,000 L-BFGS iterations, the identity one 5e-7 after 300).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, unknown_name
from .data import DatasetSpec, Normalizer, make_splits, pad_initial_state, sample
from .evaluate import Evaluation, rollout_table
from .io import load_model, save_model
from .models import MODELS, RNNModel
from .train import History, fit

TASK_OF = {"elman": "driven_response", "jordan": "step_map"}
DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class ModelSettings:
    """The network: ``kind`` elman or jordan, its size, activation, residual output (Jordan),
    W started at the identity (``identity_init``, Elman: h(t) starts as a copy of h(t-1))."""

    kind: str = "jordan"
    hidden: int = 32
    activation: str = "tanh"
    residual: bool = True
    identity_init: bool = False
    dtype: str = "float64"


@dataclass(frozen=True)
class TrainSettings:
    """How to fit: see :func:`dynsys.rnn.train.fit`.  Two optional second stages follow:
    ``whole_epochs`` fits again on whole trajectories after the fit on ``seq_len`` windows
    (short windows first is a curriculum: long sequences from a random start train badly),
    and ``closed_loop_epochs`` (Jordan) fits through the network's own fed-back outputs after
    the teacher-forced fit."""

    optimizer: str = "lbfgs"
    epochs: int = 500
    lr: float = 1e-3
    batch_size: int | None = 32
    seed: int = 0
    patience: int | None = None
    clip: float | None = None
    truncate: int | None = None
    closed_loop_epochs: int = 0
    whole_epochs: int = 0


RECIPES: dict[str, dict[str, Any]] = {
    "driven_oscillator": {
        "dataset": {
            "params": {"m": 1.0, "k": 1.0, "c": 0.0},
            "ranges": {"A": (0.2, 1.0)},
            "h": 0.1,
            "t_end": 20.0,
            "n_train": 64,
            "n_val": 16,
            "n_test": 32,
        },
        "jordan": {"model": {"activation": "identity"}, "train": {"epochs": 300}},
        "elman": {
            "dataset": {"initial_state": "h0", "seq_len": 20},
            "model": {"activation": "identity", "identity_init": True},
            "train": {"epochs": 500, "whole_epochs": 300},
        },
    },
}
"""Per system (and model kind): the dataset, model and training settings that differ from the
defaults.  Without a recipe: the system's default parameters, a tanh network."""


def recipe(system: str, kind: str) -> tuple[dict[str, Any], ModelSettings, TrainSettings]:
    """The default dataset fields, model and training settings of ``kind`` on ``system``."""
    if kind not in TASK_OF:
        raise unknown_name("model", kind, TASK_OF)
    book = RECIPES.get(system, {})
    per_kind = book.get(kind, {})
    dataset = {"task": TASK_OF[kind], **book.get("dataset", {}), **per_kind.get("dataset", {})}
    model = ModelSettings(kind=kind, **per_kind.get("model", {}))
    training = TrainSettings(**per_kind.get("train", {}))
    return dataset, model, training


@dataclass
class TrainedRNN:
    """A fitted model, the history of each training stage, its data and test evaluation.

    ``stages`` maps "fit" and then, if they ran, "whole" or "closed_loop" to their History.
    """

    model: RNNModel
    stages: dict[str, History]
    spec: DatasetSpec
    normalizer: Normalizer
    settings: ModelSettings
    training: TrainSettings
    evaluation: Evaluation | None = None
    extrapolation: Evaluation | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def history(self) -> History:
        """The last stage's history: how training ended."""
        return list(self.stages.values())[-1]


def build_model(settings: ModelSettings, n_in: int, n_out: int, seed: int) -> RNNModel:
    """A fresh network of ``settings`` for n_in inputs and n_out outputs."""
    if settings.dtype not in DTYPES:
        raise unknown_name("dtype", settings.dtype, DTYPES)
    kwargs: dict[str, Any] = {"activation": settings.activation, "seed": seed}
    kwargs["dtype"] = DTYPES[settings.dtype]
    if settings.kind == "jordan":
        kwargs["residual"] = settings.residual
    model = MODELS[settings.kind](n_in, settings.hidden, n_out, **kwargs)
    if settings.identity_init:
        if settings.kind != "elman":
            raise InputError("identity_init applies to Elman networks (W is hidden x hidden)")
        model.params["W"][...] = np.eye(settings.hidden)
    return model


def training_arrays(model: RNNModel, data, normalizer: Normalizer) -> tuple:
    """(X, Y, h0) of ``data`` normalised, h0 widened to an Elman network's hidden units."""
    scaled = normalizer.transform(data)
    h0 = scaled.h0
    if h0 is not None and model.n_state > h0.shape[-1]:
        h0 = pad_initial_state(h0, model.n_state)
    return scaled.X, scaled.Y, h0


def train_rnn(
    spec: DatasetSpec,
    settings: ModelSettings,
    training: TrainSettings,
    *,
    progress: bool | None = None,
) -> TrainedRNN:
    """Draw ``spec``'s splits, fit a new network, and evaluate it on the test split."""
    if TASK_OF.get(settings.kind) != spec.task:
        raise InputError(
            f"a {settings.kind} network learns the {TASK_OF.get(settings.kind)} task; "
            f"the dataset's task is {spec.task}"
        )
    splits = make_splits(spec)
    normalizer = splits.normalizer
    n_in, n_out = splits.train.X.shape[-1], splits.train.Y.shape[-1]
    model = build_model(settings, n_in, n_out, training.seed)
    train = training_arrays(model, splits.train, normalizer)
    val = training_arrays(model, splits.val, normalizer) if spec.n_val else None
    if training.closed_loop_epochs and settings.kind != "jordan":
        raise InputError("closed_loop_epochs applies to Jordan networks")
    stages_ = ("epochs", "closed_loop_epochs", "whole_epochs")
    options = {k: v for k, v in asdict(training).items() if k not in stages_}
    options["progress"] = progress
    stages = {"fit": fit(model, train, val, epochs=training.epochs, **options)}
    if training.whole_epochs and spec.seq_len is not None and _finished(stages):
        whole = make_splits(replace(spec, seq_len=None))
        train = training_arrays(model, whole.train, normalizer)
        val = training_arrays(model, whole.val, normalizer) if spec.n_val else None
        stages["whole"] = fit(model, train, val, epochs=training.whole_epochs, **options)
    if training.closed_loop_epochs and _finished(stages):
        stages["closed_loop"] = fit(
            model, train, val, epochs=training.closed_loop_epochs, teacher_forcing=False, **options
        )
    evaluation = rollout_table(model, splits.test, normalizer) if spec.n_test else None
    outside = None
    if splits.extrapolation is not None and spec.n_test:
        outside = rollout_table(model, splits.extrapolation, normalizer, split="extrapolation")
    return TrainedRNN(model, stages, spec, normalizer, settings, training, evaluation, outside)


def _finished(stages: dict[str, History]) -> bool:
    """Whether the last stage ended normally (not interrupted, not blown up)."""
    return list(stages.values())[-1].stopped_reason in ("epochs", "converged", "early_stop")


def save_trained(trained: TrainedRNN, path: str | Path) -> Path:
    """Write the model, its normaliser, dataset spec and training record to ``path`` (.npz)."""
    record = {
        "model_settings": asdict(trained.settings),
        "settings": asdict(trained.training),
        "history": trained.history.summary(),
        "stages": {name: h.to_dict() for name, h in trained.stages.items()},  # with the losses
    }
    extra = dict(trained.extra)
    if trained.evaluation is not None:
        extra["test"] = trained.evaluation.to_dict()["test"]
    if trained.extrapolation is not None:
        extra["extrapolation"] = trained.extrapolation.to_dict()["extrapolation"]
    return save_model(
        path,
        trained.model,
        normalizer=trained.normalizer.to_dict(),
        training=record,
        dataset=trained.spec.to_dict(),
        extra=extra,
    )


def evaluate_file(path: str | Path, n_test: int = 32, seed: int | None = None) -> Evaluation:
    """A fresh test set from the distribution a saved model was trained on, and its table.

    ``seed`` None draws with the training seed + 1, which no split of the training run used
    (those come from ``SeedSequence(seed).spawn``).
    """
    loaded = load_model(path)
    if loaded.dataset is None or loaded.normalizer is None:
        raise InputError(f"{path}: the model file has no dataset spec or normaliser to evaluate")
    spec = DatasetSpec.from_dict(loaded.dataset)
    spec = replace(spec, n_test=n_test)
    data = sample(spec, n_test, spec.seed + 1 if seed is None else seed, whole=True)
    return rollout_table(loaded.model, data, Normalizer.from_dict(loaded.normalizer))
