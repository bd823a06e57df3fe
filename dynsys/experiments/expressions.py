"""Arithmetic expressions from configuration files: parsed and interpreted, never eval'd.

An expression such as ``-a*sin(x) - b*y + 0.3*cos(t)`` is parsed by :func:`ast.parse`; every
node of the tree is checked against the grammar below and turned into a closure that computes
it with numpy on whole arrays.  No Python code is compiled or run.  The grammar:

- numbers (int and float literals, computed as float64), the declared names, ``pi`` and ``e``
  (a declared name of the same spelling wins);
- unary ``-`` and ``+``; binary ``+ - * / // % **`` with numpy's float semantics (``1/0`` is
  inf, ``10**10**10`` is inf at once: nothing is computed with Python integers);
- comparisons ``< <= > >= == !=``, chained as in Python (``0 < x < 1``), giving 1.0 or 0.0;
- ``and``, ``or``, ``not``, giving 1.0 or 0.0 (nonzero, and NaN, is true; every operand is
  evaluated);
- ``a if c else b``, computed by ``numpy.where`` (both branches are evaluated);
- calls of the functions in :data:`FUNCTIONS` with positional arguments.

Anything else (attribute access, indexing, strings, lambdas, comprehensions, keyword arguments,
calls of other names, dunder names, ...) raises an :class:`ExpressionError` naming the field and
the expression.  Expressions are limited to :data:`MAX_LENGTH` characters, :data:`MAX_NODES`
nodes and :data:`MAX_DEPTH` levels of nesting.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

Evaluate = Callable[[Mapping[str, np.ndarray]], Any]
"""A compiled node: the float64 values of the names it reads -> its value."""

MAX_LENGTH = 2000
MAX_NODES = 1000
MAX_DEPTH = 200


class ExpressionError(InputError):
    """An expression that cannot be parsed, or that uses something outside the grammar."""


def _where(condition, a, b):
    return np.where(condition != 0, a, b)


FUNCTIONS: dict[str, tuple[Callable[..., Any], int | None]] = {
    "sin": (np.sin, 1),
    "cos": (np.cos, 1),
    "tan": (np.tan, 1),
    "arcsin": (np.arcsin, 1),
    "arccos": (np.arccos, 1),
    "arctan": (np.arctan, 1),
    "arctan2": (np.arctan2, 2),
    "sinh": (np.sinh, 1),
    "cosh": (np.cosh, 1),
    "tanh": (np.tanh, 1),
    "arcsinh": (np.arcsinh, 1),
    "arccosh": (np.arccosh, 1),
    "arctanh": (np.arctanh, 1),
    "exp": (np.exp, 1),
    "expm1": (np.expm1, 1),
    "log": (np.log, 1),
    "log2": (np.log2, 1),
    "log10": (np.log10, 1),
    "log1p": (np.log1p, 1),
    "sqrt": (np.sqrt, 1),
    "cbrt": (np.cbrt, 1),
    "abs": (np.abs, 1),
    "sign": (np.sign, 1),
    "floor": (np.floor, 1),
    "ceil": (np.ceil, 1),
    "hypot": (np.hypot, 2),
    "heaviside": (np.heaviside, 2),
    "minimum": (np.minimum, 2),
    "maximum": (np.maximum, 2),
    "min": (np.minimum, None),
    "max": (np.maximum, None),
    "clip": (np.clip, 3),
    "where": (_where, 3),
}
"""The functions an expression may call: name -> (numpy function, number of arguments).
``min`` and ``max`` (None) take two or more; ``where(c, a, b)`` is ``a if c else b``."""

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_REFUSED_OPERATORS: dict[type[ast.AST], str] = {
    ast.MatMult: "the operator @",
    ast.BitAnd: "the operator & (use 'and')",
    ast.BitOr: "the operator | (use 'or')",
    ast.BitXor: "the operator ^ (use ** for powers)",
    ast.LShift: "the operator <<",
    ast.RShift: "the operator >>",
    ast.Invert: "the operator ~ (use 'not')",
    ast.Is: "'is' (use ==)",
    ast.IsNot: "'is not' (use !=)",
    ast.In: "'in'",
    ast.NotIn: "'not in'",
}
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Slice: "slices",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Lambda: "lambdas",
    ast.NamedExpr: "assignments",
    ast.Yield: "yield expressions",
    ast.YieldFrom: "yield expressions",
    ast.Await: "await",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Starred: "starred arguments",
}


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked expression: call it with the values of its names to compute it.

    ``names`` are the declared names it reads, in order of first use.  Calling it with a mapping
    of values (numbers or arrays that broadcast together) returns a float64 array of their
    broadcast shape (0-d when it reads no name); floating-point errors give inf or NaN, silently.
    """

    text: str
    field: str
    names: tuple[str, ...]
    _evaluate: Evaluate = field(repr=False)

    def __call__(self, env: Mapping[str, Any]) -> np.ndarray:
        values: dict[str, np.ndarray] = {}
        for name in self.names:
            if env.get(name) is None:
                text = _short(self.text)
                raise ExpressionError(f"{self.field}: {text} needs a value for {name!r}")
            values[name] = np.asarray(env[name], dtype=np.float64)
        with np.errstate(all="ignore"):
            return np.asarray(self._evaluate(values), dtype=np.float64)


