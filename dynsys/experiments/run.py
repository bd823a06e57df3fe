"""One experiment from its config: simulate, compare, train, draw, all into one run folder.

A run goes through its steps in order and records each one as it completes:

- ``simulation``: each method of ``simulation.methods`` on the grid t0 + n dt (every
  ``save_every``-th step kept) and the solve_ivp reference (``reference``) on the same grid.
  The errors of each method against the reference (and against the exact solution where the
  system has one) go to ``metrics.json``; the trajectories to ``trajectories/<method>.npz``
  (or ``.csv``; ``output.trajectories: none`` skips them) and ``trajectories/reference.npz``.
  With ``simulation.events``, the crossings of each event along each trajectory
  (:func:`dynsys.events.find_events`, the reference's included) go to
  ``events/<method>.json`` and their number per method and event to ``metrics.json`` under
  ``events``.
- ``train`` (when the config has a ``model``): the dataset, model and training settings are
  the system's recipe with the config's fields set over it (:func:`dynsys.rnn.settings.plan_fit`,
  the same merge as ``dynsys train``), seeded by ``seed``.  The fitted model goes to
  ``model.npz``, its test table (``TrainedModel.evaluation``) to ``metrics.json`` under
  ``test``.
- ``lyapunov`` (when the config has a ``lyapunov`` section): the Lyapunov exponents of a
  stepper's recurrence on the system (:func:`dynsys.lyapunov.lyapunov`), largest first, per
  unit time (per iteration for a map), with their spread and settings, to ``lyapunov.json``;
  the exponents, spread, sum and Kaplan-Yorke dimension to ``metrics.json`` under
  ``lyapunov``.
- ``bifurcation`` (when the config has a ``bifurcation`` section, for a discrete map): the
  orbit diagram (:func:`dynsys.orbits.orbit_diagram`) to ``bifurcation.npz`` (with each
  value's largest exponent as ``lyapunov`` when asked) and its figure to
  ``plots/bifurcation.png``; the number of values with each period to ``metrics.json`` under
  ``bifurcation``.
- ``plot:<name>`` for each figure of ``plots``: ``plots/<name>.<format>``.

The folder::

    .dynsys-run.json       the marker: format, kind and the files dynsys writes here
    .dynsys-run.lock       held by the process writing the folder (:mod:`.folder`)
    config.resolved.yaml   the config with every default filled: `dynsys run` it again
    status.json            {"state": running|done|failed|interrupted, "completed": [...], ...}
    metrics.json           what was measured so far; wall times only under "timings"
    run.log                timestamped lines of what ran
    trajectories/  events/  model.npz  lyapunov.json  bifurcation.npz  plots/
    report.md  report.html the report (:mod:`.report`): tables, plots/overview.png and the
                           other figures, timings, config and environment, written at the end

Every file is written whole or not at all (a temporary file, then a rename), after each step,
so a crash or Ctrl-C leaves the completed steps readable and ``status.json`` naming them.  A
step that fails leaves the status "failed" and raises a :class:`~dynsys.errors.DynsysError`.
The folder's marker, lock, ``overwrite`` (a new run staged beside the old one and swapped in
whole) and what a resume checks first are :mod:`.folder`'s.

Resuming (``resume=True``, ``dynsys run --resume DIR``) skips the completed steps (their
metrics stay as written) and runs the rest.  A ``train`` step that did not complete but left
``model.npz`` (training writes its best parameters when interrupted) continues from those
parameters: the training stages that had ended are kept, the interrupted one runs its
remaining epochs, the later ones run in full.  The optimiser's own state (Adam's moments,
L-BFGS's memory) is not saved, so a resumed fit is close to, not the same as, an
uninterrupted one; everything else (simulation, plots) is recomputed identically.  A saved
``model.npz`` must have been fitted with the config's settings (kind, sizes, training, data
set), else the resume is refused.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import __version__, checks
from ..errors import DynsysError, InputError
from ..files import MiB, atomic_write, read_text
from ..output import write_trajectory
from ..rnn.data import DatasetSpec
from ..rnn.pipeline import save_trained, train_model
from ..rnn.settings import FitPlan, plan_fit
from ..rnn.train import History
from ..simulate import plan_size, simulate
from ..steppers import REFERENCE_METHOD
from ..study import Comparison, check_compare, compare
from ..systems import System, get_system
from ..tables import number, table
from ..timing import Stopwatch
from .config import (
    ExperimentConfig,
    PlotConfig,
    config_hash,
    config_system,
    parse_config,
    resolved_yaml,
)
from .folder import CONFIG_FILE, LOCK, MARKER, RECORDS, check_links, read_marker, run_folder
from .records import Echo, RunRecord, Saved, check_config_hash, json_ready, write_json
from .report import lyapunov_table

T = TypeVar("T")
MODEL_FILE = "model.npz"
LYAPUNOV_FILE = "lyapunov.json"
BIFURCATION_FILE = "bifurcation.npz"
BIFURCATION_FIGURE = "plots/bifurcation.png"
EVENTS_DIR = "events"
CONFIG_LIMIT = 16 * MiB


# -- the plan: everything checked before the folder exists ----------------------------------


@dataclass(frozen=True)
class PlotJob:
    """One figure: the plot function's keyword arguments, checked, and its file name."""

    name: str
    kind: str
    file: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class LyapunovJob:
    """The exponents of the ``lyapunov`` section: the initial state(s) and the keyword
    arguments of :func:`dynsys.lyapunov.lyapunov` (defaults taken from the simulation)."""

    s0: np.ndarray
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class BifurcationJob:
    """The orbit diagram of the ``bifurcation`` section: the parameter, its ``values`` (n,),
    the keyword arguments of :func:`dynsys.orbits.orbit_diagram`, and the iterations over
    which each value's largest exponent is accumulated (None: no exponents)."""

    param: str
    values: np.ndarray
    kwargs: dict[str, Any]
    lyapunov_iterations: int | None


