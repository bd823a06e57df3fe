"""Discrete maps s(n+1) = f(n, s(n); θ): recurrences without a step size."""

from __future__ import annotations

import numpy as np

from .base import DiscreteMap, Parameter, Params, jacobian_matrix


class LogisticMap(DiscreteMap):
    """Logistic map x(n+1) = r x(n) (1 - x(n)), chaotic for most r near 4.

    Equations::

        x(n+1) = r x(n) (1 - x(n))
    """

    name = "logistic_map"
    states = ("x",)
    default_s0 = (0.2,)
    parameters = (Parameter("r", 3.9, "growth rate"),)

    def next(self, n, s, p: Params) -> np.ndarray:
        return p["r"][..., None] * s * (1 - s)

    def jacobian(self, n, s, p: Params) -> np.ndarray:
        """Df = r (1 - 2x)."""
        return jacobian_matrix([[p["r"] * (1 - 2 * s[..., 0])]], s, p)


class HenonMap(DiscreteMap):
    """Henon map, with its strange attractor at the classic a = 1.4, b = 0.3.

    Equations::

        x(n+1) = 1 - a x(n)^2 + y(n)
        y(n+1) = b x(n)
    """

    name = "henon_map"
    states = ("x", "y")
    default_s0 = (0.0, 0.0)
    parameters = (
        Parameter("a", 1.4, "quadratic coefficient"),
        Parameter("b", 0.3, "contraction factor (the map's Jacobian determinant is -b)"),
    )

    def next(self, n, s, p: Params) -> np.ndarray:
        x, y = s[..., 0], s[..., 1]
        return np.stack(np.broadcast_arrays(1 - p["a"] * x**2 + y, p["b"] * x), axis=-1)

    def jacobian(self, n, s, p: Params) -> np.ndarray:
        """Df = [[-2 a x, 1], [b, 0]]."""
        return jacobian_matrix([[-2 * p["a"] * s[..., 0], 1.0], [p["b"], 0.0]], s, p)
