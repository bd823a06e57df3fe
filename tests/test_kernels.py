"""The compiled time loop (numba) against the numpy loop: the same recurrence, number for number.

Each kernel is compiled once per test session (about a second each), so the tests share a few
systems and steppers.  Without numba installed, the compiled tests are skipped and the backend
choice is still tested.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import dynsys
from dynsys import DivergenceError, InputError, get_stepper, get_system, kernels, simulate
from dynsys.kernels.source import advance_source
from dynsys.simulate import Recurrence, choose_backend
from dynsys.steppers import Splitting
from dynsys.systems.classic import Duffing
from dynsys.systems.oscillator import DrivenOscillator

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba is not installed")
ODE_METHODS = [m for m in kernels.compiled_methods() if not dynsys.STEPPERS[m].implicit]
"""The explicit steppers with a compiled loop (the implicit ones' loops are checked against
numpy in tests/test_implicit.py, the symplectic ones in tests/test_symplectic.py)."""
ODE_METHODS = [m for m in ODE_METHODS if not isinstance(dynsys.STEPPERS[m], Splitting)]


def runs(method: str, system) -> bool:
    """Whether ``method`` runs ``system`` (a symplectic method needs a separable split)."""
    try:
        dynsys.STEPPERS[method].check(system)
    except dynsys.InputError:
        return False
    return True


def both(system, s0, **kwargs):
    """The same run through the numpy loop and the compiled loop."""
    a = simulate(system, s0, backend="numpy", **kwargs)
    b = simulate(system, s0, backend="numba", **kwargs)
    assert a.info["backend"] == "numpy" and b.info["backend"] == "numba"
    assert_array_equal(a.t, b.t)
    return a.states, b.states


def random_oscillators(rng, batch):
    params = {
        "m": rng.uniform(0.5, 2.0, batch),
        "k": rng.uniform(0.5, 2.0, batch),
        "A": rng.uniform(0.0, 1.0, batch),
        "c": rng.uniform(0.0, 0.2, batch),
        "omega": rng.uniform(0.5, 1.5, batch),
    }
    return get_system("driven_oscillator", **params), rng.uniform(-1, 1, (batch, 2))


@needs_numba
@pytest.mark.parametrize("method", ODE_METHODS)
def test_every_stepper_is_bitwise_the_numpy_loop(method, rng):
    """Random parameters and states per member, a batch that is not a multiple of the chunk."""
    system, s0 = random_oscillators(rng, kernels.BLOCK + 37)
    if not runs(method, system):  # a splitting steps the undamped oscillator
        system = system.with_params(c=0.0)
    numpy_states, compiled = both(system, s0, t_span=(0.5, 7.5), dt=0.05, method=method)
    assert compiled.shape == (kernels.BLOCK + 37, 141, 2)
    assert_array_equal(compiled, numpy_states)


@needs_numba
@pytest.mark.parametrize("method", ODE_METHODS)
def test_every_stepper_with_shared_parameters_is_bitwise_the_numpy_loop(method, rng):
    """Members sharing the parameters (the drive sampled once per step for all of them): a
    batch over two blocks, not a multiple of the block, kept every 7th step; and B = 1."""
    system = get_system("driven_oscillator", k=2.0, c=0.1, omega=1.3)
    if not runs(method, system):  # a splitting steps the undamped oscillator
        system = system.with_params(c=0.0)
    s0 = rng.uniform(-1, 1, (kernels.BLOCK + 37, 2))
    numpy_states, compiled = both(
        system, s0, t_span=(0.5, 7.5), dt=0.05, method=method, save_every=7
    )
    assert compiled.shape == (kernels.BLOCK + 37, 21, 2)
    assert_array_equal(compiled, numpy_states)
    numpy_states, compiled = both(system, s0[0], t_span=(0.5, 7.5), dt=0.05, method=method)
    assert compiled.shape == (141, 2)
    assert_array_equal(compiled, numpy_states)


@needs_numba
@pytest.mark.parametrize(
    "name", [n for n, cls in dynsys.SYSTEMS.items() if cls.kind == "ode" and not cls.stiff]
)
def test_every_system_runs_compiled(name, rng):
    """Bitwise where the vector field has no power but squares (kernels.bitwise), else to a
    few units in the last place per step (the bound the kernels docstring states)."""
    assert_same_loops(dynsys.SYSTEMS[name], "euler", rng)


def assert_same_loops(cls, method, rng):
    s0 = np.asarray(cls.default_s0) * (1 + 0.1 * rng.uniform(-1, 1, (5, len(cls.states))))
    numpy_states, compiled = both(cls(), s0, t_span=(0, 2), dt=0.01, method=method)
    if kernels.bitwise(cls):
        assert_array_equal(compiled, numpy_states)
    else:
        assert_allclose(compiled, numpy_states, rtol=1e-13, atol=1e-15)


def test_every_built_in_system_is_bitwise():
    odes = [cls for cls in dynsys.SYSTEMS.values() if cls.kind == "ode"]
    assert [cls.name for cls in odes if not kernels.bitwise(cls)] == []


@pytest.mark.slow
@needs_numba
@pytest.mark.parametrize("method", ODE_METHODS)
@pytest.mark.parametrize(
    "name", [n for n, cls in dynsys.SYSTEMS.items() if cls.kind == "ode" and not cls.stiff]
)
def test_every_system_and_stepper_compiled_is_the_numpy_loop(name, method, rng):
    """The whole matrix (about a second of compiling each): bitwise, or to the stated bound."""
    if not runs(method, dynsys.SYSTEMS[name]()):
        pytest.skip(f"{method} does not run {name}")
    assert_same_loops(dynsys.SYSTEMS[name], method, rng)


@needs_numba
def test_a_power_written_as_products_is_bitwise_and_a_cube_is_close(rng):
    """Duffing's pos * pos * pos: both loops evaluate the same products, bit for bit; written
    pos**3, numpy's power and numba's products differ in the last bits, within the bound."""

    class Cubed(Duffing):
        name = "duffing_cubed"

        @staticmethod
        def vector_field(t, s, x, p):
            pos, vel = s
            return vel, x - p.delta * vel - p.alpha * pos - p.beta * pos**3

    assert kernels.bitwise(Duffing) and not kernels.bitwise(Cubed)
    s0 = rng.uniform(-1, 1, (70, 2))
    numpy_states, compiled = both(Duffing(), s0, t_span=(0, 20), dt=0.01, method="rk4")
    assert_array_equal(compiled, numpy_states)
    assert_same_loops(Cubed, "rk4", rng)  # over t in [0, 2]: to the stated bound


@needs_numba
def test_the_seed_recurrence_compiled_to_the_last_bit():
    """Explicit Euler on the lecture's oscillator: s += h v, v += h (A/m cos(t_n) - k/m s)."""
    h, n_steps = 0.01, 1000
    out = simulate(
        get_system("driven_oscillator"),
        [1.0, 0.0],
        t_span=(0, n_steps * h),
        dt=h,
        method="euler",
        backend="numba",
    ).states
    s, v = 1.0, 0.0
    for n in range(n_steps):
        x = 0.5 * np.cos(1.0 * (0.0 + (n + 0.0) * h))
        s, v = s + h * v, v + h * (x / 1.0 - 1.0 / 1.0 * s - 0.0 / 1.0 * v)
        assert (out[n + 1, 0], out[n + 1, 1]) == (s, v)


