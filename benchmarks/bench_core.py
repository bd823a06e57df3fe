"""Speed floors of dynsys's batched steppers against scipy's solve_ivp.

Three floors and a section, measured on the driven oscillator (which has an exact solution)
with random initial states and random parameters per trajectory:

1. throughput: RK4 on 10,000 oscillators x 10,000 steps (h = 0.01) is at least 100x faster
   than solve_ivp (RK45, rtol 1e-6, atol 1e-9) called once per trajectory, with a smaller error
   against the exact solution; plus throughput for batch sizes 1 .. 100,000;
2. time to accuracy: 1,000 oscillators to max error <= 1e-3 at t = 100; the fastest dynsys
   stepper at its largest sufficient h, through the default backend with its loop cached on
   disk (as in a user's second session), takes at most half the time of one solve_ivp DOP853
   call on the stacked states at its loosest sufficient rtol; RK45 is reported too;
3. memory: the peak RSS of the throughput run above the interpreter's baseline stays within 2x
   of the states it returns, and save_every=10 reduces both;
4. the machine's limit (benchmarks/machine_limit.py, ``--only limit`` alone): the time loops
   against a C loop doing the same RK4 work, against hand-written numpy and pure Python, and
   the start-up of a second process.

Every dynsys run goes through the time loop chosen by ``--backend`` (default ``auto``: the
compiled numba loop when numba is installed and the run is large enough, as for a user of
``pip install 'dynsys[fast]'``).  Compiling is not timed: before each timed run, a two-step run
of the same system, stepper and loop compiles it; the one-off compile time is measured apart.

Usage::

    python benchmarks/bench_core.py [--quick] [--repeats N] [--json FILE] [--backend B]

Runs that must not share a process (peak memory, the allocator tuning switched off, the thread
count of the compiled loop) run in fresh subprocesses of this script (``--worker SPEC``).  See
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy
from scipy.integrate import solve_ivp

import dynsys
from dynsys import DivergenceError, System, checks, kernels
from dynsys._malloc import tune_allocator
from dynsys.simulate import AUTO_COMPILE_STEPS, choose_backend

H = 0.01  # the step of the throughput floor
SHARED_FREQUENCY_ENV = "DYNSYS_BENCH_SHARED_FREQUENCY"
BACKEND_ENV = "DYNSYS_BENCH_BACKEND"  # --backend, passed to the workers
BACKENDS = ("auto", "numpy", "numba")
WARM_STEPS = 2  # steps of the untimed warm-up run before each timed one
# the time loops compared on the floor-1 run: (backend, DYNSYS_THREADS; None = the default)
LOOPS = (("numpy", None), ("numba", 1), ("numba", None))
SEED = 20240601
TARGET = 1e-3  # max error at t = T_END of the time-to-accuracy floor
TTA_FLOOR = 0.5  # the fastest dynsys stepper / one stacked DOP853 call
T_END = 100.0  # end of the time-to-accuracy run
SPEEDUP_FLOOR = 100.0
MEMORY_FACTOR = 2.0
LONG_RUN_S = 10.0  # a search run longer than this is not repeated for timing
REFINE_TOL = 0.02  # the h search narrows N to within 2% ...
REFINE_MAX_S = 2.0  # ... when a run takes less than this
TUNING_REPEATS = 5  # fresh-process runs each way of the short allocator-tuning cases
METHODS = tuple(
    name
    for name, s in dynsys.STEPPERS.items()
    if isinstance(s, dynsys.steppers.ExplicitRungeKutta | dynsys.steppers.SemiImplicitEuler)
)
"""The explicit one-step methods (the implicit and symplectic ones have benchmarks of their
own: bench_stiff.py and bench_longtime.py)."""
IVP = {"method": "RK45", "rtol": 1e-6, "atol": 1e-9}  # the per-trajectory solve_ivp settings
ATOL_PER_RTOL = 1e-3  # stacked solve_ivp: atol = rtol * ATOL_PER_RTOL
RTOLS = tuple(10.0**-k for k in range(3, 13))
PARAM_RANGES = {"k": (0.5, 2.0), "A": (0.0, 1.0), "c": (0.0, 0.2), "omega": (0.5, 1.5)}
S0_RANGE = (-1.0, 1.0)


@dataclass(frozen=True)
class Sizes:
    """The problem sizes of one run of the benchmark (full or quick)."""

    batch: int  # throughput floor: oscillators
    steps: int  # throughput floor: steps of h = H
    ivp_sample: int  # per-trajectory solve_ivp calls timed, scaled linearly to ``batch``
    ivp_repeats: int  # times the sample is timed (each takes ~10 s in the full run)
    size_runs: tuple[tuple[int, int, int], ...]  # (batch, steps, save_every) of the size table
    tuning_runs: tuple[tuple[int, int, int], ...]  # (batch, steps, save_every), tuning on/off
    tta_batch: int  # time-to-accuracy floor: oscillators
    search_budget_s: float  # skip an h search run predicted to take longer than this
    verdicts: bool  # whether the sizes are the floors' own


FULL = Sizes(
    batch=10_000,
    steps=10_000,
    ivp_sample=200,
    ivp_repeats=2,
    size_runs=(
        (1, 10_000, 1),
        (100, 10_000, 1),
        (1_000, 10_000, 1),
        (10_000, 2_000, 1),
        (100_000, 500, 10),
    ),
    tuning_runs=((1_000, 10_000, 10_000), (10_000, 2_000, 2_000), (100_000, 200, 200)),
    tta_batch=1_000,
    search_budget_s=10.0,
    verdicts=True,
)
QUICK = Sizes(  # 2,000 x 1,000 = 2e6 member-steps: "auto" compiles the floor-1 run, as in FULL
    batch=2_000,
    steps=1_000,
    ivp_sample=10,
    ivp_repeats=1,
    size_runs=((1, 500, 1), (100, 500, 1), (1_000, 500, 1), (10_000, 200, 1)),
    tuning_runs=((10_000, 100, 100),),
    tta_batch=100,
    search_budget_s=0.3,
    verdicts=False,
)


# -- inputs and measurement helpers ------------------------------------------------------------


def oscillators(batch: int, seed: int = SEED) -> tuple[System, np.ndarray]:
    """``batch`` driven oscillators with random parameters (m = 1) and initial states.

    With ``--shared-frequency`` (passed to workers as SHARED_FREQUENCY_ENV) every oscillator is
    driven at omega = 1, so the drive costs one cosine per node for the whole batch."""
    rng = np.random.default_rng(seed)
    params = {name: rng.uniform(lo, hi, batch) for name, (lo, hi) in PARAM_RANGES.items()}
    if os.environ.get(SHARED_FREQUENCY_ENV) == "1":
        params["omega"] = 1.0
    s0 = rng.uniform(*S0_RANGE, size=(batch, 2))
    return dynsys.get_system("driven_oscillator", **params), s0


def subset(system: System, n: int) -> System:
    """The first ``n`` members of a batched system."""
    return system.with_params(**rows_of(system, slice(0, n)))


def rows_of(system: System, rows: slice) -> dict[str, np.ndarray]:
    """The parameters of the batch members ``rows`` (scalar parameters as they are)."""
    return {k: v[rows] if v.ndim else v for k, v in system.params.items()}


def wall_times(
    fn: Callable[..., Any], repeats: int, *args: Any, **kwargs: Any
) -> tuple[list[float], Any]:
    """The wall times of ``repeats`` calls ``fn(*args, **kwargs)``, and what the last returned."""
    times, result = [], None
    for _ in range(repeats):
        result = None  # let the previous result go before the next run
        began = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - began)
    return times, result


def max_error(system: System, s0: np.ndarray, t: np.ndarray, states: np.ndarray) -> float:
    """max |states - exact| over trajectories, times and components, in chunks of trajectories."""
    chunk = max(1, 5_000_000 // len(t))
    worst = 0.0
    for i in range(0, len(s0), chunk):
        rows = slice(i, i + chunk)
        exact = system.exact(t, s0[rows], t[0], rows_of(system, rows))
        worst = max(worst, float(np.abs(states[rows] - exact).max()))
    return worst


def maxrss_bytes() -> int:
    """Peak resident set size of this process so far: VmHWM of /proc/self/status.

    Not ru_maxrss: on Linux a child's ru_maxrss starts at its parent's peak (it is carried
    across fork and exec), so a worker's baseline would be the main process's peak.  ru_maxrss
    (in KiB) is the fallback where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def requested_backend() -> str:
    """The time loop asked for by ``--backend`` (passed to the workers as BACKEND_ENV)."""
    return os.environ.get(BACKEND_ENV, "auto")


