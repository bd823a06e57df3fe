"""The numpy time loop gives the bits of the plain steppers.

``Recurrence.run`` steps in place (``Stepper.step_into``, ``System.rhs_into``, a workspace made
once per run) and samples the drive by blocks; every number must be the one that
``Stepper.step``, the readable statement of each method, gives step after step with the drive
of ``Recurrence.drive``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from dynsys import DivergenceError, DynsysError, InputError, get_system, kernels, simulate
from dynsys.experiments.user_system import make_system_class
from dynsys.simulate import Recurrence, kept_steps
from dynsys.steppers import STEPPERS, AttributeParams, Stepper, components_first
from dynsys.systems import SYSTEMS
from dynsys.systems.base import Params, System
from dynsys.systems.oscillator import DrivenOscillator

# the drive checks hold for the compiled loop too (it checks the drive through the states)
LOOPS = [
    "numpy",
    pytest.param(
        "numba", marks=pytest.mark.skipif(not kernels.available(), reason="numba not installed")
    ),
]

ODE_METHODS = [name for name, stepper in STEPPERS.items() if stepper.kind == "ode"]


def runs(method: str, system: System) -> bool:
    """Whether ``method`` runs ``system`` (a symplectic method needs a separable split)."""
    try:
        STEPPERS[method].check(system)
    except InputError:
        return False
    return True


ODE_SYSTEMS = [name for name, cls in SYSTEMS.items() if cls.kind == "ode" and not cls.stiff]
B = 37
DT = 0.01
T0 = 0.3
N_STEPS = 60


def reference_run(system: System, method: str, s0, save_every: int = 1) -> np.ndarray:
    """s(n) for the kept n, from ``Stepper.step`` alone: (..., time, n) like simulate's states."""
    recurrence = Recurrence(system, STEPPERS[method], DT, T0)
    s = np.broadcast_to(np.asarray(s0, dtype=np.float64), run_shape(system, s0))
    states, past = [s], None
    for n in range(N_STEPS):
        x = recurrence.drive(n)
        s, past = recurrence.step(n, s, x, past=past), s  # past: s(n-1) of a multistep method
        states.append(s)
    kept = kept_steps(N_STEPS, save_every)
    return np.moveaxis(np.stack(states)[kept], 0, -2)


def run_shape(system: System, s0) -> tuple[int, ...]:
    batch = system.batch_size
    return np.shape(s0) if batch is None else (batch, system.n_states)


def loop_run(system: System, method: str, s0, save_every: int = 1) -> np.ndarray:
    span = (T0, T0 + N_STEPS * DT)
    traj = simulate(
        system, s0, t_span=span, dt=DT, method=method, save_every=save_every, backend="numpy"
    )
    assert traj.info["n_steps"] == N_STEPS
    return traj.states


def initial_states(system: System, rng: np.random.Generator, batch: int | None) -> np.ndarray:
    """Typical initial states: one of shape (n,), or ``batch`` of them."""
    ranges = np.array(list(system.typical_s0_ranges().values()))
    shape = (system.n_states,) if batch is None else (batch, system.n_states)
    return rng.uniform(ranges[:, 0], ranges[:, 1], shape)


def per_member(cls: type[System], rng: np.random.Generator) -> System:
    """``cls`` with every parameter an array of B values around its default (in its domain)."""
    values = {}
    for p in cls.parameters:
        spread = rng.uniform(0.8, 1.2, B) * p.default
        values[p.name] = spread + (rng.uniform(0.0, 0.1, B) if p.default == 0 else 0.0)
    return cls(**values)


@pytest.mark.parametrize("method", ODE_METHODS)
@pytest.mark.parametrize("name", ODE_SYSTEMS)
def test_the_loop_gives_the_bits_of_the_plain_stepper(name, method):
    """Shared parameters with one state (n,) and a batch of B; per-member parameters with a
    batch of B and with one state broadcast to B; every step kept, and every 7th."""
    rng = np.random.default_rng(abs(hash((name, method))) % 2**32)
    cls = SYSTEMS[name]
    shared, member = cls(), per_member(cls, rng)
    cases = [
        (shared, initial_states(shared, rng, None)),
        (shared, initial_states(shared, rng, B)),
        (member, initial_states(member, rng, B)),
        (member, initial_states(member, rng, None)),
    ]
    for system, s0 in cases:
        if not runs(method, system):
            continue
        for save_every in (1, 7):
            got = loop_run(system, method, s0, save_every)
            want = reference_run(system, method, s0, save_every)
            assert got.shape == want.shape
            assert np.array_equal(got, want), (name, method, s0.shape, save_every)


