"""Lyapunov exponents of a recurrence s(n+1) = F(s(n)): the stepper's own map, not the flow.

Tangent vectors V (..., n, m) are pushed through the linearisation dF of the step, and
re-orthonormalised every ``every`` steps by a QR factorisation V = Q R (Benettin et al. 1980,
Shimada and Nagashima 1979): with R's diagonal made positive,

    lambda_i = (1 / T) sum over the factorisations of log R_ii,

T the time accumulated (per unit time for an ODE's stepper, per iteration for a map).

A driven ODE with drive period T_d = 2 pi / omega has a stroboscopic map
P: s(t0 + k T_d) -> s(t0 + (k + 1) T_d), the stepper's recurrence applied T_d / h times (h must
divide T_d).  ``section="stroboscopic"`` accumulates over whole periods and reports the
exponents of P, per drive period: T_d times those per unit time, and with the whole spectrum
their sum is log|det dP|, which is -delta T_d for a Duffing oscillator (trace of dg/ds = -delta).

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
SECTIONS = ("stroboscopic",)
"""Sections of a driven ODE whose map can be measured instead of the stepper's own step:
"stroboscopic", s(t0 + k T) -> s(t0 + (k + 1) T) with T the drive period."""
PERIOD_TOLERANCE = 1e-9
"""T / dt must lie within this of a whole number for dt to divide the drive period T."""

TangentStep = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class LyapunovResult:
    """Lyapunov exponents of a recurrence, largest first, with their running estimates.

    ``exponents`` has shape (..., m) (``...`` the batch, if any); ``history`` (..., checkpoints,
    m) holds the running estimate (sum of log R_ii so far) / (time so far) at ``times``
    (checkpoints,); ``spread`` (..., m) is its max - min over the last 20% of the checkpoints,
    an estimate of how far the exponents have converged.  ``per`` says what the exponents are
    per: "unit time" (an ODE's stepper), "drive period" (the stroboscopic map of a driven ODE,
    whose period is ``period``) or "iteration" (a map); ``units`` is "per " + ``per``.
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
    per: str = "unit time"
    """What the exponents are per: "unit time", "drive period" or "iteration"."""
    period: float | None = None
    """The drive period T of a stroboscopic map (None otherwise)."""

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
            "per": self.per,
            "period": self.period,
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
    section: str | None = None,
    period: float | None = None,
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

    ``section="stroboscopic"`` (a driven ODE) measures the stroboscopic map
    s(t0 + k T) -> s(t0 + (k + 1) T) instead, T = ``period`` (default 2 pi / omega), per drive
    period: dt must divide T, the transient is rounded up and t_end down to whole periods.

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
    per_step = _section_steps(system, section, period, dt)  # steps per period, or None
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
    if per_step is not None:  # whole drive periods: the transient up, the end down
        n_trans = -(-n_trans // per_step) * per_step
        n_total = n_total // per_step * per_step
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
    if per_step is not None:  # per drive period: the sums over whole periods / the periods
        exponents = sums / (steps // per_step)
        history = history * (per_step * dt)
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
        units=f"per {_per(system, per_step)}",
        steps=steps,
        seconds=time.perf_counter() - started,
        per=_per(system, per_step),
        period=None if per_step is None else per_step * dt,
    )


def _per(system: System, per_step: int | None) -> str:
    """What the exponents are per: "iteration", "drive period" or "unit time"."""
    if system.kind == "map":
        return "iteration"
    return "unit time" if per_step is None else "drive period"


def drive_period(system: System, period: Any = None) -> float:
    """The drive period T = 2 pi / omega of a driven ODE (one value of omega), or ``period``
    when given."""
    if system.kind == "map" or not system.driven:
        raise InputError(
            f"a stroboscopic section needs a driven ODE; {system.name} is "
            f"{'a map' if system.kind == 'map' else 'not driven'}"
        )
    if period is not None:
        return checks.positive_number("period", period)
    omega = system.params.get("omega")
    if omega is None:
        raise InputError(f"{system.name} has no parameter omega; give the drive period (period)")
    if omega.ndim != 0:
        raise InputError(
            "omega must be one number for a stroboscopic section (it sets the drive period, "
            "the same for every member)"
        )
    if float(omega) <= 0:
        raise InputError(f"omega must be > 0 for a periodic drive, got {float(omega):g}")
    return 2 * math.pi / float(omega)


def steps_per_period(period: float, dt: float) -> int:
    """k = T / dt when dt divides the drive period T (k within PERIOD_TOLERANCE of a whole
    number >= 1); else an InputError naming the steps that fit."""
    k = period / dt
    whole = round(k)
    if whole >= 1 and abs(k - whole) <= PERIOD_TOLERANCE:
        return int(whole)
    fits = sorted({max(1, math.floor(k)), math.ceil(k), 50, 100, 200})
    shown = ", ".join(f"{period / j:.10g} (k={j})" for j in fits)
    raise InputError(
        f"dt={dt:g} does not divide the drive period T={period:.10g} (T/dt = {k:.6g}); "
        f"dt must be T/k for a whole k, e.g. {shown}"
    )


def _section_steps(system: System, section: Any, period: Any, dt: float) -> int | None:
    """Steps per drive period of a stroboscopic section, None without a section."""
    if section is None:
        if period is not None:
            raise InputError("period is the drive period of section='stroboscopic'; give both")
        return None
    if section not in SECTIONS:
        raise unknown_name("section", str(section), SECTIONS)
    return steps_per_period(drive_period(system, period), dt)


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
    first = sums[..., 0, :] if n_trans else np.zeros_like(sums[..., 0, :])  # over the transient
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


# -- the largest exponent of a system, computed once per process -----------------------------

CHAOS_GROWTH = 5.0
"""A largest exponent counts as chaos when the tangent vector grows by more than exp(5) over
the second half of the run (lambda (T/2) > 5): regular motion grows at most polynomially
(t^k gives k log 2 there), chaos exponentially."""


@dataclass(frozen=True)
class LargestExponentSettings:
    """How :func:`largest_exponent` computes lambda_1: ``method`` at ``dt`` from the system's
    ``default_s0``, ``transient`` time units (iterations for a map) first, then ``span`` more
    accumulated (``numpy_span`` when the compiled tangent loop cannot run); a stiff system
    takes ``stiff_method`` at ``stiff_dt``."""

    method: str = "rk4"
    stiff_method: str = "sdirk3"
    dt: float = 0.01
    stiff_dt: float = 0.1
    transient: float = 20.0
    span: float = 500.0
    numpy_span: float = 100.0
    map_transient: int = 100
    map_span: int = 10_000

    def describe(self, system: System) -> str:
        """'rk4, dt=0.01, 500 time units after 20' for ``system``."""
        if system.kind == "map":
            return f"{self.map_span} iterations after {self.map_transient}"
        method, dt = self.stepping(system)
        transient = max(self.transient, float(system.transient))
        span = self.span if _fast_backend(system, method) == "numba" else self.numpy_span
        return f"{method}, dt={dt:g}, {span:g} time units after {transient:g}"

    def stepping(self, system: System) -> tuple[str, float]:
        """(method, dt) for ``system``: the stiff pair for a stiff system."""
        return (self.stiff_method, self.stiff_dt) if system.stiff else (self.method, self.dt)


LARGEST_EXPONENT = LargestExponentSettings()
"""The settings of :func:`largest_exponent` (Lorenz at (10, 28, 8/3): 0.9048 against
Sprott's 0.9056)."""
_LARGEST_CACHE: dict[tuple[Any, ...], float | None] = {}


def largest_exponent(system: System) -> float | None:
    """lambda_1 per unit time (per iteration for a map) of ``system`` at its parameters (one
    value each) when it is chaotic, else None.

    Computed as :data:`LARGEST_EXPONENT` says (RK4 at dt = 0.01 over 500 time units after a
    transient, by the compiled tangent loop when it can run, in well under a second) and
    cached per (system class, parameter values) in the process.  None when lambda_1 (T/2) over
    the second half of the run is below :data:`CHAOS_GROWTH`: no positive exponent, or one no
    larger than regular motion's log(t)/t.
    """
    values = tuple((k, float(v)) for k, v in system.params.items() if v.ndim == 0)
    if len(values) != len(system.params):
        raise InputError(
            f"the largest exponent of {system.name} needs one value per parameter (no batch)"
        )
    key = (type(system), values)
    if key not in _LARGEST_CACHE:
        _LARGEST_CACHE[key] = _largest(system, LARGEST_EXPONENT)
    return _LARGEST_CACHE[key]


def lyapunov_time(system: System) -> float | None:
    """The Lyapunov time 1 / lambda_1 of a chaotic ``system`` (:func:`largest_exponent`), else
    None."""
    exponent = largest_exponent(system)
    return None if exponent is None else 1.0 / exponent


def _largest(system: System, settings: LargestExponentSettings) -> float | None:
    """lambda_1 by ``settings``, or None when it is not the exponential growth of chaos."""
    if system.kind == "map":
        result = lyapunov(
            system,
            system.default_s0,
            t_end=settings.map_transient + settings.map_span,
            transient=settings.map_transient,
        )
    else:
        method, dt = settings.stepping(system)
        backend = _fast_backend(system, method)
        transient = max(settings.transient, float(system.transient))
        span = settings.span if backend == "numba" else settings.numpy_span
        result = lyapunov(
            system,
            system.default_s0,
            dt=dt,
            method=method,
            t_end=transient + span,
            transient=transient,
            backend=backend,
        )
    exponent = float(result.exponents[0])
    # growth over the second half: S(end) - S(middle), S = running estimate x time accumulated
    elapsed = result.times - (result.t0 + result.transient)
    sums = result.history[:, 0] * elapsed
    middle = int(np.argmin(np.abs(elapsed - elapsed[-1] / 2)))
    late = float(sums[-1] - sums[middle])
    return exponent if exponent > 0 and late > CHAOS_GROWTH else None


def _fast_backend(system: System, method: str) -> str:
    """The tangent loop for ``method`` on ``system``: "numba" where it compiles, else "numpy"."""
    from . import kernels
    from .kernels.tangent import TangentStepper

    stepper = get_stepper(method, system)
    if system.jacobian is None or type(stepper) is not ExplicitRungeKutta:
        return "numpy"
    if not kernels.available():
        return "numpy"
    return "numba" if kernels.supports(system, TangentStepper.of(stepper, 1)) else "numpy"


__all__ = [
    "LARGEST_EXPONENT",
    "SECTIONS",
    "TANGENT_MODES",
    "LyapunovResult",
    "drive_period",
    "kaplan_yorke",
    "largest_exponent",
    "lyapunov",
    "lyapunov_time",
    "steps_per_period",
    "tangent_step",
]
