"""Writing results: trajectories to CSV, NPZ or JSON, always atomically."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import sys
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import __version__, checks
from .errors import DynsysError, InputError
from .files import atomic_write, read_bytes, reason
from .systems.base import Parameter, Params, System
from .trajectory import Trajectory

FORMATS = (".csv", ".npz", ".json")
VOLATILE_INFO = ("wall_s", "kernel")
"""What a run's info holds that says how this process ran it, not what it computed: the wall
time, and whether the compiled loop was compiled, loaded from the cache or in memory."""


def metadata(traj: Trajectory) -> dict[str, Any]:
    """What produced a trajectory, JSON-ready."""
    info = {k: _plain(v) for k, v in traj.info.items() if k not in VOLATILE_INFO}
    return {
        "dynsys_version": __version__,
        "system": traj.system.name,
        "params": traj.system.param_values(),
        "state_names": list(traj.state_names),
        "method": traj.method,
        "dt": traj.dt,
        "save_every": traj.save_every,
        "info": info,
    } | _definition(traj.system)


def _definition(system: Any) -> dict[str, Any]:
    """``{"definition": {...}}`` for a system defined by equations as text (its states,
    parameters and equations, which rebuild it), else nothing."""
    # a UserSystem exists only once its module is imported: no import for the others
    module = sys.modules.get("dynsys.experiments.user_system")
    if module is None or not isinstance(system, module.UserSystem):
        return {}
    return {"definition": dict(type(system).spec)}


def write_trajectory(traj: Trajectory, path: str | os.PathLike) -> Path:
    """Write ``traj`` to ``path`` in the format its suffix names (.csv, .npz or .json).

    CSV: a header ``t,<state names>[,x]`` (with a leading ``trajectory`` column for a batch),
    one row per kept step, values with 17 significant digits, so float64 round-trips exactly,
    and a last line ``# dynsys-metadata: {...}`` holding :func:`metadata` as JSON (skipped as a
    comment by ``np.loadtxt(path, delimiter=",", skiprows=1)`` and
    ``pandas.read_csv(path, comment="#")``).
    NPZ: arrays ``t``, ``states``, ``x`` and a JSON string ``metadata``; load it with
    ``np.load(path, allow_pickle=False)``.  JSON: the metadata with ``t``, ``states``, ``x``.
    :func:`load_trajectory` reads all three back.

    Refused before anything is written: a trajectory whose states or drive are not all finite
    numbers (a DynsysError naming the first such time), and one whose writing would exceed the
    memory ceiling (:mod:`dynsys.checks`).
    """
    suffix = Path(path).suffix.lower()
    writers = {".csv": _write_csv, ".npz": _write_npz, ".json": _write_json}
    if suffix not in writers:
        raise InputError(
            f"output file name must end in one of {', '.join(FORMATS)}, got {str(path)!r}"
        )
    n_values = traj.states.size + (0 if traj.x is None else np.size(traj.x))
    checks.fits_in_memory(
        int(WRITE_BYTES[suffix] * n_values) + 2**20,
        None,
        f"writing {len(traj.t)} steps of {traj.system.name} as {suffix[1:].upper()}",
        "keep fewer steps (save_every/--save-every) or write .npz",
    )
    _check_finite(traj)
    return atomic_write(path, lambda f: writers[suffix](traj, f))


WRITE_BYTES = {".csv": 0.0, ".npz": 8.0, ".json": 128.0}
"""Bytes per value a writer holds besides the trajectory: NPZ a contiguous copy of the states;
JSON the lists of Python floats and the text (measured: about 113); CSV writes in blocks."""
CSV_BLOCK_ROWS = 8192
CSV_METADATA = "# dynsys-metadata: "
"""The start of a CSV trajectory's last line, followed by :func:`metadata` as JSON."""


def _check_finite(traj: Trajectory) -> None:
    """Refuse a trajectory with values that are not finite: a DynsysError naming the first
    time (and the trajectory of a batch) where a state or the drive is not finite."""
    shape = traj.states.shape[:-1]  # (batch, time) or (time,)
    for what, finite in (
        ("a state", lambda: np.isfinite(traj.states).all(axis=-1)),
        ("the drive x", lambda: np.isfinite(traj.x)),
    ):
        if what == "the drive x" and traj.x is None:
            continue
        ok = np.broadcast_to(finite(), shape).reshape(-1, len(traj.t))
        if ok.all():
            continue
        member, step = np.unravel_index(np.argmin(ok), ok.shape)
        where = f" of trajectory {member}" if traj.batched else ""
        raise DynsysError(
            f"{what}{where} is not a finite number at t = {traj.t[step]:.6g} (step {step}); "
            "nothing was written"
        )


