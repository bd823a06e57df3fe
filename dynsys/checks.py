"""Validation of user input shared by the library and the command line.

Each check returns the cleaned value or raises an :class:`~dynsys.errors.InputError` whose one
line names the field and what is allowed.

The ceilings.  Before it allocates or loops, every entry point estimates the memory it will
need at its peak and the length of its loops, and refuses in one line what exceeds

- the memory ceiling :func:`max_memory`: the ``--max-memory`` option of ``dynsys``, else the
  environment variable ``DYNSYS_MAX_MEMORY`` (e.g. ``8GiB``, ``500MB``, ``2e9``), else half of
  :func:`available_memory` (the least of the memory free now, the process's rlimits and its
  cgroup's limit);
- the step ceiling :func:`max_steps`: ``--max-steps``, else ``DYNSYS_MAX_STEPS``, else
  :data:`DEFAULT_MAX_STEPS`.  A step is one state of one trajectory advanced by one step (a
  batch of 100 trajectories over 1000 steps is 100,000 steps; solve_ivp solving trajectories
  one by one counts :data:`dynsys.simulate.REFERENCE_STEP_WEIGHT` per time of its grid), or one step
  of one sequence in one epoch of training.

The API the library and its callers use:

- ``fits_in_memory(n_bytes, limit, what, advice)``: refuse ``n_bytes`` over ``limit`` (None:
  the memory ceiling);
- ``within_steps(n_steps, what, advice, limit=None)``: refuse ``n_steps`` over ``limit`` (None:
  the step ceiling);
- ``limits(max_memory=..., max_steps=...)``: a context manager setting the ceilings (bytes or
  a size text such as "8GiB"; None leaves one as it is), for the command line and for tests;
- ``parse_size(text, field)``: "8GiB" -> 8589934592;
- ``step_count(t0, t_end, dt)``: the grid's number of steps, refusing a dt too small for the
  span or for the resolution of the times;
- ``tolerances(rtol, atol)``: tolerances solve_ivp can meet.
"""

from __future__ import annotations

import functools
import math
import os
import re
import resource
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .errors import InputError
from .systems.base import System

MEMORY_VARIABLE = "DYNSYS_MAX_MEMORY"
STEPS_VARIABLE = "DYNSYS_MAX_STEPS"
DEFAULT_MAX_STEPS = 10**9
"""The default step ceiling: seconds to a few minutes of a compiled or batched loop, a few
minutes of training; a lone trajectory through numpy's loop is slower (30-100 us a step)."""
RAISE_MEMORY = f"raise it with dynsys --max-memory or {MEMORY_VARIABLE}"
RAISE_STEPS = f"raise it with dynsys --max-steps or {STEPS_VARIABLE}"
EPS = float(np.finfo(np.float64).eps)
MIN_RTOL = 100 * EPS
"""solve_ivp's floor for rtol (below it scipy raises rtol itself, with a warning)."""
MIN_ATOL = float(np.finfo(np.float64).tiny)
"""The smallest normal float64: a smaller atol is a denormal number."""
TIME_RESOLUTION = 64
"""dt must span at least this many float64 spacings of the times of the grid."""


