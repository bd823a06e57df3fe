"""Plot functions drawing into the caller's Axes: ``ax=`` for one panel, ``axes=`` for several.

Each figure is drawn into Axes of a plain :class:`matplotlib.figure.Figure`; the function returns
that figure, adds no Axes to it (the field's colour bar, which takes its space from the given
Axes, is the one exception), draws on every panel given, and puts its legend and title on the
Axes rather than on the caller's figure.  A wrong count or something that is not an Axes is a
one-line InputError, raised before anything is computed or drawn.
"""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from dynsys import InputError, get_system
from dynsys.plots import (
    check_figure,
    convergence_plot,
    error_plot,
    phase_portrait,
    save_figure,
    stability_plot,
    timeseries_plot,
)

PNG = b"\x89PNG\r\n\x1a\n"


def drawn(ax) -> int:
    """How many lines and collections (scatters, contours, streamlines) ``ax`` holds."""
    return len(ax.lines) + len(ax.collections)


def panels(count: int, projection: str | None = None) -> tuple[Figure, list]:
    fig = Figure()
    return fig, [fig.add_subplot(1, count, k + 1, projection=projection) for k in range(count)]


# one panel: (what, call with ax=, projection of the Axes, Axes the drawing adds)
ONE_PANEL = {
    "field": (
        lambda ax: phase_portrait(get_system("van_der_pol"), [1, 0], t_span=(0, 3), ax=ax),
        None,
        1,  # the speed colour bar, its space taken from ax
    ),
    "field_methods": (
        lambda ax: phase_portrait(
            get_system("van_der_pol"), [1, 0], t_span=(0, 3), dt=0.1, methods="euler", ax=ax
        ),
        None,
        1,
    ),
    "driven": (
        lambda ax: phase_portrait(get_system("driven_oscillator"), [1, 0], t_span=(0, 4), ax=ax),
        None,
        0,
    ),
    "projection": (
        lambda ax: phase_portrait(get_system("lorenz"), t_span=(0, 2), states="z,0", ax=ax),
        None,
        0,
    ),
    "3d": (
        lambda ax: phase_portrait(get_system("lorenz"), t_span=(0, 2), ax=ax),
        "3d",
        0,
    ),
    "cobweb": (
        lambda ax: phase_portrait(get_system("logistic_map", r=3.2), [0.1], t_span=(0, 20), ax=ax),
        None,
        0,
    ),
    "orbit": (
        lambda ax: phase_portrait(get_system("henon_map"), t_span=(0, 100), ax=ax),
        None,
        0,
    ),
    "vs_time_one_state": (
        lambda ax: phase_portrait(
            get_system("exponential_decay"), [1.0], vs_time=True, t_span=(0, 3), ax=ax
        ),
        None,
        0,
    ),
    "timeseries_one_state": (
        lambda ax: timeseries_plot(
            get_system("lorenz"), t_span=(0, 1), dt=0.1, methods="euler", states="z", ax=ax
        ),
        None,
        0,
    ),
    "error": (
        lambda ax: error_plot(
            get_system("van_der_pol"), t_span=(0, 2), dt=0.1, methods="euler", ax=ax
        ),
        None,
        0,
    ),
    "convergence": (
        lambda ax: convergence_plot(
            get_system("exponential_decay"), methods="euler", t_span=(0, 1), dt=0.1, levels=2, ax=ax
        ),
        None,
        0,
    ),
    "stability": (
        lambda ax: stability_plot(
            get_system("van_der_pol"), dt=0.2, methods="euler,rk4", t_span=(0, 3), ax=ax
        ),
        None,
        0,
    ),
}


@pytest.mark.parametrize("name", list(ONE_PANEL))
def test_one_panel_into_the_callers_axes(name):
    call, projection, added = ONE_PANEL[name]
    fig = Figure()
    ax = fig.add_subplot(projection=projection)
    out, _ = call(ax)
    assert out is fig
    assert len(fig.axes) == 1 + added
    assert fig.axes[0] is ax and drawn(ax) > 0
    assert ax.get_title()  # the title on the Axes, not over the caller's figure
    assert not fig.legends and fig._suptitle is None
    if added:
        assert fig.axes[1].get_ylabel().startswith("speed |d(")


