"""Studies: compare (every method against one reference) and convergence (observed order)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dynsys import InputError, compare, convergence, get_system, simulate
from dynsys.metrics import energy_error, error_metrics

DBL_MAX = float(np.finfo(np.float64).max)
ALL_METHODS = ("euler", "semi_implicit_euler", "heun", "midpoint", "rk4")
METRICS = ("max_abs_error", "rmse", "rel_l2", "final_abs_error")


@pytest.fixture(scope="module")
def osc():
    return get_system("driven_oscillator")


@pytest.fixture(scope="module")
def comparison(osc):
    """Every stepper on the founding example, dt = 0.01 over (0, 10)."""
    return compare(osc, [1.0, 0.0], t_span=(0, 10), dt=0.01, methods=ALL_METHODS)


@pytest.fixture(scope="module")
def stiff_comparison():
    """Stiff decay, h rate = 2.5: Euler and Heun leave the floats, RK4 (stable to 2.78) not."""
    system = get_system("exponential_decay", rate=100.0)
    return compare(system, [1.0], t_span=(0, 50), dt=0.025, methods=["euler", "heun", "rk4"])


# -- compare ------------------------------------------------------------------------------


def test_compare_reports_every_requested_method_in_order(comparison):
    assert tuple(comparison.methods) == ALL_METHODS
    assert tuple(comparison.trajectories) == ALL_METHODS
    for name, result in comparison.methods.items():
        assert result.method == name
        assert result.diverged is None
        assert result.wall_s > 0


def test_compare_errors_are_ordered_as_the_orders_predict(comparison):
    err = {name: r.errors.max_abs_error for name, r in comparison.methods.items()}
    assert err["rk4"] < err["heun"] < err["euler"]
    assert err["rk4"] < err["midpoint"] < err["euler"]
    assert err["semi_implicit_euler"] < err["euler"]
    # first order ~ dt, second ~ dt^2, fourth ~ dt^4 (with the growth of the resonance)
    assert 1e-2 < err["euler"] < 1e-1
    assert 1e-5 < err["heun"] < 1e-3
    assert err["rk4"] < 1e-8


def test_compare_metrics_are_those_of_the_trajectories_against_the_reference(comparison):
    ref = comparison.reference
    np.testing.assert_array_equal(ref.t, np.arange(1001) * 0.01)
    for name, result in comparison.methods.items():
        traj = comparison.trajectories[name]
        np.testing.assert_array_equal(traj.t, ref.t)
        assert result.errors == error_metrics(traj.states, ref.states)
        assert result.errors.max_abs_error == np.max(np.abs(traj.states - ref.states))
        assert result.energy_error == energy_error(traj, ref)


def test_compare_energy_error_is_against_the_reference_not_the_physical_change(comparison):
    """At resonance the energy itself goes from 0.5 to 3.85 at t = 10: the column is
    max |E(method) - E(reference)| / max |E(reference)|, which is small for RK4."""
    ref_energy = comparison.reference.energy()
    assert ref_energy[-1] - ref_energy[0] == pytest.approx(3.3456, abs=1e-4)
    for name, result in comparison.methods.items():
        energy = comparison.trajectories[name].energy()
        expected = np.max(np.abs(energy - ref_energy)) / np.max(np.abs(ref_energy))
        assert result.energy_error == pytest.approx(expected, rel=1e-12)
        assert result.to_dict()["energy_error"] == result.energy_error
    assert comparison.methods["rk4"].energy_error < 1e-9
    assert "energy error" in comparison.table().splitlines()[1]


def test_compare_errors_against_the_exact_solution_are_close_to_those_against_the_reference(
    comparison,
):
    ref_vs_exact = comparison.reference_exact_errors.max_abs_error
    assert 0 < ref_vs_exact < 1e-8
    for result in comparison.methods.values():
        to_ref = result.errors.max_abs_error
        to_exact = result.exact_errors.max_abs_error
        # triangle inequality: the two differ by at most the reference's own error
        assert abs(to_exact - to_ref) <= ref_vs_exact * (1 + 1e-12)


def test_compare_to_dict_layout(comparison, osc):
    d = comparison.to_dict()
    assert d["system"] == "driven_oscillator"
    assert d["params"] == {"m": 1.0, "k": 1.0, "A": 0.5, "c": 0.0, "omega": 1.0}
    assert d["dt"] == 0.01 and d["t_end"] == 10.0
    ref = d["reference"]
    assert ref["method"] == "DOP853" and ref["rtol"] == 1e-10 and ref["atol"] == 1e-12
    assert isinstance(ref["nfev"], int) and ref["nfev"] > 0
    assert list(d["methods"]) == list(ALL_METHODS)
    for name, entry in d["methods"].items():
        for key in (*METRICS, "wall_s"):
            assert isinstance(entry[key], float), (name, key)
        assert entry["max_abs_error"] == comparison.methods[name].errors.max_abs_error
        assert "diverged" not in entry
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_compare_of_a_batch(osc):
    s0 = np.array([[1.0, 0.0], [0.0, 1.0]])
    c = compare(osc, s0, t_span=(0, 2), dt=0.05, methods=["heun"])
    assert c.reference.states.shape == (2, 41, 2)
    assert c.to_dict()["reference"]["nfev"] == c.reference.info["nfev"]
    assert len(c.to_dict()["reference"]["nfev"]) == 2
    json.dumps(c.to_dict(), allow_nan=False)


def test_a_diverging_method_is_reported_not_raised(stiff_comparison):
    euler = stiff_comparison.methods["euler"]
    assert euler.errors is None and euler.exact_errors is None
    # s(n) = (1 - 2.5)^n; the step first evaluates g = -100 s(n-1), which overflows once
    # 100 * 1.5^(n-1) > DBL_MAX
    step = math.floor((math.log(DBL_MAX) - math.log(100)) / math.log(1.5)) + 2
    assert euler.diverged.step == step == 1741
    assert euler.diverged.t == step * 0.025
    assert "euler" not in stiff_comparison.trajectories
    heun = stiff_comparison.methods["heun"]
    assert heun.diverged is not None and heun.errors is None
    rk4 = stiff_comparison.methods["rk4"]
    assert rk4.diverged is None
    assert rk4.errors.max_abs_error < 1.0 and rk4.exact_errors.final_abs_error < 1e-12


def test_a_diverging_method_in_to_dict(stiff_comparison):
    d = stiff_comparison.to_dict()
    entry = d["methods"]["euler"]
    for key in METRICS:
        assert entry[key] is None
    assert entry["diverged"]["step"] == 1741
    assert entry["diverged"]["t"] == 1741 * 0.025
    assert entry["diverged"]["trajectory"] is None
    assert "step 1741" in entry["diverged"]["message"]
    assert isinstance(entry["wall_s"], float)
    assert isinstance(d["methods"]["rk4"]["max_abs_error"], float)
    assert "diverged" not in d["methods"]["rk4"]
    json.dumps(d, allow_nan=False)


def test_a_method_that_grows_huge_but_stays_finite_gets_finite_metrics():
    """At h rate = 2.7 Euler grows like 1.7^n: 1e256 after 1111 steps, still finite."""
    system = get_system("exponential_decay", rate=100.0)
    c = compare(system, [1.0], t_span=(0, 30), dt=0.027, methods=["euler", "rk4"])
    euler = c.methods["euler"]
    assert euler.diverged is None
    assert 1e250 < euler.errors.max_abs_error < DBL_MAX
    assert 0 < euler.errors.rmse < euler.errors.max_abs_error
    json.dumps(c.to_dict(), allow_nan=False)


def test_compare_refuses_a_map_and_unknown_methods(osc):
    with pytest.raises(InputError, match="discrete map"):
        compare(get_system("logistic_map"), [0.2], t_span=(0, 10), dt=1.0)
    with pytest.raises(InputError, match="unknown method 'rk5'") as info:
        compare(osc, [1.0, 0.0], t_span=(0, 1), dt=0.1, methods=["euler", "rk5"])
    for name in ALL_METHODS:
        assert name in str(info.value)
    with pytest.raises(InputError, match="methods"):
        compare(osc, [1.0, 0.0], t_span=(0, 1), dt=0.1, methods=[])


def test_compare_with_solve_ivp_as_a_method(osc):
    c = compare(osc, [1.0, 0.0], t_span=(0, 2), dt=0.1, methods=["solve_ivp", "rk4"])
    assert c.methods["solve_ivp"].errors.max_abs_error == 0.0  # the reference itself


# -- convergence -----------------------------------------------------------------------------


def test_convergence_of_rk4_on_the_oscillator(osc):
    conv = convergence(osc, [1.0, 0.0], method="rk4", t_span=(0, 10), dt=0.1, levels=4)
    np.testing.assert_array_equal(conv.dt, [0.1, 0.05, 0.025, 0.0125, 0.00625])
    assert conv.against == "exact"
    assert conv.expected_order == 4
    assert conv.observed_order == pytest.approx(4.0, abs=0.1)
    assert np.all(np.diff(conv.error) < 0)
    # each error is the max abs error of that run against the exact solution on its grid
    run = simulate(osc, [1.0, 0.0], t_span=(0, 10), dt=0.025, method="rk4")
    exact = osc.exact(run.t, np.array([1.0, 0.0]), 0.0, osc.params)
    assert conv.error[2] == pytest.approx(np.max(np.abs(run.states - exact)), rel=1e-12)


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2), ("midpoint", 2)])
def test_convergence_orders_on_the_oscillator(osc, method, order):
    conv = convergence(osc, [1.0, 0.0], method=method, t_span=(0, 5), dt=0.05, levels=4)
    assert conv.expected_order == order
    assert conv.observed_order == pytest.approx(order, abs=0.1)


def test_convergence_without_an_exact_solution_uses_the_reference():
    vdp = get_system("van_der_pol")
    conv = convergence(vdp, [2.0, 0.0], method="heun", t_span=(0, 5), dt=0.05, levels=4)
    assert conv.against == "reference"
    assert conv.expected_order == 2
    assert conv.observed_order == pytest.approx(2.0, abs=0.1)
    assert len(conv.dt) == len(conv.error) == 5


def test_convergence_to_dict_is_json(osc):
    conv = convergence(osc, [1.0, 0.0], method="euler", t_span=(0, 1), dt=0.1, levels=2)
    d = conv.to_dict()
    assert d["method"] == "euler" and d["against"] == "exact" and d["expected_order"] == 1
    assert d["dt"] == [0.1, 0.05, 0.025]
    assert d["error"] == conv.error.tolist()
    assert json.loads(json.dumps(d, allow_nan=False)) == d


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"t_span": (0, 1.05), "dt": 0.1}, "whole number of steps"),
        ({"method": "solve_ivp"}, "solve_ivp"),
        ({"method": "rk5"}, "unknown method"),
        ({"levels": 0}, "levels"),
        ({"dt": -0.1}, "dt"),
    ],
)
def test_convergence_bad_input(osc, kwargs, match):
    args = {"method": "euler", "t_span": (0, 1), "dt": 0.1, "levels": 2} | kwargs
    with pytest.raises(InputError, match=match):
        convergence(osc, [1.0, 0.0], **args)


def test_convergence_refuses_a_map():
    with pytest.raises(InputError, match="discrete map"):
        convergence(get_system("henon_map"), [0.0, 0.0], method="map", t_span=(0, 10), dt=1.0)


def test_comparison_and_convergence_print_as_tables():
    system = get_system("exponential_decay")
    result = compare(system, [1.0], t_span=(0, 1), dt=0.1, methods=["euler", "rk4"])
    text = str(result)
    assert text == result.table()
    lines = text.splitlines()
    assert lines[1].split()[:3] == ["method", "max", "abs"]
    euler = next(line for line in lines if line.startswith("euler"))
    assert f"{result.methods['euler'].errors.max_abs_error:.3e}" in euler
    assert lines[-1].startswith("reference against the exact solution")
    conv = convergence(system, [1.0], method="heun", t_span=(0, 1), dt=0.1, levels=2)
    assert str(conv).splitlines()[-1] == f"observed order {conv.observed_order:.3f} (expected 2)"


def test_trajectory_repr_is_short():
    system = get_system("lorenz")
    traj = simulate(system, [[1, 1, 1], [1, 1, 2]], t_span=(0, 1), dt=0.01, method="rk4")
    assert repr(traj) == (
        "Trajectory(Lorenz(sigma=10, rho=28, beta=2.66667), method='rk4', dt=0.01, batch=2, "
        "101 times on [0, 1], states=('x', 'y', 'z'))"
    )


def test_an_exact_method_has_no_order_and_no_warning():
    """s0 = 0 for exponential decay: every error is 0, so no rate between halvings exists."""
    import warnings

    system = get_system("exponential_decay")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        study = convergence(system, [0.0], method="euler", t_span=(0, 3), dt=0.1, levels=2)
        text = study.table()
    assert study.observed_order is None
    assert text.splitlines()[-1] == "observed order - (expected 1)"
    assert [line.split()[-1] for line in text.splitlines()[4:6]] == ["-", "-"]


def test_an_energy_left_undefined_by_a_method_is_no_energy_error():
    """Lotka-Volterra's energy takes log of the populations: below zero it has none."""
    import warnings

    system = get_system("lotka_volterra")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = compare(system, [10.0, 5.0], t_span=(1, 3), dt=1, methods=["euler"])
    assert result.methods["euler"].energy_error is None
    assert "energy_error" not in result.to_dict()["methods"]["euler"]
