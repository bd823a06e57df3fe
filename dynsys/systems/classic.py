"""Classic continuous systems: decay, pendulum, Van der Pol, Duffing, Lotka-Volterra, Lorenz."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Parameter, Params, Ranges, System


class ExponentialDecay(System):
    """Exponential decay ds/dt = -rate s, the simplest test of a stepper.

    Equations::

        ds/dt = -rate s

    Exact solution s(t) = s0 exp(-rate (t - t0)).
    Typical initial states: s in [-2, 2].
    """

    name = "exponential_decay"
    affine = True  # g = -rate s
    states = ("s",)
    default_s0 = (1.0,)
    typical_s0: ClassVar[Ranges] = {"s": (-2.0, 2.0)}
    parameters = (Parameter("rate", 1.0, "decay rate (negative for growth)"),)

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        (y,) = s
        return (-p.rate * y,)

    def exact(self, t, s0, t0: float, p: Params) -> np.ndarray:
        tau = np.asarray(t, dtype=np.float64) - t0
        rate = p["rate"][..., None]
        return (np.asarray(s0)[..., 0, None] * np.exp(-rate * tau))[..., None]

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[-rate]]."""
        return ((-p.rate,),)


class Pendulum(System):
    """Nonlinear pendulum, optionally damped: theta'' = -(g/length) sin(theta) - damping theta'.

    Equations::

        dtheta/dt = omega
        domega/dt = -(g/length) sin(theta) - damping omega

    Energy per unit mass and squared length: E = omega^2 / 2 + (g/length) (1 - cos(theta)).
    Typical initial states: theta in [-pi, pi], omega in [-8, 8], swinging and rotating (at the
    defaults the separatrix E = 2 g/length crosses theta = 0 at |omega| = 2 sqrt(g/length) = 6.3).
    """

    name = "pendulum"
    states = ("theta", "omega")
    default_s0 = (1.0, 0.0)
    typical_s0: ClassVar[Ranges] = {"theta": (-np.pi, np.pi), "omega": (-8.0, 8.0)}
    angles = ("theta",)
    parameters = (
        Parameter("g", 9.81, "gravitational acceleration", "positive"),
        Parameter("length", 1.0, "length of the rod", "positive"),
        Parameter("damping", 0.0, "damping rate", "nonnegative"),
    )

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        theta, omega = s
        return omega, -p.g / p.length * np.sin(theta) - p.damping * omega

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[0, 1], [-(g/length) cos(theta), -damping]]."""
        theta, _omega = s
        return (0.0, 1.0), (-p.g / p.length * np.cos(theta), -p.damping)

    def energy(self, s, p: Params) -> np.ndarray:
        return 0.5 * s[..., 1] ** 2 + p["g"] / p["length"] * (1 - np.cos(s[..., 0]))


class VanDerPol(System):
    """Van der Pol oscillator x'' - mu (1 - x^2) x' + x = 0, with a stable limit cycle for mu > 0.

    Equations::

        dx/dt = y
        dy/dt = mu (1 - x^2) y - x

    Typical initial states: x, y in [-3, 3], inside and outside the limit cycle (|x| < 2.1,
    |y| < 2.7 at mu = 1).
    """

    name = "van_der_pol"
    states = ("x", "y")
    default_s0 = (2.0, 0.0)
    typical_s0: ClassVar[Ranges] = {"x": (-3.0, 3.0), "y": (-3.0, 3.0)}
    parameters = (Parameter("mu", 1.0, "nonlinear damping strength"),)

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        pos, vel = s
        return vel, p.mu * (1 - pos**2) * vel - pos

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[0, 1], [-2 mu x y - 1, mu (1 - x^2)]]."""
        pos, vel = s
        return (0.0, 1.0), (-2 * p.mu * pos * vel - 1, p.mu * (1 - pos**2))


