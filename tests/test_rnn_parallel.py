"""The Elman and Jordan networks parallel in time: BPTT's adjoint pass by a reverse scan against
the loop (every configuration) and against finite differences, the forward pass of linear
networks by a scan, that of nonlinear ones by Newton (DEER) with its fallback, and bad input."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

from dynsys.errors import InputError
from dynsys.parallel.newton import MODES, NewtonSettings
from dynsys.rnn import ElmanRNN, JordanRNN, gradient_check
from dynsys.rnn import parallel as rnn_parallel
from dynsys.rnn.parallel import RNN_BACKENDS, bptt_difference, relative_difference

EXACT = 1e-12
FIELDS = ("prev", "a", "h", "o", "y_hat")

# (class, constructor options, teacher forcing): every recurrence the backward loop has
CONFIGS = [
    (ElmanRNN, {}, False),
    (ElmanRNN, {"output": "softmax"}, False),
    (JordanRNN, {}, False),
    (JordanRNN, {"residual": True}, False),
    (JordanRNN, {"output": "softmax"}, False),
    (JordanRNN, {"residual": True}, True),
]


def problem(cls, options, activation, seed, batch=3, time=7, h0="none"):
    """A model with N(0, 0.5^2) parameters, inputs, targets (probabilities for softmax), h0."""
    rng = np.random.default_rng(seed)
    model = cls(3, 5, 4, activation, **options)
    model.set_flat_params(rng.normal(0.0, 0.5, size=model.n_params))
    X = rng.normal(size=(batch, time, 3))
    if model.output == "softmax":
        Y = rng.dirichlet(np.ones(4), size=(batch, time))
    else:
        Y = rng.normal(size=(batch, time, 4))
    initial = {
        "none": None,
        "shared": rng.normal(size=model.n_state),
        "batch": rng.normal(size=(batch, model.n_state)),
    }[h0]
    return model, X, Y, initial


def forward_difference(fp, ref) -> float:
    return max(relative_difference(getattr(fp, f), getattr(ref, f)) for f in FIELDS)


# -- BPTT by the reverse scan -------------------------------------------------------------------
@pytest.mark.parametrize("h0", ["none", "shared", "batch"])
@pytest.mark.parametrize("activation", ["tanh", "identity", "relu"])
@pytest.mark.parametrize(("cls", "options", "forcing"), CONFIGS)
def test_bptt_by_scan_equals_the_loop(cls, options, forcing, activation, h0):
    seed = CONFIGS.index((cls, options, forcing)) * 10 + len(activation) + len(h0)
    model, X, Y, initial = problem(cls, options, activation, seed, h0=h0)
    extra = {"teacher_forcing": True} if forcing else {}
    for truncate in (None, 1, 3):
        for clip in (None, 0.05):
            diff = bptt_difference(model, X, Y, initial, truncate=truncate, clip=clip, **extra)
            assert diff <= EXACT, (truncate, clip, diff)


def test_bptt_by_scan_keeps_the_loops_meaning():
    """dL/do total for Jordan (what the loop leaves), h0's gradient shaped as given, clipping."""
    model, X, Y, h0 = problem(JordanRNN, {"residual": True}, "tanh", 3, h0="shared")
    fp = model.forward(X, h0)
    loop = model.backward(fp, Y, clip=0.05)
    scan = model.backward(fp, Y, clip=0.05, backend="scan")
    assert scan.grads["h0"].shape == (4,) and scan.forward is fp
    assert scan.clip_scale < 1.0
    assert scan.clip_scale == pytest.approx(loop.clip_scale, rel=EXACT)
    assert scan.loss == loop.loss
    assert relative_difference(scan.dL_do, loop.dL_do) <= EXACT


def test_bptt_by_scan_over_blocks(monkeypatch):
    """Long sequences are scanned block after block from the end (blocks of 64 steps here)."""
    monkeypatch.setattr(rnn_parallel, "BLOCK_BYTES", 1)
    for cls, options, _ in CONFIGS[:5]:
        for activation in ("tanh", "identity"):
            model, X, Y, h0 = problem(cls, options, activation, 5, batch=2, time=200)
            model.params["W"] *= 0.5
            for truncate in (None, 50):
                assert bptt_difference(model, X, Y, h0, truncate=truncate) <= EXACT


