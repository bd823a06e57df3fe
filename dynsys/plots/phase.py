"""Phase portraits: the flow of ds/dt = g(s) in the plane of two states, as a textbook draws it.

:func:`phase_portrait` chooses the picture from the system's structure:

* two states, autonomous (``"field"``): streamlines of the vector field coloured by speed,
  the nullclines dg_i/dt = 0 dashed, the equilibria marked and labelled by type, and the
  trajectories from the initial states (or a grid of them);
* driven (``"driven"``): the field turns with the drive x(t), so no field or nullclines are
  drawn (a frozen field at one instant would mislead); the trajectory in the (s, v) plane, the
  equilibria of the undriven system (x = 0) in grey for orientation, and with ``poincare`` a
  second panel with the stroboscopic section s(t0 + k 2π/omega), k = 0, 1, ...;
* ``section`` (an event such as 'z=27,dz>0', :mod:`dynsys.events`): a second panel with the
  states where the reference crosses it, on the chosen pair (default: two states the event
  does not read); ``transient`` drops section points before t0 + transient;
* a two-state system with a conserved energy and saddles of equal energy (the pendulum), with
  no initial states or limits given: the separatrix (the energy contour through the saddles),
  orbits inside and rotating outside it, limits from the saddles, symmetric for an odd field;
* three or more states: a 3D trajectory (``"3d"``), the 2D projections on every pair of the
  first three states (``"projections"``), or one chosen pair (``"projection"``);
* discrete maps: a cobweb diagram (one state) or the orbit (two or more);
* ``vs_time``: the states against time, the only choice for a one-state ODE.

With ``methods``, the first initial state is also stepped by each method with step dt and
drawn beside the solve_ivp reference, so explicit Euler is seen spiralling out of an orbit
that semi-implicit Euler keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .. import checks as core_checks
from ..errors import InputError
from ..events import Event, compile_event, parse_event, reference_events
from ..steppers import get_stepper
from ..systems.base import System
from . import checks, marks
from .equilibria import find_equilibria
from .orbits import (
    ATOL,
    RTOL,
    Orbits,
    Run,
    box,
    check_reference,
    check_size,
    drawing_grid,
    forcing_period,
    merged,
    reference_orbits,
    run_method,
    section_count,
    section_times,
    stroboscopic,
    with_reference,
)
from .results import PhaseInfo
from .style import (
    CYCLE,
    GREY,
    OKABE_ITO,
    field_cmap,
    house_style,
    new_figure,
    root_figure,
    system_title,
)

LAYOUTS = ("field", "driven", "projection", "projections", "3d", "cobweb", "orbit", "vs_time")
DEFAULT_T_END = {"ode": 20.0, "cobweb": 40.0, "orbit": 5000.0, "section": 200.0}
NULLCLINE_COLOURS = (OKABE_ITO["orange"], OKABE_ITO["reddish purple"])


def phase_portrait(
    system: System,
    s0: Any = None,
    *,
    t_span: tuple[float, float] | None = None,
    dt: float = 0.01,
    xlim: Any = None,
    ylim: Any = None,
    grid: int = 0,
    methods: Sequence[str] | str = (),
    states: Any = None,
    poincare: bool = False,
    projections: bool = False,
    vs_time: bool = False,
    period: float | None = None,
    section: str | None = None,
    transient: float = 0.0,
    ax: Any = None,
    axes: Any = None,
) -> tuple[Figure, PhaseInfo]:
    """The phase portrait of ``system`` (see the module doc for what each layout shows).

    ``s0`` is one initial state (n,) or several (m, n) (default: the system's own, unless
    ``grid`` is given); ``grid=N`` adds N x N initial states evenly inside the limits;
    ``t_span`` defaults to (0, 20) for an ODE; ``xlim``/``ylim`` default to the box of the
    trajectories; ``states`` picks the two states on the axes (names or indices); ``methods``
    are steppers (or 'solve_ivp') run from the first initial state with step ``dt``; ``period``
    overrides the forcing period 2π/omega of the Poincaré section; ``section`` is an event
    such as 'z=27,dz>0' (:mod:`dynsys.events`) whose crossings are drawn in a second panel,
    projected on ``states`` (default: the first two states the event does not read);
    ``transient`` drops the section points before t0 + transient.
    ``ax``/``axes``: draw into the caller's Axes (one panel; a 3D Axes for ``"3d"``) or
    sequence of Axes (:func:`panel_count`: 2 with a section, 3 for ``projections``, one per
    state ``vs_time``), and return their figure.
    """
    plan = check_phase(
        system,
        s0,
        t_span=t_span,
        dt=dt,
        xlim=xlim,
        ylim=ylim,
        grid=grid,
        methods=methods,
        states=states,
        poincare=poincare,
        projections=projections,
        vs_time=vs_time,
        period=period,
        section=section,
        transient=transient,
        ax=ax,
        axes=axes,
    )
    starts, layout, t_span, methods = plan.starts, plan.layout, plan.t_span, plan.methods
    if layout == "vs_time":
        from .timeseries import states_against_time

        return states_against_time(
            system, starts, t_span=t_span, dt=dt, methods=methods, ax=ax, axes=axes
        )
    if layout in ("cobweb", "orbit"):
        from .maps import map_portrait

        return map_portrait(
            system,
            starts,
            layout,
            t_span=t_span,
            xlim=plan.xlim,
            ylim=plan.ylim,
            states=states,
            ax=_one(ax, axes),
        )
    if layout in ("3d", "projections"):
        from .spatial import spatial_portrait

        return spatial_portrait(
            system, starts, layout, t_span=t_span, dt=dt, methods=methods, ax=ax, axes=axes
        )
    return _planar(
        system,
        starts,
        layout,
        plan.pair,
        t_span,
        dt,
        plan.xlim,
        plan.ylim,
        grid,
        methods,
        plan.period,
        plan.section,
        plan.transient,
        marks.given_axes(ax, axes, panel_count(system, plan), _panels_what(plan)),
    )


def _one(ax: Any, axes: Any) -> Any:
    """The one panel given as ``ax`` or as ``axes`` (a sequence of one, checked already)."""
    return ax if axes is None else marks.given_axes(None, axes, 1, "a one-panel figure")[0]


@dataclass(frozen=True)
class PhasePlan:
    """The checked arguments of a phase portrait (:func:`check_phase`)."""

    starts: np.ndarray | None
    layout: str
    t_span: tuple[float, float]
    methods: tuple[str, ...]
    xlim: tuple[float, float] | None
    ylim: tuple[float, float] | None
    pair: tuple[int, int] | None
    period: float | None
    section: Event | None = None
    transient: float = 0.0


def check_phase(
    system: System,
    s0: Any = None,
    *,
    t_span: tuple[float, float] | None = None,
    dt: float = 0.01,
    xlim: Any = None,
    ylim: Any = None,
    grid: int = 0,
    methods: Sequence[str] | str = (),
    states: Any = None,
    poincare: bool = False,
    projections: bool = False,
    vs_time: bool = False,
    period: float | None = None,
    section: str | None = None,
    transient: float = 0.0,
    ax: Any = None,
    axes: Any = None,
) -> PhasePlan:
    """Every argument of :func:`phase_portrait` checked, and the size of the portrait, without
    computing it: a one-line InputError for anything it would refuse or could not finish."""
    checks.scalar_params(system)
    starts = checks.initial_states(system, s0)
    xlim, ylim = checks.limits("xlim", xlim), checks.limits("ylim", ylim)
    methods = checks.method_names(methods)
    if isinstance(grid, bool) or not isinstance(grid, int | np.integer) or not 0 <= grid <= 30:
        raise InputError(f"grid must be a whole number from 0 to 30, got {grid!r}")
    layout = _layout(system, states, poincare, projections, vs_time, grid, methods)
    event = None
    if section is not None:
        event = _section_event(system, section, layout, poincare)
        layout = "projection" if layout == "3d" else layout
    for name in methods:
        if name != "solve_ivp":
            get_stepper(name, system)
    if t_span is None:
        t_end = (
            DEFAULT_T_END["section"] if event else DEFAULT_T_END.get(layout, DEFAULT_T_END["ode"])
        )
        t_span = (0.0, t_end)
    t_span = core_checks.time_span(t_span)
    transient = _transient(transient, t_span, poincare or event is not None)
    period = forcing_period(system, period) if poincare else None
    pair = None
    if layout in ("field", "driven", "projection", "orbit"):
        pair = _pair(system, states, event)
    plan = PhasePlan(starts, layout, t_span, methods, xlim, ylim, pair, period, event, transient)
    projection = "3d" if layout == "3d" else None
    marks.given_axes(ax, axes, panel_count(system, plan), _panels_what(plan), projection=projection)
    _check_size(system, layout, starts, t_span, dt, methods, int(grid), period)
    return plan


def panel_count(system: System, plan: PhasePlan) -> int:
    """How many panels the portrait of ``plan`` draws: one per state against time, three
    projections, two for a planar portrait beside its Poincaré section, else one."""
    if plan.layout == "vs_time":
        return system.n_states
    if plan.layout == "projections":
        return 3
    return 2 if plan.period or plan.section else 1


def _panels_what(plan: PhasePlan) -> str:
    """The portrait of ``plan`` as named in an error about its panels."""
    if plan.period or plan.section:
        return "a phase portrait with a Poincaré section"
    if plan.layout in ("vs_time", "projections"):
        return f"a phase portrait with {plan.layout}=True"
    return f"a {plan.layout} phase portrait"


def _section_event(system: System, section: Any, layout: str, poincare: bool) -> Event:
    """The event of a section ('z=27,dz>0'), for a planar or projected portrait of an ODE."""
    if poincare:
        raise InputError("give either poincare (the stroboscopic section) or section, not both")
    if layout not in ("field", "driven", "projection", "3d"):
        raise InputError(
            f"section draws beside a planar portrait or one projection; not for {layout}"
        )
    if system.n_states < 3 and not system.driven:
        raise InputError(
            f"a section of {system.name} ({system.n_states} states) is a set of points on a "
            "curve; sections need three or more states or a driven system"
        )
    return parse_event(section, system)


def _transient(transient: Any, t_span: tuple[float, float], has_section: bool) -> float:
    """The time from t0 whose section points are not drawn: >= 0 and shorter than the span."""
    if isinstance(transient, bool) or not isinstance(transient, int | float | np.number):
        raise InputError(f"transient must be a number of time units >= 0, got {transient!r}")
    transient = float(transient)
    if not 0 <= transient < t_span[1] - t_span[0]:
        raise InputError(
            f"transient must be >= 0 and below t_end - t0 = {t_span[1] - t_span[0]:g}, "
            f"got {transient:g}"
        )
    if transient and not has_section:
        raise InputError("transient drops section points: give poincare or section too")
    return transient


def _layout(system, states, poincare, projections, vs_time, grid, methods) -> str:
    n, name = system.n_states, system.name
    if vs_time:
        layout = "vs_time"
    elif system.kind == "map":
        layout = "cobweb" if n == 1 else "orbit"
    elif n == 1:
        raise InputError(
            f"{name} has one state ({system.states[0]}); a phase portrait needs two or more: "
            "plot the state against time instead (--vs-time)"
        )
    elif system.driven:
        layout = "driven"
    elif n == 2:
        layout = "field"
    elif projections:
        layout = "projections"
    else:
        layout = "projection" if states is not None else "3d"
    if poincare and layout != "driven":
        raise InputError(f"a Poincaré section needs a driven ODE; {name} is not one (see --help)")
    if projections and layout != "projections":
        raise InputError(f"projections need an ODE with three or more states; {name} has {n}")
    if grid and layout not in ("field", "driven", "projection"):
        raise InputError(f"grid needs a planar phase portrait (two states); not for {layout}")
    if methods and system.kind == "map":
        raise InputError(f"{name} is a discrete map; methods compare ODE steppers")
    if states is not None and layout in ("3d", "projections", "cobweb", "vs_time"):
        raise InputError(f"states picks the two axes of a planar plot; not for {layout}")
    return layout


def _check_size(system, layout, starts, t_span, dt, methods, grid, period) -> None:
    """Refuse, before computing anything, a portrait too large to compute or to draw."""
    what = f"a {layout} phase portrait of {system.name}"
    m = 1 if starts is None else len(starts)
    if system.kind == "map":
        panels = system.n_states if layout == "vs_time" else 2
        check_size(system, t_span, 1.0, what=what, runs=m, panels=panels)
        return
    steppers = sum(1 for name in methods if name != "solve_ivp")
    references = m + (1 if methods else 0) + (grid * grid if grid else 0)
    extra = section_count(t_span, period) + 1 if period else 0
    panels = {"vs_time": system.n_states, "projections": 3}.get(layout, 1)
    check_size(
        system,
        t_span,
        dt,
        what=what,
        references=references,
        runs=steppers,
        panels=panels,
        extra=extra,
    )
    probe = starts if starts is not None else np.array([system.default_s0], dtype=np.float64)
    check_reference(system, probe, t_span, what)


def _pair(system: System, states: Any, event: Event | None = None) -> tuple[int, int]:
    if states is None:
        if event is not None and system.n_states >= 3:
            read = compile_event(event, system).names
            free = [k for k, name in enumerate(system.states) if name not in read]
            if len(free) >= 2:
                return free[0], free[1]
        return 0, 1
    i, j = checks.state_indices(system, states, count=2)
    return i, j


def _planar(
    system,
    starts,
    layout,
    pair,
    t_span,
    dt,
    xlim,
    ylim,
    grid,
    methods,
    period,
    event,
    transient,
    panels=None,
):
    i, j = pair
    t = drawing_grid(t_span, dt)
    given = starts
    separatrix = None
    if layout == "field" and given is None and not (grid or methods or xlim or ylim):
        separatrix = separatrix_portrait(system, pair)
    if separatrix is not None:
        given = separatrix.starts
    if given is None and not grid:
        given = np.array([system.default_s0], dtype=np.float64)
    first, section_points = None, None
    if given is not None and period:  # one solve for the orbits and the section of the first
        both, on_t, on_section = merged(t, section_times(t_span, period))
        solved = reference_orbits(system, given, both)
        first = Orbits(t, solved.states[:, on_t], solved.solved)
        if solved.solved[0]:
            section_points = solved.states[0, on_section][_after(t_span, period, transient)]
    elif given is not None:
        first = reference_orbits(system, given, t)
    auto_limits = xlim is None or ylim is None
    if separatrix is not None:
        xlim, ylim = separatrix.limits(first.states, pair)
    elif auto_limits:
        seed = first if first is not None else _default_orbit(system, t)
        auto = box(seed.states[..., [i, j]]) if len(seed.states) else [(-1.0, 1.0)] * 2
        xlim, ylim = xlim or auto[0], ylim or auto[1]
    orbits = [first] if first is not None else []
    if grid:
        grid_starts = _grid_starts(system, given, pair, xlim, ylim, grid)
        orbits.append(reference_orbits(system, grid_starts, t))
    states = np.concatenate([o.states for o in orbits])
    failed = sum(o.failed for o in orbits)
    runs: list[Run] = []
    if methods:
        s0 = given[0] if given is not None else np.asarray(system.default_s0, dtype=np.float64)
        runs = [run_method(system, s0, t_span, dt, m) for m in with_reference(methods)]
        if first is not None and first.solved[0]:
            states = states[1:]  # the first initial state's orbit is drawn as the solve_ivp run
        if auto_limits:
            xlim, ylim = _widen(xlim, ylim, runs, pair)
    equilibria = find_equilibria(system, _bounds(system, pair, xlim, ylim, states))

    with house_style():
        two = bool(period or event)
        if panels is not None:
            fig, own, ax = root_figure(panels[0]), None, panels[0]
            second = panels[1] if two else None
        else:
            fig = own = new_figure(11.5 if two else 7.0, 5.6 if two else 6.2)
            ax = fig.add_subplot(1, 2, 1) if two else fig.add_subplot()
            second = None
        ax.set(xlim=xlim, ylim=ylim, xlabel=system.states[i], ylabel=system.states[j])
        handles = _field(ax, system, pair, t[0]) if layout == "field" else []
        if separatrix is not None:
            handles += _separatrix_lines(ax, system, separatrix.level, pair)
        handles = _orbit_lines(ax, states, pair, runs, layout, given) + handles
        run_lines, diverged = marks.method_runs(ax, runs, i, j)
        muted = marks.equilibria(ax, equilibria, i, j, muted=system.driven)
        what = "phase portrait" + (f", h = {dt:g}" if runs else "")
        if system.driven and own is None:  # the note in the legend, the title on the Axes
            what += " (driven: no fixed vector field)"
            ax.set_title(system_title(system, what))
            if muted:
                handles.append(_undriven_handle())
        elif system.driven:
            what += " (driven: no fixed vector field)"
            ax.set_title(DRIVEN_NOTE, fontsize=8.5, color=GREY)
            fig.suptitle(system_title(system, what), fontsize=10.5)
        else:
            ax.set_title(system_title(system, what))
        section = 0
        after = f" at t >= {t_span[0] + transient:g}" if transient else ""
        if period:
            s0 = given[0] if given is not None else np.asarray(system.default_s0, dtype=float)
            if section_points is None:
                strobe = stroboscopic(system, s0, t_span, period)
                section_points = strobe[_after(t_span, period, transient)]
            title = f"Poincaré section: s(t0 + k T), T = 2π/omega = {period:.4g}"
            second = second or fig.add_subplot(1, 2, 2)
            section = _section(second, system, section_points, title, pair, after)
        elif event:
            s0 = given[0] if given is not None else np.asarray(system.default_s0, dtype=float)
            found = reference_events(system, s0, t_span, event, rtol=RTOL, atol=ATOL)
            points = found.states[found.t >= t_span[0] + transient]
            title = f"Poincaré section {event.text}"
            second = second or fig.add_subplot(1, 2, 2)
            section = _section(second, system, points, title, pair, after)
        marks.legend(ax, run_lines + handles, own=own, ncols=3)
    info = PhaseInfo(
        layout=layout,
        trajectories=len(states) + len(runs),
        equilibria=equilibria,
        methods=tuple(r.method for r in runs),
        diverged=diverged,
        failed=failed,
        section_points=section,
        xlim=tuple(xlim),
        ylim=tuple(ylim),
    )
    return fig, info


DRIVEN_NOTE = "trajectory; in grey the equilibria of the undriven system (x = 0)"


def _undriven_handle():
    """The legend entry saying what the grey markers are, for the caller's Axes (where the
    note does not go over the panel)."""
    return marks.line_handle(
        GREY, "equilibria of the undriven system (x = 0)", ls="none", marker="o", mfc="#BBBBBB"
    )


SEPARATRIX_COLOUR = OKABE_ITO["bluish green"]
SEPARATRIX_LEVELS = (0.75, 1.3)
"""Energies of the default orbits beside the system's own, as fractions of the way from the
centre's energy to the saddles': one swinging inside the separatrix, two rotating outside."""


@dataclass(frozen=True)
class Separatrix:
    """The default picture of a two-state system with an energy and saddles: the initial
    states, the saddles and centre, the energy ``level`` of the saddles, and whether the field is
    odd (g(-s) = -g(s)), so that the limits are symmetric about 0."""

    starts: np.ndarray
    saddles: np.ndarray
    centre: np.ndarray
    level: float
    odd: bool

    def limits(self, orbits: np.ndarray, pair) -> tuple[tuple[float, float], ...]:
        """Horizontal: the saddles and the centre, padded by 15%; vertical: the orbits where
        they are in view, padded by 10%; symmetric about 0 for an odd field."""
        i, j = pair
        xs = np.r_[self.saddles[:, i], self.centre[i]]
        lo, hi = float(xs.min()), float(xs.max())
        pad = 0.15 * (hi - lo if hi > lo else 1.0)
        xlim = (lo - pad, hi + pad)
        inside = (orbits[..., i] >= xlim[0]) & (orbits[..., i] <= xlim[1])
        ys = orbits[..., j][inside & np.isfinite(orbits[..., j])]
        y0, y1 = (float(ys.min()), float(ys.max())) if ys.size else (-1.0, 1.0)
        ylim = (y0 - 0.1 * (y1 - y0), y1 + 0.1 * (y1 - y0))
        if self.odd:
            xlim = (-max(map(abs, xlim)), max(map(abs, xlim)))
            ylim = (-max(map(abs, ylim)), max(map(abs, ylim)))
        return checks.clip_limits(xlim), checks.clip_limits(ylim)


def separatrix_portrait(system: System, pair) -> Separatrix | None:
    """The default picture of a two-state autonomous system with an energy and saddles of
    equal energy inside its typical states (the pendulum), or None for any other system."""
    if system.energy is None or system.driven or system.n_states != 2 or system.batch_size:
        return None
    ranges = list(system.typical_s0_ranges().values())
    bounds = [(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo)) for lo, hi in ranges]
    if not _conserved(system, bounds):
        return None
    found = find_equilibria(system, bounds)
    saddles = [e.point for e in found if e.kind == "saddle"]
    others = [e.point for e in found if e.kind != "saddle"]
    if not saddles or not others:
        return None
    energy = _energy(system, np.array(saddles))
    if not np.all(np.isfinite(energy)) or np.ptp(energy) > 1e-9 * max(1.0, abs(energy[0])):
        return None
    centre = min(others, key=lambda point: float(np.sum(point**2)))
    bottom, level = float(_energy(system, centre[None])[0]), float(energy[0])
    if not level > bottom:
        return None
    j = pair[1]
    span = max(abs(bounds[j][0]), abs(bounds[j][1])) * 4
    starts = [np.asarray(system.default_s0, dtype=np.float64)]
    for fraction in SEPARATRIX_LEVELS:
        target = bottom + fraction * (level - bottom)
        for side in (1.0, -1.0) if fraction > 1 else (1.0,):
            y = _along(system, centre, j, side, target, span)
            if y is None:
                return None
            point = centre.copy()
            point[j] = y
            starts.append(point)
    odd = _odd(system, bounds)
    return Separatrix(np.array(starts), np.array(saddles), centre, level, odd)


def _energy(system: System, s: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(system.energy(s, system.params), dtype=np.float64)


def _along(system, centre, j, side, target, span) -> float | None:
    """The state j where the energy, going from the centre in direction ``side``, first
    reaches ``target`` (bisection on a scan of 400 points), or None."""
    ys = centre[j] + side * np.linspace(0.0, span, 401)
    s = np.tile(centre, (len(ys), 1))
    s[:, j] = ys
    over = np.flatnonzero(_energy(system, s) >= target)
    if not len(over) or over[0] == 0:
        return None
    lo, hi = ys[over[0] - 1], ys[over[0]]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        point = centre.copy()
        point[j] = mid
        lo, hi = (mid, hi) if _energy(system, point[None])[0] < target else (lo, mid)
    return float(0.5 * (lo + hi))


def _conserved(system, bounds) -> bool:
    """Whether dE/dt = ∇E · g vanishes (centred differences along g, to 1e-6 of the sizes
    of |E| + 1) at a grid of states inside ``bounds``: the energy is a constant of motion."""
    axes = [np.linspace(lo, hi, 7) for lo, hi in bounds]
    s = np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, len(bounds))
    with np.errstate(all="ignore"):
        g = system.rhs(0.0, s, None, system.params)
        delta = 1e-4 / np.maximum(1.0, np.max(np.abs(g), axis=-1, keepdims=True))
        change = _energy(system, s + delta * g) - _energy(system, s - delta * g)
        size = np.abs(_energy(system, s)) + 1.0
    finite = np.isfinite(change)
    return bool(np.all(np.abs(change[finite]) <= 1e-6 * size[finite]))


def _odd(system, bounds) -> bool:
    """Whether g(t0, -s) = -g(t0, s) at a grid of states inside ``bounds``."""
    axes = [np.linspace(lo, hi, 7) for lo, hi in bounds]
    s = np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, len(bounds))
    with np.errstate(all="ignore"):
        plus = system.rhs(0.0, s, None, system.params)
        minus = system.rhs(0.0, -s, None, system.params)
    return bool(np.allclose(minus, -plus, rtol=1e-12, atol=1e-12))


def _separatrix_lines(ax, system, level: float, pair) -> list:
    """The energy contour E = level through the saddles: the heteroclinic orbits."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    xs, ys = np.linspace(x0, x1, 401), np.linspace(y0, y1, 401)
    x, y = np.meshgrid(xs, ys)
    s = np.empty((*x.shape, 2))
    s[..., pair[0]], s[..., pair[1]] = x, y
    energy = _energy(system, s)
    ax.contour(xs, ys, energy, levels=[level], colors=[SEPARATRIX_COLOUR], linewidths=1.8, zorder=3)
    return [
        marks.line_handle(SEPARATRIX_COLOUR, f"separatrix E = {level:.4g} (through the saddles)")
    ]


