"""reference: scipy's solve_ivp on the grid of a recurrence, one trajectory at a time or
stacked, and its failures as dynsys errors."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.sparse import issparse

import dynsys
import dynsys.explore.api
from dynsys import InputError, SolverError, get_system, reference, simulate
from dynsys.reference import SOLVE_IVP_METHODS
from dynsys.systems.base import System
from dynsys.systems.oscillator import DrivenOscillator


class Blowup(System):
    """ds/dt = s^2: from s(0) = 1 the solution 1 / (1 - t) leaves every number at t = 1."""

    name = "blowup"
    states = ("s",)
    parameters = ()
    default_s0 = (1.0,)

    def rhs(self, t, s, x, p):
        return s**2


class CountingOscillator(DrivenOscillator):
    """The driven oscillator, counting the calls of its Jacobian."""

    name = "counting_oscillator"

    def __init__(self, **params):
        super().__init__(**params)
        self.jacobian_calls = 0

    def jacobian(self, t, s, p):
        self.jacobian_calls += 1
        return super().jacobian(t, s, p)


@pytest.fixture(scope="module")
def osc():
    return get_system("driven_oscillator")


@pytest.fixture(scope="module")
def grid():
    return np.arange(101) * 0.1  # 0, 0.1, ..., 10


def max_error_to_exact(system, traj, s0, t0=0.0):
    exact = system.exact(traj.t, np.asarray(s0, dtype=float), t0, system.params)
    return float(np.max(np.abs(traj.states - exact)))


def test_reference_on_the_grid_of_a_simulation(osc):
    traj = simulate(osc, [1.0, 0.0], t_span=(0, 10), dt=0.1, method="rk4")
    ref = reference(osc, [1.0, 0.0], traj.t)
    np.testing.assert_array_equal(ref.t, traj.t)
    assert ref.states.shape == traj.states.shape
    np.testing.assert_array_equal(ref.states[0], [1.0, 0.0])
    np.testing.assert_array_equal(ref.x, traj.x)
    assert ref.method == "solve_ivp" and ref.dt is None
    info = ref.info
    assert info["method"] == "DOP853" and info["rtol"] == 1e-10 and info["atol"] == 1e-12
    assert isinstance(info["nfev"], int) and info["nfev"] > 0
    assert info["status"] == 0
    assert info["stack"] is False


def test_simulate_with_solve_ivp_is_the_reference_on_its_grid(osc):
    via_simulate = simulate(osc, [1.0, 0.0], t_span=(0, 3), dt=0.25, method="solve_ivp")
    np.testing.assert_array_equal(via_simulate.t, np.arange(13) * 0.25)
    direct = reference(osc, [1.0, 0.0], via_simulate.t)
    np.testing.assert_array_equal(via_simulate.states, direct.states)


def test_matches_the_exact_solution_at_resonance(osc):
    t = np.arange(201) * 0.1  # 0..20, amplitude growing like t sin t / 4
    ref = reference(osc, [1.0, 0.0], t)
    assert max_error_to_exact(osc, ref, [1.0, 0.0]) < 1e-8


def test_matches_the_exact_solution_damped_off_resonance(grid):
    system = get_system("driven_oscillator", m=2.0, k=3.0, c=0.4, A=1.5, omega=2.3)
    ref = reference(system, [0.2, -1.0], grid)
    assert max_error_to_exact(system, ref, [0.2, -1.0]) < 1e-8


def test_batch_info_is_per_trajectory(osc, grid):
    s0 = np.random.default_rng(11).normal(size=(3, 2))
    ref = reference(osc, s0, grid)
    assert ref.states.shape == (3, 101, 2)
    assert ref.x.shape == (3, 101)
    assert len(ref.info["nfev"]) == 3 and all(n > 0 for n in ref.info["nfev"])
    assert ref.info["status"] == [0, 0, 0]


def test_batch_equals_one_by_one_exactly(osc, grid):
    s0 = np.random.default_rng(12).normal(size=(3, 2))
    ref = reference(osc, s0, grid)
    for i in range(3):
        alone = reference(osc, s0[i], grid)
        np.testing.assert_array_equal(ref.states[i], alone.states)
        assert ref.info["nfev"][i] == alone.info["nfev"]


def test_batch_of_parameters_equals_one_by_one_exactly(grid):
    k = np.array([0.5, 1.0, 3.0])
    system = get_system("driven_oscillator", k=k, c=0.1)
    ref = reference(system, [1.0, 0.0], grid)
    assert ref.states.shape == (3, 101, 2)
    for i, ki in enumerate(k):
        alone_system = get_system("driven_oscillator", k=ki, c=0.1)
        alone = reference(alone_system, [1.0, 0.0], grid)
        np.testing.assert_array_equal(ref.states[i], alone.states)
        assert max_error_to_exact(alone_system, alone, [1.0, 0.0]) < 1e-8


def test_stack_is_close_to_per_trajectory(grid):
    system = get_system("driven_oscillator", k=np.array([0.5, 1.0, 3.0]))
    s0 = np.random.default_rng(13).normal(size=(3, 2))
    apart = reference(system, s0, grid)
    stacked = reference(system, s0, grid, stack=True)
    assert stacked.info["stack"] is True
    assert stacked.states.shape == apart.states.shape
    np.testing.assert_allclose(stacked.states, apart.states, rtol=0, atol=1e-8)
    # one solve for the whole stack: the same count for every member
    assert len(set(stacked.info["nfev"])) == 1 and stacked.info["status"] == [0, 0, 0]


@pytest.mark.parametrize("method", ["RK45", "Radau", "LSODA", "BDF", "RK23"])
def test_other_solve_ivp_methods_work(method):
    system = CountingOscillator(c=0.3, omega=1.7)
    t = np.arange(31) * 0.1
    ref = reference(system, [1.0, 0.0], t, method=method, rtol=1e-9, atol=1e-11)
    assert ref.info["method"] == method and ref.info["status"] == 0
    tolerance = 1e-5 if method in ("BDF", "RK23") else 1e-7
    assert max_error_to_exact(system, ref, [1.0, 0.0]) < tolerance
    if method in ("Radau", "BDF"):
        assert system.jacobian_calls > 0  # the analytic Jacobian, not finite differences
    if method in ("RK45", "RK23"):
        assert system.jacobian_calls == 0  # explicit: no jac passed (scipy would warn)


def test_stacked_radau_uses_a_block_diagonal_jacobian(monkeypatch):
    calls = []

    def spy(fun, t_span, y0, **kwargs):
        calls.append(kwargs)
        return solve_ivp(fun, t_span, y0, **kwargs)

    # dynsys.reference is the function; the module is reached by its import name
    monkeypatch.setattr(importlib.import_module("dynsys.reference"), "solve_ivp", spy)
    system = CountingOscillator(k=np.array([1.0, 4.0]), c=0.2)
    t = np.arange(21) * 0.1
    s0 = np.array([[1.0, 0.0], [0.0, 1.0]])
    stacked = reference(system, s0, t, method="Radau", stack=True, rtol=1e-9, atol=1e-11)
    assert system.jacobian_calls > 0
    exact = system.exact(t, s0, 0.0, system.params)
    assert np.max(np.abs(stacked.states - exact)) < 1e-7
    # one call for the stack of 4 states; d(ds/dt)/ds = [[0, 1], [-k, -c]] for each member
    assert len(calls) == 1
    jac = calls[0]["jac"](0.3, np.arange(4.0))
    assert issparse(jac)  # scipy factors it as sparse: a batch of 1,000 stays cheap
    jac = jac.toarray()
    expected = np.zeros((4, 4))
    expected[:2, :2] = [[0.0, 1.0], [-1.0, -0.2]]
    expected[2:, 2:] = [[0.0, 1.0], [-4.0, -0.2]]
    np.testing.assert_array_equal(jac, expected)


def test_rtol_and_atol_are_recorded_and_used(osc, grid):
    loose = reference(osc, [1.0, 0.0], grid, method="RK45", rtol=1e-4, atol=1e-6)
    tight = reference(osc, [1.0, 0.0], grid, method="RK45", rtol=1e-10, atol=1e-12)
    assert loose.info["rtol"] == 1e-4 and loose.info["atol"] == 1e-6
    assert loose.info["nfev"] < tight.info["nfev"]
    assert max_error_to_exact(osc, tight, [1.0, 0.0]) < max_error_to_exact(osc, loose, [1.0, 0.0])


def test_unknown_method_lists_the_allowed_ones(osc, grid):
    with pytest.raises(InputError, match="unknown solve_ivp method 'RK4'") as info:
        reference(osc, [1.0, 0.0], grid, method="RK4")
    message = str(info.value)
    for name in SOLVE_IVP_METHODS:
        assert name in message
    assert "did you mean 'RK45'" in message


def test_a_discrete_map_is_refused():
    with pytest.raises(InputError, match="discrete map"):
        reference(get_system("logistic_map"), [0.2], np.arange(10.0))


@pytest.mark.parametrize(
    "t",
    [
        [0.0, 1.0, 1.0, 2.0],
        [0.0, 2.0, 1.0],
        [1.0, 0.0],
        [0.0],
        [[0.0, 1.0], [2.0, 3.0]],
        [0.0, np.nan, 1.0],
        [0.0, 1.0, np.inf],
    ],
)
def test_a_grid_that_is_not_increasing_is_refused(osc, t):
    with pytest.raises(InputError, match="t must be an increasing"):
        reference(osc, [1.0, 0.0], t)


@pytest.mark.parametrize(
    "change, field",
    [({"rtol": 0.0}, "rtol"), ({"atol": -1.0}, "atol"), ({"rtol": float("nan")}, "rtol")],
)
def test_bad_tolerances_are_refused(osc, grid, change, field):
    with pytest.raises(InputError, match=field):
        reference(osc, [1.0, 0.0], grid, **change)


def test_bad_initial_state_is_refused(osc, grid):
    with pytest.raises(InputError, match="s0"):
        reference(osc, [1.0], grid)


@pytest.mark.parametrize("method", ["DOP853", "RK45", "LSODA"])
def test_a_solution_that_blows_up_is_a_solver_error(method):
    """LSODA used to retry forever once the state was not finite."""
    t = np.arange(21) * 0.1  # 0..2, past the blow-up at t = 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SolverError, match=rf"solve_ivp \({method}\) stopped at t = ") as info:
            reference(Blowup(), [1.0], t, method=method)
    assert caught == []
    err = info.value
    assert isinstance(err, dynsys.DynsysError) and not isinstance(err, InputError)
    assert "before t_end = 2" in str(err)
    stopped = float(str(err).split("stopped at t = ")[1].split()[0])
    assert 0.8 <= stopped <= 1.0
    assert err.__cause__ is None


def test_max_nfev_stops_a_blow_up_and_says_where():
    """The Lorenz system backward in time blows up in finite time; the cap stops solve_ivp."""
    lorenz = get_system("lorenz")
    t = np.linspace(0.0, 20.0, 201)
    backward = dynsys.explore.api.reversed_system(lorenz)
    with pytest.raises(SolverError, match=r"stopped at t = \S+ before t_end = 20: 500 evaluat"):
        reference(backward, [1.0, 1.0, 20.0], t, max_nfev=500)
    done = reference(lorenz, [1.0, 1.0, 20.0], t, max_nfev=100_000)
    assert done.info["nfev"] <= 100_000
    assert np.array_equal(done.states, reference(lorenz, [1.0, 1.0, 20.0], t).states)