@dataclass(frozen=True)
class Plan:
    """A config turned into what the run needs: the system, its initial state, the fit (None
    without a model), the figures, and the exponents and orbit diagram (None when the config
    does not ask for them); building it checks the config."""

    config: ExperimentConfig
    system: System
    s0: np.ndarray
    fit: FitPlan | None
    plots: tuple[PlotJob, ...]
    lyapunov: LyapunovJob | None = None
    bifurcation: BifurcationJob | None = None

    @property
    def spec(self) -> DatasetSpec | None:
        return None if self.fit is None else self.fit.spec

    @property
    def steps(self) -> tuple[str, ...]:
        train = ("train",) if self.fit is not None else ()
        lyapunov = ("lyapunov",) if self.lyapunov is not None else ()
        bifurcation = ("bifurcation",) if self.bifurcation is not None else ()
        plots = (f"plot:{p.name}" for p in self.plots)
        return ("simulation", *lyapunov, *bifurcation, *train, *plots)

    def step_files(self, step: str) -> tuple[str, ...]:
        """The result files of ``step`` whose digests the status keeps (not model.npz: it is
        checked as a model when the run resumes)."""
        if step == "simulation":
            return tuple(f for f in self.files if f.startswith(("trajectories/", "events/")))
        if step == "lyapunov":
            return (LYAPUNOV_FILE,)
        if step == "bifurcation":
            return (BIFURCATION_FILE, BIFURCATION_FIGURE)
        return tuple(f"plots/{job.file}" for job in self.plots if f"plot:{job.name}" == step)

    @property
    def files(self) -> list[str]:
        """Every file the run writes in its folder, relative to it (the marker's list)."""
        names = [CONFIG_FILE, "status.json", "metrics.json", "run.log"]
        fmt = self.config.output.trajectories
        if fmt != "none":
            methods = [*self.config.simulation.methods, "reference"]
            names += [f"trajectories/{method}.{fmt}" for method in methods]
        if self.config.simulation.events:
            methods = [*self.config.simulation.methods, "reference"]
            names += [f"{EVENTS_DIR}/{method}.json" for method in methods]
        if self.fit is not None:
            names.append(MODEL_FILE)
        if self.lyapunov is not None:
            names.append(LYAPUNOV_FILE)
        if self.bifurcation is not None:
            names += [BIFURCATION_FILE, BIFURCATION_FIGURE]
        return names + [f"plots/{job.file}" for job in self.plots]


def user_system_name(config_name: str) -> str:
    """The registry name of a config's own system: ``user_<config name>``, as an identifier."""
    return "user_" + re.sub(r"\W", "_", config_name).lower()


def build_system(config: ExperimentConfig) -> System:
    """The config's system with its parameters; a system of your own is registered first."""
    spec = config.system
    if spec.name is not None:
        return get_system(spec.name, **spec.params)
    from .user_system import register_user_system

    cls = type(config_system(spec, user_system_name(config.name)))
    register_user_system(cls)
    return cls()


@contextmanager
def ceilings(config: ExperimentConfig) -> Iterator[None]:
    """The config's ``limits`` in force (:func:`dynsys.checks.limits`), each unless the command
    line or the environment set that ceiling already."""
    limits = config.limits
    memory = None if os.environ.get(checks.MEMORY_VARIABLE) else limits.max_memory
    steps = None if os.environ.get(checks.STEPS_VARIABLE) else limits.max_steps
    with checks.limits(max_memory=memory, max_steps=steps):
        yield


def under_ceilings(function: Callable[..., T]) -> Callable[..., T]:
    """``function(config, ...)`` run with :func:`ceilings` of its config."""

    @functools.wraps(function)
    def run(config: ExperimentConfig, *args: Any, **kwargs: Any) -> T:
        with ceilings(config):
            return function(config, *args, **kwargs)

    return run


@under_ceilings
def plan_run(config: ExperimentConfig) -> Plan:
    """Check everything a run of ``config`` needs before it starts (the sizes of its
    simulation, fit and figures included); raise InputError if not."""
    system = build_system(config)
    sim, ref = config.simulation, config.reference
    start = checks.initial_state(system, system.default_s0 if sim.s0 is None else sim.s0)
    grid = {"t_span": (sim.t0, sim.t_end), "dt": sim.dt, "save_every": sim.save_every}
    if system.kind == "map":
        for method in sim.methods:
            plan_size(system, start, method=method, **grid).check()
    else:
        check_compare(
            system,
            start,
            methods=sim.methods,
            reference_method=ref.method,
            rtol=ref.rtol,
            atol=ref.atol,
            **grid,
        )
    fit = None if config.model is None else fit_plan(config, system.name)
    jobs = tuple(_plot_job(i, plot, config, system) for i, plot in enumerate(config.plots))
    exponents = None if config.lyapunov is None else lyapunov_job(config, system, start)
    diagram = None if config.bifurcation is None else bifurcation_job(config, system, start)
    if diagram is not None:
        for i, job in enumerate(jobs):
            if f"plots/{job.file}" == BIFURCATION_FIGURE:
                raise InputError(
                    f"plots[{i}].name: {BIFURCATION_FIGURE} is the bifurcation section's "
                    "figure; name this one otherwise"
                )
    return Plan(config, system, start, fit, jobs, exponents, diagram)


