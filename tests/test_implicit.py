"""Implicit steppers: amplification factors, orders, stiff stability, Newton and its failures,
the finite-difference Jacobian, BDF2's two-step recurrence, batches and the command line."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys import DivergenceError, InputError, convergence, get_system, kernels, simulate
from dynsys.cli import main
from dynsys.errors import NewtonFailure
from dynsys.simulate import Recurrence
from dynsys.steppers import STEPPERS
from dynsys.steppers.implicit import GAMMA3, newton, solve_small
from dynsys.systems.base import Parameter, Params, System

simulate_module = importlib.import_module("dynsys.simulate")
IMPLICIT = [name for name, s in STEPPERS.items() if s.implicit]
ONE_STEP = [name for name in IMPLICIT if STEPPERS[name].history == 1]


class Rotation(System):
    """ds/dt = lambda s for complex lambda = a + i b, as the real pair (Re s, Im s)."""

    name = "rotation"
    states = ("u", "v")
    parameters = (Parameter("a", -1.0, "real part"), Parameter("b", 1.0, "imaginary part"))
    default_s0 = (1.0, 0.0)

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        u, v = s
        return p.a * u - p.b * v, p.b * u + p.a * v

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        return (p.a, -p.b), (p.b, p.a)


class NoJacobian(Rotation):
    """The same system without a Jacobian: Newton takes forward differences."""

    name = "rotation_fd"
    jacobian_field = None
    jacobian = None


EXACT_R = {
    "implicit_euler": lambda z: 1 / (1 - z),
    "implicit_midpoint": lambda z: (1 + z / 2) / (1 - z / 2),
    "trapezoidal": lambda z: (1 + z / 2) / (1 - z / 2),
}


@pytest.mark.parametrize("method", sorted(EXACT_R))
def test_one_step_multiplies_by_the_exact_amplification_factor(method):
    # one step of the method on s' = lambda s from s = 1 is R(z), z = h lambda, for complex z
    rng = np.random.default_rng(0)
    z = rng.uniform(-30, 2, 40) + 1j * rng.uniform(-20, 20, 40)
    z = z[np.abs(1 - z) > 0.5]
    system = Rotation(a=z.real, b=z.imag)
    s0 = np.tile([1.0, 0.0], (len(z), 1))
    got = STEPPERS[method].step(system, 0.0, 1.0, s0, None, system.params)
    want = EXACT_R[method](z)
    np.testing.assert_allclose(got[:, 0] + 1j * got[:, 1], want, rtol=1e-14, atol=1e-15)


def test_sdirk3_is_l_stable_and_its_tableau_holds_the_order_conditions():
    sd = STEPPERS["sdirk3"]
    a = np.zeros((3, 3))
    for i, row in enumerate(sd.a):
        a[i, : len(row)] = row
    b, c = np.array(sd.b), np.array(sd.c)
    assert abs(GAMMA3**3 - 3 * GAMMA3**2 + 1.5 * GAMMA3 - 1 / 6) < 1e-16
    np.testing.assert_allclose(a.sum(axis=1), c, rtol=1e-15)
    # order 3: b.1 = 1, b.c = 1/2, b.c^2 = 1/3, b.A.c = 1/6
    for got, want in ((b.sum(), 1), (b @ c, 1 / 2), (b @ c**2, 1 / 3), (b @ a @ c, 1 / 6)):
        assert got == pytest.approx(want, abs=1e-14)
    np.testing.assert_array_equal(b, a[-1])  # stiffly accurate: s(n+1) is the last stage
    # |R(z)| -> 0 as z -> -inf: one step at z = -1e8 leaves almost nothing
    system = Rotation(a=-1e8, b=0.0)
    out = sd.step(system, 0.0, 1.0, np.array([1.0, 0.0]), None, system.params)
    assert np.abs(out).max() < 1e-7


@pytest.mark.parametrize("method", IMPLICIT)
def test_stiff_decay_stays_stable_at_a_step_explicit_euler_cannot_take(method):
    system = get_system("exponential_decay", rate=1e4)
    traj = simulate(system, [1.0], t_span=(0, 10), dt=0.1, method=method)
    assert np.isfinite(traj.states).all()
    assert np.abs(traj.states).max() <= 1.0
    if method != "implicit_midpoint" and method != "trapezoidal":  # L-stable ones damp it
        assert abs(traj.states[-1, 0]) < 1e-100
    with pytest.raises(DivergenceError, match="rk4, sdirk3"):  # |1 - 1000| ** 103 overflows
        simulate(system, [1.0], t_span=(0, 20), dt=0.1, method="euler")


CASES = {
    "decay": ("exponential_decay", {}, [1.0], (0.0, 2.0)),
    "damped-oscillator": ("driven_oscillator", {"c": 0.5}, [1.0, 0.0], (0.0, 5.0)),
}


@pytest.mark.parametrize("method", IMPLICIT)
@pytest.mark.parametrize("case", list(CASES))
def test_observed_order_is_the_declared_order(case, method):
    name, params, s0, span = CASES[case]
    study = convergence(
        get_system(name, **params), s0, method=method, t_span=span, dt=0.05, levels=4
    )
    assert study.against == "exact"
    assert abs(study.observed_order - STEPPERS[method].order) < 0.1, study.observed_order


def test_bdf2_carries_two_states_and_starts_with_backward_euler():
    system = get_system("exponential_decay", rate=3.0)
    bdf, h = STEPPERS["bdf2"], 0.1
    first = bdf.step(system, 0.0, h, np.array([1.0]), None, system.params)
    np.testing.assert_allclose(first, [1 / (1 + 3 * h)], rtol=1e-15)
    # s(n+1) (1 + 2/3 h rate) = 4/3 s(n) - 1/3 s(n-1) for the linear decay
    nxt = bdf.step(system, h, h, first, None, system.params, past=np.array([1.0]))
    np.testing.assert_allclose(nxt, (4 / 3 * first - 1 / 3) / (1 + 2 / 3 * h * 3), rtol=1e-14)
    traj = simulate(system, [1.0], t_span=(0, 3 * h), dt=h, method="bdf2")
    np.testing.assert_array_equal(traj.states[1], first)
    np.testing.assert_array_equal(traj.states[2], nxt)


@pytest.mark.parametrize("method", IMPLICIT)
def test_a_batch_is_its_members_one_by_one(method):
    rng = np.random.default_rng(2)
    mu = rng.uniform(1, 10, 5)
    s0 = rng.uniform(-2, 2, (5, 2))
    batch = simulate(get_system("van_der_pol", mu=mu), s0, t_span=(0, 1), dt=0.02, method=method)
    for i in range(5):
        one = simulate(
            get_system("van_der_pol", mu=mu[i]), s0[i], t_span=(0, 1), dt=0.02, method=method
        )
        np.testing.assert_allclose(batch.states[i], one.states, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("method", IMPLICIT)
def test_finite_difference_jacobian_gives_the_same_solution(method):
    # Newton converges to the same root with either Jacobian, to far below its tolerance
    kw = dict(t_span=(0, 2), dt=0.1, method=method)
    a = simulate(Rotation(a=-50.0, b=3.0), [1.0, 0.5], **kw)
    b = simulate(NoJacobian(a=-50.0, b=3.0), [1.0, 0.5], **kw)
    np.testing.assert_allclose(b.states, a.states, rtol=1e-12, atol=1e-14)
    assert (a.info["jacobian"], b.info["jacobian"]) == ("system", "finite differences")


def test_solve_small_is_gaussian_elimination_with_pivoting():
    rng = np.random.default_rng(4)
    m = rng.standard_normal((50, 4, 4))
    m[:, 0, 0] = 0.0  # the first pivot must be swapped in
    r = rng.standard_normal((50, 4))
    np.testing.assert_allclose(solve_small(m, r), np.linalg.solve(m, r[..., None])[..., 0],
                               rtol=1e-10)  # fmt: skip
    assert solve_small(np.array([[2.0]]), np.array([3.0]))[0] == 1.5


def test_newton_solves_the_stage_equation_of_a_nonlinear_system():
    system = get_system("van_der_pol", mu=100.0)
    base = np.array([[2.0, 0.0], [1.5, -1.0]])
    z, failed = newton(system, 0.0, base, 0.05, None, system.params)
    assert not failed.any()
    residual = z - base - 0.05 * system.rhs(0.0, z, None, system.params)
    assert np.abs(residual).max() < 1e-12


class Quadratic(System):
    """ds/dt = s^2: backward Euler's z = s + h z^2 has no real root when 4 h s > 1."""

    name = "quadratic"
    states = ("s",)
    parameters = ()
    default_s0 = (1.0,)

    @staticmethod
    def vector_field(t, s, x, p):
        (y,) = s
        return (y * y,)

    @staticmethod
    def jacobian_field(t, s, p):
        (y,) = s
        return ((2 * y,),)


