"""Tests of the GRU network: gradient checks of BPTT (full, truncated, clipped), the forward pass
against a per-step reference (and torch.nn.GRU when torch is installed), the gate conventions,
configuration, input validation, float32 and a short fit."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dynsys import InputError
from dynsys.rnn import ElmanRNN, gradient_check, kinds
from dynsys.rnn.base import Model
from dynsys.rnn.gru import GRUNetwork, GRUSettings
from dynsys.rnn.train import fit

PARAMS = ("W_i", "W_h", "b_i", "b_h", "V", "c")


def test_gru_is_registered():
    assert kinds.MODEL_KINDS["gru"] is GRUNetwork


def problem(model: GRUNetwork, seed: int, batch: int = 3, time: int = 6, h0: str = "none"):
    """Parameters drawn N(0, 0.5^2), random inputs, targets and an initial state."""
    rng = np.random.default_rng(seed)
    model.set_flat_params(rng.normal(0.0, 0.5, size=model.n_params))
    X = rng.normal(size=(batch, time, model.n_in))
    Y = rng.normal(size=(batch, time, model.n_out))
    initial = {
        "none": None,
        "shared": rng.normal(size=model.n_hidden),
        "batch": rng.normal(size=(batch, model.n_hidden)),
    }[h0]
    return X, Y, initial


def reference_outputs(params: dict, X: np.ndarray, h0=None) -> np.ndarray:
    """torch.nn.GRU's equations step by step, with the readout: (batch, time, n_out)."""
    W_i, W_h, b_i, b_h, V, c = (params[name] for name in PARAMS)
    H = W_h.shape[0]
    batch, time, _ = X.shape
    h = np.zeros((batch, H)) if h0 is None else np.broadcast_to(h0, (batch, H)).astype(float)
    outputs = []
    for t in range(time):
        gi = X[:, t] @ W_i + b_i
        gh = h @ W_h + b_h
        r = 1 / (1 + np.exp(-(gi[:, :H] + gh[:, :H])))
        z = 1 / (1 + np.exp(-(gi[:, H : 2 * H] + gh[:, H : 2 * H])))
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1 - z) * n + z * h
        outputs.append(c + h @ V)
    return np.stack(outputs, axis=1)


