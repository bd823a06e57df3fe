"""Tests of the numpy RNNs: gradient checks of BPTT (full, truncated, closed-loop), the RNN that
is the Euler stepper, determinism, float32, clipping, the output heads and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dynsys import InputError, Recurrence, get_stepper, get_system, simulate
from dynsys.rnn import MODEL_KINDS as MODELS
from dynsys.rnn import ElmanRNN, JordanRNN, RNNModel, gradient_check

ACTIVATIONS = ["tanh", "relu", "identity"]
HEADS = ["identity", "softmax"]

# every Jordan variant: (output, residual, teacher_forcing); residual needs the identity head
JORDAN_CASES = [
    (output, residual, forcing)
    for output in HEADS
    for residual in ([False, True] if output == "identity" else [False])
    for forcing in (True, False)
]


def problem(model: RNNModel, seed: int, batch: int = 3, time: int = 5, h0: str = "none"):
    """Random parameters, inputs, targets and initial state for ``model``.

    Parameters are drawn N(0, 0.5^2) (non-zero biases, so no bug hides behind the zero
    initialisation); targets are probabilities for the softmax head.
    """
    rng = np.random.default_rng(seed)
    model.set_flat_params(rng.normal(0.0, 0.5, size=model.n_params))
    X = rng.normal(size=(batch, time, model.n_in))
    if model.output == "softmax":
        Y = rng.dirichlet(np.ones(model.n_out), size=(batch, time))
    else:
        Y = rng.normal(size=(batch, time, model.n_out))
    initial = {
        "none": None,
        "shared": rng.normal(size=model.n_state),
        "batch": rng.normal(size=(batch, model.n_state)),
    }[h0]
    return X, Y, initial


def away_from_kinks(model: RNNModel, X, Y, h0, teacher_forcing: bool = False) -> None:
    """Finite differences across relu's kink are meaningless: make sure no a(t) is near 0."""
    if model.activation == "relu":
        teacher = {"teacher": Y} if teacher_forcing else {}
        assert np.abs(model.forward(X, h0, **teacher).a).min() > 1e-4


def random_sizes(seed: int) -> tuple[int, int, int]:
    """(n_in, n_hidden, n_out), small; n_out >= 2 (a softmax over one output is constant)."""
    rng = np.random.default_rng(seed)
    return int(rng.integers(1, 6)), int(rng.integers(1, 7)), int(rng.integers(2, 6))


