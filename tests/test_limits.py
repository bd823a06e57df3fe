"""One guard for sizes, and numbers at the edges.

Every entry point estimates the memory at its peak and the length of its loops before it
allocates or loops, and refuses in one line what exceeds the ceilings of dynsys.checks (raised
with --max-memory / --max-steps or DYNSYS_MAX_MEMORY / DYNSYS_MAX_STEPS).  Tiny sizes and
lowered ceilings stand in for big arrays: nothing here allocates much.
"""

from __future__ import annotations

import os
import re
import resource
import time
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

import dynsys
from dynsys import DivergenceError, DynsysError, InputError, checks, get_system, simulate
from dynsys.cli import main
from dynsys.output import write_trajectory
from dynsys.rnn import data as rnn_data
from dynsys.simulate import plan_size
from dynsys.study import check_compare, compare, convergence
from dynsys.systems.oscillator import DrivenOscillator
from dynsys.trajectory import Trajectory


@pytest.fixture(autouse=True)
def no_ceilings_from_outside(monkeypatch):
    monkeypatch.delenv(checks.MEMORY_VARIABLE, raising=False)
    monkeypatch.delenv(checks.STEPS_VARIABLE, raising=False)


def invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


# -- the ceilings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("8GiB", 8 * 2**30),
        ("512 MiB", 512 * 2**20),
        ("500MB", 500 * 10**6),
        ("2G", 2 * 2**30),
        ("2e9", 2 * 10**9),
        ("1.5KiB", 1536),
        (4096, 4096),
    ],
)
def test_sizes_are_read_in_the_usual_units(text, size):
    assert checks.parse_size(text, "--max-memory") == size


@pytest.mark.parametrize("text", ["", "lots", "8 GiBs", "-1G", "0", "inf", "nanMB"])
def test_a_size_that_is_not_one_names_the_field(text):
    with pytest.raises(InputError, match="--max-memory must be a size"):
        checks.parse_size(text, "--max-memory")


def test_the_default_memory_ceiling_is_half_what_is_available(monkeypatch):
    monkeypatch.setattr(checks, "available_memory", lambda: 6 * 2**30)
    assert checks.max_memory() == 3 * 2**30
    monkeypatch.setenv(checks.MEMORY_VARIABLE, "1GiB")
    assert checks.max_memory() == 2**30
    assert checks.max_steps() == checks.DEFAULT_MAX_STEPS
    monkeypatch.setenv(checks.STEPS_VARIABLE, "1e3")
    assert checks.max_steps() == 1000


def test_available_memory_reads_the_rlimits(monkeypatch):
    monkeypatch.setattr(checks, "_free_memory", lambda: 64 * 2**30)
    monkeypatch.setattr(checks, "_cgroup_room", lambda: None)
    monkeypatch.setattr(checks, "_usage", lambda: {"VmSize": 2**30, "VmData": 2**29})
    limits = {resource.RLIMIT_AS: 5 * 2**30, resource.RLIMIT_DATA: resource.RLIM_INFINITY}
    monkeypatch.setattr(resource, "getrlimit", lambda which: (limits[which], limits[which]))
    assert checks.available_memory() == 4 * 2**30  # the address space left under RLIMIT_AS
    limits[resource.RLIMIT_DATA] = 2**30
    assert checks.available_memory() == 2**29  # RLIMIT_DATA less the data in use


@pytest.mark.parametrize(
    ("files", "room"),
    [
        ({"memory.max": "3221225472", "memory.current": "1073741824"}, 2 * 2**30),  # v2
        ({"memory.max": "max", "memory.current": "1073741824"}, None),
        ({"memory.limit_in_bytes": "2147483648", "memory.usage_in_bytes": "536870912"}, 1.5),
        ({"memory.limit_in_bytes": "9223372036854771712"}, None),  # v1 without a limit
    ],
)
def test_available_memory_reads_the_cgroup_limit(tmp_path, monkeypatch, files, room):
    for name, text in files.items():
        (tmp_path / name).write_text(text + "\n")
    monkeypatch.setattr(checks, "_cgroup_folders", lambda: [str(tmp_path)])
    expected = room if room is None or room > 2 else int(room * 2**30)
    assert checks._cgroup_room() == expected
    monkeypatch.setattr(checks, "_free_memory", lambda: 64 * 2**40)
    monkeypatch.setattr(checks, "_usage", dict)
    if expected is not None:
        assert checks.available_memory() <= expected


