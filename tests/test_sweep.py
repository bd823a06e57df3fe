"""dynsys run on sweeps: one folder per point, the aggregate, resuming, and the executors."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import dynsys.experiments.run as run_module
import dynsys.experiments.sweep as sweep_module
from dynsys.cli import main
from dynsys.experiments.config import config_hash, load_config
from dynsys.experiments.sweep import point_names

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = """\
name: tiny-sweep
system: {name: driven_oscillator}
simulation: {s0: [1.0, 0.0], t_end: 2.0, methods: [euler, rk4]}
output: {trajectories: none}
sweep:
  grid:
    simulation.dt: [0.1, 0.05, 0.02]
    system.params.A: [0.5, 1.0]
"""
VALUES = [(dt, a) for dt in (0.1, 0.05, 0.02) for a in (0.5, 1.0)]


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny 3 x 2 sweep's config file and the folder of its run with one job."""
    root = tmp_path_factory.mktemp("sweep")
    config = root / "tiny.yaml"
    config.write_text(TINY)
    folder = root / "jobs1"
    result = invoke("run", config, "--out", folder, "--quiet")
    assert result.exit_code == 0, result.output
    return config, folder, result.output


def test_grid_runs_one_folder_per_point_and_aggregates_them(tiny):
    _, folder, output = tiny
    points = sorted(p.name for p in (folder / "points").iterdir())
    assert len(points) == 6
    rows = read_csv(folder / "sweep.csv")
    assert [(float(r["simulation.dt"]), float(r["system.params.A"])) for r in rows] == VALUES
    assert sorted(r["point"] for r in rows) == points
    columns = list(rows[0])
    assert columns[:4] == ["point", "status", "simulation.dt", "system.params.A"]
    assert "simulation.euler.rel_l2" in columns and "simulation.rk4.max_abs_error" in columns
    for row in rows:
        sub = folder / "points" / row["point"]
        digest = config_hash(load_config(sub / "config.resolved.yaml"))
        dt, a = float(row["simulation.dt"]), float(row["system.params.A"])
        assert row["point"] == f"dt={dt:g}_A={a:g}-{digest[:6]}"
        assert read_json(sub / "status.json")["state"] == "done" and row["status"] == "done"
        metrics = read_json(sub / "metrics.json")
        assert float(row["simulation.euler.rel_l2"]) == metrics["simulation"]["euler"]["rel_l2"]
        resolved = load_config(sub / "config.resolved.yaml")
        assert resolved.sweep is None
        assert (resolved.simulation.dt, resolved.system.params["A"]) == (
            float(row["simulation.dt"]),
            float(row["system.params.A"]),
        )
    euler = {(float(r["simulation.dt"]), r["system.params.A"]): r for r in rows}
    for a in ("0.5", "1.0"):  # first order: the error falls with dt
        errors = [float(euler[dt, a]["simulation.euler.rel_l2"]) for dt in (0.1, 0.05, 0.02)]
        assert errors[0] > 1.8 * errors[1] > 1.8 * 2 * errors[2]
    doc = read_json(folder / "sweep.json")
    assert doc["swept"] == ["simulation.dt", "system.params.A"] and len(doc["points"]) == 6
    assert doc["points"][0]["folder"] == f"points/{rows[0]['point']}"
    assert (folder / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    status = read_json(folder / "status.json")
    assert status["state"] == "done" and sorted(status["completed"]) == points
    assert "sweep of 6 points: 6 done, 0 failed" in output


def test_resume_skips_completed_points(tiny, tmp_path):
    _, folder, _ = tiny
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    rows = read_csv(copy / "sweep.csv")
    lost = copy / "points" / rows[2]["point"]
    shutil.rmtree(lost)  # as if the sweep had stopped before this point
    kept = {
        r["point"]: (copy / "points" / r["point"] / "metrics.json").stat().st_mtime_ns
        for r in rows
        if r["point"] != rows[2]["point"]
    }
    result = invoke("run", "--resume", copy, "--quiet")
    assert result.exit_code == 0, result.output
    log = (copy / "run.log").read_text()
    assert log.count("done before, skipped") == 5
    ran = [line for line in log.splitlines() if ": done in" in line]
    assert len(ran) == 7 and f"point {rows[2]['point']} (" in ran[-1]  # 6 first, 1 now
    for point, mtime in kept.items():
        assert (copy / "points" / point / "metrics.json").stat().st_mtime_ns == mtime
    assert read_json(lost / "status.json")["state"] == "done"
    assert (copy / "sweep.csv").read_bytes() == (folder / "sweep.csv").read_bytes()


def test_point_names_hold_the_varied_values(tiny):
    _, folder, _ = tiny
    names = sorted(p.name for p in (folder / "points").iterdir())
    shown = sorted(f"dt={dt:g}_A={a:g}" for dt, a in VALUES)
    assert [n.rsplit("-", 1)[0] for n in names] == shown
    assert all(len(n.rsplit("-", 1)[1]) == 6 for n in names)


def test_point_names_are_short_safe_and_unique():
    keys = ["system.params.A", "dataset.params.A", "simulation.s0[1]", "sweep.method"]
    values = [
        {keys[0]: 0.1, keys[1]: 1e-7, keys[2]: [1.0, -0.5], keys[3]: "a/b c" + "x" * 40},
        {keys[0]: 0.1 + 1e-12, keys[1]: 1e-7, keys[2]: [1.0, -0.5], keys[3]: "a/b c" + "x" * 40},
    ]
    names = point_names(values, ["0123456789ab", "012345ffffff"], keys)
    # equal once written :g and cut, and equal in the first 6 hex digits: the whole hash
    stem = "system.params.A=0.1_dataset.params.A=1e-07_s0.1=1,-0.5_method=a-b-c" + "x" * 19
    assert names == [f"{stem}-0123456789ab", f"{stem}-012345ffffff"]  # a value: 24 characters
    assert point_names([{"seed": 3, "dt": 0.01}], ["abcdef123456"], ["seed", "dt"]) == [
        "seed=3_dt=0.01-abcdef"
    ]


def test_resume_renames_point_folders_named_by_hash(tiny, tmp_path):
    _, folder, _ = tiny
    copy = tmp_path / "old"
    shutil.copytree(folder, copy)
    rows = read_csv(copy / "sweep.csv")
    digests = {}
    for row in rows:  # the folders as sweeps named them before: the bare config hash
        sub = copy / "points" / row["point"]
        digests[row["point"]] = config_hash(load_config(sub / "config.resolved.yaml"))
        sub.rename(copy / "points" / digests[row["point"]])
    status = read_json(copy / "status.json")
    status["completed"] = [digests[n] for n in status["completed"]]
    (copy / "status.json").write_text(json.dumps(status))
    result = invoke("run", "--resume", copy, "--quiet")
    assert result.exit_code == 0, result.output
    log = (copy / "run.log").read_text()
    assert log.count("done before, skipped") == 6 and log.count("folder renamed to") == 6
    assert sorted(p.name for p in (copy / "points").iterdir()) == sorted(digests)
    assert sorted(read_json(copy / "status.json")["completed"]) == sorted(digests)
    assert (copy / "sweep.csv").read_bytes() == (folder / "sweep.csv").read_bytes()


def test_two_processes_give_the_same_sweep(tiny, tmp_path):
    config, folder, _ = tiny
    result = invoke("run", config, "--out", tmp_path / "jobs2", "--jobs", "2", "--quiet")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "jobs2" / "sweep.csv").read_bytes() == (folder / "sweep.csv").read_bytes()
    assert "executor local, 2 job(s)" in (tmp_path / "jobs2" / "run.log").read_text()


