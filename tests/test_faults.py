"""Real faults, mostly in subprocesses: a full disk, no permission, an output in /proc or on a
FIFO, a limit on address space, SIGKILL in the middle of a run or a sweep, a Python without
dynsys's dependencies.  Each ends in exit 1 (or 2 for what cannot be read), one 'Error:' line,
no temporary file and no half-written file; a killed run resumes to the metrics of an
uninterrupted one; a killed sweep leaves no worker.

The full disk is a 2 MB tmpfs mounted in a user and mount namespace (``unshare -rm``), the
permission faults run as nobody (``setpriv``); each test says why it skips where the machine
cannot make its fault.  The tests marked slow (more kill moments, more commands) run with
DYNSYS_SLOW=1 or --runslow.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from fuzzing import TEMP_FILE, error_lines_problem, incomplete, invoke  # tests/fuzzing.py

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, str(ROOT / "cli.py")]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
TINY = {
    "name": "tiny",
    "seed": 0,
    "system": {"name": "driven_oscillator"},
    "simulation": {"s0": [1.0, 0.0], "t_end": 1.0, "dt": 0.01, "methods": ["euler", "rk4"]},
    "plots": [{"kind": "timeseries"}],
}
TRAIN = ["driven_oscillator", "--model", "jordan", "--hidden", "4", "--epochs", "3"]
TRAIN += ["--n-train", "4", "--n-val", "2", "--n-test", "2", "--t-end", "2", "--quiet"]


def env() -> dict[str, str]:
    return os.environ | {"MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}


def temp_files(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*") if TEMP_FILE.match(p.name)]


def half_files(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and incomplete(path):
            found.append(f"{path.relative_to(folder)}: {incomplete(path)}")
    return found


def assert_clean_error(code: int, stderr: str, expected: int) -> None:
    assert "Traceback" not in stderr, stderr
    assert code == expected, stderr
    assert error_lines_problem(stderr) is None, error_lines_problem(stderr)


# -- a full disk ---------------------------------------------------------------------------

FULL_DISK = {  # name: (bytes left free, the command); None: an empty 2 MB disk
    "simulate": (None, ["simulate", "driven_oscillator", "--t-end", "500", "--out", "traj.csv"]),
    "phase": (16_384, ["phase", "van_der_pol", "--t-end", "2", "--out", "phase.png"]),
    "train": (4_096, ["train", *TRAIN, "--out", "model.npz"]),
    "run": (20_000, ["run", "CONFIG", "--out", "run", "--quiet"]),
}


RUN_ON_DISK = """
import json, os, shutil, sys
from click.testing import CliRunner
from dynsys.cli import main

disk, out = sys.argv[1], sys.argv[2]
for name, free, argv in json.loads(sys.argv[3]):
    work, filler = os.path.join(disk, "work"), os.path.join(disk, "filler")
    shutil.rmtree(work, ignore_errors=True)
    if os.path.exists(filler):
        os.unlink(filler)
    os.mkdir(work)
    if free is not None:  # fill the disk, then free `free` bytes
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(bytes(65536))
            except OSError:
                pass
        os.truncate(filler, max(os.path.getsize(filler) - free, 0))
    os.chdir(work)
    result = CliRunner().invoke(main, argv, prog_name="dynsys")
    os.chdir(disk)
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump({"code": result.exit_code, "stderr": result.stderr,
                   "escaped": repr(result.exception) if escaped else None}, f)
    shutil.copytree(work, os.path.join(out, name + ".files"), symlinks=True)
