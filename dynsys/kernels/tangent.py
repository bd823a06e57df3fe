"""The compiled tangent loop: an explicit Runge-Kutta step, its linearisation and a QR, per member.

Lyapunov exponents (:mod:`dynsys.lyapunov`) push m tangent vectors V (n x m) through the
linearisation of each step: dstage_i = V + h sum_j a_ij dk_j, dk_i = J(t + c_i h, stage_i)
dstage_i, V(n+1) = V + h sum_i b_i dk_i, and re-orthonormalise after every step, V = Q R,
adding log R_cc to a running sum per column.

Here that is one more kind of stepper for the compiled loop (:mod:`dynsys.kernels.source`): a
:class:`TangentStepper` steps the augmented state (s, V, sums), n + n m + m numbers per member,
so the blocks, threads, per-member parameters, drive sampling and the disk cache of the
ordinary loop serve it unchanged.  The QR is modified Gram-Schmidt applied twice ("twice is
enough": the columns stay orthonormal to rounding when V is nearly singular), with R's
diagonal positive as in :func:`dynsys.lyapunov.orthonormalise`; the sums agree with numpy's
Householder QR to rounding, not bit for bit.  The state s itself follows the stepper's own
arithmetic, bit for bit.  The caller subtracts the sums at the end of the transient, so the
loop accumulates from the start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..steppers import ExplicitRungeKutta, Stepper


@dataclass(frozen=True)
class TangentStepper(Stepper):
    """``base``'s step with its tangent map on ``columns`` vectors and a QR after each step,
    on the augmented state (s (n), V (n x columns, row by row), sums of log R_cc (columns))."""

    base: ExplicitRungeKutta | None = None
    columns: int = 1
    tangent = True

    def width(self, n_states: int) -> int:
        return n_states * (1 + self.columns) + self.columns

    @classmethod
    def of(cls, base: ExplicitRungeKutta, columns: int) -> TangentStepper:
        return cls(
            f"{base.name} with {columns} tangent vector{'s' if columns > 1 else ''}",
            base.order,
            base.nodes,
            f"{base.description}, linearised, QR every step",
            base=base,
            columns=columns,
        )


def tangent_body(stepper: TangentStepper, ys: list[str], split: int, driven: bool) -> list[str]:
    """Lines of one step of the augmented state named ``ys``: s, then V by rows, then sums."""
    base, m = stepper.base, stepper.columns
    n = (len(ys) - m) // (1 + m)
    y = ys[:n]
    v = [[ys[n + r * m + c] for c in range(m)] for r in range(n)]
    sums = ys[n + n * m :]
    body: list[str] = []
    for i, ci in enumerate(base.c):
        terms = [(j, aij) for j, aij in enumerate(base.a[i]) if aij]
        stage = [_plus(y[r], [(f"k{j}_{r}", a) for j, a in terms]) for r in range(n)]
        body += [f"st_{r} = {expr}" for r, expr in enumerate(stage)]
        for r in range(n):
            for c in range(m):
                body.append(
                    f"ds_{r}_{c} = " + _plus(v[r][c], [(f"dk{j}_{r}_{c}", a) for j, a in terms])
                )
        x = f"x{base.nodes.index(ci)}" if driven else "0.0"
        ti = f"t + {ci!r} * h"
        point = ", ".join(f"st_{r}" for r in range(n))
        body.append(f"g = field({ti}, ({point},), {x}, p)")
        body += [f"k{i}_{r} = g[{r}]" for r in range(n)]
        body.append(f"J = jac({ti}, ({point},), p)")
        for r in range(n):
            for c in range(m):
                products = " + ".join(f"J[{r}][{j}] * ds_{j}_{c}" for j in range(n))
                body.append(f"dk{i}_{r}_{c} = {products}")
    weights = [(i, bi) for i, bi in enumerate(base.b) if bi]
    body += [f"yn_{r} = " + _plus(y[r], [(f"k{i}_{r}", b) for i, b in weights]) for r in range(n)]
    for r in range(n):
        for c in range(m):
            body.append(
                f"q_{r}_{c} = " + _plus(v[r][c], [(f"dk{i}_{r}_{c}", b) for i, b in weights])
            )
    for c in range(m):
        for _ in range(2):  # Gram-Schmidt twice
            for prev in range(c):
                dot = " + ".join(f"q_{r}_{prev} * q_{r}_{c}" for r in range(n))
                body.append(f"proj = {dot}")
                body += [f"q_{r}_{c} = q_{r}_{c} - proj * q_{r}_{prev}" for r in range(n)]
        squares = " + ".join(f"q_{r}_{c} * q_{r}_{c}" for r in range(n))
        body.append(f"norm = np.sqrt({squares})")
        body.append(f"{sums[c]} = {sums[c]} + np.log(norm)")
        body += [f"q_{r}_{c} = q_{r}_{c} / norm" for r in range(n)]
    body += [f"{y[r]} = yn_{r}" for r in range(n)]
    body += [f"{v[r][c]} = q_{r}_{c}" for r in range(n) for c in range(m)]
    return body


def _plus(start: str, terms: list[tuple[str, float]]) -> str:
    """start + (h a_1) term_1 + (h a_2) term_2 + ..., left to right (the numpy loop's order)."""
    expr = start
    for name, a in terms:
        expr = f"{expr} + (h * {a!r}) * {name}"
    return expr


def sums_at(system, stepper: ExplicitRungeKutta, start: np.ndarray, dt: float, t0: float,
            rows: np.ndarray, m: int) -> np.ndarray | None:  # fmt: skip
    """The sums of log R_cc from step 0 to each step of ``rows`` (ascending, the last one the
    end), (..., len(rows), m), by the compiled loop; None when the states or the tangent
    vectors left the finite numbers (the numpy loop then says where)."""
    from . import kernel, params_vector, run, threads

    tangent = TangentStepper.of(stepper, m)
    n = system.n_states
    loop = kernel(system, tangent)
    batch = start.shape[:-1]
    flat = np.zeros((int(np.prod(batch, dtype=np.int64)), tangent.width(n)))
    flat[:, :n] = start.reshape(-1, n)
    flat[:, n : n + n * m] = np.eye(n)[:, :m].reshape(-1)
    kept = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty((len(kept), *flat.shape))
    params = params_vector(system, batch)
    with np.errstate(all="ignore"):
        run(loop, flat, 0, kept, out, t0, dt, params, threads())
    if not np.isfinite(out).all():
        return None
    sums = out[:, :, n + n * m :]  # (rows, members, m)
    return np.moveaxis(sums, 0, 1).reshape(*batch, len(kept), m)
