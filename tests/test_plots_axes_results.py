"""The figures of results drawn into the caller's Axes: ``ax=`` for one panel, ``axes=`` for
several (RNN figures, the unrolled graph, forecasts, Newton iterations, basins, orbit diagrams,
work-precision).

Each is drawn into Axes of a plain :class:`matplotlib.figure.Figure`: the function returns that
figure, adds no Axes to it (the learned field's colour bar, which takes its space from the two
given panels, is the one exception), draws on every panel given, and leaves the caller's figure
without a figure legend or a suptitle.  A wrong count of panels, ``ax=`` for a figure of several
panels, or something that is not an Axes is a one-line InputError.
"""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from dynsys import InputError, get_system
from dynsys.basins import basins
from dynsys.orbits import orbit_diagram
from dynsys.parallel.study import ExponentSettings, newton_study
from dynsys.plots import (
    forecast_plot,
    rnn_graph,
    rnn_unrolled_plot,
    rollout_plot,
    training_curves,
    unrolled_plot,
    vector_field_plot,
)
from dynsys.plots.basins import basins_plot
from dynsys.plots.bifurcation import orbit_diagram_plot
from dynsys.plots.parallel import newton_iterations_plot
from dynsys.plots.workprecision import workprecision_plot
from dynsys.rnn.forecast import STEPPER_ROWS, ForecastResult, ForecastTable
from dynsys.rnn.pipeline import train_model
from dynsys.rnn.settings import plan_fit
from dynsys.workprecision import work_precision


def drawn(ax) -> int:
    """How many artists ``ax`` holds: lines, collections, images, patches and texts."""
    return len(ax.lines) + len(ax.collections) + len(ax.images) + len(ax.patches) + len(ax.texts)


def title(ax) -> str:
    """The title of ``ax`` on one line (a figure's title over a panel is wrapped)."""
    return " ".join(ax.get_title().split())


def panels(count: int) -> tuple[Figure, list]:
    fig = Figure()
    return fig, [fig.add_subplot(1, count, k + 1) for k in range(count)]


def assert_drawn_into(fig: Figure, result, given: list, added: int = 0) -> None:
    """``result`` is (figure, info) or a figure: the caller's ``fig``, with ``added`` Axes more
    than ``given``, something drawn on each of them, and no figure legend or suptitle."""
    out = result[0] if isinstance(result, tuple) else result
    assert out is fig
    assert len(fig.axes) == len(given) + added
    assert fig.axes[: len(given)] == given
    assert all(drawn(ax) > 0 for ax in given)
    assert not fig.legends and fig._suptitle is None
    assert not fig.texts  # nothing written on the caller's figure outside its Axes


# -- tiny inputs, built once --------------------------------------------------------------------


def tiny_model(system: str):
    """A Jordan step map trained for 3 epochs on 3 trajectories of 2 time units."""
    plan = plan_fit(
        system,
        "jordan",
        dataset={"n_train": 3, "n_val": 1, "n_test": 1, "t_end": 2.0, "h": 0.1},
        model={"hidden": 4},
        training={"epochs": 3},
    )
    return train_model(plan, progress=False)


@pytest.fixture(scope="module")
def jordan():
    return tiny_model("driven_oscillator")


@pytest.fixture(scope="module")
def decay():
    return tiny_model("exponential_decay")


def forecast_table(chaotic: bool) -> ForecastTable:
    """One non-chaotic system, and with ``chaotic`` one chaotic system too (two panels)."""
    base = {"rel_l2": 1e-3, "valid_time": 2.0, "valid_time_smape": 1.0}
    rows = dict.fromkeys(("model", *STEPPER_ROWS), base)
    results = [ForecastResult("van_der_pol", "esn", 0, rows, 0.2)]
    if chaotic:
        rows = dict.fromkeys(rows, base | {"valid_time_lyapunov": 1.8})
        results.append(ForecastResult("lorenz", "ngrc", 0, rows, 0.5))
    return ForecastTable(results, {"lorenz": 25.0} if chaotic else {})


@pytest.fixture(scope="module")
def study():
    """Newton over 20 steps of exponential decay, every variant."""
    short = ExponentSettings(transient=1.0, span=5.0, map_transient=10, map_span=50)
    return newton_study(["exponential_decay"], n_steps=20, dt=0.05, method="rk4", exponents=short)


