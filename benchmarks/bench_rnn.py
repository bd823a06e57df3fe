"""One training step of dynsys's Elman RNN against the same step in PyTorch, on the CPU.

The floor: one training step (forward, BPTT, Adam) of ``ElmanRNN(1, hidden, 2)`` (tanh, identity
head) on a batch of 32 sequences of 200 steps, for hidden 16, 32, 64 and 128, against the same
step in PyTorch (``nn.RNN`` + ``nn.Linear`` + ``nn.MSELoss`` + ``torch.optim.Adam``, float32,
default threads), measured in one run:

1. in float64, dynsys is no slower than PyTorch: time ratio f64/torch <= 1.0 at every size;
2. in float32, dynsys takes at most half of PyTorch's time at hidden 32: f32/torch <= 0.5.

The blocks of steps of the three sides (dynsys float64, dynsys float32, PyTorch) are interleaved,
so that a change in the background load hits all of them alike; a ratio is the median over the
repeats of the ratio of neighbouring blocks.  Before the timing, a cross-check copies the same
weights into PyTorch and compares the loss, the gradients and a few Adam steps (float64 and
float32): both sides compute the same thing.

Both sides run on their libraries' default threads (PyTorch's OpenMP and MKL, numpy's and
scipy's OpenBLAS: one per core).  ``--dynsys-blas fit`` runs the dynsys steps with the BLAS
threads that ``dynsys.rnn.train.fit`` sets (one thread for small networks); ``--threads N``
puts both sides on N threads.  Neither is the floors' setting.

PyTorch is a benchmark-only extra, never a dependency of dynsys: without it the dynsys columns
are printed and the floors are skipped.

Usage::

    python benchmarks/bench_rnn.py [--quick] [--repeats N] [--block N] [--json FILE]
        [--hidden H ...] [--no-torch] [--dynsys-blas {default,fit}] [--threads N]

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from bench_core import source_version, table, verdict  # the same script folder
from threadpoolctl import threadpool_info, threadpool_limits

import dynsys
from dynsys.rnn import ElmanRNN, train
from dynsys.rnn.optim import Adam

BATCH = 32
LENGTH = 200  # time steps per sequence
N_IN = 1
N_OUT = 2
HIDDEN = (16, 32, 64, 128)
SEED = 20240601  # the inputs and targets; the weights come from ElmanRNN(..., seed=0)
LR = 1e-3  # Adam's learning rate on both sides (both defaults; betas and eps too)
F64_FLOOR = 1.0  # dynsys float64 / torch, at every hidden size
F32_FLOOR = 0.5  # dynsys float32 / torch, at F32_HIDDEN
F32_HIDDEN = 32
WARMUP = 5  # untimed training steps of each case before the timing
# pause before each timed block: an idle OpenBLAS or OpenMP worker of the block before spins for
# up to ~0.1 s before it sleeps, and on 2 cores it would take the next block's CPU
SETTLE_S = 0.2
ADAM_CHECK_STEPS = 3  # training steps compared by the cross-check
# cross-check tolerances on max |dynsys - torch| / max |torch| of each array
CHECK_TOL = {"float64": 1e-9, "float32": 1e-3}
SIDES = ("f64", "f32", "torch")
DYNSYS_BLAS = ("default", "fit")  # the BLAS threads of the dynsys blocks: see dynsys_scope
SLOW = 2.0  # a block over SLOW x the fastest of its case counts as slowed down (by the load)
TORCH_MISSING = "torch not installed: pip install torch (benchmark-only)"


@dataclass(frozen=True)
class Sizes:
    """How much is timed: ``block`` training steps per timed block, ``repeats`` blocks per case."""

    block: int
    repeats: int


FULL = Sizes(block=30, repeats=7)
QUICK = Sizes(block=5, repeats=3)


# -- the two sides -----------------------------------------------------------------------------


def data(dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X (BATCH, LENGTH, N_IN) and targets Y (BATCH, LENGTH, N_OUT), standard normal
    from SEED (drawn in float64, then cast: float32 holds the same numbers, rounded)."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((BATCH, LENGTH, N_IN))
    Y = rng.standard_normal((BATCH, LENGTH, N_OUT))
    return X.astype(dtype), Y.astype(dtype)


def dynsys_model(hidden: int, dtype: Any) -> ElmanRNN:
    return ElmanRNN(N_IN, hidden, N_OUT, activation="tanh", seed=0, dtype=dtype)


def dynsys_step(hidden: int, dtype: Any) -> Callable[[], float]:
    """One dynsys training step (forward, BPTT, Adam) as a closure returning the loss."""
    model = dynsys_model(hidden, dtype)
    opt = Adam(lr=LR)
    X, Y = data(dtype)

    def step() -> float:
        loss, grads = model.loss_and_grad(X, Y)
        opt.step(model.params, grads)
        return loss

    return step


def torch_modules(torch: Any, model: ElmanRNN, dtype: Any) -> tuple[Any, Any]:
    """nn.RNN and nn.Linear holding ``model``'s weights, in ``dtype`` (a torch dtype).

    dynsys works on row vectors, a = b + h @ W + x @ U and o = c + h @ V; torch computes
    a = x W_ih^T + b_ih + h W_hh^T + b_hh and o = h W_lin^T + b_lin.  So W_ih = U^T,
    W_hh = W^T, b_ih = b, b_hh = 0, W_lin = V^T, b_lin = c."""
    nn = torch.nn
    hidden = model.n_hidden
    rnn = nn.RNN(N_IN, hidden, nonlinearity="tanh", batch_first=True).to(dtype)
    head = nn.Linear(hidden, N_OUT).to(dtype)
    p = model.params
    with torch.no_grad():
        for target, value in (
            (rnn.weight_ih_l0, p["U"].T),
            (rnn.weight_hh_l0, p["W"].T),
            (rnn.bias_ih_l0, p["b"]),
            (rnn.bias_hh_l0, np.zeros_like(p["b"])),
            (head.weight, p["V"].T),
            (head.bias, p["c"]),
        ):
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return rnn, head


def torch_step(torch: Any, hidden: int) -> Callable[[], float]:
    """One PyTorch training step (zero_grad, forward, loss, backward, Adam) in float32, from
    the same weights and data as :func:`dynsys_step`."""
    rnn, head = torch_modules(torch, dynsys_model(hidden, np.float32), torch.float32)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=LR)  # both biases
    mse = torch.nn.MSELoss()
    X, Y = (torch.from_numpy(a) for a in data(np.float32))

    def step() -> float:
        opt.zero_grad()
        out, _ = rnn(X)
        loss = mse(head(out), Y)
        loss.backward()
        opt.step()
        return loss.item()

    return step


# -- the cross-check ---------------------------------------------------------------------------


def rel_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |ours - theirs| / max |theirs| (0 when both are zero)."""
    scale = float(np.abs(theirs).max())
    diff = float(np.abs(np.asarray(ours, dtype=np.float64) - theirs).max())
    return diff / scale if scale else diff


