"""Sweeps: one run per point of a config's ``sweep``, on local processes or a Dask cluster.

The points are every combination of the ``grid`` lists (in the order the keys are written),
then the explicit ``points``; each is the config without its sweep and with the point's dotted
keys set.  A sweep has at most :data:`MAX_POINTS` points, counted from its section before any
is built.  A point runs :func:`~dynsys.experiments.run.run_experiment` into
``points/<name>/``, named by the values it sets and the start of the hash of its resolved
config (:func:`point_names`, e.g. ``dt=0.01_A=0.5-1a2b3c``), so the same point always lands in
the same folder.  The sweep folder::

    .dynsys-run.json       the marker (kind "sweep"), listing the files below and each point
    .dynsys-run.lock       held by the sweep's process; each point folder has its own
    config.resolved.yaml   the sweep's config, every default filled
    status.json            {"state", "completed": [point names], "failed": [...], "message"}
    run.log                timestamped lines: each point started, done, skipped or failed
    points/<name>/         a run folder per point
    sweep.csv, sweep.json  one row per point: the swept values and the headline metrics
    sweep.png              a headline metric against the first swept key

Resuming (``resume=True``) skips the points whose folder says "done", continues those that
stopped, and runs the rest (a point folder named by its bare config hash, as sweeps wrote them
before, is renamed to the point's name first); a point whose folder another process still holds
is reported failed, not raced.  Executors: ``local`` runs the points in this process with one
job, or on ``jobs`` processes started fresh ('spawn', so nothing of this process leaks into
them) that die with it, even when it is killed (Linux: ``PR_SET_PDEATHSIG``; elsewhere a thread
that watches the parent); ``dask`` sends each point to the workers of a ``distributed``
scheduler (``scheduler``: its address, or a local cluster of ``jobs`` worker processes without
one).  With Dask the run folder must be on a file system every worker sees.  A point that fails
is recorded and the others go on.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import csv
import ctypes
import io
import itertools
import json
import math
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import DynsysError, InputError
from ..files import atomic_write
from .config import ExperimentConfig, SweepConfig, config_hash, parse_config, resolved_yaml
from .folder import holder, is_held, read_marker, remove_temporary, run_folder
from .records import (
    Echo,
    RunRecord,
    Saved,
    changed_steps,
    check_config_hash,
    read_metrics,
    read_status,
)
from .run import CONFIG_FILE, plan_run, under_ceilings

HEADLINE = ("rel_l2", "max_abs_error")
"""Per method of the simulation; with a model also the model's test rel_l2 and valid_time."""
MAX_POINTS = 10_000
"""The most points a sweep may have (grid combinations plus explicit points)."""
SWEEP_FILES = (CONFIG_FILE, "status.json", "run.log", "sweep.csv", "sweep.json", "sweep.png")
SWEEP_FILES += ("report.md", "report.html")
SCHEDULER_TIMEOUT = 10
"""Seconds to wait for a Dask scheduler before the sweep is refused as unreachable."""

DASK_MISSING = (
    "the dask executor needs dask.distributed, which is not installed: "
    "pip install 'dynsys[dask]' (or dask[distributed])"
)


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the values it sets, its config (as resolved YAML), its hash and the
    name of its folder (see :func:`point_names`)."""

    values: dict[str, Any]
    config_text: str
    hash: str
    name: str = ""


@dataclass(frozen=True)
class PointTask:
    """What a worker needs to run a point: plain data, picklable."""

    config_text: str
    folder: str
    resume: bool


@dataclass(frozen=True)
class PointOutcome:
    """How a point ended ("done", "failed" or "interrupted"), with its metrics."""

    folder: str
    state: str
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: its folder, its rows (one per point) and how many points failed."""

    folder: Path
    state: str
    rows: list[dict[str, Any]]
    keys: tuple[str, ...]
    skipped: int = 0
    failed: int = 0

    def summary(self) -> str:
        """The sweep table (swept values and headline metrics) as text."""
        from ..tables import table

        columns = [c for c in _columns(self.rows, self.keys) if not c.endswith("max_abs_error")]
        body = [[_cell(row.get(c)) for c in columns] for row in self.rows]
        columns = [c.removeprefix("simulation.") for c in columns]
        done = len(self.rows) - self.failed
        lines = [f"sweep of {len(self.rows)} points: {done} done, {self.failed} failed"]
        lines += [table(columns, body), "", f"results in {self.folder}/ (sweep.csv, sweep.json)"]
        return "\n".join(lines)


