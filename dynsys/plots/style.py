"""The house style of every figure: palette, rcParams, new figures, and saving them.

Figures are :class:`matplotlib.figure.Figure` objects with their own Agg canvas, never pyplot's
global figures, so plotting needs no display and leaves a backend the user chose untouched.
The palette is Okabe and Ito's, which readers with any common colour-vision deficiency can
tell apart.  A figure is drawn from matplotlib's defaults and :data:`RC` alone (the user's
matplotlibrc and styles do not reach it), and saved without dates or version stamps, with a
fixed SVG hash salt: the same figure gives the same bytes again with the same versions of
matplotlib (and the FreeType it renders text with).  Another version may move a pixel.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Colormap, ListedColormap
from matplotlib.figure import Figure

from .. import tables
from ..errors import DynsysError, InputError
from ..files import atomic_write

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
"""Okabe & Ito (2008), "Color Universal Design"."""

CYCLE = tuple(
    OKABE_ITO[c]
    for c in ("blue", "vermillion", "bluish green", "reddish purple", "orange", "sky blue", "black")
)
"""Colours for a sequence of unrelated lines (initial states), in order (no yellow: too pale)."""

METHOD_COLOURS = {
    "solve_ivp": OKABE_ITO["black"],
    "euler": OKABE_ITO["vermillion"],
    "semi_implicit_euler": OKABE_ITO["blue"],
    "midpoint": OKABE_ITO["reddish purple"],
    "heun": OKABE_ITO["orange"],
    "rk4": OKABE_ITO["bluish green"],
    "dopri5": OKABE_ITO["sky blue"],
    # the implicit and symplectic methods: darker hues apart from the eight above
    "implicit_euler": "#8C510A",
    "implicit_midpoint": "#01665E",
    "trapezoidal": "#762A83",
    "sdirk3": "#66A61E",
    "bdf2": "#B2182B",
    "verlet": "#4D4D4D",
    "yoshida4": "#E7298A",
}
"""Each method has one colour in every figure."""

GREY = "#777777"
FIELD_CMAP = "cividis"
"""Speed of the vector field: cividis is perceptually uniform and colour-vision-deficiency safe."""


def field_cmap() -> Colormap:
    """cividis without its palest fifth, so that fast streamlines stay visible on white."""
    base = mpl.colormaps[FIELD_CMAP]
    return ListedColormap(base(np.linspace(0.0, 0.8, 256)), name="cividis_dark")


FORMATS = (".png", ".svg", ".pdf")
DPI = 100

RC: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=list(CYCLE)),
    "lines.linewidth": 1.4,
    "image.cmap": FIELD_CMAP,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": "dynsys",
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "path.simplify": True,
}


@contextmanager
def house_style() -> Iterator[None]:
    """matplotlib's defaults with :data:`RC` for the duration of the block, whatever the user's
    matplotlibrc or style says (fonts, hinting, sizes), then the user's settings again.

    The backend and the other settings a style may not change are left as they are.
    """
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(RC)
        yield


def new_figure(width: float = 7.0, height: float = 5.0) -> Figure:
    """A figure of ``width`` x ``height`` inches with its own Agg canvas, constrained layout."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def root_figure(ax: Axes) -> Figure:
    """The top-level Figure that ``ax`` is drawn on (through any subfigures)."""
    fig = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def one_axes(
    ax: Axes | None, width: float = 7.0, height: float = 5.0, *, projection: str | None = None
) -> tuple[Figure, Axes]:
    """The Axes a one-panel figure draws on, and its Figure.

    With ``ax=None``, one Axes on a :func:`new_figure` of ``width`` x ``height`` inches; with a
    caller's Axes, that Axes and the figure it is on: nothing new is created, and the caller
    keeps the layout, size and legend placement of their own figure.
    """
    if ax is None:
        fig = new_figure(width, height)
        return fig, fig.add_subplot(projection=projection)
    check_axes("ax", ax, projection)
    return root_figure(ax), ax


def some_axes(axes: Any, count: int, what: str) -> tuple[Figure, list[Axes]]:
    """The caller's ``axes`` for a figure of ``count`` panels, checked: a sequence (or array) of
    ``count`` Axes.  ``what`` names the figure in the error."""
    flat = list(np.ravel(np.asarray(axes, dtype=object))) if axes is not None else []
    if len(flat) != count:
        raise InputError(
            f"axes of {what} must be {count} matplotlib Axes (one per panel), got {len(flat)}"
        )
    for item in flat:
        check_axes("axes", item, None)
    return root_figure(flat[0]), flat


def check_axes(field: str, ax: Any, projection: str | None) -> None:
    """A one-line InputError unless ``ax`` is an Axes (of ``projection`` when given)."""
    if not isinstance(ax, Axes):
        raise InputError(f"{field} must be a matplotlib Axes, got {type(ax).__name__}")
    if projection is not None and ax.name != projection:
        raise InputError(
            f"{field} must be an Axes with projection={projection!r} for this figure, "
            f"got {ax.name!r}"
        )


def method_colour(name: str) -> str:
    return METHOD_COLOURS.get(name, GREY)


def params_text(system) -> str:
    """'mu=1, beta=2.667' style parameter list of a system, for titles (4 significant digits)."""
    return tables.params_text(system.params, digits=4)


def number(value: Any) -> str:
    """A parameter's value in a title: 4 significant digits (2.667, 0.001, 1.5e+06)."""
    return f"{float(value):.4g}"


def system_title(system, what: str, width: int = 72) -> str:
    """'van_der_pol (mu=1): phase portrait', with the parameters on a second line when long."""
    params = params_text(system)
    if not params:
        return f"{system.name}: {what}"
    one_line = f"{system.name} ({params}): {what}"
    return one_line if len(one_line) <= width else f"{system.name}: {what}\n{params}"


def check_suffix(path: str | os.PathLike) -> str:
    """The format named by the suffix of ``path`` ('png', 'svg' or 'pdf'), or an InputError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"figure file name must end in one of {', '.join(FORMATS)}, got {str(path)!r}"
        )
    return suffix[1:]


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: float = DPI) -> Path:
    """Write ``fig`` to ``path`` as PNG, SVG or PDF (by suffix), atomically and reproducibly.

    The file appears complete or not at all (a temporary file beside it, then a rename); a
    failure to write it is a :class:`~dynsys.errors.WriteError` naming the path and the
    reason, one to render it a :class:`~dynsys.errors.DynsysError`.  The same figure gives the
    same bytes with the same matplotlib: no creation date or software stamp, a fixed SVG salt.
    """
    fmt = check_suffix(path)
    with house_style():
        try:
            return atomic_write(
                path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, metadata=METADATA[fmt])
            )
        except DynsysError:
            raise
        except (ValueError, ArithmeticError) as err:  # matplotlib could not render it
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DynsysError(f"cannot draw {path}: {reason}") from None


METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}
"""What :func:`save_figure` leaves out of each format: dates, and the names and versions of the
software (a matplotlib upgrade alone would change the bytes)."""
