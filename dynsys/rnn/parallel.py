"""The Elman and Jordan networks parallel in time: BPTT's adjoint pass by a reverse scan, the
forward pass of a linear network by a scan, that of a nonlinear one by Newton's method over the
trajectory (DEER).

Column vectors here (the scan's convention); the models' row vectors are their transposes.

**Adjoint pass.**  For Elman, g(t) = dL/dh(t) (total) obeys, for t = T-1..0 from g(T) = 0,

    g(t) = W diag(act'(t+1)) g(t+1) + V d_o(t),

d_o(t) the direct dL/do(t).  For Jordan running free, g(t) = the total dL/do(t) obeys

    g(t) = d_o(t) + S(t+1) (W diag(act'(t+1)) V [+ I when residual]) g(t+1),

S(t+1) = diag(p) - p p^T with p = r(t) = softmax(o(t)) for the softmax head (the identity
otherwise).  Truncation (``truncate=k``) zeroes the matrix of step t where (t + 1) is a multiple
of k: no gradient crosses a window boundary.  Both are affine recurrences run backwards, solved
by :func:`~dynsys.parallel.scan.affine_scan` with ``reverse=True``; the rest (dL/da, the
parameter gradients, dL/dh0, clipping) is the loop's own code.  Under teacher forcing a Jordan
network's backward pass has no recurrence: the loop's is returned.

**Forward pass, linear networks** (activation "identity"; for Jordan also the identity head):
Elman h(t) = W^T h(t-1) + (b + U^T x(t)), Jordan o(t) = (W V [+ I])^T o(t-1) + (c + V^T (b +
U^T x(t))): one scan each.

**Forward pass, nonlinear networks**: the states s(t) = h(t) (Elman) or r(t) (Jordan: the
fed-back y_hat) are the root of s(t) - f_t(s(t-1)) over the whole trajectory, found by
:func:`~dynsys.parallel.newton.solve` (variants full, quasi, damped) with the Jacobians

    Elman:  f = act(a),  a = b + W^T s + U^T x(t),     J = diag(act'(a)) W^T
    Jordan: f = head(o), o = c + V^T act(a) [+ s],     J = S (V^T diag(act'(a)) W^T [+ I])

from the guess s(t) = s(0) for every t, block of steps after block of steps.  When a block does
not converge within the budget the loop runs instead, with a one-line RuntimeWarning, and the
forward pass's ``info`` says so ("fallback").  The arithmetic of the scan and of Newton is in
float64 whatever the model's dtype; the forward pass is then rebuilt in the model's dtype from
the states found (a, h and o at once, as under teacher forcing).
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from typing import Any

import numpy as np

from ..errors import InputError, unknown_name
from ..parallel import newton as newton_method
from ..parallel.newton import NewtonSettings
from ..parallel.recurrence import BLOCK_BYTES
from ..parallel.scan import affine_scan
from .activations import softmax
from .models import BPTTResult, ElmanRNN, ForwardPass, JordanRNN, RNNModel, _rows, _tm

RNN_BACKENDS = ("loop", "scan", "newton")
"""How a pass runs: the time loop; an associative scan (the backward pass, and the forward pass
of a linear network); Newton's method over the trajectory (the forward pass)."""
BACKWARD_BACKENDS = ("loop", "scan")
"""The backends of the backward pass (BPTT's adjoint recurrence is affine: no Newton)."""
SCAN_WORK_COPIES = 6
"""Arrays of (steps, batch, n, n) that a reverse scan holds at once (matrices and products)."""
NEWTON_WORK_COPIES = 16
"""Arrays of (steps, batch, n, n) that Newton's method holds at once (Jacobians, trial, scan)."""


# -- choosing the backend -------------------------------------------------------------------------
def check_backend(backend: Any, allowed: tuple[str, ...] = RNN_BACKENDS) -> str:
    """``backend`` if it is one of ``allowed``, else a one-line InputError."""
    if not isinstance(backend, str) or backend not in allowed:
        if backend == "newton":
            raise InputError(
                "backend 'newton' runs the forward pass only; the backward pass runs by "
                f"{' or '.join(repr(b) for b in allowed)}"
            )
        raise unknown_name("backend", str(backend), allowed)
    return backend


