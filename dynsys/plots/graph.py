"""The unrolled computational graph of a recurrence s(n+1) = f(s(n), x(n+1); θ), drawn with
matplotlib patches (no graphviz).

A :class:`GraphSpec` says what to draw; :func:`stepper_graph` builds the one of a stepper
applied to a system (f labelled with the method, θ the system's parameters and h), and
:func:`rnn_graph` the one of a recurrent network h(t) = f(h(t-1), x(t); U, W), o(t) = V h(t),
with the weight matrices on the edges.  :func:`unrolled_plot` draws either::

    θ  - - - - - - - - - - - - - - - - (shared by every step)
               :             :
    s(0) --> [ f ] --> s(1) --> [ f ] --> s(2)  ...
               ^             ^
              x(1)          x(2)

A long recurrence is drawn as its first two steps, an ellipsis, and its last step.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from fractions import Fraction

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from ..checks import positive_number
from ..errors import InputError
from ..steppers import get_stepper
from ..systems.base import System
from .results import GraphInfo
from .style import GREY, OKABE_ITO, house_style, one_axes

FULL = 6
"""Recurrences of up to this many steps are drawn in full."""
STEP = 3.2
"""Horizontal distance from one state node to the next."""


@dataclass(frozen=True)
class GraphSpec:
    """What an unrolled graph shows.

    ``cell`` is the text in each f box (e.g. "f\\nrk4"); ``state``, ``inputs`` and ``outputs``
    name the node sequences (``inputs``/``outputs`` None to leave them out); ``params`` names
    the shared parameters; ``weights`` optionally labels the (input, recurrent, output) edges,
    as U, W, V in an RNN; ``title`` and ``caption`` go above and below.
    """

    cell: str = "f"
    state: str = "s"
    inputs: str | None = "x"
    outputs: str | None = None
    params: str = "θ"
    weights: tuple[str, str, str] | None = None
    title: str = ""
    caption: str = ""


def stepper_graph(system: System, method: str, h: float | None = None) -> GraphSpec:
    """The graph of ``method`` applied to ``system``: f is one step of the method, θ the
    parameters (and h), x(n+1) the drive samples the step reads (absent when undriven)."""
    stepper = get_stepper(method, system)
    if h is not None:
        h = positive_number("dt", h)
    names = ", ".join(system.params) or "none"
    if system.kind == "map":
        theta, caption = f"θ = ({names})", "s(n+1) = f(s(n); θ), the map itself"
    else:
        step = "h" if h is None else f"h = {h:g}"
        theta = f"θ = ({names}), {step}"
        inputs = "s(n), x(n+1)" if system.driven else "s(n)"
        caption = f"s(n+1) = f({inputs}; θ): one step of {method} ({stepper.description})"
        if system.driven:
            nodes = ", ".join(_fraction(c) for c in stepper.nodes)
            caption += f"\nx(n+1) = the drive x(t_n + c h) at c ∈ {{{nodes}}}"
    label = "f\n" + "\n".join(textwrap.wrap(method.replace("_", " "), 13))
    return GraphSpec(
        cell=label,
        state="s",
        inputs="x" if system.driven else None,
        params=theta,
        title=f"{method} on {system.name}, unrolled",
        caption=caption,
    )


def rnn_graph(hidden: str = "h", inputs: str = "x", outputs: str = "o") -> GraphSpec:
    """The graph of an Elman RNN h(t) = tanh(W h(t-1) + U x(t) + b), o(t) = V h(t) + c."""
    return GraphSpec(
        cell="f",
        state=hidden,
        inputs=inputs,
        outputs=outputs,
        params="θ = (U, W, V, b, c)",
        weights=("U", "W", "V"),
        title="a recurrent network, unrolled",
        caption=f"{hidden}(t) = tanh(W {hidden}(t-1) + U {inputs}(t) + b),  "
        f"{outputs}(t) = V {hidden}(t) + c",
    )


def unrolled_plot(
    spec: GraphSpec, steps: int = 4, *, ax: Axes | None = None
) -> tuple[Figure, GraphInfo]:
    """Draw ``spec`` unrolled for ``steps`` steps (1 to 1000; more than 6 are elided) on the
    caller's Axes ``ax`` (default: a new figure sized to the graph, the caption below)."""
    fig, _, info = draw_unrolled(spec, steps, ax)
    return fig, info