@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize(("cls", "options", "forcing"), CONFIGS)
def test_gradient_check_on_the_scan_backend(cls, options, forcing, truncate, monkeypatch):
    calls = []
    scan = rnn_parallel._reverse_scan
    monkeypatch.setattr(rnn_parallel, "_reverse_scan", lambda *a: calls.append(1) or scan(*a))
    monkeypatch.setattr(cls, "bptt", functools.partialmethod(cls.bptt, backend="scan"))
    model, X, Y, h0 = problem(cls, options, "tanh", 40, h0="batch", time=5)
    extra = {} if cls is ElmanRNN else {"teacher_forcing": forcing}
    errors = gradient_check(model, X, Y, h0, truncate=truncate, **extra)
    assert max(errors.values()) < 1e-6, errors
    assert bool(calls) == (not forcing)  # teacher forcing has no adjoint recurrence


# -- forward pass: linear networks by a scan ----------------------------------------------------
@pytest.mark.parametrize(("cls", "options", "forcing"), CONFIGS[:4])
def test_linear_forward_by_scan_equals_the_loop(cls, options, forcing):
    model, X, _, h0 = problem(cls, options, "identity", 11, batch=2, time=300, h0="batch")
    model.params["W"] *= 0.5
    fp = model.forward(X, h0, backend="scan")
    assert fp.info == {"backend": "scan"}
    assert forward_difference(fp, model.forward(X, h0)) <= EXACT
    assert np.array_equal(fp.prev[:, 1:], fp.h[:, :-1] if cls is ElmanRNN else fp.o[:, :-1])


def test_bptt_by_scan_runs_a_linear_forward_by_scan():
    model, X, Y, h0 = problem(ElmanRNN, {}, "identity", 12)
    result = model.bptt(X, Y, h0, backend="scan", truncate=2)
    assert result.forward.info == {"backend": "scan"}
    loop = model.bptt(X, Y, h0, truncate=2)
    for name in loop.grads:
        assert relative_difference(result.grads[name], loop.grads[name]) <= EXACT
    tanh, X, Y, h0 = problem(ElmanRNN, {}, "tanh", 12)
    assert tanh.bptt(X, Y, h0, backend="scan").forward.info == {}  # the loop's forward pass


# -- forward pass: nonlinear networks by Newton -------------------------------------------------
@pytest.mark.parametrize("variant", MODES)
@pytest.mark.parametrize(("cls", "options", "forcing"), CONFIGS[:5])
def test_newton_forward_converges_on_a_contracting_network(cls, options, forcing, variant):
    model, X, _, h0 = problem(cls, options, "tanh", 21, batch=2, time=200, h0="shared")
    model.params["W"] *= 0.5
    if options.get("residual"):  # s(t) = s(t-1) + small increment: the map contracts slowly
        model.params["V"] *= 0.2
    fp = model.forward(X, h0, backend="newton", newton={"variant": variant})
    assert "fallback" not in fp.info
    assert fp.info["backend"] == "newton" and fp.info["newton_variant"] == variant
    assert 1 <= fp.info["newton_iterations"] <= 50
    assert fp.info["newton_residuals"][-1] <= 1e-10
    # quasi-Newton converges linearly: its error is its last update over (1 - rate)
    bound = 1e-9 if variant == "quasi" else 1e-10
    assert forward_difference(fp, model.forward(X, h0)) <= bound


