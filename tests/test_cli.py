"""The command line, through click's CliRunner: every command, its JSON, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dynsys
from dynsys.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("systems", "simulate", "compare", "convergence")


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"dynsys, version {dynsys.__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"dynsys {command}" in result.output


def test_main_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_cli_py_at_the_root_runs_the_same_app():
    out = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"dynsys, version {dynsys.__version__}"


# -- systems -------------------------------------------------------------------------------


def test_systems_lists_every_system():
    result = run("systems")
    assert result.exit_code == 0
    for name in dynsys.SYSTEMS:
        assert name in result.output


def test_systems_json_lists_every_system():
    doc = json.loads(run("systems", "--json").output)
    assert [s["name"] for s in doc["systems"]] == list(dynsys.SYSTEMS)


def test_systems_name_shows_equations_and_parameters():
    result = run("systems", "driven_oscillator")
    assert result.exit_code == 0
    assert "dv/dt = x/m - (k/m) s - (c/m) v" in result.output
    for name in ("m", "k", "A", "c", "omega"):
        assert f"\n{name} " in result.output


def test_systems_name_json():
    doc = json.loads(run("systems", "lorenz", "--json").output)
    assert doc["states"] == ["x", "y", "z"]
    assert {p["name"]: p["default"] for p in doc["parameters"]} == {
        "sigma": 10.0,
        "rho": 28.0,
        "beta": pytest.approx(8 / 3),
    }
    assert doc["jacobian"] is True and doc["exact"] is False


# -- simulate ------------------------------------------------------------------------------


def test_simulate_summary_reports_the_final_state_and_exact_error():
    result = run(
        "simulate", "driven_oscillator", "--method", "rk4", "--dt", "0.01", "--t-end", "10"
    )
    assert result.exit_code == 0
    traj = dynsys.simulate(
        dynsys.get_system("driven_oscillator"), [1, 0], t_span=(0, 10), dt=0.01, method="rk4"
    )
    assert f"{traj.states[-1, 0]:.3e}" in result.output
    assert "1001 kept steps" in result.output
    assert "max abs error against the exact solution" in result.output


def test_simulate_csv_round_trips_the_library_result(tmp_path):
    out = tmp_path / "traj.csv"
    args = ["simulate", "driven_oscillator", "-p", "k=4", "--s0", "0.5,-1", "--method", "heun"]
    result = run(*args, "--dt", "0.05", "--t-end", "5", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == "t,s,v,x"
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    system = dynsys.get_system("driven_oscillator", k=4.0)
    traj = dynsys.simulate(system, [0.5, -1], t_span=(0, 5), dt=0.05, method="heun")
    np.testing.assert_array_equal(table[:, 0], traj.t)
    np.testing.assert_array_equal(table[:, 1:3], traj.states)
    np.testing.assert_array_equal(table[:, 3], traj.x)


def test_simulate_batch_by_parameter_list_and_repeated_s0(tmp_path):
    out = tmp_path / "batch.npz"
    result = run(
        "simulate", "driven_oscillator", "-p", "A=0.1,0.5", "--s0", "1,0", "--s0", "0,1",
        "--method", "rk4", "--dt", "0.1", "--t-end", "2", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as data:
        states, meta = data["states"], json.loads(str(data["metadata"]))
    assert states.shape == (2, 21, 2)
    assert meta["params"]["A"] == [0.1, 0.5]
    alone = dynsys.simulate(
        dynsys.get_system("driven_oscillator", A=0.5), [0, 1], t_span=(0, 2), dt=0.1, method="rk4"
    )
    np.testing.assert_array_equal(states[1], alone.states)


def test_simulate_save_every_and_json(tmp_path):
    out = tmp_path / "traj.json"
    result = run(
        "simulate", "van_der_pol", "--method", "rk4", "--dt", "0.01", "--t-end", "1",
        "--save-every", "10", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["t"] == pytest.approx(np.linspace(0, 1, 11).tolist(), abs=1e-12)
    assert doc["save_every"] == 10 and doc["method"] == "rk4" and doc["x"] is None


def test_simulate_solve_ivp_and_maps(tmp_path):
    result = run("simulate", "exponential_decay", "--method", "solve_ivp", "--t-end", "1")
    assert result.exit_code == 0, result.output
    assert "solve_ivp" in result.output
    out = tmp_path / "logistic.csv"
    result = run("simulate", "logistic_map", "-p", "r=3.2", "--t-end", "20", "--out", str(out))
    assert result.exit_code == 0, result.output
    x = np.loadtxt(out, delimiter=",", skiprows=1)[:, 1]
    np.testing.assert_array_equal(x[1:], 3.2 * x[:-1] * (1 - x[:-1]))


# -- compare and convergence ---------------------------------------------------------------


def test_compare_json_layout_and_values():
    result = run("compare", "driven_oscillator", "--dt", "0.01", "--t-end", "10", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {"system", "params", "dt", "t_end", "reference", "methods"} <= doc.keys()
    assert doc["reference"]["method"] == "DOP853"
    assert doc["reference"]["rtol"] == 1e-10 and doc["reference"]["atol"] == 1e-12
    assert doc["reference"]["nfev"] > 0
    assert list(doc["methods"]) == ["euler", "semi_implicit_euler", "heun", "rk4"]
    keys = {"max_abs_error", "rmse", "rel_l2", "final_abs_error", "wall_s"}
    for entry in doc["methods"].values():
        assert keys <= entry.keys()
    system = dynsys.get_system("driven_oscillator")
    lib = dynsys.compare(system, [1, 0], t_span=(0, 10), dt=0.01).to_dict()
    for name, entry in doc["methods"].items():
        assert entry["max_abs_error"] == lib["methods"][name]["max_abs_error"]
    errors = [doc["methods"][m]["max_abs_error"] for m in ("euler", "heun", "rk4")]
    assert errors == sorted(errors, reverse=True)


def test_compare_table_reports_a_diverging_method():
    result = run(
        "compare", "exponential_decay", "-p", "rate=100", "--methods", "euler,rk4",
        "--dt", "0.03", "--t-end", "100",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "euler" in result.output and "diverged at step" in result.output


def test_convergence_json_measures_the_order():
    result = run(
        "convergence", "driven_oscillator", "--method", "heun", "--dt", "0.1", "--levels", "4",
        "--t-end", "10", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["method"] == "heun" and doc["against"] == "exact"
    assert doc["dt"] == pytest.approx([0.1 / 2**i for i in range(5)])
    assert len(doc["error"]) == 5
    assert doc["observed_order"] == pytest.approx(2.0, abs=0.1)


def test_convergence_table():
    result = run(
        "convergence", "exponential_decay", "--method", "rk4", "--t-end", "2", "--levels", "3"
    )
    assert result.exit_code == 0, result.output
    assert "observed order 4.0" in result.output


# -- bad input: one line, exit 2, no traceback ---------------------------------------------

BAD_INPUT = [
    (["simulate", "driven_oscilator"], "did you mean 'driven_oscillator'"),
    (["simulate", "driven_oscillator", "--method", "rk5"], "unknown method 'rk5'"),
    (["simulate", "driven_oscillator", "--method", "RK4"], "did you mean 'rk4'"),
    (["simulate", "driven_oscillator", "-p", "q=1"], "unknown parameter of driven_oscillator"),
    (["simulate", "driven_oscillator", "-p", "k=abc"], "parameter 'k' must be a number"),
    (["simulate", "driven_oscillator", "-p", "k=nan"], "must be a finite number"),
    (["simulate", "driven_oscillator", "-p", "k=inf"], "must be a finite number"),
    (["simulate", "driven_oscillator", "-p", "m=0"], "parameter 'm' of driven_oscillator"),
    (["simulate", "driven_oscillator", "-p", "k"], "-p expects NAME=VALUE"),
    (["simulate", "driven_oscillator", "--dt", "0"], "dt must be > 0"),
    (["simulate", "driven_oscillator", "--dt", "-0.1"], "dt must be > 0"),
    (["simulate", "driven_oscillator", "--t-end", "0"], "t_end must be greater than t0"),
    (["simulate", "driven_oscillator", "--s0", "1,2,3"], "s0 must have 2 values (s, v)"),
    (["simulate", "driven_oscillator", "--s0", "1,x"], "s0"),
    (["simulate", "driven_oscillator", "--save-every", "0"], "save_every must be"),
    (["simulate", "driven_oscillator", "--out", "traj.txt"], "must end in one of .csv"),
    (["simulate", "driven_oscillator", "--out", "no/such/dir/t.csv"], "does not exist"),
    (["simulate", "driven_oscillator", "--dt", "1e-9", "--t-end", "1e5"], "--max-steps"),
    (["--max-memory", "1GiB", "simulate", "driven_oscillator", "--dt", "1e-6"], "save_every"),
    (["simulate", "logistic_map", "--method", "euler"], "discrete map"),
    (["simulate", "logistic_map", "--dt", "0.5"], "dt of a discrete map must be 1"),
    (["systems", "nope"], "unknown system 'nope'"),
    (["compare", "driven_oscillator", "--methods", "euler,nope"], "unknown method 'nope'"),
    (["compare", "driven_oscillator", "--methods", ","], "methods must name at least one"),
    (["compare", "henon_map"], "discrete map"),
    (["convergence", "driven_oscillator", "--method", "solve_ivp"], "must be a stepper"),
    (["convergence", "driven_oscillator", "--dt", "0.3", "--t-end", "1"], "whole number"),
    (["convergence", "driven_oscillator", "--levels", "0"], "levels must be"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message in lines[0]


def test_click_type_errors_exit_2():
    result = run("simulate", "driven_oscillator", "--dt", "abc")
    assert result.exit_code == 2
    assert "'abc' is not a valid float" in result.output


def test_divergence_is_reported_with_step_and_time_exit_1(tmp_path):
    out = tmp_path / "t.csv"
    result = run(
        "simulate", "exponential_decay", "-p", "rate=100", "--dt", "0.1", "--t-end", "100",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    # s(n) = (-9)^n; the step computes -100 s(n-1), which overflows first: 100 * 9^(n-1) > max
    step = 1 + int(np.ceil((np.log(np.finfo(float).max) - np.log(100)) / np.log(9)))
    assert f"euler left the finite numbers at step {step} (t = {step * 0.1:.6g})" in lines[0]
    assert "smaller dt" in lines[0]
    assert not out.exists()