@pytest.fixture(scope="module")
def basin_map():
    """The two wells of the damped Duffing oscillator on an 8 x 8 grid."""
    duffing = get_system("duffing", alpha=-1.0, beta=1.0, delta=0.3, gamma=0.0)
    return basins(duffing, grid=8, xlim=(-2, 2), ylim=(-2, 2), t_end=60, backend="numpy")


@pytest.fixture(scope="module")
def diagram():
    return orbit_diagram("logistic_map", "r", [2.5, 3.2, 3.9], transient=50, keep=20)


@pytest.fixture(scope="module")
def precision():
    system = get_system("exponential_decay", rate=2.0)
    return work_precision(
        system, [1.0], t_end=1.0, methods=["euler", "RK45"], dts=[0.25, 0.125],
        rtols=[1e-4], repeats=1,
    )  # fmt: skip


# -- one panel: ax= -----------------------------------------------------------------------------


def test_training_curves_on_the_callers_axes(jordan):
    fig, (ax,) = panels(1)
    out = training_curves(jordan, ax=ax)
    assert_drawn_into(fig, out, [ax])
    assert ax.get_legend() is not None and "training loss" in ax.get_title()
    assert out[1].stages == ("fit",)


def test_unrolled_graph_on_the_callers_axes(jordan):
    fig, (ax,) = panels(1)
    out = unrolled_plot(rnn_graph(), 3, ax=ax)
    assert_drawn_into(fig, out, [ax])
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("U") == 3 and any(t.startswith("h(t) = tanh") for t in texts)  # caption
    fig, (ax,) = panels(1)
    out = rnn_unrolled_plot(jordan, 2, ax=ax)
    assert_drawn_into(fig, out, [ax])
    assert [t.get_text() for t in ax.texts].count("V") == 2  # Jordan: V from h to o(t)


def test_newton_iterations_on_the_callers_axes(study):
    fig, (ax,) = panels(1)
    out = newton_iterations_plot(study, ax=ax)
    assert_drawn_into(fig, out, [ax])
    assert out[1].points == 3 and ax.get_legend() is not None


def test_basins_on_the_callers_axes(basin_map):
    fig, (ax,) = panels(1)
    out = basins_plot(basin_map, ax=ax)
    assert_drawn_into(fig, out, [ax])
    assert len(ax.images) == 1 and ax.get_legend() is not None  # the legend on ax, not below
    assert out[1].basins == 2


def test_orbit_diagram_on_the_callers_axes(diagram):
    fig, (ax,) = panels(1)
    out = orbit_diagram_plot(diagram, ax=ax)
    assert_drawn_into(fig, out, [ax])
    assert out[1].points == 60 and ax.get_xlabel() == "r"


def test_forecast_of_one_kind_of_system_takes_ax():
    fig, (ax,) = panels(1)
    out = forecast_plot(forecast_table(chaotic=False), ax=ax)
    assert_drawn_into(fig, out, [ax])
    assert title(ax).startswith(
        "Free-running forecasts of fitted models beside the steppers"
    )  # the figure's title, on ax
    fig, (ax,) = panels(1)
    assert_drawn_into(fig, forecast_plot(forecast_table(chaotic=False), axes=[ax]), [ax])


def test_rollout_of_a_system_of_one_state_takes_ax(decay):
    fig, (ax,) = panels(1)
    out = rollout_plot(decay, n=2, ax=ax)
    assert_drawn_into(fig, out, [ax])
    assert out[1].phase_plane is None and ax.get_ylabel() == "s" and ax.get_legend() is not None


def test_axes_of_a_subfigure_give_the_root_figure(basin_map):
    fig = Figure()
    ax = fig.subfigures(1, 2)[1].add_subplot()
    assert basins_plot(basin_map, ax=ax)[0] is fig


# -- several panels: axes= ----------------------------------------------------------------------


def test_rollout_draws_a_panel_per_state_and_the_phase_plane(jordan):
    fig, given = panels(3)
    out = rollout_plot(jordan, n=2, axes=given)
    assert_drawn_into(fig, out, given)
    s, v, phase = given
    assert (s.get_ylabel(), v.get_ylabel()) == ("s", "v")
    assert (phase.get_xlabel(), phase.get_ylabel()) == ("s", "v")
    assert "free-running rollout against solve_ivp" in title(s) and phase.get_legend() is not None
    assert out[1].lines == 6  # 2 trajectories on each of the 3 panels


