"""Recurrent neural networks in numpy, with hand-written back-propagation through time.

The models::

    ElmanRNN(n_in, n_hidden, n_out, activation="tanh", output="identity", seed=0)
    JordanRNN(n_in, n_hidden, n_out, activation="tanh", output="identity", residual=False, seed=0)
    model.loss_and_grad(X, Y, h0=None, *, truncate=None, clip=None)  -> (loss, grads)
    model.predict(X, h0=None)                                         -> (batch, time, n_out)
    gradient_check(model, X, Y, h0=None, eps=1e-6)                    -> {name: relative error}
"""

from __future__ import annotations

from .activations import ACTIVATIONS, HEADS, Activation, Head
from .base import Model
from .gradcheck import gradient_check
from .kinds import MODEL_KINDS, model_class
from .models import BPTTResult, ElmanRNN, ForwardPass, JordanRNN, RNNModel

__all__ = [
    "ACTIVATIONS",
    "HEADS",
    "MODEL_KINDS",
    "Activation",
    "BPTTResult",
    "ElmanRNN",
    "ForwardPass",
    "Head",
    "JordanRNN",
    "Model",
    "RNNModel",
    "gradient_check",
    "model_class",
]
