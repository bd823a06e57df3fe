"""The records of a run folder: status.json, metrics.json and run.log, each rewritten whole
(atomically) at every change, and read back only through a schema.

``status.json`` is ``{"state": running|done|failed|interrupted, "completed": [...],
"written": {step: {file: sha256}}, "message": ..., "config_hash": ..., "started": ...,
"updated": ...}`` (a sweep's also has "failed": [point hashes]).  "written" holds the digest
of each result file of a completed step, so that a resume redoes a step whose files were
removed or changed since (:func:`changed_steps`).  ``metrics.json`` holds what was measured,
wall times under "timings"; ``run.log`` holds one timestamped line per event.  A reader never
sees a half-written file.

Reading them back (to resume) never follows a symbolic link, reads at most
:data:`RECORD_LIMIT` bytes (:data:`LOG_LIMIT` for the log), and checks each record against
its schema (:class:`Status`, :class:`Metrics`), so that an edited record is a one-line
InputError naming the file and the field.  Where the folder is and who may write it:
:mod:`.folder`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import DynsysError, InputError
from ..files import MiB, atomic_write, read_text
from ..metrics import finite_or_none

Echo = Callable[[str], None]
RECORD_LIMIT = 16 * MiB
"""The most bytes a status.json, metrics.json or marker may have."""
LOG_LIMIT = 64 * MiB
"""The most bytes a run.log may have to be continued."""


class _Record(BaseModel):
    """JSON types as written: no string for a list, no number for a string."""

    model_config = ConfigDict(strict=True, extra="allow")


class Status(_Record):
    """The schema of status.json."""

    state: Literal["running", "done", "failed", "interrupted"]
    completed: list[str] = []
    written: dict[str, dict[str, str]] = {}
    failed: list[str] = []
    message: str = ""
    config_hash: str | None = None
    steps: list[str] | None = None
    started: str | None = None
    updated: str | None = None


Number = float | None
"""A measured number; null where it was not finite."""


class Errors(_Record):
    """A method's row of the simulation table: its errors against the reference."""

    max_abs_error: Number = None
    rmse: Number = None
    rel_l2: Number = None
    final_abs_error: Number = None
    exact: dict[str, Number] | None = None
    energy_error: Number = None
    diverged: dict[str, Any] | None = None


class RolloutRow(_Record):
    """A method's (or the model's) row of the test table."""

    rel_l2: Number = None
    rmse: Number = None
    max_abs_error: Number = None
    valid_time: Number = None
    valid_time_smape: Number = None
    valid_time_lyapunov: Number = None


class Reference(_Record):
    """The solve_ivp reference the errors are measured against."""

    method: str
    rtol: float
    atol: float


Numbers = list[Number] | list[list[Number]]
"""One number per exponent, or a list of them per initial state of a batch."""


class LyapunovMetrics(_Record):
    """The Lyapunov exponents of a run (largest first) and how they were had."""

    exponents: Numbers
    spread: Numbers
    sum: Number | list[Number] = None
    kaplan_yorke: Number | list[Number] = None
    units: Literal["per unit time", "per iteration", "per drive period"]
    method: str
    dt: float
    tangent: str
    steps: int


class BifurcationMetrics(_Record):
    """An orbit diagram of a run: its parameter values and how many have each period."""

    param: str
    range: list[float]
    values: int
    periods: dict[str, int]
    without_period: int
    lyapunov_positive: int | None = None
    lyapunov_max: Number = None


class Metrics(_Record):
    """The schema of metrics.json: the tables a summary is drawn from, as the run wrote them."""

    name: str | None = None
    seed: int | None = None
    dynsys_version: str | None = None
    config_hash: str | None = None
    system: str | None = None
    simulation: dict[str, Errors] | None = None
    reference: Reference | None = None
    training: dict[str, dict[str, Any]] | None = None
    test: dict[str, RolloutRow] | None = None
    lyapunov: LyapunovMetrics | None = None
    bifurcation: BifurcationMetrics | None = None
    timings: dict[str, float | dict[str, float | None] | None] = {}


def read_record(path: Path, what: str = "run record") -> dict[str, Any]:
    """The JSON object in ``path`` (never through a link, at most RECORD_LIMIT bytes)."""
    text = _read_text(path, RECORD_LIMIT, what)
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise InputError(f"cannot read {path}: not valid JSON ({err})") from None
    except RecursionError:
        raise InputError(f"cannot read {path}: its JSON is nested too deeply") from None
    if not isinstance(doc, dict):
        raise InputError(f"cannot read {path}: not a JSON object (it holds {_kind(doc)})")
    return doc


def validated(path: Path, doc: dict[str, Any], schema: type[BaseModel]) -> Any:
    """``doc`` checked against ``schema`` (the model), or an InputError naming file and field."""
    try:
        return schema.model_validate(doc)
    except ValidationError as err:
        found = [(_field(doc, e["loc"], e["type"] == "missing"), e) for e in err.errors()]
        (where, value), first = max(found, key=lambda item: item[0][0].count(".") + 1)
        if first["type"] == "missing":
            raise InputError(f"{path}: field {where} is missing") from None
        raise InputError(
            f"{path}: field {where}: {first['msg']} (it holds {_kind(value)})"
        ) from None


def _field(doc: Any, loc: tuple, missing: bool) -> tuple[str, Any]:
    """The dotted path of ``loc`` inside ``doc`` (pydantic adds the names of union members
    where it is one of several types: they are skipped) and the value there."""
    here, names = doc, []
    for part in loc:
        if isinstance(here, dict) and part in here:
            here, name = here[part], str(part)
        elif isinstance(here, list) and isinstance(part, int) and part < len(here):
            here, name = here[part], f"[{part}]"
        else:
            if missing and part == loc[-1]:
                names.append(str(part))
            continue
        names.append(name)
    return ".".join(names).replace(".[", "["), here


