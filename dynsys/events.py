"""Events: the times where a function e(t, s) of time and state crosses zero along a trajectory.

An event is written as one string, ``"LEFT=RIGHT"`` with an optional direction and ``terminal``
after commas: ``"x=0"`` (any crossing of e = x - 0), ``"z=27,dz>0"`` (e = z - 27 crossing
upward), ``"x-y=0,dx<0"``, ``"t=5"``.  Both sides are expressions of the states, the parameters
and ``t`` (parsed by :mod:`dynsys.experiments.expressions`, never evaluated as Python code).
``d<name> > 0`` keeps the crossings where e increases (de/dt > 0), ``d<name> < 0`` those where
it decreases, ``<name>`` being a state (or ``t``) that e reads.

Location.  Between consecutive states s_n, s_{n+1} (times t_n, t_n + h) the trajectory is the
cubic Hermite interpolant

    p(τ) = (2τ³ - 3τ² + 1) s_n + (τ³ - 2τ² + τ) h g_n + (3τ² - 2τ³) s_{n+1} + (τ³ - τ²) h g_{n+1},

with g = ds/dt = g(t, s, x(t)) evaluated at the kept states (fourth-order accurate), or for
:func:`reference_events` the dense output of solve_ivp.  e(t_n + τ h, p(τ)) is sampled at
:data:`SAMPLES` + 1 points τ = k / SAMPLES of each step: a sign change between samples is a
crossing, and a sample closest to zero between two of the same sign (a turning point of e)
is searched for the extremum of e between its neighbours (golden section), so that two
crossings between samples of the same sign are found too.  Each crossing is refined by
bisection on the interpolant to the last bit of τ.  The direction of a crossing is the side
that e goes to; its rate de/dt = ∂e/∂t + ∇e · g is reported from centred differences along
(1, g).

A terminal event stops its member at its first crossing: crossings after it (of every event)
are not part of the result, and the stop time is reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DynsysError, InputError, SolverError
from .systems.base import Params, System
from .trajectory import Trajectory, params_over_time

SAMPLES = 8
"""Intervals each step is sampled at to bracket the crossings of e."""
BISECTIONS = 64
"""Halvings of a bracket in τ: enough to reach the last bit of a float64 in [0, 1]."""
GOLDEN = 60
"""Golden-section iterations that locate the extremum of e between two samples."""
BLOCK = 50_000
"""Steps (of all members together) whose samples are held at a time."""

_DIRECTION = re.compile(r"^d\s*([A-Za-z_]\w*)\s*([<>])\s*0*\.?0*$")
_EQUALS = re.compile(r"(?<![=<>!])=(?!=)")


@dataclass(frozen=True)
class Event:
    """A zero crossing of e(t, s) = LEFT - RIGHT: ``expression`` is ``"LEFT=RIGHT"`` (or one
    expression, equal to zero); ``direction`` +1 keeps the crossings where e increases, -1
    where it decreases, 0 both; ``terminal`` stops the member at its first crossing."""

    expression: str
    direction: int = 0
    terminal: bool = False

    def __post_init__(self):
        if self.direction not in (-1, 0, 1):
            raise InputError(f"event direction must be -1, 0 or 1, got {self.direction!r}")

    @property
    def sides(self) -> tuple[str, str]:
        """(LEFT, RIGHT) of the equation; RIGHT is '0' when there is none."""
        parts = _EQUALS.split(self.expression)
        if len(parts) > 2:
            raise InputError(f"event {self.expression!r}: write one equation LEFT=RIGHT")
        return (parts[0].strip(), parts[1].strip()) if len(parts) == 2 else (parts[0], "0")

    @property
    def text(self) -> str:
        """The event as it is written: 'z=27,dz>0'."""
        extra = {1: ",increasing", -1: ",decreasing", 0: ""}[self.direction]
        return self.expression + extra + (",terminal" if self.terminal else "")


def parse_event(text: Any, system: System | None = None, *, terminal: bool = False) -> Event:
    """The :class:`Event` written ``text`` ('z=27,dz>0'); with ``system``, its names checked.

    Parts after the equation, separated by commas: ``d<name> > 0`` or ``d<name> < 0`` (also
    ``increasing``/``decreasing``), and ``terminal``.  A one-line InputError names the text and
    what is allowed.
    """
    if isinstance(text, Event):
        event = (
            text if not terminal or text.terminal else Event(text.expression, text.direction, True)
        )
        if system is not None:
            compile_event(event, system)
        return event
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"an event must be a string such as 'x=0,dx>0', got {text!r}")
    parts = _top_level_split(text.strip())
    equation, options = parts[0], parts[1:]
    if len(_EQUALS.findall(equation)) > 1:
        raise InputError(f"event {text!r}: write one equation LEFT=RIGHT, such as 'z=27,dz>0'")
    direction, reads = 0, None
    for part in options:
        word = part.replace(" ", "")
        if word == "terminal":
            terminal = True
        elif word in ("increasing", "decreasing"):
            direction = 1 if word == "increasing" else -1
        elif (match := _DIRECTION.match(word)) is not None:
            direction = 1 if match.group(2) == ">" else -1
            reads = match.group(1)
        else:
            raise InputError(
                f"event {text!r}: cannot read {part!r}; after the equation write a direction "
                "d<name> > 0 or d<name> < 0 (increasing, decreasing) or terminal"
            )
    event = Event(equation, direction, terminal)
    if system is not None:
        compiled = compile_event(event, system)
        if reads is not None and reads not in compiled.names:
            names = ", ".join(n for n in compiled.names if n in (*system.states, "t")) or "none"
            raise InputError(
                f"event {text!r}: the direction d{reads} names {reads!r}, which the event does not "
                f"read; write d<name> with a state or t that it reads ({names})"
            )
    return event


def _top_level_split(text: str) -> list[str]:
    """``text`` split at the commas outside parentheses (arctan2(y, x) stays whole)."""
    parts, depth, start = [], 0, 0
    for k, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(text[start:k].strip())
            start = k + 1
    parts.append(text[start:].strip())
    return parts


@dataclass(frozen=True)
class CompiledEvent:
    """e(t, s) = LEFT - RIGHT of one event for one system, evaluated on arrays."""

    event: Event
    system: System
    left: Any
    right: Any

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.left.names, *self.right.names)))

    def __call__(self, t: np.ndarray, s: np.ndarray, p: Params) -> np.ndarray:
        """e at times t (...) and states s (..., n), parameters p broadcasting against t."""
        env: dict[str, Any] = {"t": t}
        env.update({name: s[..., k] for k, name in enumerate(self.system.states)})
        env.update({name: p[name] for name in self.system.params if name not in env})
        return self.left(env) - self.right(env)


def compile_event(event: Event, system: System) -> CompiledEvent:
    """The function e of ``event`` for ``system``: its names are the states, the parameters
    and t (a one-line InputError names the event and these)."""
    from .experiments.expressions import compile_expression

    if system.kind == "map":
        raise InputError(f"{system.name} is a discrete map; events are zero crossings of an ODE")
    names = (*system.states, *(p for p in system.params if p not in system.states), "t")
    left, right = event.sides
    if not left or not right:
        raise InputError(f"event {event.expression!r}: write LEFT=RIGHT, such as 'z=27'")
    field = f"event {event.expression!r}"
    return CompiledEvent(
        event,
        system,
        compile_expression(left, names, field=field),
        compile_expression(right, names, field=field),
    )


@dataclass(frozen=True)
class Events:
    """The crossings found, one row each, sorted by member and time.

    ``member`` (k,) is the batch member (0 for one trajectory), ``which`` (k,) the index of the
    event in ``events``, ``t`` (k,) the time, ``states`` (k, n) the state there, ``direction``
    (k,) +1 where e increased and -1 where it decreased, ``rate`` (k,) de/dt from the vector
    field.  ``stop`` gives per member the time of its first terminal crossing (None: it never
    fired, or no event is terminal); ``notes`` say which events never fired.
    """

    events: tuple[Event, ...]
    state_names: tuple[str, ...]
    member: np.ndarray
    which: np.ndarray
    t: np.ndarray
    states: np.ndarray
    direction: np.ndarray
    rate: np.ndarray
    stop: tuple[float | None, ...]
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.t)

    def times(self, member: int = 0, event: int | None = None) -> np.ndarray:
        """The crossing times of one member (of one event, when given)."""
        keep = self.member == member
        if event is not None:
            keep &= self.which == event
        return self.t[keep]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per crossing, JSON-ready."""
        return [
            {
                "member": int(m),
                "event": self.events[w].text,
                "t": float(t),
                "direction": int(d),
                "rate": float(r),
                "state": dict(zip(self.state_names, map(float, s), strict=True)),
            }
            for m, w, t, d, r, s in zip(
                self.member, self.which, self.t, self.direction, self.rate, self.states, strict=True
            )
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": [e.text for e in self.events],
            "crossings": self.rows(),
            "stop": list(self.stop),
            "notes": list(self.notes),
        }

    def table(self, limit: int = 50) -> str:
        """The crossings as a text table (the first ``limit``), the stops and the notes."""
        from .tables import number, table

        header = ("member", "event", "t", "dir", *self.state_names)
        rows = [
            (
                str(m),
                self.events[w].text,
                f"{t:.12g}",
                "+" if d > 0 else "-",
                *(number(float(v)) for v in s),
            )
            for m, w, t, d, s in zip(
                self.member[:limit],
                self.which[:limit],
                self.t[:limit],
                self.direction[:limit],
                self.states[:limit],
                strict=True,
            )
        ]
        lines = [f"events: {len(self)} crossings"]
        if rows:
            lines.append(table(header, rows))
        if len(self) > limit:
            lines.append(f"... and {len(self) - limit} more")
        if any(e.terminal for e in self.events):
            for k, stop in enumerate(self.stop):
                lines.append(
                    f"member {k}: "
                    + (
                        "no terminal event, ran to the end"
                        if stop is None
                        else f"stopped at t = {stop:.12g}"
                    )
                )
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