def test_newton_failure_is_reported_where_and_when():
    # members 0 and 2 (s0 = 0.1, 0.2) have roots for many steps; member 1 (s0 = 3) has none at
    # the first step, since 4 h s0 = 1.2 > 1
    s0 = np.array([[0.1], [3.0], [0.2]])
    with pytest.raises(NewtonFailure) as info:
        simulate(Quadratic(), s0, t_span=(0, 1), dt=0.1, method="implicit_euler")
    err = info.value
    assert (err.step, err.trajectory) == (1, 1)
    assert "Newton's method did not converge on step 1 (to t = 0.1) in trajectory 1" in str(err)
    assert "smaller dt" in str(err)
    assert isinstance(err, DivergenceError)
    assert err.partial.states.shape == (3, 1, 1)


def test_the_replay_of_a_multistep_method_finds_the_same_failure():
    # bdf2 fails later, from inside a block: the replay carries s(n-1)
    s0 = np.array([[0.5], [0.1]])
    with pytest.raises(NewtonFailure) as info:
        simulate(Quadratic(), s0, t_span=(0, 3), dt=0.1, method="bdf2", save_every=4)
    err = info.value
    rec = Recurrence(Quadratic(), STEPPERS["bdf2"], 0.1)
    s, past, n = s0, None, 0
    with np.errstate(all="ignore"):
        while np.isfinite(s).all():
            s, past, n = rec.step(n, s, past=past), s, n + 1
    assert (err.step, err.trajectory) == (n, 0)