def numba_threads() -> int | None:
    """Threads the compiled loop may use in this process (``kernels.threads()``: DYNSYS_THREADS
    or one per core); None without numba."""
    return kernels.threads() if kernels.available() else None


def threads_used(loop: str) -> int:
    """Threads a time loop runs on here (the numpy loop steps in one thread)."""
    return (numba_threads() or 1) if loop == "numba" else 1


def warm_up(
    system: System, s0: np.ndarray, method: str, member_steps: int, backend: str | None = None
) -> str:
    """Compile, untimed, the loop that a run of ``member_steps`` will take; return that loop.

    The warm-up is a WARM_STEPS-step run of the same system (the same parameter arrays: numba
    compiles a variant per array layout) and stepper; once compiled, it takes milliseconds."""
    backend = requested_backend() if backend is None else backend
    loop = choose_backend(backend, system, dynsys.get_stepper(method, system), member_steps)
    dynsys.simulate(system, s0, t_span=(0.0, WARM_STEPS * H), dt=H, method=method, backend=loop)
    return loop


def simulate_rk4(
    system: System, s0: np.ndarray, steps: int, save_every: int = 1, backend: str | None = None
):
    """RK4 with h = H over ``steps`` steps from t = 0, through the ``backend`` time loop."""
    return dynsys.simulate(
        system,
        s0,
        t_span=(0.0, steps * H),
        dt=H,
        method="rk4",
        save_every=save_every,
        backend=requested_backend() if backend is None else backend,
    )


def time_rk4(
    system: System, s0: np.ndarray, steps: int, save_every: int, repeats: int
) -> dict[str, Any]:
    """Wall times of ``repeats`` RK4 simulate calls (after a warm-up), of their time loops
    alone, and the loop that ran."""
    warm_up(system, s0, "rk4", len(s0) * steps)
    times, loops, ran, threads, compiled = [], [], set(), set(), False
    for _ in range(repeats):
        began = time.perf_counter()
        traj = simulate_rk4(system, s0, steps, save_every)
        times.append(time.perf_counter() - began)
        loops.append(traj.info["wall_s"])
        ran.add(traj.info["backend"])
        threads.add(traj.info.get("threads") or threads_used(traj.info["backend"]))
        compiled = compiled or traj.info.get("kernel") == "compiled"
        del traj  # freed outside the timing, before the next run allocates
    return {
        "times": times,
        "loops": loops,
        "backend": "+".join(sorted(ran)),
        "threads": max(threads),
        "recompiled": compiled,
    }


