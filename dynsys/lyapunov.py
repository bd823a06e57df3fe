"""Lyapunov exponents of a recurrence s(n+1) = F(s(n)): the stepper's own map, not the flow.

Tangent vectors V (..., n, m) are pushed through the linearisation dF of the step, and
re-orthonormalised every ``every`` steps by a QR factorisation V = Q R (Benettin et al. 1980,
Shimada and Nagashima 1979): with R's diagonal made positive,

    lambda_i = (1 / T) sum over the factorisations of log R_ii,

T the time accumulated (per unit time for an ODE's stepper, per iteration for a map).

The linearisation of an explicit Runge-Kutta step, for any tableau (a, b, c):
stage_i = s + h sum_j a_ij k_j, k_i = g(t + c_i h, stage_i, x_i), F(s) = s + h sum_i b_i k_i, so

    dstage_i = V + h sum_j a_ij dk_j,   dk_i = J(t + c_i h, stage_i) dstage_i,
    dF V = V + h sum_i b_i dk_i,

with J = dg/ds the system's ``jacobian``.  An implicit stage z_i = B_i + h a_ii g(t_i, z_i)
(diagonally implicit tableaus) is differentiated implicitly: dz_i = (I - h a_ii J(t_i, z_i))^{-1}
dB_i and dk_i = (dz_i - dB_i) / (h a_ii).  Semi-implicit Euler and maps are linearised the same
way; a multistep method (BDF2) carries two states and is refused.  A system without a
``jacobian`` (or ``tangent="finite_difference"``) has dF V taken by centred differences of the
step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import checks
from .errors import DivergenceError, DynsysError, InputError, unknown_name
from .simulate import Recurrence, divergence_hint
from .steppers import (
    DiagonallyImplicitRungeKutta,
    ExplicitRungeKutta,
    MapIteration,
    SemiImplicitEuler,
    Splitting,
    Stepper,
    default_method,
    get_stepper,
)
from .systems.base import System

TANGENT_MODES = ("auto", "exact", "finite_difference")
"""How dF V is had: "exact" (the system's jacobian through the step's stages),
"finite_difference" (centred differences of the step), "auto" (exact when the system has a
jacobian)."""
FD_STEP = 1e-7
"""Relative step of the centred differences: eps = FD_STEP max(1, |s|) / |v|."""
CHECKPOINTS = 100
"""Running estimates kept in ``history`` (at most)."""
SPREAD_FRACTION = 0.2
"""``spread`` is max - min of the running estimate over this last fraction of the checkpoints."""

TangentStep = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class LyapunovResult:
    """Lyapunov exponents of a recurrence, largest first, with their running estimates.

    ``exponents`` has shape (..., m) (``...`` the batch, if any); ``history`` (..., checkpoints,
    m) holds the running estimate (sum of log R_ii so far) / (time so far) at ``times``
    (checkpoints,); ``spread`` (..., m) is its max - min over the last 20% of the checkpoints,
    an estimate of how far the exponents have converged.  ``units`` is "per unit time" (an
    ODE's stepper) or "per iteration" (a map).
    """

    exponents: np.ndarray
    times: np.ndarray
    history: np.ndarray
    spread: np.ndarray
    system: str
    params: dict[str, Any]
    n_states: int
    method: str
    dt: float
    t0: float
    t_end: float
    transient: float
    every: int
    tangent: str
    units: str
    steps: int
    """Steps whose growth was accumulated (after the transient)."""
    seconds: float = field(default=0.0)
    """Wall time of the computation."""

    @property
    def sum(self) -> np.ndarray:
        """lambda_1 + ... + lambda_m, shape (...): for the whole spectrum, log|det dF| per time."""
        return self.exponents.sum(axis=-1)

    @property
    def kaplan_yorke(self) -> np.ndarray | None:
        """The Kaplan-Yorke dimension (...), or None when not every exponent was computed."""
        if self.exponents.shape[-1] != self.n_states:
            return None
        flat = self.exponents.reshape(-1, self.n_states)
        dims = np.array([kaplan_yorke(row) for row in flat])
        return dims.reshape(self.exponents.shape[:-1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: exponents (largest first), their spread and sum, the Kaplan-Yorke
        dimension (null for a partial spectrum), the running estimates and the settings."""
        dim = self.kaplan_yorke
        return {
            "exponents": self.exponents.tolist(),
            "spread": self.spread.tolist(),
            "sum": self.sum.tolist(),
            "kaplan_yorke": None if dim is None else dim.tolist(),
            "units": self.units,
            "times": self.times.tolist(),
            "history": self.history.tolist(),
            "system": self.system,
            "params": self.params,
            "method": self.method,
            "dt": self.dt,
            "t0": self.t0,
            "t_end": self.t_end,
            "transient": self.transient,
            "every": self.every,
            "tangent": self.tangent,
            "steps": self.steps,
            "seconds": self.seconds,
        }


def kaplan_yorke(exponents: Any) -> float:
    """D = k + (lambda_1 + ... + lambda_k) / |lambda_{k+1}|, k the largest index whose partial
    sum is >= 0 (exponents sorted largest first); 0 when lambda_1 < 0, n when every partial
    sum is >= 0."""
    lam = np.sort(np.asarray(exponents, dtype=np.float64))[::-1]
    partial = np.cumsum(lam)
    k = int(np.sum(partial >= 0)) if partial[0] >= 0 else 0
    if k == 0:
        return 0.0
    if k == len(lam):
        return float(len(lam))
    return k + float(partial[k - 1]) / abs(float(lam[k]))


# -- the tangent map of one step ------------------------------------------------------------


def tableau_tangent(
    stepper: ExplicitRungeKutta | DiagonallyImplicitRungeKutta, system, t, h, s, x, p, V
):
    """(F(s), dF V) of a Runge-Kutta step, explicit or diagonally implicit, for any tableau:
    F(s) is the stepper's own s(n+1), bit for bit (the same operations in the same order as
    ``stepper.step``); an explicit stage has dk_i = J(t_i, B_i) dB_i, an implicit one solves
    (I - h a_ii J(t_i, z_i)) dz_i = dB_i and has dk_i = (dz_i - dB_i) / (h a_ii)."""
    from .steppers.implicit import newton

    ks: list[np.ndarray] = []
    dks: list[np.ndarray] = []
    failed = np.zeros(np.shape(s)[:-1], dtype=bool)
    for i, ci in enumerate(stepper.c):
        row = stepper.a[i]
        base, dbase = s, V
        for aij, kj, dkj in zip(row[:i], ks, dks, strict=False):
            if aij:
                base = base + (h * aij) * kj
                dbase = dbase + (h * aij) * dkj
        ti = t + ci * h
        xi = None if x is None else x[stepper.nodes.index(ci)]
        aii = row[i] if len(row) > i else 0.0
        if aii:
            z, bad = newton(system, ti, base, h * aii, xi, p)
            failed = failed | bad
            n = z.shape[-1]
            m = np.eye(n) - (h * aii) * system.jacobian(ti, z, p)
            dz = np.linalg.solve(m, np.broadcast_to(dbase, (*m.shape[:-1], dbase.shape[-1])))
            ks.append((z - base) / (h * aii))
            dks.append((dz - dbase) / (h * aii))
        else:
            ks.append(system.rhs(ti, base, xi, p))
            dks.append(system.jacobian(ti, base, p) @ dbase)
    out, dout = s, V
    for bi, ki, dki in zip(stepper.b, ks, dks, strict=True):
        if bi:
            out = out + (h * bi) * ki
            dout = dout + (h * bi) * dki
    if failed.any():
        out = np.where(failed[..., None], np.nan, out)
    return out, dout


def splitting_tangent(stepper: Splitting, system, t, h, s, x, p, V):
    """(F(s), dF V) of a kick-drift composition: each kick (drift) adds (h d) J(t_i, s) dS to
    the velocity (position) rows of the tangent, with J at the state before that operation."""
    q = system.n_positions
    out, dout = s.copy(), np.array(V, dtype=np.float64)
    for kick, coef, node in stepper.operations:
        part = np.s_[..., q:] if kick else np.s_[..., :q]
        rows = np.s_[..., q:, :] if kick else np.s_[..., :q, :]
        ti = t + stepper.nodes[node] * h
        g = system.rhs(ti, out, None if x is None else x[node], p)
        dg = system.jacobian(ti, out, p) @ dout
        out[part] = out[part] + (h * coef) * g[part]
        dout[rows] = dout[rows] + (h * coef) * dg[rows]
    return out, dout


def semi_implicit_euler_tangent(stepper: SemiImplicitEuler, system, t, h, s, x, p, V):
    """(F(s), dF V) of semi-implicit Euler: the velocity rows first with J(t, s), then the
    position rows with J(t, half) applied to the updated tangent."""
    q = system.n_positions
    x0 = None if x is None else x[0]
    half, dhalf = s.copy(), V.copy()
    half[..., q:] += h * system.rhs(t, s, x0, p)[..., q:]
    dhalf[..., q:, :] += h * (system.jacobian(t, s, p) @ V)[..., q:, :]
    half[..., :q] += h * system.rhs(t, half, x0, p)[..., :q]
    dhalf[..., :q, :] += h * (system.jacobian(t, half, p) @ dhalf)[..., :q, :]
    return half, dhalf


def map_tangent(stepper: MapIteration, system, t, h, s, x, p, V):
    """(f(n, s), Df(n, s) V) of a discrete map."""
    return system.next(t, s, p), system.jacobian(t, s, p) @ V


EXACT_TANGENTS: dict[type[Stepper], TangentStep] = {
    ExplicitRungeKutta: tableau_tangent,
    DiagonallyImplicitRungeKutta: tableau_tangent,
    SemiImplicitEuler: semi_implicit_euler_tangent,
    Splitting: splitting_tangent,
    MapIteration: map_tangent,
}
"""The linearisation of each kind of stepper (a stepper type not listed is differentiated by
finite differences)."""


def finite_difference_tangent(stepper: Stepper, system, t, h, s, x, p, V):
    """(F(s), dF V) with each column v of V by centred differences:
    dF v = (F(s + eps v) - F(s - eps v)) / (2 eps), eps = FD_STEP max(1, |s|) / |v|."""
    out = stepper.step(system, t, h, s, x, p)
    scale = FD_STEP * np.maximum(1.0, np.linalg.norm(s, axis=-1))
    columns = []
    for j in range(V.shape[-1]):
        v = V[..., :, j]
        size = np.linalg.norm(v, axis=-1)
        eps = (scale / np.where(size > 0, size, 1.0))[..., None]
        plus = stepper.step(system, t, h, s + eps * v, x, p)
        minus = stepper.step(system, t, h, s - eps * v, x, p)
        columns.append((plus - minus) / (2 * eps))
    return out, np.stack(columns, axis=-1)


def tangent_step(
    system: System, stepper: Stepper, t: float, h: float, s, x, V, mode: str = "exact"
) -> tuple[np.ndarray, np.ndarray]:
    """s(n+1) = F(s) and dF V (..., n, m) for one step from ``s`` at time ``t`` with drive
    samples ``x``; ``mode`` is "exact" or "finite_difference"."""
    return _tangent_function(system, stepper, mode)(stepper, system, t, h, s, x, system.params, V)


def _tangent_function(system: System, stepper: Stepper, mode: str) -> TangentStep:
    """The function that makes (F(s), dF V) for ``mode``."""
    if mode == "finite_difference":
        return finite_difference_tangent
    exact = _exact_tangent(stepper)
    if exact is None or system.jacobian is None:
        raise InputError(
            f"no exact tangent for {stepper.name} on {system.name}; use 'finite_difference'"
        )
    return exact


def _exact_tangent(stepper: Stepper) -> TangentStep | None:
    for kind, fn in EXACT_TANGENTS.items():
        if type(stepper) is kind:
            return fn
    return None


# -- re-orthonormalisation -----------------------------------------------------------------


def orthonormalise(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V = Q R with R's diagonal positive: (Q (..., n, m), log R_ii (..., m))."""
    Q, R = np.linalg.qr(V)
    diag = np.diagonal(R, axis1=-2, axis2=-1)
    sign = np.where(diag < 0, -1.0, 1.0)
    return Q * sign[..., None, :], np.log(np.abs(diag))


# -- the computation -----------------------------------------------------------------------


def lyapunov(
    system: System,
    s0: Any,
    *,
    dt: float | None = None,
    method: str | None = None,
    t0: float = 0.0,
    t_end: float,
    transient: float = 0.0,
    spectrum: bool | int = False,
    every: int = 1,
    tangent: str = "auto",
    backend: str = "auto",
) -> LyapunovResult:
    """Lyapunov exponents of ``method``'s recurrence on ``system`` from s(t0) = s0.

    The states and tangent vectors are run over [t0, t0 + transient] first (re-orthonormalised,
    nothing accumulated), then log R_ii is accumulated over (t0 + transient, t_end] and divided
    by the time accumulated (iterations, for a map).  ``spectrum`` False gives the largest
    exponent, True all n, an int that many; ``every`` is the number of steps between two QR
    factorisations.  ``s0`` (n,) or (batch, n), and parameters of shape (batch,), give
    exponents of shape (batch, m); the batch is stepped at once.  ``method`` defaults as in
    :func:`dynsys.simulate` ('euler', 'map' for maps; a map's dt is 1).  ``backend`` "auto"
    takes the compiled tangent loop (:mod:`dynsys.kernels.tangent`: explicit Runge-Kutta
    steppers, exact tangents, a QR every step) as :func:`dynsys.simulate` takes the compiled
    loop; "numpy" never does, "numba" always (or refuses).

    Raises :class:`~dynsys.errors.InputError` for bad input, and a
    :class:`~dynsys.errors.DynsysError` (a :class:`DivergenceError` for the state) naming the
    time where the state or the tangent vectors left the finite numbers.
    """
    started = time.perf_counter()
    method = default_method(system) if method is None else method
    if method == "solve_ivp":
        raise InputError(
            "method must be a stepper (its recurrence is what is measured), not solve_ivp"
        )
    stepper = get_stepper(method, system)
    if stepper.history > 1:
        raise InputError(
            f"method {method} carries {stepper.history} states, so its map is not s -> F(s); "
            "use a one-step method (e.g. sdirk3 or implicit_euler for a stiff system)"
        )
    dt = _step(system, dt)
    t0 = checks.finite_number("t0", t0)
    t_end = checks.finite_number("t_end", t_end)
    transient = checks.finite_number("transient", transient)
    if transient < 0:
        raise InputError(f"transient must be >= 0, got {transient:g}")
    if t_end <= t0 + transient:
        raise InputError(
            f"t_end must be greater than t0 + transient = {t0 + transient:g}, got t_end={t_end:g}"
        )
    every = checks.integer("every", every)
    m = _count(system, spectrum)
    mode = _mode(system, stepper, tangent)
    start = checks.initial_state(system, s0)
    n_total = checks.step_count(t0, t_end, dt)
    n_trans = checks.step_count(t0, t0 + transient, dt, "dt") if transient > 0 else 0
    if n_trans >= n_total:
        raise InputError(
            f"t_end={t_end:g} leaves no step after the transient of {transient:g}; "
            "take a later t_end or a shorter transient"
        )
    n_traj = start.size // system.n_states
    checks.within_steps(
        n_total * n_traj * (1 + m),
        f"Lyapunov exponents of {n_traj} trajector{'y' if n_traj == 1 else 'ies'} x "
        f"{n_total:.4g} steps x {m} tangent vector{'s' if m > 1 else ''}",
        "take a larger dt, a shorter time or fewer exponents",
    )
    compiled = None
    if _compilable(system, stepper, mode, every, backend, m, n_total * n_traj * (1 + m)):
        compiled = _compiled_run(system, stepper, start, dt, t0, n_trans, n_total, m)
    if compiled is None:  # the numpy loop, which also says where a run left the numbers
        compiled = _run(system, stepper, mode, start, dt, t0, n_trans, n_total, every, m)
    sums, times, history = compiled
    steps = n_total - n_trans
    exponents = sums / (steps * dt)
    tail = history[..., -max(1, math.ceil(SPREAD_FRACTION * history.shape[-2])) :, :]
    return LyapunovResult(
        exponents=exponents,
        times=times,
        history=history,
        spread=tail.max(axis=-2) - tail.min(axis=-2),
        system=system.name,
        params=system.param_values(),
        n_states=system.n_states,
        method=stepper.name,
        dt=dt,
        t0=t0,
        t_end=t0 + n_total * dt,
        transient=n_trans * dt,
        every=every,
        tangent=mode,
        units="per iteration" if system.kind == "map" else "per unit time",
        steps=steps,
        seconds=time.perf_counter() - started,
    )


def _run(system, stepper, mode, start, dt, t0, n_trans, n_total, every, m):
    """The time loop: (sums of log R_ii (..., m), checkpoint times, history (..., k, m))."""
    n = system.n_states
    rec = Recurrence(system, stepper, dt, t0)
    step, p = _tangent_function(system, stepper, mode), system.params  # once, not per step
    _, record = _checkpoints(n_trans, n_total, every)
    s = start.copy()
    V = np.broadcast_to(np.eye(n)[:, :m], (*s.shape[:-1], n, m)).copy()
    sums = np.zeros((*s.shape[:-1], m))
    times, history = [], []
    with np.errstate(all="ignore"):
        for k in range(1, n_total + 1):
            s, V = step(stepper, system, rec.time(k - 1), dt, s, rec.drive(k - 1), p, V)
            if not np.isfinite(s).all():
                raise _diverged(rec, stepper, k, s)
            if k <= n_trans:
                due = k % every == 0 or k == n_trans
            else:
                due = (k - n_trans) % every == 0 or k == n_total
            if not due:
                continue
            if not np.isfinite(V).all():
                raise DynsysError(
                    f"the tangent vectors left the finite numbers at t = {rec.time(k):.6g} "
                    f"(step {k}); re-orthonormalise more often (a smaller every, now {every})"
                )
            V, logs = orthonormalise(V)
            if not np.isfinite(logs).all():
                raise DynsysError(
                    f"the tangent vectors collapsed at t = {rec.time(k):.6g} (step {k}): the "
                    "step map is singular there (an exponent of -inf)"
                )
            if k > n_trans:
                sums += logs
                if k in record:
                    times.append(rec.time(k))
                    history.append(sums / ((k - n_trans) * dt))
    return sums, np.array(times), np.stack(history, axis=-2)


def _checkpoints(n_trans: int, n_total: int, every: int) -> tuple[list[int], set[int]]:
    """The steps of the QR factorisations after the transient, and the (at most CHECKPOINTS,
    evenly spread) ones where the running estimate is recorded."""
    qr_steps = [*range(n_trans + every, n_total, every), n_total]
    picks = np.unique(np.linspace(0, len(qr_steps) - 1, min(CHECKPOINTS, len(qr_steps))).round())
    return qr_steps, {qr_steps[int(i)] for i in picks}


def _compilable(system, stepper, mode, every, backend, m, member_steps) -> bool:
    """Whether the compiled tangent loop runs: exact tangents of an explicit Runge-Kutta
    stepper with a QR every step, chosen by ``backend`` as simulate chooses its loop."""
    from .kernels.tangent import TangentStepper
    from .simulate import BACKENDS, choose_backend

    if backend not in BACKENDS:
        raise unknown_name("backend", str(backend), BACKENDS)
    plain = mode == "exact" and every == 1 and type(stepper) is ExplicitRungeKutta
    if backend == "numba" and not plain:
        raise InputError(
            "backend 'numba' runs the tangents of explicit Runge-Kutta steppers with exact "
            f"tangents and every=1; got {stepper.name}, tangent {mode!r}, every={every}"
        )
    if not plain:
        return False
    tangent = TangentStepper.of(stepper, m)
    return choose_backend(backend, system, tangent, member_steps) == "numba"


def _compiled_run(system, stepper, start, dt, t0, n_trans, n_total, m):
    """:func:`_run` by the compiled tangent loop, or None when the run left the finite numbers
    (the numpy loop then runs and says where)."""
    from .kernels.tangent import sums_at

    _, record = _checkpoints(n_trans, n_total, 1)
    rows = sorted({n_trans, *record} - {0})
    sums = sums_at(system, stepper, start, dt, t0, np.array(rows), m)
    if sums is None:
        return None
    first = sums[..., 0, :] if n_trans else 0.0  # the sums over the transient
    kept = [i for i, k in enumerate(rows) if k > n_trans]
    steps = np.array([rows[i] - n_trans for i in kept], dtype=np.float64)
    history = (sums[..., kept, :] - np.asarray(first)[..., None, :]) / (steps[:, None] * dt)
    times = t0 + np.array([rows[i] for i in kept]) * dt
    return sums[..., -1, :] - first, times, history


def _diverged(rec: Recurrence, stepper: Stepper, k: int, s: np.ndarray) -> DivergenceError:
    bad = ~np.isfinite(s).reshape(-1, s.shape[-1]).all(axis=-1)
    which = int(np.argmax(bad)) if s.ndim > 1 else None
    hint = divergence_hint(rec.system, stepper.name)
    return DivergenceError(stepper.name, k, rec.time(k), which, hint)


def _step(system: System, dt: Any) -> float:
    if system.kind == "map":
        if dt is not None and checks.finite_number("dt", dt) != 1:
            raise InputError(f"dt of a discrete map must be 1, got {dt!r}")
        return 1.0
    if dt is None:
        raise InputError("dt is required for an ODE: give the step size, e.g. dt=0.01")
    return checks.positive_number("dt", dt)


def _count(system: System, spectrum: Any) -> int:
    """Exponents asked for: 1 (False), n (True), or the int given, 1..n."""
    n = system.n_states
    if spectrum is True:
        return n
    if spectrum is False:
        return 1
    if isinstance(spectrum, (int, np.integer)) and 1 <= spectrum <= n:
        return int(spectrum)
    raise InputError(
        f"spectrum must be True, False or a whole number from 1 to {n} (the states of "
        f"{system.name}), got {spectrum!r}"
    )


def _mode(system: System, stepper: Stepper, tangent: Any) -> str:
    """The tangent mode used: "exact" or "finite_difference"."""
    if tangent not in TANGENT_MODES:
        raise unknown_name("tangent", str(tangent), TANGENT_MODES)
    exact = system.jacobian is not None and _exact_tangent(stepper) is not None
    if tangent == "exact" and not exact:
        raise InputError(
            f"tangent 'exact' needs a jacobian, which {system.name} does not define; "
            "use tangent 'finite_difference' or 'auto'"
        )
    if tangent == "auto":
        return "exact" if exact else "finite_difference"
    return tangent


__all__ = ["TANGENT_MODES", "LyapunovResult", "kaplan_yorke", "lyapunov", "tangent_step"]
