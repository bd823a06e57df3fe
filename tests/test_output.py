"""Writing trajectories: CSV, NPZ and JSON contents, refused paths, and atomic replacement."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

import dynsys.output
from dynsys import InputError, get_system, reference, simulate
from dynsys.errors import WriteError
from dynsys.output import write_trajectory


@pytest.fixture(scope="module")
def traj():
    """rk4 values carry all 17 significant digits, so a lossy format would show."""
    return simulate(
        get_system("driven_oscillator"), [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4"
    )


@pytest.fixture(scope="module")
def batch():
    s0 = np.random.default_rng(3).normal(size=(3, 2))
    return simulate(get_system("driven_oscillator"), s0, t_span=(0, 1), dt=0.1, method="heun")


def read_csv(path):
    header = path.read_text().splitlines()[0]
    return header, np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


# -- CSV ----------------------------------------------------------------------------------


def test_csv_header_and_exact_round_trip(traj, tmp_path):
    path = tmp_path / "run.csv"
    assert write_trajectory(traj, path) == path
    header, table = read_csv(path)
    assert header == "t,s,v,x"
    assert table.shape == (11, 4)
    np.testing.assert_array_equal(table[:, 0], traj.t)
    np.testing.assert_array_equal(table[:, 1:3], traj.states)
    np.testing.assert_array_equal(table[:, 3], traj.x)


def test_csv_of_an_undriven_system_has_no_x(tmp_path):
    decay = simulate(get_system("exponential_decay", rate=0.3), [2.0], t_span=(0, 1), dt=0.1)
    path = write_trajectory(decay, tmp_path / "decay.csv")
    header, table = read_csv(path)
    assert header == "t,s"
    np.testing.assert_array_equal(table, np.column_stack([decay.t, decay.states]))


def test_csv_of_a_batch_has_a_leading_trajectory_column(batch, tmp_path):
    header, table = read_csv(write_trajectory(batch, tmp_path / "batch.csv"))
    assert header == "trajectory,t,s,v,x"
    assert table.shape == (3 * 11, 5)
    np.testing.assert_array_equal(table[:, 0], np.repeat([0, 1, 2], 11))
    for i in range(3):
        rows = table[table[:, 0] == i]
        np.testing.assert_array_equal(rows[:, 1], batch.t)
        np.testing.assert_array_equal(rows[:, 2:4], batch.states[i])
        np.testing.assert_array_equal(rows[:, 4], batch.x[i])


def test_suffix_is_case_insensitive(traj, tmp_path):
    header, table = read_csv(write_trajectory(traj, tmp_path / "RUN.CSV"))
    assert header == "t,s,v,x" and table.shape == (11, 4)


# -- NPZ and JSON ----------------------------------------------------------------------------


def test_npz_loads_without_pickle_and_carries_metadata(traj, tmp_path):
    path = write_trajectory(traj, tmp_path / "run.npz")
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"t", "states", "x", "metadata"}
        np.testing.assert_array_equal(data["t"], traj.t)
        np.testing.assert_array_equal(data["states"], traj.states)
        np.testing.assert_array_equal(data["x"], traj.x)
        meta = json.loads(str(data["metadata"]))
    assert meta["system"] == "driven_oscillator"
    assert meta["params"] == {"m": 1.0, "k": 1.0, "A": 0.5, "c": 0.0, "omega": 1.0}
    assert meta["method"] == "rk4"
    assert meta["dt"] == 0.1
    assert meta["state_names"] == ["s", "v"]
    assert meta["save_every"] == 1
    assert meta["info"]["n_steps"] == 10 and "wall_s" not in meta["info"]  # reproducible
    assert meta["info"]["backend"] in ("numpy", "numba")  # the time loop that ran


def test_npz_of_a_batch_with_array_parameters(tmp_path):
    system = get_system("driven_oscillator", k=[1.0, 2.0])
    run = simulate(system, [1.0, 0.0], t_span=(0, 1), dt=0.5, method="euler", save_every=2)
    with np.load(write_trajectory(run, tmp_path / "b.npz"), allow_pickle=False) as data:
        assert data["states"].shape == (2, 2, 2)
        np.testing.assert_array_equal(data["states"], run.states)
        meta = json.loads(str(data["metadata"]))
    assert meta["params"]["k"] == [1.0, 2.0]
    assert meta["save_every"] == 2


def test_json_parses_and_matches(traj, tmp_path):
    path = write_trajectory(traj, tmp_path / "run.json")
    doc = json.loads(path.read_text())
    np.testing.assert_array_equal(np.array(doc["t"]), traj.t)
    np.testing.assert_array_equal(np.array(doc["states"]), traj.states)
    np.testing.assert_array_equal(np.array(doc["x"]), traj.x)
    assert doc["system"] == "driven_oscillator" and doc["method"] == "rk4" and doc["dt"] == 0.1


def test_json_of_a_reference_trajectory(tmp_path):
    system = get_system("exponential_decay")
    ref = reference(system, [[1.0], [2.0]], np.linspace(0, 1, 5))
    doc = json.loads(write_trajectory(ref, tmp_path / "ref.json").read_text())
    assert doc["method"] == "solve_ivp" and doc["dt"] is None and doc["x"] is None
    assert doc["info"]["method"] == "DOP853" and doc["info"]["status"] == [0, 0]
    assert len(doc["info"]["nfev"]) == 2 and "wall_s" not in doc["info"]
    np.testing.assert_array_equal(np.array(doc["states"]), ref.states)


# -- refused paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run.txt", "run", "run.csv.gz", "run.h5"])
def test_unknown_suffix_names_the_allowed_ones(traj, tmp_path, name):
    with pytest.raises(InputError) as info:
        write_trajectory(traj, tmp_path / name)
    for suffix in (".csv", ".npz", ".json"):
        assert suffix in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_input_error(traj, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        write_trajectory(traj, tmp_path / "missing" / "run.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_relative_path_writes_in_the_working_directory(traj, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_trajectory(traj, "here.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["here.csv"]


# -- atomicity and modes ---------------------------------------------------------------------


def failing_writer(traj, f):
    f.write(b"t,s,v,x\n0,1,")
    f.flush()
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(traj, tmp_path, monkeypatch, error):
    path = tmp_path / "run.csv"
    path.write_bytes(b"old contents\n")

    def writer(traj, f):
        f.write(b"t,s,v,x\n0,1,")
        f.flush()
        raise error(28, "No space left on device") if error is OSError else error()

    monkeypatch.setattr(dynsys.output, "_write_csv", writer)
    expected = WriteError if error is OSError else error
    with pytest.raises(expected):
        write_trajectory(traj, path)
    assert path.read_bytes() == b"old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.csv"]


def test_a_failed_first_write_leaves_nothing(traj, tmp_path, monkeypatch):
    monkeypatch.setattr(dynsys.output, "_write_json", failing_writer)
    with pytest.raises(WriteError, match=r"cannot write .*run.json: No space left on device"):
        write_trajectory(traj, tmp_path / "run.json")
    assert list(tmp_path.iterdir()) == []


def test_a_successful_write_replaces_the_old_file(traj, tmp_path):
    path = tmp_path / "run.csv"
    path.write_bytes(b"old contents\n")
    write_trajectory(traj, path)
    assert path.read_text().startswith("t,s,v,x\n")
    assert [p.name for p in tmp_path.iterdir()] == ["run.csv"]


def test_a_new_file_gets_the_mode_of_open_not_a_private_one(traj, tmp_path):
    """The temporary file of an atomic write is created 0600; the result must not be."""
    old = os.umask(0o022)
    try:
        path = write_trajectory(traj, tmp_path / "run.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_an_overwritten_file_keeps_its_mode(traj, tmp_path):
    path = tmp_path / "run.json"
    path.write_text("{}")
    path.chmod(0o640)
    write_trajectory(traj, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_text())["method"] == "rk4"