# -- the worker: one RK4 case in a fresh process -----------------------------------------------


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One RK4 run on a fresh batch: its times, its peak RSS above the baseline, its error.

    The baseline is taken after the warm-up: the imports (numba's too) and the compiled loop
    belong to the interpreter, not to the run."""
    if spec.get("mode") == "compile":
        return compile_worker()
    system, s0 = oscillators(spec["batch"])
    warm_up(system, s0, "rk4", spec["batch"] * spec["steps"], spec["backend"])
    baseline = maxrss_bytes()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    began = time.perf_counter()
    traj = simulate_rk4(system, s0, spec["steps"], spec["save_every"], spec["backend"])
    seconds = time.perf_counter() - began
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    peak = maxrss_bytes()
    error = max_error(system, s0, traj.t, traj.states) if spec["error"] else None
    return {
        **spec,
        "tuning_active": tune_allocator(),
        "backend_ran": traj.info["backend"],
        "threads": traj.info.get("threads") or threads_used(traj.info["backend"]),
        "recompiled": traj.info.get("kernel") == "compiled",
        "seconds": seconds,
        "loop_seconds": traj.info["wall_s"],
        "page_faults": faults,
        "baseline_rss": baseline,
        "peak_rss": peak,
        "states_bytes": traj.states.nbytes,
        "error": error,
    }


def compile_worker() -> dict[str, Any]:
    """The one-off cost of the compiled loop in a fresh process: importing numba, then the first
    WARM_STEPS-step RK4 run on a few oscillators minus a second, identical run."""
    began = time.perf_counter()
    import numba

    imported = time.perf_counter()
    system, s0 = oscillators(16)
    calls, _ = wall_times(simulate_rk4, 2, system, s0, WARM_STEPS, backend="numba")
    return {
        "numba": numba.__version__,
        "import_s": imported - began,
        "first_call_s": calls[0],
        "second_call_s": calls[1],
        "compile_s": calls[0] - calls[1],
    }


def in_fresh_process(spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run :func:`worker` on ``spec`` in a fresh interpreter with environment ``env``."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        env=os.environ if env is None else env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {spec} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_worker(
    batch: int,
    steps: int,
    *,
    save_every: int = 1,
    error: bool = False,
    tuning: bool = True,
    backend: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run :func:`worker` in a fresh interpreter, with DYNSYS_MALLOC_TUNING set by ``tuning``,
    the time loop ``backend`` (default: --backend) and ``threads`` threads of the compiled loop
    if given (DYNSYS_THREADS)."""
    spec = {
        "batch": batch,
        "steps": steps,
        "save_every": save_every,
        "error": error,
        "backend": requested_backend() if backend is None else backend,
        "dynsys_threads": threads,
    }
    env = {**os.environ, "DYNSYS_MALLOC_TUNING": "1" if tuning else "0"}
    if threads is not None:
        env["DYNSYS_THREADS"] = str(threads)
    return in_fresh_process(spec, env)


def merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several single-run workers as one record: all their times; the largest memory growth."""
    worst = max(runs, key=lambda r: r["peak_rss"] - r["baseline_rss"])
    return {
        **worst,
        "error": runs[0]["error"],
        "backend_ran": "+".join(sorted({r["backend_ran"] for r in runs})),
        "recompiled": any(r["recompiled"] for r in runs),
        "times_s": [r["seconds"] for r in runs],
        "page_faults": statistics.median(r["page_faults"] for r in runs),
        "loop_times_s": [r["loop_seconds"] for r in runs],
        "runs": len(runs),
    }


def tuned_and_untuned(
    batch: int, steps: int, repeats: int, *, save_every: int = 1, error: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``repeats`` fresh-process runs with the allocator tuning on and as many with it off,
    alternated so that a change in the background load hits both alike."""
    on, off = [], []
    for i in range(repeats):
        first = error and i == 0
        on.append(run_worker(batch, steps, save_every=save_every, error=first, tuning=True))
        off.append(run_worker(batch, steps, save_every=save_every, tuning=False))
    return merged(on), merged(off)


# -- floor 1: throughput -----------------------------------------------------------------------


def compare_loops(sizes: Sizes, repeats: int, selected: dict[str, Any]) -> list[dict[str, Any]]:
    """The floor-1 run through each time loop of LOOPS, ``repeats`` fresh processes each,
    alternated; the loop the selected backend ran (default threads) reuses ``selected``."""
    todo = [
        (backend, threads)
        for backend, threads in LOOPS
        if (backend == "numpy" or kernels.available())
        and (backend, threads) != (selected["backend_ran"], None)
    ]
    runs: dict[tuple[str, int | None], list[dict[str, Any]]] = {key: [] for key in todo}
    for _ in range(repeats):
        for backend, threads in todo:
            run = run_worker(sizes.batch, sizes.steps, backend=backend, threads=threads)
            runs[backend, threads].append(run)
    rows = []
    for backend, threads in LOOPS:
        row = {"loop": backend, "dynsys_threads": threads}
        if (backend, threads) == (selected["backend_ran"], None):
            rows.append({**selected, **row, "selected": True})
        elif (backend, threads) in runs:
            rows.append({**merged(runs[backend, threads]), **row, "selected": False})
        else:
            rows.append({**row, "selected": False, "skipped": "numba not installed"})
    return rows


def plain_solve_ivp(system: System, s0: np.ndarray, t: np.ndarray, i: int) -> np.ndarray:
    """Trajectory i the way a careful scipy user writes it: a scalar rhs, t_eval = the grid."""
    p = {k: float(v[i] if v.ndim else v) for k, v in system.params.items()}
    m, k, a, c, omega = p["m"], p["k"], p["A"], p["c"], p["omega"]

    def rhs(tt: float, y: np.ndarray) -> tuple[float, float]:
        return y[1], (a * math.cos(omega * tt) - k * y[0] - c * y[1]) / m

    sol = solve_ivp(rhs, (t[0], t[-1]), s0[i], t_eval=t, **IVP)
    return sol.y.T


def time_per_trajectory_ivp(
    system: System, s0: np.ndarray, t: np.ndarray, sample: int, repeats: int
) -> dict[str, Any]:
    """Seconds per trajectory and max error of the plain and the dynsys.reference solve_ivp."""
    part = subset(system, sample)
    plain_all, plain = wall_times(
        lambda: [plain_solve_ivp(part, s0, t, i) for i in range(sample)], repeats
    )
    ref_all, ref = wall_times(dynsys.reference, repeats, part, s0[:sample], t, **IVP)
    plain_s, ref_s = statistics.median(plain_all), statistics.median(ref_all)
    return {
        "sample": sample,
        "repeats": repeats,
        "plain_per_traj_s": plain_s / sample,
        "plain_times_s": plain_all,
        "plain_error": max_error(part, s0[:sample], t, np.stack(plain)),
        "reference_per_traj_s": ref_s / sample,
        "reference_times_s": ref_all,
        "reference_error": max_error(part, s0[:sample], t, ref.states),
    }


def throughput_by_size(sizes: Sizes, repeats: int) -> list[dict[str, Any]]:
    """RK4 oscillator-steps per second for each (batch, steps, save_every) of the size table."""
    rows = []
    for batch, steps, save_every in sizes.size_runs:
        system, s0 = oscillators(batch)
        timed = time_rk4(system, s0, steps, save_every, repeats)
        seconds = statistics.median(timed["times"])
        rows.append(
            {
                "batch": batch,
                "steps": steps,
                "save_every": save_every,
                "backend": timed["backend"],
                "threads": timed["threads"],
                "recompiled": timed["recompiled"],
                "seconds": seconds,
                "loop_seconds": statistics.median(timed["loops"]),
                "per_s": batch * steps / seconds,
            }
        )
    return rows


# -- floor 2: time to accuracy -----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run of the time-to-accuracy search: N steps, max error at T_END, wall seconds."""

    n: int
    error: float
    seconds: float
    backend: str  # the time loop that ran


def step_grid(limit: int = 2**27) -> list[int]:
    """Step counts N = 100 * 2^(j/2) over [0, T_END] (h = 1, 0.71, 0.5, ...)."""
    grid, j = [], 0
    while (n := round(100 * 2 ** (j / 2))) <= limit:
        grid.append(n)
        j += 1
    return grid


def final_error(
    system: System,
    s0: np.ndarray,
    exact_end: np.ndarray,
    method: str,
    n: int,
    backend: str | None = None,
):
    """(max error at T_END, seconds, loop) of ``method`` with N = n steps, keeping steps 0 and
    N, through ``backend`` (default --backend); the loop is compiled (untimed) first."""
    backend = requested_backend() if backend is None else backend
    loop = warm_up(system, s0, method, len(s0) * n, backend)
    began = time.perf_counter()
    try:
        traj = dynsys.simulate(
            system,
            s0,
            t_span=(0.0, T_END),
            dt=T_END / n,
            method=method,
            save_every=n,
            backend=backend,
        )
    except DivergenceError:
        return math.inf, time.perf_counter() - began, loop
    seconds = time.perf_counter() - began
    return float(np.abs(traj.states[:, -1] - exact_end).max()), seconds, traj.info["backend"]


def search_stepper(
    method: str, system: System, s0: np.ndarray, exact_end: np.ndarray, sizes: Sizes, repeats: int
) -> dict[str, Any]:
    """The largest h = T_END / N reaching TARGET, and the median time of a run at that h.

    N runs up the grid of :func:`step_grid` until the error is reached; a run predicted
    (linearly from the last one) to take over the search budget is not made.  The last
    bracket is then narrowed by :func:`bisect_steps`.
    """
    fail: Run | None = None
    passed: Run | None = None
    for n in step_grid():
        if fail and fail.seconds * n / fail.n > sizes.search_budget_s:
            break
        if len(s0) * n > checks.max_steps():  # simulate would refuse it: the step ceiling
            break
        run = Run(n, *final_error(system, s0, exact_end, method, n))
        if run.error <= TARGET:
            passed = run
            break
        fail = run
    if passed is None:
        return {
            "method": method,
            "reached": False,
            "n": fail.n,
            "error": fail.error,
            "backend": fail.backend,
        }
    if fail is not None:
        passed = bisect_steps(system, s0, exact_end, method, fail, passed)
    runs = [passed]
    if passed.seconds < LONG_RUN_S:
        runs = [
            Run(passed.n, *final_error(system, s0, exact_end, method, passed.n))
            for _ in range(repeats)
        ]
    found = {
        "method": method,
        "reached": True,
        "n": passed.n,
        "h": T_END / passed.n,
        "error": passed.error,
        "n_fails": fail.n if fail else None,
        "seconds": statistics.median(r.seconds for r in runs),
        "runs": len(runs),
        "backend": "+".join(sorted({r.backend for r in runs})),
        "threads": threads_used(passed.backend),
    }
    if kernels.available() and passed.seconds < LONG_RUN_S:  # the same N through the other loop
        other = "numpy" if passed.backend == "numba" else "numba"
        times = [
            final_error(system, s0, exact_end, method, passed.n, other)[1] for _ in range(repeats)
        ]
        found["other"] = {
            "backend": other,
            "threads": threads_used(other),
            "seconds": statistics.median(times),
            "runs": len(times),
        }
    return found


def bisect_steps(
    system: System, s0: np.ndarray, exact_end: np.ndarray, method: str, fail: Run, passed: Run
) -> Run:
    """Narrow [fail.n, passed.n] to within REFINE_TOL of passed.n, if its runs are short."""
    while passed.n - fail.n > REFINE_TOL * passed.n and passed.seconds < REFINE_MAX_S:
        n = (fail.n + passed.n) // 2
        run = Run(n, *final_error(system, s0, exact_end, method, n))
        if run.error <= TARGET:
            passed = run
        else:
            fail = run
    return passed


def stacked_solve_ivp(
    system: System, s0: np.ndarray, method: str, rtol: float
) -> tuple[np.ndarray, int]:
    """One solve_ivp call on all oscillators stacked as [s..., v...]; the states at T_END."""
    n = len(s0)
    m, k, a, c, omega = (system.params[p] for p in ("m", "k", "A", "c", "omega"))

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        s, v = y[:n], y[n:]
        return np.concatenate((v, (a * np.cos(omega * t) - k * s - c * v) / m))

    y0 = np.concatenate((s0[:, 0], s0[:, 1]))
    sol = solve_ivp(
        rhs,
        (0.0, T_END),
        y0,
        method=method,
        rtol=rtol,
        atol=rtol * ATOL_PER_RTOL,
        t_eval=[T_END],
    )
    if sol.status != 0:
        raise RuntimeError(f"solve_ivp {method} rtol={rtol:g}: {sol.message}")
    return np.stack((sol.y[:n, -1], sol.y[n:, -1]), axis=-1), int(sol.nfev)


def search_stacked(
    method: str, system: System, s0: np.ndarray, exact_end: np.ndarray, repeats: int
) -> dict[str, Any]:
    """The loosest rtol = 10^-k reaching TARGET, and the median time of a call at that rtol."""
    tried = []
    for rtol in RTOLS:
        began = time.perf_counter()
        end, nfev = stacked_solve_ivp(system, s0, method, rtol)
        seconds = time.perf_counter() - began
        error = float(np.abs(end - exact_end).max())
        tried.append({"rtol": rtol, "error": error, "seconds": seconds, "nfev": nfev})
        if error <= TARGET:
            times, _ = wall_times(stacked_solve_ivp, repeats, system, s0, method, rtol)
            seconds = statistics.median(times)
            return {"method": method, "reached": True, **tried[-1], "seconds": seconds}
    return {"method": method, "reached": False, **tried[-1], "tried": tried}


def time_to_accuracy(sizes: Sizes, repeats: int) -> dict[str, Any]:
    """Floor 2: every stepper's largest sufficient h, and solve_ivp stacked RK45 and DOP853."""
    system, s0 = oscillators(sizes.tta_batch)
    exact_end = system.exact(np.array([0.0, T_END]), s0, 0.0, system.params)[:, -1]
    if requested_backend() == "auto" and kernels.available():
        for method in METHODS:  # as for a user's second session: each loop cached on disk
            warm_up(system, s0, method, 0, "numba")
    steppers = [search_stepper(m, system, s0, exact_end, sizes, repeats) for m in METHODS]
    ivps = [search_stacked(m, system, s0, exact_end, repeats) for m in ("RK45", "DOP853")]
    return {
        "batch": sizes.tta_batch,
        "budget_s": sizes.search_budget_s,
        "steppers": steppers,
        "solve_ivp": ivps,
    }


# -- reporting ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU, memory, versions, load, and whether dynsys tunes glibc's allocator here."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "dynsys": f"{dynsys.__version__} ({source_version()})",
        "malloc_tuning_active": tune_allocator(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def loop_settings(sizes: Sizes, floor1: bool) -> dict[str, Any]:
    """The time loop asked for, numba's version and threads, and the one-off compile cost."""
    requested = requested_backend()
    system, _ = oscillators(2)
    compiles = kernels.available() and kernels.supports(system, dynsys.get_stepper("rk4", system))
    choice = {
        "numpy": "numpy",
        "numba": "numba",
        "auto": (
            f"numba when the loop is cached on disk or the run has >= {AUTO_COMPILE_STEPS:.0e} "
            "member-steps, numpy otherwise"
            if compiles
            else "numpy (numba not installed)"
        ),
    }[requested]
    settings: dict[str, Any] = {"backend": requested, "backend_choice": choice}
    if floor1:  # what simulate will choose for the floor-1 run; the run records what it took
        member_steps = sizes.batch * sizes.steps
        loop = choose_backend(requested, system, dynsys.get_stepper("rk4", system), member_steps)
        settings["floor1_loop"] = loop
    settings["numba"] = "not installed"
    settings["numba_threads"] = numba_threads()
    settings["dynsys_threads_env"] = os.environ.get("DYNSYS_THREADS")
    settings["compile"] = None
    if kernels.available():  # in an empty cache folder of compiled loops: compiled, not loaded
        with tempfile.TemporaryDirectory(prefix="dynsys-bench-cache-") as empty:
            env = {**os.environ, "DYNSYS_CACHE_DIR": empty}
            settings["compile"] = in_fresh_process({"mode": "compile"}, env)
        settings["numba"] = settings["compile"]["numba"]
    return settings


def source_version() -> str:
    """The git commit of the dynsys checkout, with '+dirty' for uncommitted changes to it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(dynsys.__file__)))
    try:
        commit = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--", "dynsys"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {commit}{'+dirty' if dirty else ''}"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for j, row in enumerate(cells):
        rest = (c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        print("  ".join([row[0].ljust(widths[0]), *rest]).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def verdict(ok: bool, judged: bool = True) -> str:
    """PASS or FAIL; at sizes that are not the floors' own (--quick), no verdict."""
    if not judged:
        return "not judged (quick sizes)"
    return "PASS" if ok else "FAIL"


def gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.3f} GB"


def secs(values: Sequence[float], fmt: str = ".2f") -> str:
    """Several times in a row, each formatted with ``fmt``."""
    return " ".join(f"{v:{fmt}}" for v in values)


def report_machine(info: dict[str, Any], loops: dict[str, Any], sizes: Sizes, repeats: int) -> None:
    print("dynsys core benchmark" + ("" if sizes.verdicts else " (--quick: not the floors' sizes)"))
    for key, value in info.items():
        print(f"  {key}: {value}")
    print(f"  timing: median of {repeats} runs unless said otherwise")
    floor1 = f"; the floor-1 run: {loops['floor1_loop']}" if "floor1_loop" in loops else ""
    print(f"  time loop: --backend {loops['backend']}: {loops['backend_choice']}{floor1}")
    if loops["compile"] is None:
        print("  numba: not installed (pip install -e '.[fast]' for the compiled loop)")
        return
    threads = loops.get("dynsys_threads_env")
    print(
        f"  numba: {loops['numba']}; the compiled loop runs on up to {loops['numba_threads']} "
        f"threads (DYNSYS_THREADS={threads if threads is not None else 'unset: one per core'})"
    )
    c = loops["compile"]
    print(
        f"  compile: {c['compile_s']:.2f} s for rk4 on the driven oscillator (first {WARM_STEPS}-"
        f"step call {c['first_call_s']:.2f} s - second {c['second_call_s']:.3f} s; import numba "
        f"{c['import_s']:.2f} s), once per machine (then cached on disk),\n  system class, "
        "stepper and parameter layout; never timed: a "
        f"{WARM_STEPS}-step warm-up of the same system, stepper and loop precedes each timed run"
    )
    print("  the 'loop' column of each table is traj.info['backend'] of its runs")


def loop_name(backend: str, threads: int) -> str:
    """'numba loop, 2 threads' or 'numpy loop, 1 thread'."""
    return f"{backend} loop, {threads} thread{'' if threads == 1 else 's'}"


def report_throughput(
    sizes: Sizes, tuned: dict[str, Any], ivp: dict[str, Any], loops: list[dict[str, Any]]
) -> dict[str, Any]:
    """Print floor 1 and the time loops compared on its run; return the figures."""
    dyn_s = statistics.median(tuned["times_s"])
    plain_s = ivp["plain_per_traj_s"] * sizes.batch
    ref_s = ivp["reference_per_traj_s"] * sizes.batch
    best = min(plain_s, ref_s)
    speedup = best / dyn_s
    best_ivp_error = min(ivp["plain_error"], ivp["reference_error"])
    ok = speedup >= SPEEDUP_FLOOR and tuned["error"] < best_ivp_error
    n = ivp["sample"]
    selected = loop_name(tuned["backend_ran"], tuned["threads"])
    table(
        f"Floor 1: throughput, {sizes.batch} oscillators x {sizes.steps} steps "
        f"(h = {H}, t in [0, {sizes.steps * H:g}])",
        ["solver", "seconds", "runs (s)", "x dynsys", "max |err| vs exact"],
        [
            [
                f"dynsys rk4 (simulate, {selected})",
                f"{dyn_s:.2f}",
                secs(tuned["times_s"]),
                "1",
                f"{tuned['error']:.2e} (all)",
            ],
            [
                "  of which the time loop",
                f"{statistics.median(tuned['loop_times_s']):.2f}",
                secs(tuned["loop_times_s"]),
                "",
                "",
            ],
            [
                f"solve_ivp RK45 plain rhs, {n} calls x {sizes.batch // n}",
                f"{plain_s:.1f}",
                secs(np.array(ivp["plain_times_s"]) * sizes.batch / n),
                f"{plain_s / dyn_s:.1f}",
                f"{ivp['plain_error']:.2e} ({n})",
            ],
            [
                f"dynsys.reference RK45, {n} traj. x {sizes.batch // n}",
                f"{ref_s:.1f}",
                secs(np.array(ivp["reference_times_s"]) * sizes.batch / n),
                f"{ref_s / dyn_s:.1f}",
                f"{ivp['reference_error']:.2e} ({n})",
            ],
        ],
    )
    print(
        f"  solve_ivp: rtol={IVP['rtol']:g}, atol={IVP['atol']:g}, t_eval = the {sizes.steps + 1} "
        f"grid times; {n} trajectories timed {ivp['repeats']}x (median), scaled to {sizes.batch}"
    )

    rows, single = [], None
    for r in loops:
        name = "numpy loop" if r["loop"] == "numpy" else "compiled loop (numba)"
        env = "-" if r["loop"] == "numpy" else str(r["dynsys_threads"] or "default")
        if "skipped" in r:
            rows.append([name, env, "", "", "", "", r["skipped"]])
            continue
        r["x_solve_ivp"] = best / statistics.median(r["times_s"])
        if r["backend_ran"] == "numba" and r["threads"] == 1:
            single = r["x_solve_ivp"]
        rows.append(
            [
                name + (" *" if r["selected"] else ""),
                env,
                r["threads"],
                f"{statistics.median(r['times_s']):.2f}",
                secs(r["times_s"]),
                f"{statistics.median(r['loop_times_s']):.2f}",
                f"{r['x_solve_ivp']:.1f}",
            ]
        )
    table(
        f"Time loops on the floor-1 run (fresh processes; x solve_ivp = the faster solve_ivp's "
        f"{best:.1f} s / simulate s)",
        [
            *("time loop", "DYNSYS_THREADS", "threads", "simulate s"),
            *("runs (s)", "loop s", "x solve_ivp"),
        ],
        rows,
    )
    print(f"  * the floor's own run above (--backend {requested_backend()})")
    if tuned["backend_ran"] == "numba":
        one = f"{single:.1f}x" if single is not None else "not measured"
        beside = f"on 1 thread: {one}; solve_ivp runs on 1 thread"
    else:
        beside = "one thread, as solve_ivp"
    print(
        f"  -> speedup vs the faster solve_ivp: {speedup:.1f}x with the {selected} ({beside}) "
        f"(floor {SPEEDUP_FLOOR:g}x), error {tuned['error']:.1e} vs "
        f"{best_ivp_error:.1e}: {verdict(ok, sizes.verdicts)}"
        + ("" if speedup >= SPEEDUP_FLOOR else f" (short by {SPEEDUP_FLOOR / speedup:.1f}x)")
    )
    one = "" if single is None else f"; {single:.1f}x on 1 thread"
    return {
        "speedup": speedup,
        "speedup_1_thread": single,
        "backend": tuned["backend_ran"],
        "threads": tuned["threads"],
        "pass": ok,
        "dynsys_s": dyn_s,
        "ivp_plain_s": plain_s,
        "ivp_best_s": best,
        "summary": (
            f"{speedup:.1f}x faster than solve_ivp with the {selected}{one} "
            f"(floor {SPEEDUP_FLOOR:g}x)"
        ),
    }


def report_sizes(rows: list[dict[str, Any]]) -> None:
    table(
        "RK4 throughput by batch size (oscillator-steps/s = batch * steps / simulate seconds)",
        [
            *("batch", "steps", "save_every", "loop", "threads"),
            *("simulate s", "loop s", "osc-steps/s", "us/step"),
        ],
        [
            [
                r["batch"],
                r["steps"],
                r["save_every"],
                r["backend"],
                r["threads"],
                f"{r['seconds']:.3f}",
                f"{r['loop_seconds']:.3f}",
                f"{r['per_s']:.3g}",
                f"{r['seconds'] / r['steps'] * 1e6:.1f}",
            ]
            for r in rows
        ],
    )
    if requested_backend() == "auto":
        print(
            f"  --backend auto takes the compiled loop from {AUTO_COMPILE_STEPS:.0e} member-steps "
            "(batch * steps) when numba is installed; --backend numba to compile every row"
        )


def report_tuning(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Print the time loop with the allocator tuning on and off, and its page faults."""
    rows = []
    for on, off in pairs:
        t_on = statistics.median(on["loop_times_s"])
        t_off = statistics.median(off["loop_times_s"])
        paired = zip(off["loop_times_s"], on["loop_times_s"], strict=True)
        ratio = statistics.median(b / a for b, a in paired)
        rows.append(
            [
                on["batch"],
                on["steps"],
                on["save_every"],
                on["backend_ran"],
                on["runs"],
                f"{t_on:.3f}",
                f"{t_off:.3f}",
                f"{ratio:.3f}",
                f"{on['page_faults'] / on['steps']:.1f}",
                f"{off['page_faults'] / off['steps']:.1f}",
                f"{(on['peak_rss'] - on['baseline_rss']) / 1e9:.3f}",
                f"{(off['peak_rss'] - off['baseline_rss']) / 1e9:.3f}",
            ]
        )
    header = ["batch", "steps", "save_every", "loop", "runs", "loop s on", "loop s off", "off/on"]
    table(
        "Allocator tuning: RK4 time loop with DYNSYS_MALLOC_TUNING=1 (on) vs 0 (off)",
        [*header, "faults/step on", "off", "GB on", "GB off"],
        rows,
    )
    print(
        "  runs = fresh processes each way, on and off alternated; loop s = median "
        "info['wall_s']; off/on = median of the\n  ratios of neighbouring runs (which share "
        "the background load); faults = minor page faults during simulate\n  (median run); "
        "GB = largest peak RSS above the baseline after imports, inputs and warm-up"
    )


def report_tta(tta: dict[str, Any], verdicts: bool) -> dict[str, Any]:
    """Print floor 2 and return its figures."""
    rows = []
    for r in tta["steppers"]:
        if r["reached"]:
            rows.append(
                [
                    f"dynsys {r['method']}",
                    r["backend"],
                    f"h={r['h']:.4g} (N={r['n']}; N={r['n_fails']} misses)",
                    f"{r['error']:.2e}",
                    f"{r['seconds']:.3f}",
                    r["runs"],
                    f"{r['other']['backend']} {r['other']['seconds']:.3f}" if "other" in r else "",
                ]
            )
        else:
            rows.append(
                [
                    f"dynsys {r['method']}",
                    r["backend"],
                    f"not reached by N={r['n']}",
                    f"{r['error']:.2e}",
                    "-",
                    "-",
                    "",
                ]
            )
    for r in tta["solve_ivp"]:
        rows.append(
            [
                f"solve_ivp {r['method']} stacked",
                "scipy",
                f"rtol={r['rtol']:.0e} (nfev={r['nfev']})",
                f"{r['error']:.2e}",
                f"{r['seconds']:.3f}" if r["reached"] else "-",
                "" if r["reached"] else "not reached",
                "",
            ]
        )
    table(
        f"Floor 2: time to max error <= {TARGET:g} at t = {T_END:g}, {tta['batch']} oscillators",
        ["solver", "loop", "setting", "max |err(100)|", "seconds", "runs", "other loop s"],
        rows,
    )
    print(
        f"  loop = the time loop of the timed runs (traj.info['backend']; --backend "
        f"{requested_backend()}"
        + (
            f": compiled from {AUTO_COMPILE_STEPS:.0e} member-steps = {tta['batch']} * N"
            if requested_backend() == "auto"
            else ""
        )
        + "); other loop s = the same N\n  through the other time loop (median of as many runs), "
        "for comparison only\n"
        f"  h = {T_END:g}/N, N up the grid 100*2^(j/2) to the first N reaching the target, then "
        f"bisected to {REFINE_TOL:.0%} when a run takes < {REFINE_MAX_S:g} s; no run predicted "
        f"over {tta['budget_s']:g} s, or over the step ceiling ({checks.max_steps():.0e} "
        "member-steps), is made\n"
        f"  simulate(save_every=N) keeps steps 0 and N; solve_ivp on the {2 * tta['batch']} "
        f"stacked states: atol = rtol*{ATOL_PER_RTOL:g}, t_eval=[{T_END:g}]"
    )
    reached = [r for r in tta["steppers"] if r["reached"]]
    dop853 = tta["solve_ivp"][1]
    if not reached or not dop853["reached"]:
        print(f"  -> no comparison possible: {verdict(False, verdicts)}")
        return {"pass": False, "summary": "target not reached"}
    best = min(reached, key=lambda r: r["seconds"])
    ratio = best["seconds"] / dop853["seconds"]
    ok = ratio <= TTA_FLOOR
    print(
        f"  -> fastest dynsys: {best['method']} ({loop_name(best['backend'], best['threads'])}) "
        f"h={best['h']:.4g}, {best['seconds']:.3f} s vs one DOP853 call on the stacked states "
        f"{dop853['seconds']:.3f} s: {ratio:.2f}x the time (floor <= {TTA_FLOOR:g}x): "
        f"{verdict(ok, verdicts)}"
    )
    if "other" in best:
        o = best["other"]
        print(
            f"     (the same h through the {loop_name(o['backend'], o['threads'])}: "
            f"{o['seconds']:.3f} s, {o['seconds'] / dop853['seconds']:.2f}x; not the verdict)"
        )
    return {
        "pass": ok,
        "best": best,
        "ratio": ratio,
        "summary": (
            f"{best['method']} ({best['backend']} loop) takes {ratio:.2f}x the time of one "
            f"DOP853 call on the stacked states (floor <= {TTA_FLOOR:g}x)"
        ),
    }


def report_memory(
    full: dict[str, Any],
    thin: dict[str, Any],
    off: dict[str, Any],
    loops: list[dict[str, Any]],
    verdicts: bool = True,
) -> dict:
    """Print floor 3 (and the other time loops' runs of the same size) and return its figures."""
    rows = []
    cases = [
        ("save_every=1", full),
        (f"save_every={thin['save_every']}", thin),
        ("save_every=1, tuning off", off),
    ]
    cases += [
        (f"save_every=1, {loop_name(r['backend_ran'], r['threads'])}", r)
        for r in loops
        if not r["selected"] and "skipped" not in r
    ]
    for label, w in cases:
        grown = w["peak_rss"] - w["baseline_rss"]
        rows.append(
            [
                label,
                w["backend_ran"],
                gb(w["baseline_rss"]),
                gb(w["peak_rss"]),
                gb(grown),
                gb(w["states_bytes"]),
                f"{grown / w['states_bytes']:.3f}",
            ]
        )
    table(
        f"Floor 3: peak RSS of RK4 on {full['batch']} x {full['steps']} steps (fresh processes)",
        ["case", "loop", "baseline", "peak", "peak-baseline", "states", "ratio"],
        rows,
    )
    print(
        f"  baseline = peak RSS after the imports, the inputs and the {WARM_STEPS}-step warm-up "
        "(for the numba rows: with numba and\n  its compiled loop); peak = VmHWM of "
        "/proc/self/status after simulate"
    )
    grown_full = full["peak_rss"] - full["baseline_rss"]
    grown_thin = thin["peak_rss"] - thin["baseline_rss"]
    ok = (
        grown_full <= MEMORY_FACTOR * full["states_bytes"]
        and grown_thin < grown_full
        and thin["states_bytes"] < full["states_bytes"]
    )
    print(
        f"  ratio = (peak - baseline) / states; floor: ratio <= {MEMORY_FACTOR:g} for save_every=1 "
        f"and save_every={thin['save_every']} lower in both: {verdict(ok, verdicts)}"
    )
    ratio = grown_full / full["states_bytes"]
    return {
        "pass": ok,
        "ratio": ratio,
        "summary": f"peak {ratio:.3f}x the returned states (floor {MEMORY_FACTOR:g}x)",
    }


# -- main --------------------------------------------------------------------------------------


def run_accuracy_only(sizes: Sizes, repeats: int) -> dict[str, Any]:
    """Floor 2 alone (``--only accuracy``): a few minutes instead of the whole benchmark."""
    info = machine()
    loops = loop_settings(sizes, floor1=False)
    report_machine(info, loops, sizes, repeats)
    tta = time_to_accuracy(sizes, repeats)
    floor2 = report_tta(tta, sizes.verdicts)
    loops["backend_ran"] = {
        "time_to_accuracy": {r["method"]: r["backend"] for r in tta["steppers"]}
    }
    print(
        f"\nSummary\n  time to accuracy: {verdict(floor2['pass'], sizes.verdicts)}: "
        f"{floor2['summary']}"
    )
    print(f"  time loops that ran: {ran_text(loops['backend_ran'])}")
    return {"machine": {**info, **loops}, "time_to_accuracy": {**tta, **floor2}}


def run_throughput_only(sizes: Sizes, repeats: int) -> dict[str, Any]:
    """Floor 1 alone (``--only throughput``): the throughput run and the time loops compared."""
    info = machine()
    loop_info = loop_settings(sizes, floor1=True)
    report_machine(info, loop_info, sizes, repeats)
    t = np.arange(sizes.steps + 1) * H
    system, s0 = oscillators(sizes.batch)
    tuned = merged([run_worker(sizes.batch, sizes.steps, error=i == 0) for i in range(repeats)])
    loops = compare_loops(sizes, repeats, tuned)
    ivp = time_per_trajectory_ivp(system, s0, t, sizes.ivp_sample, sizes.ivp_repeats)
    floor1 = report_throughput(sizes, tuned, ivp, loops)
    print(
        f"\nSummary\n  throughput: {verdict(floor1['pass'], sizes.verdicts)}: {floor1['summary']}"
    )
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"  load average at the end: {info['load_average_at_end']}")
    return {
        "machine": {**info, **loop_info},
        "throughput": {"dynsys": tuned, "solve_ivp": ivp, "loops": loops, **floor1},
    }


def run_limit_only(sizes: Sizes, repeats: int) -> dict[str, Any]:
    """The machine-limit section alone (``--only limit``): its own rounds, not ``repeats``."""
    import machine_limit  # imports this module: not at the top

    return machine_limit.run_alone(quick=not sizes.verdicts)


def ran_text(ran: dict[str, Any]) -> str:
    """The time loops that ran, from traj.info['backend'], as one line."""
    parts = []
    if "floor1" in ran:
        parts.append(f"floors 1 and 3: {loop_name(ran['floor1'], ran['floor1_threads'])}")
    if "by_size" in ran:
        parts.append("batch sizes: " + ", ".join(f"{b} {loop}" for b, loop in ran["by_size"]))
    parts.append(
        "time to accuracy: "
        + ", ".join(f"{m} {loop}" for m, loop in ran["time_to_accuracy"].items())
    )
    return "; ".join(parts)


def run(sizes: Sizes, repeats: int) -> dict[str, Any]:
    """Measure everything, print the tables, and return all the figures."""
    info = machine()
    loop_info = loop_settings(sizes, floor1=True)
    report_machine(info, loop_info, sizes, repeats)
    t = np.arange(sizes.steps + 1) * H
    system, s0 = oscillators(sizes.batch)

    tuned, untuned = tuned_and_untuned(sizes.batch, sizes.steps, repeats, error=True)
    thin = run_worker(sizes.batch, sizes.steps, save_every=10)
    loops = compare_loops(sizes, repeats, tuned)
    ivp = time_per_trajectory_ivp(system, s0, t, sizes.ivp_sample, sizes.ivp_repeats)
    floor1 = report_throughput(sizes, tuned, ivp, loops)

    by_size = throughput_by_size(sizes, repeats)
    report_sizes(by_size)

    pairs = [
        tuned_and_untuned(b, n, max(repeats, TUNING_REPEATS), save_every=k)
        for b, n, k in sizes.tuning_runs
    ]
    report_tuning([*pairs, (tuned, untuned)])

    tta = time_to_accuracy(sizes, repeats)
    floor2 = report_tta(tta, sizes.verdicts)

    floor3 = report_memory(tuned, thin, untuned, loops, sizes.verdicts)

    import machine_limit  # imports this module: not at the top

    limit = machine_limit.measure(machine_limit.FULL if sizes.verdicts else machine_limit.QUICK)

    print("\nSummary" + ("" if sizes.verdicts else " (--quick: sizes are not the floors')"))
    parts = [("throughput", floor1), ("time to accuracy", floor2), ("memory", floor3)]
    for name, floor in [*parts, ("machine limit", limit)]:
        print(f"  {name}: {verdict(floor['pass'], sizes.verdicts)}: {floor['summary']}")
    machine_limit.report_missed(limit, sizes.verdicts)
    loop_info["backend_ran"] = {
        "floor1": tuned["backend_ran"],
        "floor1_threads": tuned["threads"],
        "by_size": [(r["batch"], r["backend"]) for r in by_size],
        "time_to_accuracy": {r["method"]: r["backend"] for r in tta["steppers"]},
    }
    print(f"  time loops that ran: {ran_text(loop_info['backend_ran'])}")
    runs = [tuned, untuned, thin, *by_size, *(r for pair in pairs for r in pair)]
    runs += [r for r in loops if "skipped" not in r]
    if any(r["recompiled"] for r in runs):
        print("  WARNING: a timed run compiled a new variant of its loop: its time includes it")
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"  load average at the end: {info['load_average_at_end']}")
    return {
        "machine": {**info, **loop_info},
        "sizes": asdict(sizes),
        "repeats": repeats,
        "throughput": {
            "dynsys": tuned,
            "dynsys_untuned": untuned,
            "solve_ivp": ivp,
            "loops": loops,
            **floor1,
        },
        "by_size": by_size,
        "tuning": [{"tuned": on, "untuned": off} for on, off in pairs],
        "time_to_accuracy": {**tta, **floor2},
        "memory": {"save_every_1": tuned, "save_every_10": thin, **floor3},
        "machine_limit": limit,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (default 3)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument(
        "--shared-frequency",
        action="store_true",
        help="drive every oscillator at omega = 1 (random k, A, c and initial states still)",
    )
    parser.add_argument(
        "--only",
        choices=("throughput", "accuracy", "limit"),
        help="run one part alone: throughput (floor 1 and the time loops), accuracy (floor 2) "
        "or limit (the time loops against a C loop: benchmarks/machine_limit.py)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="the time loop of every dynsys run: auto (default: numba when installed and the "
        "run is large enough), numpy, or numba (compiled; pip install -e '.[fast]')",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.backend == "numba" and not kernels.available():
        parser.error("--backend numba needs numba: pip install -e '.[fast]'")
    os.environ[BACKEND_ENV] = args.backend  # workers inherit it
    if args.shared_frequency:
        os.environ[SHARED_FREQUENCY_ENV] = "1"  # workers inherit it
        print("driven at one shared frequency, omega = 1")
    began = time.perf_counter()
    measure = {
        "accuracy": run_accuracy_only,
        "throughput": run_throughput_only,
        "limit": run_limit_only,
    }.get(args.only, run)
    results = measure(QUICK if args.quick else FULL, args.repeats)
    results["total_seconds"] = time.perf_counter() - began
    print(f"\ntotal: {results['total_seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)
    return exit_status(results, judged=not args.quick)


def exit_status(results: dict[str, Any], judged: bool) -> int:
    """1 when a floor measured at its own sizes was missed; at quick sizes, 0 (and say so)."""
    if not judged:
        print("verdicts skipped at quick sizes: the floors are judged only at their own sizes")
        return 0
    floors = ("throughput", "time_to_accuracy", "memory", "machine_limit")
    missed = [name for name in floors if name in results and not results[name]["pass"]]
    if missed:
        print(f"FAIL: missed the floor of {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