# -- the interpolants ---------------------------------------------------------------------------


class _Hermite:
    """The cubic Hermite interpolant of kept states s (m, T, n) at times t (T,), with slopes g."""

    def __init__(self, traj: Trajectory):
        system = traj.system
        states = traj.states if traj.batched else traj.states[None]
        self.system, self.t, self.s = system, np.asarray(traj.t, dtype=np.float64), states
        p = params_over_time(system.params)
        x = None
        if system.driven:
            x = system.forcing(self.t, p)
        with np.errstate(all="ignore"):
            self.g = np.broadcast_to(system.rhs(self.t, states, x, p), states.shape)
        self.members, self.steps = states.shape[0], len(self.t) - 1

    def valid(self, member: np.ndarray, step: np.ndarray) -> np.ndarray:
        """Which (member, step) pairs are steps of the trajectory: all."""
        return np.ones(np.shape(member), dtype=bool)

    def last(self, member: np.ndarray) -> np.ndarray:
        """The index of each member's last step."""
        return np.full(np.shape(member), self.steps - 1)

    def at(self, member: np.ndarray, step: np.ndarray, tau: np.ndarray):
        """Times and states at τ of the steps (member, step): shapes (...) and (..., n)."""
        t0, h = self.t[step], self.t[step + 1] - self.t[step]
        s0, s1 = self.s[member, step], self.s[member, step + 1]
        g0, g1 = self.g[member, step], self.g[member, step + 1]
        tau2, tau3 = tau * tau, tau * tau * tau
        h00, h10 = 2 * tau3 - 3 * tau2 + 1, tau3 - 2 * tau2 + tau
        h01, h11 = 3 * tau2 - 2 * tau3, tau3 - tau2
        hh = h[..., None]
        s = (
            h00[..., None] * s0
            + (h10[..., None] * hh) * g0
            + h01[..., None] * s1
            + (h11[..., None] * hh) * g1
        )
        return t0 + tau * h, s


