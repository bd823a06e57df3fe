"""Run folders of dynsys run: the marker, the lock, overwrite, resume and what they refuse.

Each test makes a fault a user or the disk can cause (a stray file, a link, a full disk, a
second writer, a killed process, an edited record) and checks that the run folder survives it
and the command says so in one line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import dynsys
import dynsys.experiments.folder as folders
import dynsys.experiments.records as records
import dynsys.experiments.run as run_module
from dynsys.cli import main
from dynsys.experiments.folder import LOCK, MARKER, lock

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
name: tiny
system: {name: driven_oscillator}
simulation: {s0: [1.0, 0.0], t_end: 2.0, dt: 0.1, methods: [euler, rk4]}
"""
SWEEP = TINY + "sweep: {grid: {system.params.A: [0.5, 1.0]}}\n"
RNN = """\
name: small-rnn
system: {name: driven_oscillator}
simulation: {s0: [1.0, 0.0], t_end: 1.0, dt: 0.1, methods: [euler]}
dataset: {n_train: 4, n_val: 2, n_test: 2, t_end: 2}
model: {kind: jordan, hidden: 4}
training: {epochs: 3}
"""


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, code: int, *needles: str) -> str:
    """The single 'Error: ...' line of ``result``, after checking its exit code and text."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links as their targets' names), by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            out[name] = os.readlink(path).encode()
        elif path.is_file():
            out[name] = path.read_bytes()
    return out


def results(folder: Path) -> dict[str, bytes]:
    """:func:`snapshot` without the lock file (it names the last process that held it)."""
    return {k: v for k, v in snapshot(folder).items() if k != LOCK}


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def numbers(folder: Path) -> dict:
    return {k: v for k, v in read_json(folder / "metrics.json").items() if k != "timings"}


@pytest.fixture(scope="module", autouse=True)
def registry():
    before = dict(dynsys.SYSTEMS)
    yield
    dynsys.SYSTEMS.clear()
    dynsys.SYSTEMS.update(before)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Config files and one finished run of each (copied by the tests that change them)."""
    root = tmp_path_factory.mktemp("made")
    configs = {}
    for name, text in (("tiny", TINY), ("sweep", SWEEP), ("rnn", RNN)):
        configs[name] = root / f"{name}.yaml"
        configs[name].write_text(text)
    runs = {}
    for name in ("tiny", "sweep"):
        runs[name] = root / f"{name}-run"
        result = invoke("run", configs[name], "--out", runs[name], "--quiet")
        assert result.exit_code == 0, result.output
    return configs, runs


def copy_run(made, name: str, dest: Path) -> Path:
    shutil.copytree(made[1][name], dest, symlinks=True)
    return dest


# -- the marker and --overwrite ----------------------------------------------------------------


def test_marker_lists_what_the_run_writes(made):
    _, runs = made
    marker = read_json(runs["tiny"] / MARKER)
    assert marker["format"] == 1 and marker["kind"] == "run"
    assert marker["dynsys_version"] == dynsys.__version__
    written = {k for k in snapshot(runs["tiny"]) if k not in (MARKER, LOCK)}
    assert written == set(marker["files"])
    holder = read_json(runs["tiny"] / LOCK)
    assert set(holder) == {"pid", "host", "started"}
    sweep = read_json(runs["sweep"] / MARKER)
    assert sweep["kind"] == "sweep"
    points = {f"points/{p.name}/" for p in (runs["sweep"] / "points").iterdir()}
    assert {f for f in sweep["files"] if f.startswith("points/")} == points
    assert all((p / MARKER).exists() for p in (runs["sweep"] / "points").iterdir())


