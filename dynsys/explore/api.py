"""The explorer's handlers: a request's JSON payload (a dict) in, a JSON-ready dict out.

Each handler is a pure function of the :class:`Target` (what ``dynsys explore`` was started
on) and the payload; bad input raises :class:`~dynsys.errors.InputError` (one line, HTTP 400)
or :class:`RequestError` (a status of its own).  All the maths is dynsys's own:

* the field g(t, s, x(t)) on a grid of the plane (:func:`dynsys.plots.phase.field_grid`), its
  nullclines g_i = 0 (contours of the same field), the equilibria typed by the eigenvalues of
  their Jacobian (:func:`dynsys.plots.equilibria.find_equilibria`), and for a fitted step-map
  model its learned field (f(s, x) - s) / h (as :func:`dynsys.plots.vector_field_plot`);
* trajectories from :func:`dynsys.simulate`, one batched call for all starts, the reference
  from solve_ivp on the same grid (:func:`dynsys.reference.reference`, the batch stacked in
  one call, at the display tolerances rtol :data:`REFERENCE_RTOL` = 1e-8 and atol
  :data:`REFERENCE_ATOL` = 1e-10 of each start, divided by sqrt(starts) for the stack), also
  alone (:func:`ivp_reference`, which the page asks for apart); backward in time by the
  time-reversed system ds/dτ = -g(-τ, s, x(-τ)), τ = -t (:func:`reversed_system`);
  a model's free-running rollout by :func:`dynsys.rnn.evaluate.model_rollout`;
* the stability region |R(z)| <= 1 of the stepper (:func:`dynsys.plots.stability.in_region`)
  with z = h λ at the equilibrium nearest a point (for a map: its multipliers μ against the
  unit disc |μ| <= 1);
* the ``dynsys phase`` command and the experiment YAML that draw the same picture.

The trajectories' states (the runs' and the reference's) go out as packed arrays,
``{"dtype": "f8", "shape": [time, n], "data": base64 of the little-endian float64 bytes}``
(:func:`_packed`): the same float64 bits as a list of numbers, without the cost of writing and
parsing a few megabytes of decimal text.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import checks
from ..errors import DivergenceError, DynsysError, InputError, unknown_name
from ..simulate import simulate
from ..steppers import STEPPERS, get_stepper
from ..systems import SYSTEMS, get_system
from ..systems.base import System

MAX_STEPS = 1_000_000
"""Steps (starts x steps of each, the model's rollouts included) one request may ask for."""
MAX_STARTS = 64
"""Initial states one request may hold."""
MAX_GRID = 60
"""Points per axis of the field's grid."""
IMPLICIT_WEIGHT = 20
"""Steps one step of an implicit stepper counts for against MAX_STEPS: a Newton solve per step
costs 5 to 15 explicit RK4 steps (measured: sdirk3 15x, implicit Euler and BDF2 5x)."""
REFERENCE_NFEV = 100_000
"""Evaluations of g the stacked solve_ivp reference of one request may make (a fifth of it for
each start solved alone after the stacked call failed): a solution that blows up in finite
time, as the Lorenz system run backward does, stops there instead of shrinking its steps for
minutes.  A good view needs 2,000 to 15,000."""
REFERENCE_RTOL, REFERENCE_ATOL = 1e-8, 1e-10
"""The display tolerances of the solve_ivp reference drawn beside a run (each start's own
criterion; a stacked call of m starts takes them divided by sqrt(m), as
:func:`dynsys.reference.reference` explains): 1e-8 is far below a pixel; 20 starts of van der
Pol over 20 time units take 3,800 evaluations of g instead of 5,200 at 1e-10 undivided."""
MAX_REFERENCE_SPAN = 2000.0
"""Time units (starts x t_end) the solve_ivp reference of one request may cover: its cost
follows its own adaptive steps, not dt (the Lorenz system: about 1.5 s per 1000)."""
NULLCLINE_GRID = 121
"""Points per axis of the grid whose contours g_i = 0 are the nullclines."""
STABILITY_GRID = 121
"""Points per axis of the grid of z on which |R(z)| <= 1 is evaluated."""
GRAPH_POINTS = 201
"""Points of the graph y = f(x) of a one-state map."""
MAX_Z = 100.0
"""The plane of z reaches |Re z|, |Im z| <= MAX_Z (as the stability plot)."""
BOUND = 1e6
"""Limits, starts and other states lie within +-BOUND."""
PARAM_BOUND = 1e12
"""Parameters lie within +-PARAM_BOUND (rate constants reach 3e7)."""
DEFAULT_DT = 0.01
DEFAULT_METHOD = "rk4"


class RequestError(Exception):
    """A request refused with an HTTP ``status`` and a one-line ``reason``."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    max_steps: int = MAX_STEPS
    max_starts: int = MAX_STARTS
    max_grid: int = MAX_GRID
    max_reference_span: float = MAX_REFERENCE_SPAN

    def to_dict(self) -> dict[str, float]:
        return {
            "max_steps": self.max_steps,
            "max_starts": self.max_starts,
            "max_grid": self.max_grid,
            "max_reference_span": self.max_reference_span,
        }


LIMITS = Limits()


@dataclass(frozen=True, eq=False)
class Target:
    """What the explorer shows: a system (registered, or of a config) or a fitted model on the
    system it was trained on, with the starting view."""

    kind: str  # "system" or "model"
    name: str
    path: str | None
    system: System
    method: str
    dt: float
    t_end: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    plane: tuple[int, int]
    others: tuple[float, ...]
    starts: tuple[tuple[float, ...], ...] = ()
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Slider ranges of the parameters (min, max)."""
    model: Any = None
    """The model's source (network, dataset spec, normaliser) for a model target."""
    system_section: dict[str, Any] | None = None
    """A config's own system (states and equations), for the reproducing YAML."""
    limits: Limits = LIMITS

    @property
    def is_map(self) -> bool:
        return self.system.kind == "map"


# -- the target --------------------------------------------------------------------------------


def load_target(text: str, limits: Limits = LIMITS) -> Target:
    """The target named by ``text``: a registered system, an experiment CONFIG (.yaml/.yml,
    the system of its system section) or a MODEL (.npz from ``dynsys train``); anything else is
    an InputError naming the known systems."""
    if not isinstance(text, str) or not text:
        raise InputError("the target must be a system name, a CONFIG.yaml or a MODEL.npz")
    suffix = Path(text).suffix.lower()
    if text in SYSTEMS:
        system = get_system(text)
        return _make_target("system", text, None, system, limits=limits)
    if suffix in (".yaml", ".yml"):
        return _config_target(text, limits)
    if suffix == ".npz":
        return _model_target(text, limits)
    raise unknown_name("system", text, SYSTEMS)


def _config_target(path: str, limits: Limits) -> Target:
    from ..experiments.config import config_system, load_config
    from ..experiments.run import user_system_name

    config = load_config(path)
    system = config_system(config.system, user_system_name(config.name))
    simulation = config.simulation
    section = None
    if config.system.name is None:
        section = config.system.model_dump(mode="json", exclude_none=True)
    rows = simulation.s0 if simulation.s0 else []
    starts = rows if rows and isinstance(rows[0], list) else ([rows] if rows else [])
    method = DEFAULT_METHOD
    for name in simulation.methods:
        if name in STEPPERS and _valid(name, system):
            method = name
            break
    return _make_target(
        "system",
        config.name,
        path,
        system,
        dt=float(simulation.dt),
        t_end=float(simulation.t_end - simulation.t0),
        starts=tuple(tuple(float(v) for v in row) for row in starts),
        method=method,
        system_section=section,
        limits=limits,
    )


def _model_target(path: str, limits: Limits) -> Target:
    from ..plots.rnn import midpoint_system, model_source
    from ..rnn.io import load_model

    src = model_source(load_model(path), None, None)
    spec = src.needs_data("the explorer")
    system = midpoint_system(spec)
    ranges = {k: (float(lo), float(hi)) for k, (lo, hi) in spec.ranges.items()}
    return _make_target(
        "model",
        Path(path).stem,
        path,
        system,
        dt=float(spec.h),
        t_end=float(spec.t_end),
        ranges=ranges,
        model=src,
        limits=limits,
    )


def _make_target(
    kind: str,
    name: str,
    path: str | None,
    system: System,
    *,
    dt: float | None = None,
    t_end: float | None = None,
    starts: tuple = (),
    method: str | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    model: Any = None,
    system_section: dict[str, Any] | None = None,
    limits: Limits = LIMITS,
) -> Target:
    from ..plots.phase import DEFAULT_T_END

    if system.batch_size is not None:
        raise InputError(f"the explorer shows one system at a time; {name} has array parameters")
    n = system.n_states
    if system.kind == "map":
        layout = "cobweb" if n == 1 else "orbit"
        method, dt = "map", 1.0
        t_end = DEFAULT_T_END[layout] if layout == "cobweb" else 1000.0
    else:
        method = method or DEFAULT_METHOD
        dt = DEFAULT_DT if dt is None else dt
        t_end = DEFAULT_T_END["ode"] if t_end is None else t_end
    plane = (0, 0) if n == 1 else (0, 2) if n >= 3 else (0, 1)
    typical = list(system.typical_s0_ranges().values())
    others = tuple(float((lo + hi) / 2) for k, (lo, hi) in enumerate(typical) if k not in plane)
    xlim, ylim = _default_view(system, plane, dt, t_end, starts, typical)
    all_ranges = {
        p.name: (ranges or {}).get(p.name) or param_range(p.domain, float(system.params[p.name]))
        for p in system.parameters
    }
    return Target(
        kind=kind,
        name=name,
        path=path,
        system=system,
        method=method,
        dt=float(dt),
        t_end=float(t_end),
        xlim=xlim,
        ylim=ylim,
        plane=plane,
        others=others,
        starts=tuple(starts),
        ranges=all_ranges,
        model=model,
        system_section=system_section,
        limits=limits,
    )


def param_range(domain: str, value: float) -> tuple[float, float]:
    """The slider range of a parameter at ``value``: [value/10, 3 value] for a positive one,
    [0, 3 max(value, 1)] for a nonnegative one, [-3 |value|, 3 |value|] (or [-1, 1] at 0) for
    any real one.

    >>> param_range("positive", 1.0), param_range("nonnegative", 0.0), param_range("real", -2.0)
    ((0.1, 3.0), (0.0, 3.0), (-6.0, 6.0))
    """
    if domain == "positive":
        return value / 10, 3 * value
    if domain == "nonnegative":
        return 0.0, 3 * max(value, 1.0)
    size = 3 * abs(value) if value else 1.0
    return -size, size


def _default_view(system, plane, dt, t_end, starts, typical):
    """The limits of the plane: the box of the orbit from the first start (or the system's
    own) over t_end, joined with the typical initial states (an ODE); a map's orbit alone."""
    from ..plots.orbits import box

    s0 = np.array(starts[0] if starts else system.default_s0, dtype=np.float64)
    i, j = plane
    try:
        if system.kind == "map":
            orbit = simulate(system, s0, t_span=(0.0, t_end), method="map").states
        else:
            n = min(max(round(t_end / dt), 1), 2000)
            orbit = simulate(system, s0, t_span=(0.0, t_end), dt=t_end / n, method="solve_ivp")
            orbit = orbit.states
    except DynsysError:
        orbit = s0[None]
    limits = box(orbit)
    if system.kind == "map":
        return limits[i], limits[i] if system.n_states == 1 else limits[j]
    out = []
    for k in (i, j):
        lo, hi = typical[k]
        out.append((min(limits[k][0], lo), max(limits[k][1], hi)))
    return tuple(out)


def _valid(name: str, system: System) -> bool:
    try:
        get_stepper(name, system)
    except InputError:
        return False
    return True


def methods_of(system: System) -> list[str]:
    """The steppers that can step ``system`` ("map" alone for a map)."""
    return [name for name in STEPPERS if _valid(name, system)]


# -- info --------------------------------------------------------------------------------------


def info(target: Target, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the page needs to start: the system, its parameters (with slider ranges),
    the methods, the starting view and the limits of a request."""
    system = target.system
    params = {
        name: {"value": float(v), "min": target.ranges[name][0], "max": target.ranges[name][1]}
        for name, v in system.params.items()
    }
    dt = target.dt
    model = None
    if target.model is not None:
        net = target.model.model
        model = {
            "kind": net.kind,
            "hidden": int(net.config().get("n_hidden", 0)),
            "h": float(target.model.spec.h),
            "task": net.task,
            "field": _learns_field(target),
        }
    return {
        "target": {"kind": target.kind, "name": target.name, "path": target.path},
        "system": {
            "name": system.name,
            "kind": system.kind,
            "states": list(system.states),
            "params": params,
            "driven": system.driven,
            "equations": system.equations(),
        },
        "methods": methods_of(system),
        "method": target.method,
        "dt": dt,
        "dt_range": [1.0, 1.0] if target.is_map else [dt / 100, min(100 * dt, target.t_end / 10)],
        "t_end": target.t_end,
        "xlim": list(target.xlim),
        "ylim": list(target.ylim),
        "plane": list(target.plane),
        "others": list(target.others),
        "starts": [list(s) for s in target.starts],
        "limits": target.limits.to_dict(),
        "model": model,
    }


# -- reading a payload -------------------------------------------------------------------------


def _read(payload: Any, where: str, known: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's values by key with the defaults of ``known`` filled in; an unknown key or
    a payload that is not an object is refused."""
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise InputError(f"{where} expects a JSON object, got {_kind(payload)}")
    for key in payload:
        if key not in known:
            raise InputError(f"unknown key {key!r} in {where}; known: {', '.join(known)}")
    return {key: payload.get(key, default) for key, default in known.items()}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {str: "a string", bool: "a boolean", list: "a list", dict: "an object"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _number(name: str, value: Any, lo: float = -BOUND, hi: float = BOUND) -> float:
    """A JSON number (not a boolean or a string) within [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number, got {_kind(value)}")
    value = float(value)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InputError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return value


def _positive(name: str, value: Any, hi: float = BOUND) -> float:
    value = _number(name, value, -BOUND, hi)
    if not value > 0:
        raise InputError(f"{name} must be > 0, got {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, got {_kind(value)}")
    return value


def _numbers(name: str, value: Any, count: int) -> list[float]:
    if not isinstance(value, list) or len(value) != count:
        raise InputError(f"{name} must be a list of {count} numbers, got {_short(value)}")
    return [_number(f"{name}[{k}]", v) for k, v in enumerate(value)]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _limits(name: str, value: Any) -> tuple[float, float]:
    a, b = _numbers(name, value, 2)
    if not a < b:
        raise InputError(f"{name} must be [a, b] with a < b, got {[a, b]}")
    if b - a < 1e-9 * max(abs(a), abs(b), 1e-300):
        raise InputError(f"{name} is too narrow to tell a from b, got {[a, b]}")
    return a, b


def _plane(target: Target, value: Any) -> tuple[int, int]:
    n = target.system.n_states
    if not isinstance(value, list) or len(value) != 2:
        raise InputError(f"plane must be [i, j], two state indices, got {_short(value)}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n:
            raise InputError(f"plane must hold state indices from 0 to {n - 1}, got {value!r}")
        out.append(v)
    if n > 1 and out[0] == out[1]:
        raise InputError(f"plane must name two different states, got {value!r}")
    return out[0], out[1]


def _system(target: Target, params: Any) -> System:
    """The target's system with the parameters of the request (the others as they are)."""
    if params is None:
        return target.system
    if not isinstance(params, Mapping):
        raise InputError(f"params must be an object {{name: number}}, got {_kind(params)}")
    known = [p.name for p in target.system.parameters]
    values = {}
    for name, value in params.items():
        if name not in known:
            raise unknown_name(f"parameter of {target.system.name}", name, known)
        values[name] = _number(f"parameter {name!r}", value, -PARAM_BOUND, PARAM_BOUND)
    return target.system.with_params(**values) if values else target.system


def _base(target: Target, plane: tuple[int, int], others: Any) -> np.ndarray:
    """A full state (n,) with the other states (those not on the plane) from ``others``."""
    n = target.system.n_states
    rest = [k for k in range(n) if k not in plane]
    values = target.others if others is None else _numbers("others", others, len(rest))
    if len(values) != len(rest):
        raise InputError(f"others must be a list of {len(rest)} numbers, got {_short(others)}")
    base = np.zeros(n)
    base[rest] = values
    return base


def _steps(t_end: float, dt: float, what: str = "dt") -> int:
    return checks.step_count(0.0, t_end, dt, what)


# -- the field ---------------------------------------------------------------------------------


def field(target: Target, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The field on an n x n grid of the plane, the nullclines, the equilibria (fixed points of
    a map) typed by their eigenvalues, and a model's learned field."""
    from ..plots.phase import field_grid

    p = _read(
        payload,
        "/api/field",
        {
            "params": None,
            "xlim": list(target.xlim),
            "ylim": list(target.ylim),
            "plane": list(target.plane),
            "others": None,
            "grid": 25,
            "t": 0.0,
        },
    )
    system = _system(target, p["params"])
    xlim, ylim = _limits("xlim", p["xlim"]), _limits("ylim", p["ylim"])
    plane = _plane(target, p["plane"])
    base = _base(target, plane, p["others"])
    grid = p["grid"]
    top = target.limits.max_grid
    if isinstance(grid, bool) or not isinstance(grid, int) or not 2 <= grid <= top:
        raise InputError(f"grid must be a whole number from 2 to {top}, got {_short(grid)}")
    t = _number("t", p["t"])
    xs, ys = np.linspace(*xlim, grid), np.linspace(*ylim, grid)
    out: dict[str, Any] = {
        "x": xs.tolist(),
        "y": ys.tolist(),
        "u": None,
        "v": None,
        "nullclines": [],
        "equilibria": equilibria(system, _bounds(target, plane, xlim, ylim, base)),
        "learned": None,
        "graph": None,
    }
    if system.kind == "map":
        if system.n_states == 1:
            gx = np.linspace(*xlim, GRAPH_POINTS)
            with np.errstate(all="ignore"):
                fx = system.next(0, gx[:, None], system.params)[:, 0]
            out["graph"] = _pairs(gx, fx)
        return out
    x = _drive(system, t)
    g = field_grid(system, plane, xs, ys, t, base, x)
    i, j = plane
    out["u"], out["v"] = _json(g[..., i]), _json(g[..., j])
    out["nullclines"] = nullclines(system, plane, xlim, ylim, t, base, x)
    if _learns_field(target):
        learned = _learned(target, system, plane, xs, ys, base, x)
        out["learned"] = {"u": _json(learned[..., i]), "v": _json(learned[..., j])}
    return out


def _drive(system: System, t: float) -> np.ndarray | None:
    """x(t) of a driven system (None for an undriven one)."""
    if not system.driven:
        return None
    with np.errstate(all="ignore"):
        x = np.float64(system.forcing(t, system.params))
    if not np.isfinite(x):
        raise InputError(f"the drive x(t) of {system.name} is not finite at t = {t:g}")
    return x


def _bounds(target, plane, xlim, ylim, base) -> list[tuple[float, float]]:
    """Where equilibria are looked for: the limits on the plane; for the other states their
    typical range, padded by a fifth of its width and stretched to the value held."""
    typical = list(target.system.typical_s0_ranges().values())
    bounds = []
    for k, (lo, hi) in enumerate(typical):
        pad = 0.2 * (hi - lo)
        bounds.append((min(lo - pad, base[k] - 1.0), max(hi + pad, base[k] + 1.0)))
    bounds[plane[0]] = xlim
    if plane[1] != plane[0]:
        bounds[plane[1]] = ylim
    return bounds


def equilibria(system: System, bounds: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """The equilibria (fixed points of a map; of the undriven system when driven) inside
    ``bounds``: point, kind and eigenvalues [re, im] of the Jacobian there."""
    return [
        {
            "point": e.point.tolist(),
            "kind": e.kind,
            "eigenvalues": [[float(z.real), float(z.imag)] for z in e.eigenvalues],
        }
        for e in _equilibria(system, bounds)
    ]


def _equilibria(system: System, bounds: list[tuple[float, float]]):
    from ..plots.equilibria import find_equilibria

    return _equilibria_cached(
        type(system),
        tuple((k, float(v)) for k, v in system.params.items()),
        tuple(tuple(b) for b in bounds),
        system,
        find_equilibria,
    )


class _Cache:
    """A bounded least-recently-used cache of computed values by a hashable key: at most
    ``size`` entries and, when ``max_bytes`` is given, values (bytes) of at most that many
    bytes in all (a larger value is returned without being kept).  A key is computed by one
    thread at a time: a second asking while it is computed waits for that value (and computes
    it itself only when the first failed or its value was too large to keep)."""

    def __init__(self, size: int, max_bytes: int | None = None):
        import threading
        from collections import OrderedDict

        self.size, self.max_bytes = size, max_bytes
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.pending: dict[Any, threading.Event] = {}
        self.bytes = 0

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        import threading

        while True:
            with self.lock:
                if key in self.items:
                    self.items.move_to_end(key)
                    return self.items[key]
                busy = self.pending.get(key)
                if busy is None:
                    done = self.pending[key] = threading.Event()
                    break
            busy.wait()
        try:
            return self._compute(key, compute)
        finally:
            with self.lock:
                del self.pending[key]
            done.set()

    def _compute(self, key: Any, compute: Callable[[], Any]) -> Any:
        value = compute()
        weight = len(value) if self.max_bytes is not None else 0
        if self.max_bytes is not None and weight > self.max_bytes:
            return value
        with self.lock:
            if key not in self.items:
                self.items[key] = value
                self.bytes += weight
            while len(self.items) > self.size or (
                self.max_bytes is not None and self.bytes > self.max_bytes
            ):
                _, dropped = self.items.popitem(last=False)
                self.bytes -= len(dropped) if self.max_bytes is not None else 0
        return value


EQUILIBRIA_CACHE = _Cache(128)
"""Equilibria by system class, parameters and bounds (root finding from a grid of starts)."""


def _equilibria_cached(cls, params, bounds, system, find):
    return EQUILIBRIA_CACHE.get((cls, params, bounds), lambda: find(system, list(bounds)))


def nullclines(system, plane, xlim, ylim, t, base, x) -> list[dict[str, Any]]:
    """The curves g_i = 0 of the two states on the plane (where g_i changes sign in view),
    as segments of [x, y] points: the zero contours of the field on a fine grid."""
    from contourpy import contour_generator

    from ..plots.phase import field_grid

    xs, ys = np.linspace(*xlim, NULLCLINE_GRID), np.linspace(*ylim, NULLCLINE_GRID)
    g = field_grid(system, plane, xs, ys, t, base, x)
    out = []
    for k in dict.fromkeys(plane):
        z = g[..., k]
        finite = z[np.isfinite(z)]
        if not (finite.size and finite.min() < 0 < finite.max()):
            continue
        masked = np.ma.masked_invalid(z)
        lines = contour_generator(xs, ys, masked).lines(0.0)
        segments = [line.tolist() for line in lines if len(line) >= 2]
        out.append({"state": system.states[k], "segments": segments})
    return out


def _learns_field(target: Target) -> bool:
    """Whether the target's model is a step map of the current state alone (with the
    normaliser it was trained with): then it has a learned field."""
    src = target.model
    if src is None or src.normalizer is None:
        return False
    return src.model.task == "step_map" and not getattr(src.model, "context", 0)


def _learned(target, system, plane, xs, ys, base, x) -> np.ndarray:
    """(network step - s) / h on the grid, physical units: (len(ys), len(xs), n)."""
    from ..plots.rnn import learned_field

    src = target.model
    gx, gy = np.meshgrid(xs, ys)
    states = np.tile(base, (gx.size, 1))
    states[:, plane[0]], states[:, plane[1]] = gx.ravel(), gy.ravel()
    held = None if x is None else float(x)
    out = learned_field(src.model, src.spec, src.normalizer, system, states, held)
    return out.reshape(*gx.shape, system.n_states)


def _json(a: np.ndarray) -> list:
    """Nested lists of floats, None where not finite (JSON has no nan or inf)."""
    a = np.asarray(a, dtype=np.float64)
    if np.all(np.isfinite(a)):
        return a.tolist()
    return np.where(np.isfinite(a), a, None).tolist()


def _packed(a: np.ndarray) -> dict[str, Any]:
    """A float64 array as {"dtype": "f8", "shape": [...], "data": base64 of its little-endian
    bytes in C order}: exact, and about a third of the size of its decimal text.  Non-finite
    values pass through as IEEE bits (the runs hold finite states only)."""
    import base64

    a = np.ascontiguousarray(a, dtype="<f8")
    return {"dtype": "f8", "shape": list(a.shape), "data": base64.b64encode(a.data).decode()}


def unpacked(value: Any) -> np.ndarray:
    """The array a :func:`_packed` dict holds (a list of numbers passes through as an array)."""
    import base64

    if isinstance(value, dict):
        raw = base64.b64decode(value["data"])
        return np.frombuffer(raw, dtype="<f8").reshape(value["shape"]).astype(np.float64)
    return np.asarray(value, dtype=np.float64)


def _pairs(xs: np.ndarray, ys: np.ndarray) -> list[list[float | None]]:
    return _json(np.stack([xs, ys], axis=-1))


# -- trajectories ------------------------------------------------------------------------------


def trajectories(target: Target, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The runs of ``method`` with step dt from every start over t_end (backward: from t = 0 to
    -t_end), each with where it left the finite numbers; the solve_ivp reference on the same
    grid; a model's rollouts at its own h; the cobweb of the last start of a one-state map."""
    p = _read(
        payload,
        "/api/trajectories",
        {
            "params": None,
            "starts": [],
            "method": target.method,
            "dt": target.dt,
            "t_end": target.t_end,
            "backward": False,
            "reference": True,
        },
    )
    system = _system(target, p["params"])
    starts = _starts(target, p["starts"])
    method = p["method"]
    if not isinstance(method, str):
        raise InputError(f"method must be a name, got {_kind(method)}")
    known = methods_of(system)
    if method not in known:
        raise unknown_name(f"method for {system.name}", method, known)
    dt = _positive("dt", p["dt"])
    t_end = _positive("t_end", p["t_end"])
    backward, reference = _flag("backward", p["backward"]), _flag("reference", p["reference"])
    if target.is_map:
        if dt != 1:
            raise InputError(f"dt of a discrete map must be 1, got {dt!r}")
        if backward:
            raise InputError(f"{system.name} is a map: it iterates forward only (no inverse)")
        reference = False
    n_steps = _steps(t_end, dt)
    model = target.model is not None and not backward and target.model.model.task == "step_map"
    model_steps = _steps(t_end, float(target.model.spec.h), "t_end / h") if model else 0
    check_work(target.limits, len(starts), n_steps, method, model_steps, t_end, reference)
    run_system = reversed_system(system) if backward else system
    out: dict[str, Any] = {"t": [], "runs": [], "reference": None, "model": None, "cobweb": None}
    if not len(starts):
        return out
    t, runs = run_batch(run_system, starts, t_end, dt, method, backward)
    times = _times(t, backward)
    out["t"], out["runs"] = times, runs
    if reference:
        out["reference"] = {"t": times, "runs": reference_runs(run_system, starts, t)}
    if model:
        t_model, states = model_rollouts(target, system, starts, model_steps)
        out["model"] = {"t": t_model.tolist(), "runs": [{"states": _json(s)} for s in states]}
    if target.is_map and system.n_states == 1:
        last = unpacked(runs[-1]["states"])[:, 0]
        out["cobweb"] = _pairs(*_staircase(last))
    return out


def ivp_reference(target: Target, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The solve_ivp reference alone, from every start on the grid of step dt over t_end
    (backward: from t = 0 to -t_end), as :func:`trajectories` gives it beside a run: the page
    asks for it apart, so that the stepper's runs (a few milliseconds) are drawn without
    waiting for solve_ivp (tens)."""
    p = _read(
        payload,
        "/api/reference",
        {
            "params": None,
            "starts": [],
            "dt": target.dt,
            "t_end": target.t_end,
            "backward": False,
        },
    )
    system = _system(target, p["params"])
    if target.is_map:
        raise InputError(f"{system.name} is a map: solve_ivp applies to ODEs only")
    starts = _starts(target, p["starts"])
    dt = _positive("dt", p["dt"])
    t_end = _positive("t_end", p["t_end"])
    backward = _flag("backward", p["backward"])
    n_steps = _steps(t_end, dt)
    check_work(target.limits, len(starts), n_steps, None, 0, t_end, True)
    if not len(starts):
        return {"t": [], "runs": []}
    t = np.arange(n_steps + 1) * dt
    run_system = reversed_system(system) if backward else system
    times = _times(t, backward)
    return {"t": times, "runs": reference_runs(run_system, starts, t)}


def _times(t: np.ndarray, backward: bool) -> list[float]:
    """The times of a run's states: t, or for a backward run t = -τ (0.0, not -0.0)."""
    return (-t + 0.0 if backward else t).tolist()


def check_work(
    limits: Limits,
    starts: int,
    n_steps: int,
    method: str | None,
    model_steps: int = 0,
    t_end: float = 0.0,
    reference: bool = False,
) -> None:
    """Refuse a request over the limits: starts x (steps x weight + model steps) over
    ``max_steps`` (an implicit stepper's step, a Newton solve, counts :data:`IMPLICIT_WEIGHT`),
    or a solve_ivp reference over starts x t_end > ``max_reference_span`` time units.  No
    ``method``: the grid of the reference alone, starts x steps at most ``max_steps``."""
    weight = IMPLICIT_WEIGHT if method is not None and STEPPERS[method].implicit else 1
    total = starts * (n_steps * weight + model_steps)
    if total > limits.max_steps:
        what = f"{n_steps:,} steps" + (f" (x {weight}: {method} is implicit)" if weight > 1 else "")
        if model_steps:
            what += f" + {model_steps:,} model steps"
        raise InputError(
            f"{starts} starts x {what} = {total:,} steps exceed the explorer's limit of "
            f"{limits.max_steps:,}; take a larger dt, a shorter t_end or fewer starts"
        )
    span = starts * t_end
    if reference and span > limits.max_reference_span:
        raise InputError(
            f"the solve_ivp reference of {starts} starts x t_end {t_end:g} = {span:g} time units "
            f"exceeds the explorer's limit of {limits.max_reference_span:g}; ask without the "
            "reference, or for fewer starts or a shorter t_end"
        )


def _staircase(orbit: np.ndarray):
    from ..plots.maps import staircase

    return staircase(orbit)


def _starts(target: Target, value: Any) -> np.ndarray:
    n, top = target.system.n_states, target.limits.max_starts
    if not isinstance(value, list):
        raise InputError(f"starts must be a list of initial states, got {_kind(value)}")
    if len(value) > top:
        raise InputError(f"starts holds {len(value)} initial states; at most {top}")
    rows = [_numbers(f"starts[{k}]", row, n) for k, row in enumerate(value)]
    return np.array(rows, dtype=np.float64).reshape(len(rows), n)


def warm_loop(target: Target) -> bool:
    """Load (from numba's disk cache) or compile the time loop of the target's system and
    default method, when it gives the numpy loop's bits (:func:`dynsys.kernels.bitwise`), so
    that ``simulate(backend="auto")`` runs the requests' batches compiled (the same numbers,
    about a hundredth of the time of 20 x 2000 RK4 steps).  Whether the loop is ready; any
    failure leaves the numpy loop."""
    from .. import kernels

    system = target.system
    if system.kind != "ode" or target.method not in STEPPERS or not kernels.available():
        return False
    stepper = get_stepper(target.method)
    if not (kernels.supports(system, stepper) and kernels.bitwise(type(system))):
        return False
    try:
        kernels.kernel(system, stepper)
    except Exception:  # numba could not compile it: the numpy loop runs, as it would anyway
        return False
    return True


def run_batch(
    system: System, starts: np.ndarray, t_end: float, dt: float, method: str, backward: bool
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``simulate`` from all starts at once over (0, t_end); when a run leaves the finite
    numbers, each start is run alone so that the others are kept whole: the times, and per
    start its states (time, n) (up to the last finite one) and ``diverged`` (None, or the
    step and time of the first state that is not finite)."""
    backend = "numpy" if backward else "auto"  # the reversed system has no compiled loop
    t_span = (0.0, t_end)
    try:
        traj = simulate(system, starts, t_span=t_span, dt=dt, method=method, backend=backend)
        return traj.t, [{"states": _packed(s), "diverged": None} for s in traj.states]
    except DynsysError as err:
        if len(starts) == 1:
            return _one_failed(system, starts[0], t_span, dt, method, err)
    runs, t = [], None
    for s0 in starts:
        try:
            traj = simulate(system, s0, t_span=t_span, dt=dt, method=method, backend=backend)
            t = traj.t
            runs.append({"states": _packed(traj.states), "diverged": None})
        except DynsysError as err:
            runs.append(_one_failed(system, s0, t_span, dt, method, err)[1][0])
    if t is None:
        t = np.arange(_steps(t_end, dt) + 1) * dt
    return t, runs


def reference_runs(system: System, starts: np.ndarray, t: np.ndarray) -> list[dict[str, Any]]:
    """solve_ivp from every start on the grid ``t`` at the display tolerances
    (:data:`REFERENCE_RTOL`, :data:`REFERENCE_ATOL`): the batch stacked into one call (whose
    tolerances shrink by sqrt(batch), :func:`dynsys.reference.reference`); when that fails,
    each start alone, a failed one keeping its start and the reason."""
    from ..reference import reference

    if len(starts) > 1:
        shrink = math.sqrt(len(starts))
        tol = {"rtol": REFERENCE_RTOL / shrink, "atol": REFERENCE_ATOL / shrink}
        try:
            stacked = reference(system, starts, t, stack=True, max_nfev=REFERENCE_NFEV, **tol)
            return [{"states": _packed(s), "diverged": None} for s in stacked.states]
        except DynsysError:
            pass
    runs = []
    for s0 in starts:
        try:
            budget = REFERENCE_NFEV if len(starts) == 1 else REFERENCE_NFEV // 5
            tol = {"rtol": REFERENCE_RTOL, "atol": REFERENCE_ATOL}
            alone = reference(system, s0, t, max_nfev=budget, **tol).states
            runs.append({"states": _packed(alone), "diverged": None})
        except DynsysError as err:
            where = {"step": None, "t": None, "reason": _line(err)}
            runs.append({"states": _packed(s0[None]), "diverged": where})
    return runs


def _line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _one_failed(system, s0, t_span, dt, method, err) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The run of one start that failed: its finite states and where it left them."""
    t = np.arange(_steps(t_span[1], dt) + 1) * dt
    if isinstance(err, DivergenceError):
        states = err.partial_states if err.partial_states is not None else s0[None]
        where = {"step": int(err.step), "t": float(err.t), "reason": _line(err)}
    else:  # solve_ivp gave up (or the drive is not finite): the start alone
        states, where = s0[None], {"step": None, "t": None, "reason": _line(err)}
    states = np.asarray(states).reshape(-1, len(s0))
    return t, [{"states": _packed(states), "diverged": where}]


def reversed_system(system: System) -> System:
    """The system run backward in time: ds/dτ = -g(-τ, s, x(-τ)), whose solution at τ is the
    original one at t = -τ (the drive read at -τ; the Jacobian negated; no exact solution)."""
    base = type(system)
    forward_rhs, forcing, jacobian = base.rhs, system.forcing, system.jacobian

    def rhs(self, t, s, x, p):
        return -forward_rhs(self, -t, s, x, p)

    namespace: dict[str, Any] = {"rhs": rhs, "exact": None, "__doc__": base.__doc__}
    if forcing is not None:
        namespace["forcing"] = staticmethod(lambda t, p: forcing(-t, p))
    if jacobian is not None:
        namespace["jacobian"] = staticmethod(lambda t, s, p: -jacobian(-t, s, p))
    cls = type(f"Backward{base.__name__}", (base,), namespace)
    return cls(**dict(system.params.items()))


def model_rollouts(
    target: Target, system: System, starts: np.ndarray, n_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The model's free-running rollouts from ``starts`` for ``n_steps`` steps of its h, with
    the drive and parameter inputs of ``system``: times (n_steps + 1,), states (m, time, n)."""
    from ..rnn.data import rollout_dataset
    from ..rnn.evaluate import model_rollout

    src = target.model
    data = rollout_dataset(src.spec, system, starts, n_steps)
    return data.t, model_rollout(src.model, data, src.normalizer)


# -- stability ---------------------------------------------------------------------------------


def stability(target: Target, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stability region |R(z)| <= 1 of the method on a grid of z = x + iy, and z = h λ for
    the eigenvalues λ of the Jacobian at the equilibrium nearest ``point`` (for a map: the
    region |z| <= 1 and the multipliers μ of the nearest fixed point).  ``inside`` is None for
    a method without a region (a symplectic splitting)."""
    from ..plots.stability import amplification, region_box, stability_methods

    p = _read(
        payload,
        "/api/stability",
        {
            "method": target.method,
            "dt": target.dt,
            "params": None,
            "point": None,
            "xlim": list(target.xlim),
            "ylim": list(target.ylim),
            "plane": list(target.plane),
            "others": None,
        },
    )
    system = _system(target, p["params"])
    method = p["method"]
    known = methods_of(system)
    if not isinstance(method, str):
        raise InputError(f"method must be a name, got {_kind(method)}")
    if method not in known:
        raise unknown_name(f"method for {system.name}", method, known)
    h = _positive("dt", p["dt"])
    if target.is_map and h != 1:
        raise InputError(f"dt of a discrete map must be 1, got {h!r}")
    plane = _plane(target, p["plane"])
    base = _base(target, plane, p["others"])
    xlim, ylim = _limits("xlim", p["xlim"]), _limits("ylim", p["ylim"])
    point = None
    if p["point"] is not None:
        point = np.array(_numbers("point", p["point"], system.n_states))
    found = _equilibria(system, _bounds(target, plane, xlim, ylim, base))
    nearest = None
    if found:
        here = point
        if here is None:  # the centre of the view
            here = base.copy()
            here[plane[0]], here[plane[1]] = np.mean(xlim), np.mean(ylim)
        nearest = min(found, key=lambda e: float(np.sum((e.point - here) ** 2)))
    lam = np.array([] if nearest is None else nearest.eigenvalues, dtype=np.complex128)
    z = lam if target.is_map else h * lam
    regional = target.is_map or method in stability_methods()
    if target.is_map:
        box = (-1.6, 1.6, -1.6, 1.6)
    elif regional:
        box = region_box([method])
        box = (min(-4.5, box[0]), max(1.5, box[1]), min(-3.5, box[2]), max(3.5, box[3]))
    else:
        box = (-4.5, 1.5, -3.5, 3.5)
    re = np.r_[box[:2], z.real * 1.15 + np.sign(z.real) * 0.3]
    im = np.r_[box[2:], np.abs(z.imag) * 1.15 + 0.3, -np.abs(z.imag) * 1.15 - 0.3]
    re, im = re[np.isfinite(re)], im[np.isfinite(im)]
    top = max(abs(im.min()), abs(im.max()))
    lo_re, hi_re = max(re.min(), -MAX_Z), min(re.max(), MAX_Z)
    top = min(top, MAX_Z)
    xs, ys = np.linspace(lo_re, hi_re, STABILITY_GRID), np.linspace(-top, top, STABILITY_GRID)
    out: dict[str, Any] = {
        "x": xs.tolist(),
        "y": ys.tolist(),
        "inside": None,
        "points": [[float(v.real), float(v.imag)] for v in z],
        "stable": None,
        "equilibrium": None if nearest is None else nearest.point.tolist(),
        "kind": None if nearest is None else nearest.kind,
    }
    if regional:
        grid = xs[None, :] + 1j * ys[:, None]
        radius = np.abs(grid) if target.is_map else amplification(method, grid)
        out["inside"] = (radius <= 1 + TOLERANCE).tolist()
        if len(z):
            radius_z = np.abs(z) if target.is_map else amplification(method, z)
            out["stable"] = bool(np.all(radius_z <= 1 + TOLERANCE))
    return out


TOLERANCE = 1e-12
"""|R(z)| <= 1 + TOLERANCE counts as inside (as :func:`dynsys.plots.stability.in_region`)."""


# -- reproduce ---------------------------------------------------------------------------------


def reproduce(target: Target, payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``dynsys phase`` command line and the experiment YAML that draw the page's picture:
    the system with its parameters, the starts (solve_ivp from each; the method and dt from
    the first, beside solve_ivp), t_end, the limits and the plane."""
    import yaml

    p = _read(
        payload,
        "/api/reproduce",
        {
            "params": None,
            "method": target.method,
            "dt": target.dt,
            "t_end": target.t_end,
            "starts": [],
            "xlim": list(target.xlim),
            "ylim": list(target.ylim),
            "plane": list(target.plane),
            "others": None,
            "backward": False,
        },
    )
    system = _system(target, p["params"])
    method = p["method"]
    known = methods_of(system)
    if not isinstance(method, str) or method not in known:
        raise unknown_name(f"method for {system.name}", str(method), known)
    dt = _positive("dt", p["dt"])
    t_end = _positive("t_end", p["t_end"])
    starts = _starts(target, p["starts"])
    xlim, ylim = _limits("xlim", p["xlim"]), _limits("ylim", p["ylim"])
    plane = _plane(target, p["plane"])
    _flag("backward", p["backward"])
    is_map, n = target.is_map, system.n_states
    names = [system.states[k] for k in plane]
    source = target.path if target.kind == "system" and target.path else system.name
    words = ["dynsys", "phase", source]
    for name, value in system.params.items():
        words += ["-p", f"{name}={_num(value)}"]
    for row in starts:
        words += ["--s0", ",".join(_num(v) for v in row)]
    if not is_map:
        words += ["--methods", method, "--dt", _num(dt)]
    words += ["--t-end", _num(t_end), "--xlim", _pair(xlim), "--ylim", _pair(ylim)]
    planar = n >= 2 and not (is_map and n == 1)
    if planar and (n >= 3 or tuple(plane) != (0, 1)):
        words += ["--states", ",".join(names)]
    words += ["--out", f"{_file_name(target)}_phase.png"]
    command = " ".join(shlex.quote(w) for w in words)
    options: dict[str, Any] = {"xlim": list(xlim), "ylim": list(ylim)}
    if not is_map:
        options["methods"] = [method]
    if planar and (n >= 3 or tuple(plane) != (0, 1)):
        options["states"] = names
    if target.system_section is not None:
        section = dict(target.system_section)
        section["params"] = {k: float(v) for k, v in system.params.items()}
    else:
        section = {"name": system.name, "params": {k: float(v) for k, v in system.params.items()}}
    simulation: dict[str, Any] = {"t_end": t_end, "dt": 1.0 if is_map else dt}
    simulation["methods"] = ["map"] if is_map else [method]
    if len(starts):
        simulation["s0"] = starts.tolist() if len(starts) > 1 else starts[0].tolist()
    config = {
        "name": f"explore-{_file_name(target)}",
        "seed": 0,
        "system": section,
        "simulation": simulation,
        "plots": [{"kind": "phase", "options": options}],
    }
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None)
    head = f"# dynsys explore: the phase portrait of {system.name}; run it: dynsys run FILE.yaml\n"
    return {"command": command, "yaml": head + text}


def _num(value: Any) -> str:
    """A number as the shortest text that reads back the same float."""
    v = float(value)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _pair(lim: tuple[float, float]) -> str:
    return f"{_num(lim[0])},{_num(lim[1])}"


def _file_name(target: Target) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]", "_", target.name) or "explore"


HANDLERS: dict[str, Callable[[Target, Mapping[str, Any] | None], dict[str, Any]]] = {
    "/api/field": field,
    "/api/trajectories": trajectories,
    "/api/reference": ivp_reference,
    "/api/stability": stability,
    "/api/reproduce": reproduce,
}
"""The POST endpoints and their handlers (GET /api/info is :func:`info`)."""
