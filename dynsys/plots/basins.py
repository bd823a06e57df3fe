"""The basin map: each initial state of the plane coloured by the attractor it ends on.

One colour per attractor (the house cycle), escaped states grey, undecided ones white; the
cells are one rasterised image (small SVG and PDF files, vector axes and labels).  Fixed
points are marked by a white-edged black dot, cycles by their box, dashed.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..basins import ESCAPED, UNDECIDED, Basins
from . import marks
from .style import CYCLE, house_style, number, one_axes

ESCAPED_COLOUR = "#9E9E9E"
UNDECIDED_COLOUR = "#FFFFFF"


@dataclass(frozen=True)
class BasinsInfo:
    """What a basin map drew: ``basins`` coloured attractors (with at least one state),
    the fraction of the plane each label covers, by name, and the limits."""

    basins: int
    fractions: dict[str, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def basin_colour(label: int) -> str:
    """The colour of a label: the house cycle for attractors, grey escaped, white undecided."""
    if label == ESCAPED:
        return ESCAPED_COLOUR
    if label == UNDECIDED:
        return UNDECIDED_COLOUR
    return CYCLE[label % len(CYCLE)]


def basins_plot(b: Basins, *, ax: Axes | None = None) -> tuple[Figure, BasinsInfo]:
    """Draw the basin map ``b`` on ``ax``, the caller's Axes (default: a new 6.6 x 6.4 inch
    figure, its legend below the map)."""
    k = len(b.attractors)
    labels = [UNDECIDED, ESCAPED, *range(k)]
    cmap = ListedColormap([basin_colour(v) for v in labels])
    image = b.labels + 2  # UNDECIDED -> 0, ESCAPED -> 1, attractor a -> a + 2
    i, j = b.states
    counts, total = b.counts, b.labels.size
    with house_style():
        own = ax is None
        fig, ax = one_axes(ax, 6.6, 6.4)
        ax.imshow(
            image,
            cmap=cmap,
            vmin=-0.5,
            vmax=len(labels) - 0.5,
            origin="lower",
            extent=(*b.xlim, *b.ylim),
            interpolation="nearest",
            aspect="auto",
            rasterized=True,
        )
        ax.set(xlim=b.xlim, ylim=b.ylim, xlabel=b.state_names[i], ylabel=b.state_names[j])
        handles = []
        for a, attractor in enumerate(b.attractors):
            if counts[a] == 0:
                continue
            colour = basin_colour(a)
            if attractor.kind == "fixed point":
                ax.plot(
                    [attractor.state[i]],
                    [attractor.state[j]],
                    ls="none",
                    marker="o",
                    ms=8,
                    mfc="black",
                    mec="white",
                    mew=1.3,
                    zorder=6,
                    gid=marks.EQUILIBRIUM,
                    clip_on=True,
                )
            else:
                lo, hi = attractor.low, attractor.high
                ax.add_patch(
                    Rectangle(
                        (lo[i], lo[j]),
                        hi[i] - lo[i],
                        hi[j] - lo[j],
                        fill=False,
                        ec="black",
                        ls="--",
                        lw=1.0,
                        zorder=6,
                    )
                )
            share = 100 * counts[a] / total
            handles.append(Patch(fc=colour, ec="black", lw=0.5, label=f"{b.name(a)}: {share:.1f}%"))
        for label in (ESCAPED, UNDECIDED):
            if counts[label]:
                share = 100 * counts[label] / total
                handles.append(
                    Patch(
                        fc=basin_colour(label),
                        ec="black",
                        lw=0.5,
                        label=f"{b.name(label)}: {share:.1f}%",
                    )
                )
        params = ", ".join(f"{n}={number(v)}" for n, v in b.params.items())
        grid = b.labels.shape[0]
        t_end = b.settings.get("t_end")
        ax.set_title(
            f"{b.system} ({params}):\nbasins of attraction, {grid} x {grid} initial states"
            + (f", t_end = {number(t_end)}" if t_end is not None else "")
        )
        marks.legend(ax, handles, own=fig if own else None, ncols=2)
    fractions = {b.name(v): counts[v] / total for v in (*range(k), ESCAPED, UNDECIDED)}
    drawn = sum(1 for a in range(k) if counts[a])
    return fig, BasinsInfo(drawn, fractions, tuple(b.xlim), tuple(b.ylim))
