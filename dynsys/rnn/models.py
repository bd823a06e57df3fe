"""Elman and Jordan RNNs in numpy, with hand-written back-propagation through time (BPTT).

Arrays are batch-first row vectors: X is (batch, time, n_in), Y and the outputs are
(batch, time, n_out), and step t = 1..T of a sequence reads X[:, t-1].  Both models share

    a(t) = b + r(t-1) @ W + x(t) @ U,    h(t) = act(a(t)),    o(t) = c + h(t) @ V

and differ in what they feed back, r(t-1):

- :class:`ElmanRNN` (hidden-to-hidden): r(t-1) = h(t-1), from the initial state h(0) = h0;
- :class:`JordanRNN` (output-to-hidden): r(t-1) = o(t-1) from o(0) = h0, or, under teacher
  forcing, the target y(t-1) (so r(0) = h0, r(t-1) = Y[:, t-2] for t >= 2).  With the softmax
  head the fed-back value is the prediction softmax(o(t-1)), the same kind of thing as the
  targets that replace it.  ``residual=True`` makes the output an increment,
  o(t) = r(t-1) + c + h(t) @ V: an explicit Euler step with a learned vector field.

The loss is the mean over batch and time of the per-step loss of the output head (see
:mod:`dynsys.rnn.activations`).

Truncated BPTT (``truncate=k``): the sequence is cut into consecutive windows of k steps,
t = 1..k, k+1..2k, ...  The forward pass runs through the whole sequence unchanged (the state
carries over from one window to the next), but the backward pass carries no gradient across a
window boundary, so the loss at step t reaches back only to the start of its window (between 1
and k steps).  The result is the exact gradient of sum_j (T_j / T) L_j, where L_j is the loss of
window j (of T_j steps) computed from its starting state r held fixed: what detaching the hidden
state every k steps gives in PyTorch (Williams and Peng's BPTT(k, k)).  Only the first window
gives h0 a gradient.  Under teacher forcing the Jordan steps are already decoupled, so truncation
changes nothing there.

Speed: internally everything is time-major, (time, batch, n) and contiguous.  The input
projection of all steps is one matmul before the time loop, [x, 1] @ [U; b] (the bias as an
extra row); the output layer and the gradients dV, dW and [dU; db] are one matmul each over the
(time * batch) rows after it.  The loops do only the recurrent matmul, accumulated in place by
one BLAS gemm call (beta = 1), and the activation, or in the backward pass its slope (computed
for all steps at once).  Other products go through ``np.dot``, which measured faster than
``np.matmul`` here (3x for the (time * batch, 1) @ (1, n) product of a scalar drive).  The
allocator is tuned once (:mod:`dynsys._malloc`) so that the (time, batch, n) temporaries of each
pass do not page-fault.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._malloc import tune_allocator
from ..errors import InputError, unknown_name
from .activations import ACTIVATIONS, Activation, Head, get_activation, get_head, softmax
from .arrays import initial_state, sequences
from .base import BPTTModel, check_param_memory, positive_int

PARAM_ORDER: tuple[str, ...] = ("U", "W", "b", "V", "c")
"""The parameters of the Elman and Jordan networks, in the order of their flat vector."""

DTYPES = ("float32", "float64")

_HIDDEN = field(default=32, metadata={"help": "Hidden units."})
_ACTIVATION = field(
    default="tanh", metadata={"help": "Activation of the hidden units.", "choices": ACTIVATIONS}
)
_DTYPE = field(
    default="float64",
    metadata={"help": "Floating-point type of the computation.", "choices": DTYPES},
)


@dataclass(frozen=True)
class ElmanSettings:
    """The Elman network's settings."""

    hidden: int = _HIDDEN
    activation: str = _ACTIVATION
    identity_init: bool = field(
        default=False, metadata={"help": "Start W at the identity: h(t) starts as h(t-1)."}
    )
    dtype: str = _DTYPE


@dataclass(frozen=True)
class JordanSettings:
    """The Jordan network's settings."""

    hidden: int = _HIDDEN
    activation: str = _ACTIVATION
    residual: bool = field(
        default=True, metadata={"help": "Output an increment: s(n+1) = s(n) + o (Euler-like)."}
    )
    dtype: str = _DTYPE


