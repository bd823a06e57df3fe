"""Experiment files: one YAML file describes a whole experiment, checked by pydantic models.

A file names the experiment and its system (a built-in one, or states and equations of your
own), and may set the simulation, the reference solver, a dataset, a model and its training,
figures, outputs, Lyapunov exponents, an orbit diagram and a sweep; every other field keeps its
default::

    name: seed-oscillator
    system: {name: driven_oscillator, params: {k: 4.0}}
    simulation: {s0: [1.0, 0.0], dt: 0.01, t_end: 20, methods: [euler, rk4]}

:func:`load_config` reads a file with YAML's safe loader, applies ``--set`` overrides
(:func:`apply_overrides`) and validates the result.  Numbers are read as YAML 1.2 writes them
(``1e-3`` is a number, ``010`` is ten, ``0o10`` eight; ``1:30`` and dates are text, which a
number field refuses), and a key written twice in one mapping is an error, not the last one
winning.  A file (a regular file: a FIFO or a device is refused without reading it) may have at
most :data:`MAX_BYTES` bytes, :data:`MAX_VALUES` values and :data:`MAX_DEPTH` levels of
nesting, aliases expanded; reading stops at the first value over a limit.  Every mistake raises
a :class:`ConfigError` (an InputError) of one line naming the file, the dotted path and its
line::

    config.yaml: model.hiden (line 7): unknown key; did you mean 'hidden'?

:func:`resolved_yaml` writes a config back with every default filled (it re-runs identically),
:func:`config_schema` is its JSON Schema (for editors), and :func:`config_hash` names a config's
results by their content.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    Strict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .. import checks
from ..errors import InputError, unknown_name
from ..files import MiB, read_text
from ..lyapunov import TANGENT_MODES
from ..parallel import newton as newton_method
from ..reference import SOLVE_IVP_METHODS
from ..rnn.data import ODE_STEPPERS
from ..simulate import SIMULATE_BACKENDS
from ..steppers import METHODS, STEPPERS
from ..systems import SYSTEMS

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
"""Names of experiments and figure files: letters, digits, '_', '.' and '-'."""
MAX_BYTES = MiB
"""A config file may have at most this many bytes (1 MiB)."""
MAX_VALUES = 100_000
"""A config may hold at most this many values (keys, items and scalars), aliases expanded."""
MAX_DEPTH = 64
"""A config may nest at most this many levels of mappings and lists, aliases expanded."""


class ConfigError(InputError):
    """A config file or override that does not validate: one line with the path and line."""

    def __init__(self, message: str):
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


# -- reading YAML ----------------------------------------------------------------------------

_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$")
"""Integers as YAML 1.2 writes them: 010 is ten, 0o10 eight, 0x10 sixteen; no base 60."""
_FLOAT = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)
"""Floats: 1.5, .5, 1e-3 (YAML 1.1 wants 1.0e-3), .inf, .nan; no base 60 (1:30 is text)."""
_NUMBER_FIRST = list("-+.0123456789")
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_DROPPED = (_INT_TAG, _FLOAT_TAG, "tag:yaml.org,2002:timestamp")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Limits(yaml.composer.Composer):
    """YAML's composer, refusing more than MAX_VALUES nodes or MAX_DEPTH levels as it goes
    (aliases are counted once here; :func:`_walk` counts them expanded)."""

    source = "<string>"

    def compose_document(self) -> yaml.Node:
        self._count, self._depth = 0, 0
        return super().compose_document()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        self._count += 1
        self._depth += 1
        try:
            if self._count > MAX_VALUES:
                raise ConfigError(
                    f"{self.source}: line {self._line()}: too many values: a config holds at "
                    f"most {MAX_VALUES}"
                )
            if self._depth > MAX_DEPTH:
                raise ConfigError(
                    f"{self.source}: line {self._line()}: nested too deeply: a config nests at "
                    f"most {MAX_DEPTH} levels of mappings and lists"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _line(self) -> int:
        return self.peek_event().start_mark.line + 1

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
        node = super().compose_scalar_node(anchor)
        if _SURROGATE.search(node.value):  # from an escape such as "\ud800": no character
            raise yaml.composer.ComposerError(
                None,
                None,
                "an escape \\uD800-\\uDFFF is half of a UTF-16 pair, not a character; write "
                "the character itself or its \\U escape",
                node.start_mark,
            )
        return node


class _Constructor(yaml.constructor.SafeConstructor):
    """YAML's safe constructor; integers as :data:`_INT` reads them, and a value an explicit
    tag cannot build (``!!int abc``) as a YAML error at its line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as err:
            reason = str(err) if len(str(err)) <= 80 else f"{str(err)[:77]}..."
            problem = f"cannot read {_short(node.value)} as {node.tag}: {reason}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None

    def construct_yaml_int(self, node: yaml.Node) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        base = {"0o": 8, "0x": 16}.get(text[:2].lower(), 10)
        return sign * int(text[2:] if base != 10 else text, base)


_Constructor.add_constructor(_INT_TAG, _Constructor.construct_yaml_int)