# -- the points --------------------------------------------------------------------------------


def sweep_points(config: ExperimentConfig, source: str = "config") -> tuple[list[Point], list[str]]:
    """The distinct points of ``config.sweep`` and the swept keys (grid keys, then the keys of
    the explicit points), each point validated as a config of its own."""
    sweep = config.sweep
    if sweep is None:
        raise InputError(f"{source} has no sweep section")
    check_point_count(sweep, source)
    keys = list(sweep.grid)
    choices = [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*sweep.grid.values())
    ]
    if not keys:
        choices = []
    choices += [dict(point) for point in sweep.points]
    for point in sweep.points:
        keys += [k for k in point if k not in keys]
    if not choices:
        raise InputError(f"{source}: the sweep has no points")
    base = resolved_yaml(config.model_copy(update={"sweep": None}))
    points: list[Point] = []
    seen = set()
    for i, values in enumerate(choices):
        overrides = [f"{key}={json.dumps(value)}" for key, value in values.items()]
        point = parse_config(base, f"{source}: sweep point {i + 1}", overrides)
        digest = config_hash(point)
        if digest in seen:
            continue
        seen.add(digest)
        data = point.model_dump(mode="json")
        full = {key: values[key] if key in values else _get_path(data, key) for key in keys}
        points.append(Point(full, resolved_yaml(point), digest))
    names = point_names([p.values for p in points], [p.hash for p in points], keys)
    return [replace(p, name=name) for p, name in zip(points, names, strict=True)], keys


NAME_VALUE = 24
"""Characters of one value kept in a point's name (longer values are cut; the hash tells)."""
NAME_VALUES = 96
"""Characters of the values part of a point's name at most."""
NAME_HASH = 6
"""Hex digits of the config hash that end a point's name (all 12 where names would clash)."""


def point_names(
    values: Sequence[dict[str, Any]], hashes: Sequence[str], keys: Sequence[str]
) -> list[str]:
    """Folder names of points: ``label=value`` for each swept key joined by ``_``, then ``-``
    and the first :data:`NAME_HASH` hex digits of the point's config hash, as in
    ``dt=0.01_A=0.5-1a2b3c``.

    A key's label is the last part of its dotted path (``simulation.dt`` -> ``dt``), with more
    of the path where two keys would share one (``system.params.A``, ``dataset.params.A`` ->
    ``system.params.A``, ``dataset.params.A``).  Floats are written ``:g``; every character but
    letters, digits and ``.,_+-`` becomes ``-``; list items are joined by ``,``.  Names that
    would clash (values equal once written ``:g`` or cut, or equal but for case) end with the
    whole hash instead.
    """
    labels = _labels(keys)
    stems = []
    for point in values:
        shown = "_".join(f"{labels[k]}={_name_value(point.get(k))}" for k in keys)
        stems.append(shown[:NAME_VALUES].strip("._-"))
    names = [_joined(stem, h[:NAME_HASH]) for stem, h in zip(stems, hashes, strict=True)]
    folded = [n.casefold() for n in names]
    return [
        _joined(stem, h) if folded.count(n.casefold()) > 1 else n
        for stem, h, n in zip(stems, hashes, names, strict=True)
    ]


def _joined(stem: str, digest: str) -> str:
    return f"{stem}-{digest}" if stem else digest


