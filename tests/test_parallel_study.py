"""Newton iterations against lambda_1 (dynsys.parallel.study) and its figure."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest

from dynsys.errors import InputError
from dynsys.parallel.study import (
    ExponentSettings,
    NewtonOutcome,
    NewtonStudy,
    StudyRow,
    newton_study,
)
from dynsys.plots.parallel import GID, newton_iterations_plot
from dynsys.systems import get_system

T = 400
SHORT = ExponentSettings(transient=5.0, span=20.0, map_transient=10, map_span=200)


@pytest.fixture(scope="module")
def study() -> NewtonStudy:
    """A contractive pendulum, the chaotic Lorenz system and exponential decay, T = 400 steps
    of rk4 at dt = 0.01, every variant, a budget of T (under a second)."""
    cases = [get_system("pendulum", damping=1.0), get_system("lorenz"), "exponential_decay"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the fallbacks are caught, not shown
        return newton_study(cases, n_steps=T, dt=0.01, method="rk4", exponents=SHORT)


def test_study_fields(study):
    assert isinstance(study, NewtonStudy)
    assert (study.n_steps, study.dt, study.method) == (T, 0.01, "rk4")
    assert study.variants == ("full", "quasi", "damped")
    assert study.max_iterations == T  # the budget defaults to the ceiling T
    assert [r.system for r in study.rows] == ["pendulum", "lorenz", "exponential_decay"]
    assert study.kinds() == ("ode",)
    row = study.rows[0]
    assert isinstance(row, StudyRow)
    assert row.params == {"g": 9.81, "length": 1.0, "damping": 1.0}
    assert row.changed == {"damping": 1.0} and row.label == "pendulum damping=1"
    assert row.per == "unit time" and row.dt == 0.01 and row.method == "rk4"
    assert row.lambda_per_step == row.lambda_1 * 0.01
    assert [o.variant for o in row.outcomes] == list(study.variants)
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.outcomes[0].solves = 1
    json.dumps(study.to_dict())  # JSON-ready


def test_contractive_systems_converge_in_a_few_iterations(study):
    pendulum, _, decay = study.rows
    # lambda_1 = -damping / 2 at the bottom of the well; exactly -rate for decay
    assert -0.55 < pendulum.lambda_1 < -0.45
    assert decay.lambda_1 == pytest.approx(-1.0, abs=1e-6)
    for row, bounds in ((pendulum, {"full": 10, "quasi": 60, "damped": 12}), (decay, None)):
        for o in row.outcomes:
            assert o.status == "converged" and o.converged
            assert o.iterations == o.solves
            assert len(o.residuals) == o.solves + 1  # the guess, then one per solve
            assert o.residuals[-1] <= study.tolerance
            limit = 10 if bounds is None else bounds[o.variant]  # measured: 8, 46, 9 (2, 2, 8)
            assert o.iterations <= limit
    assert decay.outcome("full").iterations <= 3  # affine: one solve, one to confirm


def test_chaotic_system_does_not_converge_within_the_budget(study):
    lorenz = study.rows[1]
    assert 0.8 < lorenz.lambda_1 < 1.1  # 0.906 over long runs; 20 time units here
    for o in lorenz.outcomes:
        assert not o.converged and o.iterations is None and o.reason
    damped = lorenz.outcome("damped")
    assert damped.status == "budget" and damped.solves == T
    assert np.isfinite(damped.residuals[-1]) and damped.residuals[-1] > study.tolerance
    # the full linearisation from a constant guess runs away: the iterate overflows
    assert lorenz.outcome("full").status == "overflow"
    assert lorenz.outcome("full").solves < T
    lines = study.table().splitlines()
    headers = "system method lambda_1 per step full quasi damped seconds"
    assert lines[0].split() == headers.split()
    assert f">={T}" in lines[3] and "overflow" in lines[3]


def test_a_map_runs_its_own_iteration():
    study = newton_study(
        [get_system("logistic_map", r=2.8)], n_steps=50, variants=("full",), exponents=SHORT
    )
    (row,) = study.rows
    assert (row.kind, row.method, row.dt, row.per) == ("map", "map", 1.0, "iteration")
    assert row.lambda_1 == pytest.approx(np.log(0.8), abs=1e-3)  # |f'(x*)| = |2 - r|
    assert row.outcome("full").status in ("converged", "overflow")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"variants": ("newton",)}, "newton variant"),
        ({"variants": ()}, "variants"),
        ({"variants": ("full", "full")}, "variants"),
        ({"n_steps": 1}, "n_steps"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"dt": -0.1}, "dt"),
    ],
)
def test_bad_settings_name_the_field(options, field):
    with pytest.raises(InputError, match=field):
        newton_study(["exponential_decay"], **options)


def test_plot_draws_every_run(study):
    fig, info = newton_iterations_plot(study)
    (ax,) = fig.axes[:1]
    assert (info.points, info.converged, info.budget, info.no_result) == (9, 6, 1, 2)
    assert (info.ceiling, info.max_iterations) == (T, T)
    markers = [line for line in ax.get_lines() if line.get_gid() == GID]
    assert sum(len(line.get_xdata()) for line in markers) == 9
    open_markers = [line for line in markers if line.get_markerfacecolor() == "white"]
    assert sum(len(line.get_xdata()) for line in open_markers) == 3
    budget = [line for line in open_markers if set(line.get_ydata()) == {T}]
    assert [len(line.get_xdata()) for line in budget] == [1]  # Lorenz, damped, at the budget
    assert ax.get_yscale() == "log"
    assert "per unit time" in ax.get_xlabel() and "iterations" in ax.get_ylabel()
    assert any(list(line.get_ydata()) == [T, T] for line in ax.get_lines())  # the ceiling
    assert any(list(line.get_xdata()) == [0.0, 0.0] for line in ax.get_lines())  # lambda_1 = 0
    assert [t.get_text() for t in fig.legends[0].get_texts()][:3] == ["full", "quasi", "damped"]


def test_plot_on_given_axes(study):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    drawn, info = newton_iterations_plot(study, ax=ax)
    assert drawn is fig and not fig.legends and ax.get_legend() is not None
    assert info.points == 9
    with pytest.raises(InputError, match="kind"):
        newton_iterations_plot(study, kind="map")


def test_outcome_iterations_only_when_converged():
    o = NewtonOutcome("full", "budget", 7, (1.0,) * 8, 0.1, "not converged")
    assert o.iterations is None and not o.converged
    assert NewtonOutcome("full", "converged", 3, (1.0, 0.1, 0.0, 0.0), 0.1).iterations == 3