def torch_grads(rnn: Any, head: Any) -> dict[str, np.ndarray]:
    """The gradients of the torch modules in dynsys's names and layout."""
    return {
        "U": rnn.weight_ih_l0.grad.numpy().T,
        "W": rnn.weight_hh_l0.grad.numpy().T,
        "b": rnn.bias_ih_l0.grad.numpy(),
        "V": head.weight.grad.numpy().T,
        "c": head.bias.grad.numpy(),
    }


def torch_params(rnn: Any, head: Any) -> dict[str, np.ndarray]:
    """The parameters of the torch modules in dynsys's names and layout."""
    return {
        "U": rnn.weight_ih_l0.detach().numpy().T,
        "W": rnn.weight_hh_l0.detach().numpy().T,
        "b": (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy(),
        "V": head.weight.detach().numpy().T,
        "c": head.bias.detach().numpy(),
    }


def cross_check(torch: Any, hidden: int, dtype: Any) -> dict[str, Any]:
    """The same weights (with random biases) on both sides: the loss and gradients of one step,
    then the parameters after ADAM_CHECK_STEPS training steps, as relative differences.

    dynsys's identity-head loss is the mean over batch and time of 1/2 sum_k (o_k - y_k)^2;
    MSELoss is the mean over batch, time and the N_OUT outputs of (o_k - y_k)^2.  So dynsys's
    loss (and its gradients) = MSELoss * N_OUT / 2 (= MSELoss for N_OUT = 2)."""
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}[np.dtype(dtype).name]
    model = dynsys_model(hidden, dtype)
    rng = np.random.default_rng(SEED + 1)  # non-zero biases, so their mapping is checked too
    model.params["b"][...] = rng.uniform(-0.5, 0.5, hidden)
    model.params["c"][...] = rng.uniform(-0.5, 0.5, N_OUT)
    rnn, head = torch_modules(torch, model, torch_dtype)
    X, Y = data(dtype)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    scale = N_OUT / 2
    mse = torch.nn.MSELoss()
    # torch's second bias b_hh stays at zero (not stepped), so that both sides have one bias b
    params = [q for q in (*rnn.parameters(), *head.parameters()) if q is not rnn.bias_hh_l0]
    ours_opt, theirs_opt = Adam(lr=LR), torch.optim.Adam(params, lr=LR)
    loss_diffs, grad_diffs = [], {}
    for k in range(ADAM_CHECK_STEPS):
        loss, grads = model.loss_and_grad(X, Y)
        theirs_opt.zero_grad()
        out, _ = rnn(Xt)
        t_loss = mse(head(out), Yt) * scale
        t_loss.backward()
        loss_diffs.append(abs(loss - t_loss.item()) / abs(t_loss.item()))
        if k == 0:
            theirs = torch_grads(rnn, head)
            grad_diffs = {name: rel_diff(grads[name], theirs[name]) for name in theirs}
            # dL/db_hh = dL/db_ih: both are dynsys's dL/db
            grad_diffs["b_hh"] = rel_diff(grads["b"], rnn.bias_hh_l0.grad.numpy())
        ours_opt.step(model.params, grads)
        theirs_opt.step()
    theirs = torch_params(rnn, head)
    param_diffs = {name: rel_diff(model.params[name], theirs[name]) for name in theirs}
    tol = CHECK_TOL[np.dtype(dtype).name]
    worst = max(*loss_diffs, *grad_diffs.values(), *param_diffs.values())
    return {
        "hidden": hidden,
        "dtype": np.dtype(dtype).name,
        "loss": loss_diffs[0],
        "losses_max": max(loss_diffs),
        "grads": grad_diffs,
        "grads_max": max(grad_diffs.values()),
        "params_after_adam": param_diffs,
        "params_max": max(param_diffs.values()),
        "worst": worst,
        "tol": tol,
        "ok": worst <= tol,
    }


