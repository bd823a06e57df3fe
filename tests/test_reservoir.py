"""Tests of the reservoir models: the ESN readout against an independent ridge solution, NG-RC's
exact recovery of RK4's step map, free-running forecasts, the context, validation, files and
determinism."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import dynsys
from dynsys import InputError
from dynsys.rnn import kinds, reservoir
from dynsys.rnn.base import Model
from dynsys.rnn.reservoir import NGRC, EchoStateNetwork, polynomial_features

H = 0.1
K, M, C = 4.0, 1.0, 0.1  # the oscillator's spring, mass and damping, shared by every sequence


def oscillator(batch: int, steps: int, seed: int):
    """RK4 trajectories of the damped driven oscillator with a drive A cos(omega t) that varies
    over the batch: X (batch, steps, 3) the drive at t_n, t_n + h/2, t_n + h and S (batch,
    steps + 1, 2) = s(0..steps), in physical units."""
    rng = np.random.default_rng(seed)
    A, omega = rng.uniform(0.2, 1.0, batch), rng.uniform(0.5, 2.0, batch)
    system = dynsys.get_system("driven_oscillator", k=K, m=M, c=C, A=A, omega=omega)
    s0 = rng.uniform(-1.0, 1.0, (batch, 2))
    S = dynsys.simulate(system, s0, t_span=(0, steps * H), dt=H, method="rk4").states
    drive = dynsys.Recurrence(system, dynsys.get_stepper("rk4"), H).inputs(steps)
    return np.moveaxis(drive, -1, 0), S  # (steps, nodes, batch) -> (batch, steps, nodes)


def rk4_amplification(h: float) -> np.ndarray:
    """R(hM) = I + hM + (hM)^2/2 + (hM)^3/6 + (hM)^4/24 for the oscillator's system matrix M."""
    hM = h * np.array([[0.0, 1.0], [-K / M, -C / M]])
    R, term = np.eye(2), np.eye(2)
    for p in range(1, 5):
        term = term @ hM / p
        R = R + term
    return R


@pytest.fixture(scope="module")
def linear_data():
    return oscillator(12, 60, seed=0)


@pytest.fixture(scope="module")
def lorenz_data():
    """Normalised Lorenz sequences on the attractor (h = 0.01): 48 to train, 200 steps each, and
    4 to test, 120 steps (about 1.1 Lyapunov times); inputs are the constant channel, 0."""
    lorenz = dynsys.get_system("lorenz")
    rng = np.random.default_rng(3)
    s0 = rng.uniform(-10, 10, (52, 3)) + np.array([0.0, 0.0, 25.0])
    on = dynsys.simulate(lorenz, s0, t_span=(0, 10), dt=0.01, method="rk4").states[:, -1]
    S = dynsys.simulate(lorenz, on, t_span=(0, 2), dt=0.01, method="rk4").states
    train, test = S[:48], S[48:, :121]
    mean, std = train.reshape(-1, 3).mean(0), train.reshape(-1, 3).std(0)
    return (train - mean) / std, (test - mean) / std


def zeros_input(S: np.ndarray) -> np.ndarray:
    return np.zeros((S.shape[0], S.shape[1] - 1, 1))


# -- the ESN's readout is the ridge solution ----------------------------------------------------
def esn_features(model: EchoStateNetwork, X, S) -> np.ndarray:
    """Teacher-forced rows [h(j), s(j), x(j), 1] for j >= warmup, one sequence at a time."""
    p = model.params
    rows = []
    for x, s in zip(X, S, strict=True):
        h = np.zeros(model.units)
        for j in range(x.shape[0]):
            u = np.concatenate([s[j], x[j]])
            a = p["b"] + h @ p["W"] + u @ p["U"]
            h = (1 - model.leak) * h + model.leak * np.tanh(a)
            if j >= model.warmup:
                rows.append(np.concatenate([h, u, [1.0]]))
    return np.array(rows)


