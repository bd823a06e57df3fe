"""Work-precision sets (dynsys.workprecision), their figure and command, and the stability
functions of implicit and multistep methods (dynsys.plots.stability)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from click.testing import CliRunner
from images import assert_image, lines

from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.plots.stability import (
    amplification,
    in_region,
    multistep_radius,
    same_region,
    stability_function,
    stability_methods,
)
from dynsys.steppers import STEPPERS
from dynsys.systems import get_system
from dynsys.workprecision import (
    ERROR_ATOL,
    CountingSystem,
    default_methods,
    is_implicit,
    is_stiff,
    relative_error,
    work_precision,
)

STAGES = {"euler": 1, "heun": 2, "rk4": 4, "dopri5": 6}


@pytest.fixture(scope="module")
def decay_set():
    """euler, heun, rk4, dopri5 and RK45, Radau on s' = -2 s over (0, 1), built once."""
    system = get_system("exponential_decay", rate=2.0)
    return work_precision(
        system,
        [1.0],
        t_end=1.0,
        methods=["euler", "heun", "rk4", "dopri5", "RK45", "Radau"],
        dts=[0.25, 0.125, 0.0625],
        rtols=[1e-4, 1e-7],
        repeats=1,
    )


# -- the computation -----------------------------------------------------------------------


def test_explicit_methods_evaluate_g_stages_times_steps(decay_set):
    for method, stages in STAGES.items():
        points = decay_set.of(method)
        assert [p.steps for p in points] == [4, 8, 16]
        assert [p.evaluations for p in points] == [stages * n for n in (4, 8, 16)]
        assert all(p.jacobians == 0 and not p.diverged and p.kind == "fixed" for p in points)


def test_euler_error_is_the_relative_error_at_the_kept_times(decay_set):
    # euler multiplies s by (1 - 2h) per step; the exact solution is exp(-2 t), scale 1
    for p in decay_set.of("euler"):
        n = np.arange(round(1 / p.setting) + 1)
        expected = np.max(np.abs((1 - 2 * p.setting) ** n - np.exp(-2 * n * p.setting)))
        assert p.error == pytest.approx(expected / (ERROR_ATOL + 1.0), rel=1e-12)
    assert decay_set.reference == "exact" and not decay_set.stiff


def test_adaptive_points_count_what_scipy_counts(decay_set):
    for method in ("RK45", "Radau"):
        points = decay_set.of(method)
        assert [p.setting for p in points] == [1e-4, 1e-7]
        assert all(p.kind == "adaptive" and p.evaluations == p.nfev for p in points)
        assert points[1].error < points[0].error < 1e-3
    # the system's jacobian goes to Radau, and RK45 needs none
    assert all(p.jacobians >= 1 for p in decay_set.of("Radau"))
    assert all(p.jacobians == 0 for p in decay_set.of("RK45"))


def test_json_has_every_point_and_the_definitions(decay_set):
    doc = json.loads(json.dumps(decay_set.to_json()))
    assert len(doc["points"]) == 4 * 3 + 2 * 2
    assert doc["reference"] == "exact" and doc["error_atol"] == ERROR_ATOL
    first = doc["points"][0]
    assert first == {
        "method": "euler",
        "kind": "fixed",
        "h": 0.25,
        "error": first["error"],
        "wall_s": first["wall_s"],
        "evaluations": 4.0,
        "jacobians": 0.0,
        "diverged": False,
        "steps": 4,
    }
    assert doc["points"][-1]["atol"] == pytest.approx(1e-10)


def test_a_batch_counts_per_trajectory():
    system = get_system("exponential_decay", rate=[1.0, 2.0, 3.0])
    result = work_precision(
        system, [1.0], t_end=1.0, methods=["rk4", "RK45"], dts=[0.1], rtols=[1e-6], repeats=1
    )
    rk4, rk45 = result.points
    assert result.n_trajectories == 3
    assert rk4.evaluations == 40  # 4 stages x 10 steps, for each of the three
    assert rk45.evaluations == rk45.nfev


