"""Stiff test systems: Robertson's chemical kinetics and the Prothero-Robinson equation."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Parameter, Params, Ranges, System


class Robertson(System):
    """Robertson's chemical kinetics, the classic stiff system of three reactions.

    Equations::

        dy1/dt = -k1 y1 + k3 y2 y3
        dy2/dt = k1 y1 - k3 y2 y3 - k2 y2^2
        dy3/dt = k2 y2^2

    The reactions A -> B (rate k1), B + B -> C + B (k2) and B + C -> A + C (k3) conserve mass:
    y1 + y2 + y3 is constant (the columns of the Jacobian sum to zero), and every method that
    is linear in the vector field (every Runge-Kutta method) keeps it to rounding.  The
    classic run goes from (1, 0, 0) to t = 1e5 or further (to 1e11 in tests of stiff solvers,
    with y2 plotted times 1e4).  It is stiff: y2 peaks at 3.6e-5 near t = 5e-3 and then
    varies slowly, while the Jacobian's eigenvalues lie between 0 (one is always 0, from the
    conservation) and about -1e4 along the solution (-0.04 at the start, -2.2e3 once y2 has
    settled, -1e4 = -k3 as y3 -> 1), so an explicit method needs steps below about 1e-3, then
    2e-4, however smooth the solution is.
    Typical initial states: y1 in [0.9, 1], y2 in [0, 1e-5], y3 in [0, 0.1], near the start
    of the reaction.
    """

    name = "robertson"
    states = ("y1", "y2", "y3")
    default_s0 = (1.0, 0.0, 0.0)
    typical_s0: ClassVar[Ranges] = {"y1": (0.9, 1.0), "y2": (0.0, 1e-5), "y3": (0.0, 0.1)}
    stiff = True  # explicit steppers need steps far below the solution's own time scale
    parameters = (
        Parameter("k1", 0.04, "rate of A -> B", "positive"),
        Parameter("k2", 3e7, "rate of B + B -> C + B", "positive"),
        Parameter("k3", 1e4, "rate of B + C -> A + C", "positive"),
    )

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        y1, y2, y3 = s
        a = p.k1 * y1
        b = p.k3 * y2 * y3
        c = p.k2 * y2 * y2
        return b - a, a - b - c, c

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[-k1, k3 y3, k3 y2], [k1, -k3 y3 - 2 k2 y2, -k3 y2], [0, 2 k2 y2, 0]]."""
        _y1, y2, y3 = s
        return (
            (-p.k1, p.k3 * y3, p.k3 * y2),
            (p.k1, -p.k3 * y3 - 2 * p.k2 * y2, -p.k3 * y2),
            (0.0, 2 * p.k2 * y2, 0.0),
        )


class ProtheroRobinson(System):
    """The stiff test equation of Prothero and Robinson, y' = -stiffness (y - cos t) - sin t.

    Equations::

        dy/dt = -stiffness (y - cos t) - sin t

    Exact solution y(t) = cos t + (y0 - cos t0) exp(-stiffness (t - t0)).  With y0 = cos t0
    the solution is the smooth cos t while the equation is stiff (its eigenvalue is
    -stiffness): a method with a step h >> 1/stiffness follows cos t only when it is
    stable there, and, unless it is stiffly accurate, its error shrinks at a lower order
    than its classical one (order reduction), which makes this the classic test of
    implicit methods.
    Typical initial states: y in [0, 2], around cos 0 = 1.
    """

    name = "prothero_robinson"
    affine = True  # g = -stiffness (y - cos t) - sin t
    states = ("y",)
    default_s0 = (1.0,)
    typical_s0: ClassVar[Ranges] = {"y": (0.0, 2.0)}
    stiff = True  # explicit steppers need steps far below the solution's own time scale
    parameters = (Parameter("stiffness", 1e4, "rate of attraction to cos t", "positive"),)

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        (y,) = s
        return (-p.stiffness * (y - np.cos(t)) - np.sin(t),)

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[-stiffness]]."""
        return ((-p.stiffness,),)

    def exact(self, t, s0, t0: float, p: Params) -> np.ndarray:
        """y(t) on the times ``t`` (time,) from y(t0) = s0 (..., 1): shape (..., time, 1)."""
        t = np.asarray(t, dtype=np.float64)
        stiffness = p["stiffness"][..., None]
        offset = np.asarray(s0, dtype=np.float64)[..., 0, None] - np.cos(t0)
        return (np.cos(t) + offset * np.exp(-stiffness * (t - t0)))[..., None]
