"""The Python source of a compiled time loop, generated from a stepper's tableau.

One function ``advance`` steps the members ``lo <= i < hi`` of a batch from step ``n0`` through
the kept steps ``kept[0] < kept[1] < ...``, writing s(kept[r]) into ``out[r]``.  The members are
cut into blocks of :data:`BLOCK`; a block runs all its steps before the next block starts, so
its states stay in the L1 cache.  Within a step, the loop over the block's members is one
straight-line body (every stage of the step, the vector field inlined), which the compiler
vectorises across members (SIMD): states are held components-first, ``work[j, i]``.

When every member shares the parameters (``shared``), the parameters are read once and the
drive is sampled once per step and node, outside the member loop, so the body is pure
arithmetic; otherwise each member reads its own parameters and samples its own drive.

The arithmetic is written in the numpy loop's order (:mod:`dynsys.steppers`):
stage_i = s + (h a_i1) k_1 + (h a_i2) k_2 + ..., s(n+1) = s + (h b_1) k_1 + ..., field times
t + c_i h and drive samples at t0 + (n + c) h, the sample at c = 1 reused as the next step's
c = 0; so both loops round alike and give the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..steppers import (
    BDF2,
    DiagonallyImplicitRungeKutta,
    ExplicitRungeKutta,
    SemiImplicitEuler,
    Stepper,
)
from ..steppers.symplectic import Splitting
from .implicit_source import bdf2_body, dirk_body
from .splitting_source import splitting_body
from .tangent import TangentStepper, tangent_body

BLOCK = 256
"""Members a block steps together (2 states: 4 KiB, which the L1 cache holds)."""

ARGUMENTS = (
    ("s", "pointer"),  # states (members, n), stepped in place
    ("out", "pointer"),  # kept states (rows, members, n)
    ("kept", "steps"),  # the kept steps (rows,)
    ("work", "pointer"),  # this call's scratch (work_rows, BLOCK)
    ("pv", "pointer"),  # parameters: (params,) when shared, else (params, members)
    ("members", "int"),
    ("lo", "int"),
    ("hi", "int"),
    ("rows", "int"),
    ("n0", "int"),
    ("t0", "float"),
    ("h", "float"),
)
"""advance's arguments, in order, with their C types: a pointer to float64 ("pointer"), to
int64 ("steps"), an int64 ("int") or a float64 ("float")."""


def work_rows(n_states: int, driven: bool, shared: bool, stepper: Stepper) -> int:
    """Rows of ``work`` a call needs: the block's states, its members' carried drive, and the
    past states s(n-1), ... a multistep method carries."""
    carried = driven and not shared and _carries(stepper)
    return n_states + carried + n_states * (stepper.history - 1)


def _carries(stepper: Stepper) -> bool:
    """Whether the step's last drive sample (c = 1) is the next step's first (c = 0)."""
    nodes = tuple(stepper.nodes)
    return len(nodes) > 1 and nodes[0] == 0 and nodes[-1] == 1


def advance_source(
    stepper: Stepper, n_states: int, params: list[str], driven: bool, split: int, shared: bool
) -> str:
    """Source of ``advance`` for ``stepper`` on a system with ``n_states`` states and these
    parameters; it calls the globals ``field`` (the vector field), ``drive`` (the forcing, when
    ``driven``), ``P`` (the parameters' named tuple) and ``carray``."""
    n = n_states
    ys = [f"y{j}" for j in range(n)]
    nodes = tuple(stepper.nodes) if driven else ()
    carries = driven and _carries(stepper)
    np_ = len(params)
    wr = work_rows(n, driven, shared, stepper)
    pv_shape = f"({max(np_, 1)},)" if shared else f"({max(np_, 1)}, members)"
    past = n * (stepper.history - 1)  # s(n-1), ...: columns n.. of s, rows of work after XN
    first_past = n + (carries and not shared)
    lines = [
        "def advance(s, out, kept, work, pv, members, lo, hi, rows, n0, t0, h):",
        f"    S = carray(s, (members, {n + past}))",
        f"    O = carray(out, (rows, members, {n}))",
        "    K = carray(kept, (rows,))",
        f"    W = carray(work, ({wr}, {BLOCK}))",
        f"    PV = carray(pv, {pv_shape})",
    ]
    lines += [f"    Y{j} = W[{j}]" for j in range(n)]
    if carries and not shared:
        lines.append(f"    XN = W[{n}]")
    lines += [f"    YP{j} = W[{first_past + j}]" for j in range(past)]
    if shared:
        lines.append(f"    p = P({', '.join(f'PV[{q}]' for q in range(np_))})")
    member_p = f"P({', '.join(f'PV[{q}, b + i]' for q in range(np_))})"
    lines += [
        f"    for b in range(lo, hi, {BLOCK}):",
        f"        m = min({BLOCK}, hi - b)",
        "        for i in range(m):",
        *(f"            Y{j}[i] = S[b + i, {j}]" for j in range(n)),
        *(f"            YP{j}[i] = S[b + i, {n + j}]" for j in range(past)),
        "        n = n0",
    ]
    if carries and shared:
        lines.append("        x_next = drive(t0 + (n + 0.0) * h, p)")
    elif carries:
        lines += [
            "        for i in range(m):",
            f"            XN[i] = drive(t0 + (n + 0.0) * h, {member_p})",
        ]
    lines += [
        "        for r in range(rows):",
        "            while n < K[r]:",
        "                t = t0 + n * h",
    ]
    samples = [
        ("x_next" if shared else "XN[i]")
        if carries and k == 0
        else f"drive(t0 + (n + {c!r}) * h, p)"
        for k, c in enumerate(nodes)
    ]
    if shared:
        lines += [f"                x{k} = {x}" for k, x in enumerate(samples)]
        if carries:
            lines.append(f"                x_next = x{len(nodes) - 1}")
    lines.append("                for i in range(m):")
    body: list[str] = []
    if not shared:
        body.append(f"p = {member_p}")
        body += [f"x{k} = {x}" for k, x in enumerate(samples)]
        if carries:
            body.append(f"XN[i] = x{len(nodes) - 1}")
    body += [f"{y} = Y{j}[i]" for j, y in enumerate(ys)]
    body += [f"{ys[j % n]}_past{j // n} = YP{j}[i]" for j in range(past)]
    make = BODIES.get(type(stepper))
    if make is None:
        raise TypeError(f"no compiled loop for {type(stepper).__name__}")
    body += make(stepper, ys, split, driven)
    body += [f"Y{j}[i] = {y}" for j, y in enumerate(ys)]
    body += [f"YP{j}[i] = {ys[j % n]}_past{j // n}" for j in range(past)]
    lines += [f"                    {line}" for line in body]
    lines += [
        "                n += 1",
        "            for i in range(m):",
        *(f"                O[r, b + i, {j}] = Y{j}[i]" for j in range(n)),
        "        for i in range(m):",
        *(f"            S[b + i, {j}] = Y{j}[i]" for j in range(n)),
        *(f"            S[b + i, {n + j}] = YP{j}[i]" for j in range(past)),
    ]
    return "\n".join(lines) + "\n"


def runge_kutta_body(
    stepper: ExplicitRungeKutta, ys: list[str], split: int, driven: bool
) -> list[str]:
    """k_i = g(t + c_i h, y + h sum_j a_ij k_j, x(c_i));  y += h sum_i b_i k_i, numpy's order."""
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


def semi_implicit_body(
    stepper: SemiImplicitEuler, ys: list[str], split: int, driven: bool
) -> list[str]:
    """v(n+1) = v + h g_v(t, q, v);  q(n+1) = q + h g_q(t, q, v(n+1))."""
    x = "x0" if driven else "0.0"
    body = [f"g = field(t, ({', '.join(ys)},), {x}, p)"]
    body += [f"{y} = {y} + h * g[{j}]" for j, y in enumerate(ys) if j >= split]
    body.append(f"g = field(t, ({', '.join(ys)},), {x}, p)")
    body += [f"{y} = {y} + h * g[{j}]" for j, y in enumerate(ys) if j < split]
    return body


BODIES: dict[type[Stepper], Callable[[Any, list[str], int, bool], list[str]]] = {
    ExplicitRungeKutta: runge_kutta_body,
    SemiImplicitEuler: semi_implicit_body,
    Splitting: splitting_body,
    DiagonallyImplicitRungeKutta: dirk_body,
    BDF2: bdf2_body,
    TangentStepper: tangent_body,
}
"""The body of one member's step, by stepper class: ``body(stepper, ys, split, driven)``
returns the lines that advance the state variables ``ys`` (in place of the names) by one step,
reading the drive samples ``x0, x1, ...`` (one per node), the parameters ``p`` and the step
index ``n``; a multistep method also reads and updates ``{y}_past0`` (s(n-1)), ... .  A stepper
class with a body here runs in the compiled loop."""