def _widen(xlim, ylim, runs: list[Run], pair) -> tuple[tuple[float, float], ...]:
    """Limits that also show where the methods went, up to 1.5 times the reference's width on
    each side, so a method that blows up does not shrink the picture to a dot."""
    out = []
    for lim, k in zip((xlim, ylim), pair, strict=True):
        values = np.concatenate([r.states[:, k] for r in runs])
        values = values[np.isfinite(values)]
        width = lim[1] - lim[0]
        lo = max(min(lim[0], float(values.min(initial=lim[0]))), lim[0] - 1.5 * width)
        hi = min(max(lim[1], float(values.max(initial=lim[1]))), lim[1] + 1.5 * width)
        out.append(checks.clip_limits((lo, hi)))
    return tuple(out)


def _default_orbit(system, t):
    return reference_orbits(system, np.array([system.default_s0], dtype=np.float64), t)


def _grid_starts(system, given, pair, xlim, ylim, n) -> np.ndarray:
    """n x n initial states at the centres of a grid of cells over the limits; the other states
    (of a projection) are those of the first initial state, or the default."""
    base = np.asarray(given[0] if given is not None else system.default_s0, dtype=np.float64)
    fractions = (np.arange(n) + 0.5) / n
    xs = xlim[0] + fractions * (xlim[1] - xlim[0])
    ys = ylim[0] + fractions * (ylim[1] - ylim[0])
    starts = np.tile(base, (n * n, 1))
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    starts[:, pair[0]], starts[:, pair[1]] = gx.ravel(), gy.ravel()
    return starts


