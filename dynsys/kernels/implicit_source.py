"""The compiled step of a diagonally implicit Runge-Kutta method: Newton's method per member.

The lines repeat :mod:`dynsys.steppers.implicit` operation for operation, for one member with
its state in scalars: stage bases s + (h a_ij) k_j in order; for an implicit stage, at most
MAX_ITERATIONS Newton iterations, each r = (B + γh g(t_i, z)) - z, M = J (-γh) with 1 added on
the diagonal, Gaussian elimination with partial pivoting (the first largest |pivot|), z += δ,
stopping once |δ_j| <= TOLERANCE (1 + |z_j|) for every j and max|δ| has contracted by
CONTRACTION since the iteration before; then k_i = (z - B) / (γh) and
s(n+1) = s + (h b_i) k_i.  A member whose iteration fails gets NaN, as in the numpy loop, so
both loops give the same bits.  The Jacobian is the system's ``jacobian_field`` (the global
``jac``).
"""

from __future__ import annotations

from ..steppers.implicit import (
    BDF2,
    CONTRACTION,
    MAX_ITERATIONS,
    TOLERANCE,
    DiagonallyImplicitRungeKutta,
)


def dirk_body(
    stepper: DiagonallyImplicitRungeKutta, ys: list[str], split: int, driven: bool
) -> list[str]:
    """Lines that advance the scalars ``ys`` by one step of ``stepper``."""
    n = len(ys)
    body = ["failed = False"]
    for i, ci in enumerate(stepper.c):
        row = stepper.a[i]
        base = []
        for j, y in enumerate(ys):
            expr = y
            for m, aim in enumerate(row[:i]):
                if aim:
                    expr = f"({expr} + (h * {aim!r}) * k{m}_{j})"
            base.append(expr)
        x = f"x{stepper.nodes.index(ci)}" if driven else "0.0"
        ti = f"(t + {ci!r} * h)"
        aii = row[i] if len(row) > i else 0.0
        if not aii:
            body.append(f"g = field({ti}, ({', '.join(base)},), {x}, p)")
            body += [f"k{i}_{j} = g[{j}]" for j in range(n)]
            continue
        body += [f"b_{j} = {expr}" for j, expr in enumerate(base)]
        body += [f"z_{j} = b_{j}" for j in range(n)]
        body.append(f"gh = h * {aii!r}")
        body += ["ok = False", "previous = np.inf"]
        body.append(f"for it in range({MAX_ITERATIONS}):")
        body += [f"    {line}" for line in _newton_iteration(n, ti, x)]
        finite = " and ".join(f"np.isfinite(z_{j})" for j in range(n))
        body.append(f"if not (ok and {finite}):")
        body.append("    failed = True")
        body += [f"k{i}_{j} = (z_{j} - b_{j}) / gh" for j in range(n)]
    for j, y in enumerate(ys):
        expr = y
        for i, bi in enumerate(stepper.b):
            if bi:
                expr = f"{expr} + (h * {bi!r}) * k{i}_{j}"
        body.append(f"{y}_next = {expr}")
    body.append("if failed:")
    body += [f"    {y}_next = np.nan" for y in ys]
    body += [f"{y} = {y}_next" for y in ys]
    return body


def bdf2_body(stepper: BDF2, ys: list[str], split: int, driven: bool) -> list[str]:
    """Lines of one BDF2 step: B = 4/3 s(n) - 1/3 s(n-1), z = B + (2/3 h) g(t + h, z) by
    Newton (backward Euler, B = s, on step 0); then s(n-1) = s(n), s(n+1) = z."""
    n = len(ys)
    x = "x0" if driven else "0.0"
    body = ["if n == 0:"]
    body += [f"    b_{j} = {y}" for j, y in enumerate(ys)]
    body += ["    gh = h", "else:"]
    body += [f"    b_{j} = {4 / 3!r} * {y} - {1 / 3!r} * {y}_past0" for j, y in enumerate(ys)]
    body.append(f"    gh = {2 / 3!r} * h")
    body += [f"z_{j} = b_{j}" for j in range(n)]
    body += ["ok = False", "previous = np.inf"]
    body.append(f"for it in range({MAX_ITERATIONS}):")
    body += [f"    {line}" for line in _newton_iteration(n, "(t + 1.0 * h)", x)]
    finite = " and ".join(f"np.isfinite(z_{j})" for j in range(n))
    body += [f"{y}_past0 = {y}" for y in ys]
    body.append(f"if ok and {finite}:")
    body += [f"    {y} = z_{j}" for j, y in enumerate(ys)]
    body.append("else:")
    body += [f"    {y} = np.nan" for y in ys]
    return body


def _newton_iteration(n: int, ti: str, x: str) -> list[str]:
    """One Newton iteration on z_0.. for the stage z = b + gh g(ti, z); sets ok and breaks
    when it converged."""
    zs = ", ".join(f"z_{j}" for j in range(n))
    lines = [f"g = field({ti}, ({zs},), {x}, p)", f"J = jac({ti}, ({zs},), p)"]
    lines += [f"r_{j} = (b_{j} + gh * g[{j}]) - z_{j}" for j in range(n)]
    for j in range(n):
        for k in range(n):
            entry = f"J[{j}][{k}] * (-gh)"
            lines.append(f"m_{j}_{k} = {entry} + 1.0" if j == k else f"m_{j}_{k} = {entry}")
    lines += _solve(n)
    lines += [f"moved_{j} = z_{j} + d_{j}" for j in range(n)]
    lines.append("size = abs(d_0)")
    for j in range(1, n):
        lines += [f"if abs(d_{j}) > size:", f"    size = abs(d_{j})"]
    lines += [f"contracts = size / previous <= {CONTRACTION!r}", "previous = size"]
    test = " and ".join(f"abs(d_{j}) <= {TOLERANCE!r} * (1.0 + abs(moved_{j}))" for j in range(n))
    lines += [f"z_{j} = moved_{j}" for j in range(n)]
    lines += [f"if {test} and contracts:", "    ok = True", "    break"]
    return lines


def _solve(n: int) -> list[str]:
    """d = M^{-1} r by Gaussian elimination with partial pivoting, in solve_small's order."""
    lines: list[str] = []
    for k in range(n - 1):
        lines += [f"piv = {k}", f"best = abs(m_{k}_{k})"]
        for r in range(k + 1, n):
            lines += [f"if abs(m_{r}_{k}) > best:", f"    piv = {r}", f"    best = abs(m_{r}_{k})"]
        for r in range(k + 1, n):
            left = ", ".join([*(f"m_{k}_{c}" for c in range(k, n)), f"r_{k}"])
            right = ", ".join([*(f"m_{r}_{c}" for c in range(k, n)), f"r_{r}"])
            lines += [f"if piv == {r}:", f"    {left}, {right} = {right}, {left}"]
        for i in range(k + 1, n):
            lines.append(f"f = m_{i}_{k} / m_{k}_{k}")
            lines += [f"m_{i}_{j} = m_{i}_{j} - f * m_{k}_{j}" for j in range(k + 1, n)]
            lines.append(f"r_{i} = r_{i} - f * r_{k}")
    for k in range(n - 1, -1, -1):
        acc = f"r_{k}"
        for j in range(k + 1, n):
            acc = f"({acc} - m_{k}_{j} * d_{j})"
        lines.append(f"d_{k} = {acc} / m_{k}_{k}")
    return lines