@dataclass(frozen=True, eq=False)
class ForwardPass:
    """What a forward pass computed, batch-first (views of time-major arrays): the cache that
    the backward pass reads.

    ``x`` (batch, time, n_in) are the inputs in the model's dtype; ``prev`` (batch, time, n_state)
    the recurrent input r(t-1) of each step (h(t-1) for Elman, the fed-back value for Jordan);
    ``a`` and ``h`` (batch, time, n_hidden); ``o`` and ``y_hat`` (batch, time, n_out), y_hat being
    the head's prediction (o itself for the identity head); ``h0`` (batch, n_state) the initial
    state used, ``h0_shared`` whether it was one vector for every sequence (then its gradient is
    summed over the batch); ``teacher_forcing`` whether targets were fed back (Jordan); ``info``
    how a parallel backend made it (empty for the loop; see :mod:`dynsys.rnn.parallel`).
    """

    x: np.ndarray
    prev: np.ndarray
    a: np.ndarray
    h: np.ndarray
    o: np.ndarray
    y_hat: np.ndarray
    h0: np.ndarray
    h0_shared: bool
    teacher_forcing: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class BPTTResult:
    """The loss, its gradients, and the intermediate gradients of back-propagation.

    ``grads`` has the keys U, W, b, V, c (shaped like the parameters) and h0 (shaped like the
    initial state given: (n_state,) when it was None or one vector, else (batch, n_state)).
    ``dL_do`` (batch, time, n_out), ``dL_dh`` and ``dL_da`` (batch, time, n_hidden) are total
    derivatives, through every later step (within the truncation window), before clipping.
    ``grad_norm`` is the global L2 norm of the parameter gradients before clipping and
    ``clip_scale`` the factor they were multiplied by (1.0 when not clipped).
    """

    loss: float
    grads: dict[str, np.ndarray]
    dL_do: np.ndarray
    dL_dh: np.ndarray
    dL_da: np.ndarray
    grad_norm: float
    clip_scale: float
    forward: ForwardPass


def _tm(a: np.ndarray) -> np.ndarray:
    """(batch, time, n) <-> (time, batch, n) as a view."""
    return a.swapaxes(0, 1)


def _rows(a: np.ndarray) -> np.ndarray:
    """(time, batch, n) as a (time * batch, n) matrix (a view when contiguous)."""
    return a.reshape(-1, a.shape[-1])


_ACCUMULATORS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], None]] = {}