def test_a_sequence_of_one_axes_is_one_panel():
    """Where ``axes=`` is accepted, a sequence of one Axes is a one-panel layout."""
    fig, (ax,) = panels(1)
    out, info = phase_portrait(get_system("henon_map"), t_span=(0, 50), axes=[ax])
    assert out is fig and info.layout == "orbit" and drawn(ax) > 0
    fig, (ax,) = panels(1, "3d")
    out, info = phase_portrait(get_system("lorenz"), t_span=(0, 1), axes=(ax,))
    assert out is fig and info.layout == "3d" and len(fig.axes) == 1 and drawn(ax) > 0


# several panels: (call with axes=, how many)
PANELS = {
    "timeseries": (
        lambda axes: timeseries_plot(
            get_system("lorenz"), t_span=(0, 1), dt=0.1, methods="euler", axes=axes
        ),
        3,
    ),
    "vs_time": (
        lambda axes: phase_portrait(
            get_system("van_der_pol"), vs_time=True, t_span=(0, 3), axes=axes
        ),
        2,
    ),
    "projections": (
        lambda axes: phase_portrait(
            get_system("lorenz"), t_span=(0, 2), projections=True, axes=axes
        ),
        3,
    ),
    "poincare": (
        lambda axes: phase_portrait(
            get_system("duffing"), t_span=(0, 20), poincare=True, axes=axes
        ),
        2,
    ),
    "section": (
        lambda axes: phase_portrait(
            get_system("lorenz"), t_span=(0, 10), section="z=27,dz>0", axes=axes
        ),
        2,
    ),
}


@pytest.mark.parametrize("name", list(PANELS))
def test_several_panels_into_the_callers_axes(name):
    call, count = PANELS[name]
    fig, axes = panels(count)
    out, _ = call(axes)
    assert out is fig and len(fig.axes) == count
    assert all(drawn(ax) > 0 for ax in axes)
    assert not fig.legends and fig._suptitle is None
    assert any(ax.get_title() for ax in axes)


def test_the_panels_are_labelled_by_state():
    fig, axes = panels(3)
    _, info = timeseries_plot(get_system("lorenz"), t_span=(0, 1), dt=0.1, methods="rk4", axes=axes)
    assert [ax.get_ylabel() for ax in axes] == ["x", "y", "z"] and info.lines == 6
    assert axes[0].get_legend() is not None and not fig.legends


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda a: timeseries_plot(get_system("lorenz"), t_span=(0, 1), axes=a[:2]),
            "axes of a timeseries plot must be 3 matplotlib Axes (one per panel), got 2",
        ),
        (
            lambda a: timeseries_plot(get_system("lorenz"), t_span=(0, 1), ax=a[0]),
            "ax draws one panel, but a timeseries plot has 3 panels: "
            "give axes= with 3 matplotlib Axes",
        ),
        (
            lambda a: timeseries_plot(get_system("lorenz"), t_span=(0, 1), axes=[a[0], None, a[1]]),
            "axes must be a matplotlib Axes, got NoneType",
        ),
        (
            lambda a: phase_portrait(get_system("lorenz"), projections=True, axes=a[:2]),
            "axes of a phase portrait with projections=True must be 3 matplotlib Axes "
            "(one per panel), got 2",
        ),
        (
            lambda a: phase_portrait(get_system("duffing"), poincare=True, ax=a[0]),
            "ax draws one panel, but a phase portrait with a Poincaré section has 2 panels: "
            "give axes= with 2 matplotlib Axes",
        ),
        (
            lambda a: phase_portrait(get_system("van_der_pol"), vs_time=True, axes=a),
            "axes of a phase portrait with vs_time=True must be 2 matplotlib Axes "
            "(one per panel), got 3",
        ),
        (
            lambda a: phase_portrait(get_system("lorenz"), ax=a[0]),
            "ax must be an Axes with projection='3d' for this figure, got 'rectilinear'",
        ),
        (
            lambda a: phase_portrait(get_system("van_der_pol"), ax=a[0], axes=a[:1]),
            "give ax (one panel) or axes (a sequence of panels), not both",
        ),
        (
            lambda a: phase_portrait(get_system("henon_map"), ax="left"),
            "ax must be a matplotlib Axes, got str",
        ),
        (
            lambda a: error_plot(get_system("van_der_pol"), ax=a),
            "ax must be a matplotlib Axes, got list",
        ),
        (
            lambda a: convergence_plot(get_system("exponential_decay"), ax=fig_of(a)),
            "ax must be a matplotlib Axes, got Figure",
        ),
        (
            lambda a: stability_plot(get_system("van_der_pol"), ax=1),
            "ax must be a matplotlib Axes, got int",
        ),
    ],
)
def test_wrong_axes_are_one_line_input_errors(call, message):
    fig, axes = panels(3)
    with pytest.raises(InputError) as err:
        call(axes)
    assert str(err.value) == message
    assert len(fig.axes) == 3 and not any(drawn(ax) for ax in axes)