def test_explicit_euler_diverges_on_a_stiff_decay_where_implicit_euler_does_not():
    system = get_system("exponential_decay", rate=1000.0)
    result = work_precision(
        system, [1.0], t_end=5.0, methods=["euler", "implicit_euler"], dts=[0.01, 1e-3], repeats=1
    )
    euler = result.of("euler")
    assert [p.diverged for p in euler] == [True, False]  # |1 - 10| ^ 500 overflows
    assert euler[0].error is None and "left the finite numbers" in euler[0].message
    assert result.diverged_from("euler") == 0.01 and result.diverged_from("implicit_euler") is None
    assert all(p.error < 1e-3 for p in result.of("implicit_euler"))


def test_solve_ivp_reference_without_an_exact_solution():
    system = get_system("van_der_pol", mu=1.0)
    result = work_precision(system, [2.0, 0.0], t_end=1.0, methods=["rk4"], dts=[0.01],
                            repeats=1)  # fmt: skip
    assert result.reference == "solve_ivp DOP853 rtol=1e-12 atol=1e-14"
    assert 1e-12 < result.points[0].error < 1e-7


def test_stiffness_rule():
    start = np.array([2.0, 0.0])
    assert is_stiff(get_system("van_der_pol", mu=1000.0), start, (0.0, 1.0))
    assert not is_stiff(get_system("van_der_pol", mu=1.0), start, (0.0, 1.0))
    assert not is_stiff(get_system("exponential_decay", rate=50.0), np.array([1.0]), (0.0, 1.0))


def test_relative_error_scales_each_component_by_its_largest_size():
    ref = np.array([[1.0, 0.0], [0.5, 2.0]])
    states = ref + np.array([[0.1, 0.0], [0.0, 0.4]])
    assert relative_error(states, ref, atol=0.0) == pytest.approx(0.2)  # 0.4 / 2, 0.1 / 1


@dataclass(frozen=True)
class Tableau:
    a: tuple
    b: tuple


@dataclass(frozen=True)
class Multistep:
    alpha: tuple
    beta: float


def test_implicit_steppers_are_picked_by_their_attributes():
    assert not is_implicit(STEPPERS["rk4"]) and not is_implicit(STEPPERS["euler"])
    assert is_implicit(Tableau(((1.0,),), (1.0,)))
    assert is_implicit(Tableau(((0.0,), (0.5, 0.5)), (0.5, 0.5)))
    assert not is_implicit(Tableau(((), (1.0,)), (0.5, 0.5)))
    assert is_implicit(Multistep((1 / 3, -4 / 3, 1.0), 2 / 3))
    defaults = default_methods()
    assert defaults[:3] == ("euler", "rk4", "dopri5")
    assert defaults[-5:] == ("RK45", "DOP853", "Radau", "BDF", "LSODA")
    assert defaults[3:-5] == ("sdirk3", "bdf2")
    assert all(is_implicit(STEPPERS[n]) for n in defaults[3:-5])


def test_counting_system_counts_trajectories_per_call():
    system = get_system("exponential_decay", rate=[1.0, 2.0])
    counting = CountingSystem(system)
    s = np.ones((2, 1))
    counting.rhs(0.0, s, None, system.params)
    counting.rhs_into(0.0, s, None, system.params, np.empty((2, 1)))
    counting.jacobian(0.0, s, system.params)
    assert (counting.evaluations, counting.jacobians) == (4, 2)
    assert counting.name == "exponential_decay" and counting.n_states == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": ["rk5"]}, "unknown method 'rk5'"),
        ({"methods": []}, "methods must name at least one"),
        ({"dts": []}, "dts must hold at least one"),
        ({"dts": [0.1, -0.1]}, "dts must be"),
        ({"rtols": [0.0]}, "rtols must be"),
        ({"t_end": 0.0}, "t_end"),
        ({"reference": "exact", "system": "van_der_pol"}, "no exact solution"),
        ({"system": "logistic_map"}, "discrete map"),
    ],
)
def test_bad_input_is_one_line(kwargs, message):
    name = kwargs.pop("system", "exponential_decay")
    system = get_system(name)
    args = {"t_end": 1.0, "methods": ["euler"], "dts": [0.1], "repeats": 1} | kwargs
    with pytest.raises(InputError, match=message) as err:
        work_precision(system, system.default_s0, **args)
    assert "\n" not in str(err.value)
    if message.startswith("unknown method"):
        assert "euler" in str(err.value) and "Radau" in str(err.value)


