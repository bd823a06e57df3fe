"""Running a loaded loop over a batch: members split over threads, whole blocks each.

A loop is a ctypes function, and ctypes releases the GIL while it runs, so Python threads run
calls side by side on disjoint members (:func:`run`).  A call with little work runs in the
calling thread: starting a thread costs some tens of microseconds.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError, KernelError
from .source import BLOCK

if TYPE_CHECKING:
    from . import Kernel

THREADS_ENV = "DYNSYS_THREADS"
PARALLEL_MEMBER_STEPS = 50_000
"""Member-steps of work from which a call is split over threads: below it, starting a thread
costs more than it saves (a thread's start-up is some tens of microseconds)."""


def threads() -> int:
    """Threads the compiled loop may use: ``$DYNSYS_THREADS``, else one per core available."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise InputError(f"{THREADS_ENV} must be a whole number >= 1, got {value!r}")
        return count
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def split(members: int, member_steps: int, most: int) -> list[tuple[int, int]]:
    """Members [lo, hi) per thread: whole blocks, as many threads as the work repays."""
    blocks = -(-members // BLOCK)
    count = max(1, min(most, blocks, member_steps // PARALLEL_MEMBER_STEPS))
    per = -(-blocks // count)
    bounds = [min(k * per * BLOCK, members) for k in range(count + 1)]
    return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


_POOL: ThreadPoolExecutor | None = None
_POOL_OWNER = (0, 0)  # (process id, size) of the pool: a forked child starts its own


def _pool(size: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_OWNER
    pid, held = _POOL_OWNER
    if _POOL is None or pid != os.getpid() or size > held:
        if _POOL is not None and pid == os.getpid():
            _POOL.shutdown(wait=False)
        _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dynsys-loop")
        _POOL_OWNER = (os.getpid(), size)
    return _POOL


def run(
    loop: Kernel,
    s: np.ndarray,
    n0: int,
    kept: np.ndarray,
    out: np.ndarray,
    t0: float,
    h: float,
    params: np.ndarray,
    most_threads: int,
) -> int:
    """Step ``s`` (members, n), C-contiguous, in place from step n0 through ``kept``, writing
    s(kept[r]) into ``out[r]`` (rows, members, n); return the threads used."""
    members = s.shape[0]
    kept = np.ascontiguousarray(kept, dtype=np.int64)
    parts = split(members, members * int(kept[-1] - n0), most_threads)
    work = np.empty((len(parts), loop.work_rows, BLOCK))
    args = (s.ctypes.data, out.ctypes.data, kept.ctypes.data)

    def call(k: int) -> int:
        lo, hi = parts[k]
        return loop.function(
            *args, work[k].ctypes.data, params.ctypes.data, members, lo, hi, len(kept), n0,
            t0, h,
        )  # fmt: skip

    if len(parts) == 1:
        statuses = [call(0)]
    else:
        futures = [_pool(len(parts) - 1).submit(call, k) for k in range(1, len(parts))]
        statuses = [call(0)] + [f.result() for f in futures]
    if any(statuses):
        raise KernelError("the compiled loop stopped on an error; use backend='numpy'")
    return len(parts)
