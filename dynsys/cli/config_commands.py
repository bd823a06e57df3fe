"""``dynsys config``: check an experiment file, print it resolved, or print its JSON Schema.

pydantic and the config models are imported when a config command runs, not at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from ..errors import InputError
from . import DynsysGroup, main

_set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a field by its dotted path, the value read as YAML "
    "(--set model.hidden=64 --set 'simulation.s0=[1, 0]'); repeat for several.",
)


@main.group("config", cls=DynsysGroup)
def config_group() -> None:
    """Experiment files (YAML): check one, print it resolved, or print the JSON Schema.

    \b
    Example:
      dynsys config validate experiment.yaml --set simulation.dt=0.05
      dynsys config show experiment.yaml
      dynsys config schema > experiment.schema.json
    """


@config_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@_set_option
def validate_command(file: str, overrides: tuple[str, ...]) -> None:
    """Check FILE as `dynsys run` would (every sweep point too): print a one-line summary, or
    the first error (exit status 2).

    \b
    Example:
      dynsys config validate experiment.yaml --set model.hidden=64
    """
    from ..experiments.config import load_config

    config = load_config(file, overrides)
    _plan(file, config)
    system = config.system.name or f"own system ({', '.join(config.system.states or [])})"
    methods = config.simulation.methods
    parts = [config.name, system, f"{len(methods)} method{'s' if len(methods) > 1 else ''}"]
    if config.model is not None:
        parts.append(f"{config.model.kind} model")
    if config.lyapunov is not None:
        parts.append("Lyapunov exponents")
    if config.bifurcation is not None:
        parts.append("orbit diagram")
    if config.plots:
        parts.append(f"{len(config.plots)} figure{'s' if len(config.plots) > 1 else ''}")
    if config.sweep is not None:
        keys = [*config.sweep.grid, *{k for point in config.sweep.points for k in point}]
        parts.append(f"sweep over {', '.join(dict.fromkeys(keys)) or 'the base config'}")
    click.echo(f"{file}: valid ({', '.join(parts)})")


@config_group.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@_set_option
def show_command(file: str, overrides: tuple[str, ...]) -> None:
    """Print FILE resolved: YAML with every default filled, the system's recipe included (the
    dataset, model and training a run would use), which re-runs identically.

    \b
    Example:
      dynsys config show experiment.yaml --set system.params.k=4 > resolved.yaml
    """
    from ..experiments.config import load_config, resolved_yaml
    from ..experiments.run import filled_config

    config = load_config(file, overrides)
    click.echo(resolved_yaml(filled_config(_plan(file, config))), nl=False)


def _plan(file: str, config: Any) -> Any:
    """The run's plan of ``config`` (:func:`dynsys.experiments.run.plan_run`), and of every
    point of its sweep, so that a file passes here only if ``dynsys run`` would start it; an
    InputError names ``file`` (and the point)."""
    from ..experiments.config import parse_config
    from ..experiments.run import plan_run
    from ..experiments.sweep import sweep_points

    plan = _checked(file, plan_run, config)
    if config.sweep is not None:
        points, _ = sweep_points(config, file)
        for i, point in enumerate(points):
            values = ", ".join(f"{k} = {json.dumps(v)}" for k, v in point.values.items())
            where = f"{file}: sweep point {i + 1} ({values})"
            _checked(where, plan_run, parse_config(point.config_text, where))
    return plan


def _checked(where: str, plan_run: Callable[[Any], Any], config: Any) -> Any:
    """``plan_run(config)``, its InputError prefixed with ``where`` when it does not name it."""
    try:
        return plan_run(config)
    except InputError as err:
        message = str(err)
        if message.startswith(where):
            raise
        raise InputError(f"{where}: {message}") from None


@config_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of experiment files, for editors to complete and check them.

    \b
    Example:
      dynsys config schema > experiment.schema.json
    """
    from ..experiments.config import config_schema

    click.echo(json.dumps(config_schema(), indent=2))
