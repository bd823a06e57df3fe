"""How many iterations Newton's method over the trajectory (DEER) needs, against the largest
Lyapunov exponent lambda_1 of the recurrence it solves.

Each iteration of the full variant makes at least one more state exact, so T steps take at
most T iterations (the ceiling).  The error of an iterate is carried along the trajectory by
the products J_{k-1} ... J_j of the step Jacobians, which shrink like exp(lambda_1 (k - j) h)
when lambda_1 < 0: the system forgets its past, and a few iterations reach the tolerance.  When
lambda_1 > 0 the products grow, the linearised trajectory runs away from the true one, and the
iterations approach the ceiling (or the iterate leaves the finite numbers).

:func:`newton_study` runs, for each system, the stepper's recurrence by ``simulate(...,
backend="newton")`` for every variant, and lambda_1 of the same recurrence by
:func:`dynsys.lyapunov.lyapunov` from the same start.  Nothing is random: the start is the
system's ``default_s0`` advanced by its declared ``transient`` with the same stepper.

Newton starts from the guess s(k) = s(0) for every k, and the first linearisation is taken
along it: where the Jacobian at s(0) expands (Lorenz near its unstable origin, an oscillator
far from its rest point), the linearised trajectory grows like the product of those Jacobians
over the whole run and can leave the finite numbers even when lambda_1 < 0.  The damped
variant limits each step and does not.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import checks, tables
from ..errors import DynsysError, InputError, unknown_name
from ..systems import get_system
from ..systems.base import System
from . import newton as newton_method

STATUSES = ("converged", "budget", "overflow", "failed")
"""How a Newton run ended: converged within the budget; the budget spent without converging;
the iterate left the finite numbers; or the computation failed (``reason`` says how)."""


@dataclass(frozen=True)
class ExponentSettings:
    """How lambda_1 is measured: ``transient`` time units (``map_transient`` iterations) from
    the study's start, then ``span`` (``map_span``) accumulated, with the study's stepper."""

    transient: float = 20.0
    span: float = 200.0
    map_transient: int = 100
    map_span: int = 2000


EXPONENTS = ExponentSettings()


@dataclass(frozen=True)
class NewtonOutcome:
    """One variant's Newton run over the trajectory.

    ``solves`` linear solves (scans) were made; ``iterations`` is that number when the run
    converged, None when it did not (``status`` says why, ``reason`` in words).  ``residuals``
    max_k |r_k| / max(1, max |s|) of the first guess and after each solve; ``seconds`` the
    wall time of the run (with the sequential loop that replaces a run that did not converge).
    """

    variant: str
    status: str
    solves: int
    residuals: tuple[float, ...]
    seconds: float
    reason: str = ""

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def iterations(self) -> int | None:
        return self.solves if self.converged else None


@dataclass(frozen=True, eq=False)
class StudyRow:
    """One system: its parameters, lambda_1 of its stepper's recurrence, and one outcome per
    variant.  ``lambda_1`` is per unit time for an ODE (per iteration for a map, ``per``);
    :attr:`lambda_per_step` is lambda_1 dt, the growth rate per step of the recurrence."""

    system: str
    params: dict[str, float]
    changed: dict[str, float]
    """The parameters whose values differ from the defaults."""
    kind: str
    method: str
    dt: float
    n_steps: int
    lambda_1: float
    per: str
    outcomes: tuple[NewtonOutcome, ...]
    lyapunov_seconds: float

    @property
    def lambda_per_step(self) -> float:
        return self.lambda_1 * self.dt

    @property
    def label(self) -> str:
        """'pendulum damping=0.5' (the parameters that differ from the defaults)."""
        changed = tables.params_text(self.changed, digits=4)
        return f"{self.system} {changed}" if changed else self.system

    def outcome(self, variant: str) -> NewtonOutcome:
        for o in self.outcomes:
            if o.variant == variant:
                return o
        raise unknown_name("variant", variant, [o.variant for o in self.outcomes])


@dataclass(frozen=True, eq=False)
class NewtonStudy:
    """Newton iterations against lambda_1, one row per system; T = ``n_steps`` steps of
    ``method`` at ``dt`` (a map: T iterations), a budget of ``max_iterations`` linear solves
    per run and the relative ``tolerance`` of :func:`dynsys.parallel.newton.solve`."""

    rows: tuple[StudyRow, ...]
    n_steps: int
    dt: float
    method: str
    variants: tuple[str, ...]
    max_iterations: int
    tolerance: float
    exponents: ExponentSettings
    seconds: float

    def kinds(self) -> tuple[str, ...]:
        """The kinds of system studied ("ode", "map"), in the order first met."""
        return tuple(dict.fromkeys(r.kind for r in self.rows))

    def table(self) -> str:
        """A text table: system, lambda_1 per unit time and per step, iterations per variant
        ('>= budget' when the budget ran out, 'overflow' when the iterate left the numbers)."""
        headers = ["system", "method", "lambda_1", "per step", *self.variants, "seconds"]
        rows = []
        for r in self.rows:
            cells = [_cell(r.outcome(v), self.max_iterations) for v in self.variants]
            seconds = r.lyapunov_seconds + sum(o.seconds for o in r.outcomes)
            rows.append(
                [
                    r.label,
                    r.method,
                    f"{r.lambda_1:+.4f}",
                    f"{r.lambda_per_step:+.5f}",
                    *cells,
                    f"{seconds:.2f}",
                ]
            )
        return tables.table(headers, rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the settings and every row with its outcomes."""
        return {
            "n_steps": self.n_steps,
            "dt": self.dt,
            "method": self.method,
            "variants": list(self.variants),
            "max_iterations": self.max_iterations,
            "tolerance": self.tolerance,
            "seconds": self.seconds,
            "rows": [
                {
                    "system": r.system,
                    "params": r.params,
                    "kind": r.kind,
                    "method": r.method,
                    "dt": r.dt,
                    "n_steps": r.n_steps,
                    "lambda_1": r.lambda_1,
                    "per": r.per,
                    "lambda_per_step": r.lambda_per_step,
                    "lyapunov_seconds": r.lyapunov_seconds,
                    "outcomes": [
                        {
                            "variant": o.variant,
                            "status": o.status,
                            "iterations": o.iterations,
                            "solves": o.solves,
                            "residuals": list(o.residuals),
                            "seconds": o.seconds,
                            "reason": o.reason,
                        }
                        for o in r.outcomes
                    ],
                }
                for r in self.rows
            ],
        }


