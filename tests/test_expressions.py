"""Expressions from configurations: the grammar, the refusals, and random input."""

from __future__ import annotations

import ast
import builtins
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynsys.errors import InputError
from dynsys.experiments.expressions import (
    FUNCTIONS,
    MAX_LENGTH,
    Expression,
    ExpressionError,
    compile_expression,
)

NAMES = ("x", "y", "a", "b", "t")
FIELD = "system.equations.y"


def evaluate(text, **env):
    return compile_expression(text, NAMES, field=FIELD)(env)


def refusal(text, names=NAMES) -> str:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, names, field=FIELD)
    message = str(info.value)
    assert message.startswith(f"{FIELD}: "), message
    assert "\n" not in message
    return message


def test_the_issue_example_matches_numpy(rng):
    x, y = rng.normal(size=(2, 50))
    a, b, t = rng.normal(size=50), 0.5, np.linspace(0, 5, 50)
    got = evaluate("-a*sin(x) - b*y + 0.3*cos(t)", x=x, y=y, a=a, b=b, t=t)
    np.testing.assert_array_equal(got, -a * np.sin(x) - b * y + 0.3 * np.cos(t))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2**3**2", 512.0),
        ("-2**2", -4.0),
        ("(1 + 2) * 3 - 4 / 8", 8.5),
        ("7 // 2 + 7 % 3", 4.0),
        ("-7 % 3", 2.0),
        ("+3", 3.0),
        ("1 < 2 <= 2 < 3", 1.0),
        ("1 < 3 < 2", 0.0),
        ("2 == 2.0", 1.0),
        ("2 != 2", 0.0),
        ("1 and 0", 0.0),
        ("0 or 2", 1.0),
        ("not 0", 1.0),
        ("not 3", 0.0),
        ("5 if 1 > 0 else 6", 5.0),
        ("5 if 0 else 6", 6.0),
        ("min(3, 1, 2) + max(1, 5)", 6.0),
        ("minimum(1, 2) * maximum(3, 4)", 4.0),
        ("where(0, 1, 2)", 2.0),
        ("clip(5, -1, 1)", 1.0),
        ("abs(-2) + sign(-3) + floor(1.5) + ceil(1.5)", 4.0),
        ("hypot(3, 4)", 5.0),
        ("heaviside(0, 0.5)", 0.5),
        ("sqrt(16) + cbrt(27) + log2(8) + log10(100)", 12.0),
        ("exp(0) + log(1) + log1p(0) + expm1(0)", 1.0),
        ("pi", np.pi),
        ("e", np.e),
        ("1e-3", 1e-3),
        ("0x10", 16.0),
    ],
)
def test_grammar(text, expected):
    got = evaluate(text)
    assert got.dtype == np.float64 and got.shape == ()
    assert got == pytest.approx(expected, rel=1e-15)


def test_every_function_is_numpy_elementwise(rng):
    values = rng.uniform(0.1, 0.9, size=(3, 4))
    for name, (function, arity) in FUNCTIONS.items():
        n = 2 if arity is None else arity
        text = f"{name}({', '.join(['x'] * n)})"
        got = compile_expression(text, ["x"], field="f")({"x": values})
        with np.errstate(invalid="ignore"):  # arccosh below 1
            expected = function(*[values] * n)
        np.testing.assert_array_equal(got, expected, err_msg=name)


def test_vectorised_broadcast_and_dtype(rng):
    x, a = rng.normal(size=(4, 1)), rng.normal(size=(3,))
    expr = compile_expression("x*a + t if x > 0 else a", NAMES, field=FIELD)
    assert expr.names == ("x", "a", "t")
    got = expr({"x": x, "a": a, "t": 2.0, "y": None})
    assert got.shape == (4, 3) and got.dtype == np.float64
    np.testing.assert_array_equal(got, np.where(x > 0, x * a + 2.0, a))
    assert compile_expression("3", NAMES, field=FIELD)({}).shape == ()


def test_comparisons_and_logic_give_floats_that_combine():
    x = np.array([-2.0, 0.0, 0.5, 2.0])
    got = evaluate("-(x > 0) + (0 < x < 1) - (not x) + (x < 0 or x > 1)", x=x)
    np.testing.assert_array_equal(got, [1.0, -1.0, 0.0, 0.0])


def test_declared_names_shadow_the_constants():
    assert compile_expression("e + pi", ["e"], field="f")({"e": 1.0}) == 1.0 + np.pi


