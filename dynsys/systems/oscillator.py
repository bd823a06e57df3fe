"""The founding example: the driven, damped spring-mass oscillator, with its exact solution."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Parameter, Params, Ranges, System


class DrivenOscillator(System):
    """Driven, damped spring-mass oscillator m s'' = -k s - c s' + A cos(omega t).

    Equations::

        ds/dt = v
        dv/dt = x/m - (k/m) s - (c/m) v,   with the drive x(t) = A cos(omega t)

    The defaults (m = k = 1, A = 0.5, c = 0, omega = 1) are the lecture's m s'' = -k s + A cos(t),
    driven exactly at resonance, where the amplitude grows like t sin t.  The exact solution
    covers every case: undamped (off and at resonance, by one formula), under-, critically and
    over-damped.  The energy is E = m v^2 / 2 + k s^2 / 2.
    Typical initial states: s, v in [-1, 1].
    """

    name = "driven_oscillator"
    affine = True  # g = M s + (0, x/m)
    states = ("s", "v")
    default_s0 = (1.0, 0.0)
    typical_s0: ClassVar[Ranges] = {"s": (-1.0, 1.0), "v": (-1.0, 1.0)}
    parameters = (
        Parameter("m", 1.0, "mass", "positive"),
        Parameter("k", 1.0, "spring constant", "positive"),
        Parameter("A", 0.5, "forcing amplitude"),
        Parameter("c", 0.0, "damping coefficient", "nonnegative"),
        Parameter("omega", 1.0, "forcing angular frequency", "nonnegative"),
    )

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        """g(t, s, x) = (v, x/m - (k/m) s - (c/m) v)."""
        pos, vel = s
        return vel, x / p.m - p.k / p.m * pos - p.c / p.m * vel

    @staticmethod
    def forcing(t, p: Params):
        """x(t) = A cos(omega t)."""
        return p.A * np.cos(p.omega * t)

    @staticmethod
    def jacobian_field(t, s, p: Params) -> tuple:
        """dg/ds = [[0, 1], [-k/m, -c/m]]."""
        return (0.0, 1.0), (-p.k / p.m, -p.c / p.m)

    def energy(self, s, p: Params) -> np.ndarray:
        """E = m v^2 / 2 + k s^2 / 2."""
        return 0.5 * p["m"] * s[..., 1] ** 2 + 0.5 * p["k"] * s[..., 0] ** 2

    def exact(self, t, s0, t0: float, p: Params) -> np.ndarray:
        """The exact solution on the times ``t`` (time,) from s(t0) = s0 (..., 2): (..., time, 2).

        s = s_p + s_h.  The particular solution s_p is, for c = 0,
        (A/m) (cos(omega t) - cos(w0 t)) / (w0^2 - omega^2), written with sinc so that it is
        exact at resonance too (where it is A t sin(w0 t) / (2 m w0)); for c > 0 it is
        Re(Z exp(i omega t)) with Z = A / (k - m omega^2 + i c omega).  The homogeneous part
        exp(-gamma tau) (a C(tau) + b S(tau)), tau = t - t0, gamma = c/(2m), with C, S the
        cosine and sine (cosh and sinh when over-damped) of w_d^2 = k/m - gamma^2 and
        S(tau) = sin(w_d tau)/w_d, matches s(t0) and v(t0).
        """
        t = np.asarray(t, dtype=np.float64)
        s0 = np.asarray(s0, dtype=np.float64)
        m, k, A, c, omega = (p[name][..., None] for name in ("m", "k", "A", "c", "omega"))
        with np.errstate(all="ignore"):
            sp, vp = _particular(t, m, k, A, c, omega)
            sp0, vp0 = _particular(np.float64(t0), m, k, A, c, omega)
            y0 = s0[..., 0, None] - sp0
            dy0 = s0[..., 1, None] - vp0
            gamma = c / (2 * m)
            wd2 = k / m - gamma**2
            ec, es = _damped_cos_sin(t - t0, gamma, wd2)
            b = dy0 + gamma * y0
            pos = sp + y0 * ec + b * es
            vel = vp + dy0 * ec - (gamma * b + wd2 * y0) * es
        return np.stack(np.broadcast_arrays(pos, vel), axis=-1)


def _sin_over(a, t):
    """sin(a t) / a, equal to t at a = 0."""
    return t * np.sinc(a * t / np.pi)


def _particular(t, m, k, A, c, omega):
    """A particular solution s_p(t) and its derivative, exact for every (k, c, omega)."""
    w0 = np.sqrt(k / m)
    sigma, delta = (w0 + omega) / 2, (w0 - omega) / 2
    # c = 0: s_p = (A/m) (cos(omega t) - cos(w0 t)) / (w0^2 - omega^2)
    #            = (A / 2m) [sin(sigma t)/sigma] [sin(delta t)/delta]
    undamped_s = A / (2 * m) * _sin_over(sigma, t) * _sin_over(delta, t)
    undamped_v = (
        A
        / (2 * m)
        * (np.cos(sigma * t) * _sin_over(delta, t) + np.cos(delta * t) * _sin_over(sigma, t))
    )
    z = A / (k - m * omega**2 + 1j * c * omega) * np.exp(1j * omega * t)
    damped_s, damped_v = z.real, (1j * omega * z).real
    return np.where(c > 0, damped_s, undamped_s), np.where(c > 0, damped_v, undamped_v)


def _damped_cos_sin(tau, gamma, wd2):
    """exp(-gamma tau) C(tau) and exp(-gamma tau) S(tau), without overflow.

    C'' = -wd2 C with C(0) = 1, C'(0) = 0, and S' = C with S(0) = 0: cos(w tau) and
    sin(w tau)/w for wd2 = w^2 >= 0, cosh(mu tau) and sinh(mu tau)/mu for wd2 = -mu^2 < 0.
    """
    w = np.sqrt(np.maximum(wd2, 0.0))
    mu = np.sqrt(np.maximum(-wd2, 0.0))
    decay = np.exp(-gamma * tau)
    osc_c, osc_s = decay * np.cos(w * tau), decay * _sin_over(w, tau)
    grow = np.exp((mu - gamma) * tau)  # mu < gamma when over-damped, so this decays
    hyp_c = (grow + np.exp(-(mu + gamma) * tau)) / 2
    hyp_s = np.where(
        mu > 0, -grow * np.expm1(-2 * mu * tau) / (2 * np.where(mu > 0, mu, 1)), tau * decay
    )
    return np.where(wd2 > 0, osc_c, hyp_c), np.where(wd2 > 0, osc_s, hyp_s)