def test_a_map_is_refused_and_lyapunov_refuses_a_multistep_method():
    with pytest.raises(InputError, match="discrete map; its only method is 'map'"):
        simulate(get_system("logistic_map"), [0.2], t_span=(0, 5), method="sdirk3")
    from dynsys import lyapunov

    with pytest.raises(InputError, match="bdf2 carries 2 states"):
        lyapunov(get_system("lorenz"), [1.0, 1.0, 20.0], dt=0.01, method="bdf2", t_end=1)


def test_simulate_command_runs_a_stiff_problem_that_euler_cannot():
    runner = CliRunner()
    args = ["simulate", "exponential_decay", "-p", "rate=100", "--dt", "0.1"]  # to t = 50
    bad = runner.invoke(main, args)
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "euler left the finite numbers" in bad.output and "sdirk3" in bad.output
    good = runner.invoke(main, [*args, "--method", "sdirk3"])
    assert good.exit_code == 0, good.output
    wrong = runner.invoke(main, [*args, "--method", "sdirk"])
    assert wrong.exit_code == 2 and "did you mean 'sdirk3'" in wrong.output


needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba not installed")


@needs_numba
@pytest.mark.parametrize("method", IMPLICIT)
def test_the_compiled_loop_gives_the_numpy_loops_bits(method, monkeypatch):
    """Per-member parameters and a drive, two blocks of members, every 3rd step kept, and the
    finiteness check every few rows (a multistep method's past crosses the calls)."""
    monkeypatch.setattr(simulate_module, "_BLOCK_BYTES", 4096)
    rng = np.random.default_rng(8)
    batch = kernels.BLOCK + 21
    system = get_system(
        "driven_oscillator", c=rng.uniform(0.1, 5, batch), k=rng.uniform(1, 50, batch)
    )
    s0 = rng.uniform(-1, 1, (batch, 2))
    kw = dict(t_span=(0.3, 6.3), dt=0.05, method=method, save_every=3)
    numpy_states = simulate(system, s0, backend="numpy", **kw).states
    compiled = simulate(system, s0, backend="numba", **kw)
    assert compiled.info["backend"] == "numba"
    np.testing.assert_array_equal(compiled.states, numpy_states)
    stiff = get_system("robertson")
    kw = dict(t_span=(0, 5), dt=0.05, method=method)
    np.testing.assert_array_equal(
        simulate(stiff, [1.0, 0.0, 0.0], backend="numba", **kw).states,
        simulate(stiff, [1.0, 0.0, 0.0], backend="numpy", **kw).states,
    )