def _write_csv(traj: Trajectory, f: IO[bytes]) -> None:
    states = traj.states if traj.batched else traj.states[None]
    n_batch, n_time = states.shape[:2]
    x = None if traj.x is None else np.broadcast_to(traj.x, (n_batch, n_time))
    header = ["t", *traj.state_names] + (["x"] if x is not None else [])
    if traj.batched:
        header.insert(0, "trajectory")
    f.write((",".join(header) + "\n").encode())
    for member in range(n_batch):
        for first in range(0, n_time, CSV_BLOCK_ROWS):
            rows = slice(first, first + CSV_BLOCK_ROWS)
            columns = [traj.t[rows, None], states[member, rows]]
            if x is not None:
                columns.append(x[member, rows, None])
            if traj.batched:
                columns.insert(0, np.full((len(columns[0]), 1), member))
            text = io.StringIO()
            np.savetxt(text, np.concatenate(columns, axis=-1), fmt="%.17g", delimiter=",")
            f.write(text.getvalue().encode())
    f.write(f"{CSV_METADATA}{json.dumps(metadata(traj))}\n".encode())


def _write_npz(traj: Trajectory, f: IO[bytes]) -> None:
    arrays = {"t": traj.t, "states": np.ascontiguousarray(traj.states)}
    if traj.x is not None:
        arrays["x"] = np.ascontiguousarray(traj.x)
    np.savez(f, metadata=np.array(json.dumps(metadata(traj))), **arrays)


def _write_json(traj: Trajectory, f: IO[bytes]) -> None:
    doc = metadata(traj) | {
        "t": traj.t.tolist(),
        "states": traj.states.tolist(),
        "x": None if traj.x is None else np.asarray(traj.x).tolist(),
    }
    f.write(json.dumps(doc).encode())


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


# -- reading ---------------------------------------------------------------------------------

MAX_TRAJECTORY_BYTES = 2**36
"""The largest trajectory file read (64 GiB); the memory ceiling usually refuses one sooner."""
READ_BYTES = {".csv": 3.0, ".npz": 2.0, ".json": 4.0}
"""Bytes held per byte of file while reading it: the file and the arrays (NPZ), the text and
its parsed numbers (CSV), the text and Python's lists of floats (JSON)."""
WRITTEN_BY = "a trajectory written by dynsys simulate --out"


