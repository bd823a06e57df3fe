"""Tests of the steppers: the lecture's recurrence to the last bit, Butcher tableaux, observed
orders of convergence, energy behaviour, batching, the drive convention and discrete maps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from dynsys import (
    STEPPERS,
    SYSTEMS,
    InputError,
    Recurrence,
    convergence,
    get_stepper,
    get_system,
    simulate,
)
from dynsys.steppers import ExplicitRungeKutta
from dynsys.steppers.implicit import GAMMA3

ODE_METHODS = ["euler", "semi_implicit_euler", "heun", "midpoint", "rk4", "dopri5"]
RUNGE_KUTTA = [name for name, s in STEPPERS.items() if isinstance(s, ExplicitRungeKutta)]
ODES = sorted(name for name in SYSTEMS if SYSTEMS[name].kind == "ode")
MAPS = sorted(name for name in SYSTEMS if SYSTEMS[name].kind == "map")


# -- the seed: explicit Euler is the lecture's recurrence ---------------------------------------
def lecture_euler(m, k, A, omega, s0, v0, h, n_steps):
    """s(n+1) = s(n) + h v(n),  v(n+1) = v(n) + h (x_n/m - k/m s(n)),  x_n = A cos(omega t_n).

    The forcing term is written x_n/m with x_n = A*np.cos(omega*t_n), the order in which dynsys
    evaluates it (the drive x is an input of the recurrence), so the comparison can be bitwise.
    """
    s, v = s0, v0
    rows = [(s, v)]
    for n in range(n_steps):
        t_n = n * h
        x_n = A * np.cos(omega * t_n)
        s, v = s + h * v, v + h * (x_n / m - k / m * s)
        rows.append((s, v))
    return np.array(rows)


def lecture_euler_literal(m, k, A, omega, s0, v0, h, n_steps):
    """The same recurrence with the forcing written A/m cos(omega t_n), as on the blackboard."""
    s, v = s0, v0
    rows = [(s, v)]
    for n in range(n_steps):
        s, v = s + h * v, v + h * (A / m * np.cos(omega * (n * h)) - k / m * s)
        rows.append((s, v))
    return np.array(rows)


lecture_cases = st.tuples(
    st.floats(0.2, 5.0),  # m
    st.floats(0.2, 5.0),  # k
    st.floats(-3.0, 3.0),  # A
    st.floats(0.0, 3.0),  # omega
    st.floats(-2.0, 2.0),  # s0
    st.floats(-2.0, 2.0),  # v0
    st.floats(1e-3, 0.2),  # h
    st.integers(1, 100),  # N
)


@settings(max_examples=60, deadline=None)
@given(lecture_cases)
def test_euler_is_the_lecture_recurrence_bit_for_bit(case):
    m, k, A, omega, s0, v0, h, n_steps = case
    system = get_system("driven_oscillator", m=m, k=k, A=A, omega=omega, c=0.0)
    traj = simulate(system, [s0, v0], t_span=(0, n_steps * h), dt=h, method="euler")
    expected = lecture_euler(m, k, A, omega, s0, v0, h, n_steps)
    assert traj.states.shape == (n_steps + 1, 2)
    assert_array_equal(traj.t, np.arange(n_steps + 1) * h)
    assert_array_equal(traj.states, expected)
    # A/m cos(omega t) instead of x/m rounds differently, by at most a few units in the last
    # place per step (measured: 2e-15 of the largest state over 100 steps)
    literal = lecture_euler_literal(m, k, A, omega, s0, v0, h, n_steps)
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(literal - expected)) <= 1e-14 * scale


def test_euler_lecture_defaults_at_resonance():
    """The lecture's own numbers: m = k = 1, A = 0.5, omega = 1, from (1, 0), h = 0.1."""
    traj = simulate(get_system("driven_oscillator"), [1.0, 0.0], t_span=(0, 20), dt=0.1)
    assert traj.method == "euler"
    assert_array_equal(traj.states, lecture_euler(1.0, 1.0, 0.5, 1.0, 1.0, 0.0, 0.1, 200))
    s, v = 1.0, 0.0
    s, v = s + 0.1 * v, v + 0.1 * (0.5 - s)  # step 0 by hand: x_0 = A cos(0) = 0.5
    assert_array_equal(traj.states[1], [1.0, -0.05])
    assert (s, v) == (1.0, -0.05)