@pytest.mark.parametrize("residual", [True, False])
def test_esn_readout_is_the_ridge_solution(monkeypatch, residual):
    rng = np.random.default_rng(0)
    X, S = rng.normal(size=(5, 30, 2)), rng.normal(size=(5, 31, 3))
    ridge = 1e-2
    model = EchoStateNetwork(
        2, 3, units=40, connectivity=0.2, leak=0.7, ridge=ridge, warmup=4, residual=residual
    )
    monkeypatch.setattr(reservoir, "CHUNK_BYTES", 1)  # one sequence a chunk: the sums add up
    model.fit_closed_form(X, S[:, 1:], S[:, 0])

    phi = esn_features(model, X, S)
    targets = S[:, 5:] - S[:, 4:-1] * residual
    F = phi.shape[1]
    penalty = np.sqrt(ridge) * np.eye(F)[:-1]  # no row for the bias: it is not penalised
    augmented = np.vstack([phi, penalty])
    rhs = np.vstack([targets.reshape(-1, 3), np.zeros((F - 1, 3))])
    expected = np.linalg.lstsq(augmented, rhs, rcond=None)[0]
    got = np.vstack([model.params["V"], model.params["c"]])
    assert np.abs(got - expected).max() <= 1e-8 * np.abs(expected).max()
    # the ridge mattered: plain least squares is another answer
    plain = np.linalg.lstsq(phi, targets.reshape(-1, 3), rcond=None)[0]
    assert np.abs(plain - expected).max() > 1e-4
    # the forecast: s(0..4) fed in, then its own outputs
    assert_allclose(model.predict(X, S[:, :5]), esn_forecast(model, X, S[:, :5]), atol=1e-12)


def esn_forecast(model: EchoStateNetwork, X, context) -> np.ndarray:
    """The free run after the context, one sequence and one step at a time."""
    p, c = model.params, model.warmup
    out = []
    for x, s in zip(X, context, strict=True):
        h, y, ys = np.zeros(model.units), s[0], []
        for j in range(x.shape[0]):
            u = np.concatenate([y, x[j]])
            h = (1 - model.leak) * h + model.leak * np.tanh(p["b"] + h @ p["W"] + u @ p["U"])
            if j < c:
                y = s[j + 1]
            else:
                y = p["c"] + np.concatenate([h, u]) @ p["V"] + y * model.residual
                ys.append(y)
        out.append(ys)
    return np.array(out)


def test_reservoir_matrix_radius_and_sparsity():
    for units in (50, 300):  # numpy's eigenvalues, then ARPACK's
        model = EchoStateNetwork(1, 2, units=units, spectral_radius=0.8, connectivity=0.1)
        W = model.params["W"]
        assert_allclose(np.abs(np.linalg.eigvals(W)).max(), 0.8, rtol=1e-9)
        assert_array_equal(np.count_nonzero(W, axis=1), round(0.1 * units))


# -- NG-RC recovers an exact linear step map ------------------------------------------------------
def test_ngrc_recovers_rk4_step_map(linear_data):
    X, S = linear_data
    model = NGRC(3, 2, delays=1, degree=1, ridge=0.0).fit_closed_form(X, S[:, 1:], S[:, 0])
    W = model.params["W_out"]
    assert W.shape == (2 + 3 + 1, 2)  # s(n), the three drive samples, the constant
    assert_allclose(W[:2].T, rk4_amplification(H) - np.eye(2), rtol=0, atol=1e-10)
    assert abs(W[-1]).max() < 1e-10  # no offset in the true map
    pred = model.predict(X, S[:, 0])
    assert_allclose(pred, S[:, 1:], rtol=0, atol=1e-9)


def test_polynomial_features_order():
    lin = np.array([[2.0, 3.0, 5.0]])
    f = polynomial_features(lin, reservoir.monomial_indices(2, 3), n_mono=2)
    # lin, then a^2, ab, b^2, then a^3, a^2 b, a b^2, b^3 (not of the third value), then 1
    assert_array_equal(f, [[2, 3, 5, 4, 6, 9, 8, 12, 18, 27, 1]])
    assert NGRC(1, 3, delays=2, degree=2).n_features == 7 + 28 + 1
    assert NGRC(1, 3, delays=2, degree=2, monomials_of="states").n_features == 7 + 21 + 1


# -- the context: h0 = s(0..c), predictions s(c+1..L) ---------------------------------------------
def test_ngrc_context_first_prediction_is_s_c_plus_1(linear_data):
    X, S = linear_data
    model = NGRC(3, 2, delays=3, stride=2, degree=1, ridge=1e-12)
    assert model.context == 4
    model.fit_closed_form(X, S[:, 1:], S[:, 0])
    pred = model.predict(X, S[:, :5])
    assert pred.shape == (12, 60 - 4, 2)
    assert_allclose(pred, S[:, 5:], rtol=0, atol=1e-6)  # an off-by-one step would be ~0.1 off
    with pytest.raises(InputError, match=r"h0 must have shape \(batch, c \+ 1, n\)"):
        model.predict(X, S[:, 0])