def _labels(keys: Sequence[str]) -> dict[str, str]:
    """Each key's shortest tail of its dotted path that no other key shares (an index, as in
    ``s0.1``, with the name before it)."""
    parts = {k: _safe(re.sub(r"\[(\d+)\]", r".\1", k)).split(".") for k in keys}
    labels = {}
    for key, path in parts.items():
        first = min(2 if path[-1].isdigit() else 1, len(path))
        for n in range(first, len(path) + 1):
            tail = path[-n:]
            if n == len(path) or all(p[-n:] != tail for k, p in parts.items() if k != key):
                break
        labels[key] = ".".join(tail)
    return labels


def _name_value(value: Any) -> str:
    """A swept value as a short, filesystem-safe piece of a folder name."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, list | tuple):
        text = ",".join(_name_value(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{k}={_name_value(v)}" for k, v in value.items())
    else:
        text = str(value)
    return _safe(text)[:NAME_VALUE] or "-"


def _safe(text: str) -> str:
    """``text`` with every run of characters but letters, digits and ``.,_+-`` as one ``-``."""
    return re.sub(r"[^A-Za-z0-9.,_+-]+", "-", text)


def check_point_count(sweep: SweepConfig, source: str = "config") -> int:
    """The number of points of ``sweep`` (grid combinations plus explicit points), counted
    without building them; an InputError naming the field when it exceeds MAX_POINTS."""
    combinations = math.prod(len(values) for values in sweep.grid.values()) if sweep.grid else 0
    total = combinations + len(sweep.points)
    if total > MAX_POINTS:
        sizes = " x ".join(str(len(values)) for values in sweep.grid.values())
        where, what = ("sweep.grid", f"{combinations:,} combinations ({sizes})")
        if combinations <= MAX_POINTS:
            where, what = ("sweep.points", f"{total:,} points with the grid's")
        raise InputError(
            f"{source}: {where}: {what} is more than the {MAX_POINTS:,} points a sweep may "
            "have; split it into smaller sweeps"
        )
    return total


def _get_path(data: Any, key: str) -> Any:
    """The value at dotted ``key`` (``a.b.0`` or ``a.b[0]``), None where there is none."""
    here = data
    for part in re.sub(r"\[(\d+)\]", r".\1", key).split("."):
        if isinstance(here, dict):
            here = here.get(part)
        elif isinstance(here, list) and part.isdigit() and int(part) < len(here):
            here = here[int(part)]
        else:
            return None
    return here


# -- running a sweep ---------------------------------------------------------------------------


@under_ceilings
def run_sweep(
    config: ExperimentConfig,
    folder: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    echo: Echo | None = None,
    source: str = "config",
) -> SweepResult:
    """Run every point of ``config.sweep`` into ``folder`` (see the module doc)."""
    folder = Path(folder).absolute()
    points, keys = sweep_points(config, source)
    if echo is not None and len(points) > 20:
        echo(f"checking the {len(points)} points of the sweep")
    for point in points:  # every point checked before anything is written
        plan_run(parse_config(point.config_text, f"sweep point {point.name}"))
    sweep = config.sweep
    if sweep is None:  # sweep_points refuses it already; this tells the type checker
        raise InputError(f"{source} has no sweep section")
    sweep_hash = config_hash(config)
    files = [*SWEEP_FILES, *(f"points/{p.name}/" for p in points)]
    mode = "resume" if resume else "overwrite" if overwrite else "new"

    def resumable(here: Path) -> None:  # before the folder is locked or changed
        check_config_hash(here, Saved.read(here), sweep_hash)

    with (
        _executor(sweep.executor, sweep.jobs, sweep.scheduler) as submit,
        run_folder(folder, "sweep", files, mode, resumable) as place,
    ):
        work = place.path
        saved = Saved.read(work) if place.resuming else None
        if not (work / CONFIG_FILE).exists():
            text = resolved_yaml(config)
            atomic_write(work / CONFIG_FILE, lambda f: f.write(text.encode()))
        (work / "points").mkdir(exist_ok=True)
        status = {"config_hash": sweep_hash, "failed": []}
        record = RunRecord.start(work, saved, status=status, echo=echo)
        if record.previous_state == "running":
            record.log(f"the status said running, but {place.previous} has ended: it was killed")
        record.log(
            f"{'resumed' if place.resuming else 'started'} sweep {config.name}: "
            f"{len(points)} points over {', '.join(keys)}; executor {sweep.executor}, "
            f"{sweep.jobs} job(s)"
        )
        outcomes, tasks = _pending(points, work, record)
        skipped = len(outcomes)
        values = {p.name: _show(p.values) for p in points}
        try:
            for name, outcome in submit(tasks):
                outcomes[name] = outcome
                note = f": {outcome.message}" if outcome.message else ""
                record.log(
                    f"point {name} ({values[name]}): {outcome.state} in "
                    f"{outcome.seconds:.1f} s{note}"
                )
                _mark(record, name, outcome.state)
            rows = [_row(p, outcomes.get(p.name)) for p in points]
            write_aggregate(work, config, rows, keys)
        except KeyboardInterrupt:
            record.finish_quietly("interrupted", f"continue with: dynsys run --resume {folder}")
            raise
        except DynsysError as err:
            record.finish_quietly("failed", str(err))
            raise
        except Exception as err:
            message = f"{type(err).__name__}: {err}"
            record.finish_quietly("failed", message)
            raise DynsysError(f"the sweep failed: {message}") from err
        failed = sum(row["status"] != "done" for row in rows)
        state = "failed" if failed else "done"
        message = f"{failed} of {len(rows)} points failed" if failed else ""
        record.finish(state, message)
        from .report import write_report

        write_report(work)
    return SweepResult(folder, state, rows, tuple(keys), skipped, failed)


def _pending(
    points: list[Point], folder: Path, record: RunRecord
) -> tuple[dict[str, PointOutcome], dict[str, PointTask]]:
    """The outcomes of the points done before (skipped) or still held by another process
    (failed), and the tasks of the others: a point with a folder is resumed (one that holds
    nothing yet starts afresh), one without starts afresh.  Outcomes and tasks are keyed by
    the point's name."""
    outcomes, tasks = {}, {}
    for point in points:
        sub = folder / "points" / point.name
        shown = f"point {point.name} ({_show(point.values)})"
        _rename_hash_folder(point, folder, record)
        if not sub.exists():
            tasks[point.name] = PointTask(point.config_text, str(sub), False)
            continue
        if is_held(sub):
            message = f"its folder is in use by {holder(sub)}"
            outcomes[point.name] = PointOutcome(str(sub), "failed", message)
            record.log(f"{shown}: {message}")
            continue
        status = read_status(sub)
        if status is not None and status["state"] == "done" and not changed_steps(sub, status):
            with contextlib.suppress(DynsysError):  # a marker-less point is simply not tidied
                remove_temporary(sub, read_marker(sub).files)
            outcomes[point.name] = PointOutcome(str(sub), "done", "", read_metrics(sub))
            record.log(f"{shown}: done before, skipped")
            continue
        tasks[point.name] = PointTask(point.config_text, str(sub), True)
    return outcomes, tasks


