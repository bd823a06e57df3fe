"""A gated recurrent unit (GRU) network in numpy, with hand-written back-propagation through time.

The conventions of ``torch.nn.GRU(batch_first=True)``: batch-first row vectors, X of shape
(batch, time, n_in), Y and the outputs (batch, time, n_out), step t = 1..T reads X[:, t-1], and
the gates in the order r, z, n::

    r(t) = sigmoid(x(t) @ W_ir + b_ir + h(t-1) @ W_hr + b_hr)
    z(t) = sigmoid(x(t) @ W_iz + b_iz + h(t-1) @ W_hz + b_hz)
    n(t) = tanh(x(t) @ W_in + b_in + r(t) * (h(t-1) @ W_hn + b_hn))
    h(t) = (1 - z(t)) * n(t) + z(t) * h(t-1)
    o(t) = c + h(t) @ V

from h(0) = h0 (zeros by default).  The gate weights are stacked as in torch:
W_i = [W_ir, W_iz, W_in] (n_in, 3 n_hidden), W_h = [W_hr, W_hz, W_hn] (n_hidden, 3 n_hidden),
b_i and b_h (3 n_hidden,).  The loss is that of :class:`dynsys.rnn.models.ElmanRNN`'s identity
head: the mean over batch and time of 1/2 ||o(t) - y(t)||^2.  Truncated BPTT (``truncate=k``)
and clipping (``clip``) mean what they mean there (see :mod:`dynsys.rnn.models`): windows of k
steps with no gradient across their boundaries (BPTT(k, k)), and all gradients scaled by
min(1, clip / norm), norm being the global L2 norm of the parameter gradients.

Speed: internally the arrays are time-major and feature-major, (time, n, batch), so that each
gate of a step is one contiguous (n_hidden, batch) block for the elementwise operations (slices
of a (batch, 3 n_hidden) row block measured four times slower).  The input projection of all
steps is one (batched) matmul before the time loop, W^T [x; 1] with the biases as an extra
column; the states carry a constant row of ones, [h; 1], so that the readout, dV and dc are one
matmul, and so are dW_h with db_h and dW_i with db_i.  The loops do the recurrent product (one
BLAS gemm accumulating in place) and a few elementwise operations on cache-sized blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._malloc import tune_allocator
from ..errors import InputError
from .activations import get_head
from .arrays import initial_state, sequences
from .base import BPTTModel, check_param_memory, positive_int
from .models import DTYPES, _accumulator, _clip_value, _dtype, pad_initial_state

GRU_PARAMS: tuple[str, ...] = ("W_i", "W_h", "b_i", "b_h", "V", "c")
"""The parameters of the GRU network, in the order of its flat vector."""


@dataclass(frozen=True)
class GRUSettings:
    """The GRU network's settings."""

    hidden: int = field(default=32, metadata={"help": "Hidden units."})
    dtype: str = field(
        default="float64",
        metadata={"help": "Floating-point type of the computation.", "choices": DTYPES},
    )


def _bf(a: np.ndarray) -> np.ndarray:
    """(time, n, batch) -> (batch, time, n), as a view."""
    return a.transpose(2, 0, 1)


def _fm(a: np.ndarray) -> np.ndarray:
    """(batch, time, n) -> (time, n, batch), as a view (the inverse of :func:`_bf`)."""
    return a.transpose(1, 2, 0)


@dataclass(frozen=True, eq=False)
class GRUForward:
    """What a forward pass computed: the cache that the backward pass reads.

    Stored feature-major: ``x1`` (time, n_in + 1, batch) the inputs with a row of ones, [x; 1];
    ``hs`` (time + 1, n_hidden + 1, batch) the states h(0), ..., h(T) with a row of ones;
    ``gates`` (time, 3 n_hidden, batch) [r(t); z(t); h(t-1) @ W_hn + b_hn]; ``n`` and ``diff``
    (time, n_hidden, batch) n(t) and h(t-1) - n(t); ``out`` (time, n_out, batch) o(t).  ``h0``
    (batch, n_hidden) is the initial state used, ``h0_shared`` whether it was one vector for
    every sequence (then its gradient is summed over the batch).  The properties ``x``,
    ``prev`` (h(t-1)), ``h`` and ``o`` are batch-first views, (batch, time, n).
    """

    x1: np.ndarray
    hs: np.ndarray
    gates: np.ndarray
    n: np.ndarray
    diff: np.ndarray
    out: np.ndarray
    h0: np.ndarray
    h0_shared: bool

    @property
    def x(self) -> np.ndarray:
        """The inputs (batch, time, n_in)."""
        return _bf(self.x1[:, :-1])

    @property
    def prev(self) -> np.ndarray:
        """The state each step starts from, h(t-1), (batch, time, n_hidden)."""
        return _bf(self.hs[:-1, :-1])

    @property
    def h(self) -> np.ndarray:
        """The states h(t), (batch, time, n_hidden)."""
        return _bf(self.hs[1:, :-1])

    @property
    def o(self) -> np.ndarray:
        """The outputs o(t), (batch, time, n_out)."""
        return _bf(self.out)