def test_esn_context(linear_data):
    X, S = linear_data
    model = EchoStateNetwork(3, 2, units=60, connectivity=0.2, warmup=5)
    assert model.context == 5
    model.fit_closed_form(X[:8], S[:8, 1:], S[:8, 0])
    pred = model.predict(X[8:], S[8:, :6])
    assert pred.shape == (4, 55, 2)
    assert np.abs(pred[:, 0] - S[8:, 6]).max() < 1e-4  # s(6) and s(7) differ by ~0.1
    assert np.abs(S[8:, 7] - S[8:, 6]).max() > 1e-2
    with pytest.raises(InputError, match="h0 must have shape"):
        model.predict(X[8:], S[8:, 0])
    at_once = EchoStateNetwork(3, 2, units=60, connectivity=0.2, warmup=0)
    at_once.fit_closed_form(X[:8], S[:8, 1:], S[:8, 0])
    assert at_once.predict(X[8:], S[8:, 0]).shape == (4, 60, 2)  # c = 0: h0 may be (batch, n)
    assert_allclose(at_once.predict(X[8:], S[8:, :1]), at_once.predict(X[8:], S[8:, 0]))


# -- free-running forecasts of a chaotic system ----------------------------------------------------
def relative_error(pred: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))


def test_free_run_forecasts_of_lorenz(lorenz_data):
    train, test = lorenz_data
    ngrc = NGRC(1, 3, delays=2, degree=3).fit_closed_form(
        zeros_input(train), train[:, 1:], train[:, 0]
    )
    pred = ngrc.predict(zeros_input(test), test[:, :2])
    assert relative_error(pred, test[:, 2:]) < 1e-4  # measured 3.4e-6

    esn = EchoStateNetwork(1, 3, units=200, warmup=10, seed=5).fit_closed_form(
        zeros_input(train), train[:, 1:], train[:, 0]
    )
    pred = esn.predict(zeros_input(test), test[:, :11])
    error = relative_error(pred, test[:, 11:])
    assert error < 0.05  # measured 0.010 (0.01-0.07 over seeds 0-5)
    still = np.broadcast_to(test[:, 10:11], pred.shape)  # the forecast "nothing moves"
    assert error < 0.05 * relative_error(still, test[:, 11:])


# -- validation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ridge": -1e-3}, "ridge must be >= 0"),
        ({"spectral_radius": 0.0}, "spectral_radius must be > 0"),
        ({"spectral_radius": -0.5}, "spectral_radius must be > 0"),
        ({"leak": 0.0}, "leak must be > 0"),
        ({"leak": 1.5}, r"leak must be in \(0, 1\]"),
        ({"connectivity": 1.2}, r"connectivity must be in \(0, 1\]"),
        ({"units": 0}, "units must be a positive integer"),
        ({"warmup": -1}, "warmup must be a whole number >= 0"),
        ({"residual": "yes"}, "residual must be true or false"),
    ],
)
def test_esn_settings_validation(kwargs, message):
    with pytest.raises(InputError, match=message):
        EchoStateNetwork(1, 2, units=kwargs.pop("units", 10), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ridge": -1.0}, "ridge must be >= 0"),
        ({"delays": 0}, "delays must be a positive integer"),
        ({"stride": 0}, "stride must be a positive integer"),
        ({"degree": 0}, "degree must be a positive integer"),
        ({"monomials_of": "inputs"}, "unknown monomials_of 'inputs'"),
    ],
)
def test_ngrc_settings_validation(kwargs, message):
    with pytest.raises(InputError, match=message):
        NGRC(1, 2, **kwargs)


def test_too_large_reservoir_is_refused_before_allocation(monkeypatch):
    def no_allocation(*args, **kwargs):
        raise AssertionError("W was being built")

    monkeypatch.setattr(dynsys.checks, "available_memory", lambda: 2 * 2**20)  # 1 MiB allowed
    monkeypatch.setattr(reservoir, "reservoir_matrix", no_allocation)
    with pytest.raises(InputError, match=r"units=400 would take .*MiB, more than the 1\.0 MiB"):
        EchoStateNetwork(1, 2, units=400)
    monkeypatch.undo()
    with pytest.raises(InputError, match=r"units=10000000 would take .*TiB"):  # 800 TB dense W
        EchoStateNetwork(1, 2, units=10_000_000)
    with pytest.raises(InputError, match=r"degree=6 over 28 values .* use a lower degree"):
        NGRC(1, 3, delays=9, degree=6)  # 1.3 million features


def test_fit_memory_is_checked(monkeypatch, linear_data):
    X, S = linear_data
    model = EchoStateNetwork(3, 2, units=60, connectivity=0.2, warmup=5)
    monkeypatch.setattr(dynsys.checks, "available_memory", lambda: 2 * 60_000)
    with pytest.raises(InputError, match="fitting with units=60"):
        model.fit_closed_form(X, S[:, 1:], S[:, 0])


def test_singular_without_ridge_says_to_set_one(lorenz_data):
    train, _ = lorenz_data  # the input channel is all zeros: a zero column of Phi
    model = NGRC(1, 3, delays=1, degree=1, ridge=0.0)
    with pytest.raises(InputError, match=r"singular.*; set a positive ridge$"):
        model.fit_closed_form(zeros_input(train), train[:, 1:], train[:, 0])