# -- gradient checks: BPTT against centred finite differences -----------------------------------
@pytest.mark.parametrize("h0", ["none", "shared", "batch"])
def test_gradient_check(h0):
    model = GRUNetwork(3, 4, 2)
    X, Y, initial = problem(model, seed=1, h0=h0)
    errors = gradient_check(model, X, Y, initial)
    assert set(errors) == {*PARAMS, "h0"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize(("truncate", "h0"), [(1, "batch"), (2, "shared"), (4, "batch")])
def test_truncated_gradient_check(truncate, h0):
    """The gradient of the windowed loss, each window started from its fixed forward state."""
    model = GRUNetwork(2, 5, 3)
    X, Y, initial = problem(model, seed=2, time=7, h0=h0)
    errors = gradient_check(model, X, Y, initial, truncate=truncate)
    assert max(errors.values()) < 1e-6, errors
    # truncation really cuts: the gradients differ from full BPTT
    _, full = model.loss_and_grad(X, Y, initial)
    _, cut = model.loss_and_grad(X, Y, initial, truncate=truncate)
    assert not np.allclose(full["W_h"], cut["W_h"])


def test_truncation_longer_than_the_sequence_is_full_bptt():
    model = GRUNetwork(2, 4, 2)
    X, Y, h0 = problem(model, seed=3, time=5, h0="batch")
    _, full = model.loss_and_grad(X, Y, h0)
    _, long = model.loss_and_grad(X, Y, h0, truncate=5)
    for name in full:
        assert_allclose(long[name], full[name], rtol=1e-12, atol=0)


def test_truncation_gives_h0_the_first_window_only():
    """dL/dh0 under truncate=k is that of the first window's share (k/T) of the loss."""
    model = GRUNetwork(2, 4, 2)
    X, Y, h0 = problem(model, seed=4, time=6, h0="batch")
    _, cut = model.loss_and_grad(X, Y, h0, truncate=2)
    _, first = model.loss_and_grad(X[:, :2], Y[:, :2], h0)
    assert_allclose(cut["h0"], first["h0"] * 2 / 6, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("h0", ["none", "batch"])
def test_clip_scales_every_gradient(h0):
    model = GRUNetwork(2, 4, 2)
    X, Y, initial = problem(model, seed=5, h0=h0)
    free = model.bptt(X, Y, initial)
    norm = math.sqrt(sum(float(np.sum(free.grads[k] ** 2)) for k in PARAMS))
    assert free.grad_norm == pytest.approx(norm, rel=1e-12)
    assert free.clip_scale == 1.0
    clipped = model.bptt(X, Y, initial, clip=norm / 4)
    assert clipped.clip_scale == pytest.approx(0.25, rel=1e-12)
    assert clipped.loss == free.loss
    for name in free.grads:  # h0's gradient too
        assert_allclose(clipped.grads[name], free.grads[name] / 4, rtol=1e-12)
    clipped_norm = math.sqrt(sum(float(np.sum(clipped.grads[k] ** 2)) for k in PARAMS))
    assert clipped_norm == pytest.approx(norm / 4, rel=1e-12)
    loose = model.bptt(X, Y, initial, clip=2 * norm)
    assert loose.clip_scale == 1.0
    for name in free.grads:
        assert_array_equal(loose.grads[name], free.grads[name])


def test_gradient_shapes_and_loss():
    model = GRUNetwork(3, 4, 2)
    X, Y, _ = problem(model, seed=6)
    for h0, shape in ((None, (4,)), (np.zeros(4), (4,)), (np.zeros((3, 4)), (3, 4))):
        loss, grads = model.loss_and_grad(X, Y, h0)
        assert grads["h0"].shape == shape
        assert {k: g.shape for k, g in grads.items() if k != "h0"} == model.param_shapes
        # the loss is the mean over batch and time of 1/2 ||o - y||^2, as for ElmanRNN
        expected = 0.5 * np.mean(np.sum((model.predict(X, h0) - Y) ** 2, axis=-1))
        assert loss == pytest.approx(expected, rel=1e-12)
        assert model.loss(X, Y, h0) == pytest.approx(loss, rel=1e-12)


def test_loss_is_scaled_like_elman():
    """Both losses are 1/2 ||o - y||^2 averaged over batch and time, so they compare directly."""
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 5, 3))
    for model in (GRUNetwork(2, 6, 3), ElmanRNN(2, 6, 3)):
        expected = 0.5 * np.sum((model.predict(X) - Y) ** 2) / (4 * 5)
        assert model.loss(X, Y) == pytest.approx(expected, rel=1e-12)


# -- the forward pass ---------------------------------------------------------------------------
@pytest.mark.parametrize("h0", ["none", "shared", "batch"])
def test_forward_matches_reference(h0):
    model = GRUNetwork(3, 5, 2)
    X, _, initial = problem(model, seed=8, batch=4, time=9, h0=h0)
    out = model.predict(X, initial)
    assert out.shape == (4, 9, 2)
    assert out.flags.c_contiguous
    assert_allclose(out, reference_outputs(model.params, X, initial), rtol=1e-12, atol=1e-13)
    fp = model.forward(X, initial)
    assert fp.prev.shape == fp.h.shape == (4, 9, 5)
    assert_allclose(fp.prev[:, 1:], fp.h[:, :-1])
    assert_allclose(fp.prev[:, 0], np.broadcast_to(0.0 if initial is None else initial, (4, 5)))


def test_forward_matches_torch():
    torch = pytest.importorskip("torch")
    model = GRUNetwork(3, 5, 2)
    X, _, h0 = problem(model, seed=9, h0="batch")
    gru = torch.nn.GRU(3, 5, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.from_numpy(model.params["W_i"].T.copy()))
        gru.weight_hh_l0.copy_(torch.from_numpy(model.params["W_h"].T.copy()))
        gru.bias_ih_l0.copy_(torch.from_numpy(model.params["b_i"]))
        gru.bias_hh_l0.copy_(torch.from_numpy(model.params["b_h"]))
        hs, _ = gru(torch.from_numpy(X), torch.from_numpy(h0)[None])
    expected = hs.numpy() @ model.params["V"] + model.params["c"]
    assert_allclose(model.predict(X, h0), expected, rtol=1e-10, atol=1e-12)