# -- the figure and the command --------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


def test_command_json_and_figure(tmp_path):
    out = tmp_path / "wp.png"
    result = run(
        "workprecision", "exponential_decay", "-p", "rate=1000", "--t-end", "5",
        "--methods", "euler,implicit_euler,RK45", "--dts", "0.01,0.001", "--rtols", "1e-5",
        "--repeats", "1", "--json", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [p["method"] for p in doc["points"]] == ["euler"] * 2 + ["implicit_euler"] * 2 + ["RK45"]
    assert [p["diverged"] for p in doc["points"]] == [True, False, False, False, False]
    assert_image(out)


def test_figure_has_two_panels_and_notes_divergence():
    from dynsys.plots.workprecision import workprecision_plot

    system = get_system("exponential_decay", rate=1000.0)
    result = work_precision(
        system, [1.0], t_end=5.0, methods=["euler", "RK45"], dts=[0.01, 1e-3, 5e-4],
        rtols=[1e-4, 1e-6], repeats=1,
    )  # fmt: skip
    fig = workprecision_plot(result, system=system)
    time_ax, evals_ax = fig.axes
    for ax in (time_ax, evals_ax):
        euler, rk45 = lines(ax)
        assert len(euler.get_xdata()) == 2 and len(rk45.get_xdata()) == 2  # diverged left out
        assert euler.get_linestyle() == "-" and rk45.get_linestyle() == "--"
    np.testing.assert_array_equal(
        sorted(lines(evals_ax)[0].get_xdata()), [5000.0, 10000.0]
    )  # euler's evaluations at h = 1e-3 and 5e-4
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["euler, diverged at h >= 0.01", "RK45 (solve_ivp)"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--methods", "euler,rk9"), "unknown method 'rk9'"),
        (("--dts", ""), "--dts must name at least one number"),
        (("--dts", "0.1,0"), "dts must be"),
        (("--rtols", "1e-3,,1e-4"), "empty item"),
        (("--t-end", "-1"), "t_end"),
        (("--repeats", "0"), "--repeats must be"),
    ],
)
def test_command_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "wp.png"
    result = run("workprecision", "exponential_decay", "--methods", "euler", "--dts", "0.1",
                 "--repeats", "1", *args, "--out", str(out))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_command_refuses_a_map():
    result = run("workprecision", "logistic_map", "--methods", "euler")
    assert result.exit_code == 2 and "discrete map" in result.output


# -- stability of implicit and multistep methods ----------------------------------------------

IMPLICIT_EULER = Tableau(((1.0,),), (1.0,))
IMPLICIT_MIDPOINT = Tableau(((0.5,),), (1.0,))
TRAPEZOIDAL = Tableau(((0.0,), (0.5, 0.5)), (0.5, 0.5))
BDF2 = Multistep((1 / 3, -4 / 3, 1.0), 2 / 3)
Z = np.array([-3.0 + 0.0j, -0.7 + 2.1j, 0.5j, 0.3 - 0.4j, 2.5 + 1.0j, -40.0 - 7.0j, 0.01 + 0.0j])


@pytest.mark.parametrize(
    ("stepper", "exact"),
    [
        (IMPLICIT_EULER, lambda z: 1 / (1 - z)),
        (TRAPEZOIDAL, lambda z: (1 + z / 2) / (1 - z / 2)),
        (IMPLICIT_MIDPOINT, lambda z: (1 + z / 2) / (1 - z / 2)),
    ],
)
def test_implicit_stability_functions_are_exact(stepper, exact):
    np.testing.assert_allclose(stability_function(stepper.a, stepper.b, Z), exact(Z), rtol=1e-14)
    np.testing.assert_allclose(amplification(stepper, Z), np.abs(exact(Z)), rtol=1e-14)


