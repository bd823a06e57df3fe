"""Training RNNs: optimiser updates, schedules, fit's losses, determinism and how it stops."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from dynsys import InputError
from dynsys.rnn.models import ElmanRNN, JordanRNN
from dynsys.rnn.optim import SGD, Adam, Schedule, make_schedule
from dynsys.rnn.train import History, fit


def sine_response(n_seq: int, seed: int, n_time: int = 20):
    """Sines of random frequency and phase through the low-pass y(n) = 0.7 y(n-1) + 0.6 x(n)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_time) * 0.3
    omega = rng.uniform(0.5, 2.0, size=(n_seq, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n_seq, 1))
    x = np.sin(omega * t + phase)
    y = np.zeros_like(x)
    for n in range(n_time):
        y[:, n] = 0.6 * x[:, n] + (0.7 * y[:, n - 1] if n else 0.0)
    return x[..., None], y[..., None]


@pytest.fixture(scope="module")
def data():
    X, Y = sine_response(32, seed=1)
    Xv, Yv = sine_response(16, seed=2)
    return (X, Y, None), (Xv, Yv, None)


def elman(seed: int = 0) -> ElmanRNN:
    return ElmanRNN(1, 8, 1, seed=seed)


def params_of(model) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.params.items()}


def loss_of(model, d) -> float:
    return model.loss_and_grad(d[0], d[1], d[2])[0]


# -- optimisers ---------------------------------------------------------------------------


def test_adam_matches_the_textbook_update_on_a_quadratic():
    """f(θ) = a θ² / 2, g = a θ: m, v, bias corrections and the step written out by hand."""
    a, lr, (b1, b2), eps = 3.0, 0.1, (0.9, 0.999), 1e-8
    opt = Adam(lr=lr, betas=(b1, b2), eps=eps)
    params = {"theta": np.array([2.0])}
    theta, m, v = 2.0, 0.0, 0.0
    for k in range(1, 5):
        g = a * theta
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        theta -= lr * (m / (1 - b1**k)) / (math.sqrt(v / (1 - b2**k)) + eps)
        opt.step(params, {"theta": a * params["theta"], "h0": np.zeros(1)})
        assert params["theta"][0] == pytest.approx(theta, rel=1e-14)
    # the first step of Adam moves by lr whatever the gradient's size
    first = {"theta": np.array([2.0])}
    Adam(lr=lr).step(first, {"theta": np.array([1e6])})
    assert first["theta"][0] == pytest.approx(2.0 - lr, rel=1e-12)


def test_adam_keeps_its_state_per_parameter_and_updates_in_place():
    opt = Adam(lr=0.01)
    p = np.array([1.0, 2.0])
    q = np.array([5.0])
    params = {"p": p, "q": q}
    opt.step(params, {"p": np.array([1.0, -1.0]), "q": np.array([0.0])})
    assert params["p"] is p
    np.testing.assert_allclose(p, [0.99, 2.01], rtol=1e-9)  # eps: 1 / (1 + 1e-8)
    assert q[0] == 5.0
    assert opt.k == {"p": 1, "q": 1}


def test_sgd_with_momentum_matches_the_formula():
    opt = SGD(lr=0.1, momentum=0.5)
    params = {"w": np.array([1.0])}
    opt.step(params, {"w": np.array([2.0])})  # u = 2, w = 1 - 0.2
    assert params["w"][0] == pytest.approx(0.8, rel=1e-15)
    opt.step(params, {"w": np.array([2.0])})  # u = 0.5 * 2 + 2 = 3, w = 0.8 - 0.3
    assert params["w"][0] == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("make", [lambda: Adam(lr=0), lambda: SGD(lr=-1.0), lambda: Adam(-1e-3)])
def test_optimisers_refuse_a_learning_rate_not_above_zero(make):
    with pytest.raises(InputError, match=r"^lr must be > 0"):
        make()