"""
"""Runs each case in one process on the mounted disk, and copies out what each one left."""


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory) -> Path:
    """Each FULL_DISK command run on a 2 MB tmpfs filled up to its bytes left, all in one
    process in a user and mount namespace; NAME.json (exit status, stderr) and NAME.files/
    (what it left on the disk) for each, in the folder returned."""
    base = tmp_path_factory.mktemp("full-disk")
    disk, out = base / "disk", base / "out"
    disk.mkdir()
    out.mkdir()
    config = base / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    cases = [
        [name, free, [str(config) if a == "CONFIG" else a for a in args]]
        for name, (free, args) in FULL_DISK.items()
    ]
    runner = base / "run_on_disk.py"
    runner.write_text(RUN_ON_DISK)
    script = f"mount -t tmpfs -o size=2m tmpfs {shlex.quote(str(disk))} || exit 97; " + shlex.join(
        [sys.executable, str(runner), str(disk), str(out), json.dumps(cases)]
    )
    try:
        done = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script], env=env(), capture_output=True, timeout=300
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"cannot make a full disk with unshare: {err}")
    if done.returncode == 97:
        pytest.skip(f"cannot mount a tmpfs in a user namespace: {done.stderr.decode()[-300:]}")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return out


@pytest.mark.parametrize("name", list(FULL_DISK))
def test_a_full_disk_is_one_line_exit_1_and_leaves_no_temporary_or_half_file(name, full_disk):
    result = json.loads((full_disk / f"{name}.json").read_text())
    assert result["escaped"] is None
    assert_clean_error(result["code"], result["stderr"], 1)
    assert "No space left on device" in result["stderr"]
    left = full_disk / f"{name}.files"
    assert temp_files(left) == []
    assert half_files(left) == []
    args = FULL_DISK[name][1]
    out = args[args.index("--out") + 1]
    if name != "run":
        assert not (left / out).exists(), f"{out} was left behind"


# -- no permission -------------------------------------------------------------------------

AS_NOBODY = {  # name: (expected exit status, the command, run in HOME by an unprivileged user)
    "simulate": (1, ["simulate", "driven_oscillator", "--t-end", "1", "--out", "LOCKED/t.csv"]),
    "phase": (1, ["phase", "van_der_pol", "--t-end", "1", "--out", "LOCKED/p.png"]),
    "read config": (2, ["config", "validate", "SECRET/tiny.yaml"]),
    "run": (1, ["run", "OPEN/tiny.yaml", "--out", "LOCKED/run", "--quiet"]),
    "train": (1, ["train", *TRAIN, "--out", "LOCKED/m.npz"]),
    "read model": (2, ["evaluate", "SECRET/model.npz", "--n-test", "2"]),
}
SLOW_AS_NOBODY = ("phase", "run", "train", "read model")


def unprivileged() -> list[str]:
    """The command prefix that drops root to nobody; none when not root (the modes suffice)."""
    return NOBODY if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def nobody_folders():
    """LOCKED (mode 0555), SECRET (0000, holding a config and a model), OPEN (world-readable,
    holding the config) and HOME (nobody's when we are root); skipped if the unprivileged user
    cannot run this Python."""
    base = Path(tempfile.mkdtemp(prefix="dynsys-nobody-", dir="/tmp"))
    folders = {name: base / name.lower() for name in ("LOCKED", "SECRET", "OPEN", "HOME")}
    try:
        base.chmod(0o755)
        for folder in folders.values():
            folder.mkdir(mode=0o755)
        for name in ("SECRET", "OPEN"):
            (folders[name] / "tiny.yaml").write_text(yaml.safe_dump(TINY))
        (folders["SECRET"] / "model.npz").write_bytes(b"PK\x03\x04 not read anyway")
        folders["SECRET"].chmod(0o000)
        folders["LOCKED"].chmod(0o555)
        if os.geteuid() == 0:
            os.chown(folders["HOME"], 65534, 65534)
        try:
            probe = subprocess.run(
                [*unprivileged(), *CLI, "--version"],
                env=env(),
                capture_output=True,
                cwd=folders["HOME"],
            )
        except FileNotFoundError as err:
            pytest.skip(f"cannot drop privileges: {err}")
        if probe.returncode != 0:
            pytest.skip(f"cannot run dynsys as nobody: {probe.stderr.decode()[-300:]}")
        yield folders
    finally:
        for folder in folders.values():
            with contextlib.suppress(OSError):
                folder.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW_AS_NOBODY else []) for n in AS_NOBODY],
)
def test_no_permission_is_one_line_and_leaves_nothing(name, nobody_folders):
    expected, args = AS_NOBODY[name]
    argv = [_in(nobody_folders, a) for a in args]
    home = nobody_folders["HOME"]
    done = subprocess.run(
        [*unprivileged(), *CLI, *argv],
        env=env() | {"HOME": str(home), "MPLCONFIGDIR": str(home)},
        capture_output=True,
        text=True,
        cwd=home,
        timeout=120,
    )
    assert_clean_error(done.returncode, done.stderr, expected)
    assert "Permission denied" in done.stderr
    assert list(nobody_folders["LOCKED"].iterdir()) == []
    assert temp_files(home) == []


def _in(folders: dict[str, Path], arg: str) -> str:
    """'LOCKED/t.csv' -> the path of t.csv in the folder LOCKED; other arguments unchanged."""
    head, _, tail = arg.partition("/")
    return str(folders[head] / tail) if head in folders else arg


# -- a path in /proc -----------------------------------------------------------------------

PROC = {
    "simulate": ["simulate", "driven_oscillator", "--t-end", "1", "--out", "/proc/self/x.csv"],
    "phase": ["phase", "van_der_pol", "--t-end", "1", "--out", "/proc/self/x.png"],
    "train": ["train", *TRAIN, "--out", "/proc/self/x.npz"],
    "run": ["run", "tiny.yaml", "--out", "/proc/self/run", "--quiet"],
}


@pytest.mark.parametrize("name", list(PROC))
def test_an_output_in_proc_is_a_failed_write(name, tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    outcome = invoke(PROC[name], tmp_path)
    assert outcome.problems == []
    assert outcome.exit_code == 1, outcome.stderr


# -- an output path that is a FIFO ---------------------------------------------------------


def test_an_output_that_is_a_fifo_is_written_through_or_refused_never_replaced(tmp_path):
    """`--out` naming a FIFO (or, as root, /dev/null or /dev/stdout) must not swap it for a
    regular file: write into it, or refuse it."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    received = bytearray()
    stop = threading.Event()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)

    def drain() -> None:
        while not stop.is_set():
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                chunk = b""
            received.extend(chunk)
            if not chunk:
                time.sleep(0.01)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        outcome = invoke(
            ["simulate", "exponential_decay", "--t-end", "1", "--out", "pipe.csv"], tmp_path
        )
    finally:
        stop.set()
        thread.join()
        os.close(reader)
    assert outcome.problems == []
    assert stat.S_ISFIFO(fifo.lstat().st_mode), "the FIFO was replaced by a regular file"
    if outcome.exit_code == 0:
        assert received.startswith(b"t,") or received.startswith(b"#"), bytes(received[:80])


