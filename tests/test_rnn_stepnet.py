"""Tests of the residual MLP step map: gradient checks (one-step, rollout, truncated; with the
linear path and the per-state factor), the rollout against a plain per-step loop, the blocks of
rows, the factor set from the data, the loss of the identity head, configuration and fits."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dynsys import InputError
from dynsys.rnn import MODEL_KINDS, Model, gradient_check, stepnet
from dynsys.rnn.activations import get_head
from dynsys.rnn.stepnet import StepMLP, StepMLPSettings
from dynsys.rnn.train import fit

GAIN = [0.3, 2.0, 0.05]
"""A per-state factor g far from ones, for models with three states."""


def problem(model: StepMLP, seed: int, batch: int = 3, time: int = 6, h0: str = "batch"):
    """Random parameters N(0, 0.5^2) (non-zero biases), inputs, targets and initial state."""
    rng = np.random.default_rng(seed)
    model.set_flat_params(rng.normal(0.0, 0.5, size=model.n_params))
    X = rng.normal(size=(batch, time, model.n_in))
    Y = rng.normal(size=(batch, time, model.n_out))
    initial = {
        "none": None,
        "shared": rng.normal(size=model.n_out),
        "batch": rng.normal(size=(batch, model.n_out)),
    }[h0]
    return X, Y, initial


def reference_rollout(model: StepMLP, X, h0, teacher=None) -> np.ndarray:
    """The step map written out one sequence and one step at a time, without the model's code.

    s(t) = s(t-1) + g * (c + [s(t-1), x(t)] @ A + act(... act(b1 + [s(t-1), x(t)] @ W1) ...) @ V)
    (A only with the linear path); with ``teacher`` each step starts from the true previous
    state instead of the model's own.
    """
    p = model.params
    act = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0), "identity": lambda a: a}[
        model.activation
    ]
    batch, time, _ = X.shape
    h0 = np.broadcast_to(np.zeros(model.n_out) if h0 is None else h0, (batch, model.n_out))
    g = np.ones(model.n_out) if model.out_scale is None else model.out_scale
    out = np.empty((batch, time, model.n_out))
    for i in range(batch):
        s = h0[i]
        for t in range(time):
            inputs = np.concatenate([s, X[i, t]])
            h = act(p["b1"] + inputs @ p["W1"])
            for layer in range(2, model.layers + 1):
                h = act(p[f"b{layer}"] + h @ p[f"W{layer}"])
            increment = p["c"] + h @ p["V"]
            if model.linear:
                increment = increment + inputs @ p["A"]
            out[i, t] = s + g * increment
            s = out[i, t] if teacher is None else teacher[i, t]
    return out


# -- gradient checks -------------------------------------------------------------------------------
@pytest.mark.parametrize("h0", ["none", "shared", "batch"])
@pytest.mark.parametrize("teacher_forcing", [True, False])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_gradient_check(layers, teacher_forcing, h0):
    seed = 10 * layers + 2 * teacher_forcing + ["none", "shared", "batch"].index(h0)
    model = StepMLP(2, 5, 3, layers=layers)
    X, Y, initial = problem(model, seed, h0=h0)
    errors = gradient_check(model, X, Y, initial, teacher_forcing=teacher_forcing)
    assert set(errors) == {*model.params, "h0"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("activation", ["relu", "identity"])
@pytest.mark.parametrize("teacher_forcing", [True, False])
def test_gradient_check_other_activations(activation, teacher_forcing):
    model = StepMLP(1, 4, 2, layers=2, activation=activation)
    X, Y, h0 = problem(model, 3)
    if activation == "relu":  # finite differences across the kink are meaningless: stay off it
        fp = model.forward(X, h0, teacher=Y if teacher_forcing else None)
        assert min(np.abs(h[h > 0]).min() for h in fp.h) > 1e-4
    errors = gradient_check(model, X, Y, h0, teacher_forcing=teacher_forcing)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("h0", ["shared", "batch"])
@pytest.mark.parametrize("teacher_forcing", [True, False])
@pytest.mark.parametrize("layers", [1, 2])
def test_gradient_check_linear_path_and_factor(layers, teacher_forcing, h0):
    model = StepMLP(2, 5, 3, layers=layers, linear=True, out_scale=GAIN)
    X, Y, initial = problem(model, 60 + 4 * layers + 2 * teacher_forcing, h0=h0)
    errors = gradient_check(model, X, Y, initial, teacher_forcing=teacher_forcing)
    assert set(errors) == {*model.params, "h0"} and "A" in errors
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("linear", [False, True])
def test_gradient_check_factor_truncated(linear):
    model = StepMLP(1, 4, 3, layers=2, linear=linear, out_scale=GAIN)
    X, Y, h0 = problem(model, 70 + linear, time=7)
    errors = gradient_check(model, X, Y, h0, truncate=3, teacher_forcing=False)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("layers", [1, 2])
def test_truncated_gradient_check(layers, k):
    """Truncated BPTT is the exact gradient of the windowed loss with frozen window starts."""
    model = StepMLP(2, 4, 2, layers=layers)
    X, Y, h0 = problem(model, 40 + k, time=7)
    errors = gradient_check(model, X, Y, h0, truncate=k, teacher_forcing=False)
    assert max(errors.values()) < 1e-6, errors
    _, full = model.loss_and_grad(X, Y, h0, teacher_forcing=False)
    _, cut = model.loss_and_grad(X, Y, h0, teacher_forcing=False, truncate=k)
    assert not np.allclose(full["W1"], cut["W1"], rtol=1e-3, atol=0)


def test_truncated_equals_sum_of_windows():
    """Each window of k steps run on its own from the state the full pass reaches there, its
    exact gradients weighted T_j / T and added up: the truncated gradient."""
    model = StepMLP(2, 4, 3, layers=2)
    k, T = 3, 8
    X, Y, h0 = problem(model, 7, time=T)
    loss, cut = model.loss_and_grad(X, Y, h0, teacher_forcing=False, truncate=k)
    prev = model.bptt(X, Y, h0, teacher_forcing=False).forward.prev
    total = {name: np.zeros_like(g) for name, g in cut.items()}
    window_loss = 0.0
    for s in range(0, T, k):
        start = h0 if s == 0 else prev[:, s]
        part, grads = model.loss_and_grad(
            X[:, s : s + k], Y[:, s : s + k], start, teacher_forcing=False
        )
        weight = X[:, s : s + k].shape[1] / T
        window_loss += weight * part
        for name in grads:
            if name != "h0" or s == 0:
                total[name] += weight * grads[name]
    assert window_loss == pytest.approx(loss, rel=1e-13)
    for name in cut:
        assert_allclose(cut[name], total[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_truncation_changes_nothing_under_teacher_forcing():
    model = StepMLP(2, 5, 3)
    X, Y, h0 = problem(model, 5)
    _, full = model.loss_and_grad(X, Y, h0)
    _, cut = model.loss_and_grad(X, Y, h0, truncate=1)
    for name in full:
        assert_array_equal(cut[name], full[name])


# -- what the network computes ---------------------------------------------------------------------
@pytest.mark.parametrize("h0", ["none", "shared", "batch"])
@pytest.mark.parametrize("layers", [1, 3])
def test_predict_is_the_per_step_rollout(layers, h0):
    model = StepMLP(2, 6, 3, layers=layers)
    X, _, initial = problem(model, 11, batch=4, time=9, h0=h0)
    assert_allclose(model.predict(X, initial), reference_rollout(model, X, initial), rtol=1e-12)


@pytest.mark.parametrize("layers", [1, 2])
def test_linear_path_and_factor_in_the_rollout(layers):
    model = StepMLP(2, 6, 3, layers=layers, linear=True, out_scale=GAIN)
    X, Y, h0 = problem(model, 18, batch=4, time=7)
    assert_allclose(model.predict(X, h0), reference_rollout(model, X, h0), rtol=1e-12)
    expected = reference_rollout(model, X, h0, teacher=Y)
    assert_allclose(model.forward(X, h0, teacher=Y).o, expected, rtol=1e-12)


@pytest.mark.parametrize("teacher_forcing", [True, False])
def test_blocks_of_rows_change_nothing(monkeypatch, teacher_forcing):
    """Blocks of 4 rows over 5 sequences x 3 steps (the first step's rows split between two
    blocks): the same loss and gradients as one block."""
    model = StepMLP(2, 5, 3, layers=2, linear=True, out_scale=GAIN)
    X, Y, h0 = problem(model, 19, batch=5, time=3)
    loss, grads = model.loss_and_grad(X, Y, h0, teacher_forcing=teacher_forcing)
    monkeypatch.setattr(stepnet, "BLOCK_ROWS", 4)
    assert len(stepnet._blocks(15)) == 4
    loss_b, grads_b = model.loss_and_grad(X, Y, h0, teacher_forcing=teacher_forcing)
    assert loss_b == pytest.approx(loss, rel=1e-13)
    for name in grads:
        assert_allclose(grads_b[name], grads[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_teacher_forcing_starts_every_step_from_the_target():
    model = StepMLP(1, 5, 2, layers=2)
    X, Y, h0 = problem(model, 12)
    expected = reference_rollout(model, X, h0, teacher=Y)
    assert_allclose(model.forward(X, h0, teacher=Y).o, expected, rtol=1e-12)
    # and it is not the free rollout
    assert not np.allclose(model.predict(X, h0)[:, 1:], expected[:, 1:])


@pytest.mark.parametrize("teacher_forcing", [True, False])
def test_loss_is_the_jordan_identity_head(teacher_forcing):
    """1/2 ||o - y||^2 averaged over batch and time, as the identity head computes it."""
    model = StepMLP(2, 5, 3)
    X, Y, h0 = problem(model, 13, batch=4, time=5)
    o = reference_rollout(model, X, h0, teacher=Y if teacher_forcing else None)
    expected = get_head("identity").loss(o, Y, 1 / 20)
    assert expected == pytest.approx(0.5 * np.mean(np.sum((o - Y) ** 2, axis=-1)), rel=1e-13)
    assert model.loss(X, Y, h0, teacher_forcing=teacher_forcing) == pytest.approx(expected, 1e-12)
    loss, _ = model.loss_and_grad(X, Y, h0, teacher_forcing=teacher_forcing)
    assert loss == pytest.approx(expected, rel=1e-12)


def test_h0_shared_is_h0_broadcast_and_its_gradient_is_summed():
    model = StepMLP(2, 4, 3)
    X, Y, h0 = problem(model, 14, h0="shared")
    for forcing in (True, False):
        loss, shared = model.loss_and_grad(X, Y, h0, teacher_forcing=forcing)
        loss_b, batch = model.loss_and_grad(X, Y, np.tile(h0, (3, 1)), teacher_forcing=forcing)
        assert loss == loss_b
        assert shared["h0"].shape == (3,)
        assert_allclose(shared["h0"], batch["h0"].sum(axis=0), rtol=1e-12)


def test_clip_scales_the_global_norm():
    model = StepMLP(2, 5, 3)
    X, Y, h0 = problem(model, 15)
    result = model.bptt(X, Y, h0, teacher_forcing=False)
    norm = math.sqrt(sum(np.sum(g**2) for name, g in result.grads.items() if name != "h0"))
    assert result.grad_norm == pytest.approx(norm, rel=1e-12)
    clipped = model.bptt(X, Y, h0, teacher_forcing=False, clip=norm / 4)
    assert clipped.clip_scale == pytest.approx(0.25, rel=1e-12)
    for name, g in result.grads.items():
        assert_allclose(clipped.grads[name], g / 4, rtol=1e-12)
    assert model.bptt(X, Y, h0, teacher_forcing=False, clip=2 * norm).clip_scale == 1.0


def test_float32_computes_in_float32():
    model = StepMLP(2, 5, 3, dtype="float32")
    assert all(p.dtype == np.float32 for p in model.params.values())
    X, Y, h0 = problem(model, 16)
    assert model.predict(X, h0).dtype == np.float32
    _, grads = model.loss_and_grad(X, Y, h0, teacher_forcing=False)
    assert all(g.dtype == np.float32 for g in grads.values())
    double = StepMLP.from_config({**model.config(), "dtype": "float64"})
    double.set_flat_params(model.flat_params())
    assert_allclose(model.predict(X, h0), double.predict(X, h0), rtol=1e-4, atol=1e-5)


# -- parameters and configuration ------------------------------------------------------------------
def test_parameters_order_shapes_and_initialisation():
    model = StepMLP(3, 8, 2, layers=3, seed=4)
    assert model.param_shapes == {
        "W1": (5, 8),
        "b1": (8,),
        "W2": (8, 8),
        "b2": (8,),
        "W3": (8, 8),
        "b3": (8,),
        "V": (8, 2),
        "c": (2,),
    }
    p = model.params
    for name, fan_in in (("W1", 5), ("W2", 8), ("W3", 8), ("V", 8 / 0.01)):
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(p[name]).max() <= bound
        assert np.abs(p[name]).max() > 0.7 * bound  # uniform over the whole interval
    for name in ("b1", "b2", "b3", "c"):
        assert_array_equal(p[name], 0.0)
    again = StepMLP(3, 8, 2, layers=3, seed=4)
    assert_array_equal(again.flat_params(), model.flat_params())
    assert not np.array_equal(StepMLP(3, 8, 2, layers=3, seed=5).flat_params(), model.flat_params())
    linear = StepMLP(3, 8, 2, layers=3, seed=4, linear=True)
    assert list(linear.param_shapes) == [*model.param_shapes, "A"]
    assert linear.param_shapes["A"] == (5, 2)
    assert_array_equal(linear.params["A"], 0.0)
    assert_array_equal(linear.flat_params()[: model.n_params], model.flat_params())


def test_config_round_trip():
    model = StepMLP(2, 7, 3, layers=3, activation="relu", seed=9, dtype="float32")
    cfg = model.config()
    assert cfg == {
        "kind": "mlp",
        "n_in": 2,
        "n_hidden": 7,
        "n_out": 3,
        "layers": 3,
        "activation": "relu",
        "seed": 9,
        "dtype": "float32",
        "linear": False,
        "scale": "none",
        "out_scale": None,
    }
    for rebuilt in (StepMLP.from_config(cfg), Model.from_config(cfg)):
        assert type(rebuilt) is StepMLP
        assert rebuilt.config() == cfg
        assert_array_equal(rebuilt.flat_params(), model.flat_params())


def test_prepare_sets_the_factor_from_the_increments():
    """g = the std of each state's one-step increment (Y[:, 0] - h0, Y[:, 1] - Y[:, 0], ...);
    a state that never moves keeps g = 1; the factor is in the configuration."""
    rng = np.random.default_rng(20)
    h0 = rng.normal(size=(4, 3))
    steps = rng.normal(size=(4, 6, 3)) * np.array([0.01, 0.5, 0.0])
    Y = h0[:, None] + np.cumsum(steps, axis=1)
    X = rng.normal(size=(4, 6, 2))
    model = StepMLP(2, 5, 3, linear=True, scale="increments")
    assert model.out_scale is None
    assert model.prepare(X, Y, h0) is model
    expected = [np.std(steps[..., 0]), np.std(steps[..., 1]), 1.0]
    assert_allclose(model.out_scale, expected, rtol=1e-12)
    assert model.config()["out_scale"] == pytest.approx(expected, rel=1e-12)
    model.set_flat_params(rng.normal(0.0, 0.5, size=model.n_params))
    rebuilt = Model.from_config(model.config())
    rebuilt.set_flat_params(model.flat_params())
    assert_array_equal(rebuilt.predict(X, h0), model.predict(X, h0))
    # without the factor the same parameters give other increments
    plain = StepMLP(2, 5, 3, linear=True)
    plain.set_flat_params(model.flat_params())
    assert plain.prepare(X, Y, h0).out_scale is None
    assert not np.allclose(plain.predict(X, h0), model.predict(X, h0))


def test_settings_and_build():
    assert MODEL_KINDS["mlp"] is StepMLP
    settings = StepMLPSettings()
    assert (settings.hidden, settings.layers, settings.activation, settings.dtype) == (
        64,
        2,
        "tanh",
        "float64",
    )
    assert all(f.metadata.get("help") for f in fields(StepMLPSettings))
    assert StepMLP.settings_fields() == (
        "hidden",
        "layers",
        "activation",
        "dtype",
        "linear",
        "scale",
    )
    assert (settings.linear, settings.scale) == (False, "none")
    assert (StepMLP.kind, StepMLP.task, StepMLP.fitting) == ("mlp", "step_map", "gradient")
    model = StepMLP.build(StepMLPSettings(hidden=16, layers=3), n_in=1, n_out=2, seed=3)
    assert model.config() == StepMLP(1, 16, 2, layers=3, seed=3).config()
    built = StepMLP.build(StepMLPSettings(linear=True, scale="increments"), 1, 2, seed=3)
    assert (built.linear, built.scale) == (True, "increments")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layers": 0}, "layers"),
        ({"n_hidden": 0}, "n_hidden"),
        ({"activation": "sigmoid"}, "activation"),
        ({"dtype": "float16"}, "dtype"),
        ({"seed": -1}, "seed"),
        ({"linear": "yes"}, "linear"),
        ({"scale": "std"}, "scale"),
        ({"out_scale": [1.0]}, "out_scale"),
        ({"out_scale": [1.0, 0.0]}, "out_scale"),
        ({"out_scale": [1.0, np.nan]}, "out_scale"),
        ({"out_scale": "big"}, "out_scale"),
    ],
)
def test_constructor_validation(kwargs, match):
    args = {"n_in": 2, "n_hidden": 4, "n_out": 2, **kwargs}
    with pytest.raises(InputError, match=match):
        StepMLP(**args)


def test_sequence_validation():
    model = StepMLP(2, 4, 3)
    X, Y, h0 = problem(model, 17)
    with pytest.raises(InputError, match="X must have shape"):
        model.predict(X[..., :1], h0)
    with pytest.raises(InputError, match="Y must have shape"):
        model.loss(X, Y[:, :-1], h0)
    with pytest.raises(InputError, match="h0 must have shape"):
        model.predict(X, h0[:, :2])
    with pytest.raises(InputError, match="teacher_forcing"):
        model.loss(X, Y, h0, teacher_forcing="yes")
    with pytest.raises(InputError, match="truncate"):
        model.loss_and_grad(X, Y, h0, teacher_forcing=False, truncate=0)
    model.params["W2"] = np.zeros((4, 5))
    with pytest.raises(InputError, match="W2"):
        model.predict(X, h0)


# -- fitting ---------------------------------------------------------------------------------------
def test_lbfgs_fits_a_nonlinear_step_map():
    """One-step data of an undriven rotation with a cubic damping term (s -> R s - 0.05 s^3):
    L-BFGS through ``fit`` brings the one-step loss down by more than a factor 1000; a second,
    free-running stage then lowers the rollout loss further."""
    rng = np.random.default_rng(0)
    angle = 0.3
    R = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    states = np.empty((16, 13, 2))
    states[:, 0] = rng.uniform(-1.5, 1.5, size=(16, 2))
    for n in range(12):
        states[:, n + 1] = states[:, n] @ R - 0.05 * states[:, n] ** 3
    X, Y, h0 = np.zeros((16, 12, 1)), states[:, 1:], states[:, 0]
    model = StepMLP(1, 16, 2, layers=2, seed=1)
    history = fit(model, (X, Y, h0), optimizer="lbfgs", epochs=150, progress=False)
    assert history.best_loss < history.initial_train_loss / 1000
    assert model.loss(X, Y, h0) == pytest.approx(history.best_loss, rel=1e-12)
    rollout = model.loss(X, Y, h0, teacher_forcing=False)
    assert rollout < history.initial_train_loss / 100
    closed = fit(
        model, (X, Y, h0), optimizer="lbfgs", epochs=50, teacher_forcing=False, progress=False
    )
    assert closed.initial_train_loss == pytest.approx(rollout, rel=1e-12)
    assert closed.best_loss < 0.8 * rollout
    assert model.loss(X, Y, h0, teacher_forcing=False) == pytest.approx(closed.best_loss, 1e-12)


def test_train_model_prepares_the_model_before_fitting(tmp_path):
    """The lorenz recipe (a short fit on short trajectories): the factor is the std of the
    normalised training increments, and the model file keeps it."""
    from dynsys.rnn.data import make_splits
    from dynsys.rnn.io import load_model
    from dynsys.rnn.pipeline import save_trained, train_model, training_arrays
    from dynsys.rnn.settings import plan_fit

    plan = plan_fit(
        "lorenz",
        "mlp",
        dataset={"t_end": 0.5, "seq_len": 10, "n_train": 2, "n_val": 1, "n_test": 1},
        training={"epochs": 3, "closed_loop_epochs": 2},
        model={"hidden": 4},
    )
    assert (plan.model.linear, plan.model.scale) == (True, "increments")
    trained = train_model(plan, progress=False)
    model = trained.model
    _, Y, h0 = training_arrays(model, make_splits(plan.spec).train, trained.normalizer)
    prev = np.concatenate((h0[:, None], Y[:, :-1]), axis=1)
    expected = np.std((Y - prev).reshape(-1, 3), axis=0)
    assert_allclose(model.out_scale, expected, rtol=1e-10)
    assert np.all(expected < 0.2)  # h = 0.01: increments far below the states' std
    loaded = load_model(save_trained(trained, tmp_path / "lorenz.npz")).model
    assert_array_equal(loaded.out_scale, model.out_scale)
