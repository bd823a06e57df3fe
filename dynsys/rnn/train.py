"""The training loop: minibatch Adam or SGD, or full-batch L-BFGS, with early stopping.

Data come as ``(X, Y, h0)``: X of shape (batch, time, n_in), Y of shape (batch, time, n_out)
and h0 None, one initial state for every sequence, or one per sequence (batch, ...).  The loss
is the model's: a mean over batch and time, so the loss of a data set is the mean of its
minibatch losses weighted by their sizes.  The losses History records are those of the
parameters at the end of each epoch, from the model's forward-only ``loss`` where it has one
(``loss_and_grad`` otherwise), not a running mean over the epoch's steps.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, Any

import numpy as np
from threadpoolctl import threadpool_limits

from .. import checks
from ..errors import InputError, unknown_name
from ..metrics import finite_or_none
from .optim import Schedule, make_optimizer, make_schedule

OPTIMIZERS = ("adam", "sgd", "lbfgs")
PARAM_COPIES = 30
"""Copies of the parameters a gradient fit holds: the parameters, the best ones, the
gradients, Adam's moments, flat vectors, and L-BFGS's ten pairs of history."""
ACTIVATIONS_PER_UNIT = 12
"""Arrays of (batch, time, hidden) that a forward and backward pass keep per layer (the
pre-activations, the states, their gradients and slopes, and temporaries)."""
STOP_REASONS = ("epochs", "converged", "early_stop", "non_finite", "interrupted")
NON_FINITE_HINT = "lower the learning rate or set clip"


@dataclass
class History:
    """What a call to :func:`fit` did, epoch by epoch (epochs are counted from 1).

    ``train_loss[e - 1]`` and ``val_loss[e - 1]`` are the losses of the parameters after epoch e
    (for L-BFGS, after iteration e); ``lr[e - 1]`` is the learning rate used in it (None for
    L-BFGS).  ``best_epoch`` names the parameters the model was left with: those of the lowest
    validation loss (training loss without validation data), 0 for the initial parameters.
    ``stopped_reason`` is one of :data:`STOP_REASONS`; ``message`` says why in one line.
    """

    optimizer: str
    initial_train_loss: float = math.nan
    initial_val_loss: float | None = None
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float | None] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    stopped_reason: str = "epochs"
    message: str = ""
    wall_s: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    def summary(self) -> dict[str, Any]:
        """The outcome without the per-epoch lists, JSON-ready (for a model file's metadata)."""
        return {
            "optimizer": self.optimizer,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "best_loss": finite_or_none(self.best_loss),
            "initial_train_loss": finite_or_none(self.initial_train_loss),
            "initial_val_loss": finite_or_none(self.initial_val_loss),
            "final_train_loss": finite_or_none(self.train_loss[-1]) if self.train_loss else None,
            "final_val_loss": finite_or_none(self.val_loss[-1]) if self.val_loss else None,
            "stopped_reason": self.stopped_reason,
            "message": self.message,
            "wall_s": self.wall_s,
            "settings": dict(self.settings),
        }

    def to_dict(self) -> dict[str, Any]:
        """:meth:`summary` with the per-epoch lists; inf and nan become None."""
        return self.summary() | {
            "train_loss": finite_or_none(list(self.train_loss)),
            "val_loss": finite_or_none(list(self.val_loss)),
            "lr": list(self.lr),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """A History back from :meth:`to_dict` (None losses, which were not finite, as nan)."""

        def floats(values) -> list[float]:
            return [math.nan if v is None else float(v) for v in values or []]

        def number_or(value, default: float) -> float:
            return default if value is None else float(value)

        return cls(
            optimizer=data["optimizer"],
            initial_train_loss=number_or(data.get("initial_train_loss"), math.nan),
            initial_val_loss=data.get("initial_val_loss"),
            train_loss=floats(data.get("train_loss")),
            val_loss=floats(data.get("val_loss")),
            lr=list(data.get("lr") or []),
            best_epoch=int(data.get("best_epoch", 0)),
            best_loss=number_or(data.get("best_loss"), math.inf),
            stopped_reason=data.get("stopped_reason", "interrupted"),
            message=data.get("message", ""),
            wall_s=float(data.get("wall_s", 0.0)),
            settings=dict(data.get("settings") or {}),
        )

    def continued_by(self, new: History) -> History:
        """One history of a stage that ran as ``self``, was interrupted, and went on as ``new``
        (from the best parameters of ``self``; new's epoch 0 is those parameters)."""
        offset = self.epochs_run
        best_epoch = offset + new.best_epoch if new.best_epoch else self.best_epoch
        return replace(
            new,
            initial_train_loss=self.initial_train_loss,
            initial_val_loss=self.initial_val_loss,
            train_loss=self.train_loss + new.train_loss,
            val_loss=self.val_loss + new.val_loss,
            lr=self.lr + new.lr,
            best_epoch=best_epoch,
            message=f"resumed after epoch {offset}, then {new.message} (counted from the resume)",
            wall_s=self.wall_s + new.wall_s,
        )


class _NonFinite(Exception):
    """Raised inside the loop when a loss or gradient leaves the finite numbers."""

    def __init__(self, epoch: int):
        self.epoch = epoch


def fit(
    model,
    train: tuple,
    val: tuple | None = None,
    *,
    optimizer: str = "adam",
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int | None = 32,
    schedule: str | dict[str, Any] = "constant",
    seed: int = 0,
    patience: int | None = None,
    truncate: int | None = None,
    clip: float | None = None,
    teacher_forcing: bool | None = None,
    progress: bool | None = None,
    callback: Callable[[int, History], None] | None = None,
) -> History:
    """Fit ``model.params`` in place to ``train`` and return the :class:`History`.

    ``optimizer`` "adam" or "sgd" (momentum 0.9) runs ``epochs`` passes over minibatches of
    ``batch_size`` sequences (None: all) in an order shuffled by ``np.random.default_rng(seed)``,
    with the learning rate ``schedule`` (a name or a dict, see :func:`make_schedule`) from ``lr``.
    "lbfgs" runs scipy's L-BFGS-B on the full batch for at most ``epochs`` iterations (lr,
    batch_size and schedule unused).  ``truncate``, ``clip`` and ``teacher_forcing`` (Jordan
    models only; None: the model's default) go to ``model.loss_and_grad``.

    With ``patience``, training stops when the validation loss has not improved for that many
    epochs.  Whatever ends it (the last epoch, early stopping, a non-finite loss, Ctrl-C or a
    ``callback(epoch, history)`` raising KeyboardInterrupt), the model is left with the
    parameters of ``history.best_epoch``.  ``progress`` draws a bar on stderr (None: only when
    stderr is a terminal).
    """
    if optimizer not in OPTIMIZERS:
        raise unknown_name("optimizer", str(optimizer), OPTIMIZERS)
    epochs = checks.integer("epochs", epochs, minimum=1)
    lr = checks.positive_number("lr", lr)
    seed = checks.integer("seed", seed, minimum=0)
    if batch_size is not None:
        batch_size = checks.integer("batch_size", batch_size, minimum=1)
    train_data = _data("train", train)
    val_data = None if val is None else _data("val", val)
    if patience is not None:
        patience = checks.integer("patience", patience, minimum=1)
        if val_data is None:
            raise InputError("patience needs validation data: pass val=(X, Y, h0)")
    kwargs: dict[str, Any] = {"truncate": truncate, "clip": clip}
    if teacher_forcing is not None:
        if not type(model).feeds_back_output():
            kind = model.config().get("kind")
            raise InputError(
                f"teacher_forcing applies to models that feed back their output, not {kind!r}"
            )
        kwargs["teacher_forcing"] = bool(teacher_forcing)
    _check_size(model, train_data, val_data, epochs, None if optimizer == "lbfgs" else batch_size)
    sched = make_schedule(schedule, lr, epochs) if optimizer != "lbfgs" else None
    opt = make_optimizer(optimizer, lr) if optimizer != "lbfgs" else None
    batch_size = batch_size or len(train_data[0])

    history = History(optimizer=optimizer)
    history.settings = {
        "optimizer": optimizer,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "schedule": sched.to_dict() if sched else None,
        "seed": seed,
        "patience": patience,
        "truncate": truncate,
        "clip": clip,
        "teacher_forcing": teacher_forcing,
    }
    loop = _Loop(model, train_data, val_data, batch_size, kwargs, history, patience, callback)
    show = sys.stderr.isatty() if progress is None else progress
    bar = _Bar(epochs, sys.stderr) if show else None
    start = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _blas_threads(model):
            loop.start()
            if opt is not None:
                _first_order(loop, opt, sched, epochs, seed, bar)
            else:
                _lbfgs(loop, epochs, bar)
    except _NonFinite as err:
        last = history.train_loss[-1] if history.train_loss else history.initial_train_loss
        where = (
            f"in epoch {err.epoch} (last finite loss {last:.6g})"
            if err.epoch
            else "for the initial parameters"
        )
        history.stopped_reason = "non_finite"
        history.message = (
            f"the loss became non-finite {where}; {NON_FINITE_HINT}; {_kept(history.best_epoch)}"
        )
    except KeyboardInterrupt:
        history.stopped_reason = "interrupted"
        history.message = (
            f"interrupted after epoch {history.epochs_run}; {_kept(history.best_epoch)}"
        )
    finally:
        loop.restore_best()
        history.wall_s = time.perf_counter() - start
        if bar is not None:
            bar.close()
    return history


def _check_size(model, train, val, epochs: int, batch_size: int | None) -> None:
    """Refuse, before the first epoch, a fit whose back-propagation would exceed the memory
    ceiling or whose epochs the step ceiling (:mod:`dynsys.checks`)."""
    X, Y, _ = train
    sequences = len(X) + (0 if val is None else len(val[0]))
    steps = X.shape[1]
    checks.within_steps(
        epochs * sequences * steps,
        f"{epochs} epochs of {sequences} sequences of {steps} steps",
        "use fewer epochs, sequences or steps",
    )
    width = max(int(getattr(model, "n_hidden", 0) or 0), Y.shape[-1], X.shape[-1])
    batch = len(X) if batch_size is None else min(batch_size, len(X))
    n_params = int(getattr(model, "n_params", 0) or 0)
    checks.fits_in_memory(
        8 * (ACTIVATIONS_PER_UNIT * batch * (steps + 1) * width + PARAM_COPIES * n_params),
        None,
        f"back-propagating through {batch} sequences of {steps} steps ({width} units)",
        "use shorter sequences, a smaller batch_size (adam, sgd) or a smaller model",
    )


SMALL_HIDDEN = 64
"""Up to this many hidden units, training runs BLAS on one thread (see :func:`_blas_threads`)."""


def _blas_threads(model):
    """One BLAS thread for a small network, the library's default for a large one.

    A step's matrices (batch x hidden times hidden x hidden) are too small to share up to 64
    hidden units: several threads only wait for each other, and on a busy machine their
    spin-waiting made training a hundred times slower (measured: 500 L-BFGS iterations of the
    Elman recipe, 4 s on one thread, over 3 minutes on two with the other core busy).  From 128
    units on, two threads are faster on an idle machine (benchmarks/bench_rnn.py).
    """
    if getattr(model, "n_hidden", SMALL_HIDDEN + 1) > SMALL_HIDDEN:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _Loop:
    """Bookkeeping shared by both kinds of optimiser: losses, the best parameters, stopping."""

    def __init__(self, model, train, val, batch_size, kwargs, history, patience, callback):
        self.model, self.train, self.val = model, train, val
        self.batch_size, self.kwargs, self.history = batch_size, kwargs, history
        self.patience, self.callback = patience, callback
        self.best = {k: v.copy() for k, v in model.params.items()}

    def loss_and_grad(self, X, Y, h0, epoch: int) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = self.model.loss_and_grad(X, Y, h0, **self.kwargs)
        if not (np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())):
            raise _NonFinite(epoch)
        return float(loss), grads

    def loss(self, X, Y, h0, epoch: int) -> float:
        """The loss alone: the model's forward-only ``loss`` where it has one."""
        if not hasattr(self.model, "loss"):
            return self.loss_and_grad(X, Y, h0, epoch)[0]
        tf = {k: v for k, v in self.kwargs.items() if k == "teacher_forcing"}
        loss = float(self.model.loss(X, Y, h0, **tf))
        if not np.isfinite(loss):
            raise _NonFinite(epoch)
        return loss

    def mean_loss(self, data, epoch: int) -> float:
        """The loss of a whole data set, evaluated minibatch by minibatch."""
        X, Y, h0 = data
        if len(X) <= self.batch_size:
            return self.loss(X, Y, h0, epoch)
        total = 0.0
        for start in range(0, len(X), self.batch_size):
            rows = slice(start, start + self.batch_size)
            total += self.loss(X[rows], Y[rows], _rows(h0, rows), epoch) * len(X[rows])
        return total / len(X)

    def start(self) -> None:
        h = self.history
        h.initial_train_loss = self.mean_loss(self.train, 0)
        h.initial_val_loss = None if self.val is None else self.mean_loss(self.val, 0)
        h.best_loss = h.initial_train_loss if self.val is None else h.initial_val_loss

    def end_epoch(self, epoch: int, train_loss: float, lr: float | None) -> bool:
        """Record an epoch, keep the parameters if best, call back; True to stop early."""
        h = self.history
        val_loss = None if self.val is None else self.mean_loss(self.val, epoch)
        h.train_loss.append(train_loss)
        if val_loss is not None:
            h.val_loss.append(val_loss)
        h.lr.append(lr)
        monitored = train_loss if val_loss is None else val_loss
        if monitored < h.best_loss:
            h.best_loss, h.best_epoch = monitored, epoch
            for name, value in self.model.params.items():
                self.best[name][...] = value
        if self.callback is not None:
            self.callback(epoch, h)
        if self.patience is not None and epoch - h.best_epoch >= self.patience:
            h.stopped_reason = "early_stop"
            h.message = (
                f"stopped early after epoch {epoch}: no better validation loss for "
                f"{self.patience} epochs; {_kept(h.best_epoch)}"
            )
            return True
        return False

    def restore_best(self) -> None:
        for name, value in self.best.items():
            self.model.params[name][...] = value


def _first_order(loop: _Loop, opt, sched: Schedule, epochs: int, seed: int, bar) -> None:
    X, Y, h0 = loop.train
    rng = np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        opt.lr = sched.lr_at(epoch - 1)
        order = rng.permutation(len(X))
        for start in range(0, len(X), loop.batch_size):
            rows = order[start : start + loop.batch_size]
            _, grads = loop.loss_and_grad(X[rows], Y[rows], _rows(h0, rows), epoch)
            opt.step(loop.model.params, grads)
        stop = loop.end_epoch(epoch, loop.mean_loss(loop.train, epoch), opt.lr)
        if bar is not None:
            bar.update(epoch, loop.history)
        if stop:
            return
    loop.history.message = f"ran all {epochs} epochs; best epoch {loop.history.best_epoch}"


def _lbfgs(loop: _Loop, epochs: int, bar) -> None:
    """scipy's L-BFGS-B on the full batch; a non-finite trial point counts as +inf."""
    model = loop.model
    X, Y, h0 = loop.train
    iteration = non_finite_trials = 0

    def loss_and_flat_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal non_finite_trials
        model.set_flat_params(x)
        try:
            loss, grads = loop.loss_and_grad(X, Y, h0, iteration + 1)
        except _NonFinite:
            non_finite_trials += 1
            return math.inf, np.zeros_like(x)
        return loss, np.asarray(model.flat_grad(grads), dtype=np.float64)

    def after_iteration(intermediate_result) -> None:
        nonlocal iteration
        iteration += 1
        model.set_flat_params(intermediate_result.x)
        stop = loop.end_epoch(iteration, float(intermediate_result.fun), None)
        if bar is not None:
            bar.update(iteration, loop.history)
        if stop:
            raise StopIteration

    from scipy.optimize import minimize  # at first use: scipy.optimize is slow to import

    x0 = np.asarray(model.flat_params(), dtype=np.float64)
    result = minimize(
        loss_and_flat_grad,
        x0,
        jac=True,
        method="L-BFGS-B",
        callback=after_iteration,
        options={"maxiter": epochs, "maxfun": 2 * epochs, "ftol": 1e-15, "gtol": 1e-12},
    )
    h = loop.history
    if h.stopped_reason == "early_stop":
        return
    if non_finite_trials and result.status not in (0, 1):
        raise _NonFinite(iteration + 1)
    if iteration < epochs:
        h.stopped_reason = "converged"
        h.message = f"L-BFGS-B stopped after {iteration} iterations: {result.message}"
    else:
        h.message = f"ran all {epochs} iterations; best iteration {h.best_epoch}"


def _kept(best_epoch: int) -> str:
    if best_epoch == 0:
        return "kept the initial parameters"
    return f"kept the parameters of epoch {best_epoch}"


def _data(name: str, data: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(X, Y, h0) checked: X (batch, time, n_in), Y (batch, time, n_out), finite numbers."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise InputError(f"{name} must be a tuple (X, Y) or (X, Y, h0)")
    X, Y = _array(f"{name} X", data[0]), _array(f"{name} Y", data[1])
    h0 = None if len(data) == 2 or data[2] is None else _array(f"{name} h0", data[2])
    for field_name, arr in ((f"{name} X", X), (f"{name} Y", Y)):
        if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InputError(
                f"{field_name} must have shape (batch, time, n) with batch, time >= 1, "
                f"got {arr.shape}"
            )
    if X.shape[:2] != Y.shape[:2]:
        raise InputError(
            f"{name} X and Y must have the same batch and time sizes, got {X.shape} and {Y.shape}"
        )
    if h0 is not None and h0.ndim >= 2 and h0.shape[0] != X.shape[0]:
        raise InputError(
            f"{name} h0 must hold one state per sequence ({X.shape[0]}), got shape {h0.shape}"
        )
    return X, Y, h0


def _array(field_name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise InputError(f"{field_name} must be an array of numbers") from None
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise InputError(f"{field_name} must be an array of numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{field_name} must be finite numbers")
    return arr


def _rows(h0: np.ndarray | None, rows) -> np.ndarray | None:
    """The initial states of the selected sequences (a shared one is shared)."""
    return h0 if h0 is None or h0.ndim < 2 else h0[rows]


class _Bar:
    """A one-line progress bar redrawn in place: epoch, bar, losses."""

    def __init__(self, total: int, stream: IO[str], width: int = 24):
        self.total, self.stream, self.width = total, stream, width
        self.drawn = False

    def update(self, epoch: int, history: History) -> None:
        filled = self.width * epoch // self.total
        bar = "#" * filled + "." * (self.width - filled)
        text = f"\repoch {epoch}/{self.total} [{bar}] loss {history.train_loss[-1]:.4g}"
        if history.val_loss:
            text += f" val {history.val_loss[-1]:.4g}"
        self.stream.write(text)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
