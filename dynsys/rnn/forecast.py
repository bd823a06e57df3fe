"""The forecasting benchmark: every system and model kind fitted by its recipe, one table.

For each system, model kind and seed, :func:`forecast_benchmark` fits the model with the
system's recipe (:func:`dynsys.rnn.settings.plan_fit`, exactly what ``dynsys train SYSTEM
--model KIND --seed N`` does) and scores its free-running rollout on the test split against
solve_ivp, beside explicit Euler, semi-implicit Euler and RK4 at the same h: rel L2, valid
prediction time (normalised error 0.4, and sMAPE 30% as in the dysts benchmark), in time units
and in Lyapunov times where the exponent is known, and the time of the fit itself (its
training stages or closed-form solve; not the data's simulation nor the evaluation).  Medians
over the seeds.

For a chaotic system a forecast "valid" for longer than the references agree means nothing:
:func:`solver_agreement` is the valid time of solve_ivp DOP853 at rtol 1e-10 measured against
DOP853 at rtol 1e-12 from the same test states, reported beside the models' valid times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import checks
from ..errors import DynsysError, InputError
from ..reference import reference
from ..systems import SYSTEMS, system_class
from .data import DatasetSpec, sample
from .evaluate import MODEL_ROW, lyapunov_exponent, valid_prediction_time
from .kinds import MODEL_KINDS, model_class
from .pipeline import train_model
from .settings import FitPlan, plan_fit

BENCHMARK_SYSTEMS = tuple(
    name
    for name, cls in SYSTEMS.items()
    if cls.kind == "ode" and cls.__module__.startswith("dynsys.systems")
)
"""The built-in ODE systems (the registry's, without user-defined ones): the benchmark's."""
STEPPER_ROWS = ("euler", "semi_implicit_euler", "rk4")
KEYS = ("rel_l2", "valid_time", "valid_time_smape", "valid_time_lyapunov")


@dataclass
class ForecastResult:
    """One fit: its system, kind and seed, its test rows (the model's, then the steppers') and
    the fit's wall time; ``error`` says why a fit failed (then rows is empty)."""

    system: str
    kind: str
    seed: int
    rows: dict[str, dict[str, float | None]] = field(default_factory=dict)
    fit_s: float = float("nan")
    error: str | None = None


@dataclass
class ForecastTable:
    """Every fit of the benchmark, the solver-agreement horizons, and the medians."""

    results: list[ForecastResult]
    agreement: dict[str, float] = field(default_factory=dict)
    exponents: dict[str, float] = field(default_factory=dict)
    """The largest Lyapunov exponent of each chaotic system, computed, behind its Lyapunov
    times (:func:`dynsys.rnn.evaluate.lyapunov_exponent`)."""

    def medians(self) -> dict[tuple[str, str], dict[str, float | None]]:
        """(system, method) -> median over seeds of each key; method is a kind or a stepper."""
        out: dict[tuple[str, str], dict[str, float | None]] = {}
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in self.results:
            if r.error is not None:
                continue
            groups.setdefault((r.system, r.kind), []).append(r.rows[MODEL_ROW] | {"fit_s": r.fit_s})
            for name in STEPPER_ROWS:
                groups.setdefault((r.system, name), []).append(r.rows[name])
        for key, rows in groups.items():
            out[key] = {k: _median([row.get(k) for row in rows]) for k in (*KEYS, "fit_s")}
        return out

    @classmethod
    def merged(cls, docs: Sequence[dict[str, Any]]) -> ForecastTable:
        """One table of the results of several :meth:`to_dict` documents (runs in parts)."""
        results = [ForecastResult(**r) for doc in docs for r in doc["results"]]
        agreement = {k: v for doc in docs for k, v in doc.get("agreement", {}).items()}
        exponents = {k: v for doc in docs for k, v in doc.get("exponents", {}).items()}
        return cls(results, agreement, exponents)

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.__dict__ for r in self.results],
            "agreement": self.agreement,
            "exponents": self.exponents,
            "medians": [
                {"system": s, "method": m, **values} for (s, m), values in self.medians().items()
            ],
        }

    def summary(self) -> str:
        """A row per system, a column per kind and for semi-implicit Euler and RK4: the median
        rel L2 (valid time in Lyapunov times where the exponent is known), the best kind bold,
        and the median fit time of each kind under it."""
        medians = self.medians()
        systems = list(dict.fromkeys(s for s, _ in medians))
        kinds = list(dict.fromkeys(m for _, m in medians if m not in STEPPER_ROWS))
        columns = [*kinds, "semi_implicit_euler", "rk4"]
        lines = [
            "| system | " + " | ".join(columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        fit_times: dict[str, list[float]] = {k: [] for k in kinds}
        for system in systems:
            chaotic = any(
                medians[(system, m)]["valid_time_lyapunov"] is not None
                for m in columns
                if (system, m) in medians
            )
            key = "valid_time_lyapunov" if chaotic else "rel_l2"

            def value(m, system=system, key=key):
                return medians.get((system, m), {}).get(key)

            scored = [k for k in kinds if value(k) is not None]
            pick = max if chaotic else min
            best = pick(scored, key=value) if scored else None
            cells = []
            for m in columns:
                v = value(m)
                text = "-" if (system, m) not in medians else _fmt(v, ".2g" if chaotic else ".1e")
                cells.append(f"**{text}**" if m == best else text)
                if m in fit_times and (system, m) in medians:
                    fit_times[m].append(medians[(system, m)]["fit_s"] or 0.0)
            name = f"{system} (Lyapunov times)" if chaotic else system
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append(
            "| fit s, median over systems | "
            + " | ".join(
                f"{float(np.median(fit_times[k])):.2g}" if fit_times.get(k) else "" for k in kinds
            )
            + " | | |"
        )
        return "\n".join(lines)

    def markdown(self) -> str:
        """The medians as a Markdown table, a row per system and method."""
        lines = [
            "| system | method | rel L2 | valid time | valid time (sMAPE) | Lyapunov times "
            "| fit s |",
            "|---|---|---|---|---|---|---|",
        ]
        for (system, method), v in self.medians().items():
            lines.append(
                f"| {system} | {method} | {_fmt(v['rel_l2'], '.2e')} | "
                f"{_fmt(v['valid_time'], '.3g')} | {_fmt(v['valid_time_smape'], '.3g')} | "
                f"{_fmt(v['valid_time_lyapunov'], '.3g', '-')} | "
                f"{'' if method in STEPPER_ROWS else _fmt(v['fit_s'], '.2g')} |"
            )
        for system, horizon in self.agreement.items():
            lines.append(
                f"\nSolver-agreement horizon of {system}: {horizon:.3g} time units (DOP853 "
                "rtol 1e-10 against rtol 1e-12); a valid time beyond it is not meaningful."
            )
        for system, exponent in self.exponents.items():
            lines.append(
                f"\nLyapunov times of {system}: valid time x its largest Lyapunov exponent "
                f"{exponent:.4g}, computed at the dataset's parameters."
            )
        errors = [r for r in self.results if r.error is not None]
        for r in errors:
            lines.append(f"\n{r.system} / {r.kind} / seed {r.seed} failed: {r.error}")
        return "\n".join(lines)


def _median(values: Sequence[float | None]) -> float | None:
    if not values or all(v is None for v in values):
        return None
    numbers = [np.inf if v is None else v for v in values]  # None: diverged (rel L2 inf)
    m = float(np.median(numbers))
    return m if np.isfinite(m) else None


def _fmt(value: float | None, spec: str, missing: str = "diverged") -> str:
    return missing if value is None else format(value, spec)


def solver_agreement(spec: DatasetSpec, n: int = 8, seed: int = 12345) -> float:
    """Median over ``n`` test trajectories of the time until DOP853 at rtol 1e-10 and at rtol
    1e-12 disagree by the valid-time threshold (normalised error 0.4)."""
    data = sample(spec, n, seed, whole=True)
    system = spec.base_system().with_params(**data.params)
    t = data.t
    tight = reference(system, data.s0, t, method="DOP853", rtol=1e-12, atol=1e-14).states
    loose = reference(system, data.s0, t, method="DOP853", rtol=1e-10, atol=1e-12).states
    return float(np.median(valid_prediction_time(loose, tight, t).per_trajectory))


def plan_benchmark(
    systems: Sequence[str] = BENCHMARK_SYSTEMS,
    kinds: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
) -> list[FitPlan]:
    """Every fit of the benchmark planned, and so checked, before any is run, in the order
    system, kind, seed: each list not empty and without repeats, the systems ODEs, the kinds
    known, the seeds whole numbers >= 0, and each fit within the memory and step ceilings."""
    systems = _distinct("systems", systems, "system name")
    kinds = list(MODEL_KINDS) if kinds is None else _distinct("kinds", kinds, "model kind")
    seeds = _distinct("seeds", seeds, "seed")
    for name in systems:
        if not isinstance(name, str):
            raise InputError(f"systems must be system names, got {name!r}")
        cls = system_class(name)
        if cls.kind != "ode":
            odes = ", ".join(n for n, c in SYSTEMS.items() if c.kind == "ode")
            raise InputError(
                f"system {name!r} is a discrete map; the forecast benchmark fits ODEs: {odes}"
            )
    for kind in kinds:
        if not isinstance(kind, str):
            raise InputError(f"kinds must be model kind names, got {kind!r}")
        model_class(kind)
    for seed in seeds:
        checks.integer("seed", seed, minimum=0)
    return [plan_fit(s, k, seed=seed) for s in systems for k in kinds for seed in seeds]


def _distinct(field_name: str, values: Any, what: str) -> list:
    """``values`` as a list: a sequence (not a text), not empty, no item twice."""
    if isinstance(values, str | bytes | Mapping):
        raise InputError(f"{field_name} must be a list of {what}s, got {values!r}")
    try:
        out = list(values)
    except TypeError:
        raise InputError(f"{field_name} must be a list of {what}s, got {values!r}") from None
    if not out:
        raise InputError(f"{field_name} must name at least one {what}")
    for i, value in enumerate(out):
        if value in out[:i]:
            raise InputError(f"{field_name} lists {value!r} twice; give each {what} once")
    return out


def forecast_benchmark(
    systems: Sequence[str] = BENCHMARK_SYSTEMS,
    kinds: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    echo: Callable[[str], None] | None = None,
) -> ForecastTable:
    """Fit every kind on every system for every seed with the recipes, and tabulate.

    Every fit is planned first (:func:`plan_benchmark`): bad input is refused before anything
    is simulated.  A fit that fails is recorded in its result and the others go on.
    """
    by_system: dict[str, list[FitPlan]] = {}
    for plan in plan_benchmark(systems, kinds, seeds):
        by_system.setdefault(plan.spec.system, []).append(plan)
    results: list[ForecastResult] = []
    agreement: dict[str, float] = {}
    exponents: dict[str, float] = {}
    for system, plans in by_system.items():
        for plan in plans:
            result = _fit(plan)
            results.append(result)
            if echo is not None:
                row = result.rows.get(MODEL_ROW, {})
                echo(
                    f"{system} {plan.kind} seed {result.seed}: "
                    + (
                        result.error
                        or f"rel L2 {row.get('rel_l2')}, valid {row.get('valid_time')}, "
                        f"{result.fit_s:.1f} s"
                    )
                )
        spec = plan_fit(system, plans[0].kind).spec
        exponent = lyapunov_exponent(spec)
        if exponent is not None:
            agreement[system] = solver_agreement(spec)
            exponents[system] = exponent
    return ForecastTable(results, agreement, exponents)


def _fit(plan: FitPlan) -> ForecastResult:
    """One fit of the benchmark and its test rows, or the reason it failed."""
    result = ForecastResult(plan.spec.system, plan.kind, plan.spec.seed)
    try:
        trained = train_model(plan, progress=False)
    except DynsysError as err:
        result.error = str(err)
    else:  # the fit alone: not the data, not the evaluation
        result.fit_s = sum(h.wall_s for h in trained.stages.values())
        result.rows = trained.evaluation.to_dict()["test"]
    return result
