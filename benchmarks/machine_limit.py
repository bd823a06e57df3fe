"""dynsys's time loops against the machine's limit: a C loop doing the same work.

Four measurements, in one run, each from medians of interleaved rounds:

1. the same work as a C loop: RK4 on the driven oscillator, ds/dt = (vel, x/m - (k/m) pos -
   (c/m) vel) with x(t) = A cos(omega t), h = 0.01, only the final state kept, written in C
   (benchmarks/oscillator_loop.c, compiled here with the system's ``cc``, called through
   ctypes) with the arithmetic of dynsys's numpy RK4, so that the final states agree bit for
   bit; against ``simulate(..., backend="numba")``, on 1 thread (``DYNSYS_THREADS=1``) and on 2;
2. the numpy loop (``backend="numpy"``) against a hand-written in-place numpy RK4;
3. one trajectory (``backend="auto"``) against the C loop and a pure-Python RK4;
4. the first compiled run of a second process (its loop cached on disk by a first one), and
   the start-up of ``import dynsys``, ``dynsys --version`` and ``import numpy``.

Usage::

    python benchmarks/machine_limit.py [--quick] [--rounds N] [--json FILE]
    python benchmarks/bench_core.py --only limit      # the same, from the core benchmark

Each dynsys thread count runs in a fresh interpreter of its own (``--serve``, internal) that
answers timing requests over a pipe, so that rounds can alternate between them and the C loop.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import dynsys
from dynsys import System, kernels

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_core  # the benchmarks folder is not a package: found through sys.path
from bench_core import secs, table, verdict

H = bench_core.H  # 0.01
C_SOURCE = Path(__file__).with_name("oscillator_loop.c")
C_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fopenmp", "-shared", "-fPIC")
NO_COMPILER = "C loop skipped: no C compiler (cc) found"
PARAMS = ("m", "k", "c", "A", "omega")  # the order of the C functions' arguments
RANGES = {"m": (0.5, 2.0), **bench_core.PARAM_RANGES}  # k, A, c, omega as the core benchmark
SEED = bench_core.SEED
THREADS_ENV = "DYNSYS_THREADS"
CACHE_ENV = "DYNSYS_CACHE_DIR"
MIN_SAMPLE_S = 0.1  # a timed sample repeats a short call until it lasts about this long ...
MAX_REPS = 1000  # ... at most this many times
RATIO_FLOOR = 2.0  # compiled / C at 1,000 members and more
SMALL_RATIO_FLOOR = 3.0  # compiled / C at 1 and 100 members
SMALL_BATCH = 100  # batches up to this one have the small-batch floor
THREAD_SPEEDUP_FLOOR = 1.6  # compiled on 2 threads vs 1, from 10,000 members
THREAD_SPEEDUP_FROM = 10_000
NUMPY_FLOOR = 1.5  # dynsys numpy loop / hand-written in-place numpy RK4
ONE_C_FLOOR = 3.0  # one trajectory: dynsys / C
FIRST_RUN_FLOOR_S = 0.3  # a second process's first compiled run minus its later runs
IMPORT_FLOOR_S = 0.35  # python -c "import dynsys"
VERSION_FLOOR_S = 0.4  # dynsys --version
FIRST_RUN_CALLS = 6  # simulate calls in a second process: the first, and 5 after it


@dataclass(frozen=True)
class LimitSizes:
    """The sizes of one run of the machine-limit section (full or quick)."""

    steps: int  # RK4 steps of the C-loop comparison (h = H)
    batches: tuple[int, ...]  # shared parameters, 1 thread
    two_thread_batches: tuple[int, ...]  # shared parameters, 2 threads against 1
    member_batch: int  # per-member parameters, 1 thread
    numpy_batches: tuple[int, ...]  # the numpy loop against hand-written numpy
    numpy_steps: int
    one_steps: int  # one trajectory
    first_run_batch: int  # the second process's compiled run ...
    first_run_steps: int
    first_run_processes: int  # ... in this many fresh processes
    startup_runs: int  # runs of each start-up command
    rounds: int  # interleaved timing rounds
    verdicts: bool  # whether the sizes are the floors' own


FULL = LimitSizes(
    steps=10_000,
    batches=(1, 100, 1_000, 10_000, 100_000),
    two_thread_batches=(10_000, 100_000),
    member_batch=10_000,
    numpy_batches=(1_000, 10_000),
    numpy_steps=1_000,
    one_steps=10_000,
    first_run_batch=1_000,
    first_run_steps=1_000,
    first_run_processes=3,
    startup_runs=7,
    rounds=5,
    verdicts=True,
)
QUICK = LimitSizes(
    steps=1_000,
    batches=(1, 100, 1_000, 10_000),
    two_thread_batches=(10_000,),
    member_batch=1_000,
    numpy_batches=(1_000, 10_000),
    numpy_steps=100,
    one_steps=2_000,
    first_run_batch=1_000,
    first_run_steps=100,
    first_run_processes=1,
    startup_runs=3,
    rounds=3,
    verdicts=False,
)


# -- the work: inputs, and the three hand-written RK4 loops -------------------------------------


def case_params(kind: str, batch: int, seed: int = SEED) -> dict[str, Any]:
    """Oscillator parameters: one float each when ``kind`` is "shared" (every member alike),
    else (``"per_member"``) one per member, arrays (batch,)."""
    rng = np.random.default_rng(seed)
    size = None if kind == "shared" else batch
    return {name: rng.uniform(lo, hi, size) for name, (lo, hi) in RANGES.items()}


def case_inputs(kind: str, batch: int, seed: int = SEED) -> tuple[System, np.ndarray, dict]:
    """(system, s0 (batch, 2), parameters) of a case; s0 from its own seeded generator."""
    params = case_params(kind, batch, seed)
    s0 = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, (batch, 2))
    return dynsys.get_system("driven_oscillator", **params), s0, params


def simulate_final(
    system: System, s0: np.ndarray, steps: int, backend: str
) -> tuple[np.ndarray, dict]:
    """RK4 with h = H over ``steps`` steps keeping only the last: (final states, traj.info)."""
    traj = bench_core.simulate_rk4(system, s0, steps, save_every=steps, backend=backend)
    return traj.states[..., -1, :], traj.info


def python_rk4(
    params: dict[str, float], s0: Sequence[float], steps: int, h: float = H, t0: float = 0.0
) -> tuple[float, float]:
    """RK4 on one oscillator in pure Python (floats, math.cos, tuples), in numpy's order:
    k_i = g(s + (h a_i) k_{i-1}, x(t0 + (n + c_i) h)), s(n+1) = s + (h/6) k1 + (h/3) k2 + ...,
    with g = (vel, x/m - (k/m) pos - (c/m) vel) and x = A cos(omega t)."""
    m, k, c, a, omega = (float(params[name]) for name in PARAMS)
    km, cm = k / m, c / m
    ha, h1, b1, b2 = h * 0.5, h * 1.0, h * (1 / 6), h * (1 / 3)

    def field(pos: float, vel: float, xm: float) -> tuple[float, float]:
        return vel, xm - km * pos - cm * vel

    def drive(n: int, node: float) -> float:  # x/m at t0 + (n + node) h
        return a * math.cos(omega * (t0 + (n + node) * h)) / m

    pos, vel = float(s0[0]), float(s0[1])
    x0 = drive(0, 0.0)
    for n in range(steps):
        xh, x1 = drive(n, 0.5), drive(n, 1.0)
        k1 = field(pos, vel, x0)
        k2 = field(pos + ha * k1[0], vel + ha * k1[1], xh)
        k3 = field(pos + ha * k2[0], vel + ha * k2[1], xh)
        k4 = field(pos + h1 * k3[0], vel + h1 * k3[1], x1)
        pos = pos + b1 * k1[0] + b2 * k2[0] + b2 * k3[0] + b1 * k4[0]
        vel = vel + b1 * k1[1] + b2 * k2[1] + b2 * k3[1] + b1 * k4[1]
        x0 = x1
    return pos, vel


def numpy_rk4(
    params: dict[str, Any], s0: np.ndarray, steps: int, h: float = H, t0: float = 0.0
) -> np.ndarray:
    """RK4 on a batch of oscillators written by hand in numpy, in place: positions and
    velocities (batch,) apart, k1..k4 and one stage array preallocated, every operation an
    ``np.multiply``/``np.add``/... with ``out=``.  The same arithmetic, in the same order, as
    :func:`python_rk4`; parameters are floats (shared) or arrays (batch,).  Returns (batch, 2)."""
    m, k, c, a, omega = (params[name] for name in PARAMS)
    shared = np.ndim(omega) == 0
    km, cm = k / m, c / m
    ha, h1, b1, b2 = h * 0.5, h * 1.0, h * (1 / 6), h * (1 / 3)
    pos, vel = s0[:, 0].copy(), s0[:, 1].copy()
    k1v, k2p, k2v, k3p, k3v, k4p, k4v, stage, tmp = np.empty((9, len(pos)))
    x0, xh, x1 = np.empty((3, len(pos)))

    def drive(n: int, node: float, out: np.ndarray) -> np.ndarray | float:
        """x/m at t0 + (n + node) h: a float when shared, else written into ``out``."""
        t = t0 + (n + node) * h
        if shared:
            return a * math.cos(omega * t) / m
        np.multiply(omega, t, out=out)
        np.cos(out, out=out)
        np.multiply(a, out, out=out)
        return np.divide(out, m, out=out)

    def velocity(xm, p: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
        """out = (x/m - (k/m) p) - (c/m) v."""
        np.multiply(km, p, out=tmp)
        np.subtract(xm, tmp, out=out)
        np.multiply(cm, v, out=tmp)
        np.subtract(out, tmp, out=out)

    def shifted(base: np.ndarray, coef: float, slope: np.ndarray, out: np.ndarray) -> None:
        """out = base + coef * slope."""
        np.multiply(coef, slope, out=out)
        np.add(base, out, out=out)

    def accumulate(acc: np.ndarray, terms) -> None:
        """acc = acc + b1 t1 + b2 t2 + ..., left to right."""
        for coef, term in terms:
            np.multiply(coef, term, out=tmp)
            np.add(acc, tmp, out=acc)

    x_start = drive(0, 0.0, x0)
    for n in range(steps):
        x_half, x_end = drive(n, 0.5, xh), drive(n, 1.0, x1)
        velocity(x_start, pos, vel, k1v)  # k1 = (vel, k1v)
        shifted(pos, ha, vel, stage)
        shifted(vel, ha, k1v, k2p)
        velocity(x_half, stage, k2p, k2v)
        shifted(pos, ha, k2p, stage)
        shifted(vel, ha, k2v, k3p)
        velocity(x_half, stage, k3p, k3v)
        shifted(pos, h1, k3p, stage)
        shifted(vel, h1, k3v, k4p)
        velocity(x_end, stage, k4p, k4v)
        accumulate(pos, ((b1, vel), (b2, k2p), (b2, k3p), (b1, k4p)))  # before vel changes
        accumulate(vel, ((b1, k1v), (b2, k2v), (b2, k3v), (b1, k4v)))
        if shared:
            x_start = x_end
        else:  # the c = 1 sample is the next step's c = 0: swap the buffers
            x0, x1 = x1, x0
            x_start = x0
    return np.stack((pos, vel), axis=-1)


@dataclass(frozen=True)
class CLoop:
    """benchmarks/oscillator_loop.c, compiled and loaded."""

    library: ctypes.CDLL
    compiler: str  # the compiler's path and first line of ``--version``
    command: str

    def run(
        self, params: dict[str, Any], s0: np.ndarray, steps: int, threads: int = 1, h: float = H
    ) -> np.ndarray:
        """RK4 on the oscillators s0 (batch, 2) over ``steps`` steps from t = 0: the final
        states (batch, 2).  Shared parameters (floats) or per-member ones (arrays)."""
        s = np.array(s0, dtype=np.float64, order="C")  # stepped in place: a fresh copy
        pointer = ctypes.POINTER(ctypes.c_double)
        if np.ndim(params["omega"]) == 0:
            values = [ctypes.c_double(float(params[name])) for name in PARAMS]
            function = self.library.rk4_shared
        else:
            arrays = [np.ascontiguousarray(params[name], dtype=np.float64) for name in PARAMS]
            values = [x.ctypes.data_as(pointer) for x in arrays]
            function = self.library.rk4_per_member
        status = function(
            s.ctypes.data_as(pointer),
            ctypes.c_long(len(s)),
            ctypes.c_long(steps),
            ctypes.c_double(0.0),
            ctypes.c_double(h),
            *values,
            ctypes.c_int(threads),
        )
        if status != 0:
            raise MemoryError("the C loop could not allocate its drive table")
        return s


def build_c_loop() -> tuple[CLoop | None, str]:
    """Compile oscillator_loop.c with ``cc`` into a temporary folder and load it: (the loop,
    a line saying how), or (None, why not) when there is no compiler or it fails."""
    cc = shutil.which("cc")
    if cc is None:
        return None, NO_COMPILER
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    compiler = f"{cc} ({(version.stdout.splitlines() or ['?'])[0]})"
    folder = tempfile.mkdtemp(prefix="dynsys-c-loop-")
    try:
        target = os.path.join(folder, "oscillator_loop.so")
        command = [cc, *C_FLAGS, str(C_SOURCE), "-o", target, "-lm"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            return None, f"C loop skipped: {cc} failed: {first}"
        library = ctypes.CDLL(target)  # stays mapped after its file is removed
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name in ("rk4_shared", "rk4_per_member"):
        getattr(library, name).restype = ctypes.c_int
    shown = " ".join(["cc", *C_FLAGS, C_SOURCE.name, "-o", "<temp>/oscillator_loop.so", "-lm"])
    return CLoop(library, compiler, shown), f"C loop: {shown}, {compiler}"


# -- timing ------------------------------------------------------------------------------------


def sample(fn: Callable[[], Any], reps: int) -> float:
    """Seconds per call of ``fn``, over ``reps`` calls in a row."""
    began = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - began) / reps


def reps_for(seconds: float) -> int:
    """Calls per timed sample: enough to last MIN_SAMPLE_S, at most MAX_REPS."""
    return int(min(MAX_REPS, max(1, math.ceil(MIN_SAMPLE_S / max(seconds, 1e-9)))))


def calibrated(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Warm ``fn`` up (one untimed call, which may compile or load its loop), then choose its
    calls per sample from a second call when the first was short; (first result, reps)."""
    began = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - began
    if seconds < MIN_SAMPLE_S:
        seconds = sample(fn, 1)
    return result, reps_for(seconds)


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Whether two arrays of final states are equal bit for bit, and their largest relative
    difference |a - b| / |b| (0 when bitwise)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return {"bitwise": False, "max_rel_diff": math.inf}
    same = bool(np.array_equal(a.view(np.uint64), b.view(np.uint64)))
    with np.errstate(all="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(b), np.finfo(np.float64).tiny)
    return {"bitwise": same, "max_rel_diff": 0.0 if same else float(np.nanmax(rel))}


def agree_text(agree: dict[str, Any] | None) -> str:
    if agree is None:
        return "-"
    return "bitwise" if agree["bitwise"] else f"rel {agree['max_rel_diff']:.1e}"


def loop_text(info: dict[str, Any] | None) -> str:
    """What ran, from traj.info: 'numba, 2 threads, loaded'."""
    if not info:
        return "-"
    parts = [str(info.get("backend"))]
    if info.get("threads") is not None:
        count = info["threads"]
        parts.append(f"{count} thread{'' if count == 1 else 's'}")
    if info.get("kernel") is not None:
        parts.append(str(info["kernel"]))
    return ", ".join(parts)


def info_of(info: dict[str, Any]) -> dict[str, Any]:
    """The loop facts of traj.info, JSON-ready: backend, and threads and kernel when given."""
    out = {"backend": info.get("backend")}
    for key in ("threads", "kernel"):
        if info.get(key) is not None:
            value = info[key]
            out[key] = value if isinstance(value, int | float | str) else str(value)
    return out


# -- the compiled loop in fresh interpreters, one per thread count ------------------------------


class LoopWorker:
    """A fresh interpreter (this script, ``--serve``) with DYNSYS_THREADS = ``threads`` that
    runs dynsys's compiled loop on request: warm-ups (final states to a file) and samples."""

    def __init__(self, threads: int, folder: str):
        self.threads = threads
        self.log = open(os.path.join(folder, f"worker-{threads}.log"), "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, THREADS_ENV: str(threads)},
        )

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request, wait for its answer; RuntimeError if the worker failed."""
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except OSError:
            line = ""
        if not line:
            self.log.seek(0)
            tail = self.log.read().strip().splitlines()[-3:]
            raise RuntimeError(f"the {self.threads}-thread worker died: {' / '.join(tail)}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def serve() -> None:
    """The worker side of :class:`LoopWorker`: one JSON request per line on stdin, one JSON
    answer per line on stdout.  ``warm`` runs a case once (untimed) and saves its final
    states; ``time`` returns seconds per call over ``reps`` calls and the loop's own time."""
    inputs: dict[tuple[str, int], tuple[System, np.ndarray, dict]] = {}
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            return
        try:
            key = (request["kind"], request["batch"])
            if key not in inputs:
                inputs[key] = case_inputs(*key)
            system, s0, _ = inputs[key]
            steps = request["steps"]
            walls: list[float] = []
            infos: list[dict] = []

            def call(system=system, s0=s0, steps=steps, walls=walls, infos=infos) -> np.ndarray:
                final, info = simulate_final(system, s0, steps, "numba")
                walls.append(info["wall_s"])
                infos.append(info)
                return final

            if request["op"] == "warm":
                final, reps = calibrated(call)
                np.save(request["save"], final)
                reply = {"reps": reps}
            else:
                reply = {"seconds": sample(call, request["reps"])}
            reply["loop_s"] = statistics.mean(walls[-request.get("reps", 1) :])
            reply["info"] = info_of(infos[-1])
        except Exception as err:  # reported to the main process, which goes on
            reply = {"error": f"{type(err).__name__}: {err}"}
        print(json.dumps(reply), flush=True)


# -- 1. the same work as a C loop --------------------------------------------------------------


@dataclass(frozen=True)
class LoopCase:
    """One row of the C-loop comparison."""

    kind: str  # "shared" or "per_member" parameters
    batch: int
    threads: int

    @property
    def floor(self) -> float | None:
        """The largest compiled / C ratio allowed (None: no ratio floor at 2 threads)."""
        if self.threads != 1:
            return None
        return SMALL_RATIO_FLOOR if self.batch <= SMALL_BATCH else RATIO_FLOOR


def loop_cases(sizes: LimitSizes) -> list[LoopCase]:
    cases = [LoopCase("shared", b, 1) for b in sizes.batches]
    cases += [LoopCase("shared", b, 2) for b in sizes.two_thread_batches]
    return [*cases, LoopCase("per_member", sizes.member_batch, 1)]


def same_work(sizes: LimitSizes, c_loop: CLoop | None, folder: str) -> list[dict[str, Any]]:
    """Section 1: each case through the C loop and the compiled dynsys loop, warmed up, then
    ``sizes.rounds`` interleaved rounds (C first in even rounds, dynsys first in odd ones)."""
    cases = loop_cases(sizes)
    compiled = kernels.available()
    workers = {t: LoopWorker(t, folder) for t in {c.threads for c in cases}} if compiled else {}
    rows = []
    try:
        for case in cases:
            rows.append(warm_case(case, sizes.steps, c_loop, workers.get(case.threads), folder))
        for r in range(sizes.rounds):
            for case, row in zip(cases, rows, strict=True):
                order = ("c", "dynsys") if r % 2 == 0 else ("dynsys", "c")
                for side in order:
                    time_side(side, case, sizes.steps, row, c_loop, workers.get(case.threads))
    finally:
        for worker in workers.values():
            worker.close()
    for row in rows:
        summarise_row(row)
    return rows


def warm_case(
    case: LoopCase, steps: int, c_loop: CLoop | None, worker: LoopWorker | None, folder: str
) -> dict[str, Any]:
    """Warm both sides of ``case`` up, check that they agree, and choose their reps."""
    row: dict[str, Any] = {**asdict(case), "steps": steps, "floor": case.floor}
    row.update(c_runs_s=[], dynsys_runs_s=[], loop_runs_s=[], c_final=None, dynsys_final=None)
    if c_loop is not None:
        _, s0, params = case_inputs(case.kind, case.batch)
        final, row["c_reps"] = calibrated(lambda: c_loop.run(params, s0, steps, case.threads))
        row["c_final"] = final
    if worker is None:
        row["dynsys_skipped"] = "numba not installed"
        return row
    save = os.path.join(folder, f"final-{case.kind}-{case.batch}-{case.threads}.npy")
    try:
        reply = worker.ask({"op": "warm", "kind": case.kind, "batch": case.batch, "steps": steps,
                            "save": save})  # fmt: skip
    except RuntimeError as err:
        row["dynsys_skipped"] = f"failed: {err}"
        return row
    row["dynsys_reps"], row["info"] = reply["reps"], reply["info"]
    row["dynsys_final"] = np.load(save)
    return row


def time_side(
    side: str,
    case: LoopCase,
    steps: int,
    row: dict[str, Any],
    c_loop: CLoop | None,
    worker: LoopWorker | None,
) -> None:
    """One timed sample of one side of a case, appended to its row."""
    if side == "c" and c_loop is not None:
        _, s0, params = case_inputs(case.kind, case.batch)
        seconds = sample(lambda: c_loop.run(params, s0, steps, case.threads), row["c_reps"])
        row["c_runs_s"].append(seconds)
    elif side == "dynsys" and "dynsys_skipped" not in row:
        request = {"op": "time", "kind": case.kind, "batch": case.batch, "steps": steps}
        try:
            reply = worker.ask({**request, "reps": row["dynsys_reps"]})
        except RuntimeError as err:
            row["dynsys_skipped"] = f"failed: {err}"
            return
        row["dynsys_runs_s"].append(reply["seconds"])
        row["loop_runs_s"].append(reply["loop_s"])
        row["info"] = reply["info"]


def summarise_row(row: dict[str, Any]) -> None:
    """Medians, the compiled / C ratio and the agreement of a row (its arrays dropped)."""
    c_final, d_final = row.pop("c_final"), row.pop("dynsys_final")
    row["c_s"] = statistics.median(row["c_runs_s"]) if row["c_runs_s"] else None
    done = row["dynsys_runs_s"] and "dynsys_skipped" not in row  # a run failed: no figure
    row["dynsys_s"] = statistics.median(row["dynsys_runs_s"]) if done else None
    row["loop_s"] = statistics.median(row["loop_runs_s"]) if row["loop_runs_s"] else None
    both = row["c_s"] is not None and row["dynsys_s"] is not None
    row["ratio"] = row["dynsys_s"] / row["c_s"] if both else None
    row["ratio_fastest"] = min(row["dynsys_runs_s"]) / min(row["c_runs_s"]) if both else None
    ok = c_final is not None and d_final is not None
    row["agree"] = agreement(c_final, d_final) if ok else None


def thread_speedups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each 2-thread case against the 1-thread case of the same batch: time(1) / time(2)."""
    one = {(r["kind"], r["batch"]): r for r in rows if r["threads"] == 1}
    found = []
    for r in rows:
        base = one.get((r["kind"], r["batch"]))
        if r["threads"] == 1 or base is None:
            continue

        def speedup(key: str, r=r, base=base) -> float | None:
            return base[key] / r[key] if base[key] and r[key] else None

        found.append(
            {
                "batch": r["batch"],
                "threads": r["threads"],
                "dynsys_speedup": speedup("dynsys_s"),
                "c_speedup": speedup("c_s"),
                "floor": THREAD_SPEEDUP_FLOOR if r["batch"] >= THREAD_SPEEDUP_FROM else None,
            }
        )
    return found


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def no_numba(row: dict[str, Any]) -> str | None:
    """The words "numba not installed" when that is why a row has no compiled time."""
    return "numba not installed" if row.get("dynsys_skipped") == "numba not installed" else None


def report_same_work(
    rows: list[dict[str, Any]],
    speedups: list[dict[str, Any]],
    sizes: LimitSizes,
    c_measured: bool,
) -> list[dict[str, Any]]:
    """Print section 1 and return its floors."""
    table_rows = []
    for r in rows:
        floor = "-" if r["floor"] is None else f"<= {r['floor']:g}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        fastest = "-" if r["ratio_fastest"] is None else f"{r['ratio_fastest']:.2f}"
        what = r.get("dynsys_skipped") or loop_text(r.get("info"))
        table_rows.append(
            [
                r["kind"].replace("_", "-"),
                r["batch"],
                r["threads"],
                seconds_text(r["c_s"]),
                seconds_text(r["dynsys_s"]),
                seconds_text(r["loop_s"]),
                ratio,
                floor,
                fastest,
                agree_text(r["agree"]),
                what,
            ]
        )
    table(
        f"Same work as a C loop: RK4 on the driven oscillator, h = {H}, {sizes.steps} steps, "
        f"the final state kept (median of {sizes.rounds} interleaved rounds)",
        [
            *("params", "batch", "threads", "C s", "compiled s", "loop s", "compiled/C"),
            *("floor", "fastest", "C = dynsys", "loop that ran"),
        ],
        table_rows,
    )
    notes = (
        "compiled s = simulate(..., method='rk4', save_every=steps, backend='numba') in a fresh "
        f"process with {THREADS_ENV}=threads;",
        "loop s = its traj.info['wall_s']; C = the C loop on as many OpenMP threads; a sample "
        f"repeats short calls to last >= {MIN_SAMPLE_S:g} s",
        "fastest = compiled/C of the fastest samples of each side, for information (a busy "
        "machine only adds time)",
        "shared: every member has the same m, k, c, A, omega (the drive once per step node); "
        "per-member: each its own",
        "C = dynsys: the final states of both, bit for bit ('bitwise') or their largest relative "
        "difference",
        "loop that ran: traj.info['backend'], ['threads'] and ['kernel'] where it says them",
    )
    print("\n".join(f"  {line}" for line in notes))
    no_c = None if c_measured else "no C loop"
    floors = []
    for r in rows:
        if r["floor"] is None:
            continue
        label = f"compiled/C, {r['kind'].replace('_', '-')} parameters, batch {r['batch']}"
        why = no_numba(r) or no_c
        floors.append(limit_floor(label, r["ratio"], r["floor"], "<=", "x", why))
    for s in speedups:
        text = "-" if s["dynsys_speedup"] is None else f"{s['dynsys_speedup']:.2f}x"
        c_text = "-" if s["c_speedup"] is None else f"{s['c_speedup']:.2f}x"
        busy = s["c_speedup"] is not None and s["c_speedup"] < THREAD_SPEEDUP_FLOOR
        hint = " (the C loop gains little too: a core busy with other work? see the load)"
        print(
            f"  {s['threads']} threads vs 1 at batch {s['batch']}: compiled {text} faster, "
            f"C {c_text}{hint if busy else ''}"
        )
        if s["floor"] is not None:
            label = f"compiled on {s['threads']} threads vs 1, batch {s['batch']}"
            why = None if kernels.available() else "numba not installed"
            floors.append(limit_floor(label, s["dynsys_speedup"], s["floor"], ">=", "x", why))
    agreed = [r["agree"]["bitwise"] for r in rows if r["agree"] is not None]
    if agreed:
        worst = max(r["agree"]["max_rel_diff"] for r in rows if r["agree"] is not None)
        said = "bitwise" if all(agreed) else f"max relative difference {worst:.2e}"
        print(f"  C and dynsys agree: {said} ({sum(agreed)} of {len(agreed)} cases bitwise)")
    report_floors(floors, sizes.verdicts)
    return floors


# -- 2. the numpy loop against hand-written numpy ----------------------------------------------


def numpy_loop(sizes: LimitSizes) -> list[dict[str, Any]]:
    """Section 2: simulate(backend="numpy") against :func:`numpy_rk4`, shared and per-member
    parameters, interleaved rounds in this process."""
    rows = []
    for kind in ("shared", "per_member"):
        for batch in sizes.numpy_batches:
            system, s0, params = case_inputs(kind, batch)
            steps = sizes.numpy_steps
            row: dict[str, Any] = {"kind": kind, "batch": batch, "steps": steps}
            sides = {
                "dynsys": lambda system=system, s0=s0, n=steps: simulate_final(
                    system, s0, n, "numpy"
                ),
                "hand": lambda params=params, s0=s0, n=steps: numpy_rk4(params, s0, n),
            }
            (dyn_final, info), row["dynsys_reps"] = calibrated(sides["dynsys"])
            hand_final, row["hand_reps"] = calibrated(sides["hand"])
            row["info"] = info_of(info)
            row["agree"] = agreement(hand_final, dyn_final)
            row.update(dynsys_runs_s=[], hand_runs_s=[])
            rows.append((row, sides))
    for r in range(sizes.rounds):
        for row, sides in rows:
            for side in ("dynsys", "hand") if r % 2 == 0 else ("hand", "dynsys"):
                row[f"{side}_runs_s"].append(sample(sides[side], row[f"{side}_reps"]))
    out = []
    for row, _ in rows:
        row["dynsys_s"] = statistics.median(row["dynsys_runs_s"])
        row["hand_s"] = statistics.median(row["hand_runs_s"])
        row["ratio"] = row["dynsys_s"] / row["hand_s"]
        out.append(row)
    return out


def report_numpy_loop(rows: list[dict[str, Any]], sizes: LimitSizes) -> list[dict[str, Any]]:
    table(
        f"The numpy loop vs hand-written in-place numpy RK4, {sizes.numpy_steps} steps "
        f"(median of {sizes.rounds} interleaved rounds)",
        ["params", "batch", "numpy loop s", "runs (s)", "hand s", "runs (s)", "ratio", "agree"],
        [
            [
                r["kind"].replace("_", "-"),
                r["batch"],
                f"{r['dynsys_s']:.4g}",
                secs(r["dynsys_runs_s"], ".3g"),
                f"{r['hand_s']:.4g}",
                secs(r["hand_runs_s"], ".3g"),
                f"{r['ratio']:.2f}",
                agree_text(r["agree"]),
            ]
            for r in rows
        ],
    )
    print(
        "  numpy loop = simulate(..., backend='numpy'); hand = positions and velocities apart, "
        "k1..k4 and a stage array\n  preallocated, np.multiply/np.add/... with out=, the "
        "oscillator's field written out; ratio = numpy loop / hand"
    )
    floors = [
        limit_floor(
            f"numpy loop / hand-written, {r['kind'].replace('_', '-')} parameters, "
            f"batch {r['batch']}",
            r["ratio"],
            NUMPY_FLOOR,
            "<=",
            "x",
        )
        for r in rows
    ]
    report_floors(floors, sizes.verdicts)
    return floors


# -- 3. one trajectory -------------------------------------------------------------------------


def one_trajectory(sizes: LimitSizes, c_loop: CLoop | None) -> dict[str, Any]:
    """Section 3: one oscillator (s0 of shape (2,), scalar parameters) through simulate with
    backend="auto" (warmed up first, so its loop is compiled or cached), the C loop on one
    member, and :func:`python_rk4`; interleaved rounds in this process."""
    system, s0, params = case_inputs("shared", 1)
    one, steps = s0[0], sizes.one_steps
    infos: list[dict] = []

    def run_dynsys() -> np.ndarray:
        final, info = simulate_final(system, one, steps, "auto")
        infos.append(info)
        return final

    sides: dict[str, Callable[[], Any]] = {
        "dynsys": run_dynsys,
        "python": lambda: python_rk4(params, one, steps),
    }
    if c_loop is not None:
        sides["c"] = lambda: c_loop.run(params, s0, steps, 1)
    finals, reps, runs = {}, {}, {side: [] for side in sides}
    for side, fn in sides.items():
        finals[side], reps[side] = calibrated(fn)
    dyn_final = finals["dynsys"]
    for r in range(sizes.rounds):
        for side in sides if r % 2 == 0 else reversed(sides):
            runs[side].append(sample(sides[side], reps[side]))
    info = info_of(infos[-1])
    medians = {side: statistics.median(times) for side, times in runs.items()}
    out = {
        "steps": steps,
        "info": info,
        "runs_s": runs,
        "reps": reps,
        "seconds": medians,
        "python_agree": agreement(np.array(finals["python"]), dyn_final),
    }
    if c_loop is not None:
        out["c_agree"] = agreement(finals["c"][0], dyn_final)
    return out


def report_one(one: dict[str, Any], sizes: LimitSizes, c_status: str) -> list[dict[str, Any]]:
    sec = one["seconds"]
    dyn = sec["dynsys"]
    rows = [["dynsys simulate (backend='auto')", f"{dyn:.4g}", secs(one["runs_s"]["dynsys"], ".3g"),
             "1", "", loop_text(one["info"])]]  # fmt: skip
    if "c" in sec:
        rows.append(["C loop, 1 member", f"{sec['c']:.4g}", secs(one["runs_s"]["c"], ".3g"),
                     f"{dyn / sec['c']:.2f}", agree_text(one["c_agree"]), ""])  # fmt: skip
    else:
        rows.append(["C loop, 1 member", "-", "", "", "", c_status])
    rows.append(["pure Python RK4 (floats, math.cos)", f"{sec['python']:.4g}",
                 secs(one["runs_s"]["python"], ".3g"), f"{dyn / sec['python']:.2f}",
                 agree_text(one["python_agree"]), ""])  # fmt: skip
    table(
        f"One trajectory, {one['steps']} RK4 steps, h = {H} (median of {sizes.rounds} "
        "interleaved rounds)",
        ["solver", "seconds", "runs (s)", "dynsys/this", "= dynsys", "loop that ran"],
        rows,
    )
    print("  dynsys warmed up first (its loop compiled or cached on disk, as a user's second run)")
    floors = []
    c_ratio = dyn / sec["c"] if "c" in sec else None
    no_c = None if "c" in sec else "no C loop"
    floors.append(limit_floor("one trajectory: dynsys / C", c_ratio, ONE_C_FLOOR, "<=", "x", no_c))
    floors.append(
        limit_floor("one trajectory: dynsys / pure Python", dyn / sec["python"], 1.0, "<", "x")
    )
    report_floors(floors, sizes.verdicts)
    return floors


# -- 4. a second process, and start-up ---------------------------------------------------------

FIRST_RUN_CODE = """
import json, sys, time
began = time.perf_counter()
import numpy as np
import dynsys
imported = time.perf_counter()
spec = json.loads(sys.argv[1])
system = dynsys.get_system("driven_oscillator", **spec["params"])
s0 = np.random.default_rng(spec["seed"]).uniform(-1.0, 1.0, (spec["batch"], 2))
times, infos = [], []
for _ in range(spec["calls"]):
    start = time.perf_counter()
    traj = dynsys.simulate(system, s0, t_span=(0.0, spec["steps"] * spec["h"]), dt=spec["h"],
                           method="rk4", save_every=spec["steps"], backend="numba")
    times.append(time.perf_counter() - start)
    infos.append({k: traj.info.get(k) for k in ("backend", "threads", "kernel")})
print(json.dumps({"import_s": imported - began, "times": times, "info": infos}, default=str))
"""


def first_run_process(sizes: LimitSizes, cache_dir: str) -> dict[str, Any]:
    """One fresh interpreter with DYNSYS_CACHE_DIR = ``cache_dir``: FIRST_RUN_CALLS compiled RK4
    runs of the same oscillators; the first minus the median of the others."""
    spec = {
        "params": case_params("shared", 1),
        "seed": SEED + 1,
        "batch": sizes.first_run_batch,
        "steps": sizes.first_run_steps,
        "h": H,
        "calls": FIRST_RUN_CALLS,
    }
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", FIRST_RUN_CODE, json.dumps(spec)],
        env={**os.environ, CACHE_ENV: cache_dir},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no message"]
        return {"failed": tail[0], "process_s": wall}
    found = json.loads(done.stdout.strip().splitlines()[-1])
    later = statistics.median(found["times"][1:])
    return {
        **found,
        "process_s": wall,
        "later_s": later,
        "first_extra_s": found["times"][0] - later,
    }


def second_process(sizes: LimitSizes) -> dict[str, Any]:
    """Section 4a: a first process compiles the loop into a fresh cache folder; then
    ``sizes.first_run_processes`` fresh processes time their first run against the later ones."""
    if not kernels.available():
        return {"skipped": "numba not installed"}
    cache_dir = tempfile.mkdtemp(prefix="dynsys-kernel-cache-")
    try:
        compiling = first_run_process(sizes, cache_dir)
        seconds = [first_run_process(sizes, cache_dir) for _ in range(sizes.first_run_processes)]
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    done = [s for s in seconds if "failed" not in s]
    extra = statistics.median(s["first_extra_s"] for s in done) if done else None
    return {"compiling": compiling, "processes": seconds, "first_extra_s": extra}


STARTUP = {
    "python -c 'import numpy'": ("-c", "import numpy"),
    "python -c 'import dynsys'": ("-c", "import dynsys"),
    "dynsys --version (python -m dynsys)": ("-m", "dynsys", "--version"),
}


def startup(runs: int) -> dict[str, list[float]]:
    """Wall seconds of each STARTUP command in a fresh interpreter, ``runs`` rounds, alternated."""
    times: dict[str, list[float]] = {name: [] for name in STARTUP}
    for _ in range(runs):
        for name, args in STARTUP.items():
            began = time.perf_counter()
            subprocess.run([sys.executable, *args], capture_output=True, check=True)
            times[name].append(time.perf_counter() - began)
    return times


def report_second(
    second: dict[str, Any], starts: dict[str, list[float]], sizes: LimitSizes
) -> list[dict[str, Any]]:
    rows = []
    if "skipped" in second:
        rows.append(["second process, first compiled run", "-", "", second["skipped"]])
    else:
        runs = [("first process (compiles)", second["compiling"])]
        runs += [(f"second process {i + 1}", p) for i, p in enumerate(second["processes"])]
        for label, p in runs:
            if "failed" in p:
                rows.append([label, "-", "", f"failed: {p['failed']}"])
                continue
            rows.append(
                [
                    f"{label}: first run - later",
                    f"{p['first_extra_s']:.3f}",
                    f"{p['times'][0]:.3f} - {p['later_s']:.4f}",
                    loop_text(p["info"][0]) + f" (then: {loop_text(p['info'][-1])})",
                ]
            )
    for name, times in starts.items():
        rows.append([name, f"{statistics.median(times):.3f}", secs(times, ".3f"), "wall time"])
    table(
        f"A second process's first compiled run ({sizes.first_run_batch} oscillators x "
        f"{sizes.first_run_steps} RK4 steps), and start-up",
        ["case", "seconds", "runs (s)", "loop that ran / what"],
        rows,
    )
    print(
        f"  fresh processes with {CACHE_ENV} = a new temporary folder, filled by the first one; "
        f"each makes {FIRST_RUN_CALLS} runs:\n  the first (loading its loop) minus the median "
        f"of the other {FIRST_RUN_CALLS - 1}; start-up: median of {sizes.startup_runs} fresh "
        "processes each, alternated"
    )
    extra = None if "skipped" in second else second["first_extra_s"]
    floors = [limit_floor("second process: first compiled run - later ones (s)", extra,
                          FIRST_RUN_FLOOR_S, "<=", " s", second.get("skipped"))]  # fmt: skip
    names = list(STARTUP)
    floors.append(limit_floor("python -c 'import dynsys' (s)", statistics.median(starts[names[1]]),
                              IMPORT_FLOOR_S, "<=", " s"))  # fmt: skip
    floors.append(limit_floor("dynsys --version (s)", statistics.median(starts[names[2]]),
                              VERSION_FLOOR_S, "<=", " s"))  # fmt: skip
    report_floors(floors, sizes.verdicts)
    return floors


# -- floors ------------------------------------------------------------------------------------


def limit_floor(
    label: str,
    value: float | None,
    bound: float,
    sense: str,
    unit: str,
    unmeasured: str | None = None,
) -> dict[str, Any]:
    """One floor: ``value`` against ``bound`` (sense "<=", ">=" or "<").  A value that could not
    be measured fails, unless ``unmeasured`` says why it was not (no C compiler, no numba):
    then "pass" is None, not judged."""
    if value is None:
        ok = None if unmeasured else False
    else:
        ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[sense]
    return {"floor": label, "value": value, "bound": bound, "sense": sense, "unit": unit,
            "pass": ok, "unmeasured": unmeasured}  # fmt: skip


def report_floors(floors: list[dict[str, Any]], judged: bool) -> None:
    for f in floors:
        value = "not measured" if f["value"] is None else f"{f['value']:.3g}{f['unit']}"
        said = (
            f"not judged ({f['unmeasured']})" if f["pass"] is None else verdict(f["pass"], judged)
        )
        print(f"  -> {f['floor']}: {value} (floor {f['sense']} {f['bound']:g}{f['unit']}): {said}")


# -- the section -------------------------------------------------------------------------------


def measure(sizes: LimitSizes) -> dict[str, Any]:
    """Measure the four parts, print their tables, and return every figure with "pass"."""
    c_loop, c_status = build_c_loop()
    print("\nThe machine's limit: dynsys's time loops against a C loop doing the same work")
    print(f"  {c_status}")
    folder = tempfile.mkdtemp(prefix="dynsys-limit-")
    try:
        rows = same_work(sizes, c_loop, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    speedups = thread_speedups(rows)
    floors = report_same_work(rows, speedups, sizes, c_loop is not None)
    numpy_rows = numpy_loop(sizes)
    floors += report_numpy_loop(numpy_rows, sizes)
    one = one_trajectory(sizes, c_loop)
    floors += report_one(one, sizes, c_status)
    second = second_process(sizes)
    starts = startup(sizes.startup_runs)
    floors += report_second(second, starts, sizes)
    missed = [f["floor"] for f in floors if f["pass"] is False]
    judged = [f for f in floors if f["pass"] is not None]
    summary = f"{len(judged) - len(missed)} of {len(judged)} floors met" + (
        f" ({len(floors) - len(judged)} not measured)" if len(judged) < len(floors) else ""
    )
    return {
        "sizes": asdict(sizes),
        "c_loop": {"status": c_status, "compiler": c_loop.compiler if c_loop else None},
        "same_work": rows,
        "thread_speedups": speedups,
        "numpy_loop": numpy_rows,
        "one_trajectory": one,
        "second_process": second,
        "startup_s": starts,
        "floors": floors,
        "pass": not missed,
        "summary": summary,
    }


def report_missed(limit: dict[str, Any], judged: bool = True) -> None:
    """The floors the section missed, one a line, under its summary line (at quick sizes:
    the figures beyond their floor, which are not judged)."""
    said = "missed" if judged else "beyond its floor (quick sizes)"
    for f in limit["floors"]:
        if f["pass"] is False:
            value = "not measured" if f["value"] is None else f"{f['value']:.3g}{f['unit']}"
            print(
                f"    {said}: {f['floor']}: {value} (floor {f['sense']} {f['bound']:g}{f['unit']})"
            )


def run_alone(quick: bool, rounds: int | None = None) -> dict[str, Any]:
    """The section alone, after the machine header of the core benchmark."""
    sizes = QUICK if quick else FULL
    if rounds is not None:
        sizes = LimitSizes(**{**asdict(sizes), "rounds": rounds})
    info = bench_core.machine()
    loops = bench_core.loop_settings(bench_core.QUICK if quick else bench_core.FULL, False)
    bench_core.report_machine(info, loops, bench_core.QUICK if quick else bench_core.FULL,
                              sizes.rounds)  # fmt: skip
    threads = os.environ.get(THREADS_ENV)
    print(f"  {THREADS_ENV}: {threads or 'unset'} in this process; the section sets it per run")
    limit = measure(sizes)
    print(f"\nSummary\n  machine limit: {verdict(limit['pass'], sizes.verdicts)}: "
          f"{limit['summary']}")  # fmt: skip
    report_missed(limit, sizes.verdicts)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"  load average at the end: {info['load_average_at_end']}")
    return {"machine": {**info, **loops}, "machine_limit": limit}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument("--rounds", type=int, help="interleaved timing rounds (default 5; 3 quick)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be >= 1")
    began = time.perf_counter()
    results = run_alone(args.quick, args.rounds)
    results["total_seconds"] = time.perf_counter() - began
    print(f"\ntotal: {results['total_seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)
    return bench_core.exit_status(results, judged=not args.quick)


if __name__ == "__main__":
    sys.exit(main())
