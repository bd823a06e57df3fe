"""The stiff test systems (Robertson, Prothero-Robinson) and the Jacobians of every ODE system.

Oracles: centred finite differences of the vector field (Jacobians, divergences, the exact
solution's derivative), scipy's solve_ivp at tight tolerances, published values of the
Robertson problem, and the step at which explicit Euler overflows, computed by hand.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from collections import namedtuple

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.integrate import solve_ivp

from dynsys import SYSTEMS, DivergenceError, get_system, kernels, simulate
from dynsys.simulate import Recurrence
from dynsys.steppers import STEPPERS
from dynsys.steppers.explicit import EXPLICIT, ExplicitRungeKutta
from dynsys.systems.base import System

ODES = [name for name, cls in SYSTEMS.items() if cls.kind == "ode"]
BUILT_IN_ODES = [name for name in ODES if SYSTEMS[name].__module__.startswith("dynsys.systems.")]
RUNGE_KUTTA = [s.name for s in EXPLICIT if isinstance(s, ExplicitRungeKutta)]
DBL_MAX = np.finfo(np.float64).max
needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba is not installed")


# -- helpers ------------------------------------------------------------------------------------
def random_params(cls: type[System], rng: np.random.Generator, size: int | None) -> dict:
    """Values from half to one and a half times each default (0 to 1 when it is 0)."""
    return {
        p.name: rng.uniform(0.0, 1.0, size)
        if p.default == 0
        else p.default * rng.uniform(0.5, 1.5, size)
        for p in cls.parameters
    }


def typical_states(
    cls: type[System], rng: np.random.Generator, shape: tuple[int, ...]
) -> np.ndarray:
    """States drawn from the system's typical ranges, shape (*shape, n)."""
    ranges = np.array(list(cls.typical_s0_ranges().values()))
    return rng.uniform(ranges[:, 0], ranges[:, 1], (*shape, len(ranges)))


def centred_jacobian(system: System, t: float, s: np.ndarray) -> np.ndarray:
    """J[..., i, j] = (g_i(s + d e_j) - g_i(s - d e_j)) / 2d, d = 1e-6 max(1, |s_j|)."""
    x = system.forcing(t, system.params) if system.driven else None
    columns = []
    for j in range(s.shape[-1]):
        up, down = s.copy(), s.copy()
        d = 1e-6 * np.maximum(1.0, np.abs(s[..., j]))
        up[..., j] += d
        down[..., j] -= d
        width = (up[..., j] - down[..., j])[..., None]
        g_up = system.rhs(t, up, x, system.params)
        g_down = system.rhs(t, down, x, system.params)
        columns.append((g_up - g_down) / width)
    return np.stack(columns, axis=-1)


# -- the Jacobians of every ODE system ------------------------------------------------------------
@pytest.mark.parametrize("name", ODES)
@pytest.mark.parametrize("batched", [False, True], ids=["scalar-params", "array-params"])
def test_jacobian_matches_centred_differences_and_its_trace_is_the_divergence(name, batched, rng):
    cls = SYSTEMS[name]
    n = len(cls.states)
    for _ in range(4):
        system = cls(**random_params(cls, rng, 6 if batched else None))
        t = float(rng.uniform(0.0, 10.0))
        s = typical_states(cls, rng, (6,))
        jac = system.jacobian(t, s, system.params)
        assert jac.shape == (6, n, n)
        numeric = centred_jacobian(system, t, s)
        scale = np.max(np.abs(numeric), axis=(-2, -1), keepdims=True)
        assert np.all(np.abs(jac - numeric) <= 1e-6 * np.abs(numeric) + 1e-9 * scale), name
        # the divergence sum_i dg_i/ds_i, each term differenced along its own state
        divergence = np.einsum("...ii->...", numeric)
        trace = np.trace(jac, axis1=-2, axis2=-1)
        assert np.all(
            np.abs(trace - divergence) <= 1e-6 * np.abs(divergence) + 1e-9 * scale[:, 0, 0]
        )


CLOSED_FORM_DIVERGENCE = {
    "lorenz": lambda s, p: np.broadcast_to(-(p["sigma"] + 1 + p["beta"]), s.shape[:-1]),
    "van_der_pol": lambda s, p: p["mu"] * (1 - s[..., 0] ** 2),
    "lotka_volterra": lambda s, p: (
        p["alpha"] - p["beta"] * s[..., 1] + p["delta"] * s[..., 0] - p["gamma"]
    ),
    "robertson": lambda s, p: -p["k1"] - p["k3"] * s[..., 2] - 2 * p["k2"] * s[..., 1],
    "prothero_robinson": lambda s, p: np.broadcast_to(-p["stiffness"], s.shape[:-1]),
}


