"""The compiled loops' disk cache, and how calls are split over threads.

A loop is compiled once per machine: a second process loads it (without importing numba), an
edited vector field is compiled again, two processes that compile at once both finish with
whole files, and a folder that others could write to is never used.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from dynsys import InputError, get_stepper, get_system, kernels, simulate
from dynsys.errors import KernelError
from dynsys.kernels import cache
from dynsys.systems.oscillator import DrivenOscillator

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba is not installed")

# A system in a module of its own, so that a test can edit its vector field.
MODULE = """
from dynsys.systems.oscillator import DrivenOscillator


class Edited(DrivenOscillator):
    name = "edited_oscillator"

    @staticmethod
    def vector_field(t, s, x, p):
        pos, vel = s
        return vel, x / p.m - {stiffness} * p.k / p.m * pos - p.c / p.m * vel
"""

RUN = """
import json, sys
import numpy as np
sys.path.insert(0, {folder!r})
from dynsys import simulate
from edited import Edited
traj = simulate(Edited(), np.linspace(-1, 1, 10).reshape(5, 2), t_span=(0, 1), dt=0.01,
                method="rk4", backend={backend!r})
reference = simulate(Edited(), np.linspace(-1, 1, 10).reshape(5, 2), t_span=(0, 1), dt=0.01,
                     method="rk4", backend="numpy")
print(json.dumps({{"kernel": traj.info.get("kernel"), "backend": traj.info["backend"],
                   "same": bool(np.array_equal(traj.states, reference.states)),
                   "last": traj.states[:, -1].tolist(), "numba": "numba" in sys.modules}}))