def test_update_gate_keeps_or_replaces_the_state():
    """z = 1 keeps h(t) = h(t-1) = h0; z = 0 with W_h = 0 gives h(t) = n(t) from x(t) alone."""
    model = GRUNetwork(2, 3, 3)
    X, _, h0 = problem(model, seed=10, h0="batch")
    H = 3
    model.params["V"][...] = np.eye(3)
    model.params["c"][...] = 0
    model.params["b_i"][H : 2 * H] = 60.0  # z = sigmoid(60 + ...) = 1 to rounding
    assert_allclose(model.predict(X, h0), np.broadcast_to(h0[:, None], (3, 6, 3)), atol=1e-12)
    model.params["b_i"][H : 2 * H] = -60.0
    model.params["W_h"][...] = 0
    p = model.params
    r = 1 / (1 + np.exp(-(X @ p["W_i"][:, :H] + p["b_i"][:H] + p["b_h"][:H])))
    n = np.tanh(X @ p["W_i"][:, 2 * H :] + p["b_i"][2 * H :] + r * p["b_h"][2 * H :])
    assert_allclose(model.predict(X, h0), n, atol=1e-12)


def test_initial_pads_states():
    model = GRUNetwork(1, 4, 2)
    s0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert_array_equal(model.initial(s0), [[1, 2, 0, 0], [3, 4, 0, 0]])
    with pytest.raises(InputError, match="hidden units"):
        GRUNetwork(1, 1, 2).initial(s0)


# -- construction, configuration --------------------------------------------------------------
def test_initialisation_like_torch():
    model = GRUNetwork(3, 16, 2, seed=4)
    assert list(model.params) == list(PARAMS)
    assert model.param_shapes == {
        "W_i": (3, 48),
        "W_h": (16, 48),
        "b_i": (48,),
        "b_h": (48,),
        "V": (16, 2),
        "c": (2,),
    }
    for name, arr in model.params.items():
        assert arr.dtype == np.float64
        assert np.abs(arr).max() <= 0.25, name  # 1/sqrt(16)
        assert np.all(arr != 0), name  # biases are drawn too
    values = model.flat_params()  # uniform on +-1/4: standard deviation 1/(4 sqrt(3))
    assert values.std() == pytest.approx(0.25 / math.sqrt(3), rel=0.05)
    again = GRUNetwork(3, 16, 2, seed=4)
    other = GRUNetwork(3, 16, 2, seed=5)
    assert_array_equal(again.flat_params(), model.flat_params())
    assert not np.allclose(other.flat_params(), model.flat_params())


def test_config_round_trip():
    model = GRUNetwork(3, 7, 2, seed=11, dtype="float32")
    cfg = model.config()
    assert cfg == {
        "kind": "gru",
        "n_in": 3,
        "n_hidden": 7,
        "n_out": 2,
        "seed": 11,
        "dtype": "float32",
    }
    for rebuilt in (GRUNetwork.from_config(cfg), Model.from_config(cfg)):
        assert type(rebuilt) is GRUNetwork
        assert rebuilt.config() == cfg
        assert_array_equal(rebuilt.flat_params(), model.flat_params())
    assert "GRUNetwork(n_in=3" in repr(model)


def test_settings_and_build():
    assert GRUNetwork.kind == "gru"
    assert GRUNetwork.task == "driven_response"
    assert GRUNetwork.fitting == "gradient"
    assert GRUNetwork.summary and "\n" not in GRUNetwork.summary
    assert GRUNetwork.settings_fields() == ("hidden", "dtype")
    for f in fields(GRUSettings):
        assert f.metadata["help"]
    assert set(fields(GRUSettings)[1].metadata["choices"]) == {"float32", "float64"}
    model = GRUNetwork.build(GRUSettings(hidden=5, dtype="float32"), n_in=2, n_out=3, seed=1)
    assert (model.n_in, model.n_hidden, model.n_out, model.seed) == (2, 5, 3, 1)
    assert model.dtype == np.float32