def test_one_step_into_a_workspace_is_the_plain_step():
    """step_into writes step's s(n+1) over s; the drive samples are Recurrence.drive's."""
    rng = np.random.default_rng(5)
    for name in ODE_SYSTEMS:
        system = per_member(SYSTEMS[name], rng)
        s0 = initial_states(system, rng, B)
        for method in ODE_METHODS:
            stepper = STEPPERS[method]
            if not runs(method, system) or stepper.history > 1:
                continue
            x = Recurrence(system, stepper, DT, T0).drive(3)
            want = stepper.step(system, T0 + 3 * DT, DT, s0, x, system.params)
            work = stepper.workspace(s0.shape)
            work.state[...] = s0
            p = AttributeParams(system.params)
            got = stepper.step_into(system, T0 + 3 * DT, DT, work.state, x, p, work)
            if type(stepper).step_into is not Stepper.step_into:  # it steps in place
                assert got is work.state
            assert np.array_equal(got, want), (name, method)


def test_rhs_into_writes_the_bits_of_rhs():
    rng = np.random.default_rng(6)
    for name in ODE_SYSTEMS:
        for system in (SYSTEMS[name](), per_member(SYSTEMS[name], rng)):
            s = initial_states(system, rng, B)
            x = Recurrence(system, STEPPERS["rk4"], DT).drive(0)
            x = None if x is None else x[1]
            out = components_first(s.shape)
            back = system.rhs_into(0.7, s, x, system.params, out)
            assert back is out
            assert np.array_equal(out, system.rhs(0.7, s, x, system.params))


def test_a_workspace_stores_each_component_contiguously():
    work = STEPPERS["dopri5"].workspace((B, 3))
    assert len(work.k) == 6
    for array in (work.state, work.stage, work.scaled, *work.k):
        assert array.shape == (B, 3)
        assert all(array[..., i].flags.c_contiguous for i in range(3))
        if array is not work.scaled:
            assert all(c.base is array.base for c in work.columns[id(array)])


@pytest.mark.parametrize(
    ("method", "k", "stage", "scaled"),
    [
        ("euler", 1, False, False),
        ("semi_implicit_euler", 1, False, False),
        ("midpoint", 2, True, False),
        ("heun", 2, True, False),
        ("rk4", 4, True, False),
        ("dopri5", 6, True, True),
    ],
)
def test_a_workspace_holds_what_its_stepper_needs(method, k, stage, scaled):
    """A stage array when a stage adds a term to s; a term array when a stage adds two."""
    work = STEPPERS[method].workspace((B, 2))
    assert len(work.k) == k
    assert (work.stage is not None, work.scaled is not None) == (stage, scaled)


def test_attribute_params_are_the_same_arrays():
    system = get_system("driven_oscillator", k=[1.0, 2.0])
    p = AttributeParams(system.params)
    assert isinstance(p, Params) and p == system.params
    assert p.k is system.params["k"] and p["m"] is system.params["m"]
    named = AttributeParams(Params({"values": np.array(1.0), "k": np.array(2.0)}))
    assert callable(named.values) and named["values"] == 1.0  # as Params: dict's methods win


class Stiffer(DrivenOscillator):
    """A subclass that defines rhs itself: the loop copies its rhs."""

    name = "stiffer"

    def rhs(self, t, s, x, p):
        return 2 * super().rhs(t, s, x, p)


def user_system():
    cls = make_system_class(
        "forced_pendulum_text",
        ["q", "w"],
        {"a": 1.0, "b": 0.5},
        {"q": "w", "w": "-a*sin(q) - b*w + x"},
        drive="0.3*cos(2*t)",
    )
    return cls(b=np.linspace(0.1, 0.9, B))


@pytest.mark.parametrize("method", ODE_METHODS)
def test_systems_that_define_rhs_give_the_same_bits(method):
    rng = np.random.default_rng(7)
    for system in (Stiffer(), user_system()):
        if not runs(method, system):
            continue
        for s0 in (rng.uniform(-1, 1, 2), rng.uniform(-1, 1, (B, 2))):
            assert np.array_equal(loop_run(system, method, s0), reference_run(system, method, s0))


