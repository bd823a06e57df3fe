"""Studies built on simulate and reference: method comparison and convergence order."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from . import checks
from .errors import DivergenceError, InputError, unknown_name
from .metrics import ErrorMetrics, energy_error, error_metrics, finite_or_none, observed_order
from .reference import SOLVE_IVP_METHODS, check_size, reference
from .simulate import REFERENCE_COPIES, RunSize, kept_steps, plan_size, simulate
from .steppers import METHODS, REFERENCE_METHOD, get_stepper
from .systems.base import System
from .tables import html_table, number, params_text, table
from .trajectory import Trajectory

DEFAULT_METHODS = ("euler", "semi_implicit_euler", "heun", "rk4")


@dataclass(frozen=True)
class MethodResult:
    """One method's errors against the reference (and the exact solution), and its wall time.

    ``energy_error`` is max_t |E(method) - E(reference)| / max_t |E(reference)| over the kept
    times (:func:`~dynsys.metrics.energy_error`), None for a system without an energy.
    ``diverged`` holds the error raised when the method left the finite numbers; the metrics
    are then None.
    """

    method: str
    errors: ErrorMetrics | None
    exact_errors: ErrorMetrics | None
    energy_error: float | None
    wall_s: float
    diverged: DivergenceError | None = None

    def to_dict(self) -> dict[str, Any]:
        keys = ("max_abs_error", "rmse", "rel_l2", "final_abs_error")
        out: dict[str, Any] = self.errors.to_dict() if self.errors else dict.fromkeys(keys)
        out["wall_s"] = self.wall_s
        if self.exact_errors is not None:
            out["exact"] = self.exact_errors.to_dict()
        if self.energy_error is not None:
            out["energy_error"] = finite_or_none(self.energy_error)
        if self.diverged is not None:
            d = self.diverged
            out["diverged"] = {
                "step": d.step,
                "t": d.t,
                "trajectory": d.trajectory,
                "message": str(d),
            }
        return out


@dataclass(frozen=True)
class Comparison:
    """Every method of a comparison run on the same grid, against one solve_ivp reference."""

    system: System
    s0: np.ndarray
    t_span: tuple[float, float]
    dt: float
    reference: Trajectory
    reference_exact_errors: ErrorMetrics | None
    methods: dict[str, MethodResult]
    trajectories: dict[str, Trajectory] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        info = self.reference.info
        ref: dict[str, Any] = {
            "method": info["method"],
            "rtol": info["rtol"],
            "atol": info["atol"],
            "nfev": info["nfev"],
        }
        if self.reference_exact_errors is not None:
            ref["exact"] = self.reference_exact_errors.to_dict()
        return {
            "system": self.system.name,
            "params": self.system.param_values(),
            "s0": self.s0.tolist(),
            "dt": self.dt,
            "t0": self.t_span[0],
            "t_end": self.t_span[1],
            "reference": ref,
            "methods": {name: r.to_dict() for name, r in self.methods.items()},
        }

    def table(self) -> str:
        """The comparison as a text table, with a header line naming the reference."""
        header, headers, rows, notes = self._table_parts()
        return "\n".join([header, table(headers, rows), *notes])

    def _repr_html_(self) -> str:
        """The comparison as an HTML table (Jupyter shows it so)."""
        return _html(*self._table_parts())

    def _table_parts(self) -> tuple[str, list[str], list[list[str]], list[str]]:
        """The header line, the column names, the rows and the lines under the table."""
        info, system = self.reference.info, self.system
        nfev = info["nfev"] if np.ndim(info["nfev"]) == 0 else sum(info["nfev"])
        t0, t_end = self.t_span
        header = (
            f"{system.name} ({_params(system)}), dt={self.dt:g}, t in [{t0:g}, {t_end:g}]; "
            f"reference solve_ivp {info['method']} rtol={info['rtol']:g} "
            f"atol={info['atol']:g}, {nfev} evaluations"
        )
        has_exact = self.reference_exact_errors is not None
        has_energy = system.energy is not None
        headers = ["method", "max abs err", "rmse", "rel L2", "final err"]
        headers += ["vs exact"] if has_exact else []
        headers += ["energy error"] if has_energy else []
        headers += ["wall s"]
        rows = []
        for name, r in self.methods.items():
            if r.diverged is not None:
                cells = [name, f"diverged at step {r.diverged.step} (t={r.diverged.t:.4g})"]
                rows.append(cells + [""] * (len(headers) - 3) + [f"{r.wall_s:.3f}"])
                continue
            e = r.errors
            cells = [name, *map(number, (e.max_abs_error, e.rmse, e.rel_l2, e.final_abs_error))]
            cells += [number(r.exact_errors.max_abs_error)] if has_exact else []
            cells += [number(r.energy_error)] if has_energy else []
            rows.append([*cells, f"{r.wall_s:.3f}"])
        notes = []
        if has_exact:
            notes.append(
                "reference against the exact solution: max abs error "
                f"{self.reference_exact_errors.max_abs_error:.3e}"
            )
        return header, headers, rows, notes

    __str__ = table


def compare(
    system: System,
    s0: Any,
    *,
    t_span: tuple[float, float],
    dt: float,
    methods: Sequence[str] = DEFAULT_METHODS,
    reference_method: str | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    save_every: int = 1,
    backend: str = "auto",
    newton: Any = None,
) -> Comparison:
    """Run each method on the grid t0 + n dt and measure it against a tight solve_ivp reference
    (and the exact solution where the system has one), on the kept steps 0, k, 2k, ... and the
    last (k = ``save_every``); ``backend`` (and ``newton``) are the time loop's (see
    :func:`dynsys.simulate`).
    Where the system has an energy, each method's energy error is
    max_t |E(method) - E(reference)| / max_t |E(reference)| (the table's "energy error")."""
    size = check_compare(
        system,
        s0,
        t_span=t_span,
        dt=dt,
        methods=methods,
        reference_method=reference_method,
        rtol=rtol,
        atol=atol,
        save_every=save_every,
    )
    methods = _method_list(methods, system)
    start, t0, t_end, dt, save_every = size.start, size.t0, size.t_end, size.dt, size.save_every
    t = t0 + kept_steps(size.n_steps, save_every) * dt
    ref = reference(system, start, t, method=reference_method, rtol=rtol, atol=atol)
    exact = system.exact(t, start, t0, system.params) if system.exact is not None else None
    results, trajectories = {}, {}
    for name in methods:
        began = time.perf_counter()
        try:
            traj = simulate(
                system,
                start,
                t_span=(t0, t_end),
                dt=dt,
                method=name,
                save_every=save_every,
                backend=backend,
                newton=newton,
            )
        except DivergenceError as err:
            wall = time.perf_counter() - began
            results[name] = MethodResult(name, None, None, None, wall, diverged=err)
            continue
        wall = time.perf_counter() - began
        trajectories[name] = traj
        results[name] = MethodResult(
            name,
            error_metrics(traj.states, ref.states),
            None if exact is None else error_metrics(traj.states, exact),
            energy_error(traj, ref) if system.energy is not None else None,
            wall,
        )
    return Comparison(
        system=system,
        s0=start,
        t_span=(t0, t_end),
        dt=dt,
        reference=ref,
        reference_exact_errors=None if exact is None else error_metrics(ref.states, exact),
        methods=results,
        trajectories=trajectories,
    )


METRIC_COPIES = 3
"""Arrays of the states' size that error_metrics makes at once (the error, its absolute value,
its scaled square)."""


def check_compare(
    system: System,
    s0: Any,
    *,
    t_span: tuple[float, float],
    dt: float,
    methods: Sequence[str] = DEFAULT_METHODS,
    reference_method: str | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    save_every: int = 1,
) -> RunSize:
    """Check every argument of :func:`compare` and refuse, before anything runs, a comparison
    over the memory ceiling (the reference, the exact solution and every method's trajectory
    held at once, and the copies the errors take) or the step ceiling (every method's steps
    and the reference's); return the size of one method's run."""
    _require_ode(system, "compare")
    names = _method_list(methods, system)
    if reference_method is not None and reference_method not in SOLVE_IVP_METHODS:
        raise unknown_name("solve_ivp method", reference_method, SOLVE_IVP_METHODS)
    checks.tolerances(rtol, atol)
    size = plan_size(system, s0, t_span=t_span, dt=dt, method="euler", save_every=save_every)
    held = len(names) - 1 + 1 + (system.exact is not None)  # the other methods, ref, exact
    what = f"comparing {len(names)} method{'s' if len(names) > 1 else ''} on "
    size.check(copies=held + METRIC_COPIES, runs=len(names) + 1, what=what)
    reference_of = f"{what}the solve_ivp reference of"
    check_size(system, size.n_traj, size.n_kept, reference_of, steps=size.n_steps)
    return size


@dataclass(frozen=True)
class Convergence:
    """Errors of one method over step sizes dt, dt/2, ..., and the observed order.

    ``error[i]`` is the max abs error over the grid of step ``dt[i]`` against the exact solution
    (``against == "exact"``) or a tight solve_ivp reference (``"reference"``);
    ``observed_order`` is the least-squares slope of log error against log dt.
    """

    system: System
    method: str
    dt: np.ndarray
    error: np.ndarray
    observed_order: float | None
    expected_order: int
    against: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system.name,
            "params": self.system.param_values(),
            "method": self.method,
            "dt": self.dt.tolist(),
            "error": self.error.tolist(),
            "observed_order": self.observed_order,
            "expected_order": self.expected_order,
            "against": self.against,
        }

    def table(self) -> str:
        """Errors per step size, the order between successive halvings, and the fitted order."""
        header, headers, rows, notes = self._table_parts()
        return "\n".join([header, table(headers, rows), *notes])

    def _repr_html_(self) -> str:
        """The errors per step size as an HTML table (Jupyter shows it so)."""
        return _html(*self._table_parts())

    def _table_parts(self) -> tuple[str, list[str], list[tuple[str, str, str]], list[str]]:
        """The header line, the column names, the rows and the line under the table."""
        rows = []
        for i, (h, err) in enumerate(zip(self.dt, self.error, strict=True)):
            rate = "" if i == 0 else _rate(self.error[i - 1], err)
            rows.append((f"{h:.6g}", number(err), rate))
        order = "-" if self.observed_order is None else f"{self.observed_order:.3f}"
        header = (
            f"{self.system.name} ({_params(self.system)}), {self.method}, "
            f"error against the {self.against}"
        )
        notes = [f"observed order {order} (expected {self.expected_order})"]
        return header, ["dt", "max abs error", "order"], rows, notes

    __str__ = table