def bptt_backends(model: RNNModel, backend: Any) -> tuple[str, str]:
    """(forward, backward) backends of ``bptt(backend=...)``: "loop" both by the loop;
    "scan" the adjoint by the reverse scan and the forward pass by the scan for a linear
    network (:func:`forward_is_affine`), by the loop otherwise; "newton" the forward pass by
    Newton's method and the adjoint by the scan."""
    backend = check_backend(backend)
    if backend == "loop":
        return "loop", "loop"
    if backend == "newton":
        return "newton", "scan"
    return ("scan" if forward_is_affine(model) else "loop"), "scan"


def forward_is_affine(model: RNNModel) -> bool:
    """Whether the free-running step map is affine in the state: identity activation (and, for
    Jordan, which feeds its prediction back, the identity head)."""
    if model.activation != "identity":
        return False
    return isinstance(model, ElmanRNN) or model.output == "identity"


# -- forward pass ---------------------------------------------------------------------------------
def parallel_forward(
    model: RNNModel,
    X: Any,
    h0: Any = None,
    *,
    backend: Any = "scan",
    newton: Any = None,
    teacher: Any = None,
) -> ForwardPass:
    """``model.forward(X, h0, backend=backend, newton=newton[, teacher=teacher])``.

    "scan" needs a linear network (else an InputError suggesting "newton"); "newton" runs any;
    a teacher-forced Jordan pass has no recurrence and is the loop's.  ``info`` of the result
    has "backend", and for Newton "newton_variant", "newton_iterations" (linear solves, all
    blocks), "newton_blocks", "newton_residuals" and, when it fell back to the loop, "fallback".
    """
    backend = check_backend(backend)
    if newton is not None and backend != "newton":
        raise InputError(f"newton settings apply to backend 'newton', not {backend!r}")
    settings = NewtonSettings.of(newton) if backend == "newton" else None
    extra = {} if teacher is None else {"teacher": teacher}
    if backend == "loop" or teacher is not None:
        fp = model.forward(X, h0, **extra)
        return fp if backend == "loop" else dataclasses.replace(fp, info={"backend": "loop"})
    x = model._inputs(X)
    h0b, shared = model._initial(h0, x.shape[0])
    x_tm = np.ascontiguousarray(_tm(x))
    if backend == "scan":
        return _scan_forward(model, x_tm, h0b, shared)
    states, run = _newton_states(model, x_tm, h0b, settings)
    if run.fallback:
        warnings.warn(run.fallback, RuntimeWarning, stacklevel=3)
        fp = model.forward(X, h0)
        return dataclasses.replace(fp, info={"backend": "loop", **run.info()})
    fp = _rebuild(model, x_tm, states, h0b, shared)
    return dataclasses.replace(fp, info={"backend": "newton", **run.info()})


def _params64(model: RNNModel) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in model._weights().items()}


def _projection64(model: RNNModel, x_tm: np.ndarray) -> np.ndarray:
    """b + x(t) @ U for every step, in float64: (time, batch, n_hidden)."""
    if model.dtype == np.float64:
        return model._projection(x_tm)
    p = _params64(model)
    return np.dot(x_tm.astype(np.float64), p["U"]) + p["b"]


