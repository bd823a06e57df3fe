"""Figures of dynsys: phase portraits, states and errors against time, convergence, stability
regions, the unrolled graph of a recurrence, and the training, rollouts and learned vector
field of a fitted RNN.

Every plot function returns ``(figure, info)``: a :class:`matplotlib.figure.Figure` with its own
Agg canvas (no pyplot, no display, the user's backend untouched) and a small dataclass saying
what was drawn.  Given ``ax=`` (one panel) or ``axes=`` (a figure of several panels), it draws
into the caller's Axes instead and returns the caller's figure: nothing new is created, and the
legend and title go on the Axes.  :func:`save_figure` writes PNG, SVG or PDF by suffix,
atomically and with the same bytes for the same figure (with the same library versions)::

    phase_portrait(system, s0=None, *, t_span=None, dt=0.01, xlim=None, ylim=None, grid=0,
                   methods=(), states=None, poincare=False, projections=False, vs_time=False,
                   ax=None, axes=None)
    timeseries_plot(system, s0=None, *, t_span=(0, 20), dt=0.01, methods=..., states=None,
                    ax=None, axes=None)
    error_plot(system, s0=None, *, t_span=(0, 20), dt=0.01, methods=..., ax=None)
    convergence_plot(system, s0=None, *, methods=("euler", "heun", "rk4"), t_span=(0, 10),
                     dt=0.1, levels=5, ax=None)
    stability_plot(system, s0=None, *, dt=0.1, methods=..., t_span=(0, 20), xlim=None, ylim=None,
                   ax=None)
    unrolled_plot(stepper_graph(system, method, h) | rnn_graph(), steps=4, ax=None)
    save_figure(figure, path)

and of a fitted RNN (a model file, LoadedModel or TrainedModel; see :mod:`dynsys.plots.rnn`)::

    training_curves(model | History | {stage: History}, *, ax=None)
    rollout_plot(model, data=None, normalizer=None, *, n=4, seed=None, ax=None, axes=None)
    vector_field_plot(model, *, drive=0.0, xlim=None, ylim=None, seed=None, axes=None)
    rnn_unrolled_plot(model, steps=4, *, ax=None)

and of the trajectories of a run (each method, the reference, and the error over time)::

    overview_plot({method: Trajectory}, reference, *, axes=None)

and of a saved or computed Trajectory as it is (``Trajectory.plot`` is the short form)::

    trajectory_plot(traj, kind="timeseries" | "phase", *, states=None, ax=None, axes=None)

The maths behind them is importable on its own: :func:`find_equilibria` and :func:`classify`
(no matplotlib), and :func:`stability_function`, :func:`amplification`, :func:`in_region`.

Every figure checks its arguments and its size before it computes anything: too many steps,
too much memory, or a solve_ivp reference too long is a one-line InputError naming what to
change.  :func:`check_figure` runs those checks alone, so that a run can refuse a figure
before it starts.
"""

from __future__ import annotations

from .convergence import check_convergence, convergence_plot
from .equilibria import KINDS, Equilibrium, classify, find_equilibria, jacobian_at
from .forecast import forecast_plot
from .graph import GraphSpec, rnn_graph, stepper_graph, unrolled_plot
from .overview import OverviewInfo, overview_plot
from .phase import LAYOUTS, check_phase, phase_portrait
from .results import ConvergenceInfo, GraphInfo, PhaseInfo, SeriesInfo, StabilityInfo
from .rnn import (
    FieldInfo,
    RolloutInfo,
    TrainingInfo,
    model_graph,
    rnn_unrolled_plot,
    rollout_plot,
    training_curves,
    vector_field_plot,
)
from .saved import SavedPlotInfo, trajectory_plot
from .stability import (
    amplification,
    check_stability,
    in_region,
    stability_function,
    stability_methods,
    stability_plot,
    stability_polynomial,
)
from .style import FORMATS, OKABE_ITO, house_style, save_figure
from .timeseries import check_error, check_timeseries, error_plot, timeseries_plot

PLOT_KINDS = (
    "timeseries",
    "error",
    "convergence",
    "stability",
    "unrolled",
    "training",
    "rollout",
    "field",
)
"""The figures of ``dynsys plot KIND``; the phase portrait has its own command.  The last three
draw a fitted RNN (a model file), ``unrolled`` a stepper or, with ``--model``, an RNN."""

SYSTEM_CHECKS = {
    "phase": check_phase,
    "timeseries": check_timeseries,
    "error": check_error,
    "convergence": check_convergence,
    "stability": check_stability,
}
"""The check of each figure of a system: the plot function's signature, nothing computed."""


def check_figure(kind: str, system, **options) -> None:
    """Check the options and the size of the figure ``kind`` of ``system`` (the keyword
    arguments of its plot function) without drawing it: the InputError it would raise first.

    The figures of a fitted model, and unrolled graphs, are checked when they are drawn.
    """
    check = SYSTEM_CHECKS.get(kind)
    if check is not None:
        check(system, **options)


__all__ = [
    "FORMATS",
    "KINDS",
    "LAYOUTS",
    "OKABE_ITO",
    "PLOT_KINDS",
    "SYSTEM_CHECKS",
    "ConvergenceInfo",
    "Equilibrium",
    "FieldInfo",
    "GraphInfo",
    "GraphSpec",
    "OverviewInfo",
    "PhaseInfo",
    "RolloutInfo",
    "SavedPlotInfo",
    "SeriesInfo",
    "StabilityInfo",
    "TrainingInfo",
    "amplification",
    "check_figure",
    "classify",
    "convergence_plot",
    "error_plot",
    "find_equilibria",
    "forecast_plot",
    "house_style",
    "in_region",
    "jacobian_at",
    "model_graph",
    "overview_plot",
    "phase_portrait",
    "rnn_graph",
    "rnn_unrolled_plot",
    "rollout_plot",
    "save_figure",
    "stability_function",
    "stability_methods",
    "stability_plot",
    "stability_polynomial",
    "stepper_graph",
    "timeseries_plot",
    "training_curves",
    "trajectory_plot",
    "unrolled_plot",
    "vector_field_plot",
]
