"""Work-precision sets: the error each method reaches against the work it spends.

For every fixed-step stepper and step h, and every solve_ivp method and tolerance rtol, one
point records the error against a tight reference at the same times, the wall time (median of
``repeats`` runs) and the evaluations of the vector field g per trajectory.  A fixed-step run
that leaves the finite numbers is recorded as diverged at that h, which is how a stiff problem
shows where the explicit methods stop working.

The error of a run is

    error = max over trajectories, kept times t and components i of
            |s_i(t) - ref_i(t)| / (ERROR_ATOL + scale_i),   scale_i = max_t |ref_i(t)|,

a relative error in which each component is measured against its largest size over the run
(so a component passing through zero, or decayed to nothing, does not turn a tiny absolute
error into a large relative one); ERROR_ATOL = 1e-10 only matters for a component that is
zero throughout.

Evaluations are counted, not inferred from stages x steps: the system is wrapped in a
:class:`CountingSystem` whose ``rhs``, ``rhs_into`` and ``vector_field`` add the number of
trajectories they evaluate (and ``jacobian`` likewise), so an implicit method's Newton
iterations count as they happen.  The counted run is a run of its own (numpy loop); the timed
runs use the plain system.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checks
from .errors import DivergenceError, InputError, SolverError, unknown_name
from .reference import SOLVE_IVP_METHODS
from .simulate import BACKENDS, simulate
from .steppers import STEPPERS
from .systems.base import Params, System

ERROR_ATOL = 1e-10
"""The absolute part of the error's scale (see the module docstring)."""
ADAPTIVE_ATOL_RATIO = 1e-3
"""solve_ivp runs with atol = rtol x ADAPTIVE_ATOL_RATIO."""
REFERENCE_RTOL, REFERENCE_ATOL = 1e-12, 1e-14
"""Tolerances of the solve_ivp reference (Radau for a stiff system, DOP853 otherwise)."""
STIFFNESS_RATIO = 100.0
"""A system is stiff here when max(-Re λ) >= STIFFNESS_RATIO x max(min |λ|, 1 / span), λ the
eigenvalues of its Jacobian at the (first) initial state."""
KEPT_INTERVALS = 64
"""A fixed-step run keeps about this many evenly spaced times (every step when it has fewer)."""
DEFAULT_STEP_COUNTS = tuple(16 * 4**j for j in range(4))
"""Default steps: h = span / N for N = 16, 64, 256, 1024."""
DEFAULT_RTOLS = tuple(10.0**-k for k in range(3, 11, 2))
"""Default tolerances of the solve_ivp methods: 1e-3, 1e-5, 1e-7, 1e-9."""
IMPLICIT_DEFAULTS = ("sdirk3", "bdf2")
"""The implicit steppers a default set holds: the L-stable third-order SDIRK and BDF2."""
EXPLICIT_DEFAULTS = ("euler", "rk4", "dopri5")
ADAPTIVE_DEFAULTS = ("RK45", "DOP853", "Radau", "BDF", "LSODA")
ADAPTIVE_METHODS = SOLVE_IVP_METHODS
"""The solve_ivp methods a set can hold."""
REFERENCES = ("auto", "exact", *SOLVE_IVP_METHODS)


# -- the methods ------------------------------------------------------------------------------


def fixed_methods() -> tuple[str, ...]:
    """Every stepper of an ODE: the names of :data:`dynsys.steppers.STEPPERS` but 'map'."""
    return tuple(name for name in STEPPERS if name != "map")


def is_implicit(stepper: Any) -> bool:
    """Whether a stepper solves an equation each step: it says so (``implicit = True``), it is
    a multistep method (``alpha``, ``beta``), or its tableau has a nonzero a_ij with j >= i."""
    if getattr(stepper, "implicit", False) or hasattr(stepper, "alpha"):
        return True
    a = getattr(stepper, "a", None)
    if a is None:
        return False
    return any(aij != 0 for i, row in enumerate(a) for aij in row[i:])


def implicit_methods() -> tuple[str, ...]:
    """The steppers in :data:`~dynsys.steppers.STEPPERS` that :func:`is_implicit` picks out."""
    return tuple(name for name in fixed_methods() if is_implicit(STEPPERS[name]))