def _bounds(system, pair, xlim, ylim, states) -> list[tuple[float, float]]:
    """Where to look for equilibria: the limits on the axes, the box of the trajectories in
    the other states."""
    bounds = box(states) if len(states) else [(-1.0, 1.0)] * system.n_states
    bounds[pair[0]], bounds[pair[1]] = tuple(xlim), tuple(ylim)
    return bounds


def _orbit_lines(ax, states, pair, runs, layout, given) -> list:
    """The reference orbits, and their legend entries.

    Over a vector field they are black; without one each has its own colour, labelled by its
    initial state; beside method runs, or more than seven of them, they are thin and grey.
    """
    i, j = pair
    many = len(states) > 7
    handles = []
    for k, orbit in enumerate(states):
        if runs or many:
            colour, width = ("black", 0.9) if layout == "field" and not runs else (GREY, 0.8)
        else:
            colour = "black" if layout == "field" else CYCLE[k % len(CYCLE)]
            width = 1.5 if len(orbit) <= 5000 else 0.8 if len(orbit) <= 20000 else 0.4
        label = None if runs or many or layout == "field" else f"s0 = {_point(orbit[0])}"
        marks.trajectory(
            ax, orbit[:, i], orbit[:, j], colour, width=width, label=label, arrow=not runs
        )
        if label:
            handles.append(ax.lines[-2])
    if len(states) and (layout == "field" or many) and not runs:
        colour = "black" if layout == "field" else GREY
        handles.insert(0, marks.line_handle(colour, "trajectories (solve_ivp)"))
    return handles