def lyapunov_job(config: ExperimentConfig, system: System, start: np.ndarray) -> LyapunovJob:
    """The ``lyapunov`` section's call, its defaults from the simulation (the first one-step
    stepper, else rk4; dt, t_end, s0), checked: the stepper fits the system, an exact tangent
    has a jacobian, and the steps are within the ceiling."""
    from ..steppers import STEPPERS, get_stepper

    section, sim = config.lyapunov, config.simulation
    if section is None:
        raise InputError("the config has no lyapunov section")
    one_step = [m for m in sim.methods if m in STEPPERS and STEPPERS[m].history == 1]
    method = section.method or (one_step or ["map" if system.kind == "map" else "rk4"])[0]
    try:
        get_stepper(method, system)
    except InputError as err:
        raise InputError(f"lyapunov.method: {err}") from None
    if section.tangent == "exact" and system.jacobian is None:
        raise InputError(
            f"lyapunov.tangent: 'exact' needs a jacobian, which {system.name} does not define; "
            "use 'finite_difference' or 'auto'"
        )
    s0 = start if section.s0 is None else checks.initial_state(system, section.s0)
    dt = None if system.kind == "map" else (section.dt or sim.dt)
    t_end = sim.t_end if section.t_end is None else section.t_end
    n_total = checks.step_count(sim.t0, t_end, dt or 1.0, "lyapunov.dt")
    n_trans = 0
    if section.transient > 0:
        n_trans = checks.step_count(sim.t0, sim.t0 + section.transient, dt or 1.0, "lyapunov.dt")
    if n_trans >= n_total:
        raise InputError(
            f"lyapunov.t_end: {t_end:g} leaves no step after the transient of "
            f"{section.transient:g}; take a later t_end or a shorter transient"
        )
    m = system.n_states if section.spectrum is True else int(section.spectrum)
    checks.within_steps(
        n_total * (s0.size // system.n_states) * (1 + m),
        "the lyapunov section",
        "take a larger lyapunov.dt, a shorter lyapunov.t_end or fewer exponents",
    )
    kwargs = {
        "dt": dt,
        "method": method,
        "t0": sim.t0,
        "t_end": t_end,
        "transient": section.transient,
        "spectrum": section.spectrum,
        "every": section.every,
        "tangent": section.tangent,
        "backend": sim.backend,
    }
    return LyapunovJob(s0, kwargs)


def bifurcation_job(config: ExperimentConfig, system: System, start: np.ndarray) -> BifurcationJob:
    """The ``bifurcation`` section's orbit diagram (from ``bifurcation.s0``, else the
    simulation's initial state), checked against the step and memory ceilings."""
    from ..orbits import parameter_range

    section = config.bifurcation
    if section is None:
        raise InputError("the config has no bifurcation section")
    s0 = start.reshape(-1) if section.s0 is None else checks.initial_state(system, section.s0)
    values = parameter_range(*section.range, section.n)
    m, n = len(values), system.n_states
    checks.within_steps(
        m * (section.transient + section.keep),
        "the orbit diagram",
        "ask for fewer bifurcation.n, .transient or .keep",
    )
    checks.fits_in_memory(
        8 * m * n * (section.keep + 8), None, "the orbit diagram", "ask for fewer values or keep"
    )
    iterations = section.lyapunov_iterations if section.lyapunov else None
    if iterations is not None:
        checks.within_steps(
            m * (section.transient + iterations) * 2,
            "the orbit diagram's exponent run",
            "ask for fewer bifurcation.n or .lyapunov_iterations",
        )
    kwargs = {
        "s0": s0,
        "transient": section.transient,
        "keep": section.keep,
        "state": section.state,
    }
    return BifurcationJob(section.param, values, kwargs, iterations)


def fit_plan(config: ExperimentConfig, system_name: str) -> FitPlan:
    """The recipe of ``model.kind`` on the system with the config's given fields over it
    (:func:`dynsys.rnn.settings.plan_fit`, the same merge as ``dynsys train``)."""
    if config.model is None:
        raise InputError("the config has no model to train")
    ref = config.reference
    return plan_fit(
        system_name,
        config.model.kind,
        params=config.system.params,
        dataset=config.dataset.given() if config.dataset is not None else {},
        model=config.model.given(),
        training=config.training.given(),
        seed=config.seed,
        reference={"reference_method": ref.method, "rtol": ref.rtol, "atol": ref.atol},
    )


def filled_config(plan: Plan) -> ExperimentConfig:
    """The plan's config with the dataset, model and training settings the fit will use (the
    recipe's included) written out, so that config.resolved.yaml shows them all."""
    config, fit = plan.config, plan.fit
    if plan.lyapunov is not None and config.lyapunov is not None:
        given = plan.lyapunov.kwargs
        filled = {"method": given["method"], "dt": given["dt"], "t_end": given["t_end"]}
        config = config.model_copy(update={"lyapunov": config.lyapunov.model_copy(update=filled)})
    if fit is None:
        return config
    from ..rnn.settings import section_fields
    from .config import DatasetConfig, ModelConfig, TrainingConfig

    spec = asdict(fit.spec)
    dataset = {k: spec[k] for k in section_fields("dataset")}
    dataset["ranges"] = {k: v for k, v in dataset["ranges"].items()}
    training = {}
    if fit.model_class.fitting == "gradient":
        training = {k: v for k, v in asdict(fit.training).items() if k != "seed"}
    return config.model_copy(
        update={
            "dataset": DatasetConfig(**dataset),
            "model": ModelConfig(kind=fit.kind, **asdict(fit.model)),
            "training": TrainingConfig(**training),
        }
    )


SYSTEM_PLOTS = {
    "phase": "phase_portrait",
    "timeseries": "timeseries_plot",
    "error": "error_plot",
    "convergence": "convergence_plot",
    "stability": "stability_plot",
}
MODEL_PLOTS = {
    "training": "training_curves",
    "rollout": "rollout_plot",
    "field": "vector_field_plot",
}
UNROLLED_OPTIONS = ("method", "steps", "model")
_NOT_OPTIONS = ("data", "normalizer", "spec")


def _plot_job(index: int, plot: PlotConfig, config: ExperimentConfig, system: System) -> PlotJob:
    """The figure's keyword arguments: the simulation's grid and methods, then its options;
    a figure of the system is checked (options, sizes) as its plot function will check it."""
    from .. import plots

    where = f"plots[{index}] ({plot.name})"
    sim = config.simulation
    steppers = [m for m in sim.methods if m != REFERENCE_METHOD]
    if plot.kind == "unrolled":
        allowed: tuple[str, ...] = UNROLLED_OPTIONS
        defaults: dict[str, Any] = {"method": (steppers or ["rk4"])[0], "steps": 4, "model": False}
    else:
        function = getattr(plots, {**SYSTEM_PLOTS, **MODEL_PLOTS}[plot.kind])
        parameters = list(inspect.signature(function).parameters)[1:]
        allowed = tuple(p for p in parameters if p not in _NOT_OPTIONS)
        methods = list(sim.methods) if plot.kind == "phase" else steppers
        if config.system.kind == "map":  # a map's figures draw its orbit, not steppers
            methods = []
        grid = {"s0": sim.s0, "t_span": (sim.t0, sim.t_end), "dt": sim.dt, "methods": methods}
        defaults = {k: v for k, v in grid.items() if k in allowed}
    for key in plot.options:
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise InputError(
                f"{where}: unknown option {key!r} of a {plot.kind} plot; known: {known}"
            )
    kwargs = defaults | dict(plot.options)
    if "t_span" in kwargs and kwargs["t_span"] is not None:
        kwargs["t_span"] = checks.time_span(kwargs["t_span"])
    needs_model = plot.kind in MODEL_PLOTS or (plot.kind == "unrolled" and kwargs["model"])
    if needs_model and config.model is None:
        raise InputError(f"{where}: a {plot.kind} plot draws the trained network; add a model")
    if plot.kind in SYSTEM_PLOTS:
        try:
            plots.check_figure(plot.kind, system, **kwargs)
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
    return PlotJob(plot.name or plot.kind, plot.kind, f"{plot.name}.{plot.format}", kwargs)


# -- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """How a run ended: its folder, state ("done", or "interrupted" after Ctrl-C), metrics,
    and the steps it skipped as completed before (when resumed)."""

    folder: Path
    state: str
    metrics: dict[str, Any]
    skipped: tuple[str, ...] = ()
    message: str = ""

    def summary(self) -> str:
        """The tables of the run and where its files are."""
        return summary_table(self.metrics, self.folder)


def default_folder(config: ExperimentConfig, root: str | Path = "runs") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``, ... after it if that exists)."""
    base = Path(root) / f"{config.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


@under_ceilings
def run_experiment(
    config: ExperimentConfig,
    folder: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool | None = None,
    echo: Echo | None = None,
) -> RunResult:
    """Run ``config`` (without its sweep) into ``folder``; see the module doc.

    ``overwrite`` replaces an existing run folder (never any other folder) once the new run
    has ended; ``resume`` continues the run in ``folder``.  ``progress`` shows the training's
    bar (None: when stderr is a terminal); ``echo`` receives each log line.  Ctrl-C leaves the
    status "interrupted" and re-raises KeyboardInterrupt; a failed step leaves it "failed" and
    raises a DynsysError.
    """
    from .report import RUN_REPORT_FILES, write_report

    began = time.perf_counter()
    folder = Path(folder)
    plan = plan_run(config)
    config = filled_config(plan)
    digest = config_hash(config)
    mode = "resume" if resume else "overwrite" if overwrite else "new"

    def resumable(here: Path) -> None:  # before the folder is locked or changed
        check_config_hash(here, Saved.read(here), digest)
        check_saved_model(here, plan)

    with run_folder(folder, "run", [*plan.files, *RUN_REPORT_FILES], mode, resumable) as place:
        work = place.path
        saved = Saved.read(work) if place.resuming else None
        if not (work / CONFIG_FILE).exists():
            text = resolved_yaml(config)
            atomic_write(work / CONFIG_FILE, lambda f: f.write(text.encode()))
        record = RunRecord.start(
            work,
            saved,
            status={"config_hash": digest, "steps": list(plan.steps)},
            metrics={
                "name": config.name,
                "seed": config.seed,
                "dynsys_version": __version__,
                "config_hash": digest,
                "system": plan.system.name,
            },
            echo=echo,
        )
        if record.previous_state == "running":
            record.log(f"the status said running, but {place.previous} has ended: it was killed")
        record.redo_changed()
        skipped = _run_steps(plan, record, place.resuming, progress, folder)
        # the run's wall time: this process's, and the steps completed before a resume
        timings = record.metrics["timings"]
        before = sum(t for s, t in timings.items() if s in skipped and isinstance(t, float))
        timings["total"] = round(time.perf_counter() - began + before, 6)
        record.write_metrics()
        write_report(work)
    return RunResult(folder, "done", record.metrics, skipped)


def _run_steps(plan: Plan, record: RunRecord, resume: bool, progress, folder: Path) -> tuple:
    """Run the steps not completed before; return those skipped."""
    config = plan.config
    skipped = tuple(s for s in plan.steps if s in record.completed)
    record.log(
        f"{'resumed' if resume else 'started'} {config.name} ({plan.system.name}, "
        f"config {record.status['config_hash']}): steps {', '.join(plan.steps)}"
    )
    step = ""
    try:
        for step in plan.steps:
            if step in record.completed:
                record.log(f"{step}: completed before, skipped")
                continue
            record.log(f"{step}: running")
            began = time.perf_counter()
            _run_step(step, plan, record, resume, progress)
            record.complete(step, time.perf_counter() - began, plan.step_files(step))
    except KeyboardInterrupt:
        note = record.status.pop("note", "") or f"interrupted during {step}"
        record.finish_quietly("interrupted", f"{note}; continue with: dynsys run --resume {folder}")
        raise
    except DynsysError as err:
        record.finish_quietly("failed", f"{step}: {err}")
        raise
    except Exception as err:
        message = f"{step}: {type(err).__name__}: {err}"
        record.finish_quietly("failed", message)
        raise DynsysError(f"the run failed in {message}") from err
    record.finish("done", "")
    return skipped


def check_saved_model(folder: Path, plan: Plan) -> None:
    """A model.npz left in ``folder`` must be the plan's: the same kind, model, training and
    data-set settings (what :func:`dynsys.rnn.io.load_model` reads back); else InputError."""
    from ..rnn.io import load_model

    path = folder / MODEL_FILE
    if plan.fit is None or not path.exists():
        return
    loaded = load_model(path)
    training = loaded.training if isinstance(loaded.training, dict) else {}
    fit = plan.fit
    wanted = {
        "kind": fit.kind,
        "model": asdict(fit.model),
        "training": asdict(fit.training),
        "dataset": fit.spec.to_dict(),
    }
    found = {
        "kind": training.get("kind"),
        "model": training.get("model"),
        "training": training.get("training"),
        "dataset": loaded.dataset,
    }
    architecture = loaded.model.config()
    found["architecture"] = {k: architecture.get(k) for k in wanted["model"] if k in architecture}
    wanted["architecture"] = {k: wanted["model"][k] for k in found["architecture"]}
    difference = _difference(_plain(found), _plain(wanted))
    if difference is not None:
        where, has, expected = difference
        raise InputError(
            f"cannot resume {folder}: {MODEL_FILE} was not fitted with this run's settings "
            f"({where} is {has} in it, {expected} in {CONFIG_FILE}); start afresh with "
            "--overwrite"
        )


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(json_ready(value)))


