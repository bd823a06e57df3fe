"""Recurrences, and the one time loop every stepper goes through.

A :class:`Recurrence` binds a system, a stepper and a step h:
s(n+1) = f(s(n), x(n+1); θ) with t_n = t0 + n h.  :meth:`Recurrence.run` is the only time loop in
dynsys, so a compiled kernel can replace it without touching the steppers' maths.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import checks
from ._malloc import tune_allocator
from .errors import (
    DivergenceError,
    DynsysError,
    InputError,
    KernelError,
    NewtonFailure,
    unknown_name,
)
from .steppers import (
    REFERENCE_METHOD,
    STEPPERS,
    AttributeParams,
    Stepper,
    Workspace,
    default_method,
    get_stepper,
)
from .systems.base import System
from .trajectory import Trajectory

_BLOCK_BYTES = 4 * 2**20  # saved rows are gathered in blocks of about this size
_DRIVE_BLOCK_BYTES = 2**19  # the drive is checked in blocks of about this size


@dataclass(frozen=True)
class Recurrence:
    """The recurrence s(n+1) = f(s(n), x(n+1); θ) of ``stepper`` applied to ``system`` with step h.

    The input x(n+1) of the step from n to n+1 is the drive sampled at t0 + (n + c) h, that is
    t_n + c h, for each node c of the stepper (see :mod:`dynsys.steppers`): for explicit Euler,
    x(n+1) = x(t_n).  Written (n + c) h, a sample that two steps share (RK4's and Heun's c = 1
    is the next step's c = 0) is the same number in both, so the time loop evaluates it once.
    """

    system: System
    stepper: Stepper
    h: float
    t0: float = 0.0
    backend: str = "numpy"
    """"numpy" (a numpy call per operation, over the whole batch) or "numba" (compiled)."""
    _nodes: np.ndarray = field(init=False, repr=False)
    _batched: bool = field(init=False, repr=False)
    loop: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """How the compiled loop ran: "kernel" (compiled, loaded or in memory) and "threads"."""

    def __post_init__(self):
        if self.backend not in BACKENDS[1:]:
            raise unknown_name("backend of a Recurrence", self.backend, BACKENDS[1:])
        nodes = np.asarray(self.stepper.nodes, dtype=np.float64)
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_batched", any(v.ndim for v in self.system.params.values()))

    def time(self, n: int) -> float:
        """t_n = t0 + n h."""
        return self.t0 + n * self.h

    def inputs(self, n_steps: int, start: int = 0) -> np.ndarray | None:
        """The inputs x(n+1) of steps n = start..start+n_steps-1: shape (n_steps, nodes, ...)."""
        if not self.system.driven:
            return None
        n = np.arange(start, start + n_steps)[:, None]
        return self._drive(self.t0 + (n + self._nodes) * self.h)

    def drive(self, n: int) -> np.ndarray | None:
        """The input of the step from n to n+1 alone: shape (nodes, ...)."""
        if not self.system.driven:
            return None
        return self._drive(self.t0 + (n + self._nodes) * self.h)

    def _next_inputs(self, n: int, count: int, previous: np.ndarray | None) -> np.ndarray | None:
        """``inputs(count, start=n)`` with each sample evaluated once: (count, nodes, ...).

        When the nodes hold 0 and 1, the sample at c = 1 of a step is the next step's c = 0
        (the same time t0 + (n + 1) h, the same number): it is evaluated once, and step n
        takes it from the last row of ``previous``, the inputs of the steps before n (None: none).
        """
        if not self.system.driven:
            return None
        nodes = self._nodes
        if len(nodes) < 2 or nodes[0] != 0 or nodes[-1] != 1:
            return self.inputs(count, n)
        steps = np.arange(n, n + count)[:, None]
        later = self._drive(self.t0 + (steps + nodes[1:]) * self.h)  # c > 0: (count, nodes-1, ...)
        x = np.empty((count, len(nodes), *later.shape[2:]))
        x[:, 1:] = later
        x[1:, 0] = later[:-1, -1]
        x[0, 0] = self.drive(n)[0] if previous is None else previous[-1, -1]
        return x

    def _drive_rows(self) -> int:
        """Steps whose inputs are sampled at once: about _DRIVE_BLOCK_BYTES of them."""
        nodes = max(1, len(self._nodes))
        return max(1, _DRIVE_BLOCK_BYTES // (8 * nodes * max(1, self.system.batch_size or 1)))

    def _drive(self, times: np.ndarray) -> np.ndarray:
        p = self.system.params
        return self.system.forcing(times[..., None] if self._batched else times, p)

    def check_drive(self, times: np.ndarray | None = None, n_steps: int = 0) -> None:
        """Refuse a drive that is not finite at ``times`` or where the first ``n_steps`` steps
        read it (t_n + c h, c in the nodes): a DynsysError naming the first such time."""
        if not self.system.driven:
            return
        nodes, rows = max(1, len(self._nodes)), self._drive_rows()
        for first in range(0, n_steps, rows):
            n = np.arange(first, min(first + rows, n_steps))[:, None]
            self._check_drive_at((self.t0 + (n + self._nodes) * self.h).reshape(-1))
        if times is not None:
            for first in range(0, len(times), rows * nodes):
                self._check_drive_at(times[first : first + rows * nodes])

    def _check_drive_at(self, times: np.ndarray) -> None:
        with np.errstate(all="ignore"):
            x = np.asarray(self._drive(times), dtype=np.float64)
        finite = np.isfinite(x)
        if finite.all():
            return
        per_time = np.broadcast_to(finite, (len(times), *x.shape[1:])).reshape(len(times), -1)
        first = int(np.argmin(per_time.all(axis=1)))
        values = np.broadcast_to(x, (len(times), *x.shape[1:])).reshape(len(times), -1)[first]
        raise DynsysError(
            f"the drive x(t) of {self.system.name} is {values[~np.isfinite(values)][0]} at "
            f"t = {times[first]:.6g}, not a finite number; change the drive or the time span"
        )

    def step(
        self, n: int, s: np.ndarray, x: np.ndarray | None = None, past: np.ndarray | None = None
    ) -> np.ndarray:
        """s(n+1) = f(s(n), x(n+1)); x defaults to the system's own drive.  A multistep
        stepper also reads ``past`` = s(n-1) (None on its first step)."""
        if x is None:
            x = self.drive(n)
        args = (self.system, self.time(n), self.h, s, x, self.system.params)
        if self.stepper.history > 1:
            return self.stepper.step(*args, past=past)
        return self.stepper.step(*args)

    def run(self, s0: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """Step from s0 = s(kept[0] = 0) and return s(n) for n in ``kept``: (..., len(kept), n).

        Raises :class:`DivergenceError` naming the first step whose state is not finite; its
        ``partial_states`` holds the finite rows before it.  The numpy loop also refuses, as
        :meth:`check_drive` at the kept times would before the run, a drive that is not finite
        at a kept time (it checks the samples it draws, and all kept times before reporting a
        divergence); a compiled loop leaves that check to its caller.
        """
        tune_allocator()
        numpy = self.backend == "numpy"
        carried: list[np.ndarray] = []  # s(n-1), ... of a multistep method, newest first
        if numpy and self.stepper.history > 1:
            advance = functools.partial(self._advance_multistep, carried=carried)
        elif numpy:  # the stepper's arrays, made once for the batch
            advance = functools.partial(self._advance, work=self.stepper.workspace(s0.shape))
        else:
            advance = self._compiled_advance(s0)
        # time-major storage: each kept step is one contiguous slab, written in order; the
        # result is its (..., time, n) view, so nothing is copied or transposed afterwards
        out = np.empty((len(kept), *s0.shape))
        out[0] = s0
        # the numpy loop copies s into its workspace; a compiled loop steps s itself, followed
        # by the past states of a multistep method: (..., n * history)
        depth = self.stepper.history - 1
        s, n = out[0] if numpy else np.concatenate([s0] * (1 + depth), axis=-1), 0
        rows = self._rows_per_check(s0)
        with np.errstate(all="ignore"):
            for start in range(1, len(kept), rows):
                stop = min(start + rows, len(kept))
                block_s, block_n = out[start - 1], n  # s(n) as kept: where a replay starts
                block_past = list(carried)  # and the states a multistep method carries
                if depth and not numpy and n:
                    width = s0.shape[-1]
                    block_past = [
                        s[..., k * width : (k + 1) * width].copy() for k in range(1, 1 + depth)
                    ]
                s, n = advance(s, n, kept[start:stop], out[start:stop])
                if not np.isfinite(out[start:stop]).all():
                    if numpy:  # a drive not finite at a kept time is named before a divergence
                        self.check_drive(self.time(kept))
                    raise self._divergence(block_s, block_n, out, start, kept, block_past)
        if numpy and not (len(self._nodes) and self._nodes[-1] == 1):
            self.check_drive(self.time(kept[-1:]))  # the end, which no step sampled (c = 1)
        return out.transpose((*range(1, out.ndim - 1), 0, out.ndim - 1))  # (..., time, n)

    def _advance(
        self, s, n: int, kept: np.ndarray, out: np.ndarray, work: Workspace
    ) -> tuple[np.ndarray, int]:
        """Step from s = s(n) with numpy, writing s(kept[r]) into out[r]; return the last.

        The stepper's ``step_into`` steps ``work.state`` in place (the numbers of :meth:`step`,
        bit for bit); the drive is sampled for blocks of steps at once (:meth:`_next_inputs`).
        When a sample is not finite, :meth:`check_drive` at t_n and the kept times names the
        first of them where the drive is not finite, if any: each of those times but the last
        is the c = 0 sample of a step taken here (the last is the next call's t_n), so that
        samples that are all finite leave only the end of the run unchecked (:meth:`run`
        checks it).
        """
        system, p, t0, h = self.system, AttributeParams(self.system.params), self.t0, self.h
        step_into = self.stepper.step_into
        if s is not work.state:
            work.state[...] = s
            s = work.state
        driven, rows, last = system.driven, self._drive_rows(), int(kept[-1])
        inputs, first, x, finite, start = None, n, None, True, n
        for r, stop in enumerate(kept):
            while n < stop:
                if driven:
                    if inputs is None or n - first == len(inputs):
                        inputs, first = self._next_inputs(n, min(rows, last - n), inputs), n
                        finite = finite and bool(np.isfinite(inputs).all())
                    x = inputs[n - first]
                s = step_into(system, t0 + n * h, h, s, x, p, work)
                n += 1
            if s is work.state and s.ndim > 1:  # a component at a time: numpy copies the
                for i in range(s.shape[-1]):  # whole components-first state 4-8x slower
                    out[r, ..., i] = s[..., i]
            else:
                out[r] = s
        if not finite:
            self.check_drive(self.time(np.append(start, kept)))
        return s, n

    def _advance_multistep(
        self, s, n: int, kept: np.ndarray, out: np.ndarray, carried: list[np.ndarray]
    ) -> tuple[np.ndarray, int]:
        """:meth:`_advance` for a stepper that carries past states: ``carried`` holds
        s(n-1), ... (newest first; empty before the first step) and is updated in place."""
        depth = self.stepper.history - 1
        for r, stop in enumerate(kept):
            while n < stop:
                held = (carried[0] if depth == 1 else tuple(carried)) if carried else None
                x = self.drive(n)
                if x is not None and not np.isfinite(x).all():
                    self.check_drive(self.t0 + (n + self._nodes) * self.h)
                nxt = self.step(n, s, x, past=held)
                carried.insert(0, s)
                del carried[depth:]
                s, n = nxt, n + 1
            out[r] = s
        return s, n

    def _compiled_advance(self, s0: np.ndarray):
        """The compiled equivalent of :meth:`_advance` (it steps s in place); records in
        ``self.loop`` how the loop was had and the most threads a call used."""
        from . import kernels

        loop = kernels.kernel(self.system, self.stepper)
        params = kernels.params_vector(self.system, s0.shape[:-1])
        most = kernels.threads()
        self.loop.update(kernel=loop.origin, threads=0)

        def advance(s, n, kept, out):
            flat = s.reshape(-1, s.shape[-1])  # a view: s is contiguous
            slab = out.reshape(len(kept), flat.shape[0], s0.shape[-1])
            used = kernels.run(loop, flat, n, kept, slab, self.t0, self.h, params, most)
            self.loop["threads"] = max(self.loop["threads"], used)
            return s, int(kept[-1])

        return advance

    @staticmethod
    def _rows_per_check(s0: np.ndarray) -> int:
        """Kept steps between two finiteness checks: about _BLOCK_BYTES of states."""
        return min(max(_BLOCK_BYTES // max(s0.nbytes, 1), 1), 1024)

    def _divergence(self, s, n, out, start, kept, past=()) -> DivergenceError:
        """Replay from the last checked state (and the states ``past`` a multistep method
        carried there) to find the first step that is not finite."""
        carried, depth = list(past), self.stepper.history - 1
        with np.errstate(all="ignore"):
            while np.isfinite(s).all():
                if depth:
                    held = (carried[0] if depth == 1 else tuple(carried)) if carried else None
                    nxt = self.step(n, s, past=held)
                    carried = [s, *carried][:depth]
                    s = nxt
                else:
                    s = self.step(n, s)
                n += 1
        bad = ~np.isfinite(s).reshape(-1, s.shape[-1]).all(axis=-1)
        which = int(np.argmax(bad)) if s.ndim > 1 else None
        finite_rows = np.isfinite(out[start:]).reshape(len(out) - start, -1).all(axis=1)
        ok_rows = start + int(np.argmin(finite_rows))
        hint = divergence_hint(self.system, self.stepper.name)
        failure = NewtonFailure if self.stepper.implicit else DivergenceError
        err = failure(self.stepper.name, n, self.time(n), which, hint)
        err.partial_states = np.moveaxis(out[:ok_rows], 0, -2)
        err.partial_times = self.time(kept[:ok_rows])
        return err


def divergence_hint(system: System, method: str) -> str:
    """What a DivergenceError suggests: for a map, that the orbit escapes; for an ODE, a smaller
    dt or two of :data:`STABLE_METHODS` (never the method that failed); for an implicit method,
    whose Newton iteration failed, a smaller dt or another implicit method."""
    if system.kind == "map":
        return "the map escapes to infinity from this initial state"
    if STEPPERS[method].implicit:
        other = "implicit_euler" if method != "implicit_euler" else "sdirk3"
        return f"try a smaller dt (Newton converges when h is small enough) or {other}"
    others = [m for m in STABLE_METHODS if m != method][:2]
    return f"try a smaller dt or another method ({', '.join(others)})"


def newton_jacobian(system: System, stepper: Stepper) -> dict[str, str]:
    """{"jacobian": where Newton's Jacobian comes from} for an implicit stepper: "system" (its
    own) or "finite differences" (forward differences of g, when it has none); {} otherwise."""
    if not stepper.implicit:
        return {}
    return {"jacobian": "system" if system.jacobian is not None else "finite differences"}


def kept_steps(n_steps: int, save_every: int) -> np.ndarray:
    """Steps 0, k, 2k, ... and always the last one."""
    kept = np.arange(0, n_steps + 1, save_every)
    return kept if kept[-1] == n_steps else np.append(kept, n_steps)


def simulate(
    system: System,
    s0: Any,
    *,
    t_span: tuple[float, float],
    dt: float | None = None,
    method: str | None = None,
    save_every: int = 1,
    memory_limit: int | None = None,
    backend: str = "auto",
    newton: Any = None,
) -> Trajectory:
    """Run ``method`` on ``system`` from s(t0) = s0 with step dt over t_span = (t0, t_end).

    The grid is t_n = t0 + n dt, n = 0..N, N = floor((t_end - t0) / dt) (to rounding), so it ends
    at t_end when the span is a whole number of steps.  ``s0`` of shape (n,) gives states of
    shape (time, n); (batch, n), or parameters of shape (batch,), give (batch, time, n), all
    stepped at once.  ``save_every=k`` keeps steps 0, k, 2k, ... and the last.  ``method`` is a
    stepper name (default 'euler', and 'map' for discrete maps, whose dt is 1) or 'solve_ivp'
    (the reference solver on the same grid).  ``memory_limit`` (bytes, default half the memory
    available, see :mod:`dynsys.checks`) refuses, before allocating, a run whose peak memory
    (:meth:`RunSize.peak`) exceeds it; a run of more steps (trajectories x steps) than the step
    ceiling is refused too.  ``backend`` chooses the time loop: "numpy", "numba" (compiled,
    see :mod:`dynsys.kernels`; needs numba) or "auto" (numba when it is installed, can run the
    method, and the run is large enough to repay compiling: the choice depends on the run
    alone, so a run gives the same numbers whatever ran before it in the process).  Two more
    evaluate all steps at once (:mod:`dynsys.parallel`): "scan" (a step map affine in the
    state, by an associative scan; any other is refused in one line) and "newton" (Newton's
    method over the trajectory, DEER; ``newton`` is a
    :class:`~dynsys.parallel.newton.NewtonSettings` or a dict of its fields).  When Newton
    does not converge within its budget, the numpy loop runs instead and ``info["fallback"]``
    says why (also issued as a RuntimeWarning); ``info`` holds the iterations and residuals.

    Raises :class:`~dynsys.errors.DivergenceError` when a state leaves the finite numbers, and
    a :class:`~dynsys.errors.DynsysError` naming the first time where the drive is not finite:
    at a kept time, or at a sample the steps read before the states left the finite numbers.
    """
    method = default_method(system) if method is None else method
    if backend not in SIMULATE_BACKENDS:
        raise unknown_name("backend", backend, SIMULATE_BACKENDS)
    size = plan_size(system, s0, t_span=t_span, dt=dt, method=method, save_every=save_every)
    size.check(memory_limit)
    start, t0, dt, n_steps = size.start, size.t0, size.dt, size.n_steps
    save_every = size.save_every
    kept = kept_steps(n_steps, save_every)
    t = t0 + kept * dt
    if method == REFERENCE_METHOD:
        from .reference import reference

        Recurrence(system, STEPPERS["euler"], dt, t0).check_drive(t)
        return reference(system, start, t)
    stepper = get_stepper(method, system)
    if backend in PARALLEL_BACKENDS or newton is not None:
        return _simulate_parallel(size, stepper, kept, backend, newton)
    chosen = choose_backend(backend, system, stepper, size.steps)
    recurrence = Recurrence(system, stepper, dt, t0, chosen)
    if backend == "auto" and chosen == "numpy" and system.kind == "ode":
        from . import kernels

        reason = kernels.why_not(system, stepper) if kernels.available() else None
        if reason is not None:  # "auto" says why the compiled loop did not run
            recurrence.loop["kernel_error"] = f"no compiled loop: {reason}"
    if chosen != "numpy":
        # The numpy loop checks the drive where it samples it (run).  The compiled loop samples
        # every kept time but the last as the c = 0 node of a step, and a sample that is not
        # finite leaves the states not finite: the divergence then names the drive (below).
        # The end is checked here, for steppers that never sample it (no node c = 1).
        recurrence.check_drive(t[-1:])
    began = time.perf_counter()
    try:
        try:
            states = recurrence.run(start, kept)
        except KernelError as err:
            if backend != "auto":
                raise
            # numba cannot compile this system's functions: "auto" runs the numpy loop
            recurrence = Recurrence(system, stepper, dt, t0, "numpy")
            recurrence.loop["kernel_error"] = str(err)
            states = recurrence.run(start, kept)
    except DivergenceError as err:  # a drive that is not finite: name it instead
        if recurrence.backend != "numpy":  # at a kept time first, as the numpy loop does
            recurrence.check_drive(t)
        recurrence.check_drive(n_steps=err.step)
        err.partial = Trajectory(
            err.partial_times, err.partial_states, system, method, dt, save_every
        )
        raise
    wall = time.perf_counter() - began
    return Trajectory(
        t=t,
        states=states,
        system=system,
        method=method,
        dt=dt,
        save_every=save_every,
        info={
            "wall_s": wall,
            "n_steps": n_steps,
            "backend": recurrence.backend,
            **recurrence.loop,
            **newton_jacobian(system, stepper),
        },
    )


BACKENDS = ("auto", "numpy", "numba")
"""The time loops: numpy's, compiled, or the choice between them."""
PARALLEL_BACKENDS = ("scan", "newton")
"""All steps at once (:mod:`dynsys.parallel`): an affine step map by a scan, any by Newton."""
SIMULATE_BACKENDS = BACKENDS + PARALLEL_BACKENDS
AUTO_COMPILE_STEPS = 2_000_000
"""Member-steps from which backend="auto" compiles: about a second of numpy's loop."""
STABLE_METHODS = ("rk4", "sdirk3", "semi_implicit_euler", "dopri5")
"""What a divergence suggests instead, in this order (never the method that failed): an
explicit method of high order, and an L-stable implicit one for a stiff problem."""
REFERENCE_COPIES = 4
"""solve_ivp on a grid holds its states about four times at its peak (scipy's list of dense
output samples and their stack, the transposed copy, the batch's concatenation)."""
REFERENCE_STEP_WEIGHT = 20
"""Steps (see :mod:`dynsys.checks`) one step of a trajectory counts for when solve_ivp solves
each trajectory of a batch alone: a call per trajectory costs, per time of its grid, what 20
to 150 steps of a trajectory in a batched stepper cost (measured: 14 us against 0.1-0.7 us)."""
LOOP_BYTES = 2**20
"""The time loop's own small arrays and Python objects (a measured run of 4 MiB of states
peaked 0.14 MiB above them)."""
STEP_TEMPORARIES = 4
"""Arrays of the batch's size that a step allocates besides its stages (measured: tracemalloc
of RK4 and semi-implicit Euler steps on a batch)."""


def _simulate_parallel(
    size: RunSize, stepper: Stepper, kept: np.ndarray, backend: str, newton: Any
) -> Trajectory:
    """:func:`simulate` with backend "scan" or "newton" (see there)."""
    import warnings

    from .parallel import recurrence as parallel
    from .parallel.newton import NewtonSettings

    if newton is not None and backend != "newton":
        raise InputError(
            f"newton settings apply to backend 'newton', got backend {backend!r}; "
            "use backend='newton' or leave newton out"
        )
    system, dt, t0 = size.system, size.dt, size.t0
    settings = NewtonSettings.of(newton)
    recurrence = Recurrence(system, stepper, dt, t0)
    recurrence.check_drive(n_steps=size.n_steps)
    t = t0 + kept * dt
    info: dict[str, Any] = {"n_steps": size.n_steps, "backend": backend}
    began = time.perf_counter()
    try:
        if backend == "scan":
            states = parallel.run_scan(recurrence, size.start, kept)
        else:
            try:
                states, run = parallel.run_newton(recurrence, size.start, kept, settings)
                info.update(run.info())
            except parallel.NewtonFallback as fallback:
                warnings.warn(str(fallback), RuntimeWarning, stacklevel=3)
                info.update(fallback.run.info(), fallback=str(fallback), backend="numpy")
                states = recurrence.run(size.start, kept)
    except DivergenceError as err:
        err.partial = Trajectory(
            err.partial_times, err.partial_states, system, stepper.name, dt, size.save_every
        )
        raise
    info["wall_s"] = time.perf_counter() - began
    return Trajectory(
        t=t,
        states=states,
        system=system,
        method=stepper.name,
        dt=dt,
        save_every=size.save_every,
        info={**info, **newton_jacobian(system, stepper)},
    )


def choose_backend(backend: str, system: System, stepper: Stepper, member_steps: int) -> str:
    """The time loop to use: "numpy" or "numba".

    "auto" takes the compiled loop when it can run ``stepper`` on ``system`` and either the
    loop costs nothing to have (loaded in this process or cached on disk, and it gives the
    numpy loop's bits: :func:`dynsys.kernels.bitwise`) or numba is installed and the run has at
    least :data:`AUTO_COMPILE_STEPS` member-steps, enough to repay compiling it once.  So the
    choice never changes the numbers a run gives.
    """
    if backend not in BACKENDS:
        raise unknown_name("backend", backend, BACKENDS)
    if backend != "auto":
        return backend
    from . import kernels

    if not kernels.supports(system, stepper):
        return "numpy"
    if kernels.bitwise(type(system)) and kernels.is_cached(system, stepper):
        return "numba"
    large = member_steps >= AUTO_COMPILE_STEPS
    return "numba" if kernels.available() and large else "numpy"


@dataclass(frozen=True)
class RunSize:
    """What a simulation needs, known before it runs: its checked grid and initial states,
    its steps (trajectories x steps) and its memory at the peak (:meth:`peak`)."""

    system: System
    method: str
    start: np.ndarray
    t0: float
    t_end: float
    dt: float
    n_steps: int
    save_every: int

    @property
    def n_traj(self) -> int:
        return self.start.size // self.system.n_states

    @property
    def n_kept(self) -> int:
        k = self.save_every
        return self.n_steps // k + 1 + (self.n_steps % k != 0)

    @property
    def steps(self) -> int:
        """Trajectories x steps: the length of the time loop, in states advanced."""
        return self.n_steps * self.n_traj

    def row_bytes(self, copies: int = 0) -> int:
        """Bytes per kept step: the states (``copies`` more of them, and the reference's own
        copies for solve_ivp), the drive on the grid, and the step's index and time."""
        held = (REFERENCE_COPIES if self.method == REFERENCE_METHOD else 1) + copies
        drive = self.n_traj if self.system.driven else 0
        return 8 * (held * self.start.size + drive + 2)

    def work_bytes(self) -> int:
        """Bytes a step works in besides the kept states: its stages and temporaries, and a
        block of the drive checked before the run."""
        stepper = STEPPERS.get(self.method)
        stages = len(stepper.nodes) + 1 if stepper is not None else 1
        if stepper is not None and stepper.implicit:  # Newton's matrices, residual and update
            n = self.system.n_states
            stages += stepper.history + n * n + 8
        drive = 2 * _DRIVE_BLOCK_BYTES if self.system.driven else 0  # the times and the drive
        return 8 * (stages + STEP_TEMPORARIES) * self.start.size + drive + LOOP_BYTES

    def peak(self, copies: int = 0) -> int:
        """Bytes at the peak of the run, with ``copies`` more copies of its states (what a
        caller computes from them, e.g. the errors against a reference)."""
        return self.row_bytes(copies) * self.n_kept + self.work_bytes()

    def check(
        self,
        limit: int | None = None,
        *,
        copies: int = 0,
        runs: int = 1,
        what: str = "simulating ",
    ) -> None:
        """Refuse the run when it exceeds the memory ceiling (or ``limit``, bytes) with
        ``copies`` more copies of its states, or when ``runs`` such runs exceed the step
        ceiling; ``what`` names who asks (e.g. "comparing 4 methods on ")."""
        one_by_one = self.method == REFERENCE_METHOD and self.n_traj > 1
        checks.within_steps(
            runs * self.steps * (REFERENCE_STEP_WEIGHT if one_by_one else 1),
            f"{what}{_trajectories(self.n_traj)} x {self.n_steps:.4g} steps"
            + (" (solve_ivp solves them one by one)" if one_by_one else ""),
            "take a larger dt, a shorter time span or fewer trajectories",
        )
        default = limit is None
        ceiling = checks.max_memory() if default else limit
        row, fixed = self.row_bytes(copies), self.work_bytes()
        rows = (ceiling - fixed) // row - 1  # kept steps after step 0 that fit
        if rows >= 1:
            k = max(2, -(-self.n_steps // rows))
            advice = (
                f"keep every k-th step (save_every/--save-every; k={k} would fit) "
                "or shorten the run"
            )
        elif self.n_traj > 1:
            advice = "use fewer trajectories"
        else:
            advice = "shorten the run"
        checks.fits_in_memory(
            self.peak(copies),
            None if default else limit,
            f"{what}{self.n_kept} saved steps of {_trajectories(self.n_traj)}",
            advice,
            ceiling=ceiling,  # read once
        )


def plan_size(
    system: System,
    s0: Any,
    *,
    t_span: tuple[float, float],
    dt: float | None = None,
    method: str | None = None,
    save_every: int = 1,
) -> RunSize:
    """The :class:`RunSize` of ``simulate`` with these arguments, every argument checked (a
    one-line InputError naming the one that is wrong); nothing is allocated or run."""
    method = default_method(system) if method is None else method
    t0, t_end = checks.time_span(t_span)
    if system.kind == "map":
        if dt is not None and checks.finite_number("dt", dt) != 1:
            raise InputError(f"dt of a discrete map must be 1, got {dt!r}")
        dt = 1.0
    elif dt is None:
        raise InputError("dt is required for an ODE: give the step size, e.g. dt=0.01")
    dt = checks.positive_number("dt", dt)
    save_every = checks.integer("save_every", save_every)
    if method != REFERENCE_METHOD:
        get_stepper(method, system)
    elif system.kind == "map":
        raise InputError(f"{system.name} is a discrete map; solve_ivp applies to ODEs only")
    start = checks.initial_state(system, s0)
    n_steps = checks.step_count(t0, t_end, dt)
    return RunSize(system, method, start, t0, t_end, dt, n_steps, save_every)


def _trajectories(n: int) -> str:
    return f"{n} trajector{'y' if n == 1 else 'ies'}"
