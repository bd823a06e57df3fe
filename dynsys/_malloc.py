"""Keep glibc from handing the time loop's temporaries back to the kernel after every step.

A step of a batched stepper allocates and frees a dozen arrays of the batch's size.  glibc
serves blocks over its mmap threshold (128 KiB at start) with fresh mmaps and trims the heap
when more than twice that lies free at its top, so every step pays page faults for all of
them.  Measured here (benchmarks/, and A/B runs of simulate with DYNSYS_MALLOC_TUNING=0/1):
a lone RK4 step on 10,000 oscillators takes 2.2x as long untuned; a whole RK4 run of 1,000
or 10,000 oscillators, 15-25% longer, with 170 minor page faults per step instead of 0.5.
Raising the two thresholds (to glibc's own maximum for mmap) once makes the same arrays come
from the heap again; it is what the MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_
environment variables do, and it only changes when memory is returned to the system, never the
results.  Set DYNSYS_MALLOC_TUNING=0 to leave the allocator alone.  Other C libraries: no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_allocator() -> bool:
    """Apply the thresholds once per process; return whether they are in force."""
    global _done
    if _done:
        return True
    if os.environ.get("DYNSYS_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, 32 * 2**20) and mallopt(_M_TRIM_THRESHOLD, 256 * 2**20))
    return _done