def _point(s: np.ndarray) -> str:
    """'(1, 0.5)', or '1' for one state."""
    text = ", ".join(f"{v:.3g}" for v in s)
    return text if len(s) == 1 else f"({text})"


def _field_values(system, pair, xs, ys, t0) -> np.ndarray:
    """g(t0, s) with s[i] = x and s[j] = y on the grid (len(ys), len(xs)): shape (ny, nx, 2)."""
    return field_grid(system, pair, xs, ys, t0)


def field_grid(system, pair, xs, ys, t=0.0, base=None, x=None) -> np.ndarray:
    """g(t, s, x) on the grid s[i] = xs[l], s[j] = ys[k] of ``pair`` = (i, j), the other states
    from ``base`` (n,) (zeros when None): shape (len(ys), len(xs), n); not finite where g is
    not (no warning)."""
    gx, gy = np.meshgrid(xs, ys)
    grid = np.zeros((*gx.shape, system.n_states))
    if base is not None:
        grid[...] = base
    grid[..., pair[0]], grid[..., pair[1]] = gx, gy
    with np.errstate(all="ignore"):
        return system.rhs(t, grid, x, system.params)


def _field(ax, system, pair, t0) -> list:
    """Streamlines coloured by speed, a colour bar (space taken from ``ax``), and the
    nullclines; returns legend entries."""
    i, j = pair
    names = system.states
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    xs, ys = np.linspace(x0, x1, 41), np.linspace(y0, y1, 41)
    g = _field_values(system, pair, xs, ys, t0)
    u, v = g[..., i], g[..., j]
    speed = np.hypot(u, v)
    finite = speed[np.isfinite(speed)]
    if finite.size and finite.max() > 0:
        top = float(np.percentile(finite, 95))  # a few fast corners must not wash out the rest
        norm = Normalize(0.0, top if top > 0 else float(finite.max()))
        stream = ax.streamplot(
            xs,
            ys,
            u,
            v,
            color=speed,
            cmap=field_cmap(),
            norm=norm,
            density=1.1,
            linewidth=0.7,
            arrowsize=0.8,
            zorder=1,
        )
        stream.lines.set_alpha(0.8)
        extend = "max" if norm.vmax < finite.max() else "neither"
        bar = ax.figure.colorbar(stream.lines, ax=ax, shrink=0.85, pad=0.01, extend=extend)
        bar.set_label(f"speed |d({names[i]}, {names[j]})/dt|")
    handles = []
    xs, ys = np.linspace(x0, x1, 301), np.linspace(y0, y1, 301)
    g = _field_values(system, pair, xs, ys, t0)
    for k, index in enumerate((i, j)):
        z = g[..., index]
        finite = z[np.isfinite(z)]
        if finite.size and finite.min() < 0 < finite.max():
            colour = NULLCLINE_COLOURS[k]
            ax.contour(
                xs, ys, z, levels=[0.0], colors=[colour], linestyles="--", linewidths=1.4, zorder=2
            )
            label = f"nullcline d{names[index]}/dt = 0"
            handles.append(marks.line_handle(colour, label, ls="--"))
    return handles


def _after(t_span, period, transient) -> np.ndarray:
    """Which times t0 + k T of the stroboscopic section are at or after t0 + transient."""
    return section_times(t_span, period) >= t_span[0] + transient


def _section(ax, system, points, title, pair, after: str = "") -> int:
    """The points (k, n) of a Poincaré section of the reference, drawn as dots; the first
    one ringed."""
    i, j = pair
    size = 14 if len(points) < 200 else 6 if len(points) < 2000 else 2
    ax.scatter(
        points[:, i], points[:, j], s=size, color=OKABE_ITO["blue"], lw=0, gid="section", zorder=3
    )
    ax.scatter(
        points[:1, i],
        points[:1, j],
        s=30,
        facecolor="white",
        edgecolor="black",
        zorder=4,
        label="first point",
    )
    ax.set(xlabel=system.states[i], ylabel=system.states[j])
    ax.set_title(f"{title}, {len(points)} points{after}", fontsize=8.5, color=GREY)
    return len(points)
