"""Continuing an interrupted training from the parameters it saved.

``dynsys run`` saves the network to model.npz when training is interrupted (Ctrl-C): the best
parameters so far, with each stage's history.  :func:`continue_training` picks it up: the
stages of :func:`~dynsys.rnn.pipeline.train_rnn` that had ended are kept as they were, the
interrupted one runs the epochs it had left (its history goes on from the saved one, epochs
numbered on), and the later stages run in full; then the test set is scored.  The optimiser's
own state (Adam's moments, L-BFGS's memory) is not saved, so the continued fit starts that
afresh from the saved parameters: close to an uninterrupted fit, not the same numbers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..rnn.data import DatasetSpec, Normalizer, make_splits
from ..rnn.evaluate import rollout_table
from ..rnn.io import load_model
from ..rnn.pipeline import ModelSettings, TrainedRNN, TrainSettings, training_arrays
from ..rnn.train import History, fit

FINISHED = ("epochs", "converged", "early_stop")
"""How a stage that ended normally stopped (not interrupted, not blown up)."""


def continue_training(
    path: Path,
    spec: DatasetSpec,
    settings: ModelSettings,
    training: TrainSettings,
    progress: bool | None = None,
) -> TrainedRNN:
    """Continue the training stages of :func:`~dynsys.rnn.pipeline.train_rnn` from the model
    saved at ``path``: stages that ended are kept, the interrupted one runs its remaining
    epochs (its history continues the saved one), later ones run in full; then the test."""
    loaded = load_model(path)
    if loaded.normalizer is None:
        raise InputError(f"{path}: the model file has no normaliser; cannot continue training")
    model, normalizer = loaded.model, Normalizer.from_dict(loaded.normalizer)
    saved = (loaded.training or {}).get("stages") or {}
    options = {
        "optimizer": training.optimizer,
        "lr": training.lr,
        "batch_size": training.batch_size,
        "seed": training.seed,
        "patience": training.patience,
        "clip": training.clip,
        "truncate": training.truncate,
        "progress": progress,
    }
    splits = make_splits(spec)
    data, stages = splits, {}
    for name, epochs, extra in _stage_list(spec, training):
        if stages and list(stages.values())[-1].stopped_reason not in FINISHED:
            break
        if name == "whole":
            data = make_splits(replace(spec, seq_len=None))
        old = _history(saved[name]) if name in saved else None
        if old is not None and (old.stopped_reason in FINISHED or old.epochs_run >= epochs):
            stages[name] = old
            continue
        train = training_arrays(model, data.train, normalizer)
        val = training_arrays(model, data.val, normalizer) if spec.n_val else None
        done = 0 if old is None else old.epochs_run
        new = fit(model, train, val, epochs=epochs - done, **extra, **options)
        stages[name] = new if old is None else _continued(old, new)
    evaluation = rollout_table(model, splits.test, normalizer) if spec.n_test else None
    return TrainedRNN(model, stages, spec, normalizer, settings, training, evaluation)


def _stage_list(spec: DatasetSpec, training: TrainSettings) -> list[tuple[str, int, dict]]:
    """The stages train_rnn runs: (name, epochs, extra arguments of fit)."""
    stages = [("fit", training.epochs, {})]
    if training.whole_epochs and spec.seq_len is not None:
        stages.append(("whole", training.whole_epochs, {}))
    if training.closed_loop_epochs:
        stages.append(("closed_loop", training.closed_loop_epochs, {"teacher_forcing": False}))
    return stages


def _history(data: dict[str, Any]) -> History:
    """A History back from its ``to_dict`` (None losses, which were not finite, as nan)."""

    def floats(values) -> list[float]:
        return [np.nan if v is None else float(v) for v in values or []]

    def number_or(value, default: float) -> float:
        return default if value is None else float(value)

    return History(
        optimizer=data["optimizer"],
        initial_train_loss=number_or(data.get("initial_train_loss"), np.nan),
        initial_val_loss=data.get("initial_val_loss"),
        train_loss=floats(data.get("train_loss")),
        val_loss=floats(data.get("val_loss")),
        lr=list(data.get("lr") or []),
        best_epoch=int(data.get("best_epoch", 0)),
        best_loss=number_or(data.get("best_loss"), np.inf),
        stopped_reason=data.get("stopped_reason", "interrupted"),
        message=data.get("message", ""),
        wall_s=float(data.get("wall_s", 0.0)),
        settings=dict(data.get("settings") or {}),
    )


def _continued(old: History, new: History) -> History:
    """One history of a stage that ran ``old``, was interrupted, and went on as ``new`` (from
    the best parameters of ``old``; new's epoch 0 is those parameters)."""
    offset = old.epochs_run
    best_epoch = offset + new.best_epoch if new.best_epoch else old.best_epoch
    return replace(
        new,
        initial_train_loss=old.initial_train_loss,
        initial_val_loss=old.initial_val_loss,
        train_loss=old.train_loss + new.train_loss,
        val_loss=old.val_loss + new.val_loss,
        lr=old.lr + new.lr,
        best_epoch=best_epoch,
        message=f"resumed after epoch {offset}, then {new.message} (counted from the resume)",
        wall_s=old.wall_s + new.wall_s,
    )
