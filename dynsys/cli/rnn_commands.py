"""The model commands: ``train`` (fit a model to simulated trajectories) and ``evaluate``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from .. import checks
from ..checks import comma_list
from ..errors import DynsysError, InputError, unknown_name
from ..files import writable
from . import main
from .options import parse_params


def _ranges(
    pairs: tuple[str, ...], known: list[str], system: str, flag: str = "--range"
) -> dict[str, tuple[float, float]]:
    """['A=0.2,1'] -> {'A': (0.2, 1.0)}: each NAME a parameter in ``known`` given once, LOW and
    HIGH finite numbers with LOW < HIGH."""
    out: dict[str, tuple[float, float]] = {}
    for pair in pairs:
        name, sep, values = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"{flag} must be NAME=LOW,HIGH, got {pair!r}")
        if name not in known:
            raise unknown_name(f"parameter of {system} in {flag}", name, known)
        if name in out:
            raise InputError(f"{flag} {name} is given twice; give each parameter once")
        items = comma_list(f"{flag} {name}", values, "number")
        if len(items) != 2:
            raise InputError(f"{flag} must be NAME=LOW,HIGH (two numbers), got {pair!r}")
        low, high = (checks.finite_number(f"{flag} {name}", v) for v in items)
        if not low < high:
            raise InputError(f"{flag} {name} must have LOW < HIGH, got {pair!r}")
        out[name] = (low, high)
    return out


def _target(flag: str, out: str, suffixes: tuple[str, ...]) -> Path:
    """An output path checked before any work: one of ``suffixes``, and one that
    :func:`~dynsys.files.atomic_write` can write (:func:`dynsys.files.writable`)."""
    path = Path(out)
    if path.suffix.lower() not in suffixes:
        names = " or ".join(filter(None, (", ".join(suffixes[:-1]), suffixes[-1])))
        raise InputError(f"{flag} must name a {names} file, got {out!r}")
    return writable(path)


def _out_path(out: str) -> Path:
    return _target("--out", out, (".npz",))


def fit_options(f: Callable) -> Callable:
    """The options of every setting of a fit, generated from the declarations in
    :mod:`dynsys.rnn.settings` (model kinds' Settings, TrainSettings, DatasetSpec)."""
    from ..rnn.settings import option_fields, scalar_type

    for name, (_section, field) in reversed(option_fields().items()):
        flag = "--" + name.replace("_", "-")
        kind = scalar_type(field)
        help_text = field.metadata.get("help", "")
        choices = field.metadata.get("choices")
        if kind is bool:
            decl = f"{flag}/--no-{name.replace('_', '-')}"
            option = click.option(decl, name, default=None, help=help_text)
        else:
            option = click.option(
                flag,
                name,
                type=click.Choice(list(choices)) if choices else kind,
                default=None,
                help=help_text,
            )
        f = option(f)
    return f


def model_kind_option(f: Callable) -> Callable:
    from ..rnn.kinds import DEFAULT_KIND, MODEL_KINDS

    lines = "; ".join(f"{k}: {cls.summary}" for k, cls in MODEL_KINDS.items())
    return click.option(
        "--model",
        "kind",
        type=click.Choice(list(MODEL_KINDS)),
        default=DEFAULT_KIND,
        show_default=True,
        help=f"The model kind. {lines}.",
    )(f)


def given_settings(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The options given (not None), sorted into the sections dataset, model and training."""
    from ..rnn.settings import OPTION_NAMES, option_fields

    fields_by_option = option_fields()
    renamed = {v: k for k, v in OPTION_NAMES.items()}
    out: dict[str, dict[str, Any]] = {"dataset": {}, "model": {}, "training": {}}
    for name, value in options.items():
        if value is not None and name in fields_by_option:
            out[fields_by_option[name][0]][renamed.get(name, name)] = value
    return out


@main.command("train")
@click.argument("system_name", metavar="SYSTEM")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fix a parameter for every trajectory.",
)
@click.option(
    "-r",
    "--range",
    "ranges",
    multiple=True,
    metavar="NAME=LOW,HIGH",
    help="Sample a parameter uniformly per trajectory (replaces the recipe's range).",
)
@click.option(
    "--holdout",
    multiple=True,
    metavar="NAME=LOW,HIGH",
    help="Keep this part of a sampled range out of training; test on it (extrapolation).",
)
@model_kind_option
@fit_options
@click.option("--float32", is_flag=True, help="Same as --dtype float32.")
@click.option("--seed", type=int, default=0, show_default=True, help="Data and model seed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--out", required=True, metavar="FILE", help="Model file (.npz).")
def train_command(system_name, params, ranges, holdout, kind, seed, quiet, as_json, out, **options):
    """Fit a model to trajectories of SYSTEM simulated by solve_ivp, evaluate it, save it.

    A step-map model learns s(n+1) = f(s(n), x(n+1)) and is rolled out on its own outputs
    from s(0); a driven-response network maps the drive to the trajectory (--model lists the
    kinds, and each option says which kinds have it).  The test table compares its
    free-running rollout with explicit Euler, semi-implicit Euler and RK4 at the same h.
    Options left out take the system's recipe (dynsys/rnn/recipes.py); an option that does
    not apply to the model kind is refused.  Ctrl-C saves what was learned.

    \b
    Examples:
      dynsys train driven_oscillator --model jordan --out jordan.npz
      dynsys train van_der_pol --model ngrc --out vdp.npz
      dynsys train lorenz --model esn --units 800 --out lorenz_esn.npz
      dynsys train driven_oscillator --holdout A=0.8,1 --out jordan_holdout.npz
    """
    from ..rnn.pipeline import save_trained, train_model
    from ..rnn.settings import plan_fit
    from ..systems import system_class

    path = _out_path(out)
    given = given_settings(options)
    if options.pop("float32"):
        given["model"]["dtype"] = "float32"
    cls = system_class(system_name)
    known = [p.name for p in cls.parameters]
    fixed = parse_params(params)
    given["dataset"]["ranges"] = _ranges(ranges, known, system_name)
    for name in given["dataset"]["ranges"]:
        if name in fixed:
            raise InputError(f"parameter {name!r} is given by both -p and --range; give one")
    if holdout:
        given["dataset"]["holdout"] = _ranges(holdout, known, system_name, "--holdout")
    plan = plan_fit(
        system_name,
        kind,
        params=fixed,
        dataset=given["dataset"],
        model=given["model"],
        training=given["training"],
        seed=seed,
    )
    trained = train_model(plan, progress=False if quiet or as_json else None)
    history = trained.history
    saved = save_trained(trained, path)
    if as_json:
        doc = {"model": str(saved), "kind": plan.kind, "history": history.summary()}
        doc["stages"] = {name: h.summary() for name, h in trained.stages.items()}
        for evaluation in (trained.evaluation, trained.extrapolation):
            if evaluation is not None:
                doc |= evaluation.to_dict()
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(_training_line(trained))
        for evaluation in (trained.evaluation, trained.extrapolation):
            if evaluation is not None:
                click.echo(evaluation.table())
        click.echo(f"wrote {saved}")
    if history.stopped_reason == "non_finite":
        raise DynsysError(f"{history.message}; the best parameters were saved to {saved}")
    if history.stopped_reason == "interrupted":
        click.echo(f"interrupted: the best parameters so far were saved to {saved}", err=True)
        sys.exit(130)


STOPPED = {
    "epochs": "ran them all",
    "converged": "converged",
    "early_stop": "stopped early",
    "non_finite": "stopped: the loss was not finite",
    "interrupted": "interrupted",
}
"""How a training stage ended (History.stopped_reason), as the training line says it."""


def _training_line(trained) -> str:
    plan = trained.plan
    settings = ", ".join(f"{k}={v}" for k, v in asdict(plan.model).items())
    spec = trained.spec
    stages = "; ".join(
        _stage_text(name, h, stage_count=len(trained.stages)) for name, h in trained.stages.items()
    )
    return (
        f"trained a model of kind {plan.kind} ({settings}) on {spec.system} "
        f"({_count(spec.n_train, 'training trajectory', 'training trajectories')}, "
        f"h = {spec.h:g}): {stages}"
    )


def _stage_text(name: str, h, stage_count: int) -> str:
    """'lbfgs, 300 iterations (all ran), best loss 0.0123 (4.2 s)'; a later stage named."""
    label = "" if name == "fit" and stage_count == 1 else f"{name.replace('_', ' ')}: "
    if h.optimizer == "closed_form":
        return f"{label}closed form ({h.wall_s:.2f} s)"
    unit = ("iteration", "iterations") if h.optimizer == "lbfgs" else ("epoch", "epochs")
    ended = STOPPED.get(h.stopped_reason, h.stopped_reason)
    return (
        f"{label}{h.optimizer}, {_count(h.epochs_run, *unit)} ({ended}), "
        f"best loss {h.best_loss:.3g} ({h.wall_s:.1f} s)"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@main.command("evaluate")
@click.argument("model_file", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--n-test", type=int, default=32, show_default=True, help="Fresh test trajectories.")
@click.option("--seed", type=int, default=None, help="Seed of the test set. Default: a fresh one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_command(model_file, n_test, seed, as_json) -> None:
    """Evaluate a saved MODEL on a fresh test set from the distribution it was trained on.

    Free-running rollouts against solve_ivp, beside explicit Euler, semi-implicit Euler and RK4
    at the same step h: relative L2 error, RMSE, max error, valid prediction time.

    \b
    Examples:
      dynsys evaluate jordan.npz
      dynsys evaluate jordan.npz --n-test 64 --seed 7 --json
    """
    from ..rnn.pipeline import evaluate_file

    evaluation = evaluate_file(model_file, n_test=n_test, seed=seed)
    if as_json:
        click.echo(json.dumps(evaluation.to_dict(), indent=2))
    else:
        click.echo(evaluation.table())


@main.command("forecast")
@click.option(
    "--system",
    "systems",
    multiple=True,
    help="A system to include (repeat). Default: every built-in ODE system.",
)
@click.option(
    "--model",
    "kinds",
    multiple=True,
    help="A model kind to include (repeat). Default: every kind.",
)
@click.option("--seed", "seeds", multiple=True, type=int, help="Seeds (repeat). Default: 0 1 2.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--out", metavar="FILE", help="Also write the JSON here (.json).")
@click.option("--plot", metavar="FILE", help="Draw the figure here (.png, .svg, .pdf).")
def forecast_command(systems, kinds, seeds, as_json, out, plot) -> None:
    """Fit every model kind on every system with its recipe and tabulate the forecasts.

    For each system, kind and seed: what `dynsys train SYSTEM --model KIND --seed N` fits,
    scored on its test set against solve_ivp beside Euler, semi-implicit Euler and RK4 at the
    same h (rel L2, valid time by normalised error 0.4 and by sMAPE 30%, in Lyapunov times
    where known, fit time); medians over the seeds.  Chaotic systems also get the
    solver-agreement horizon (DOP853 at rtol 1e-10 against 1e-12).

    \b
    Examples:
      dynsys forecast --system van_der_pol --model ngrc --model jordan --seed 0
      dynsys forecast --out forecast.json --plot forecast.png
    """
    from ..files import atomic_write
    from ..rnn.forecast import BENCHMARK_SYSTEMS, forecast_benchmark

    _forecast_input(systems, kinds, seeds, out, plot)
    systems, kinds, seeds = systems or BENCHMARK_SYSTEMS, kinds or None, seeds or (0, 1, 2)
    table = forecast_benchmark(
        systems,
        kinds,
        seeds,
        echo=None if as_json else lambda line: click.echo(line, err=True),
    )
    doc = table.to_dict()
    text = json.dumps(doc, indent=2)
    click.echo(text if as_json else table.markdown())  # before the files: a failed write
    if out is not None:  # keeps the results on the screen
        atomic_write(out, lambda f: f.write(text.encode()))
    if plot is not None:
        from ..plots import forecast_plot, save_figure

        fig, _ = forecast_plot(table)
        save_figure(fig, plot)


def _forecast_input(systems, kinds, seeds, out, plot) -> None:
    """Refuse, before any fit, a name not known or given twice, a seed below 0, and an output
    path with the wrong suffix or in a missing folder (the fits themselves are planned, and so
    checked, by :func:`~dynsys.rnn.forecast.forecast_benchmark` before the first)."""
    from ..plots.style import FORMATS
    from ..rnn.kinds import model_class
    from ..systems import system_class

    for flag, values, check in (
        ("--system", systems, system_class),
        ("--model", kinds, model_class),
        ("--seed", seeds, lambda seed: checks.integer("--seed", seed, minimum=0)),
    ):
        for i, value in enumerate(values):
            if value in values[:i]:
                raise InputError(f"{flag} {value} is given twice; give each once")
            check(value)
    if out is not None:
        _target("--out", out, (".json",))
    if plot is not None:
        _target("--plot", plot, FORMATS)
