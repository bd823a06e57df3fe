"""Driven systems on their stroboscopic map: exponents per drive period, orbit diagrams of
s(t0 + kT), and the computed largest exponent behind valid times in Lyapunov times."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.lyapunov import (
    drive_period,
    largest_exponent,
    lyapunov,
    lyapunov_time,
    steps_per_period,
)
from dynsys.orbits import OrbitDiagram, orbit_diagram
from dynsys.rnn.data import DatasetSpec
from dynsys.rnn.evaluate import lyapunov_exponent, lyapunov_note
from dynsys.systems import get_system

CHAOTIC_DUFFING = {"delta": 0.3, "alpha": -1.0, "beta": 1.0, "gamma": 0.5, "omega": 1.2}


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


@pytest.fixture(scope="module")
def duffing_spectrum():
    """The chaotic Duffing oscillator's stroboscopic spectrum: RK4 at T/1000, 400 periods after
    50 (compiled tangent loop)."""
    system = get_system("duffing", **CHAOTIC_DUFFING)
    T = drive_period(system)
    result = lyapunov(
        system,
        system.default_s0,
        dt=T / 1000,
        method="rk4",
        t_end=450 * T,
        transient=50 * T,
        spectrum=True,
        section="stroboscopic",
        backend="numba",
    )
    return system, T, result


def test_duffing_map_volume_contracts_by_exp_minus_delta_T(duffing_spectrum):
    _, T, result = duffing_spectrum
    # trace dg/ds = -delta: log|det dP| = -delta T per period, exactly for the flow (RK4: h^4)
    assert float(result.sum) == pytest.approx(-0.3 * T, abs=1e-8)
    assert result.exponents[0] > 0.3  # chaos: about 0.6 per period
    assert result.per == "drive period" and result.units == "per drive period"
    assert result.period == pytest.approx(T, rel=1e-15)
    assert result.steps == 400 * 1000
    assert result.to_dict()["per"] == "drive period"


def test_map_exponents_are_T_times_the_flow_exponents():
    system = get_system("duffing", **CHAOTIC_DUFFING)
    T = drive_period(system)
    common = dict(dt=T / 50, method="rk4", t_end=30 * T, transient=5 * T, spectrum=True)
    section = lyapunov(system, system.default_s0, section="stroboscopic", **common)
    flow = lyapunov(system, system.default_s0, **common)
    assert flow.per == "unit time" and flow.period is None
    np.testing.assert_allclose(section.exponents, flow.exponents * T, rtol=1e-12)


def test_undamped_linear_oscillator_has_zero_exponents_per_period():
    # omega = sqrt(k/m): the map over one period is the identity
    system = get_system("driven_oscillator", c=0.0, omega=1.0)
    T = drive_period(system)
    result = lyapunov(
        system, (1.0, 0.0), dt=T / 100, method="rk4", t_end=200 * T, spectrum=True,
        section="stroboscopic", backend="numba",
    )  # fmt: skip
    np.testing.assert_allclose(result.exponents, 0.0, atol=1e-6)


def test_damped_linear_oscillator_has_the_real_part_times_T():
    # eigenvalues -c/2m +- i w_d: with the drive at w_d the period map is exp(-c T / 2m) I
    m, k, c = 1.0, 1.0, 0.2
    wd = math.sqrt(k / m - (c / (2 * m)) ** 2)
    system = get_system("driven_oscillator", m=m, k=k, c=c, omega=wd)
    T = drive_period(system)
    result = lyapunov(
        system, (1.0, 0.0), dt=T / 200, method="rk4", t_end=100 * T, transient=10 * T,
        spectrum=True, section="stroboscopic", backend="numba",
    )  # fmt: skip
    np.testing.assert_allclose(result.exponents, -c / (2 * m) * T, atol=1e-6)


def test_overdamped_oscillator_has_its_eigenvalues_per_unit_time():
    # c = 2.5, k = m = 1: eigenvalues -0.5 and -2
    system = get_system("driven_oscillator", c=2.5)
    result = lyapunov(
        system, (1.0, 0.0), dt=0.01, method="rk4", t_end=60.0, transient=20.0, spectrum=True,
        backend="numba",
    )  # fmt: skip
    np.testing.assert_allclose(result.exponents, [-0.5, -2.0], atol=1e-6)


def test_transient_and_end_are_whole_periods():
    system = get_system("duffing", **CHAOTIC_DUFFING)
    T = drive_period(system)
    result = lyapunov(
        system, system.default_s0, dt=T / 20, method="rk4", t_end=10.5 * T, transient=1.2 * T,
        section="stroboscopic",
    )  # fmt: skip
    assert result.transient == pytest.approx(2 * T) and result.t_end == pytest.approx(10 * T)
    assert result.steps == 8 * 20


def test_dt_that_does_not_divide_the_period_is_refused_naming_the_ones_that_do():
    system = get_system("duffing")
    T = drive_period(system)
    with pytest.raises(InputError, match=r"does not divide the drive period .* T/k") as err:
        lyapunov(system, system.default_s0, dt=0.01, t_end=100, section="stroboscopic")
    assert f"{T / 524:.10g} (k=524)" in str(err.value)
    assert steps_per_period(T, T / 7) == 7


@pytest.mark.parametrize(
    ("name", "params", "kwargs", "message"),
    [
        ("lorenz", {}, {"dt": 0.01}, "needs a driven ODE; lorenz is not driven"),
        ("logistic_map", {}, {}, "needs a driven ODE; logistic_map is a map"),
        ("duffing", {"omega": [1.0, 1.2]}, {"dt": 0.01}, "omega must be one number"),
        ("duffing", {}, {"dt": 0.01, "section": "poincare"}, "unknown section"),
        ("duffing", {}, {"dt": 0.01, "section": None, "period": 5.0}, "give both"),
    ],
)
def test_stroboscopic_refusals(name, params, kwargs, message):
    system = get_system(name, **params)
    kwargs = {"section": "stroboscopic", **kwargs}
    with pytest.raises(InputError, match=message):
        lyapunov(system, system.default_s0, t_end=100, **kwargs)


def test_compiled_loop_without_transient_is_the_numpy_loop():
    lorenz = get_system("lorenz")
    runs = [
        lyapunov(lorenz, lorenz.default_s0, dt=0.01, method="rk4", t_end=5.0, spectrum=True,
                 backend=backend)
        for backend in ("numpy", "numba")
    ]  # fmt: skip
    np.testing.assert_allclose(runs[1].exponents, runs[0].exponents, rtol=1e-9)
    np.testing.assert_allclose(runs[1].history, runs[0].history, rtol=1e-9)


# -- orbit diagrams on the stroboscopic section ----------------------------------------------


def test_duffing_orbit_diagram_period_one_and_chaos(tmp_path):
    system = get_system("duffing", delta=0.3)
    diagram = orbit_diagram(system, "gamma", [0.2, 0.45], transient=100, keep=40)
    assert diagram.points.shape == (2, 40) and diagram.period == pytest.approx(2 * np.pi / 1.2)
    assert diagram.dt == pytest.approx(diagram.period / 100) and diagram.method == "rk4"
    assert diagram.periods(1e-6).tolist() == [1, 0]
    assert len(np.unique(np.round(diagram.points[1], 6))) == 40  # chaos: every point new
    again = OrbitDiagram.from_npz(diagram.to_npz(tmp_path / "d.npz"))
    assert (again.period, again.dt, again.method) == (diagram.period, diagram.dt, "rk4")
    np.testing.assert_array_equal(again.points, diagram.points)


def test_orbit_points_are_the_simulated_states_at_whole_periods():
    from dynsys.simulate import simulate

    system = get_system("duffing", delta=0.3, gamma=0.45)
    T = drive_period(system)
    diagram = orbit_diagram(system, "gamma", [0.45], transient=3, keep=4, dt=T / 40)
    traj = simulate(system, system.default_s0, t_span=(0, 7 * T), dt=T / 40, method="rk4")
    np.testing.assert_allclose(diagram.points[0], traj.states[120:280:40, 0], rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "param", "kwargs", "message"),
    [
        ("duffing", "omega", {}, "omega sets the drive period"),
        ("lorenz", "rho", {}, "discrete map or a driven ODE"),
        ("duffing", "gamma", {"dt": 0.01}, "does not divide the drive period"),
        ("logistic_map", "r", {"dt": 0.5}, "dt of a discrete map must be 1"),
    ],
)
def test_orbit_diagram_refusals(name, param, kwargs, message):
    with pytest.raises(InputError, match=message):
        orbit_diagram(name, param, [0.3, 0.4], transient=2, keep=4, **kwargs)


def test_cli_bifurcation_of_duffing_with_exponents_per_period(tmp_path):
    out = tmp_path / "duffing.npz"
    result = run(
        "bifurcation", "duffing", "--param", "gamma=0.2,0.45", "--set", "delta=0.3",
        "--n", "2", "--periods", "20", "--transient", "60", "--lyapunov", "--out", str(out),
        "--dt", repr(2 * np.pi / 1.2 / 25),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stroboscopic: s(kT), T = 5.23599, rk4 dt = 0.20944" in result.output
    with np.load(out) as data:
        assert data["points"].shape == (2, 20) and float(data["period"]) == pytest.approx(
            2 * np.pi / 1.2
        )
        lam = data["lyapunov"]
    assert lam[0] < 0 < lam[1]  # period 1 at gamma = 0.2, chaos at 0.45 (per period)


def test_cli_bifurcation_refuses_periods_for_a_map(tmp_path):
    result = run("bifurcation", "logistic_map", "--param", "r=3,4", "--periods", "10",
                 "--out", str(tmp_path / "x.npz"))  # fmt: skip
    assert result.exit_code == 2 and "--periods and --dt are for a driven ODE" in result.output


def test_cli_lyapunov_stroboscopic():
    result = run(
        "lyapunov", "driven_oscillator", "-p", "c=0.2", "--method", "rk4", "--t-end", "300",
        "--transient", "30", "--spectrum", "--stroboscopic",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "exponents per drive period (T = 6.28319)" in result.output
    assert "dt=0.0628319" in result.output and "sum: -1.25664" in result.output


# -- the computed largest exponent ------------------------------------------------------------


def test_largest_exponent_of_lorenz_is_sprotts_within_001():
    lorenz = get_system("lorenz")
    lam = largest_exponent(lorenz)
    assert lam == pytest.approx(0.9056, abs=0.01)
    assert lyapunov_time(lorenz) == pytest.approx(1 / lam)
    assert largest_exponent(get_system("lorenz")) is lam  # cached per class and parameters


def test_no_exponent_without_chaos():
    assert largest_exponent(get_system("driven_oscillator")) is None  # resonance: t sin t
    assert largest_exponent(get_system("lorenz", rho=10.0)) is None  # a stable fixed point
    assert lyapunov_time(get_system("pendulum")) is None


def test_largest_exponent_refuses_a_batch():
    with pytest.raises(InputError, match="one value per parameter"):
        largest_exponent(get_system("lorenz", rho=[28.0, 30.0]))


def test_dataset_exponent_is_computed_at_its_parameters():
    spec = DatasetSpec(system="lorenz", n_train=1, n_val=1, n_test=1)
    lam = lyapunov_exponent(spec)
    assert lam == pytest.approx(0.9056, abs=0.01)
    assert lyapunov_exponent(DatasetSpec(system="lorenz", ranges={"rho": (27, 29)})) is None
    assert lyapunov_exponent(DatasetSpec(system="driven_oscillator")) is None
    note = lyapunov_note(lam, get_system("lorenz"))
    how = "rk4, dt=0.01, 500 time units after 20"
    assert note == f"the largest Lyapunov exponent {lam:.4g} (computed: {how})"