def test_numbers_are_accepted_as_expressions():
    assert compile_expression(2, [], field="f")({}) == 2.0
    assert compile_expression(-0.5, [], field="f")({}) == -0.5
    with pytest.raises(ExpressionError, match="f: must be a finite number or an expression"):
        compile_expression(np.inf, [], field="f")


def test_expression_error_is_an_input_error():
    assert issubclass(ExpressionError, InputError)


def test_huge_powers_are_inf_at_once():
    began = time.perf_counter()
    assert evaluate("10**10**10") == np.inf
    assert evaluate("(-10)**10**10**10") == np.inf
    assert np.isnan(evaluate("(-8)**(1/3)"))
    assert time.perf_counter() - began < 1.0


def test_division_by_zero_is_silent():  # pytest turns warnings into errors
    x = np.array([1.0, -1.0, 0.0])
    got = evaluate("x / 0 + 0 * x", x=x)
    assert got[0] == np.inf and got[1] == -np.inf and np.isnan(got[2])
    assert np.isnan(evaluate("x % 0", x=1.0)) and np.isnan(evaluate("log(-1) + arccosh(0)"))
    assert evaluate("7 // 0") == np.inf


def test_no_eval_exec_or_compile():
    def forbidden(*args, **kwargs):
        raise AssertionError("the interpreter must not run Python code")

    real_compile = builtins.compile

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):  # what ast.parse does
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("the interpreter must not compile Python code")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile")}
    try:
        builtins.eval = builtins.exec = forbidden
        builtins.compile = parse_only
        expr = compile_expression("sin(x)**2 + cos(x)**2 if x > -1 else 0", ["x"], field="f")
        value = expr({"x": 0.3})
    finally:
        for name, function in saved.items():
            setattr(builtins, name, function)
    assert value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("__import__('os')", "the dunder name '__import__'"),
        ("x.__class__", "attribute access 'x.__class__' (dunder name '__class__')"),
        ("().__class__", "attribute access '().__class__'"),
        (
            "().__class__.__bases__[0].__subclasses__()",
            "attribute access '().__class__.__bases__[0].__subclasses__' (dunder name",
        ),
        ("x.real", "attribute access 'x.real'"),
        ("np.sin(x)", "attribute access 'np.sin' (write sin(...))"),
        ("lambda: 1", "lambdas 'lambda: 1'"),
        ("(lambda: 1)()", "calling 'lambda: 1', which is not a function name"),
        ("open('f')", "unknown function 'open'"),
        ("[1, 2]", "lists '[1, 2]'"),
        ("(1, 2)", "tuples"),
        ("{1, 2}", "sets"),
        ("{'a': 1}", "dicts"),
        ('"str"', "strings"),
        ("b'x'", "bytes"),
        ("f'{x}'", "f-strings"),
        ("a[0]", "indexing 'a[0]'"),
        ("sine(x)", "unknown function 'sine' (did you mean 'sin'?)"),
        ("cosine(x)", "unknown function 'cosine' (did you mean 'cos'?)"),
        ("arctg(x)", "unknown function 'arctg' (did you mean 'arctan'?)"),
        ("bb * y", "unknown name 'bb' (did you mean 'b'?)"),
        ("sinx", "unknown name 'sinx' (did you mean 'sin'?)"),
        ("clip(x, a_min=0)", "keyword arguments in 'clip(x, a_min=0)'"),
        ("sin(*x)", "starred arguments in 'sin(*x)'"),
        ("max(**x)", "keyword arguments"),
        ("(y := 1)", "assignments 'y := 1'"),
        ("(yield)", "yield expressions"),
        ("(yield from x)", "yield expressions"),
        ("await x", "await"),
        ("[i for i in x]", "comprehensions"),
        ("sum(i for i in x)", "unknown function 'sum'"),
        ("sin(i for i in x)", "comprehensions"),
        ("x[1:2]", "indexing"),
        ("sin", "the function 'sin' without arguments (write sin(...))"),
        ("sin(x, y)", "sin takes 1 argument, got 2"),
        ("clip(x)", "clip takes 3 arguments, got 1"),
        ("max(x)", "max takes 2 or more arguments, got 1"),
        ("a(1)", "calling 'a', which is not a function"),
        ("True", "True/False (write 1 or 0)"),
        ("None", "the constant 'None'"),
        ("...", "the constant '...'"),
        ("1j", "complex numbers"),
        ("x ^ 2", "the operator ^ (use ** for powers)"),
        ("x @ y", "the operator @"),
        ("x & y", "the operator &"),
        ("x << 1", "the operator <<"),
        ("~x", "the operator ~ (use 'not')"),
        ("x is y", "'is' (use ==)"),
        ("x in y", "'in'"),
        ("1 if x is not None else 0", "'is not'"),
        ("__x__", "the dunder name '__x__'"),
        ("x.__dict__['a']", "indexing"),
        ("1" + "0" * 400, "a number of 401 digits, too large for a float"),
    ],
)
def test_forbidden_constructs_are_refused_naming_field_and_text(text, what):
    message = refusal(text)
    assert f"{text!r} is not allowed: {what}" in message or (
        len(text) > 80 and f"is not allowed: {what}" in message
    ), message
    assert "(allowed: numbers, the names a, b, t, x, y, pi, e" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 +", "system.equations.y: cannot parse '1 +': invalid syntax at the end"),
        ("x y", "system.equations.y: cannot parse 'x y': invalid syntax at column 3"),
        ("sin(x", "system.equations.y: cannot parse 'sin(x': '(' was never closed at column 4"),
        ("yield", "system.equations.y: cannot parse 'yield': invalid syntax at column 1"),
        ("import os", "system.equations.y: cannot parse 'import os': invalid syntax at column 1"),
        ("x = 1", "system.equations.y: cannot parse 'x = 1': invalid syntax"),
        ("x\x00", "system.equations.y: cannot parse 'x\\x00': source code string cannot"),
        ("", "system.equations.y: the expression is empty"),
        ("   ", "system.equations.y: the expression is empty"),
        (None, "system.equations.y: must be an expression (a string), got None"),
        (True, "system.equations.y: must be an expression (a string), got True"),
        ([1], "system.equations.y: must be an expression (a string), got [1]"),
    ],
)
def test_syntax_errors_and_types(text, message):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, NAMES, field=FIELD)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1" * 5000, f"is too long (5000 characters; at most {MAX_LENGTH})"),
        ("(" * 300 + "x" + ")" * 300, "too many nested parentheses"),
        ("-" * 1500 + "x", "is too large (at most 200 levels of nesting)"),
        ("+".join(["x"] * 900), "is too large (at most 200 levels of nesting)"),
        ("min(" + ",".join(["-x"] * 600) + ")", "is too large (at most 1000 terms)"),
    ],
)
def test_size_limits(text, fragment):
    message = refusal(text)
    assert fragment in message and len(message) < 300


