"""The RNN commands: ``train`` (fit a network to simulated trajectories) and ``evaluate``."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click

from ..errors import DynsysError, InputError
from ..rnn.activations import ACTIVATIONS
from ..rnn.train import OPTIMIZERS
from . import main
from .options import parse_params

_UNSET = None  # an option left out: the system's recipe decides


def _ranges(pairs: tuple[str, ...], flag: str = "--range") -> dict[str, tuple[float, float]]:
    """['A=0.2,1'] -> {'A': (0.2, 1.0)}."""
    out = {}
    for pair in pairs:
        name, _, values = pair.partition("=")
        parts = values.split(",")
        try:
            low, high = (float(v) for v in parts)
        except ValueError:
            raise InputError(f"{flag} must be NAME=LOW,HIGH (two numbers), got {pair!r}") from None
        out[name.strip()] = (low, high)
    return out


def _out_path(out: str) -> Path:
    path = Path(out)
    if path.suffix != ".npz":
        raise InputError(f"--out must name a .npz file, got {out!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    return path


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
@click.option(
    "--model",
    "kind",
    type=click.Choice(["elman", "jordan"]),
    default="jordan",
    show_default=True,
    help="elman: driven response; jordan: learned step map.",
)
@click.option("--hidden", type=int, default=_UNSET, help="Hidden units. Default: 32.")
@click.option(
    "--activation",
    type=click.Choice(sorted(ACTIVATIONS)),
    default=_UNSET,
    help="Default: the recipe's (identity for the linear oscillator), else tanh.",
)
@click.option(
    "--residual/--no-residual",
    default=_UNSET,
    help="Jordan: output an increment, s(n+1) = s(n) + o. Default: on.",
)
@click.option("--dt", type=float, default=_UNSET, help="Step h of the data. Default: 0.1.")
@click.option("--t-end", type=float, default=_UNSET, help="Horizon of each trajectory.")
@click.option("--n-train", type=int, default=_UNSET, help="Training trajectories.")
@click.option("--n-test", type=int, default=_UNSET, help="Test trajectories.")
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZERS),
    default=_UNSET,
    help="Default: lbfgs (full batch).",
)
@click.option("--epochs", type=int, default=_UNSET, help="Epochs (L-BFGS: iterations).")
@click.option("--lr", type=float, default=_UNSET, help="Learning rate (adam, sgd).")
@click.option("--batch-size", type=int, default=_UNSET, help="Minibatch (adam, sgd).")
@click.option(
    "--closed-loop-epochs",
    type=int,
    default=_UNSET,
    help="Jordan: then fit through its own fed-back outputs.",
)
@click.option("--float32", is_flag=True, help="Compute in float32 (faster, less precise).")
@click.option("--seed", type=int, default=0, show_default=True, help="Data and model seed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file (.npz).")
def train_command(system_name, params, ranges, holdout, kind, seed, quiet, as_json, out, **options):
    """Fit an RNN to trajectories of SYSTEM simulated by solve_ivp, evaluate it, save it.

    The Elman network learns the driven response (drive in, trajectory out); the Jordan
    network the step map s(n+1) = f(s(n), x(n+1)), rolled out from s(0).  The test table
    compares its free-running rollout with explicit Euler, semi-implicit Euler and RK4 at the
    same h.  Options left out take the system's recipe (for driven_oscillator, the issue's
    setting: m=k=1, c=0, A in [0.2, 1], h=0.1, 200 steps).  Ctrl-C saves what was learned.

    \b
    Examples:
      dynsys train driven_oscillator --model jordan --out jordan.npz
      dynsys train driven_oscillator --model elman --out elman.npz
      dynsys train driven_oscillator --holdout A=0.8,1 --out jordan_holdout.npz
      dynsys train van_der_pol --model jordan --dt 0.05 --t-end 10 --out vdp.npz
    """
    from ..rnn.data import DatasetSpec
    from ..rnn.pipeline import recipe, save_trained, train_rnn

    path = _out_path(out)
    dataset, model, training = recipe(system_name, kind)
    fixed = {**dataset.pop("params", {}), **parse_params(params)}
    sampled = {k: v for k, v in dataset.pop("ranges", {}).items() if k not in fixed}
    sampled |= _ranges(ranges)
    for field, key in (("h", "dt"), ("t_end", "t_end"), ("n_train", "n_train")):
        if options[key] is not None:
            dataset[field] = options[key]
    if options["n_test"] is not None:
        dataset["n_test"] = options["n_test"]
    spec = DatasetSpec(
        system_name,
        params=fixed,
        ranges=sampled,
        holdout=_ranges(holdout, "--holdout"),
        seed=seed,
        **dataset,
    )
    model_changes = {
        "hidden": options["hidden"],
        "activation": options["activation"],
        "residual": options["residual"],
        "dtype": "float32" if options["float32"] else None,
    }
    model = replace(model, **{k: v for k, v in model_changes.items() if v is not None})
    train_changes = {
        k: options[k]
        for k in ("optimizer", "epochs", "lr", "batch_size", "closed_loop_epochs")
        if options[k] is not None
    }
    training = replace(training, seed=seed, **train_changes)
    trained = train_rnn(spec, model, training, progress=False if quiet or as_json else None)
    history = trained.history
    saved = save_trained(trained, path)
    if as_json:
        doc = {"model": str(saved), "history": history.summary()}
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


def _training_line(trained) -> str:
    s = trained.settings
    what = f"{s.kind} network, {s.hidden} {s.activation} units"
    if s.kind == "jordan" and s.residual:
        what += ", residual"
    stages = "; ".join(
        f"{'' if name == 'fit' else name.replace('_', ' ') + ': '}{h.optimizer} "
        f"{h.epochs_run} epochs, {h.stopped_reason}, best loss {h.best_loss:.3g} "
        f"({h.wall_s:.1f} s)"
        for name, h in trained.stages.items()
    )
    return (
        f"trained a {what} on {trained.spec.system} ({trained.spec.n_train} trajectories, "
        f"h = {trained.spec.h:g}): {stages}"
    )


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
