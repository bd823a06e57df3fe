"""Optimisers that update a model's arrays in place, and learning-rate schedules.

An optimiser is ``step(params, grads)``: ``params`` and ``grads`` are dicts of arrays keyed by
parameter name (a grads dict may hold more names, such as ``"h0"``; only the names in params
are used).  Its state (moments, velocities) is kept per parameter name.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import checks
from ..errors import InputError, unknown_name

SCHEDULES = ("constant", "step", "cosine")


class Adam:
    """Adam with bias correction (Kingma and Ba, 2015), per parameter θ with gradient g:

    m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;  m̂ = m / (1 − β1^k);  v̂ = v / (1 − β2^k);
    θ ← θ − lr m̂ / (√v̂ + eps), where k counts the steps taken on θ.
    """

    def __init__(
        self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        self.lr = checks.positive_number("lr", lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise InputError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (_fraction("beta1", beta1), _fraction("beta2", beta2))
        self.eps = checks.positive_number("eps", eps)
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.k: dict[str, int] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place by one Adam step."""
        beta1, beta2 = self.betas
        for name, theta in params.items():
            g = _grad(grads, name)
            m = self.m.setdefault(name, np.zeros_like(theta))
            v = self.v.setdefault(name, np.zeros_like(theta))
            k = self.k[name] = self.k.get(name, 0) + 1
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            m_hat = m / (1 - beta1**k)
            v_hat = v / (1 - beta2**k)
            theta -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum μ:

    u ← μ u + g;  θ ← θ − lr u   (μ = 0: plain gradient descent θ ← θ − lr g).
    """

    def __init__(self, lr: float, momentum: float = 0.9):
        self.lr = checks.positive_number("lr", lr)
        self.momentum = _fraction("momentum", momentum)
        self.u: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place by one momentum step."""
        for name, theta in params.items():
            u = self.u.setdefault(name, np.zeros_like(theta))
            u *= self.momentum
            u += _grad(grads, name)
            theta -= self.lr * u


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(name: str, lr: float) -> Adam | SGD:
    """The optimiser called ``name`` ("adam" or "sgd") with learning rate ``lr``."""
    if name not in OPTIMIZERS:
        raise unknown_name("optimizer", str(name), OPTIMIZERS)
    return OPTIMIZERS[name](lr=lr)


@dataclass(frozen=True)
class Schedule:
    """The learning rate of epoch e = 0, 1, ..., epochs − 1.

    constant: lr(e) = lr
    step:     lr(e) = lr γ^⌊(e − warmup) / every⌋
    cosine:   lr(e) = min_lr + (lr − min_lr) (1 + cos(π (e − warmup) / (epochs − warmup))) / 2
    warmup:   lr(e) = lr (e + 1) / warmup for the first ``warmup`` epochs, before any of these.
    """

    kind: str = "constant"
    lr: float = 1e-3
    epochs: int = 1
    warmup: int = 0
    every: int = 10
    gamma: float = 0.5
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise unknown_name("schedule", str(self.kind), SCHEDULES)
        checks.positive_number("lr", self.lr)
        checks.integer("epochs", self.epochs, minimum=1)
        checks.integer("warmup", self.warmup, minimum=0)
        checks.integer("every", self.every, minimum=1)
        if not 0 < checks.finite_number("gamma", self.gamma) <= 1:
            raise InputError(f"gamma must be in (0, 1], got {self.gamma!r}")
        if not 0 <= checks.finite_number("min_lr", self.min_lr) < self.lr:
            raise InputError(f"min_lr must be in [0, lr = {self.lr:g}), got {self.min_lr!r}")

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (counted from 0)."""
        if epoch < self.warmup:
            return self.lr * (epoch + 1) / self.warmup
        e = epoch - self.warmup
        if self.kind == "step":
            return self.lr * self.gamma ** (e // self.every)
        if self.kind == "cosine":
            span = max(self.epochs - self.warmup, 1)
            return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * e / span)) / 2
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_schedule(spec: str | dict[str, Any], lr: float, epochs: int) -> Schedule:
    """A :class:`Schedule` from a name ("cosine") or a dict ({"kind": "step", "every": 5})."""
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        raise InputError(f"schedule must be one of {', '.join(SCHEDULES)} or a dict, got {spec!r}")
    settings = ("kind", "warmup", "every", "gamma", "min_lr")
    for key in spec:
        if key not in settings:
            raise unknown_name("schedule setting", str(key), settings)
    return Schedule(**spec, lr=lr, epochs=epochs)


def _fraction(field: str, value: Any) -> float:
    number = checks.finite_number(field, value)
    if not 0 <= number < 1:
        raise InputError(f"{field} must be in [0, 1), got {value!r}")
    return number


def _grad(grads: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in grads:
        raise InputError(f"no gradient for parameter {name!r}; got {', '.join(grads)}")
    return grads[name]
