"""RNN datasets (sampling, tasks, normalisation, splits) and the rollout evaluation."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import fields, replace

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from dynsys import InputError, SolverError, get_system, reference
from dynsys.reference import SOLVE_IVP_METHODS
from dynsys.rnn.data import (
    INITIAL_STATES,
    TASKS,
    DatasetSpec,
    Normalizer,
    fit_normalizer,
    make_splits,
    rollout_dataset,
    sample,
)
from dynsys.rnn.evaluate import METRICS, rollout_table, valid_prediction_time
from dynsys.rnn.models import pad_initial_state
from dynsys.steppers import STEPPERS

# the issue's setting: resonant oscillator, A in [0.2, 1], s0 in [-1, 1]^2, h = 0.1, t_end = 20
ISSUE = {
    "system": "driven_oscillator",
    "params": {"m": 1.0, "k": 1.0, "c": 0.0},
    "ranges": {"A": (0.2, 1.0)},
    "h": 0.1,
    "t_end": 20.0,
    "n_train": 6,
    "n_val": 2,
    "n_test": 8,
    "seed": 7,
}
SHORT = {**ISSUE, "t_end": 2.0, "n_train": 5, "n_val": 3, "n_test": 4}


@pytest.fixture(scope="module")
def step_map():
    return make_splits(DatasetSpec(task="step_map", **ISSUE))


@pytest.fixture(scope="module")
def driven():
    return make_splits(DatasetSpec(task="driven_response", **ISSUE))


class Perfect:
    """A fake model that returns the normalised targets of a dataset: a perfect fit."""

    def __init__(self, data, normalizer):
        self.Y = normalizer.scale_states(data.Y)

    def predict(self, X, h0=None):
        return self.Y


class RK4Model:
    """A fake step-map model: RK4 driven by the samples in X, in physical units."""

    def __init__(self, data):
        self.system = get_system(data.spec.system).with_params(**data.params)
        self.h = data.spec.h

    def predict(self, X, h0=None):
        s, out = h0, []
        for n in range(X.shape[1]):
            x = np.moveaxis(X[:, n], -1, 0)  # (nodes, batch)
            s = STEPPERS["rk4"].step(self.system, n * self.h, self.h, s, x, self.system.params)
            out.append(s)
        return np.stack(out, axis=1)


# -- shapes and conventions ---------------------------------------------------------------


def test_step_map_shapes_and_targets_are_the_reference_shifted_by_one(step_map):
    test = step_map.test
    assert test.X.shape == (8, 200, 3) and test.Y.shape == (8, 200, 2) and test.h0.shape == (8, 2)
    assert test.input_names == ("x(t+0h)", "x(t+0.5h)", "x(t+1h)")
    assert test.t.shape == (201,) and test.t[-1] == pytest.approx(20.0)
    i = 3
    alone = get_system("driven_oscillator", A=test.params["A"][i])
    ref = reference(alone, test.s0[i], np.arange(201) * 0.1).states
    np.testing.assert_allclose(test.h0[i], ref[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(test.Y[i], ref[1:], rtol=0, atol=1e-9)
    assert np.all(np.abs(test.s0) <= 1) and np.all(
        (test.params["A"] >= 0.2) & (test.params["A"] <= 1)
    )
    assert np.all(test.params["k"] == 1.0) and np.all(test.t0 == 0)


def test_step_map_inputs_are_the_rk4_drive_samples(step_map):
    X, A = step_map.test.X, step_map.test.params["A"][:, None]
    n, h = np.arange(200), 0.1
    for j, c in enumerate((0.0, 0.5, 1.0)):
        assert np.array_equal(X[:, :, j], A * np.cos((n + c) * h))  # as Recurrence computes them
        t = n * h + c * h  # t_n, t_n + h/2, t_(n+1)
        np.testing.assert_allclose(X[:, :, j], A * np.cos(t), rtol=0, atol=1e-14)


def test_a_rollout_dataset_has_the_inputs_a_sampled_one_has(step_map):
    """From the test set's starts and parameter values, rollout_dataset lays out the same
    inputs, h0, times and names, bit for bit; only the targets are unknown (zeros)."""
    test = step_map.test
    for k in (0, 3):
        system = get_system("driven_oscillator", m=1.0, k=1.0, c=0.0, A=test.params["A"][k])
        made = rollout_dataset(test.spec, system, test.s0[k : k + 1], test.X.shape[1])
        assert np.array_equal(made.X, test.X[k : k + 1])
        assert np.array_equal(made.h0, test.h0[k : k + 1]) and np.array_equal(made.t, test.t)
        assert made.input_names == test.input_names and made.output_names == test.output_names
        assert made.Y.shape == test.Y[k : k + 1].shape and not made.Y.any()


def test_rk4_fed_the_inputs_of_a_step_map_is_the_rk4_row(step_map):
    evaluation = rollout_table(RK4Model(step_map.test), step_map.test, None)
    rnn, rk4 = evaluation.rows["model"], evaluation.rows["rk4"]
    for key in ("rel_l2", "rmse", "max_abs_error"):
        assert rnn[key] == pytest.approx(rk4[key], rel=1e-9)
    assert rnn["rel_l2"] == pytest.approx(7e-6, rel=0.3)


def test_driven_response_shapes_and_channels(driven):
    test = driven.test
    assert test.X.shape == (8, 201, 3) and test.Y.shape == (8, 201, 2) and test.h0 is None
    assert test.input_names == ("x(t)", "s(t0)", "v(t0)")
    t = np.arange(201) * 0.1
    np.testing.assert_array_equal(test.X[:, :, 0], test.params["A"][:, None] * np.cos(t))
    np.testing.assert_array_equal(test.X[:, :, 1:], np.repeat(test.s0[:, None], 201, axis=1))
    np.testing.assert_array_equal(test.Y[:, 0], test.s0)


def test_driven_response_with_the_initial_state_as_h0_is_laid_out_like_the_step_map(step_map):
    spec = DatasetSpec(task="driven_response", initial_state="h0", **ISSUE)
    test = make_splits(spec).test
    for name in ("X", "Y", "h0", "s0", "t"):
        np.testing.assert_array_equal(getattr(test, name), getattr(step_map.test, name))
    assert test.input_names == step_map.test.input_names
    assert DatasetSpec.from_dict(spec.to_dict()).initial_state == "h0"
    with pytest.raises(InputError, match="unknown initial_state 'h1'"):
        DatasetSpec(task="driven_response", initial_state="h1", **ISSUE)


def test_pad_initial_state_puts_the_state_in_the_first_units():
    padded = pad_initial_state(np.array([[1.0, 2.0], [3.0, 4.0]]), 4)
    np.testing.assert_array_equal(padded, [[1, 2, 0, 0], [3, 4, 0, 0]])
    with pytest.raises(InputError, match="does not fit 1 hidden units"):
        pad_initial_state(np.ones((2, 2)), 1)


def test_both_tasks_simulate_the_same_trajectories(step_map, driven):
    np.testing.assert_array_equal(step_map.train.states, driven.train.states)
    np.testing.assert_array_equal(step_map.test.params["A"], driven.test.params["A"])


def test_explicit_nodes_and_parameter_inputs():
    spec = DatasetSpec(
        task="step_map",
        **{**SHORT, "params": {"m": 1.0}, "ranges": {"A": (0.2, 1.0), "k": (0.5, 2.0)}},
        drive_nodes=(0.0, 0.25),
        param_inputs=("k",),
    )
    data = sample(spec, 3, seed=1)
    assert data.X.shape == (3, 20, 3)
    assert data.input_names == ("x(t+0h)", "x(t+0.25h)", "k")
    n = np.arange(20)
    A, k = data.params["A"][:, None], data.params["k"][:, None]
    np.testing.assert_array_equal(data.X[:, :, 1], A * np.cos((n + 0.25) * 0.1))
    np.testing.assert_array_equal(data.X[:, :, 2], np.broadcast_to(k, (3, 20)))
    assert np.all((k >= 0.5) & (k <= 2.0)) and len(np.unique(k)) == 3


def test_sequences_cut_a_trajectory_into_consecutive_windows():
    spec = DatasetSpec(task="step_map", **SHORT, seq_len=6)  # N = 20: 3 windows, 2 steps dropped
    data = sample(spec, 2, seed=4)
    assert data.X.shape == (6, 6, 3) and data.Y.shape == (6, 6, 2) and data.t.shape == (7,)
    np.testing.assert_array_equal(data.trajectory, [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(data.t0, [0, 0.6, 1.2, 0, 0.6, 1.2])
    np.testing.assert_array_equal(
        data.h0[1:3], data.Y[0:2, -1]
    )  # a window starts where the last ended
    np.testing.assert_array_equal(data.X[1, 0, 0], data.params["A"][1] * np.cos(6 * 0.1))
    whole = sample(DatasetSpec(task="driven_response", **SHORT), 2, seed=4)
    cut = sample(DatasetSpec(task="driven_response", **SHORT, seq_len=6), 2, seed=4)
    assert cut.Y.shape == (6, 7, 2)
    np.testing.assert_array_equal(cut.Y[1], whole.Y[0, 6:13])
    np.testing.assert_array_equal(cut.X[1, :, 1:], np.repeat(whole.Y[0, 6][None], 7, axis=0))


# -- seeds, splits, holdout ---------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data():
    spec = DatasetSpec(task="step_map", **SHORT)
    a, b, c = sample(spec, 3, seed=11), sample(spec, 3, seed=11), sample(spec, 3, seed=12)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)
    np.testing.assert_array_equal(a.h0, b.h0)
    assert not np.allclose(a.s0, c.s0) and not np.allclose(a.params["A"], c.params["A"])
    first, again = make_splits(spec), make_splits(spec)
    np.testing.assert_array_equal(first.train.Y, again.train.Y)
    np.testing.assert_array_equal(first.normalizer.x_mean, again.normalizer.x_mean)
    other = make_splits(DatasetSpec(task="step_map", **{**SHORT, "seed": 8}))
    assert not np.allclose(first.train.s0, other.train.s0)
    # splits are disjoint draws, and the training set does not depend on n_val
    assert not np.allclose(first.train.s0[:3], first.val.s0)
    more_val = make_splits(DatasetSpec(task="step_map", **{**SHORT, "n_val": 5}))
    np.testing.assert_array_equal(first.train.Y, more_val.train.Y)


def test_holdout_range_appears_only_in_the_extrapolation_set():
    spec = DatasetSpec(
        task="step_map",
        **{**SHORT, "t_end": 0.5, "n_train": 40, "n_val": 10, "n_test": 10},
        holdout={"A": (0.8, 1.0)},
    )
    splits = make_splits(spec)
    for part in (splits.train, splits.val, splits.test):
        A = part.params["A"]
        assert np.all((A >= 0.2) & (A < 0.8))
    assert splits.train.params["A"].max() > 0.7 and splits.train.params["A"].min() < 0.3
    out = splits.extrapolation.params["A"]
    assert len(out) == 10 and np.all((out >= 0.8) & (out <= 1.0))
    fresh = sample(spec, 5, seed=3, holdout=True).params["A"]
    assert np.all(fresh >= 0.8)
    assert make_splits(DatasetSpec(task="step_map", **SHORT)).extrapolation is None


def test_a_hole_in_the_middle_of_a_range():
    spec = DatasetSpec(task="step_map", **{**SHORT, "t_end": 0.2}, holdout={"A": (0.5, 0.6)})
    A = sample(spec, 200, seed=0).params["A"]
    assert np.all((A < 0.5) | (A > 0.6))
    assert (A > 0.6).mean() == pytest.approx(0.4 / 0.7, abs=0.1)


# -- normalisation ------------------------------------------------------------------------


def test_normalizer_is_fitted_on_train_only(step_map):
    train = step_map.normalizer.transform(step_map.train)
    assert train.normalized
    for a in (train.X, train.Y):
        np.testing.assert_allclose(a.reshape(-1, a.shape[-1]).mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(a.reshape(-1, a.shape[-1]).std(axis=0), 1, rtol=1e-12)
    norm = step_map.normalizer
    np.testing.assert_array_equal(norm.x_mean, fit_normalizer(step_map.train).x_mean)
    assert not np.allclose(norm.y_mean, fit_normalizer(step_map.test).y_mean)
    val = norm.transform(step_map.val)
    assert not np.allclose(val.Y.reshape(-1, 2).mean(axis=0), 0, atol=1e-6)
    np.testing.assert_array_equal(train.h0, norm.scale_states(step_map.train.h0))


def test_inverse_undoes_transform_and_survives_json(step_map, driven):
    for splits in (step_map, driven):
        norm = Normalizer.from_dict(json.loads(json.dumps(splits.normalizer.to_dict())))
        back = norm.inverse(splits.normalizer.transform(splits.test))
        np.testing.assert_allclose(back.X, splits.test.X, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(back.Y, splits.test.Y, rtol=1e-13, atol=1e-13)
        assert not back.normalized
        if back.h0 is not None:
            np.testing.assert_allclose(back.h0, splits.test.h0, rtol=1e-13, atol=1e-13)
    norm = driven.normalizer  # the initial-state inputs use the states' affine map
    np.testing.assert_array_equal(norm.x_mean[1:], norm.y_mean)
    np.testing.assert_array_equal(norm.x_std[1:], norm.y_std)
    with pytest.raises(InputError, match="already normalised"):
        norm.transform(norm.transform(driven.test))
    with pytest.raises(InputError, match="not normalised"):
        norm.inverse(driven.test)


def test_spec_round_trips_through_json():
    spec = DatasetSpec(task="step_map", **SHORT, holdout={"A": (0.8, 1.0)}, drive_nodes=(0, 0.5))
    again = DatasetSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.s0_ranges == {"s": (-1.0, 1.0), "v": (-1.0, 1.0)}
    np.testing.assert_array_equal(sample(again, 2, 5).Y, sample(spec, 2, 5).Y)


# -- valid prediction time ----------------------------------------------------------------


def test_valid_prediction_time_of_a_known_crossing():
    t = np.arange(0, 10.0001, 0.5)
    ref = np.stack([np.cos(t), np.sin(t)], axis=-1)  # ||ref|| = 1, so e(t) = ||pred - ref||
    drift = ref + np.stack([0.1 * t, 0 * t], axis=-1)  # e = 0.1 t > 0.4 first at t = 4.5
    pred = np.stack([drift, ref, 3 * ref])  # never exceeds; exceeds at t = 0 (e = 2)
    result = valid_prediction_time(pred, np.stack([ref] * 3), t)
    np.testing.assert_allclose(result.per_trajectory, [4.5, 10.0, 0.0])
    assert result.mean == pytest.approx(14.5 / 3)
    assert valid_prediction_time(drift, ref, t, threshold=0.75).mean == 8.0
    nan = drift.copy()
    nan[3:] = np.nan
    assert valid_prediction_time(nan, ref, t).mean == 1.5
    with pytest.raises(InputError, match="threshold"):
        valid_prediction_time(drift, ref, t, threshold=0)
    with pytest.raises(InputError, match="t must have shape"):
        valid_prediction_time(drift, ref, t[:-1])


# -- the evaluation table -----------------------------------------------------------------


@pytest.mark.parametrize("task", ["step_map", "driven_response"])
def test_perfect_model_and_the_steppers_figures(task, step_map, driven):
    splits = step_map if task == "step_map" else driven
    test, norm = splits.test, splits.normalizer
    evaluation = rollout_table(Perfect(test, norm), norm.transform(test), norm)
    assert list(evaluation.rows) == ["model", "euler", "semi_implicit_euler", "rk4"]
    rows = evaluation.to_dict()["test"]
    assert rows["model"]["rel_l2"] < 1e-14 and rows["model"]["valid_time"] == pytest.approx(20.0)
    # the issue: explicit Euler ~0.56, semi-implicit Euler ~0.033, RK4 ~7e-6
    assert rows["euler"]["rel_l2"] == pytest.approx(0.56, rel=0.3)
    assert rows["semi_implicit_euler"]["rel_l2"] == pytest.approx(0.033, rel=0.3)
    assert rows["rk4"]["rel_l2"] == pytest.approx(7e-6, rel=0.3)
    assert rows["euler"]["valid_time"] < 15 and rows["rk4"]["valid_time"] == pytest.approx(20.0)
    assert set(rows["rk4"]) == set(METRICS)
    text = evaluation.table()
    assert text.splitlines()[0].split() == ["method", *METRICS]
    assert "semi_implicit_euler" in text and "horizon 20" in text


def test_a_diverging_stepper_is_reported_not_raised():
    spec = DatasetSpec(
        "exponential_decay",
        task="step_map",
        ranges={"rate": (100.0, 110.0)},
        param_inputs=("rate",),
        h=0.05,
        t_end=30.0,
        n_train=2,
        n_val=0,
        n_test=2,
    )
    splits = make_splits(spec)
    assert splits.test.X.shape == (2, 600, 1) and splits.val.X.shape == (0, 600, 1)
    evaluation = rollout_table(
        Perfect(splits.test, splits.normalizer), splits.test, splits.normalizer, methods=("euler",)
    )
    rows = evaluation.to_dict()["test"]
    assert rows["euler"] == {
        "rel_l2": None,
        "rmse": None,
        "max_abs_error": None,
        "valid_time": 0.05,
        "valid_time_smape": 0.05,
    }
    assert rows["model"]["rel_l2"] < 1e-12
    assert "euler" in evaluation.diverged and "euler diverged" in evaluation.table()


def test_evaluation_bad_input(step_map):
    test, norm = step_map.test, step_map.normalizer
    model = Perfect(test, norm)
    with pytest.raises(InputError, match=r"h must be the dataset's step 0\.1"):
        rollout_table(model, test, norm, h=0.05)
    with pytest.raises(InputError, match="normalizer"):
        rollout_table(model, norm.transform(test), None)
    with pytest.raises(InputError, match="unknown method 'rk5'"):
        rollout_table(model, test, norm, methods=("rk5",))
    with pytest.raises(InputError, match="system 'pendulum'"):
        rollout_table(model, test, norm, system=get_system("pendulum"))

    class Short:
        def predict(self, X, h0=None):
            return np.zeros((X.shape[0], 3, 2))

    with pytest.raises(InputError, match=r"model.predict returned shape \(8, 3, 2\)"):
        rollout_table(Short(), test, norm)


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"system": "oscilator"}, "unknown system 'oscilator'"),
        ({"system": "logistic_map", "params": {}, "ranges": {}}, "discrete map"),
        ({"params": {"mass": 1.0}}, "unknown parameter of driven_oscillator 'mass'"),
        ({"params": {"m": -1.0}}, "parameter 'm' of driven_oscillator must be > 0"),
        ({"params": {"m": [1.0, 2.0]}}, r"params\['m'\] must be one number"),
        ({"ranges": {"B": (0, 1)}}, r"unknown parameter of driven_oscillator in ranges 'B'"),
        ({"ranges": {"A": (1.0, 0.2)}}, r"ranges\['A'\] must have low < high"),
        ({"ranges": {"A": (0.5, 0.5)}}, r"ranges\['A'\] must have low < high"),
        ({"ranges": {"A": 0.5}}, r"ranges\['A'\] must be a pair"),
        ({"ranges": {"omega": (-1.0, 1.0)}}, "parameter 'omega' of driven_oscillator must be >= 0"),
        ({"ranges": {"k": (0.5, 2.0)}}, "'k' is both fixed in params and sampled"),
        ({"s0_ranges": {"x": (0, 1)}}, "unknown state of driven_oscillator 'x'"),
        ({"s0_ranges": {"v": (1, -1)}}, r"s0_ranges\['v'\] must have low < high"),
        ({"h": 0.0}, "h must be > 0"),
        ({"h": -0.1}, "h must be > 0"),
        ({"t_end": 0.0}, "t_end must be > 0"),
        ({"h": 30.0}, "h=30 must not exceed t_end=20"),
        ({"task": "forecast"}, "unknown task 'forecast'"),
        ({"drive_nodes": "rk5"}, "unknown drive_nodes 'rk5'"),
        ({"drive_nodes": "map"}, "unknown drive_nodes 'map'"),
        ({"drive_nodes": (0.0, 1.5)}, "drive_nodes must be a stepper name or increasing"),
        ({"drive_nodes": ()}, "drive_nodes must be a stepper name or increasing"),
        ({"param_inputs": ("q",)}, "unknown parameter of driven_oscillator in param_inputs 'q'"),
        ({"seq_len": 0}, "seq_len must be a whole number >= 1"),
        ({"seq_len": 201}, "seq_len must be at most the 200 steps"),
        ({"n_train": 0}, "n_train must be a whole number >= 1"),
        ({"n_val": -1}, "n_val must be a whole number >= 0"),
        ({"n_test": 1.5}, "n_test must be a whole number >= 0"),
        ({"seed": -3}, "seed must be a whole number >= 0"),
        ({"holdout": {"B": (1, 2)}}, "unknown parameter of driven_oscillator in holdout 'B'"),
        ({"holdout": {"k": (1, 2)}}, "holdout parameter 'k' is not sampled"),
        ({"holdout": {"omega": (1, 2)}}, "holdout parameter 'omega' is not sampled"),
        ({"holdout": {"A": (0.8, 1.2)}}, r"holdout\['A'\] = \(0.8, 1.2\) must lie inside"),
        ({"holdout": {"A": (0.2, 1.0)}}, "leave part of it for training"),
        ({"reference_method": "euler"}, "unknown reference_method 'euler'"),
        ({"transient": -1.0}, r"transient must be >= 0 \(a time run before t = 0\), got -1"),
        ({"transient": float("nan")}, "transient must be a finite number"),
        ({"transient": "long"}, "transient must be a number, got 'long'"),
    ],
)
def test_bad_spec(change, match):
    with pytest.raises(InputError, match=match):
        DatasetSpec(**{**ISSUE, **change})


def test_bad_spec_dict_and_sample_arguments():
    with pytest.raises(InputError, match="unknown dataset spec field 'n_tests'"):
        DatasetSpec.from_dict({**DatasetSpec(**SHORT).to_dict(), "n_tests": 3})
    with pytest.raises(InputError, match="a dataset spec needs a system name"):
        DatasetSpec.from_dict({"task": "step_map"})
    spec = DatasetSpec(**SHORT)
    with pytest.raises(InputError, match="n must be a whole number >= 1"):
        sample(spec, 0, seed=1)
    with pytest.raises(InputError, match="holdout=True needs a spec with a holdout"):
        sample(spec, 2, seed=1, holdout=True)
    with pytest.raises(InputError, match=r"^normalizer\.x_std: stds must be > 0"):
        Normalizer.from_dict({"x_mean": [0], "x_std": [0], "y_mean": [0], "y_std": [1]})


GOOD_NORMALIZER = {
    "x_mean": [0.5],
    "x_std": [2.0],
    "y_mean": [0.0, 1.0],
    "y_std": [1.0, 3.0],
    "input_names": ["x"],
    "output_names": ["s", "v"],
}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"x_mean": ["a"]}, r"^normalizer\.x_mean: must be a list of numbers, got \['a'\]$"),
        ({"y_std": "1,3"}, r"^normalizer\.y_std: must be a list of numbers"),
        ({"x_mean": [[0.5]]}, r"^normalizer\.x_mean: must be a list of numbers"),
        ({"x_std": [None]}, r"^normalizer\.x_std: must be a list of numbers"),
        ({"y_mean": {"s": 0}}, r"^normalizer\.y_mean: must be a list of numbers"),
        ({"x_mean": [True]}, r"^normalizer\.x_mean: must be a list of numbers"),
        ({"y_mean": [0.0, float("nan")]}, r"^normalizer\.y_mean: must be finite numbers"),
        ({"x_std": [2.0, 1.0]}, r"^normalizer\.x_std: must have as many values as"),
        ({"y_std": [1.0, -3.0]}, r"^normalizer\.y_std: stds must be > 0"),
        ({"input_names": "x"}, r"^normalizer\.input_names: must be a list of names, got 'x'$"),
        ({"output_names": ["s", 2]}, r"^normalizer\.output_names: must be a list of names"),
        ({"output_names": ["s"]}, r"^normalizer\.output_names: must have one name per value"),
    ],
)
def test_a_bad_normalizer_is_refused_naming_the_field(change, match):
    with pytest.raises(InputError, match=match) as caught:
        Normalizer.from_dict({**GOOD_NORMALIZER, **change})
    assert "\n" not in str(caught.value)


def test_a_normalizer_keeps_its_names_through_json():
    norm = Normalizer.from_dict(GOOD_NORMALIZER)
    assert (norm.input_names, norm.output_names) == (("x",), ("s", "v"))
    again = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again.to_dict() == GOOD_NORMALIZER
    old = {k: GOOD_NORMALIZER[k] for k in ("x_mean", "x_std", "y_mean", "y_std")}
    assert Normalizer.from_dict(old).input_names == ()  # a file written before the names


# -- typical initial states, the transient, the batched solve ------------------------------


def test_initial_states_default_to_the_systems_typical_ranges():
    spec = DatasetSpec("lotka_volterra", h=0.1, t_end=5.0)
    assert spec.s0_ranges == {"x": (1.0, 5.0), "y": (0.5, 3.0)} and spec.transient == 0.0
    data = sample(spec, 16, seed=0)
    assert np.all(data.states > 0.05)  # positive populations all along
    x, y = data.s0.T
    assert np.all((x >= 1) & (x <= 5) & (y >= 0.5) & (y <= 3))
    assert x.max() - x.min() > 2 and y.max() - y.min() > 1  # drawn across the ranges
    partial = DatasetSpec("lotka_volterra", s0_ranges={"y": (1.0, 2.0)})
    assert partial.s0_ranges == {"x": (1.0, 5.0), "y": (1.0, 2.0)}
    assert DatasetSpec("pendulum").s0_ranges == {"theta": (-np.pi, np.pi), "omega": (-8.0, 8.0)}


def test_lorenz_data_start_on_the_attractor_after_the_transient():
    spec = DatasetSpec("lorenz", h=0.05, t_end=2.0)
    assert spec.transient == 10.0
    data = sample(spec, 6, seed=3)
    s = data.states
    assert np.all(np.abs(s[..., 0]) < 25) and np.all(np.abs(s[..., 1]) < 30)
    assert np.all((s[..., 2] > 0) & (s[..., 2] < 55))
    # the same draws without a transient are the states at t = -10, which s(0) solves from
    drawn = sample(replace(spec, transient=0.0, t_end=0.05), 6, seed=3).s0
    assert np.all(np.abs(drawn[:, :2]) <= 15) and np.all((drawn[:, 2] >= 10) & (drawn[:, 2] <= 40))
    lorenz = get_system("lorenz")
    ran = reference(lorenz, drawn, [-10.0, 0.0], stack=True).states[:, -1]
    np.testing.assert_allclose(data.s0, ran, rtol=0, atol=1e-4 * np.abs(ran).max())
    assert np.min(np.linalg.norm(data.s0 - drawn, axis=1)) > 1.0
    again = sample(spec, 6, seed=3)
    np.testing.assert_array_equal(again.Y, data.Y)
    np.testing.assert_array_equal(again.h0, data.h0)


def test_a_transient_keeps_the_drive_phase():
    """With a transient the grid is still t_n = n h, the drive x(t_n) and the exact solution
    from the drawn state at t = -transient."""
    drawn = sample(DatasetSpec(**SHORT), 3, seed=2)  # transient 0: s0 is the drawn state
    later = sample(DatasetSpec(**SHORT, transient=2.5), 3, seed=2)
    np.testing.assert_array_equal(later.X, drawn.X)
    np.testing.assert_array_equal(later.t, drawn.t)
    system = get_system("driven_oscillator", m=1.0, k=1.0, c=0.0, A=drawn.params["A"])
    t = np.concatenate([[-2.5], later.t])
    exact = system.exact(t, drawn.s0, -2.5, system.params)[:, 1:]
    np.testing.assert_allclose(later.states, exact, rtol=0, atol=1e-9)
    assert np.min(np.abs(later.s0 - drawn.s0)) > 1e-3


@pytest.mark.parametrize("name", ["driven_oscillator", "lotka_volterra"])
def test_the_batched_solve_equals_tight_dop853_one_trajectory_at_a_time(name):
    given = ISSUE if name == "driven_oscillator" else {"system": name, "h": 0.1, "t_end": 20.0}
    data = sample(DatasetSpec(**given), 6, seed=5)
    worst = 0.0
    for i in range(6):
        alone = get_system(name, **{k: v[i] for k, v in data.params.items()})
        fine = reference(alone, data.s0[i], data.t, rtol=1e-12, atol=1e-14).states
        rms = np.sqrt(np.mean(fine**2))
        worst = max(worst, np.max(np.abs(data.states[i] - fine)) / rms)
    assert worst < 1e-9  # measured 1.3e-10 (oscillator) and 2.1e-10 (Lotka-Volterra)


def test_one_solve_ivp_call_per_split(monkeypatch):
    calls = []

    def spy(fun, t_span, y0, **kwargs):
        calls.append((len(y0), kwargs["rtol"], kwargs["atol"]))
        return solve_ivp(fun, t_span, y0, **kwargs)

    monkeypatch.setattr(importlib.import_module("dynsys.reference"), "solve_ivp", spy)
    make_splits(DatasetSpec(**SHORT))  # 5, 3 and 4 trajectories of 2 states
    assert [n for n, _, _ in calls] == [10, 6, 8]
    for (_, rtol, atol), batch in zip(calls, (5, 3, 4), strict=True):
        assert rtol == pytest.approx(1e-10 / np.sqrt(batch))
        assert atol == pytest.approx(1e-12 / np.sqrt(batch))


def test_a_failed_solve_names_the_trajectory():
    """rate < -35.5 overflows before t = 20 (exp(-rate t) > 1e308): the first such is named."""
    spec = DatasetSpec(
        "exponential_decay", ranges={"rate": (-60.0, 1.0)}, h=0.5, t_end=20.0, rtol=1e-6
    )
    rates = sample(replace(spec, t_end=1.0), 8, seed=4).params["rate"]  # the same draws
    assert np.any(rates < -40)
    with pytest.raises(SolverError) as info:
        sample(spec, 8, seed=4)
    message = str(info.value)
    found = re.match(
        r"sampled trajectory (\d+) \(s = \S+, rate = (\S+)\): "
        r"solve_ivp \(DOP853\) stopped at t = ",
        message,
    )
    assert found and "\n" not in message, message
    i = int(found.group(1))
    assert float(found.group(2)) == pytest.approx(rates[i], rel=1e-5)
    assert rates[i] < -35 and np.all(rates[:i] > -36)


def test_a_spec_keeps_its_transient_and_old_specs_read_as_none():
    spec = DatasetSpec("lorenz", h=0.05, t_end=1.0)
    again = DatasetSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.transient == 10.0
    old = {k: v for k, v in spec.to_dict().items() if k != "transient"}
    assert DatasetSpec.from_dict(old).transient == 0.0  # written before transients existed
    assert DatasetSpec("lorenz", transient=0.5).transient == 0.5


def test_every_spec_field_has_a_one_line_help():
    for f in fields(DatasetSpec):
        text = f.metadata["help"]
        assert text and "\n" not in text and len(text) < 90, f.name
    choices = {f.name: f.metadata.get("choices") for f in fields(DatasetSpec)}
    assert choices["task"] == TASKS and choices["initial_state"] == INITIAL_STATES
    assert choices["reference_method"] == SOLVE_IVP_METHODS


def test_large_batches_are_stacked_in_chunks_and_implicit_methods_alone(monkeypatch):
    calls = []

    def spy(fun, t_span, y0, **kwargs):
        calls.append(len(y0))
        return solve_ivp(fun, t_span, y0, **kwargs)

    monkeypatch.setattr(importlib.import_module("dynsys.reference"), "solve_ivp", spy)
    monkeypatch.setattr(importlib.import_module("dynsys.rnn.data"), "STACK_SIZE", 2)
    spec = DatasetSpec(**SHORT)
    chunked = sample(spec, 5, seed=6)
    assert calls == [4, 4, 2]
    calls.clear()
    alone = sample(replace(spec, reference_method="Radau"), 5, seed=6)
    assert calls == [2] * 5
    np.testing.assert_allclose(alone.states, chunked.states, rtol=0, atol=1e-7)


def test_reference_names_the_member_of_a_batch_that_fails():
    system = get_system("exponential_decay", rate=np.array([1.0, -100.0]))
    with pytest.raises(SolverError, match=r"^trajectory 1 of 2: solve_ivp \(DOP853\) stopped"):
        reference(system, [[1.0], [1.0]], np.arange(21.0))