def load_trajectory(path: str | os.PathLike) -> Trajectory:
    """The trajectory a file written by :func:`write_trajectory` holds, by its suffix (.csv,
    .npz or .json): the same ``t`` and ``states`` bit for bit, the system with its parameters,
    ``method``, ``dt``, ``save_every`` and ``info`` (JSON values; the wall time is not saved).

    The system is the registered one of that name when its states and parameters match the
    file's; a system defined by equations (a config's ``system`` section, ``--equations``) is
    rebuilt from the definition the file carries; any other is a :class:`SavedSystem` of the
    file's name, states and parameters, which can be drawn and inspected but not simulated
    (its drive, if any, is the saved ``x``).  A missing file, a folder, a file of another kind
    or a damaged one is an InputError naming the path and what was expected.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    readers = {".csv": _read_csv, ".npz": _read_npz, ".json": _read_json}
    try:
        info = os.stat(path)
    except OSError as err:
        raise InputError(f"cannot read trajectory file {path}: {reason(err)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(
            f"cannot read trajectory file {path}: it is a folder; expected {WRITTEN_BY}"
        )
    if suffix not in readers:
        raise InputError(
            f"cannot read trajectory file {path}: its name must end in one of "
            f"{', '.join(FORMATS)} ({WRITTEN_BY})"
        )
    size = info.st_size
    checks.fits_in_memory(
        int(READ_BYTES[suffix] * size),
        None,
        f"reading trajectory file {path}",
        "use a machine with more memory",
    )
    data = read_bytes(path, limit=MAX_TRAJECTORY_BYTES, what="trajectory file")
    meta, t, states, x = readers[suffix](path, data)
    return _trajectory(path, meta, t, states, x)


class SavedSystem(System):
    """A system known only by what a trajectory file holds: its name, states and parameter
    values.  Its trajectories can be drawn and inspected; it cannot be simulated, since its
    equations are not known here (register the system, then load the file again)."""

    def rhs(self, t: float, s: np.ndarray, x: np.ndarray | None, p: Params) -> np.ndarray:
        raise DynsysError(
            f"system {self.name!r} was read from a trajectory file and is not registered: its "
            "equations are unknown here; register it (dynsys.register) and load the file again"
        )


def saved_system_class(
    name: str, states: list[str], params: dict[str, Any], kind: str
) -> type[SavedSystem]:
    """A :class:`SavedSystem` subclass of ``name`` with these states, and the parameters of
    ``params`` (name: value or list of values) with the first value as default."""
    namespace = {
        "__doc__": f"{name!r} as saved in a trajectory file: states {', '.join(states)}.",
        "__module__": __name__,
        "name": name,
        "states": tuple(states),
        "parameters": tuple(
            Parameter(k, float(np.ravel(v)[0]), "saved value") for k, v in params.items()
        ),
        "default_s0": (0.0,) * len(states),
        "kind": kind,
    }
    return type("Saved_" + re.sub(r"\W", "_", name), (SavedSystem,), namespace)


def _not_ours(path: Path, why: str) -> InputError:
    return InputError(f"{path} is not {WRITTEN_BY}: {why}")


def _read_npz(path: Path, data: bytes) -> tuple[Any, Any, Any, Any]:
    if data[:4] != b"PK\x03\x04":
        raise _not_ours(path, "not an .npz archive")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [k for k in ("t", "states", "metadata") if k not in archive.files]
            if missing:
                held = ", ".join(archive.files[:8]) or "nothing"
                raise _not_ours(
                    path, f"no array {missing[0]!r} (it holds {held}; expected t, states, metadata)"
                )
            unpacked = sum(info.file_size for info in archive.zip.infolist())
            checks.fits_in_memory(
                unpacked + len(data),
                None,
                f"reading trajectory file {path} ({unpacked} bytes unpacked)",
                "use a machine with more memory",
            )
            arrays = {k: archive[k] for k in ("t", "states", "metadata", "x") if k in archive}
    except InputError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zlib.error) as err:
        raise InputError(
            f"trajectory file {path} is truncated or corrupt ({_brief(err)})"
        ) from None
    text = arrays["metadata"]
    if text.dtype.kind != "U" or text.shape != ():
        raise _not_ours(path, "its metadata is not a JSON string")
    return _json_object(path, str(text)), arrays["t"], arrays["states"], arrays.get("x")


def _read_json(path: Path, data: bytes) -> tuple[Any, Any, Any, Any]:
    doc = _json_object(path, _utf8(path, data))
    missing = [k for k in ("t", "states") if k not in doc]
    if missing:
        keys = ", ".join(list(doc)[:8]) or "no keys"
        raise _not_ours(path, f"no {missing[0]!r} (it has {keys}; expected t, states, system)")
    return doc, doc["t"], doc["states"], doc.get("x")


def _read_csv(path: Path, data: bytes) -> tuple[Any, Any, Any, Any]:
    text = _utf8(path, data)
    header, _, body = text.partition("\n")
    last = body.rstrip("\n").rpartition("\n")[2]
    if not last.startswith(CSV_METADATA):
        raise _not_ours(path, f"no last line {CSV_METADATA.strip()!r} (header {_brief(header)})")
    meta = _json_object(path, last[len(CSV_METADATA) :])
    names = meta.get("state_names")
    batched = header.startswith("trajectory,")
    columns = header.split(",")[1:] if batched else header.split(",")
    n = len(names) if isinstance(names, list) else 0
    if columns[: n + 1] != ["t", *(names or [])] or columns[n + 1 :] not in ([], ["x"]):
        raise InputError(
            f"trajectory file {path}: header {_brief(header)} does not match its metadata "
            f"(states {names!r})"
        )
    if body.lstrip().startswith("#"):
        raise InputError(f"trajectory file {path} holds no rows")
    try:
        table = np.loadtxt(io.StringIO(body), delimiter=",", comments="#", ndmin=2)
    except ValueError as err:
        raise InputError(f"trajectory file {path} is damaged ({_brief(err)})") from None
    if table.shape[1] != len(header.split(",")):
        raise InputError(f"trajectory file {path} has rows of {table.shape[1]} columns")
    if not np.isfinite(table).all():
        raise InputError(f"trajectory file {path} holds values that are not finite numbers")
    driven = len(columns) == n + 2
    if not batched:
        return meta, table[:, 0], table[:, 1 : n + 1], table[:, n + 1] if driven else None
    member = table[:, 0]
    count = int(member[-1]) + 1 if len(member) else 0
    steps = len(member) // max(count, 1)
    if (
        count < 1
        or steps * count != len(member)
        or np.any(member != np.repeat(np.arange(count), steps))
    ):
        raise InputError(
            f"trajectory file {path}: its trajectory column is not 0, 1, ... in blocks of "
            "equal length"
        )
    blocks = table[:, 1:].reshape(count, steps, -1)
    if np.any(blocks[:, :, 0] != blocks[0, :, 0]):
        raise InputError(f"trajectory file {path}: its trajectories have different times")
    x = blocks[:, :, n + 1].copy() if driven else None
    return meta, blocks[0, :, 0].copy(), blocks[:, :, 1 : n + 1].copy(), x


def _utf8(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_ours(path, "not UTF-8 text") from None


def _json_object(path: Path, text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _not_ours(path, f"not valid JSON ({_brief(err)})") from None
    if not isinstance(doc, dict):
        raise _not_ours(path, f"JSON {type(doc).__name__}, expected an object")
    return doc


def _trajectory(path: Path, meta: dict[str, Any], t: Any, states: Any, x: Any) -> Trajectory:
    """The Trajectory of checked metadata and arrays."""
    where = f"trajectory file {path}"
    names = meta.get("state_names")
    if not (isinstance(names, list) and names and all(isinstance(s, str) for s in names)):
        raise _not_ours(path, "no state_names (a list of names)")
    name = meta.get("system")
    if not isinstance(name, str) or not name:
        raise _not_ours(path, "no system name")
    method = meta.get("method")
    if not isinstance(method, str) or not method:
        raise InputError(f"{where}: method must be a name, got {_brief(method)}")
    dt = meta.get("dt")
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, int | float)):
        raise InputError(f"{where}: dt must be a number or null, got {_brief(dt)}")
    save_every = meta.get("save_every", 1)
    if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
        raise InputError(f"{where}: save_every must be a whole number >= 1, got {save_every!r}")
    info = meta.get("info", {})
    if not isinstance(info, dict):
        raise InputError(f"{where}: info must be a JSON object")
    t = _numbers(where, "t", t, 1)
    if not len(t):
        raise InputError(f"{where}: it holds no times")
    states = _numbers(where, "states", states, None)
    if states.ndim not in (2, 3) or states.shape[-2:] != (len(t), len(names)):
        raise InputError(
            f"{where}: states of shape {states.shape} do not fit {len(t)} times of "
            f"{len(names)} states ({', '.join(names)})"
        )
    system = _system(where, meta, name, names, method)
    if system.batch_size is not None and system.batch_size != (
        states.shape[0] if states.ndim == 3 else None
    ):
        raise InputError(f"{where}: {system.batch_size} parameter values for states {states.shape}")
    traj = Trajectory(
        t, states, system, method, None if dt is None else float(dt), save_every, info
    )
    if isinstance(system, SavedSystem) and x is not None:
        # the drive of a system known only by name is the saved one (Trajectory.x is cached)
        traj.__dict__["x"] = _numbers(where, "x", x, None)
    return traj


def _numbers(where: str, field: str, value: Any, ndim: int | None) -> np.ndarray:
    """``value`` as a float64 array of finite numbers (from floats or ints, never text)."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise InputError(f"{where}: {field} is not an array of numbers") from None
    if array.dtype.kind not in "fi" or (ndim is not None and array.ndim != ndim):
        shape = f"a {ndim}-d array" if ndim else "an array"
        raise InputError(f"{where}: {field} must be {shape} of numbers")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise InputError(f"{where}: {field} holds values that are not finite numbers")
    return array


