"""Options shared by the commands, and the parsing of their values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import numpy as np

from .. import checks
from ..checks import comma_list
from ..errors import InputError, unknown_name
from ..systems import System, get_system, system_class


def system_options(f: Callable) -> Callable:
    """SYSTEM, -p NAME=VALUE..., --s0, --t0, --t-end."""
    for option in reversed(
        [
            click.argument("system_name", metavar="SYSTEM"),
            click.option(
                "-p",
                "--param",
                "params",
                multiple=True,
                metavar="NAME=VALUE",
                help="Set a parameter; a comma list (k=1,2,4) runs a batch, one per value.",
            ),
            click.option(
                "--s0",
                "s0",
                multiple=True,
                metavar="V1,V2,...",
                help="Initial state, one value per state; repeat for a batch. "
                "Default: the system's typical initial state.",
            ),
            click.option("--t0", type=float, default=0.0, show_default=True, help="Start time."),
            click.option("--t-end", type=float, default=50.0, show_default=True, help="End time."),
        ]
    ):
        f = option(f)
    return f


def param_option(f: Callable) -> Callable:
    """-p/--param NAME=VALUE, repeatable: one value each (no batch)."""
    return click.option(
        "-p",
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a parameter (one value each).",
    )(f)


def dt_option(default: float | None = None, help: str = "Step size h.") -> Callable:
    return click.option(
        "--dt",
        type=float,
        default=default,
        show_default=default is not None,
        help=help + ("" if default is not None else " Default: 0.01 (1 for discrete maps)."),
    )


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(f)


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """['k=4', 'A=0.1,0.2'] -> {'k': 4.0, 'A': [0.1, 0.2]}; each value a finite number, each
    name given once."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"-p expects NAME=VALUE, got {pair!r}")
        if name in params:
            raise InputError(f"-p {name} is given twice; give a batch as one list: -p {name}=1,2")
        items = comma_list(f"-p {name}", text, "value")
        values = [checks.finite_number(f"parameter {name!r}", v) for v in items]
        params[name] = values[0] if len(values) == 1 else values
    return params


def parse_state(text: str, system: type[System]) -> list[float]:
    """'1, 0' -> [1.0, 0.0]: finite numbers, no empty item (the count is checked by
    :func:`build`)."""
    field = f"s0 ({', '.join(system.states)})"
    return [checks.finite_number(field, v) for v in comma_list("--s0", text, "value")]


def build(system_name: str, params: tuple[str, ...], s0: tuple[str, ...]):
    """The system with its parameters set, and the initial state(s) as an array."""
    cls = system_class(system_name)
    values = parse_params(params)
    known = [p.name for p in cls.parameters]
    for name in values:  # before get_system, whose own arguments -p name=1 would collide with
        if name not in known:
            raise unknown_name(f"parameter of {cls.name}", name, known)
    system = get_system(system_name, **values)
    if s0:
        start = np.array([_state(text, cls) for text in s0])
        start = start[0] if len(start) == 1 else start
    else:
        start = np.array(cls.default_s0, dtype=np.float64)
    return system, checks.initial_state(system, start)


def _state(text: str, cls: type[System]) -> list[float]:
    values = parse_state(text, cls)
    if len(values) != len(cls.states):
        raise InputError(
            f"s0 must have {len(cls.states)} values ({', '.join(cls.states)}), got {text!r}"
        )
    return values


def resolve_dt(system: System, dt: float | None) -> float:
    if dt is None:
        return 1.0 if system.kind == "map" else 0.01
    return dt


def parse_methods(text: str) -> list[str]:
    """'euler, rk4' -> ['euler', 'rk4']: no empty item, no method twice (names are checked by
    the library)."""
    methods = comma_list("--methods", text, "method")
    checks.each_once("--methods", methods, text)
    return methods