@pytest.mark.parametrize("name", list(CLOSED_FORM_DIVERGENCE))
def test_trace_is_the_closed_form_divergence(name, rng):
    """Lorenz contracts volumes at the constant rate sigma + 1 + beta = 13.667 (defaults)."""
    cls = SYSTEMS[name]
    system = cls(**random_params(cls, rng, 6))
    s = typical_states(cls, rng, (6,))
    trace = np.trace(system.jacobian(0.4, s, system.params), axis1=-2, axis2=-1)
    assert_allclose(trace, CLOSED_FORM_DIVERGENCE[name](s, system.params), rtol=1e-14, atol=1e-14)
    lorenz = get_system("lorenz")
    default = np.trace(lorenz.jacobian(0.0, np.ones(3), lorenz.params))
    assert default == pytest.approx(-(10 + 1 + 8 / 3), rel=1e-15)


@pytest.mark.parametrize("name", BUILT_IN_ODES)
def test_built_in_odes_state_their_jacobian_by_entries(name):
    """Each built-in ODE defines jacobian_field (its jacobian is built from it); each map keeps
    a jacobian method of its own."""
    cls = SYSTEMS[name]
    assert "jacobian_field" in cls.__dict__
    assert cls.jacobian.__module__ == "dynsys.systems.base"  # installed from jacobian_field
    assert isinstance(inspect.getattr_static(cls, "jacobian_field"), staticmethod)
    for name_map, map_cls in SYSTEMS.items():
        if map_cls.kind == "map" and map_cls.__module__.startswith("dynsys.systems."):
            assert "jacobian" in map_cls.__dict__, name_map


