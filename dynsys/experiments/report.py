"""The report of a run or sweep folder: ``report.md`` and a self-contained ``report.html``.

A run's report says what was simulated (system, parameters, steppers, dt, time span, what was
fitted), then shows the tables of ``metrics.json`` (the steppers against the solve_ivp
reference; the network against the steppers on the test set; the training stages; Lyapunov
exponents, orbit diagram and events when the run has them), the overview figure
(``plots/overview.png``, drawn here from ``trajectories/``: :func:`dynsys.plots.overview.
overview_plot`), the run's other figures, the wall times (each step's share of the run's,
with "other" for what lies between the steps), the resolved config, the environment and links
to the run's files.  A sweep's report shows its table (the swept values and headline numbers
of each point, with a link to the point's report), its figure, config and environment.

Everything in a report comes from the folder's files (and the Python that writes it), never
the clock: writing it again gives the same bytes.  Both files are written atomically.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from .. import __version__
from ..errors import DynsysError, InputError
from ..files import MiB, atomic_write, read_bytes, read_text
from ..tables import number, params_text
from .folder import CONFIG_FILE, Marker, lock, read_marker, write_marker
from .records import RECORD_LIMIT, read_metrics, read_record, read_status
from .report_render import (
    Block,
    Code,
    Document,
    Heading,
    Image,
    Link,
    Links,
    Paragraph,
    Table,
    html_page,
    markdown,
)

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
OVERVIEW = "plots/overview.png"
RUN_REPORT_FILES = (REPORT_MD, REPORT_HTML, OVERVIEW)
"""What a run's report writes in its folder (the marker lists them)."""
SWEEP_REPORT_FILES = (REPORT_MD, REPORT_HTML)
FIGURE_LIMIT = 64 * MiB
"""The most bytes of a figure embedded in report.html."""
TRAJECTORY_LIMIT = 1024 * MiB
"""The most bytes of a saved trajectory the overview reads."""


@dataclass(frozen=True)
class Reported:
    """A report written: its two files, and the state of the run or sweep it describes."""

    markdown: Path
    html: Path
    state: str
    message: str = ""


