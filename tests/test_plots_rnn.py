"""The figures of a fitted RNN: training curves, rollouts, the learned vector field and the
unrolled graph, from tiny networks trained once per module, and their plotting commands."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from images import assert_image, lines  # tests/images.py

from dynsys import InputError
from dynsys.cli import main
from dynsys.plots import (
    model_graph,
    rnn_unrolled_plot,
    rollout_plot,
    save_figure,
    training_curves,
    vector_field_plot,
)
from dynsys.plots.rnn import REFERENCE
from dynsys.rnn import ElmanRNN, JordanRNN
from dynsys.rnn.data import DatasetSpec, sample
from dynsys.rnn.evaluate import rollout_table
from dynsys.rnn.io import load_model, save_model
from dynsys.rnn.pipeline import save_trained, train_model
from dynsys.rnn.settings import plan_fit


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def train(kind: str, h: float = 0.1, **train_changes):
    """A tiny network of the driven oscillator's recipe: 6 training trajectories of 5 time units."""
    plan = plan_fit(
        "driven_oscillator",
        kind,
        dataset={"n_train": 6, "n_val": 2, "n_test": 3, "t_end": 5.0, "h": h},
        model={"hidden": 8},
        training={"epochs": 100} | train_changes,
    )
    return train_model(plan, progress=False)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{name: (TrainedModel, saved path)}: an identity Jordan step map at h = 0.1 and 0.01, and an
    Elman network fitted in two stages (20-step windows, then whole trajectories)."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name, trained in (
        ("jordan", train("jordan")),
        ("jordan_fine", train("jordan", h=0.01)),
        ("elman", train("elman", whole_epochs=30)),
    ):
        out[name] = (trained, save_trained(trained, folder / f"{name}.npz"))
    return out


# -- training curves ------------------------------------------------------------------------


def test_the_model_file_keeps_the_losses_of_every_epoch(models):
    trained, path = models["elman"]
    stages = load_model(path).training["stages"]
    assert list(stages) == ["fit", "whole"]
    for name, history in trained.stages.items():
        assert stages[name]["train_loss"] == pytest.approx(history.train_loss)
        assert stages[name]["val_loss"] == pytest.approx(history.val_loss)
        assert stages[name]["epochs_run"] == history.epochs_run  # the summary's keys stay


def test_training_curves_draw_every_epoch_and_the_best(models):
    trained, path = models["jordan"]
    history = trained.history
    fig, info = training_curves(path)
    ax = fig.axes[0]
    assert info.stages == ("fit",) and info.epochs == {"fit": history.epochs_run}
    assert info.validation
    train_line, val_line = lines(ax)
    assert len(train_line.get_xdata()) == history.epochs_run + 1  # and epoch 0
    np.testing.assert_allclose(train_line.get_ydata()[1:], history.train_loss)
    np.testing.assert_allclose(val_line.get_ydata()[1:], history.val_loss)
    assert train_line.get_ydata()[0] == pytest.approx(history.initial_train_loss)
    (best,) = lines(ax, "best")
    assert best.get_xdata()[0] == history.best_epoch
    assert best.get_ydata()[0] == pytest.approx(history.best_loss)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration (L-BFGS)"
    assert "jordan (8 identity units, residual) on driven_oscillator" in ax.get_title()


def test_training_stages_continue_the_epoch_axis(models):
    trained, path = models["elman"]
    fit, whole = trained.stages["fit"], trained.stages["whole"]
    fig, info = training_curves(path)
    assert info.epochs == {"fit": fit.epochs_run, "whole": whole.epochs_run}
    assert info.total_epochs == fit.epochs_run + whole.epochs_run
    drawn = lines(fig.axes[0])
    assert len(drawn) == 4  # training and validation of each stage
    assert drawn[2].get_xdata()[0] == fit.epochs_run  # whole starts where fit ended
    assert drawn[2].get_xdata()[-1] == info.total_epochs
    assert info.best["whole"][0] == fit.epochs_run + whole.best_epoch
    assert {"fit", "whole trajectories"} <= set(texts(fig))