@pytest.mark.parametrize("method", [m for m in ODE_METHODS if m != "semi_implicit_euler"])
@pytest.mark.parametrize("member", [False, True])
def test_the_drive_sampled_by_blocks_is_the_drive_of_each_step(method, member):
    """_next_inputs over consecutive blocks (the c = 1 sample of a block's last step reused as
    the next block's c = 0) equals inputs() and drive(n), bit for bit."""
    system = get_system("duffing", omega=np.linspace(0.5, 1.5, B) if member else 1.3)
    recurrence = Recurrence(system, STEPPERS[method], 0.037, t0=-1.1)
    blocks, previous, n = [], None, 0
    for count in (1, 5, 2, 1, 11):
        previous = recurrence._next_inputs(n, count, previous)
        blocks.append(previous)
        n += count
    got = np.concatenate(blocks)
    assert np.array_equal(got, recurrence.inputs(n))
    assert np.array_equal(got, np.stack([recurrence.drive(k) for k in range(n)]))


def test_the_loop_samples_the_drive_in_blocks_across_long_runs(monkeypatch):
    """Blocks of 3 steps, runs checked every 4 kept rows: the bits do not change."""
    module = importlib.import_module("dynsys.simulate")  # dynsys.simulate is also a function
    monkeypatch.setattr(module, "_DRIVE_BLOCK_BYTES", 3 * 3 * 8 * B)
    monkeypatch.setattr(module, "_BLOCK_BYTES", 4 * B * 2 * 8)
    rng = np.random.default_rng(8)
    system = per_member(DrivenOscillator, rng)
    s0 = initial_states(system, rng, B)
    for save_every in (1, 2, 5):
        got = loop_run(system, "rk4", s0, save_every)
        assert np.array_equal(got, reference_run(system, "rk4", s0, save_every))


def test_recurrence_step_is_the_plain_step():
    system = get_system("duffing")
    recurrence = Recurrence(system, STEPPERS["rk4"], DT, T0)
    s = np.array([0.3, -0.2])
    want = STEPPERS["rk4"].step(system, T0 + 5 * DT, DT, s, recurrence.drive(5), system.params)
    assert np.array_equal(recurrence.step(5, s), want)
    assert np.array_equal(recurrence.step(5, s, recurrence.drive(5)), want)
    assert np.array_equal(s, [0.3, -0.2])  # the plain step leaves its input alone


def test_maps_still_iterate():
    system = get_system("logistic_map", r=np.linspace(3.5, 3.9, B))
    traj = simulate(system, [0.2], t_span=(0, 50), save_every=3, backend="numpy")
    s, states = np.full((B, 1), 0.2), [np.full((B, 1), 0.2)]
    for n in range(50):
        s = system.next(float(n), s, system.params)
        states.append(s)
    want = np.moveaxis(np.stack(states)[kept_steps(50, 3)], 0, -2)
    assert np.array_equal(traj.states, want)


class Blowup(System):
    """ds/dt = s^2 (1 + x): the solution 1 / (1/s0 - t) leaves the numbers at t = 1/s0."""

    name = "blowup_driven"
    states = ("s",)
    parameters = ()
    default_s0 = (1.0,)

    @staticmethod
    def vector_field(t, s, x, p):
        (y,) = s
        return (y * y * (1 + x),)

    @staticmethod
    def forcing(t, p):
        return 0.0 * t


def first_divergence(system: System, method: str, s0: np.ndarray, dt: float):
    """(step, time, member) of the first state that is not finite, from the plain stepper."""
    recurrence = Recurrence(system, STEPPERS[method], dt)
    s, n, past = s0, 0, None
    with np.errstate(all="ignore"):
        while np.isfinite(s).all():
            s, past = recurrence.step(n, s, recurrence.drive(n), past=past), s
            n += 1
    bad = ~np.isfinite(s).reshape(-1, s.shape[-1]).all(axis=-1)
    return n, n * dt, int(np.argmax(bad)) if s.ndim > 1 else None


@pytest.mark.parametrize("method", ODE_METHODS)
@pytest.mark.parametrize("save_every", [1, 9])
def test_divergence_names_the_step_time_and_member_of_the_plain_stepper(method, save_every):
    if not runs(method, Blowup()):
        pytest.skip(f"{method} does not run a one-state system")
    s0 = np.array([[0.5], [0.9], [4.0], [2.0], [0.1]])  # member 2 blows up first, near t = 1/4
    for start in (s0, s0[2]):
        with pytest.raises(DivergenceError) as info:
            simulate(
                Blowup(),
                start,
                t_span=(0, 2),
                dt=0.01,
                method=method,
                save_every=save_every,
                backend="numpy",
            )
        err = info.value
        step, t, member = first_divergence(Blowup(), method, start, 0.01)
        assert (err.step, err.t, err.trajectory) == (step, t, member)
        rows = len(err.partial.t)
        assert err.partial.t[-1] <= t and rows == len(range(0, step, save_every))
        want = reference_run_of(Blowup(), method, start, 0.01, step - 1)
        kept = np.arange(0, step, save_every)
        assert np.array_equal(err.partial.states, np.moveaxis(want[kept], 0, -2))