def default_methods() -> tuple[str, ...]:
    """euler, rk4, dopri5, sdirk3, bdf2, then RK45, DOP853, Radau, BDF, LSODA."""
    fixed = tuple(m for m in (*EXPLICIT_DEFAULTS, *IMPLICIT_DEFAULTS) if m in STEPPERS)
    return (*fixed, *ADAPTIVE_DEFAULTS)


def allowed_methods() -> tuple[str, ...]:
    """What a set may hold: the ODE steppers and the solve_ivp methods."""
    return (*fixed_methods(), *ADAPTIVE_METHODS)


def default_dts(span: float) -> tuple[float, ...]:
    """span / N for N in :data:`DEFAULT_STEP_COUNTS` (a geometric range, ratio 2)."""
    return tuple(span / n for n in DEFAULT_STEP_COUNTS)


# -- counting evaluations ----------------------------------------------------------------------


def trajectories_in(batch: tuple[int, ...], p: Any) -> int:
    """How many trajectories one call evaluates: the batch shape of the states broadcast
    against the parameters ``p``."""
    shapes = [np.shape(v) for v in (p.values() if hasattr(p, "values") else ())]
    return int(np.prod(np.broadcast_shapes(batch, *shapes), dtype=np.int64))


class CountingSystem:
    """``system`` with its evaluations counted: ``evaluations`` grows by the trajectories each
    call of ``rhs``, ``rhs_into`` or ``vector_field`` evaluates, ``jacobians`` likewise for
    ``jacobian``.  Everything else is the system's own."""

    def __init__(self, system: System):
        self._system = system
        self.evaluations = 0
        self.jacobians = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._system, name)

    def __repr__(self) -> str:
        return repr(self._system)

    def rhs(self, t, s, x, p):
        self.evaluations += trajectories_in(np.shape(s)[:-1], p)
        return self._system.rhs(t, s, x, p)

    def rhs_into(self, t, s, x, p, out, columns=None):
        self.evaluations += trajectories_in(np.shape(s)[:-1], p)
        return self._system.rhs_into(t, s, x, p, out, columns)

    @property
    def vector_field(self):
        field_ = self._system.vector_field
        if field_ is None:
            return None

        def counted(t, s, x, p):
            self.evaluations += trajectories_in(np.broadcast_shapes(*map(np.shape, s)), p)
            return field_(t, s, x, p)

        return counted

    @property
    def jacobian(self):
        jacobian = self._system.jacobian
        if jacobian is None:
            return None

        def counted(t, s, p):
            self.jacobians += trajectories_in(np.shape(s)[:-1], p)
            return jacobian(t, s, p)

        return counted


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkPoint:
    """One method at one setting: the step h ("fixed") or the tolerance rtol ("adaptive").

    ``error`` is defined in the module docstring; ``wall_s`` is the median wall time of the
    runs (all trajectories); ``evaluations`` and ``jacobians`` are counted per trajectory.
    A diverged point (the states left the finite numbers, or solve_ivp gave up) has no error,
    time or count.  ``nfev`` and ``nlu`` are solve_ivp's own counts per trajectory (None for
    a stepper, or where scipy's count is not known), ``steps`` a stepper's step count.
    """

    method: str
    kind: str
    setting: float
    error: float | None
    wall_s: float | None
    evaluations: float | None
    diverged: bool = False
    jacobians: float | None = None
    steps: int | None = None
    nfev: float | None = None
    nlu: float | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {
            "method": self.method,
            "kind": self.kind,
            "h" if self.kind == "fixed" else "rtol": self.setting,
            "error": self.error,
            "wall_s": self.wall_s,
            "evaluations": self.evaluations,
            "jacobians": self.jacobians,
            "diverged": self.diverged,
        }
        if self.kind == "fixed":
            out["steps"] = self.steps
        else:
            out |= {"atol": self.setting * ADAPTIVE_ATOL_RATIO, "nfev": self.nfev, "nlu": self.nlu}
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class WorkPrecision:
    """A work-precision set: every :class:`WorkPoint`, in the order of the methods and
    settings asked for, and how the errors were measured."""

    system: str
    params: dict[str, Any]
    t_span: tuple[float, float]
    reference: str
    """"exact" (the system's exact solution) or "solve_ivp <method> rtol=... atol=..."."""
    stiff: bool
    repeats: int
    backend: str
    n_trajectories: int
    points: tuple[WorkPoint, ...]
    error_atol: float = ERROR_ATOL
    adaptive_atol_ratio: float = ADAPTIVE_ATOL_RATIO

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.method for p in self.points))

    def of(self, method: str) -> tuple[WorkPoint, ...]:
        """The points of ``method``, in the order of its settings."""
        return tuple(p for p in self.points if p.method == method)

    def diverged_from(self, method: str) -> float | None:
        """The smallest h at which ``method`` diverged (None: it never did)."""
        bad = [p.setting for p in self.of(method) if p.diverged]
        return min(bad) if bad else None

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "params": self.params,
            "t_span": list(self.t_span),
            "reference": self.reference,
            "stiff": self.stiff,
            "error": "max |s - ref| / (error_atol + max_t |ref|), per component",
            "error_atol": self.error_atol,
            "adaptive_atol": f"rtol x {self.adaptive_atol_ratio:g}",
            "repeats": self.repeats,
            "backend": self.backend,
            "trajectories": self.n_trajectories,
            "points": [p.to_json() for p in self.points],
        }

    def table(self) -> str:
        """One row per point: method, h or rtol, error, wall time, evaluations."""
        from .tables import table

        rows = []
        for p in self.points:
            setting = f"{'h' if p.kind == 'fixed' else 'rtol'}={p.setting:.3g}"
            if p.diverged:
                rows.append((p.method, setting, "diverged", "-", "-"))
                continue
            rows.append(
                (
                    p.method,
                    setting,
                    f"{p.error:.3e}",
                    f"{p.wall_s * 1e3:.3g}",
                    f"{p.evaluations:.0f}",
                )
            )
        return table(("method", "setting", "error", "wall ms", "g evals/traj"), rows)