# -- timing ------------------------------------------------------------------------------------


def block_time(step: Callable[[], float], n: int) -> float:
    """Seconds per training step, the mean over ``n`` consecutive steps."""
    began = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - began) / n


def dynsys_scope(mode: str, hidden: int) -> contextlib.AbstractContextManager:
    """The BLAS threads of a dynsys block.  "default": the libraries' own (one per core for
    numpy's and scipy's OpenBLAS); "fit": as :func:`dynsys.rnn.train.fit` sets them around
    training (one thread up to ``train.SMALL_HIDDEN`` hidden units, by threadpoolctl)."""
    limit = getattr(train, "_blas_threads", None)
    if mode == "default" or limit is None:
        return contextlib.nullcontext()
    return limit(dynsys_model(hidden, np.float64))


def dynsys_blas_text(mode: str) -> str:
    if mode == "default":
        return "the libraries' default (--dynsys-blas fit: as dynsys.rnn.train.fit sets them)"
    if not hasattr(train, "_blas_threads"):
        return "the libraries' default (--dynsys-blas fit: this dynsys's fit sets no limit)"
    return (
        f"--dynsys-blas fit: as dynsys.rnn.train.fit sets them, 1 thread up to hidden "
        f"{train.SMALL_HIDDEN} (threadpoolctl); not the floors' setting"
    )


