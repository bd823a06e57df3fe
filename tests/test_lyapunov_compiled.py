"""The compiled tangent loop against the numpy one: the same exponents, history and times."""

from __future__ import annotations

import numpy as np
import pytest

import dynsys
from dynsys import InputError, get_system, kernels, lyapunov

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba not installed")


def both(system, s0, **kw):
    return [lyapunov(system, s0, backend=b, **kw) for b in ("numpy", "numba")]


@needs_numba
def test_lorenz_spectrum_per_member_matches_the_numpy_loop():
    # rho per member (the loop reads each member's parameters), a transient, the whole spectrum
    system = get_system("lorenz", rho=np.array([24.0, 28.0, 45.0]))
    s0 = np.array([[1.0, 1.0, 20.0], [-2.0, 3.0, 25.0], [0.5, 0.5, 30.0]])
    a, b = both(system, s0, dt=0.01, method="rk4", t_end=30, transient=5, spectrum=True)
    # the states agree bit for bit; Householder and Gram-Schmidt QR differ by rounding
    np.testing.assert_allclose(b.exponents, a.exponents, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(b.history, a.history, rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(b.times, a.times)
    np.testing.assert_allclose(b.exponents.sum(axis=-1), -(10 + 1 + 8 / 3), atol=2e-3)


@needs_numba
@pytest.mark.parametrize("method", ["euler", "heun", "dopri5"])
def test_driven_duffing_largest_exponent_matches(method):
    system = get_system("duffing")
    a, b = both(system, [0.5, 0.0], dt=0.02, method=method, t_end=40, transient=4)
    np.testing.assert_allclose(b.exponents, a.exponents, rtol=1e-9, atol=1e-11)


@needs_numba
def test_backend_numba_refuses_what_it_does_not_compile():
    lorenz = get_system("lorenz")
    with pytest.raises(InputError, match="backend 'numba' runs the tangents of explicit"):
        lyapunov(lorenz, [1.0, 1.0, 20.0], dt=0.01, method="rk4", t_end=1, every=5,
                 backend="numba")  # fmt: skip
    with pytest.raises(InputError, match="unknown backend 'gpu'"):
        lyapunov(lorenz, [1.0, 1.0, 20.0], dt=0.01, method="rk4", t_end=1, backend="gpu")


@needs_numba
def test_a_compiled_divergence_is_reported_by_the_numpy_loop():
    from dynsys import DivergenceError

    system = get_system("van_der_pol", mu=1.0)
    with pytest.raises(DivergenceError, match="left the finite numbers"):
        lyapunov(system, [3.0, 3.0], dt=1.5, method="rk4", t_end=300, backend="numba")


@pytest.mark.parametrize(
    "name", sorted(n for n, cls in dynsys.SYSTEMS.items() if cls.kind == "ode")
)
def test_the_spectrum_sums_to_the_time_average_of_the_jacobian_trace(name):
    # sum lambda_i = (1/T) sum_k log|det dF_k| (volumes), and log|det dF| = h tr J + O(h^2) for
    # a Runge-Kutta step: the sum is the mean divergence of the field along the orbit, for every
    # built-in ODE (the stiff ones at a step inside RK4's stability region)
    system = dynsys.SYSTEMS[name]()
    h, span = (1e-5, 0.02) if system.stiff else (1e-3, 2.0)
    result = lyapunov(system, system.default_s0, dt=h, method="rk4", t_end=span, spectrum=True,
                      backend="numpy")  # fmt: skip
    orbit = dynsys.simulate(system, system.default_s0, t_span=(0, span), dt=h, method="rk4")
    pairs = zip(orbit.t, orbit.states, strict=True)
    traces = np.array([np.trace(system.jacobian(t, s, system.params)) for t, s in pairs])
    mean = (traces[:-1] + traces[1:]).sum() / 2 * h / span  # the trapezoidal mean over the run
    assert abs(result.exponents.sum() - mean) <= 1e-5 * (1 + abs(mean)), (name, mean)
