"""Parallel in time: the associative scan against the time loop, simulate's "scan" and
"newton" backends against the numpy loop, and their bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys.cli import main
from dynsys.errors import DivergenceError, InputError
from dynsys.parallel import affine_scan, sequential
from dynsys.parallel.newton import _levenberg_marquardt, solve
from dynsys.simulate import simulate
from dynsys.steppers import STEPPERS
from dynsys.systems import get_system
from dynsys.systems.classic import Pendulum


def _rel(a, b) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def _random_problem(rng, T, batch, n, diagonal=False, kind="random"):
    if diagonal:
        A = rng.uniform(-1.0, 1.0, size=(T, *batch, n))
    else:
        A = rng.normal(size=(T, *batch, n, n)) * (0.9 / np.sqrt(n))
        if kind == "singular":  # a zero row and a repeated column: rank n - 2 at most
            A[..., 0, :] = 0.0
            if n > 2:
                A[..., :, 1] = A[..., :, 2]
        elif kind == "near_singular":
            A[..., :, 0] = A[..., :, -1] * (1 + 1e-14)
    b = rng.normal(size=(T, *batch, n))
    s0 = rng.normal(size=(*batch, n))
    return A, b, s0


@pytest.mark.parametrize("T", [1, 2, 3, 4, 7, 16, 17, 1000])
@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("kind", ["random", "singular", "near_singular", "diagonal"])
def test_the_scan_equals_the_time_loop_on_random_affine_recurrences(T, n, kind):
    rng = np.random.default_rng(1000 * T + 10 * n + len(kind))
    diagonal = kind == "diagonal"
    A, b, s0 = _random_problem(rng, T, (3,), n, diagonal, kind)
    for reverse in (False, True):
        for matrices in (A, A[:1]):  # one matrix per step, or one shared by every step
            got = affine_scan(matrices, b, s0, diagonal=diagonal, reverse=reverse)
            want = sequential(matrices, b, s0, diagonal=diagonal, reverse=reverse)
            assert got.shape == (T, 3, n)
            assert _rel(got, want) <= 1e-12


def test_the_scan_is_exact_over_a_long_recurrence():
    rng = np.random.default_rng(7)
    A, b, s0 = _random_problem(rng, 100_000, (), 2)
    assert _rel(affine_scan(A, b, s0), sequential(A, b, s0)) <= 1e-12


def test_the_scan_broadcasts_the_batch_and_solves_the_backward_recurrence():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(5, 1, 2, 2)) * 0.5  # one matrix for a batch of 4
    b = rng.normal(size=(5, 4, 2))
    got = affine_scan(A, b, np.zeros(2), reverse=True)
    g = np.zeros((4, 2))
    for k in range(4, -1, -1):  # g(k) = A(k) g(k+1) + b(k) from g(5) = 0
        g = np.einsum("bij,bj->bi", np.broadcast_to(A[k], (4, 2, 2)), g) + b[k]
        assert np.allclose(got[k], g, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize(
    ("A_shape", "b_shape", "s0_shape", "diagonal", "says"),
    [
        ((5, 2, 3), (5, 2), (2,), False, "A must be (time or 1, *batch, n, n)"),
        ((4, 2, 2), (5, 2), (2,), False, "time = 5"),
        ((5, 2), (5, 2), (2,), False, "got (5, 2)"),
        ((5, 2, 2), (5, 2), (2,), True, "A must be (time or 1, *batch, n)"),
        ((5, 2, 2), (5, 2), (3,), False, "s0 must be (*batch, 2)"),
        ((5, 2, 2), (2,), (2,), False, "b must be (time, *batch, n)"),
    ],
)
def test_a_matrix_of_the_wrong_shape_is_refused_in_one_line(
    A_shape, b_shape, s0_shape, diagonal, says
):
    with pytest.raises(InputError, match=None) as err:
        affine_scan(np.ones(A_shape), np.ones(b_shape), np.ones(s0_shape), diagonal=diagonal)
    assert says in str(err.value) and "\n" not in str(err.value)


# -- simulate by a scan ----------------------------------------------------------------------

ODE_METHODS = [m for m in STEPPERS if m != "map"]


@pytest.mark.parametrize("method", ODE_METHODS)
def test_every_stepper_on_the_driven_oscillator_by_a_scan_equals_the_loop(method):
    damping = 0.0 if method in ("verlet", "yoshida4") else 0.05  # symplectic: no damping
    system = get_system("driven_oscillator").with_params(c=damping)
    kw = {"t_span": (0.0, 30.0), "dt": 0.01, "method": method}
    loop = simulate(system, [1.0, 0.0], backend="numpy", **kw)
    scan = simulate(system, [1.0, 0.0], backend="scan", **kw)
    assert scan.info["backend"] == "scan"
    np.testing.assert_array_equal(scan.t, loop.t)
    assert _rel(scan.states, loop.states) <= 1e-12


def test_a_batch_with_its_own_parameters_kept_every_few_steps_by_a_scan():
    system = get_system("driven_oscillator").with_params(c=[0.0, 0.2, 1.0], omega=[1.0, 2.0, 0.5])
    s0 = [[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]]
    kw = {"t_span": (0.0, 20.0), "dt": 0.01, "method": "rk4", "save_every": 7}
    loop = simulate(system, s0, backend="numpy", **kw)
    scan = simulate(system, s0, backend="scan", **kw)
    assert scan.states.shape == loop.states.shape == (3, 287, 2)
    assert _rel(scan.states, loop.states) <= 1e-12


def test_the_scan_runs_block_after_block(monkeypatch):
    from dynsys.parallel import recurrence

    monkeypatch.setattr(recurrence, "BLOCK_BYTES", 1)  # the smallest block: 64 steps
    system = get_system("exponential_decay")
    kw = {"t_span": (0.0, 10.0), "dt": 0.01, "method": "bdf2", "save_every": 3}
    loop = simulate(system, [1.0], backend="numpy", **kw)
    scan = simulate(system, [1.0], backend="scan", **kw)
    assert _rel(scan.states, loop.states) <= 1e-12


def test_a_system_whose_step_map_is_not_affine_is_refused_by_the_scan():
    with pytest.raises(InputError, match="backend 'scan' needs a step map affine") as err:
        simulate(get_system("pendulum"), [1.0, 0.0], t_span=(0, 1), dt=0.1, backend="scan")
    assert "use backend 'newton'" in str(err.value)


class ClaimsToBeLinear(Pendulum):
    name = "claims_linear"
    affine = True


def test_a_system_that_claims_to_be_affine_but_is_not_is_caught():
    with pytest.raises(InputError, match="though the system says it is linear"):
        simulate(ClaimsToBeLinear(), [1.0, 0.0], t_span=(0, 1), dt=0.1, backend="scan")


def test_a_diverging_scan_names_the_step_the_loop_names():
    system = get_system("exponential_decay").with_params(rate=-1000.0)
    kw = {"t_span": (0.0, 100.0), "dt": 0.1, "method": "euler"}
    with pytest.raises(DivergenceError) as loop:
        simulate(system, [1.0], backend="numpy", **kw)
    with pytest.raises(DivergenceError) as scan:
        simulate(system, [1.0], backend="scan", **kw)
    assert scan.value.step == loop.value.step == 154  # 101^154 > the largest float
    assert np.isfinite(scan.value.partial.states).all()
    assert len(scan.value.partial.t) == len(loop.value.partial.t)


def test_the_built_in_linear_systems_declare_it():
    linear = {name for name in ("driven_oscillator", "exponential_decay", "prothero_robinson")}
    from dynsys.systems import SYSTEMS

    assert {name for name, cls in SYSTEMS.items() if cls.affine} == linear


# -- simulate by Newton's method over the trajectory -----------------------------------------


@pytest.mark.parametrize(
    ("variant", "most"),
    [("full", 12), ("quasi", 90), ("damped", 12)],
)
def test_newton_over_the_trajectory_converges_on_the_damped_pendulum(variant, most):
    system = get_system("pendulum").with_params(damping=0.5)
    kw = {"t_span": (0.0, 5.0), "dt": 0.01, "method": "rk4"}
    loop = simulate(system, [1.0, 0.0], backend="numpy", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback
        newton = {"variant": variant, "max_iterations": 100}
        traj = simulate(system, [1.0, 0.0], backend="newton", newton=newton, **kw)
    assert traj.info["newton_variant"] == variant
    assert 2 <= traj.info["newton_iterations"] <= most
    assert traj.info["newton_residuals"][-1] <= 1e-10
    assert _rel(traj.states, loop.states) <= (1e-9 if variant == "quasi" else 1e-13)


def test_newton_falls_back_to_the_loop_on_lorenz_with_one_line():
    system = get_system("lorenz")
    kw = {"t_span": (0.0, 10.0), "dt": 0.01, "method": "rk4"}
    loop = simulate(system, system.default_s0, backend="numpy", **kw)
    with pytest.warns(RuntimeWarning, match="did not converge") as caught:
        traj = simulate(system, system.default_s0, backend="newton", **kw)
    assert "\n" not in str(caught[0].message)
    assert "ran the sequential loop instead" in traj.info["fallback"]
    assert traj.info["backend"] == "numpy"
    np.testing.assert_array_equal(traj.states, loop.states)


def test_newton_in_blocks_converges_where_one_block_does_not():
    system = get_system("lorenz").with_params(rho=10.0)
    kw = {"t_span": (0.0, 5.0), "dt": 0.01, "method": "rk4"}
    loop = simulate(system, system.default_s0, backend="numpy", **kw)
    traj = simulate(
        system,
        system.default_s0,
        backend="newton",
        newton={"block": 50, "max_iterations": 60},
        **kw,
    )
    assert "fallback" not in traj.info and traj.info["newton_blocks"] == 10
    assert _rel(traj.states, loop.states) <= 1e-13


def test_newton_on_an_affine_system_converges_in_one_step():
    system = get_system("driven_oscillator").with_params(c=0.1)
    traj = simulate(system, [1.0, 0.0], t_span=(0, 10), dt=0.01, method="rk4", backend="newton")
    assert traj.info["newton_iterations"] == 2  # the exact answer, then a zero update


def test_the_levenberg_marquardt_step_solves_its_normal_equations():
    rng = np.random.default_rng(5)
    T, n, lam = 9, 3, 0.3
    J, r = rng.normal(size=(T, n, n)), rng.normal(size=(T, n))
    M = np.eye(T * n)
    for k in range(1, T):
        M[k * n : (k + 1) * n, (k - 1) * n : k * n] = -J[k]
    want = np.linalg.solve(M.T @ M + lam * np.eye(T * n), -M.T @ r.reshape(-1))
    np.testing.assert_allclose(_levenberg_marquardt(J, r, lam).reshape(-1), want, rtol=1e-12)
    # with no damping it is the Newton step: dS(k+1) = J_k dS(k) - r_k
    newton_step = affine_scan(J, -r, np.zeros(n))
    np.testing.assert_allclose(_levenberg_marquardt(J, r, 1e-14), newton_step, atol=1e-10)


def test_newton_solve_reports_a_diverging_iterate():
    def linearise(S):
        return np.exp(50 * S), 50 * np.exp(50 * S)[..., None]

    result = solve(linearise, np.ones(1), np.ones((30, 1)), max_iterations=5)
    assert not result.converged and result.reason in (
        "the iterate left the finite numbers",
        "not converged in 5 iterations",
    )


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"backend": "newton", "newton": {"variant": "exact"}}, "unknown newton variant 'exact'"),
        ({"backend": "newton", "newton": {"max_iterations": 0}}, "max_iterations must be"),
        ({"backend": "newton", "newton": {"tol": 1e-3}}, "unknown newton setting 'tol'"),
        ({"backend": "newton", "newton": {"block": 0}}, "block must be"),
        ({"backend": "scan", "newton": {"variant": "full"}}, "newton settings apply to"),
        ({"backend": "parallel"}, "newton, numba, numpy, scan"),
        ({"backend": "newton", "method": "bdf2"}, "bdf2 carries past states"),
    ],
)
def test_bad_parallel_settings_are_one_line_errors(kwargs, says):
    kw = {"t_span": (0.0, 1.0), "dt": 0.1, "method": "rk4", **kwargs}
    with pytest.raises(InputError) as err:
        simulate(get_system("pendulum"), [1.0, 0.0], **kw)
    assert says in str(err.value) and "\n" not in str(err.value)


# -- the command line and YAML ---------------------------------------------------------------


def test_the_command_line_runs_the_scan_and_newton_and_says_so():
    runner = CliRunner()
    done = runner.invoke(
        main,
        ["simulate", "driven_oscillator", "--method", "rk4", "--t-end", "50", "--backend", "scan"],
    )
    assert done.exit_code == 0, done.output
    assert "driven_oscillator" in done.output
    args = ["simulate", "pendulum", "-p", "damping=0.5", "--method", "rk4", "--t-end", "5"]
    done = runner.invoke(main, [*args, "--backend", "newton", "--newton-variant", "damped"])
    assert done.exit_code == 0, done.output
    assert "Newton's method over the trajectory (damped) converged in" in done.output
    done = runner.invoke(
        main,
        ["simulate", "lorenz", "--method", "rk4", "--t-end", "5", "--backend", "newton"],
    )
    assert done.exit_code == 0, done.output
    assert "ran the sequential loop instead" in done.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["pendulum", "--backend", "scan"], "needs a step map affine"),
        (["pendulum", "--newton-variant", "quasi"], "--newton-variant applies to --backend newton"),
        (["pendulum", "--backend", "newton", "--newton-variant", "exact"], "exact"),
    ],
)
def test_the_command_line_refuses_bad_parallel_options(args, says):
    done = CliRunner().invoke(main, ["simulate", *args, "--method", "rk4", "--t-end", "1"])
    assert done.exit_code == 2
    assert says in done.output
    assert "Traceback" not in done.output


def test_yaml_experiments_take_the_parallel_backends(tmp_path):
    from dynsys.experiments.config import load_config

    text = """
name: newton
system: {name: pendulum, params: {damping: 0.5}}
simulation: {t_end: 2, dt: 0.01, methods: [rk4], backend: newton, newton: {variant: damped}}
"""
    path = tmp_path / "newton.yaml"
    path.write_text(text)
    config = load_config(path)
    assert config.simulation.newton.variant == "damped"
    bad = text.replace("backend: newton", "backend: numpy")
    path.write_text(bad)
    with pytest.raises(InputError, match=r"simulation.newton .*applies to backend: newton"):
        load_config(path)


def test_yaml_newton_settings_reach_simulate(tmp_path):
    runner = CliRunner()
    path = tmp_path / "scan.yaml"
    path.write_text(
        "name: scan\nsystem: {name: driven_oscillator, params: {c: 0.1}}\n"
        "simulation: {t_end: 5, dt: 0.01, methods: [rk4, sdirk3], backend: scan}\n"
    )
    done = runner.invoke(main, ["run", str(path), "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    metrics = json.loads(next((tmp_path / "out").rglob("metrics.json")).read_text())
    assert metrics