def measure(
    torch: Any, hidden_sizes: Sequence[int], sizes: Sizes, mode: str
) -> dict[int, dict[str, list[float]]]:
    """Seconds per step of every case: ``sizes.repeats`` blocks of ``sizes.block`` steps each.

    Round r times, for each hidden size, one block of each side back to back (the order of the
    sides reversed every other round), so the blocks compared in a ratio are neighbours; each
    after a pause of SETTLE_S.  The dynsys blocks run inside :func:`dynsys_scope` (entered and
    left outside the timing)."""
    sides = SIDES if torch is not None else SIDES[:2]

    def scope(side: str, hidden: int) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if side == "torch" else dynsys_scope(mode, hidden)

    steps: dict[int, dict[str, Callable[[], float]]] = {}
    for hidden in hidden_sizes:
        steps[hidden] = {
            "f64": dynsys_step(hidden, np.float64),
            "f32": dynsys_step(hidden, np.float32),
        }
        if torch is not None:
            steps[hidden]["torch"] = torch_step(torch, hidden)
        for side, step in steps[hidden].items():
            with scope(side, hidden):
                for _ in range(WARMUP):
                    step()
    times = {hidden: {side: [] for side in sides} for hidden in hidden_sizes}
    for r in range(sizes.repeats):
        for hidden in hidden_sizes:
            for side in sides if r % 2 == 0 else sides[::-1]:
                with scope(side, hidden):
                    time.sleep(SETTLE_S)
                    times[hidden][side].append(block_time(steps[hidden][side], sizes.block))
    return times


def paired_ratio(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The median of the ratios of the blocks timed side by side."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


# -- machine information -----------------------------------------------------------------------


def thread_pools() -> list[str]:
    """Each native thread pool of this process (BLAS, OpenMP) with its current thread count."""
    return [
        f"{p['internal_api']} {os.path.basename(p['filepath'])}: {p['num_threads']}"
        for p in threadpool_info()
    ]


def numpy_blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas['version']}"
    except (KeyError, TypeError, ValueError):
        return "unknown"