def _system(where: str, meta: dict[str, Any], name: str, names: list[str], method: str) -> System:
    """The file's system: rebuilt from its definition, the registered one, or a SavedSystem."""
    from .systems import SYSTEMS

    params = meta.get("params", {})
    if not isinstance(params, dict) or not all(map(_number_or_list, params.values())):
        raise InputError(f"{where}: params must map names to numbers or lists of numbers")
    definition = meta.get("definition")
    if definition is not None:
        from .experiments.user_system import user_system_class

        try:
            cls = user_system_class(definition, field="definition")
        except InputError as err:
            raise InputError(f"{where}: its system cannot be rebuilt: {err}") from None
    else:
        cls = SYSTEMS.get(name)
        known = cls is not None and list(cls.states) == names
        if not known or {p.name for p in cls.parameters} != set(params):
            cls = saved_system_class(name, names, params, "map" if method == "map" else "ode")
    try:
        return cls(**params)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


def _number_or_list(value: Any) -> bool:
    """A parameter's saved value: a number, or a non-empty list of numbers (a batch)."""
    values = value if isinstance(value, list) and value else [value]
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _brief(value: Any, limit: int = 80) -> str:
    """A value (repr) or an exception (its first line) in at most ``limit`` characters."""
    if isinstance(value, BaseException):
        text = str(value).splitlines()[0] if str(value) else type(value).__name__
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