"""


def write_module(folder: Path, stiffness: float) -> None:
    (folder / "edited.py").write_text(MODULE.format(stiffness=stiffness))


def run(folder: Path, cache_dir: Path, backend: str = "numba", wait: bool = True):
    env = {**os.environ, "DYNSYS_CACHE_DIR": str(cache_dir)}
    code = RUN.format(folder=str(folder), backend=backend)
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    return finish(process) if wait else process


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@needs_numba
def test_a_second_process_loads_the_loop_without_numba(tmp_path):
    write_module(tmp_path, 1.0)
    store = tmp_path / "cache"
    first = run(tmp_path, store)
    assert (first["kernel"], first["same"], first["numba"]) == ("compiled", True, True)
    second = run(tmp_path, store)
    assert (second["kernel"], second["same"], second["numba"]) == ("loaded", True, False)
    assert second["last"] == first["last"]
    files = sorted(p.suffix for p in (store / "kernels").iterdir())
    assert files == [".kernel", ".lock", ".py"]
    source = next((store / "kernels").glob("*.py")).read_text()
    assert "def advance(" in source and "rk4 on edited.Edited" in source
    # auto takes the cached loop even for this tiny run: it gives the numpy loop's bits
    auto = run(tmp_path, store, backend="auto")
    assert (auto["backend"], auto["kernel"], auto["same"]) == ("numba", "loaded", True)


@needs_numba
def test_an_edited_vector_field_is_compiled_again(tmp_path):
    store = tmp_path / "cache"
    write_module(tmp_path, 1.0)
    before = run(tmp_path, store)
    write_module(tmp_path, 4.0)
    after = run(tmp_path, store)
    assert (after["kernel"], after["same"]) == ("compiled", True)
    assert after["last"] != before["last"]  # the new field, not the cached one
    assert len(list((store / "kernels").glob("*.kernel"))) == 2


@needs_numba
def test_two_processes_compiling_at_once_both_finish_and_a_third_loads(tmp_path):
    write_module(tmp_path, 2.0)
    store = tmp_path / "cache"
    processes = [run(tmp_path, store, wait=False) for _ in range(2)]
    results = [finish(p) for p in processes]
    assert all(r["same"] for r in results)
    assert results[0]["last"] == results[1]["last"]
    assert sorted(r["kernel"] for r in results) in (
        ["compiled", "loaded"],  # the second waited for the first's lock
        ["compiled", "compiled"],  # both compiled: each wrote a whole file
    )
    third = run(tmp_path, store)
    assert (third["kernel"], third["last"]) == ("loaded", results[0]["last"])
    leftovers = [p.name for p in (store / "kernels").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@needs_numba
def test_a_damaged_cache_file_is_compiled_again(tmp_path):
    write_module(tmp_path, 3.0)
    store = tmp_path / "cache"
    first = run(tmp_path, store)
    (stored,) = (store / "kernels").glob("*.kernel")
    stored.write_bytes(stored.read_bytes()[:40])  # a cut header
    again = run(tmp_path, store)
    assert (again["kernel"], again["last"]) == ("compiled", first["last"])
    header = json.loads(stored.read_bytes().split(b"\n", 1)[0])
    assert header["format"] == cache.FORMAT and header["stepper"] == "rk4"


def test_a_folder_others_can_write_to_is_not_used(tmp_path, monkeypatch):
    open_folder = tmp_path / "shared"
    (open_folder / "kernels").mkdir(parents=True)
    os.chmod(open_folder / "kernels", 0o777)
    monkeypatch.setenv("DYNSYS_CACHE_DIR", str(open_folder))
    assert cache.folder() is None
    os.chmod(open_folder / "kernels", 0o700)
    assert cache.folder() == open_folder / "kernels"


def test_a_class_without_source_has_no_key():
    namespace: dict = {}
    exec(
        "from dynsys.systems.oscillator import DrivenOscillator\n"
        "class Typed(DrivenOscillator):\n"
        "    name = 'typed'\n"
        "    @staticmethod\n"
        "    def vector_field(t, s, x, p):\n"
        "        return s[1], -s[0]\n",
        namespace,
    )
    assert cache.key("source", namespace["Typed"]) is None
    assert cache.key("source", DrivenOscillator) == cache.key("source", DrivenOscillator)
    assert cache.key("source", DrivenOscillator) != cache.key("other", DrivenOscillator)


@pytest.mark.parametrize(
    "members, member_steps, most, expected",
    [
        (1, 10**9, 2, [(0, 1)]),  # one block: one thread
        (1000, 10**9, 2, [(0, 512), (512, 1000)]),  # whole blocks per thread
        (1000, 10**4, 2, [(0, 1000)]),  # too little work to repay a thread
        (10_000, 10**9, 1, [(0, 10_000)]),
        (10_000, 10**9, 3, [(0, 3584), (3584, 7168), (7168, 10_000)]),
    ],
)
def test_calls_are_split_into_whole_blocks(members, member_steps, most, expected):
    assert kernels.split(members, member_steps, most) == expected


@needs_numba
@pytest.mark.parametrize("shared", [True, False])
def test_threads_give_the_bits_of_one_thread(monkeypatch, rng, shared):
    members = 3 * kernels.BLOCK + 5
    params = {} if shared else {"omega": rng.uniform(0.5, 1.5, members)}
    system = get_system("driven_oscillator", **params)
    s0 = rng.uniform(-1, 1, (members, 2))
    runs = {}
    for count in ("1", "2"):
        monkeypatch.setenv("DYNSYS_THREADS", count)
        runs[count] = simulate(system, s0, t_span=(0, 100), dt=0.01, method="rk4",
                               save_every=2500, backend="numba")  # fmt: skip
    assert (runs["1"].info["threads"], runs["2"].info["threads"]) == (1, 2)
    assert_array_equal(runs["1"].states, runs["2"].states)
    numpy_states = simulate(
        system, s0, t_span=(0, 100), dt=0.01, method="rk4", save_every=2500, backend="numpy"
    ).states
    assert_array_equal(runs["2"].states, numpy_states)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_count_is_named(monkeypatch, value):
    monkeypatch.setenv("DYNSYS_THREADS", value)
    with pytest.raises(
        InputError, match=rf"DYNSYS_THREADS must be a whole number >= 1, got '{value}'"
    ):
        kernels.threads()


@needs_numba
def test_a_field_numba_cannot_compile_is_one_line_and_auto_runs_numpy():
    class Untypable(DrivenOscillator):
        name = "untypable"

        @staticmethod
        def vector_field(t, s, x, p):
            pos, vel = s
            return vel, getattr(np, "negative")(pos)  # noqa: B009 (getattr by a name: not in numba)

    system = Untypable()
    with pytest.raises(
        KernelError,
        match=r"^cannot compile rk4 on Untypable: No implementation of function .*getattr.*"
        r"use backend='numpy'$",
    ):
        simulate(system, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4", backend="numba")
    traj = simulate(system, np.zeros((10_000, 2)), t_span=(0, 3), dt=0.01, method="rk4")
    assert traj.info["backend"] == "numpy" and "cannot compile" in traj.info["kernel_error"]
    assert not kernels.is_cached(system, get_stepper("rk4"))


@needs_numba
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_runs_threads_of_its_own(monkeypatch, rng):
    """The parent's thread pool does not survive a fork: the child must not wait on it."""
    monkeypatch.setenv("DYNSYS_THREADS", "2")
    system, s0 = get_system("driven_oscillator"), rng.uniform(-1, 1, (4 * kernels.BLOCK, 2))
    run = dict(t_span=(0, 100), dt=0.01, method="rk4", save_every=10_000, backend="numba")
    parent = simulate(system, s0, **run)
    assert parent.info["threads"] == 2
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only when its run gives the parent's numbers
        signal.alarm(60)  # a child stuck on the parent's pool dies instead of hanging the test
        try:
            child = simulate(system, s0, **run)
            os._exit(0 if np.array_equal(child.states, parent.states) else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def made_class(stiffness):
    """A system class whose vector field closes over ``stiffness``."""

    class Made(DrivenOscillator):
        name = "made"

        @staticmethod
        def vector_field(t, s, x, p):
            pos, vel = s
            return vel, x - stiffness * pos

    return Made


def test_closures_are_part_of_the_key():
    """Two classes from one factory differ only by a value their vector field closes over:
    numba compiles it in as a constant, so their loops must not share a file."""

    make = made_class
    a, b = make(1.0), make(2.0)
    assert cache.key("source", a) != cache.key("source", b)
    assert cache.key("source", a) == cache.key("source", make(1.0))
    assert cache.key("source", make(np.array([1.0]))) is None  # an array: no key, no file


@needs_numba
def test_a_factory_of_systems_gets_each_its_own_numbers(rng):
    s0 = rng.uniform(-1, 1, (3, 2))
    for stiffness in (1.0, 4.0):
        run = dict(t_span=(0, 1), dt=0.01, method="heun")
        system = made_class(stiffness)()
        compiled = simulate(system, s0, backend="numba", **run).states
        assert_array_equal(compiled, simulate(system, s0, backend="numpy", **run).states)


def test_no_class_name_leaves_the_comment_of_the_generated_source():
    """The class's name labels the source's first comment line; a name with a line break in it
    must not start a line of code there."""
    from dynsys.kernels import _plan

    sneaky = type("Sneaky\nraise SystemExit", (DrivenOscillator,), {"name": "sneaky"})
    source = _plan(sneaky, get_stepper("rk4"), True).source
    lines = source.splitlines()
    assert lines[0].startswith("# dynsys compiled loop: rk4 on ") and "raise SystemExit" in lines[0]
    assert not any(line.lstrip().startswith("raise") for line in lines[1:])
    compile(source, "<test>", "exec")