def machine(torch: Any) -> dict[str, Any]:
    """CPU, memory, versions, thread counts and load."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "numpy": f"{np.__version__} ({numpy_blas()})",
        "thread_pools": thread_pools(),
        "dynsys": f"{dynsys.__version__} ({source_version()})",
        "torch": "not installed" if torch is None else torch.__version__,
    }
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["torch_mkl"] = bool(torch.backends.mkl.is_available())
    info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


# -- reporting ---------------------------------------------------------------------------------


def report_machine(info: dict[str, Any], sizes: Sizes, quick: bool) -> None:
    print(
        "dynsys RNN benchmark: one training step against PyTorch"
        + (" (--quick: few timed steps, noisy)" if quick else "")
    )
    for key, value in info.items():
        print(f"  {key}: {value}")
    print(
        f"  problem: ElmanRNN({N_IN}, hidden, {N_OUT}, tanh), batch {BATCH} x {LENGTH} steps, "
        f"Adam(lr={LR:g}); inputs from seed {SEED}, weights from seed 0"
    )
    print(
        f"  timing: {WARMUP} warm-up steps per case, then {sizes.repeats} rounds of one block of "
        f"{sizes.block} steps per case, interleaved, each after a {SETTLE_S:g} s pause"
    )


def report_checks(checks: list[dict[str, Any]]) -> bool:
    table(
        "Cross-check: the same weights and data on both sides "
        "(max |dynsys - torch| / max |torch| per array)",
        [
            "hidden",
            "dtype",
            "loss",
            "grads (worst)",
            "worst grad",
            f"params after {ADAM_CHECK_STEPS} steps",
            "tol",
            "ok",
        ],
        [
            [
                c["hidden"],
                c["dtype"],
                f"{c['losses_max']:.1e}",
                f"{c['grads_max']:.1e}",
                max(c["grads"], key=c["grads"].get),
                f"{c['params_max']:.1e}",
                f"{c['tol']:.0e}",
                "yes" if c["ok"] else "NO",
            ]
            for c in checks
        ],
    )
    print(
        f"  loss: dynsys's loss vs MSELoss * {N_OUT}/2 (dynsys halves the squared error and sums "
        f"it over the outputs),\n  worst of {ADAM_CHECK_STEPS} training steps; grads: U, W, b, V, "
        "c of the first step (b_hh: torch's second bias against b);\n  params: after "
        f"{ADAM_CHECK_STEPS} Adam steps on both sides (b_hh held at 0); biases b and c random"
    )
    ok = all(c["ok"] for c in checks)
    print(f"  -> the two sides compute the same step: {'yes' if ok else 'NO'}")
    return ok


def summarize(times: dict[int, dict[str, list[float]]]) -> list[dict[str, Any]]:
    rows = []
    for hidden, by_side in times.items():
        row: dict[str, Any] = {"hidden": hidden, "times_s": by_side}
        for side, values in by_side.items():
            row[f"{side}_ms"] = statistics.median(values) * 1e3
            row[f"{side}_min_ms"] = min(values) * 1e3
        row["slow_blocks"] = sum(
            t > SLOW * min(values) for values in by_side.values() for t in values
        )
        row["blocks"] = sum(len(values) for values in by_side.values())
        if "torch" in by_side:
            row["f64_ratio"] = paired_ratio(by_side["f64"], by_side["torch"])
            row["f32_ratio"] = paired_ratio(by_side["f32"], by_side["torch"])
            row["f64_min_ratio"] = row["f64_min_ms"] / row["torch_min_ms"]
            row["f32_min_ratio"] = row["f32_min_ms"] / row["torch_min_ms"]
        rows.append(row)
    return rows


def report_times(rows: list[dict[str, Any]], sizes: Sizes, with_torch: bool) -> None:
    sides = ["f64", "f32", "torch"] if with_torch else ["f64", "f32"]
    names = {"f64": "dynsys f64 ms", "f32": "dynsys f32 ms", "torch": "torch f32 ms"}
    ratios = ["f64/torch", "f32/torch"] if with_torch else []
    for fastest in (False, True):
        suffix = "_min" if fastest else ""
        cells = []
        for r in rows:
            line = [r["hidden"], *(f"{r[f'{side}{suffix}_ms']:.2f}" for side in sides)]
            if with_torch:
                line += [f"{r[f'f64{suffix}_ratio']:.2f}", f"{r[f'f32{suffix}_ratio']:.2f}"]
            if fastest:
                line.append(f"{r['slow_blocks']}/{r['blocks']}")
            cells.append(line)
        header = ["hidden", *(names[side] for side in sides), *ratios]
        if fastest:
            table(
                "The fastest block of each case (for information: the load only adds time)",
                [*header, "slowed blocks"],
                cells,
            )
        else:
            table(
                f"One training step (forward, BPTT, Adam), batch {BATCH} x {LENGTH} steps, "
                f"{N_IN} input, {N_OUT} outputs",
                header,
                cells,
            )
            print(
                f"  ms = median over {sizes.repeats} blocks of the mean of {sizes.block} steps"
                + (
                    "; ratio = median over the rounds of the ratio of neighbouring blocks"
                    if with_torch
                    else ""
                )
            )
    print(
        f"  ms = the fastest of the {sizes.repeats} blocks"
        + ("; ratio = fastest / fastest" if with_torch else "")
        + f"; slowed blocks: those (of all sides)\n  over {SLOW:g}x the fastest of their case"
    )


def floors(
    rows: list[dict[str, Any]], quick: bool, threads: int | None, dynsys_blas: str
) -> dict[str, Any]:
    by_hidden = {r["hidden"]: r for r in rows}
    worst64 = max(rows, key=lambda r: r["f64_ratio"])
    missing = [h for h in HIDDEN if h not in by_hidden]
    summary = (
        f"float64 f64/torch <= {F64_FLOOR:g} at every hidden size: worst "
        f"{worst64['f64_ratio']:.2f} at hidden {worst64['hidden']}"
    )
    if missing:
        summary += f" (hidden {', '.join(map(str, missing))} not measured)"
    result: dict[str, Any] = {
        "f64": {
            "pass": not missing and all(r["f64_ratio"] <= F64_FLOOR for r in rows),
            "worst": worst64["f64_ratio"],
            "summary": summary,
        }
    }
    if F32_HIDDEN in by_hidden:
        ratio = by_hidden[F32_HIDDEN]["f32_ratio"]
        result["f32"] = {
            "pass": ratio <= F32_FLOOR,
            "ratio": ratio,
            "summary": f"float32 f32/torch <= {F32_FLOOR:g} at hidden {F32_HIDDEN}: {ratio:.2f}",
        }
    else:
        result["f32"] = {"pass": False, "summary": f"hidden {F32_HIDDEN} not measured"}
    note = " (--quick: few timed steps)" if quick else ""
    if threads is not None:
        note += f" (--threads {threads}: not the floors' default threads)"
    elif dynsys_blas != "default":
        note += f" (--dynsys-blas {dynsys_blas}: not the floors' default threads)"
    result["judged"] = not note and not missing
    if not result["judged"]:
        note += " (verdicts skipped: not the floors' own settings)"
    print("\nFloors" + note)
    for key in ("f64", "f32"):
        mark = verdict(result[key]["pass"]) if result["judged"] else "not judged"
        print(f"  {mark}: {result[key]['summary']}")
    return result


# -- main --------------------------------------------------------------------------------------


def import_torch() -> Any:
    """torch, or None where it is not installed (a benchmark-only extra)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def run(
    torch: Any,
    hidden_sizes: Sequence[int],
    sizes: Sizes,
    quick: bool,
    threads: int | None,
    no_torch: bool = False,
    dynsys_blas: str = "default",
) -> dict[str, Any]:
    """Check, measure, print the tables and the verdicts; return all the figures."""
    if threads is not None:
        threadpool_limits(limits=threads)  # every BLAS and OpenMP pool, for the whole run
        if torch is not None:
            torch.set_num_threads(threads)
    info = machine(torch)
    info["dynsys_blas_threads"] = dynsys_blas_text(dynsys_blas)
    report_machine(info, sizes, quick)
    results: dict[str, Any] = {
        "machine": info,
        "sizes": asdict(sizes),
        "hidden": list(hidden_sizes),
        "threads": threads,
        "dynsys_blas": dynsys_blas,
    }
    checks_ok = True
    if torch is not None:
        checks = [
            cross_check(torch, hidden, dtype)
            for hidden in hidden_sizes
            for dtype in (np.float64, np.float32)
        ]
        checks_ok = report_checks(checks)
        results["cross_check"] = checks
    rows = summarize(measure(torch, hidden_sizes, sizes, dynsys_blas))
    report_times(rows, sizes, torch is not None)
    results["steps"] = rows
    if torch is None:
        why = "torch not used (--no-torch)" if no_torch else TORCH_MISSING
        print(f"\n{why}: the floors are skipped")
    else:
        results["floors"] = floors(rows, quick, threads, dynsys_blas)
    results["cross_check_ok"] = checks_ok
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"  load average at the end: {info['load_average_at_end']}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="few timed steps (the floors' sizes): a smoke check"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help=f"timed blocks per case (default {FULL.repeats}; quick {QUICK.repeats})",
    )
    parser.add_argument(
        "--block",
        type=int,
        help=f"training steps per timed block (default {FULL.block}; quick {QUICK.block})",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=list(HIDDEN),
        help="hidden sizes (default: 16 32 64 128, the floors')",
    )
    parser.add_argument("--no-torch", action="store_true", help="time the dynsys side alone")
    parser.add_argument(
        "--dynsys-blas",
        choices=DYNSYS_BLAS,
        default="default",
        help="BLAS threads of the dynsys steps: default (the libraries' own, as the floors are "
        "defined) or fit (as dynsys.rnn.train.fit sets them: one thread for small networks)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="run both sides on N threads: numpy's and scipy's OpenBLAS and torch.set_num_threads "
        "(default: each library's default, as the floors are defined)",
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        block=base.block if args.block is None else args.block,
        repeats=base.repeats if args.repeats is None else args.repeats,
    )
    if sizes.block < 1 or sizes.repeats < 1:
        parser.error("--block and --repeats must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    torch = None if args.no_torch else import_torch()
    began = time.perf_counter()
    results = run(
        torch, args.hidden, sizes, args.quick, args.threads, args.no_torch, args.dynsys_blas
    )
    results["total_seconds"] = time.perf_counter() - began
    print(f"\ntotal: {results['total_seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)
    if not results["cross_check_ok"]:
        print("the cross-check failed: dynsys and torch do not compute the same step")
        return 1
    return exit_status(results.get("floors"), quick=args.quick)


def exit_status(floors: dict[str, Any] | None, quick: bool) -> int:
    """1 when a floor measured with its own settings was missed, else 0 (saying so when the
    verdicts were skipped: quick sizes, other threads or hidden sizes, or no torch)."""
    if floors is None:
        return 0  # "torch not used ...: the floors are skipped" was printed
    if not floors["judged"]:
        why = "quick sizes" if quick else "settings other than the floors'"
        print(f"verdicts skipped at {why}")
        return 0
    missed = [key for key in ("f64", "f32") if not floors[key]["pass"]]
    if missed:
        print(f"FAIL: missed the {' and '.join(missed)} floor")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