def test_training_curves_from_histories(models):
    trained, _ = models["elman"]
    _, info = training_curves(trained.history)
    assert info.stages == ("fit",) and info.epochs["fit"] == trained.history.epochs_run
    _, info = training_curves(trained.stages)
    assert info.stages == ("fit", "whole")
    _, info = training_curves(trained)
    assert info.stages == ("fit", "whole")


def test_a_file_without_per_epoch_losses_is_refused(models, tmp_path):
    trained, _ = models["jordan"]
    old = save_model(
        tmp_path / "old.npz",
        trained.model,
        training={"stages": {"fit": trained.history.summary()}},
    )
    with pytest.raises(InputError, match="no per-epoch losses for stage 'fit'"):
        training_curves(old)


# -- rollouts -------------------------------------------------------------------------------


def test_rollout_plot_draws_prediction_and_truth(models):
    _, path = models["jordan"]
    fig, info = rollout_plot(path, n=3, seed=4)
    time_axes, phase = fig.axes[:2], fig.axes[2]
    assert info.trajectories == 3 and info.states == ("s", "v") and info.phase_plane == ("s", "v")
    assert [ax.get_ylabel() for ax in time_axes] == ["s", "v"]
    assert time_axes[-1].get_xlabel() == "t"
    assert (phase.get_xlabel(), phase.get_ylabel()) == ("s", "v")
    for ax in fig.axes:
        assert len(lines(ax)) == 3 == len(lines(ax, REFERENCE))
    assert info.lines == 9
    assert max(info.rel_l2) < 1e-4  # the identity network represents the linear step map
    assert "jordan (8 identity units, residual) on driven_oscillator" in fig.get_suptitle()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sum(label.startswith("s0 = (") for label in legend) == 3


def test_rollout_of_given_data_matches_the_evaluation(models):
    trained, _ = models["jordan"]
    data = sample(trained.spec, 1, seed=11, whole=True)
    fig, info = rollout_plot(trained.model, data, trained.normalizer)
    assert info.trajectories == 1  # all there is
    table = rollout_table(trained.model, data, trained.normalizer, methods=())
    assert info.rel_l2[0] == pytest.approx(table.rows["model"]["rel_l2"], rel=1e-9)
    (pred,) = lines(fig.axes[0])
    (ref,) = lines(fig.axes[0], REFERENCE)
    np.testing.assert_allclose(ref.get_ydata(), data.states[0, :, 0])
    np.testing.assert_allclose(ref.get_xdata(), data.t)
    assert 0 < np.max(np.abs(pred.get_ydata() - ref.get_ydata())) < 1e-5


def test_rollout_of_an_elman_network(models):
    _, path = models["elman"]
    fig, info = rollout_plot(path)
    assert info.trajectories == 4 and len(lines(fig.axes[0])) == 4
    assert max(info.rel_l2) < 0.5
    assert "elman (8 identity units) on driven_oscillator" in fig.get_suptitle()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 0}, "n must be a whole number from 1 to 7"), ({"seed": -1}, "seed must be")],
)
def test_rollout_bad_input(models, kwargs, message):
    with pytest.raises(InputError, match=message):
        rollout_plot(models["jordan"][1], **kwargs)


def test_a_bare_network_needs_data():
    with pytest.raises(InputError, match="needs the dataset spec"):
        rollout_plot(JordanRNN(3, 4, 2))
    with pytest.raises(InputError, match="model must be a model file"):
        rollout_plot(42)


# -- the learned vector field ---------------------------------------------------------------