# -- input validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_hidden": 0}, "n_hidden must be a positive integer"),
        ({"n_in": 1.5}, "n_in must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"dtype": "float16"}, "unknown dtype 'float16'"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    args = {"n_in": 2, "n_hidden": 3, "n_out": 1} | kwargs
    with pytest.raises(InputError, match=match):
        GRUNetwork(**args)


def test_bad_inputs():
    model = GRUNetwork(2, 3, 1)
    X, Y = np.zeros((4, 5, 2)), np.zeros((4, 5, 1))
    cases = [
        (lambda: model.predict(np.zeros((4, 5, 3))), r"X must have shape \(batch, time, n_in\)"),
        (lambda: model.predict(np.zeros((5, 2))), "X must have shape"),
        (lambda: model.predict(np.zeros((0, 5, 2))), "X needs at least one sequence"),
        (lambda: model.predict([[["a", "b"]]]), "X must be an array of numbers"),
        (lambda: model.predict(np.full((1, 2, 2), np.nan)), "X must be finite"),
        (lambda: model.loss(X, np.zeros((4, 6, 1))), r"Y must have shape .* like X"),
        (lambda: model.loss_and_grad(X, np.zeros((4, 5, 2))), "Y must have shape"),
        (lambda: model.predict(X, np.zeros(4)), r"h0 must have shape \(n_hidden,\) = \(3,\)"),
        (lambda: model.predict(X, np.zeros((3, 3))), r"\(batch, n_hidden\) = \(4, 3\)"),
        (lambda: model.predict(X, np.full(3, np.inf)), "h0 must be finite"),
        (lambda: model.loss_and_grad(X, Y, truncate=0), "truncate must be a positive integer"),
        (lambda: model.loss_and_grad(X, Y, clip=-1.0), "clip must be a positive number"),
    ]
    for call, match in cases:
        with pytest.raises(InputError, match=match) as info:
            call()
        assert "\n" not in str(info.value)


def test_replaced_params_are_checked():
    model = GRUNetwork(2, 3, 1)
    model.params["W_h"] = np.zeros((3, 3))
    with pytest.raises(InputError, match=r"params\['W_h'\] must be a float64 array of shape"):
        model.predict(np.zeros((1, 2, 2)))


# -- float32 and training -------------------------------------------------------------------------
def test_float32_runs_close_to_float64():
    single = GRUNetwork(3, 6, 2, seed=2, dtype="float32")
    double = GRUNetwork(3, 6, 2, seed=2)
    rng = np.random.default_rng(12)
    X, Y, h0 = rng.normal(size=(5, 20, 3)), rng.normal(size=(5, 20, 2)), rng.normal(size=6)
    out = single.predict(X, h0)
    assert out.dtype == np.float32
    assert_allclose(out, double.predict(X, h0), rtol=0, atol=1e-5)
    loss, grads = single.loss_and_grad(X, Y, h0, truncate=7, clip=10.0)
    ref_loss, ref_grads = double.loss_and_grad(X, Y, h0, truncate=7, clip=10.0)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for name, grad in grads.items():
        assert grad.dtype == np.float32, name
        assert_allclose(grad, ref_grads[name], rtol=0, atol=1e-5)
    # the check runs on a float64 copy
    errors = gradient_check(single, X[:2, :5], Y[:2, :5], h0)
    assert max(errors.values()) < 1e-6, errors


def leaky_filter(seed: int, batch: int = 16, time: int = 30):
    """A driven response: y(t) = 0.7 y(t-1) + 0.5 tanh(x(t)) from y(0) = 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, time, 1))
    Y = np.zeros((batch, time, 1))
    y = np.zeros(batch)
    for t in range(time):
        y = 0.7 * y + 0.5 * np.tanh(X[:, t, 0])
        Y[:, t, 0] = y
    return X, Y


@pytest.mark.parametrize(
    ("optimizer", "options", "factor"),
    [("lbfgs", {"epochs": 60}, 300.0), ("adam", {"epochs": 150, "lr": 0.02}, 30.0)],
)
def test_fit_learns_a_driven_response(optimizer, options, factor):
    model = GRUNetwork(1, 6, 1, seed=0)
    X, Y = leaky_filter(seed=13)
    history = fit(
        model, (X, Y, None), None, optimizer=optimizer, batch_size=None, progress=False, **options
    )
    assert history.stopped_reason in ("epochs", "converged")
    assert history.best_loss < history.initial_train_loss / factor
    assert model.loss(X, Y) == pytest.approx(history.best_loss, rel=1e-9)
    X_new, Y_new = leaky_filter(seed=14)  # fresh sequences of the same system
    assert model.loss(X_new, Y_new) < history.initial_train_loss / (factor / 3)
