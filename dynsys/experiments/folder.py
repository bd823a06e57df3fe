"""Run folders on disk: the marker that makes a folder a run folder, the lock that keeps one
writer in it, and ``--overwrite`` that replaces a run all at once or not at all.

Marker.  Every run (and sweep) folder holds ``.dynsys-run.json``, written before anything
else::

    {"format": 1, "kind": "run" | "sweep", "dynsys_version": "...", "files": [...]}

``files`` lists, relative to the folder, each file the run writes there, known from its plan
before it starts (``config.resolved.yaml``, ``status.json``, ``trajectories/euler.npz``, ...);
a sweep lists each point as ``points/<name>/`` (the varied values and a short hash, e.g.
``dt=0.01_A=0.5-1a2b3c``), a run folder with its own marker.  A folder
without a marker is not a run folder: dynsys resumes, overwrites and removes nothing in it.
Removing a run removes exactly the listed files (and their temporary files), the marker and
the lock, then the folders this left empty; anything else in the folder stays.

Lock.  The process writing a run folder holds an ``fcntl.flock`` on ``.dynsys-run.lock`` for
as long as it runs; the file names the holder (pid, host, start time).  A second run, resume
or overwrite of the folder is refused in one line naming the holder.  The kernel releases the
lock whenever the process ends, killed or not, so a killed run leaves no stale lock, and a
status that still says "running" while nobody holds the lock was left by a dead process.
(Without ``fcntl``, on Windows, there is no lock.)

Overwrite.  The new run is written in a staging folder beside the old one, in the same parent
(``.<name>.dynsys-staging-<random>``), and swapped in when it ends, done or stopped by Ctrl-C
(``--resume`` continues it): in one step where the system can exchange two folders (Linux
``renameat2``), else by two renames.  The old run's listed files are then removed and whatever
else the old folder held is moved into the new one (a file whose name the new run took stays
in ``<name>.kept-<random>`` beside it).  If the new run fails (a failed step, a failed write, a
full disk) the staging folder is removed and the old run is left as it was; a parent folder
that cannot be written is refused before anything starts.

Resume.  The marker must be of this format version, and none of the run's entries (its listed
files, the folders holding them, the marker, the lock) may be a symbolic link: a run folder is
never followed outside itself.  The temporary files of interrupted writes
(``.<name>.<random>.tmp``) and the staging folders of a killed overwrite are removed first.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from .. import __version__
from ..errors import DynsysError, InputError, WriteError
from ..files import atomic_write, read_text, reason, temporary_files
from .records import read_record, validated

try:
    import fcntl
except ImportError:  # not POSIX: no locks
    fcntl = None  # type: ignore[assignment]

MARKER = ".dynsys-run.json"
LOCK = ".dynsys-run.lock"
FORMAT = 1
"""The run-folder format this dynsys writes and reads."""
STAGING = ".dynsys-staging-"
CONFIG_FILE = "config.resolved.yaml"
"""The resolved config of a run or sweep: its every field filled, so that it re-runs."""
RECORDS = (
    CONFIG_FILE,
    "status.json",
    "metrics.json",
    "run.log",
    "model.npz",
    "trajectories",
    "plots",
    "points",
    "sweep.csv",
    "sweep.json",
    "sweep.png",
    "report.md",
    "report.html",
)
"""The entries a run or sweep folder may hold, whatever its marker lists."""
Kind = Literal["run", "sweep"]
Mode = Literal["new", "overwrite", "resume"]


class Marker(BaseModel):
    """``.dynsys-run.json``: the run folder's format, kind and the files dynsys writes in it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    format: int
    kind: Kind
    dynsys_version: str
    files: list[str]

    @field_validator("files")
    @classmethod
    def _inside(cls, files: list[str]) -> list[str]:
        for name in files:
            parts = PurePosixPath(name).parts
            if not parts or name.startswith(("/", ".")) or ".." in parts or "\\" in name:
                raise ValueError(f"{name!r} is not a path inside the folder")
        return files


# -- the marker --------------------------------------------------------------------------------


def read_marker(folder: Path, action: str = "use") -> Marker:
    """The marker of ``folder``, checked; an InputError saying why ``action`` is refused."""
    path = folder / MARKER
    if not os.path.lexists(path):
        older = " (or one written before run-folder markers)" if _has_records(folder) else ""
        raise InputError(
            f"cannot {action} {folder}: it is not a dynsys run folder{older}: no {MARKER} in it"
        )
    doc = read_record(path, what="run-folder marker")
    found = doc.get("format")
    if found != FORMAT or isinstance(found, bool):
        by = doc.get("dynsys_version")
        by = f"dynsys {by}" if isinstance(by, str) else "another dynsys"
        raise InputError(
            f"cannot {action} {folder}: it was written by {by} in run-folder format {found!r}; "
            f"this dynsys ({__version__}) reads format {FORMAT}"
        )
    return validated(path, doc, Marker)