def test_semi_implicit_euler_is_euler_cromer_bit_for_bit(rng):
    for _ in range(10):
        m, k = rng.uniform(0.2, 5.0, 2)
        A, c, omega = rng.uniform(-2, 2), rng.uniform(0, 1), rng.uniform(0, 3)
        s0, v0 = rng.uniform(-2, 2, 2)
        h, n_steps = rng.uniform(1e-3, 0.2), int(rng.integers(1, 200))
        system = get_system("driven_oscillator", m=m, k=k, A=A, c=c, omega=omega)
        traj = simulate(
            system, [s0, v0], t_span=(0, n_steps * h), dt=h, method="semi_implicit_euler"
        )
        s, v = s0, v0
        rows = [(s, v)]
        for n in range(n_steps):
            x = A * np.cos(omega * (n * h))
            v = v + h * (x / m - k / m * s - c / m * v)  # the velocity first
            s = s + h * v  # then the position, with the new velocity
            rows.append((s, v))
        assert_array_equal(traj.states, np.array(rows))


# -- Butcher tableaux -----------------------------------------------------------------------------
def rooted_trees(order: int) -> list[tuple]:
    """The rooted trees with ``order`` vertices, a tree being the sorted tuple of its subtrees."""

    def grow(tree: tuple):
        yield tuple(sorted((*tree, ())))
        for i, child in enumerate(tree):
            for bigger in grow(child):
                yield tuple(sorted((*tree[:i], bigger, *tree[i + 1 :])))

    trees = {()}
    for _ in range(order - 1):
        trees = {bigger for tree in trees for bigger in grow(tree)}
    return sorted(trees)


def tree_size(tree: tuple) -> int:
    return 1 + sum(tree_size(child) for child in tree)


def density(tree: tuple) -> int:
    """gamma(tree): the order condition is sum_i b_i Phi_i(tree) = 1 / gamma(tree)."""
    return tree_size(tree) * int(np.prod([density(child) for child in tree]))


def elementary_weights(tree: tuple, a: np.ndarray) -> np.ndarray:
    """Phi_i(tree) = prod over subtrees u of (a Phi(u))_i; 1 for the single vertex."""
    out = np.ones(len(a))
    for child in tree:
        out = out * (a @ elementary_weights(child, a))
    return out