# -- the computation -----------------------------------------------------------------------


def work_precision(
    system: System,
    s0: Any,
    *,
    t_end: float,
    t0: float = 0.0,
    methods: Sequence[str] | None = None,
    dts: Sequence[float] | None = None,
    rtols: Sequence[float] | None = None,
    reference: str = "auto",
    repeats: int = 3,
    backend: str = "numpy",
) -> WorkPrecision:
    """The work-precision set of ``methods`` on ``system`` from s(t0) = s0 over (t0, t_end).

    Steppers run at every h in ``dts`` (default :func:`default_dts`), solve_ivp methods at
    every rtol in ``rtols`` (default 1e-3 ... 1e-10, atol = rtol x 1e-3).  ``methods``
    defaults to :func:`default_methods`.  ``reference`` is "auto" (the exact solution when the
    system has one, else solve_ivp Radau for a stiff system, DOP853 otherwise, at rtol 1e-12,
    atol 1e-14), "exact", or a solve_ivp method name.  ``backend`` is the time loop of the
    timed stepper runs (the counted run uses numpy's).
    """
    names, dts, rtols, span = check_work_precision(
        system,
        s0,
        t_end=t_end,
        t0=t0,
        methods=methods,
        dts=dts,
        rtols=rtols,
        reference=reference,
        backend=backend,
    )
    repeats = checks.integer("repeats", repeats)
    start = checks.initial_state(system, s0)
    stiff = is_stiff(system, start, span)
    fixed = [m for m in names if m in STEPPERS]
    adaptive = [m for m in names if m not in STEPPERS]
    runs = {
        (m, h): _fixed_run(system, start, m, h, span, repeats, backend) for m in fixed for h in dts
    }
    common = np.linspace(span[0], span[1], KEPT_INTERVALS + 1)
    grids = [r["t"] for r in runs.values() if "t" in r] + ([common] if adaptive else [])
    truth, against = _truth(system, start, span[0], grids, reference, stiff)
    points = []
    for m in fixed:
        for h in dts:
            run = runs[(m, h)]
            if "t" not in run:
                points.append(WorkPoint(m, "fixed", h, None, None, None, True, message=run["why"]))
                continue
            error = relative_error(run["states"], truth(run["t"]))
            points.append(
                WorkPoint(
                    m,
                    "fixed",
                    h,
                    error,
                    run["wall"],
                    run["evals"],
                    False,
                    run["jacs"],
                    run["steps"],
                )
            )
    for m in adaptive:
        for rtol in rtols:
            points.append(_adaptive_point(system, start, m, rtol, common, truth, repeats))
    return WorkPrecision(
        system=system.name,
        params=system.param_values(),
        t_span=span,
        reference=against,
        stiff=stiff,
        repeats=repeats,
        backend=backend,
        n_trajectories=len(start.reshape(-1, system.n_states)),
        points=tuple(points),
    )