def _cell(o: NewtonOutcome, budget: int) -> str:
    if o.status == "converged":
        return str(o.solves)
    if o.status == "budget":
        return f">={budget}"
    return o.status


def newton_study(
    cases: Sequence[System | str],
    *,
    n_steps: int = 2000,
    dt: float = 0.01,
    method: str = "rk4",
    variants: Sequence[str] = newton_method.MODES,
    max_iterations: int | None = None,
    tolerance: float = newton_method.TOLERANCE,
    exponents: ExponentSettings = EXPONENTS,
) -> NewtonStudy:
    """Newton iterations over T = ``n_steps`` steps, and lambda_1, for each system of ``cases``
    (System objects, or names at their default parameters).

    An ODE runs ``method`` at ``dt``; a map runs its own iteration (T iterations, dt = 1).
    ``max_iterations`` (default T) is each run's budget of linear solves.  A run that does not
    converge within it (simulate then warns and runs the sequential loop) is recorded with
    status "budget", one whose iterate left the finite numbers "overflow".
    """
    n_steps = checks.integer("n_steps", n_steps, minimum=2)
    dt = checks.positive_number("dt", dt)
    variants = tuple(variants)
    if not variants:
        raise InputError(f"variants must name at least one of {', '.join(newton_method.MODES)}")
    for v in variants:
        if v not in newton_method.MODES:
            raise unknown_name("newton variant", str(v), newton_method.MODES)
    checks.each_once("variants", variants, variants)
    budget = n_steps if max_iterations is None else max_iterations
    budget = checks.integer("max_iterations", budget)
    started = time.perf_counter()
    rows = tuple(
        _row(_system(case), n_steps, dt, method, variants, budget, tolerance, exponents)
        for case in cases
    )
    return NewtonStudy(
        rows=rows,
        n_steps=n_steps,
        dt=dt,
        method=method,
        variants=variants,
        max_iterations=budget,
        tolerance=tolerance,
        exponents=exponents,
        seconds=time.perf_counter() - started,
    )


def _system(case: System | str) -> System:
    if isinstance(case, System):
        if any(v.ndim for v in case.params.values()):
            raise InputError(f"the study takes one value per parameter of {case.name} (no batch)")
        return case
    if isinstance(case, str):
        return get_system(case)
    raise InputError(f"a case must be a System or a system name, got {case!r}")


def start_state(system: System, method: str, dt: float) -> np.ndarray:
    """s0 of the study: the system's ``default_s0`` advanced over its declared ``transient``
    (nothing for a map) by ``method`` at ``dt``."""
    from ..simulate import simulate

    s0 = np.asarray(system.default_s0, dtype=np.float64)
    if system.kind == "map" or system.transient <= 0:
        return s0
    trajectory = simulate(system, s0, t_span=(0.0, system.transient), dt=dt, method=method)
    return trajectory.states[-1]