def tableau(stepper: ExplicitRungeKutta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stages = len(stepper.c)
    a = np.zeros((stages, stages))
    for i, row in enumerate(stepper.a):
        a[i, : len(row)] = row
    return a, np.array(stepper.b), np.array(stepper.c)


def order_conditions_met(stepper: ExplicitRungeKutta, order: int) -> bool:
    a, b, _ = tableau(stepper)
    return all(
        abs(b @ elementary_weights(tree, a) - 1 / density(tree)) < 1e-14
        for tree in rooted_trees(order)
    )


def test_rooted_trees_are_counted_right():
    assert [len(rooted_trees(n)) for n in range(1, 7)] == [1, 1, 2, 4, 9, 20]
    assert sorted(density(t) for t in rooted_trees(4)) == [4, 8, 12, 24]


def test_runge_kutta_steppers_are_the_expected_ones():
    assert set(RUNGE_KUTTA) == {"euler", "midpoint", "heun", "rk4", "dopri5"}


@pytest.mark.parametrize("name", RUNGE_KUTTA)
def test_butcher_tableau_is_consistent(name):
    stepper = STEPPERS[name]
    a, b, c = tableau(stepper)
    assert len(stepper.a) == len(stepper.b) == len(stepper.c)
    assert all(len(row) <= i for i, row in enumerate(stepper.a)), "explicit: a is strictly lower"
    assert b.sum() == pytest.approx(1.0, abs=1e-15)
    assert_allclose(a.sum(axis=1), c, rtol=0, atol=1e-15)
    assert set(stepper.c) <= set(stepper.nodes)  # every stage has its drive sample
    assert set(stepper.nodes) <= set(stepper.c)  # and no sample is read for nothing
    assert list(stepper.nodes) == sorted(set(stepper.nodes))


@pytest.mark.parametrize("name", RUNGE_KUTTA)
def test_butcher_tableau_has_its_declared_order(name):
    stepper = STEPPERS[name]
    a, b, c = tableau(stepper)
    for order in range(1, stepper.order + 1):
        assert order_conditions_met(stepper, order), f"order {order} condition fails"
    # spelt out for the classic conditions
    if stepper.order >= 2:
        assert b @ c == pytest.approx(1 / 2, abs=1e-15)
    if stepper.order >= 4:
        assert b @ c**2 == pytest.approx(1 / 3, abs=1e-15)
        assert b @ (a @ c) == pytest.approx(1 / 6, abs=1e-15)
        assert b @ c**3 == pytest.approx(1 / 4, abs=1e-15)
        assert b @ (c * (a @ c)) == pytest.approx(1 / 8, abs=1e-15)
        assert b @ (a @ c**2) == pytest.approx(1 / 12, abs=1e-15)
        assert b @ (a @ (a @ c)) == pytest.approx(1 / 24, abs=1e-15)
    # and the declared order is the true one: some condition of the next order fails
    assert not order_conditions_met(stepper, stepper.order + 1)


def test_declared_orders_and_nodes():
    W1, W0 = 1 / (2 - 2 ** (1 / 3)), -(2 ** (1 / 3)) / (2 - 2 ** (1 / 3))  # Yoshida's weights
    expected = {
        "euler": (1, (0.0,)),
        "semi_implicit_euler": (1, (0.0,)),
        "heun": (2, (0.0, 1.0)),
        "midpoint": (2, (0.0, 0.5)),
        "rk4": (4, (0.0, 0.5, 1.0)),
        "dopri5": (5, (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)),
        "implicit_euler": (1, (1.0,)),
        "implicit_midpoint": (2, (0.5,)),
        "trapezoidal": (2, (0.0, 1.0)),
        "sdirk3": (3, (GAMMA3, (1 + GAMMA3) / 2, 1.0)),
        "bdf2": (2, (1.0,)),
        "verlet": (2, (0.0, 1.0)),
        "yoshida4": (4, (0.0, W1, W1 + W0, 1.0)),
        "map": (0, ()),
    }
    assert {name: (s.order, s.nodes) for name, s in STEPPERS.items()} == expected


# -- observed order of convergence --------------------------------------------------------------
CONVERGENCE_SYSTEMS = {
    "oscillator-at-resonance": ("driven_oscillator", {}, [1.0, 0.0]),
    "oscillator-damped": ("driven_oscillator", {"c": 0.5}, [1.0, 0.0]),
    "exponential-decay": ("exponential_decay", {}, [1.0]),
}


# (largest dt, halvings): dopri5's errors reach round-off below dt = 0.025
STUDY = {"dopri5": (0.2, 3)}


@pytest.mark.parametrize("method", ODE_METHODS)
@pytest.mark.parametrize("case", list(CONVERGENCE_SYSTEMS))
def test_observed_order(case, method):
    """dt = 0.1 ... 0.00625 over t in [0, 10]; measured slopes (resonance / damped / decay):
    euler 1.058 / 1.039 / 1.014, semi_implicit_euler 0.988 / 1.005 / 1.014, heun 2.002 / 1.992 /
    2.025, midpoint 2.003 / 2.005 / 2.025, rk4 4.004 / 4.003 / 4.027; the smallest rk4 error is
    4.7e-12, far above round-off.  dopri5, dt = 0.2 ... 0.025: 5.023 / 4.992 / 5.137 (on the
    decay the sixth-order term still weighs at these steps, hence its wider tolerance)."""
    name, params, s0 = CONVERGENCE_SYSTEMS[case]
    system = get_system(name, **params)
    dt, levels = STUDY.get(method, (0.1, 4))
    study = convergence(system, s0, method=method, t_span=(0.0, 10.0), dt=dt, levels=levels)
    assert study.against == "exact"
    assert study.expected_order == STEPPERS[method].order
    assert_allclose(study.dt, dt / 2.0 ** np.arange(levels + 1))
    assert np.all(np.diff(study.error) < 0)
    assert study.error.min() > 1e-12
    tolerance = 0.2 if (case, method) == ("exponential-decay", "dopri5") else 0.1
    assert abs(study.observed_order - STEPPERS[method].order) < tolerance


# -- energy of the harmonic oscillator ----------------------------------------------------------
H, N_STEPS = 0.01, 10_000


def harmonic_energy(method: str) -> tuple[np.ndarray, np.ndarray]:
    system = get_system("driven_oscillator", A=0.0, c=0.0, k=1.0, m=1.0)
    traj = simulate(system, [1.0, 0.0], t_span=(0, N_STEPS * H), dt=H, method=method)
    assert traj.states.shape == (N_STEPS + 1, 2)
    return traj.energy(), traj.states


def test_explicit_euler_multiplies_the_energy_by_one_plus_h_squared():
    energy, _ = harmonic_energy("euler")
    # E(n+1) = (1 + h^2 k/m) E(n) exactly in exact arithmetic; measured to 4.4e-16 per step
    assert_allclose(energy[1:] / energy[:-1], 1 + H**2, rtol=1e-14, atol=0)
    growth = energy[-1] / energy[0]
    assert_allclose(growth, (1 + H**2) ** N_STEPS, rtol=1e-9)  # measured 1.0e-13
    assert 2.718 < growth < np.e  # (1 + h^2)^N = 2.71815 just below e^(N h^2) = e


def test_semi_implicit_euler_keeps_the_energy_bounded():
    energy, states = harmonic_energy("semi_implicit_euler")
    deviation = np.max(np.abs(energy / energy[0] - 1))
    assert deviation < H  # measured 0.005 = h/2
    assert deviation > H / 4  # it oscillates (the bound is not met by accident)
    # it exactly conserves the modified energy k s^2 + m v^2 - h k s v (to round-off)
    s, v = states.T
    modified = s**2 + v**2 - H * s * v
    assert np.max(np.abs(modified / modified[0] - 1)) < 1e-12  # measured 1.5e-14


# -- a batch equals its members simulated one by one ------------------------------------------
def draw_params(name: str, rng: np.random.Generator, batch: int) -> dict:
    """Array parameters of shape (batch,) near the defaults; some left scalar at random."""
    ranges = {"r": (2.5, 4.0), "a": (1.0, 1.4), "b": (0.2, 0.3)}  # maps: bounded orbits
    params = {}
    for p in SYSTEMS[name].parameters:
        low, high = sorted((0.8 * p.default, 1.2 * p.default)) if p.default else (0.0, 0.5)
        low, high = ranges.get(p.name, (low, high)) if SYSTEMS[name].kind == "map" else (low, high)
        params[p.name] = rng.uniform(low, high, batch) if rng.random() < 0.7 else (low + high) / 2
    return params


def draw_states(name: str, rng: np.random.Generator, batch: int) -> np.ndarray:
    if name == "logistic_map":
        return rng.uniform(0.05, 0.95, (batch, 1))
    s0 = np.asarray(SYSTEMS[name].default_s0)
    return s0 + rng.uniform(-0.1, 0.1, (batch, len(s0))) * (1 + np.abs(s0))


@pytest.mark.parametrize("method", [*ODE_METHODS, "map"])
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_batch_equals_one_by_one(method, data):
    names = MAPS if method == "map" else [n for n in ODES if not SYSTEMS[n].stiff]
    name = data.draw(st.sampled_from(names), label="system")
    batch = data.draw(st.integers(1, 5), label="batch")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    params = draw_params(name, rng, batch)
    s0 = draw_states(name, rng, batch)
    if any(np.ndim(v) for v in params.values()) and data.draw(st.booleans(), label="shared s0"):
        s0 = s0[0]  # one initial state, broadcast against the array parameters
    span = {"t_span": (0, 60), "dt": 1} if method == "map" else {"t_span": (0.5, 3.5), "dt": 0.02}
    together = simulate(get_system(name, **params), s0, method=method, **span)
    assert together.states.shape == (batch, together.t.size, len(SYSTEMS[name].states))
    for i in range(batch):
        alone_params = {k: v[i] if np.ndim(v) else v for k, v in params.items()}
        start = s0[i] if s0.ndim == 2 else s0
        alone = simulate(get_system(name, **alone_params), start, method=method, **span)
        assert_array_equal(alone.t, together.t)
        assert_array_equal(together.states[i], alone.states)  # bitwise
        if alone.x is not None:
            assert_array_equal(together.x[i], alone.x)


# -- the drive convention: step n reads x at t_n + c h, c in nodes ------------------------------
def test_inputs_are_the_stacked_drive_samples(rng):
    params = {"A": rng.uniform(-1, 1, 3), "omega": rng.uniform(0.5, 2, 3), "m": 1.5}
    for system in (get_system("driven_oscillator", **params), get_system("duffing")):
        for method in ODE_METHODS:
            recurrence = Recurrence(system, STEPPERS[method], 0.05, t0=1.25)
            inputs = recurrence.inputs(40)
            stacked = np.stack([recurrence.drive(n) for n in range(40)])
            assert_array_equal(inputs, stacked)
            batch = () if system.batch_size is None else (system.batch_size,)
            assert inputs.shape == (40, len(STEPPERS[method].nodes), *batch)
            assert_array_equal(recurrence.inputs(10, start=30), inputs[30:])


def test_euler_reads_the_drive_at_the_start_of_the_step():
    A, omega, h = 0.7, 1.3, 0.1
    system = get_system("driven_oscillator", A=A, omega=omega)
    inputs = Recurrence(system, STEPPERS["euler"], h).inputs(50)
    t_n = np.arange(50) * h
    assert_array_equal(inputs[:, 0], A * np.cos(omega * t_n))


def test_rk4_reads_the_drive_at_start_middle_and_end():
    A, omega, h, t0 = 0.7, 1.3, 0.1, 2.0
    system = get_system("driven_oscillator", A=A, omega=omega)
    inputs = Recurrence(system, STEPPERS["rk4"], h, t0=t0).inputs(50)
    n = np.arange(50)
    t_n = t0 + n * h
    # the sample times are written t0 + (n + c) h: t_n + c h to rounding, and a time two steps
    # share (c = 1 here, c = 0 next) is the same number in both
    assert_array_equal(inputs[:, 0], A * np.cos(omega * t_n))
    assert_array_equal(inputs[:, 1], A * np.cos(omega * (t0 + (n + 0.5) * h)))
    assert_array_equal(inputs[:, 2], A * np.cos(omega * (t0 + (n + 1.0) * h)))
    assert_array_equal(inputs[:-1, 2], inputs[1:, 0])
    assert_allclose(inputs[:, 1], A * np.cos(omega * (t_n + h / 2)), rtol=0, atol=1e-14)


def test_each_stage_reads_its_own_drive_sample(rng):
    """Heun and RK4 written out with distinct inputs per node: a mix-up would show."""
    system = get_system("driven_oscillator", m=1.3, k=2.0, c=0.4)
    m, k, c = 1.3, 2.0, 0.4

    def g(s, x):
        return np.array([s[1], x / m - k / m * s[0] - c / m * s[1]])

    for _ in range(5):
        s, h, t = rng.uniform(-1, 1, 2), 0.1, rng.uniform(0, 5)
        x = rng.uniform(-5, 5, 3)
        k1, k2 = g(s, x[0]), g(s + h * g(s, x[0]), x[1])
        heun = STEPPERS["heun"].step(system, t, h, s, x[:2], system.params)
        assert_allclose(heun, s + h / 2 * (k1 + k2), rtol=1e-15, atol=1e-15)
        k1 = g(s, x[0])
        k2 = g(s + h / 2 * k1, x[1])
        k3 = g(s + h / 2 * k2, x[1])
        k4 = g(s + h * k3, x[2])
        rk4 = STEPPERS["rk4"].step(system, t, h, s, x, system.params)
        assert_allclose(rk4, s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), rtol=1e-14, atol=1e-15)
        k1 = g(s, x[0])
        mid = STEPPERS["midpoint"].step(system, t, h, s, x[:2], system.params)
        assert_allclose(mid, s + h * g(s + h / 2 * k1, x[1]), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("method", ODE_METHODS)
@pytest.mark.parametrize("batched", [False, True], ids=["one", "batch"])
def test_stepping_with_the_inputs_reproduces_simulate(method, batched, rng):
    """An RNN fed inputs[n] at step n lines up with simulate, bit for bit."""
    if batched:
        system = get_system("driven_oscillator", A=[0.5, -0.2, 1.0], c=[0.0, 0.3, 0.1])
        s = rng.uniform(-1, 1, (3, 2))
    else:
        system = get_system("driven_oscillator", c=0.1, omega=1.7)
        s = np.array([1.0, -0.5])
    h, t0, n_steps = 0.05, 0.75, 120
    traj = simulate(system, s, t_span=(t0, t0 + n_steps * h), dt=h, method=method)
    recurrence = Recurrence(system, STEPPERS[method], h, t0=t0)
    inputs = recurrence.inputs(n_steps)
    rows = [s]
    for n in range(n_steps):
        s = recurrence.step(n, s, x=inputs[n])
        rows.append(s)
    assert_array_equal(np.stack(rows, axis=-2), traj.states)
    # the inputs really drive the recurrence: zero inputs give the unforced oscillator
    unforced = simulate(
        system.with_params(A=0.0), rows[0], t_span=(t0, t0 + n_steps * h), dt=h, method=method
    )
    s = rows[0]
    for n in range(n_steps):
        s = recurrence.step(n, s, x=np.zeros_like(inputs[n]))
    assert_array_equal(s, unforced.states[..., -1, :])
    assert np.max(np.abs(s - traj.states[..., -1, :])) > 1e-3


# -- discrete maps ------------------------------------------------------------------------------
def test_logistic_map_is_iterated_exactly():
    r, x = 3.9, 0.2
    traj = simulate(get_system("logistic_map", r=r), [x], t_span=(0, 100))
    assert traj.method == "map"
    assert traj.dt == 1.0
    assert_array_equal(traj.t, np.arange(101.0))
    rows = [x]
    for _ in range(100):
        x = r * x * (1 - x)
        rows.append(x)
    assert_array_equal(traj.states[:, 0], rows)
    assert traj.states.min() > 0 and traj.states.max() < 1  # chaotic but bounded


def test_henon_map_is_iterated_exactly():
    a, b = 1.4, 0.3
    x, y = 0.1, -0.05
    traj = simulate(get_system("henon_map"), [x, y], t_span=(0, 200), dt=1)
    assert traj.method == "map"
    rows = [(x, y)]
    for _ in range(200):
        x, y = 1 - a * x**2 + y, b * x
        rows.append((x, y))
    assert_array_equal(traj.states, np.array(rows))


@pytest.mark.parametrize("name", MAPS)
def test_map_step_must_be_one(name):
    system = get_system(name)
    s0 = np.array(system.default_s0) + 0.1
    with pytest.raises(InputError, match="dt of a discrete map must be 1"):
        simulate(system, s0, t_span=(0, 10), dt=0.5)
    explicit = simulate(system, s0, t_span=(0, 10), dt=1.0, method="map")
    assert_array_equal(simulate(system, s0, t_span=(0, 10)).states, explicit.states)


@pytest.mark.parametrize("name", MAPS)
@pytest.mark.parametrize("method", ODE_METHODS)
def test_ode_method_on_a_map_is_refused(name, method):
    with pytest.raises(InputError, match=f"{name} is a discrete map; its only method is 'map'"):
        simulate(get_system(name), get_system(name).default_s0, t_span=(0, 10), method=method)


@pytest.mark.parametrize("name", ODES)
def test_map_method_on_an_ode_is_refused(name):
    system = get_system(name)
    with pytest.raises(InputError, match=f"method 'map' iterates discrete maps; {name} is an ODE"):
        simulate(system, system.default_s0, t_span=(0, 1), dt=0.1, method="map")


def test_unknown_method_suggests_the_closest():
    with pytest.raises(InputError, match=r"unknown method 'rk5' \(did you mean 'rk4'\?\)"):
        simulate(get_system("pendulum"), [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk5")


def test_solve_ivp_is_named_as_not_a_stepper():
    with pytest.raises(InputError, match="solve_ivp is scipy's adaptive solver, not a stepper"):
        get_stepper("solve_ivp")