def check_work_precision(
    system: System,
    s0: Any,
    *,
    t_end: float,
    t0: float = 0.0,
    methods: Sequence[str] | None = None,
    dts: Sequence[float] | None = None,
    rtols: Sequence[float] | None = None,
    reference: str = "auto",
    backend: str = "numpy",
) -> tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...], tuple[float, float]]:
    """The arguments of :func:`work_precision` checked (one-line InputErrors); returns the
    methods, the steps, the tolerances and the span, defaults filled in."""
    if system.kind == "map":
        raise InputError(f"{system.name} is a discrete map; a work-precision set needs an ODE")
    span = checks.time_span((t0, t_end))
    if not span[1] > span[0]:
        raise InputError(f"t_end must be > t0 = {span[0]:g}, got {t_end!r}")
    if backend not in BACKENDS:
        raise unknown_name("backend", backend, BACKENDS)
    names = default_methods() if methods is None else tuple(methods)
    if not names:
        raise InputError(f"methods must name at least one of: {', '.join(allowed_methods())}")
    allowed = allowed_methods()
    for name in names:
        if name not in allowed:
            raise unknown_name("method", name, allowed)
    checks.each_once("methods", list(names), ",".join(names))
    dts = default_dts(span[1] - span[0]) if dts is None else _positive("dts", dts)
    for h in dts:
        checks.step_count(*span, h)
    rtols = DEFAULT_RTOLS if rtols is None else _positive("rtols", rtols)
    for rtol in rtols:
        checks.tolerances(rtol, rtol * ADAPTIVE_ATOL_RATIO)
    if reference not in REFERENCES:
        raise unknown_name("reference", reference, REFERENCES)
    if reference == "exact" and system.exact is None:
        raise InputError(f"{system.name} has no exact solution; reference must be 'auto' or a "
                         f"solve_ivp method ({', '.join(SOLVE_IVP_METHODS)})")  # fmt: skip
    checks.initial_state(system, s0)
    return names, dts, rtols, span


def _positive(field: str, values: Sequence[Any]) -> tuple[float, ...]:
    values = tuple(values)
    if not values:
        raise InputError(f"{field} must hold at least one number > 0")
    return tuple(checks.positive_number(field, v) for v in values)


def relative_error(states: np.ndarray, ref: np.ndarray, atol: float = ERROR_ATOL) -> float:
    """max |s_i(t) - ref_i(t)| / (atol + max_t |ref_i(t)|) over trajectories, times t and
    components i; ``states`` and ``ref`` have shape (..., time, n)."""
    ref = np.asarray(ref, dtype=np.float64)
    scale = np.max(np.abs(ref), axis=-2, keepdims=True)
    return float(np.max(np.abs(np.asarray(states) - ref) / (atol + scale)))


def is_stiff(system: System, start: np.ndarray, span: tuple[float, float]) -> bool:
    """Whether ``system`` is stiff over ``span``: true when its class declares it (``stiff``),
    else when max(-Re λ) >= STIFFNESS_RATIO x max(min |λ|, 1 / span), λ the
    eigenvalues of dg/ds at (t0, the first initial state); dg/ds is the system's
    ``jacobian``, else centred differences of g."""
    if getattr(type(system), "stiff", False):
        return True
    s = start.reshape(-1, system.n_states)[0]
    p = Params({k: v.reshape(-1)[0] if v.ndim else v for k, v in system.params.items()})
    t = span[0]
    x = None if system.forcing is None else system.forcing(t, p)
    with np.errstate(all="ignore"):
        if system.jacobian is not None:
            jac = np.asarray(system.jacobian(t, s, p), dtype=np.float64).reshape(len(s), len(s))
        else:
            eps = 1e-6 * np.maximum(1.0, np.abs(s))
            cols = [
                (system.rhs(t, s + e, x, p) - system.rhs(t, s - e, x, p)) / (2 * e[i])
                for i, e in enumerate(np.diag(eps))
            ]
            jac = np.array(cols).T
        if not np.all(np.isfinite(jac)):
            return False
        lam = np.linalg.eigvals(jac)
    fastest = float(np.max(-lam.real))
    slowest = max(float(np.min(np.abs(lam))), 1.0 / (span[1] - span[0]))
    return fastest >= STIFFNESS_RATIO * slowest


