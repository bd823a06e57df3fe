"""Orbit (bifurcation) diagrams of discrete maps, their periods, and Feigenbaum's delta.

An orbit diagram sweeps one parameter θ over ``values``, iterates s(n+1) = f(s(n); θ) for
every value at once (one batched recurrence), drops ``transient`` iterations and keeps the
next ``keep`` values of one state: the attractor at each θ, as a set of points above it.

A driven ODE (drive period T = 2 pi / omega) is sampled on its stroboscopic section instead:
every value is integrated at once (one batched recurrence of a stepper whose step divides T),
``transient`` whole periods are dropped and s(t0 + k T) is kept for the next ``keep`` periods,
the orbit of the stroboscopic map.  omega itself cannot be swept (the section times would
differ per value).

An autonomous ODE is sampled on a Poincare section given as an event e(s) = 0 with a
direction (``section="z=27,dz>0"``, see :mod:`dynsys.events`): every value is integrated at
once from 0 to ``t_end`` (in chunks of time, every step kept, the crossings located on each
chunk's cubic Hermite interpolant), the crossings before time ``transient`` are dropped and
the chosen state at the first ``keep`` crossings after it is kept.  The number of crossings
differs per value (none once an orbit settles on a fixed point off the section), so the
points are stored flat, with the index of their parameter value.

The period-doubling cascade of a one-state map with a critical point c (f'(c) = 0; c = 1/2 for
the logistic map) is located from the map itself:

* superstable parameters R_k: the critical point lies on a cycle of period p = 2^k,
  f^p(c; R_k) = c (Newton's method with a central-difference derivative in R);
* doubling points r_k, where the cycle of period p = 2^(k-1) loses stability to one of period
  2p: f^p(x; r) = x and (f^p)'(x; r) = prod_i f'(x_i; r) = -1 (Newton in (x, r)).

Both sequences converge geometrically, with ratios of successive gaps tending to Feigenbaum's
delta = 4.669201609...: delta_k = (R_k - R_(k-1)) / (R_(k+1) - R_k).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import checks
from .errors import DivergenceError, DynsysError, InputError, unknown_name
from .files import atomic_write
from .simulate import Recurrence, choose_backend
from .steppers import get_stepper
from .systems import get_system
from .systems.base import System

FEIGENBAUM_DELTA = 4.669201609102990
"""Feigenbaum's first constant, the limit of the ratios delta_k (for reference and guesses)."""
DOUBLING_FRACTION = 0.19
"""Where the doubling point r_k lies between R_(k-1) and R_k, from above: r_k is close to
R_k - 0.19 (R_k - R_(k-1)) for the logistic map (0.191, 0.187, 0.192 for k = 1, 2, 3)."""
NEWTON_ITERATIONS = 60
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True, eq=False)
class OrbitDiagram:
    """The kept iterates of one state of a map, for each value of one parameter.

    ``values`` (m,) are the parameter values, ``points`` (m, keep) the values of state
    ``state`` at iterations transient, ..., transient + keep - 1, started from ``s0`` (n,).
    ``fixed`` holds the other parameters, which are the same for every value.

    On a Poincare section (``section`` set) ``points`` (k,) is flat: point i belongs to value
    ``member[i]`` and is state ``state`` at the crossing at time ``times[i]`` >= ``transient``
    (a time), whose full state is ``crossings[i]`` (n,); each value has at most ``keep``
    points, in time order, and ``counts`` says how many.
    """

    system: str
    param: str
    values: np.ndarray
    points: np.ndarray
    state: str
    transient: int
    keep: int
    s0: np.ndarray
    fixed: dict[str, float] = field(default_factory=dict)
    method: str = "map"
    """The stepper (a driven ODE's; "map" for a map)."""
    dt: float = 1.0
    """Its step (1 for a map; a divisor T / k of the drive period for a driven ODE)."""
    period: float | None = None
    """The drive period T of a stroboscopic section (None for a map): ``transient`` and ``keep``
    then count drive periods, and the points are s(t0 + k T)."""
    section: str | None = None
    """The event of a Poincare section ('z=27,dz>0'; None: no such section)."""
    t_end: float | None = None
    """The end of the integration of a Poincare section (its ``transient`` is a time too)."""
    member: np.ndarray | None = None
    """On a Poincare section, the index (k,) of the parameter value of each point."""
    times: np.ndarray | None = None
    """On a Poincare section, the time (k,) of each crossing."""
    crossings: np.ndarray | None = None
    """On a Poincare section, the state (k, n) at each crossing."""

    @property
    def counts(self) -> np.ndarray:
        """The number of points of each parameter value, shape (m,)."""
        if self.member is None:
            return np.full(len(self.values), self.points.shape[1], dtype=np.int64)
        return np.bincount(self.member, minlength=len(self.values)).astype(np.int64)

    def dots(self) -> tuple[np.ndarray, np.ndarray]:
        """The points as flat (parameter value, state value) pairs, for a figure."""
        if self.member is None:
            return np.repeat(self.values, self.points.shape[1]), self.points.ravel()
        return self.values[self.member], self.points

    def periods(self, tol: float = 1e-6) -> np.ndarray:
        """The period of each value's kept orbit, shape (m,): the least p in 1..keep/2 with
        |x(i + p) - x(i)| <= tol max(1, max |x|) for every kept i, or 0 when there is none
        (chaos, quasi-periodic motion, or an orbit still converging)."""
        tol = checks.positive_number("tol", tol)
        if self.member is not None:
            return _ragged_periods(self.points, self.member, len(self.values), tol)
        x = self.points
        scale = np.maximum(1.0, np.max(np.abs(x), axis=1))
        found = np.zeros(len(x), dtype=np.int64)
        for p in range(1, self.keep // 2 + 1):
            todo = found == 0
            if not todo.any():
                break
            gap = np.max(np.abs(x[todo, p:] - x[todo, :-p]), axis=1)
            found[np.flatnonzero(todo)[gap <= tol * scale[todo]]] = p
        return found

    def to_npz(self, path: str | os.PathLike, **extra: np.ndarray) -> Path:
        """Write the diagram to an .npz file, atomically (:func:`dynsys.files.atomic_write`);
        ``extra`` arrays (one per parameter value, e.g. ``lyapunov``) are stored beside it."""
        arrays = {
            **extra,
            "system": np.str_(self.system),
            "param": np.str_(self.param),
            "values": self.values,
            "points": self.points,
            "state": np.str_(self.state),
            "transient": np.int64(self.transient),
            "keep": np.int64(self.keep),
            "s0": self.s0,
            "fixed_names": np.array(list(self.fixed), dtype=np.str_),
            "fixed_values": np.array(list(self.fixed.values()), dtype=np.float64),
            "method": np.str_(self.method),
            "dt": np.float64(self.dt),
            "period": np.float64(np.nan if self.period is None else self.period),
        }
        if self.section is not None:
            arrays.update(
                transient=np.float64(self.transient),
                section=np.str_(self.section),
                t_end=np.float64(self.t_end),
                member=self.member,
                times=self.times,
                crossings=self.crossings,
            )
        return atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> OrbitDiagram:
        """Read a diagram written by :meth:`to_npz`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    system=str(data["system"]),
                    param=str(data["param"]),
                    values=data["values"],
                    points=data["points"],
                    state=str(data["state"]),
                    transient=data["transient"].item(),
                    keep=int(data["keep"]),
                    s0=data["s0"],
                    fixed=dict(
                        zip(
                            (str(n) for n in data["fixed_names"]),
                            (float(v) for v in data["fixed_values"]),
                            strict=True,
                        )
                    ),
                    **_section_fields(data),
                    **_poincare_fields(data),
                )
        except (KeyError, ValueError, OSError) as err:
            raise InputError(f"{path} is not an orbit diagram file (.npz): {err}") from None


def orbit_diagram(
    system: System | str,
    param: str,
    values: Any,
    *,
    s0: Any = None,
    transient: float | None = None,
    keep: int = 200,
    state: int | str = 0,
    backend: str | None = None,
    dt: float | None = None,
    method: str = "rk4",
    section: str | None = None,
    t_end: float | None = None,
) -> OrbitDiagram:
    """Iterate ``system`` (a discrete map) for every value of ``param`` in ``values`` at once
    from ``s0`` (default: the system's ``default_s0``), drop ``transient`` iterations and keep
    the next ``keep`` values of state ``state`` (an index or a name).

    A driven ODE is sampled once per drive period T (its stroboscopic map): ``method`` steps
    it at ``dt`` (default T / :data:`STEPS_PER_PERIOD`; it must divide T), ``transient`` and
    ``keep`` count drive periods, and the points are s(t0 + k T), t0 = 0.

    An autonomous ODE is sampled on the Poincare section ``section``, an event with a
    direction ('z=27,dz>0'; see :func:`_section_diagram`): ``transient`` and ``t_end`` are
    times, and at most ``keep`` crossings are kept per value.

    ``transient`` defaults to 1000 (iterations or drive periods).  The other parameters keep
    the system's values (each must be one number).  ``backend`` is
    the time loop of :class:`dynsys.simulate.Recurrence` ("numpy", "numba" or "auto"; default
    "numpy" for a map, "auto" for an ODE).  An orbit that leaves the finite numbers raises
    :class:`DivergenceError` naming its parameter value.
    """
    system = get_system(system) if isinstance(system, str) else system
    if section is not None:
        return _section_diagram(
            system, param, values, section, s0, transient, t_end, keep, state, dt, method, backend
        )
    if t_end is not None:
        raise InputError("t_end is for a Poincare section (give section, e.g. 'z=27,dz>0')")
    if system.kind != "map" and not system.driven:
        raise InputError(
            f"system must be a discrete map or a driven ODE (sampled once per drive period) for "
            f"an orbit diagram, got {system.name}, which is not driven; give a Poincare section "
            "(e.g. section='z=27,dz>0') for an autonomous ODE"
        )
    _check_param(system, param)
    values = _values(values)
    transient = checks.integer("transient", 1000 if transient is None else transient, minimum=0)
    keep = checks.integer("keep", keep, minimum=2)
    index = state_index(system, state)
    fixed = {}
    for name, v in system.params.items():
        if name != param:
            if v.ndim != 0:
                raise InputError(f"parameter {name} must be one number in an orbit diagram")
            fixed[name] = float(v)
    n, m = system.n_states, len(values)
    checks.within_steps(
        m * (transient + keep), "the orbit diagram", "ask for fewer values or iterations"
    )
    checks.fits_in_memory(
        8 * m * n * (keep + 8), None, "the orbit diagram", "ask for fewer values or --keep"
    )
    swept = system.with_params(**{param: values})
    start = checks.initial_state(
        swept, np.array(system.default_s0 if s0 is None else s0, dtype=np.float64)
    )
    period, per_step, h = None, 1, 1.0
    if system.kind != "map":
        period, per_step, h = _section(system, param, dt)
        checks.within_steps(
            m * (transient + keep) * per_step,
            "the orbit diagram",
            "ask for fewer values or periods, or a larger dt",
        )
    else:
        method = "map"
        if dt is not None and checks.finite_number("dt", dt) != 1:
            raise InputError(f"dt of a discrete map must be 1, got {dt!r}")
    stepper = get_stepper(method, swept)
    backend = ("numpy" if system.kind == "map" else "auto") if backend is None else backend
    backend = choose_backend(backend, swept, stepper, m * (transient + keep) * per_step)
    kept = np.concatenate([[0], transient + np.arange(keep)]) if transient else np.arange(keep)
    recurrence = Recurrence(swept, stepper, h, 0.0, backend)
    try:
        states = recurrence.run(start, kept * per_step)  # (m, len(kept), n)
    except DivergenceError as err:
        at = values[err.trajectory] if err.trajectory is not None else values[0]
        raise DivergenceError(
            method,
            err.step,
            err.t,
            err.trajectory,
            f"the orbit at {param} = {at:.6g} escapes to infinity; narrow the range of {param} "
            "or change s0",
        ) from None
    points = np.ascontiguousarray(states[:, -keep:, index])
    return OrbitDiagram(
        system=system.name,
        param=param,
        values=values,
        points=points,
        state=system.states[index],
        transient=transient,
        keep=keep,
        s0=np.array(start[0]),
        fixed=fixed,
        method=method,
        dt=h,
        period=period,
    )


STEPS_PER_PERIOD = 100
"""Steps per drive period of a driven ODE's orbit diagram when no dt is given."""
SECTION_DT = 0.01
"""The step of a Poincare-section orbit diagram when no dt is given."""
SECTION_SPAN = 100.0
"""Time integrated after the transient by a Poincare-section diagram when no t_end is given."""
CHUNK_NUMBERS = 2_000_000
"""Numbers (members x steps x states) of one chunk of a Poincare-section integration: each
chunk keeps every step, for the interpolant that locates the crossings."""


def _section_diagram(
    system: System,
    param: str,
    values: Any,
    section: str,
    s0: Any,
    transient: float | None,
    t_end: float | None,
    keep: int,
    state: int | str,
    dt: float | None,
    method: str,
    backend: str | None,
) -> OrbitDiagram:
    """The orbit diagram of an autonomous ODE on the Poincare section e(s) = 0 (``section``).

    All values are integrated at once with ``method`` at step ``dt`` (default
    :data:`SECTION_DT`): without keeping steps up to the last grid time t_n <= ``transient``
    (default: the system's transient time), then in chunks of at most :data:`CHUNK_NUMBERS`
    numbers up to ``t_end`` (default transient + :data:`SECTION_SPAN`), each chunk started from
    the last state of the one before and its crossings located by :func:`find_events`.
    Crossings at t < ``transient`` are dropped; the first ``keep`` of each value are kept.  The
    integration stops early once every value has ``keep`` crossings.
    """
    from .events import find_events, parse_event
    from .simulate import simulate

    if system.kind == "map":
        raise InputError(
            f"section is for an autonomous ODE; {system.name} is a discrete map (its orbit "
            "diagram keeps every iterate: drop section)"
        )
    if system.driven:
        raise InputError(
            f"section is for an autonomous ODE; {system.name} is driven (its orbit diagram is "
            "sampled once per drive period: drop section)"
        )
    _check_param(system, param)
    values = _values(values)
    keep = checks.integer("keep", keep, minimum=1)
    index = state_index(system, state)
    dt = SECTION_DT if dt is None else checks.positive_number("dt", dt)
    transient = float(system.transient) if transient is None else transient
    transient = checks.finite_number("transient", transient)
    if transient < 0:
        raise InputError(f"transient must be a time >= 0, got {transient!r}")
    t_end = transient + SECTION_SPAN if t_end is None else checks.finite_number("t_end", t_end)
    if not t_end > transient:
        raise InputError(f"t_end must be after the transient ({transient:g}), got {t_end:g}")
    fixed = {}
    for name, v in system.params.items():
        if name != param:
            if v.ndim != 0:
                raise InputError(f"parameter {name} must be one number in an orbit diagram")
            fixed[name] = float(v)
    swept = system.with_params(**{param: values})
    event = parse_event(section, swept)
    if event.terminal:
        raise InputError(f"section {section!r}: a Poincare section cannot be terminal")
    start = checks.initial_state(
        swept, np.array(system.default_s0 if s0 is None else s0, dtype=np.float64)
    )
    m, n = len(values), system.n_states
    total = checks.step_count(0.0, t_end, dt)
    skipped = 0 if transient < dt else min(checks.step_count(0.0, transient, dt), total - 1)
    checks.within_steps(
        m * total, "the orbit diagram", "ask for fewer values, a shorter t_end or a larger dt"
    )
    chunk = max(1, CHUNK_NUMBERS // (m * n))
    checks.fits_in_memory(
        8 * m * n * (4 * chunk + 8) + 8 * m * keep * (n + 3),
        None,
        "the orbit diagram",
        "ask for fewer values or --keep",
    )
    backend = choose_backend(
        "auto" if backend is None else backend, swept, get_stepper(method, swept), m * total
    )
    run = {"dt": dt, "method": method, "backend": backend}
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    counts = np.zeros(m, dtype=np.int64)
    s = start
    try:
        if skipped:
            s = simulate(swept, s, t_span=(0.0, skipped * dt), save_every=skipped, **run)
            s = s.states[:, -1]
        for a in range(skipped, total, chunk):
            b = min(a + chunk, total)
            traj = simulate(swept, s, t_span=(a * dt, b * dt), **run)
            crossings = find_events(traj, event)
            late = crossings.t >= transient
            if a > skipped:  # a crossing at the first time belongs to the chunk before
                late &= crossings.t > a * dt
            member = crossings.member[late]
            found.append((member, crossings.t[late], crossings.states[late]))
            counts += np.bincount(member, minlength=m)
            s = traj.states[:, -1]
            if np.all(counts >= keep):
                break
    except DivergenceError as err:
        raise _escaped(err, values, param) from None
    member, times, states = (np.concatenate([f[k] for f in found]) for k in range(3))
    order = np.lexsort((times, member))
    member, times, states = member[order], times[order], states[order].reshape(-1, n)
    first = np.searchsorted(member, np.arange(m))
    rank = np.arange(len(member)) - first[member]
    kept = rank < keep
    return OrbitDiagram(
        system=system.name,
        param=param,
        values=values,
        points=np.ascontiguousarray(states[kept, index]),
        state=system.states[index],
        transient=transient,
        keep=keep,
        s0=np.array(start[0]),
        fixed=fixed,
        method=method,
        dt=dt,
        section=event.text,
        t_end=t_end,
        member=member[kept].astype(np.int64),
        times=times[kept],
        crossings=np.ascontiguousarray(states[kept]),
    )


def _escaped(err: DivergenceError, values: np.ndarray, param: str) -> DivergenceError:
    """``err`` naming the parameter value whose orbit escaped."""
    at = values[err.trajectory] if err.trajectory is not None else values[0]
    return DivergenceError(
        err.method,
        err.step,
        err.t,
        err.trajectory,
        f"the orbit at {param} = {at:.6g} escapes to infinity; narrow the range of {param} "
        "or change s0",
    )


def _section(system: System, param: str, dt: Any) -> tuple[float, int, float]:
    """(T, steps per period, dt) of a driven ODE's stroboscopic orbit diagram."""
    from .lyapunov import drive_period, steps_per_period

    if param == "omega":
        raise InputError(
            "omega sets the drive period, so its section times would differ per value; sweep "
            "another parameter (e.g. the amplitude) at a fixed omega"
        )
    period = drive_period(system)
    if dt is None:
        return period, STEPS_PER_PERIOD, period / STEPS_PER_PERIOD
    dt = checks.positive_number("dt", dt)
    return period, steps_per_period(period, dt), dt


def _poincare_fields(data: Any) -> dict[str, Any]:
    """section, t_end, member, times and crossings of a Poincare-section diagram file."""
    if "section" not in data:
        return {}
    return {
        "section": str(data["section"]),
        "t_end": float(data["t_end"]),
        "member": data["member"],
        "times": data["times"],
        "crossings": data["crossings"],
    }


def _ragged_periods(x: np.ndarray, member: np.ndarray, m: int, tol: float) -> np.ndarray:
    """The period (m,) of each value's points x[member == j] (see :meth:`OrbitDiagram.periods`);
    0 for a value with fewer than 2 points."""
    found = np.zeros(m, dtype=np.int64)
    for j in range(m):
        y = x[member == j]
        scale = max(1.0, float(np.max(np.abs(y)))) if len(y) else 1.0
        for p in range(1, len(y) // 2 + 1):
            if np.max(np.abs(y[p:] - y[:-p])) <= tol * scale:
                found[j] = p
                break
    return found


def _section_fields(data: Any) -> dict[str, Any]:
    """method, dt and period of a diagram file (a map's defaults for older files)."""
    if "method" not in data:
        return {}
    period = float(data["period"])
    return {
        "method": str(data["method"]),
        "dt": float(data["dt"]),
        "period": None if math.isnan(period) else period,
    }


def _check_param(system: System, param: str) -> None:
    """Refuse a swept parameter that ``system`` does not have (a one-line InputError)."""
    names = [p.name for p in system.parameters]
    if param not in names:
        raise unknown_name(f"param of {system.name}", param, names)


def state_index(system: System, state: int | str) -> int:
    """The index of a state given by name or by 0-based index."""
    names = system.states
    if isinstance(state, str) and state in names:
        return names.index(state)
    allowed = ", ".join(f"{i} ({name})" for i, name in enumerate(names))
    try:
        index = int(state)
    except (TypeError, ValueError):
        raise InputError(f"unknown state {state!r}; {system.name} has states {allowed}") from None
    if isinstance(state, bool) or not 0 <= index < len(names) or index != state:
        raise InputError(f"state {state!r} does not exist; {system.name} has states {allowed}")
    return index


def _values(values: Any) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("values must be a 1-d array of numbers") from None
    if arr.ndim != 1 or len(arr) == 0:
        raise InputError(f"values must be a 1-d array of numbers, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError("values must be finite numbers")
    return arr


def parameter_range(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` equally spaced values from ``lo`` to ``hi`` (both included)."""
    lo, hi = checks.finite_number("lo", lo), checks.finite_number("hi", hi)
    n = checks.integer("n", n, minimum=1)
    if not lo < hi:
        raise InputError(f"the range must have lo < hi, got {lo:g},{hi:g}")
    return np.linspace(lo, hi, n)


# -- the period-doubling cascade ------------------------------------------------------------


@dataclass(frozen=True)
class Feigenbaum:
    """The period-doubling cascade of a one-state map.

    ``superstable`` (K + 1,) holds R_0..R_K (the critical point on a cycle of period 2^k),
    ``doublings`` (m,) r_1..r_m (period 2^(k-1) turns into 2^k), ``delta`` (K - 1,) the ratios
    (R_k - R_(k-1)) / (R_(k+1) - R_k) for k = 1..K-1, and ``doubling_delta`` (m - 2,) the same
    ratios of the r_k for k = 2..m-1.  The last entries are the best estimates of
    Feigenbaum's delta.
    """

    system: str
    param: str
    critical: float
    superstable: np.ndarray
    doublings: np.ndarray
    delta: np.ndarray
    doubling_delta: np.ndarray


def feigenbaum(
    system: System | str = "logistic_map",
    param: str | None = None,
    *,
    critical: float = 0.5,
    first: tuple[float, float] = (2.0, 3.2),
    levels: int = 10,
    doublings: int = 5,
) -> Feigenbaum:
    """Superstable parameters R_0..R_levels and doubling points r_1..r_doublings of a
    one-state map with critical point ``critical``, and the delta estimates.

    ``first`` are guesses of R_0 and R_1 (the logistic map's are 2 and 1 + sqrt 5); later
    guesses come from the ratios found so far, R_(k+1) ~ R_k + (R_k - R_(k-1)) / delta_k.
    A Newton iteration that fails to converge, or lands outside the cascade, raises
    :class:`DynsysError`.  ``levels`` above about 14 exceeds what float64 resolves.
    """
    system = get_system(system) if isinstance(system, str) else system
    if system.kind != "map" or system.n_states != 1:
        raise InputError(f"system must be a one-state discrete map, got {system.name}")
    names = [p.name for p in system.parameters]
    if param is None:
        if len(names) != 1:
            raise InputError(f"param must name one of {', '.join(names)} of {system.name}")
        param = names[0]
    elif param not in names:
        raise unknown_name(f"param of {system.name}", param, names)
    critical = checks.finite_number("critical", critical)
    levels = checks.integer("levels", levels, minimum=2)
    doublings = checks.integer("doublings", doublings, minimum=1)
    if doublings > levels:
        raise InputError(f"doublings must be at most levels ({levels}), got {doublings}")
    g0, g1 = (checks.finite_number("first", v) for v in first)
    R = [_superstable(system, param, critical, 0, g0, abs(g1 - g0))]
    R.append(_superstable(system, param, critical, 1, g1, abs(g1 - g0)))
    for k in range(2, levels + 1):
        ratio = (R[-2] - R[-3]) / (R[-1] - R[-2]) if k > 2 else FEIGENBAUM_DELTA
        gap = (R[-1] - R[-2]) / ratio
        R.append(_superstable(system, param, critical, k, R[-1] + gap, gap))
        _check_between(R[-2], R[-1], R[-1] - R[-2] + gap, f"superstable R_{k}")
    R_arr = np.array(R)
    r = [
        _doubling(system, param, critical, k, R_arr[k - 1], R_arr[k])
        for k in range(1, doublings + 1)
    ]
    r_arr = np.array(r)
    return Feigenbaum(
        system=system.name,
        param=param,
        critical=critical,
        superstable=R_arr,
        doublings=r_arr,
        delta=_ratios(R_arr),
        doubling_delta=_ratios(r_arr),
    )


def _ratios(x: np.ndarray) -> np.ndarray:
    """(x_k - x_(k-1)) / (x_(k+1) - x_k) for k = 1..len(x)-2."""
    gaps = np.diff(x)
    return gaps[:-1] / gaps[1:]


def _check_between(lo: float, r: float, width: float, what: str) -> None:
    if not lo < r < lo + 2 * width:
        raise DynsysError(f"{what} = {r:.15g} is not after the previous one ({lo:.15g})")


def _iterate(system: System, param: str, r: np.ndarray, x: np.ndarray, n: int, multiplier=False):
    """f^n(x; r) for arrays x, r of one shape, and with ``multiplier`` prod_i f'(x_i; r)."""
    swept = system.with_params(**{param: r})
    p = swept.params
    s = np.array(x, dtype=np.float64)[:, None]
    m = np.ones(len(s))
    with np.errstate(all="ignore"):
        for i in range(n):
            if multiplier:
                m = m * _derivative(swept, i, s, p)
            s = swept.next(i, s, p)
    return (s[:, 0], m) if multiplier else s[:, 0]


def _derivative(system: System, n: int, s: np.ndarray, p) -> np.ndarray:
    """f'(s): the system's jacobian, else a central difference."""
    if system.jacobian is not None:
        return system.jacobian(n, s, p)[:, 0, 0]
    h = 1e-6 * np.maximum(1.0, np.abs(s))
    return ((system.next(n, s + h, p) - system.next(n, s - h, p)) / (2 * h))[:, 0]


def _superstable(system, param, c, k, guess, scale) -> float:
    """R with f^(2^k)(c; R) = c near ``guess``, by Newton with a central-difference slope."""
    period, r, h, last = 2**k, float(guess), 1e-4 * scale, math.inf
    for _ in range(NEWTON_ITERATIONS):
        g = _iterate(system, param, np.array([r - h, r, r + h]), np.full(3, c), period) - c
        slope = (g[2] - g[0]) / (2 * h)
        if not (np.isfinite(g).all() and slope != 0):
            break
        step = g[1] / slope
        if abs(step) <= 4 * EPS * max(1.0, abs(r)):
            return r - step
        if abs(step) < 1e-6 * scale and abs(step) >= last:  # stalled at rounding level
            return r
        r, last = r - step, abs(step)
    raise DynsysError(
        f"the superstable {param} of period {period} was not found near {guess:.10g} "
        f"({system.name}); ask for fewer levels"
    )


def _doubling(system, param, c, k, lo, hi) -> float:
    """r in (lo, hi) where the cycle of period p = 2^(k-1) has multiplier -1: Newton on
    (f^p(x; r) - x, prod f'(x_i; r) + 1) in (x, r), with central-difference Jacobian, from a
    point of the (stable) cycle at r = hi - 0.19 (hi - lo)."""
    period = 2 ** (k - 1)
    r = hi - DOUBLING_FRACTION * (hi - lo)
    x = float(_iterate(system, param, np.array([r]), np.array([c]), 400 * period)[0])
    hx, hr = 1e-7, 1e-5 * (hi - lo)
    for _ in range(NEWTON_ITERATIONS):
        xs = np.array([x, x - hx, x + hx, x, x])
        rs = np.array([r, r, r, r - hr, r + hr])
        fx, m = _iterate(system, param, rs, xs, period, multiplier=True)
        G = np.stack([fx - xs, m + 1])  # (2, 5)
        J = np.column_stack([(G[:, 2] - G[:, 1]) / (2 * hx), (G[:, 4] - G[:, 3]) / (2 * hr)])
        if not (np.isfinite(G).all() and np.isfinite(J).all()):
            break
        try:
            dx, dr = np.linalg.solve(J, G[:, 0])
        except np.linalg.LinAlgError:
            break
        x, r = x - dx, r - dr
        if abs(dr) <= 4 * EPS * max(1.0, abs(r)) and abs(dx) <= 1e-14:
            if lo < r < hi:
                return r
            break
    raise DynsysError(
        f"the doubling point {param}_{k} (period {period} to {2 * period}) of {system.name} "
        f"was not found between {lo:.10g} and {hi:.10g}"
    )


__all__ = [
    "FEIGENBAUM_DELTA",
    "STEPS_PER_PERIOD",
    "Feigenbaum",
    "OrbitDiagram",
    "feigenbaum",
    "orbit_diagram",
    "parameter_range",
    "state_index",
]