@pytest.mark.parametrize(
    "name", ["implicit_euler", "implicit_midpoint", "trapezoidal", "sdirk3", "bdf2"]
)
def test_registered_implicit_steppers_match_one_step_on_the_test_equation(name):
    if name not in STEPPERS:
        pytest.skip(f"{name} is not registered")
    stepper = STEPPERS[name]
    if hasattr(stepper, "alpha"):
        assert amplification(name, Z).shape == Z.shape
        return
    h, rate = 0.3, 2.5
    system = get_system("exponential_decay", rate=rate)
    step = stepper.step(system, 0.0, h, np.array([1.0]), None, system.params)
    expected = stability_function(stepper.a, stepper.b, -h * rate)
    np.testing.assert_allclose(step[0], expected.real, rtol=1e-9)


def left_half_plane() -> np.ndarray:
    """Points with Re z <= 0 from 1e-3 to 1e6 from the origin, the imaginary axis included."""
    r = np.geomspace(1e-3, 1e6, 60)
    angle = np.linspace(np.pi / 2, 3 * np.pi / 2, 41)
    return (r[:, None] * np.exp(1j * angle[None, :])).reshape(-1)


@pytest.mark.parametrize("stepper", [IMPLICIT_EULER, IMPLICIT_MIDPOINT, TRAPEZOIDAL, BDF2])
def test_a_stable_methods_hold_the_left_half_plane(stepper):
    assert np.all(amplification(stepper, left_half_plane()) <= 1 + 1e-12)


def test_l_stability():
    far = np.array([-1e6, -1e9 + 1e3j])
    assert np.all(amplification(IMPLICIT_EULER, far) < 1e-5)
    assert np.all(amplification(BDF2, far) < 1e-2)  # like 1 / sqrt(2 |z|)
    np.testing.assert_allclose(amplification(TRAPEZOIDAL, far), 1.0, atol=1e-5)  # R -> -1


def test_bdf2_radius_is_the_larger_root_of_its_quadratic():
    # (1 - 2z/3) ζ² - (4/3) ζ + 1/3 = 0  <=>  ζ = (2 ± sqrt(1 + 2z)) / (3 - 2z)
    root = np.sqrt(1 + 2 * Z)
    exact = np.maximum(np.abs((2 + root) / (3 - 2 * Z)), np.abs((2 - root) / (3 - 2 * Z)))
    np.testing.assert_allclose(amplification(BDF2, Z), exact, rtol=1e-13)
    assert amplification(BDF2, 1.5) == np.inf  # the leading coefficient vanishes
    assert float(amplification(BDF2, 0.0)) == pytest.approx(1.0, abs=1e-15)


def test_multistep_radius_with_every_beta_given():
    # explicit Euler as a one-step method: s(n+1) - s(n) = h g(s(n)) -> ζ = 1 + z;
    # the trapezoidal rule: beta = (1/2, 1/2) -> ζ = (1 + z/2) / (1 - z/2)
    np.testing.assert_allclose(multistep_radius((-1.0, 1.0), (1.0, 0.0), Z), np.abs(1 + Z))
    np.testing.assert_allclose(
        multistep_radius((-1.0, 1.0), (0.5, 0.5), Z), np.abs((1 + Z / 2) / (1 - Z / 2)), rtol=1e-14
    )
    with pytest.raises(InputError):
        multistep_radius((1.0,), 1.0, Z)


def test_pole_is_infinite_not_an_error():
    assert amplification(IMPLICIT_EULER, np.array([1.0, 3.0])).tolist() == [np.inf, 0.5]
    assert not in_region(IMPLICIT_EULER, 1.5) and in_region(IMPLICIT_EULER, 3.0)


def test_tableau_rows_longer_than_the_stages_are_refused():
    with pytest.raises(InputError, match="row 0"):
        stability_function(((0.5, 0.5),), (1.0,), Z)


def test_registered_implicit_regions_are_listed_and_paired():
    names = stability_methods()
    implicit = [n for n in ("implicit_euler", "implicit_midpoint", "trapezoidal") if n in STEPPERS]
    assert set(implicit) <= set(names)
    if {"implicit_midpoint", "trapezoidal"} <= set(STEPPERS):
        assert same_region(["implicit_midpoint", "trapezoidal"]) == {
            "trapezoidal": "implicit_midpoint"
        }
    assert same_region(["midpoint", "heun"]) == {"heun": "midpoint"}