def test_optimisers_refuse_momentum_and_betas_outside_zero_one():
    with pytest.raises(InputError, match="momentum must be in"):
        SGD(lr=0.1, momentum=1.0)
    with pytest.raises(InputError, match="beta2 must be in"):
        Adam(betas=(0.9, 1.5))


# -- schedules ----------------------------------------------------------------------------


def test_schedules_give_the_documented_learning_rates():
    constant = make_schedule("constant", 0.1, 10)
    assert [constant.lr_at(e) for e in range(10)] == [0.1] * 10
    step = make_schedule({"kind": "step", "every": 3, "gamma": 0.5}, 0.1, 10)
    assert [step.lr_at(e) for e in range(7)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    cosine = make_schedule("cosine", 0.1, 10)
    lrs = [cosine.lr_at(e) for e in range(10)]
    assert lrs[0] == 0.1
    assert lrs[5] == pytest.approx(0.05, rel=1e-12)
    assert all(a > b for a, b in itertools.pairwise(lrs))
    warm = make_schedule({"kind": "cosine", "warmup": 4}, 0.1, 14)
    assert [warm.lr_at(e) for e in range(5)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    assert warm.lr_at(9) == pytest.approx(0.05, rel=1e-12)


def test_schedule_refuses_unknown_names_and_settings():
    with pytest.raises(InputError, match=r"unknown schedule 'cosin' \(did you mean 'cosine'\?\)"):
        make_schedule("cosin", 0.1, 10)
    with pytest.raises(InputError, match="unknown schedule setting 'step_size'"):
        make_schedule({"kind": "step", "step_size": 3}, 0.1, 10)
    with pytest.raises(InputError, match=r"^lr must be > 0"):
        Schedule(lr=0.0)


# -- fit: the loss goes down ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("optimizer", "lr", "epochs"), [("adam", 0.02, 40), ("sgd", 0.05, 40), ("lbfgs", 1.0, 60)]
)
def test_fit_reduces_the_training_loss_fifty_fold(data, optimizer, lr, epochs):
    model = elman()
    history = fit(model, data[0], optimizer=optimizer, lr=lr, epochs=epochs, batch_size=8)
    assert history.stopped_reason in ("epochs", "converged")
    assert history.initial_train_loss == pytest.approx(loss_of(elman(), data[0]), rel=1e-12)
    assert history.train_loss[-1] < 0.02 * history.initial_train_loss
    # the model is left with the best epoch's parameters, whose loss History records
    assert loss_of(model, data[0]) == pytest.approx(history.best_loss, rel=1e-10)
    assert history.best_loss == min(history.train_loss)


def test_lbfgs_records_one_decreasing_loss_per_iteration(data):
    history = fit(elman(), data[0], optimizer="lbfgs", epochs=15)
    assert history.epochs_run == 15
    assert history.lr == [None] * 15
    losses = [history.initial_train_loss, *history.train_loss]
    assert all(b < a for a, b in itertools.pairwise(losses))


def test_fit_follows_the_schedule_epoch_by_epoch(data):
    history = fit(elman(), data[0], lr=0.01, epochs=6, schedule={"kind": "step", "every": 2})
    assert history.lr == [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]
    assert history.settings["schedule"]["kind"] == "step"


# -- determinism --------------------------------------------------------------------------


def test_same_seed_same_numbers_bit_for_bit_and_another_seed_differs(data):
    runs = []
    for seed in (7, 7, 8):
        model = elman()
        history = fit(model, data[0], data[1], epochs=5, lr=0.01, batch_size=4, seed=seed)
        runs.append((history, params_of(model)))
    (h1, p1), (h2, p2), (h3, p3) = runs
    assert h1.train_loss == h2.train_loss and h1.val_loss == h2.val_loss
    for name in p1:
        np.testing.assert_array_equal(p1[name], p2[name])
    assert h1.train_loss != h3.train_loss
    assert not np.array_equal(p1["W"], p3["W"])


# -- how training stops -------------------------------------------------------------------


def test_early_stopping_restores_the_parameters_of_the_best_validation_loss(data):
    """Validating against half the target: fitting first helps, then overshoots."""
    (X, Y, _), _ = data
    val = (X, 0.5 * Y, None)
    model = elman()
    history = fit(model, data[0], val, epochs=50, lr=0.005, batch_size=8, patience=3)
    assert history.stopped_reason == "early_stop"
    assert history.best_epoch >= 1 and history.epochs_run == history.best_epoch + 3 < 50
    assert history.best_loss == history.val_loss[history.best_epoch - 1] == min(history.val_loss)
    assert history.val_loss[-1] > history.best_loss
    assert loss_of(model, val) == pytest.approx(history.best_loss, rel=1e-12)
    assert f"kept the parameters of epoch {history.best_epoch}" in history.message
    # the parameters are exactly those the best epoch left
    reference = elman()
    fit(reference, data[0], epochs=history.best_epoch, lr=0.005, batch_size=8)
    for name, value in reference.params.items():
        np.testing.assert_array_equal(model.params[name], value)


def test_best_validation_epoch_is_kept_even_without_patience(data):
    model = elman()
    history = fit(model, data[0], data[1], epochs=8, lr=0.02, batch_size=8)
    assert history.stopped_reason == "epochs"
    assert history.best_loss == min([history.initial_val_loss, *history.val_loss])
    assert loss_of(model, data[1]) == pytest.approx(history.best_loss, rel=1e-12)


def test_a_non_finite_loss_stops_training_and_keeps_finite_best_parameters(data):
    model = elman()
    start = params_of(model)
    history = fit(model, data[0], optimizer="sgd", lr=1e8, epochs=20, batch_size=8)
    assert history.stopped_reason == "non_finite"
    assert history.epochs_run < 20
    assert "non-finite in epoch" in history.message
    assert "lower the learning rate or set clip" in history.message
    assert all(np.all(np.isfinite(p)) for p in model.params.values())
    if history.best_epoch == 0:
        for name, value in start.items():
            np.testing.assert_array_equal(model.params[name], value)
    assert loss_of(model, data[0]) == pytest.approx(history.best_loss, rel=1e-12)
    json.dumps(history.to_dict(), allow_nan=False)


def test_non_finite_initial_parameters_stop_before_the_first_epoch(data):
    model = elman()
    model.params["V"][...] = 1e300  # outputs overflow, so does their square
    history = fit(model, data[0], epochs=5)
    assert history.stopped_reason == "non_finite" and history.epochs_run == 0
    assert history.message.startswith("the loss became non-finite for the initial parameters")
    assert np.all(model.params["V"] == 1e300)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_keyboard_interrupt_stops_cleanly_and_keeps_the_best_parameters(data, optimizer):
    def interrupt_at_3(epoch, history):
        if epoch == 3:
            raise KeyboardInterrupt

    model = elman()
    history = fit(model, data[0], optimizer=optimizer, epochs=20, lr=0.01, callback=interrupt_at_3)
    assert history.stopped_reason == "interrupted"
    assert history.epochs_run == 3
    assert "interrupted after epoch 3" in history.message
    # the same three epochs run to the end keep the same parameters
    reference = elman()
    fit(reference, data[0], optimizer=optimizer, epochs=3, lr=0.01)
    for name, value in reference.params.items():
        np.testing.assert_array_equal(model.params[name], value)
    assert loss_of(model, data[0]) == pytest.approx(history.best_loss, rel=1e-12)


def test_callback_sees_each_epoch_as_it_ends(data):
    seen = []
    fit(elman(), data[0], epochs=4, callback=lambda e, h: seen.append((e, len(h.train_loss))))
    assert seen == [(1, 1), (2, 2), (3, 3), (4, 4)]


# -- options passed through -----------------------------------------------------------------


def spy(model):
    """Record the keyword arguments of each loss_and_grad call."""
    calls = []
    inner = model.loss_and_grad

    def recorded(*args, **kwargs):
        calls.append(kwargs)
        return inner(*args, **kwargs)

    model.loss_and_grad = recorded
    return calls


def test_teacher_forcing_reaches_jordan_models_only(data):
    jordan = JordanRNN(1, 8, 1, residual=True, seed=0)
    calls = spy(jordan)
    history = fit(jordan, data[0], epochs=2, teacher_forcing=False, truncate=5, clip=1.0)
    assert np.isfinite(history.train_loss).all()
    assert all(c == {"truncate": 5, "clip": 1.0, "teacher_forcing": False} for c in calls)
    model = elman()
    calls = spy(model)
    fit(model, data[0], epochs=1)
    assert all("teacher_forcing" not in c for c in calls)
    with pytest.raises(InputError, match="teacher_forcing applies to models that feed back"):
        fit(elman(), data[0], epochs=1, teacher_forcing=True)


def test_minibatches_cover_the_training_set_once_per_epoch(data):
    model = elman()
    steps, evaluated = [], []
    step, loss = model.loss_and_grad, model.loss
    model.loss_and_grad = lambda X, Y, h0, **kw: (steps.append(len(X)), step(X, Y, h0, **kw))[1]
    model.loss = lambda X, Y, h0: (evaluated.append(len(X)), loss(X, Y, h0))[1]
    fit(model, data[0], epochs=2, batch_size=10)
    assert steps == [10, 10, 10, 2] * 2
    # the loss of the training set, before training and after each epoch, in chunks
    assert evaluated == [10, 10, 10, 2] * 3


def test_progress_bar_only_when_asked_or_on_a_terminal(data, capsys):
    fit(elman(), data[0], epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "epoch 3/3" in err and err.endswith("\n")
    fit(elman(), data[0], epochs=3)  # pytest's stderr is not a terminal
    assert capsys.readouterr().err == ""


def test_history_is_json_ready(data):
    history = fit(elman(), data[0], data[1], epochs=2)
    doc = json.loads(json.dumps(history.to_dict(), allow_nan=False))
    assert doc["epochs_run"] == 2 and len(doc["train_loss"]) == len(doc["val_loss"]) == 2
    assert doc["stopped_reason"] == "epochs"
    assert set(history.summary()) <= set(doc)
    assert isinstance(history, History)


# -- refused input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, r"^lr must be > 0, got 0.0$"),
        ({"lr": -1e-3}, r"^lr must be > 0"),
        ({"epochs": 0}, r"^epochs must be a whole number >= 1, got 0$"),
        ({"batch_size": 0}, r"^batch_size must be a whole number >= 1, got 0$"),
        ({"optimizer": "adm"}, r"^unknown optimizer 'adm' \(did you mean 'adam'\?\); known: "),
        ({"patience": 3}, r"^patience needs validation data"),
        ({"schedule": "exp"}, r"^unknown schedule 'exp'"),
        ({"seed": -1}, r"^seed must be a whole number >= 0, got -1$"),
    ],
)
def test_fit_refuses_bad_settings(data, kwargs, message):
    model = elman()
    before = params_of(model)
    with pytest.raises(InputError, match=message):
        fit(model, data[0], **kwargs)
    for name, value in before.items():
        np.testing.assert_array_equal(model.params[name], value)


def test_fit_refuses_data_of_the_wrong_shape(data):
    (X, Y, _), _ = data
    with pytest.raises(InputError, match=r"^train X must have shape \(batch, time, n\)"):
        fit(elman(), (X[..., 0], Y))
    with pytest.raises(InputError, match="same batch and time sizes"):
        fit(elman(), (X, Y[:5]))
    with pytest.raises(InputError, match=r"^val Y must be finite numbers"):
        fit(elman(), (X, Y), (X, np.full_like(Y, np.nan)))