def _fixed_run(system, start, method, h, span, repeats, backend) -> dict[str, Any]:
    """One stepper at one h: the counted run (which finds a divergence), then the timed ones."""
    n_steps = checks.step_count(*span, h)
    save_every = max(1, round(n_steps / KEPT_INTERVALS))
    counting = CountingSystem(system)
    options = {"t_span": span, "dt": h, "method": method, "save_every": save_every}
    try:
        traj = simulate(counting, start, backend="numpy", **options)
    except DivergenceError as err:
        return {"why": str(err)}
    walls = []
    for _ in range(repeats):
        began = time.perf_counter()
        simulate(system, start, backend=backend, **options)
        walls.append(time.perf_counter() - began)
    n_traj = len(start.reshape(-1, system.n_states))
    return {
        "t": traj.t,
        "states": traj.states,
        "wall": statistics.median(walls),
        "evals": counting.evaluations / n_traj,
        "jacs": counting.jacobians / n_traj,
        "steps": n_steps,
    }


def _truth(system, start, t0, grids, reference, stiff):
    """A function t -> reference states at the times t (each one of ``grids``), and its name.

    The solve_ivp reference is solved once, on the union of the grids."""
    if reference in ("auto", "exact") and system.exact is not None:
        return (lambda t: system.exact(t, start, t0, system.params)), "exact"
    from .reference import reference as solve

    method = reference if reference in SOLVE_IVP_METHODS else ("Radau" if stiff else "DOP853")
    union = np.unique(np.concatenate(grids))
    ref = solve(system, start, union, method=method, rtol=REFERENCE_RTOL, atol=REFERENCE_ATOL)

    def truth(t):
        return np.take(ref.states, np.searchsorted(union, t), axis=-2)

    return truth, f"solve_ivp {method} rtol={REFERENCE_RTOL:g} atol={REFERENCE_ATOL:g}"


def _adaptive_point(system, start, method, rtol, t, truth, repeats) -> WorkPoint:
    """One solve_ivp method at one rtol (atol = rtol x ADAPTIVE_ATOL_RATIO), each trajectory
    solved on its own with t_eval = ``t``; the counted run first, then the timed ones."""
    atol = rtol * ADAPTIVE_ATOL_RATIO
    batch = start.reshape(-1, system.n_states)
    counting = CountingSystem(system)
    try:
        solved = _solve_batch(counting, batch, t, method, rtol, atol)
    except SolverError as err:
        return WorkPoint(method, "adaptive", rtol, None, None, None, True, message=str(err))
    walls = []
    for _ in range(repeats):
        began = time.perf_counter()
        _solve_batch(system, batch, t, method, rtol, atol)
        walls.append(time.perf_counter() - began)
    states = np.concatenate([s for s, _ in solved]).reshape((*start.shape[:-1], len(t), -1))
    m = len(batch)
    counts = [c for _, c in solved]
    nlu = [c.get("nlu") for c in counts]
    return WorkPoint(
        method,
        "adaptive",
        rtol,
        relative_error(states, truth(t)),
        statistics.median(walls),
        counting.evaluations / m,
        False,
        counting.jacobians / m,
        nfev=sum(c["nfev"] for c in counts) / m,
        nlu=None if None in nlu else sum(nlu) / m,
    )


def _solve_batch(system, batch, t, method, rtol, atol) -> list[tuple[np.ndarray, dict]]:
    """solve_ivp on each trajectory of ``batch`` (m, n) alone, through the reference's own
    call (:func:`dynsys.reference._solve_member`, which passes the system's jacobian to the
    implicit methods): per trajectory its states (1, time, n) and scipy's counts."""
    from .reference import _solve_member

    out = []
    for i in range(len(batch)):
        states, nfev, *rest = _solve_member(system, batch, i, t, method, rtol, atol)
        counts = rest[1] if len(rest) > 1 and isinstance(rest[1], dict) else {}
        out.append((states, {"nfev": nfev, **counts}))
    return out
