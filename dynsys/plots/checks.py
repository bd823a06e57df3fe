"""Validation of what a plot is asked to draw: limits, state selections, the system's shape.

Each check returns the cleaned value or raises an :class:`~dynsys.errors.InputError` with one
line naming the field and what is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import checks
from ..errors import InputError
from ..systems.base import System


def limits(field: str, value: Any) -> tuple[float, float] | None:
    """(a, b) with a < b from a pair or the text 'a,b'; None stays None."""
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else value
    try:
        a, b = parts
    except (TypeError, ValueError):
        raise InputError(f"{field} must be two numbers a,b with a < b, got {value!r}") from None
    a, b = checks.finite_number(field, a), checks.finite_number(field, b)
    if not a < b:
        raise InputError(f"{field} must be two numbers a,b with a < b, got {value!r}")
    return a, b


def state_indices(system: System, value: Any, count: int | None = None) -> tuple[int, ...]:
    """State indices from names or 0-based indices ('x,z', '0,2', ['x', 2]).

    ``count`` fixes how many are wanted; the indices must be distinct.
    """
    names = system.states
    allowed = f"{system.name} has states {', '.join(f'{i} ({n})' for i, n in enumerate(names))}"
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        if isinstance(item, str) and item in names:
            out.append(names.index(item))
            continue
        try:
            index = int(item)
        except (TypeError, ValueError):
            raise InputError(f"unknown state {item!r}; {allowed}") from None
        if not 0 <= index < len(names) or (isinstance(item, float) and index != item):
            raise InputError(f"state index {item} does not exist; {allowed}")
        out.append(index)
    if count is not None and len(out) != count:
        raise InputError(f"states must name {count} states, got {len(out)}; {allowed}")
    if len(set(out)) != len(out):
        raise InputError(f"states must be distinct, got {value!r}; {allowed}")
    if not out:
        raise InputError(f"states must name at least one state; {allowed}")
    return tuple(out)


def scalar_params(system: System) -> None:
    """A plot draws one system: every parameter must be a single number."""
    batched = [k for k, v in system.params.items() if np.ndim(v)]
    if batched:
        raise InputError(
            f"a plot needs one value per parameter; {', '.join(batched)} of {system.name} "
            "hold several (plot them one at a time)"
        )


def initial_states(system: System, s0: Any) -> np.ndarray | None:
    """s0 as (m, n) float64, or None."""
    if s0 is None:
        return None
    start = checks.initial_state(system, s0)
    return start.reshape(-1, system.n_states)


def one_initial_state(system: System, s0: Any, what: str) -> np.ndarray:
    """A single initial state (n,), the system's default when ``s0`` is None."""
    start = initial_states(system, system.default_s0 if s0 is None else s0)
    if len(start) != 1:
        raise InputError(f"{what} takes one initial state, got {len(start)}")
    return start[0]


def ode(system: System, what: str) -> None:
    if system.kind == "map":
        raise InputError(f"{system.name} is a discrete map; {what} needs an ODE")


def method_names(methods: Sequence[str] | str) -> tuple[str, ...]:
    """'euler,rk4' or a sequence, without blanks and repeats (unchecked names)."""
    if isinstance(methods, str):
        methods = methods.split(",")
    return tuple(dict.fromkeys(m.strip() for m in methods if m.strip()))