def convergence(
    system: System,
    s0: Any,
    *,
    method: str = "euler",
    t_span: tuple[float, float],
    dt: float = 0.1,
    levels: int = 6,
) -> Convergence:
    """Halve dt ``levels`` times and fit the observed order of ``method``."""
    size = check_convergence(system, s0, method=method, t_span=t_span, dt=dt, levels=levels)
    stepper = get_stepper(method, system)
    start, t0, t_end, dt = size.start, size.t0, size.t_end, size.dt * 2**levels
    steps = [dt / 2**i for i in range(levels + 1)]
    finest = t0 + np.arange(size.n_steps + 1) * steps[-1]
    if system.exact is not None:
        truth, against = system.exact(finest, start, t0, system.params), "exact"
    else:
        truth, against = reference(system, start, finest).states, "reference"
    errors = []
    for i, h in enumerate(steps):
        traj = simulate(system, start, t_span=(t0, t_end), dt=h, method=method)
        on_grid = truth[..., :: 2 ** (levels - i), :]
        errors.append(error_metrics(traj.states, on_grid).max_abs_error)
    return Convergence(
        system=system,
        method=method,
        dt=np.array(steps),
        error=np.array(errors),
        observed_order=observed_order(steps, errors),
        expected_order=stepper.order,
        against=against,
    )