def finite_number(field: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
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
    if not math.isfinite(t_end - t0):
        raise InputError(f"t_end - t0 overflows float64, got t0={t0:g}, t_end={t_end:g}")
    return t0, t_end


def step_count(t0: float, t_end: float, dt: float, field: str = "dt") -> int:
    """N such that the grid t0 + n dt, n = 0..N, ends at t_end (or just before it).

    Refuses (naming ``field``) a dt under which the grid would not advance: one too small for
    the span (N would not be a float64 integer) or for the times (t0 + n dt would round to
    the same times; dt must span :data:`TIME_RESOLUTION` float64 spacings of the largest time).
    """
    span = t_end - t0
    largest = max(abs(t0), abs(t_end))
    smallest = TIME_RESOLUTION * math.ulp(largest)
    if dt < smallest:
        raise InputError(
            f"{field}={dt:g} is too small for times near {largest:g}: t0 + n {field} would not "
            f"advance in float64; take {field} >= {smallest:.3g}"
        )
    ratio = span / dt
    if not ratio < 2.0**53:
        raise InputError(
            f"{field}={dt:g} is too small for t_end - t0 = {span:g}: that is {ratio:.3g} steps; "
            f"take a larger {field}"
        )
    nearest = round(ratio)
    n = nearest if abs(ratio - nearest) <= 1e-9 * max(1.0, ratio) else math.floor(ratio)
    if n < 1:
        raise InputError(
            f"{field}={dt:g} is longer than t_end - t0 = {span:g}; take a smaller {field}"
        )
    return n


def tolerances(rtol: Any, atol: Any) -> tuple[float, float]:
    """(rtol, atol) that solve_ivp can meet: rtol >= 100 eps, atol a normal positive number."""
    rtol, atol = positive_number("rtol", rtol), positive_number("atol", atol)
    if rtol < MIN_RTOL:
        raise InputError(
            f"rtol must be at least {MIN_RTOL:.3g} (100 times the float64 machine epsilon: "
            f"solve_ivp cannot meet less), got {rtol:g}"
        )
    if atol < MIN_ATOL:
        raise InputError(
            f"atol must be at least {MIN_ATOL:.3g} (the smallest normal float64), got {atol:g}"
        )
    return rtol, atol


def initial_state(system: System, s0: Any) -> np.ndarray:
    """s0 as float64 of shape (n,) or (batch, n), broadcast against array parameters."""
    try:
        arr = np.array(s0, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"s0 must be numbers, got {_short(s0)}") from None
    n = system.n_states
    names = ", ".join(system.states)
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        raise InputError(
            f"s0 must have {n} value{'s' if n > 1 else ''} ({names}) per initial state, "
            f"got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"s0 must be finite numbers, got {_short(s0)}")
    batch = system.batch_size
    if batch is not None:
        if arr.ndim == 2 and arr.shape[0] != batch:
            raise InputError(
                f"s0 has {arr.shape[0]} initial states but the parameters have {batch} values"
            )
        arr = np.broadcast_to(arr, (batch, n)).copy()
    return arr


def comma_list(field: str, text: str, what: str) -> list[str]:
    """The items of the comma list ``text`` given as ``field``, stripped of blanks.

    An empty list, or an empty item (``1,,2``, a comma at either end), is refused in one line
    naming ``field``: an item is never dropped silently.
    """
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise InputError(f"{field} must name at least one {what}, got {text!r}")
    if not all(items):
        raise InputError(
            f"{field} {text!r} has an empty item (two commas in a row, or a comma at an end); "
            f"separate the {what}s by single commas"
        )
    return items


def each_once(field: str, items: Sequence[Any], given: Any) -> None:
    """Refuse a list ``items`` (read from ``given``) that names an item twice."""
    for i, item in enumerate(items):
        if item in items[:i]:
            raise InputError(f"{field} lists {item!r} twice, got {given!r}")


def integer(field: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{field} must be a whole number >= {minimum}, got {value!r}")
    if value < minimum:
        raise InputError(f"{field} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


# -- the ceilings -------------------------------------------------------------------------------


def available_memory() -> int:
    """Bytes this process can still allocate: the least of the memory available now
    (MemAvailable on Linux), what its rlimits (RLIMIT_AS, RLIMIT_DATA) leave it and what its
    cgroup's limit (v2 memory.max, v1 memory.limit_in_bytes) leaves the group."""
    room = [_free_memory()]
    limits = []
    for name, used in (("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")):
        try:
            soft, _ = resource.getrlimit(getattr(resource, name))
        except (AttributeError, OSError, ValueError):  # pragma: no cover - not on this system
            continue
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append((soft, used))
    if limits:  # what the process uses now is read only when a limit applies
        usage = _usage()
        room.extend(max(0, soft - usage.get(used, 0)) for soft, used in limits)
    cgroup = _cgroup_room()
    if cgroup is not None:
        room.append(cgroup)
    return max(0, min(room))


def max_memory() -> int:
    """The memory ceiling in bytes (see the module docstring)."""
    text = os.environ.get(MEMORY_VARIABLE, "").strip()
    if text:
        return parse_size(text, MEMORY_VARIABLE)
    return available_memory() // 2


def max_steps() -> int:
    """The step ceiling (see the module docstring)."""
    text = os.environ.get(STEPS_VARIABLE, "").strip()
    if text:
        return parse_count(text, STEPS_VARIABLE)
    return DEFAULT_MAX_STEPS


@contextmanager
def limits(max_memory: int | str | None = None, max_steps: int | str | None = None) -> Iterator:
    """Set the ceilings while the block runs (None leaves one as it is); they are kept in the
    environment variables, so processes started inside the block see them too."""
    values = {}
    if max_memory is not None:
        values[MEMORY_VARIABLE] = str(
            parse_size(max_memory, "--max-memory")
            if isinstance(max_memory, str)
            else _whole("--max-memory", max_memory)
        )
    if max_steps is not None:
        values[STEPS_VARIABLE] = str(
            parse_count(max_steps, "--max-steps")
            if isinstance(max_steps, str)
            else _whole("--max-steps", max_steps)
        )
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def fits_in_memory(
    n_bytes: int, limit: int | None, what: str, advice: str, *, ceiling: int | None = None
) -> None:
    """Refuse, before allocating, ``what`` needing ``n_bytes`` at its peak when that exceeds
    ``limit`` (None: the memory ceiling :func:`max_memory`, or ``ceiling`` when the caller has
    just read it); ``advice`` says what to change."""
    default = limit is None
    if default:
        limit = max_memory() if ceiling is None else ceiling
    if n_bytes > limit:
        allowed = f"the {size_text(limit)} allowed" + (f" ({RAISE_MEMORY})" if default else "")
        raise InputError(f"{what} would take {size_text(n_bytes)}, more than {allowed}; {advice}")


def within_steps(n_steps: int | float, what: str, advice: str, limit: int | None = None) -> None:
    """Refuse, before looping, ``what`` of ``n_steps`` steps when that exceeds ``limit`` (None:
    the step ceiling :func:`max_steps`); ``advice`` says what to change."""
    default = limit is None
    limit = max_steps() if default else limit
    if n_steps > limit:
        allowed = f"the {limit:.3g} allowed" + (f" ({RAISE_STEPS})" if default else "")
        raise InputError(f"{what} is {n_steps:.3g} steps, more than {allowed}; {advice}")


_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 10**3,
    "kib": 2**10,
    "m": 2**20,
    "mb": 10**6,
    "mib": 2**20,
    "g": 2**30,
    "gb": 10**9,
    "gib": 2**30,
    "t": 2**40,
    "tb": 10**12,
    "tib": 2**40,
}


def parse_size(text: Any, field: str) -> int:
    """A size in bytes from "8GiB", "512 MiB", "500MB", "2G" (G = GiB) or "2e9"."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        return _whole(field, text)
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise InputError(
            f"{field} must be a size such as 8GiB, 512MiB, 500MB or 2e9 (bytes), got {text!r}"
        )
    try:
        number = float(match.group(1))
    except ValueError:
        raise InputError(f"{field} must be a size such as 8GiB or 2e9, got {text!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"{field} must be a size > 0, got {text!r}")
    return max(1, int(number * _UNITS[unit]))


def parse_count(text: Any, field: str) -> int:
    """A count from "100000000", "1e8" or 10**8."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        return _whole(field, text)
    try:
        number = float(str(text).replace("_", ""))
    except ValueError:
        raise InputError(f"{field} must be a number of steps such as 1e9, got {text!r}") from None
    if not math.isfinite(number) or number < 1:
        raise InputError(f"{field} must be a number of steps >= 1, got {text!r}")
    return int(number)


def size_text(n_bytes: float) -> str:
    """1536 -> '1.5 KiB'."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    i = 0
    while n_bytes >= 1024 and i < len(units) - 1:
        n_bytes, i = n_bytes / 1024, i + 1
    return f"{n_bytes:.1f} {units[i]}"


_size = size_text


def _whole(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{field} must be a whole number >= 1, got {value!r}")
    return int(value)


def _free_memory() -> int:
    try:
        for line in _read_bytes("/proc/meminfo").splitlines():
            if line.startswith(b"MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2**34


def _usage() -> dict[str, int]:
    """VmSize and VmData of this process in bytes (empty where /proc is missing)."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmSize", "VmData"):
                    out[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


CGROUP_ROOT = "/sys/fs/cgroup"


def _cgroup_room() -> int | None:
    """What this process's cgroup may still use: its limit less its usage (None: no limit)."""
    for limit_file, usage_file in _cgroup_files(tuple(_cgroup_folders())):
        limit = _read_number(limit_file)
        if limit is None or limit >= 2**60:  # "max", or v1's "no limit" (near 2**63)
            continue
        used = _read_number(usage_file) or 0
        return max(0, limit - used)
    return None


@functools.cache
def _cgroup_files(folders: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The (limit, usage) files of ``folders`` (v2 memory.max, v1 memory.limit_in_bytes), in
    order, that exist: found once, since a process's cgroup files stay where they are, and
    read at every check."""
    pairs = (("memory.max", "memory.current"), ("memory.limit_in_bytes", "memory.usage_in_bytes"))
    return tuple(
        (os.path.join(folder, limit), os.path.join(folder, usage))
        for folder in folders
        for limit, usage in pairs
        if os.path.exists(os.path.join(folder, limit))
    )


@functools.cache
def _cgroup_folders() -> tuple[str, ...]:
    """This process's own cgroup folders (v2 and v1 memory), then the root of the mount: read
    once per process."""
    folders = []
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if controllers == "":
                    folders.append(os.path.join(CGROUP_ROOT, path.lstrip("/")))
                elif "memory" in controllers.split(","):
                    folders.append(os.path.join(CGROUP_ROOT, "memory", path.lstrip("/")))
    except (OSError, ValueError):
        pass
    return (*folders, CGROUP_ROOT, os.path.join(CGROUP_ROOT, "memory"))


def _read_number(path: str) -> int | None:
    try:
        return int(_read_bytes(path, 64).strip())
    except (OSError, ValueError):
        return None


def _read_bytes(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a small file, in one read (a third of the cost of open())."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
