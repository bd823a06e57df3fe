"""Affine recurrences solved by an associative scan: all T states in about 2 log2 T levels.

The recurrence s(k+1) = A(k) s(k) + b(k), k = 0..T-1, from s(0) = s0, composes affine maps:
applying (A1, b1) then (A2, b2) is the map (A2 A1, A2 b1 + b2), an associative product.  So
the states are prefix products, and a scan computes them with whole-array operations whose
number grows like log T, not T (the trick behind S4, LRU and Mamba).

This scan is the work-efficient odd-even reduction (Blelloch's scheme): the pairs (2i-1, 2i)
are composed at once, which halves the recurrence; it is solved the same way, and the odd
states follow from the even ones in one more operation.  Each level is a few array operations
on half as many elements as the one before, so the whole scan does about 2T matrix products and
T matrix-vector products (the sequential loop does T matrix-vector products) in 2 ceil(log2 T)
dependent levels.  On a GPU each level is one kernel over all its elements: the depth, not the
work, sets the time.  Here every level is a numpy call over whole arrays; nothing loops over
time in Python.

Shapes are time-major, like the time loop's: ``A`` is (T, *batch, n, n), or (1, *batch, n, n)
for a matrix shared by every step (then its powers are computed once per level, not per
element); with ``diagonal=True`` it holds the diagonals, (T or 1, *batch, n).  ``b`` is
(T, *batch, n), ``s0`` (*batch, n) and the result s(1..T) is (T, *batch, n).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError


def affine_scan(
    A: Any,
    b: Any,
    s0: Any,
    *,
    diagonal: bool = False,
    reverse: bool = False,
    dtype: Any = None,
) -> np.ndarray:
    """The states s(1), ..., s(T) of s(k+1) = A(k) s(k) + b(k) from s(0) = s0: (T, *batch, n).

    ``reverse=True`` solves the backward recurrence g(k) = A(k) g(k+1) + b(k), k = T-1..0,
    from g(T) = s0 and returns g(0), ..., g(T-1): the adjoint pass of back-propagation through
    time.  ``dtype`` is the type the levels compute in (default: the inputs'); the result has
    the inputs' type.  :data:`EXTENDED` (the x87 80-bit type where numpy has it) keeps the
    products' rounding below the loop's own over long runs.  See the module docstring for the
    shapes; a matrix of the wrong shape is an InputError naming the shape expected.
    """
    A, b, s0 = _checked(A, b, s0, diagonal)
    if dtype is not None and np.dtype(dtype) != b.dtype:
        out = affine_scan(
            A.astype(dtype), b.astype(dtype), s0.astype(dtype), diagonal=diagonal, reverse=reverse
        )
        return out.astype(b.dtype)
    if reverse:
        return affine_scan(A[::-1], b[::-1], s0, diagonal=diagonal)[::-1]
    mv, mm = _products(diagonal)
    first = mv(A[0], s0) + b[0]  # s(1)
    if len(b) == 1:
        return first[None]
    rest = b[1:]
    return _prefix(A[1:] if len(A) > 1 else A, np.concatenate((first[None], rest)), mv, mm)


EXTENDED = np.longdouble
"""The widest float numpy has here: 80-bit extended precision on x86 (64-bit significand),
plain double where the platform has nothing wider (then a scan in it is a double scan)."""


def _prefix(A: np.ndarray, x: np.ndarray, mv, mm) -> np.ndarray:
    """x(0) = x[0] and x(j) = A[j-1] x(j-1) + x[j], j = 1..m-1; A is (m-1, ...) or shared (1, ...).

    The even states x(2i) = (A[2i-1] A[2i-2]) x(2i-2) + (A[2i-1] x[2i-1] + x[2i]) form a
    recurrence half as long, solved the same way; then x(2i+1) = A[2i] x(2i) + x[2i+1].
    """
    m = len(x)
    if m == 1:
        return x
    shared = len(A) == 1 and m > 2
    half, pairs = m // 2, (m - 1) // 2  # odd states; composed pairs
    before = A if shared else A[0::2]  # A[2i]: the step into each odd state
    after = A if shared else A[1::2]  # A[2i+1]: the step into each even state after the first
    if pairs:
        A2 = mm(after, before if shared else before[:pairs])
        x2 = mv(after, x[1 : 2 * pairs : 2]) + x[2::2]
        evens = _prefix(A2, np.concatenate((x[:1], x2)), mv, mm)
    else:
        evens = x[:1]
    odds = mv(before, evens[:half]) + x[1::2]
    return _interleave(evens, odds)


def _interleave(evens: np.ndarray, odds: np.ndarray) -> np.ndarray:
    """(e0, o0, e1, o1, ...) along time, ending with the last even when there is one more."""
    n = len(odds)
    both = np.stack((evens[:n], odds), axis=1).reshape(2 * n, *odds.shape[1:])
    return both if len(evens) == n else np.concatenate((both, evens[n:]))


def _products(diagonal: bool):
    """(matrix-vector, matrix-matrix) products over leading axes."""
    if diagonal:
        return np.multiply, np.multiply
    return _matvec, np.matmul


def _matvec(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A x over leading axes (einsum measured 3x faster than matmul for small matrices)."""
    return np.einsum("...ij,...j->...i", A, x)


def _checked(A: Any, b: Any, s0: Any, diagonal: bool) -> tuple[np.ndarray, ...]:
    b = np.asarray(b, dtype=np.result_type(b, np.float64))
    if b.ndim < 2 or b.shape[0] == 0:
        raise InputError(f"b must be (time, *batch, n) with at least one step, got {b.shape}")
    T, n = b.shape[0], b.shape[-1]
    A = np.asarray(A, dtype=np.result_type(A, b.dtype))
    s0 = np.asarray(s0, dtype=b.dtype)
    tail = (n,) if diagonal else (n, n)
    form = "(time or 1, *batch, n)" if diagonal else "(time or 1, *batch, n, n)"
    if (
        A.ndim != b.ndim + (not diagonal)
        or A.shape[-len(tail) :] != tail
        or A.shape[0]
        not in (
            1,
            T,
        )
    ):
        raise InputError(
            f"A must be {form} with time = {T} and n = {n} to match b {b.shape}, got {A.shape}"
        )
    batch = np.broadcast_shapes(A.shape[1 : A.ndim - len(tail)], b.shape[1:-1], s0.shape[:-1])
    if s0.shape[-1:] != (n,):
        raise InputError(f"s0 must be (*batch, {n}), got {s0.shape}")
    A = np.broadcast_to(A, (A.shape[0], *batch, *tail))
    b = np.broadcast_to(b, (T, *batch, n))
    return A, b, np.broadcast_to(s0, (*batch, n))


def sequential(
    A: Any, b: Any, s0: Any, *, diagonal: bool = False, reverse: bool = False
) -> np.ndarray:
    """The same states as :func:`affine_scan` by the time loop, one step after another."""
    A, b, s0 = _checked(A, b, s0, diagonal)
    mv, _ = _products(diagonal)
    T = len(b)
    out = np.empty(b.shape, dtype=np.result_type(A, b, s0))
    s = s0
    for k in range(T - 1, -1, -1) if reverse else range(T):
        s = mv(A[k if len(A) > 1 else 0], s) + b[k]
        out[k] = s
    return out