def test_limits_set_the_ceilings_for_a_block_and_for_processes_started_in_it():
    with checks.limits(max_memory="3MiB", max_steps=1000):
        assert checks.max_memory() == 3 * 2**20 and checks.max_steps() == 1000
        assert os.environ[checks.MEMORY_VARIABLE] == str(3 * 2**20)
    assert checks.MEMORY_VARIABLE not in os.environ and checks.STEPS_VARIABLE not in os.environ


def test_the_global_options_raise_and_lower_the_ceilings():
    big = ["compare", "driven_oscillator", "--t-end", "2", "--methods", "rk4"]
    line = one_line_error(invoke("--max-memory", "1MiB", *big))
    assert "more than the 1.0 MiB allowed (raise it with dynsys --max-memory" in line
    line = one_line_error(invoke("--max-steps", "100", *big))
    assert "more than the 100 allowed (raise it with dynsys --max-steps" in line
    assert invoke("--max-memory", "1GiB", "--max-steps", "1e6", *big).exit_code == 0
    line = one_line_error(invoke("--max-memory", "lots", *big))
    assert "--max-memory must be a size" in line
    assert checks.MEMORY_VARIABLE not in os.environ  # nothing leaks out of the command
    line = one_line_error(invoke(*big, env={checks.MEMORY_VARIABLE: "1MiB"}))
    assert "1.0 MiB allowed" in line


# -- sizes: every entry point refuses before allocating or looping ----------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["compare", "driven_oscillator", "--t-end", "1e7", "--dt", "1e-5"], "take a larger dt"),
        (["compare", "driven_oscillator", "--t-end", "1e10", "--dt", "1e-5"], "dt"),
        (["convergence", "driven_oscillator", "--levels", "30"], "levels/--levels="),
        (["convergence", "driven_oscillator", "--levels", "60"], "levels/--levels="),
        (["convergence", "driven_oscillator", "--levels", "1000"], "levels/--levels="),
        (["simulate", "driven_oscillator", "--t-end", "1e9", "--dt", "1e-3"], "--max-steps"),
        (["train", "driven_oscillator", "--hidden", "1000000000"], "hidden"),
        (["train", "driven_oscillator", "--n-train", "1000000000"], "trajectories"),
        (["train", "driven_oscillator", "--t-end", "1e12"], "t_end"),
        (["train", "driven_oscillator", "--epochs", "1000000000"], "epochs"),
        (["train", "lorenz", "--model", "esn", "--units", "100000000"], "units"),
    ],
)
def test_huge_requests_are_refused_at_once_in_one_line(tmp_path, args, field):
    out = ["--out", tmp_path / "m.npz"] if args[0] == "train" else []
    began = time.perf_counter()
    line = one_line_error(invoke(*args, *out))
    assert time.perf_counter() - began < 3.0
    assert field in line
    assert not (tmp_path / "m.npz").exists()


def test_a_batch_too_large_for_solve_ivp_one_by_one_is_refused(monkeypatch):
    rows = [a for _ in range(20_000) for a in ("--s0", "1,0")]
    line = one_line_error(invoke("simulate", "driven_oscillator", "--method", "solve_ivp", *rows))
    assert "20000 trajectories x 5000 steps (solve_ivp solves them one by one)" in line
    line = one_line_error(invoke("compare", "driven_oscillator", "--save-every", "10", *rows))
    assert "20000 trajectories" in line and "raise it with" in line