def write_marker(folder: Path, marker: Marker) -> None:
    text = json.dumps(marker.model_dump(), indent=2) + "\n"
    atomic_write(folder / MARKER, lambda f: f.write(text.encode()))


def new_marker(kind: Kind, files: Iterable[str]) -> Marker:
    return Marker(format=FORMAT, kind=kind, dynsys_version=__version__, files=list(files))


def _has_records(folder: Path) -> bool:
    return any(os.path.lexists(folder / name) for name in ("status.json", CONFIG_FILE))


# -- the lock ----------------------------------------------------------------------------------


@dataclass
class Lock:
    """An fcntl.flock held on a folder's lock file; :meth:`release` (or exiting) lets it go."""

    path: Path
    fd: int = -1

    def claim(self) -> None:
        """Name this process in the lock file (best effort: a full disk does not stop the
        run), for the message that refuses another one."""
        if self.fd < 0:
            return
        doc = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().isoformat(timespec="seconds"),
        }
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, (json.dumps(doc) + "\n").encode(), 0)

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def lock(folder: Path, claim: bool = True) -> Lock:
    """Hold the lock of ``folder``, or refuse in one line naming the process that holds it;
    ``claim`` names this process in it at once (else :meth:`Lock.claim` does later)."""
    path = folder / LOCK
    if fcntl is None:
        return Lock(path)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(5):
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.EISDIR):
                what = "a symbolic link" if err.errno == errno.ELOOP else "a folder"
                raise InputError(f"cannot lock {folder}: {path} is {what}; remove it") from None
            raise WriteError(f"cannot lock {folder}: {path}: {reason(err)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(
                    f"{folder} is in use by {holder(folder)}; wait for it to end or choose "
                    "another folder"
                ) from None
            raise WriteError(f"cannot lock {folder}: {reason(err)}") from None
        if _still_there(fd, path):  # not removed or replaced while we waited for it
            held = Lock(path, fd)
            if claim:
                held.claim()
            return held
        os.close(fd)
    raise WriteError(f"cannot lock {folder}: its lock file {LOCK} keeps being replaced")


