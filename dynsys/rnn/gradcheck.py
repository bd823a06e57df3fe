"""A gradient check for any model: back-propagation against centred finite differences.

For each parameter entry theta_i (and each entry of the initial state h0),

    g_num_i = (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps),

and for each name the relative error ||g_num - g_bptt|| / max(||g_num|| + ||g_bptt||, tiny) over
the entries checked.  With ``truncate=k`` the finite differences are taken of the loss whose
exact gradient truncated BPTT is: sum_j (T_j / T) L_j over the windows j of k steps, each started
from the state the unperturbed forward pass reaches there, held fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from .base import Model

_TINY = np.finfo(np.float64).tiny


def gradient_check(
    model: Model,
    X: Any,
    Y: Any,
    h0: Any = None,
    eps: float = 1e-6,
    *,
    max_entries: int | None = None,
    seed: int = 0,
    truncate: int | None = None,
    **loss_kwargs: Any,
) -> dict[str, float]:
    """The relative error of the BPTT gradient of U, W, b, V, c and h0, by name.

    The check runs on a float64 copy of ``model`` (whose parameters it never changes).
    ``max_entries``: check at most this many entries of each array, drawn without replacement
    with ``np.random.default_rng(seed)``.  ``loss_kwargs`` go to ``loss`` and ``bptt`` (for
    example ``teacher_forcing=False`` for a Jordan RNN); ``truncate``: see the module docstring.
    """
    if "clip" in loss_kwargs:
        raise InputError("gradient_check compares the unclipped gradient; leave out clip")
    if not (isinstance(eps, float | int) and eps > 0):
        raise InputError(f"eps must be a positive number, got {eps!r}")
    if max_entries is not None and (
        isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1
    ):
        raise InputError(f"max_entries must be a positive integer or None, got {max_entries!r}")
    config = model.config()
    checked = type(model).from_config(
        {**config, "dtype": "float64"} if "dtype" in config else config
    )
    checked.set_flat_params(model.flat_params().astype(np.float64))
    X, Y = _numbers("X", X), _numbers("Y", Y)
    if truncate is None:
        _, grads = checked.loss_and_grad(X, Y, h0, **loss_kwargs)
        prev = None
    else:
        result = checked.bptt(X, Y, h0, truncate=truncate, **loss_kwargs)
        grads, prev = result.grads, result.forward.prev
    h0 = np.zeros_like(grads["h0"]) if h0 is None else np.array(h0, dtype=np.float64)
    loss = _loss_function(checked, X, Y, truncate, prev, loss_kwargs)
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    theta = checked.flat_params()
    start = 0
    for name in checked.param_shapes:
        size = checked.params[name].size

        def at(i: int, delta: float, offset: int = start) -> float:
            shifted = theta.copy()
            shifted[offset + i] += delta
            checked.set_flat_params(shifted)
            return loss(h0)

        errors[name] = _relative_error(at, grads[name].ravel(), eps, max_entries, rng)
        start += size
    checked.set_flat_params(theta)

    def at_h0(i: int, delta: float) -> float:
        shifted = h0.copy()
        shifted.flat[i] += delta
        return loss(shifted)

    errors["h0"] = _relative_error(at_h0, grads["h0"].ravel(), eps, max_entries, rng)
    return errors


def _numbers(field: str, value: Any) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{field} must be an array of numbers") from None


def _loss_function(
    model: Model,
    X: np.ndarray,
    Y: np.ndarray,
    truncate: int | None,
    prev: np.ndarray | None,
    kwargs: dict[str, Any],
) -> Callable[[np.ndarray], float]:
    """h0 -> the loss at the model's current parameters (the windowed one when truncating)."""
    if truncate is None:
        return lambda h0: model.loss(X, Y, h0, **kwargs)
    T = X.shape[1]
    frozen = prev.copy()  # r(t-1) of every step of the unperturbed forward pass

    def windowed(h0: np.ndarray) -> float:
        total = 0.0
        for s in range(0, T, truncate):
            e = min(s + truncate, T)
            start = h0 if s == 0 else frozen[:, s]
            total += (e - s) / T * model.loss(X[:, s:e], Y[:, s:e], start, **kwargs)
        return total

    return windowed


def _relative_error(
    loss_at: Callable[[int, float], float],
    g_bptt: np.ndarray,
    eps: float,
    max_entries: int | None,
    rng: np.random.Generator,
) -> float:
    size = g_bptt.size
    if max_entries is not None and max_entries < size:
        entries = np.sort(rng.choice(size, size=max_entries, replace=False))
    else:
        entries = np.arange(size)
    g_num = np.array([(loss_at(i, eps) - loss_at(i, -eps)) / (2 * eps) for i in entries])
    g_ref = g_bptt[entries]
    return float(
        np.linalg.norm(g_num - g_ref) / max(np.linalg.norm(g_num) + np.linalg.norm(g_ref), _TINY)
    )