def _rename_hash_folder(point: Point, folder: Path, record: RunRecord) -> None:
    """A point folder named by the bare config hash (the names of sweeps written before the
    values were in them) becomes ``points/<name>``, and the sweep's status names it so; one
    that another process holds, or whose new name is taken, stays as it is."""
    old, new = folder / "points" / point.hash, folder / "points" / point.name
    if old == new or not old.is_dir() or old.is_symlink() or new.exists() or is_held(old):
        return
    os.rename(old, new)
    for listed in (record.status["completed"], record.status["failed"]):
        listed[:] = [point.name if entry == point.hash else entry for entry in listed]
    record.write_status()
    record.log(f"point {point.hash}: folder renamed to points/{point.name}")


def run_point(task: PointTask) -> PointOutcome:
    """Run one point (in a worker): a failed run is reported, not raised; Ctrl-C is raised
    (the point's own status says "interrupted")."""
    from .run import run_experiment

    began = time.perf_counter()
    try:
        config = parse_config(task.config_text, f"{task.folder}/{CONFIG_FILE}")
        result = run_experiment(config, task.folder, resume=task.resume, progress=False)
    except Exception as err:
        message = str(err) if isinstance(err, DynsysError) else f"{type(err).__name__}: {err}"
        return PointOutcome(task.folder, "failed", message, {}, time.perf_counter() - began)
    return PointOutcome(task.folder, "done", "", result.metrics, time.perf_counter() - began)