@needs_numba
@pytest.mark.parametrize(
    "s0, params, shape",
    [
        ([1.0, 0.0], {}, (41, 2)),  # one trajectory
        ([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], {}, (3, 41, 2)),  # a batch of states
        ([1.0, 0.0], {"k": [1.0, 2.0, 4.0, 9.0]}, (4, 41, 2)),  # one state, array parameters
    ],
)
def test_shapes_and_save_every(s0, params, shape):
    system = get_system("driven_oscillator", **params)
    numpy_states, compiled = both(
        system, s0, t_span=(0, 40 * 7 * 0.01), dt=0.01, method="rk4", save_every=7
    )
    assert compiled.shape == shape
    assert_array_equal(compiled, numpy_states)


@needs_numba
def test_save_every_that_does_not_divide_keeps_the_last_step():
    system = get_system("van_der_pol")
    numpy_states, compiled = both(system, [2.0, 0.0], t_span=(0, 1.0), dt=0.01, save_every=30)
    assert compiled.shape == (5, 2)  # steps 0, 30, 60, 90 and 100
    assert_array_equal(compiled, numpy_states)


@needs_numba
def test_compiled_divergence_is_reported_where_numpy_reports_it():
    system = get_system("exponential_decay", rate=[1.0, 100.0])
    errors = []
    for backend in ("numpy", "numba"):
        with pytest.raises(DivergenceError) as caught:
            simulate(system, [1.0], t_span=(0, 100), dt=0.1, backend=backend)
        errors.append(caught.value)
    a, b = errors
    assert (b.method, b.step, b.t, b.trajectory) == (a.method, a.step, a.t, a.trajectory)
    assert (b.step, b.trajectory) == (322, 1)
    assert_array_equal(b.partial.states, a.partial.states)
    assert np.isfinite(b.partial.states).all()