def _scan_forward(model: RNNModel, x_tm: np.ndarray, h0b: np.ndarray, shared: bool) -> ForwardPass:
    """The forward pass of a linear network by one scan (see the module docstring)."""
    if not forward_is_affine(model):
        what = (
            f"activation {model.activation!r}"
            if model.activation != "identity"
            else f"output {model.output!r} (fed back)"
        )
        raise InputError(
            f"backend 'scan' runs the forward pass of a linear network (activation 'identity'"
            f"{'' if isinstance(model, ElmanRNN) else ', output identity'}); {what} is not "
            "affine: use backend 'newton'"
        )
    p = _params64(model)
    P = _projection64(model, x_tm)
    if isinstance(model, ElmanRNN):
        A, b = p["W"].T, P  # h(t) = W^T h(t-1) + P(t)
    else:
        M = p["W"] @ p["V"] + (np.eye(model.n_out) if model.residual else 0.0)
        A, b = M.T, np.dot(P, p["V"]) + p["c"]  # o(t) = M^T o(t-1) + c + V^T P(t)
    with np.errstate(all="ignore"):  # an overflow shows as inf in the states, as in the loop
        states = affine_scan(A[None, None], b, h0b.astype(np.float64))
    fp = _rebuild(model, x_tm, states, h0b, shared)
    return dataclasses.replace(fp, info={"backend": "scan"})


def _rebuild(model: RNNModel, x_tm, states: np.ndarray, h0b, shared: bool) -> ForwardPass:
    """The forward pass whose states are ``states`` (time, batch, n_state): h(1..T) for Elman,
    the fed-back r(1..T) for Jordan; a, h and o computed from them at once, in the model's
    dtype (the identity head's o being the states themselves, as in the loop)."""
    dtype = model.dtype
    T, B, n = states.shape
    states = states.astype(dtype)
    prev = np.empty((T, B, n), dtype=dtype)
    prev[0] = h0b
    prev[1:] = states[:-1]
    a = model._projection(x_tm)
    a += np.dot(_rows(prev), model._weights()["W"]).reshape(a.shape)
    if isinstance(model, ElmanRNN):
        return model._pass(x_tm, prev, a, states, model._outputs(states), None, h0b, shared)
    h = np.empty_like(a)
    model._act.apply(a, h)
    if model.output == "identity":
        return model._pass(x_tm, prev, a, h, states, states, h0b, shared)
    return model._pass(x_tm, prev, a, h, model._outputs(h), states, h0b, shared)


