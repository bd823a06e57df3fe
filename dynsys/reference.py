"""The reference: scipy's solve_ivp on exactly the time grid of a recurrence."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import checks
from .errors import InputError, SolverError, unknown_name
from .simulate import REFERENCE_COPIES
from .simulate import REFERENCE_STEP_WEIGHT as STEP_WEIGHT
from .systems.base import Params, System
from .trajectory import Trajectory

SOLVE_IVP_METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
IMPLICIT = ("Radau", "BDF", "LSODA")


def default_method(system: System) -> str:
    """The solve_ivp method a reference uses unless told: Radau (implicit, with the system's
    Jacobian) for a system declared stiff, DOP853 otherwise."""
    return "Radau" if system.stiff else "DOP853"


def reference(
    system: System,
    s0: Any,
    t: Any,
    *,
    method: str | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    stack: bool = False,
    max_nfev: int | None = None,
) -> Trajectory:
    """Solve ds/dt = g(t, s, x(t)) with solve_ivp and return the states on the grid ``t``.

    ``method`` defaults to :func:`default_method`: Radau for a stiff system, else DOP853.

    Each trajectory of a batch is solved on its own (its own error control, as if alone; a
    failure names the trajectory); ``stack=True`` solves the batch as one system of batch * n
    states in a single call, which is faster but controls the error of the stack as a whole:
    scipy's error norm is then the RMS over all batch * n components, so rtol and atol divided
    by sqrt(batch) hold every trajectory to the criterion of its own call (see
    :func:`dynsys.rnn.data.solve_trajectories`).  ``info`` records the scipy method, rtol,
    atol, and per trajectory nfev and status.  rtol must be at least 100 times the machine
    epsilon (solve_ivp's floor) and atol a normal float64; a grid over the memory or step
    ceiling (:mod:`dynsys.checks`) is refused before solving.  ``max_nfev`` caps the
    evaluations of g of each solve_ivp call (a solution blowing up in finite time makes the
    steps shrink without end): beyond it the solve stops with a SolverError saying where.
    """
    if system.kind == "map":
        raise InputError(f"{system.name} is a discrete map; solve_ivp applies to ODEs only")
    method = default_method(system) if method is None else method
    if method not in SOLVE_IVP_METHODS:
        raise unknown_name("solve_ivp method", method, SOLVE_IVP_METHODS)
    rtol, atol = checks.tolerances(rtol, atol)
    start = checks.initial_state(system, s0)
    try:
        t = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("t must be an increasing 1-d grid of at least two finite times") from None
    if t.ndim != 1 or len(t) < 2 or not np.all(np.isfinite(t)) or not np.all(np.diff(t) > 0):
        raise InputError("t must be an increasing 1-d grid of at least two finite times")
    check_size(system, len(start.reshape(-1, system.n_states)), len(t), stack=stack)
    batch = start.reshape(-1, system.n_states)
    began = time.perf_counter()
    if stack:
        states, nfev, status = _solve(system, system.params, batch, t, method, rtol, atol, max_nfev)
        nfev, status = [nfev] * len(batch), [status] * len(batch)
    else:
        solved = [
            _solve_member(system, batch, i, t, method, rtol, atol, max_nfev)
            for i in range(len(batch))
        ]
        states = np.concatenate([s for s, _, _ in solved]) if solved else batch[:, None]
        nfev, status = [f for _, f, _ in solved], [s for _, _, s in solved]
    wall = time.perf_counter() - began
    states = states.reshape((*start.shape[:-1], len(t), system.n_states))
    info = {
        "method": method,
        "rtol": rtol,
        "atol": atol,
        "stack": stack,
        "nfev": nfev if start.ndim == 2 else nfev[0],
        "status": status if start.ndim == 2 else status[0],
        "wall_s": wall,
    }
    return Trajectory(
        t=t,
        states=states,
        system=system,
        method="solve_ivp",
        dt=None,
        info=info,
    )


def peak_bytes(n_states: int, n_traj: int, n_times: int) -> int:
    """Bytes :func:`reference` holds at its peak for ``n_traj`` trajectories on ``n_times``."""
    return 8 * REFERENCE_COPIES * n_states * n_traj * n_times + 2**20


def check_size(
    system: System,
    n_traj: int,
    n_times: int,
    what: str = "solve_ivp on",
    stack: bool = False,
    steps: int | None = None,
) -> None:
    """Refuse, before solving, a reference over the memory ceiling or the step ceiling: the
    ``steps`` of each trajectory (default: the grid's n_times - 1; a caller that knows the step
    of the run, as :func:`dynsys.compare` does, gives its steps), each counting
    :data:`STEP_WEIGHT` unless ``stack``; ``what`` names who asks."""
    grid = f"{n_traj} trajector{'y' if n_traj == 1 else 'ies'} x {n_times} times"
    weight = 1 if stack or n_traj == 1 else STEP_WEIGHT
    checks.within_steps(
        weight * n_traj * (n_times - 1 if steps is None else steps),
        f"{what} {grid}{'' if weight == 1 else ' (solved one by one)'}",
        "ask for fewer times or trajectories",
    )
    checks.fits_in_memory(
        peak_bytes(system.n_states, n_traj, n_times),
        None,
        f"{what} {grid}",
        "ask for fewer times (a larger dt or save_every, a shorter span) or trajectories",
    )


def _member(p: Params, i: int) -> Params:
    """The parameters of batch member i, as scalars."""
    return Params({k: v[i] if v.ndim else v for k, v in p.items()})


def _solve_member(system, batch, i, t, method, rtol, atol, max_nfev=None):
    """Trajectory i of the batch (m, n) alone; a failure of one of several names it."""
    try:
        member = _member(system.params, i)
        return _solve(system, member, batch[i : i + 1], t, method, rtol, atol, max_nfev)
    except SolverError as err:
        if len(batch) == 1:
            raise
        raise SolverError(f"trajectory {i} of {len(batch)}: {err}") from None


def solve_ivp(*args: Any, **kwargs: Any) -> Any:
    """scipy.integrate.solve_ivp, imported on first use: importing scipy.integrate is most of
    the time ``import dynsys`` would otherwise take (0.5 s here)."""
    from scipy.integrate import solve_ivp as scipy_solve_ivp

    return scipy_solve_ivp(*args, **kwargs)


def stacked_jacobian(system: System, p, shape: tuple[int, int], method: str):
    """solve_ivp's ``jac`` for the stacked states of shape (m, n): the system's Jacobian blocks
    on the diagonal (a sparse matrix when m > 1, which scipy's implicit methods factor as
    such); None for an explicit method or a system without a Jacobian."""
    if method not in IMPLICIT or system.jacobian is None:
        return None
    from scipy import sparse

    def jac(tt, y):
        blocks = np.broadcast_to(system.jacobian(tt, y.reshape(shape), p), shape + shape[-1:])
        if shape[0] == 1:
            return np.array(blocks[0])
        return sparse.block_diag(blocks, format="csc")

    return jac


def _solve(system, p, s0, t, method, rtol, atol, max_nfev=None):
    """One solve_ivp call on the stacked states s0 (m, n); returns (m, time, n), nfev, status;
    at most ``max_nfev`` evaluations of g when given."""
    shape = s0.shape
    forcing = system.forcing
    calls = 0

    def fun(tt, y):
        nonlocal calls
        calls += 1
        if max_nfev is not None and calls > max_nfev:
            raise SolverError(
                f"solve_ivp ({method}) stopped at t = {tt:.6g} before t_end = {t[-1]:g}: "
                f"{max_nfev} evaluations of the vector field, the most allowed"
            )
        if not np.isfinite(y).all():  # LSODA would otherwise retry forever
            raise SolverError(
                f"solve_ivp ({method}) stopped at t = {tt:.6g} before t_end = {t[-1]:g}: "
                "the state is not finite"
            )
        s = y.reshape(shape)
        x = forcing(tt, p) if forcing is not None else None
        return system.rhs(tt, s, x, p).reshape(-1)

    jac = stacked_jacobian(system, p, shape, method)
    options = {"jac": jac} if jac is not None else {}
    with np.errstate(all="ignore"):  # an overflow shows as a failed solve, not a warning
        sol = solve_ivp(
            fun,
            (t[0], t[-1]),
            s0.reshape(-1),
            method=method,
            t_eval=t,
            rtol=rtol,
            atol=atol,
            **options,
        )
    reached = np.asarray(sol.t, dtype=np.float64).reshape(-1)
    y = np.asarray(sol.y, dtype=np.float64)
    if sol.status != 0 or y.ndim != 2 or y.shape[1] != len(t):
        raise SolverError(
            f"solve_ivp ({method}) stopped at t = {reached[-1] if reached.size else t[0]:.6g} "
            f"before t_end = {t[-1]:g}: {sol.message}"
        )
    if not np.all(np.isfinite(y)):
        raise SolverError(f"solve_ivp ({method}) returned values that are not finite")
    return y.T.reshape(len(t), *shape).swapaxes(0, 1), int(sol.nfev), int(sol.status)