@needs_numba
def test_compiled_run_does_not_touch_the_initial_state():
    s0 = np.array([[1.0, 0.0], [0.0, 1.0]])
    kept = s0.copy()
    simulate(get_system("pendulum"), s0, t_span=(0, 1), dt=0.1, backend="numba")
    assert_array_equal(s0, kept)


def test_auto_compiles_large_runs_or_takes_a_cached_loop(monkeypatch):
    system, rk4 = get_system("driven_oscillator"), get_stepper("rk4")
    monkeypatch.setattr(kernels, "available", lambda: True)
    monkeypatch.setattr(kernels, "is_cached", lambda system, stepper: False)
    assert choose_backend("auto", system, rk4, 10_000) == "numpy"
    assert choose_backend("auto", system, rk4, 10**8) == "numba"
    assert choose_backend("auto", get_system("logistic_map"), get_stepper("map"), 10**8) == "numpy"
    monkeypatch.setattr(kernels, "is_cached", lambda system, stepper: True)
    assert choose_backend("auto", system, rk4, 10) == "numba"  # nothing to compile
    monkeypatch.setattr(kernels, "bitwise", lambda cls: False)
    assert choose_backend("auto", system, rk4, 10) == "numpy"  # it would change the last bits
    monkeypatch.setattr(kernels, "available", lambda: False)
    monkeypatch.setattr(kernels, "is_cached", lambda system, stepper: False)
    assert choose_backend("auto", system, rk4, 10**8) == "numpy"
    assert choose_backend("numpy", system, rk4, 10**8) == "numpy"


def test_backend_errors(monkeypatch):
    system = get_system("driven_oscillator")
    with pytest.raises(InputError, match=r"unknown backend 'numbaa' \(did you mean 'numba'\?\)"):
        simulate(system, [1, 0], t_span=(0, 1), dt=0.1, backend="numbaa")
    with pytest.raises(InputError, match="backend 'numba' cannot run map on logistic_map"):
        simulate(get_system("logistic_map"), [0.5], t_span=(0, 10), backend="numba")
    with pytest.raises(InputError, match="unknown backend of a Recurrence"):
        Recurrence(system, get_stepper("rk4"), 0.1, backend="fortran")

    class NeverCompiled(DrivenOscillator):  # neither in this process nor on disk
        name = "never_compiled"

    monkeypatch.setattr(kernels, "available", lambda: False)
    with pytest.raises(InputError, match=r"needs numba: pip install 'dynsys\[fast\]'"):
        simulate(NeverCompiled(), [1, 0], t_span=(0, 1), dt=0.1, backend="numba")


