"""Angles as points on the circle: what a model sees of a state that is an angle.

A system's ``angles`` (the pendulum's theta) enter its vector field only through cos and sin,
but a rotating trajectory carries theta far beyond any range a model was trained on.  So a
dataset gives models each angle as the pair (cos theta, sin theta) in its place, and reads
their forecasts back by unwrapping:

    encode:  (..., theta, ...)           -> (..., cos theta, sin theta, ...)
    decode:  theta(k) = theta(k-1) + wrap(atan2(sin, cos)(k) - theta(k-1)),  theta(0) given

with wrap(a) in (-pi, pi]: exact while the angle moves by less than pi per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def encode(states: np.ndarray, angles: Sequence[int]) -> np.ndarray:
    """States (..., n) with each angle index replaced by (cos, sin): (..., n + len(angles))."""
    if not angles:
        return states
    states = np.asarray(states)
    parts = []
    for i in range(states.shape[-1]):
        if i in angles:
            parts += [np.cos(states[..., i]), np.sin(states[..., i])]
        else:
            parts.append(states[..., i])
    return np.stack(parts, axis=-1)


def decode(encoded: np.ndarray, angles: Sequence[int], start: np.ndarray) -> np.ndarray:
    """Encoded states (..., time, n + len(angles)) back to (..., time, n), each angle unwrapped
    along time from its value in ``start`` (..., n), the physical state at the first time."""
    if not angles:
        return encoded
    encoded = np.asarray(encoded, dtype=np.float64)
    start = np.asarray(start, dtype=np.float64)
    out, j = [], 0
    for i in range(start.shape[-1]):
        if i in angles:
            raw = np.arctan2(encoded[..., j + 1], encoded[..., j])
            with np.errstate(invalid="ignore"):
                steps = np.diff(raw, axis=-1)
                steps = (steps + np.pi) % (2 * np.pi) - np.pi
            first = start[..., i][..., None]
            offset = (raw[..., :1] - first + np.pi) % (2 * np.pi) - np.pi
            theta = (
                first
                + offset
                + np.concatenate([np.zeros_like(raw[..., :1]), np.cumsum(steps, axis=-1)], axis=-1)
            )
            out.append(theta)
            j += 2
        else:
            out.append(encoded[..., j])
            j += 1
    return np.stack(out, axis=-1)


def encoded_names(names: Sequence[str], angles: Sequence[int]) -> tuple[str, ...]:
    """The names of the encoded channels: cos(theta), sin(theta) in theta's place."""
    out: list[str] = []
    for i, name in enumerate(names):
        out += [f"cos({name})", f"sin({name})"] if i in angles else [name]
    return tuple(out)