def test_learned_field_is_the_true_one_up_to_the_secant(models):
    """Δ/h of a perfect step map is (e^{hA} - I)/h: |. - A| = h/2 + O(h^3) relative to |A|."""
    _, path = models["jordan"]
    fig, info = vector_field_plot(path)
    assert info.step_rel_diff < 1e-4
    assert info.max_rel_diff == pytest.approx(0.05, abs=1e-3)
    assert info.states == ("s", "v") and info.drive == 0.0
    assert info.params["A"] == pytest.approx(0.6)  # the midpoint of its range
    learned, true = fig.axes[:2]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in (learned, true)] == [("s", "v"), ("s", "")]
    norms = [ax.collections[0].norm for ax in (learned, true)]
    assert norms[0] is norms[1]  # one colour scale
    assert learned.get_xlim() == info.xlim and true.get_ylim() == info.ylim
    assert "jordan (8 identity units, residual)" in fig.get_suptitle()


def test_learned_field_at_a_small_step_is_the_true_field(models):
    _, path = models["jordan_fine"]
    _, info = vector_field_plot(path, drive=0.5, xlim=(-1, 2), ylim=(-1.5, 1.5))
    assert info.max_rel_diff < 1e-2
    assert info.step_rel_diff < 1e-3
    assert info.xlim == (-1.0, 2.0) and info.drive == 0.5


def test_field_needs_a_residual_jordan_network_of_two_states(models):
    trained, path = models["elman"]
    with pytest.raises(InputError, match=r"needs a step map of the current state.*elman"):
        vector_field_plot(path)
    lorenz = DatasetSpec("lorenz")
    with pytest.raises(InputError, match="two states; lorenz has 3"):
        vector_field_plot(
            JordanRNN(1, 4, 3, residual=True), spec=lorenz, normalizer=trained.normalizer
        )
    with pytest.raises(InputError, match="xlim must be two numbers"):
        vector_field_plot(models["jordan"][1], xlim=(1, 0))


# -- the unrolled graph ---------------------------------------------------------------------


def test_unrolled_jordan_feeds_its_output_back(models):
    _, path = models["jordan"]
    fig, info = rnn_unrolled_plot(path, 3)
    assert [n for n in info.nodes if n.startswith("o(")] == ["o(0)", "o(1)", "o(2)", "o(3)"]
    assert [n for n in info.nodes if n.startswith("x(")] == ["x(1)", "x(2)", "x(3)"]
    assert info.nodes.count("h") == 3 and not any(n.startswith("h(") for n in info.nodes)
    labels = texts(fig)
    assert labels.count("U") == labels.count("W") == labels.count("V") == 3
    assert "θ = (U 3 × 8, W 2 × 8, V 8 × 2, b, c): 66 parameters" in labels
    assert "residual Jordan RNN on driven_oscillator" in fig.axes[0].get_title()
    fig, info = rnn_unrolled_plot(path, 9)
    assert info.elided and texts(fig).count("V") == 3  # steps 1, 2 and 9


def test_unrolled_elman_recurs_through_its_hidden_state(models):
    _, path = models["elman"]
    fig, info = rnn_unrolled_plot(path, 2)
    assert {"h(0)", "h(1)", "h(2)", "x(1)", "o(1)", "o(2)"} <= set(info.nodes)
    labels = texts(fig)
    assert labels.count("U") == labels.count("W") == labels.count("V") == 2
    assert "θ = (U 3 × 8, W 8 × 8, V 8 × 2, b, c): 114 parameters" in labels
    spec = model_graph(ElmanRNN(2, 5, 1, activation="tanh"))
    assert spec.cell == "f\n5 tanh" and "h(t) = tanh(b + h(t-1) W + x(t) U)" in spec.caption


# -- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_each_figure_saves_and_is_reproducible(models, tmp_path, suffix):
    _, path = models["jordan"]
    makers = {
        "training": lambda: training_curves(path),
        "rollout": lambda: rollout_plot(path, n=2),
        "field": lambda: vector_field_plot(path),
        "unrolled": lambda: rnn_unrolled_plot(path, 2),
    }
    for name, make in makers.items():
        first = save_figure(make()[0], tmp_path / f"{name}_a{suffix}")
        assert_image(first)
        again = save_figure(make()[0], tmp_path / f"{name}_b{suffix}")
        assert first.read_bytes() == again.read_bytes(), name