def test_compare_and_convergence_are_refused_before_anything_runs(monkeypatch):
    osc = get_system("driven_oscillator")

    def no_solve(*args, **kwargs):
        raise AssertionError("solve_ivp was called")

    monkeypatch.setattr(dynsys.study, "reference", no_solve)
    with checks.limits(max_memory="2MiB"), pytest.raises(InputError, match="comparing 4 methods"):
        compare(osc, [1.0, 0.0], t_span=(0, 20), dt=0.001)
    with (
        checks.limits(max_steps=10_000),
        pytest.raises(InputError, match=r"levels/--levels=5 would fit"),
    ):
        convergence(osc, [1.0, 0.0], t_span=(0, 10), dt=0.1, levels=8)


def test_the_estimate_is_the_peak_of_the_run():
    """tracemalloc's peak stays under the estimate, whose part that grows with the run (all but
    the loop's fixed megabytes) is within a factor of two of it."""
    for system, s0, method in [
        (get_system("driven_oscillator"), [1.0, 0.0], "rk4"),
        (get_system("lorenz"), np.ones((20, 3)), "semi_implicit_euler"),
        (get_system("driven_oscillator"), [1.0, 0.0], "solve_ivp"),
    ]:
        size = plan_size(system, s0, t_span=(0, 20), dt=0.002, method=method)
        tracemalloc.start()
        try:
            simulate(system, s0, t_span=(0, 20), dt=0.002, method=method, backend="numpy")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak <= size.peak(), (method, peak, size.peak())
        assert size.peak() - size.work_bytes() < 2 * peak, (method, peak, size.peak())


def test_a_comparison_counts_every_trajectory_it_holds():
    osc = get_system("driven_oscillator")
    one = plan_size(osc, [1.0, 0.0], t_span=(0, 20), dt=0.001)
    with checks.limits(max_memory=one.peak() + 1):
        one.check()  # one run fits
        with pytest.raises(InputError, match="comparing 4 methods on 20001 saved steps"):
            check_compare(osc, [1.0, 0.0], t_span=(0, 20), dt=0.001)


def test_training_settings_are_refused_before_any_data_is_simulated(tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("trajectories were simulated")

    monkeypatch.setattr(rnn_data, "solve_trajectories", no_data)
    for args, message in [
        (["--hidden", "0"], "hidden must be a whole number >= 1, got 0"),
        (["--lr", "-0.1"], "lr must be > 0, got -0.1"),
        (["--batch-size", "0"], "batch_size must be a whole number >= 1"),
        (["--patience", "3", "--n-val", "0"], "patience needs validation trajectories"),
        (["--closed-loop-epochs", "2", "--rollout", "999"], "rollout must be at most the 200"),
        (["--model", "elman", "--closed-loop-epochs", "2"], "closed_loop_epochs applies to"),
        (["--model", "esn", "--leak", "2"], "leak must be <= 1, got 2.0"),
        (["--dt", "1e-320"], "h=9.99989e-321 is too small"),
    ]:
        result = invoke("train", "driven_oscillator", *args, "--out", tmp_path / "m.npz")
        assert message in one_line_error(result), args


def test_evaluate_refuses_a_huge_test_set_before_simulating(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    small = ["--n-train", "2", "--n-val", "0", "--n-test", "1", "--t-end", "2"]
    result = invoke("train", "driven_oscillator", "--model", "ngrc", *small, "--out", path)
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(rnn_data, "solve_trajectories", lambda *a, **k: pytest.fail("solved"))
    line = one_line_error(invoke("evaluate", path, "--n-test", 10**9))
    assert "test trajectories" in line and "--n-test" in line
    line = one_line_error(invoke("evaluate", path, "--n-test", 0))
    assert "n_test must be a whole number >= 1" in line


def test_yaml_runs_are_refused_in_one_line(tmp_path):
    runs = tmp_path / "runs"
    for text, message in [
        ("simulation: {t_end: 1.0e+7, dt: 1.0e-5, methods: [euler]}", "--max-steps"),
        ("simulation: {t_end: 1, dt: 1.0e-320, methods: [euler]}", "is too small"),
        ("simulation: {t_end: 1, dt: 0.1, methods: [euler]}\nreference: {rtol: 1.0e-20}", "rtol"),
        (
            "simulation: {t_end: 1, dt: 0.1, methods: [euler]}\nmodel: {kind: jordan}\n"
            "dataset: {h: 1.0e-320}",
            "h=",
        ),
    ]:
        config = tmp_path / "c.yaml"
        config.write_text(f"name: edge\nsystem: {{name: driven_oscillator}}\n{text}\n")
        result = invoke("run", config, "--out", runs / "x", "--overwrite")
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert message in result.output.strip().splitlines()[-1]


# -- numbers at the edges ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "driven_oscillator", "--dt", "1e-320"],
        ["compare", "driven_oscillator", "--dt", "1e-320"],
        ["convergence", "driven_oscillator", "--dt", "1e-320"],
        ["simulate", "driven_oscillator", "--t0", "1e6", "--t-end", "1000001", "--dt", "1e-12"],
        ["simulate", "driven_oscillator", "--t0", "-1e308", "--t-end", "1e308"],
    ],
)
def test_steps_that_do_not_advance_are_refused_naming_dt(args):
    line = one_line_error(invoke(*args))
    assert "dt=" in line or "t_end - t0" in line


