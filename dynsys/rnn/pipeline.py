"""From a system to a fitted, evaluated and saved model: what ``dynsys train`` and ``evaluate`` run.

:func:`train_model` takes a :class:`~dynsys.rnn.settings.FitPlan` (the recipe with the user's
settings over it, see :func:`~dynsys.rnn.settings.plan_fit`), draws the dataset, fits the model
on the normalised training split (by gradient in the stages of :func:`stages`, the validation
split choosing the best parameters, or in closed form), and evaluates its free-running rollout
on the test split against solve_ivp and the steppers at the same h; :func:`save_trained` and
:func:`evaluate_file` write and reread it.  Nothing here names a model kind: what a kind is and
how it is fitted are declared by its class (:mod:`dynsys.rnn.base`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import checks
from ..errors import InputError
from ..timing import Stopwatch
from .base import Model
from .data import Dataset, DatasetSpec, Normalizer, Splits, make_splits, sample
from .evaluate import EVALUATION_COPIES, Evaluation, rollout_table
from .io import load_model, save_model
from .settings import FitPlan, TrainSettings, check_plan
from .train import History, fit

FINISHED = ("epochs", "converged", "early_stop")
"""How a stage that ended normally stopped (not interrupted, not blown up)."""


@dataclass(frozen=True)
class Stage:
    """One training stage: its name, epochs, the sequence length of its data (None: whole
    trajectories; ``"spec"``: the dataset's own) and extra arguments of :func:`fit`."""

    name: str
    epochs: int
    seq_len: int | str | None = "spec"
    options: dict[str, Any] = field(default_factory=dict)


def stages(spec: DatasetSpec, training: TrainSettings, model_cls: type[Model]) -> list[Stage]:
    """The stages a gradient-fitted model runs, in order (a fresh fit and a resume alike)."""
    out = [Stage("fit", training.epochs)]
    if training.whole_epochs and spec.seq_len is not None:
        out.append(Stage("whole", training.whole_epochs, None))
    if training.closed_loop_epochs:
        if not model_cls.feeds_back_output():
            raise InputError(
                f"closed_loop_epochs applies to models that feed back their output; "
                f"{model_cls.kind!r} does not"
            )
        length = training.rollout if training.rollout is not None else out[-1].seq_len
        out.append(
            Stage("closed_loop", training.closed_loop_epochs, length, {"teacher_forcing": False})
        )
    return out


@dataclass
class TrainedModel:
    """A fitted model, the history of each training stage, its data and test evaluation.

    ``stages`` maps "fit" and then, if they ran, "whole" or "closed_loop" to their History (a
    closed-form fit has one stage, "fit", whose history records its time).  ``timings`` holds
    the wall seconds of the parts of the call that made it: "data" (drawing, simulating and
    cutting the splits, fitting the normaliser), "normalisation" (scaling the arrays a fit
    takes), "prepare" (what a model sets from the data), "fit:<stage>" for each stage run,
    "evaluation" (the test and extrapolation tables).
    """

    model: Model
    stages: dict[str, History]
    plan: FitPlan
    normalizer: Normalizer
    evaluation: Evaluation | None = None
    extrapolation: Evaluation | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def spec(self) -> DatasetSpec:
        return self.plan.spec

    @property
    def history(self) -> History:
        """The last stage's history: how training ended."""
        return list(self.stages.values())[-1]


def training_arrays(model: Model, data: Dataset, normalizer: Normalizer) -> tuple:
    """(X, Y, h0) of ``data`` normalised, h0 as the model takes it (:meth:`Model.initial`)."""
    scaled = normalizer.transform(data)
    h0 = None if scaled.h0 is None else model.initial(scaled.h0)
    return scaled.X, scaled.Y, h0


class _SplitCache:
    """The dataset's splits, cut into sequences of each length a stage asks for, drawn once."""

    def __init__(self, spec: DatasetSpec, watch: Stopwatch):
        self.spec = spec
        self.watch = watch
        self._cuts: dict[Any, Splits] = {}

    def __call__(self, seq_len: int | str | None) -> Splits:
        length = self.spec.seq_len if seq_len == "spec" else seq_len
        if length not in self._cuts:
            with self.watch.part("data"):
                self._cuts[length] = make_splits(replace(self.spec, seq_len=length))
        return self._cuts[length]


def train_model(
    plan: FitPlan, *, progress: bool | None = None, resume_from: Path | None = None
) -> TrainedModel:
    """Draw the plan's splits, fit a new model (or continue the one saved at ``resume_from``),
    and evaluate it on the test split.

    Continuing: the stages that had ended are kept as saved, the interrupted one runs the epochs
    it had left (its history goes on from the saved one), the later ones run in full.  The
    optimiser's own state (Adam's moments, L-BFGS's memory) is not saved, so a continued fit is
    close to, not the same numbers as, an uninterrupted one.
    """
    spec, cls = plan.spec, plan.model_class
    if cls.task != spec.task:
        raise InputError(
            f"a {plan.kind} model learns the {cls.task} task; the dataset's task is {spec.task}"
        )
    check_plan(plan)
    # the model first: a setting it refuses is refused before any data is simulated
    saved: dict[str, History] = {}
    normalizer = None
    if resume_from is not None:
        loaded = load_model(resume_from)
        if loaded.normalizer is None:
            raise InputError(f"{resume_from}: the model file has no normaliser; cannot continue")
        model, normalizer = loaded.model, Normalizer.from_dict(loaded.normalizer)
        _check_same_model(resume_from, model, plan)
        record = (loaded.training or {}).get("stages") or {}
        saved = {name: History.from_dict(h) for name, h in record.items()}
    else:
        model = cls.build(plan.model, *spec.n_channels, plan.training.seed)
    watch = Stopwatch()
    cuts = _SplitCache(spec, watch)
    splits = cuts("spec")
    if normalizer is None:
        normalizer = splits.normalizer
        if hasattr(model, "prepare"):  # what the model sets from the data before fitting
            with watch.part("normalisation"):
                arrays = training_arrays(model, splits.train, normalizer)
            with watch.part("prepare"):
                model.prepare(*arrays)
    if cls.fitting == "closed_form":
        done = saved.get("fit")
        if done is None or done.stopped_reason not in FINISHED:
            with watch.part("normalisation"):
                arrays = training_arrays(model, splits.train, normalizer)
            start = time.perf_counter()
            model.fit_closed_form(*arrays)
            done = History(optimizer="closed_form", stopped_reason="converged")
            done.wall_s = time.perf_counter() - start
            watch.add("fit:fit", done.wall_s)
            done.message = "fitted in closed form"
        trained_stages = {"fit": done}
    else:
        trained_stages = _fit_stages(model, plan, cuts, normalizer, saved, progress, watch)
    with watch.part("evaluation"):
        evaluation = rollout_table(model, splits.test, normalizer) if spec.n_test else None
        outside = None
        if splits.extrapolation is not None and spec.n_test:
            outside = rollout_table(model, splits.extrapolation, normalizer, split="extrapolation")
    return TrainedModel(
        model, trained_stages, plan, normalizer, evaluation, outside, timings=dict(watch.parts)
    )


def _fit_stages(model, plan, cuts, normalizer, saved, progress, watch) -> dict[str, History]:
    """Run the gradient stages, keeping those ``saved`` had finished."""
    training = plan.training
    options = {
        k: v
        for k, v in asdict(training).items()
        if k in ("optimizer", "lr", "batch_size", "seed", "patience", "clip", "truncate")
    }
    options["progress"] = progress
    out: dict[str, History] = {}
    for stage in stages(plan.spec, training, plan.model_class):
        if out and list(out.values())[-1].stopped_reason not in FINISHED:
            break
        old = saved.get(stage.name)
        if old is not None and (old.stopped_reason in FINISHED or old.epochs_run >= stage.epochs):
            out[stage.name] = old
            continue
        data = cuts(stage.seq_len)
        with watch.part("normalisation"):
            train = training_arrays(model, data.train, normalizer)
            val = training_arrays(model, data.val, normalizer) if plan.spec.n_val else None
        done = 0 if old is None else old.epochs_run
        with watch.part(f"fit:{stage.name}"):
            new = fit(model, train, val, epochs=stage.epochs - done, **stage.options, **options)
        out[stage.name] = new if old is None else old.continued_by(new)
    return out


def _check_same_model(path: Path, model: Model, plan: FitPlan) -> None:
    """A saved model continues a plan only if it is the plan's kind and settings."""
    if model.kind != plan.kind:
        raise InputError(
            f"{path} holds a {model.kind} model; this run fits a {plan.kind} model: "
            "start afresh (--overwrite)"
        )


def save_trained(trained: TrainedModel, path: str | Path) -> Path:
    """Write the model, its normaliser, dataset spec, settings, training record and the
    definition of its system to ``path`` (.npz)."""
    record = {
        **trained.plan.record(),
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
    n_test = checks.integer("n_test", n_test)
    if seed is not None:
        seed = checks.integer("seed", seed, minimum=0)
    spec = replace(spec, n_test=n_test)
    N, n_out = spec.n_steps, spec.n_channels[1]
    checks.within_steps(
        4 * n_test * N,
        f"evaluating on {n_test} test trajectories of {N} steps and 3 steppers",
        "use fewer test trajectories (n_test/--n-test)",
    )
    checks.fits_in_memory(
        spec.split_bytes(n_test, whole=True) + 8 * EVALUATION_COPIES * n_test * (N + 1) * n_out,
        None,
        f"evaluating on {n_test} test trajectories of {N} steps",
        "use fewer test trajectories (n_test/--n-test)",
    )
    data = sample(spec, n_test, spec.seed + 1 if seed is None else seed, whole=True)
    return rollout_table(loaded.model, data, Normalizer.from_dict(loaded.normalizer))


__all__ = [
    "FINISHED",
    "Stage",
    "TrainedModel",
    "evaluate_file",
    "save_trained",
    "stages",
    "train_model",
    "training_arrays",
]
