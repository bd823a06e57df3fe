"""Reservoir computing: step maps whose only fitted part is a linear readout, by ridge regression.

Two model kinds, both ``task = "step_map"`` and ``fitting = "closed_form"``:

- :class:`EchoStateNetwork` (``"esn"``): a random, fixed recurrent network (the reservoir) driven
  by the previous state and the step's inputs, read out linearly;
- :class:`NGRC` (``"ngrc"``): next-generation reservoir computing (Gauthier et al. 2021), a
  nonlinear vector autoregression: time-delayed states and their monomials, read out linearly.

Data layout (:mod:`dynsys.rnn.data`, step map): a sequence from s(0) has h0 = s(0) (batch, n),
X[:, j] (batch, time, n_in) the inputs of the step from j to j+1 and Y[:, j] = s(j+1).  Both
kinds have a ``context`` c (the ESN's warm-up, the NG-RC's delays): :meth:`predict` takes
h0 = (s(0), ..., s(c)) of shape (batch, c + 1, n) (or (batch, n) when c = 0) and the full X
(batch, L, n_in), and returns the free-running predictions of s(c+1), ..., s(L),
(batch, L - c, n).

Fitting solves the normal equations of ridge regression, (Phi^T Phi + ridge D) W = Phi^T T,
with one row of the feature matrix Phi per step, D the identity except a 0 for the constant
feature (the bias is not penalised), and Phi^T Phi accumulated over chunks of sequences so that
memory stays bounded: :func:`ridge_readout`, shared by both kinds.

Speed: the time loops multiply small matrices (batch x units by a sparse W, batch x inputs by
U), so they run BLAS on one thread (:func:`one_blas_thread`), and so does a whole fit of up to
SMALL_FEATURES features: on a busy two-core machine the library's threads spin-wait on each
other, which made a 200-unit fit ten times slower (measured: 0.9 s against 0.08 s), and even
Phi^T Phi of 12,800 rows by 504 features took 0.58 s on two threads against 0.14 s on one.
Larger fits keep the library's default.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from .. import checks
from ..errors import InputError, unknown_name
from .base import Model, positive_int

CHUNK_BYTES = 64 * 2**20
"""About how many bytes of feature rows a fit builds at once (at least one sequence)."""

SMALL_FEATURES = 2048
"""Up to this many features a fit runs BLAS on one thread (see the module's docstring)."""

DENSE_EIGEN_UNITS = 256
"""Up to this many units the spectral radius comes from numpy's dense eigvals, above from ARPACK."""

SPARSE_LOOP_CONNECTIVITY = 0.25
"""Up to this connectivity the reservoir's time loop multiplies by W as a sparse matrix."""

MONOMIALS_OF = {
    "all": "monomials of every linear feature: the delayed states and the step's inputs",
    "states": "monomials of the delayed states only; the inputs enter linearly",
}


def one_blas_thread(n_features: int = 0):
    """A context in which BLAS runs on one thread, unless n_features > SMALL_FEATURES."""
    if n_features > SMALL_FEATURES:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# -- the ridge solve both kinds share -----------------------------------------------------------
def ridge_readout(gram: np.ndarray, cross: np.ndarray, ridge: float) -> np.ndarray:
    """W (F, n_out) solving (Phi^T Phi + ridge D) W = Phi^T T, the constant feature unpenalised.

    ``gram`` = Phi^T Phi (F, F) and ``cross`` = Phi^T T (F, n_out), the last feature being the
    constant 1: D = diag(1, ..., 1, 0), so the bias is fitted freely and only the other
    weights shrink towards 0.  Solved by Cholesky (``assume_a="pos"``).  With ridge = 0 a
    singular (or numerically singular) Phi^T Phi is refused.
    """
    import scipy.linalg  # scipy is imported at first use, not with dynsys

    A = np.array(gram, dtype=np.float64)
    diag = np.einsum("ii->i", A)
    diag[:-1] += ridge
    try:
        with warnings.catch_warnings():
            if ridge == 0:
                warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
            return scipy.linalg.solve(A, cross, assume_a="pos", overwrite_a=True)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning):
        advice = "set a positive ridge" if ridge == 0 else f"raise ridge (now {ridge:g})"
        raise InputError(
            f"Phi^T Phi is singular (features are linearly dependent or constant); {advice}"
        ) from None


