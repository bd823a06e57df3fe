"""Files in and out: atomic writes whose failures are one-line errors, and bounded reads.

Every file dynsys writes goes through :func:`atomic_write`: the bytes go to a temporary file
beside the target, are flushed to disk, then renamed over it, so a reader sees the old file or
the new one, never half of one.  A failure (disk full, permission, not a folder) raises a
:class:`~dynsys.errors.WriteError` naming the path and the reason, removes the temporary file
and leaves any previous version intact.

Every file dynsys reads that a user could have swapped for something else (a config, a model's
metadata, a run folder's records) goes through :func:`read_bytes`: only a regular file is read
(a FIFO, a device or a folder is refused without blocking), at most ``limit`` bytes of it, and,
inside run folders, never through a symbolic link.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import InputError, WriteError

MiB = 2**20
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
"""A temporary file of :func:`atomic_write` is ``.<name>.<random>.tmp`` beside its target (the
name cut to 200 characters)."""


def reason(err: OSError) -> str:
    """An OSError's reason in words: 'No space left on device', 'Permission denied', ..."""
    if err.errno == errno.ELOOP:
        return "it is a symbolic link"
    return err.strerror or type(err).__name__


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    A reader never sees a half-written file; a failure raises :class:`WriteError` (exit
    status 1 on the command line), removes the temporary file and leaves any old file as it
    was.  A missing folder is bad input (:class:`InputError`).
    """
    path = Path(path)
    folder = _check_target(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(path), suffix=TEMP_SUFFIX)
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, _mode_for(path))  # not mkstemp's private 0600
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise WriteError(f"cannot write {path}: {reason(err)}") from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def writable(path: str | os.PathLike) -> Path:
    """Check, before long work, that :func:`atomic_write` can write ``path``: the checks it
    makes (:class:`InputError` for a missing folder, a folder or special file in the way, a
    name too long), then its temporary file made and removed (:class:`WriteError` when the
    folder refuses it: permission, a read-only or pseudo file system)."""
    path = Path(path)
    folder = _check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(path), suffix=TEMP_SUFFIX)
    except OSError as err:
        raise WriteError(f"cannot write {path}: {reason(err)}") from None
    os.close(fd)
    _remove(tmp)
    return path


def _check_target(path: Path) -> Path:
    """The folder of ``path``, after refusing a path nothing can be written to (InputError)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder_info = _stat_or_none(folder)
    except OSError as err:
        raise InputError(f"cannot write {path}: {reason(err)}") from None
    if folder_info is None:
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    if not stat.S_ISDIR(folder_info.st_mode):
        raise InputError(f"cannot write {path}: {folder} is not a folder")
    try:
        info = _stat_or_none(path)
    except OSError as err:
        raise InputError(f"cannot write {path}: {reason(err)}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(f"cannot write {path}: it is {_kind(info.st_mode)}, not a file")
    return folder


def temporary_files(path: Path) -> list[Path]:
    """The temporary files :func:`atomic_write` left beside ``path`` when it was killed."""
    pattern = f"{glob.escape(_temp_prefix(path))}*{TEMP_SUFFIX}"
    return [tmp for tmp in path.parent.glob(pattern) if not tmp.is_dir()]


def _temp_prefix(path: Path) -> str:
    """'.<name>.': the name cut to 200 characters, so a name near the file system's limit of
    255 still leaves room for the random part and the suffix."""
    return f"{TEMP_PREFIX}{path.name[:200]}."


def _stat_or_none(path: Path) -> os.stat_result | None:
    """The status of what ``path`` names (through links), None if nothing is there."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _mode_for(path: Path) -> int:
    """The mode open(path, "w") would leave: the old file's, or 0o666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def read_bytes(
    path: str | os.PathLike, *, limit: int, what: str = "file", follow_links: bool = True
) -> bytes:
    """The bytes of the regular file ``path``, refusing anything else in one line.

    A FIFO, a device, a socket or a folder is refused without blocking on it, a file larger
    than ``limit`` bytes before reading it, and, with ``follow_links=False``, a symbolic link.
    Every refusal is an :class:`InputError` naming ``what`` and the path.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise InputError(f"cannot read {what} {path}: {reason(err)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"cannot read {what} {path}: it is {_kind(info.st_mode)}, not a file")
        if info.st_size > limit:
            raise InputError(
                f"cannot read {what} {path}: {info.st_size / MiB:.1f} MiB, more than the "
                f"{limit / MiB:.1f} MiB a {what} may have"
            )
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(info.st_size + 1)  # the size it has, never the largest allowed
    except OSError as err:
        raise InputError(f"cannot read {what} {path}: {reason(err)}") from None
    finally:
        os.close(fd)
    if len(data) > min(limit, info.st_size):  # it grew while we read it
        raise InputError(f"cannot read {what} {path}: it changed while it was read")
    return data


def read_text(
    path: str | os.PathLike, *, limit: int, what: str = "file", follow_links: bool = True
) -> str:
    """:func:`read_bytes` decoded as UTF-8 (an InputError naming the file if it is not)."""
    data = read_bytes(path, limit=limit, what=what, follow_links=follow_links)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"cannot read {what} {path}: not UTF-8 text ({err.reason})") from None


def _kind(mode: int) -> str:
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")