@pytest.mark.parametrize("name", BUILT_IN_ODES)
def test_jacobian_field_is_plain_arithmetic_and_ufuncs(name):
    """What a compiled loop can read: no power but squares, no call but numpy's ufuncs."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(SYSTEMS[name].jacobian_field)))
    body = tree.body[0]
    for node in ast.walk(body):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            assert isinstance(node.right, ast.Constant) and node.right.value == 2, name
        if isinstance(node, ast.Call):
            func = node.func
            assert isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name), name
            assert func.value.id == "np" and isinstance(getattr(np, func.attr), np.ufunc), name


@needs_numba
def test_jacobian_field_compiles_for_single_numbers(rng):
    """numba runs each jacobian_field on floats and a named tuple of parameters, and gives the
    numbers of the numpy jacobian."""
    import numba

    for name in BUILT_IN_ODES:
        cls = SYSTEMS[name]
        params = random_params(cls, rng, None)
        system = cls(**params)
        values = namedtuple(f"{cls.__name__}Params", list(params))(*map(float, params.values()))
        compiled = numba.njit(cls.jacobian_field)
        for s in typical_states(cls, rng, (3,)):
            rows = compiled(0.7, tuple(map(float, s)), values)
            expected = system.jacobian(0.7, s, system.params)
            assert_allclose(np.array(rows, dtype=np.float64), expected, rtol=1e-15, atol=0)


# -- Robertson ----------------------------------------------------------------------------------
def test_robertson_jacobian_columns_sum_to_zero(rng):
    """Mass conservation, d(y1 + y2 + y3)/dt = 0, makes (1, 1, 1) a left null vector of J."""
    system = get_system("robertson", **random_params(SYSTEMS["robertson"], rng, 8))
    s = typical_states(SYSTEMS["robertson"], rng, (8,))
    jac = system.jacobian(0.0, s, system.params)
    scale = np.max(np.abs(jac), axis=(-2, -1))
    assert np.all(np.abs(jac.sum(axis=-2)) <= 1e-15 * scale[..., None])
    assert np.all(jac.sum(axis=-2)[..., 0] == 0.0)  # -k1 + k1 + 0
    eigenvalues = np.linalg.eigvals(jac)
    assert np.all(np.min(np.abs(eigenvalues), axis=-1) <= 1e-12 * scale)  # one is 0


@pytest.mark.parametrize("method", RUNGE_KUTTA)
def test_robertson_mass_is_conserved_by_runge_kutta_steps(method, rng):
    """Every Runge-Kutta step adds h sum_i b_i g(stage_i), whose components sum to zero, so
    y1 + y2 + y3 stays at its start to rounding (measured 3.6e-15 with rk4)."""
    s0 = np.vstack([[1.0, 0.0, 0.0], typical_states(SYSTEMS["robertson"], rng, (4,))])
    traj = simulate(get_system("robertson"), s0, t_span=(0.0, 0.05), dt=1e-4, method=method)
    mass = traj.states.sum(axis=-1)
    assert np.max(np.abs(mass - mass[:, :1])) <= 1e-12
    # and the reaction did run: y2 rose from 0 towards its quasi-steady value
    assert 3e-5 < traj.states[0, -1, 1] < 3.7e-5


def test_robertson_matches_the_published_values_at_t_40():
    """y(40) = (7.158271e-01, 9.185535e-06, 2.841637e-01) from (1, 0, 0) (SUNDIALS'
    cvRoberts_dns output, and the classic stiff test sets)."""
    system = get_system("robertson")
    p = system.params
    sol = solve_ivp(
        lambda t, y: system.rhs(t, y, None, p),
        (0.0, 40.0),
        [1.0, 0.0, 0.0],
        method="Radau",
        jac=lambda t, y: system.jacobian(t, y, p),
        rtol=1e-9,
        atol=1e-14,
    )
    assert sol.status == 0
    assert_allclose(sol.y[:, -1], [7.158271e-01, 9.185535e-06, 2.841637e-01], rtol=1e-6)
    assert abs(sol.y[:, -1].sum() - 1.0) < 1e-12


# -- Prothero-Robinson --------------------------------------------------------------------------
@pytest.mark.parametrize("stiffness", [10.0, 1e4])
@pytest.mark.parametrize("t0", [0.0, 2.5])
def test_prothero_robinson_exact_satisfies_the_equation(stiffness, t0):
    """dy/dt of the exact solution, by centred differences, equals the vector field on it."""
    system = get_system("prothero_robinson", stiffness=stiffness)
    s0 = np.array([0.3])
    d = 1e-4 / stiffness
    t = t0 + np.concatenate([np.linspace(0.0, 5.0 / stiffness, 21)[1:], np.linspace(0.1, 6.0, 30)])
    exact = system.exact(np.concatenate([t - d, t, t + d]), s0, t0, system.params)[:, 0]
    before, on, after = exact.reshape(3, -1)
    derivative = (after - before) / (2 * d)
    field = system.rhs(t, on[:, None], None, system.params)[:, 0]
    assert_allclose(derivative, field, rtol=1e-6, atol=1e-9 * stiffness)
    # the solution does leave y0 for cos t: the transient is in the checked times
    assert on[0] != pytest.approx(np.cos(t[0]), abs=0.1) and on[-1] == pytest.approx(np.cos(t[-1]))


@pytest.mark.parametrize(("stiffness", "method"), [(10.0, "DOP853"), (1e4, "Radau")])
@pytest.mark.parametrize("t0", [0.0, 2.5])
def test_prothero_robinson_exact_matches_solve_ivp(stiffness, method, t0):
    system = get_system("prothero_robinson", stiffness=stiffness)
    p = system.params
    t = t0 + np.linspace(0.0, 3.0, 301)
    s0 = np.array([-0.4])
    exact = system.exact(t, s0, t0, p)
    assert exact.shape == (len(t), 1)
    assert exact[0, 0] == pytest.approx(s0[0], abs=1e-15)
    sol = solve_ivp(
        lambda tt, y: -stiffness * (y - np.cos(tt)) - np.sin(tt),  # the equation, written again
        (t[0], t[-1]),
        s0,
        method=method,
        t_eval=t,
        rtol=1e-12,
        atol=1e-12,
        **({"jac": lambda tt, y: [[-stiffness]]} if method == "Radau" else {}),
    )
    assert sol.status == 0
    assert np.max(np.abs(exact[:, 0] - sol.y[0])) <= 1e-9


def test_prothero_robinson_exact_is_smooth_from_cos_t0_and_batched_like_one_by_one():
    t = np.linspace(1.0, 4.0, 31)
    smooth = get_system("prothero_robinson").exact(
        t, np.array([np.cos(1.0)]), 1.0, get_system("prothero_robinson").params
    )
    assert_array_equal(smooth[:, 0], np.cos(t))  # (y0 - cos t0) is exactly 0
    stiffness = np.array([1.0, 10.0, 1e3, 1e4])
    s0 = np.array([[0.0], [2.0], [-1.0], [0.5]])
    batched = get_system("prothero_robinson", stiffness=stiffness)
    together = batched.exact(t, s0, 1.0, batched.params)
    assert together.shape == (4, len(t), 1)
    for i, k in enumerate(stiffness):
        alone = get_system("prothero_robinson", stiffness=k)
        assert_array_equal(together[i], alone.exact(t, s0[i], 1.0, alone.params))
    shared = get_system("prothero_robinson")
    assert shared.exact(t, s0, 1.0, shared.params).shape == (4, len(t), 1)


def euler_overflow_step(stiffness: float, h: float) -> int:
    """The step at which explicit Euler on Prothero-Robinson from y0 = cos 0 = 1 leaves the floats.

    The error e(n) = y(n) - cos t(n) obeys e(n+1) = (1 - h stiffness) e(n) + d(n), with the local
    error d(n) = cos t(n) - h sin t(n) - cos t(n+1), |d(n)| <= h^2 / 2 + ...; e(0) = 0, so
    e(n) = (1 - h stiffness)^(n-1) d(0) (1 + O(1 / (h stiffness))), d(0) = 1 - cos h.  The step
    y + h g(y) overflows when g(y(n-1)) = -stiffness y(n-1) + ... does, that is at the first
    n with stiffness |d(0)| (h stiffness - 1)^(n-2) > DBL_MAX.
    """
    grow = h * stiffness - 1
    power = (math.log(DBL_MAX / stiffness) - math.log(1 - math.cos(h))) / math.log(grow)
    return math.floor(power) + 1 + 2


def test_explicit_euler_diverges_on_the_stiff_prothero_robinson():
    """h stiffness = 1e3 > 2: the error grows 999-fold per step, past DBL_MAX by t = 10.5."""
    system = get_system("prothero_robinson")
    with pytest.raises(DivergenceError) as info:
        simulate(system, [1.0], t_span=(0.0, 20.0), dt=0.1, method="euler")
    assert euler_overflow_step(1e4, 0.1) == 105
    assert info.value.step == 105 and info.value.method == "euler"


def test_explicit_euler_at_h_stiffness_one_lands_on_a_closed_form():
    """At h stiffness = 1, y(n+1) = y(n) (1 - h stiffness) + h stiffness cos t(n) - h sin t(n)
    = cos t(n) - h sin t(n): within h^2 / 2 = 5e-9 of the exact cos t(n+1)."""
    system = get_system("prothero_robinson")
    traj = simulate(system, [1.0], t_span=(0.0, 1.0), dt=1e-4, method="euler")
    t, y = traj.t, traj.states[:, 0]
    assert_allclose(y[1:], np.cos(t[:-1]) - 1e-4 * np.sin(t[:-1]), rtol=0, atol=1e-14)
    error = np.max(np.abs(y - np.cos(t)))
    assert 4.9e-9 < error <= 5e-9


# -- the time loops at a stable step --------------------------------------------------------------
STIFF = ["robertson", "prothero_robinson"]


@pytest.mark.parametrize("name", STIFF)
def test_numpy_loop_gives_the_bits_of_the_plain_steps(name, rng):
    """At a step the explicit methods are stable at, the in-place loop equals step after step."""
    cls = SYSTEMS[name]
    system = cls(**random_params(cls, rng, 5))
    s0 = typical_states(cls, rng, (5,))
    h, t0, n_steps = 2e-5, 0.3, 40
    for method in (s.name for s in EXPLICIT):
        stepper = STEPPERS[method]
        traj = simulate(
            system, s0, t_span=(t0, t0 + n_steps * h), dt=h, method=method, backend="numpy"
        )
        assert traj.info["n_steps"] == n_steps
        recurrence = Recurrence(system, stepper, h, t0)
        s = s0
        for n in range(n_steps):
            s = stepper.step(system, recurrence.time(n), h, s, None, system.params)
        assert_array_equal(traj.states[:, -1], s, err_msg=f"{name} {method}")


@needs_numba
@pytest.mark.parametrize("name", STIFF)
def test_compiled_loop_gives_the_bits_of_the_numpy_loop(name, rng):
    cls = SYSTEMS[name]
    assert kernels.bitwise(cls)
    s0 = typical_states(cls, rng, (7,))
    run = dict(t_span=(0.0, 0.02), dt=1e-4, method="rk4")
    numpy_run = simulate(cls(), s0, backend="numpy", **run)
    compiled = simulate(cls(), s0, backend="numba", **run)
    assert compiled.info["backend"] == "numba"
    assert_array_equal(compiled.states, numpy_run.states)
