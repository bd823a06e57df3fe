"""Orbit diagrams of maps, their periods, the period-doubling cascade and ``dynsys bifurcation``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys.cli import main
from dynsys.errors import DivergenceError, InputError
from dynsys.orbits import FEIGENBAUM_DELTA, OrbitDiagram, feigenbaum, orbit_diagram
from dynsys.systems import get_system


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


@pytest.fixture(scope="module")
def cascade():
    return feigenbaum(levels=10, doublings=5)


def test_periods_of_the_logistic_map():
    r = [2.9, 3.2, 3.5, 3.83, 4.0]
    diagram = orbit_diagram("logistic_map", "r", r, transient=2000, keep=200)
    assert diagram.points.shape == (5, 200)
    assert diagram.periods().tolist() == [1, 2, 4, 3, 0]


def test_fixed_point_is_the_exact_one():
    diagram = orbit_diagram("logistic_map", "r", [2.5, 2.9], transient=3000, keep=10)
    np.testing.assert_allclose(diagram.points[:, -1], 1 - 1 / np.array([2.5, 2.9]), atol=1e-12)


def test_superstable_parameters_and_doubling_points(cascade):
    R = cascade.superstable
    assert R[0] == pytest.approx(2.0, abs=1e-12)
    assert R[1] == pytest.approx(1 + math.sqrt(5), abs=1e-12)
    r = cascade.doublings
    assert abs(r[0] - 3.0) < 1e-9
    assert abs(r[1] - (1 + math.sqrt(6))) < 1e-9
    np.testing.assert_allclose(r[2:], [3.544090, 3.564407, 3.568759], atol=1e-6)
    assert np.all(np.diff(R) > 0) and np.all((R[:5] < r) & (r < R[1:6]))


def test_feigenbaum_delta(cascade):
    # delta_k = (R_k - R_(k-1)) / (R_(k+1) - R_k): within 1e-3 from k = 4 (R_3, R_4, R_5) on
    assert len(cascade.delta) == 9
    assert np.all(np.abs(cascade.delta[3:] - FEIGENBAUM_DELTA) < 1e-3)
    assert abs(cascade.delta[-1] - FEIGENBAUM_DELTA) < 1e-6  # k = 9
    assert abs(cascade.doubling_delta[-1] - FEIGENBAUM_DELTA) < 1e-2  # from r_3, r_4, r_5


def test_batch_equals_maps_one_by_one():
    values = np.linspace(2.8, 4.0, 7)
    batch = orbit_diagram("logistic_map", "r", values, s0=[0.3], transient=50, keep=20)
    for i, r in enumerate(values):
        one = orbit_diagram("logistic_map", "r", [r], s0=[0.3], transient=50, keep=20)
        np.testing.assert_array_equal(one.points[0], batch.points[i])
        x, system = 0.3, get_system("logistic_map", r=r)
        by_hand = []
        for n in range(70):
            x = float(system.next(n, np.array([x]), system.params)[0])
            by_hand.append(x)
        np.testing.assert_array_equal(batch.points[i], by_hand[49:69])


def test_henon_state_by_name_and_fixed_parameter():
    henon = get_system("henon_map", b=0.3)
    diagram = orbit_diagram(henon, "a", [0.2, 1.4], transient=500, keep=40, state="y")
    assert diagram.state == "y" and diagram.fixed == {"b": 0.3}
    assert diagram.periods().tolist() == [1, 0]
    a, b = 0.2, 0.3  # fixed point x* of x = 1 - a x^2 + b x, y* = b x*
    x = (-(1 - b) + math.sqrt((1 - b) ** 2 + 4 * a)) / (2 * a)
    assert diagram.points[0, -1] == pytest.approx(b * x, abs=1e-12)


def test_npz_round_trip(tmp_path):
    diagram = orbit_diagram(get_system("henon_map"), "a", [1.0, 1.2], transient=10, keep=8)
    back = OrbitDiagram.from_npz(diagram.to_npz(tmp_path / "d.npz"))
    for name in ("system", "param", "state", "transient", "keep", "fixed"):
        assert getattr(back, name) == getattr(diagram, name)
    for name in ("values", "points", "s0"):
        np.testing.assert_array_equal(getattr(back, name), getattr(diagram, name))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"param": "q"}, "param"),
        ({"values": [[1.0]]}, "values"),
        ({"values": [3.0, np.nan]}, "values"),
        ({"transient": -1}, "transient"),
        ({"keep": 1}, "keep"),
        ({"state": "z"}, "state"),
        ({"state": 1}, "state"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    args = {"param": "r", "values": [3.0]} | kwargs
    with pytest.raises(InputError, match=field):
        orbit_diagram("logistic_map", args.pop("param"), args.pop("values"), **args)


def test_escaping_orbit_names_its_value():
    with pytest.raises(DivergenceError, match=r"r = 4\.5"):
        orbit_diagram("logistic_map", "r", [3.0, 4.5], transient=100, keep=10)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_cli_writes_the_figure(tmp_path, suffix):
    out = tmp_path / f"fig{suffix}"
    result = run("bifurcation", "logistic_map", "--param", "r=2.8,4", "--n", "300",
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000 and "60000 points" in result.output
    if suffix == ".svg":  # the dots are one embedded raster image, the axes vector paths
        assert out.read_text().count("<image") == 1


def test_cli_writes_the_data(tmp_path):
    out = tmp_path / "d.npz"
    result = run("bifurcation", "henon_map", "--param", "a=1,1.2", "-p", "b=0.3", "--n", "50",
                 "--keep", "30", "--state", "y", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    diagram = OrbitDiagram.from_npz(out)
    assert diagram.points.shape == (50, 30) and diagram.state == "y"
    assert diagram.values[0] == 1.0 and diagram.values[-1] == 1.2


@pytest.mark.parametrize(
    "args, words",
    [
        (["--param", "r=2.8"], "--param"),
        (["--param", "r"], "--param"),
        (["--param", "r=2.8,x"], "--param r"),
        (["--param", "r=4,3"], "--param r"),
        (["--param", "r=2.8,,4"], "--param r"),
        (["--param", "q=1,2"], "--param"),
        (["--param", "r=3,4", "--n", "0"], "--n"),
        (["--param", "r=3,4", "--keep", "1"], "--keep"),
        (["--param", "r=3,4", "--out", "fig.txt"], "--out"),
        (["--param", "r=3,4", "-p", "r=3"], "--set r"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, args, words):
    result = run("bifurcation", "logistic_map", *args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.output


def test_cli_refuses_a_flow():
    result = run("bifurcation", "lorenz", "--param", "rho=1,2")
    assert result.exit_code == 2 and "discrete map" in result.output


def test_cli_saves_the_largest_lyapunov_exponent_of_each_value(tmp_path):
    """Beside the diagram: lambda = ln 2 at r = 4, log|f'(x*)| = log|2 - r| on the stable fixed
    points (r = 2.8: log 0.8), and 0 at the first doubling r = 3 (within what 2,000
    iterations of a slow approach give)."""
    out = tmp_path / "d.npz"
    result = run("bifurcation", "logistic_map", "--param", "r=2.8,4", "--n", "7", "--lyapunov",
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    with np.load(out) as data:
        values, exponents = data["values"], data["lyapunov"]
    assert values[-1] == 4.0 and abs(exponents[-1] - np.log(2)) < 2e-2
    assert abs(exponents[0] - np.log(0.8)) < 1e-10
    assert abs(exponents[1]) < 1e-2  # r = 3: the fixed point's multiplier is -1
    assert (exponents[2:4] < 0).all() and (exponents[4:] > 0.1).all()  # chaos from r = 3.6
    assert "largest Lyapunov exponent > 0 at 3 values" in result.output


def test_the_exponents_are_drawn_beneath_the_diagram():
    from dynsys.plots.bifurcation import orbit_diagram_plot

    diagram = orbit_diagram("logistic_map", "r", np.linspace(3.0, 4.0, 50))
    fig, info = orbit_diagram_plot(diagram, exponents=np.linspace(-1, 0.7, 50))
    assert len(fig.axes) == 2 and fig.axes[1].get_xlabel() == "r"
    assert info.points == 50 * diagram.keep
    with pytest.raises(ValueError, match="one number per parameter value"):
        orbit_diagram_plot(diagram, exponents=np.zeros(3))
