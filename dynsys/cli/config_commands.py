"""``dynsys config``: check an experiment file, print it resolved, or print its JSON Schema.

pydantic and the config models are imported when a config command runs, not at start-up.
"""

from __future__ import annotations

import json

import click

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
    """Check FILE: print a one-line summary, or the first error (exit status 2).

    \b
    Example:
      dynsys config validate experiment.yaml --set model.hidden=64
    """
    from ..experiments.config import load_config

    config = load_config(file, overrides)
    system = config.system.name or f"own system ({', '.join(config.system.states or [])})"
    methods = config.simulation.methods
    parts = [config.name, system, f"{len(methods)} method{'s' if len(methods) > 1 else ''}"]
    if config.model is not None:
        parts.append(f"{config.model.kind} model")
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
    """Print FILE resolved: YAML with every default filled, which re-runs identically.

    \b
    Example:
      dynsys config show experiment.yaml --set system.params.k=4 > resolved.yaml
    """
    from ..experiments.config import load_config, resolved_yaml

    click.echo(resolved_yaml(load_config(file, overrides)), nl=False)


@config_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of experiment files, for editors to complete and check them.

    \b
    Example:
      dynsys config schema > experiment.schema.json
    """
    from ..experiments.config import config_schema

    click.echo(json.dumps(config_schema(), indent=2))