def test_vector_field_adds_only_its_colour_bar(jordan):
    fig, given = panels(2)
    out = vector_field_plot(jordan, xlim=(-1, 1), ylim=(-1, 1), axes=given)
    assert_drawn_into(fig, out, given, added=1)
    assert "learned vector field" in title(given[0])
    assert given[1].get_title().startswith("true: g(s, x)")
    assert "speed" in fig.axes[2].get_ylabel()  # the colour bar
    assert out[1].xlim == (-1.0, 1.0)


def test_forecast_with_chaotic_systems_takes_two_axes():
    fig, given = panels(2)
    out = forecast_plot(forecast_table(chaotic=True), axes=given)
    assert_drawn_into(fig, out, given)
    assert out[1]["chaotic"] == ["lorenz"] and "Lyapunov" in given[1].get_ylabel()


def test_orbit_diagram_with_exponents_takes_two_axes(diagram):
    fig, given = panels(2)
    out = orbit_diagram_plot(diagram, exponents=[-0.7, -0.1, 0.5], axes=given)
    assert_drawn_into(fig, out, given)
    assert given[1].get_ylabel() == "largest Lyapunov exponent"
    assert given[1].get_xlim() == given[0].get_xlim() == (2.5, 3.9)


def test_workprecision_takes_two_axes_with_one_error_range(precision):
    fig, given = panels(2)
    out = workprecision_plot(precision, axes=given)
    assert_drawn_into(fig, out, given)
    time_ax, evals_ax = given
    assert time_ax.get_ylim() == evals_ax.get_ylim()
    assert "work-precision" in time_ax.get_title() and time_ax.get_legend() is not None
    assert evals_ax.get_xlabel() == "evaluations of g per trajectory"


# -- refused: a wrong count, ax= for several panels, something that is not an Axes ---------------

NOT_AXES = "ax must be a matplotlib Axes, got str"


def test_a_wrong_count_or_kind_of_axes_is_one_line(jordan, decay, study, basin_map, diagram):
    fig, (one,) = panels(1)
    two = panels(2)[1]
    cases = [
        (lambda: training_curves(jordan, ax="x"), NOT_AXES),
        (lambda: unrolled_plot(rnn_graph(), ax="x"), NOT_AXES),
        (lambda: rnn_unrolled_plot(jordan, ax="x"), NOT_AXES),
        (lambda: newton_iterations_plot(study, ax="x"), NOT_AXES),
        (lambda: basins_plot(basin_map, ax="x"), NOT_AXES),
        (lambda: orbit_diagram_plot(diagram, ax="x"), NOT_AXES),
        (lambda: rollout_plot(decay, n=1, ax="x"), NOT_AXES),
        (
            lambda: rollout_plot(jordan, axes=two),
            "axes of a rollout plot must be 3 matplotlib Axes (one per panel), got 2",
        ),
        (
            lambda: rollout_plot(jordan, ax=one),
            "ax draws one panel, but a rollout plot has 3 panels: give axes= with 3 matplotlib "
            "Axes",
        ),
        (
            lambda: rollout_plot(decay, ax=one, axes=[one]),
            "give ax (one panel) or axes (a sequence of panels), not both",
        ),
        (
            lambda: vector_field_plot(jordan, axes=[one]),
            "axes of a vector field plot must be 2 matplotlib Axes (one per panel), got 1",
        ),
        (
            lambda: vector_field_plot(jordan, axes=[one, "x"]),
            "axes must be a matplotlib Axes, got str",
        ),
        (
            lambda: forecast_plot(forecast_table(chaotic=True), ax=one),
            "ax draws one panel, but a forecast figure has 2 panels: give axes= with 2 "
            "matplotlib Axes",
        ),
        (
            lambda: forecast_plot(forecast_table(chaotic=False), axes=two),
            "axes of a forecast figure must be 1 matplotlib Axes (one per panel), got 2",
        ),
        (
            lambda: orbit_diagram_plot(diagram, exponents=[0.0, 0.0, 0.0], ax=one),
            "ax draws one panel, but an orbit diagram with its exponents has 2 panels: give "
            "axes= with 2 matplotlib Axes",
        ),
        (
            lambda: orbit_diagram_plot(diagram, exponents=[0.0, 0.0]),
            "exponents must hold one number per parameter value (3), got 2",
        ),
        (
            lambda: workprecision_plot(None, axes=one),
            "axes of a work-precision diagram must be 2 matplotlib Axes (one per panel), got 1",
        ),
    ]
    for call, message in cases:
        with pytest.raises(InputError) as err:
            call()
        assert str(err.value) == message
        assert "\n" not in message
    assert len(fig.axes) == 1 and drawn(one) == 0  # nothing was drawn before the error