def is_held(folder: Path) -> bool:
    """Whether a live process holds the lock of ``folder`` (this one included)."""
    if fcntl is None:
        return False
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(folder / LOCK, flags | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def holder(folder: Path) -> str:
    """Who holds (or last held) the lock of ``folder``: 'pid 123 on host (since ...)'."""
    try:
        doc = json.loads(read_text(folder / LOCK, limit=4096, what="lock", follow_links=False))
        return f"pid {int(doc['pid'])} on {doc['host']} (since {doc['started']})"
    except (DynsysError, OSError, ValueError, TypeError, KeyError):
        return "another process"


def _still_there(fd: int, path: Path) -> bool:
    try:
        here, held = os.lstat(path), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


# -- opening a run folder ----------------------------------------------------------------------


@dataclass
class Place:
    """Where a run writes: ``path``, which is ``target`` itself or, on --overwrite of an
    existing run, its staging folder.  ``mode`` is how it was opened ("new", "overwrite" or
    "resume"; a resumed folder that held nothing yet is "new"); ``previous`` names the last
    holder of a resumed folder's lock."""

    target: Path
    path: Path
    marker: Marker
    mode: Mode
    previous: str = ""
    old: Marker | None = None
    locks: list[Lock] = field(default_factory=list)

    @property
    def resuming(self) -> bool:
        return self.mode == "resume"

    def release(self) -> None:
        for held in self.locks:
            held.release()


@contextmanager
def run_folder(
    target: Path,
    kind: Kind,
    files: Iterable[str],
    mode: Mode,
    check: Callable[[Path], None] | None = None,
) -> Iterator[Place]:
    """Open ``target`` for a run of ``kind`` writing ``files`` (see the module doc), hold its
    lock while the body runs, and, on --overwrite, swap the new run in when the body returns
    or is stopped by Ctrl-C, or discard it when the body raises anything else.

    ``check(folder)``, on resume, may refuse the folder (raise) after the marker and links are
    checked and before the folder is locked or changed in any way.
    """
    files = list(dict.fromkeys(files))
    target = Path(target)
    if mode == "resume" and not _empty(target):
        place = _open_resume(target, kind, files, check)
    elif _empty(target):
        place = _open_new(target, kind, files)
    elif mode == "overwrite":
        place = _open_staging(target, kind, files)
    else:
        advice = (
            "pass --overwrite to replace it or --resume to continue the run in it"
            if os.path.lexists(target / MARKER)
            else f"it is not a dynsys run folder (no {MARKER}); choose another folder"
        )
        raise InputError(f"output folder {target} exists; {advice}")
    try:
        yield place
    except KeyboardInterrupt:
        _commit(place)
        raise
    except BaseException as err:
        if place.path != place.target:
            _remove_staging(place)
            note = f"nothing was replaced: {target} keeps its previous run"
            if isinstance(err, DynsysError) and len(err.args) == 1:
                err.args = (f"{err.args[0]}; {note}",)
        raise
    else:
        _commit(place)
    finally:
        place.release()


def _empty(target: Path) -> bool:
    """True for a missing folder or one holding nothing (a lock file aside)."""
    if not os.path.lexists(target):
        return True
    if not target.is_dir():
        raise InputError(f"output folder {target} is a file")
    try:
        with os.scandir(target) as entries:
            return all(entry.name == LOCK for entry in entries)
    except OSError as err:
        raise InputError(f"cannot read output folder {target}: {reason(err)}") from None


def _open_new(target: Path, kind: Kind, files: list[str]) -> Place:
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WriteError(f"cannot create output folder {target}: {reason(err)}") from None
    held = lock(target)
    try:
        if not _empty(target):  # another run got there first
            raise InputError(f"output folder {target} exists; another run has just started in it")
        marker = new_marker(kind, files)
        write_marker(target, marker)
    except BaseException:
        held.release()
        raise
    return Place(target, target, marker, "new", locks=[held])


def _open_resume(
    target: Path, kind: Kind, files: list[str], check: Callable[[Path], None] | None
) -> Place:
    check_links(target, (*RECORDS, MARKER, LOCK), "resume")
    marker = read_marker(target, "resume")
    if marker.kind != kind:
        raise InputError(
            f"cannot resume {target}: it holds a {marker.kind}, and its config describes a {kind}"
        )
    check_links(target, marker.files + files, "resume")
    if check is not None:
        check(target)
    previous = holder(target)
    held = lock(target)
    try:
        remove_temporary(target, [*marker.files, *files, MARKER])
        _remove_stale_staging(target)
        if set(files) - set(marker.files):
            marker = marker.model_copy(update={"files": list(dict.fromkeys(marker.files + files))})
            write_marker(target, marker)
    except BaseException:
        held.release()
        raise
    return Place(target, target, marker, "resume", previous=previous, locks=[held])


def _open_staging(target: Path, kind: Kind, files: list[str]) -> Place:
    if target.is_symlink():
        raise InputError(f"refusing to overwrite {target}: it is a symbolic link; give the folder")
    here, real = Path.cwd(), Path(os.path.realpath(target))
    if here == real or real in here.parents:
        raise InputError(
            f"refusing to overwrite {target}: it holds the current folder; run from outside it"
        )
    old = read_marker(target, "overwrite")
    locks = [lock(target, claim=False)]  # named as ours once the staging folder is made
    staging = None
    try:
        try:
            staging = _beside(target, STAGING)
            os.chmod(staging, stat.S_IMODE(target.stat().st_mode))
        except OSError as err:
            raise WriteError(
                f"cannot overwrite {target}: the new run is written beside it first, and "
                f"{_parent(target)} cannot be written ({reason(err)}); {target} is unchanged"
            ) from None
        locks.insert(0, lock(staging))
        _remove_stale_staging(target, keep=staging)
        marker = new_marker(kind, files)
        write_marker(staging, marker)
        locks[1].claim()
    except BaseException:
        if staging is not None:
            _remove_tree_of_ours(staging)
        for held in locks:
            held.release()
        raise
    return Place(target, staging, marker, "overwrite", old=old, locks=locks)


def _parent(target: Path) -> Path:
    """The folder holding ``target`` ('.' and '..' included)."""
    return Path(os.path.abspath(target)).parent


def _name(target: Path) -> str:
    """The name of ``target`` in its parent ('.' and '..' included)."""
    return Path(os.path.abspath(target)).name


def _beside(target: Path, tag: str, hidden: bool = True) -> Path:
    """A new empty folder beside ``target``: ``.<name><tag><random>`` (no dot: not hidden)."""
    prefix = ("." if hidden else "") + f"{_name(target)}{tag}"
    return Path(tempfile.mkdtemp(dir=_parent(target), prefix=prefix))


def check_links(folder: Path, names: Iterable[str], action: str) -> None:
    """Refuse, in one line naming it, any symbolic link among ``names`` and the folders on
    their way (all relative to ``folder``)."""
    for name in names:
        here = folder
        for part in PurePosixPath(name).parts:
            here = here / part
            if here.is_symlink():
                raise InputError(
                    f"cannot {action} {folder}: {here.relative_to(folder)} is a symbolic link; "
                    "a run folder's files must be its own (replace the link with what it "
                    "points to)"
                )
            if not here.is_dir():
                break


# -- removing what a run wrote -----------------------------------------------------------------


def remove_temporary(folder: Path, names: Iterable[str]) -> None:
    """Remove the temporary files atomic_write leaves when killed (``.<name>.<random>.tmp``)
    beside each of ``names``; never through a symbolic link."""
    for name in names:
        path = _inside(folder, name.rstrip("/"))
        if path is None:
            continue
        for tmp in temporary_files(path):
            with contextlib.suppress(OSError):
                tmp.unlink()


def remove_listed(folder: Path, marker: Marker) -> None:
    """Remove what ``marker`` lists in ``folder`` (a point's folder by its own marker), their
    temporary files, the marker and the lock, then the folders this left empty."""
    folders: set[Path] = set()
    for name in marker.files:
        path = _inside(folder, name.rstrip("/"))
        if path is None:
            continue
        if name.endswith("/"):
            _remove_sub_run(path)
        elif not path.is_dir() or path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        folders.update(p for p in path.parents if folder in p.parents)
    remove_temporary(folder, [*marker.files, MARKER])
    for name in (MARKER, LOCK):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    for path in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir()


def _remove_sub_run(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        return
    try:
        held = lock(path)
    except DynsysError:  # in use, or not ours to lock
        return
    try:
        marker = read_marker(path)
        remove_listed(path, marker)
    except DynsysError:
        pass
    finally:
        held.release()
    with contextlib.suppress(OSError):
        (path / LOCK).unlink()
    with contextlib.suppress(OSError):
        path.rmdir()


def _inside(folder: Path, name: str) -> Path | None:
    """``folder / name`` if every folder on the way is a real folder, not a link; else None."""
    parts = PurePosixPath(name).parts
    here = folder
    for part in parts[:-1]:
        here = here / part
        if here.is_symlink() or not here.is_dir():
            return None
    return here / parts[-1] if parts else None


def _remove_tree_of_ours(folder: Path) -> None:
    """Remove a staging folder: what its marker lists, then it if nothing else is left."""
    with contextlib.suppress(DynsysError, OSError):
        remove_listed(folder, read_marker(folder))
    with contextlib.suppress(OSError):
        (folder / LOCK).unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _remove_staging(place: Place) -> None:
    """Remove the staging folder of ``place`` (whose first lock is the staging folder's)."""
    _remove_tree_of_ours(place.path)
    place.locks[0].release()


def _remove_stale_staging(target: Path, keep: Path | None = None) -> None:
    """Staging folders of ``target`` left by a killed overwrite (whoever holds ``target``'s
    lock, as the caller does, owns them), ``keep`` aside."""
    pattern = f".{glob.escape(_name(target))}{STAGING}*"
    with contextlib.suppress(OSError):
        for entry in _parent(target).glob(pattern):
            if entry == keep or entry.is_symlink() or not entry.is_dir():
                continue
            if not is_held(entry):
                _remove_tree_of_ours(entry)


# -- swapping a staged run in ------------------------------------------------------------------


def _commit(place: Place) -> None:
    """Put the staged run in place of the old one (see the module doc); nothing to do for a
    run written in its folder directly."""
    if place.path == place.target:
        return
    target, staging = place.target, place.path
    try:
        if _exchange(staging, target):
            leftover = staging
        else:
            leftover = _beside(target, STAGING)  # a fresh name, then the old run under it
            os.rmdir(leftover)
            os.rename(target, leftover)
            try:
                os.rename(staging, target)
            except OSError:
                os.rename(leftover, target)
                raise
    except OSError as err:
        _remove_staging(place)
        raise WriteError(
            f"cannot put the new run in place of {target}: {reason(err)}; {target} is unchanged"
        ) from None
    with contextlib.suppress(OSError, DynsysError):  # the new run is in place; tidy up
        if place.old is not None:
            remove_listed(leftover, place.old)
        _move_into(leftover, target)
        if os.listdir(leftover):
            kept = _beside(target, ".kept-", hidden=False)
            os.rmdir(kept)
            os.rename(leftover, kept)
        else:
            leftover.rmdir()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two entries of one file system in one step (Linux renameat2 with RENAME_EXCHANGE);
    False where the system cannot, an OSError when it fails."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _move_into(source: Path, target: Path) -> None:
    """Move what ``source`` holds into ``target``, folder into folder; what would replace
    something of ``target`` stays in ``source``."""
    for name in os.listdir(source):
        entry = source / name
        dest = target / name
        if not os.path.lexists(dest):
            os.rename(entry, dest)
        elif _real_dir(entry) and _real_dir(dest):
            _move_into(entry, dest)
            with contextlib.suppress(OSError):
                entry.rmdir()


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


__all__ = [
    "FORMAT",
    "LOCK",
    "MARKER",
    "Marker",
    "Place",
    "check_links",
    "holder",
    "is_held",
    "lock",
    "read_marker",
    "remove_listed",
    "remove_temporary",
    "run_folder",
]