# -- the command line -----------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="dynsys")


@pytest.mark.parametrize(
    ("args", "summary"),
    [
        (["training", "{jordan}"], "fit: "),
        (["rollout", "{jordan}", "--n", "2", "--seed", "3"], "2 test trajectories, rel L2"),
        (["field", "{jordan}", "--drive", "0.2", "--xlim", "-1,1"], "drive x = 0.2; max |"),
        (["unrolled", "--model", "{elman}", "--steps", "3"], "elman network unrolled for 3"),
        (["training", "{elman}"], "whole: "),
        (["rollout", "{elman}"], "4 test trajectories"),
    ],
)
def test_cli_draws_a_model(models, tmp_path, args, summary):
    paths = {name: str(p) for name, (_, p) in models.items()}
    args = [a.format(**paths) for a in args]
    out = tmp_path / "figure.png"
    result = run("plot", *args, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out}: {args[0]} plot of ")
    assert summary in result.output
    assert_image(out)


def test_cli_default_figure_name_is_the_model_and_kind(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("plot", "training", models["jordan"][1])
    assert result.exit_code == 0, result.output
    assert_image(tmp_path / "jordan_training.png")


BAD = [
    (["rollot", "{jordan}"], "unknown plot kind 'rollot' (did you mean 'rollout'?)"),
    (["rollout"], "plot rollout needs a MODEL file"),
    (["rollout", "van_der_pol"], "plot rollout takes a MODEL file (.npz"),
    (["training", "nope.npz"], "cannot read model file nope.npz: No such file or directory"),
    (["training", "{foreign}"], "is not a dynsys model file"),
    (["field", "{elman}"], "needs a step map of the current state"),
    (["field", "{jordan}", "--ylim", "1,0"], "ylim must be two numbers"),
    (["rollout", "{jordan}", "--n", "8"], "n must be a whole number from 1 to 7"),
    (["rollout", "{jordan}", "--dt", "0.1"], "--dt applies to plots of a SYSTEM"),
    (["rollout", "{jordan}", "-p", "k=2"], "-p/--param applies to plots of a SYSTEM"),
    (["field", "{jordan}", "--n", "2"], "--n applies to plot rollout, not to field"),
    (["training", "{jordan}", "--model", "{jordan}"], "--model applies to plot unrolled"),
    (["unrolled"], "plot unrolled needs a SYSTEM or --model MODEL"),
    (["unrolled", "van_der_pol", "--model", "{jordan}"], "not both"),
    (["unrolled", "--model", "{jordan}", "--method", "rk4"], "--method sets a stepper's graph"),
    (["unrolled", "--model", "{jordan}", "--steps", "0"], "steps must be a whole number"),
    (["timeseries"], "plot timeseries needs a SYSTEM"),
    (["timeseries", "van_der_pol", "--drive", "1"], "--drive applies to plot field"),
    (["training", "{jordan}", "--out", "curves.gif"], "must end in one of .png, .svg, .pdf"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_cli_bad_input_is_one_line_exit_2(models, tmp_path, monkeypatch, args, message):
    foreign = tmp_path.parent / f"{tmp_path.name}_foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    paths = {name: str(p) for name, (_, p) in models.items()} | {"foreign": str(foreign)}
    monkeypatch.chdir(tmp_path)
    result = run("plot", *[a.format(**paths) for a in args])
    assert result.exit_code == 2, result.output
    out_lines = result.output.strip().splitlines()
    assert len(out_lines) == 1 and out_lines[0].startswith("Error: "), result.output
    assert message in out_lines[0]
    assert list(tmp_path.iterdir()) == []


def test_cli_help_names_the_model_kinds():
    result = run("plot", "--help")
    assert result.exit_code == 0
    for kind in ("training", "rollout", "field"):
        assert f"dynsys plot {kind} jordan.npz" in result.output
    assert "dynsys plot unrolled --model jordan.npz" in result.output
