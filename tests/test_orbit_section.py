"""Orbit diagrams of autonomous ODEs on a Poincare section (an event) and ``dynsys bifurcation
--section``: Lorenz's upward crossings of a plane z = const while rho is swept."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys import orbits
from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.orbits import OrbitDiagram, orbit_diagram
from dynsys.systems import get_system

SPAN = {"t_end": 60.0, "transient": 20.0, "dt": 0.01}


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


@pytest.fixture(scope="module")
def plane():
    """rho = 20 (orbits spiral into a fixed point at z = 19) and rho = 28 (chaos) on z = 27."""
    return orbit_diagram(
        "lorenz", "rho", [20.0, 28.0], section="z=27,dz>0", keep=40, state="x", **SPAN
    )


@pytest.fixture(scope="module")
def window():
    """rho = 28 (chaos) and rho = 160 (a stable periodic orbit) on z = rho - 1 (at rho = 160
    z stays above 100, so it never reaches z = 27)."""
    return orbit_diagram(
        "lorenz", "rho", [28.0, 160.0], section="z=rho-1,dz>0", keep=40, state="x", **SPAN
    )


def test_points_lie_on_the_section_after_the_transient(plane):
    assert plane.section == "z=27,increasing" and plane.state == "x"
    assert plane.transient == 20.0 and plane.t_end == 60.0 and plane.keep == 40
    # rho = 20: no crossing after the transient (counted, not an error); rho = 28: 40 kept
    assert plane.counts.tolist() == [0, 40]
    assert plane.member.tolist() == [1] * 40
    z = plane.crossings[:, 2]
    assert np.max(np.abs(z - 27.0)) <= 1e-9
    np.testing.assert_array_equal(plane.points, plane.crossings[:, 0])
    assert np.all(plane.times >= 20.0) and np.all(plane.times <= 60.0)
    assert np.all(np.diff(plane.times) > 0)
    x, y = plane.crossings[:, 0], plane.crossings[:, 1]
    assert np.all(x * y - 8.0 / 3.0 * z > 0)  # dz/dt > 0: upward crossings only


def test_a_periodic_window_has_few_points_and_chaos_many(window):
    assert window.counts.tolist() == [40, 40]
    assert window.periods(tol=1e-4).tolist() == [0, 4]
    distinct = [np.unique(np.round(window.points[window.member == j], 2)).size for j in (0, 1)]
    assert distinct == [40, 4]
    assert np.max(np.abs(window.crossings[:, 2] - np.array([27.0, 159.0])[window.member])) <= 1e-9


def test_chunks_of_time_give_the_same_crossings(plane, monkeypatch):
    monkeypatch.setattr(orbits, "CHUNK_NUMBERS", 2 * 3 * 700)  # 700 steps a chunk
    chunked = orbit_diagram(
        "lorenz", "rho", [20.0, 28.0], section="z=27,dz>0", keep=40, state="x", **SPAN
    )
    assert chunked.counts.tolist() == [0, 40]
    np.testing.assert_allclose(chunked.crossings, plane.crossings, rtol=0, atol=1e-12)
    np.testing.assert_allclose(chunked.times, plane.times, rtol=0, atol=1e-9)


def test_the_data_file_round_trips(plane, tmp_path):
    back = OrbitDiagram.from_npz(plane.to_npz(tmp_path / "d.npz"))
    assert (back.section, back.t_end, back.transient, back.keep) == ("z=27,increasing", 60, 20, 40)
    assert isinstance(back.transient, float) and back.dt == 0.01 and back.method == "rk4"
    for name in ("values", "points", "member", "times", "crossings"):
        np.testing.assert_array_equal(getattr(back, name), getattr(plane, name))
    assert back.counts.tolist() == [0, 40]


def test_the_figure_draws_every_crossing(plane):
    from dynsys.plots.bifurcation import orbit_diagram_plot

    fig, info = orbit_diagram_plot(plane)
    assert info.points == 40 and info.values == 2
    x, y = plane.dots()
    np.testing.assert_array_equal(x, np.full(40, 28.0))
    np.testing.assert_array_equal(y, plane.points)
    assert "z=27" in fig.axes[0].get_title()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"system": "logistic_map", "param": "r", "values": [3.5]}, "discrete map"),
        ({"system": "duffing", "param": "gamma", "values": [0.3]}, "driven"),
        ({"section": "z=27=3"}, "event"),
        ({"section": "z="}, "event"),
        ({"section": "z=27,dq>0"}, "event"),
        ({"section": "z=27,terminal"}, "terminal"),
        ({"state": "w"}, "state"),
        ({"t_end": 10.0}, "t_end"),
        ({"keep": 0}, "keep"),
    ],
)
def test_bad_input_is_one_line(kwargs, words):
    args = {"system": "lorenz", "param": "rho", "values": [28.0], "section": "z=27,dz>0"}
    args.update(kwargs)
    system = get_system(args.pop("system"))
    with pytest.raises(InputError) as err:
        orbit_diagram(system, args.pop("param"), args.pop("values"), transient=20.0, **args)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_an_autonomous_ode_without_a_section_is_refused():
    with pytest.raises(InputError, match="section"):
        orbit_diagram("lorenz", "rho", [28.0])


LORENZ = ("bifurcation", "lorenz", "--param", "rho=20,28", "--n", "2", "--t-end", "60",
          "--transient", "20", "--state", "x", "--keep", "40")  # fmt: skip


def test_cli_writes_the_data_and_counts_values_without_crossings(tmp_path):
    out = tmp_path / "d.npz"
    result = run(*LORENZ, "--section", "z=27,dz>0", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "1 of 2 values without a crossing after the transient" in result.output
    diagram = OrbitDiagram.from_npz(out)
    assert diagram.counts.tolist() == [0, 40] and diagram.section == "z=27,increasing"


def test_cli_draws_the_figure(tmp_path):
    out = tmp_path / "fig.png"
    result = run(*LORENZ, "--section", "z=27,dz>0", "--dt", "0.01", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000 and "40 points" in result.output


@pytest.mark.parametrize(
    "args, words",
    [
        (["logistic_map", "--param", "r=3,4", "--section", "x=0.5"], "--section"),
        (["duffing", "--param", "gamma=0.2,0.4", "--section", "x=0"], "--section"),
        (["lorenz", "--param", "rho=20,28", "--section", "z=27,up"], "event 'z=27,up'"),
        (["lorenz", "--param", "rho=20,28", "--section", "q=1"], "q"),
        (["lorenz", "--param", "rho=20,28", "--t-end", "10"], "--t-end"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, args, words):
    result = run("bifurcation", *args, "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1