# -- SIGKILL in the middle of a run, then --resume -----------------------------------------

KILLED = {
    "name": "killed",
    "seed": 0,
    "system": {"name": "driven_oscillator"},
    "simulation": {"s0": [1.0, 0.0], "t_end": 5.0, "dt": 0.01, "methods": ["euler", "rk4"]},
    "dataset": {"n_train": 16, "n_val": 4, "n_test": 4, "t_end": 5.0},
    "model": {"kind": "jordan", "hidden": 8},
    "training": {"optimizer": "adam", "epochs": 500},
    "plots": [{"kind": "training"}],
}


def without_timings(doc):
    """``doc`` without its wall times (the only figures a resumed run may change)."""
    if isinstance(doc, dict):
        return {k: without_timings(v) for k, v in doc.items() if k not in ("timings", "wall_s")}
    if isinstance(doc, list):
        return [without_timings(v) for v in doc]
    return doc


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The config, and the metrics and duration of its uninterrupted run."""
    base = tmp_path_factory.mktemp("kill")
    config = base / "killed.yaml"
    config.write_text(yaml.safe_dump(KILLED))
    began = time.monotonic()
    done = subprocess.run(
        [*CLI, "run", str(config), "--out", str(base / "whole"), "--quiet"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads((base / "whole" / "metrics.json").read_text())
    return config, without_timings(metrics), time.monotonic() - began


def kill_and_resume(config: Path, folder: Path, moments: list[float]) -> None:
    """Start the run, SIGKILL it ``moments`` seconds after its folder appears (once per
    moment, resuming in between), then resume it to the end."""
    for i, moment in enumerate(moments):
        args = ["--resume", str(folder)] if i else [str(config), "--out", str(folder)]
        process = subprocess.Popen(
            [*CLI, "run", *args, "--quiet"],
            env=env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not (folder / "status.json").exists() and process.poll() is None:
            assert time.monotonic() < deadline, "the run folder never appeared"
            time.sleep(0.02)
        time.sleep(moment)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    done = subprocess.run(
        [*CLI, "run", "--resume", str(folder), "--quiet"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "seed",
    [0, *(pytest.param(s, marks=pytest.mark.slow) for s in (1, 2, 3, 4, 5))],
)
@pytest.mark.parametrize("kills", [1, pytest.param(3, marks=pytest.mark.slow)])
def test_a_killed_run_resumes_to_the_metrics_of_an_uninterrupted_one(
    seed, kills, uninterrupted, tmp_path
):
    config, metrics, duration = uninterrupted
    rng = random.Random(seed)
    moments = [rng.uniform(0.0, 0.8 * duration) for _ in range(kills)]
    folder = tmp_path / "run"
    kill_and_resume(config, folder, moments)
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "done", status
    assert without_timings(json.loads((folder / "metrics.json").read_text())) == metrics
    assert temp_files(folder) == []
    assert half_files(folder) == []


# -- SIGKILL of a sweep on two processes ---------------------------------------------------

SWEEP = KILLED | {
    "name": "killed-sweep",
    "training": {"optimizer": "adam", "epochs": 4000},
    "plots": [],
    "sweep": {"grid": {"seed": [1, 2, 3, 4]}},
}


def marked_processes(mark: str) -> list[int]:
    """The processes whose environment holds DYNSYS_TEST_MARK=mark."""
    needle = f"DYNSYS_TEST_MARK={mark}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize(
    ("moment", "grace"),
    [("working", 5.0), pytest.param("starting", 20.0, marks=pytest.mark.slow)],
)
def test_a_killed_sweep_leaves_no_worker_running(moment, grace, tmp_path):
    """SIGKILL of the main process while both workers run a point (or while they are still
    starting up): within ``grace`` seconds no worker is left."""
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(SWEEP))
    mark = uuid.uuid4().hex
    process = subprocess.Popen(
        [*CLI, "run", str(config), "--out", str(tmp_path / "sweep"), "--jobs", "2", "--quiet"],
        env=env() | {"DYNSYS_TEST_MARK": mark},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    points = tmp_path / "sweep" / "points"

    def ready() -> bool:
        started = len(marked_processes(mark)) >= 3  # the main process and two workers
        return started and (moment == "starting" or len(list(points.glob("*/status.json"))) >= 2)

    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and not ready():
            assert time.monotonic() < deadline, "the sweep's workers never started"
            time.sleep(0.05)
        assert process.poll() is None, "the sweep ended before it could be killed"
        process.send_signal(signal.SIGKILL)  # the main process only, as the OOM killer does
        process.wait()
        deadline = time.monotonic() + grace
        while marked_processes(mark) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {pid: _cmdline(pid) for pid in marked_processes(mark)}
        assert left == {}, "workers still running after their sweep was killed"
    finally:
        for pid in marked_processes(mark):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:100]
    except OSError:
        return "?"


# -- a Python without the dependencies -----------------------------------------------------

HIDDEN = {  # the package hidden: the command that needs it (yaml: slow, as pydantic)
    "click": ["--version"],
    "numpy": ["--version"],
    "yaml": ["config", "validate", str(ROOT / "configs" / "seed_oscillator.yaml")],
    "pydantic": ["config", "validate", str(ROOT / "configs" / "seed_oscillator.yaml")],
}


@pytest.mark.parametrize(
    "package", [pytest.param(p, marks=[pytest.mark.slow] if p == "yaml" else []) for p in HIDDEN]
)
def test_cli_py_without_a_dependency_says_which_and_how_to_install(package):
    code = (
        f"import runpy, sys; sys.modules[{package!r}] = None; "
        f"sys.argv = ['cli.py', *{HIDDEN[package]!r}]; "
        f"runpy.run_path({str(ROOT / 'cli.py')!r}, run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=120
    )
    assert_clean_error(done.returncode, done.stderr, 1)
    expected = {"yaml": "PyYAML"}.get(package, package)
    assert f"'{expected}'" in done.stderr
    assert "pip install -e ." in done.stderr


# -- a limit on address space (ulimit -v) --------------------------------------------------

ADDRESS_SPACE = 3 * 2**30


def limited(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env(), capture_output=True, text=True, preexec_fn=limit
    )


def test_reading_a_small_model_needs_memory_for_its_size_not_for_the_largest_allowed(tmp_path):
    """Under `ulimit -v` (3 GiB here, plenty for dynsys), a 15 kB model file loads: reading
    it reserves no more than the file needs."""
    trained = invoke(["train", *TRAIN, "--out", "model.npz"], tmp_path)
    assert trained.exit_code == 0, trained.stderr
    done = limited(["evaluate", "model.npz", "--n-test", "2", "--seed", "0"], tmp_path)
    assert done.returncode == 0, done.stderr