def _newton_block_steps(model: RNNModel, batch: int) -> int:
    """Steps of one Newton block: about BLOCK_BYTES of Jacobians, trials and activations."""
    n, H = model.n_state, model.n_hidden
    per_step = 8 * batch * (H * (n + 4) + NEWTON_WORK_COPIES * n * (n + 2))
    return max(64, BLOCK_BYTES // per_step)


def _newton_states(model: RNNModel, x_tm, h0b, settings: NewtonSettings):
    """The states s(1..T) (time, batch, n_state) by Newton's method block after block, and the
    NewtonRun (with ``fallback`` set and the states None when a block did not converge)."""
    T, B, _ = x_tm.shape
    P = _projection64(model, x_tm)
    step_map = _StepMap(model)
    block = min(_newton_block_steps(model, B), settings.block or T)
    out = np.empty((T, B, model.n_state))

    def keep(start: int, states: np.ndarray) -> None:
        out[start : start + len(states)] = states

    run = newton_method.solve_blocks(
        lambda start, count: functools.partial(step_map.linearise, P=P[start : start + count]),
        np.array(h0b, dtype=np.float64),
        T,
        block,
        settings,
        keep,
        f"the {model.activation} {model.kind} network",
    )
    return (None if run.fallback else out), run


class _StepMap:
    """The step map s(t) = f_t(s(t-1)) of a network and its Jacobian, all steps at once, in
    float64 (see the module docstring)."""

    def __init__(self, model: RNNModel):
        self.model = model
        self.p = _params64(model)
        self.elman = isinstance(model, ElmanRNN)

    def linearise(self, S: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f_t(S[t]), df_t/ds at S[t]) for S = s(0..T-1) (T, batch, n) and the projections P
        = b + x(t) @ U of the same steps: (T, batch, n) and (T, batch, n, n), columns."""
        model, p = self.model, self.p
        a = P + np.matmul(S, p["W"])
        h = np.empty_like(a)
        model._act.apply(a, h)
        slope = np.ones_like(h) if model._act.slope is None else model._act.slope(h)
        WT = p["W"].T
        if self.elman:
            return h, slope[..., :, None] * WT  # diag(act') W^T
        o = np.matmul(h, p["V"]) + p["c"]
        J = np.matmul(p["V"].T, slope[..., :, None] * WT)  # V^T diag(act') W^T
        if model.residual:
            o += S
            J += np.eye(model.n_out)
        if model.output == "identity":
            return o, J
        probs = softmax(o)
        return probs, _softmax_times(probs, J)


def _softmax_times(probs: np.ndarray, M: np.ndarray) -> np.ndarray:
    """(diag(p) - p p^T) M over leading axes: the softmax Jacobian times M."""
    return probs[..., :, None] * (M - np.einsum("...i,...ij->...j", probs, M)[..., None, :])


# -- backward pass --------------------------------------------------------------------------------
def parallel_backward(
    model: RNNModel,
    fp: ForwardPass,
    Y: Any,
    *,
    truncate: int | None = None,
    clip: float | None = None,
    backend: Any = "scan",
) -> BPTTResult:
    """``model.backward(fp, Y, truncate=truncate, clip=clip, backend=backend)``: the loop's
    BPTTResult, its adjoint recurrence solved by the reverse scan for "scan"."""
    backend = check_backend(backend, BACKWARD_BACKENDS)
    if backend == "loop" or (isinstance(model, JordanRNN) and fp.teacher_forcing):
        return model.backward(fp, Y, truncate=truncate, clip=clip)
    from .models import _clip_value

    k, clip = model._truncation(truncate), _clip_value(clip)
    loss, d_o = model._loss_and_dO(fp, Y)
    if isinstance(model, ElmanRNN):
        return _elman_adjoint(model, fp, loss, d_o, k, clip)
    return _jordan_adjoint(model, fp, loss, d_o, k, clip)


def _coupled(T: int, k: int | None) -> np.ndarray:
    """Whether gradient flows from step t+1 into step t, t = 0..T-1 (time-major indices): not
    at the last step, nor across a truncation window's boundary."""
    t = np.arange(T)
    keep = t < T - 1
    if k is not None:
        keep &= (t + 1) % k != 0
    return keep


def _slopes(model: RNNModel, h_tm: np.ndarray) -> np.ndarray | None:
    return None if model._act.slope is None else model._act.slope(h_tm)


def _reverse_scan(
    matrices, shared: bool, direct: np.ndarray, k: int | None, n_hidden: int
) -> np.ndarray:
    """g(0..T-1) of g(t) = A(t) g(t+1) + direct(t) from g(T) = 0, A(t) = matrices(t0, t1) for
    the steps t0..t1-1 (``shared``: one matrix (1, 1, n, n) for every step, the last step's A
    being irrelevant since g(T) = 0); block after block from the end, each about BLOCK_BYTES
    of matrices."""
    T, B, n = direct.shape
    per_step = 8 * B * (n * (n + 2) * SCAN_WORK_COPIES + n_hidden)
    block = max(64, BLOCK_BYTES // per_step)
    coupled = _coupled(T, k)
    g = np.empty((T, B, n))
    after = np.zeros((B, n))  # g(t1)
    for t1 in range(T, 0, -block):
        t0 = max(0, t1 - block)
        A = matrices(t0, t1)
        if not shared:  # per step: zero where the gradient is cut
            A *= coupled[t0:t1, None, None, None]
        g[t0:t1] = affine_scan(A, direct[t0:t1], after, reverse=True)
        after = g[t0]
    return g


def _elman_adjoint(model: ElmanRNN, fp, loss, d_o, k, clip) -> BPTTResult:
    """g(t) = W diag(act'(t+1)) g(t+1) + V d_o(t) by the reverse scan; then as the loop."""
    p = model._weights()
    h_tm = _tm(fp.h)
    T, B, H = h_tm.shape
    direct = np.dot(_rows(d_o), p["V"].T).reshape(T, B, H)
    slope = _slopes(model, h_tm)
    W = np.asarray(p["W"], dtype=np.float64)

    shared = slope is None and k is None

    def matrices(t0: int, t1: int) -> np.ndarray:
        if shared:
            return W[None, None]
        s = np.zeros((t1 - t0, B, H))
        upto = min(t1, T - 1)
        if slope is None:
            s[: upto - t0] = 1.0
        else:
            s[: upto - t0] = slope[t0 + 1 : upto + 1]
        return W * s[:, :, None, :]  # W diag(s): column j times s_j

    g = _reverse_scan(matrices, shared, direct, k, H)
    d_h = g.astype(model.dtype)
    d_a = d_h if slope is None else d_h * slope
    d_h0 = np.dot(d_a[0], p["W"].T)
    return model._finish(fp, loss, d_o, d_h, d_a, d_h0, clip)


def _jordan_adjoint(model: JordanRNN, fp, loss, d_o, k, clip) -> BPTTResult:
    """g(t) = d_o(t) + S(t+1) (W diag(act'(t+1)) V [+ I]) g(t+1) by the reverse scan, g the
    total dL/do; then as the loop (dL/dh0 = W dL/da(0) [+ g(0)], no softmax Jacobian on h0)."""
    p = model._weights()
    h_tm, fed = _tm(fp.h), _tm(fp.prev)
    T, B, H = h_tm.shape
    n = model.n_out
    slope = _slopes(model, h_tm)
    W, V = (np.asarray(p[name], dtype=np.float64) for name in ("W", "V"))
    softmax_head = model.output == "softmax"
    eye = np.eye(n) if model.residual else None

    shared = slope is None and k is None and not softmax_head

    def matrices(t0: int, t1: int) -> np.ndarray:
        if shared:
            M = W @ V
            return (M if eye is None else M + eye)[None, None]
        upto = min(t1, T - 1)
        s = np.zeros((t1 - t0, B, H))
        s[: upto - t0] = 1.0 if slope is None else slope[t0 + 1 : upto + 1]
        M = np.matmul(W * s[:, :, None, :], V)  # W diag(act'(t+1)) V
        if eye is not None:
            M[: upto - t0] += eye
        if softmax_head:
            probs = np.zeros((t1 - t0, B, n))
            probs[: upto - t0] = fed[t0 + 1 : upto + 1]  # r(t) = softmax(o(t))
            M = _softmax_times(probs, M)
        return M

    g = _reverse_scan(matrices, shared, d_o, k, H)
    d_o = g.astype(model.dtype)  # the total dL/do, as the loop leaves it
    d_h = np.dot(_rows(d_o), p["V"].T).reshape(T, B, H)
    d_a = d_h if slope is None else d_h * slope
    d_h0 = np.dot(d_a[0], p["W"].T)
    if model.residual:
        d_h0 += d_o[0]
    return model._finish(fp, loss, d_o, d_h, d_a, d_h0, clip)


# -- measurements ---------------------------------------------------------------------------------
def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (0 when both are zero)."""
    scale = float(np.abs(b).max())
    diff = float(np.abs(np.asarray(a) - b).max())
    return diff / scale if scale else diff


def bptt_difference(model: RNNModel, X, Y, h0=None, **options: Any) -> float:
    """The largest relative difference, over the gradients (h0 included) and dL/do, dL/dh,
    dL/da, of BPTT by scan against BPTT by the loop (the same forward pass)."""
    extra = {"teacher": Y} if options.pop("teacher_forcing", False) else {}
    fp = model.forward(X, h0, **extra)
    loop = model.backward(fp, Y, **options)
    scan = model.backward(fp, Y, backend="scan", **options)
    pairs = [(scan.grads[k], loop.grads[k]) for k in loop.grads]
    pairs += [(getattr(scan, k), getattr(loop, k)) for k in ("dL_do", "dL_dh", "dL_da")]
    return max(relative_difference(a, b) for a, b in pairs)


def small_jordan(
    hidden: int = 32, n_out: int = 2, residual: bool = False, scale: float = 0.5, seed: int = 0
) -> JordanRNN:
    """A tanh Jordan network (one input) with its initial weights times ``scale``: with scale
    below about 1 the step map contracts, the regime where Newton converges in a few
    iterations."""
    model = JordanRNN(1, hidden, n_out, "tanh", residual=residual, seed=seed)
    for name in ("U", "W", "V"):
        model.params[name] *= scale
    rng = np.random.default_rng(seed + 1)
    model.params["b"][...] = rng.uniform(-0.5, 0.5, size=hidden)
    return model


def newton_forward_report(
    n_steps: int = 10_000,
    *,
    model: RNNModel | None = None,
    X: Any = None,
    h0: Any = None,
    variants: tuple[str, ...] = newton_method.MODES,
    tolerance: float = 1e-10,
    max_iterations: int = 50,
    block: int | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    """The forward pass by Newton, each variant, against the loop: linear solves, blocks,
    seconds (median of ``repeats`` runs, after one untimed loop run), the relative difference
    of the predictions, and whether it converged (else it fell back to the loop).

    Defaults: :func:`small_jordan` (tanh, hidden 32, two outputs), a batch of one sequence of
    ``n_steps`` steps driven by x(t) = sin(0.01 t), from r(0) = (1, 0, ...).
    """
    if model is None:
        model = small_jordan()
    if X is None:
        t = np.arange(1, n_steps + 1, dtype=np.float64)
        X = np.repeat(np.sin(0.01 * t).reshape(1, n_steps, 1), model.n_in, axis=2)
    if h0 is None:
        h0 = np.zeros(model.n_state)
        h0[0] = 1.0
    model.forward(X, h0)  # untimed: the first call sets up BLAS and the allocator
    loop_s, ref = _median_time(lambda: model.forward(X, h0), repeats)
    rows = []
    for variant in variants:
        settings = NewtonSettings(variant, max_iterations, tolerance, block)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            seconds, fp = _median_time(
                lambda s=settings: model.forward(X, h0, backend="newton", newton=s), repeats
            )
        rows.append(
            {
                "variant": variant,
                "iterations": fp.info["newton_iterations"],
                "blocks": fp.info["newton_blocks"],
                "converged": "fallback" not in fp.info,
                "seconds": seconds,
                "loop_over_newton": loop_s / seconds,
                "rel": relative_difference(fp.y_hat, ref.y_hat),
            }
        )
    return {
        "model": f"{model.activation} {model.kind}, hidden {model.n_hidden}",
        "n_steps": int(np.shape(X)[1]),
        "batch": int(np.shape(X)[0]),
        "block": block,
        "loop_s": loop_s,
        "variants": rows,
    }


def _median_time(fn, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(max(1, repeats)):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return float(np.median(times)), out


def bptt_scan_report(n_steps: int = 1000, batch: int = 4, seed: int = 0) -> list[dict[str, Any]]:
    """BPTT by scan against the loop on random Elman and Jordan networks (tanh and identity,
    free-running, hidden 32) over ``n_steps``: the relative difference ("rel"), worst over the
    gradients and dL/do, dL/dh, dL/da, and the seconds of each backward pass."""
    rng = np.random.default_rng(seed)
    rows = []
    for cls, n_in in ((ElmanRNN, 2), (JordanRNN, 1)):
        kind = cls.kind
        for activation in ("tanh", "identity"):
            model: RNNModel = cls(n_in, 32, 2, activation, seed=seed)
            model.params["W"] *= 0.5  # a contracting recurrence
            X = rng.normal(size=(batch, n_steps, model.n_in))
            Y = rng.normal(size=(batch, n_steps, model.n_out))
            fp = model.forward(X)
            times = {}
            for backend in BACKWARD_BACKENDS:
                began = time.perf_counter()
                model.backward(fp, Y, backend=backend)
                times[backend] = time.perf_counter() - began
            rows.append(
                {
                    "network": f"{activation} {kind}",
                    "T": n_steps,
                    "batch": batch,
                    "loop_s": times["loop"],
                    "scan_s": times["scan"],
                    "rel": bptt_difference(model, X, Y),
                }
            )
    return rows