def check_convergence(
    system: System,
    s0: Any,
    *,
    method: str = "euler",
    t_span: tuple[float, float],
    dt: float = 0.1,
    levels: int = 6,
) -> RunSize:
    """Check every argument of :func:`convergence` and refuse, before anything runs, levels
    whose finest grid (dt / 2^levels) exceeds the step ceiling or the memory ceiling (the
    truth on the finest grid, the finest run and the copies the errors take); return the size
    of the finest run."""
    _require_ode(system, "a convergence study")
    if method == REFERENCE_METHOD:
        raise InputError("method must be a stepper for a convergence study, not solve_ivp")
    get_stepper(method, system)
    levels = checks.integer("levels", levels, minimum=1)
    coarse = plan_size(system, s0, t_span=t_span, dt=dt, method=method)
    t0, t_end, dt = coarse.t0, coarse.t_end, coarse.dt
    ratio = (t_end - t0) / dt
    if abs(ratio - coarse.n_steps) > 1e-9 * max(1.0, ratio):
        raise InputError(
            f"t_end - t0 = {t_end - t0:g} must be a whole number of steps dt = {dt:g} "
            "for a convergence study"
        )
    steps, need = _convergence_need(system, coarse, levels)
    fits = [k for k in range(levels - 1, 0, -1) if _fits(*_convergence_need(system, coarse, k))]
    advice = (
        f"use fewer levels (levels/--levels={fits[0]} would fit) or a larger dt"
        if fits
        else "use a larger dt, a shorter time span or fewer trajectories"
    )
    finest = coarse.n_steps * 2**levels
    what = (
        f"levels={levels} (the finest grid, dt/2^{levels}, has {finest:.3g} steps of "
        f"{_trajectories(coarse.n_traj)})"
    )
    checks.within_steps(steps, what, advice)
    checks.fits_in_memory(need, None, what, advice)
    return replace(coarse, dt=dt / 2**levels, n_steps=finest)