def test_dask_cluster_gives_the_same_sweep(tiny, tmp_path):
    distributed = pytest.importorskip("distributed")
    config, folder, _ = tiny
    with distributed.LocalCluster(
        n_workers=1,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        out = tmp_path / "dask"
        result = invoke("run", config, "--out", out, "--scheduler", cluster.scheduler_address)
        assert result.exit_code == 0, result.output
    assert (out / "sweep.csv").read_bytes() == (folder / "sweep.csv").read_bytes()
    assert "executor dask" in (out / "run.log").read_text()


@pytest.mark.parametrize(
    "how", [("--scheduler", "tcp://127.0.0.1:9"), ("--set", "sweep.executor=dask")]
)
def test_dask_not_installed_is_one_line_exit_2(tiny, tmp_path, monkeypatch, how):
    config, _, _ = tiny
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    out = tmp_path / "out"
    result = invoke("run", config, *how, "--out", out, "--quiet")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pip install 'dynsys[dask]'" in lines[0]
    assert not out.exists()


def test_unreachable_scheduler_is_one_line_exit_2(tiny, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(sweep_module, "SCHEDULER_TIMEOUT", 1)
    config, _, _ = tiny
    out = tmp_path / "out"
    result = invoke("run", config, "--scheduler", "tcp://127.0.0.1:9", "--out", out, "--quiet")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: cannot reach the dask scheduler at tcp://127.0.0.1:9")
    assert not out.exists()


def test_sweep_without_points_is_refused(tmp_path):
    config = tmp_path / "empty.yaml"
    config.write_text(TINY.split("sweep:")[0] + "sweep: {grid: {simulation.dt: []}}\n")
    result = invoke("run", config, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no points" in lines[0]
    assert not (tmp_path / "out").exists()


def test_existing_sweep_folder_is_refused(tiny):
    config, folder, _ = tiny
    before = (folder / "sweep.csv").stat().st_mtime_ns
    result = invoke("run", config, "--out", folder, "--quiet")
    assert result.exit_code == 2 and "exists; pass --overwrite" in result.output
    assert (folder / "sweep.csv").stat().st_mtime_ns == before


def test_a_failing_point_is_recorded_and_the_others_run(tmp_path):
    config = tmp_path / "fails.yaml"
    config.write_text(
        TINY.split("sweep:")[0]
        + "plots: [{kind: convergence, options: {t_span: [0.0, 1.0], levels: 1}}]\n"
        + "sweep: {points: [{simulation.dt: 0.1}, {simulation.dt: 0.3}]}\n"
    )
    out = tmp_path / "out"
    result = invoke("run", config, "--out", out, "--quiet")
    assert result.exit_code == 1
    assert "1 of 2 sweep points failed" in result.output
    rows = read_csv(out / "sweep.csv")
    assert [r["status"] for r in rows] == ["done", "failed"]
    assert rows[1]["simulation.euler.rel_l2"] == ""
    failed = read_json(out / "points" / rows[1]["point"] / "status.json")
    assert failed["state"] == "failed" and "whole number of steps" in failed["message"]
    assert read_json(out / "status.json")["state"] == "failed"


def test_shipped_dt_sweep(tmp_path):
    out = tmp_path / "dt"
    config = CONFIGS / "dt_sweep.yaml"
    result = invoke("run", config, "--set", "simulation.t_end=2", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "sweep.csv")
    assert [float(r["simulation.dt"]) for r in rows] == [0.1, 0.05, 0.02, 0.01, 0.005]
    for method, order in (("euler", 1), ("heun", 2), ("rk4", 4)):
        errors = [float(r[f"simulation.{method}.max_abs_error"]) for r in rows]
        assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.25)  # dt halved
    assert (out / "sweep.png").exists() and not (
        out / "points" / rows[0]["point"] / "trajectories"
    ).exists()
    assert_sweep_report(out, 5)


def test_shipped_hidden_seed_sweep(tmp_path):
    out = tmp_path / "hs"
    short = [
        "simulation.t_end=1",
        "dataset.n_train=4",
        "dataset.n_val=2",
        "dataset.n_test=2",
        "dataset.t_end=2",
        "training.epochs=3",
    ]
    sets = [item for s in short for item in ("--set", s)]
    result = invoke("run", CONFIGS / "hidden_seed_sweep.yaml", *sets, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "sweep.csv")
    assert [(r["model.hidden"], r["seed"]) for r in rows] == [
        (h, s) for h in ("8", "16", "32") for s in ("0", "1")
    ]
    for row in rows:
        metrics = read_json(out / "points" / row["point"] / "metrics.json")
        assert float(row["test.model.rel_l2"]) == metrics["test"]["model"]["rel_l2"]
        assert float(row["test.model.valid_time"]) == metrics["test"]["model"]["valid_time"]
        assert metrics["seed"] == int(row["seed"])
    assert len({r["test.model.rel_l2"] for r in rows}) == 6  # each point its own fit
    assert_sweep_report(out, 6)


def test_ctrl_c_stops_the_sweep_and_resume_completes_it(tiny, tmp_path, monkeypatch):
    config, folder, _ = tiny
    compare = run_module.compare_methods
    calls = []

    def third_is_interrupted(plan):
        calls.append(plan)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return compare(plan)

    out = tmp_path / "out"
    monkeypatch.setattr(run_module, "compare_methods", third_is_interrupted)
    result = invoke("run", config, "--out", out, "--quiet")
    assert result.exit_code == 130 and len(calls) == 3
    status = read_json(out / "status.json")
    assert status["state"] == "interrupted" and len(status["completed"]) == 2
    rows = read_csv(folder / "sweep.csv")
    third = out / "points" / rows[2]["point"]
    assert read_json(third / "status.json")["state"] == "interrupted"
    assert not (out / "points" / rows[3]["point"]).exists() and not (out / "sweep.csv").exists()

    monkeypatch.undo()
    result = invoke("run", "--resume", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert (out / "sweep.csv").read_bytes() == (folder / "sweep.csv").read_bytes()
    assert (out / "run.log").read_text().count("done before, skipped") == 2


def test_shipped_forecast_sweep_covers_every_kind(tmp_path):
    from dynsys.rnn.kinds import MODEL_KINDS

    config = yaml.safe_load((CONFIGS / "forecast.yaml").read_text())
    assert sorted(config["sweep"]["grid"]["model.kind"]) == sorted(MODEL_KINDS)
    out = tmp_path / "fc"
    short = [
        "simulation.t_end=1",
        "dataset.n_train=4",
        "dataset.n_val=2",
        "dataset.n_test=2",
        "dataset.t_end=4",
        "sweep.grid={model.kind: [ngrc, esn], seed: [0, 1]}",
        "model.kind=esn",
    ]
    sets = [item for s in short for item in ("--set", s)]
    result = invoke("run", CONFIGS / "forecast.yaml", *sets, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    rows = read_csv(out / "sweep.csv")
    assert [(r["model.kind"], r["seed"]) for r in rows] == [
        (k, s) for k in ("ngrc", "esn") for s in ("0", "1")
    ]
    assert all(r["status"] == "done" and r["test.model.valid_time"] for r in rows)
    assert all(float(r["test.model.rel_l2"]) < 1 for r in rows if r["model.kind"] == "esn")
    assert_sweep_report(out, 4)


def assert_sweep_report(folder, points: int) -> str:
    """A sweep's report links each point's report (there), embeds sweep.png and nothing from
    the network; returns report.md."""
    md = (folder / "report.md").read_text()
    page = (folder / "report.html").read_text()
    for point in read_json(folder / "sweep.json")["points"]:
        where = point["folder"]
        assert (folder / where / "report.html").exists() and (folder / where / "report.md").exists()
        assert f"[report]({where}/report.md)" in md
        assert f'<a href="{where}/report.html">report</a>' in page
    assert md.count("](points/") == points and "![sweep](sweep.png)" in md
    assert page.count('src="data:image/png;base64,') == 1  # sweep.png, embedded
    assert "http://" not in page and "https://" not in page
    return md


def test_sweep_report_links_each_points_report(tiny):
    _, folder, output = tiny
    assert output.strip().splitlines()[-1] == f"report: {folder / 'report.html'} (and report.md)"
    md = assert_sweep_report(folder, 6)
    result = invoke("report", folder)
    assert result.exit_code == 0 and (folder / "report.md").read_text() == md
