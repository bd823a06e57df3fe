"""Compiled time loops: a stepper's recurrence compiled with numba, for large batches.

The numpy time loop (:meth:`dynsys.simulate.Recurrence.run`) steps the whole batch one numpy
call at a time, so a step costs a few dozen calls whatever the batch.  The compiled loop steps
each batch member through all its steps with its state in registers, members spread over the
cores.  It is generated from the same definitions: the stepper's Butcher tableau (or the
semi-implicit split) and the system's ``vector_field`` and ``forcing`` static methods, which
numba compiles for single numbers, with ``p`` a named tuple of the member's parameters.

What agrees, exactly: the arithmetic is done in the same order as the numpy loop, so every
operation (+, -, *, /, and the functions both take from the C library: cos, sin, exp, ...)
rounds the same way and the two loops give the same bits, on every step, for every stepper,
when the system's ``vector_field`` and ``forcing`` use no power ``a ** n`` other than n = 2
(:func:`bitwise` reads their source).  A power is the exception: numba evaluates ``a ** 3`` as
the products ``a * a * a``, numpy by its ``power`` function (vectorised, SVML on AVX-512), and
the two differ in the last bit for about a quarter of the arguments.  Then each step agrees to a
few units in the last place (a Duffing written with ``pos**3``: relative differences up to
1e-15 per step, 1.25e-13 after 5000 RK4 steps), and on a chaotic orbit the difference grows like
any other perturbation.  Writing the power as products (``pos * pos * pos``, as the built-in
Duffing does) makes both loops bitwise: every built-in system is.

numba is optional: ``pip install 'dynsys[fast]'``.  :func:`available` says whether it is
installed; ``simulate(..., backend="numba")`` asks for this loop, ``backend="auto"`` takes it
for runs large enough to repay the compilation (about a second per system and stepper), decided
from the run alone (see :func:`dynsys.simulate.choose_backend`).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import textwrap
from collections import namedtuple
from collections.abc import Callable

import numpy as np

from .errors import InputError
from .steppers import ExplicitRungeKutta, SemiImplicitEuler, Stepper
from .systems.base import System

Advance = Callable[..., None]
"""advance(s, n0, kept, out, t0, h, *params): steps s (members, n) in place from step n0 to
kept[-1], writing s(kept[r]) into out[r] (rows, members, n); params from :func:`member_params`."""


@functools.cache
def available() -> bool:
    """Whether numba is installed."""
    return importlib.util.find_spec("numba") is not None


def supports(system: System, stepper: Stepper) -> bool:
    """Whether the compiled loop can run ``stepper`` on ``system``."""
    cls = type(system)
    return (
        system.kind == "ode"
        and cls.vector_field is not None
        and cls.rhs is System.rhs  # a subclass that overrides rhs defines its own maths
        and isinstance(stepper, ExplicitRungeKutta | SemiImplicitEuler)
    )


def advance_function(system: System, stepper: Stepper) -> Advance:
    """The compiled advance of ``stepper`` on systems of ``type(system)`` (compiled once)."""
    if not available():
        raise InputError("backend 'numba' needs numba: pip install 'dynsys[fast]' (or numba)")
    if not supports(system, stepper):
        raise InputError(
            f"backend 'numba' cannot run {stepper.name} on {system.name}: it compiles the "
            "Runge-Kutta and semi-implicit steppers of systems with a vector_field"
        )
    return _compile(type(system), stepper)


def member_params(system: System, batch: tuple[int, ...]) -> list[np.ndarray]:
    """Each parameter as one number per batch member: fresh contiguous arrays (members,).

    Always a writable copy, so that numba sees one array type whatever the parameters were
    (scalar, read-only array) and compiles the loop once.
    """
    return [
        np.array(np.broadcast_to(v, batch), dtype=np.float64).reshape(-1)
        for v in system.params.values()
    ]


@functools.cache
def bitwise(cls: type[System]) -> bool:
    """Whether the compiled loop gives the numpy loop's bits for systems of ``cls``: its
    ``vector_field`` and ``forcing`` raise nothing to a power other than 2 (see the module
    docstring); False when their source cannot be read."""
    for function in (cls.vector_field, cls.forcing):
        if function is None:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):
            return False
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
                exponent = node.right
                if not (isinstance(exponent, ast.Constant) and exponent.value == 2):
                    return False
            if isinstance(node, ast.Attribute) and node.attr in ("power", "float_power"):
                return False
    return True


@functools.cache
def _compile(cls: type[System], stepper: Stepper) -> Advance:
    import numba

    names = [p.name for p in cls.parameters]
    source = _source(cls, stepper, names)
    scope = {
        "np": np,
        "prange": numba.prange,
        "P": namedtuple(f"{cls.__name__}Params", names),
        "field": numba.njit(cls.vector_field),
        "drive": numba.njit(cls.forcing) if cls.forcing is not None else None,
    }
    # Safe: the source is dynsys's own template filled with tableau numbers (repr of floats)
    # and fixed identifiers; no user text enters it (the class name only labels the filename),
    # and user-defined (YAML) systems are never compiled: kernels.supports refuses them.
    exec(compile(source, f"<dynsys.kernels {cls.__name__} {stepper.name}>", "exec"), scope)
    return numba.njit(parallel=True)(scope["advance"])


CHUNK = 64
"""Members stepped together by one thread: their states stay in the L1 cache."""


def _source(cls: type[System], stepper: Stepper, names: list[str]) -> str:
    """Python source of ``advance`` for ``stepper`` on ``cls``.

    The members are cut into chunks of :data:`CHUNK`, run in parallel; a chunk runs its steps
    in order, each member with its state in local variables during a step, so that the states
    read and written (``s``, ``out``) stay contiguous.
    """
    n = len(cls.states)
    ys = [f"y{j}" for j in range(n)]
    driven = cls.forcing is not None
    params = [f"p{j}" for j in range(len(names))]
    member = f"P({', '.join(f'{q}[i]' for q in params)})"
    nodes = tuple(stepper.nodes)
    shared = driven and len(nodes) > 1 and nodes[0] == 0 and nodes[-1] == 1
    lines = [
        f"def advance(s, n0, kept, out, t0, h, {', '.join(params) or '*_'}):",
        "    members = s.shape[0]",
        f"    for chunk in prange((members + {CHUNK} - 1) // {CHUNK}):",
        f"        lo = chunk * {CHUNK}",
        f"        hi = min(lo + {CHUNK}, members)",
        f"        x_next = np.empty({CHUNK})",
        "        n = n0",
    ]
    if shared:  # the sample at c = 1 of one step is the next step's c = 0: evaluate it once
        lines += [
            "        for i in range(lo, hi):",
            f"            x_next[i - lo] = drive(t0 + (n + 0.0) * h, {member})",
        ]
    lines += [
        "        for r in range(kept.shape[0]):",
        "            while n < kept[r]:",
        "                t = t0 + n * h",
        "                for i in range(lo, hi):",
        f"                    p = {member}",
        *(f"                    {y} = s[i, {j}]" for j, y in enumerate(ys)),
    ]
    body: list[str] = []
    for k, c in enumerate(nodes if driven else ()):
        if shared and k == 0:
            body.append("x0 = x_next[i - lo]")
        else:
            body.append(f"x{k} = drive(t0 + (n + {c!r}) * h, p)")
    if isinstance(stepper, SemiImplicitEuler):
        body += _semi_implicit_body(cls, ys, driven)
    else:
        body += _runge_kutta_body(stepper, ys, driven)
    if shared:
        body.append(f"x_next[i - lo] = x{len(nodes) - 1}")
    body += [f"s[i, {j}] = {y}" for j, y in enumerate(ys)]
    lines += [f"                    {line}" for line in body]
    lines += [
        "                n += 1",
        "            for i in range(lo, hi):",
        *(f"                out[r, i, {j}] = s[i, {j}]" for j in range(n)),
    ]
    return "\n".join(lines) + "\n"


def _runge_kutta_body(stepper: ExplicitRungeKutta, ys: list[str], driven: bool) -> list[str]:
    """k_i = g(t + c_i h, y + h sum_j a_ij k_j, x(c_i));  y += h sum_i b_i k_i, in numpy's order."""
    body = []
    for i, ci in enumerate(stepper.c):
        stage = []
        for j, y in enumerate(ys):
            expr = y
            for m, aim in enumerate(stepper.a[i]):
                if aim:
                    expr = f"{expr} + (h * {aim!r}) * k{m}[{j}]"
            stage.append(expr)
        x = f"x{stepper.nodes.index(ci)}" if driven else "0.0"
        body.append(f"k{i} = field(t + {ci!r} * h, ({', '.join(stage)},), {x}, p)")
    for j, y in enumerate(ys):
        expr = y
        for i, bi in enumerate(stepper.b):
            if bi:
                expr = f"{expr} + (h * {bi!r}) * k{i}[{j}]"
        body.append(f"{y}_next = {expr}")
    body += [f"{y} = {y}_next" for y in ys]
    return body


def _semi_implicit_body(cls: type[System], ys: list[str], driven: bool) -> list[str]:
    """v(n+1) = v + h g_v(t, q, v);  q(n+1) = q + h g_q(t, q, v(n+1))."""
    q = cls.split if cls.split is not None else len(ys) // 2
    x = "x0" if driven else "0.0"
    body = [f"g = field(t, ({', '.join(ys)},), {x}, p)"]
    body += [f"{y} = {y} + h * g[{j}]" for j, y in enumerate(ys) if j >= q]
    body.append(f"g = field(t, ({', '.join(ys)},), {x}, p)")
    body += [f"{y} = {y} + h * g[{j}]" for j, y in enumerate(ys) if j < q]
    return body