class _Dense:
    """The dense output of solve_ivp, one solution per member, on its own steps."""

    def __init__(self, system: System, solutions: list):
        self.system, self.solutions = system, solutions
        self.members = len(solutions)
        self.bounds = [np.asarray(sol.t, dtype=np.float64) for sol in solutions]
        self.steps = max(len(b) - 1 for b in self.bounds)
        self.counts = np.array([len(b) - 1 for b in self.bounds])

    def valid(self, member: np.ndarray, step: np.ndarray) -> np.ndarray:
        """Which (member, step) pairs are steps of that member's solution."""
        return step < self.counts[member]

    def last(self, member: np.ndarray) -> np.ndarray:
        return self.counts[member] - 1

    def at(self, member: np.ndarray, step: np.ndarray, tau: np.ndarray):
        member, step, tau = np.broadcast_arrays(member, step, tau)
        t = np.empty(member.shape)
        s = np.empty((*member.shape, self.system.n_states))
        for m in np.unique(member):
            rows = member == m
            bounds = self.bounds[m]
            k = np.minimum(step[rows], len(bounds) - 2)
            t0, h = bounds[k], bounds[k + 1] - bounds[k]
            t[rows] = t0 + tau[rows] * h
            s[rows] = self.solutions[m].sol(t[rows]).T
        return t, s