def fig_of(axes):
    return axes[0].figure


def test_check_figure_refuses_the_wrong_axes_without_drawing():
    fig, axes = panels(2)
    with pytest.raises(InputError, match="axes of a timeseries plot must be 3"):
        check_figure("timeseries", get_system("lorenz"), axes=axes)
    check_figure("phase", get_system("duffing"), poincare=True, axes=axes)
    check_figure("stability", get_system("van_der_pol"), ax=axes[0])
    assert len(fig.axes) == 2 and not any(drawn(ax) for ax in axes)


def test_two_plots_in_one_figure_saved(tmp_path):
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    system = get_system("van_der_pol")
    out, _ = phase_portrait(system, [1, 0], t_span=(0, 3), xlim=(-3, 3), ylim=(-3, 3), ax=left)
    assert out is fig
    out, _ = error_plot(system, t_span=(0, 2), dt=0.1, methods="euler,rk4", ax=right)
    assert out is fig and len(fig.axes) == 3  # two panels and the field's colour bar
    data = save_figure(fig, tmp_path / "two.png").read_bytes()
    assert data.startswith(PNG)


def test_axes_on_a_subfigure_return_the_root_figure():
    fig = Figure()
    sub = fig.subfigures(1, 2)[1]
    ax = sub.add_subplot()
    out, _ = stability_plot(get_system("van_der_pol"), dt=0.2, methods="rk4", t_span=(0, 3), ax=ax)
    assert out is fig and drawn(ax) > 0 and not sub.legends


def test_the_driven_note_is_a_legend_entry_on_the_callers_axes():
    _, (ax,) = panels(1)
    phase_portrait(get_system("driven_oscillator"), [1, 0], t_span=(0, 4), ax=ax)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["s0 = (1, 0)", "equilibria of the undriven system (x = 0)"]
    assert ax.get_title().startswith("driven_oscillator: phase portrait (driven")


def test_every_plot_function_takes_the_callers_axes():
    """Each public function of dynsys.plots that draws a figure takes ax= or axes=."""
    import importlib
    import inspect
    import pkgutil

    import dynsys.plots

    builders = {"new_figure", "one_axes", "root_figure", "some_axes"}  # make the Axes
    drawing = {}
    for module in pkgutil.iter_modules(dynsys.plots.__path__):
        mod = importlib.import_module(f"dynsys.plots.{module.name}")
        for name, function in vars(mod).items():
            if (
                inspect.isfunction(function)
                and function.__module__ == mod.__name__
                and not name.startswith("_")
                and name not in builders
                and "Figure" in str(inspect.signature(function).return_annotation)
            ):
                drawing[name] = set(inspect.signature(function).parameters)
    assert {"phase_portrait", "overview_plot", "trajectory_plot", "workprecision_plot"} <= set(
        drawing
    )
    assert len(drawing) >= 20
    assert [name for name, params in drawing.items() if not params & {"ax", "axes"}] == []
