"""A system's recurrence evaluated parallel in time: by a scan when its step map is affine in
the state, by Newton's method over the trajectory (DEER) otherwise.

Every step map f_k of a :class:`~dynsys.simulate.Recurrence` is evaluated at once, time being
one more batch axis: the stepper runs on states (T, *batch, n) with the times t_k (T, 1, ...)
and the drive samples of every step.  For a stepper that carries s(n-1) (``history`` 2: bdf2)
the state of the recurrence is z(n) = (s(n), s(n-1)), and z(n+1) = (f(s(n), s(n-1)), s(n)).

**Affine steps.**  When f_k(s) = A_k s + b_k, the probes b_k = f_k(0) and
A_k e_j = f_k(e_j) - f_k(0) give the matrices, and one more evaluation at a random state per
step checks the claim: f_k(r) must equal A_k r + b_k to :data:`AFFINE_TOLERANCE`, relative to
the size of the states, or the scan is refused in one line.  A linear system says so
(``System.affine``); any other system whose step map passes the check runs by the scan too.

**Rounding.**  The probes give A_k and b_k with the stepper's own rounding; the scan then
multiplies them in another order than the loop.  An error made at step k reaches step T
multiplied by A_{T-1} ... A_{k+1}: for a damped system it is forgotten after a few time
constants, so the difference stays at the level of one step's rounding whatever T; for an
undamped oscillator the products keep their size and the errors add up, like a random walk
or worse (measured on the oscillator at resonance in double precision: 9e-13 relative at
T = 10^6 for RK4, up to 4e-11 for bdf2; the loop itself is 4e-13 from the same recurrence
computed in extended precision).  So the levels compute in extended precision
(:data:`~dynsys.parallel.scan.EXTENDED`), which makes the scan's own products exact to about
1e-19 per operation: what remains is the rounding the probes share with the loop, and the
two agree to about 4e-14 at T = 10^6.

Runs longer than a block (:data:`BLOCK_BYTES` of work) are done block after block, each from
the last state of the one before: the memory stays bounded and each block is one scan.
"""

from __future__ import annotations

import numpy as np

from ..errors import DivergenceError, DynsysError, InputError
from . import newton as newton_method
from .newton import NewtonRun, NewtonSettings
from .scan import EXTENDED, affine_scan

AFFINE_TOLERANCE = 1e-9
"""A step map is affine when f_k(r) = A_k r + b_k to this, relative to max(1, |r|, |f_k(r)|)."""
BLOCK_BYTES = 64 * 2**20
"""Bytes of work (probes, matrices, stages) of one block of steps done by one scan."""
PROBE_SEED = 20231
"""Seed of the random states that check a step map is affine (the same check every run)."""
WORK_COPIES = 16
"""Arrays of a block's size that evaluating a stepper on it holds at once (stages, temporaries)."""