def die_with_parent(parent: int) -> None:
    """Make this worker process end when ``parent`` does, even when it is killed: Linux's
    PR_SET_PDEATHSIG, and elsewhere (or as well) a thread that exits once the parent is gone
    (the process is then adopted by another parent)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before we asked
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="dynsys-watch-parent", daemon=True).start()


Submit = Callable[[dict[str, PointTask]], Iterator[tuple[str, PointOutcome]]]


@contextmanager
def _executor(kind: str, jobs: int, scheduler: str | None) -> Iterator[Submit]:
    """A function running tasks {key: task} and yielding (key, outcome) as each finishes."""
    if kind == "dask" or scheduler is not None:
        with _dask(jobs, scheduler) as submit:
            yield submit
        return
    if jobs == 1:
        yield lambda tasks: ((key, run_point(task)) for key, task in tasks.items())
        return
    context = multiprocessing.get_context("spawn")

    def submit(tasks: dict[str, PointTask]) -> Iterator[tuple[str, PointOutcome]]:
        if not tasks:
            return
        workers = min(jobs, len(tasks))
        with futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
        ) as pool:
            pending = {pool.submit(run_point, task): key for key, task in tasks.items()}
            try:
                for future in futures.as_completed(pending):
                    key = pending[future]
                    try:
                        outcome = future.result()
                    except futures.process.BrokenProcessPool as err:
                        reason = f"its worker process ended abruptly (killed?): {err}"
                        outcome = PointOutcome(tasks[key].folder, "failed", reason)
                    yield key, outcome
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    yield submit


@contextmanager
def _dask(jobs: int, scheduler: str | None) -> Iterator[Submit]:
    """A Dask client of the scheduler at ``scheduler``, or of a local cluster of ``jobs``."""
    try:
        import distributed
    except ImportError:
        raise InputError(DASK_MISSING) from None
    cluster = None
    try:
        if scheduler is None:
            cluster = distributed.LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = distributed.Client(
            cluster if cluster is not None else scheduler, timeout=SCHEDULER_TIMEOUT
        )
    except (OSError, TimeoutError, ValueError) as err:
        if cluster is not None:
            cluster.close()
        where = scheduler or "a local cluster"
        raise InputError(f"cannot reach the dask scheduler at {where}: {err}") from None

    def submit(tasks: dict[str, PointTask]) -> Iterator[tuple[str, PointOutcome]]:
        keys = list(tasks)
        jobs_ = client.map(run_point, [tasks[k] for k in keys], pure=False)
        index = {future.key: key for future, key in zip(jobs_, keys, strict=True)}
        try:
            for future in distributed.as_completed(jobs_):
                yield index[future.key], future.result()
        except BaseException:
            client.cancel(jobs_)
            raise

    try:
        yield submit
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# -- records and the aggregate -----------------------------------------------------------------


def _mark(record: RunRecord, name: str, state: str) -> None:
    """List a point among the completed (done) or the failed ones of the sweep's status."""
    target = record.status["completed"] if state == "done" else record.status["failed"]
    if name not in target:
        target.append(name)
    record.write_status()


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a run's metrics, by dotted path into metrics.json."""
    row: dict[str, Any] = {}
    for method, errors in (metrics.get("simulation") or {}).items():
        for key in HEADLINE:
            row[f"simulation.{method}.{key}"] = errors.get(key)
    rnn = (metrics.get("test") or {}).get("model")
    if rnn:
        for key in ("rel_l2", "valid_time", "valid_time_lyapunov"):
            if key in rnn:
                row[f"test.model.{key}"] = rnn[key]
    return row