def test_overwrite_refuses_a_folder_without_marker(made, tmp_path):
    configs, _ = made
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "main.py").write_text("print('mine')\n")
    (folder / "notes.txt").write_text("my notes")
    (folder / "status.json").write_text('{"state": "done"}')  # looks like a run, is not one
    before = snapshot(folder)
    result = invoke("run", configs["tiny"], "--out", folder, "--overwrite", "--quiet")
    one_line_error(result, 2, "not a dynsys run folder", MARKER)
    assert snapshot(folder) == before
    result = invoke("run", configs["tiny"], "--out", folder, "--quiet")
    one_line_error(result, 2, "exists", "not a dynsys run folder")
    assert snapshot(folder) == before


@pytest.mark.parametrize("exchange", [True, False], ids=["exchanged", "renamed twice"])
def test_overwrite_removes_only_the_listed_files(made, tmp_path, monkeypatch, exchange):
    if not exchange:  # as where the system cannot exchange two folders in one step
        monkeypatch.setattr(folders, "_exchange", lambda a, b: False)
    configs, _ = made
    folder = tmp_path / "run"
    with_plot = "--set", "plots=[{kind: phase, name: phase}]"
    assert invoke("run", configs["tiny"], *with_plot, "--out", folder, "--quiet").exit_code == 0
    (folder / "notes.txt").write_text("mine")
    (folder / "trajectories" / "mine.csv").write_text("1,2\n")
    (folder / "plots" / "sketch.png").write_bytes(b"mine")
    sets = "--set", "simulation.methods=[rk4]"
    result = invoke("run", configs["tiny"], *sets, "--out", folder, "--overwrite", "--quiet")
    assert result.exit_code == 0, result.output
    files = snapshot(folder)
    assert files["notes.txt"] == b"mine" and files["trajectories/mine.csv"] == b"1,2\n"
    assert files["plots/sketch.png"] == b"mine"
    assert "plots/phase.png" not in files and "trajectories/euler.npz" not in files
    assert "trajectories/rk4.npz" in files
    assert read_json(folder / "status.json")["state"] == "done"
    assert "phase" not in (folder / "run.log").read_text()  # the new run's log only
    assert read_json(folder / MARKER)["files"] == [
        "config.resolved.yaml",
        "status.json",
        "metrics.json",
        "run.log",
        "trajectories/rk4.npz",
        "trajectories/reference.npz",
        "report.md",
        "report.html",
        "plots/overview.png",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left


def test_overwrite_of_a_sweep_removes_its_points_and_keeps_clashing_files(made, tmp_path):
    configs, _ = made
    folder = copy_run(made, "sweep", tmp_path / "run")
    (folder / "points" / "mine.txt").write_text("mine")
    (folder / "plots").mkdir()
    (folder / "plots" / "phase.png").write_bytes(b"my own figure")  # the new run draws one
    with_plot = "--set", "plots=[{kind: phase, name: phase}]"
    result = invoke("run", configs["tiny"], *with_plot, "--out", folder, "--overwrite", "--quiet")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (folder / "points").iterdir()] == ["mine.txt"]
    assert not (folder / "sweep.csv").exists() and read_json(folder / MARKER)["kind"] == "run"
    assert (folder / "plots" / "phase.png").read_bytes()[:4] == b"\x89PNG"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.kept-")]
    assert len(kept) == 1 and (kept[0] / "plots" / "phase.png").read_bytes() == b"my own figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", kept[0].name]


def test_overwrite_that_fails_leaves_the_old_run(made, tmp_path, monkeypatch):
    configs, _ = made
    folder = copy_run(made, "tiny", tmp_path / "run")
    before = results(folder)

    def diverges(plan):
        raise dynsys.errors.DivergenceError("euler", 3, 0.3, None, "take a smaller dt")

    monkeypatch.setattr(run_module, "compare_methods", diverges)
    result = invoke("run", configs["tiny"], "--out", folder, "--overwrite", "--quiet")
    one_line_error(result, 1, "left the finite numbers", f"{folder} keeps its previous run")
    assert results(folder) == before
    assert read_json(folder / "status.json")["state"] == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_overwrite_stopped_by_ctrl_c_is_swapped_in_and_resumes(made, tmp_path, monkeypatch):
    configs, _ = made
    folder = copy_run(made, "tiny", tmp_path / "run")
    compare = run_module.compare_methods

    def interrupted(plan):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "compare_methods", interrupted)
    sets = "--set", "simulation.methods=[rk4]"
    result = invoke("run", configs["tiny"], *sets, "--out", folder, "--overwrite", "--quiet")
    assert result.exit_code == 130 and f"dynsys run --resume {folder}" in result.output
    assert read_json(folder / "status.json")["state"] == "interrupted"
    monkeypatch.setattr(run_module, "compare_methods", compare)
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    assert list(read_json(folder / "metrics.json")["simulation"]) == ["rk4"]