def _convergence_need(system: System, coarse: RunSize, levels: int) -> tuple[int, int]:
    """(steps, bytes) of a convergence study: every level's run and the truth on the finest
    grid; at the peak, the truth, the finest run, the finest times and the errors' copies."""
    finest = replace(coarse, n_steps=coarse.n_steps * 2**levels)
    steps = coarse.steps * (2 ** (levels + 1) - 1) + finest.steps
    truth = 1 if system.exact is not None else REFERENCE_COPIES
    return steps, finest.peak(copies=truth + METRIC_COPIES) + 8 * (finest.n_steps + 1)


def _fits(steps: int, n_bytes: int) -> bool:
    return steps <= checks.max_steps() and n_bytes <= checks.max_memory()


def _trajectories(n: int) -> str:
    return f"{n} trajector{'y' if n == 1 else 'ies'}"


def _require_ode(system: System, what: str) -> None:
    if system.kind == "map":
        raise InputError(f"{system.name} is a discrete map; {what} needs an ODE")


def _method_list(methods: Sequence[str], system: System) -> list[str]:
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if not methods:
        raise InputError(f"methods must name at least one of: {', '.join(METHODS)}")
    for name in methods:
        if name != REFERENCE_METHOD:
            get_stepper(name, system)
    return list(dict.fromkeys(methods))


def _rate(coarse: float, fine: float) -> str:
    """log2 of the error ratio of two successive halvings, or '-' where it is not defined (an
    error of zero: the method is exact on this problem)."""
    if not (coarse > 0 and fine > 0 and np.isfinite(coarse) and np.isfinite(fine)):
        return "-"
    return f"{np.log2(coarse / fine):.3f}"


def _html(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], notes) -> str:
    """An HTML table with its caption, and the lines under it as paragraphs."""
    return html_table(headers, rows, caption=caption) + "".join(
        f"\n<p>{html.escape(note)}</p>" for note in notes
    )


def _params(system: System) -> str:
    return params_text(system.param_values())
