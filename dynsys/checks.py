"""Validation of user input shared by the library and the command line.

Each check returns the cleaned value or raises an :class:`~dynsys.errors.InputError` whose one
line names the field and what is allowed.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .errors import InputError
from .systems.base import System


def finite_number(field: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InputError(f"{field} must be a finite number, got {value!r}")
    return number


def positive_number(field: str, value: Any) -> float:
    number = finite_number(field, value)
    if number <= 0:
        raise InputError(f"{field} must be > 0, got {value!r}")
    return number


def time_span(t_span: Any) -> tuple[float, float]:
    """(t0, t_end) with t_end > t0."""
    try:
        t0, t_end = t_span
    except (TypeError, ValueError):
        raise InputError(f"t_span must be a pair (t0, t_end), got {t_span!r}") from None
    t0, t_end = finite_number("t0", t0), finite_number("t_end", t_end)
    if t_end <= t0:
        raise InputError(f"t_end must be greater than t0, got t0={t0:g}, t_end={t_end:g}")
    return t0, t_end


def step_count(t0: float, t_end: float, dt: float) -> int:
    """N such that the grid t0 + n dt, n = 0..N, ends at t_end (or just before it)."""
    ratio = (t_end - t0) / dt
    nearest = round(ratio)
    n = nearest if abs(ratio - nearest) <= 1e-9 * max(1.0, ratio) else math.floor(ratio)
    if n < 1:
        raise InputError(f"dt={dt:g} is longer than t_end - t0 = {t_end - t0:g}; take a smaller dt")
    return n


def initial_state(system: System, s0: Any) -> np.ndarray:
    """s0 as float64 of shape (n,) or (batch, n), broadcast against array parameters."""
    try:
        arr = np.array(s0, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"s0 must be numbers, got {s0!r}") from None
    n = system.n_states
    names = ", ".join(system.states)
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        raise InputError(
            f"s0 must have {n} value{'s' if n > 1 else ''} ({names}) per initial state, "
            f"got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"s0 must be finite numbers, got {s0!r}")
    batch = system.batch_size
    if batch is not None:
        if arr.ndim == 2 and arr.shape[0] != batch:
            raise InputError(
                f"s0 has {arr.shape[0]} initial states but the parameters have {batch} values"
            )
        arr = np.broadcast_to(arr, (batch, n)).copy()
    return arr


def integer(field: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{field} must be a whole number >= {minimum}, got {value!r}")
    if value < minimum:
        raise InputError(f"{field} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2**34


def fits_in_memory(n_bytes: int, limit: int | None, what: str, advice: str) -> None:
    """Refuse, before allocating, a result of ``n_bytes`` larger than ``limit``.

    The default limit is half the memory available now.
    """
    limit = available_memory() // 2 if limit is None else limit
    if n_bytes > limit:
        raise InputError(
            f"{what} would take {_size(n_bytes)}, more than the {_size(limit)} allowed; {advice}"
        )


def _size(n_bytes: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while n_bytes >= 1024 and i < len(units) - 1:
        n_bytes, i = n_bytes / 1024, i + 1
    return f"{n_bytes:.1f} {units[i]}"