def as_nobody(args: list[str], home: Path) -> subprocess.CompletedProcess:
    """``dynsys ARGS`` run as user nobody (we are root, whom permissions do not stop)."""
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    command += [sys.executable, "-c", "from dynsys.cli import main; main()", *args]
    env = dict(os.environ, MPLCONFIGDIR=str(home), PYTHONPATH=str(ROOT))
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def nobody_home():
    """A folder user nobody can reach (pytest's own are private to root)."""
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to drop privileges")
    home = Path(tempfile.mkdtemp(prefix="dynsys-nobody-"))
    home.chmod(0o755)
    os.chown(home, 65534, 65534)
    yield home
    for path in [home, *home.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(home)


def test_overwrite_with_a_parent_that_cannot_be_written_keeps_the_old_run(made, nobody_home):
    configs, _ = made
    config = shutil.copy(configs["tiny"], nobody_home / "tiny.yaml")
    parent = nobody_home / "parent"
    parent.mkdir()
    folder = copy_run(made, "tiny", parent / "run")
    for path in [config, parent, folder, *folder.rglob("*")]:
        os.chown(path, 65534, 65534)
    parent.chmod(0o555)
    before = snapshot(folder)
    done = as_nobody(["run", str(config), "--out", str(folder), "--overwrite"], nobody_home)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and "cannot be written (Permission denied)" in lines[0], done.stderr
    assert f"{folder} is unchanged" in lines[0]
    assert snapshot(folder) == before


def in_tiny_disk(script: str, tmp_path: Path, size: str = "256k") -> subprocess.CompletedProcess:
    """Run python ``script`` with a tmpfs of ``size`` mounted on tmp_path/disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    code = tmp_path / "script.py"
    code.write_text(script)
    mount = f"mount -t tmpfs -o size={size} tmpfs {disk} && {sys.executable} {code} {disk}"
    try:
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", mount],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, MPLCONFIGDIR=str(tmp_path), PYTHONPATH=str(ROOT)),
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot mount a tmpfs here: {err}")
    if "mount" in done.stderr or "unshare" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    return done


FULL_DISK = """\
import json, sys
from click.testing import CliRunner
from dynsys.cli import main

disk = sys.argv[1]
small = ["--set", "simulation.t_end=2"]
big = [
    *("--set", "simulation.t_end=20", "--set", "simulation.dt=0.002"),
    *("--set", "simulation.methods=[euler]", "--set", "reference.rtol=1e-6"),
]  # trajectories of 316 KiB
out = {}
for name, args in [("first", small), ("overwrite", [*big, "--overwrite"]), ("new", big)]:
    folder = disk + ("/new" if name == "new" else "/run")
    result = CliRunner().invoke(main, ["run", CONFIG, *args, "--out", folder, "--quiet"])
    out[name] = [result.exit_code, result.output]
print(json.dumps(out))
"""


def test_full_disk_fails_in_one_line_and_overwrite_keeps_the_old_run(made, tmp_path):
    configs, _ = made
    script = FULL_DISK.replace("CONFIG", repr(str(configs["tiny"])))
    done = in_tiny_disk(script, tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["first"][0] == 0
    for name in ("overwrite", "new"):
        code, output = out[name]
        assert code == 1 and "Traceback" not in output, output
        lines = output.strip().splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0], output
    assert "/run keeps its previous run" in out["overwrite"][1]


# -- the lock ----------------------------------------------------------------------------------


def test_a_second_writer_is_refused_naming_the_holder(made, tmp_path):
    configs, _ = made
    folder = copy_run(made, "tiny", tmp_path / "run")
    before = results(folder)
    held = lock(folder)
    try:
        for args in (
            ("run", configs["tiny"], "--out", folder, "--overwrite"),
            ("run", "--resume", folder),
        ):
            result = invoke(*args, "--quiet")
            one_line_error(result, 2, f"{folder} is in use by pid {os.getpid()} on ")
        assert results(folder) == before
    finally:
        held.release()
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output


def test_a_sweep_point_in_use_is_not_raced(made, tmp_path):
    folder = copy_run(made, "sweep", tmp_path / "sweep")
    points = sorted((folder / "points").iterdir())
    status = read_json(points[0] / "status.json") | {"state": "running"}
    (points[0] / "status.json").write_text(json.dumps(status))
    shutil.rmtree(points[1])
    held = lock(points[0])
    try:
        result = invoke("run", "--resume", folder, "--quiet")
    finally:
        held.release()
    assert result.exit_code == 1, result.output
    assert "1 of 2 sweep points failed" in result.output
    log = (folder / "run.log").read_text()
    assert f"in use by pid {os.getpid()}" in log
    assert read_json(points[1] / "status.json")["state"] == "done"
    result = invoke("run", "--resume", folder, "--quiet")  # the holder has gone
    assert result.exit_code == 0, result.output


# -- resuming ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry", ["trajectories", "plots", "run.log", "status.json", "metrics.json", "model.npz"]
)
def test_resume_refuses_links_out_of_the_folder(made, tmp_path, entry):
    folder = copy_run(made, "tiny", tmp_path / "run")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    private = tmp_path / "private.txt"
    private.write_text("secret")
    path = folder / entry
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    path.symlink_to(elsewhere if entry in ("trajectories", "plots") else private)
    result = invoke("run", "--resume", folder, "--quiet")
    one_line_error(result, 2, f"{entry} is a symbolic link")
    assert not any(elsewhere.iterdir()) and private.read_text() == "secret"


def test_resume_refuses_a_log_linked_to_a_device_and_a_linked_point(made, tmp_path):
    folder = copy_run(made, "tiny", tmp_path / "run")
    (folder / "run.log").unlink()
    (folder / "run.log").symlink_to("/dev/zero")
    one_line_error(invoke("run", "--resume", folder, "--quiet"), 2, "run.log is a symbolic")
    sweep = copy_run(made, "sweep", tmp_path / "sweep")
    point = next((sweep / "points").iterdir())
    moved = shutil.move(point, tmp_path / "moved")
    point.symlink_to(moved)
    result = invoke("run", "--resume", sweep, "--quiet")
    one_line_error(result, 2, f"points/{point.name} is a symbolic link")


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        ("status.json", {"completed": "simulation"}, "status.json: field completed"),
        ("status.json", None, "status.json: not a JSON object (it holds null)"),
        ("status.json", {"state": 3}, "status.json: field state"),
        ("metrics.json", {"timings": []}, "metrics.json: field timings"),
        ("metrics.json", {"simulation": {"euler": 1.5}}, "metrics.json: field simulation.euler"),
        (MARKER, {"files": "status.json"}, f"{MARKER}: field files"),
        (MARKER, {"format": 2}, "run-folder format 2; this dynsys"),
        (MARKER, "remove", "not a dynsys run folder (or one written before run-folder"),
    ],
)
def test_edited_records_are_one_line_errors(made, tmp_path, file, edit, message):
    folder = copy_run(made, "tiny", tmp_path / "run")
    path = folder / file
    if edit == "remove":
        path.unlink()
    elif edit is None:
        path.write_text("null")
    else:
        path.write_text(json.dumps(read_json(path) | edit))
    before = snapshot(folder)
    one_line_error(invoke("run", "--resume", folder, "--quiet"), 2, message)
    assert snapshot(folder) == before


def test_resume_removes_temporary_files_and_stale_staging(made, tmp_path):
    folder = copy_run(made, "tiny", tmp_path / "run")
    status = read_json(folder / "status.json")
    status |= {"state": "running", "completed": ["simulation"]}
    (folder / "status.json").write_text(json.dumps(status))
    (folder / LOCK).write_text(json.dumps({"pid": 999999, "host": "gone", "started": "then"}))
    leftovers = [".status.json.x1y2.tmp", ".metrics.json.abc.tmp", "trajectories/.rk4.npz.q.tmp"]
    for name in leftovers:
        (folder / name).write_bytes(b"half")
    (folder / ".mine.tmp").write_text("mine")  # not a temporary file of a run's file
    staging = copy_run(made, "tiny", tmp_path / ".run.dynsys-staging-killed")
    (tmp_path / ".run.dynsys-staging-empty").mkdir()
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    assert not any((folder / name).exists() for name in leftovers)
    assert (folder / ".mine.tmp").read_text() == "mine"
    assert not staging.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    log = (folder / "run.log").read_text()
    assert "the status said running, but pid 999999 on gone (since then) has ended" in log
    assert numbers(folder) == numbers(made[1]["tiny"])


def test_resume_redoes_a_step_whose_files_were_damaged(made, tmp_path):
    folder = copy_run(made, "tiny", tmp_path / "run")
    whole = (folder / "trajectories" / "euler.npz").read_bytes()
    (folder / "trajectories" / "euler.npz").write_bytes(whole[: len(whole) // 2])
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    assert (folder / "trajectories" / "euler.npz").read_bytes() == whole
    log = (folder / "run.log").read_text()
    assert "simulation: trajectories/euler.npz is missing or changed since it was written" in log
    sweep = copy_run(made, "sweep", tmp_path / "sweep")
    point = next((sweep / "points").iterdir())
    (point / "trajectories" / "rk4.npz").unlink()
    result = invoke("run", "--resume", sweep, "--quiet")
    assert result.exit_code == 0, result.output
    assert (point / "trajectories" / "rk4.npz").exists()
    assert (sweep / "run.log").read_text().count("done before, skipped") == 1


def test_status_left_running_by_a_full_disk_is_not_believed(made, tmp_path, monkeypatch):
    configs, _ = made
    folder = tmp_path / "run"

    def disk_full(*args, **kwargs):
        raise dynsys.errors.WriteError(f"cannot write {folder}/x: No space left on device")

    monkeypatch.setattr(run_module, "write_trajectory", disk_full)
    monkeypatch.setattr(records.RunRecord, "finish", disk_full)
    result = invoke("run", configs["tiny"], "--out", folder, "--quiet")
    one_line_error(result, 1, "No space left on device")
    assert read_json(folder / "status.json")["state"] == "running"  # the write failed too
    monkeypatch.undo()
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    log = (folder / "run.log").read_text()
    assert f"the status said running, but pid {os.getpid()} on " in log
    assert numbers(folder) == numbers(made[1]["tiny"])


# -- models and training -----------------------------------------------------------------------


def test_resume_refuses_a_model_fitted_with_other_settings(made, tmp_path):
    configs, _ = made
    folder, other = tmp_path / "run", tmp_path / "other"
    assert invoke("run", configs["rnn"], "--out", folder, "--quiet").exit_code == 0
    sets = ["--set", "model.hidden=6", "--set", "training.optimizer=sgd"]
    assert invoke("run", configs["rnn"], *sets, "--out", other, "--quiet").exit_code == 0
    shutil.copy(other / "model.npz", folder / "model.npz")
    for completed in (["simulation"], ["simulation", "train"]):
        status = read_json(folder / "status.json") | {"completed": completed}
        (folder / "status.json").write_text(json.dumps(status))
        result = invoke("run", "--resume", folder, "--quiet")
        one_line_error(result, 2, "model.npz was not fitted with this run's settings")
        assert "model.hidden is 6 in it, 4 in config.resolved.yaml" in result.output


def test_training_that_blows_up_fails_the_run(made, tmp_path):
    configs, _ = made
    folder = tmp_path / "run"
    sets = ["--set", "training.optimizer=sgd", "--set", "training.lr=1e10"]
    result = invoke("run", configs["rnn"], *sets, "--out", folder, "--quiet")
    one_line_error(result, 1, "the loss became non-finite", "saved to model.npz")
    status = read_json(folder / "status.json")
    assert status["state"] == "failed" and status["completed"] == ["simulation"]
    assert status["message"].startswith("train: the loss became non-finite")
    metrics = read_json(folder / "metrics.json")
    assert "test" not in metrics and metrics["training"]["fit"]["stopped_reason"] == "non_finite"


# -- sweeps ------------------------------------------------------------------------------------


def test_a_huge_grid_is_refused_before_its_points_are_built(tmp_path):
    values = "[" + ", ".join(str(0.1 * (i + 1)) for i in range(10)) + "]"
    keys = ["A", "k", "m", "omega", "c"]
    grid = ", ".join(f"system.params.{k}: {values}" for k in keys)
    config = tmp_path / "huge.yaml"
    config.write_text(TINY + f"sweep: {{grid: {{{grid}, seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}}}}\n")
    assert config.stat().st_size < 6000
    began = time.perf_counter()
    result = invoke("run", config, "--out", tmp_path / "out", "--quiet")
    assert time.perf_counter() - began < 10
    one_line_error(result, 2, "sweep.grid", "1,000,000 combinations", "10,000")
    assert not (tmp_path / "out").exists()


def marked(mark: str) -> list[int]:
    """The processes whose environment holds ``mark``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


SLOW_SWEEP = """\
name: slow-sweep
system: {name: driven_oscillator}
simulation: {s0: [1.0, 0.0], t_end: 400.0, dt: 0.01, methods: [euler]}
reference: {rtol: 1.0e-6, atol: 1.0e-8}
output: {trajectories: none}
sweep: {grid: {system.params.A: [0.2, 0.4, 0.6, 0.8]}}
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_killed_sweep_leaves_no_workers_and_resumes(tmp_path):
    config, folder = tmp_path / "slow.yaml", tmp_path / "sweep"
    config.write_text(SLOW_SWEEP)
    mark = f"dynsys-test-{uuid.uuid4().hex}"
    env = dict(os.environ, DYNSYS_TEST_MARK=mark, MPLCONFIGDIR=str(tmp_path))
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-c", "from dynsys.cli import main; main()", "run", str(config)]
    command += ["--out", str(folder), "--jobs", "2", "--quiet"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    parent = subprocess.Popen(command, env=env, **quiet)
    try:
        began = time.monotonic()
        while time.monotonic() - began < 60:  # until both workers run a point
            started = list((folder / "points").glob("*/status.json"))
            if len(started) >= 2:
                break
            time.sleep(0.1)
        assert len(started) >= 2, "the sweep did not start its points"
        assert len(marked(mark)) >= 3  # the sweep and its two workers at least
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    began = time.monotonic()
    while marked(mark) and time.monotonic() - began < 5:
        time.sleep(0.1)
    left = marked(mark)
    for pid in left:  # do not leave them running if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, "worker processes outlived the killed sweep"
    result = invoke("run", "--resume", folder, "--jobs", "2", "--quiet")
    assert result.exit_code == 0, result.output
    assert "sweep of 4 points: 4 done, 0 failed" in result.output
    assert not list(folder.rglob("*.tmp"))
    assert "has ended: it was killed" in (folder / "run.log").read_text()