def test_a_subclass_that_overrides_rhs_is_not_compiled():
    class Stiffer(DrivenOscillator):
        name = "stiffer"

        def rhs(self, t, s, x, p):
            return 2 * super().rhs(t, s, x, p)

    assert not kernels.supports(Stiffer(), get_stepper("rk4"))
    assert kernels.supports(DrivenOscillator(), get_stepper("rk4"))


@pytest.mark.parametrize("shared", [True, False])
def test_generated_source_follows_the_tableau(shared):
    """RK4's stages read the drive at c = 0, 1/2, 1, the first one carried from the last step:
    sampled once per step outside the member loop when the members share parameters, per
    member otherwise."""
    names = ["m", "k", "A", "c", "omega"]
    source = advance_source(get_stepper("rk4"), 2, names, True, 1, shared)
    carried = "x_next" if shared else "XN[i]"
    indent = " " * (16 if shared else 20)
    assert f"{indent}x0 = {carried}\n" in source
    assert f"{indent}x1 = drive(t0 + (n + 0.5) * h, p)\n" in source
    assert f"{indent}x2 = drive(t0 + (n + 1.0) * h, p)\n" in source
    assert "k3 = field(t + 1.0 * h, (y0 + (h * 1.0) * k2[0], y1 + (h * 1.0) * k2[1],), x2, p)" in (
        source
    )
    assert ("p = P(PV[0], PV[1], PV[2], PV[3], PV[4])" in source) == shared
    assert ("p = P(PV[0, b + i], PV[1, b + i]" in source) == (not shared)
    compile(source, "<test>", "exec")  # valid Python


def test_cli_backend_option():
    from click.testing import CliRunner

    from dynsys.cli import main

    args = ["simulate", "driven_oscillator", "--method", "rk4", "--dt", "0.1", "--t-end", "1"]
    bad = CliRunner().invoke(main, [*args, "--backend", "fortran"])
    assert bad.exit_code == 2 and "'fortran' is not one of 'auto', 'numpy', 'numba'" in bad.output
    if kernels.available():
        ok = CliRunner().invoke(main, [*args, "--backend", "numba"])
        assert ok.exit_code == 0, ok.output
        assert "rk4, dt=0.1, 11 kept steps" in ok.output


@needs_numba
def test_auto_takes_a_loop_this_process_has_and_gives_the_same_numbers():
    system = get_system("driven_oscillator")
    simulate(system, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4", backend="numba")
    again = simulate(system, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4")
    assert (again.info["backend"], again.info["kernel"]) == ("numba", "in memory")
    reference = simulate(system, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4", backend="numpy")
    assert_array_equal(again.states, reference.states)


@needs_numba
def test_a_shared_parameter_divergence_is_reported_where_numpy_reports_it(rng):
    """Members that share parameters (the drive sampled once per step): same step, time and
    member as the numpy loop, over more members than one block."""
    system = get_system("driven_oscillator", k=4.0)
    s0 = rng.uniform(-1, 1, (kernels.BLOCK + 9, 2))
    s0[kernels.BLOCK + 3] *= 1e150  # one member far out: it overflows first
    errors = []
    for backend in ("numpy", "numba"):
        with pytest.raises(DivergenceError) as caught:
            simulate(system, s0, t_span=(0, 1000), dt=1.1, method="heun", backend=backend)
        errors.append(caught.value)
    a, b = errors
    assert (b.method, b.step, b.t, b.trajectory) == (a.method, a.step, a.t, a.trajectory)
    assert b.trajectory == kernels.BLOCK + 3
    assert_array_equal(b.partial.states, a.partial.states)
