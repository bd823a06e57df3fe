"""Lyapunov exponents of recurrences: known values, the tangent map, batches, bad input, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import dynsys
from dynsys import DivergenceError, InputError, get_system, lyapunov
from dynsys.cli import main
from dynsys.lyapunov import kaplan_yorke, tangent_step
from dynsys.simulate import Recurrence
from dynsys.steppers import STEPPERS

ODE_STEPPERS = [name for name, s in STEPPERS.items() if name != "map" and s.history == 1]
LORENZ_SUM = -(10 + 1 + 8 / 3)  # trace of the Lorenz Jacobian: -(sigma + 1 + beta)
SPROTT_LORENZ = (0.9056, 0.0, -14.5723)  # Sprott, Chaos and Time-Series Analysis (2003)
SPROTT_HENON = 0.41922  # Sprott's largest exponent of the Henon map, a = 1.4, b = 0.3


@pytest.fixture(scope="session")
def lorenz_batch():
    """Eight Lorenz orbits, RK4 dt = 0.01, 10 time units of transient then 50 accumulated."""
    s0 = np.random.default_rng(0).uniform(-10, 10, (8, 3)) + np.array([0.0, 0.0, 25.0])
    return lyapunov(
        get_system("lorenz"), s0, dt=0.01, method="rk4", t_end=60, transient=10, spectrum=True
    )


# -- known values ---------------------------------------------------------------------------


def test_logistic_map_at_r_4_has_exponent_ln_2():
    # r = 4 is conjugate to the tent map, whose exponent is ln 2 at every step: the finite-time
    # estimate differs from ln 2 by (log h'(y_N) - log h'(y_0)) / N for the conjugacy h, an
    # O(1/N) error (measured 7e-6 over 1e5 iterations), so 1e-3 over 2e4 holds with margin.
    s0 = np.random.default_rng(1).uniform(0.1, 0.9, (4, 1))
    result = lyapunov(get_system("logistic_map", r=4.0), s0, t_end=20_000, transient=100)
    assert result.exponents.shape == (4, 1)
    np.testing.assert_allclose(result.exponents, np.log(2), atol=1e-3)
    assert result.units == "per iteration"


def test_henon_map_largest_exponent_and_exact_sum():
    # det Df = -b at every point, so lambda1 + lambda2 = ln 0.3 per iteration up to the
    # rounding of the sums of logs (1e-10 is 1e5 times eps).  lambda1: the finite-time
    # estimates of 16 orbits of 1e4 iterations scatter by about 5e-3 each (measured), their
    # mean by about 1.5e-3: 5e-3 is over 3 of those.
    s0 = np.random.default_rng(2).uniform(-0.1, 0.1, (16, 2))
    result = lyapunov(get_system("henon_map"), s0, t_end=10_100, transient=100, spectrum=True)
    np.testing.assert_allclose(result.sum, np.log(0.3), rtol=0, atol=1e-10)
    assert abs(result.exponents[:, 0].mean() - SPROTT_HENON) < 5e-3
    assert np.all(result.exponents[:, 0] > result.exponents[:, 1])


def test_lorenz_spectrum_against_sprott(lorenz_batch):
    # 50 time units per orbit: each estimate is off by a few hundredths (spread 0.01-0.04);
    # the mean of eight is within 3% of Sprott's lambda1 and lambda3, lambda2 within 0.05.
    mean = lorenz_batch.exponents.mean(axis=0)
    assert abs(mean[0] - SPROTT_LORENZ[0]) < 0.03 * SPROTT_LORENZ[0]
    assert abs(mean[1]) < 0.05
    assert abs(mean[2] - SPROTT_LORENZ[2]) < 0.03 * abs(SPROTT_LORENZ[2])
    # the RK4 map contracts volume by exp(h tr J) up to O(h^5): the sum is the flow's -13.667
    # to about 1e-4 (h^4 tr J^5 / 120 per unit time is of that size here)
    np.testing.assert_allclose(lorenz_batch.sum, LORENZ_SUM, atol=1e-3)
    dims = lorenz_batch.kaplan_yorke
    assert dims.shape == (8,) and np.all((dims > 2.0) & (dims < 2.1))  # 2.06 (Sprott)


def test_lorenz_sum_is_the_accumulated_log_determinant_of_the_rk4_map():
    # sum of log R_ii over the QRs = log |det dF| summed over the steps, the same orbit: they
    # differ only by the rounding of the QRs and of the determinants.
    system, stepper = get_system("lorenz"), STEPPERS["rk4"]
    s0, h, transient, t_end = np.array([1.0, 1.0, 1.0]), 0.01, 1.0, 6.0
    result = lyapunov(
        system, s0, dt=h, method="rk4", t_end=t_end, transient=transient, spectrum=True
    )
    s, total = s0, 0.0
    for k in range(round(t_end / h)):
        s, dF = tangent_step(system, stepper, k * h, h, s, None, np.eye(3))
        if k >= round(transient / h):
            total += np.linalg.slogdet(dF)[1]
    assert abs(float(result.sum) * (t_end - transient) - total) < 1e-8 * abs(total)
    assert abs(float(result.sum) - LORENZ_SUM) < 1e-3


@pytest.mark.parametrize("method", ["euler", "heun", "rk4"])
def test_exponential_decay_is_the_log_of_the_stability_function(method):
    # a linear ODE: each step multiplies the tangent by R(-h rate), the stepper's stability
    # polynomial, exactly; the exponent is log|R(-h rate)| / h up to rounding of the logs.
    rate, h = 0.7, 0.1
    z = -h * rate
    R = {"euler": 1 + z, "heun": 1 + z + z**2 / 2, "rk4": 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24}
    result = lyapunov(get_system("exponential_decay", rate=rate), [1.0], dt=h, method=method,
                      t_end=20.0)  # fmt: skip
    np.testing.assert_allclose(result.exponents, [np.log(abs(R[method])) / h], rtol=1e-12)
    if method == "rk4":  # and the flow's -rate to O(h^4)
        assert abs(result.exponents[0] + rate) < 1e-5


@pytest.mark.parametrize("method", ["rk4", "semi_implicit_euler"])
def test_undamped_oscillator_has_zero_exponents(method):
    # a rotation (k = m = 1) up to |R(i h)| - 1 = O(h^6) for RK4; semi-implicit Euler is
    # symplectic (det = 1: the sum vanishes to rounding) and its tangent turns on an ellipse,
    # bounding each finite-time estimate by log(ellipse aspect) / T = O(h) / T.
    system = get_system("driven_oscillator", A=0.0, c=0.0)
    result = lyapunov(system, [1.0, 0.0], dt=0.05, method=method, t_end=200.0, spectrum=True)
    np.testing.assert_allclose(result.exponents, 0.0, atol=1e-3)
    assert abs(float(result.sum)) < (1e-12 if method == "semi_implicit_euler" else 1e-6)


def test_kaplan_yorke():
    assert kaplan_yorke([0.9056, 0.0, -14.5723]) == pytest.approx(2 + 0.9056 / 14.5723)
    assert kaplan_yorke([-0.1, -1.0]) == 0.0
    assert kaplan_yorke([0.1, 0.0]) == 2.0


# -- the tangent map ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ODE_STEPPERS)
@pytest.mark.parametrize("name", ["lorenz", "duffing", "pendulum"])
def test_tangent_map_matches_centred_differences_of_the_step(method, name):
    # gradient check: dF V against (F(s + eps v) - F(s - eps v)) / (2 eps) at eps = 1e-6,
    # whose truncation error is O(eps^2 |F'''|) and rounding O(eps_mach / eps) ~ 1e-10:
    # a relative error of 1e-7 separates a right linearisation from a wrong one (O(h)).
    system, stepper = get_system(name), STEPPERS[method]
    try:
        stepper.check(system)
    except InputError:
        pytest.skip(f"{method} does not run {name}")
    rng = np.random.default_rng(3)
    s = rng.uniform(-2, 2, (4, system.n_states))
    V = rng.standard_normal((4, system.n_states, system.n_states))
    rec = Recurrence(system, stepper, 0.05, 0.3)
    x = rec.drive(0)
    out, dF = tangent_step(system, stepper, 0.3, 0.05, s, x, V)
    np.testing.assert_array_equal(out, stepper.step(system, 0.3, 0.05, s, x, system.params))
    eps = 1e-6
    for j in range(V.shape[-1]):
        v = V[..., j]
        plus = stepper.step(system, 0.3, 0.05, s + eps * v, x, system.params)
        minus = stepper.step(system, 0.3, 0.05, s - eps * v, x, system.params)
        fd = (plus - minus) / (2 * eps)
        rel = np.abs(fd - dF[..., j]).max() / np.abs(dF[..., j]).max()
        assert rel < 1e-7, (method, j, rel)


@pytest.mark.parametrize(("name", "method"), [("lorenz", "rk4"), ("henon_map", "map"),
                                              ("duffing", "semi_implicit_euler")])  # fmt: skip
def test_exact_and_finite_difference_tangents_agree(name, method):
    # the same orbit; the tangents differ by the O(1e-7 relative) errors of the differences,
    # which the exponents average over the run.
    system = get_system(name)
    kw = {} if method == "map" else {"dt": 0.01}
    args = dict(method=method, t_end=300 if method == "map" else 5.0, spectrum=True, **kw)
    exact = lyapunov(system, system.default_s0, tangent="exact", **args)
    fd = lyapunov(system, system.default_s0, tangent="finite_difference", **args)
    assert (exact.tangent, fd.tangent) == ("exact", "finite_difference")
    np.testing.assert_allclose(fd.exponents, exact.exponents, rtol=1e-5, atol=1e-6)


# -- batches --------------------------------------------------------------------------------


def test_a_batch_equals_its_members_run_one_by_one():
    system = get_system("lorenz")
    s0 = np.array([[1.0, 1.0, 1.0], [-3.0, 2.0, 20.0], [5.0, -5.0, 30.0]])
    args = dict(dt=0.01, method="rk4", t_end=3.0, transient=1.0, spectrum=True, every=3)
    batch = lyapunov(system, s0, **args)
    assert batch.exponents.shape == (3, 3) and batch.history.shape[:2] == (3, len(batch.times))
    for b in range(3):
        one = lyapunov(system, s0[b], **args)
        np.testing.assert_allclose(batch.exponents[b], one.exponents, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.history[b], one.history, rtol=1e-12, atol=1e-12)


def test_parameters_as_arrays():
    # Lorenz at rho = 0.5, 28, 100: each member equals the run with that rho alone; at rho = 0.5
    # the origin attracts, and the exponents are the eigenvalues of J(0):
    # (-11 +- sqrt(101)) / 2 and -beta, to O(1/T) from the start (here a few 1e-3).
    rhos = [0.5, 28.0, 100.0]
    args = dict(dt=0.01, method="rk4", t_end=22.0, transient=10.0, spectrum=True)
    batch = lyapunov(get_system("lorenz", rho=rhos), [1.0, 1.0, 1.0], **args)
    assert batch.exponents.shape == (3, 3)
    for b, rho in enumerate(rhos):
        one = lyapunov(get_system("lorenz", rho=rho), [1.0, 1.0, 1.0], **args)
        np.testing.assert_allclose(batch.exponents[b], one.exponents, rtol=1e-12, atol=1e-12)
    eig = sorted([(-11 + np.sqrt(101)) / 2, -8 / 3, (-11 - np.sqrt(101)) / 2], reverse=True)
    np.testing.assert_allclose(batch.exponents[0], eig, atol=1e-2)
    assert batch.exponents[1, 0] > 0.5  # chaotic at rho = 28
    assert abs(batch.exponents[2, 0]) < 0.05  # rho = 100 is in a periodic window: lambda1 ~ 0


def test_result_to_dict_is_json_ready(lorenz_batch):
    doc = json.loads(json.dumps(lorenz_batch.to_dict()))
    assert np.array(doc["exponents"]).shape == (8, 3)
    assert doc["method"] == "rk4" and doc["tangent"] == "exact" and doc["transient"] == 10.0
    assert len(doc["times"]) == np.array(doc["history"]).shape[1] <= 100
    assert doc["history"][0][-1] == doc["exponents"][0]  # the last estimate is the result
    assert np.all(np.diff(lorenz_batch.exponents, axis=-1) <= 0)  # largest first


# -- bad input and failures -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(t_end=1.0, transient=2.0), "t_end"),
        (dict(t_end=1.0, spectrum=4), "spectrum"),
        (dict(t_end=1.0, tangent="adjoint"), "tangent"),
        (dict(t_end=1.0, every=0), "every"),
        (dict(t_end=1.0, transient=-1.0), "transient"),
        (dict(t_end=1.0, method="solve_ivp"), "method"),
        (dict(t_end=1.0, dt=None), "dt"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(kwargs, words):
    kwargs = {"dt": 0.01, **kwargs}
    with pytest.raises(InputError) as err:
        lyapunov(get_system("lorenz"), [1.0, 1.0, 1.0], **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_unknown_tangent_lists_the_modes():
    with pytest.raises(InputError, match="auto, exact, finite_difference"):
        lyapunov(get_system("lorenz"), [1, 1, 1], dt=0.01, t_end=1.0, tangent="adjoint")


def test_a_state_leaving_the_finite_numbers_says_when():
    # growth with Euler at rate -1000: |1 + 100| per step overflows float64 after ~150 steps
    with pytest.raises(DivergenceError, match=r"t = "):
        lyapunov(get_system("exponential_decay", rate=-1000.0), [1.0], dt=0.1, t_end=100.0)


# -- the command line -----------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


def test_cli_prints_a_table_and_json():
    result = run("lyapunov", "henon_map", "--t-end", "2000", "--transient", "100", "--spectrum")
    assert result.exit_code == 0, result.output
    assert "lambda1" in result.output and "Kaplan-Yorke" in result.output
    result = run("lyapunov", "lorenz", "--method", "rk4", "--t-end", "2", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {"exponents", "spread", "sum", "history", "times", "method"} <= set(doc)
    assert len(doc["exponents"]) == 1


def test_cli_batch_and_help():
    result = run("lyapunov", "logistic_map", "-p", "r=3.5,4", "--t-end", "500")
    assert result.exit_code == 0, result.output
    assert "member" in result.output
    result = run("lyapunov", "--help")
    assert result.exit_code == 0 and "dynsys lyapunov" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("henon_map", "--count", "3"),
        ("lorenz", "--t-end", "1", "--transient", "2"),
        ("lorenz", "--tangent", "adjoint"),
        ("lorenz", "--method", "nope"),
    ],
)
def test_cli_bad_input_is_exit_2_and_one_line(args):
    result = run("lyapunov", *args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1


def test_exported():
    assert dynsys.lyapunov is lyapunov and "LyapunovResult" in dynsys.__all__


def test_an_unsettled_estimate_is_said_with_its_uncertainty():
    runner = CliRunner()
    short = runner.invoke(main, ["lyapunov", "lorenz", "--method", "rk4", "--dt", "0.01",
                                 "--t-end", "5", "--spectrum"])  # fmt: skip
    assert short.exit_code == 0, short.output
    assert "note: the estimate has not settled: it still moves by up to" in short.output
    assert "take a later --t-end" in short.output
    long = runner.invoke(main, ["lyapunov", "logistic_map", "-p", "r=4", "--s0", "0.3",
                                "--t-end", "20000"])  # fmt: skip
    assert long.exit_code == 0 and "not settled" not in long.output