def read_status(folder: Path) -> dict[str, Any] | None:
    """The checked status.json of ``folder`` as written, None when there is none."""
    path = folder / "status.json"
    if not os.path.lexists(path):
        return None
    doc = read_record(path)
    validated(path, doc, Status)
    return doc


def read_metrics(folder: Path) -> dict[str, Any]:
    """The checked metrics.json of ``folder`` as written, {} when there is none."""
    path = folder / "metrics.json"
    if not os.path.lexists(path):
        return {}
    doc = read_record(path)
    validated(path, doc, Metrics)
    return doc


def read_log(folder: Path) -> list[str]:
    """The lines of run.log, [] when there is none."""
    path = folder / "run.log"
    if not os.path.lexists(path):
        return []
    return _read_text(path, LOG_LIMIT, "run log").splitlines()


def _read_text(path: Path, limit: int, what: str) -> str:
    if path.is_dir() and not path.is_symlink():
        raise InputError(f"cannot read {what} {path}: a folder, not a file")
    return read_text(path, limit=limit, what=what, follow_links=False)


def digest(path: Path) -> str | None:
    """The sha256 of the regular file ``path`` (never through a link), None if there is none."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        sha = hashlib.sha256()
        while chunk := os.read(fd, 2**20):
            sha.update(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return sha.hexdigest()


def changed_steps(folder: Path, status: dict[str, Any]) -> dict[str, str]:
    """The completed steps of ``status`` whose result files are missing or changed since they
    were written, each with the first such file."""
    changed = {}
    written = status.get("written") or {}
    for step in status.get("completed") or []:
        for name, sha in (written.get(step) or {}).items():
            if digest(folder / name) != sha:
                changed[step] = name
                break
    return changed


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


@dataclass
class Saved:
    """What a run folder says of the run so far: its status (None before the first one was
    written), metrics and log lines."""

    status: dict[str, Any] | None
    metrics: dict[str, Any]
    log_lines: list[str]

    @classmethod
    def read(cls, folder: Path) -> Saved:
        return cls(read_status(folder), read_metrics(folder), read_log(folder))


@dataclass
class RunRecord:
    """The files that say what a run did; each change is written at once, atomically.
    ``previous_state`` is what a resumed status said before this run (None when new)."""

    folder: Path
    status: dict[str, Any]
    metrics: dict[str, Any]
    log_lines: list[str] = field(default_factory=list)
    echo: Echo | None = None
    previous_state: str | None = None

    @classmethod
    def start(
        cls,
        folder: Path,
        saved: Saved | None,
        *,
        status: dict[str, Any],
        metrics: dict[str, Any] | None = None,
        echo: Echo | None = None,
    ) -> RunRecord:
        """A new record in ``folder``, or the ``saved`` one when resuming, marked "running";
        ``status`` and ``metrics`` fields are set over what was saved."""
        saved = saved or Saved(None, {}, [])
        saved_status = saved.status if saved.status is not None else {"started": now()}
        state = saved_status | {"state": "running", "message": ""} | status
        state.setdefault("completed", [])
        values = {} if metrics is None else metrics | {"timings": {}}
        values |= {k: v for k, v in saved.metrics.items() if k not in (metrics or {})}
        previous = None if saved.status is None else saved.status["state"]
        record = cls(folder, state, values, list(saved.log_lines), echo, previous)
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

    def complete(self, step: str, seconds: float, files: tuple[str, ...] = ()) -> None:
        """Write the metrics, then mark ``step`` completed (its wall time under timings, the
        digests of its result ``files`` under written)."""
        self.metrics["timings"][step] = round(seconds, 6)
        self.write_metrics()
        digests = {name: digest(self.folder / name) for name in files}
        self.status.setdefault("written", {})[step] = {k: v for k, v in digests.items() if v}
        self.completed.append(step)
        self.write_status()
        self.log(f"{step}: done in {seconds:.2f} s")

    def redo_changed(self) -> None:
        """Take back the completed steps whose result files were removed or changed since."""
        for step, name in changed_steps(self.folder, self.status).items():
            self.completed.remove(step)
            self.status["written"].pop(step, None)
            self.log(f"{step}: {name} is missing or changed since it was written; redoing it")

    def finish(self, state: str, message: str) -> None:
        self.status["state"], self.status["message"] = state, message
        self.write_status()
        self.log(f"run {state}" + (f": {message}" if message else ""))

    def finish_quietly(self, state: str, message: str) -> None:
        """:meth:`finish` while another error is on its way: a failed write (a full disk)
        gives way to that error; the status then still says "running", and the free lock
        tells readers the run has ended."""
        with contextlib.suppress(DynsysError):
            self.finish(state, message)

    def write_status(self) -> None:
        self.status["updated"] = now()
        write_json(self.folder / "status.json", self.status)

    def write_metrics(self) -> None:
        timings = self.metrics.pop("timings", {})
        self.metrics["timings"] = timings  # last, after the numbers that do not vary
        write_json(self.folder / "metrics.json", self.metrics)


def check_config_hash(folder: Path, saved: Saved, config_hash: str) -> None:
    """Resuming needs the config the folder's status names."""
    stored = None if saved.status is None else saved.status.get("config_hash")
    if stored not in (None, config_hash):
        raise InputError(
            f"cannot resume {folder}: its config (hash {stored}) is not this one ({config_hash})"
        )


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