class StepMaps:
    """The step maps f_k of ``recurrence`` for steps k = start..start+count-1, evaluated at
    once on states (count, *batch, m), m = n * history."""

    def __init__(self, recurrence, start: int, count: int, batch: tuple[int, ...]):
        self.rec, self.start, self.count, self.batch = recurrence, start, count, batch
        system = recurrence.system
        self.n = system.n_states
        self.history = recurrence.stepper.history
        self.m = self.n * self.history
        steps = np.arange(start, start + count, dtype=np.float64)
        self.t = (recurrence.t0 + steps * recurrence.h).reshape(count, *(1,) * len(batch))
        x = recurrence.inputs(count, start)  # (count, nodes, *drive batch)
        if x is not None:
            x = np.moveaxis(x, 1, 0)  # (nodes, count, *drive batch)
            if x.ndim == 2:
                x = x.reshape(*x.shape, *(1,) * len(batch))
        self.x = x

    def __call__(self, S: np.ndarray) -> np.ndarray:
        """f_k(S[..., k, *batch, :]) for every step k (leading probe axes allowed)."""
        rec, h, p = self.rec, self.rec.h, self.rec.system.params
        if self.history == 1:
            return rec.stepper.step(rec.system, self.t, h, S, self.x, p)
        n = self.n
        s, past = S[..., :n], S[..., n:]
        nxt = rec.stepper.step(rec.system, self.t, h, s, self.x, p, past=past)
        if self.start == 0:  # the first step starts the method (past = None)
            first = rec.stepper.step(
                rec.system, self.t[:1], h, s[..., :1, *self._all, :], self._x(slice(0, 1)), p
            )
            nxt = np.concatenate((first, nxt[..., 1:, *self._all, :]), axis=-2 - len(self.batch))
        return np.concatenate((nxt, s), axis=-1)

    @property
    def _all(self) -> tuple[slice, ...]:
        return (slice(None),) * len(self.batch)

    def _x(self, steps: slice):
        return None if self.x is None else self.x[:, steps]

    def affine(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(A (count, *batch, m, m), b (count, *batch, m), the largest relative departure of
        f_k from A_k s + b_k at a random state per step)."""
        m, shape = self.m, (self.count, *self.batch, self.m)
        probes = np.zeros((m + 1, *shape))
        for j in range(m):
            probes[1 + j, ..., j] = 1.0
        with np.errstate(all="ignore"):
            values = self(probes)
        b = values[0]
        A = np.moveaxis(values[1:] - b, 0, -1)  # column j is f(e_j) - f(0)
        rng = np.random.default_rng(PROBE_SEED)
        r = rng.standard_normal(shape)
        with np.errstate(all="ignore"):
            fr = self(r)
            predicted = np.einsum("...ij,...j->...i", A, r) + b
            scale = np.maximum(1.0, np.maximum(np.abs(fr), np.abs(r)).max(axis=-1))
            gap = np.abs(fr - predicted).max(axis=-1) / scale
        worst = float(np.nanmax(gap)) if np.isfinite(gap).any() else np.inf
        if not np.isfinite(gap).all():
            worst = np.inf
        return A, b, worst

    def linearise(self, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f_k(s_k), df_k/ds at s_k) for every step: the stepper's exact tangent."""
        from ..lyapunov import _tangent_function

        rec = self.rec
        tangent = _tangent_function(rec.system, rec.stepper, self._tangent_mode())
        eye = np.broadcast_to(np.eye(self.n), (*S.shape, self.n))
        return tangent(rec.stepper, rec.system, self.t, rec.h, S, self.x, rec.system.params, eye)

    def _tangent_mode(self) -> str:
        from ..lyapunov import _exact_tangent

        rec = self.rec
        exact = _exact_tangent(rec.stepper) is not None and rec.system.jacobian is not None
        return "exact" if exact else "finite_difference"


def block_steps(system, stepper, batch: tuple[int, ...], newton: bool) -> int:
    """Steps of one block: about :data:`BLOCK_BYTES` of work for the probes (or the tangents)."""
    m = system.n_states * stepper.history
    members = int(np.prod(batch, dtype=np.int64)) or 1
    per_step = 8 * members * (m + 2) * m * WORK_COPIES * (2 if newton else 1)
    return max(64, BLOCK_BYTES // per_step)


def run_scan(recurrence, s0: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """s(n) for n in ``kept`` by the scan, block after block: (..., len(kept), n)."""
    system, stepper = recurrence.system, recurrence.stepper
    batch = s0.shape[:-1]
    z = np.concatenate([s0] * stepper.history, axis=-1)
    out = np.empty((len(kept), *s0.shape))
    out[0] = s0
    block, n_steps = block_steps(system, stepper, batch, False), int(kept[-1])
    for start in range(0, n_steps, block):
        count = min(block, n_steps - start)
        maps = StepMaps(recurrence, start, count, batch)
        A, b, gap = maps.affine()
        if not gap <= AFFINE_TOLERANCE:
            raise _not_affine(recurrence, gap)
        with np.errstate(all="ignore"):  # a state that overflows is reported by _keep
            states = affine_scan(A, b, z, dtype=EXTENDED)
        _keep(recurrence, states, start, kept, out, s0.shape[-1])
        z = states[-1]
    return np.moveaxis(out, 0, -2)


def _not_affine(recurrence, gap: float) -> InputError:
    system, stepper = recurrence.system, recurrence.stepper
    claim = " though the system says it is linear" if getattr(system, "affine", False) else ""
    departure = "is not finite" if not np.isfinite(gap) else f"departs by {gap:.2g} (relative)"
    return InputError(
        f"backend 'scan' needs a step map affine in the state: {stepper.name} on {system.name} "
        f"{departure} from A s + b{claim}; use backend 'newton' or 'numpy'"
    )


def _keep(recurrence, states, start, kept, out, n) -> None:
    """Copy the kept rows among s(start+1..start+count) into ``out``; a state that is not
    finite is a DivergenceError naming its step."""
    count = len(states)
    finite = np.isfinite(states[..., :n]).reshape(count, -1).all(axis=1)
    rows = np.flatnonzero((kept > start) & (kept <= start + count))
    if not finite.all():
        bad = int(np.argmin(finite))
        step = start + bad + 1
        flat = states[bad, ..., :n].reshape(-1, n)
        which = int(np.argmax(~np.isfinite(flat).all(axis=1))) if states.ndim > 2 else None
        from ..simulate import divergence_hint

        err = DivergenceError(
            recurrence.stepper.name,
            step,
            recurrence.time(step),
            which,
            divergence_hint(recurrence.system, recurrence.stepper.name),
        )
        good = rows[kept[rows] < step]
        last = good[-1] + 1 if len(good) else int(np.sum(kept < step))
        for r in good:
            out[r] = states[kept[r] - start - 1, ..., :n]
        err.partial_states = np.moveaxis(out[:last], 0, -2)
        err.partial_times = recurrence.time(kept[:last])
        raise err
    for r in rows:
        out[r] = states[kept[r] - start - 1, ..., :n]


class NewtonFallback(DynsysError):
    """Newton's method over the trajectory did not converge: the sequential loop runs instead."""

    def __init__(self, message: str, run: NewtonRun):
        super().__init__(message)
        self.run = run


def run_newton(
    recurrence, s0: np.ndarray, kept: np.ndarray, settings: NewtonSettings
) -> tuple[np.ndarray, NewtonRun]:
    """s(n) for n in ``kept`` by Newton's method over the trajectory, block after block, from
    the guess s(k) = s(start) for every step; raises :class:`NewtonFallback` when a block does
    not converge within the budget (the message says where and how far it got)."""
    system, stepper = recurrence.system, recurrence.stepper
    if stepper.history > 1:
        raise InputError(
            f"backend 'newton' runs one-step methods; {stepper.name} carries past states "
            "(use backend 'scan' for a linear system, or another method)"
        )
    batch, n_steps = s0.shape[:-1], int(kept[-1])
    out = np.empty((len(kept), *s0.shape))
    out[0] = s0
    block = min(block_steps(system, stepper, batch, True), settings.block or n_steps)
    run = newton_method.solve_blocks(
        lambda start, count: StepMaps(recurrence, start, count, batch).linearise,
        s0,
        n_steps,
        block,
        settings,
        lambda start, states: _keep(recurrence, states, start, kept, out, s0.shape[-1]),
        f"{stepper.name} on {system.name}",
    )
    if run.fallback:
        raise NewtonFallback(run.fallback, run)
    return np.moveaxis(out, 0, -2), run