def test_the_grid_must_advance_in_float64():
    assert checks.step_count(0.0, 1.0, 0.25) == 4
    assert checks.step_count(1e6, 1e6 + 1, 1e-6) == 1_000_000
    with pytest.raises(InputError, match=r"dt=1e-12 is too small for times near 1e\+06"):
        checks.step_count(1e6, 1e6 + 1, 1e-12)
    with pytest.raises(InputError, match=r"h=4\.94066e-324 is too small"):
        checks.step_count(0.0, 1.0, 5e-324, field="h")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--rtol", "1e-20"], "rtol must be at least 2.22e-14"),
        (["--atol", "1e-320"], "atol must be at least 2.23e-308"),
        (["--rtol", "-1"], "rtol must be > 0"),
    ],
)
def test_tolerances_solve_ivp_cannot_meet_are_refused(args, field):
    line = one_line_error(invoke("compare", "driven_oscillator", "--t-end", "1", *args))
    assert field in line


def test_a_solve_that_stops_at_its_first_step_is_a_solver_error():
    result = invoke("compare", "driven_oscillator", "--t-end", "5", "--rtol", "2.3e-14", "--atol",
                    "1e-300")  # fmt: skip
    assert "solve_ivp (DOP853) stopped at t = 0" in one_line_error(result, code=1)


# -- no NaN or inf in any output ----------------------------------------------------------------


class LogDrive(DrivenOscillator):
    """A drive that is not finite before t = 0.5: x = log(t - 0.5)."""

    name = "log_drive"

    @staticmethod
    def forcing(t, p):
        with np.errstate(all="ignore"):
            return np.log(t - 0.5)

    @staticmethod
    def vector_field(t, s, x, p):
        pos, vel = s
        return vel, -p.k * pos


def test_a_drive_that_is_not_finite_is_refused_naming_the_time():
    with pytest.raises(DynsysError, match=r"drive x\(t\) of log_drive is nan at t = 0,"):
        simulate(LogDrive(), [1.0, 0.0], t_span=(0, 2), dt=0.25)
    with pytest.raises(DynsysError, match=r"is -inf at t = 0.5,"):
        simulate(LogDrive(), [1.0, 0.0], t_span=(0.5, 2), dt=0.25, method="solve_ivp")


