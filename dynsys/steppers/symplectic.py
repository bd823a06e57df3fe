"""Symplectic splitting methods: kick-drift-kick compositions on a position/velocity split.

On a split state s = (q, v) (positions [0, q), velocities [q, n), q = ``system.n_positions``)
with dq/dt = g_q(t, v) and dv/dt = g_v(t, q) (a force that does not depend on the velocities),
a kick v += (h d_i) g_v and a drift q += (h c_i) g_q are each the exact flow of one part of the
field, and their composition is a symplectic map: the energy error stays bounded over long runs
instead of growing.  :meth:`Splitting.check` refuses a system where this does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..systems.base import System
from .base import Stepper

PROBES = 4
"""States drawn from the system's typical ranges (besides its default_s0) where check probes."""
INSTEAD = "implicit_midpoint (symplectic, implicit) or rk4"
"""What a refusal suggests: a method that steps any field."""
DERIVATIVE_STEP = 1e-6
"""Relative step of the centred differences that check uses when a system has no jacobian."""


@dataclass(frozen=True)
class Splitting(Stepper):
    """A kick-drift-kick composition with coefficients d_0..d_m (kicks) and c_0..c_{m-1} (drifts).

    Alternately, starting and ending with a kick:
    kick i:  v += (h d_i) g_v(t_n + tau_i h, q, v, x(tau_i)),  tau_i = c_0 + ... + c_{i-1};
    drift i: q += (h c_i) g_q(t_n + tau_i h, q, v, x(tau_i)), at the time of the kick before it.
    Kick i reads the drive at t_n + tau_i h: the node of ``nodes`` equal to tau_i (the nodes
    are the kick times in order, so the first is 0 and, when the drifts add up to 1, the last
    is 1; a time repeated by a zero drift is listed once).  Each kick and drift evaluates the
    whole field and uses its own part.
    """

    kicks: tuple[float, ...] = ()
    drifts: tuple[float, ...] = ()
    _operations: tuple[tuple[bool, float, int], ...] = field(init=False, repr=False, default=())
    """(is a kick, coefficient, node) for each kick and drift in order."""

    def __post_init__(self):
        if len(self.kicks) != len(self.drifts) + 1:
            raise ValueError(f"{self.name}: a splitting has one kick more than drifts")
        operations, tau = [], 0.0
        for i, d in enumerate(self.kicks):
            node = _node_of(self.nodes, tau, self.name)
            operations.append((True, d, node))
            if i < len(self.drifts):
                operations.append((False, self.drifts[i], node))
                tau += self.drifts[i]
        object.__setattr__(self, "_operations", tuple(operations))

    @property
    def operations(self) -> tuple[tuple[bool, float, int], ...]:
        """(is a kick, coefficient, node index) of each kick and drift, in the order applied."""
        return self._operations

    @property
    def n_stages(self) -> int:
        return 1

    def step(self, system, t, h, s, x, p):
        q = system.n_positions
        out = s.copy()
        for kick, coef, node in self._operations:
            part = np.s_[..., q:] if kick else np.s_[..., :q]
            g = system.rhs(t + self.nodes[node] * h, out, None if x is None else x[node], p)
            out[part] = out[part] + (h * coef) * g[part]
        return out

    def step_into(self, system, t, h, s, x, p, work):
        """:meth:`step` in place: for each kick (drift), g = g(t + tau h, s) into ``work.k[0]``,
        then g *= h d (h c) and s += g over the velocities (positions)."""
        q = system.n_positions
        g, columns, nodes = work.k[0], work.columns, self.nodes
        kick_part, drift_part = np.s_[..., q:], np.s_[..., :q]
        for kick, coef, node in self._operations:
            part = kick_part if kick else drift_part
            system.rhs_into(t + nodes[node] * h, s, None if x is None else x[node], p, g, columns)
            np.multiply(g[part], h * coef, out=g[part])
            np.add(s[part], g[part], out=s[part])
        return s

    def check(self, system: System) -> None:
        """Refuse (one-line InputError) a system this explicit symplectic method cannot step:
        a map, a state without a position/velocity split, or a field whose force depends on
        the velocities (dg_v/dv != 0) or whose drift depends on the positions (dg_q/dq != 0),
        probed at default_s0 and at states drawn from the typical ranges, for every member's
        parameters."""
        if system.kind == "map":
            raise InputError(
                f"{self.name} steps an ODE; {system.name} is a discrete map, whose only "
                "method is 'map'"
            )
        q, n = system.n_positions, system.n_states
        instead = INSTEAD
        if not 0 < q < n:
            raise InputError(
                f"{self.name} needs states split into positions and velocities; {system.name} "
                f"has {n} state{'s' if n != 1 else ''} and n_positions = {q}; use {instead}"
            )
        found = dependence(system)
        if found is None:
            return
        i, j, value = found
        states = system.states
        what = (
            "a force that does not depend on the velocity"
            if i >= q
            else "positions whose rate does not depend on the positions"
        )
        cause = _causes(system, i, j)
        because = f" ({', '.join(cause)})" if cause else ""
        raise InputError(
            f"{self.name} needs {what}; {system.name} has d(d{states[i]}/dt)/d({states[j]}) = "
            f"{value:.3g}{because}; use {instead}"
        )