def test_newton_forward_over_blocks_and_in_float32():
    model, X, _, h0 = problem(JordanRNN, {"residual": True}, "tanh", 22, batch=2, time=300)
    model.params["W"] *= 0.5
    model.params["V"] *= 0.2
    fp = model.forward(X, h0, backend="newton", newton=NewtonSettings(block=100))
    assert fp.info["newton_blocks"] == 3
    assert forward_difference(fp, model.forward(X, h0)) <= 1e-10
    m32 = JordanRNN.from_config({**model.config(), "dtype": "float32"})
    m32.set_flat_params(model.flat_params())
    fp32 = m32.forward(X, h0, backend="newton")
    assert fp32.o.dtype == np.float32
    # Newton's arithmetic is float64: its states are those of float64 arithmetic on the same
    # (float32) numbers, rounded; a, h and o are then computed in float32
    model.set_flat_params(m32.flat_params().astype(np.float64))
    assert forward_difference(fp32, model.forward(X.astype(np.float32), h0)) <= 1e-5


def test_bptt_with_newton_forward_and_scan_backward():
    model, X, Y, h0 = problem(JordanRNN, {"output": "softmax"}, "tanh", 23, time=50)
    model.params["W"] *= 0.5
    result = model.bptt(X, Y, h0, teacher_forcing=False, backend="newton")
    loop = model.bptt(X, Y, h0, teacher_forcing=False)
    assert result.forward.info["backend"] == "newton"
    for name in loop.grads:
        assert relative_difference(result.grads[name], loop.grads[name]) <= 1e-9


def test_newton_falls_back_to_the_loop():
    model, X, _, h0 = problem(ElmanRNN, {}, "tanh", 24, time=100)
    with pytest.warns(RuntimeWarning, match="did not converge.*ran the sequential loop"):
        fp = model.forward(X, h0, backend="newton", newton={"max_iterations": 1})
    ref = model.forward(X, h0)
    for name in FIELDS:
        assert np.array_equal(getattr(fp, name), getattr(ref, name))
    assert fp.info["backend"] == "loop" and "tanh elman" in fp.info["fallback"]
    assert fp.info["newton_iterations"] == 1
    assert len(fp.info["fallback"].splitlines()) == 1


def test_teacher_forcing_and_the_default_are_the_loops():
    model, X, Y, h0 = problem(JordanRNN, {"residual": True}, "tanh", 25)
    ref = model.forward(X, h0, teacher=Y)
    assert ref.info == {}
    for backend in ("scan", "newton"):
        fp = model.forward(X, h0, teacher=Y, backend=backend)
        assert all(np.array_equal(getattr(fp, f), getattr(ref, f)) for f in FIELDS)
        assert fp.teacher_forcing


# -- bad input ------------------------------------------------------------------------------------
def test_bad_backends_are_one_line_input_errors():
    model, X, Y, _ = problem(ElmanRNN, {}, "tanh", 30)
    jordan, Xj, _, _ = problem(JordanRNN, {"output": "softmax"}, "identity", 31)
    fp = model.forward(X)
    cases = [
        (lambda: model.forward(X, backend="sacn"), "unknown backend 'sacn'.*did you mean 'scan'"),
        (lambda: model.bptt(X, Y, backend="gpu"), "unknown backend 'gpu'"),
        (lambda: model.backward(fp, Y, backend="newton"), "forward pass only"),
        (lambda: model.forward(X, backend="scan"), "activation 'tanh'.*backend 'newton'"),
        (lambda: jordan.forward(Xj, backend="scan"), "output 'softmax'.*backend 'newton'"),
        (lambda: model.forward(X, backend="newton", newton={"variant": "ful"}), "variant .ful."),
        (lambda: model.forward(X, backend="newton", newton={"steps": 3}), "newton setting"),
        (lambda: model.forward(X, backend="newton", newton=3), "newton must be"),
        (lambda: model.forward(X, backend="scan", newton={}), "apply to backend 'newton'"),
    ]
    for call, match in cases:
        with pytest.raises(InputError, match=match) as info:
            call()
        assert "\n" not in str(info.value)
    assert RNN_BACKENDS == ("loop", "scan", "newton")


def test_no_warning_on_convergence():
    model, X, _, h0 = problem(ElmanRNN, {}, "tanh", 32)
    model.params["W"] *= 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.forward(X, h0, backend="newton")