def test_predict_before_fit_and_bad_shapes(linear_data):
    X, S = linear_data
    for model in (EchoStateNetwork(3, 2, units=20, warmup=0), NGRC(3, 2, delays=1)):
        with pytest.raises(InputError, match="not fitted"):
            model.predict(X, S[:, 0])
        with pytest.raises(InputError, match="h0 is required"):
            model.predict(X)
        with pytest.raises(InputError, match=r"Y must have shape \(batch, time, n_out\)"):
            model.fit_closed_form(X, S[:, 2:], S[:, 0])
    with pytest.raises(InputError, match="leave nothing to fit after the context of 60"):
        EchoStateNetwork(3, 2, units=20, warmup=60).fit_closed_form(X, S[:, 1:], S[:, 0])


# -- files and determinism -------------------------------------------------------------------
def test_config_round_trip(monkeypatch, linear_data):
    X, S = linear_data
    monkeypatch.setitem(kinds.MODEL_KINDS, "esn", EchoStateNetwork)
    monkeypatch.setitem(kinds.MODEL_KINDS, "ngrc", NGRC)
    models = [
        EchoStateNetwork(3, 2, units=30, connectivity=0.2, leak=0.5, warmup=3, seed=7),
        NGRC(3, 2, delays=2, stride=2, degree=2, ridge=1e-5, monomials_of="states"),
    ]
    for model in models:
        model.fit_closed_form(X, S[:, 1:], S[:, 0])
        cfg = model.config()
        again = Model.from_config(cfg)
        assert type(again) is type(model) and again.config() == cfg
        for name in ("W", "U", "b"):  # the fixed random matrices come back from the seed
            if name in model.params:
                assert_array_equal(again.params[name], model.params[name])
        assert list(again.params) == list(model.params)
        for name, arr in model.params.items():  # what a file restores
            again.params[name][...] = arr
        c = model.context
        assert_array_equal(again.predict(X, S[:, : c + 1]), model.predict(X, S[:, : c + 1]))


def test_build_from_settings_and_determinism(linear_data):
    X, S = linear_data
    settings = EchoStateNetwork.Settings(units=40, connectivity=0.2, warmup=2)
    first = EchoStateNetwork.build(settings, 3, 2, seed=5).fit_closed_form(X, S[:, 1:], S[:, 0])
    second = EchoStateNetwork.build(settings, 3, 2, seed=5).fit_closed_form(X, S[:, 1:], S[:, 0])
    for name in first.params:
        assert_array_equal(first.params[name], second.params[name])
    assert first.n_params == 40 * 40 + 5 * 40 + 40 + 45 * 2 + 2
    other = EchoStateNetwork.build(settings, 3, 2, seed=6)
    assert not np.array_equal(other.params["W"], first.params["W"])
    ngrc = NGRC.build(NGRC.Settings(), 3, 2, seed=0)
    assert (ngrc.delays, ngrc.degree, ngrc.context) == (2, 2, 1)


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (EchoStateNetwork, {"units": 4, "connectivity": 0.5}),
        (NGRC, {}),
    ],
)
def test_declared_bounds_are_the_models_bounds(cls, base):
    """Each number a reservoir's constructor refuses is refused by the declaration of its
    setting (so plan_fit, the command line and the YAML schema refuse it before any data is
    simulated), and each it accepts is accepted."""
    from dataclasses import fields

    from dynsys.rnn.settings import _checked_value, scalar_type

    for f in fields(cls.Settings):
        kind = scalar_type(f)
        if kind not in (int, float) or f.name == "units":
            continue
        values = (-1, 0, 1, 2) if kind is int else (-1.0, 0.0, 1e-9, 0.5, 1.0, 1.5, 2.0)
        for value in values:
            try:
                cls(2, 2, **{**base, f.name: value})
            except InputError:
                built = False
            else:
                built = True
            try:
                _checked_value(f, value)
            except InputError:
                declared = False
            else:
                declared = True
            assert declared == built, (f.name, value, declared, built)


def test_plan_fit_refuses_an_esn_leak_or_connectivity_above_one():
    from dynsys.rnn.settings import plan_fit

    for name, value in (("leak", 2.0), ("connectivity", 1.5)):
        with pytest.raises(InputError, match=f"^{name} must be <= 1, got {value}$"):
            plan_fit("lorenz", "esn", model={name: value})
    plan = plan_fit("lorenz", "esn", model={"leak": 1.0, "connectivity": 1.0})
    assert (plan.model.leak, plan.model.connectivity) == (1.0, 1.0)