class _NormalEquations:
    """Phi^T Phi (F, F) and Phi^T T (F, n_out), summed over blocks of rows."""

    def __init__(self, n_features: int, n_out: int):
        self.gram = np.zeros((n_features, n_features))
        self.cross = np.zeros((n_features, n_out))
        self.rows = 0

    def add(self, phi: np.ndarray, targets: np.ndarray) -> None:
        """Add the rows phi (rows, F) with their targets (rows, n_out)."""
        self.gram += np.dot(phi.T, phi)
        self.cross += np.dot(phi.T, targets)
        self.rows += len(phi)

    def solve(self, ridge: float) -> np.ndarray:
        if self.rows == 0:
            raise InputError("no training rows: every sequence is shorter than the context")
        return ridge_readout(self.gram, self.cross, ridge)


# -- validation shared by both kinds ------------------------------------------------------------
def _ridge(value: Any) -> float:
    number = checks.finite_number("ridge", value)
    if number < 0:
        raise InputError(f"ridge must be >= 0 (0: plain least squares), got {value!r}")
    return number


def _flag(field_name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InputError(f"{field_name} must be true or false, got {value!r}")
    return bool(value)


def _sequences(field_name: str, value: Any, shape: tuple, names: str) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (None: any size), or an InputError."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{field_name} must be an array of numbers") from None
    ok = arr.ndim == len(shape) and all(
        s is None or a == s for a, s in zip(arr.shape, shape, strict=True)
    )
    if not ok:
        raise InputError(f"{field_name} must have shape {names}, got shape {arr.shape}")
    if 0 in arr.shape:
        raise InputError(f"{field_name} needs at least one sequence and one step, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{field_name} must be finite numbers (no nan or inf)")
    return arr