class _Resolver(yaml.resolver.Resolver):
    """YAML's resolver with numbers read by :data:`_INT` and :data:`_FLOAT`, dates as text."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(_INT_TAG, _INT, _NUMBER_FIRST)
_Resolver.add_implicit_resolver(_FLOAT_TAG, _FLOAT, _NUMBER_FIRST)


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    _Limits,
    _Constructor,
    _Resolver,
):
    """The loader: pure Python, whose messages name the line and column of a mistake."""

    def __init__(self, stream: str, source: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _Limits.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self.source = source


_FastLoader: Any = None
if getattr(yaml, "__with_libyaml__", False):

    class _FastLoader(_Limits, yaml.cyaml.CParser, _Constructor, _Resolver):  # type: ignore[no-redef]
        """The same loader on libyaml's parser (about five times faster); a file it cannot
        parse is read again by :class:`_Loader` for the message."""

        def __init__(self, stream: str, source: str):
            yaml.cyaml.CParser.__init__(self, stream)
            _Limits.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)
            self.source = source


class _Dumper(yaml.SafeDumper):
    """YAML's safe dumper, quoting the text that :class:`_Loader` (or YAML 1.1) reads as a
    number."""


_Dumper.add_implicit_resolver(_INT_TAG, _INT, _NUMBER_FIRST)
_Dumper.add_implicit_resolver(_FLOAT_TAG, _FLOAT, _NUMBER_FIRST)


def _read_yaml(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """The data of ``text`` and the line of each key and list item, by dotted path.

    Refuses, as it reads, more than :data:`MAX_VALUES` values, more than :data:`MAX_DEPTH`
    levels, a key written twice in one mapping, and aliases that expand beyond those limits.
    """
    if _FastLoader is not None:
        try:
            return _load(_FastLoader(text, source), source)
        except (yaml.YAMLError, UnicodeEncodeError):
            pass  # read again below, for the line and column of the mistake
    try:
        return _load(_Loader(text, source), source)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(err.problem or err.context or "cannot read it")
        if err.problem and err.context and not err.context.startswith("while"):
            problem = f"{err.context}, {problem}"  # expected a single document, but found ...
        problem = " ".join(problem.split())
        raise ConfigError(f"{source}: malformed YAML{where}: {problem}") from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        column = err.position - text.rfind("\n", 0, err.position)
        raise ConfigError(
            f"{source}: malformed YAML at line {line}, column {column}: "
            f"character #x{err.character:04x} is not allowed"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: malformed YAML: {' '.join(str(err).split())}") from None


def _load(loader: Any, source: str) -> tuple[Any, dict[str, int]]:
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[str, int] = {}
        size, _ = _walk(node, "", lines, {}, set(), source, 1)
        if size > MAX_VALUES:
            raise ConfigError(
                f"{source}: aliases expand the file to {size} values (at most {MAX_VALUES})"
            )
        return loader.construct_document(node), lines
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None
    finally:
        loader.dispose()


def _walk(
    node: yaml.Node,
    path: str,
    lines: dict[str, int],
    seen: dict[int, tuple[int, int]],
    stack: set,
    source: str,
    level: int,
) -> tuple[int, int]:
    """Record the lines below ``node`` at nesting ``level``; refuse a key written twice in a
    mapping.  Return the number of values of ``node`` and its depth, aliases expanded."""
    key = id(node)
    if key in stack:
        raise ConfigError(
            f"{source}: line {node.start_mark.line + 1}: an alias refers to itself "
            "(a recursive structure)"
        )
    if key not in seen:
        stack.add(key)
        size, depth = 1, 1
        if isinstance(node, yaml.MappingNode):
            keys: dict[tuple[str, str], int] = {}
            for key_node, value in node.value:
                name = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                sub = _join(path, name)
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                    if (key_node.tag, name) in keys:
                        raise _twice(source, sub, keys[key_node.tag, name], line)
                    keys[key_node.tag, name] = line
                lines.setdefault(sub, line)
                for child in (key_node, value):
                    n, d = _walk(child, sub, lines, seen, stack, source, level + 1)
                    size, depth = size + n, max(depth, d + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                sub = _join(path, i)
                lines.setdefault(sub, item.start_mark.line + 1)
                n, d = _walk(item, sub, lines, seen, stack, source, level + 1)
                size, depth = size + n, max(depth, d + 1)
        stack.discard(key)
        seen[key] = (size, depth)
    size, depth = seen[key]
    if level + depth - 1 > MAX_DEPTH:  # the composer saw fewer levels: aliases add them
        raise ConfigError(
            f"{source}: aliases nest the file more than {MAX_DEPTH} levels deep (the anchor "
            f"at line {node.start_mark.line + 1})"
        )
    return size, depth


def _twice(source: str, path: str, first: int, again: int) -> ConfigError:
    """A key written twice in one mapping (YAML would keep the last silently)."""
    where = f"lines {first} and {again}" if first != again else f"line {first}, twice"
    return ConfigError(f"{source}: {path} ({where}): the key is written twice; keep one")


def _join(path: str, part: str | int) -> str:
    """``path`` extended by a key (``a.b``) or a list index (``a[0]``)."""
    if isinstance(part, int) and not isinstance(part, bool):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else str(part)


# -- field types -----------------------------------------------------------------------------


def _number_as_text(value: Any) -> Any:
    """An expression written as a bare number (``y: 0``) is the text of that number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return value


Number = Annotated[float, Strict()]
"""A finite float; an int is taken, text and booleans are not."""
Count = Annotated[int, Strict()]
Positive = Annotated[float, Strict(), Field(gt=0)]
Interval = tuple[Number, Number]
Expression = Annotated[str, BeforeValidator(_number_as_text)]
Method = Literal[(*METHODS, "map")]
SolveIvpMethod = Literal[SOLVE_IVP_METHODS]
DriveNodes = Literal[ODE_STEPPERS]
LyapunovMethod = Literal[tuple(STEPPERS)]
TangentMode = Literal[TANGENT_MODES]


def _error(path: str, message: str) -> PydanticCustomError:
    """A validation error at ``path``, a dotted path below the model or field raising it."""
    return PydanticCustomError("dynsys", "{message}", {"path": path, "message": message})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# -- the sections ----------------------------------------------------------------------------