def compile_expression(text: str | float, names: Sequence[str], *, field: str) -> Expression:
    """Parse and check ``text`` (a number is taken as its literal), reading ``names``.

    Raises :class:`ExpressionError`, one line naming ``field`` and the expression, when it does
    not parse or steps outside the grammar of this module.
    """
    text = _source(text, field)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(
            f"{field}: cannot parse {_short(text)}: {err.msg}{_where_in(err.offset, text)}"
        ) from None
    except ValueError as err:  # e.g. null bytes, on some Python versions
        raise ExpressionError(f"{field}: cannot parse {_short(text)}: {err}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{field}: cannot parse {_short(text)}: too deeply nested") from None
    _check_size(tree, text, field)
    builder = _Builder(text, field, frozenset(names))
    evaluate = builder.build(tree.body)
    return Expression(text, field, tuple(builder.used), evaluate)


def _source(text: Any, field: str) -> str:
    """``text`` stripped, or a number as its literal; refuse other types and long texts."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if not math.isfinite(text):
            raise ExpressionError(f"{field}: must be a finite number or an expression, got {text}")
        text = repr(text)
    if not isinstance(text, str):
        raise ExpressionError(f"{field}: must be an expression (a string), got {text!r}")
    text = text.strip()
    if not text:
        raise ExpressionError(f"{field}: the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"{field}: {text[:40]!r}... is too long ({len(text)} characters; at most {MAX_LENGTH})"
        )
    return text


def _check_size(tree: ast.Expression, text: str, field: str) -> None:
    """Refuse more than MAX_NODES expression nodes or MAX_DEPTH levels, without recursion."""
    stack, count = [(tree.body, 1)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            limit = f"{MAX_NODES} terms" if count > MAX_NODES else f"{MAX_DEPTH} levels of nesting"
            raise ExpressionError(f"{field}: {_short(text)} is too large (at most {limit})")
        children = ast.iter_child_nodes(node)
        stack.extend((child, depth + 1) for child in children if isinstance(child, ast.expr))


def _where_in(offset: int | None, text: str) -> str:
    if offset is None:
        return ""
    return f" at column {offset}" if 0 < offset <= len(text) else " at the end"


def _short(text: str) -> str:
    return repr(text) if len(text) <= 80 else f"{text[:60]!r}..."


class _Builder:
    """Checks nodes and turns them into closures; records the declared names read."""

    def __init__(self, text: str, field: str, names: frozenset[str]):
        self.text, self.field, self.names = text, field, names
        self.used: list[str] = []

    def refuse(self, what: str) -> ExpressionError:
        functions = ", ".join(FUNCTIONS)
        declared = ", ".join(sorted(self.names)) or "(none)"
        return ExpressionError(
            f"{self.field}: {_short(self.text)} is not allowed: {what} (allowed: numbers, "
            f"the names {declared}, pi, e, + - * / // % **, comparisons, and/or/not, "
            f"'a if c else b', functions {functions})"
        )

    def segment(self, node: ast.AST) -> str:
        part = ast.get_source_segment(self.text, node) or ast.unparse(node)
        return _short(" ".join(part.split()))

    def build(self, node: ast.AST) -> Evaluate:
        if type(node) in _REFUSED_NODES:
            return self._refused(node)
        builders = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.BinOp: self._binop,
            ast.UnaryOp: self._unaryop,
            ast.Compare: self._compare,
            ast.BoolOp: self._boolop,
            ast.IfExp: self._ifexp,
            ast.Call: self._call,
        }
        method = builders.get(type(node))
        if method is None:
            raise self.refuse(f"{type(node).__name__} {self.segment(node)}")
        return method(node)

    def _refused(self, node: ast.AST) -> Evaluate:
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            raise self.refuse(f"attribute access {self.segment(node)} (dunder name {node.attr!r})")
        raise self.refuse(f"{_REFUSED_NODES[type(node)]} {self.segment(node)}")

    def _constant(self, node: ast.Constant) -> Evaluate:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = {
                bool: "True/False (write 1 or 0)",
                str: "strings",
                bytes: "bytes",
                complex: "complex numbers",
            }.get(type(value), f"the constant {self.segment(node)}")
            raise self.refuse(kind)
        try:
            number = np.float64(value)
        except OverflowError:
            digits = len(str(value))
            raise self.refuse(f"a number of {digits} digits, too large for a float") from None
        return lambda env: number

    def _name(self, node: ast.Name) -> Evaluate:
        name = node.id
        if name in self.names:
            if name not in self.used:
                self.used.append(name)
            return lambda env: env[name]
        if name in CONSTANTS:
            constant = np.float64(CONSTANTS[name])
            return lambda env: constant
        if name.startswith("__"):
            raise self.refuse(f"the dunder name {name!r}")
        if name in FUNCTIONS:
            raise self.refuse(f"the function {name!r} without arguments (write {name}(...))")
        hint = _closest(name, [*self.names, *CONSTANTS]) or _closest(name, FUNCTIONS)
        raise self.refuse(f"unknown name {name!r}{hint}")

    def _binop(self, node: ast.BinOp) -> Evaluate:
        op = _BINARY.get(type(node.op))
        if op is None:
            raise self.refuse(f"{_REFUSED_OPERATORS[type(node.op)]} in {self.segment(node)}")
        left, right = self.build(node.left), self.build(node.right)
        return lambda env: op(left(env), right(env))

    def _unaryop(self, node: ast.UnaryOp) -> Evaluate:
        operand = self.build(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda env: np.negative(operand(env))
        if isinstance(node.op, ast.UAdd):
            return lambda env: np.positive(operand(env))
        if isinstance(node.op, ast.Not):
            return lambda env: _truth(operand(env) == 0)
        raise self.refuse(f"{_REFUSED_OPERATORS[type(node.op)]} in {self.segment(node)}")

    def _compare(self, node: ast.Compare) -> Evaluate:
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise self.refuse(f"{_REFUSED_OPERATORS[type(op)]} in {self.segment(node)}")
        ops = [_COMPARE[type(op)] for op in node.ops]
        operands = [self.build(node.left), *(self.build(c) for c in node.comparators)]

        def compare(env):
            values = [operand(env) for operand in operands]
            pairs = zip(ops, values[:-1], values[1:], strict=True)
            return _truth(functools.reduce(np.logical_and, (op(a, b) for op, a, b in pairs)))

        return compare

    def _boolop(self, node: ast.BoolOp) -> Evaluate:
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        operands = [self.build(value) for value in node.values]

        def boolean(env):
            return _truth(functools.reduce(combine, (operand(env) != 0 for operand in operands)))

        return boolean

    def _ifexp(self, node: ast.IfExp) -> Evaluate:
        test, body, orelse = self.build(node.test), self.build(node.body), self.build(node.orelse)
        return lambda env: _where(test(env), body(env), orelse(env))

    def _call(self, node: ast.Call) -> Evaluate:
        if isinstance(node.func, ast.Attribute):
            if node.func.attr in FUNCTIONS:
                hint = f"(write {node.func.attr}(...))"
                raise self.refuse(f"attribute access {self.segment(node.func)} {hint}")
            return self._refused(node.func)
        if not isinstance(node.func, ast.Name):
            raise self.refuse(f"calling {self.segment(node.func)}, which is not a function name")
        name = node.func.id
        if name not in FUNCTIONS:
            if name.startswith("__"):
                raise self.refuse(f"the dunder name {name!r}")
            if name in self.names:
                raise self.refuse(f"calling {name!r}, which is not a function")
            raise self.refuse(f"unknown function {name!r}{_closest(name, FUNCTIONS)}")
        if node.keywords:
            raise self.refuse(f"keyword arguments in {self.segment(node)}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.refuse(f"starred arguments in {self.segment(node)}")
        function, arity = FUNCTIONS[name]
        n = len(node.args)
        if (arity is None and n < 2) or (arity is not None and n != arity):
            wanted = "2 or more arguments" if arity is None else _plural(arity, "argument")
            raise self.refuse(f"{name} takes {wanted}, got {n} in {self.segment(node)}")
        args = [self.build(arg) for arg in node.args]
        if arity is None:
            return lambda env: functools.reduce(function, [arg(env) for arg in args])
        if arity == 1:
            (arg,) = args
            return lambda env: function(arg(env))
        return lambda env: function(*[arg(env) for arg in args])


def _truth(value) -> np.ndarray:
    """Booleans as 1.0 and 0.0."""
    return np.asarray(value, dtype=np.float64)


def _closest(name: str, known) -> str:
    """A hint naming the known name most like ``name``: the longest common start, then the most
    similar (so that 'cosine' suggests 'cos', not 'sin')."""
    close = difflib.get_close_matches(name, list(known), n=5)
    if not close:
        return ""
    best = max(close, key=lambda k: (_common_start(name, k), -close.index(k)))
    return f" (did you mean {best!r}?)"


def _common_start(a: str, b: str) -> int:
    pairs = enumerate(zip(a, b, strict=False))
    return next((i for i, (p, q) in pairs if p != q), min(len(a), len(b)))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"