@dataclass(frozen=True, eq=False)
class GRUBPTTResult:
    """The loss, its gradients, and the intermediate gradients of back-propagation.

    ``grads`` has the keys W_i, W_h, b_i, b_h, V, c (shaped like the parameters) and h0 (shaped
    like the initial state given: (n_hidden,) when it was None or one vector, else (batch,
    n_hidden)).  ``dL_do`` (batch, time, n_out) and ``dL_dh`` (batch, time, n_hidden) are total
    derivatives, through every later step (within the truncation window), before clipping.
    ``grad_norm`` is the global L2 norm of the parameter gradients before clipping and
    ``clip_scale`` the factor they were multiplied by (1.0 when not clipped).
    """

    loss: float
    grads: dict[str, np.ndarray]
    dL_do: np.ndarray
    dL_dh: np.ndarray
    grad_norm: float
    clip_scale: float
    forward: GRUForward


class GRUNetwork(BPTTModel):
    """GRU network (torch.nn.GRU's equations, see :mod:`dynsys.rnn.gru`) with a linear readout.

    ``params`` is a dict of the arrays W_i (n_in, 3 n_hidden), W_h (n_hidden, 3 n_hidden), b_i,
    b_h (3 n_hidden,), V (n_hidden, n_out) and c (n_out,), in the model's dtype; writing into
    them changes the model.  Initialisation as in torch (the GRU, then a Linear readout), from
    ``np.random.default_rng(seed)``: every array uniform on +-1/sqrt(n_hidden), drawn in that
    order.
    """

    kind = "gru"
    task = "driven_response"
    fitting = "gradient"
    summary = "Gated recurrent unit network: gates r, z blend h(t-1) with a candidate n(t)"
    Settings = GRUSettings
    recipe: ClassVar[dict] = {
        "dataset": {"initial_state": "h0", "seq_len": 20},
        "training": {"epochs": 500, "whole_epochs": 300},
    }

    @classmethod
    def build(cls, settings: GRUSettings, n_in: int, n_out: int, seed: int) -> GRUNetwork:
        return cls(n_in, settings.hidden, n_out, seed=seed, dtype=settings.dtype)

    def __init__(self, n_in: int, n_hidden: int, n_out: int, seed: int = 0, dtype: Any = "float64"):
        self.n_in = positive_int("n_in", n_in)
        self.n_hidden = positive_int("n_hidden", n_hidden)
        self.n_out = positive_int("n_out", n_out)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.dtype = _dtype(dtype)
        check_param_memory(self.kind, self.param_shapes, self.dtype)
        rng = np.random.default_rng(self.seed)
        scale = 1 / math.sqrt(self.n_hidden)
        self.params: dict[str, np.ndarray] = {
            name: rng.uniform(-scale, scale, size=shape).astype(self.dtype)
            for name, shape in self.param_shapes.items()
        }

    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter, in the order W_i, W_h, b_i, b_h, V, c."""
        H = self.n_hidden
        return {
            "W_i": (self.n_in, 3 * H),
            "W_h": (H, 3 * H),
            "b_i": (3 * H,),
            "b_h": (3 * H,),
            "V": (H, self.n_out),
            "c": (self.n_out,),
        }

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-ready dict, with ``kind`` ("gru")."""
        return {
            "kind": self.kind,
            "n_in": self.n_in,
            "n_hidden": self.n_hidden,
            "n_out": self.n_out,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }

    def initial(self, s0: np.ndarray) -> np.ndarray:
        """Initial states (batch, n) as h(0) = (s0, 0, ..., 0) (batch, n_hidden)."""
        return pad_initial_state(s0, self.n_hidden)

    # -- input validation -------------------------------------------------------------------------
    def _weights(self) -> dict[str, np.ndarray]:
        """``params``, checked: a replaced array must keep its shape and the model's dtype."""
        for name, shape in self.param_shapes.items():
            arr = self.params.get(name)
            if not (isinstance(arr, np.ndarray) and arr.shape == shape and arr.dtype == self.dtype):
                raise InputError(
                    f"params[{name!r}] must be a {self.dtype.name} array of shape {shape}"
                )
        return self.params

    def _sequences(self, name: str, value: Any, n: int, what: str, like=None) -> np.ndarray:
        return sequences(name, value, n, what, self.dtype, like)

    def _initial(self, h0: Any, batch: int) -> tuple[np.ndarray, bool]:
        """(h0 as (batch, n_hidden), whether one vector was given for all); None means zeros."""
        return initial_state(h0, batch, self.n_hidden, "n_hidden", self.dtype)

    # -- the passes -------------------------------------------------------------------------------
    def forward(self, X: Any, h0: Any = None) -> GRUForward:
        """Run over X (batch, time, n_in) from h0 of shape (n_hidden,) or (batch, n_hidden).

        Per step, feature-major: g = [a_r; a_z; b_hn] + W_h^T h(t-1) (one gemm in place),
        [r; z] = sigmoid([a_r; a_z]) = 1/2 + tanh([a_r; a_z] / 2) / 2 in place (the halving
        folded into the weights), n = tanh(W_in^T x + b_in + r * g_n), h(t) = n + z (h(t-1) - n),
        where a_r, a_z start as the input parts W_ir^T x + b_ir + b_hr and W_iz^T x + b_iz + b_hz.
        """
        tune_allocator()  # the passes allocate arrays of (time, n, batch): keep them off mmap
        x = self._sequences("X", X, self.n_in, "n_in")
        h0b, shared = self._initial(h0, x.shape[0])
        B, T, _ = x.shape
        H = self.n_hidden
        p = self._weights()
        WbT = np.concatenate((p["W_i"], p["b_i"][None])).T.copy()  # (3 H, n_in + 1)
        WbT[: 2 * H, -1] += p["b_h"][: 2 * H]
        WbT[: 2 * H] *= 0.5
        WhT = np.ascontiguousarray(p["W_h"].T)  # (3 H, H)
        WhT[: 2 * H] *= 0.5
        x1 = np.ones((T, self.n_in + 1, B), dtype=self.dtype)  # [x(t); 1]
        x1[:, :-1] = _fm(x)
        g = np.matmul(WbT, x1)  # (time, 3 H, batch): the input projection of every step
        n = g[:, 2 * H :].copy()  # W_in^T x + b_in, then n(t) in place
        g[:, 2 * H :] = p["b_h"][2 * H :, None]  # the gemm adds W_hn^T h(t-1) onto b_hn
        hs = np.empty((T + 1, H + 1, B), dtype=self.dtype)  # [h(t); 1] for t = 0..T
        hs[:, -1] = 1
        hs[0, :-1] = h0b.T
        diff = np.empty_like(n)
        acc = _accumulator(self.dtype)
        tmp = np.empty((H, B), dtype=self.dtype)
        g_rows, n_rows, d_rows = list(g), list(n), list(diff)
        h_rows = [a[:-1] for a in hs]
        for t in range(T):
            gt, nt, dt, hp, hn = g_rows[t], n_rows[t], d_rows[t], h_rows[t], h_rows[t + 1]
            acc(WhT, hp, gt)  # g += W_h^T h(t-1)
            rz = gt[: 2 * H]
            np.tanh(rz, out=rz)
            np.multiply(rz, 0.5, out=rz)
            np.add(rz, 0.5, out=rz)
            np.multiply(gt[:H], gt[2 * H :], out=tmp)  # r * (W_hn^T h(t-1) + b_hn)
            np.add(nt, tmp, out=nt)
            np.tanh(nt, out=nt)
            np.subtract(hp, nt, out=dt)  # h(t) = n + z (h(t-1) - n)
            np.multiply(dt, gt[H : 2 * H], out=hn)
            np.add(hn, nt, out=hn)
        Vc = np.concatenate((p["V"], p["c"][None])).T  # (n_out, H + 1)
        out = np.matmul(Vc, hs[1:])  # (time, n_out, batch)
        return GRUForward(x1, hs, g, n, diff, out, h0b, shared)

    def backward(
        self, fp: GRUForward, Y: Any, *, truncate: int | None = None, clip: float | None = None
    ) -> GRUBPTTResult:
        """BPTT from a forward pass: loss, gradients, dL/do and dL/dh.

        With dh = dL/dh(t) (total) and h = h(t-1)::

            da_n = dh (1 - z)(1 - n^2),    da_z = dh (h - n) z (1 - z),
            dg_n = da_n r,                 da_r = dg_n g_n (1 - r),   (g_n = h W_hn + b_hn)
            dL/dh(t-1) = dL/do(t-1) @ V^T + dh z + [da_r, da_z, dg_n] @ W_h^T,

        summed over the steps for [dW_h; db_h] = sum_t [h(t-1), 1]^T [da_r, da_z, dg_n],
        [dW_i; db_i] = sum_t [x(t), 1]^T [da_r, da_z, da_n] and [dV; dc] = sum_t [h(t), 1]^T
        dL/do(t); dL/dh0 is dL/dh(0).  ``truncate`` and ``clip``: see :meth:`loss_and_grad`.

        The gate slopes are computed inside the loop on the step's (n_hidden, batch) blocks
        while they are in cache: as separate passes over the whole (time, n_hidden, batch)
        arrays before the loop they measured no faster, and took four more such arrays.
        """
        k = None if truncate is None else positive_int("truncate", truncate)
        clip = _clip_value(clip)
        y = self._sequences("Y", Y, self.n_out, "n_out", like=fp.x.shape)
        B, T, _ = y.shape
        H = self.n_hidden
        loss, d_o = get_head("identity").loss_and_grad(fp.out, _fm(y), 1.0 / (B * T))
        p = self._weights()
        d_h = np.matmul(p["V"], d_o)  # (time, H, batch): the direct part V dL/do(t)
        d_a = np.empty((T, 4 * H, B), dtype=self.dtype)  # [da_r; da_z; dg_n; da_n]
        d_h0 = np.zeros((H, B), dtype=self.dtype)
        W_h = np.ascontiguousarray(p["W_h"])
        acc = _accumulator(self.dtype)
        u, v, w = (np.empty((H, B), dtype=self.dtype) for _ in range(3))
        dh_rows, da_rows = list(d_h), list(d_a)
        g_rows, n_rows, diff_rows = list(fp.gates), list(fp.n), list(fp.diff)
        for t in range(T - 1, -1, -1):
            dh, da, g, n = dh_rows[t], da_rows[t], g_rows[t], n_rows[t]
            r, z, g_n = g[:H], g[H : 2 * H], g[2 * H :]
            dan, dgn = da[3 * H :], da[2 * H : 3 * H]
            np.multiply(dh, z, out=w)  # dh z, the direct part of dL/dh(t-1)
            np.subtract(dh, w, out=u)  # dh (1 - z)
            np.multiply(n, n, out=v)
            np.subtract(1.0, v, out=v)
            np.multiply(u, v, out=dan)  # da_n = dh (1 - z)(1 - n^2)
            np.multiply(u, diff_rows[t], out=v)
            np.multiply(v, z, out=da[H : 2 * H])  # da_z = dh (1 - z)(h - n) z
            np.multiply(dan, r, out=dgn)  # dg_n = da_n r
            np.subtract(1.0, r, out=v)
            np.multiply(v, g_n, out=v)
            np.multiply(dgn, v, out=da[:H])  # da_r = dg_n g_n (1 - r)
            if t == 0:
                target = d_h0
            elif k is None or t % k:
                target = dh_rows[t - 1]
            else:  # step t starts a window: its h(t-1) is held fixed
                continue
            np.add(target, w, out=target)
            acc(W_h, da[: 3 * H], target)  # += W_h [da_r; da_z; dg_n]
        dWb_i = np.matmul(d_a, fp.x1.transpose(0, 2, 1)).sum(axis=0)  # (4 H, n_in + 1)
        dWb_i = np.concatenate((dWb_i[: 2 * H], dWb_i[3 * H :])).T
        dWb_h = np.matmul(fp.hs[:-1], d_a[:, : 3 * H].transpose(0, 2, 1)).sum(axis=0)
        dVc = np.matmul(fp.hs[1:], d_o.transpose(0, 2, 1)).sum(axis=0)  # (H + 1, n_out)
        grads = {
            "W_i": dWb_i[:-1],
            "W_h": dWb_h[:-1],
            "b_i": dWb_i[-1],
            "b_h": dWb_h[-1],
            "V": dVc[:-1],
            "c": dVc[-1],
            "h0": d_h0.sum(axis=1) if fp.h0_shared else d_h0.T,
        }
        norm = math.sqrt(sum(float(np.vdot(grads[name], grads[name])) for name in GRU_PARAMS))
        factor = 1.0
        if clip is not None and norm > clip:
            factor = clip / norm
            grads = {name: grad * factor for name, grad in grads.items()}
        return GRUBPTTResult(
            loss=loss,
            grads=grads,
            dL_do=_bf(d_o),
            dL_dh=_bf(d_h),
            grad_norm=norm,
            clip_scale=factor,
            forward=fp,
        )

    def bptt(
        self,
        X: Any,
        Y: Any,
        h0: Any = None,
        *,
        truncate: int | None = None,
        clip: float | None = None,
    ) -> GRUBPTTResult:
        """:meth:`forward` then :meth:`backward`."""
        return self.backward(self.forward(X, h0), Y, truncate=truncate, clip=clip)

    def loss(self, X: Any, Y: Any, h0: Any = None) -> float:
        """The mean over batch and time of 1/2 ||o(t) - y(t)||^2."""
        fp = self.forward(X, h0)
        y = self._sequences("Y", Y, self.n_out, "n_out", like=fp.x.shape)
        return get_head("identity").loss(fp.o, y, 1.0 / (y.shape[0] * y.shape[1]))

    def predict(self, X: Any, h0: Any = None) -> np.ndarray:
        """The outputs o (batch, time, n_out)."""
        return np.ascontiguousarray(self.forward(X, h0).o)