def _row(point: Point, outcome: PointOutcome | None) -> dict[str, Any]:
    state = "interrupted" if outcome is None else outcome.state
    metrics = {} if outcome is None else outcome.metrics
    return {"point": point.name, "status": state, **point.values, **headline(metrics)}


def _columns(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[str]:
    columns = ["point", "status", *keys]
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def write_aggregate(
    folder: Path, config: ExperimentConfig, rows: list[dict[str, Any]], keys: Sequence[str]
) -> None:
    """sweep.csv, sweep.json and sweep.png of the rows, each written atomically."""
    columns = _columns(rows, keys)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row.get(c)) for c in columns])
    atomic_write(folder / "sweep.csv", lambda f: f.write(text.getvalue().encode()))
    doc = {
        "name": config.name,
        "swept": list(keys),
        "columns": columns,
        "points": [{**row, "folder": f"points/{row['point']}"} for row in rows],
    }
    body = json.dumps(doc, indent=2) + "\n"
    atomic_write(folder / "sweep.json", lambda f: f.write(body.encode()))
    from ..plots.style import save_figure

    save_figure(sweep_figure(rows, keys, config.name), folder / "sweep.png")


def sweep_figure(rows: list[dict[str, Any]], keys: Sequence[str], title: str):
    """A headline metric against the first swept key, one line per combination of the other
    keys (and per method): the model's test rel_l2 when trained, else each method's rel_l2."""
    from ..plots.style import house_style, method_colour, new_figure

    done = [row for row in rows if row["status"] == "done"]
    if any("test.model.rel_l2" in row for row in done):
        metrics = {"test.model.rel_l2": "model"}
        label = "test rel L2 error of the model"
    else:
        names = [c for row in done for c in row if c.startswith("simulation.")]
        metrics = {c: c.split(".")[1] for c in dict.fromkeys(names) if c.endswith(".rel_l2")}
        label = "rel L2 error (against solve_ivp)"
    first, others = keys[0], list(keys[1:])
    numeric = all(_is_number(row.get(first)) for row in done)
    categories = list(dict.fromkeys(json.dumps(row.get(first)) for row in done))
    with house_style():
        fig = new_figure(6.5, 4.2)
        ax = fig.add_subplot()
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in done:
            groups.setdefault(_show({k: row.get(k) for k in others}), []).append(row)
        positive = True
        for group, members in groups.items():
            for column, method in metrics.items():
                points = []
                for row in members:
                    y = row.get(column)
                    x = row[first] if numeric else categories.index(json.dumps(row.get(first)))
                    if y is not None:
                        points.append((x, y))
                points.sort()
                if not points:
                    continue
                positive &= all(y > 0 for _, y in points)
                name = ", ".join(part for part in (method, group) if part)
                colour = method_colour(method) if len(groups) == 1 else None
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=name, color=colour)
        if positive and ax.lines:
            ax.set_yscale("log")
        if numeric and done and min(row[first] for row in done) > 0:
            values = [row[first] for row in done]
            if max(values) / min(values) >= 10:
                ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(categories)), [json.loads(c) for c in categories])
        ax.set_xlabel(first)
        ax.set_ylabel(label)
        ax.set_title(f"{title}: {len(done)} points")
        if ax.lines:
            ax.legend(fontsize=8)
    return fig


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _csv_value(value) or "-"


def _show(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
