"""dynsys train and dynsys evaluate, end to end through click's CliRunner, and the recipes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import dynsys.rnn.pipeline as pipeline
from dynsys.cli import main
from dynsys.rnn.io import load_model
from dynsys.rnn.settings import plan_fit

SMALL = ["--n-train", "8", "--n-test", "6", "--t-end", "5", "--quiet"]
NAMES = {"model", "euler", "semi_implicit_euler", "rk4"}
KEYS = {"rel_l2", "rmse", "max_abs_error", "valid_time", "valid_time_smape"}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def jordan_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "jordan.npz"
    result = invoke("train", "driven_oscillator", "--model", "jordan", *SMALL, "--out", path)
    assert result.exit_code == 0, result.output
    return path, result.output


def test_train_jordan_prints_the_table_and_saves_the_model(jordan_file):
    path, output = jordan_file
    assert "trained a model of kind jordan (hidden=32, activation=identity, residual=True" in output
    assert f"wrote {path}" in output
    rows = {line.split()[0]: line.split() for line in output.splitlines()[3:7]}
    assert set(rows) == NAMES
    rnn, semi, euler = (float(rows[k][1]) for k in ("model", "semi_implicit_euler", "euler"))
    assert rnn < semi / 5 and rnn < euler / 100  # the floors, on a small problem
    loaded = load_model(path)
    assert loaded.dataset["params"] == {"m": 1.0, "k": 1.0, "c": 0.0}
    assert loaded.dataset["ranges"] == {"A": [0.2, 1.0]}
    assert loaded.training["model"]["activation"] == "identity"
    assert set(loaded.extra["test"]) == NAMES


def test_evaluate_draws_a_fresh_test_set_and_prints_json(jordan_file):
    path, _ = jordan_file
    result = invoke("evaluate", path, "--n-test", "4", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) == {"test"} and set(doc["test"]) == NAMES
    assert all(set(row) == KEYS for row in doc["test"].values())
    assert doc["test"]["model"]["rel_l2"] < doc["test"]["semi_implicit_euler"]["rel_l2"] / 5
    again = json.loads(invoke("evaluate", path, "--n-test", "4", "--json").output)
    assert again == doc  # the same default seed: the same numbers
    other = json.loads(invoke("evaluate", path, "--n-test", "4", "--seed", "9", "--json").output)
    assert other["test"]["euler"] != doc["test"]["euler"]


def test_train_elman_json(tmp_path):
    path = tmp_path / "elman.npz"
    result = invoke(
        "train", "driven_oscillator", "--model", "elman", *SMALL, "--epochs", "30",
        "--json", "--out", path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["model"] == str(path) and doc["stages"]["fit"]["epochs_run"] <= 30
    assert list(doc["stages"]) == ["fit", "whole"]  # windows of 20 steps, then whole
    assert set(doc["test"]) == NAMES
    model = load_model(path).model
    assert model.kind == "elman" and model.activation == "identity"
    np.testing.assert_array_equal(np.diag(model.params["W"]) != 0, True)


def test_same_seed_same_model(tmp_path):
    args = ["train", "driven_oscillator", *SMALL, "--epochs", "5", "--seed", "3"]
    for name in ("a.npz", "b.npz"):
        assert invoke(*args, "--out", tmp_path / name).exit_code == 0
    a, b = (load_model(tmp_path / n).model.params for n in ("a.npz", "b.npz"))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hidden", "0"], "hidden must be a whole number >= 1, got 0"),
        (["--lr", "0", "--optimizer", "adam"], "lr must be > 0"),
        (["--epochs", "0"], "epochs"),
        (["--range", "A=1"], "--range must be NAME=LOW,HIGH"),
        (["--range", "Q=0,1"], "unknown parameter of driven_oscillator in --range 'Q'"),
        (["-p", "k=-1"], "parameter 'k' of driven_oscillator must be > 0"),
        (["--dt", "-0.1"], "h must be > 0"),
        (["--model", "hopfield"], "'hopfield' is not one of 'jordan', 'mlp'"),
    ],
)
def test_train_bad_input(tmp_path, args, message):
    result = invoke("train", "driven_oscillator", *SMALL, *args, "--out", tmp_path / "m.npz")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m.npz").exists()


def test_train_bad_output_and_system(tmp_path):
    wrong = invoke("train", "driven_oscillator", "--out", tmp_path / "m.txt")
    assert wrong.exit_code == 2 and "--out must name a .npz file" in wrong.output
    missing = invoke("train", "driven_oscillator", "--out", tmp_path / "no" / "m.npz")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    unknown = invoke("train", "driven_osc", "--out", tmp_path / "m.npz")
    assert unknown.exit_code == 2 and "did you mean 'driven_oscillator'" in unknown.output


def test_evaluate_bad_files(tmp_path):
    assert invoke("evaluate", tmp_path / "none.npz").exit_code == 2
    text = tmp_path / "text.npz"
    text.write_text("not a model")
    result = invoke("evaluate", text)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_loss_that_blows_up_stops_with_a_message_and_saves(tmp_path):
    path = tmp_path / "m.npz"
    result = invoke(
        "train", "driven_oscillator", *SMALL, "--optimizer", "sgd", "--lr", "1e6",
        "--epochs", "5", "--out", path,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "lower the learning rate" in result.output and "were saved to" in result.output
    assert all(np.isfinite(v).all() for v in load_model(path).model.params.values())


def test_ctrl_c_saves_what_was_learned(tmp_path, monkeypatch):
    real_fit = pipeline.fit

    def interrupted_fit(*args, **kwargs):
        def stop(epoch, history):
            if epoch == 2:
                raise KeyboardInterrupt

        return real_fit(*args, callback=stop, **kwargs)

    monkeypatch.setattr(pipeline, "fit", interrupted_fit)
    path = tmp_path / "m.npz"
    result = invoke("train", "driven_oscillator", *SMALL, "--out", path)
    assert result.exit_code == 130
    assert "interrupted: the best parameters so far were saved" in result.output
    assert load_model(path).training["history"]["stopped_reason"] == "interrupted"


def test_recipes():
    plan = plan_fit("driven_oscillator", "elman")
    assert plan.training.epochs == 500 and plan.training.whole_epochs == 300
    assert plan.spec.task == "driven_response" and plan.spec.initial_state == "h0"
    assert plan.model.activation == "identity" and plan.model.identity_init
    plan = plan_fit("lorenz", "jordan")
    assert plan.spec.task == "step_map" and plan.spec.h == 0.01
    assert plan.model.activation == "tanh" and plan.model.residual


def test_an_undriven_system_trains_with_a_constant_input(tmp_path):
    path = tmp_path / "vdp.npz"
    result = invoke(
        "train", "van_der_pol", "--model", "jordan", "--dt", "0.05", *SMALL, "--epochs", "50",
        "--out", path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    loaded = load_model(path)
    assert loaded.model.n_in == 1 and loaded.model.activation == "tanh"
    rows = {line.split()[0]: float(line.split()[1]) for line in result.output.splitlines()[3:7]}
    assert set(rows) == NAMES and 0 < rows["model"] < 1


def test_holdout_trains_without_a_range_and_tests_on_it(tmp_path):
    path = tmp_path / "m.npz"
    args = ["train", "driven_oscillator", *SMALL, "--holdout", "A=0.8,1", "--json"]
    result = invoke(*args, "--out", path)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc["extrapolation"]) == NAMES and set(doc["test"]) == NAMES
    loaded = load_model(path)
    assert loaded.dataset["holdout"] == {"A": [0.8, 1.0]}
    assert set(loaded.extra["extrapolation"]) == NAMES
    bad = invoke("train", "driven_oscillator", "--holdout", "k=1,2", "--out", tmp_path / "n.npz")
    assert bad.exit_code == 2 and "holdout parameter 'k' is not sampled" in bad.output
