"""Basins of attraction: the damped pendulum against the energy criterion, the symmetry of the
Duffing double well, escaping members, the file, the figure and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys.basins import ESCAPED, UNDECIDED, basins
from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.systems import get_system

DUFFING = {"alpha": -1.0, "beta": 1.0, "delta": 0.3, "gamma": 0.0}


@pytest.fixture(scope="module")
def pendulum_basins():
    pendulum = get_system("pendulum", damping=0.5)
    return basins(pendulum, grid=41, xlim=(-7, 7), ylim=(-8, 8), t_end=60, backend="numpy")


@pytest.fixture(scope="module")
def duffing_basins():
    duffing = get_system("duffing", **DUFFING)
    return basins(duffing, grid=40, xlim=(-2, 2), ylim=(-2, 2), t_end=60, backend="numpy")


def test_pendulum_rest_states(pendulum_basins):
    b = pendulum_basins
    assert all(a.kind == "fixed point" and a.stability == "stable focus" for a in b.attractors)
    rests = np.array([a.state for a in b.attractors])
    k = np.round(rests[:, 0] / (2 * np.pi))
    np.testing.assert_allclose(rests[:, 0], 2 * np.pi * k, atol=1e-9)
    np.testing.assert_array_equal(rests[:, 1], 0.0)
    assert -1 in k and 0 in k and 1 in k


def test_pendulum_against_energy_criterion(pendulum_basins):
    """A damped swing whose energy E = w²/2 + g (1 - cos θ) is below the separatrix energy
    2 g cannot pass over the top: it ends at the rest state 2 π k of its own well."""
    b = pendulum_basins
    theta, omega = np.meshgrid(b.x, b.y)
    g = 9.81
    energy = omega**2 / 2 + g * (1 - np.cos(theta))
    well = np.round(theta / (2 * np.pi))
    inside = np.abs(theta - 2 * np.pi * well) < np.pi - 0.2
    clear = inside & (energy < 0.9 * 2 * g)
    assert clear.sum() > 300
    rest_k = np.round(np.array([a.state[0] for a in b.attractors]) / (2 * np.pi))
    ends = rest_k[b.labels[clear]]
    np.testing.assert_array_equal(ends, well[clear])
    assert b.counts[ESCAPED] == 0


def test_duffing_basins_are_symmetric(duffing_basins):
    """The undriven double well is odd, g(-s) = -g(s), exactly in floating point: the state
    (-x, -v) ends in the other well from (x, v)."""
    b = duffing_basins
    wells = [tuple(a.state) for a in b.attractors]
    assert wells == [(-1.0, 0.0), (1.0, 0.0)]
    np.testing.assert_array_equal(b.x, -b.x[::-1])
    swap = np.array([1, 0, UNDECIDED, ESCAPED])  # indexed by label: 0, 1, then -2, -1
    labels = b.labels
    np.testing.assert_array_equal(labels, swap[labels[::-1, ::-1]])
    assert b.counts[0] == b.counts[1] > 790 and b.counts[ESCAPED] == 0
    # near each well, its own basin
    assert labels[np.argmin(np.abs(b.y)), np.argmin(np.abs(b.x - 1))] == 1


def test_escaping_members_are_labelled():
    """The softening well s'' = -0.3 s' - s + s³: energy below the barrier 1/4 inside |s| < 1
    ends at rest at 0; fast outward states escape, without stopping the rest of the grid."""
    system = get_system("duffing", alpha=1.0, beta=-1.0, delta=0.3, gamma=0.0)
    b = basins(system, grid=21, xlim=(-2, 2), ylim=(-2, 2), t_end=60, backend="numpy")
    s, v = np.meshgrid(b.x, b.y)
    energy = v**2 / 2 + s**2 / 2 - s**4 / 4
    assert [tuple(a.state) for a in b.attractors] == [(0.0, 0.0)]
    np.testing.assert_array_equal(b.labels[(energy < 0.2) & (np.abs(s) < 0.9)], 0)
    outward = (np.abs(s) > 1.2) & (s * v > 0)
    assert outward.sum() > 50
    np.testing.assert_array_equal(b.labels[outward], ESCAPED)
    assert b.counts[ESCAPED] + b.counts[0] + b.counts[UNDECIDED] == 21 * 21


def test_limit_cycle_is_one_attractor():
    b = basins(get_system("van_der_pol"), grid=12, xlim=(-3, 3), ylim=(-3, 3), t_end=60,
               backend="numpy")  # fmt: skip
    kinds = [a.kind for a in b.attractors]
    assert kinds == ["cycle"]
    (cycle,) = b.attractors
    np.testing.assert_allclose(cycle.high, [2.009, 2.675], atol=0.02)  # |x| <= 2.01 at mu = 1
    assert b.counts[0] == 144


def test_npz_and_figure(duffing_basins, tmp_path):
    from dynsys.plots.basins import basins_plot

    path = duffing_basins.to_npz(tmp_path / "b.npz")
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["labels"], duffing_basins.labels)
        np.testing.assert_array_equal(data["attractor_states"], [[-1, 0], [1, 0]])
        meta = json.loads(str(data["metadata"]))
    assert meta["attractors"][0]["count"] == duffing_basins.counts[0]
    assert meta["system"] == "duffing"
    _fig, info = basins_plot(duffing_basins)
    assert info.basins == 2
    share = duffing_basins.counts[0] / 1600
    assert info.fractions == {
        "fixed point (-1, 0)": share,
        "fixed point (1, 0)": share,
        "escaped": 0.0,
        "undecided": (1600 - 2 * duffing_basins.counts[0]) / 1600,
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"xlim": (2, -2)}, "xlim"),
        ({"ylim": (1, 1)}, "ylim"),
        ({"grid": 1}, "grid"),
        ({"grid": 10**6}, "grid"),
        ({"states": (0, 0)}, "two different"),
        ({"window": 1.5}, "window"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"grid": 4, "xlim": (-1, 1), "ylim": (-1, 1), "t_end": 1.0} | kwargs
    with pytest.raises(InputError, match=match):
        basins(get_system("duffing", **DUFFING), **args)


def test_one_state_map_refused():
    with pytest.raises(InputError, match="one state"):
        basins(get_system("logistic_map"), xlim=(0, 1), ylim=(0, 1))


def test_command_writes_npz_and_json(tmp_path):
    out = tmp_path / "b.npz"
    params = [f"-p{k}={v}" for k, v in DUFFING.items()]
    args = ["basins", "duffing", *params]
    args += ["--grid", "10", "--xlim=-2,2", "--ylim=-2,2", "--t-end", "60", "--backend", "numpy"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [a["state"] for a in doc["attractors"]] == [[-1.0, 0.0], [1.0, 0.0]]
    assert sum(a["count"] for a in doc["attractors"]) == 100
    assert out.exists()


@pytest.mark.parametrize(
    "extra",
    [
        ["duffing", "--xlim=2,-2", "--ylim=-2,2"],
        ["duffing", "--xlim=", "--ylim=-2,2"],
        ["duffing", "--xlim=-2,2", "--ylim=-2,2", "--grid", "1"],
        ["duffing", "--xlim=-2,2", "--ylim=-2,2", "--grid", "100000"],
        ["logistic_map", "--xlim=0,1", "--ylim=0,1"],
        ["duffing", "--xlim=-2,2", "--ylim=-2,2", "-p", "delta=1,2"],
    ],
)
def test_command_bad_input(tmp_path, extra):
    out = tmp_path / "b.png"
    result = CliRunner().invoke(main, ["basins", *extra, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