def dependence(system: System) -> tuple[int, int, float] | None:
    """The entry (i, j, dg_i/ds_j) of largest size among those that must be zero for a
    splitting (velocities on velocities, positions on positions), or None when all are.

    Probed at t = 0 at ``default_s0`` and :data:`PROBES` states drawn from
    ``typical_s0_ranges()`` (``np.random.default_rng(0)``), at the bound parameters (every
    member of array parameters): with ``system.jacobian`` when it has one (an entry counts
    above 1e-12 (1 + max |J|)), else centred differences (above 1e-6 (1 + max |J|))."""
    q, n = system.n_positions, system.n_states
    mask = np.zeros((n, n), dtype=bool)
    mask[q:, q:] = mask[:q, :q] = True
    worst: tuple[int, int, float] | None = None
    for jac, tol in _probed(system):
        forbidden = np.where(mask, np.abs(jac).max(axis=0), 0.0)
        i, j = np.unravel_index(int(np.argmax(forbidden)), (n, n))
        if forbidden[i, j] > tol and (worst is None or forbidden[i, j] > abs(worst[2])):
            entries = jac[:, i, j]
            worst = (int(i), int(j), float(entries[np.argmax(np.abs(entries))]))
    return worst


def _probed(system: System) -> list[tuple[np.ndarray, float]]:
    """dg/ds as (members, n, n) at each probe state, with the size above which an entry counts
    as nonzero there."""
    n = system.n_states
    rng = np.random.default_rng(0)
    low, high = np.array(list(system.typical_s0_ranges().values())).T
    probes = [np.asarray(system.default_s0, dtype=np.float64)]
    probes += list(rng.uniform(low, high, (PROBES, n)))
    relative = 1e-12 if system.jacobian is not None else 1e-6
    out = []
    for s in probes:
        jac = _jacobian(system, s).reshape(-1, n, n)
        out.append((jac, relative * (1 + float(np.max(np.abs(jac))))))
    return out


def _jacobian(system: System, s: np.ndarray) -> np.ndarray:
    """dg/ds at (t = 0, s) for the bound parameters: (..., n, n), the system's own or by
    centred differences with steps DERIVATIVE_STEP (1 + |s_j|)."""
    p = system.params
    if system.jacobian is not None:
        return np.asarray(system.jacobian(0.0, s, p), dtype=np.float64)
    x = system.forcing(0.0, p) if system.driven else None
    columns = []
    for j in range(len(s)):
        e = np.zeros_like(s)
        e[j] = DERIVATIVE_STEP * (1 + abs(s[j]))
        columns.append((system.rhs(0.0, s + e, x, p) - system.rhs(0.0, s - e, x, p)) / (2 * e[j]))
    return np.stack(columns, axis=-1)


def _causes(system: System, i: int, j: int) -> list[str]:
    """The parameters whose setting to zero alone removes the dependence of g_i on s_j at
    every probe."""
    names = []
    for name, value in system.params.items():
        if not np.any(value):
            continue
        try:
            zeroed = system.with_params(**{name: np.zeros_like(value)})
        except InputError:  # a parameter that must be positive
            continue
        if all(np.max(np.abs(jac[:, i, j])) <= tol for jac, tol in _probed(zeroed)):
            names.append(name)
    return names


def _node_of(nodes: tuple[float, ...], tau: float, name: str) -> int:
    """The index of the node equal to ``tau`` (to 1e-12: the drifts' sum rounds)."""
    for k, c in enumerate(nodes):
        if abs(c - tau) <= 1e-12:
            return k
    raise ValueError(f"{name}: no node at the kick time {tau!r}; nodes are {nodes}")


_CBRT2 = 2.0 ** (1.0 / 3.0)
_W1 = 1.0 / (2.0 - _CBRT2)
_W0 = -_CBRT2 / (2.0 - _CBRT2)

SYMPLECTIC: tuple[Stepper, ...] = (
    Splitting(
        "verlet",
        2,
        (0.0, 1.0),
        "Stormer-Verlet (leapfrog): kick h/2, drift h, kick h/2; symplectic",
        kicks=(0.5, 0.5),
        drifts=(1.0,),
    ),
    Splitting(
        "yoshida4",
        4,
        (0.0, _W1, _W1 + _W0, 1.0),
        "Yoshida's fourth-order composition of three Verlet steps (w1 h, w0 h, w1 h); symplectic",
        kicks=(_W1 / 2, (_W1 + _W0) / 2, (_W0 + _W1) / 2, _W1 / 2),
        drifts=(_W1, _W0, _W1),
    ),
)
"""The splitting methods, in the order the registry lists them.  yoshida4 is Forest-Ruth:
w1 = 1 / (2 - 2^(1/3)), w0 = -2^(1/3) / (2 - 2^(1/3)), so that 2 w1 + w0 = 1."""
