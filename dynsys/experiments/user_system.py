"""Systems defined in a configuration file: states, parameters and equations as text.

A definition such as::

    system:
      states: [x, y]
      params: {a: 1.0, b: 0.5}
      equations: {x: "y", y: "-a*sin(x) - b*y + 0.3*cos(t)"}

becomes, through :func:`make_system_class`, a new :class:`~dynsys.systems.System` subclass whose
``rhs`` computes the equations with :mod:`dynsys.experiments.expressions` (numpy over the whole
batch; never eval'd, never compiled by numba), so it runs with every stepper, ``reference`` and
``compare``.  Optional parts, each checked and compiled the same way:

- ``drive``: the drive x(t), an expression of ``t`` and the parameters, read as ``x`` by the
  equations (the system is then driven: ``Trajectory.x`` holds it);
- ``jacobian``: entries by row state and column state, d(row)/dt differentiated by column,
  expressions of the states, parameters, ``t`` and ``x``; omitted entries are 0;
- ``energy``: an expression of the states and parameters.

Names: the equations read the states, the parameters, ``t`` and (with a drive) ``x``, plus the
constants ``pi`` and ``e`` unless a state or parameter takes those names.  A state or parameter
name is an ASCII identifier that is no Python keyword, no function of the expressions and none
of the reserved names (:func:`name_problem`, :func:`reserved_names`); a config file's names are
checked by the same rules when it is validated.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError, unknown_name
from ..systems import SYSTEMS, Parameter, System, jacobian_matrix, register
from ..systems.base import Params
from .expressions import FUNCTIONS, Expression, compile_expression

SPEC_KEYS = ("name", "states", "params", "equations", "drive", "jacobian", "energy", "s0", "split")
"""The keys of a system definition (see :func:`user_system_class`)."""


class UserSystem(System):
    """Base class of the systems made by :func:`make_system_class`: ``rhs`` computes text.

    ``expressions`` holds ds_i/dt for each state in order; ``spec`` the checked definition
    (plain data: an instance pickles as its definition and parameter values).
    """

    expressions: ClassVar[tuple[Expression, ...]]
    spec: ClassVar[dict[str, Any]]

    def rhs(self, t: float, s: np.ndarray, x: np.ndarray | None, p: Params) -> np.ndarray:
        """The vector field, shape (..., n): each equation over the batch of s, p, t and x."""
        s = np.asarray(s, dtype=np.float64)
        env = _env(self.states, s, p, t, x)
        parts = [expression(env) for expression in self.expressions]
        others = [np.shape(v) for k, v in env.items() if k not in self.states]  # p, t, x
        shape = np.broadcast_shapes(s.shape[:-1], *others, *(part.shape for part in parts))
        out = np.empty((*shape, len(parts)))
        for i, part in enumerate(parts):
            out[..., i] = part
        return out

    def __reduce__(self):
        return _rebuild, (self.spec, self.param_values())


def make_system_class(
    name: str,
    states: Sequence[str],
    params: Mapping[str, float] | None,
    equations: Mapping[str, str],
    *,
    drive: str | None = None,
    jacobian: Mapping[str, Mapping[str, str]] | None = None,
    energy: str | None = None,
    s0: Sequence[float] | None = None,
    split: int | None = None,
    field: str = "system",
) -> type[UserSystem]:
    """A new System subclass computing ``equations`` (one expression per state, by state).

    ``params`` gives each parameter's default; ``s0`` the default initial state (zeros when
    omitted); ``split`` the number of leading position states for semi-implicit Euler (half by
    default).  Every problem raises an :class:`~dynsys.errors.InputError` naming the field,
    ``field``-prefixed: ``system.equations.y``, ``system.params.a``, ...
    """
    name = _system_name(f"{field}.name", name)
    driven = drive is not None
    states = _states(f"{field}.states", states, reserved_names(driven=driven, parameter=False))
    params = _params(
        f"{field}.params", params, states, reserved_names(driven=driven, parameter=True)
    )
    t_names = ("t", "x") if drive is not None else ("t",)
    names = (*states, *params, *t_names)
    compiled = _equations(f"{field}.equations", equations, states, names)
    forcing = None
    if drive is not None:
        forcing = compile_expression(drive, (*params, "t"), field=f"{field}.drive")
    rows = None if jacobian is None else _jacobian(f"{field}.jacobian", jacobian, states, names)
    energy_expr = None
    if energy is not None:
        energy_expr = compile_expression(energy, (*states, *params), field=f"{field}.energy")
    spec = {
        "name": name,
        "states": list(states),
        "params": dict(params),
        "equations": {state: compiled[i].text for i, state in enumerate(states)},
        "drive": None if forcing is None else forcing.text,
        "jacobian": None if rows is None else _entries(rows, states),
        "energy": None if energy_expr is None else energy_expr.text,
        "s0": list(_initial_state(f"{field}.s0", s0, states)),
        "split": _split(f"{field}.split", split, len(states)),
    }
    namespace: dict[str, Any] = {
        "__doc__": _docstring(spec),
        "__module__": __name__,
        "name": name,
        "states": states,
        "parameters": tuple(Parameter(k, v, "user parameter") for k, v in params.items()),
        "default_s0": tuple(spec["s0"]),
        "split": spec["split"],
        "expressions": compiled,
        "spec": spec,
    }
    if forcing is not None:
        namespace["forcing"] = _forcing_method(forcing)
    if rows is not None:
        namespace["jacobian"] = _jacobian_method(rows)
    if energy_expr is not None:
        namespace["energy"] = _energy_method(energy_expr)
    return type(_class_name(name), (UserSystem,), namespace)


def user_system_class(spec: Mapping[str, Any], *, field: str = "system") -> type[UserSystem]:
    """:func:`make_system_class` from a mapping with the keys :data:`SPEC_KEYS` (``name``
    defaults to "user_system"; ``states`` and ``equations`` are required)."""
    if not isinstance(spec, Mapping):
        raise InputError(f"{field} must be a mapping with states, params and equations")
    for key in spec:
        if key not in SPEC_KEYS:
            raise unknown_name(f"key of {field}", str(key), SPEC_KEYS)
    for key in ("states", "equations"):
        if key not in spec:
            raise InputError(f"{field}.{key} is required")
    options = {k: spec[k] for k in ("drive", "jacobian", "energy", "s0", "split") if k in spec}
    return make_system_class(
        spec.get("name", "user_system"),
        spec["states"],
        spec.get("params"),
        spec["equations"],
        field=field,
        **options,
    )


def register_user_system(cls: type[System]) -> type[System]:
    """Register ``cls`` under ``cls.name``, replacing a user system but never a built-in one."""
    existing = SYSTEMS.get(cls.name)
    if existing is not None and existing is not cls and not issubclass(existing, UserSystem):
        raise InputError(
            f"system name {cls.name!r} is a built-in system; give the user system another name"
        )
    return register(cls)


# -- checks ----------------------------------------------------------------------------------


def _system_name(field: str, name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[^\W\d_][\w\-]*", name):
        raise InputError(
            f"{field} must be letters, digits, '_' or '-', starting with a letter, got {name!r}"
        )
    return name


RESERVED: dict[str, str] = {"t": "the time"}
"""Names no state or parameter may take, and what each is."""
RESERVED_WITH_DRIVE: dict[str, str] = {"x": "the drive's sample (the system has a drive)"}
"""Reserved too when the system has a drive: the equations read its sample as ``x``."""
RESERVED_PARAMS: dict[str, str] = {
    "self": "the system's methods (System(**params))",
    "name": "the system's name (get_system(name, **params))",
}
"""Reserved for parameters only: parameters are passed by keyword beside these."""


def reserved_names(*, driven: bool, parameter: bool) -> dict[str, str]:
    """The names a state (``parameter`` False) or a parameter may not take, and why: the time
    ``t``, the drive's ``x`` when ``driven``, and for parameters the keywords they are passed
    beside."""
    return {
        **RESERVED,
        **(RESERVED_WITH_DRIVE if driven else {}),
        **(RESERVED_PARAMS if parameter else {}),
    }


def name_problem(name: str, reserved: Mapping[str, str]) -> str | None:
    """Why ``name`` cannot name a state or parameter, or None when it can.

    A name is an identifier (letters, digits and _, not starting with a digit; Greek letters
    such as σ are fine) that Unicode's NFKC normalisation leaves unchanged (Python reads the
    fullwidth ｘ and the micro sign µ as x and μ, so they would name another thing), not a
    Python keyword, not starting with __, not a function of the expressions
    (:data:`~dynsys.experiments.expressions.FUNCTIONS`) and not among ``reserved``.  The
    constants ``pi`` and ``e`` may be taken: the declared name wins in the expressions.
    """
    normal = unicodedata.normalize("NFKC", name)
    if not name.isidentifier():
        return f"{name!r} is not a name (letters, digits and _, not starting with a digit)"
    if normal != name:
        return f"{name!r} is read by Python as {normal!r}; write {normal!r}"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword; choose another name"
    if name.startswith("__"):
        return f"{name!r} starts with __, which is reserved"
    if name in FUNCTIONS:
        return f"{name!r} is the name of a function; choose another name"
    if name in reserved:
        return f"{name!r} is reserved for {reserved[name]}"
    return None


def _declared_name(field: str, name: Any, reserved: Mapping[str, str]) -> str:
    """A state or parameter name: an identifier that no expression reads otherwise."""
    if not isinstance(name, str):
        hint = " (quote it: YAML reads on/off/yes/no as booleans)" if isinstance(name, bool) else ""
        raise InputError(f"{field} must be a name (a string), got {name!r}{hint}")
    problem = name_problem(name, reserved)
    if problem is not None:
        raise InputError(f"{field}: {problem}")
    return name


def _states(field: str, states: Any, reserved: Mapping[str, str]) -> tuple[str, ...]:
    if isinstance(states, str | bytes) or not isinstance(states, Sequence):
        raise InputError(f"{field} must be a list of state names, got {states!r}")
    if not states:
        raise InputError(f"{field} must name at least one state")
    names = tuple(_declared_name(f"{field}[{i}]", s, reserved) for i, s in enumerate(states))
    for i, state in enumerate(names):
        if state in names[:i]:
            raise InputError(f"{field}[{i}]: {state!r} appears twice")
    return names


def _params(
    field: str, params: Any, states: tuple[str, ...], reserved: Mapping[str, str]
) -> dict[str, float]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InputError(f"{field} must map parameter names to numbers, got {params!r}")
    checked: dict[str, float] = {}
    for key, value in params.items():
        where = f"{field}.{key}"
        name = _declared_name(where, key, reserved)
        if name in states:
            raise InputError(f"{where}: {name!r} is also a state; choose another name")
        checked[name] = _finite(where, value)
    return checked


def _finite(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InputError(f"{field} must be a finite number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{field} must be a finite number, got {value!r}")
    return number


def _equations(
    field: str, equations: Any, states: tuple[str, ...], names: tuple[str, ...]
) -> tuple[Expression, ...]:
    if not isinstance(equations, Mapping):
        raise InputError(f"{field} must map each state to its ds/dt, got {equations!r}")
    _only_states(field, equations, states)
    for state in states:
        if state not in equations:
            raise InputError(
                f"{field}.{state}: missing; every state needs an equation "
                f"(states: {', '.join(states)})"
            )
    return tuple(
        compile_expression(equations[state], names, field=f"{field}.{state}") for state in states
    )


def _only_states(field: str, mapping: Mapping, states: tuple[str, ...]) -> None:
    for key in mapping:
        if key not in states:
            close = difflib.get_close_matches(str(key), states, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"{field}.{key}: {key!r} is not a state{hint}; states: {', '.join(states)}"
            )


def _jacobian(
    field: str, jacobian: Any, states: tuple[str, ...], names: tuple[str, ...]
) -> tuple[tuple[Expression | None, ...], ...]:
    """The entries d(row)/d(column), row by row; None where omitted (0)."""
    if not isinstance(jacobian, Mapping):
        raise InputError(f"{field} must map each state to a row {{state: expression}}")
    _only_states(field, jacobian, states)
    rows = []
    for row in states:
        entries = jacobian.get(row)
        entries = {} if entries is None else entries
        if not isinstance(entries, Mapping):
            raise InputError(f"{field}.{row} must map states to expressions, got {entries!r}")
        _only_states(f"{field}.{row}", entries, states)
        rows.append(
            tuple(
                compile_expression(entries[col], names, field=f"{field}.{row}.{col}")
                if col in entries
                else None
                for col in states
            )
        )
    return tuple(rows)


def _entries(rows, states: tuple[str, ...]) -> dict[str, dict[str, str]]:
    return {
        row: {col: e.text for col, e in zip(states, entries, strict=True) if e is not None}
        for row, entries in zip(states, rows, strict=True)
    }


def _initial_state(field: str, s0: Any, states: tuple[str, ...]) -> tuple[float, ...]:
    if s0 is None:
        return (0.0,) * len(states)
    wanted = f"{len(states)} finite numbers ({', '.join(states)})"
    if isinstance(s0, str | bytes | Mapping) or not isinstance(s0, Sequence):
        raise InputError(f"{field} must be {wanted}, got {s0!r}")
    if len(s0) != len(states):
        raise InputError(f"{field} must be {wanted}, got {len(s0)} values")
    return tuple(_finite(f"{field}[{i}]", v) for i, v in enumerate(s0))


def _split(field: str, split: Any, n: int) -> int | None:
    if split is None:
        return None
    if isinstance(split, bool) or not isinstance(split, int) or not 0 <= split <= n:
        raise InputError(f"{field} must be a whole number of position states, 0 to {n}")
    return split


# -- the generated class -----------------------------------------------------------------------


def _env(
    states: tuple[str, ...], s: np.ndarray, p: Mapping[str, Any], t: Any = None, x: Any = None
) -> dict[str, Any]:
    """The values the expressions read: states (from the last axis of s), parameters, t, x."""
    env: dict[str, Any] = {name: s[..., i] for i, name in enumerate(states)}
    env.update(p)
    if t is not None:
        env["t"] = t
    if x is not None:
        env["x"] = x
    return env


def _filled(value: np.ndarray, *shapes: tuple[int, ...]) -> np.ndarray:
    """``value`` broadcast to the batch of ``shapes``, as a fresh array."""
    shape = np.broadcast_shapes(value.shape, *shapes)
    return value if value.shape == shape else np.broadcast_to(value, shape).copy()


def _forcing_method(drive: Expression):
    def forcing(t, p):
        value = drive({**p, "t": t})
        return _filled(value, np.shape(t), *(np.shape(v) for v in p.values()))

    forcing.__doc__ = f"x(t) = {drive.text}."
    return staticmethod(forcing)


def _jacobian_method(rows: tuple[tuple[Expression | None, ...], ...]):
    def jacobian(self, t, s, p):
        s = np.asarray(s, dtype=np.float64)
        x = self.forcing(t, p) if self.forcing is not None else None
        env = _env(self.states, s, p, t, x)
        entries = [[0.0 if e is None else e(env) for e in row] for row in rows]
        return jacobian_matrix(entries, s, p)

    jacobian.__doc__ = "The Jacobian dg/ds from the given entries, shape (..., n, n)."
    return jacobian


def _energy_method(energy: Expression):
    def energy_(self, s, p):
        s = np.asarray(s, dtype=np.float64)
        value = energy(_env(self.states, s, p))
        return _filled(value, s.shape[:-1], *(np.shape(v) for v in p.values()))

    energy_.__name__ = energy_.__qualname__ = "energy"
    energy_.__doc__ = f"E = {energy.text}."
    return energy_


def _docstring(spec: Mapping[str, Any]) -> str:
    """The summary line and the ``Equations::`` block."""
    params = ", ".join(spec["params"]) or "none"
    lines = [
        f"User-defined system {spec['name']!r}: states {', '.join(spec['states'])}; "
        f"parameters {params}.",
        "",
        "Equations::",
        "",
    ]
    block = [f"    d{s}/dt = {_one_line(spec['equations'][s])}" for s in spec["states"]]
    if spec["drive"] is not None:
        block[-1] += f",   with the drive x(t) = {_one_line(spec['drive'])}"
    lines += block
    if spec["energy"] is not None:
        lines += ["", f"Energy: E = {_one_line(spec['energy'])}."]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _class_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]+", name) if part)


def _rebuild(spec: dict[str, Any], params: dict[str, Any]) -> System:
    """An instance from its definition and parameter values (for pickle)."""
    return make_system_class(**spec)(**params)
