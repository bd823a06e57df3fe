"""Validation of what a plot is asked to draw: limits, state selections, the system's shape,
and the size of what it would compute.

Each check returns the cleaned value or raises an :class:`~dynsys.errors.InputError` with one
line naming the field and what is allowed.

The size of a figure is checked before anything is allocated or stepped (:func:`figure_size`):
the steps of its steppers (and iterations of a map) against :data:`MAX_STEPS`, and the memory
of the states it holds and the points it draws against the memory ceiling of
:func:`dynsys.checks.fits_in_memory`.  The work of its solve_ivp references, which no grid
tells in advance, is estimated by a short probe (:func:`dynsys.plots.orbits.check_reference`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import checks
from ..errors import InputError
from ..systems.base import System

MAX_STEPS = 1_000_000
"""Steps of the steppers, and iterations of a map, that one figure computes over all its runs:
up to a minute of numpy's time loop, and a thousand points to each pixel column of a line."""
POINT_BYTES = 120
"""Memory per point that matplotlib holds while it draws a line or a scatter (measured at the
peak of saving: about 85 bytes a point of a line, 120 of a scatter)."""
STATE_COPIES = 4
"""Copies of the states on a grid held at the peak (solve_ivp's samples, their stack, the
transposed copy, the lines' own)."""
LIMIT = 1e12
"""Axis limits lie within +-LIMIT: beyond, a vector field overflows and a line is not drawn."""
NARROWEST = 1e-9
"""Axis limits a < b must be at least this fraction of max(|a|, |b|) apart."""


def limits(field: str, value: Any, bound: float = LIMIT) -> tuple[float, float] | None:
    """(a, b) with a < b from a pair or the text 'a,b', within +-``bound`` and not so close
    that the axis cannot tell them apart; None stays None."""
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
    if max(abs(a), abs(b)) > bound:
        raise InputError(f"{field} must lie within -{bound:g} and {bound:g}, got {value!r}")
    if b - a < NARROWEST * max(abs(a), abs(b)) or b - a < 1e-100:
        raise InputError(
            f"{field} is too narrow to draw: b - a must be at least {NARROWEST:g} of |a| and "
            f"|b| (and 1e-100), got {value!r}"
        )
    return a, b


def clip_limits(lim: tuple[float, float]) -> tuple[float, float]:
    """Automatic limits (from trajectories) clipped to +-LIMIT, so that an orbit which ran far
    away does not make an axis that cannot be drawn."""
    lo, hi = max(lim[0], -LIMIT), min(lim[1], LIMIT)
    if not lo < hi:  # the whole orbit lies beyond LIMIT
        lo, hi = (LIMIT / 2, LIMIT) if lim[0] > 0 else (-LIMIT, -LIMIT / 2)
    return float(lo), float(hi)


def count(n: float) -> str:
    """1,000,000 for a count up to a trillion, 1.23e+15 beyond."""
    if n < 1e12:
        return f"{int(n):,}"
    return f"{float(n):.3g}"


def max_figure_steps() -> int:
    """:data:`MAX_STEPS`, or the step ceiling when one is set (``dynsys --max-steps``,
    DYNSYS_MAX_STEPS, a config's ``limits``)."""
    return checks.max_steps() if os.environ.get(checks.STEPS_VARIABLE) else MAX_STEPS


def figure_size(
    what: str, *, steps: int = 0, n_bytes: int = 0, advice: str, memory_advice: str = ""
) -> None:
    """Refuse a figure whose steps exceed :data:`MAX_STEPS` or whose memory exceeds the memory
    ceiling, before anything is computed: one line saying what ``what`` would need, and
    ``advice`` (``memory_advice`` when the memory is what is exceeded, if given)."""
    limit = max_figure_steps()
    if steps > limit:
        raise InputError(
            f"{what} would take {count(steps)} steps, more than the {count(limit)} a figure "
            f"computes ({checks.RAISE_STEPS}); {advice}"
        )
    checks.fits_in_memory(int(n_bytes), None, what, memory_advice or advice)


def grid(t_span: Any, dt: Any) -> tuple[float, float, float, int]:
    """(t0, t_end, dt, N) of the grid t0 + n dt, n = 0..N, checked, nothing allocated."""
    t0, t_end = checks.time_span(t_span)
    dt = checks.positive_number("dt", dt)
    return t0, t_end, dt, checks.step_count(t0, t_end, dt)


def drawn_times(steps: int, points: int = 2000) -> int:
    """How many times :func:`dynsys.plots.orbits.drawing_grid` has for a grid of ``steps``."""
    factor = max(1, -(-points // steps))
    return steps * factor + 1


def shorter(t0: float, t_end: float, dt: float, per_run: int, runs: int, is_map: bool) -> str:
    """What to change so that ``runs`` runs of ``per_run`` steps fit in :data:`MAX_STEPS`."""
    most = max(1, MAX_STEPS // max(runs, 1))
    if is_map:
        return f"take t_end <= {t0 + most:g} (iterations)"
    return f"take dt >= {(t_end - t0) / most:.3g} or t_end <= {t0 + most * dt:.6g}"


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


def method_names(methods: Sequence[str] | str, field: str = "methods") -> tuple[str, ...]:
    """'euler,rk4' or a sequence of names, stripped of blanks (the names are unchecked).

    An empty text or sequence is no method.  An empty item (``euler,,rk4``, a comma at either
    end, a blank name in a sequence), a name given twice or an item that is not a text is
    refused in one line naming ``field``.
    """
    if isinstance(methods, str):
        if not methods.strip():
            return ()
        items = checks.comma_list(field, methods, "method")
    else:
        try:
            items = list(methods)
        except TypeError:
            raise InputError(f"{field} must be method names, got {methods!r}") from None
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise InputError(f"{field} must be method names, got {item!r} in {methods!r}")
        items = [item.strip() for item in items]
    checks.each_once(field, items, methods)
    return tuple(items)
