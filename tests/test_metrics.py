"""Error metrics, observed order and energy drift, checked against values computed by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dynsys import InputError, Trajectory, get_system, simulate
from dynsys.metrics import energy_drift, error_metrics, observed_order, trajectory_errors

# y_ref (time 3, n 2) with ||y_ref||_2 = 5, and an error whose largest entry is not at the end
Y_REF = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0]])
ERR = np.array([[0.0, -7.0], [2.0, 3.0], [-4.0, 1.0]])


def test_error_metrics_by_hand():
    m = error_metrics(Y_REF + ERR, Y_REF)
    assert m.max_abs_error == 7.0
    # squares: 0 + 49 + 4 + 9 + 16 + 1 = 79 over 6 entries
    assert m.rmse == pytest.approx(math.sqrt(79 / 6), rel=1e-15)
    assert m.rel_l2 == pytest.approx(math.sqrt(79) / 5, rel=1e-15)
    assert m.final_abs_error == 4.0  # max(|-4|, |1|) at the last time
    assert all(isinstance(v, float) for v in (m.max_abs_error, m.rmse, m.rel_l2))


def test_error_metrics_of_identical_arrays_are_zero():
    m = error_metrics(Y_REF, Y_REF)
    assert (m.max_abs_error, m.rmse, m.rel_l2, m.final_abs_error) == (0.0, 0.0, 0.0, 0.0)


def test_error_metrics_are_symmetric_in_the_sign_of_the_error():
    plus, minus = error_metrics(Y_REF + ERR, Y_REF), error_metrics(Y_REF - ERR, Y_REF)
    assert plus == minus


def test_per_trajectory_gives_arrays_over_the_batch():
    y_ref = np.stack([Y_REF, 2 * Y_REF])  # (batch 2, time 3, n 2)
    y = y_ref + np.stack([ERR, 0.5 * ERR])
    m = error_metrics(y, y_ref, per_trajectory=True)
    np.testing.assert_array_equal(m.max_abs_error, [7.0, 3.5])
    np.testing.assert_allclose(m.rmse, [math.sqrt(79 / 6), 0.5 * math.sqrt(79 / 6)], rtol=1e-15)
    # second member: error halved, reference doubled
    np.testing.assert_allclose(m.rel_l2, [math.sqrt(79) / 5, math.sqrt(79) / 20], rtol=1e-15)
    np.testing.assert_array_equal(m.final_abs_error, [4.0, 2.0])
    for field in ("max_abs_error", "rmse", "rel_l2", "final_abs_error"):
        assert getattr(m, field).shape == (2,)
    # each member as if alone; the whole batch reduces over everything
    alone = error_metrics(y[1], y_ref[1])
    assert alone.rmse == pytest.approx(m.rmse[1], rel=1e-15)
    whole = error_metrics(y, y_ref)
    assert whole.max_abs_error == 7.0 and whole.final_abs_error == 4.0
    # squares: 79 + 79 / 4 over 12 entries; reference norm^2: 25 + 100
    assert whole.rmse == pytest.approx(math.sqrt((79 + 79 / 4) / 12), rel=1e-15)
    assert whole.rel_l2 == pytest.approx(math.sqrt((79 + 79 / 4) / 125), rel=1e-15)


def test_to_dict_is_plain_json():
    per = error_metrics(np.stack([Y_REF + ERR] * 2), np.stack([Y_REF] * 2), per_trajectory=True)
    d = per.to_dict()
    assert d["max_abs_error"] == [7.0, 7.0]
    json.dumps(d, allow_nan=False)
    assert error_metrics(Y_REF + ERR, Y_REF).to_dict()["final_abs_error"] == 4.0


@pytest.mark.parametrize(
    "shapes", [((3, 2), (3, 1)), ((3, 2), (2, 3)), ((2, 3, 2), (3, 2)), ((4, 2), (3, 2))]
)
def test_shape_mismatch_is_an_input_error(shapes):
    a, b = shapes
    with pytest.raises(InputError, match=rf"cannot compare shapes \({a[0]}, "):
        error_metrics(np.zeros(a), np.zeros(b))


def test_huge_but_finite_errors_do_not_overflow():
    """A diverging method can reach 1e200 and stay finite: squaring would overflow."""
    y_ref = np.array([[1e200, 0.0], [0.0, 1e200]])
    y = -y_ref
    m = error_metrics(y, y_ref)  # filterwarnings=error would turn an overflow into a failure
    assert m.max_abs_error == 2e200
    assert m.rmse == pytest.approx(2e200 / math.sqrt(2), rel=1e-15)
    assert m.rel_l2 == pytest.approx(2.0, rel=1e-15)
    assert m.final_abs_error == 2e200


def test_trajectory_errors_checks_the_grid():
    system = get_system("exponential_decay")
    a = simulate(system, [1.0], t_span=(0, 1), dt=0.1)
    b = simulate(system, [1.0], t_span=(0, 1), dt=0.1, method="rk4")
    assert trajectory_errors(a, b) == error_metrics(a.states, b.states)
    other = simulate(system, [1.0], t_span=(0.5, 1.5), dt=0.1)
    with pytest.raises(InputError, match="same time grid"):
        trajectory_errors(a, other)


# -- observed order -------------------------------------------------------------------------


def test_observed_order_recovers_the_slope_of_synthetic_data():
    dt = 0.1 / 2.0 ** np.arange(5)
    assert observed_order(dt, 3 * dt**2.5) == pytest.approx(2.5, abs=1e-12)
    assert observed_order(dt, 0.01 * dt) == pytest.approx(1.0, abs=1e-12)
    assert observed_order(list(dt), list(7 * dt**4)) == pytest.approx(4.0, abs=1e-12)


def test_observed_order_ignores_errors_that_are_not_positive():
    dt = 0.1 / 2.0 ** np.arange(5)
    error = 3 * dt**2.5
    error[[1, 3]] = [0.0, np.nan]
    assert observed_order(dt, error) == pytest.approx(2.5, abs=1e-12)


@pytest.mark.parametrize(
    "error", [[1e-3, 0.0, 0.0], [0.0, 0.0, 0.0], [np.nan, 1e-3, -1.0], [1e-3], []]
)
def test_observed_order_needs_two_positive_errors(error):
    dt = [0.1, 0.05, 0.025][: len(error)]
    assert observed_order(dt, error) is None


# -- energy drift -------------------------------------------------------------------------


def test_energy_drift_is_zero_for_the_exact_unforced_oscillator():
    system = get_system("driven_oscillator", m=2.0, k=3.0, A=0.0)
    t = np.linspace(0.0, 50.0, 2001)
    s0 = np.array([1.0, -0.5])
    exact = system.exact(t, s0, 0.0, system.params)
    traj = Trajectory(t, exact, system, "exact", None)
    energy = traj.energy()
    assert energy[0] == pytest.approx(0.5 * 2.0 * 0.25 + 0.5 * 3.0 * 1.0)
    assert energy_drift(traj) < 1e-12


def test_energy_drift_of_euler_is_the_growth_factor_by_hand():
    """Explicit Euler on m s'' = -k s multiplies the energy by exactly 1 + h^2 k/m per step,
    so after N steps the drift is E0 ((1 + h^2 k/m)^N - 1)."""
    m, k, h = 2.0, 3.0, 0.01
    system = get_system("driven_oscillator", m=m, k=k, A=0.0)
    e0 = 0.5 * m * 0.25 + 0.5 * k * 1.0
    drifts = []
    for t_end in (5.0, 10.0, 20.0):
        traj = simulate(system, [1.0, -0.5], t_span=(0, t_end), dt=h, method="euler")
        n = round(t_end / h)
        expected = e0 * ((1 + h**2 * k / m) ** n - 1)
        assert energy_drift(traj) == pytest.approx(expected, rel=1e-9)
        drifts.append(energy_drift(traj))
    assert 0 < drifts[0] < drifts[1] < drifts[2]


def test_energy_drift_of_a_batch_is_the_largest_member():
    system = get_system("driven_oscillator", A=0.0)
    s0 = np.array([[1.0, 0.0], [3.0, 0.0]])  # energy 9 times larger: drift 9 times larger
    traj = simulate(system, s0, t_span=(0, 2), dt=0.01)
    alone = [simulate(system, s, t_span=(0, 2), dt=0.01) for s in s0]
    assert energy_drift(traj) == pytest.approx(energy_drift(alone[1]), rel=1e-12)
    assert energy_drift(alone[1]) == pytest.approx(9 * energy_drift(alone[0]), rel=1e-9)


def test_an_energy_that_overflows_gives_an_infinite_drift_without_a_warning():
    """Euler at dt = 2.5 multiplies |s| by sqrt(7.25) per step: about 1e215 after 500 steps,
    finite, but its energy is not."""
    system = get_system("driven_oscillator", A=0.0)
    traj = simulate(system, [1.0, 0.0], t_span=(0, 1250), dt=2.5)
    assert np.all(np.isfinite(traj.states)) and np.max(np.abs(traj.states)) > 1e200
    assert energy_drift(traj) == math.inf


def test_to_dict_turns_non_finite_values_into_none():
    y_ref = np.zeros((3, 1))
    y = np.array([[1.0], [np.inf], [2.0]])
    doc = error_metrics(y, y_ref).to_dict()
    assert doc["max_abs_error"] is None and doc["final_abs_error"] == 2.0
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
