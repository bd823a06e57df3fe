"""Basins of attraction: where each initial state of a plane of states ends.

A grid of initial states s0 = (x, y) in two chosen states (the others held at ``fixed``) is
stepped at once, in one batch, from t = 0 to t_end, and each member's end is classified::

    fixed point  the state stays within ``settle`` of one point over the last ``window`` of
                 the run: a known stable equilibrium (found in the plane by
                 :func:`dynsys.plots.equilibria.find_equilibria`, or given by the user), else
                 the rest point it settled on
    cycle        it keeps moving, but the box [min, max] of each state over the first half of
                 the window matches the box over the second half (within 20 ``settle``):
                 a recurrent set, a limit cycle (or a chaotic attractor, for a map a periodic
                 orbit); members with matching boxes share one label
    escaped      it left the finite numbers or |s_i| > ``bound`` for some state
    undecided    none of these by t_end (a slow transient: take a larger t_end)

The run goes in segments (each a call of :func:`dynsys.simulate.simulate`, which keeps only
the segment's last state, or the window's samples); members that have escaped are dropped
after each segment.  A member that leaves the finite numbers inside a segment makes simulate
raise DivergenceError for the whole batch: the segment is then run again on each half of the
batch, down to single members, which are labelled escaped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import root

from . import __version__, checks
from .errors import DivergenceError, InputError
from .files import atomic_write
from .simulate import kept_steps, simulate
from .systems import System

ESCAPED = -1
"""The label of members that left the finite numbers or the bound."""
UNDECIDED = -2
"""The label of members that neither settled nor recurred by t_end."""
MAX_GRID = 4000
"""The most points per axis (16 million initial states)."""
SEGMENTS = 16
"""Segments of the run before the window (escaped members are dropped after each)."""
SAMPLES = 64
"""States sampled in each half of the window (the boxes of a cycle are taken over them)."""
CHUNK_BYTES = 32 * 2**20
"""Kept states a segment call holds at most (the rest of the window is run in more calls)."""
SETTLE = 1e-3
"""Default settle tolerance, as a fraction of the larger side of the plane."""
BOUND = 1e3
SHRINK = 0.9
"""A member whose box over the window's second half is narrower than this fraction of its box
over the first half is still approaching a rest point (undecided), not on a cycle."""
"""Default escape bound, as a multiple of the largest |limit| (at least 1)."""


@dataclass(frozen=True, eq=False)
class Attractor:
    """Where members of a basin end: a ``kind`` ("fixed point" or "cycle"), its ``state`` (n,)
    (the rest point, or the centre of the cycle's box), the box ``low``..``high`` (n,) the
    states span on it (low = high = state for a fixed point) and, for a fixed point, the type
    of the equilibrium (:func:`dynsys.plots.equilibria.classify`; "" when not computed)."""

    kind: str
    state: np.ndarray
    low: np.ndarray
    high: np.ndarray
    stability: str = ""

    def describe(self, names: Sequence[str]) -> str:
        """'fixed point (1, 0)' or 'cycle s in [-2.01, 2.01], v in [-2.7, 2.7]'."""
        if self.kind == "fixed point":
            return f"fixed point ({', '.join(_num(v) for v in self.state)})"
        spans = ", ".join(
            f"{n} in [{_num(lo)}, {_num(hi)}]"
            for n, lo, hi in zip(names, self.low, self.high, strict=True)
        )
        return f"cycle {spans}"


@dataclass(frozen=True, eq=False)
class Basins:
    """The basin map: ``labels[iy, ix]`` (grid, grid) is where s0 with state ``states[0]`` =
    x[ix] and ``states[1]`` = y[iy] (the others at ``fixed``) ends: an index into
    ``attractors``, :data:`ESCAPED` or :data:`UNDECIDED`.  ``x`` and ``y`` are the centres of
    the grid's cells, which tile ``xlim`` x ``ylim``."""

    system: str
    params: dict[str, Any]
    state_names: tuple[str, ...]
    states: tuple[int, int]
    x: np.ndarray
    y: np.ndarray
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    labels: np.ndarray
    attractors: tuple[Attractor, ...]
    fixed: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[int, int]:
        """{label: members}, for every attractor, ESCAPED and UNDECIDED."""
        out = {k: int(np.sum(self.labels == k)) for k in range(len(self.attractors))}
        out[ESCAPED] = int(np.sum(self.labels == ESCAPED))
        out[UNDECIDED] = int(np.sum(self.labels == UNDECIDED))
        return out

    def name(self, label: int) -> str:
        """What a label stands for: an attractor's description, 'escaped' or 'undecided'."""
        if label == ESCAPED:
            return "escaped"
        if label == UNDECIDED:
            return "undecided"
        return self.attractors[label].describe(self.state_names)

    def summary(self) -> dict[str, Any]:
        """What the map shows, JSON-ready (no arrays of the grid's size)."""
        counts, total = self.counts, self.labels.size
        return {
            "system": self.system,
            "params": self.params,
            "states": [self.state_names[i] for i in self.states],
            "grid": int(self.labels.shape[0]),
            "xlim": list(self.xlim),
            "ylim": list(self.ylim),
            "fixed": self.fixed.tolist(),
            "attractors": [
                {
                    "label": k,
                    "kind": a.kind,
                    "state": a.state.tolist(),
                    "low": a.low.tolist(),
                    "high": a.high.tolist(),
                    "stability": a.stability,
                    "count": counts[k],
                    "fraction": counts[k] / total,
                }
                for k, a in enumerate(self.attractors)
            ],
            "escaped": counts[ESCAPED],
            "undecided": counts[UNDECIDED],
            "settings": self.settings,
        }

    def to_npz(self, path: str | os.PathLike) -> Path:
        """Write the map atomically (:func:`dynsys.files.atomic_write`): arrays ``labels``,
        ``x``, ``y``, ``attractor_states``, ``attractor_low``, ``attractor_high`` (k, n),
        ``attractor_kinds`` (k,) and a JSON string ``metadata`` (:meth:`summary`)."""
        n = len(self.state_names)
        arrays = {
            "labels": self.labels,
            "x": self.x,
            "y": self.y,
            "attractor_states": _stack([a.state for a in self.attractors], n),
            "attractor_low": _stack([a.low for a in self.attractors], n),
            "attractor_high": _stack([a.high for a in self.attractors], n),
            "attractor_kinds": np.array([a.kind for a in self.attractors], dtype=np.str_),
            "metadata": np.str_(json.dumps({"dynsys_version": __version__, **self.summary()})),
        }
        return atomic_write(path, lambda f: np.savez(f, **arrays))


def basins(
    system: System,
    *,
    grid: int = 400,
    xlim: Sequence[float],
    ylim: Sequence[float],
    states: Sequence[int | str] = (0, 1),
    fixed: Sequence[float] | Mapping[str, float] | None = None,
    t_end: float = 100.0,
    dt: float | None = None,
    method: str | None = None,
    attractors: Sequence[Sequence[float]] | None = None,
    backend: str = "auto",
    window: float = 0.25,
    settle: float | None = None,
    bound: float | None = None,
) -> Basins:
    """The basins of attraction of ``system`` on a ``grid`` x ``grid`` plane of initial states.

    ``states`` names the two states of the plane (x over ``xlim``, y over ``ylim``); the others
    start at ``fixed`` (values for every state, or a mapping by name; default the system's
    ``default_s0``).  Every member is stepped with ``method`` (default rk4; a map is iterated,
    dt = 1) and step ``dt`` (default 0.02) up to ``t_end``; the last ``window`` fraction of the
    run decides its end (see the module doc), with tolerance ``settle`` (default 1e-3 of the
    larger side of the plane) and escape bound ``bound`` (default 1000 times the largest
    |limit|).  ``attractors`` are fixed points (n values each) to match ends against; default:
    the stable equilibria found in the plane (undriven systems and maps).
    """
    if not isinstance(system, System):
        raise InputError(f"system must be a System, got {type(system).__name__}")
    n = system.n_states
    if system.batch_size is not None:
        raise InputError("a basin map needs one value per parameter, not a batch")
    if n < 2:
        raise InputError(
            f"{system.name} has one state; a basin map needs a plane of two states "
            "(for a one-state map, see its cobweb diagram)"
        )
    grid = checks.integer("grid", grid, minimum=2)
    if grid > MAX_GRID:
        raise InputError(f"grid must be a whole number from 2 to {MAX_GRID}, got {grid}")
    xlim, ylim = _limits("xlim", xlim), _limits("ylim", ylim)
    i, j = _plane(system, states)
    base = _fixed(system, fixed)
    is_map = system.kind == "map"
    method = ("map" if is_map else "rk4") if method is None else method
    if is_map:
        dt = 1.0 if dt is None else dt
    dt = checks.positive_number("dt", 0.02 if dt is None else dt)
    t_end = checks.positive_number("t_end", t_end)
    window = checks.finite_number("window", window)
    if not 0 < window < 1:
        raise InputError(f"window must be a fraction between 0 and 1, got {window!r}")
    n_steps = checks.step_count(0.0, t_end, dt)
    if n_steps < 4:
        raise InputError(f"t_end = {t_end:g} is only {n_steps} steps of dt; take a larger t_end")
    side = max(xlim[1] - xlim[0], ylim[1] - ylim[0])
    settle = SETTLE * side if settle is None else checks.positive_number("settle", settle)
    reach = max(1.0, *map(abs, (*xlim, *ylim)), *np.abs(base))
    bound = BOUND * reach if bound is None else checks.positive_number("bound", bound)
    members = grid * grid
    checks.within_steps(
        members * n_steps,
        f"a basin map of {grid} x {grid} states x {n_steps} steps",
        "take a smaller grid, a larger dt or a shorter t_end",
    )
    checks.fits_in_memory(
        _peak_bytes(members, n),
        None,
        f"a basin map of {grid} x {grid} states",
        "take a smaller grid",
    )
    known = _known_attractors(system, attractors, (i, j), xlim, ylim, base, t_end)

    x, y = _axis(xlim, grid), _axis(ylim, grid)
    start = np.empty((grid, grid, n))
    start[...] = base
    start[..., i] = x[None, :]
    start[..., j] = y[:, None]
    start = start.reshape(members, n)
    run = _Run(system, method, dt, backend, bound)
    end = run.end(start, n_steps, max(2, round(window * n_steps)))

    labels = np.full(members, UNDECIDED, dtype=np.int64)
    labels[end.escaped] = ESCAPED
    end.classify(settle)
    found, fixed_labels = _fixed_points(system, end, known, settle, t_end)
    cycles, cycle_labels = _cycles(end, settle)
    labels[end.index[end.settled]] = fixed_labels
    labels[end.index[end.recurrent]] = cycle_labels + len(found)
    settings = {
        "t_end": t_end,
        "dt": dt,
        "method": method,
        "window": window,
        "settle": settle,
        "bound": bound,
        "backend": run.backends[-1] if run.backends else backend,
        "split_runs": run.splits,
    }
    return Basins(
        system=system.name,
        params=system.param_values(),
        state_names=tuple(system.states),
        states=(i, j),
        x=x,
        y=y,
        xlim=xlim,
        ylim=ylim,
        labels=labels.reshape(grid, grid),
        attractors=(*found, *cycles),
        fixed=base,
        settings=settings,
    )


# -- the run ------------------------------------------------------------------------------------


@dataclass
class _End:
    """How the members that did not escape end: ``index`` (m,) into the grid, the last state
    ``final`` (m, n), the boxes over the window's halves ``low``/``high`` (2, m, n), and the
    flags ``settled`` / ``recurrent`` (m,); ``escaped`` lists the grid indices that escaped."""

    index: np.ndarray
    final: np.ndarray
    low: np.ndarray
    high: np.ndarray
    escaped: np.ndarray
    settled: np.ndarray = field(init=False)
    recurrent: np.ndarray = field(init=False)

    def classify(self, settle: float) -> None:
        low, high = self.low.min(axis=0), self.high.max(axis=0)
        spread = np.maximum(high - self.final, self.final - low)
        self.settled = np.all(spread <= settle, axis=-1)
        same = np.all(
            (np.abs(self.low[0] - self.low[1]) <= 20 * settle)
            & (np.abs(self.high[0] - self.high[1]) <= 20 * settle),
            axis=-1,
        )
        widths = self.high - self.low  # (half, m, n)
        # a decaying approach to a rest point shrinks its box; a cycle keeps it
        kept = np.max(widths[1], axis=-1) >= SHRINK * np.max(widths[0], axis=-1)
        self.recurrent = same & kept & ~self.settled


@dataclass
class _Run:
    """Steps batches in segments with :func:`simulate`, splitting a batch that diverges."""

    system: System
    method: str
    dt: float
    backend: str
    bound: float
    splits: int = 0
    backends: list[str] = field(default_factory=list)

    def end(self, start: np.ndarray, n_steps: int, window: int) -> _End:
        """Run every member of ``start`` (m, n) for ``n_steps`` steps; the last ``window``
        steps are sampled (in two halves) for the boxes of :class:`_End`."""
        m, n = start.shape
        index, s = np.arange(m), start.copy()
        box = np.empty((2, 2, m, n))  # (low/high, half, member, state)
        box[0], box[1] = np.inf, -np.inf
        escaped: list[np.ndarray] = []
        done = 0
        for steps, every, half in _pieces(n_steps, window, m * n):
            states = self._segment(s, done * self.dt, steps, every)
            done += steps
            s = states[:, -1]
            if half is not None:
                samples = states[:, 1:]
                box[0, half] = np.minimum(box[0, half], samples.min(axis=1))
                box[1, half] = np.maximum(box[1, half], samples.max(axis=1))
            with np.errstate(invalid="ignore"):
                out = ~np.all(np.isfinite(s) & (np.abs(s) <= self.bound), axis=-1)
            if out.any():
                escaped.append(index[out])
                keep = ~out
                index, s, box = index[keep], s[keep], box[:, :, keep]
            if len(index) == 0:
                break
        gone = np.concatenate(escaped) if escaped else np.empty(0, dtype=np.int64)
        return _End(index, s, box[0], box[1], np.sort(gone))

    def _segment(self, s: np.ndarray, t0: float, steps: int, every: int) -> np.ndarray:
        """The kept states (m, rows, n) of ``steps`` steps from s at t0; a member that leaves
        the finite numbers has all its rows NaN (found by halving the batch)."""
        if len(s) == 0:
            return np.empty((0, len(kept_steps(steps, every)), s.shape[-1]))
        try:
            traj = simulate(
                self.system,
                s,
                t_span=(t0, t0 + steps * self.dt),
                dt=self.dt,
                method=self.method,
                save_every=every,
                backend=self.backend,
            )
        except DivergenceError:
            rows = len(kept_steps(steps, every))
            if every == steps and steps > 1:
                return self._halves(s, t0, steps)
            if len(s) == 1:
                return np.full((1, rows, s.shape[-1]), np.nan)
            self.splits += 1
            half = len(s) // 2
            first = self._segment(s[:half], t0, steps, every)
            return np.concatenate([first, self._segment(s[half:], t0, steps, every)])
        self.backends.append(traj.info.get("backend", self.backend))
        return traj.states.reshape(len(s), -1, s.shape[-1])

    def _halves(self, s: np.ndarray, t0: float, steps: int) -> np.ndarray:
        """:meth:`_segment` keeping only the end, run as two halves: members beyond the bound
        after the first half stop there (their end is NaN), so that the batch rarely has to
        be split (an escaping orbit leaves the bound a few steps before the finite numbers)."""
        self.splits += 1
        half = steps // 2
        mid = self._segment(s, t0, half, half)[:, -1]
        with np.errstate(invalid="ignore"):
            inside = np.all(np.isfinite(mid) & (np.abs(mid) <= self.bound), axis=-1)
        out = np.full((len(s), 2, s.shape[-1]), np.nan)
        out[:, 0] = s
        rest = steps - half
        out[inside, 1] = self._segment(mid[inside], t0 + half * self.dt, rest, rest)[:, -1]
        return out


def _pieces(n_steps: int, window: int, values: int) -> list[tuple[int, int, int | None]]:
    """(steps, save_every, half) for each call: the run before the window in SEGMENTS parts
    (keeping their ends only), then each half of the window sampled SAMPLES times, in calls
    that keep at most CHUNK_BYTES of states."""
    window = min(window, n_steps - 1)
    before = n_steps - window
    pieces: list[tuple[int, int, int | None]] = []
    size = -(-before // SEGMENTS)
    for first in range(0, before, size):
        steps = min(size, before - first)
        pieces.append((steps, steps, None))
    halves = (window // 2, window - window // 2)
    rows = max(1, CHUNK_BYTES // (8 * max(values, 1)))
    for half, length in enumerate(halves):
        if length == 0:
            continue
        every = max(1, length // SAMPLES)
        per_call = every * rows
        for first in range(0, length, per_call):
            steps = min(per_call, length - first)
            pieces.append((steps, min(every, steps), half))
    return pieces


def _peak_bytes(members: int, n: int) -> int:
    """Memory of a basin map of ``members`` states: the states, their boxes and labels, and
    what one segment call holds (its kept rows and about a dozen working copies)."""
    return 8 * members * (n * (1 + 4 + 12) + 2) + 2 * CHUNK_BYTES


# -- the classification -------------------------------------------------------------------------


def _known_attractors(system, attractors, plane, xlim, ylim, base, t_end) -> np.ndarray:
    """The fixed points to match ends against (k, n): the user's, else the stable equilibria
    in the plane (for an undriven system, or one whose drive is zero over the run)."""
    n = system.n_states
    if attractors is not None:
        try:
            points = np.array(attractors, dtype=np.float64).reshape(-1, n)
        except (TypeError, ValueError):
            raise InputError(
                f"attractors must be states of {n} values ({', '.join(system.states)})"
            ) from None
        if not np.all(np.isfinite(points)):
            raise InputError("attractors must hold finite numbers")
        return points
    if not _undriven(system, t_end):
        return np.empty((0, n))
    from .plots.equilibria import find_equilibria

    i, j = plane
    bounds = [(v - 1.0, v + 1.0) for v in base]
    bounds[i], bounds[j] = xlim, ylim
    found = find_equilibria(system, bounds)
    return np.array([e.point for e in found if e.stable]).reshape(-1, n)


def _undriven(system: System, t_end: float) -> bool:
    """Whether the drive is absent, or zero at 257 times over [0, t_end]."""
    if not system.driven:
        return True
    with np.errstate(all="ignore"):
        x = system.forcing(np.linspace(0.0, t_end, 257), system.params)
    return bool(np.all(np.asarray(x) == 0))


def _fixed_points(system, end: _End, known, settle, t_end) -> tuple[list[Attractor], np.ndarray]:
    """The fixed points the settled members reached (sorted by coordinates), and each settled
    member's index into them: the nearest known point within 10 ``settle``, else a cluster of
    ends (within 10 ``settle`` of each other) refined to the rest point it approximates."""
    finals = end.final[end.settled]
    tol = 10 * settle
    points: list[np.ndarray] = list(known)
    which = np.full(len(finals), -1, dtype=np.int64)
    if len(points):
        dist = np.max(np.abs(finals[:, None, :] - np.array(points)[None]), axis=-1)
        nearest = np.argmin(dist, axis=1)
        which = np.where(dist[np.arange(len(finals)), nearest] <= tol, nearest, -1)
    rest = which < 0
    if rest.any():
        centres, assigned = _cluster(finals[rest], tol)
        refined = [_refine(system, c, tol, t_end) for c in centres]
        which[rest] = assigned + len(points)
        points.extend(refined)
    order = sorted(range(len(points)), key=lambda k: tuple(np.round(points[k], 9)))
    used = np.zeros(len(points), dtype=bool)
    used[which] = True
    keep = [k for k in order if used[k] or k < len(known)]
    relabel = np.full(len(points), -1, dtype=np.int64)
    relabel[keep] = np.arange(len(keep))
    found = [_fixed_attractor(system, points[k], t_end) for k in keep]
    return found, relabel[which]


def _cycles(end: _End, settle: float) -> tuple[list[Attractor], np.ndarray]:
    """The recurrent sets: members whose window boxes agree within 20 ``settle`` share one."""
    low = end.low.min(axis=0)[end.recurrent]
    high = end.high.max(axis=0)[end.recurrent]
    n = low.shape[-1]
    centres, assigned = _cluster(np.concatenate([low, high], axis=-1), 20 * settle)
    order = sorted(range(len(centres)), key=lambda k: tuple(np.round(centres[k], 6)))
    relabel = np.empty(len(centres), dtype=np.int64)
    relabel[order] = np.arange(len(order))
    cycles = []
    for k in order:
        lo, hi = centres[k][:n], centres[k][n:]
        cycles.append(Attractor("cycle", (lo + hi) / 2, lo, hi))
    return cycles, relabel[assigned] if len(assigned) else assigned


def _cluster(points: np.ndarray, tol: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Greedy clusters: the first unassigned point takes every unassigned point within
    ``tol`` (max norm); returns the clusters' means and each point's cluster."""
    assigned = np.full(len(points), -1, dtype=np.int64)
    centres: list[np.ndarray] = []
    while True:
        free = np.flatnonzero(assigned < 0)
        if len(free) == 0:
            return centres, assigned
        near = free[np.max(np.abs(points[free] - points[free[0]]), axis=-1) <= tol]
        assigned[near] = len(centres)
        centres.append(points[near].mean(axis=0))


def _refine(system: System, centre: np.ndarray, tol: float, t_end: float) -> np.ndarray:
    """The rest point near ``centre`` (root of g(s) with the drive off, or of f(s) - s for a
    map) when the root lies within ``tol``; else ``centre`` itself."""
    if not _undriven(system, t_end):
        return centre
    from .plots.equilibria import _residual_function, _residual_jacobian

    g, jac = _residual_function(system, 0.0), _residual_jacobian(system, 0.0)
    with np.errstate(all="ignore"):
        sol = root(g, centre, jac=jac, method="hybr")
    ok = sol.success and np.all(np.isfinite(sol.x)) and np.max(np.abs(sol.x - centre)) <= tol
    return np.where(np.abs(sol.x) <= 1e-12, 0.0, sol.x) if ok else centre


def _fixed_attractor(system: System, point: np.ndarray, t_end: float) -> Attractor:
    stability = ""
    if _undriven(system, t_end):
        from .plots.equilibria import classify, jacobian_at

        point = _polish(system, point)
        with np.errstate(all="ignore"):
            eig = np.linalg.eigvals(jacobian_at(system, point))
        if np.all(np.isfinite(eig)):
            stability = classify(eig, discrete=system.kind == "map")
    point = np.array(point, dtype=np.float64)
    return Attractor("fixed point", point, point, point, stability)


def _polish(system: System, point: np.ndarray) -> np.ndarray:
    """Up to three Newton steps on the rest-point equation, each kept while it lowers the
    residual: a root found to 1e-13 comes out to the last digits (1.0, not 0.99999999999991)."""
    from .plots.equilibria import _residual_function, jacobian_at

    g = _residual_function(system, 0.0)
    eye = np.eye(len(point)) if system.kind == "map" else 0.0
    with np.errstate(all="ignore"):
        for _ in range(3):
            residual = g(point)
            try:
                step = np.linalg.solve(jacobian_at(system, point) - eye, residual)
            except np.linalg.LinAlgError:
                break
            better = point - step
            if not np.all(np.isfinite(better)):
                break
            if np.max(np.abs(g(better))) >= np.max(np.abs(residual)) and not np.all(
                better == point
            ):
                break
            point = better
    return np.where(np.abs(point) <= 1e-12, 0.0, point)


# -- the inputs ---------------------------------------------------------------------------------


def _limits(field: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise InputError(f"{field} must be a pair (low, high), got {value!r}") from None
    lo, hi = checks.finite_number(field, lo), checks.finite_number(field, hi)
    if not lo < hi:
        raise InputError(f"{field} must have low < high, got ({lo:g}, {hi:g})")
    return lo, hi


def _plane(system: System, states: Sequence[int | str]) -> tuple[int, int]:
    from .orbits import state_index

    if isinstance(states, str) or len(states) != 2:
        raise InputError(f"states must name two states of {system.name}, got {states!r}")
    i, j = (state_index(system, s) for s in states)
    if i == j:
        raise InputError(f"states must name two different states, got {states!r}")
    return i, j


def _fixed(system: System, fixed: Any) -> np.ndarray:
    """The values of the states outside the plane: all n states (by position or name)."""
    base = np.array(system.default_s0, dtype=np.float64)
    if fixed is None:
        return base
    if isinstance(fixed, Mapping):
        for name, value in fixed.items():
            if name not in system.states:
                raise InputError(
                    f"fixed names no state of {system.name}: {name!r}; states: "
                    f"{', '.join(system.states)}"
                )
            base[system.states.index(name)] = checks.finite_number(f"fixed {name}", value)
        return base
    values = list(fixed)
    if len(values) != system.n_states:
        raise InputError(
            f"fixed must give {system.n_states} values ({', '.join(system.states)}), "
            f"got {len(values)}"
        )
    return np.array([checks.finite_number("fixed", v) for v in values])


def _axis(lim: tuple[float, float], grid: int) -> np.ndarray:
    """The centres of ``grid`` equal cells tiling ``lim``: mid + half (2k + 1 - grid) / grid,
    exactly symmetric about mid."""
    lo, hi = lim
    u = (2 * np.arange(grid) + 1 - grid) / grid
    return (lo + hi) / 2 + (hi - lo) / 2 * u


def _stack(rows: list[np.ndarray], n: int) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, n)


def _num(v: float) -> str:
    v = float(v)
    return "0" if abs(v) < 5e-13 else f"{v:.4g}"