def _accumulator(dtype: np.dtype) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """``acc(x, w, out)``: out += x @ w in one BLAS call, for C-contiguous x, w and out.

    BLAS is column-major, and the transpose of a C-contiguous matrix is a column-major view, so
    out^T += w^T x^T is one gemm with beta = 1 that writes in place: one call in the time loop
    where np.dot and np.add take two.  scipy's wrapper copies an argument that does not fit
    instead (the write would then be lost), so a trial on this dtype decides once, falling back
    to np.dot and np.add.
    """
    if dtype.name not in _ACCUMULATORS:
        from scipy.linalg import get_blas_funcs  # at first use: scipy.linalg is slow to import

        gemm = get_blas_funcs("gemm", dtype=dtype)

        def blas(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
            gemm(1.0, w.T, x.T, 1.0, out.T, overwrite_c=True)

        def numpy(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> None:
            out += np.dot(x, w)

        x = np.arange(6, dtype=dtype).reshape(2, 3)
        w = np.arange(12, dtype=dtype).reshape(3, 4)
        out = np.ones((2, 4), dtype=dtype)
        blas(x, w, out)
        _ACCUMULATORS[dtype.name] = blas if np.array_equal(out, 1 + x @ w) else numpy
    return _ACCUMULATORS[dtype.name]


def _with_ones(rows: np.ndarray) -> np.ndarray:
    """(n, k) -> (n, k + 1) with a last column of ones, so that [x, 1] @ [U; b] = x @ U + b."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=rows.dtype)
    out[:, :-1] = rows
    out[:, -1] = 1
    return out


def _dtype(value: Any) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise unknown_name("dtype", str(getattr(dtype, "name", value)), DTYPES)
    return dtype


def _clip_value(clip: Any) -> float | None:
    if clip is None:
        return None
    try:
        value = float(clip)
    except (TypeError, ValueError):
        raise InputError(f"clip must be a positive number (a maximum norm), got {clip!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"clip must be a positive number (a maximum norm), got {clip!r}")
    return value


class RNNModel(BPTTModel):
    """What the Elman and Jordan RNNs share: parameters, configuration, validation, the loss.

    ``params`` is a dict of the arrays U (n_in, n_hidden), W (n_state, n_hidden), b (n_hidden,),
    V (n_hidden, n_out) and c (n_out,), in the model's dtype; writing into them changes the model.
    Initialisation, from ``np.random.default_rng(seed)``: every weight matrix uniform on
    +-1/sqrt(fan_in) (its number of rows), so the same seed gives the same numbers; biases zero.
    """

    kind: ClassVar[str] = ""
    state_name: ClassVar[str] = ""  # the size n_state is called

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        activation: str = "tanh",
        output: str = "identity",
        seed: int = 0,
        dtype: Any = np.float64,
    ):
        self.n_in = positive_int("n_in", n_in)
        self.n_hidden = positive_int("n_hidden", n_hidden)
        self.n_out = positive_int("n_out", n_out)
        self._act: Activation = get_activation(activation)
        self._head: Head = get_head(output)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.dtype = _dtype(dtype)
        self.params: dict[str, np.ndarray] = self._init_params(np.random.default_rng(self.seed))

    # -- construction and configuration ---------------------------------------------------------
    @property
    def n_state(self) -> int:
        """The size of the fed-back state r: n_hidden (Elman) or n_out (Jordan)."""
        raise NotImplementedError

    @property
    def activation(self) -> str:
        return self._act.name

    @property
    def output(self) -> str:
        return self._head.name

    def _weight_scales(self) -> dict[str, float]:
        """The half-width of the uniform initialisation of U, W and V."""
        return {
            "U": 1 / math.sqrt(self.n_in),
            "W": 1 / math.sqrt(self.n_state),
            "V": 1 / math.sqrt(self.n_hidden),
        }

    def _init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        scales = self._weight_scales()
        shapes = self.param_shapes
        check_param_memory(self.kind, shapes, self.dtype)
        params = {}
        for name in PARAM_ORDER:
            if name in scales:
                values = rng.uniform(-scales[name], scales[name], size=shapes[name])
            else:
                values = np.zeros(shapes[name])
            params[name] = values.astype(self.dtype)
        return params

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter, in the order U, W, b, V, c."""
        return {
            "U": (self.n_in, self.n_hidden),
            "W": (self.n_state, self.n_hidden),
            "b": (self.n_hidden,),
            "V": (self.n_hidden, self.n_out),
            "c": (self.n_out,),
        }

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-ready dict, with ``kind`` ("elman" or "jordan")."""
        return {
            "kind": self.kind,
            "n_in": self.n_in,
            "n_hidden": self.n_hidden,
            "n_out": self.n_out,
            "activation": self.activation,
            "output": self.output,
            "dtype": self.dtype.name,
            "seed": self.seed,
        }

    def _weights(self) -> dict[str, np.ndarray]:
        """``params``, checked: a replaced array must keep its shape and the model's dtype."""
        shapes = self.param_shapes
        for name in PARAM_ORDER:
            arr = self.params.get(name)
            if not (
                isinstance(arr, np.ndarray)
                and arr.shape == shapes[name]
                and arr.dtype == self.dtype
            ):
                raise InputError(
                    f"params[{name!r}] must be a {self.dtype.name} array of shape {shapes[name]}"
                )
        return self.params

    # -- input validation -------------------------------------------------------------------------
    def _sequences(self, field: str, value: Any, n: int, what: str, like=None) -> np.ndarray:
        return sequences(field, value, n, what, self.dtype, like)

    def _inputs(self, X: Any) -> np.ndarray:
        tune_allocator()  # the passes allocate arrays of (time, batch, n): keep them off mmap
        return self._sequences("X", X, self.n_in, "n_in")

    def _targets(self, Y: Any, x: np.ndarray) -> np.ndarray:
        return self._sequences("Y", Y, self.n_out, "n_out", like=x.shape)

    def _initial(self, h0: Any, batch: int) -> tuple[np.ndarray, bool]:
        """(h0 as (batch, n_state), whether one vector was given for all); None means zeros."""
        return initial_state(h0, batch, self.n_state, self.state_name, self.dtype)

    @staticmethod
    def _truncation(truncate: Any) -> int | None:
        return None if truncate is None else positive_int("truncate", truncate)

    # -- pieces shared by both models -----------------------------------------------------------
    def _projection(self, x_tm: np.ndarray) -> np.ndarray:
        """b + x(t) @ U for every step at once: one matmul [x, 1] @ [U; b], (time, batch, n_hidden).

        (The bias as an extra row measured faster than adding it after the product.)
        """
        T, B, _ = x_tm.shape
        p = self._weights()
        Ub = np.concatenate((p["U"], p["b"][None]))
        return np.dot(_with_ones(_rows(x_tm)), Ub).reshape(T, B, self.n_hidden)

    def _outputs(self, h_tm: np.ndarray) -> np.ndarray:
        """c + h(t) @ V for every step at once: one matmul, (time, batch, n_out)."""
        T, B, _ = h_tm.shape
        p = self._weights()
        o = np.dot(_rows(h_tm), p["V"]).reshape(T, B, self.n_out)
        o += p["c"]
        return o

    def _scale(self, y: np.ndarray) -> float:
        """1 / (batch * time): the loss is the mean over both of the per-step loss."""
        return 1.0 / (y.shape[0] * y.shape[1])

    def _finish(
        self,
        fp: ForwardPass,
        loss: float,
        d_o: np.ndarray,
        d_h: np.ndarray,
        d_a: np.ndarray,
        d_h0: np.ndarray,
        clip: float | None,
    ) -> BPTTResult:
        """The parameter gradients from the time-major dL/da and dL/do, then clipping."""
        da = _rows(d_a)
        do = _rows(d_o)
        dUb = np.dot(_with_ones(_rows(_tm(fp.x))).T, da)  # [dU; db] = [x, 1]^T dL/da
        grads = {
            "U": dUb[:-1],
            "W": np.dot(_rows(_tm(fp.prev)).T, da),
            "b": dUb[-1],
            "V": np.dot(_rows(_tm(fp.h)).T, do),
            "c": np.dot(np.ones(len(do), dtype=do.dtype), do),  # a sum over rows, as a product
            "h0": d_h0.sum(axis=0) if fp.h0_shared else d_h0,
        }
        norm = math.sqrt(sum(float(np.vdot(grads[k], grads[k])) for k in PARAM_ORDER))
        factor = 1.0
        if clip is not None and norm > clip:
            factor = clip / norm
            for g in grads.values():
                g *= factor
        return BPTTResult(
            loss=loss,
            grads=grads,
            dL_do=_tm(d_o),
            dL_dh=_tm(d_h),
            dL_da=_tm(d_a),
            grad_norm=norm,
            clip_scale=factor,
            forward=fp,
        )

    def _pass(
        self,
        x_tm: np.ndarray,
        prev_tm: np.ndarray,
        a_tm: np.ndarray,
        h_tm: np.ndarray,
        o_tm: np.ndarray,
        y_hat_tm: np.ndarray | None,
        h0: np.ndarray,
        shared: bool,
        teacher_forcing: bool = False,
    ) -> ForwardPass:
        if y_hat_tm is None:
            y_hat_tm = self._head.predict(o_tm)
        return ForwardPass(
            x=_tm(x_tm),
            prev=_tm(prev_tm),
            a=_tm(a_tm),
            h=_tm(h_tm),
            o=_tm(o_tm),
            y_hat=_tm(y_hat_tm),
            h0=h0,
            h0_shared=shared,
            teacher_forcing=teacher_forcing,
        )

    def _loss_and_dO(self, fp: ForwardPass, Y: Any) -> tuple[float, np.ndarray]:
        """The loss and its direct gradient dL/do(t), time-major."""
        y = self._targets(Y, fp.x)
        y_tm = np.ascontiguousarray(_tm(y))
        return self._head.loss_and_grad(_tm(fp.o), y_tm, self._scale(y))

    def _loss_of(self, fp: ForwardPass, Y: Any) -> float:
        y = self._targets(Y, fp.x)
        return self._head.loss(fp.o, y, self._scale(y))


class ElmanRNN(RNNModel):
    """Elman RNN (hidden-to-hidden recurrence), batch-first row vectors::

        a(t) = b + h(t-1) @ W + x(t) @ U,   h(t) = act(a(t)),   o(t) = c + h(t) @ V

    from h(0) = h0 (zeros by default).  W is (n_hidden, n_hidden).
    """

    kind = "elman"
    task = "driven_response"
    summary = "Elman network: hidden state fed back, h(t) = act(b + W h(t-1) + U x(t))"
    Settings = ElmanSettings
    recipe: ClassVar[dict] = {
        "dataset": {"initial_state": "h0", "seq_len": 20},
        "model": {"identity_init": True},
        "training": {"epochs": 500, "whole_epochs": 300},
    }
    state_name = "n_hidden"

    @classmethod
    def build(cls, settings: ElmanSettings, n_in: int, n_out: int, seed: int) -> ElmanRNN:
        model = cls(
            n_in, settings.hidden, n_out, settings.activation, seed=seed, dtype=settings.dtype
        )
        if settings.identity_init:
            model.params["W"][...] = np.eye(settings.hidden)
        return model

    def initial(self, s0: np.ndarray) -> np.ndarray:
        """Initial states (batch, n) as h(0) = (s0, 0, ..., 0) (batch, n_hidden)."""
        return pad_initial_state(s0, self.n_hidden)

    @property
    def n_state(self) -> int:
        return self.n_hidden

    def forward(
        self, X: Any, h0: Any = None, *, backend: str = "loop", newton: Any = None
    ) -> ForwardPass:
        """Run over X (batch, time, n_in) from h0 of shape (n_hidden,) or (batch, n_hidden).

        ``backend``: "loop" (the time loop), "scan" (a linear network by a scan) or "newton"
        (Newton's method over the trajectory, with ``newton`` settings: a dict or a
        :class:`~dynsys.parallel.newton.NewtonSettings`); see :mod:`dynsys.rnn.parallel`.
        """
        if backend != "loop" or newton is not None:
            from .parallel import parallel_forward

            return parallel_forward(self, X, h0, backend=backend, newton=newton)
        x = self._inputs(X)
        h0b, shared = self._initial(h0, x.shape[0])
        x_tm = np.ascontiguousarray(_tm(x))
        T, B, _ = x_tm.shape
        a = self._projection(x_tm)
        hs = np.empty((T + 1, B, self.n_hidden), dtype=self.dtype)  # h(0), ..., h(T)
        hs[0] = h0b
        W = np.ascontiguousarray(self._weights()["W"])
        acc, apply = _accumulator(self.dtype), self._act.apply
        a_rows, h_rows = list(a), list(hs)
        for t in range(T):
            acc(h_rows[t], W, a_rows[t])  # a(t) += h(t-1) @ W
            apply(a_rows[t], h_rows[t + 1])
        o = self._outputs(hs[1:])
        return self._pass(x_tm, hs[:-1], a, hs[1:], o, None, h0b, shared)

    def backward(
        self,
        fp: ForwardPass,
        Y: Any,
        *,
        truncate: int | None = None,
        clip: float | None = None,
        backend: str = "loop",
    ) -> BPTTResult:
        """BPTT from a forward pass: loss, gradients and dL/do, dL/dh, dL/da.

        dL/dh(t) = dL/do(t) @ V^T + dL/da(t+1) @ W^T,  dL/da(t) = dL/dh(t) * act'(a(t)),
        summed over the steps for dW = sum_t h(t-1)^T dL/da(t) and dU, db, dV, dc alike;
        dL/dh0 = dL/da(1) @ W^T.  ``truncate`` and ``clip``: see :meth:`loss_and_grad`.
        ``backend``: "loop" or "scan" (the adjoint recurrence by a reverse scan).
        """
        if backend != "loop":
            from .parallel import parallel_backward

            return parallel_backward(self, fp, Y, truncate=truncate, clip=clip, backend=backend)
        k, clip = self._truncation(truncate), _clip_value(clip)
        loss, d_o = self._loss_and_dO(fp, Y)
        h_tm = _tm(fp.h)
        T, B, H = h_tm.shape
        p = self._weights()
        d_h = np.dot(_rows(d_o), p["V"].T).reshape(T, B, H)  # dL/do(t) @ V^T
        slope = None if self._act.slope is None else self._act.slope(h_tm)
        d_a = d_h if slope is None else np.empty_like(d_h)
        WT = np.ascontiguousarray(p["W"].T)
        acc = _accumulator(self.dtype)
        dh_rows, da_rows = list(d_h), list(d_a)
        slope_rows = None if slope is None else list(slope)
        for t in range(T - 1, -1, -1):
            if t < T - 1 and (k is None or (t + 1) % k):
                acc(da_rows[t + 1], WT, dh_rows[t])  # dL/dh(t) += dL/da(t+1) @ W^T
            if slope_rows is not None:
                np.multiply(dh_rows[t], slope_rows[t], out=da_rows[t])
        d_h0 = np.dot(da_rows[0], WT)
        return self._finish(fp, loss, d_o, d_h, d_a, d_h0, clip)

    def bptt(
        self,
        X: Any,
        Y: Any,
        h0: Any = None,
        *,
        truncate: int | None = None,
        clip: float | None = None,
        backend: str = "loop",
        newton: Any = None,
    ) -> BPTTResult:
        """:meth:`forward` then :meth:`backward`; ``backend`` "scan" runs the backward pass by
        the scan (and the forward pass too for a linear network), "newton" the forward pass by
        Newton and the backward pass by the scan (:func:`dynsys.rnn.parallel.bptt_backends`)."""
        if backend == "loop" and newton is None:
            return self.backward(self.forward(X, h0), Y, truncate=truncate, clip=clip)
        from .parallel import bptt_backends

        forward, backward = bptt_backends(self, backend)
        fp = self.forward(X, h0, backend=forward, newton=newton)
        return self.backward(fp, Y, truncate=truncate, clip=clip, backend=backward)

    def loss(self, X: Any, Y: Any, h0: Any = None) -> float:
        """The mean over batch and time of the per-step loss."""
        return self._loss_of(self.forward(X, h0), Y)

    def predict(self, X: Any, h0: Any = None) -> np.ndarray:
        """The predictions y_hat (batch, time, n_out): o, or softmax(o) for the softmax head."""
        return np.ascontiguousarray(self.forward(X, h0).y_hat)


class JordanRNN(RNNModel):
    """Jordan RNN (output-to-hidden recurrence), batch-first row vectors::

        a(t) = b + r(t-1) @ W + x(t) @ U,   h(t) = act(a(t)),   o(t) = c + h(t) @ V  [+ r(t-1)]

    with the fed-back r(t-1) = y_hat(t-1) (o(t-1), or softmax(o(t-1)) for the softmax head) when
    running free, and the target y(t-1) under teacher forcing; r(0) = h0 (zeros by default).
    W is (n_out, n_hidden).  ``residual=True`` adds the bracket: the output is an increment, an
    Euler step with a learned vector field; it needs the identity head.  Teacher forcing
    decouples the steps, so the whole sequence is then computed without a time loop.
    """

    kind = "jordan"
    task = "step_map"
    summary = "Jordan network: a learned step map s(n+1) = f(s(n), x(n+1)) fed its own output"
    Settings = JordanSettings
    state_name = "n_out"

    @classmethod
    def build(cls, settings: JordanSettings, n_in: int, n_out: int, seed: int) -> JordanRNN:
        return cls(
            n_in,
            settings.hidden,
            n_out,
            settings.activation,
            residual=settings.residual,
            seed=seed,
            dtype=settings.dtype,
        )

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        activation: str = "tanh",
        output: str = "identity",
        residual: bool = False,
        seed: int = 0,
        dtype: Any = np.float64,
    ):
        if not isinstance(residual, bool | np.bool_):
            raise InputError(f"residual must be true or false, got {residual!r}")
        self.residual = bool(residual)
        super().__init__(n_in, n_hidden, n_out, activation, output, seed, dtype)
        if self.residual and self.output != "identity":
            raise InputError(
                "residual=True makes the output an increment of the output; "
                "it needs output='identity'"
            )

    @property
    def n_state(self) -> int:
        return self.n_out

    def _weight_scales(self) -> dict[str, float]:
        """As for Elman, with V ten times smaller when residual: small first increments."""
        scales = super()._weight_scales()
        if self.residual:
            scales["V"] *= 0.1
        return scales

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        cfg["residual"] = self.residual
        return cfg

    def forward(
        self,
        X: Any,
        h0: Any = None,
        *,
        teacher: Any = None,
        backend: str = "loop",
        newton: Any = None,
    ) -> ForwardPass:
        """Run over X (batch, time, n_in) from r(0) = h0 ((n_out,) or (batch, n_out)).

        ``teacher``: the targets Y (batch, time, n_out) to feed back instead of the outputs
        (teacher forcing); None runs free.  ``backend`` and ``newton``: as for Elman
        (:meth:`ElmanRNN.forward`); the scan needs the identity activation and head, and
        teacher forcing, having no recurrence, always runs as the loop does.
        """
        if backend != "loop" or newton is not None:
            from .parallel import parallel_forward

            return parallel_forward(self, X, h0, backend=backend, newton=newton, teacher=teacher)
        x = self._inputs(X)
        h0b, shared = self._initial(h0, x.shape[0])
        x_tm = np.ascontiguousarray(_tm(x))
        if teacher is not None:
            y = self._targets(teacher, x)
            return self._forward_forced(x_tm, np.ascontiguousarray(_tm(y)), h0b, shared)
        return self._forward_free(x_tm, h0b, shared)

    def _forward_forced(self, x_tm, y_tm, h0b, shared) -> ForwardPass:
        """All steps at once: r = (h0, y(1), ..., y(T-1)) and a = b + r @ W + x @ U."""
        T, B, _ = x_tm.shape
        prev = np.empty((T, B, self.n_out), dtype=self.dtype)
        prev[0] = h0b
        prev[1:] = y_tm[:-1]
        a = self._projection(x_tm)
        a += np.dot(_rows(prev), self._weights()["W"]).reshape(a.shape)
        h = np.empty_like(a)
        self._act.apply(a, h)
        o = self._outputs(h)
        if self.residual:
            o += prev
        return self._pass(x_tm, prev, a, h, o, None, h0b, shared, teacher_forcing=True)

    def _forward_free(self, x_tm, h0b, shared) -> ForwardPass:
        """The time loop: each step feeds its prediction y_hat(t) back into step t+1."""
        T, B, _ = x_tm.shape
        dtype, n_out = self.dtype, self.n_out
        softmax_head = self.output == "softmax"
        a = self._projection(x_tm)
        h = np.empty_like(a)
        os = np.empty((T + 1, B, n_out), dtype=dtype)  # o(0) = r(0), o(1), ..., o(T)
        os[0] = h0b
        fed = np.empty_like(os) if softmax_head else os  # r(t) = y_hat(t)
        fed[0] = h0b
        p = self._weights()
        W, V = np.ascontiguousarray(p["W"]), np.ascontiguousarray(p["V"])
        os[1:] = p["c"]  # o(t) = c + h(t) @ V accumulates onto c
        acc, apply = _accumulator(dtype), self._act.apply
        a_rows, h_rows, o_rows, r_rows = list(a), list(h), list(os), list(fed)
        for t in range(T):
            acc(r_rows[t], W, a_rows[t])  # a(t) += r(t-1) @ W
            apply(a_rows[t], h_rows[t])
            o_next = o_rows[t + 1]
            acc(h_rows[t], V, o_next)
            if self.residual:
                np.add(o_next, r_rows[t], out=o_next)
            if softmax_head:
                r_rows[t + 1][...] = softmax(o_next)
        return self._pass(x_tm, fed[:-1], a, h, os[1:], fed[1:], h0b, shared)

    def backward(
        self,
        fp: ForwardPass,
        Y: Any,
        *,
        truncate: int | None = None,
        clip: float | None = None,
        backend: str = "loop",
    ) -> BPTTResult:
        """BPTT from a forward pass: loss, gradients and dL/do, dL/dh, dL/da.

        Running free, the total dL/do(t) is its direct part plus what flows back from step t+1
        through the fed-back r(t) = y_hat(t): dL/dr(t) = dL/da(t+1) @ W^T [+ dL/do(t+1) when
        residual], taken through the softmax Jacobian for the softmax head; then
        dL/dh(t) = dL/do(t) @ V^T and dL/da(t) = dL/dh(t) * act'(a(t)).  Under teacher forcing
        only the direct part exists and the loop disappears.  dL/dh0 = dL/dr(0).
        ``backend``: "loop" or "scan" (the adjoint recurrence by a reverse scan).
        """
        if backend != "loop":
            from .parallel import parallel_backward

            return parallel_backward(self, fp, Y, truncate=truncate, clip=clip, backend=backend)
        k, clip = self._truncation(truncate), _clip_value(clip)
        loss, d_o = self._loss_and_dO(fp, Y)
        if fp.teacher_forcing:
            return self._backward_forced(fp, loss, d_o, clip)
        h_tm = _tm(fp.h)
        T, B, H = h_tm.shape
        slope = None if self._act.slope is None else self._act.slope(h_tm)
        d_h = np.empty((T, B, H), dtype=self.dtype)
        d_a = d_h if slope is None else np.empty_like(d_h)
        p = self._weights()
        WT, VT = np.ascontiguousarray(p["W"].T), np.ascontiguousarray(p["V"].T)
        carry = np.empty((B, self.n_out), dtype=self.dtype)  # dL/dr(t)
        softmax_head = self.output == "softmax"
        fed_rows = list(_tm(fp.prev))
        do_rows, dh_rows, da_rows = list(d_o), list(d_h), list(d_a)
        slope_rows = None if slope is None else list(slope)
        for t in range(T - 1, -1, -1):
            if t < T - 1 and (k is None or (t + 1) % k):
                np.add(do_rows[t], carry, out=do_rows[t])  # now the total dL/do(t)
            np.dot(do_rows[t], VT, out=dh_rows[t])
            if slope_rows is not None:
                np.multiply(dh_rows[t], slope_rows[t], out=da_rows[t])
            np.dot(da_rows[t], WT, out=carry)  # dL/dr(t-1) through a(t)
            if self.residual:
                np.add(carry, do_rows[t], out=carry)
            if softmax_head and t > 0:  # r(t-1) = softmax(o(t-1)); r(0) = h0 is given as is
                probs = fed_rows[t]
                carry -= np.sum(carry * probs, axis=-1, keepdims=True)
                carry *= probs
        return self._finish(fp, loss, d_o, d_h, d_a, carry, clip)

    def _backward_forced(self, fp: ForwardPass, loss: float, d_o, clip) -> BPTTResult:
        h_tm = _tm(fp.h)
        T, B, _ = d_o.shape
        p = self._weights()
        d_h = np.dot(_rows(d_o), p["V"].T).reshape(T, B, self.n_hidden)
        d_a = d_h if self._act.slope is None else d_h * self._act.slope(h_tm)
        d_h0 = np.dot(d_a[0], p["W"].T)
        if self.residual:
            d_h0 += d_o[0]
        return self._finish(fp, loss, d_o, d_h, d_a, d_h0, clip)

    def bptt(
        self,
        X: Any,
        Y: Any,
        h0: Any = None,
        *,
        teacher_forcing: bool = True,
        truncate: int | None = None,
        clip: float | None = None,
        backend: str = "loop",
        newton: Any = None,
    ) -> BPTTResult:
        """:meth:`forward` (teacher-forced with Y, or free) then :meth:`backward`; ``backend``
        and ``newton``: as for :meth:`ElmanRNN.bptt`."""
        teacher = Y if _flag(teacher_forcing) else None
        if backend == "loop" and newton is None:
            fp = self.forward(X, h0, teacher=teacher)
            return self.backward(fp, Y, truncate=truncate, clip=clip)
        from .parallel import bptt_backends

        forward, backward = bptt_backends(self, backend)
        fp = self.forward(X, h0, teacher=teacher, backend=forward, newton=newton)
        return self.backward(fp, Y, truncate=truncate, clip=clip, backend=backward)

    def loss(self, X: Any, Y: Any, h0: Any = None, *, teacher_forcing: bool = True) -> float:
        """The mean over batch and time of the per-step loss."""
        fp = self.forward(X, h0, teacher=Y if _flag(teacher_forcing) else None)
        return self._loss_of(fp, Y)

    def predict(self, X: Any, h0: Any = None) -> np.ndarray:
        """Run free and return y_hat (batch, time, n_out): o, or softmax(o) for softmax."""
        return np.ascontiguousarray(self.forward(X, h0).y_hat)


def pad_initial_state(h0: np.ndarray, width: int) -> np.ndarray:
    """States (batch, n) as initial hidden states (batch, width): (s, 0, ..., 0), n <= width."""
    h0 = np.asarray(h0)
    if h0.shape[-1] > width:
        raise InputError(
            f"an initial state of {h0.shape[-1]} values does not fit {width} hidden units; "
            f"use at least {h0.shape[-1]} hidden units"
        )
    out = np.zeros((*h0.shape[:-1], width), dtype=h0.dtype)
    out[..., : h0.shape[-1]] = h0
    return out


def _flag(value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InputError(f"teacher_forcing must be true or false, got {value!r}")
    return bool(value)