def test_a_trajectory_with_non_finite_values_is_not_written(tmp_path):
    t = np.arange(4) * 0.5
    states = np.array([[1.0, 0.0], [1.0, np.inf], [1.0, 0.0], [1.0, 0.0]])
    traj = Trajectory(t, states, get_system("van_der_pol"), "euler", 0.5)
    for suffix in (".csv", ".npz", ".json"):
        with pytest.raises(
            DynsysError, match=r"a state is not a finite number at t = 0.5 \(step 1\)"
        ):
            write_trajectory(traj, tmp_path / f"t{suffix}")
        assert not list(tmp_path.iterdir())
    driven = Trajectory(t, np.zeros((4, 2)), LogDrive(), "euler", 0.5)
    with pytest.raises(
        DynsysError, match=r"the drive x is not a finite number at t = 0 \(step 0\)"
    ):
        write_trajectory(driven, tmp_path / "d.csv")


def test_a_yaml_drive_that_is_not_finite_fails_the_run_and_writes_no_csv(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: logdrive\nsystem:\n  states: [s]\n  params: {a: 1.0}\n  equations: {s: -a*s}\n"
        "  drive: log(t - 0.5)\n  s0: [1.0]\nsimulation: {t_end: 2, dt: 0.25, methods: [euler]}\n"
        "output: {trajectories: csv}\n"
    )
    result = invoke("run", config, "--out", tmp_path / "run")
    assert result.exit_code == 1, result.output
    assert "is nan at t = 0" in result.output.strip().splitlines()[-1]
    assert not list((tmp_path / "run").rglob("*.csv"))


# -- what a divergence suggests --------------------------------------------------------------


@pytest.mark.parametrize("method", ["euler", "semi_implicit_euler", "rk4", "heun"])
def test_a_divergence_never_suggests_the_method_that_failed(method):
    with pytest.raises(DivergenceError) as info:
        simulate(get_system("van_der_pol", mu=50.0), [2.0, 0.0], t_span=(0, 50), dt=0.5,
                 method=method)  # fmt: skip
    hint = info.value.hint
    suggested = hint.split("another method (")[1].rstrip(")").split(", ")
    assert method not in suggested and len(suggested) == 2


# -- counts in messages -------------------------------------------------------------------------


def test_trajectories_are_counted_by_initial_states_not_by_states():
    lorenz = get_system("lorenz")
    with checks.limits(max_steps=10), pytest.raises(InputError, match=r"simulating 1 trajectory x"):
        simulate(lorenz, [1.0, 1.0, 1.0], t_span=(0, 1), dt=0.01)
    with checks.limits(max_steps=10), pytest.raises(InputError, match="simulating 3 trajectories"):
        simulate(lorenz, np.ones((3, 3)), t_span=(0, 1), dt=0.01)


# -- what the model commands print ------------------------------------------------------------


def test_the_training_line_and_the_table_read_right(tmp_path):
    small = ["--n-train", "2", "--n-val", "1", "--n-test", "2", "--t-end", "2"]
    stages = ["--epochs", "2", "--whole-epochs", "1", "--seq-len", "5"]
    args = ["train", "driven_oscillator", "--model", "elman", *small, *stages]
    result = invoke(*args, "--out", tmp_path / "e.npz")
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[0]
    assert line.startswith("trained a model of kind elman (hidden=32,")
    assert "(2 training trajectories, h = 0.1)" in line
    assert "fit: lbfgs, " in line and "; whole: lbfgs, " in line
    assert "epochs, epochs" not in line and " 1 iterations" not in line
    table = result.output.splitlines()[1:7]
    cells = [row.split()[4:6] for row in table[2:]]  # valid_time, valid_time_smape
    assert all(re.fullmatch(r"\d+\.\d{3}|-", cell) for row in cells for cell in row), table


def test_fit_checks_its_loop_before_the_first_epoch():
    from dynsys.rnn.models import JordanRNN
    from dynsys.rnn.train import fit

    model = JordanRNN(1, 4, 2)
    X, Y, h0 = np.zeros((3, 10, 1)), np.zeros((3, 10, 2)), np.zeros((3, 2))
    with checks.limits(max_steps=100), pytest.raises(InputError, match="5 epochs of 3 sequences"):
        fit(model, (X, Y, h0), epochs=5)
    with checks.limits(max_memory="1KiB"), pytest.raises(InputError, match="back-propagating"):
        fit(model, (X, Y, h0), epochs=5)
