"""Compiled loops kept on disk, so that a new process loads its loop instead of compiling it.

The cache folder is ``$DYNSYS_CACHE_DIR``, else ``$XDG_CACHE_HOME/dynsys``, else
``~/.cache/dynsys``; loops live in its ``kernels/`` folder, one file per loop named by a hash
(:func:`key`) of everything the machine code depends on: the generated source, the source of the
module that defines the system (so an edited vector field is compiled again), the numba and
llvmlite installations, Python's version and the machine.  Each file holds a one-line JSON
header (what the loop is, and the CPU it was made for) followed by the object code, written
atomically: two processes that compile the same loop at once both write a whole file, and a
reader never sees half of one.  A lock file lets the second wait for the first instead of
compiling again.

Object code is machine code that runs in the process, so the folder must be the user's own and
writable by no one else; otherwise nothing is read from or written to it (the loop is compiled
in memory, as when no folder can be created).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
"""The layout of a cached file; a new layout makes new keys."""
SUFFIX = ".kernel"
LOCK_WAIT_S = 300.0
"""How long a process waits for another that compiles the same loop, then compiles it too."""


def folder() -> Path | None:
    """The private folder of cached loops, created if missing; None when there is no usable
    one (not creatable, or not owned by this user, or writable by others)."""
    root = os.environ.get("DYNSYS_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = os.path.join(xdg, "dynsys") if xdg else os.path.join("~", ".cache", "dynsys")
    path = Path(os.path.expanduser(root)) / "kernels"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return None
    return path


def key(source: str, system_cls: type) -> str | None:
    """The hash that names a loop's file, or None when the system's source cannot be read
    (a class typed at the prompt): such a loop is compiled in memory."""
    origin = system_source(system_cls)
    if origin is None:
        return None
    digest = hashlib.sha256()
    for part in (str(FORMAT), source, origin, toolchain()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def system_source(system_cls: type) -> str | None:
    """The source of the modules that define ``system_cls``'s vector field and forcing, and
    the values their closures hold (numba compiles those in as constants); None when a closure
    holds anything but numbers and strings, whose value the key could not follow."""
    parts = []
    for function in (system_cls.vector_field, system_cls.forcing):
        if function is None:
            continue
        module = sys.modules.get(getattr(function, "__module__", ""), None)
        try:
            parts.append(inspect.getsource(module) if module else inspect.getsource(function))
        except (OSError, TypeError):
            return None
        for cell in getattr(function, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                return None
            if not _constant(value):
                return None
            parts.append(f"{function.__qualname__}: {value!r}")
    return "\0".join(parts)


def _constant(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_constant(v) for v in value)
    return isinstance(value, bool | int | float | complex | str | None.__class__)


def toolchain() -> str:
    """What compiled code depends on besides its source: numba's and llvmlite's installed
    files (path, size, time), Python's version and the machine."""
    parts = [sys.version, os.uname().machine if hasattr(os, "uname") else sys.platform]
    for package in ("numba", "llvmlite"):
        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None else None
        try:
            stat = os.stat(origin) if origin else None
        except OSError:
            stat = None
        parts.append(f"{package}:{origin}:{stat and stat.st_size}:{stat and stat.st_mtime_ns}")
    return "\n".join(parts)


@dataclass(frozen=True)
class Entry:
    """A cached loop: its header and object code."""

    header: dict[str, Any]
    objects: bytes


def path_of(where: Path, name: str) -> Path:
    return where / f"{name}{SUFFIX}"


def exists(where: Path | None, name: str | None) -> bool:
    return where is not None and name is not None and path_of(where, name).is_file()


def read(where: Path, name: str) -> Entry | None:
    """The cached loop ``name``, or None when it is missing or unreadable (then compile)."""
    try:
        data = path_of(where, name).read_bytes()
        line, objects = data.split(b"\n", 1)
        header = json.loads(line)
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT or not objects:
        return None
    return Entry(header, objects)


def write(where: Path, name: str, header: dict[str, Any], objects: bytes, source: str) -> bool:
    """Store a loop (and its generated source beside it, for reading); False when the folder
    refuses it (the loop still runs, compiled again by the next process)."""
    from ..errors import DynsysError
    from ..files import atomic_write

    line = json.dumps({"format": FORMAT, **header}, sort_keys=True).encode()
    try:
        atomic_write(where / f"{name}.py", lambda f: f.write(source.encode()))
        atomic_write(path_of(where, name), lambda f: f.write(line + b"\n" + objects))
    except DynsysError:
        return False
    return True


@contextlib.contextmanager
def compiling(where: Path | None, name: str | None):
    """Hold ``name``'s lock while compiling it: another process compiling the same loop waits
    (at most :data:`LOCK_WAIT_S`), then finds it cached."""
    if where is None or name is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # no flock: both compile, each writes a whole file
        yield
        return
    try:
        fd = os.open(where / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock
