"""A deeper step map: s(n+1) = s(n) + MLP(s(n), x(n+1)), a residual multilayer perceptron.

Arrays are batch-first: X is (batch, time, n_in), Y and the outputs (batch, time, n_out), and
h0 = s(0) is (n_out,) or (batch, n_out).  Step t = 1..T reads x(t) = X[:, t-1] (the drive
samples of the step, see :mod:`dynsys.rnn.data`) and predicts s(t), scored against Y[:, t-1].
With L hidden layers of H units::

    h_1(t) = act(b_1 + [r(t-1), x(t)] @ W_1)     W_1 (n_out + n_in, H), state rows first
    h_l(t) = act(b_l + h_{l-1}(t) @ W_l)         W_l (H, H), l = 2..L
    o(t)   = r(t-1) + g * (c + h_L(t) @ V)       V (H, n_out)

with two options: a linear path, o(t) = r(t-1) + g * (c + [r(t-1), x(t)] @ A + h_L(t) @ V) with
A (n_out + n_in, n_out) (the network then learns only what a linear step map misses), and the
fixed per-state factor g (n_out,), ones unless :meth:`StepMLP.prepare` sets it from the data
to the std of each state's one-step increment: the network then outputs numbers of order 1
however small a step is.  g is a constant of the model (its configuration), not a parameter.

r(t-1) is the state the step starts from: running free, the model's own o(t-1) from r(0) = h0;
under teacher forcing the true previous state, r(0) = h0 and r(t-1) = Y[:, t-2].  The loss is
the mean over batch and time of 1/2 ||o(t) - y(t)||^2, exactly the identity head of
:mod:`dynsys.rnn.models`: teacher-forced it is the one-step loss, running free the rollout loss.

Back-propagation, with dL/do(t) the total derivative of the loss::

    dL/dh_L = dL/do @ V'^T,  dL/da_l = dL/dh_l * act'(a_l),   dL/dh_{l-1} = dL/da_l @ W_l^T,
    dL/dr(t-1) = dL/do(t) + dL/da_1(t) @ W_1[:n_out]^T + dL/do(t) @ A'[:n_out]^T

and running free dL/do(t-1) is its direct part plus dL/dr(t-1); dL/dh0 = dL/dr(0).  The weight
gradients are sums over the steps, e.g. dW_l = sum_t h_{l-1}(t)^T dL/da_l(t).  The passes use
the scaled V' = V diag(g), c' = g * c, A' = A diag(g); dL/dV = (dL/dV') diag(g), and so on.
Truncated BPTT (``truncate=k``) is that of :mod:`dynsys.rnn.models`: windows of k steps, no
gradient across a window boundary, the exact gradient of sum_j (T_j / T) L_j with each window's
starting state held fixed; under teacher forcing the steps are already decoupled and it changes
nothing.

Speed: time-major inside.  Teacher-forced, there is no time loop: the (time * batch) rows go
forward and backward in blocks of :data:`BLOCK_ROWS` rows, one matmul per layer and block, each
block adding its share of the weight gradients while its arrays are in cache.  Running free, the
input part of the first layer [x, 1] @ [W_1[n_out:]; b_1] (and of the linear path,
[x, 1] @ [A'[n_out:]; c']) is one matmul before the loop, and the loop does one in-place BLAS
accumulation per layer and step (out += r @ W) and the activation; the weight gradients are
matmuls over blocks of rows after the backward loop.

On Lorenz (h = 0.01) the one-step increments are 0.05 to 0.09 of each state's std: with g set
from them, and the linear path, one hidden layer of 64 units fitted by 12,000 L-BFGS iterations
reaches a one-step loss near 2e-9 and 6 to 8 Lyapunov times of valid forecast (see
:mod:`dynsys.rnn.recipes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .._malloc import tune_allocator
from ..errors import InputError
from .activations import ACTIVATIONS, Activation, get_activation
from .arrays import initial_state, sequences
from .base import BPTTModel, check_param_memory, positive_int
from .models import DTYPES, _accumulator, _clip_value, _dtype, _flag

SCALES = {
    "none": "no factor (g = 1)",
    "increments": "g = the std of each state's one-step increment in the training data",
}
"""How the per-state factor g of the increment is set (see :meth:`StepMLP.prepare`)."""


@dataclass(frozen=True)
class StepMLPSettings:
    """The residual MLP step map's settings."""

    hidden: int = field(default=64, metadata={"help": "Units in each hidden layer."})
    layers: int = field(default=2, metadata={"help": "Hidden layers of the step map's MLP."})
    activation: str = field(
        default="tanh", metadata={"help": "Activation of the hidden units.", "choices": ACTIVATIONS}
    )
    dtype: str = field(
        default="float64",
        metadata={"help": "Floating-point type of the computation.", "choices": DTYPES},
    )
    linear: bool = field(
        default=False,
        metadata={"help": "Add a linear path [s(n), x(n+1)] @ A to the learned increment."},
    )
    scale: str = field(
        default="none",
        metadata={
            "help": "Multiply each state's increment by a fixed factor set from the data.",
            "choices": SCALES,
        },
    )


@dataclass(frozen=True, eq=False)
class StepForward:
    """What a forward pass computed, batch-first (views of time-major arrays).

    ``x`` (batch, time, n_in) the inputs in the model's dtype; ``prev`` (batch, time, n_out) the
    state r(t-1) each step starts from; ``h`` the hidden layers h_1..h_L, each
    (batch, time, hidden); ``o`` (batch, time, n_out) the predicted states; ``h0``
    (batch, n_out) the initial state used, ``h0_shared`` whether it was one vector for every
    sequence (its gradient is then summed over the batch); ``teacher_forcing`` whether the
    steps started from the targets.
    """

    x: np.ndarray
    prev: np.ndarray
    h: tuple[np.ndarray, ...]
    o: np.ndarray
    h0: np.ndarray
    h0_shared: bool
    teacher_forcing: bool


@dataclass(frozen=True, eq=False)
class StepBPTT:
    """The loss and its gradients (the parameters and h0, clipped when asked), the global L2 norm
    of the parameter gradients before clipping, the factor they were multiplied by, and the
    forward pass."""

    loss: float
    grads: dict[str, np.ndarray]
    grad_norm: float
    clip_scale: float
    forward: StepForward


def _tm(a: np.ndarray) -> np.ndarray:
    """(batch, time, n) <-> (time, batch, n) as a view."""
    return a.swapaxes(0, 1)


def _rows(a: np.ndarray) -> np.ndarray:
    """(time, batch, n) as a (time * batch, n) matrix (a view when contiguous)."""
    return a.reshape(-1, a.shape[-1])


def _with_ones(*blocks: np.ndarray) -> np.ndarray:
    """Row blocks (n, k_i) side by side with a last column of ones: [b_1, ..., 1]."""
    width = sum(b.shape[1] for b in blocks)
    out = np.empty((blocks[0].shape[0], width + 1), dtype=blocks[0].dtype)
    start = 0
    for b in blocks:
        out[:, start : start + b.shape[1]] = b
        start += b.shape[1]
    out[:, -1] = 1
    return out


def _slopes(act: Activation, hs: list[np.ndarray]) -> list[np.ndarray | None]:
    """act'(a_l) from each stored h_l (None: the slope is 1)."""
    return [None if act.slope is None else act.slope(h) for h in hs]


def _back_through_mlp(
    d_o: np.ndarray,
    slopes: list[np.ndarray | None],
    weights_t: list[np.ndarray],
    d_a: list[np.ndarray],
) -> None:
    """dL/da_l for l = L..1 from dL/do, written into ``d_a`` (rows of any leading shape).

    dL/dh_L = dL/do @ V^T, dL/da_l = dL/dh_l * act'(a_l), dL/dh_{l-1} = dL/da_l @ W_l^T;
    ``weights_t`` is (W_2^T, ..., W_L^T, V^T).
    """
    d_h = np.dot(d_o, weights_t[-1])
    for layer in range(len(d_a) - 1, -1, -1):
        slope = slopes[layer]
        if slope is None:
            d_a[layer][...] = d_h
        else:
            np.multiply(d_h, slope, out=d_a[layer])
        if layer > 0:
            d_h = np.dot(d_a[layer], weights_t[layer - 1])


BLOCK_ROWS = 2048
"""Rows (steps of sequences) per block in the passes over all rows: a block's hidden layers
(BLOCK_ROWS x hidden) stay in cache from one operation to the next.  One-step (teacher-forced)
fits run 1.5 to 2 times faster than with whole (time * batch, hidden) arrays."""


def _blocks(n: int) -> list[slice]:
    """Slices of BLOCK_ROWS rows covering range(n)."""
    size = BLOCK_ROWS
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


class _GradientSums:
    """The weight gradients as sums over blocks of rows: with [r, x, 1] the inputs of layer 1,

    dW_1 = [r, x]^T dL/da_1,  db_l = sum dL/da_l,  dW_l = h_{l-1}^T dL/da_l,
    dV = (h_L^T dL/do) diag(g),  dc = g * sum dL/do,  dA = ([r, x]^T dL/do) diag(g).
    """

    def __init__(self, model: StepMLP, width: int):
        self.model = model
        dtype, H, n_out = model.dtype, model.n_hidden, model.n_out
        self.dW1b = np.zeros((width, H), dtype=dtype)
        self.dWs = [np.zeros((H, H), dtype=dtype) for _ in range(model.layers - 1)]
        self.dbs = [np.zeros(H, dtype=dtype) for _ in range(model.layers - 1)]
        self.dV = np.zeros((H, n_out), dtype=dtype)
        self.dAc = np.zeros((width if model.linear else 1, n_out), dtype=dtype)

    def add(self, inputs, hs, d_a, d_o) -> None:
        """Add one block's share: inputs (rows, width), hs and d_a (rows, H) per layer, d_o."""
        self.dW1b += np.dot(inputs.T, d_a[0])
        for layer in range(1, self.model.layers):
            self.dWs[layer - 1] += np.dot(hs[layer - 1].T, d_a[layer])
            self.dbs[layer - 1] += d_a[layer].sum(axis=0)
        self.dV += np.dot(hs[-1].T, d_o)
        if self.model.linear:
            self.dAc += np.dot(inputs.T, d_o)
        else:
            self.dAc += d_o.sum(axis=0)

    def grads(self) -> dict[str, np.ndarray]:
        """By name, in the order of the parameters."""
        g = self.model._gain()
        out = {"W1": self.dW1b[:-1], "b1": self.dW1b[-1]}
        for layer in range(2, self.model.layers + 1):
            out[f"W{layer}"], out[f"b{layer}"] = self.dWs[layer - 2], self.dbs[layer - 2]
        out["V"] = self.dV * g
        out["c"] = self.dAc[-1] * g
        if self.model.linear:
            out["A"] = self.dAc[:-1] * g
        return out


class StepMLP(BPTTModel):
    """A residual multilayer perceptron as a step map, s(n+1) = s(n) + MLP(s(n), x(n+1)).

    ``params``: W1 (n_out + n_in, n_hidden), b1 (n_hidden,), W2 (n_hidden, n_hidden), b2, ...,
    W<layers>, b<layers>, V (n_hidden, n_out), c (n_out,), and with ``linear`` A
    (n_out + n_in, n_out), in the model's dtype; writing into them changes the model.
    Initialisation from ``np.random.default_rng(seed)``: each weight matrix uniform on
    +-1/sqrt(fan_in) (its number of rows), V ten times smaller (small first increments), biases
    and A zero.  ``out_scale`` is the factor g (n_out,) of the module docstring (None: ones);
    ``scale="increments"`` lets :meth:`prepare` set it from the training data.
    """

    kind: ClassVar[str] = "mlp"
    task: ClassVar[str] = "step_map"
    fitting: ClassVar[str] = "gradient"
    summary: ClassVar[str] = (
        "Residual MLP step map: s(n+1) = s(n) + MLP(s(n), x(n+1)), one or more hidden layers"
    )
    Settings: ClassVar[type] = StepMLPSettings
    recipe: ClassVar[dict] = {"training": {"epochs": 500, "closed_loop_epochs": 300, "rollout": 10}}

    @classmethod
    def build(cls, settings: StepMLPSettings, n_in: int, n_out: int, seed: int) -> StepMLP:
        return cls(
            n_in,
            settings.hidden,
            n_out,
            layers=settings.layers,
            activation=settings.activation,
            seed=seed,
            dtype=settings.dtype,
            linear=settings.linear,
            scale=settings.scale,
        )

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        layers: int = 2,
        activation: str = "tanh",
        seed: int = 0,
        dtype: Any = "float64",
        linear: bool = False,
        scale: str = "none",
        out_scale: Any = None,
    ):
        self.n_in = positive_int("n_in", n_in)
        self.n_hidden = positive_int("n_hidden", n_hidden)
        self.n_out = positive_int("n_out", n_out)
        self.layers = positive_int("layers", layers)
        self._act: Activation = get_activation(activation)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.dtype = _dtype(dtype)
        if not isinstance(linear, bool | np.bool_):
            raise InputError(f"linear must be true or false, got {linear!r}")
        self.linear = bool(linear)
        if scale not in SCALES:
            raise InputError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
        self.scale = str(scale)
        self.out_scale: np.ndarray | None = None
        if out_scale is not None:
            self.out_scale = _factors(out_scale, self.n_out)
        check_param_memory(self.kind, self._shapes(), self.dtype)
        rng = np.random.default_rng(self.seed)
        self.params: dict[str, np.ndarray] = {}
        for name, shape in self._shapes().items():
            if name.startswith("b") or name in ("c", "A"):
                values = np.zeros(shape)
            else:
                bound = (0.1 if name == "V" else 1.0) / math.sqrt(shape[0])
                values = rng.uniform(-bound, bound, size=shape)
            self.params[name] = values.astype(self.dtype)

    def _shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter in the order of the flat vector: W1, b1, ..., V, c, A."""
        H = self.n_hidden
        shapes: dict[str, tuple[int, ...]] = {"W1": (self.n_out + self.n_in, H), "b1": (H,)}
        for layer in range(2, self.layers + 1):
            shapes[f"W{layer}"] = (H, H)
            shapes[f"b{layer}"] = (H,)
        shapes["V"] = (H, self.n_out)
        shapes["c"] = (self.n_out,)
        if self.linear:
            shapes["A"] = (self.n_out + self.n_in, self.n_out)
        return shapes

    @property
    def activation(self) -> str:
        return self._act.name

    @property
    def n_state(self) -> int:
        """The size of the state a step starts from: n_out."""
        return self.n_out

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-ready dict, with ``kind`` "mlp"."""
        return {
            "kind": self.kind,
            "n_in": self.n_in,
            "n_hidden": self.n_hidden,
            "n_out": self.n_out,
            "layers": self.layers,
            "activation": self.activation,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "linear": self.linear,
            "scale": self.scale,
            "out_scale": None if self.out_scale is None else self.out_scale.tolist(),
        }

    def prepare(self, X: Any, Y: Any, h0: Any = None) -> StepMLP:
        """Set what the model takes from the training data before it is fitted; returns self.

        With ``scale="increments"``: g = the std over batch and time of each state's one-step
        increment (Y[:, 0] - h0, Y[:, 1] - Y[:, 0], ...), a state that never moves keeping
        g = 1.  Otherwise nothing.  X (batch, time, n_in), Y (batch, time, n_out), h0 as in
        :meth:`forward`.
        """
        if self.scale == "increments":
            x = self._sequences("X", X, self.n_in)
            y = self._sequences("Y", Y, self.n_out, like=x.shape).astype(np.float64)
            start, _ = self._initial(h0, x.shape[0])
            prev = np.concatenate((start[:, None].astype(np.float64), y[:, :-1]), axis=1)
            std = np.std((y - prev).reshape(-1, self.n_out), axis=0)
            self.out_scale = np.where(std > _TINY, std, 1.0)
        return self

    def _gain(self) -> np.ndarray:
        """g (n_out,) in the model's dtype."""
        g = np.ones(self.n_out) if self.out_scale is None else self.out_scale
        return g.astype(self.dtype)

    def _scaled(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """V' = V diag(g), c' = g * c and A' = A diag(g) (None without the linear path)."""
        g = self._gain()
        return p["V"] * g, p["c"] * g, (p["A"] * g if self.linear else None)

    def _weights(self) -> dict[str, np.ndarray]:
        """``params``, checked: a replaced array must keep its shape and the model's dtype."""
        for name, shape in self._shapes().items():
            arr = self.params.get(name)
            if not (isinstance(arr, np.ndarray) and arr.shape == shape and arr.dtype == self.dtype):
                raise InputError(
                    f"params[{name!r}] must be a {self.dtype.name} array of shape {shape}"
                )
        return self.params

    # -- input validation --------------------------------------------------------------------------
    def _sequences(self, field: str, value: Any, n: int, like: tuple | None = None) -> np.ndarray:
        """``value`` as a (batch, time, n) array of the model's dtype, or an InputError."""
        return sequences(field, value, n, "n_in" if field == "X" else "n_out", self.dtype, like)

    def _initial(self, h0: Any, batch: int) -> tuple[np.ndarray, bool]:
        """(h0 as (batch, n_out), whether one vector was given for all); None means zeros."""
        return initial_state(h0, batch, self.n_out, "n_out", self.dtype)

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, X: Any, h0: Any = None, *, teacher: Any = None) -> StepForward:
        """Run over X (batch, time, n_in) from r(0) = h0 ((n_out,) or (batch, n_out)).

        ``teacher``: the targets Y (batch, time, n_out) to start each step from (teacher
        forcing, every step at once); None runs free on the model's own outputs.
        """
        tune_allocator()  # the passes allocate (time, batch, n) arrays: keep them off mmap
        x = self._sequences("X", X, self.n_in)
        h0b, shared = self._initial(h0, x.shape[0])
        x_tm = np.ascontiguousarray(_tm(x))
        T, B, _ = x_tm.shape
        p = self._weights()
        V, c, A = self._scaled(p)
        n_out, H = self.n_out, self.n_hidden
        hs = [np.empty((T, B, H), dtype=self.dtype) for _ in range(self.layers)]
        if teacher is not None:
            y_tm = _tm(self._sequences("Y", teacher, n_out, like=x.shape))
            prev = np.empty((T, B, n_out), dtype=self.dtype)
            prev[0] = h0b
            prev[1:] = y_tm[:-1]
            W1b = np.concatenate((p["W1"], p["b1"][None]))
            Ac = None if A is None else np.concatenate((A, c[None]))
            inputs, prev_r = _with_ones(_rows(prev), _rows(x_tm)), _rows(prev)
            o = np.empty((T, B, n_out), dtype=self.dtype)
            o_r, h_r, apply = _rows(o), [_rows(h) for h in hs], self._act.apply
            for rows in _blocks(T * B):
                np.dot(inputs[rows], W1b, out=h_r[0][rows])
                apply(h_r[0][rows], h_r[0][rows])
                for layer in range(1, self.layers):
                    h = h_r[layer][rows]
                    np.dot(h_r[layer - 1][rows], p[f"W{layer + 1}"], out=h)
                    h += p[f"b{layer + 1}"]
                    apply(h, h)
                out = o_r[rows]
                np.dot(h_r[-1][rows], V, out=out)
                if Ac is None:
                    out += c
                else:
                    out += np.dot(inputs[rows], Ac)
                out += prev_r[rows]
            return self._pass(x_tm, prev, hs, o, h0b, shared, True)
        # running free: the input part of layer 1 for every step at once, then the loop
        x_ones = _with_ones(_rows(x_tm))
        W1x_b = np.concatenate((p["W1"][n_out:], p["b1"][None]))
        np.dot(x_ones, W1x_b, out=_rows(hs[0]))
        for layer in range(1, self.layers):
            hs[layer][...] = p[f"b{layer + 1}"]
        os = np.empty((T + 1, B, n_out), dtype=self.dtype)  # r(0) = h0, o(1), ..., o(T)
        os[0] = h0b
        if A is None:
            os[1:] = c
        else:  # c' + x(t) @ A'[n_out:] for every step
            np.dot(x_ones, np.concatenate((A[n_out:], c[None])), out=_rows(os[1:]))
        W1s = np.ascontiguousarray(p["W1"][:n_out])
        Ws = [np.ascontiguousarray(p[f"W{layer}"]) for layer in range(2, self.layers + 1)]
        V = np.ascontiguousarray(V)
        As = None if A is None else np.ascontiguousarray(A[:n_out])
        acc, apply = _accumulator(self.dtype), self._act.apply
        o_rows = list(os)
        h_rows = [list(h) for h in hs]
        for t in range(T):
            r, h = o_rows[t], h_rows[0][t]
            acc(r, W1s, h)  # a_1(t) += r(t-1) @ W_1[:n_out]
            apply(h, h)
            for layer, W in enumerate(Ws, start=1):
                below, h = h, h_rows[layer][t]
                acc(below, W, h)  # a_l(t) = b_l + h_{l-1}(t) @ W_l
                apply(h, h)
            out = o_rows[t + 1]
            acc(h, V, out)  # o(t) = c' + h_L(t) @ V' ...
            if As is not None:
                acc(r, As, out)  # ... + r(t-1) @ A'[:n_out] ...
            np.add(out, r, out=out)  # ... + r(t-1)
        return self._pass(x_tm, os[:-1], hs, os[1:], h0b, shared, False)

    @staticmethod
    def _pass(x_tm, prev_tm, hs, o_tm, h0b, shared, teacher_forcing) -> StepForward:
        return StepForward(
            x=_tm(x_tm),
            prev=_tm(prev_tm),
            h=tuple(_tm(h) for h in hs),
            o=_tm(o_tm),
            h0=h0b,
            h0_shared=shared,
            teacher_forcing=teacher_forcing,
        )

    # -- backward ----------------------------------------------------------------------------------
    def backward(
        self, fp: StepForward, Y: Any, *, truncate: int | None = None, clip: float | None = None
    ) -> StepBPTT:
        """BPTT from a forward pass: the loss and the gradients of every param and of h0.

        See the module docstring for the equations; ``truncate`` and ``clip`` as in
        :meth:`loss_and_grad`.  Teacher-forced, the rows (steps) are independent: each block
        of rows goes back through the MLP and adds its share of the weight gradients while its
        arrays are in cache.
        """
        k = None if truncate is None else positive_int("truncate", truncate)
        clip = _clip_value(clip)
        y = self._sequences("Y", Y, self.n_out, like=fp.x.shape)
        o_tm = _tm(fp.o)
        T, B, n_out = o_tm.shape
        scale = 1.0 / (T * B)
        d_o = np.subtract(o_tm, _tm(y), out=np.empty_like(o_tm))  # direct dL/do, unscaled
        loss = 0.5 * scale * float(np.vdot(d_o, d_o))
        d_o *= scale
        p = self._weights()
        V, _, A = self._scaled(p)
        hs = [_tm(h) for h in fp.h]
        weights_t = [np.ascontiguousarray(p[f"W{layer}"].T) for layer in range(2, self.layers + 1)]
        weights_t.append(np.ascontiguousarray(V.T))
        W1sT = np.ascontiguousarray(p["W1"][:n_out].T)
        AsT = None if A is None else np.ascontiguousarray(A[:n_out].T)
        inputs = _with_ones(_rows(_tm(fp.prev)), _rows(_tm(fp.x)))
        h_r, do_r = [_rows(h) for h in hs], _rows(d_o)
        sums = _GradientSums(self, inputs.shape[1])
        if fp.teacher_forcing:
            d_h0 = np.empty((B, n_out), dtype=self.dtype)
            for rows in _blocks(T * B):
                blk = [h[rows] for h in h_r]
                d_a = [np.empty_like(h) for h in blk]
                _back_through_mlp(do_r[rows], _slopes(self._act, blk), weights_t, d_a)
                sums.add(inputs[rows], blk, d_a, do_r[rows])
                if rows.start < B:  # the first step's rows: dL/dh0
                    first = slice(rows.start, min(rows.stop, B))
                    np.dot(d_a[0][: first.stop - first.start], W1sT, out=d_h0[first])
            d_h0 += d_o[0]
            if AsT is not None:
                d_h0 += np.dot(d_o[0], AsT)
        else:
            d_a = [np.empty_like(h) for h in hs]
            d_h0 = self._backward_loop(d_o, _slopes(self._act, hs), weights_t, W1sT, AsT, d_a, k)
            da_r = [_rows(d) for d in d_a]
            for rows in _blocks(T * B):
                sums.add(inputs[rows], [h[rows] for h in h_r], [d[rows] for d in da_r], do_r[rows])
        return self._finish(fp, loss, sums.grads(), d_h0, clip)

    def _backward_loop(self, d_o, slopes, weights_t, W1sT, AsT, d_a, k) -> np.ndarray:
        """The time loop of free-running BPTT; completes d_o to the total dL/do, fills d_a and
        returns dL/dr(0) = dL/dh0."""
        T, B, n_out = d_o.shape
        carry = np.empty((B, n_out), dtype=self.dtype)  # dL/dr(t-1)
        acc = _accumulator(self.dtype)
        do_rows = list(d_o)
        da_rows = [list(d) for d in d_a]
        slope_rows = [None if s is None else list(s) for s in slopes]
        for t in range(T - 1, -1, -1):
            if t < T - 1 and (k is None or (t + 1) % k):
                np.add(do_rows[t], carry, out=do_rows[t])  # now the total dL/do(t)
            step_slopes = [None if s is None else s[t] for s in slope_rows]
            _back_through_mlp(do_rows[t], step_slopes, weights_t, [d[t] for d in da_rows])
            np.dot(da_rows[0][t], W1sT, out=carry)  # dL/dr(t-1) through a_1(t) ...
            np.add(carry, do_rows[t], out=carry)  # ... through the residual ...
            if AsT is not None:
                acc(do_rows[t], AsT, carry)  # ... and through the linear path
        return carry

    def _finish(self, fp: StepForward, loss, grads, d_h0, clip) -> StepBPTT:
        """The gradient norm, h0's gradient, clipping."""
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
        grads["h0"] = d_h0.sum(axis=0) if fp.h0_shared else d_h0
        factor = 1.0
        if clip is not None and norm > clip:
            factor = clip / norm
            for g in grads.values():
                g *= factor
        return StepBPTT(loss=loss, grads=grads, grad_norm=norm, clip_scale=factor, forward=fp)

    # -- the model interface -----------------------------------------------------------------------
    def bptt(
        self,
        X: Any,
        Y: Any,
        h0: Any = None,
        *,
        teacher_forcing: bool = True,
        truncate: int | None = None,
        clip: float | None = None,
    ) -> StepBPTT:
        """:meth:`forward` (teacher-forced with Y, or free) then :meth:`backward`."""
        fp = self.forward(X, h0, teacher=Y if _flag(teacher_forcing) else None)
        return self.backward(fp, Y, truncate=truncate, clip=clip)

    def loss(self, X: Any, Y: Any, h0: Any = None, *, teacher_forcing: bool = True) -> float:
        """The mean over batch and time of 1/2 ||o - y||^2 (one-step or rollout)."""
        fp = self.forward(X, h0, teacher=Y if _flag(teacher_forcing) else None)
        y = self._sequences("Y", Y, self.n_out, like=fp.x.shape)
        diff = fp.o - y
        return 0.5 * float(np.vdot(diff, diff)) / (y.shape[0] * y.shape[1])

    def predict(self, X: Any, h0: Any = None) -> np.ndarray:
        """Run free from s(0) = h0: the states s(1..T), (batch, time, n_out)."""
        return np.ascontiguousarray(self.forward(X, h0).o)


_TINY = 1e-12


def _factors(value: Any, n: int) -> np.ndarray:
    """``value`` as n positive finite numbers (float64), or an InputError naming out_scale."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("out_scale must be a list of positive numbers") from None
    if arr.shape != (n,) or not (np.isfinite(arr).all() and (arr > 0).all()):
        raise InputError(
            f"out_scale must be {n} positive finite numbers (one per state), got {value!r}"
        )
    return arr