def _difference(found: Any, wanted: Any, where: str = "") -> tuple[str, str, str] | None:
    """The first dotted path where ``found`` and ``wanted`` differ, with both values."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        for key in dict.fromkeys([*wanted, *found]):
            inner = _difference(found.get(key), wanted.get(key), f"{where}.{key}" if where else key)
            if inner is not None:
                return inner
        return None
    if found != wanted:
        return where, _short(found), _short(wanted)
    return None


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def resume_config(folder: str | Path) -> ExperimentConfig:
    """The config of the run (or sweep) in ``folder``, read to resume it: the folder must be
    a run folder of this format with no symbolic links among its records."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not os.path.lexists(path):
        raise InputError(f"cannot resume {folder}: no {CONFIG_FILE} in it")
    check_links(folder, (*RECORDS, MARKER, LOCK), "resume")
    check_links(folder, read_marker(folder, "resume").files, "resume")
    text = read_text(path, limit=CONFIG_LIMIT, what="config", follow_links=False)
    return parse_config(text, str(path))


def _run_step(step: str, plan: Plan, record: RunRecord, resume: bool, progress) -> None:
    if step == "simulation":
        _simulation_step(plan, record)
    elif step == "train":
        _train_step(plan, record, resume, progress)
    elif step == "lyapunov":
        _lyapunov_step(plan, record)
    elif step == "bifurcation":
        _bifurcation_step(plan, record)
    else:
        job = next(p for p in plan.plots if f"plot:{p.name}" == step)
        _plot_step(job, plan, record)