@needs_numba
@pytest.mark.parametrize("method", ["implicit_euler", "bdf2"])
def test_a_newton_failure_in_the_compiled_loop_is_reported_as_in_numpy(method):
    s0 = np.array([[0.5], [0.1], [0.3]])
    errors = []
    for backend in ("numpy", "numba"):
        with pytest.raises(NewtonFailure) as info:
            simulate(Quadratic(), s0, t_span=(0, 3), dt=0.1, method=method, save_every=4,
                     backend=backend)  # fmt: skip
        errors.append(info.value)
    assert str(errors[0]) == str(errors[1])
    np.testing.assert_array_equal(errors[0].partial.states, errors[1].partial.states)


class WrongJacobian(Rotation):
    """A user system whose jacobian has the wrong shape."""

    name = "wrong_jacobian"
    jacobian_field = None

    def jacobian(self, t, s, p):
        return np.zeros((*s.shape[:-1], 3, 3))


def test_a_jacobian_of_the_wrong_shape_is_one_line_naming_it():
    with pytest.raises(InputError, match=r"the jacobian of wrong_jacobian has shape \(3, 3\); "
                       r"Newton's method needs \(\.\.\., 2, 2\)"):  # fmt: skip
        simulate(WrongJacobian(), [1.0, 0.0], t_span=(0, 1), dt=0.1, method="sdirk3")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "pendulum", "-p", "damping=0.3", "--method", "verlet"],
         "verlet needs a force that does not depend on the velocity"),
        (["simulate", "exponential_decay", "--method", "yoshida4"],
         "yoshida4 needs states split into positions and velocities"),
        (["simulate", "logistic_map", "--method", "bdf2"],
         "discrete map; its only method is 'map'"),
        (["compare", "pendulum", "-p", "damping=0.1", "--methods", "rk4,verlet"],
         "verlet needs a force that does not depend on the velocity"),
    ],
)  # fmt: skip
def test_the_command_line_refuses_what_a_method_cannot_step(args, message, tmp_path):
    out = tmp_path / "never.csv"
    result = CliRunner().invoke(main, [*args, "--out", str(out)] if args[0] == "simulate" else args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_newton_failure_on_the_command_line_exits_1_and_writes_nothing(tmp_path):
    out = tmp_path / "never.npz"
    result = CliRunner().invoke(
        main,
        ["simulate", "van_der_pol", "-p", "mu=1000", "--method", "implicit_euler", "--dt", "1",
         "--t-end", "1000", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "Newton's method did not converge on step" in result.output
    assert "Traceback" not in result.output and not out.exists()


@needs_numba
def test_auto_says_why_the_compiled_loop_did_not_run():
    traj = simulate(NoJacobian(a=-2.0, b=1.0), [1.0, 0.0], t_span=(0, 1), dt=0.1, method="sdirk3")
    assert traj.info["backend"] == "numpy"
    assert traj.info["kernel_error"] == (
        "no compiled loop: sdirk3 needs a jacobian_field, which rotation_fd does not define"
    )
    with pytest.raises(InputError, match="sdirk3 needs a jacobian_field"):
        simulate(NoJacobian(), [1.0, 0.0], t_span=(0, 1), dt=0.1, method="sdirk3", backend="numba")
