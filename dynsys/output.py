"""Writing results: trajectories to CSV, NPZ or JSON, always atomically."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import __version__, checks
from .errors import DynsysError, InputError
from .files import atomic_write
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
    }


def write_trajectory(traj: Trajectory, path: str | os.PathLike) -> Path:
    """Write ``traj`` to ``path`` in the format its suffix names (.csv, .npz or .json).

    CSV: a header ``t,<state names>[,x]`` (with a leading ``trajectory`` column for a batch),
    one row per kept step, values with 17 significant digits, so float64 round-trips exactly.
    NPZ: arrays ``t``, ``states``, ``x`` and a JSON string ``metadata``; load it with
    ``np.load(path, allow_pickle=False)``.  JSON: the metadata with ``t``, ``states``, ``x``.

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