def reference_run_of(system, method, s0, dt, n_steps) -> np.ndarray:
    """s(0..n_steps) from the plain stepper, time first."""
    recurrence = Recurrence(system, STEPPERS[method], dt)
    states = [s0]
    with np.errstate(all="ignore"):  # the last finite states overflow on the way
        for n in range(n_steps):
            past = states[-2] if n else None  # s(n-1), which a multistep method reads
            states.append(recurrence.step(n, states[-1], past=past))
    return np.stack(states)


def spiky(bad: float, scale: float, reads_drive: bool) -> System:
    """ds/dt = scale s^2 (+ x when ``reads_drive``), with a drive x = log|t - bad| that is -inf
    at t = ``bad`` alone."""

    class Spiky(System):
        name = "spiky"
        states = ("s",)
        parameters = ()
        default_s0 = (1.0,)

        @staticmethod
        def vector_field(t, s, x, p):
            (y,) = s
            return (scale * y * y + (x if reads_drive else 0.0),)

        @staticmethod
        def forcing(t, p):  # dynsys samples the drive with numpy's warnings off
            return np.log(np.abs(t - bad))

    return Spiky()


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("method", ODE_METHODS)
def test_a_drive_not_finite_at_the_last_time_alone_is_refused(method, backend):
    """No step of euler samples t_end; the loop checks it after the last step."""
    if not runs(method, spiky(2.0, -1.0, False)):
        pytest.skip(f"{method} does not run a one-state system")
    if backend == "numba" and not kernels.supports(spiky(2.0, -1.0, False), STEPPERS[method]):
        pytest.skip(f"{method} has no compiled loop for a system without jacobian_field")
    with pytest.raises(DynsysError, match=r"drive x\(t\) of spiky is -inf at t = 2, not a"):
        simulate(
            spiky(2.0, -1.0, False), [1.0], t_span=(0, 2), dt=0.25, method=method, backend=backend
        )


@pytest.mark.parametrize("backend", LOOPS)
@pytest.mark.parametrize("rows", [None, 8])
def test_a_drive_not_finite_at_a_kept_time_is_named_before_an_earlier_divergence(
    monkeypatch, rows, backend
):
    """s leaves the numbers at t = 0.5, the drive at t = 1.5: the drive is named, as a check
    before the run names it (with every kept row its own block, and with one block)."""
    if rows is not None:
        module = importlib.import_module("dynsys.simulate")
        monkeypatch.setattr(module, "_BLOCK_BYTES", rows)
    for method in ODE_METHODS:
        if not runs(method, spiky(1.5, 1e100, False)):
            continue
        if backend == "numba" and not kernels.supports(spiky(1.5, 1e100, False), STEPPERS[method]):
            continue
        with pytest.raises(DynsysError, match=r"spiky is -inf at t = 1.5, not a") as info:
            simulate(
                spiky(1.5, 1e100, False),
                [1.0],
                t_span=(0, 2),
                dt=0.25,
                method=method,
                backend=backend,
            )
        assert not isinstance(info.value, DivergenceError)


def test_a_drive_not_finite_between_kept_times_is_no_error_when_no_state_reads_it():
    system = spiky(0.25, -1.0, False)
    traj = simulate(
        system, [1.0], t_span=(0, 2), dt=0.25, method="rk4", save_every=2, backend="numpy"
    )
    recurrence = Recurrence(system, STEPPERS["rk4"], 0.25)
    s, states = np.array([1.0]), [np.array([1.0])]
    with np.errstate(all="ignore"):
        for n in range(8):
            s = recurrence.step(n, s)
            states.append(s)
    assert np.array_equal(traj.states, np.stack(states)[::2])


@pytest.mark.parametrize("backend", LOOPS)
def test_a_drive_sample_that_makes_a_state_diverge_is_named(backend):
    """RK4 reads the drive at t = 0.125 (c = 1/2 of the first step): s(1) = -inf."""
    with pytest.raises(DynsysError, match=r"spiky is -inf at t = 0.125, not a") as info:
        simulate(
            spiky(0.125, -1.0, True), [1.0], t_span=(0, 2), dt=0.25, method="rk4", backend=backend
        )
    assert not isinstance(info.value, DivergenceError)