# -- finding the crossings ----------------------------------------------------------------------


def find_events(traj: Trajectory, events: Event | str | Sequence[Event | str]) -> Events:
    """Every crossing of each event along ``traj`` (every step kept), per batch member.

    ``events`` are :class:`Event` objects or their strings ('z=27,dz>0').  The trajectory's
    own states and the vector field there give the cubic Hermite interpolant of each step
    (see the module doc); a trajectory that keeps every k-th step only (save_every > 1) is
    refused, since its interpolant would no longer follow the method's steps.
    """
    system = traj.system
    if system.kind == "map":
        raise InputError(f"{system.name} is a discrete map; events are zero crossings of an ODE")
    if traj.save_every != 1:
        raise InputError(
            f"events need every step of the trajectory (save_every=1); this one keeps every "
            f"{traj.save_every}-th"
        )
    compiled = _compile_all(events, system)
    return _locate(_Hermite(traj), compiled, _member_params(system))


def reference_events(
    system: System,
    s0: Any,
    t_span: tuple[float, float],
    events: Event | str | Sequence[Event | str],
    *,
    method: str | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> Events:
    """The crossings along solve_ivp's solution from ``s0`` (n,) or (m, n) over t_span, located
    on its dense output step by step as :func:`find_events` does (so that two crossings inside
    one step of the solver are both found)."""
    from . import checks
    from .reference import default_method, solve_ivp, stacked_jacobian

    compiled = _compile_all(events, system)
    t0, t_end = checks.time_span(t_span)
    rtol, atol = checks.tolerances(rtol, atol)
    start = checks.initial_state(system, s0)
    batch = start.reshape(-1, system.n_states)
    method = default_method(system) if method is None else method
    size = len(batch)
    solutions = []
    for k in range(size):
        p = _member_of(system.params, k)
        forcing = system.forcing

        def fun(tt, y, p=p, forcing=forcing):
            x = forcing(tt, p) if forcing is not None else None
            return system.rhs(tt, y[None], x, p)[0]

        jac = stacked_jacobian(system, p, (1, system.n_states), method)
        options = {"jac": jac} if jac is not None else {}
        with np.errstate(all="ignore"):
            sol = solve_ivp(
                fun,
                (t0, t_end),
                batch[k],
                method=method,
                rtol=rtol,
                atol=atol,
                dense_output=True,
                **options,
            )
        if sol.status != 0:
            raise SolverError(f"solve_ivp ({method}) for events of member {k}: {sol.message}")
        solutions.append(sol)
    return _locate(_Dense(system, solutions), compiled, _member_params(system))


def _compile_all(events, system) -> list[CompiledEvent]:
    if isinstance(events, Event | str):
        events = [events]
    events = list(events)
    if not events:
        raise InputError("give at least one event, such as 'x=0,dx>0'")
    return [compile_event(parse_event(e, system), system) for e in events]


def _member_of(p: Params, k: int) -> Params:
    return Params({name: v[k] if v.ndim else v for name, v in p.items()})


def _member_params(system: System):
    """A function member indices (...) -> the parameters of those members, shaped (...)."""
    params = system.params

    def of(member: np.ndarray) -> Params:
        return Params({k: v[member] if v.ndim else v for k, v in params.items()})

    return of


def _locate(interp, compiled: list[CompiledEvent], params_of) -> Events:
    system = interp.system
    rows: list[tuple[np.ndarray, ...]] = []
    block = max(1, BLOCK // interp.members)
    for index, e in enumerate(compiled):
        for first in range(0, interp.steps, block):
            last = min(first + block, interp.steps)
            found = _crossings(interp, e, params_of, first, last)
            rows.append((*found, np.full(len(found[0]), index)))
    member, step, tau, which = (np.concatenate([r[k] for r in rows]) for k in (0, 1, 2, 4))
    direction = np.concatenate([r[3] for r in rows])
    member, which = member.astype(np.intp), which.astype(np.intp)
    t, states = interp.at(member, step.astype(np.intp), tau)
    rate = _rates(system, compiled, which, member, t, states, params_of)
    wanted = np.array([e.event.direction for e in compiled], dtype=np.int64)[which]
    keep = (wanted == 0) | (wanted == direction)
    order = np.lexsort((which, t, member))
    order = order[keep[order]]
    member, which, t, states = member[order], which[order], t[order], states[order]
    direction, rate = direction[order], rate[order]
    terminal = np.array([e.event.terminal for e in compiled], dtype=bool)
    stop: list[float | None] = [None] * interp.members
    keep = np.ones(len(t), dtype=bool)
    for m in range(interp.members):
        fired = np.flatnonzero((member == m) & terminal[which])
        if len(fired):
            stop[m] = float(t[fired[0]])
            keep &= ~((member == m) & (t > t[fired[0]]))
    notes = tuple(
        f"event {e.event.text!r} never fired"
        for k, e in enumerate(compiled)
        if not np.any(which[keep] == k)
    )
    return Events(
        events=tuple(e.event for e in compiled),
        state_names=system.states,
        member=member[keep],
        which=which[keep],
        t=t[keep],
        states=states[keep],
        direction=direction[keep].astype(np.int64),
        rate=rate[keep],
        stop=tuple(stop),
        notes=notes,
    )


def _evaluate(interp, e: CompiledEvent, params_of, member, step, tau) -> np.ndarray:
    t, s = interp.at(member, step, tau)
    with np.errstate(all="ignore"):
        return np.broadcast_to(e(t, s, params_of(member)), np.shape(t))


def _crossings(interp, e, params_of, first: int, last: int):
    """(member, step, τ, direction) of each crossing of e in steps [first, last)."""
    m = interp.members
    steps = np.arange(first, last)
    k = np.arange(-1, SAMPLES + 2) / SAMPLES  # one sample beyond each end, for turning points
    member = np.repeat(np.arange(m), len(steps))
    step = np.tile(steps, m)
    valid = interp.valid(member, step)
    member, step = member[valid][:, None], step[valid][:, None]
    values = _evaluate(interp, e, params_of, member, step, k[None, :])
    inner = values[:, 1:-1]  # τ = 0, 1/K, ..., 1
    if not np.all(np.isfinite(inner)):
        bad = np.argwhere(~np.isfinite(inner))[0]

        raise DynsysError(
            f"event {e.event.expression!r} is not finite on the trajectory "
            f"(member {int(member[bad[0], 0])}, step {int(step[bad[0], 0])})"
        )
    taus = k[1:-1]
    a, b = inner[:, :-1], inner[:, 1:]
    # sign changes between samples
    rows, cols = np.nonzero(np.sign(a) * np.sign(b) < 0)
    lo, hi = taus[cols], taus[cols + 1]
    lo_sign = np.sign(a[rows, cols])
    # turning points: a sample nearer zero than both neighbours, all three of one sign
    sign = np.sign(values[:, 1:-1])
    left, mid, right = values[:, :-2], values[:, 1:-1], values[:, 2:]
    turning = (
        (sign != 0)
        & (np.sign(left) == sign)
        & (np.sign(right) == sign)
        & (sign * mid <= sign * left)
        & (sign * mid <= sign * right)
    )
    trows, tcols = np.nonzero(turning)
    if len(trows):
        tsign = sign[trows, tcols]
        start = np.maximum(taus[tcols] - 1 / SAMPLES, 0.0)
        end = np.minimum(taus[tcols] + 1 / SAMPLES, 1.0)
        peak, value = _extremum(
            interp, e, params_of, member[trows, 0], step[trows, 0], start, end, tsign
        )
        over = np.sign(value) == -tsign
        trows, start, end, peak, tsign = (
            trows[over],
            start[over],
            end[over],
            peak[over],
            tsign[over],
        )
        rows = np.concatenate([rows, trows, trows])
        lo = np.concatenate([lo, start, peak])
        hi = np.concatenate([hi, peak, end])
        lo_sign = np.concatenate([lo_sign, tsign, -tsign])
    # samples exactly zero (τ < 1, or the last step's end), not at the initial time
    zrows, zcols = np.nonzero(inner == 0)
    at_end = zcols == SAMPLES
    last_step = step[zrows, 0] == interp.last(member[zrows, 0])
    first_time = (step[zrows, 0] == 0) & (zcols == 0)
    keepz = (~at_end | last_step) & ~first_time
    zrows, zcols = zrows[keepz], zcols[keepz]
    zdir = np.sign(values[zrows, zcols + 2] - values[zrows, zcols])
    zdir[zdir == 0] = 1
    root = _bisect(interp, e, params_of, member[rows, 0], step[rows, 0], lo, hi, lo_sign)
    return (
        np.concatenate([member[rows, 0], member[zrows, 0]]),
        np.concatenate([step[rows, 0], step[zrows, 0]]),
        np.concatenate([root, taus[zcols]]),
        np.concatenate([-lo_sign, zdir]).astype(np.int64),
    )


def _bisect(interp, e, params_of, member, step, lo, hi, lo_sign) -> np.ndarray:
    """The root of e in [lo, hi] (e has sign ``lo_sign`` at lo and the other at hi), halved
    until the bracket is two neighbouring floats."""
    lo, hi = lo.astype(np.float64).copy(), hi.astype(np.float64).copy()
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        moving = (mid > lo) & (mid < hi)
        if not np.any(moving):
            break
        value = _evaluate(interp, e, params_of, member, step, mid)
        same = (np.sign(value) == lo_sign) & moving
        zero = (value == 0) & moving
        lo = np.where(same, mid, lo)
        hi = np.where(~same & moving, mid, hi)
        lo = np.where(zero, mid, lo)
        hi = np.where(zero, mid, hi)
    return 0.5 * (lo + hi)


def _extremum(interp, e, params_of, member, step, lo, hi, sign):
    """τ in [lo, hi] where sign * e is smallest (golden section), and e there."""
    ratio = (np.sqrt(5.0) - 1) / 2
    a, b = lo.copy(), hi.copy()
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc = sign * _evaluate(interp, e, params_of, member, step, c)
    fd = sign * _evaluate(interp, e, params_of, member, step, d)
    for _ in range(GOLDEN):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c, new_d = b - ratio * (b - a), a + ratio * (b - a)
        c2 = np.where(left, new_c, d)
        d2 = np.where(left, c, new_d)
        fnew = sign * _evaluate(interp, e, params_of, member, step, np.where(left, new_c, new_d))
        fc, fd = np.where(left, fnew, fd), np.where(left, fc, fnew)
        c, d = c2, d2
    peak = np.where(fc < fd, c, d)
    return peak, _evaluate(interp, e, params_of, member, step, peak)


def _rates(system, compiled, which, member, t, states, params_of) -> np.ndarray:
    """de/dt = ∂e/∂t + ∇e · g at each crossing, by centred differences along (1, g)."""
    rate = np.zeros(len(t))
    if not len(t):
        return rate
    p = params_of(member)
    x = system.forcing(t, p) if system.driven else None
    with np.errstate(all="ignore"):
        g = np.broadcast_to(system.rhs(t, states, x, p), states.shape)
        scale = np.maximum(1.0, np.max(np.abs(states), axis=-1))
        speed = np.max(np.abs(g), axis=-1)
        delta = 6e-6 * np.minimum(
            scale / np.where(speed > 0, speed, 1.0), np.maximum(1.0, np.abs(t))
        )
        for k, e in enumerate(compiled):
            rows = which == k
            if not np.any(rows):
                continue
            dt, dg = delta[rows], delta[rows, None] * g[rows]
            plus = e(t[rows] + dt, states[rows] + dg, _rows_of(p, rows))
            minus = e(t[rows] - dt, states[rows] - dg, _rows_of(p, rows))
            rate[rows] = (plus - minus) / (2 * dt)
    return rate


def _rows_of(p: Params, rows: np.ndarray) -> Params:
    return Params({k: v[rows] if np.ndim(v) else v for k, v in p.items()})