def write_report(folder: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` (and, for a run, ``plots/overview.png``) in the
    run or sweep ``folder`` from its files; return the paths of the two reports."""
    folder = Path(folder)
    marker = read_marker(folder, "report on")
    doc = sweep_document(folder) if marker.kind == "sweep" else run_document(folder, marker)
    md = markdown(doc)
    page = html_page(doc)
    md_path = atomic_write(folder / REPORT_MD, lambda f: f.write(md.encode()))
    html_path = atomic_write(folder / REPORT_HTML, lambda f: f.write(page.encode()))
    return md_path, html_path


def report_folder(folder: str | os.PathLike) -> Reported:
    """(Re)write the report of the run or sweep in ``folder`` holding its lock (refused while
    a run writes there), listing the report's files in its marker; an InputError in one line
    for a missing folder, a file, or a folder that is not a run."""
    folder = Path(folder)
    if not os.path.lexists(folder):
        raise InputError(f"cannot report on {folder}: no such folder")
    if not folder.is_dir():
        raise InputError(f"cannot report on {folder}: it is a file, not a run folder")
    marker = read_marker(folder, "report on")
    held = lock(folder)
    try:
        _list_in_marker(folder, marker)
        md, page = write_report(folder)
    finally:
        held.release()
    status = read_status(folder) or {"state": "running"}
    return Reported(md, page, status["state"], status.get("message", ""))


def _list_in_marker(folder: Path, marker: Marker) -> None:
    """Add the report's files to the marker's list, so that --overwrite removes them too."""
    files = RUN_REPORT_FILES if marker.kind == "run" else SWEEP_REPORT_FILES
    missing = [f for f in files if f not in marker.files]
    if missing:
        write_marker(folder, marker.model_copy(update={"files": [*marker.files, *missing]}))


# -- a run -------------------------------------------------------------------------------------


def run_document(folder: Path, marker: Marker) -> Document:
    """The report of a run folder, from its records, trajectories and figures."""
    status = read_status(folder) or {}
    metrics = read_metrics(folder)
    config_text, config = _config(folder)
    system = _system(config_text)
    name = metrics.get("name") or (config or {}).get("name") or folder.name
    blocks: list[Block] = [Paragraph(run_summary(metrics, config, system))]
    state = status.get("state", "unknown")
    if state != "done":
        why = f": {status['message']}" if status.get("message") else ""
        blocks.append(
            Paragraph(
                f"the run is {state}, not done{why}; this report shows what it completed "
                f"({', '.join(status.get('completed') or []) or 'nothing'})",
                note=True,
            )
        )
    blocks += simulation_section(metrics)
    blocks += overview_section(folder, config, system)
    blocks += model_section(metrics)
    blocks += lyapunov_section(metrics.get("lyapunov"))
    blocks += bifurcation_section(metrics.get("bifurcation"))
    blocks += events_section(metrics.get("events"))
    blocks += figures_section(folder, marker)
    blocks += timings_section(metrics.get("timings") or {})
    if config_text is not None:
        blocks += [
            Heading("Configuration"),
            Paragraph(f"{CONFIG_FILE}:"),
            Code(config_text, "yaml"),
        ]
    blocks += environment_section(metrics)
    blocks += files_section(folder, marker)
    return Document(f"Run {name}", tuple(blocks))


def _config(folder: Path) -> tuple[str | None, dict[str, Any] | None]:
    """The text of config.resolved.yaml and its values, (None, None) without one."""
    path = folder / CONFIG_FILE
    if not os.path.lexists(path):
        return None, None
    text = read_text(path, limit=RECORD_LIMIT, what="config", follow_links=False)
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError:
        return text, None
    return text, values if isinstance(values, dict) else None


def _system(config_text: str | None):
    """The run's system, built from its resolved config (a system of the config's own is
    built without registering it); None when it cannot be built."""
    if config_text is None:
        return None
    from .config import config_system, parse_config
    from .run import user_system_name

    try:
        config = parse_config(config_text, CONFIG_FILE)
        return config_system(config.system, user_system_name(config.name))
    except (DynsysError, ValueError, TypeError):
        return None


def run_summary(metrics: dict[str, Any], config: dict[str, Any] | None, system) -> str:
    """One paragraph: system, parameters, steppers, dt, time span, reference, what was fitted
    and what else was computed."""
    config = config or {}
    sim = config.get("simulation") or {}
    name = metrics.get("system") or (system.name if system is not None else "the system")
    params = params_text(system.param_values()) if system is not None else ""
    s0 = sim.get("s0")
    s0 = s0 if s0 is not None else (config.get("system") or {}).get("s0")
    parts = [f"{name}" + (f" ({params})" if params else "")]
    if s0 is not None:
        parts.append(f" from s0 = {_short_list(s0)}")
    methods = sim.get("methods") or list(metrics.get("simulation") or {})
    is_map = system is not None and system.kind == "map"
    if methods:
        if is_map:
            parts.append(f", iterated from n = {_g(sim.get('t0'))} to {_g(sim.get('t_end'))}")
        else:
            every = sim.get("save_every") or 1
            kept = f", every {every}th step kept" if every != 1 else ""
            parts.append(
                f", stepped by {', '.join(methods)} at dt = {_g(sim.get('dt'))} over t in "
                f"[{_g(sim.get('t0'))}, {_g(sim.get('t_end'))}]{kept}"
            )
    ref = metrics.get("reference") or {}
    if ref:
        parts.append(
            f", each compared with solve_ivp {ref.get('method')} (rtol {_g(ref.get('rtol'))}, "
            f"atol {_g(ref.get('atol'))}) on the same grid"
        )
    text = "".join(parts) + "."
    model = config.get("model")
    if model:
        data = config.get("dataset") or {}
        stages = metrics.get("training") or {}
        epochs = sum(int(s.get("epochs_run") or 0) for s in stages.values())
        fitted = f", {epochs} epochs" if epochs else ""
        text += (
            f" A {model.get('kind')} network"
            + (f" of {model['hidden']} hidden units" if model.get("hidden") else "")
            + f" was fitted to the step map at h = "
            f"{_g(data.get('h'))} on {data.get('n_train')} training trajectories "
            f"({data.get('n_val')} for validation{fitted}) and tested on {data.get('n_test')} "
            "beside the steppers at the same h."
        )
    if metrics.get("lyapunov"):
        text += " Lyapunov exponents were computed."
    if metrics.get("bifurcation"):
        text += f" An orbit diagram over {metrics['bifurcation'].get('param')} was drawn."
    seed = metrics.get("seed", config.get("seed"))
    text += f" Seed {seed}; dynsys {metrics.get('dynsys_version', __version__)}"
    text += f", config hash {metrics['config_hash']}." if metrics.get("config_hash") else "."
    return text


def simulation_section(metrics: dict[str, Any]) -> list[Block]:
    """The steppers against the reference (metrics["simulation"]), one row per method."""
    simulation = metrics.get("simulation") or {}
    if not simulation:
        return []
    ref = metrics.get("reference") or {}
    has_exact = any(row.get("exact") for row in simulation.values())
    has_energy = any(row.get("energy_error") is not None for row in simulation.values())
    headers = ["method", "max abs err", "rmse", "rel L2", "final err"]
    headers += ["vs exact"] if has_exact else []
    headers += ["energy error"] if has_energy else []
    rows = []
    for name, row in simulation.items():
        if row.get("diverged"):
            d = row["diverged"]
            cells = [name, f"diverged at step {d.get('step')} (t={_g(d.get('t'), 4)})"]
            rows.append(tuple(cells + [""] * (len(headers) - 2)))
            continue
        keys = ("max_abs_error", "rmse", "rel_l2", "final_abs_error")
        cells = [name, *(number(row.get(k)) for k in keys)]
        cells += [number((row.get("exact") or {}).get("max_abs_error"))] if has_exact else []
        cells += [number(row.get("energy_error"))] if has_energy else []
        rows.append(tuple(cells))
    caption = (
        f"errors against solve_ivp {ref.get('method')} rtol={_g(ref.get('rtol'))} "
        f"atol={_g(ref.get('atol'))}"
    )
    blocks: list[Block] = [
        Heading("Steppers against the reference"),
        Table(tuple(headers), tuple(rows), caption),
    ]
    exact = ref.get("exact")
    if exact:
        blocks.append(
            Paragraph(
                "The reference against the exact solution: max abs error "
                f"{number(exact.get('max_abs_error'))}."
            )
        )
    return blocks


def overview_section(folder: Path, config: dict[str, Any] | None, system) -> list[Block]:
    """The overview figure, drawn from trajectories/ and saved as plots/overview.png; a line
    saying why when it cannot be drawn."""
    heading = Heading("Overview of the simulation")
    fmt = ((config or {}).get("output") or {}).get("trajectories", "npz")
    if fmt == "none":
        return [
            heading,
            Paragraph("No overview: the run saved no trajectories (output.trajectories: none)."),
        ]
    if system is None:
        return [heading, Paragraph(f"No overview: the system of {CONFIG_FILE} cannot be built.")]
    methods = ((config or {}).get("simulation") or {}).get("methods") or []
    runs = {}
    for method in methods:
        traj = load_run_trajectory(folder / "trajectories" / f"{method}.{fmt}", system, method)
        if traj is not None:
            runs[method] = traj
    reference = load_run_trajectory(
        folder / "trajectories" / f"reference.{fmt}", system, "solve_ivp"
    )
    if not runs and reference is None:
        return [heading, Paragraph("No overview: no saved trajectory in trajectories/.")]
    from ..plots.overview import overview_plot
    from ..plots.style import save_figure

    (folder / "plots").mkdir(exist_ok=True)
    fig, info = overview_plot(runs, reference)
    save_figure(fig, folder / OVERVIEW)
    data = read_bytes(folder / OVERVIEW, limit=FIGURE_LIMIT, what="figure", follow_links=False)
    text = (
        "Each state against time for each method and the solve_ivp reference; below, "
        "each method's largest absolute error over the states against the reference, log scale."
    )
    if reference is None:
        text = "Each state against time for each method (a discrete map: no reference)."
    if info.member is not None:
        text += " The first trajectory of the batch is drawn."
    return [heading, Paragraph(text), Image("overview", OVERVIEW, data)]


def load_run_trajectory(path: Path, system, method: str):
    """The trajectory a run saved at ``path`` (npz: arrays t, states; csv: a header
    ``[trajectory,]t,<states>[,x]``), None when there is no such file."""
    from ..trajectory import Trajectory

    if not os.path.lexists(path):
        return None
    data = read_bytes(path, limit=TRAJECTORY_LIMIT, what="trajectory", follow_links=False)
    if path.suffix == ".npz":
        import io

        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            t, states = saved["t"], saved["states"]
            meta = json.loads(str(saved["metadata"])) if "metadata" in saved else {}
    else:
        lines = data.decode("utf-8").splitlines()
        header = lines[0].split(",")
        values = np.loadtxt(lines[1:], delimiter=",", ndmin=2)
        columns = [header.index(s) for s in system.states]
        if header[0] == "trajectory":
            members = np.unique(values[:, 0])
            values = values[values[:, 0] == members[0]]
        t, states = values[:, header.index("t")], values[:, columns]
        meta = {}
    return Trajectory(t, states, system, meta.get("method", method), meta.get("dt"))


def model_section(metrics: dict[str, Any]) -> list[Block]:
    """The network's rollout against the steppers on the test set, and the training stages."""
    blocks: list[Block] = []
    test = metrics.get("test")
    if test:
        keys = ["rel_l2", "rmse", "max_abs_error", "valid_time", "valid_time_smape"]
        if any("valid_time_lyapunov" in row for row in test.values()):
            keys.append("valid_time_lyapunov")
        rows = tuple(
            (name, *(_time(row.get(k)) if "valid" in k else number(row.get(k)) for k in keys))
            for name, row in test.items()
        )
        blocks += [
            Heading("The network against the steppers"),
            Table(
                ("method", *keys),
                rows,
                "the model's free rollout on the test set, beside the steppers at the same h",
            ),
        ]
    training = metrics.get("training")
    if training:
        keys = ["optimizer", "epochs_run", "best_epoch", "best_loss", "final_train_loss"]
        keys += ["final_val_loss", "stopped_reason"]
        rows = tuple((stage, *(_cell(row.get(k)) for k in keys)) for stage, row in training.items())
        blocks += [Heading("Training", 3), Table(("stage", *keys), rows)]
    return blocks


def lyapunov_section(doc: dict[str, Any] | None) -> list[Block]:
    """The exponents of metrics["lyapunov"], largest first, a row per initial state."""
    if not doc:
        return []
    dt = "" if doc.get("units") == "per iteration" else f", dt = {_g(doc.get('dt'))}"
    head = (
        f"Exponents {doc.get('units')}: {doc.get('method')}{dt}, {doc.get('tangent')} tangent, "
        f"{doc.get('steps')} steps after a transient of {_g(doc.get('transient'))}."
    )
    headers, table_rows = lyapunov_table(doc)
    return [
        Heading("Lyapunov exponents"),
        Paragraph(head),
        Table(headers, table_rows),
    ]


def lyapunov_table(doc: dict[str, Any]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The headers and rows of the exponents of metrics["lyapunov"]: lambda1..lambdaM largest
    first, the largest spread, their sum (M > 1) and the Kaplan-Yorke dimension; a row per
    initial state of a batch."""
    exponents = doc.get("exponents") or []
    batch = bool(exponents) and isinstance(exponents[0], list)
    rows = exponents if batch else [exponents]
    spreads = doc.get("spread") if batch else [doc.get("spread")]
    sums = doc.get("sum") if batch else [doc.get("sum")]
    dims = doc.get("kaplan_yorke") if batch else [doc.get("kaplan_yorke")]
    m = len(rows[0]) if rows else 0
    headers = [*(["member"] if batch else []), *(f"lambda{i + 1}" for i in range(m))]
    headers += [
        "max spread",
        *(["sum"] if m > 1 else []),
        *(["D_KY"] if dims[0] is not None else []),
    ]
    table_rows = []
    for b, row in enumerate(rows):
        cells = [*([str(b)] if batch else []), *(_g(v) for v in row)]
        spread = [s for s in (spreads[b] or []) if s is not None]
        cells.append(number(max(spread, default=None)))
        cells += [_g(sums[b])] if m > 1 else []
        cells += [_g(dims[b], 4)] if dims[0] is not None else []
        table_rows.append(tuple(cells))
    return tuple(headers), tuple(table_rows)


def bifurcation_section(doc: dict[str, Any] | None) -> list[Block]:
    """The orbit diagram of metrics["bifurcation"]: how many values have each period."""
    if not doc:
        return []
    lo, hi = doc.get("range") or (None, None)
    text = (
        f"Orbit diagram over {doc.get('param')} from {_g(lo)} to {_g(hi)}: {doc.get('values')} "
        f"values; {doc.get('without_period')} without a period up to "
        f"{(doc.get('keep') or 0) // 2}."
    )
    if "lyapunov_positive" in doc:
        text += (
            f" The largest Lyapunov exponent is positive at {doc['lyapunov_positive']} values "
            f"(at most {_g(doc.get('lyapunov_max'))} per iteration)."
        )
    periods = doc.get("periods") or {}
    rows = tuple((str(p), str(c)) for p, c in periods.items())
    blocks: list[Block] = [Heading("Orbit diagram"), Paragraph(text)]
    if rows:
        blocks.append(Table(("period", "values"), rows))
    return blocks


def events_section(doc: dict[str, Any] | None) -> list[Block]:
    """The number of crossings of each event per method (events/<method>.json)."""
    if not doc:
        return []
    events = list(dict.fromkeys(e for counts in doc.values() for e in counts))
    rows = tuple(
        (Link(name, f"events/{name}.json"), *(str(counts.get(e, "-")) for e in events))
        for name, counts in doc.items()
    )
    return [Heading("Events"), Table(("method", *events), rows, "crossings of each event")]


def figures_section(folder: Path, marker: Marker) -> list[Block]:
    """Every PNG of plots/ but the overview, in the marker's order, then the others by name."""
    plots = folder / "plots"
    if not plots.is_dir() or plots.is_symlink():
        return []
    found = sorted(p.name for p in plots.iterdir() if p.suffix == ".png" and p.is_file())
    listed = [PurePosixPath(f).name for f in marker.files if f.startswith("plots/")]
    names = [n for n in listed if n in found] + [n for n in found if n not in listed]
    names = [n for n in dict.fromkeys(names) if f"plots/{n}" != OVERVIEW]
    if not names:
        return []
    blocks: list[Block] = [Heading("Figures")]
    for name in names:
        path = f"plots/{name}"
        data = read_bytes(folder / path, limit=FIGURE_LIMIT, what="figure", follow_links=False)
        blocks += [
            Heading(PurePosixPath(name).stem, 3),
            Image(PurePosixPath(name).stem, path, data),
        ]
    return blocks


@dataclass(frozen=True)
class Timings:
    """The wall times of a run: each step's seconds, the rest of the run ("other"), the run's
    total, and the parts of steps (each method of the simulation, each training stage)."""

    steps: dict[str, float]
    other: float
    total: float
    parts: dict[str, dict[str, float]]


def timings_of(doc: dict[str, Any]) -> Timings:
    """The timings of metrics.json: the steps (top-level numbers), the run's total (its
    "total", else the steps' sum) and other = total - sum of the steps."""
    steps = {k: float(v) for k, v in doc.items() if _is_number(v) and k != "total"}
    parts = {
        k: {name: float(s) for name, s in v.items() if _is_number(s)}
        for k, v in doc.items()
        if isinstance(v, dict)
    }
    spent = sum(steps.values())
    total = float(doc["total"]) if _is_number(doc.get("total")) else spent
    total = max(total, spent)
    return Timings(steps, total - spent, total, parts)


PART_OF = {"methods": "simulation", "training": "train"}
"""The step each breakdown of timings belongs to (else ``<step>_parts``: that step)."""


def _part_groups(parts: dict[str, dict[str, float]]) -> list[tuple[str, str]]:
    """The breakdowns to show and their labels: each step's ``<step>_parts`` (which add up to
    the step), then the finer ones: "simulation / methods" (each method of the methods part);
    the training stages only when the train step has no ``train_parts`` (which holds them)."""
    whole = [(g, g.removesuffix("_parts")) for g in parts if g.endswith("_parts")]
    covered = {step for _, step in whole}
    finer = []
    for group in parts:
        if group.endswith("_parts"):
            continue
        step = PART_OF.get(group, group)
        if step not in covered:
            finer.append((group, step))
        elif group == "methods":
            finer.append((group, f"{step} / {group}"))
    return whole + finer


def timings_section(doc: dict[str, Any]) -> list[Block]:
    """Each step's wall time and share of the run's, "other", and the total."""
    if not doc:
        return []
    timings = timings_of(doc)
    total = timings.total

    def share(seconds: float) -> str:
        return f"{100 * seconds / total:.1f}" if total > 0 else "-"

    rows = [(step, f"{s:.3f}", share(s)) for step, s in timings.steps.items()]
    rows += [("other", f"{timings.other:.3f}", share(timings.other))]
    rows += [("total", f"{total:.3f}", share(total) if total > 0 else "-")]
    blocks: list[Block] = [
        Heading("Timings"),
        Table(("step", "wall s", "share %"), tuple(rows), "wall time of each step of the run"),
    ]
    part_rows = tuple(
        (label, name, f"{s:.3f}")
        for group, label in _part_groups(timings.parts)
        for name, s in timings.parts[group].items()
    )
    if part_rows:
        blocks.append(Table(("step", "part", "wall s"), part_rows, "within the steps"))
    return blocks


def environment_section(metrics: dict[str, Any] | None = None) -> list[Block]:
    """The Python and libraries of the process writing the report, the platform, the CPUs."""
    rows = [("python", platform.python_version())]
    for package in ("numpy", "scipy", "matplotlib", "numba"):
        version = _version(package)
        if version is not None:
            rows.append((package, version))
    rows.append(("dynsys", __version__))
    ran = (metrics or {}).get("dynsys_version")
    if ran and ran != __version__:
        rows.append(("dynsys of the run", ran))
    rows += [("platform", platform.platform()), ("CPUs", str(os.cpu_count()))]
    return [
        Heading("Environment"),
        Table(("", "version"), tuple(rows), "of the process that wrote this report"),
    ]


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def files_section(folder: Path, marker: Marker) -> list[Block]:
    """Links to the files the marker lists that exist (the sweep's points aside) and to the
    two reports."""
    reports = (REPORT_MD, REPORT_HTML)  # being written
    names = [
        f
        for f in [*marker.files, *reports]
        if f in reports or (not f.endswith("/") and os.path.lexists(folder / f))
    ]
    links = tuple(Link(f, f) for f in dict.fromkeys(names))
    return [Heading("Files"), Links(links)]


# -- a sweep -----------------------------------------------------------------------------------


def sweep_document(folder: Path) -> Document:
    """The report of a sweep folder: its table with a link to each point's report, its figure,
    config and environment."""
    marker = read_marker(folder, "report on")
    status = read_status(folder) or {}
    config_text, config = _config(folder)
    doc = read_record(folder / "sweep.json") if (folder / "sweep.json").exists() else {}
    name = doc.get("name") or (config or {}).get("name") or folder.name
    points = doc.get("points") or []
    swept = doc.get("swept") or []
    done = sum(p.get("status") == "done" for p in points)
    sweep = (config or {}).get("sweep") or {}
    system = ((config or {}).get("system") or {}).get("name") or "a system of the config's own"
    text = (
        f"A sweep of {len(points)} points of {system} over {', '.join(swept) or '-'} "
        f"(executor {sweep.get('executor', 'local')}, {sweep.get('jobs', 1)} job(s)): "
        f"{done} done, {len(points) - done} not. Each point is a run of its own, with its "
        "own report."
    )
    blocks: list[Block] = [Paragraph(text)]
    state = status.get("state", "unknown")
    if state != "done":
        why = f": {status['message']}" if status.get("message") else ""
        blocks.append(Paragraph(f"the sweep is {state}, not done{why}", note=True))
    if points:
        columns = [c for c in doc.get("columns") or [] if c not in ("point",)]
        headers = ("point", *columns, "report")
        rows = []
        for point in points:
            where = str(point.get("folder") or f"points/{point.get('point')}")
            cells = [str(point.get("point")), *(_cell(point.get(c)) for c in columns)]
            if (folder / where / REPORT_MD).exists():
                cells.append(Link("report", f"{where}/{REPORT_MD}", f"{where}/{REPORT_HTML}"))
            else:
                cells.append(Link("folder", where))
            rows.append(tuple(cells))
        blocks += [Heading("Points"), Table(headers, tuple(rows), "sweep.csv: one row per point")]
    figure = folder / "sweep.png"
    if figure.is_file() and not figure.is_symlink():
        data = read_bytes(figure, limit=FIGURE_LIMIT, what="figure", follow_links=False)
        blocks += [Heading("Figure"), Image("sweep", "sweep.png", data)]
    if config_text is not None:
        blocks += [
            Heading("Configuration"),
            Paragraph(f"{CONFIG_FILE}:"),
            Code(config_text, "yaml"),
        ]
    blocks += environment_section()
    blocks += files_section(folder, marker)
    return Document(f"Sweep {name}", tuple(blocks))


# -- numbers as text ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _g(value: Any, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits, or '-' for a missing one."""
    return "-" if not _is_number(value) else f"{value:.{digits}g}"


def _time(value: Any) -> str:
    return "-" if not _is_number(value) else f"{value:.3f}"


def _cell(value: Any) -> str:
    """A table cell: floats to 4 significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(value)


def _short_list(values: Any) -> str:
    flat = np.ravel(np.asarray(values, dtype=float))
    text = "(" + ", ".join(f"{v:.6g}" for v in flat[:8]) + (", ..." if flat.size > 8 else "") + ")"
    return text


__all__ = [
    "OVERVIEW",
    "REPORT_HTML",
    "REPORT_MD",
    "RUN_REPORT_FILES",
    "SWEEP_REPORT_FILES",
    "Reported",
    "Timings",
    "report_folder",
    "run_document",
    "sweep_document",
    "timings_of",
    "write_report",
]