def largest_lyapunov(
    system: System, s0: np.ndarray, method: str, dt: float, settings: ExponentSettings
) -> tuple[float, str, float]:
    """(lambda_1, what it is per, seconds) of ``method``'s recurrence from ``s0``:
    lambda_1 = (1 / T) sum log R_11 over ``settings.span`` after ``settings.transient``."""
    from ..lyapunov import _fast_backend, lyapunov

    if system.kind == "map":
        result = lyapunov(
            system,
            s0,
            t_end=settings.map_transient + settings.map_span,
            transient=settings.map_transient,
        )
    else:
        result = lyapunov(
            system,
            s0,
            dt=dt,
            method=method,
            t_end=settings.transient + settings.span,
            transient=settings.transient,
            backend=_fast_backend(system, method),
        )
    return float(result.exponents[0]), result.per, result.seconds


def newton_outcome(
    system: System,
    s0: np.ndarray,
    *,
    n_steps: int,
    dt: float,
    method: str,
    variant: str,
    max_iterations: int,
    tolerance: float = newton_method.TOLERANCE,
) -> NewtonOutcome:
    """One run of ``simulate(..., backend="newton")`` over ``n_steps`` steps from ``s0``, and
    how it ended (a fallback to the sequential loop is caught, not raised)."""
    from ..simulate import simulate

    settings = {"variant": variant, "max_iterations": max_iterations, "tolerance": tolerance}
    began = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the fallback, read from info
            trajectory = simulate(
                system,
                s0,
                t_span=(0.0, n_steps * dt),
                dt=dt,
                method=method,
                backend="newton",
                newton=settings,
            )
    except InputError:
        raise
    except (DynsysError, np.linalg.LinAlgError, ValueError) as err:  # a failed computation
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return NewtonOutcome(variant, "failed", 0, (), time.perf_counter() - began, reason)
    seconds = time.perf_counter() - began
    info = trajectory.info
    residuals = tuple(float(r) for r in info.get("newton_residuals", ()))
    solves = int(info.get("newton_iterations", 0))
    fallback = info.get("fallback", "")
    if not fallback:
        return NewtonOutcome(variant, "converged", solves, residuals, seconds)
    overflow = bool(residuals) and not math.isfinite(residuals[-1])
    status = "overflow" if overflow else "budget"
    return NewtonOutcome(variant, status, solves, residuals, seconds, fallback)


def _row(system, n_steps, dt, method, variants, budget, tolerance, exponents) -> StudyRow:
    is_map = system.kind == "map"
    run_method, run_dt = ("map", 1.0) if is_map else (method, dt)
    s0 = start_state(system, run_method, run_dt)
    lam, per, lyapunov_seconds = largest_lyapunov(system, s0, run_method, run_dt, exponents)
    outcomes = tuple(
        newton_outcome(
            system,
            s0,
            n_steps=n_steps,
            dt=run_dt,
            method=run_method,
            variant=v,
            max_iterations=budget,
            tolerance=tolerance,
        )
        for v in variants
    )
    params = {k: float(v) for k, v in system.params.items()}
    defaults = {p.name: p.default for p in system.parameters}
    changed = {k: v for k, v in params.items() if v != defaults.get(k)}
    return StudyRow(
        system=system.name,
        params=params,
        changed=changed,
        kind=system.kind,
        method=run_method,
        dt=run_dt,
        n_steps=n_steps,
        lambda_1=lam,
        per=per,
        outcomes=outcomes,
        lyapunov_seconds=lyapunov_seconds,
    )


def default_cases() -> tuple[System, ...]:
    """The systems of the gallery's figure: contractive ones (decay, a damped oscillator, a
    damping sweep of the pendulum, Lorenz below rho = 24.74), regular ones with lambda_1 = 0
    (the undamped pendulum, Van der Pol, Lotka-Volterra) and chaotic ones (Duffing, Lorenz at
    rho = 28 and 45)."""
    pendulum = tuple(get_system("pendulum", damping=d) for d in (0.0, 0.25, 0.5, 1.0, 2.0))
    lorenz = tuple(get_system("lorenz", rho=r) for r in (0.5, 10.0, 20.0, 28.0, 45.0))
    return (
        get_system("exponential_decay"),
        get_system("driven_oscillator", c=0.5),
        *pendulum,
        get_system("van_der_pol"),
        get_system("lotka_volterra"),
        get_system("duffing"),
        *lorenz,
    )


def main() -> None:
    """Print the table of :func:`newton_study` on :func:`default_cases`."""
    study = newton_study(default_cases())
    print(study.table())
    print(
        f"T = {study.n_steps} steps ({study.method}, dt = {study.dt:g}; maps: {study.n_steps} "
        f"iterations), budget {study.max_iterations} linear solves, {study.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