def _simulation_step(plan: Plan, record: RunRecord) -> None:
    """Every method and the reference on one grid; errors to metrics, trajectories to files.

    ``timings.simulation_parts`` splits this step's wall time: methods (the time loops,
    ``timings.methods`` summed), reference (the solve_ivp call), comparison (the other work
    of :func:`dynsys.compare`: checks, errors against the reference and the exact solution),
    writing (the trajectory files), events, and other = total - their sum.
    """
    watch = Stopwatch()
    config, folder = plan.config, record.folder
    fmt = config.output.trajectories
    if fmt != "none":
        (folder / "trajectories").mkdir(exist_ok=True)
    if plan.system.kind == "map":
        with watch.part("methods"):
            trajectories = {m: _simulate(plan, m) for m in config.simulation.methods}
        record.metrics["simulation"] = {}
        record.log("simulation: a discrete map has no solve_ivp reference; no errors measured")
        reference_traj = None
    else:
        began = time.perf_counter()
        comparison = compare_methods(plan)
        compared = time.perf_counter() - began
        doc = comparison.to_dict()
        timings = {}
        for name, row in doc["methods"].items():
            timings[name] = round(row.pop("wall_s"), 6)
        methods_s = sum(r.wall_s for r in comparison.methods.values())
        reference_s = comparison.reference.info["wall_s"]
        watch.add("methods", methods_s)
        watch.add("reference", reference_s)
        watch.add("comparison", max(compared - methods_s - reference_s, 0.0))
        record.metrics["simulation"] = doc["methods"]
        record.metrics["reference"] = doc["reference"]
        record.metrics["timings"]["methods"] = timings
        trajectories, reference_traj = comparison.trajectories, comparison.reference
        for result in comparison.methods.values():
            if result.diverged is not None:
                record.log(f"simulation: {result.diverged}")
    if fmt != "none":
        everything = dict(trajectories)
        if reference_traj is not None:
            everything["reference"] = reference_traj
        with watch.part("writing"):
            for name, traj in everything.items():
                write_trajectory(traj, folder / "trajectories" / f"{name}.{fmt}")
    if config.simulation.events:
        with watch.part("events"):
            _events(plan, record, trajectories, reference_traj)
    record.metrics["timings"]["simulation_parts"] = watch.breakdown()


