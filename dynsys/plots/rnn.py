"""Figures of a fitted RNN: its training curves, its rollouts against solve_ivp, the vector
field a residual step map has learned, and its unrolled graph.

Each function takes the model as a model file (path), a :class:`~dynsys.rnn.io.LoadedModel`
or a :class:`~dynsys.rnn.pipeline.TrainedModel`, which carry the dataset spec and the normaliser
it was trained with (a bare network needs them passed beside it)::

    training_curves(histories)      the loss per epoch, training and validation, log scale
    rollout_plot(model, data=None, normalizer=None, *, n=4, seed=None)
    vector_field_plot(model, *, drive=0.0, xlim=None, ylim=None, seed=None)
    rnn_unrolled_plot(model, steps=4)

Rollouts run free from the initial state of each trajectory (as :mod:`dynsys.rnn.evaluate`
scores them), drawn over the solve_ivp states they are compared with.  Without ``data`` the
trajectories are drawn afresh from the model's training distribution with ``seed`` (default:
the dataset seed + 1, the trajectories of ``dynsys evaluate``).

The learned vector field of a residual Jordan network, whose output is an increment
s(n+1) = s(n) + Δ(s(n), x(n+1)), is Δ / h in physical units: the network's step divided by h
at a grid of states, every drive sample held at one value ``drive`` (default x = 0, where the
drive of the training data passes at each half period) and the parameters sampled in training
at the midpoints of their ranges.  It is drawn beside the true field g(t = 0, s, x) of the
system (``system.rhs``) on the same colour scale.  Δ / h is a secant of the flow, not its
derivative: even a perfect step map differs from g by O(h) (for the undamped oscillator by
exactly |(e^{hA} - I) / h - A| = h/2 + O(h^3) relative), so the info also reports the
difference from the exact h-step of the flow with the drive held (RK4 in 20 substeps).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..checks import finite_number
from ..errors import InputError
from ..rnn.angles import decode, encode
from ..rnn.base import Model
from ..rnn.data import Dataset, DatasetSpec, Normalizer, sample
from ..rnn.evaluate import model_rollout
from ..rnn.io import LoadedModel, load_model
from ..rnn.pipeline import TrainedModel
from ..rnn.train import History
from ..systems.base import System
from . import checks, marks
from .graph import FULL, STEP, GraphSpec, _Drawer, draw_unrolled
from .orbits import box, check_reference, check_size
from .results import GraphInfo
from .style import (
    CYCLE,
    GREY,
    OKABE_ITO,
    field_cmap,
    house_style,
    new_figure,
    number,
    one_axes,
    params_text,
    root_figure,
)

MAX_TRAJECTORIES = len(CYCLE)
"""A rollout plot draws at most this many trajectories, one colour each."""
FIELD_GRID = 41
"""States per axis at which the learned and true fields are evaluated."""
SUBSTEPS = 20
"""RK4 substeps of the exact h-step of the flow that the learned step is also compared with."""
TRAIN_COLOUR, VAL_COLOUR = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
REFERENCE = "reference"
PANEL_TITLE = 56
"""Characters per line of a figure's title drawn over one of the caller's panels."""
"""The gid of a solve_ivp line in a rollout plot (the predictions are ``marks.TRAJECTORY``)."""


@dataclass(frozen=True)
class TrainingInfo:
    """What :func:`training_curves` drew: the stages in order, the epochs of each (the length
    of its history; epoch 0, the initial loss, is drawn too), the best epoch of each on the
    continued epoch axis with its loss, and whether validation losses were drawn."""

    stages: tuple[str, ...]
    epochs: dict[str, int]
    best: dict[str, tuple[int, float]]
    validation: bool

    @property
    def total_epochs(self) -> int:
        return sum(self.epochs.values())


@dataclass(frozen=True)
class RolloutInfo:
    """What :func:`rollout_plot` drew: the trajectories (one colour each), the states against
    time (one panel each), the two states of the phase plane (None for one state), the
    prediction lines (every panel), and each trajectory's relative L2 error
    ||pred - ref|| / ||ref|| over its time and states."""

    trajectories: int
    states: tuple[str, ...]
    phase_plane: tuple[str, str] | None
    lines: int
    rel_l2: tuple[float, ...]
    h: float


@dataclass(frozen=True)
class FieldInfo:
    """What :func:`vector_field_plot` drew: the two states on the axes, the drive value held
    (None for an undriven system), the parameters, the limits, and the maximum differences
    max ||learned - g|| / max ||g|| against the true field g and, likewise, against the exact
    h-step secant of the flow (what the network was trained on), over the grid."""

    states: tuple[str, str]
    drive: float | None
    params: dict[str, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    max_rel_diff: float
    step_rel_diff: float


@dataclass(frozen=True)
class ModelSource:
    """A network with what it was trained on, as far as known (:func:`model_source`);
    ``where`` names it in errors ('model file jordan.npz'), and ``stages`` is the training
    record as read (checked when a figure draws it)."""

    model: Model
    spec: DatasetSpec | None
    normalizer: Normalizer | None
    stages: Any
    where: str = "the model"

    def title(self, system: bool = True) -> str:
        """'Jordan RNN (32 identity units, residual) on driven_oscillator' (with ``system``)."""
        where = f" on {self.spec.system}" if system and self.spec is not None else ""
        return f"{model_label(self.model)}{where}"

    def needs_data(self, what: str) -> DatasetSpec:
        """The dataset spec, or an InputError saying that ``what`` needs it."""
        if self.spec is None:
            raise InputError(
                f"{what} needs the dataset spec the model was trained on, and {self.where} has "
                "none: give a model file, a LoadedModel or a TrainedModel (or the spec beside "
                "the network)"
            )
        return self.spec


def model_source(
    obj: Any, spec: DatasetSpec | None = None, normalizer: Normalizer | None = None
) -> ModelSource:
    """The network and its training context from a path, LoadedModel, TrainedModel or RNNModel."""
    where = "the model"
    if isinstance(obj, str | os.PathLike):
        where = f"model file {obj}"
        obj = load_model(obj)
    if isinstance(obj, LoadedModel):
        training = obj.training
        if training is not None and not isinstance(training, Mapping):
            raise InputError(f"{where}: training must be a mapping, got {_kind(training)}")
        stages = (training or {}).get("stages")
        if spec is None:
            spec = _read(where, "dataset", DatasetSpec.from_dict, obj.dataset)
        if normalizer is None:
            normalizer = _read(where, "normalizer", Normalizer.from_dict, obj.normalizer)
            _check_channels(where, obj.model, normalizer)
        return ModelSource(obj.model, spec, normalizer, stages, where)
    if isinstance(obj, TrainedModel):
        stages = {name: h.to_dict() for name, h in obj.stages.items()}
        return ModelSource(obj.model, spec or obj.spec, normalizer or obj.normalizer, stages)
    if isinstance(obj, Model):
        return ModelSource(obj, spec, normalizer, None)
    raise InputError(
        "model must be a model file, a LoadedModel, a TrainedModel or an RNN, "
        f"got {type(obj).__name__}"
    )


def _kind(value: Any) -> str:
    """'a list', 'a string', 'null': what a JSON value is, for an error message."""
    if value is None:
        return "null"
    names = {str: "a string", bool: "a boolean", list: "a list", dict: "a mapping"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _read(where: str, field: str, parse, value: Any):
    """``parse(value)`` for a record of a model file (None when there is none), any failure a
    one-line InputError naming the file and the field."""
    if value is None or value == {}:
        return None
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: {field} must be a mapping, got {_kind(value)}")
    try:
        return parse(dict(value))
    except InputError as err:
        raise InputError(f"{where}: {field}: {err}") from None
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"{where}: {field} cannot be read ({reason})") from None


def _check_channels(where: str, net: Model, normalizer: Normalizer | None) -> None:
    """The normaliser scales what the network reads and writes: the same channel counts."""
    if normalizer is None:
        return
    for what, values, n in (
        ("input", normalizer.x_mean, getattr(net, "n_in", None)),
        ("output", normalizer.y_mean, getattr(net, "n_out", None)),
    ):
        if n is not None and len(values) != n:
            raise InputError(
                f"{where}: normalizer has {len(values)} {what} channels but the network has {n}"
            )


def model_label(m: Model) -> str:
    """'jordan (32 identity units, residual)': the kind and its sizes, from its config."""
    cfg = {k: v for k, v in m.config().items() if k not in ("kind", "n_in", "n_out", "seed")}
    if "n_hidden" in cfg and "activation" in cfg:
        parts = [f"{cfg.pop('n_hidden')} {cfg.pop('activation')} units"]
    else:
        parts = []
    cfg.pop("output", None) if cfg.get("output") == "identity" else None
    cfg.pop("dtype", None) if cfg.get("dtype") == "float64" else None
    parts += [k if v is True else f"{k} {v}" for k, v in cfg.items() if v is not False]
    return f"{m.kind} ({', '.join(parts)})" if parts else m.kind


def _spec_title(spec: DatasetSpec) -> str:
    """'driven_oscillator (m=1, k=1, c=0, A in [0.2, 1])'."""
    params = spec.base_system().params
    parts = [f"{k}={number(v)}" for k, v in params.items() if k not in spec.ranges]
    parts += [f"{k} in [{number(lo)}, {number(hi)}]" for k, (lo, hi) in spec.ranges.items()]
    return f"{spec.system} ({', '.join(parts)})" if parts else spec.system


# -- training curves -------------------------------------------------------------------------


def training_curves(
    histories: Any, *, title: str | None = None, ax: Axes | None = None
) -> tuple[Figure, TrainingInfo]:
    """The loss after each epoch (L-BFGS: iteration), training and validation, on a log axis.

    ``histories`` is a :class:`~dynsys.rnn.train.History`, a dict of stage name to History or
    ``History.to_dict()`` (as a model file keeps them), or a model (path, LoadedModel,
    TrainedModel).  Stages continue the epoch axis: stage k starts where stage k-1 ended, from
    its initial loss (epoch 0 of the stage, on the stage's own data).  The best epoch of each
    stage, whose parameters the stage kept, is marked.  ``ax``: the caller's Axes to draw on
    (default: a new 7.5 x 4.6 inch figure, its legend below the plot).
    """
    stages, head, default_title = _stages(histories)
    validation = False
    info_epochs: dict[str, int] = {}
    best: dict[str, tuple[int, float]] = {}
    with house_style():
        own = ax is None
        fig, ax = one_axes(ax, 7.5, 4.6)
        offset = 0
        positive = False
        for k, (name, stage) in enumerate(stages.items()):
            train = _losses(stage, "train")
            val = _losses(stage, "val")
            epochs = np.arange(offset, offset + len(train))
            ax.plot(epochs, train, color=TRAIN_COLOUR, lw=1.4, gid=marks.TRAJECTORY)
            positive |= bool(np.any(train > 0))
            if val is not None:
                validation = True
                ax.plot(epochs, val, color=VAL_COLOUR, lw=1.4, ls="--", gid=marks.TRAJECTORY)
            if k:
                ax.axvline(offset, color=GREY, lw=0.8, ls=":", zorder=0)
            ax.annotate(
                STAGE_NAMES.get(name, name),
                (offset, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                fontsize=8.5,
                color=GREY,
            )
            at = int(stage.get("best_epoch") or 0)
            y = (val if val is not None else train)[min(at, len(train) - 1)]
            ax.plot([offset + at], [y], "*", color="black", ms=10, zorder=5, gid="best")
            best[name] = (offset + at, float(y))
            info_epochs[name] = len(train) - 1
            offset += len(train) - 1
        if positive:
            ax.set_yscale("log")
            low, high = ax.get_ylim()
            ax.set_ylim(low, high * (high / low) ** 0.08)  # headroom for the stage names
        lbfgs = all(s.get("optimizer") == "lbfgs" for s in stages.values())
        ax.set_xlabel("iteration (L-BFGS)" if lbfgs else "epoch")
        ax.set_ylabel(HEAD_LOSS.get(head, "loss"))
        ax.set_title(title if title is not None else default_title)
        ax.grid(True, which="major", color="#DDDDDD", lw=0.6)
        last_at, last_loss = list(best.values())[-1]
        handles = [marks.line_handle(TRAIN_COLOUR, "training loss")]
        if validation:
            handles.append(marks.line_handle(VAL_COLOUR, "validation loss", ls="--"))
        which = "best epoch of each stage (kept; last" if len(best) > 1 else "best epoch (kept"
        handles.append(
            marks.line_handle(
                "black",
                f"{which}: {last_at}, loss {last_loss:.3g})",
                ls="none",
                marker="*",
                ms=9,
            )
        )
        marks.legend(ax, handles, own=fig if own else None, ncols=3)
    return fig, TrainingInfo(tuple(stages), info_epochs, best, validation)


STAGE_NAMES = {"fit": "fit", "whole": "whole trajectories", "closed_loop": "closed loop"}
"""How the stages of :func:`dynsys.rnn.pipeline.train_rnn` are labelled."""
HEAD_LOSS = {
    "identity": "loss: mean of ½|o - y|² (normalised units)",
    "softmax": "loss: mean cross-entropy",
}


def _stages(histories: Any) -> tuple[dict[str, dict[str, Any]], str | None, str]:
    """{stage: History.to_dict()}, the output head (None when unknown), and a default title."""
    if isinstance(histories, History):
        return {"fit": histories.to_dict()}, None, "training loss"
    if isinstance(histories, Mapping):
        if not histories:
            raise InputError("histories is empty: give at least one training stage")
        stages = {}
        for name, h in histories.items():
            stages[str(name)] = h.to_dict() if isinstance(h, History) else h
        _check_stages(stages, "histories", "histories")
        return stages, None, "training loss"
    src = model_source(histories)
    if src.stages is None:
        raise InputError(f"{src.where} has no training record to draw")
    if not isinstance(src.stages, Mapping) or not src.stages:
        raise InputError(
            f"{src.where}: training.stages must be a mapping of stage names to their records, "
            f"got {_kind(src.stages) if src.stages != {} else 'an empty mapping'}"
        )
    stages = {str(name): stage for name, stage in src.stages.items()}
    _check_stages(stages, src.where, f"{src.where}: training.stages")
    return stages, getattr(src.model, "output", "identity"), f"{src.title()}: training loss"


def _check_stages(stages: dict[str, Any], where: str, prefix: str) -> None:
    """Every record a training curve reads, checked: a one-line InputError naming ``where`` and
    the field (``prefix``.fit.train_loss) for anything else than what dynsys writes."""
    for name, stage in stages.items():
        if isinstance(stage, Mapping) and stage.get("optimizer") == "closed_form":
            raise InputError(
                "the model was fitted in closed form (one linear solve): it has no training "
                "curve to draw"
            )
        if not isinstance(stage, Mapping) or not isinstance(stage.get("train_loss"), list):
            raise InputError(
                f"{where} has no per-epoch losses for stage {name!r} (saved before dynsys kept "
                "them, or a summary only); train the model again to draw its training curves"
            )
        if not stage["train_loss"]:
            raise InputError(f"stage {name!r} ran no epochs: nothing to draw")
        field = f"{prefix}.{name}"
        for which in ("train", "val"):
            values = stage.get(f"{which}_loss")
            if values is not None and not isinstance(values, list):
                raise InputError(f"{field}.{which}_loss must be a list, got {_kind(values)}")
            for k, value in enumerate(values or []):
                if not _loss_value(value):
                    raise InputError(
                        f"{field}.{which}_loss[{k}] must be a number or null, got {value!r:.40}"
                    )
            first = stage.get(f"initial_{which}_loss")
            if not _loss_value(first):
                raise InputError(
                    f"{field}.initial_{which}_loss must be a number or null, got {first!r:.40}"
                )
        if values and len(values) != len(stage["train_loss"]):
            raise InputError(
                f"{field}: val_loss has {len(values)} epochs but train_loss has "
                f"{len(stage['train_loss'])}"
            )
        best = stage.get("best_epoch")
        if best is not None and (isinstance(best, bool) or not isinstance(best, int) or best < 0):
            raise InputError(f"{field}.best_epoch must be a whole number >= 0, got {best!r:.40}")


def _loss_value(value: Any) -> bool:
    """A loss as saved: a number (null where it was not finite)."""
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _losses(stage: Mapping[str, Any], which: str) -> np.ndarray | None:
    """The initial loss, then the loss after each epoch, None (non-finite) as nan."""
    values = stage.get(f"{which}_loss") or []
    if not values:
        return None
    first = stage.get(f"initial_{which}_loss")
    with np.errstate(over="ignore"):
        return np.array([first, *values], dtype=np.float64)  # None -> nan


# -- rollouts ------------------------------------------------------------------------------


def rollout_plot(
    model: Any,
    data: Dataset | None = None,
    normalizer: Normalizer | None = None,
    *,
    n: int = 4,
    seed: int | None = None,
    spec: DatasetSpec | None = None,
    ax: Axes | None = None,
    axes: Any = None,
) -> tuple[Figure, RolloutInfo]:
    """The model's free-running rollout against solve_ivp for ``n`` trajectories (1 to 7):
    each state against time, and the first two states in the phase plane.

    ``data`` (a :class:`~dynsys.rnn.data.Dataset`, its first n sequences are drawn) defaults
    to n fresh whole trajectories from the model's training distribution, seeded by ``seed``
    (default: the dataset seed + 1).  ``normalizer`` maps the model's units to physical ones
    (None with a bare network: it works in physical units).  ``axes``: the caller's panels, one
    per state then the phase plane (``ax`` for a system of one state; default: a new figure).
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_TRAJECTORIES:
        raise InputError(f"n must be a whole number from 1 to {MAX_TRAJECTORIES}, got {n!r}")
    src = model_source(model, spec, normalizer)
    if data is None:
        spec = src.needs_data("a rollout plot")
        given = _given(ax, axes, spec, "a rollout plot")
        _check_data(spec, int(n), f"a rollout plot of {src.where}", panels=3)
        data = sample(spec, int(n), _seed(spec, seed), whole=True)
    elif not isinstance(data, Dataset):
        raise InputError(f"data must be a Dataset, got {type(data).__name__}")
    else:
        given = _given(ax, axes, data.spec, "a rollout plot")
    if data.normalized:
        if src.normalizer is None:
            raise InputError("the dataset is normalised: give the normalizer to map it back")
        data = src.normalizer.inverse(data)
    if data.batch_size == 0:
        raise InputError("the dataset is empty: nothing to roll out")
    pred = model_rollout(src.model, data, src.normalizer)[:n]
    ref = data.states[:n]
    t = data.t0[:n, None] + data.t[None, :]
    spec = data.spec
    names = tuple(spec.base_system().states)
    with np.errstate(all="ignore"):
        rel = np.linalg.norm(pred - ref, axis=(1, 2)) / np.linalg.norm(ref, axis=(1, 2))
    pair = (0, 1) if len(names) >= 2 else None
    with house_style():
        own = None
        if given is None:
            fig = own = new_figure(11.0 if pair else 7.5, 1.5 + 2.0 * max(len(names), 2))
            grid = fig.add_gridspec(
                len(names), 2 if pair else 1, width_ratios=[1.6, 1] if pair else None
            )
            axes = []
            for k in range(len(names)):
                axes.append(fig.add_subplot(grid[k, 0], sharex=axes[0] if axes else None))
            for ax in axes[:-1]:
                ax.tick_params(labelbottom=False)
            phase = fig.add_subplot(grid[:, 1]) if pair else None
        else:
            fig = root_figure(given[0])
            axes, phase = given[: len(names)], (given[-1] if pair else None)
        for ax, name in zip(axes, names, strict=True):
            ax.set_ylabel(name)
        for ax in axes[-1:] if own else axes:  # the caller's panels may stand side by side
            ax.set_xlabel("t")
        lines = 0
        handles = []
        for i in range(len(pred)):
            colour = CYCLE[i % len(CYCLE)]
            for k, ax in enumerate(axes):
                _pair_of_lines(ax, t[i], ref[i, :, k], t[i], pred[i, :, k], colour)
                lines += 1
            if phase is not None:
                a, b = pair
                _pair_of_lines(
                    phase, ref[i, :, a], ref[i, :, b], pred[i, :, a], pred[i, :, b], colour
                )
                phase.plot(ref[i, :1, a], ref[i, :1, b], "o", color=colour, ms=4, zorder=4)
                lines += 1
            handles.append(marks.line_handle(colour, _trajectory_label(data, i, rel[i])))
        if phase is not None:
            phase.set(xlabel=names[pair[0]], ylabel=names[pair[1]])
            phase.set_title(f"phase plane ({names[pair[0]]}, {names[pair[1]]}); dots: s(0)")
        _heading(
            axes[0],
            f"{src.title(system=False)} on {_spec_title(spec)}",
            f"free-running rollout against solve_ivp, h = {spec.h:g}, "
            f"mean rel L2 error {np.mean(rel):.3g}",
            own=own,
            fontsize=10.5,
        )
        style = [
            marks.line_handle(GREY, "solve_ivp (wide, pale)", lw=3.0, alpha=0.4),
            marks.line_handle(GREY, "RNN rollout (thin)", lw=1.2),
        ]
        marks.legend(axes[-1] if phase is None else phase, style + handles, own=own, ncols=3)
    info = RolloutInfo(
        trajectories=len(pred),
        states=names,
        phase_plane=(names[0], names[1]) if pair else None,
        lines=lines,
        rel_l2=tuple(float(r) for r in rel),
        h=spec.h,
    )
    return fig, info


def _given(ax: Any, axes: Any, spec: DatasetSpec, what: str) -> list[Axes] | None:
    """The caller's panels of a rollout plot of ``spec``'s system, checked (None: none given):
    one per state, then the phase plane of the first two."""
    n = len(spec.base_system().states)
    return marks.given_axes(ax, axes, n + (n >= 2), what)


def _heading(ax: Axes, head: str, text: str, *, own: Figure | None, fontsize: float) -> None:
    """``head`` over the whole of ``own``, the figure dynsys made, and ``text`` over ``ax``;
    with the caller's Axes (``own=None``) both over ``ax``, leaving the caller's figure alone,
    in lines of at most :data:`PANEL_TITLE` characters (a panel is narrower than a figure)."""
    if own is not None:
        own.suptitle(head, fontsize=fontsize)
        ax.set_title(text)
    else:
        lines = f"{head}\n{text}".split("\n")
        ax.set_title("\n".join(textwrap.fill(line, PANEL_TITLE) for line in lines))


def _pair_of_lines(ax, x_ref, y_ref, x_pred, y_pred, colour) -> None:
    """solve_ivp wide and pale, the RNN thin on top, in the trajectory's colour."""
    ax.plot(x_ref, y_ref, color=colour, lw=3.0, alpha=0.4, gid=REFERENCE, zorder=2)
    ax.plot(x_pred, y_pred, color=colour, lw=1.2, gid=marks.TRAJECTORY, zorder=3)


def _trajectory_label(data: Dataset, i: int, rel: float) -> str:
    """'s0 = (0.3, -0.5), A = 0.61: rel L2 2.1e-07' (the parameters that were sampled)."""
    s0 = ", ".join(f"{v:.2g}" for v in data.s0[i])
    sampled = "".join(f", {k} = {data.params[k][i]:.3g}" for k in data.spec.ranges)
    return f"s0 = ({s0}){sampled}: rel L2 {rel:.2g}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _check_data(spec: DatasetSpec, n: int, what: str, panels: int = 1) -> None:
    """Refuse, before simulating them, ``n`` trajectories of the model's dataset too long to
    draw (its t_end and h come from the model file)."""
    system = midpoint_system(spec)
    what += f" ({n} trajectories of its dataset, t_end={spec.t_end:g}, h={spec.h:g})"
    t_span = (-float(spec.transient or 0.0), spec.t_end)
    check_size(system, (0.0, spec.t_end), spec.h, what=what, references=n, panels=panels)
    start = np.array([[(lo + hi) / 2 for lo, hi in spec.s0_ranges.values()]])
    check_reference(system, start, t_span, what)


def _seed(spec: DatasetSpec, seed: int | None) -> int:
    if seed is None:
        return spec.seed + 1
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative whole number, got {seed!r}")
    return int(seed)


# -- the learned vector field ---------------------------------------------------------------


def vector_field_plot(
    model: Any,
    *,
    drive: float = 0.0,
    xlim: Any = None,
    ylim: Any = None,
    seed: int | None = None,
    spec: DatasetSpec | None = None,
    normalizer: Normalizer | None = None,
    axes: Any = None,
) -> tuple[Figure, FieldInfo]:
    """The field a step-map model has learned, (f(s, x) - s) / h, beside the true g(0, s, x).

    For a model whose step map reads the current state alone (jordan, mlp, an NG-RC of one
    delay) on a system with two states.  Every drive sample the network reads is held at
    ``drive`` (ignored when the system is undriven); the parameters sampled in training sit
    at the midpoints of their ranges.  ``xlim``/``ylim`` default to the box of 8 trajectories
    of the training distribution (seeded by ``seed``, default the dataset seed + 1).
    ``axes``: the caller's two panels, learned then true (default: a new 11.5 x 5.4 inch figure);
    the colour bar takes its space from them.
    """
    given = None if axes is None else marks.given_axes(None, axes, 2, "a vector field plot")
    src = model_source(model, spec, normalizer)
    net = src.model
    if net.task != "step_map" or getattr(net, "context", 0):
        raise InputError(
            f"a learned vector field needs a step map of the current state alone "
            f"(s(n+1) = f(s(n), x(n+1))); {_article(net.kind)} {net.kind} model is not one"
        )
    spec = src.needs_data("a vector field plot")
    if src.normalizer is None:
        raise InputError(
            f"a vector field plot needs the normaliser the model was trained with, and "
            f"{src.where} has none"
        )
    system = midpoint_system(spec)
    if system.n_states != 2:
        raise InputError(
            f"a vector field plot needs a system with two states; {system.name} has "
            f"{system.n_states} ({', '.join(system.states)})"
        )
    held = None
    if system.driven:
        held = finite_number("drive", drive)
        if abs(held) > checks.LIMIT:
            raise InputError(
                f"drive must lie within -{checks.LIMIT:g} and {checks.LIMIT:g}, got {drive!r}"
            )
    xlim, ylim = checks.limits("xlim", xlim), checks.limits("ylim", ylim)
    if xlim is None or ylim is None:
        _check_data(spec, 8, f"the limits of a vector field plot of {src.where}")
        orbits = sample(spec, 8, _seed(spec, seed), whole=True).states
        auto = box(orbits)
        xlim, ylim = xlim or auto[0], ylim or auto[1]
    xs = np.linspace(*xlim, FIELD_GRID)
    ys = np.linspace(*ylim, FIELD_GRID)
    gx, gy = np.meshgrid(xs, ys)
    states = np.stack([gx.ravel(), gy.ravel()], axis=-1)
    learned = learned_field(net, spec, src.normalizer, system, states, held)
    x = None if held is None else np.float64(held)
    with np.errstate(all="ignore"):
        true = system.rhs(0.0, states, x, system.params)
        secant = (_frozen_step(system, states, x, spec.h) - states) / spec.h
    max_rel = _max_rel(learned, true)
    step_rel = _max_rel(learned, secant)
    names = system.states
    with house_style():
        own = None
        if given is None:
            fig = own = new_figure(11.5, 5.4)
            left = fig.add_subplot(1, 2, 1)
            right = fig.add_subplot(1, 2, 2, sharex=left, sharey=left)
        else:
            fig, (left, right) = root_figure(given[0]), given
        speeds = [np.hypot(f[:, 0], f[:, 1]) for f in (learned, true)]
        finite = np.concatenate(speeds)
        finite = finite[np.isfinite(finite)]
        top = float(np.percentile(finite, 95)) if finite.size else 1.0
        norm = Normalize(0.0, top if top > 0 else 1.0)
        for ax, field, speed in zip((left, right), (learned, true), speeds, strict=True):
            ax.set(xlim=xlim, ylim=ylim, xlabel=names[0], ylabel=names[1])
            stream = ax.streamplot(
                xs,
                ys,
                field[:, 0].reshape(gx.shape),
                field[:, 1].reshape(gx.shape),
                color=speed.reshape(gx.shape),
                cmap=field_cmap(),
                norm=norm,
                density=1.1,
                linewidth=0.8,
                arrowsize=0.9,
            )
        if own is not None:
            right.tick_params(labelleft=False)
            right.set_ylabel("")
        right.set_title(f"true: g(s, x) = d({names[0]}, {names[1]})/dt")
        extend = "max" if top < finite.max(initial=0.0) else "neither"
        bar = left.figure.colorbar(
            stream.lines, ax=[left, right], shrink=0.9, pad=0.01, extend=extend
        )
        bar.set_label(f"speed |d({names[0]}, {names[1]})/dt| (one scale for both)")
        held_text = "undriven" if held is None else f"drive x = {held:g} at every sample"
        _heading(
            left,
            f"{src.title()}: learned vector field\n{held_text}; {params_text(system)}; "
            f"max |learned - g| / max |g| = {max_rel:.2g} "
            f"(against the exact h-step of the flow: {step_rel:.2g})",
            f"learned: (model step - s) / h, h = {spec.h:g}",
            own=own,
            fontsize=10,
        )
    info = FieldInfo(
        states=(names[0], names[1]),
        drive=held,
        params={k: float(v) for k, v in system.params.items()},
        xlim=tuple(xlim),
        ylim=tuple(ylim),
        max_rel_diff=max_rel,
        step_rel_diff=step_rel,
    )
    return fig, info


def midpoint_system(spec: DatasetSpec) -> System:
    """The spec's system with each sampled parameter at the midpoint of its range."""
    mids = {k: (lo + hi) / 2 for k, (lo, hi) in spec.ranges.items()}
    return spec.base_system().with_params(**mids)


def learned_field(
    net: Model,
    spec: DatasetSpec,
    normalizer: Normalizer,
    system: System,
    states: np.ndarray,
    held: float | None,
) -> np.ndarray:
    """The field a step-map network has learned, (f_net(s, x) - s) / h at each of ``states``
    (G, n), in physical units, with the drive input held at ``held`` and the parameter inputs
    at ``system``'s values; (G, n)."""
    n_params = len(spec.param_inputs)
    n_drive = net.n_in - n_params
    if held is None and n_drive == 1 and not n_params:
        held = 1.0  # the one constant input channel of an undriven system without parameters
    if n_drive < 0 or (n_drive and held is None) or n_drive != len(normalizer.x_mean) - n_params:
        raise InputError(
            f"the network reads {net.n_in} inputs, which do not fit the dataset spec "
            f"({n_params} parameter inputs)"
        )
    row = [held] * n_drive + [float(system.params[k]) for k in spec.param_inputs]
    with np.errstate(all="ignore"):
        scaled = normalizer.scale_inputs(np.array(row, dtype=np.float64))
    if not np.all(np.isfinite(scaled)):
        raise InputError(
            f"the inputs ({', '.join(f'{v:g}' for v in row)}) are not finite once scaled by the "
            "model's normaliser: take a smaller drive"
        )
    X = np.broadcast_to(scaled, (len(states), 1, net.n_in))
    encoded = encode(states, spec.angles)  # angles as (cos, sin), as the model saw them
    out = net.predict(np.ascontiguousarray(X), h0=normalizer.scale_states(encoded))
    pair = np.stack([encoded, normalizer.unscale_states(out[:, 0])], axis=1)
    return (decode(pair, spec.angles, states)[:, 1] - states) / spec.h


def _frozen_step(system: System, s: np.ndarray, x, h: float) -> np.ndarray:
    """The h-step of ds/dt = g(0, s, x) with the drive held at x: RK4 in SUBSTEPS substeps."""
    k = h / SUBSTEPS

    def g(u):
        return system.rhs(0.0, u, x, system.params)

    for _ in range(SUBSTEPS):
        k1 = g(s)
        k2 = g(s + k / 2 * k1)
        k3 = g(s + k / 2 * k2)
        k4 = g(s + k * k3)
        s = s + k / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return s


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """max ||a - b|| / max ||b|| over the grid (not pointwise: g vanishes at equilibria)."""
    with np.errstate(all="ignore"):
        scale = np.max(np.linalg.norm(b, axis=-1))
        return float(np.max(np.linalg.norm(a - b, axis=-1)) / scale)


# -- the unrolled graph ------------------------------------------------------------------------


def model_graph(model: Any) -> GraphSpec:
    """The :class:`~dynsys.plots.graph.GraphSpec` of a network, labelled with its sizes.

    Elman: h(t-1) -> f -> h(t) with W, x(t) into f with U, o(t) = c + h(t) V above.  Jordan:
    the fed-back output is the chain, o(t-1) -> h -> o(t), W into the hidden layer h and V
    out of it (drawn by :func:`rnn_unrolled_plot`).  Row vectors as in the code:
    a(t) = b + r(t-1) W + x(t) U, so U is n_in × n_hidden.
    """
    src = model_source(model)
    m = src.model
    if not {"U", "W", "V"} <= set(m.param_shapes) or not hasattr(m, "activation"):
        raise InputError(
            f"the unrolled graph draws networks of one hidden layer with weights U, W and V; "
            f"{_article(m.kind)} {m.kind} model is not one"
        )
    shapes = m.param_shapes
    sizes = ", ".join(f"{k} {' × '.join(map(str, shapes[k]))}" for k in ("U", "W", "V"))
    theta = f"θ = ({sizes}, b, c): {m.n_params:,} parameters"
    spec = src.spec
    names = spec.base_system().states if spec is not None else ()
    inputs = ""
    if src.normalizer is not None and src.normalizer.input_names:
        inputs = f" = ({', '.join(map(str, src.normalizer.input_names))})"
    sizes = (
        f"x(t) ∈ ℝ{_sup(m.n_in)}{inputs},  h(t) ∈ ℝ{_sup(m.n_hidden)},  "
        f"o(t) ∈ ℝ{_sup(m.n_out)}" + (f" ≈ ({', '.join(names)}), normalised" if names else "")
    )
    on = f" on {spec.system}" if spec is not None else ""
    act = m.activation
    if m.task == "driven_response":
        start = "h(0) = 0"
        if spec is not None and spec.initial_state == "h0":
            start = "h(0) = (s(0), 0, ..., 0)"
        return GraphSpec(
            cell=f"f\n{m.n_hidden} {act}",
            state="h",
            inputs="x",
            outputs="o",
            params=theta,
            weights=("U", "W", "V"),
            title=f"Elman RNN{on}, unrolled",
            caption=f"h(t) = {act}(b + h(t-1) W + x(t) U),  o(t) = c + h(t) V,  {start}\n{sizes}",
        )
    plus = "o(t-1) + " if getattr(m, "residual", False) else ""
    residual = "residual " if plus else ""
    return GraphSpec(
        cell=f"h\n{m.n_hidden} {act}",
        state="o",
        inputs="x",
        outputs=None,
        params=theta,
        weights=("U", "W", ""),
        title=f"{residual}Jordan RNN{on}, unrolled",
        caption=f"h(t) = {act}(b + o(t-1) W + x(t) U),  o(t) = {plus}c + h(t) V,  o(0) = s(0)"
        f"\n{sizes}",
    )


def _sup(n: int) -> str:
    """12 -> '¹²'."""
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def rnn_unrolled_plot(
    model: Any, steps: int = 4, *, ax: Axes | None = None
) -> tuple[Figure, GraphInfo]:
    """The unrolled graph of a network (see :func:`model_graph`) for ``steps`` steps, on the
    caller's Axes ``ax`` (default: a new figure sized to the graph)."""
    spec = model_graph(model)
    fig, ax, info = draw_unrolled(spec, steps, ax)
    if spec.state == "o":  # Jordan: V labels the edge from the hidden layer to o(t)
        shown = list(range(1, steps + 1)) if steps <= FULL else [1, 2, None, steps]
        x = 0.0
        with house_style():
            for n in shown:
                if n is not None:
                    start = x + STEP / 2 + _Drawer.BOX[0] / 2
                    end = x + STEP - _Drawer.RADIUS
                    ax.text(
                        (start + end) / 2,
                        0.18,
                        "V",
                        ha="center",
                        va="center",
                        fontsize=9,
                        style="italic",
                        zorder=4,
                    )
                x += STEP
    return fig, info
