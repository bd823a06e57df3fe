"""Activations and output heads of the numpy RNNs, as pure functions.

An activation h = f(a) comes with its slope f'(a) written in terms of h, so back-propagation
needs only the stored h::

    tanh:      h = tanh(a),      f' = 1 - h^2
    relu:      h = max(a, 0),    f' = [h > 0]   (0 at the kink a = 0)
    identity:  h = a,            f' = 1

An output head turns the output o(t) into the prediction y_hat(t) and scores it against the
target y(t), with the per-step loss l and its gradient dl/do::

    identity:  y_hat = o,           l = 1/2 sum_k (o_k - y_k)^2,   dl/do = o - y
    softmax:   y_hat = softmax(o),  l = -sum_k y_k log y_hat_k,    dl/do = y_hat sum_k y_k - y

(for targets that are probabilities, sum_k y_k = 1 and dl/do = y_hat - y).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import unknown_name


def _tanh(a: np.ndarray, out: np.ndarray) -> None:
    np.tanh(a, out=out)


def _tanh_slope(h: np.ndarray) -> np.ndarray:
    slope = np.multiply(h, h)
    np.subtract(1.0, slope, out=slope)
    return slope


def _relu(a: np.ndarray, out: np.ndarray) -> None:
    np.maximum(a, 0.0, out=out)


def _relu_slope(h: np.ndarray) -> np.ndarray:
    return (h > 0).astype(h.dtype)


def _identity(a: np.ndarray, out: np.ndarray) -> None:
    np.copyto(out, a)


@dataclass(frozen=True)
class Activation:
    """h = f(a) written into ``out`` by ``apply(a, out)``; ``slope(h)`` is f'(a) (None: f' = 1)."""

    name: str
    formula: str
    apply: Callable[[np.ndarray, np.ndarray], None]
    slope: Callable[[np.ndarray], np.ndarray] | None


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", "h = tanh(a)", _tanh, _tanh_slope),
        Activation("relu", "h = max(a, 0)", _relu, _relu_slope),
        Activation("identity", "h = a", _identity, None),
    )
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``: one of tanh, relu, identity."""
    if name not in ACTIVATIONS:
        raise unknown_name("activation", str(name), ACTIVATIONS)
    return ACTIVATIONS[name]


def softmax(o: np.ndarray) -> np.ndarray:
    """y_hat_k = exp(o_k) / sum_j exp(o_j) over the last axis, shifted by max(o) to not overflow."""
    e = np.exp(o - o.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def log_softmax(o: np.ndarray) -> np.ndarray:
    """log softmax(o) = o - max(o) - log sum_j exp(o_j - max(o)) over the last axis."""
    shifted = o - o.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


@dataclass(frozen=True)
class Head:
    """An output head: the prediction y_hat(o), and the loss scale * sum over steps of l."""

    name: str
    formula: str

    def predict(self, o: np.ndarray) -> np.ndarray:
        """y_hat = o (identity) or softmax(o)."""
        return softmax(o) if self.name == "softmax" else o

    def loss(self, o: np.ndarray, y: np.ndarray, scale: float) -> float:
        """scale * sum of the per-step losses l over every leading index of o and y."""
        if self.name == "softmax":
            return -scale * float(np.vdot(y, log_softmax(o)))
        diff = o - y
        return 0.5 * scale * float(np.vdot(diff, diff))

    def loss_and_grad(self, o: np.ndarray, y: np.ndarray, scale: float):
        """(loss, dloss/do) with loss = scale * sum of l; the gradient has the shape of o."""
        if self.name == "softmax":
            logp = log_softmax(o)
            loss = -scale * float(np.vdot(y, logp))
            grad = np.exp(logp)
            grad *= y.sum(axis=-1, keepdims=True)
            grad -= y
        else:
            grad = o - y
            loss = 0.5 * scale * float(np.vdot(grad, grad))
        grad *= scale
        return loss, grad


HEADS: dict[str, Head] = {
    h.name: h
    for h in (
        Head("identity", "y_hat = o, l = 1/2 |o - y|^2"),
        Head("softmax", "y_hat = softmax(o), l = -sum_k y_k log y_hat_k"),
    )
}


def get_head(name: str) -> Head:
    """The output head called ``name``: identity or softmax."""
    if name not in HEADS:
        raise unknown_name("output", str(name), HEADS)
    return HEADS[name]