class SystemConfig(_Section):
    """A built-in system by ``name``, or your own by ``states`` and ``equations``.

    ``params`` sets parameters of either.  Your own system reads expressions in its states,
    ``params`` and t: ``equations`` (ds/dt of each state), ``drive`` (the input x(t), which the
    equations read as ``x``), ``jacobian`` (rows then columns by state), ``energy`` (in the
    states and params only) and its default initial state ``s0`` (zeros).
    """

    name: str | None = Field(None, description="A built-in system (see `dynsys systems`).")
    params: dict[str, Number] = Field(default_factory=dict, description="Parameter values.")
    states: list[str] | None = Field(None, description="Your own system: its state names.")
    equations: dict[str, Expression] | None = Field(
        None, description="Your own system: ds/dt of each state, an expression."
    )
    drive: Expression | None = Field(None, description="The input x(t): an expression in t.")
    jacobian: dict[str, dict[str, Expression]] | None = None
    energy: Expression | None = None
    s0: list[Number] | None = Field(None, description="Default initial state (zeros).")

    @model_validator(mode="before")
    @classmethod
    def _zero_s0(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("name") is None and data.get("s0") is None:
            states = data.get("states")
            if isinstance(states, list):
                return {**data, "s0": [0.0] * len(states)}
        return data

    @model_validator(mode="after")
    def _check(self) -> SystemConfig:
        own_fields = ("states", "equations", "drive", "jacobian", "energy", "s0")
        own = [name for name in own_fields if getattr(self, name) is not None]
        if self.name is not None and own:
            raise _error(
                "",
                f"give either name (a built-in system) or states and equations (your own), "
                f"not both: name and {', '.join(own)}",
            )
        if self.name is not None:
            self._check_builtin()
        elif self.states is None or self.equations is None:
            missing = "equations" if self.states is not None else "states"
            if not own:
                raise _error(
                    "",
                    "needs a name (a built-in system: "
                    f"{', '.join(SYSTEMS)}) or states and equations (your own)",
                )
            raise _error(
                missing, f"your own system needs states and equations; {missing} is missing"
            )
        else:
            self._check_own()
        return self

    def _check_builtin(self) -> None:
        if self.name not in SYSTEMS:
            raise _error("name", str(unknown_name("system", self.name, SYSTEMS)))
        cls = SYSTEMS[self.name]
        spec = {p.name: p for p in cls.parameters}
        for key, value in self.params.items():
            if key not in spec:
                raise _error(f"params.{key}", str(unknown_name("parameter", key, spec)))
            try:
                spec[key].validate(value, self.name)
            except InputError as err:
                raise _error(f"params.{key}", str(err)) from None

    def _check_own(self) -> None:
        from .user_system import name_problem, reserved_names

        states, params = self.states or [], list(self.params)
        if not states:
            raise _error("states", "must name at least one state")
        driven = self.drive is not None
        for where, names in (("states", states), ("params", params)):
            reserved = reserved_names(driven=driven, parameter=where == "params")
            for i, name in enumerate(names):
                problem = name_problem(name, reserved)
                if problem is not None:
                    raise _error(
                        f"{where}[{i}]" if where == "states" else f"params.{name}", problem
                    )
        for name in states:
            if states.count(name) > 1:
                raise _error("states", f"{name!r} appears twice")
            if name in self.params:
                raise _error(f"params.{name}", f"{name!r} is a state and a parameter")
        _check_keys("equations", self.equations or {}, states, "state", every=True)
        _check_keys("jacobian", self.jacobian or {}, states, "state")
        for row, columns in (self.jacobian or {}).items():
            _check_keys(f"jacobian.{row}", columns, states, "state")
        if self.s0 is not None and len(self.s0) != len(states):
            raise _error("s0", f"must have {len(states)} values ({', '.join(states)})")
        names = [*states, *params, "t"]
        in_field = [*names, "x"] if self.drive is not None else names
        for key, text in (self.equations or {}).items():
            _check_expression(text, in_field, f"equations.{key}")
        if self.drive is not None:
            _check_expression(self.drive, [*params, "t"], "drive")
        for row, columns in (self.jacobian or {}).items():
            for column, text in columns.items():
                _check_expression(text, in_field, f"jacobian.{row}.{column}")
        if self.energy is not None:
            _check_expression(self.energy, [*states, *params], "energy")

    @property
    def state_names(self) -> list[str]:
        """The states of the system, built-in or your own."""
        return list(SYSTEMS[self.name].states) if self.name else list(self.states or [])

    @property
    def param_names(self) -> list[str]:
        """The parameters the system takes: a built-in one's, or the keys of ``params``."""
        if self.name:
            return [p.name for p in SYSTEMS[self.name].parameters]
        return list(self.params)

    @property
    def kind(self) -> str:
        """Whether the system is an "ode" or a "map" (your own systems are ODEs)."""
        return SYSTEMS[self.name].kind if self.name else "ode"


def _check_keys(
    where: str, mapping: dict, known: Sequence[str], what: str, every: bool = False
) -> None:
    """Keys of ``mapping`` among ``known`` (closest match), and all of them if ``every``."""
    for key in mapping:
        if key not in known:
            raise _error(f"{where}.{key}", str(unknown_name(what, str(key), known)))
    missing = [name for name in known if name not in mapping] if every else []
    if missing:
        raise _error(where, f"missing the {what} {', '.join(map(repr, missing))}")


def _check_expression(text: str, names: Sequence[str], path: str) -> None:
    """Parse ``text`` (reading ``names``) with the expression grammar, or a validation error."""
    from .expressions import compile_expression

    field = f"system.{path}"
    try:
        compile_expression(text, tuple(names), field=field)
    except InputError as err:
        message = str(err)
        raise _error(path, message.removeprefix(f"{field}: ")) from None


class NewtonConfig(_Section):
    """Newton's method over the trajectory (simulation.backend: newton)."""

    variant: Literal[newton_method.MODES] = Field(
        "full",
        description="Full Jacobians (DEER), their diagonals (quasi) or Levenberg-Marquardt "
        "steps (damped).",
    )
    max_iterations: Count = Field(
        newton_method.MAX_ITERATIONS, ge=1, description="Linear solves per block of steps."
    )
    tolerance: Positive = Field(
        newton_method.TOLERANCE,
        lt=1,
        description="Converged when updates and residuals are this small.",
    )


class SimulationConfig(_Section):
    """The recurrences: initial state(s), the time grid, the steppers and the time loop."""

    s0: list[Number] | list[list[Number]] | None = Field(
        None, description="Initial state, or a list of them (a batch). Default: the system's."
    )
    t0: Number = 0.0
    t_end: Number = Field(20.0, description="End time; > t0.")
    dt: Positive = Field(0.01, description="Step h (maps: 1).")
    methods: list[Method] = Field(
        default_factory=lambda: ["euler", "semi_implicit_euler", "rk4"],
        min_length=1,
        description="Steppers to run ('map' for a discrete map).",
    )
    save_every: Count = Field(1, ge=1)
    backend: Literal[SIMULATE_BACKENDS] = Field(
        "auto",
        description="The time loop (numpy, numba, auto) or all steps at once (scan, newton).",
    )
    newton: NewtonConfig | None = Field(
        None, description="Settings of backend: newton (default: full, 50 iterations)."
    )
    events: list[str] = Field(
        default_factory=list,
        description=(
            "Zero crossings to locate on each trajectory, such as 'z=27,dz>0', 'x=0' or "
            "'x=0,terminal' (events/<method>.json); needs save_every: 1."
        ),
    )

    @field_validator("s0", mode="wrap")
    @classmethod
    def _one_message(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise _error(
                "", f"must be a list of numbers or a list of such lists, got {_short(value)}"
            ) from None

    @model_validator(mode="after")
    def _check(self) -> SimulationConfig:
        if not self.t_end > self.t0:
            raise _error("t_end", f"must be > t0 = {self.t0:g}, got {self.t_end:g}")
        span = self.t_end - self.t0
        if self.dt > span * (1 + 1e-9):
            raise _error("dt", f"must not exceed t_end - t0 = {span:g}, got {self.dt:g}")
        for i, method in enumerate(self.methods):
            if method in self.methods[:i]:
                raise _error(f"methods[{i}]", f"{method!r} is listed twice")
        for i, event in enumerate(self.events):
            if event in self.events[:i]:
                raise _error(f"events[{i}]", f"{event!r} is listed twice")
        if self.newton is not None and self.backend != "newton":
            raise _error(
                "newton",
                f"applies to backend: newton, got backend: {self.backend}; set "
                "simulation.backend to newton or remove simulation.newton",
            )
        if self.events and self.save_every != 1:
            raise _error(
                "save_every",
                f"events need every step kept: set simulation.save_every to 1 (it is "
                f"{self.save_every}) or remove simulation.events",
            )
        return self


class ReferenceConfig(_Section):
    """solve_ivp, the reference the steppers are compared with."""

    method: SolveIvpMethod = "DOP853"
    rtol: Positive = 1e-10
    atol: Positive = 1e-12


class _Given(_Section):
    """A section of settings declared elsewhere (see :mod:`dynsys.rnn.settings`); a field left
    out (None) takes the system's recipe."""

    def given(self) -> dict[str, Any]:
        """The fields that were set, as plain values (lists for tuples)."""
        return {k: v for k, v in self.model_dump(mode="python").items() if v is not None}


class _DatasetBase(_Given):
    @model_validator(mode="after")
    def _check(self) -> _DatasetBase:
        for where in ("ranges", "s0_ranges", "holdout"):
            for name, (low, high) in (getattr(self, where, None) or {}).items():
                if not low < high:
                    raise _error(
                        f"{where}.{name}",
                        f"must be [low, high] with low < high, got [{low:g}, {high:g}]",
                    )
        return self


class _ModelBase(_Given):
    @model_validator(mode="after")
    def _check(self) -> _ModelBase:
        from ..rnn.kinds import model_class

        own = model_class(self.kind).settings_fields()
        for name, _value in self.given().items():
            if name != "kind" and name not in own:
                raise _error(
                    name,
                    f"does not apply to model kind {self.kind!r}; its settings: {', '.join(own)}",
                )
        return self

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in super().given().items() if k != "kind"}


def _field_type(hint: Any, metadata: Any) -> Any:
    """The pydantic type of a declared setting: names from a list, strict numbers (positive
    unless its metadata gives a ``minimum``, at most its ``maximum``), and the containers as
    declared."""
    choices, minimum = metadata.get("choices"), metadata.get("minimum")
    maximum = metadata.get("maximum")
    if choices:
        return Literal[tuple(choices)]
    if hint is bool:
        return Annotated[bool, Strict()]
    if hint is int:
        return Annotated[int, Strict(), Field(ge=1 if minimum is None else minimum, le=maximum)]
    if hint is float:
        bound = Field(gt=0, le=maximum) if minimum is None else Field(ge=minimum, le=maximum)
        return Annotated[float, Strict(), bound]
    return hint


def _settings_section(name: str, doc: str, section: str, base: type, **extra: Any) -> type:
    """A config section with one optional field per setting of ``section`` (the declarations
    of :mod:`dynsys.rnn.settings`: DatasetSpec, the model kinds' Settings, TrainSettings)."""
    import typing

    from ..rnn import settings

    definitions: dict[str, Any] = {}
    for field_name, f in settings.section_fields(section).items():
        owner = settings._owner(f)
        hint = typing.get_type_hints(owner)[field_name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if type(None) in typing.get_args(hint) and len(args) == 1:
            hint = args[0]
        kind = _field_type(hint, f.metadata)
        definitions[field_name] = (kind | None, Field(None, description=f.metadata.get("help")))
    model = create_model(name, __base__=base, __doc__=doc, **extra, **definitions)
    return model


def _model_kinds() -> Any:
    from ..rnn.kinds import MODEL_KINDS

    return Literal[tuple(MODEL_KINDS)]


def _default_kind() -> str:
    from ..rnn.kinds import DEFAULT_KIND

    return DEFAULT_KIND


DatasetConfig = _settings_section(
    "DatasetConfig",
    "A dataset of solved trajectories for a model (fields left out: the system's recipe).",
    "dataset",
    _DatasetBase,
)
ModelConfig = _settings_section(
    "ModelConfig",
    "The model: its kind and that kind's settings (fields left out: the system's recipe).",
    "model",
    _ModelBase,
    kind=(_model_kinds(), Field(_default_kind(), description="The model kind.")),
)
TrainingConfig = _settings_section(
    "TrainingConfig",
    "How a gradient-fitted model is fitted (fields left out: the system's recipe).",
    "training",
    _Given,
)


class PlotConfig(_Section):
    """A figure: its kind (a ``dynsys plot`` kind, or phase), file name and options."""

    kind: str = Field(description="phase, or a kind of `dynsys plot`.")
    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = Field(
        None, description="File name without suffix. Default: the kind."
    )
    format: Literal["png", "svg", "pdf"] = "png"
    options: dict[str, JsonValue] = Field(
        default_factory=dict, description="Keyword arguments of the plot function."
    )

    @model_validator(mode="before")
    @classmethod
    def _name_after_kind(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and data.get("name") is None
            and isinstance(data.get("kind"), str)
        ):
            return {**data, "name": data["kind"]}
        return data

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        kinds = plot_kinds()
        if kind not in kinds:
            raise _error("", str(unknown_name("plot kind", kind, kinds)))
        return kind


def plot_kinds() -> tuple[str, ...]:
    """The figures a config can ask for: phase and the kinds of ``dynsys plot``."""
    from ..plots import PLOT_KINDS  # matplotlib: only for configs with figures

    return ("phase", *PLOT_KINDS)


class OutputConfig(_Section):
    """What is written besides the tables and figures."""

    trajectories: Literal["npz", "csv", "none"] = "npz"


class LimitsConfig(_Section):
    """Ceilings on what this experiment's runs may ask for, checked before anything is
    allocated or looped (:mod:`dynsys.checks`).  ``dynsys --max-memory``/``--max-steps`` and the
    variables DYNSYS_MAX_MEMORY/DYNSYS_MAX_STEPS, when given, win over these."""

    max_memory: str | int | None = Field(
        None, description="Memory ceiling: 8GiB, 512MiB, 2e9 (bytes). Default: half of free."
    )
    max_steps: str | int | None = Field(
        None, description="Step ceiling (trajectories x steps): 1e9 by default."
    )

    @field_validator("max_memory")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if value is not None:
            try:
                checks.parse_size(value, "max_memory")
            except InputError as err:
                raise _error("", str(err)) from None
        return value

    @field_validator("max_steps")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if value is not None:
            try:
                checks.parse_count(value, "max_steps")
            except InputError as err:
                raise _error("", str(err)) from None
        return value


class SweepConfig(_Section):
    """Runs of the config with fields changed: every combination of the ``grid`` lists, and
    the explicit ``points``; keys are dotted paths (``simulation.dt``)."""

    grid: dict[str, list[JsonValue]] = Field(
        default_factory=dict, description="Dotted path -> the values it takes."
    )
    points: list[dict[str, JsonValue]] = Field(
        default_factory=list, description="Explicit runs: dotted path -> value."
    )
    executor: Literal["local", "dask"] = "local"
    jobs: Count = Field(1, ge=1)
    scheduler: str | None = Field(None, description="dask: the scheduler's address.")

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        if not self.grid and not self.points:
            raise _error("", "sweep has no points: give grid lists or points")
        for key, values in self.grid.items():
            if not values:
                raise _error(f"grid.{key}", "sweep has no points: the list is empty")
        return self


Spectrum = Annotated[bool, Strict()] | Annotated[int, Strict()]
"""false (the largest exponent), true (all of them) or how many, largest first."""


class LyapunovConfig(_Section):
    """Lyapunov exponents of a stepper's recurrence (:func:`dynsys.lyapunov.lyapunov`):
    lambda_i = (1 / T) sum log R_ii over the QR factorisations of the tangent vectors, over
    (t0 + transient, t_end]; per unit time for an ODE's stepper, per iteration for a map.
    Fields left out follow the simulation (its first stepper, dt, t_end and s0)."""

    method: LyapunovMethod | None = Field(
        None, description="The stepper measured. Default: the simulation's first, else rk4."
    )
    dt: Positive | None = Field(None, description="Step h. Default: simulation.dt (maps: none).")
    t_end: Number | None = Field(None, description="End time. Default: simulation.t_end.")
    transient: Number = Field(0.0, ge=0, description="Time run first, not accumulated.")
    spectrum: Spectrum = Field(
        False, description="false: the largest exponent; true: all; a number: that many."
    )
    every: Count = Field(1, ge=1, description="Steps between re-orthonormalisations.")
    tangent: TangentMode = Field(
        "auto", description="exact (the jacobian), finite_difference, or auto (exact if any)."
    )
    s0: list[Number] | list[list[Number]] | None = Field(
        None, description="Initial state, or a list of them. Default: simulation.s0."
    )

    @field_validator("spectrum", mode="wrap")
    @classmethod
    def _some(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> bool | int:
        message = f"must be true, false or a whole number >= 1, got {_short(value)}"
        try:
            value = handler(value)
        except ValidationError:
            raise _error("", message) from None
        if not isinstance(value, bool) and value < 1:
            raise _error("", message)
        return value

    @model_validator(mode="after")
    def _check(self) -> LyapunovConfig:
        if self.method is not None and STEPPERS[self.method].history > 1:
            raise _error(
                "method",
                f"{self.method!r} carries {STEPPERS[self.method].history} states, so its map is "
                "not s -> F(s); use a one-step method",
            )
        return self


class BifurcationConfig(_Section):
    """The orbit diagram of a discrete map (:func:`dynsys.orbits.orbit_diagram`): for each of
    ``n`` values of ``param`` in ``range``, iterate s(n+1) = f(s(n); param) from ``s0``, drop
    ``transient`` iterations and keep the next ``keep`` values of ``state``."""

    param: str = Field(description="The parameter swept.")
    range: Interval = Field(description="[lo, hi], lo < hi: the values swept, both included.")
    n: Count = Field(1000, ge=2, description="Parameter values.")
    transient: Count = Field(1000, ge=0, description="Iterations dropped first.")
    keep: Count = Field(200, ge=2, description="Iterations kept (drawn).")
    state: Annotated[int, Strict(), Field(ge=0)] | str = Field(
        0, description="The state drawn: a name or an index."
    )
    s0: list[Number] | None = Field(
        None, description="Initial state of every orbit. Default: simulation.s0 or the system's."
    )
    lyapunov: Annotated[bool, Strict()] = Field(
        False, description="Draw each value's largest Lyapunov exponent beneath the diagram."
    )
    lyapunov_iterations: Count = Field(
        2000, ge=1, description="Iterations after the transient over which each is accumulated."
    )

    @field_validator("state", mode="wrap")
    @classmethod
    def _state(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> int | str:
        try:
            return handler(value)
        except ValidationError:
            raise _error(
                "", f"must be a state's name or index (>= 0), got {_short(value)}"
            ) from None

    @model_validator(mode="after")
    def _check(self) -> BifurcationConfig:
        lo, hi = self.range
        if not lo < hi:
            raise _error("range", f"must be [lo, hi] with lo < hi, got [{lo:g}, {hi:g}]")
        return self


class ExperimentConfig(_Section):
    """A whole experiment: a system and what to do with it."""

    name: str = Field(pattern=NAME_PATTERN, description="Names the results folder.")
    seed: Count = Field(0, ge=0)
    system: SystemConfig
    simulation: SimulationConfig = Field(default_factory=SimulationConfig)
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    dataset: DatasetConfig | None = None
    model: ModelConfig | None = None
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    plots: list[PlotConfig] = Field(default_factory=list)
    output: OutputConfig = Field(default_factory=OutputConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    sweep: SweepConfig | None = None
    lyapunov: LyapunovConfig | None = None
    bifurcation: BifurcationConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _map_defaults(cls, data: Any) -> Any:
        """A discrete map steps with 'map' and dt = 1 unless told otherwise."""
        if not isinstance(data, dict) or not isinstance(data.get("system"), dict):
            return data
        name = data["system"].get("name")
        if not isinstance(name, str) or name not in SYSTEMS or SYSTEMS[name].kind != "map":
            return data
        simulation = data.get("simulation", {})
        if not isinstance(simulation, dict):
            return data
        return {**data, "simulation": {"methods": ["map"], "dt": 1.0, **simulation}}

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        system = self.system
        states, kind = system.state_names, system.kind
        s0 = self.simulation.s0
        for i, row in enumerate(_rows(s0)):
            if len(row) != len(states):
                where = (
                    "simulation.s0" if s0 and not isinstance(s0[0], list) else f"simulation.s0[{i}]"
                )
                raise _error(
                    where, f"must have {len(states)} values ({', '.join(states)}), got {len(row)}"
                )
        for i, method in enumerate(self.simulation.methods):
            if (method == "map") != (kind == "map"):
                hint = "a discrete map steps with 'map'" if kind == "map" else "'map' steps maps"
                raise _error(
                    f"simulation.methods[{i}]", f"{method!r} does not fit a {kind}: {hint}"
                )
        if self.dataset is not None:
            self._check_dataset(self.dataset, states)
            if self.model is None:
                raise _error("dataset", "is for fitting an RNN: add a model section (model: {})")
        if self.model is not None:
            self._check_training(self.model.kind)
        names = [plot.name for plot in self.plots]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise _error(f"plots[{i}].name", f"another figure is named {name!r}; name this one")
        if self.simulation.events:
            self._check_events(self.simulation.events)
        if self.lyapunov is not None:
            self._check_lyapunov(self.lyapunov, states, kind)
        if self.bifurcation is not None:
            self._check_bifurcation(self.bifurcation, states, kind)
        if self.sweep is not None:
            self._check_sweep(self.sweep)
        return self

    def _check_events(self, events: list[str]) -> None:
        """Each event parses for the system: its names are the states, the parameters and t."""
        from ..events import parse_event

        system = config_system(self.system)
        for i, text in enumerate(events):
            try:
                parse_event(text, system)
            except InputError as err:
                raise _error(f"simulation.events[{i}]", str(err)) from None

    def _check_lyapunov(self, section: LyapunovConfig, states: list[str], kind: str) -> None:
        """The exponents fit the system: its kind (a map has no dt), its number of states, and
        a time after the transient."""
        if section.method is not None and (section.method == "map") != (kind == "map"):
            hint = "a discrete map steps with 'map'" if kind == "map" else "'map' steps maps"
            what = "a discrete map" if kind == "map" else "an ODE"
            raise _error("lyapunov.method", f"{section.method!r} does not fit {what}: {hint}")
        if kind == "map" and section.dt is not None:
            raise _error("lyapunov.dt", "a discrete map steps once per iteration; leave dt out")
        spectrum = section.spectrum
        if not isinstance(spectrum, bool) and spectrum > len(states):
            raise _error(
                "lyapunov.spectrum",
                f"must be true, false or a whole number from 1 to {len(states)} (the states "
                f"{', '.join(states)}), got {spectrum}",
            )
        for i, row in enumerate(_rows(section.s0)):
            if len(row) != len(states):
                batch = section.s0 and isinstance(section.s0[0], list)
                raise _error(
                    f"lyapunov.s0[{i}]" if batch else "lyapunov.s0",
                    f"must have {len(states)} values ({', '.join(states)}), got {len(row)}",
                )
        t0 = self.simulation.t0
        t_end = self.simulation.t_end if section.t_end is None else section.t_end
        if not t_end > t0 + section.transient:
            where = "lyapunov.t_end" if section.t_end is not None else "lyapunov.transient"
            raise _error(
                where,
                f"t_end = {t_end:g} must be > t0 + transient = {t0 + section.transient:g}",
            )

    def _check_bifurcation(self, section: BifurcationConfig, states: list[str], kind: str) -> None:
        """An orbit diagram is of a discrete map, over one of its parameters and states."""
        if kind != "map":
            raise _error(
                "bifurcation",
                f"orbit diagrams are of discrete maps; {self.system.name or 'this system'} is "
                "an ODE",
            )
        params = self.system.param_names
        if section.param not in params:
            raise _error("bifurcation.param", str(unknown_name("parameter", section.param, params)))
        state = section.state
        if (isinstance(state, str) and state not in states) or (
            isinstance(state, int) and state >= len(states)
        ):
            known = ", ".join(f"{i} ({name})" for i, name in enumerate(states))
            raise _error("bifurcation.state", f"no state {state!r}; the states: {known}")
        if section.s0 is not None and len(section.s0) != len(states):
            raise _error(
                "bifurcation.s0",
                f"must have {len(states)} values ({', '.join(states)}), got {len(section.s0)}",
            )
        s0 = self.simulation.s0
        if section.s0 is None and s0 and isinstance(s0[0], list):
            raise _error(
                "bifurcation.s0", "the simulation starts a batch: give one initial state here"
            )

    def _check_training(self, kind: str) -> None:
        """Training settings apply to gradient-fitted kinds; closed-loop epochs to those that
        feed back their output."""
        from ..rnn.kinds import model_class

        cls = model_class(kind)
        given = self.training.given()
        if given and cls.fitting != "gradient":
            name = next(iter(given))
            raise _error(
                f"training.{name}",
                f"does not apply to model kind {kind!r}: it is fitted in closed form",
            )
        if given.get("closed_loop_epochs") and not cls.feeds_back_output():
            raise _error(
                "training.closed_loop_epochs",
                f"applies to models that feed back their output; {kind!r} does not",
            )

    def _check_dataset(self, dataset: DatasetConfig, states: list[str]) -> None:
        if self.system.kind != "ode":
            raise _error("dataset", "datasets need an ODE; the system is a discrete map")
        params = self.system.param_names
        for where in ("ranges", "holdout"):
            _check_keys(f"dataset.{where}", getattr(dataset, where) or {}, params, "parameter")
        _check_keys("dataset.s0_ranges", dataset.s0_ranges or {}, states, "state")
        for i, name in enumerate(dataset.param_inputs or ()):
            if name not in params:
                raise _error(
                    f"dataset.param_inputs[{i}]", str(unknown_name("parameter", name, params))
                )

    def _check_sweep(self, sweep: SweepConfig) -> None:
        """Every swept path names a field, and each value fits the rest of the config."""
        base = self.model_dump(mode="json", exclude={"sweep"})
        for key, values in sweep.grid.items():
            for value in values:
                _check_point(base, {key: value}, f"sweep.grid.{key}")
        for i, point in enumerate(sweep.points):
            _check_point(base, point, f"sweep.points[{i}]")


def config_system(spec: SystemConfig, name: str = "user_system") -> Any:
    """The System of a checked ``system`` section (your own one built as class ``name``, not
    registered)."""
    if spec.name is not None:
        return SYSTEMS[spec.name](**spec.params)
    from .user_system import make_system_class

    cls = make_system_class(
        name,
        spec.states or [],
        spec.params,
        spec.equations or {},
        drive=spec.drive,
        jacobian=spec.jacobian,
        energy=spec.energy,
        s0=spec.s0,
    )
    return cls()


def _rows(s0: list | None) -> list[list]:
    if not s0:
        return [] if s0 is None else [s0]
    return s0 if isinstance(s0[0], list) else [s0]


def _check_point(base: dict, point: dict[str, Any], where: str) -> None:
    """``base`` with the dotted keys of ``point`` set validates, or an error at ``where``."""
    data = copy.deepcopy(base)
    for key, value in point.items():
        if key == "sweep" or key.startswith("sweep."):
            raise _error(where, f"{key!r}: a sweep cannot change the sweep")
        try:
            _set_path(data, key, value)
        except InputError as err:
            raise _error(where, str(err)) from None
    try:
        ExperimentConfig.model_validate(data)
    except ValidationError as err:
        path, message, _ = _describe(err, data)
        shown = ", ".join(f"{k} = {_short(v)}" for k, v in point.items())
        raise _error(where, f"with {shown}: {path}: {message}") from None


# -- overrides -------------------------------------------------------------------------------


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """A copy of ``data`` with each ``dotted.path=value`` set; the value is read as YAML.

    ``model.hidden=64``, ``system.params.k=4``, ``simulation.s0=[1, 0]``, ``dataset=null``;
    a path into a missing section creates it, and a number indexes a list (``plots.0.kind``).
    """
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, such as model.hidden=64")
        value, _ = _read_yaml(text, f"--set {key}")
        try:
            _set_path(data, key, value)
        except ConfigError as err:
            raise ConfigError(f"--set {err}") from None
    return data


def _set_path(data: dict, key: str, value: Any) -> None:
    """Set ``data`` at the dotted ``key`` (``a.b[0].c`` or ``a.b.0.c``) to ``value``."""
    parts = _dots(key).split(".")
    if not all(parts):
        raise ConfigError(f"{key}: empty name in the dotted path")
    here: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i]) or "the top level"
        if isinstance(here, list):
            if not part.isdigit() or int(part) >= len(here):
                raise ConfigError(f"{key}: {where} is a list of {len(here)}; {part!r} is no index")
            index: Any = int(part)
        elif isinstance(here, dict):
            index = part
            if not last and here.get(part) is None:
                here[part] = {}  # a missing section
        else:
            raise ConfigError(f"{key}: {where} is a value, not a section")
        if last:
            here[index] = value
        else:
            here = here[index]


# -- loading and messages --------------------------------------------------------------------


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """The experiment of the YAML file at ``path`` with ``overrides`` applied, validated."""
    path = Path(path)
    try:  # a folder, a FIFO, a device or a file over MAX_BYTES is refused without reading it
        text = read_text(path, limit=MAX_BYTES, what="config")
    except InputError as err:
        raise ConfigError(str(err)) from None
    return parse_config(text, str(path), overrides)


def parse_config(
    text: str, source: str = "<string>", overrides: Sequence[str] = ()
) -> ExperimentConfig:
    """The experiment of YAML ``text`` with ``overrides`` applied; ``source`` names it."""
    data, lines = _read_yaml(text, source)
    if data is None:
        raise ConfigError(f"{source}: the file is empty; it needs at least name and system")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping (name: ..., system: ...), got {_kind(data)}"
        )
    data = apply_overrides(data, overrides)
    sets = {key.partition("=")[0].strip() for key in overrides}
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(
            validation_error_message(err, lines, source, data=data, sets=sets)
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None


def validation_error_message(
    err: ValidationError,
    lines: dict[str, int],
    source: str,
    *,
    data: Any = None,
    sets: Collection[str] = (),
) -> str:
    """One line for the first error of ``err``: the source, dotted path, line and problem.

    ``data`` (the validated input) lets the path skip pydantic's union tags; a path at or
    below a key of ``sets`` is said to come from ``--set``.
    """
    path, message, others = _describe(err, data)
    dotted = _dots(path)
    from_set = any(dotted == key or dotted.startswith(key + ".") for key in map(_dots, sets))
    where = " (--set)" if from_set else ""
    if not from_set:
        line = lines.get(path) or lines.get(path.rpartition(".")[0])
        if line is None and path.endswith("]"):
            line = lines.get(path.rpartition("[")[0])
        where = f" (line {line})" if line else ""
    more = f" (and {others} more)" if others else ""
    if not path:
        return f"{source}: {message}{more}"
    return f"{source}: {path}{where}: {message}{more}"


def _dots(path: str) -> str:
    """``a.b[0].c`` as ``a.b.0.c``."""
    return re.sub(r"\[(\d+)\]", r".\1", path)


def _describe(err: ValidationError, data: Any) -> tuple[str, str, int]:
    """The dotted path and message of the first error of ``err``, and how many other paths."""
    errors = err.errors(include_url=False)
    described = [_one(e, data) for e in errors]
    paths = {path for path, _ in described}
    path, message = described[0]
    return path, message, len(paths) - 1


def _one(error: dict, data: Any) -> tuple[str, str]:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    loc = _clean(error["loc"], data, kind)
    path = ""
    for part in loc:
        path = _join(path, part)
    if kind == "dynsys":
        sub = ctx["path"]
        path = f"{path}{'' if sub.startswith('[') or not path else '.'}{sub}" if sub else path
        return path, ctx["message"]
    if kind == "extra_forbidden":
        return path, _unknown_key(loc)
    if kind == "missing":
        return path, "a value is missing" if isinstance(loc[-1], int) else "required key is missing"
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        hint = ""
        if isinstance(value, str):
            close = difflib.get_close_matches(value, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        return path, f"must be one of {', '.join(allowed)}; got {_short(value)}{hint}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}
    if kind in bounds:
        bound = next(iter(ctx.values()))
        bound = f"{bound:g}" if isinstance(bound, float) else bound
        return path, f"must be {bounds[kind]} {bound}, got {_short(value)}"
    if kind == "string_pattern_mismatch":
        return path, f"must be letters, digits, '_', '.' or '-', got {_short(value)}"
    if kind in ("value_error", "assertion_error"):
        return path, str(ctx.get("error", error["msg"]))
    message = error["msg"].replace("Input should be", "must be")
    message = message[0].lower() + message[1:]
    return path, f"{message}, got {_short(value)}"


def _clean(loc: tuple, data: Any, kind: str) -> list:
    """``loc`` without pydantic's union and key tags, following the keys present in ``data``."""
    out: list = []
    here = data
    for i, part in enumerate(loc):
        if part == "[key]":
            break
        if _has(here, part):
            out.append(str(part) if isinstance(here, dict) else part)  # a dict key is no index
            here = here[part]
        elif data is None and isinstance(part, str) and ("[" in part or part in _TAGS):
            continue
        elif data is None or (kind == "missing" and i == len(loc) - 1):
            out.append(part)
            here = None
    return out


def _has(container: Any, part: Any) -> bool:
    if isinstance(container, list):
        return isinstance(part, int) and 0 <= part < len(container)
    return isinstance(container, dict) and part in container


_TAGS = {"list", "dict", "str", "int", "float", "bool", "none"}


def _unknown_key(loc: list) -> str:
    """An unknown key's message: its closest valid key, or the valid keys."""
    model: Any = ExperimentConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _model_in(field.annotation) if field else None
    if model is None:
        return "unknown key"
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; valid keys: {', '.join(known)}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation such as ``list[PlotConfig]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        model = _model_in(arg)
        if model is not None:
            return model
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return {list: "a list", str: "text"}.get(type(value), f"a {type(value).__name__}")


# -- writing ---------------------------------------------------------------------------------


def resolved_yaml(config: ExperimentConfig) -> str:
    """``config`` as YAML with every default filled: loading it gives the same config."""
    data = config.model_dump(mode="json")
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of experiment files."""
    return ExperimentConfig.model_json_schema()


def config_hash(config: ExperimentConfig) -> str:
    """12 hex digits naming what ``config`` computes (its name, ceilings and sweep aside)."""
    data = config.model_dump(mode="json", exclude={"name", "limits", "sweep"})
    if not data["simulation"]["events"]:  # runs made before events existed keep their hash
        del data["simulation"]["events"]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