class Duffing(System):
    """Driven Duffing oscillator s'' + delta s' + alpha s + beta s^3 = gamma cos(omega t).

    Equations::

        ds/dt = v
        dv/dt = x - delta v - alpha s - beta s^3,   with the drive x(t) = gamma cos(omega t)

    The defaults are the classic chaotic double well.  Energy (conserved when delta = gamma = 0):
    E = v^2/2 + alpha s^2/2 + beta s^4/4.
    Typical initial states: s, v in [-1, 1], reaching both wells (s = -1, 1 at the defaults).
    """

    name = "duffing"
    states = ("s", "v")
    default_s0 = (1.0, 0.0)
    typical_s0: ClassVar[Ranges] = {"s": (-1.0, 1.0), "v": (-1.0, 1.0)}
    parameters = (
        Parameter("delta", 0.2, "damping", "nonnegative"),
        Parameter("alpha", -1.0, "linear stiffness"),
        Parameter("beta", 1.0, "cubic stiffness"),
        Parameter("gamma", 0.3, "forcing amplitude"),
        Parameter("omega", 1.2, "forcing angular frequency", "nonnegative"),
    )

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        pos, vel = s
        return vel, x - p.delta * vel - p.alpha * pos - p.beta * (pos * pos * pos)

    @staticmethod
    def forcing(t, p: Params):
        """x(t) = gamma cos(omega t)."""
        return p.gamma * np.cos(p.omega * t)

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[0, 1], [-alpha - 3 beta s^2, -delta]]."""
        pos, _vel = s
        return (0.0, 1.0), (-p.alpha - 3 * p.beta * pos**2, -p.delta)

    def energy(self, s, p: Params) -> np.ndarray:
        pos, vel = s[..., 0], s[..., 1]
        return 0.5 * vel**2 + 0.5 * p["alpha"] * pos**2 + 0.25 * p["beta"] * pos**4


class LotkaVolterra(System):
    """Lotka-Volterra predator-prey model.

    Equations::

        dx/dt = alpha x - beta x y
        dy/dt = delta x y - gamma y

    x is the prey, y the predator.  The conserved quantity, returned as the energy, is
    V = delta x - gamma ln x + beta y - alpha ln y.
    Typical initial states: x in [1, 5], y in [0.5, 3], positive populations around the
    equilibrium (gamma/delta, alpha/beta) = (3, 1.5) of the defaults.
    """

    name = "lotka_volterra"
    states = ("x", "y")
    default_s0 = (10.0, 5.0)
    typical_s0: ClassVar[Ranges] = {"x": (1.0, 5.0), "y": (0.5, 3.0)}
    parameters = (
        Parameter("alpha", 1.5, "prey growth rate", "positive"),
        Parameter("beta", 1.0, "predation rate", "positive"),
        Parameter("gamma", 3.0, "predator death rate", "positive"),
        Parameter("delta", 1.0, "predator growth per prey eaten", "positive"),
    )

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        prey, pred = s
        return p.alpha * prey - p.beta * prey * pred, p.delta * prey * pred - p.gamma * pred

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[alpha - beta y, -beta x], [delta y, delta x - gamma]]."""
        prey, pred = s
        return (
            (p.alpha - p.beta * pred, -p.beta * prey),
            (p.delta * pred, p.delta * prey - p.gamma),
        )

    def energy(self, s, p: Params) -> np.ndarray:
        prey, pred = s[..., 0], s[..., 1]
        return (
            p["delta"] * prey
            - p["gamma"] * np.log(prey)
            + p["beta"] * pred
            - p["alpha"] * np.log(pred)
        )


class Lorenz(System):
    """Lorenz system, chaotic at the classic sigma = 10, rho = 28, beta = 8/3.

    Equations::

        dx/dt = sigma (y - x)
        dy/dt = x (rho - z) - y
        dz/dt = x y - beta z

    Typical initial states: x, y in [-15, 15], z in [10, 40], each run for a transient of 10
    time units first, so that data starts on the attractor.
    """

    name = "lorenz"
    states = ("x", "y", "z")
    default_s0 = (1.0, 1.0, 1.0)
    typical_s0: ClassVar[Ranges] = {"x": (-15.0, 15.0), "y": (-15.0, 15.0), "z": (10.0, 40.0)}
    transient = 10.0
    parameters = (
        Parameter("sigma", 10.0, "Prandtl number"),
        Parameter("rho", 28.0, "Rayleigh number"),
        Parameter("beta", 8.0 / 3.0, "geometric factor"),
    )

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        a, b, c = s
        return p.sigma * (b - a), a * (p.rho - c) - b, a * b - p.beta * c

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[-sigma, sigma, 0], [rho - z, -1, -x], [y, x, -beta]]."""
        a, b, c = s
        return (-p.sigma, p.sigma, 0.0), (p.rho - c, -1.0, -a), (b, a, -p.beta)
