"""Writing results: trajectories to CSV, NPZ or JSON, always atomically."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import __version__
from .errors import InputError
from .files import atomic_write
from .trajectory import Trajectory

FORMATS = (".csv", ".npz", ".json")


def metadata(traj: Trajectory) -> dict[str, Any]:
    """What produced a trajectory, JSON-ready."""
    info = {k: _plain(v) for k, v in traj.info.items() if k != "wall_s"}
    return {
        "dynsys_version": __version__,
        "system": traj.system.name,
        "params": traj.system.param_values(),
        "state_names": list(traj.state_names),
        "method": traj.method,
        "dt": traj.dt,
        "save_every": traj.save_every,
        "info": info,
    }


def write_trajectory(traj: Trajectory, path: str | os.PathLike) -> Path:
    """Write ``traj`` to ``path`` in the format its suffix names (.csv, .npz or .json).

    CSV: a header ``t,<state names>[,x]`` (with a leading ``trajectory`` column for a batch),
    one row per kept step, values with 17 significant digits, so float64 round-trips exactly.
    NPZ: arrays ``t``, ``states``, ``x`` and a JSON string ``metadata``; load it with
    ``np.load(path, allow_pickle=False)``.  JSON: the metadata with ``t``, ``states``, ``x``.
    """
    suffix = Path(path).suffix.lower()
    writers = {".csv": _write_csv, ".npz": _write_npz, ".json": _write_json}
    if suffix not in writers:
        raise InputError(
            f"output file name must end in one of {', '.join(FORMATS)}, got {str(path)!r}"
        )
    return atomic_write(path, lambda f: writers[suffix](traj, f))


def _write_csv(traj: Trajectory, f: IO[bytes]) -> None:
    states = traj.states if traj.batched else traj.states[None]
    n_batch, n_time = states.shape[:2]
    columns = [np.broadcast_to(traj.t, (n_batch, n_time))[..., None], states]
    header = ["t", *traj.state_names]
    if traj.x is not None:
        columns.append(np.broadcast_to(traj.x, (n_batch, n_time))[..., None])
        header.append("x")
    if traj.batched:
        header.insert(0, "trajectory")
        columns.insert(0, np.broadcast_to(np.arange(n_batch)[:, None, None], (n_batch, n_time, 1)))
    table = np.concatenate(columns, axis=-1).reshape(n_batch * n_time, -1)
    text = io.StringIO()
    np.savetxt(text, table, fmt="%.17g", delimiter=",")
    f.write((",".join(header) + "\n").encode())
    f.write(text.getvalue().encode())


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