def test_deep_but_allowed_nesting_evaluates():
    assert evaluate("sin(" * 150 + "x" + ")" * 150, x=0.0) == 0.0
    assert evaluate("-" * 190 + "x", x=1.0) == 1.0


def test_whitespace_and_comments_are_fine():
    assert evaluate("  1 +\t2  # three\n") == 3.0


def test_missing_value_is_a_clean_error():
    expr = compile_expression("x + y", NAMES, field=FIELD)
    with pytest.raises(
        ExpressionError, match=r"system.equations.y: 'x \+ y' needs a value for 'y'"
    ):
        expr({"x": 1.0})


# -- random input: a compiled Expression that evaluates, or an ExpressionError -----------------

ENV_SHAPES = {"x": (3,), "y": (2, 1), "a": (), "b": (1, 3), "t": ()}


def check_outcome(text, values) -> None:
    try:
        expr = compile_expression(text, NAMES, field="f")
    except ExpressionError as err:
        assert str(err).startswith("f: ") and "\n" not in str(err)
        return
    assert isinstance(expr, Expression)
    env = {name: values[name] for name in NAMES}
    got = expr(env)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got.shape == np.broadcast_shapes(*(ENV_SHAPES[n] for n in expr.names))


def env_values():
    return st.fixed_dictionaries(
        {
            name: st.lists(
                st.floats(allow_nan=True, allow_infinity=True, width=64),
                min_size=int(np.prod(shape)),
                max_size=int(np.prod(shape)),
            ).map(lambda v, shape=shape: np.array(v, dtype=np.float64).reshape(shape))
            for name, shape in ENV_SHAPES.items()
        }
    )


ALPHABET = st.sampled_from(
    [
        *"xyabt0123456789.()+-*/%<>=!, _'\"[]{}:;@^&|~#\\\n",
        *(f" {w} " for w in ("if", "else", "and", "or", "not", "lambda", "in", "is", "for")),
        *("sin(", "where(", "clip(", "max(", "__", "__class__", "import", "e", "pi", "1e308"),
        *("**", "//", "==", ":=", "j", "f'", "yield", "open(", "exec(", "os.", "sys", "None"),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=30).map("".join), env_values())
def test_random_strings_compile_and_evaluate_or_fail_cleanly(text, values):
    check_outcome(text, values)


