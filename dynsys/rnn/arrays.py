"""Checks of the arrays a model is given, shared by every model kind: one-line InputErrors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError


def sequences(field: str, value: Any, n: int, what: str, dtype: np.dtype, like=None) -> np.ndarray:
    """``value`` as a (batch, time, n) array of ``dtype``, or an InputError naming ``field``.

    ``like``: the shape of X, whose batch and time ``value`` must have (targets Y).
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError(f"{field} must be an array of numbers") from None
    if like is None:
        expected = f"(batch, time, {what}) = (., ., {n})"
        ok = arr.ndim == 3 and arr.shape[2] == n
    else:
        expected = f"(batch, time, {what}) = ({like[0]}, {like[1]}, {n}), like X"
        ok = arr.shape == (*like[:2], n)
    if not ok:
        raise InputError(f"{field} must have shape {expected}, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{field} needs at least one sequence and one step, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{field} must be finite numbers (no nan or inf)")
    return arr


def initial_state(
    h0: Any, batch: int, n: int, what: str, dtype: np.dtype
) -> tuple[np.ndarray, bool]:
    """(h0 as (batch, n), whether one vector was given for all); None means zeros."""
    if h0 is None:
        return np.zeros((batch, n), dtype=dtype), True
    try:
        arr = np.asarray(h0, dtype=dtype)
    except (TypeError, ValueError):
        raise InputError("h0 must be an array of numbers") from None
    if arr.shape not in ((n,), (batch, n)):
        raise InputError(
            f"h0 must have shape ({what},) = ({n},) or (batch, {what}) = ({batch}, {n}), "
            f"got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise InputError("h0 must be finite numbers (no nan or inf)")
    return np.broadcast_to(arr, (batch, n)), arr.ndim == 1