def draw_unrolled(spec: GraphSpec, steps: int, ax: Axes | None) -> tuple[Figure, Axes, GraphInfo]:
    """:func:`unrolled_plot`, returning the Axes it drew on as well."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise InputError(f"steps must be a whole number from 1 to 1000, got {steps!r}")
    shown = list(range(1, steps + 1)) if steps <= FULL else [1, 2, None, steps]
    tall = spec.outputs is not None
    xlim = (-0.9, STEP * len(shown) + 0.9)
    ylim = (-2.4 if spec.inputs else -0.9, 3.3 if tall else 2.0)
    scale = 0.5  # inches per unit of the drawing
    spare = max(0.0, 6.0 / scale - (xlim[1] - xlim[0])) / 2  # a short chain: centred, not blown up
    xlim = (xlim[0] - spare, xlim[1] + spare)
    width = min(scale * (xlim[1] - xlim[0]), 15.0)
    height = (ylim[1] - ylim[0]) * width / (xlim[1] - xlim[0]) + 1.1
    with house_style():
        own = ax is None
        fig, ax = one_axes(ax, width, max(height, 2.6))
        ax.set_axis_off()
        drawer = _Drawer(ax, spec)
        drawer.chain(shown)
        ax.set(xlim=xlim, ylim=ylim, aspect="equal")
        if spec.title:
            ax.set_title(spec.title + f" for {steps} step{'s' if steps > 1 else ''}")
        if spec.caption and own:
            fig.text(0.5, 0.01, spec.caption, ha="center", va="bottom", fontsize=9, color="#333333")
        elif spec.caption:  # under the drawing, on the caller's Axes
            ax.text(
                0.5,
                0.0,
                spec.caption,
                transform=ax.transAxes,
                ha="center",
                va="top",
                fontsize=9,
                color="#333333",
            )
    return fig, ax, GraphInfo(steps, tuple(drawer.nodes), steps > FULL)


class _Drawer:
    """Places the nodes of one unrolled graph on ``ax``; records their labels in order."""

    RADIUS = 0.42
    BOX = (1.3, 0.95)

    def __init__(self, ax, spec: GraphSpec):
        self.ax, self.spec = ax, spec
        self.nodes: list[str] = []

    def chain(self, shown: list[int | None]) -> None:
        spec = self.spec
        self.state(0.0, f"{spec.state}(0)")
        boxes = []
        x = 0.0
        for k, n in enumerate(shown):
            if n is None:  # the ellipsis, then the state the last shown step starts from
                self.text(x + STEP / 2, 0.0, "⋯", size=20)
                self.arrow((x + self.RADIUS, 0), (x + STEP / 2 - 0.35, 0), dashed=True)
                x += STEP
                self.arrow((x - STEP / 2 + 0.35, 0), (x - self.RADIUS, 0), dashed=True)
                self.state(x, f"{spec.state}({shown[k + 1] - 1})")
                continue
            box_x = x + STEP / 2
            boxes.append(box_x)
            self.cell(box_x)
            w = spec.weights
            self.arrow((x + self.RADIUS, 0), (box_x - self.BOX[0] / 2, 0), label=w and w[1])
            x += STEP
            self.arrow((box_x + self.BOX[0] / 2, 0), (x - self.RADIUS, 0))
            self.state(x, f"{spec.state}({n})")
            if spec.inputs:
                self.input(box_x, f"{spec.inputs}({n})", w and w[0])
            if spec.outputs:
                self.output(x, f"{spec.outputs}({n})", w and w[2])
        self.params(boxes)

    # -- pieces ------------------------------------------------------------------------
    def state(self, x: float, label: str) -> None:
        self.ax.add_patch(Circle((x, 0), self.RADIUS, fc="white", ec="black", lw=1.4, zorder=3))
        self.text(x, 0, label)
        self.nodes.append(label)

    def cell(self, x: float) -> None:
        w, h = self.BOX
        self.ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, -h / 2),
                w,
                h,
                boxstyle="round,pad=0.04",
                fc="#E8F1F8",
                ec=OKABE_ITO["blue"],
                lw=1.4,
                zorder=3,
            )
        )
        lines = self.spec.cell.split("\n")
        self.text(x, 0.15 if len(lines) > 1 else 0, lines[0], size=12, style="italic")
        if len(lines) > 1:
            self.text(x, -0.08, "\n".join(lines[1:]), size=7.5, color="#333333", va="top")
        self.nodes.append(lines[0])

    def input(self, x: float, label: str, weight: str | None) -> None:
        y = -1.75
        self.ax.add_patch(Circle((x, y), self.RADIUS, fc="#FFF4DC", ec="black", lw=1.2, zorder=3))
        self.text(x, y, label)
        self.arrow((x, y + self.RADIUS), (x, -self.BOX[1] / 2 - 0.05), label=weight)
        self.nodes.append(label)

    def output(self, x: float, label: str, weight: str | None) -> None:
        y = 1.55
        self.ax.add_patch(Circle((x, y), self.RADIUS, fc="#F3E4EE", ec="black", lw=1.2, zorder=3))
        self.text(x, y, label)
        self.arrow((x, self.RADIUS), (x, y - self.RADIUS), label=weight)
        self.nodes.append(label)

    def params(self, boxes: list[float]) -> None:
        """θ at the left of a dashed bus above the boxes, dropping into each: shared by all."""
        y = 2.7 if self.spec.outputs else 1.45
        left = -0.6
        self.ax.plot([left, boxes[-1]], [y, y], color=GREY, ls="--", lw=1.0, zorder=1)
        for bx in boxes:
            self.arrow((bx, y), (bx, self.BOX[1] / 2 + 0.05), dashed=True, colour=GREY)
        self.text(left - 0.05, y + 0.28, self.spec.params, ha="left", size=9, color="#333333")
        self.nodes.append(self.spec.params)

    def arrow(self, start, end, *, label=None, dashed=False, colour="black") -> None:
        self.ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=12,
                lw=1.2,
                color=colour,
                ls="--" if dashed else "-",
                zorder=2,
                shrinkA=0,
                shrinkB=0,
            )
        )
        if label:
            mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
            dx, dy = (0.0, 0.18) if start[1] == end[1] else (0.16, 0.0)
            self.text(
                mx + dx, my + dy, label, size=9, style="italic", ha="left" if dx else "center"
            )

    def text(self, x, y, s, *, size=10, ha="center", va="center", **kw) -> None:
        self.ax.text(x, y, s, ha=ha, va=va, fontsize=size, zorder=4, **kw)


def _fraction(c: float) -> str:
    """0.5 -> '1/2'."""
    return str(Fraction(c).limit_denominator(100))
