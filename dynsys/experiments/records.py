"""The record of a run folder: creating it without clobbering anything, and its status.json,
metrics.json and run.log, each rewritten whole (atomically) at every change.

``status.json`` is ``{"state": running|done|failed|interrupted, "completed": [...],
"message": ..., "config_hash": ..., "started": ..., "updated": ...}``; ``run.log`` holds one
timestamped line per event.  A reader never sees a half-written file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..files import atomic_write
from ..metrics import finite_or_none

Echo = Callable[[str], None]
RUN_MARKS = ("status.json", "config.resolved.yaml")
"""A folder holding one of these is a run (or sweep) folder, which --overwrite may replace."""


@dataclass
class RunRecord:
    """The files that say what a run did; each change is written at once, atomically."""

    folder: Path
    status: dict[str, Any]
    metrics: dict[str, Any]
    log_lines: list[str] = field(default_factory=list)
    echo: Echo | None = None

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        resume: bool,
        status: dict[str, Any],
        metrics: dict[str, Any] | None = None,
        echo: Echo | None = None,
    ) -> RunRecord:
        """A new record in ``folder``, or the one there when resuming, marked "running";
        ``status`` and ``metrics`` fields are set over what was saved."""
        saved_status = read_json(folder / "status.json") if resume else {"started": now()}
        saved_metrics = {}
        if resume and (folder / "metrics.json").exists():
            saved_metrics = read_json(folder / "metrics.json")
        log = folder / "run.log"
        lines = log.read_text(encoding="utf-8").splitlines() if resume and log.exists() else []
        state = saved_status | {"state": "running", "message": ""} | status
        state.setdefault("completed", [])
        values = {} if metrics is None else metrics | {"timings": {}}
        values |= {k: v for k, v in saved_metrics.items() if k not in (metrics or {})}
        record = cls(folder, state, values, lines, echo)
        record.write_status()
        return record

    @property
    def completed(self) -> list[str]:
        return self.status["completed"]

    def log(self, message: str) -> None:
        """Add a timestamped line to run.log (and echo it)."""
        self.log_lines.append(f"{now()} {message}")
        text = "\n".join(self.log_lines) + "\n"
        atomic_write(self.folder / "run.log", lambda f: f.write(text.encode()))
        if self.echo is not None:
            self.echo(message)

    def complete(self, step: str, seconds: float) -> None:
        """Write the metrics, then mark ``step`` completed (its wall time under timings)."""
        self.metrics["timings"][step] = round(seconds, 6)
        self.write_metrics()
        self.completed.append(step)
        self.write_status()
        self.log(f"{step}: done in {seconds:.2f} s")

    def finish(self, state: str, message: str) -> None:
        self.status["state"], self.status["message"] = state, message
        self.write_status()
        self.log(f"run {state}" + (f": {message}" if message else ""))

    def write_status(self) -> None:
        self.status["updated"] = now()
        write_json(self.folder / "status.json", self.status)

    def write_metrics(self) -> None:
        timings = self.metrics.pop("timings", {})
        self.metrics["timings"] = timings  # last, after the numbers that do not vary
        write_json(self.folder / "metrics.json", self.metrics)


def prepare_folder(
    folder: Path, *, overwrite: bool, resume: bool, config_hash: str | None = None
) -> None:
    """Create the run folder; refuse an existing one unless told to overwrite or resume it.

    Only a run folder (one holding :data:`RUN_MARKS`) or an empty one is ever replaced.
    Resuming needs a run folder whose status names the config hash ``config_hash``.
    """
    if resume:
        if not (folder / "status.json").is_file():
            raise InputError(f"cannot resume {folder}: it is not a run folder (no status.json)")
        stored = read_json(folder / "status.json").get("config_hash")
        if config_hash is not None and stored not in (None, config_hash):
            raise InputError(
                f"cannot resume {folder}: its config (hash {stored}) is not this one "
                f"({config_hash})"
            )
        return
    if folder.exists():
        if not folder.is_dir():
            raise InputError(f"output folder {folder} is a file")
        if any(folder.iterdir()):
            if not overwrite:
                raise InputError(
                    f"output folder {folder} exists; pass --overwrite to replace it "
                    "or --resume to continue the run in it"
                )
            if not any((folder / mark).exists() for mark in RUN_MARKS):
                raise InputError(f"refusing to overwrite {folder}: it is not a dynsys run folder")
            shutil.rmtree(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create output folder {folder}: {err.strerror}") from None


def now() -> str:
    """The local time to the second, ISO 8601."""
    return datetime.now().isoformat(timespec="seconds")


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """``doc`` as indented JSON, non-finite numbers as null, written atomically."""
    text = json.dumps(json_ready(doc), indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def json_ready(value: Any) -> Any:
    """Plain JSON values: numpy numbers as Python ones, non-finite numbers as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return finite_or_none(value)
    return value


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or an InputError naming the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read {path}: {err}") from None
    if not isinstance(doc, dict):
        raise InputError(f"cannot read {path}: not a JSON object")
    return doc