# -- gradient checks: BPTT against centred finite differences -----------------------------------
@pytest.mark.parametrize("h0", ["none", "shared", "batch"])
@pytest.mark.parametrize("output", HEADS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_elman_gradient_check(activation, output, h0):
    seed = ACTIVATIONS.index(activation) * 10 + HEADS.index(output)
    model = ElmanRNN(*random_sizes(seed), activation=activation, output=output)
    X, Y, initial = problem(model, seed, h0=h0)
    away_from_kinks(model, X, Y, initial)
    errors = gradient_check(model, X, Y, initial)
    assert set(errors) == {*("U", "W", "b", "V", "c"), "h0"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("h0", ["none", "batch"])
@pytest.mark.parametrize(("output", "residual", "forcing"), JORDAN_CASES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jordan_gradient_check(activation, output, residual, forcing, h0):
    seed = (
        100 + ACTIVATIONS.index(activation) * 10 + JORDAN_CASES.index((output, residual, forcing))
    )
    n_in, n_hidden, n_out = random_sizes(seed)
    model = JordanRNN(n_in, n_hidden, n_out, activation, output, residual=residual)
    X, Y, initial = problem(model, seed, h0=h0)
    away_from_kinks(model, X, Y, initial, teacher_forcing=forcing)
    errors = gradient_check(model, X, Y, initial, teacher_forcing=forcing)
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    """The checker is not vacuous: a gradient off by 1% in one entry of W is reported."""
    model = ElmanRNN(2, 4, 2)
    X, Y, _ = problem(model, 7)
    original = ElmanRNN._finish

    def broken(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        result.grads["W"][1, 2] *= 1.01
        return result

    monkeypatch.setattr(ElmanRNN, "_finish", broken)
    errors = gradient_check(model, X, Y)
    assert errors["W"] > 1e-4
    assert errors["U"] < 1e-6


def test_gradient_check_samples_entries_of_big_models():
    model = ElmanRNN(3, 40, 2)
    X, Y, _ = problem(model, 3, batch=2, time=4)
    errors = gradient_check(model, X, Y, max_entries=25, seed=1)
    assert max(errors.values()) < 1e-6


# -- truncated BPTT -----------------------------------------------------------------------------
TRUNCATED = [
    ("elman", "tanh", "identity", False),
    ("elman", "relu", "softmax", False),
    ("jordan", "tanh", "identity", False),
    ("jordan", "tanh", "identity", True),
    ("jordan", "identity", "softmax", False),
]


def truncation_model(kind, activation, output, residual, seed):
    n_in, n_hidden, n_out = random_sizes(seed)
    if kind == "elman":
        return ElmanRNN(n_in, n_hidden, n_out, activation, output), {}
    model = JordanRNN(n_in, n_hidden, n_out, activation, output, residual=residual)
    return model, {"teacher_forcing": False}


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize(("kind", "activation", "output", "residual"), TRUNCATED)
def test_truncated_gradient_check(kind, activation, output, residual, k):
    """Truncated BPTT is the exact gradient of the windowed loss with frozen window starts."""
    seed = 200 + TRUNCATED.index((kind, activation, output, residual))
    model, kwargs = truncation_model(kind, activation, output, residual, seed)
    X, Y, h0 = problem(model, seed, time=7, h0="batch")
    away_from_kinks(model, X, Y, h0)
    errors = gradient_check(model, X, Y, h0, truncate=k, **kwargs)
    assert max(errors.values()) < 1e-6, errors
    # and it is not the full gradient: the check above would have failed on that
    _, full = model.loss_and_grad(X, Y, h0, **kwargs)
    _, cut = model.loss_and_grad(X, Y, h0, truncate=k, **kwargs)
    assert not np.allclose(full["W"], cut["W"], rtol=1e-3, atol=0)


@pytest.mark.parametrize(("kind", "activation", "output", "residual"), TRUNCATED)
def test_truncated_equals_sum_of_windows(kind, activation, output, residual):
    """Brute force, without finite differences: run each window of k steps on its own from the
    state the full forward pass reaches there, and add up its exact gradients weighted T_j / T."""
    seed = 300 + TRUNCATED.index((kind, activation, output, residual))
    model, kwargs = truncation_model(kind, activation, output, residual, seed)
    k, T = 3, 8
    X, Y, h0 = problem(model, seed, time=T, h0="batch")
    loss, cut = model.loss_and_grad(X, Y, h0, truncate=k, **kwargs)
    prev = model.bptt(X, Y, h0, **kwargs).forward.prev  # r(t-1) of each step
    total = {name: np.zeros_like(g) for name, g in cut.items()}
    window_loss = 0.0
    for s in range(0, T, k):
        start = h0 if s == 0 else prev[:, s]
        part, grads = model.loss_and_grad(X[:, s : s + k], Y[:, s : s + k], start, **kwargs)
        weight = X[:, s : s + k].shape[1] / T
        window_loss += weight * part
        for name in ("U", "W", "b", "V", "c"):
            total[name] += weight * grads[name]
        if s == 0:
            total["h0"] = weight * grads["h0"]
    assert window_loss == pytest.approx(loss, rel=1e-13)
    for name in (*("U", "W", "b", "V", "c"), "h0"):
        assert_allclose(cut[name], total[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_truncation_at_or_beyond_the_length_is_full_bptt():
    model = ElmanRNN(2, 5, 3)
    X, Y, h0 = problem(model, 4, time=6, h0="shared")
    _, full = model.loss_and_grad(X, Y, h0)
    for k in (6, 50):
        _, same = model.loss_and_grad(X, Y, h0, truncate=k)
        for name in full:
            assert_array_equal(same[name], full[name])


def test_truncation_changes_nothing_under_teacher_forcing():
    model = JordanRNN(2, 5, 3, residual=True)
    X, Y, h0 = problem(model, 5, time=6, h0="batch")
    _, full = model.loss_and_grad(X, Y, h0)
    _, cut = model.loss_and_grad(X, Y, h0, truncate=1)
    for name in full:
        assert_array_equal(cut[name], full[name])


# -- the RNN and the stepper are the same recurrence --------------------------------------------
@pytest.fixture(scope="module")
def euler_oscillator():
    """An explicit Euler run of the damped, driven oscillator, its drive inputs and matrices."""
    p = {"m": 1.3, "k": 2.0, "A": 0.7, "c": 0.25, "omega": 1.7}
    system = get_system("driven_oscillator", **p)
    h, n_steps, s0 = 0.01, 500, np.array([0.8, -0.3])
    traj = simulate(system, s0, t_span=(0.0, n_steps * h), dt=h, method="euler")
    x = Recurrence(system, get_stepper("euler"), h).inputs(n_steps)  # x(n+1) = x(t_n): (N, 1)
    # ds/dt = J s + d x(t) in row vectors: s J^T + x d, with d = (0, 1/m)
    jac = np.array([[0.0, 1.0], [-p["k"] / p["m"], -p["c"] / p["m"]]])
    drive_in = np.array([[0.0, 1.0 / p["m"]]])
    return {
        "h": h,
        "s0": s0,
        "states": traj.states,
        "t": traj.t,
        "X": x[None],
        "jac": jac,
        "drive_in": drive_in,
        "params": p,
    }


def test_drive_input_of_step_n_is_the_drive_at_t_n(euler_oscillator):
    e = euler_oscillator
    t_n = e["t"][:-1]
    p = e["params"]
    assert_allclose(e["X"][0, :, 0], p["A"] * np.cos(p["omega"] * t_n), rtol=1e-15)
    assert e["X"].shape == (1, len(t_n), 1)


def set_weights(model: RNNModel, **weights) -> None:
    for name, value in weights.items():
        model.params[name][...] = value


def test_linear_elman_is_the_euler_stepper(euler_oscillator):
    """The RNN and the stepper are the same recurrence.

    Explicit Euler with step h on ds/dt = J s + d x is s(n+1) = s(n) (I + hJ)^T + x(t_n) h d in
    row vectors: a linear Elman RNN with hidden state s(n), W = (I + hJ)^T, U = h d, b = 0,
    read out by V = I, c = 0, and driven by x(n+1) = x(t_n).
    """
    e = euler_oscillator
    h = e["h"]
    model = ElmanRNN(1, 2, 2, activation="identity")
    W = (np.eye(2) + h * e["jac"]).T
    set_weights(model, W=W, U=h * e["drive_in"], b=0.0, V=np.eye(2), c=0.0)
    predicted = model.predict(e["X"], e["s0"])
    scale = np.abs(e["states"]).max()
    assert_allclose(predicted[0], e["states"][1:], rtol=0, atol=1e-13 * scale)


@pytest.mark.parametrize("residual", [False, True])
def test_linear_jordan_is_the_euler_stepper(euler_oscillator, residual):
    """The RNN and the stepper are the same recurrence, fed back through the output.

    Plain: a(n+1) = o(n) (I + hJ)^T + x h d and o(n+1) = a(n+1) is the next state.  Residual:
    the output is o(n) + a(n+1) with a(n+1) = o(n) (hJ)^T + x h d, the Euler increment h g(s, x):
    the residual Jordan RNN is explicit Euler with the vector field g as its hidden layer.
    Under teacher forcing on the Euler trajectory every one-step prediction is exact.
    """
    e = euler_oscillator
    h = e["h"]
    model = JordanRNN(1, 2, 2, activation="identity", residual=residual)
    W = ((0.0 if residual else 1.0) * np.eye(2) + h * e["jac"]).T
    set_weights(model, W=W, U=h * e["drive_in"], b=0.0, V=np.eye(2), c=0.0)
    states = e["states"]
    scale = np.abs(states).max()
    assert_allclose(model.predict(e["X"], e["s0"])[0], states[1:], rtol=0, atol=1e-13 * scale)
    forced = model.forward(e["X"], e["s0"], teacher=states[None, 1:])
    assert_allclose(forced.o[0], states[1:], rtol=0, atol=1e-14 * scale)
    assert model.loss(e["X"], states[None, 1:], e["s0"]) < 1e-28


# -- determinism, configuration, flat vectors ---------------------------------------------------
@pytest.mark.parametrize("cls", [ElmanRNN, JordanRNN])
def test_same_seed_same_parameters(cls):
    a, b, c = cls(3, 7, 2, seed=5), cls(3, 7, 2, seed=5), cls(3, 7, 2, seed=6)
    for name in ("U", "W", "b", "V", "c"):
        assert_array_equal(a.params[name], b.params[name])
        assert a.params[name].shape == a.param_shapes[name]
    assert not np.array_equal(a.flat_params(), c.flat_params())
    assert a.n_params == a.flat_params().size


def test_initialisation_scales():
    model = ElmanRNN(4, 64, 3, seed=1)
    assert np.abs(model.params["U"]).max() <= 1 / 2
    assert np.abs(model.params["W"]).max() <= 1 / 8
    assert np.abs(model.params["W"]).max() > 0.1
    assert_array_equal(model.params["b"], 0.0)
    assert max(abs(np.linalg.eigvals(model.params["W"]))) < 1  # a stable recurrence at start


@pytest.mark.parametrize(
    "model",
    [
        ElmanRNN(2, 3, 4, activation="relu", output="softmax", seed=9, dtype=np.float32),
        JordanRNN(1, 5, 2, activation="identity", residual=True, seed=3),
    ],
)
def test_config_round_trip(model):
    cfg = model.config()
    assert cfg["kind"] in MODELS
    assert cfg == type(model).from_config(cfg).config() == RNNModel.from_config(cfg).config()
    rebuilt = RNNModel.from_config(cfg)
    assert type(rebuilt) is type(model)
    assert_array_equal(rebuilt.flat_params(), model.flat_params())
    assert cfg["dtype"] in ("float32", "float64")
    assert ("residual" in cfg) == isinstance(model, JordanRNN)


def test_from_config_refuses_a_wrong_kind_and_unknown_keys():
    cfg = ElmanRNN(1, 2, 1).config()
    with pytest.raises(InputError, match="kind"):
        JordanRNN.from_config(cfg)
    with pytest.raises(InputError, match="kind 'hopfield'"):
        RNNModel.from_config({**cfg, "kind": "hopfield"})
    with pytest.raises(InputError, match="'hidden'"):
        ElmanRNN.from_config({**cfg, "hidden": 3})


def test_flat_vector_order_and_writes():
    model = JordanRNN(2, 3, 4)
    vec = np.arange(model.n_params, dtype=float)
    model.set_flat_params(vec)
    assert_array_equal(model.params["U"], np.arange(6.0).reshape(2, 3))
    assert_array_equal(model.params["W"], np.arange(6.0, 18.0).reshape(4, 3))
    assert_array_equal(model.params["c"], vec[-4:])
    assert_array_equal(model.flat_params(), vec)
    grads = {name: model.params[name] * 2 for name in ("U", "W", "b", "V", "c")} | {
        "h0": np.ones(4)
    }
    assert_array_equal(model.flat_grad(grads), 2 * vec)
    with pytest.raises(InputError, match=f"\\({model.n_params},\\)"):
        model.set_flat_params(vec[:-1])


def test_writing_into_params_changes_the_model():
    model = ElmanRNN(1, 3, 1)
    X = np.ones((1, 4, 1))
    before = model.predict(X)
    model.params["c"][0] += 2.0
    assert_allclose(model.predict(X), before + 2.0, rtol=1e-15)


# -- dtype, clipping, heads, the loss --------------------------------------------------------------
@pytest.mark.parametrize("cls", [ElmanRNN, JordanRNN])
def test_float32_computes_in_float32(cls):
    m32, m64 = cls(2, 8, 3, dtype=np.float32), cls(2, 8, 3)
    X, Y, h0 = problem(m64, 11, time=20, h0="shared")
    m32.set_flat_params(m64.flat_params())
    assert all(p.dtype == np.float32 for p in m32.params.values())
    result = m32.bptt(X, Y, h0)
    fp = result.forward
    for arr in (fp.a, fp.h, fp.o, result.dL_dh, result.dL_do, *result.grads.values()):
        assert arr.dtype == np.float32
    assert m32.predict(X).dtype == np.float32
    loss64, grads64 = m64.loss_and_grad(X, Y, h0)
    assert result.loss == pytest.approx(loss64, rel=1e-5)
    assert_allclose(m32.flat_grad(result.grads), m64.flat_grad(grads64), rtol=1e-3, atol=1e-5)
    # the gradient check runs on a float64 copy, leaving the float32 model as it was
    before = m32.flat_params()
    assert max(gradient_check(m32, X[:, :5], Y[:, :5], h0).values()) < 1e-6
    assert_array_equal(m32.flat_params(), before)
    assert m32.dtype == np.float32


def test_clip_scales_the_global_norm():
    model = ElmanRNN(2, 6, 2)
    X, Y, h0 = problem(model, 12, h0="batch")
    result = model.bptt(X, Y, h0)
    norm = np.linalg.norm(model.flat_grad(result.grads))
    assert result.grad_norm == pytest.approx(norm, rel=1e-12)
    assert result.clip_scale == 1.0
    clipped = model.bptt(X, Y, h0, clip=norm / 4)
    assert np.linalg.norm(model.flat_grad(clipped.grads)) == pytest.approx(norm / 4, rel=1e-12)
    assert clipped.clip_scale == pytest.approx(0.25, rel=1e-12)
    for name in result.grads:  # the same direction, h0 included
        assert_allclose(clipped.grads[name], result.grads[name] / 4, rtol=1e-12)
    loose = model.bptt(X, Y, h0, clip=norm * 2)
    for name in result.grads:
        assert_array_equal(loose.grads[name], result.grads[name])


@pytest.mark.parametrize(
    "model", [ElmanRNN(2, 4, 5, output="softmax"), JordanRNN(2, 4, 5, output="softmax")]
)
def test_softmax_predictions_are_probabilities(model):
    X, _, _ = problem(model, 13, time=30)
    p = model.predict(X)
    assert p.shape == (3, 30, 5)
    assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-14)
    assert (p > 0).all()


def test_loss_is_the_mean_over_batch_and_time():
    model = ElmanRNN(2, 4, 3)
    X, Y, _ = problem(model, 14, batch=4, time=6)
    o = model.predict(X)
    assert model.loss(X, Y) == pytest.approx(0.5 * ((o - Y) ** 2).sum() / 24, rel=1e-14)
    soft = ElmanRNN(2, 4, 3, output="softmax")
    X, Y, _ = problem(soft, 15, batch=4, time=6)
    expected = -(Y * np.log(soft.predict(X))).sum(axis=-1).mean()
    assert soft.loss(X, Y) == pytest.approx(expected, rel=1e-13)
    # repeating the batch leaves the mean unchanged
    assert soft.loss(np.concatenate([X, X]), np.concatenate([Y, Y])) == pytest.approx(
        soft.loss(X, Y), rel=1e-14
    )


@pytest.mark.parametrize(
    ("output", "residual"), [("identity", False), ("identity", True), ("softmax", False)]
)
def test_jordan_predict_is_teacher_forcing_on_its_own_outputs(output, residual):
    model = JordanRNN(2, 6, 3, activation="tanh", output=output, residual=residual, seed=2)
    X, _, h0 = problem(model, 16, time=25, h0="batch")
    own = model.predict(X, h0)
    forced = model.forward(X, h0, teacher=own)
    assert_allclose(forced.y_hat, own, rtol=1e-12, atol=1e-14)
    assert forced.teacher_forcing and not model.forward(X, h0).teacher_forcing


def test_h0_shared_is_h0_broadcast_and_its_gradient_is_summed():
    model = ElmanRNN(2, 4, 2)
    X, Y, h0 = problem(model, 17, batch=3, h0="shared")
    shared = model.bptt(X, Y, h0)
    per_row = model.bptt(X, Y, np.tile(h0, (3, 1)))
    assert shared.loss == per_row.loss
    assert shared.grads["h0"].shape == (4,)
    assert per_row.grads["h0"].shape == (3, 4)
    assert_allclose(shared.grads["h0"], per_row.grads["h0"].sum(axis=0), rtol=1e-13)
    assert model.bptt(X, Y).grads["h0"].shape == (4,)


def test_intermediate_gradients_fit_together():
    """dL/dh(T) = dL/do(T) V^T at the last step; dL/da = dL/dh (1 - h^2) for tanh; and the
    output-layer gradients are sums of outer products over batch and time."""
    model = ElmanRNN(2, 5, 3)
    X, Y, h0 = problem(model, 18, time=6, h0="batch")
    r = model.bptt(X, Y, h0)
    assert r.dL_dh.shape == (3, 6, 5) and r.dL_do.shape == (3, 6, 3)
    assert_allclose(r.dL_dh[:, -1], r.dL_do[:, -1] @ model.params["V"].T, rtol=1e-13)
    assert_allclose(r.dL_da, r.dL_dh * (1 - r.forward.h**2), rtol=1e-13)
    assert_allclose(r.grads["V"], np.einsum("bth,bto->ho", r.forward.h, r.dL_do), rtol=1e-12)
    assert_allclose(r.grads["W"], np.einsum("bti,bth->ih", r.forward.prev, r.dL_da), rtol=1e-12)
    assert_allclose(r.forward.prev[:, 1:], r.forward.h[:, :-1])
    assert_allclose(r.forward.prev[:, 0], h0)


# -- input validation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_hidden": 0}, "n_hidden"),
        ({"n_in": -1}, "n_in"),
        ({"n_out": 2.5}, "n_out"),
        ({"n_hidden": True}, "n_hidden"),
        ({"activation": "sigmoid"}, "activation 'sigmoid'.*identity, relu, tanh"),
        ({"output": "mse"}, "output 'mse'.*identity, softmax"),
        ({"dtype": np.int64}, "dtype 'int64'.*float32, float64"),
        ({"seed": -1}, "seed"),
    ],
)
@pytest.mark.parametrize("cls", [ElmanRNN, JordanRNN])
def test_constructor_validation(cls, kwargs, match):
    args = {"n_in": 1, "n_hidden": 3, "n_out": 2, **kwargs}
    with pytest.raises(InputError, match=match):
        cls(**args)


def test_residual_needs_the_identity_head():
    with pytest.raises(InputError, match="residual"):
        JordanRNN(1, 3, 2, output="softmax", residual=True)


@pytest.mark.parametrize(
    ("X", "Y", "h0", "match"),
    [
        (np.zeros((4, 2)), np.zeros((1, 4, 3)), None, r"X must have shape \(batch, time, n_in\)"),
        (
            np.zeros((1, 4, 3)),
            np.zeros((1, 4, 3)),
            None,
            r"X .*\(\., \., 2\), got shape \(1, 4, 3\)",
        ),
        (np.zeros((1, 4, 2)), np.zeros((1, 4, 2)), None, r"Y .*\(1, 4, 3\), like X"),
        (np.zeros((1, 4, 2)), np.zeros((1, 5, 3)), None, "Y must have shape"),
        (np.full((1, 4, 2), np.nan), np.zeros((1, 4, 3)), None, "X must be finite"),
        (np.zeros((1, 4, 2)), np.full((1, 4, 3), np.inf), None, "Y must be finite"),
        (np.zeros((1, 0, 2)), np.zeros((1, 0, 3)), None, "X needs at least one"),
        (np.zeros((2, 4, 2)), np.zeros((2, 4, 3)), np.zeros(3), r"h0 .*\(n_hidden,\) = \(5,\)"),
        (np.zeros((2, 4, 2)), np.zeros((2, 4, 3)), np.zeros((3, 5)), r"\(batch, n_hidden\)"),
        ([["a"]], np.zeros((1, 4, 3)), None, "X must be an array of numbers"),
    ],
)
def test_sequence_validation(X, Y, h0, match):
    model = ElmanRNN(2, 5, 3)
    with pytest.raises(InputError, match=match):
        model.loss_and_grad(X, Y, h0)


def test_option_validation():
    model = JordanRNN(1, 3, 2)
    X, Y = np.zeros((1, 4, 1)), np.zeros((1, 4, 2))
    with pytest.raises(InputError, match="truncate"):
        model.loss_and_grad(X, Y, truncate=0)
    with pytest.raises(InputError, match="clip"):
        model.loss_and_grad(X, Y, clip=-1.0)
    with pytest.raises(InputError, match="teacher_forcing"):
        model.loss_and_grad(X, Y, teacher_forcing="yes")
    with pytest.raises(InputError, match=r"h0 .*\(n_out,\) = \(2,\)"):
        model.predict(X, np.zeros(3))
    with pytest.raises(InputError, match="clip"):
        gradient_check(model, X, Y, clip=1.0)


def test_blas_accumulation_matches_numpy(monkeypatch):
    """The loops add r(t-1) @ W into a(t) by one in-place gemm; numpy's dot-and-add agrees."""
    from dynsys.rnn import models

    model = ElmanRNN(2, 6, 3)
    X, Y, h0 = problem(model, 19, time=8, h0="batch")
    blas = model.bptt(X, Y, h0)
    monkeypatch.setitem(
        models._ACCUMULATORS, "float64", lambda x, w, out: np.add(out, x @ w, out=out)
    )
    plain = model.bptt(X, Y, h0)
    assert_allclose(plain.forward.h, blas.forward.h, rtol=1e-13)
    for name in blas.grads:
        assert_allclose(plain.grads[name], blas.grads[name], rtol=1e-12, atol=1e-15)