def _name(n):
    return ast.Name(n, ast.Load())


NUMBERS = st.one_of(
    st.integers(-(10**20), 10**20), st.floats(allow_nan=False), st.sampled_from([0, 1, 2, 0.5])
).map(ast.Constant)
GOOD_LEAVES = st.one_of(st.sampled_from([*NAMES, "pi", "e"]).map(_name), NUMBERS)
BAD_LEAVES = st.one_of(
    st.sampled_from(["q", "__import__", "sin", "__class__", "open"]).map(_name),
    st.sampled_from([True, None, "s", b"b", 1j, ...]).map(ast.Constant),
)


def _call(name, args):
    arity = FUNCTIONS[name][1]
    return ast.Call(_name(name), list(args[: arity or len(args)]), [])


def good_branches(children):
    """Trees of the grammar only: they compile unless too large."""
    ops = st.sampled_from([ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow])
    cmps = st.sampled_from([ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq])
    unary = st.sampled_from([ast.USub, ast.UAdd, ast.Not])
    return st.one_of(
        st.builds(lambda o, a, b: ast.BinOp(a, o(), b), ops, children, children),
        st.builds(lambda o, a: ast.UnaryOp(o(), a), unary, children),
        st.builds(
            lambda left, rest, c: ast.Compare(left, [c() for _ in rest], rest),
            children,
            st.lists(children, min_size=1, max_size=3),
            cmps,
        ),
        st.builds(
            lambda op, values: ast.BoolOp(op(), values),
            st.sampled_from([ast.And, ast.Or]),
            st.lists(children, min_size=2, max_size=3),
        ),
        st.builds(ast.IfExp, children, children, children),
        st.builds(_call, st.sampled_from(list(FUNCTIONS)), st.lists(children, min_size=3)),
    )


def bad_branches(children):
    """Trees with forbidden pieces mixed in."""
    ops = st.sampled_from([ast.MatMult, ast.BitXor, ast.BitAnd, ast.LShift])
    names = st.sampled_from([*FUNCTIONS, "open", "sum", "x", "__import__"])
    return st.one_of(
        good_branches(children),
        st.builds(lambda o, a, b: ast.BinOp(a, o(), b), ops, children, children),
        st.builds(lambda a: ast.UnaryOp(ast.Invert(), a), children),
        st.builds(
            lambda a, b, c: ast.Compare(a, [c()], [b]),
            children,
            children,
            st.sampled_from([ast.Is, ast.IsNot, ast.In, ast.NotIn]),
        ),
        st.builds(
            lambda n, args, kw: ast.Call(_name(n), args, [ast.keyword("k", kw)] if kw else []),
            names,
            st.lists(children, max_size=4),
            st.none() | children,
        ),
        st.builds(lambda v: ast.Call(_name("sin"), [ast.Starred(v, ast.Load())], []), children),
        st.builds(lambda v: ast.Attribute(v, "__class__", ast.Load()), children),
        st.builds(lambda v, i: ast.Subscript(v, i, ast.Load()), children, children),
        st.builds(lambda vs: ast.List(vs, ast.Load()), st.lists(children, max_size=2)),
        st.builds(lambda v: ast.Lambda(_no_arguments(), v), children),
        st.builds(lambda v: ast.NamedExpr(ast.Name("y", ast.Store()), v), children),
        st.builds(ast.Yield, children),
    )


def _no_arguments():
    return ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )


def _text(tree) -> str:
    return ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))


GOOD_TREES = st.recursive(GOOD_LEAVES, good_branches, max_leaves=30).map(_text)
MIXED_TREES = st.recursive(GOOD_LEAVES | BAD_LEAVES, bad_branches, max_leaves=25).map(_text)


@st.composite
def mutated(draw, texts):
    """A text with a few characters deleted, replaced or inserted."""
    text = draw(texts)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["delete", "replace", "insert"]))
        piece = draw(ALPHABET)
        if edit == "delete":
            text = text[:i] + text[i + 1 :]
        elif edit == "replace":
            text = text[:i] + piece + text[i + 1 :]
        else:
            text = text[:i] + piece + text[i:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(GOOD_TREES, env_values())
def test_random_grammar_trees_compile_and_evaluate(text, values):
    check_outcome(text, values)
    try:
        compile_expression(text, NAMES, field="f")
    except ExpressionError as err:
        assert "is too large" in str(err)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MIXED_TREES | mutated(GOOD_TREES), env_values())
def test_random_and_mutated_trees_compile_and_evaluate_or_fail_cleanly(text, values):
    check_outcome(text, values)