class _ClosedFormStepMap(Model):
    """What both kinds share: validation of X, Y and h0, the context, chunking."""

    task = "step_map"
    fitting = "closed_form"
    n_in: int
    n_out: int
    n_features: int

    def _inputs(self, X: Any) -> np.ndarray:
        return _sequences("X", X, (None, None, self.n_in), f"(batch, time, n_in={self.n_in})")

    def _training(self, X: Any, Y: Any, h0: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X (batch, L, n_in), Y (batch, L, n) = s(1..L) and h0 (batch, n) = s(0), checked."""
        x = self._inputs(X)
        B, L, n = x.shape[0], x.shape[1], self.n_out
        y = _sequences("Y", Y, (B, L, n), f"(batch, time, n_out) = ({B}, {L}, {n}), like X")
        s0 = _sequences("h0", h0, (B, n), f"(batch, n_out) = ({B}, {n}): the states s(0)")
        if self.context >= L:
            raise InputError(
                f"training sequences of {L} steps leave nothing to fit after the context of "
                f"{self.context} steps; use longer sequences (seq_len) or a shorter context"
            )
        return x, y, s0

    def _context_states(self, h0: Any, x: np.ndarray) -> np.ndarray:
        """h0 as (batch, c + 1, n) = s(0..c); (batch, n) is accepted when c = 0."""
        c, n = self.context, self.n_out
        B, L = x.shape[:2]
        if h0 is None:
            raise InputError(f"h0 is required: the states s(0..{c}), shape ({B}, {c + 1}, {n})")
        arr = np.asarray(h0)
        if c == 0 and arr.ndim == 2:
            arr = arr[:, None, :]
        states = _sequences("h0", arr, (B, c + 1, n), f"(batch, c + 1, n) = ({B}, {c + 1}, {n})")
        if c >= L:
            raise InputError(f"X has {L} steps; a forecast after a context of {c} needs more")
        return states

    def _chunk(self, steps: int, n_features: int) -> int:
        """Sequences per block of feature rows: about CHUNK_BYTES, at least one."""
        return max(1, CHUNK_BYTES // (8 * steps * n_features))

    def _check_fit_memory(self, batch: int, steps: int, what: str, advice: str) -> None:
        """Refuse, before allocating, a fit whose matrices and one chunk of rows do not fit."""
        F = self.n_features
        rows = min(batch, self._chunk(steps, F)) * steps
        checks.fits_in_memory(
            self._matrix_bytes() + 2 * 8 * rows * F,  # the rows and their products
            None,
            f"fitting with {what} ({F} features, {steps} steps a sequence)",
            advice,
        )

    def _matrix_bytes(self) -> int:
        raise NotImplementedError


# -- echo state network -------------------------------------------------------------------------
@dataclass(frozen=True)
class ESNSettings:
    """The echo state network's settings."""

    units: int = field(default=500, metadata={"help": "Reservoir size (hidden units)."})
    spectral_radius: float = field(
        default=0.9, metadata={"help": "Largest |eigenvalue| W is scaled to (> 0)."}
    )
    input_scaling: float = field(
        default=0.5, metadata={"help": "Input weights U are uniform on [-input_scaling, +]."}
    )
    connectivity: float = field(
        default=0.05,
        metadata={"help": "Fraction of nonzero entries of W, in (0, 1].", "maximum": 1},
    )
    leak: float = field(
        default=1.0,
        metadata={
            "help": "Leak rate in (0, 1]: h = (1 - leak) h_prev + leak tanh(a).",
            "maximum": 1,
        },
    )
    bias_scaling: float = field(
        default=0.2,
        metadata={"help": "Reservoir biases b are uniform on [-bias_scaling, +].", "minimum": 0},
    )
    ridge: float = field(
        default=1e-6,
        metadata={"help": "Ridge penalty of the readout (>= 0; bias unpenalised).", "minimum": 0},
    )
    warmup: int = field(
        default=20,
        metadata={
            "minimum": 0,
            "help": "Steps discarded at the start of each training sequence, and true states "
            "fed in to synchronise the reservoir before a forecast.",
        },
    )
    residual: bool = field(
        default=True, metadata={"help": "Output an increment: s(n+1) = s(n) + o (Euler-like)."}
    )


def reservoir_matrix(
    units: int, connectivity: float, spectral_radius: float, rng: np.random.Generator
) -> np.ndarray:
    """W (units, units): k = max(1, round(connectivity * units)) nonzeros in every row.

    The nonzeros are uniform on [-1, 1] at k distinct random columns of each row, then W is
    scaled so that its largest |eigenvalue| is ``spectral_radius``.  With a nonzero in every
    row the graph of W contains a cycle, so (almost surely) its spectral radius is not 0.  The
    eigenvalue comes from numpy (dense) up to DENSE_EIGEN_UNITS units, else from ARPACK with a
    fixed start vector, so the same generator gives the same W.
    """
    import scipy.sparse
    from scipy.sparse.linalg import eigs

    k = max(1, round(connectivity * units))
    rows = np.repeat(np.arange(units), k)
    cols = np.concatenate([rng.choice(units, size=k, replace=False) for _ in range(units)])
    values = rng.uniform(-1.0, 1.0, size=units * k)
    sparse = scipy.sparse.csr_matrix((values, (rows, cols)), shape=(units, units))
    if units <= DENSE_EIGEN_UNITS:
        with one_blas_thread():
            radius = float(np.abs(np.linalg.eigvals(sparse.toarray())).max())
    else:
        found = eigs(
            sparse,
            k=6,
            ncv=min(units, 40),
            which="LM",
            v0=np.ones(units),
            tol=1e-10,
            return_eigenvectors=False,
        )
        radius = float(np.abs(found).max())
    if not radius > 0:  # pragma: no cover - excluded by the construction above
        raise InputError(f"W of units={units} has spectral radius 0; raise connectivity")
    sparse.data *= spectral_radius / radius
    return sparse.toarray()


class EchoStateNetwork(_ClosedFormStepMap):
    """Echo state network, the lecture's first RNN with only its readout trained::

        u(j) = (y(j-1), x(j))                      y(-1) = s(0): the previous state
        a(j) = b + h(j-1) @ W + u(j) @ U           h(-1) = 0
        h(j) = (1 - leak) h(j-1) + leak tanh(a(j))
        o(j) = c + [h(j), u(j)] @ V
        y(j) = y(j-1) + o(j)   (residual)   or   o(j)

    batch-first row vectors, x(j) = X[:, j] the inputs of the step from j to j+1 and y(j) the
    prediction of s(j+1).  W (units, units) is sparse-random scaled to ``spectral_radius``, U
    (n_out + n_in, units) and b (units,) uniform; all three are random and fixed.  Only the
    readout V (units + n_out + n_in, n_out) and c (n_out,) is fitted, by ridge regression on
    teacher-forced reservoir states (y(j-1) the true s(j)): one pass over the data and a
    linear solve, the answer to "RNNs are expensive to train" (no back-propagation through
    time, no vanishing or exploding gradients).

    ``context`` = ``warmup``: the first ``warmup`` states of every training sequence are
    discarded (the reservoir forgets h(-1) = 0), and :meth:`predict` feeds the true
    s(0..warmup) through the first ``warmup`` steps before it runs free.
    """

    kind = "esn"
    summary = "Echo state network: fixed random reservoir, ridge-regression readout"
    Settings = ESNSettings

    @classmethod
    def build(cls, settings: ESNSettings, n_in: int, n_out: int, seed: int) -> EchoStateNetwork:
        return cls(
            n_in, n_out, seed=seed, **{f: getattr(settings, f) for f in cls.settings_fields()}
        )

    def __init__(
        self,
        n_in: int,
        n_out: int,
        units: int = 500,
        spectral_radius: float = 0.9,
        input_scaling: float = 0.5,
        connectivity: float = 0.05,
        leak: float = 1.0,
        bias_scaling: float = 0.2,
        ridge: float = 1e-6,
        warmup: int = 20,
        residual: bool = True,
        seed: int = 0,
    ):
        self.n_in = positive_int("n_in", n_in)
        self.n_out = positive_int("n_out", n_out)
        self.units = positive_int("units", units)
        self.spectral_radius = checks.positive_number("spectral_radius", spectral_radius)
        self.input_scaling = checks.positive_number("input_scaling", input_scaling)
        self.connectivity = checks.positive_number("connectivity", connectivity)
        if self.connectivity > 1:
            raise InputError(f"connectivity must be in (0, 1], got {connectivity!r}")
        self.leak = checks.positive_number("leak", leak)
        if self.leak > 1:
            raise InputError(f"leak must be in (0, 1], got {leak!r}")
        self.bias_scaling = checks.finite_number("bias_scaling", bias_scaling)
        if self.bias_scaling < 0:
            raise InputError(f"bias_scaling must be >= 0, got {bias_scaling!r}")
        self.ridge = _ridge(ridge)
        self.warmup = checks.integer("warmup", warmup, minimum=0)
        self.residual = _flag("residual", residual)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        checks.fits_in_memory(
            self._matrix_bytes(),
            None,
            f"a reservoir of units={self.units}",
            "use fewer units",
        )
        rng = np.random.default_rng(self.seed)
        W = reservoir_matrix(self.units, self.connectivity, self.spectral_radius, rng)
        s = self.input_scaling
        U = rng.uniform(-s, s, size=(self.n_out + self.n_in, self.units))
        b = rng.uniform(-self.bias_scaling, self.bias_scaling, size=self.units)
        self.params: dict[str, np.ndarray] = {
            "W": W,
            "U": U,
            "b": b,
            "V": np.zeros((self.n_features - 1, self.n_out)),
            "c": np.zeros(self.n_out),
        }

    @property
    def context(self) -> int:  # type: ignore[override]
        return self.warmup

    @property
    def n_features(self) -> int:
        """Columns of the readout's feature matrix: h, u = (y_prev, x) and the constant 1."""
        return self.units + self.n_out + self.n_in + 1

    def _matrix_bytes(self) -> int:
        """W and its eigen-solve or sparse copy, Phi^T Phi and its factor, U and V."""
        F = self.n_features
        return 8 * (2 * self.units**2 + 2 * F**2 + 2 * F * (self.n_out + self.n_in))

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "units": self.units,
            "spectral_radius": self.spectral_radius,
            "input_scaling": self.input_scaling,
            "connectivity": self.connectivity,
            "leak": self.leak,
            "bias_scaling": self.bias_scaling,
            "ridge": self.ridge,
            "warmup": self.warmup,
            "residual": self.residual,
            "seed": self.seed,
        }

    # -- the reservoir ---------------------------------------------------------------------------
    def _recurrent(self):
        """h @ W as a function of h (batch, units): sparse W^T @ h^T when W is sparse."""
        W = self.params["W"]
        if self.connectivity <= SPARSE_LOOP_CONNECTIVITY:
            import scipy.sparse

            Wt = scipy.sparse.csr_matrix(W.T)
            return lambda h: (Wt @ h.T).T
        W = np.ascontiguousarray(W)
        return lambda h: np.dot(h, W)

    def _update(self, a: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """h = (1 - leak) h_prev + leak tanh(a), written over a and returned."""
        np.tanh(a, out=a)
        if self.leak != 1.0:
            a *= self.leak
            a += (1.0 - self.leak) * h_prev
        return a

    def reservoir_states(self, X: Any, Y: Any, h0: Any) -> np.ndarray:
        """Teacher-forced feature rows [h(j), u(j), 1], time-major (L, batch, n_features).

        u(j) = (s(j), X[:, j]) with s(0) = h0 (batch, n) and s(j) = Y[:, j-1]; h(-1) = 0.
        """
        x, y, s0 = self._training(X, Y, h0)
        return self._teacher_forced(x, y, s0)

    def _teacher_forced(self, x: np.ndarray, y: np.ndarray, s0: np.ndarray) -> np.ndarray:
        B, L, _ = x.shape
        n, H = self.n_out, self.units
        phi = np.empty((L, B, self.n_features))
        u = phi[:, :, H:-1]
        u[0, :, :n] = s0
        u[1:, :, :n] = y[:, :-1].swapaxes(0, 1)
        u[:, :, n:] = x.swapaxes(0, 1)
        phi[:, :, -1] = 1.0
        U, b = self.params["U"], self.params["b"]
        recurrent = self._recurrent()
        h_prev = np.zeros((B, H))
        with one_blas_thread():
            for j in range(L):
                a = phi[j, :, :H]  # h(j) is computed in place of a(j)
                a[...] = np.dot(u[j], U)
                a += b
                a += recurrent(h_prev)
                h_prev = self._update(a, h_prev)
        return phi

    def fit_closed_form(self, X: Any, Y: Any, h0: Any) -> EchoStateNetwork:
        """Fit the readout V, c by ridge regression on teacher-forced reservoir states.

        X (batch, L, n_in), Y (batch, L, n) = s(1..L), h0 (batch, n) = s(0).  All sequences run
        through the reservoir together (a time loop over steps), in chunks of sequences;
        the first ``warmup`` rows of each are dropped, and (Phi^T Phi + ridge D) [V; c] =
        Phi^T T is solved with targets T = s(j+1) - s(j) (residual) or s(j+1), the bias c
        unpenalised (:func:`ridge_readout`).
        """
        x, y, s0 = self._training(X, Y, h0)
        L, F, w = x.shape[1], self.n_features, self.warmup
        self._check_fit_memory(
            x.shape[0], L, f"units={self.units}", "use fewer units or shorter sequences"
        )
        normal = _NormalEquations(F, self.n_out)
        step = self._chunk(L, F)
        with one_blas_thread(F):
            for start in range(0, x.shape[0], step):
                part = slice(start, start + step)
                phi = self._teacher_forced(x[part], y[part], s0[part])
                target = y[part].swapaxes(0, 1)[w:]
                if self.residual:
                    target = target - phi[w:, :, self.units : self.units + self.n_out]
                normal.add(phi[w:].reshape(-1, F), target.reshape(-1, self.n_out))
            solution = normal.solve(self.ridge)
        self.params["V"][...] = solution[:-1]
        self.params["c"][...] = solution[-1]
        return self

    def predict(self, X: Any, h0: Any = None) -> np.ndarray:
        """Forecast s(c+1..L), (batch, L - c, n), from h0 = s(0..c) (batch, c + 1, n), c = warmup.

        The true s(0..c) drive the first c steps; from step c on the network feeds back its
        own predictions.  X (batch, L, n_in) holds every step's inputs.
        """
        x = self._inputs(X)
        states = self._context_states(h0, x)
        self._require_fitted()
        B, L, _ = x.shape
        n, H, c = self.n_out, self.units, self.context
        p = self.params
        U, b, V = p["U"], p["b"], p["V"]
        recurrent = self._recurrent()
        out = np.empty((B, L - c, n))
        h = np.zeros((B, H))
        u = np.empty((B, n + self.n_in))
        u[:, :n] = states[:, 0]
        with one_blas_thread():
            for j in range(L):
                u[:, n:] = x[:, j]
                a = np.dot(u, U)
                a += b
                a += recurrent(h)
                h = self._update(a, h)
                if j < c:
                    u[:, :n] = states[:, j + 1]
                    continue
                o = np.dot(h, V[:H]) + np.dot(u, V[H:]) + p["c"]
                if self.residual:
                    o += u[:, :n]
                out[:, j - c] = o
                u[:, :n] = o
        return out

    def _require_fitted(self) -> None:
        if not (np.any(self.params["V"]) or np.any(self.params["c"])):
            raise InputError("the readout is not fitted: call fit_closed_form(X, Y, h0) first")


# -- next-generation reservoir computing ---------------------------------------------------------
@dataclass(frozen=True)
class NGRCSettings:
    """The next-generation reservoir computer's settings."""

    delays: int = field(
        default=2, metadata={"help": "k: states s(n), s(n - stride), ..., k of them."}
    )
    stride: int = field(default=1, metadata={"help": "Steps between two delayed states."})
    degree: int = field(
        default=2, metadata={"help": "Highest degree of the monomials (1: a linear model)."}
    )
    ridge: float = field(
        default=1e-6,
        metadata={"help": "Ridge penalty of W_out (>= 0; constant unpenalised).", "minimum": 0},
    )
    monomials_of: str = field(
        default="all",
        metadata={"help": "Which linear features enter the monomials.", "choices": MONOMIALS_OF},
    )


def monomial_indices(n_linear: int, degree: int) -> list[np.ndarray]:
    """For p = 2..degree, the (m_p, p) column indices of every unique monomial of degree p.

    In the order of :func:`itertools.combinations_with_replacement`: (0, 0), (0, 1), ...
    """
    return [
        np.array(list(itertools.combinations_with_replacement(range(n_linear), p)), dtype=np.intp)
        for p in range(2, degree + 1)
    ]


def polynomial_features(lin: np.ndarray, monomials: list[np.ndarray], n_mono: int) -> np.ndarray:
    """[lin, monomials of lin[..., :n_mono], 1]: (..., d) -> (..., n_features).

    ``monomials`` as from :func:`monomial_indices` (n_mono, degree).
    """
    width = lin.shape[-1] + sum(len(m) for m in monomials) + 1
    out = np.empty((*lin.shape[:-1], width))
    d = lin.shape[-1]
    out[..., :d] = lin
    base = lin[..., :n_mono]
    start = d
    for idx in monomials:
        block = out[..., start : start + len(idx)]
        np.take(base, idx[:, 0], axis=-1, out=block)
        for q in range(1, idx.shape[1]):
            block *= np.take(base, idx[:, q], axis=-1)
        start += len(idx)
    out[..., -1] = 1.0
    return out


class NGRC(_ClosedFormStepMap):
    """Next-generation reservoir computing: nonlinear vector autoregression, a ridge readout.

    Gauthier, Bollt, Griffith and Barbosa, Nat. Commun. 12, 5564 (2021).  At step n (the step
    from n to n+1, inputs x(n+1) = X[:, n]) the feature vector is

        lin(n)  = (s(n), s(n - stride), ..., s(n - (k-1) stride), x(n+1))       d values
        f(n)    = [lin(n), every unique monomial of degree 2..degree of lin(n), 1]
        s(n+1)  = s(n) + f(n) @ W_out                                         (increment form)

    (``monomials_of="states"``: monomials of the delayed states only).  W_out (n_features, n)
    has its rows in the order of f: the linear block first (W_out[:n] multiplies s(n)), the
    monomials by degree then in :func:`itertools.combinations_with_replacement` order, the
    constant last.  It is fitted by ridge regression on s(n+1) - s(n), the constant
    unpenalised (:func:`ridge_readout`).  Nothing is random.  ``context`` = (k - 1) stride.
    """

    kind = "ngrc"
    summary = "Next-generation reservoir computing: delayed states and their monomials, ridge"
    Settings = NGRCSettings

    @classmethod
    def build(cls, settings: NGRCSettings, n_in: int, n_out: int, seed: int) -> NGRC:
        return cls(n_in, n_out, **{f: getattr(settings, f) for f in cls.settings_fields()})

    def __init__(
        self,
        n_in: int,
        n_out: int,
        delays: int = 2,
        stride: int = 1,
        degree: int = 2,
        ridge: float = 1e-6,
        monomials_of: str = "all",
    ):
        self.n_in = positive_int("n_in", n_in)
        self.n_out = positive_int("n_out", n_out)
        self.delays = positive_int("delays", delays)
        self.stride = positive_int("stride", stride)
        self.degree = positive_int("degree", degree)
        self.ridge = _ridge(ridge)
        if monomials_of not in MONOMIALS_OF:
            raise unknown_name("monomials_of", str(monomials_of), MONOMIALS_OF)
        self.monomials_of = monomials_of
        self.n_linear = self.delays * self.n_out + self.n_in
        self.n_mono = self.n_linear if monomials_of == "all" else self.delays * self.n_out
        F = (
            self.n_linear
            + 1
            + sum(math.comb(self.n_mono + p - 1, p) for p in range(2, self.degree + 1))
        )
        self.n_features = F
        checks.fits_in_memory(
            self._matrix_bytes(),
            None,
            f"a feature vector of degree={self.degree} over {self.n_mono} values ({F} features)",
            "use a lower degree or fewer delays",
        )
        self._monomials = monomial_indices(self.n_mono, self.degree)
        self.params: dict[str, np.ndarray] = {"W_out": np.zeros((F, self.n_out))}

    @property
    def context(self) -> int:  # type: ignore[override]
        return (self.delays - 1) * self.stride

    def _matrix_bytes(self) -> int:
        """Phi^T Phi and its factor, Phi^T T and W_out."""
        F = self.n_features
        return 8 * (2 * F**2 + 2 * F * self.n_out)

    def config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "delays": self.delays,
            "stride": self.stride,
            "degree": self.degree,
            "ridge": self.ridge,
            "monomials_of": self.monomials_of,
        }

    def features(self, lin: np.ndarray) -> np.ndarray:
        """f = [lin, monomials, 1] for linear features lin (..., n_linear)."""
        return polynomial_features(lin, self._monomials, self.n_mono)

    def _linear(self, S: np.ndarray, x: np.ndarray, steps: slice) -> np.ndarray:
        """lin(j) for j in ``steps``: S (batch, L+1, n) holds s(0..L), x (batch, L, n_in)."""
        j = np.arange(S.shape[1])[steps]
        parts = [S[:, j - i * self.stride] for i in range(self.delays)]
        return np.concatenate([*parts, x[:, j]], axis=-1)

    def fit_closed_form(self, X: Any, Y: Any, h0: Any) -> NGRC:
        """Fit W_out by ridge regression of s(n+1) - s(n) on f(n), the constant unpenalised.

        X (batch, L, n_in), Y (batch, L, n) = s(1..L), h0 (batch, n) = s(0); every step
        n = c..L-1 of every sequence is one row (c = (k - 1) stride: the first delays).
        """
        x, y, s0 = self._training(X, Y, h0)
        L, F, c = x.shape[1], self.n_features, self.context
        self._check_fit_memory(
            x.shape[0],
            L - c,
            f"degree={self.degree}",
            "use a lower degree, fewer delays or shorter sequences",
        )
        normal = _NormalEquations(F, self.n_out)
        step = self._chunk(L - c, F)
        with one_blas_thread(F):
            for start in range(0, x.shape[0], step):
                part = slice(start, start + step)
                S = np.concatenate([s0[part, None], y[part]], axis=1)  # s(0..L)
                phi = self.features(self._linear(S, x[part], slice(c, L)))
                target = S[:, c + 1 :] - S[:, c:L]
                normal.add(phi.reshape(-1, F), target.reshape(-1, self.n_out))
            self.params["W_out"][...] = normal.solve(self.ridge)
        return self

    def predict(self, X: Any, h0: Any = None) -> np.ndarray:
        """Forecast s(c+1..L), (batch, L - c, n), from h0 = s(0..c) (batch, c + 1, n).

        X (batch, L, n_in) holds every step's inputs; from s(c) on the model feeds back its own
        predictions.
        """
        x = self._inputs(X)
        states = self._context_states(h0, x)
        W = self.params["W_out"]
        if not np.any(W):
            raise InputError("W_out is not fitted: call fit_closed_form(X, Y, h0) first")
        B, L, _ = x.shape
        c, n = self.context, self.n_out
        S = np.empty((B, L + 1, n))
        S[:, : c + 1] = states
        lags = [i * self.stride for i in range(self.delays)]
        lin = np.empty((B, self.n_linear))
        with one_blas_thread():
            for j in range(c, L):
                for i, lag in enumerate(lags):
                    lin[:, i * n : (i + 1) * n] = S[:, j - lag]
                lin[:, self.delays * n :] = x[:, j]
                S[:, j + 1] = S[:, j] + np.dot(self.features(lin), W)
        return S[:, c + 1 :]
