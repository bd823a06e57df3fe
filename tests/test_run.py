"""dynsys run: the shipped configs end to end, the run folder, metrics, refusals and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from test_report import assert_report  # tests/test_report.py

import dynsys
import dynsys.plots
import dynsys.rnn.train
from dynsys.cli import main
from dynsys.lyapunov import largest_exponent
from dynsys.rnn.io import load_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RNN_SHORT = (
    "dataset.n_train=8",
    "dataset.n_val=4",
    "dataset.n_test=4",
    "dataset.t_end=4",
    "training.epochs=20",
)
SHORT = {  # the shipped experiments (sweeps: test_sweep.py), shortened to seconds
    "seed_oscillator": ("simulation.t_end=5",),
    "steppers": ("simulation.t_end=5", "plots.1.options.levels=2"),
    "rnn_oscillator": ("simulation.t_end=2", *RNN_SHORT),
    "rnn_oscillator_elman": ("simulation.t_end=2", *RNN_SHORT, "training.whole_epochs=5"),
    "van_der_pol": ("simulation.t_end=5",),
    "lorenz_forecast": (
        "simulation.t_end=2",
        "dataset.n_train=4",
        "dataset.n_val=2",
        "dataset.n_test=3",
        "dataset.t_end=1",
        "dataset.seq_len=10",
        "model.hidden=8",
        "training.epochs=5",
    ),
    "user_pendulum": ("simulation.t_end=5",),
    "stiff_robertson": ("simulation.t_end=50",),
    "lorenz_lyapunov": ("simulation.t_end=2", "lyapunov.t_end=30", "lyapunov.transient=5"),
    "logistic_bifurcation": (
        "simulation.t_end=50",
        "bifurcation.n=121",
        "bifurcation.transient=500",
        "bifurcation.keep=64",
        "bifurcation.lyapunov_iterations=1000",
    ),
}
TEST_ROWS = {"model", "euler", "semi_implicit_euler", "rk4"}
TEST_KEYS = {"rel_l2", "rmse", "max_abs_error", "valid_time", "valid_time_smape"}
SIM_KEYS = {"max_abs_error", "rmse", "rel_l2", "final_abs_error"}


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def sets(overrides) -> list[str]:
    return [item for o in overrides for item in ("--set", o)]


def run_config(name: str, out: Path, *extra) -> object:
    return invoke("run", CONFIGS / f"{name}.yaml", *sets(SHORT[name]), "--out", out, *extra)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def without_timings(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "timings"}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def registry():
    """The user systems the runs register leave the registry with the module."""
    before = dict(dynsys.SYSTEMS)
    yield
    dynsys.SYSTEMS.clear()
    dynsys.SYSTEMS.update(before)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """Run a shipped config (shortened) once per module; return its folder and output."""
    done: dict[str, tuple[Path, object]] = {}

    def run(name: str) -> tuple[Path, object]:
        if name not in done:
            out = tmp_path_factory.mktemp("runs") / name
            done[name] = (out, run_config(name, out, "--quiet"))
        return done[name]

    return run


def test_run_has_help_with_examples():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert (
        "Examples:" in result.output and "dynsys run configs/rnn_oscillator.yaml" in result.output
    )


def test_every_shipped_experiment_is_tested():
    configs = {p.stem for p in CONFIGS.glob("*.yaml")}
    sweeps = {
        name
        for name in configs
        if "sweep" in yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    }
    assert configs - sweeps == set(SHORT)
    assert sweeps == {"dt_sweep", "forecast", "hidden_seed_sweep"}


@pytest.mark.parametrize("name", sorted(SHORT))
def test_shipped_config_runs_and_writes_its_files(shipped, name):
    folder, result = shipped(name)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    status = read_json(folder / "status.json")
    assert status["state"] == "done"
    sections = ("lyapunov", "bifurcation", "model")
    steps = ["simulation", *(s.replace("model", "train") for s in sections if s in config)]
    steps += [f"plot:{p.get('name', p['kind'])}" for p in config.get("plots", [])]
    assert status["completed"] == steps
    methods = config["simulation"]["methods"]
    is_map = methods == ["map"]  # a discrete map has no solve_ivp reference nor errors
    for method in [*methods, *([] if is_map else ["reference"])]:
        with np.load(folder / "trajectories" / f"{method}.npz") as data:
            assert np.isfinite(data["states"]).all() and data["t"][-1] == pytest.approx(
                float(SHORT[name][0].split("=")[1])
            )
    for plot in config.get("plots", []):
        path = folder / "plots" / f"{plot.get('name', plot['kind'])}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "model.npz").exists() == ("model" in config)
    metrics = read_json(folder / "metrics.json")
    assert metrics["name"] == config["name"] and metrics["seed"] == config["seed"]
    assert metrics["dynsys_version"] == dynsys.__version__
    assert set(metrics["simulation"]) == (set() if is_map else set(methods))
    for row in metrics["simulation"].values():
        assert set(row) >= SIM_KEYS and all(row[k] >= 0 for k in SIM_KEYS)
    assert ("test" in metrics) == ("model" in config)
    log = (folder / "run.log").read_text().splitlines()
    assert log[-1].endswith("run done") and all(line[:4].isdigit() for line in log)
    assert "results in" in result.output  # the summary table ends the output


@pytest.mark.parametrize("name", sorted(SHORT))
def test_shipped_config_writes_its_report_and_dynsys_report_rewrites_it(shipped, name):
    folder, result = shipped(name)
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith(f"report: {folder}/report.html")
    assert_report(folder)  # tests/test_report.py: tables, figures, no network, timings
    written = {p: (folder / p).read_bytes() for p in ("report.md", "report.html")}
    rewrite = invoke("report", folder)
    assert rewrite.exit_code == 0 and rewrite.output == f"{folder}/report.html\n"
    assert {p: (folder / p).read_bytes() for p in written} == written


def test_metrics_rank_the_steppers(shipped):
    folder, _ = shipped("steppers")
    sim = read_json(folder / "metrics.json")["simulation"]
    rel = {name: row["rel_l2"] for name, row in sim.items()}
    assert rel["euler"] > 2 * rel["semi_implicit_euler"] > 100 * rel["heun"] > 1e5 * rel["rk4"]
    assert rel["euler"] == pytest.approx(8.0e-3, rel=0.01)  # first order: ~ dt t / 2 ...
    assert rel["rk4"] == pytest.approx(1.46e-10, rel=0.01)  # fourth order
    assert sim["rk4"]["exact"]["max_abs_error"] < 1e-8  # against the exact solution too
    assert "wall_s" not in sim["euler"]
    timings = read_json(folder / "metrics.json")["timings"]
    assert set(timings["methods"]) == set(sim) and timings["simulation"] > 0


def test_test_table_is_the_evaluation_of_the_saved_model(shipped):
    folder, _ = shipped("rnn_oscillator")
    test = read_json(folder / "metrics.json")["test"]
    assert set(test) == TEST_ROWS and all(set(row) == TEST_KEYS for row in test.values())
    assert test == load_model(folder / "model.npz").extra["test"]
    assert test["model"]["rel_l2"] < test["euler"]["rel_l2"]  # even a short fit beats Euler
    training = read_json(folder / "metrics.json")["training"]["fit"]
    assert 1 <= training["epochs_run"] <= 20 and "wall_s" not in training


def test_lorenz_valid_times_in_lyapunov_times(shipped):
    folder, _ = shipped("lorenz_forecast")
    test = read_json(folder / "metrics.json")["test"]
    assert set(test) == TEST_ROWS
    lam = largest_exponent(dynsys.get_system("lorenz"))  # computed, not a table's 0.9056
    assert lam == pytest.approx(0.9056, abs=0.01)
    for row in test.values():
        assert row["valid_time_lyapunov"] == pytest.approx(row["valid_time"] * lam)
    assert load_model(folder / "model.npz").training["model"]["activation"] == "tanh"


def test_user_system_is_built_and_registered(shipped):
    folder, _ = shipped("user_pendulum")
    metrics = read_json(folder / "metrics.json")
    assert metrics["system"] == "user_driven_pendulum"
    pendulum = dynsys.get_system("user_driven_pendulum")
    assert pendulum.states == ("theta", "omega") and pendulum.driven
    assert "energy_error" in metrics["simulation"]["rk4"]
    rel = {name: row["rel_l2"] for name, row in metrics["simulation"].items()}
    assert rel["euler"] > rel["semi_implicit_euler"] > rel["rk4"]


def test_same_config_same_metrics_and_resolved_config_reruns_it(shipped, tmp_path):
    first, _ = shipped("rnn_oscillator")
    again = run_config("rnn_oscillator", tmp_path / "again", "--quiet")
    assert again.exit_code == 0, again.output
    rerun = invoke("run", first / "config.resolved.yaml", "--out", tmp_path / "re", "--quiet")
    assert rerun.exit_code == 0, rerun.output
    metrics = [read_json(f / "metrics.json") for f in (first, tmp_path / "again", tmp_path / "re")]
    assert without_timings(metrics[0]) == without_timings(metrics[1])
    assert without_timings(metrics[0]) == without_timings(metrics[2])
    assert metrics[0]["timings"] != metrics[1]["timings"]  # only the wall times differ


def test_set_overrides_land_in_the_resolved_config(shipped):
    folder, _ = shipped("rnn_oscillator")
    resolved = yaml.safe_load((folder / "config.resolved.yaml").read_text())
    assert resolved["simulation"]["t_end"] == 2.0
    assert resolved["dataset"]["n_train"] == 8 and resolved["training"]["epochs"] == 20
    assert resolved["reference"] == {"method": "DOP853", "rtol": 1e-10, "atol": 1e-12}
    assert resolved["model"]["hidden"] == 32  # defaults filled in
    assert read_json(folder / "metrics.json")["test"]  # and the run used them:
    assert load_model(folder / "model.npz").dataset["n_train"] == 8


def test_existing_folder_is_refused_without_overwrite(shipped):
    folder, _ = shipped("seed_oscillator")
    before = snapshot(folder)
    result = run_config("seed_oscillator", folder, "--quiet")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: output folder {folder} exists; pass --overwrite to replace it "
        "or --resume to continue the run in it"
    ]
    assert snapshot(folder) == before


def test_overwrite_replaces_only_a_run_folder(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    result = run_config("seed_oscillator", other, "--overwrite", "--quiet")
    assert result.exit_code == 2 and "not a dynsys run folder" in result.output
    assert (other / "notes.txt").read_text() == "keep me"
    run = tmp_path / "run"
    assert run_config("seed_oscillator", run, "--quiet").exit_code == 0
    (run / "stale.txt").write_text("mine")  # not written by dynsys: it stays
    result = run_config("seed_oscillator", run, "--overwrite", "--set", "plots=[]", "--quiet")
    assert result.exit_code == 0, result.output
    assert (run / "stale.txt").read_text() == "mine"
    assert read_json(run / "status.json")["state"] == "done"
    assert [p.name for p in (run / "plots").iterdir()] == ["overview.png"]  # old figures went


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.yaml",), "missing.yaml: "),  # then: no such file
        (("{config}", "--set", "model.hiden=4"), "did you mean 'hidden'?"),
        (("{config}", "--set", "plots.0.options.bogus=1"), "unknown option 'bogus'"),
        (("{config}", "--set", "plots.1.kind=rollout"), "draws the trained network"),
        (("{config}", "--jobs", "2"), "apply to a config with a sweep"),
        (("--resume", "{out}"), "no config.resolved.yaml"),
        ((), "give a CONFIG file"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    config = CONFIGS / "seed_oscillator.yaml"
    args = [str(a).format(config=config, out=out) for a in args]
    extra = [] if "--resume" in args or not args else ["--out", out]
    result = invoke("run", *args, *extra, "--quiet")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert not out.exists()


def test_ctrl_c_leaves_completed_steps_and_resume_finishes(tmp_path, monkeypatch, shipped):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    folder = tmp_path / "run"
    monkeypatch.setattr(dynsys.plots, "timeseries_plot", interrupted)
    result = run_config("seed_oscillator", folder, "--quiet")
    assert result.exit_code == 130
    assert f"continue with: dynsys run --resume {folder}" in result.output
    status = read_json(folder / "status.json")
    assert status["state"] == "interrupted"
    assert status["completed"] == ["simulation", "plot:phase"]
    assert "plot:timeseries" in status["message"]
    assert (folder / "plots" / "phase.png").exists()
    assert not (folder / "plots" / "timeseries.png").exists()
    with np.load(folder / "trajectories" / "euler.npz") as data:
        assert data["states"].shape == (501, 2)
    assert "simulation" in read_json(folder / "metrics.json")
    assert not [p for p in folder.rglob("*.tmp")]  # no temporary files left behind

    monkeypatch.undo()
    phase = (folder / "plots" / "phase.png").stat().st_mtime_ns
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    status = read_json(folder / "status.json")
    assert status["state"] == "done"
    assert status["completed"] == ["simulation", "plot:phase", "plot:timeseries"]
    assert (folder / "plots" / "phase.png").stat().st_mtime_ns == phase
    log = (folder / "run.log").read_text()
    assert "simulation: completed before, skipped" in log and "plot:phase: completed before" in log
    full, _ = shipped("seed_oscillator")
    assert without_timings(read_json(folder / "metrics.json")) == without_timings(
        read_json(full / "metrics.json")
    )


def test_interrupted_training_resumes_from_its_saved_parameters(tmp_path, monkeypatch):
    end_epoch = dynsys.rnn.train._Loop.end_epoch

    def stop_at_epoch_5(self, epoch, *args):
        if epoch == 5:
            raise KeyboardInterrupt
        return end_epoch(self, epoch, *args)

    folder = tmp_path / "run"
    monkeypatch.setattr(dynsys.rnn.train._Loop, "end_epoch", stop_at_epoch_5)
    result = run_config("rnn_oscillator", folder, "--quiet")
    assert result.exit_code == 130
    status = read_json(folder / "status.json")
    assert status["state"] == "interrupted" and status["completed"] == ["simulation"]
    assert "training interrupted" in status["message"]
    saved = load_model(folder / "model.npz").training["stages"]["fit"]
    assert saved["stopped_reason"] == "interrupted" and saved["epochs_run"] == 4
    assert "test" not in read_json(folder / "metrics.json")

    monkeypatch.undo()
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    assert read_json(folder / "status.json")["state"] == "done"
    fit = load_model(folder / "model.npz").training["stages"]["fit"]
    assert fit["message"].startswith("resumed after epoch 4, then ")
    assert 4 < fit["epochs_run"] <= 20 and fit["train_loss"][:4] == saved["train_loss"]
    assert fit["best_loss"] < saved["best_loss"]
    metrics = read_json(folder / "metrics.json")
    assert set(metrics["test"]) == TEST_ROWS and metrics["test"]["model"]["rel_l2"] < 1
    assert (
        "train: continuing from the parameters saved in model.npz"
        in (folder / "run.log").read_text()
    )


def test_a_figure_too_big_is_refused_before_the_run_starts(tmp_path):
    config = tmp_path / "bigfig.yaml"
    config.write_text(
        "name: bigfig\nsystem: {name: driven_oscillator}\n"
        "simulation: {s0: [1.0, 0.0], dt: 0.01, t_end: 2, methods: [rk4]}\n"
        "plots:\n  - {kind: timeseries, options: {t_span: [0, 1.0e9]}}\n"
    )
    out = tmp_path / "run"
    result = invoke("run", str(config), "--out", str(out), "--quiet")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "plots[0] (timeseries): a plot against time" in result.output
    assert "take dt >= 1e+03 or t_end <= 10000" in result.output
    assert not out.exists()


def test_the_config_limits_apply_unless_the_command_line_sets_one(tmp_path):
    config = tmp_path / "lim.yaml"
    config.write_text(
        "name: lim\nsystem: {name: driven_oscillator}\n"
        "simulation: {s0: [1.0, 0.0], dt: 0.01, t_end: 200, methods: [rk4]}\n"
        "limits: {max_steps: 1000}\n"
    )
    refused = invoke("config", "validate", config)
    assert refused.exit_code == 2
    assert "more than the 1e+03 allowed" in refused.output
    assert invoke("--max-steps", "1e6", "config", "validate", config).exit_code == 0
    bad = invoke("config", "validate", config, "--set", "limits.max_memory=lots")
    assert bad.exit_code == 2 and "limits.max_memory" in bad.output