def _events(plan: Plan, record: RunRecord, trajectories: dict, reference_traj) -> None:
    """The crossings of ``simulation.events`` along each method's trajectory and the
    reference's to events/<method>.json; their number per method and event to metrics."""
    from ..events import find_events, parse_event

    texts = plan.config.simulation.events
    events = [parse_event(text, plan.system) for text in texts]
    everything = dict(trajectories)
    if reference_traj is not None:
        everything["reference"] = reference_traj
    (record.folder / EVENTS_DIR).mkdir(exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    for name in [*plan.config.simulation.methods, "reference"]:
        if name not in everything:
            record.log(f"simulation: {name} has no trajectory (it diverged); no events located")
            continue
        found = find_events(everything[name], events)
        write_json(record.folder / EVENTS_DIR / f"{name}.json", found.to_dict())
        counts[name] = {text: int(np.sum(found.which == k)) for k, text in enumerate(texts)}
    record.metrics["events"] = counts
    record.log(f"simulation: wrote {', '.join(f'{EVENTS_DIR}/{n}.json' for n in counts)}")


def _simulate(plan: Plan, method: str):
    sim = plan.config.simulation
    return simulate(
        plan.system,
        plan.s0,
        t_span=(sim.t0, sim.t_end),
        dt=sim.dt,
        method=method,
        save_every=sim.save_every,
        backend=sim.backend,
        newton=_newton(sim),
    )


def _newton(sim) -> dict | None:
    """The simulation's Newton settings as simulate takes them."""
    return None if sim.newton is None else sim.newton.model_dump()


def compare_methods(plan: Plan) -> Comparison:
    """:func:`dynsys.compare` with the simulation's methods, reference, save_every and backend."""
    sim, ref = plan.config.simulation, plan.config.reference
    return compare(
        plan.system,
        plan.s0,
        t_span=(sim.t0, sim.t_end),
        dt=sim.dt,
        methods=sim.methods,
        reference_method=ref.method,
        rtol=ref.rtol,
        atol=ref.atol,
        save_every=sim.save_every,
        backend=sim.backend,
        newton=_newton(sim),
    )


def _train_step(plan: Plan, record: RunRecord, resume: bool, progress) -> None:
    """Fit (or continue fitting) the network, save it, and put its test table in metrics.

    ``timings.train_parts`` splits this step's wall time: the parts of the fit (data,
    normalisation, prepare, fit:<stage>, evaluation; :attr:`TrainedModel.timings`), saving,
    and other = total - their sum (loading a saved model, building the model, the log).
    """
    if plan.fit is None:
        raise DynsysError("internal: a train step in a plan without a model")  # never planned
    watch = Stopwatch()
    path = record.folder / MODEL_FILE
    resume_from = None
    if resume and path.exists():
        record.log(f"train: continuing from the parameters saved in {MODEL_FILE}")
        resume_from = path
    trained = train_model(plan.fit, progress=progress, resume_from=resume_from)
    watch.parts.update(trained.timings)
    with watch.part("saving"):
        save_trained(trained, path)
    for name, history in trained.stages.items():
        record.log(f"train: {name}: {history.message or history.stopped_reason}")
    if trained.history.stopped_reason == "interrupted":
        record.status["note"] = (
            f"training interrupted ({trained.history.message}); the best parameters so far "
            f"are in {MODEL_FILE}"
        )
        raise KeyboardInterrupt
    record.metrics["training"] = {name: _stage_summary(h) for name, h in trained.stages.items()}
    record.metrics["timings"]["training"] = {
        name: round(h.wall_s, 6) for name, h in trained.stages.items()
    }
    record.metrics["timings"]["train_parts"] = watch.breakdown()
    if trained.history.stopped_reason == "non_finite":  # fails, as in `dynsys train`
        record.write_metrics()
        raise DynsysError(
            f"{trained.history.message}; the best parameters were saved to {MODEL_FILE}"
        )
    if trained.evaluation is not None:
        record.metrics["test"] = trained.evaluation.to_dict()["test"]


def _stage_summary(history: History) -> dict[str, Any]:
    """What a training stage did, without its wall time (that goes under timings)."""
    keys = ("optimizer", "epochs_run", "best_epoch", "best_loss", "final_train_loss")
    keys += ("final_val_loss", "stopped_reason")
    summary = history.summary()
    return {k: summary[k] for k in keys}


LYAPUNOV_METRICS = ("exponents", "spread", "sum", "kaplan_yorke", "units", "method", "dt")
LYAPUNOV_METRICS += ("tangent", "t0", "t_end", "transient", "every", "steps")
"""What metrics.json keeps of lyapunov.json (all but the running estimates)."""


def _lyapunov_step(plan: Plan, record: RunRecord) -> None:
    """The exponents to lyapunov.json (without the wall time, which goes under timings) and
    to metrics.json."""
    from ..lyapunov import lyapunov

    job = plan.lyapunov
    if job is None:
        raise DynsysError("internal: a lyapunov step in a plan without one")  # never planned
    result = lyapunov(plan.system, job.s0, **job.kwargs)
    doc = result.to_dict()
    doc.pop("seconds", None)
    write_json(record.folder / LYAPUNOV_FILE, doc)
    record.metrics["lyapunov"] = {k: doc[k] for k in LYAPUNOV_METRICS if k in doc}
    shown = ", ".join(f"{v:.6g}" for v in np.ravel(result.exponents)[: result.exponents.shape[-1]])
    record.log(f"lyapunov: exponents {shown} {result.units}; wrote {LYAPUNOV_FILE}")


def _bifurcation_step(plan: Plan, record: RunRecord) -> None:
    """The orbit diagram to bifurcation.npz, its figure to plots/bifurcation.png, and the
    number of values with each period (none up to keep/2: "without_period") to metrics."""
    from ..lyapunov import lyapunov
    from ..orbits import orbit_diagram
    from ..plots.bifurcation import orbit_diagram_plot
    from ..plots.style import save_figure

    job = plan.bifurcation
    if job is None:
        raise DynsysError("internal: a bifurcation step in a plan without one")  # never planned
    diagram = orbit_diagram(plan.system, job.param, job.values, **job.kwargs)
    exponents = None
    if job.lyapunov_iterations is not None:
        transient = job.kwargs["transient"]
        swept = plan.system.with_params(**{job.param: job.values})
        result = lyapunov(
            swept,
            job.kwargs["s0"],
            t_end=transient + job.lyapunov_iterations,
            transient=transient,
        )
        exponents = result.exponents[..., 0].reshape(-1)
    extra = {} if exponents is None else {"lyapunov": exponents}
    diagram.to_npz(record.folder / BIFURCATION_FILE, **extra)
    (record.folder / "plots").mkdir(exist_ok=True)
    fig, _ = orbit_diagram_plot(diagram, exponents=exponents)
    save_figure(fig, record.folder / BIFURCATION_FIGURE)
    periods = diagram.periods()
    found, counts = np.unique(periods[periods > 0], return_counts=True)
    doc: dict[str, Any] = {
        "param": job.param,
        "range": [float(job.values[0]), float(job.values[-1])],
        "values": len(job.values),
        "state": diagram.state,
        "transient": diagram.transient,
        "keep": diagram.keep,
        "periods": {str(p): int(c) for p, c in zip(found, counts, strict=True)},
        "without_period": int(np.sum(periods == 0)),
    }
    if exponents is not None:
        doc["lyapunov_positive"] = int(np.sum(exponents > 0))
        doc["lyapunov_max"] = float(np.max(exponents))
    record.metrics["bifurcation"] = doc
    record.log(f"bifurcation: wrote {BIFURCATION_FILE} and {BIFURCATION_FIGURE}")


def _plot_step(job: PlotJob, plan: Plan, record: RunRecord) -> None:
    """Draw one figure with the dynsys.plots function of its kind and save it."""
    from .. import plots

    (record.folder / "plots").mkdir(exist_ok=True)
    kwargs = dict(job.kwargs)
    model_file = record.folder / MODEL_FILE
    if job.kind in SYSTEM_PLOTS:
        fig, _ = getattr(plots, SYSTEM_PLOTS[job.kind])(plan.system, **kwargs)
    elif job.kind in MODEL_PLOTS:
        fig, _ = getattr(plots, MODEL_PLOTS[job.kind])(model_file, **kwargs)
    elif kwargs["model"]:
        fig, _ = plots.rnn_unrolled_plot(model_file, kwargs["steps"])
    else:
        graph = plots.stepper_graph(plan.system, kwargs["method"], plan.config.simulation.dt)
        fig, _ = plots.unrolled_plot(graph, kwargs["steps"])
    plots.save_figure(fig, record.folder / "plots" / job.file)
    record.log(f"plot:{job.name}: wrote plots/{job.file}")


# -- the summary -------------------------------------------------------------------------------


def summary_table(metrics: dict[str, Any], folder: Path | None = None) -> str:
    """The simulation errors, the test table (with a model) and the files, as text."""
    lines = [f"{metrics.get('name')}: {metrics.get('system')}, seed {metrics.get('seed')}"]
    simulation = metrics.get("simulation") or {}
    if simulation:
        ref = metrics.get("reference", {})
        lines.append(
            f"errors against solve_ivp {ref.get('method')} rtol={ref.get('rtol'):g} "
            f"atol={ref.get('atol'):g}"
        )
        has_exact = any("exact" in row for row in simulation.values())
        headers = ["method", "max abs err", "rmse", "rel L2", "final err"]
        headers += ["vs exact"] if has_exact else []
        rows = []
        for name, row in simulation.items():
            keys = ("max_abs_error", "rmse", "rel_l2", "final_abs_error")
            cells = [name, *(number(row.get(k)) for k in keys)]
            if has_exact:
                cells.append(number((row.get("exact") or {}).get("max_abs_error")))
            rows.append(cells)
        lines.append(table(headers, rows))
    test = metrics.get("test")
    if test:
        keys = ["rel_l2", "rmse", "max_abs_error", "valid_time", "valid_time_smape"]
        if any("valid_time_lyapunov" in row for row in test.values()):
            keys.append("valid_time_lyapunov")
        rows = [
            [name, *(number(row.get(k)) if "valid" not in k else _time(row.get(k)) for k in keys)]
            for name, row in test.items()
        ]
        lines += ["", "The model's rollout on the test set, beside the steppers at the same h:"]
        lines.append(table(["method", *keys], rows))
    lines += events_lines(metrics.get("events"))
    lines += lyapunov_lines(metrics.get("lyapunov"))
    lines += bifurcation_lines(metrics.get("bifurcation"))
    if folder is not None:
        lines += ["", f"results in {folder}/ (metrics.json, run.log, config.resolved.yaml)"]
    return "\n".join(lines)


def events_lines(doc: dict[str, Any] | None) -> list[str]:
    """The number of crossings of each event per method, from metrics["events"]: one line."""
    if not doc:
        return []
    parts = [
        f"{name} (" + ", ".join(f"{event}: {count}" for event, count in counts.items()) + ")"
        for name, counts in doc.items()
    ]
    return ["", f"events (crossings, events/<method>.json): {'; '.join(parts)}"]


def lyapunov_lines(doc: dict[str, Any] | None) -> list[str]:
    """The exponents of metrics["lyapunov"], largest first, with their spread (a row per
    initial state of a batch), their sum and the Kaplan-Yorke dimension."""
    if not doc:
        return []
    dt = "" if doc.get("units") == "per iteration" else f", dt={_g(doc.get('dt'))}"
    head = (
        f"Lyapunov exponents ({doc.get('units')}): {doc.get('method')}{dt}, "
        f"{doc.get('tangent')} tangent, {doc.get('steps')} steps after {_g(doc.get('transient'))}"
    )
    headers, table_rows = lyapunov_table(doc)
    return ["", head, table(headers, table_rows)]


def bifurcation_lines(doc: dict[str, Any] | None) -> list[str]:
    """The orbit diagram of metrics["bifurcation"]: how many values have each period."""
    if not doc:
        return []
    lo, hi = doc.get("range") or (None, None)
    periods = ", ".join(f"{p}: {c}" for p, c in (doc.get("periods") or {}).items()) or "none"
    lines = [
        "",
        f"orbit diagram over {doc.get('param')} from {_g(lo)} to {_g(hi)}, {doc.get('values')} "
        f"values; {doc.get('without_period')} without a period up to "
        f"{(doc.get('keep') or 0) // 2}; values by period: {periods}",
    ]
    if "lyapunov_positive" in doc:
        lines.append(
            f"largest Lyapunov exponent > 0 at {doc['lyapunov_positive']} values "
            f"(at most {_g(doc.get('lyapunov_max'))} per iteration)"
        )
    return lines


def _g(value: float | None, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits, or '-' for a missing one."""
    return "-" if value is None else f"{value:.{digits}g}"


def _time(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


__all__ = [
    "Plan",
    "RunResult",
    "build_system",
    "compare_methods",
    "default_folder",
    "plan_run",
    "resume_config",
    "run_experiment",
    "summary_table",
    "user_system_name",
]
