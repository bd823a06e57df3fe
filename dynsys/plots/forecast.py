"""The forecasting benchmark as a figure: every model kind beside the steppers, per system.

Left: the median rel L2 of each kind's free-running rollout (log scale) on each non-chaotic
system, one marker per kind, with semi-implicit Euler and RK4 at the same h as short bars.
Right, for the chaotic systems: the median valid time in Lyapunov times of each kind, with
RK4's and the solver-agreement horizon (where DOP853 at two tolerances part) as lines.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import InputError
from . import marks
from .style import OKABE_ITO, house_style, method_colour, new_figure, root_figure

_KIND_COLOURS = ("orange", "sky blue", "bluish green", "reddish purple", "vermillion", "blue")
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")


def forecast_plot(
    table: Any, *, ax: Axes | None = None, axes: Any = None
) -> tuple[Figure, dict[str, Any]]:
    """The figure of a :class:`~dynsys.rnn.forecast.ForecastTable`, and what it drew:
    {"systems": [...], "kinds": [...], "chaotic": [...]}.  ``axes``: the caller's panels, one
    per kind of system the table holds (non-chaotic, then chaotic; ``ax`` when it holds one
    kind); default: a new figure."""
    from ..rnn.forecast import STEPPER_ROWS

    medians = table.medians()
    if not medians:
        raise InputError("the forecast table has no finished fit to draw")
    systems = list(dict.fromkeys(s for s, _ in medians))
    kinds = list(dict.fromkeys(m for _, m in medians if m not in STEPPER_ROWS))
    chaotic = [
        s
        for s in systems
        if any(v["valid_time_lyapunov"] is not None for (t, _), v in medians.items() if t == s)
    ]
    calm = [s for s in systems if s not in chaotic]
    panels = int(bool(calm)) + int(bool(chaotic))
    given = marks.given_axes(ax, axes, panels, "a forecast figure")
    colours = {k: OKABE_ITO[_KIND_COLOURS[i % len(_KIND_COLOURS)]] for i, k in enumerate(kinds)}
    markers = {k: _MARKERS[i % len(_MARKERS)] for i, k in enumerate(kinds)}
    with house_style():
        if given is None:
            fig = new_figure(12.0 if chaotic and calm else 8.0, 5.0)
            axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
        else:
            fig, axes = root_figure(given[0]), given
        if calm:
            ax = axes[0]
            x = np.arange(len(calm))
            width = 0.8 / max(len(kinds), 1)
            for j, kind in enumerate(kinds):
                values = [medians.get((s, kind), {}).get("rel_l2") for s in calm]
                xs = x - 0.4 + width * (j + 0.5)
                ys = [np.nan if v is None else v for v in values]
                ax.scatter(xs, ys, color=colours[kind], marker=markers[kind], label=kind, zorder=3)
            for name, style in (("semi_implicit_euler", "--"), ("rk4", "-")):
                for i, s in enumerate(calm):
                    v = medians.get((s, name), {}).get("rel_l2")
                    if v is not None:
                        ax.hlines(
                            v,
                            i - 0.45,
                            i + 0.45,
                            colors=method_colour(name),
                            linestyles=style,
                            linewidth=1.6,
                            label=name.replace("_", " ") if i == 0 else None,
                        )
            ax.set_yscale("log")
            ax.set_xticks(x, [s.replace("_", "\n") for s in calm], fontsize=8)
            ax.set_ylabel("rel L2 of the rollout against solve_ivp (median over seeds)")
            ax.set_title("non-chaotic systems: lower is better")
            ax.legend(fontsize=8, ncol=2)
        if chaotic:
            ax = axes[-1]
            x = np.arange(len(chaotic))
            width = 0.8 / max(len(kinds), 1)
            for j, kind in enumerate(kinds):
                values = [medians.get((s, kind), {}).get("valid_time_lyapunov") for s in chaotic]
                ax.bar(
                    x - 0.4 + width * (j + 0.5),
                    [v or 0.0 for v in values],
                    width,
                    color=colours[kind],
                    label=kind,
                )
            for i, s in enumerate(chaotic):
                rk4 = medians.get((s, "rk4"), {}).get("valid_time_lyapunov")
                if rk4 is not None:
                    ax.hlines(
                        rk4,
                        i - 0.45,
                        i + 0.45,
                        colors=method_colour("rk4"),
                        linewidth=1.6,
                        label="rk4" if i == 0 else None,
                    )
                lyap = _exponent(medians, s)
                horizon = table.agreement.get(s)
                if horizon is not None and lyap is not None:
                    ax.hlines(
                        horizon * lyap,
                        i - 0.45,
                        i + 0.45,
                        colors=OKABE_ITO["black"],
                        linestyles=":",
                        linewidth=1.6,
                        label="solvers agree until" if i == 0 else None,
                    )
            ax.set_xticks(x, chaotic)
            ax.set_ylabel("valid time, Lyapunov times (median over seeds)")
            ax.set_title("chaotic systems: higher is better")
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        head = "Free-running forecasts of fitted models beside the steppers at the same h"
        if given is None:
            fig.suptitle(head)
        else:  # over the first panel, leaving the caller's figure alone
            axes[0].set_title(f"{textwrap.fill(head, 56)}\n{axes[0].get_title()}")
    return fig, {"systems": systems, "kinds": kinds, "chaotic": chaotic}


def _exponent(medians: dict, system: str) -> float | None:
    """The Lyapunov exponent behind a system's rows: valid_time_lyapunov / valid_time."""
    for (s, _), v in medians.items():
        if s == system and v.get("valid_time_lyapunov") and v.get("valid_time"):
            return v["valid_time_lyapunov"] / v["valid_time"]
    return None
