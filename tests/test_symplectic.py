"""Splitting methods (verlet, yoshida4): their coefficients, a step by hand, the in-place step,
observed orders, bounded energy error over long runs, the refusal of systems they cannot step,
and the compiled loop, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from dynsys import InputError, compare, convergence, get_system, kernels, simulate
from dynsys.kernels.splitting_source import splitting_body
from dynsys.metrics import energy_error
from dynsys.steppers import STEPPERS, AttributeParams, get_stepper
from dynsys.steppers.symplectic import SYMPLECTIC, Splitting, dependence
from dynsys.systems.base import Parameter, System
from dynsys.systems.classic import Pendulum
from dynsys.trajectory import Trajectory

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba is not installed")
W1 = 1 / (2 - 2 ** (1 / 3))
W0 = -(2 ** (1 / 3)) / (2 - 2 ** (1 / 3))


def test_registered_with_orders_and_nodes():
    assert [s.name for s in SYMPLECTIC] == ["verlet", "yoshida4"]
    assert all(STEPPERS[s.name] is s for s in SYMPLECTIC)
    verlet, yoshida = SYMPLECTIC
    assert (verlet.order, verlet.nodes) == (2, (0.0, 1.0))
    assert (yoshida.order, yoshida.nodes) == (4, (0.0, W1, W1 + W0, 1.0))


@pytest.mark.parametrize("stepper", SYMPLECTIC, ids=lambda s: s.name)
def test_coefficients_add_up_and_kicks_read_the_drift_times(stepper):
    """Kicks and drifts each add up to one step; kick i reads the node at c_0 + ... + c_{i-1}
    and the drift after it the same node."""
    assert sum(stepper.kicks) == pytest.approx(1.0, abs=1e-15)
    assert sum(stepper.drifts) == pytest.approx(1.0, abs=1e-15)
    kicks = [op for op in stepper.operations if op[0]]
    drifts = [op for op in stepper.operations if not op[0]]
    assert [op[0] for op in stepper.operations] == [i % 2 == 0 for i in range(2 * len(kicks) - 1)]
    times = np.concatenate([[0.0], np.cumsum(stepper.drifts)])
    np.testing.assert_allclose([stepper.nodes[k] for _, _, k in kicks], times, atol=1e-15)
    assert [k for _, _, k in drifts] == [k for _, _, k in kicks[:-1]]


def test_yoshida_is_three_verlet_steps():
    """Kicks w1/2, (w1+w0)/2, (w0+w1)/2, w1/2; drifts w1, w0, w1; 2 w1 + w0 = 1."""
    yoshida = STEPPERS["yoshida4"]
    assert yoshida.kicks == (W1 / 2, (W1 + W0) / 2, (W0 + W1) / 2, W1 / 2)
    assert yoshida.drifts == (W1, W0, W1)
    assert abs(2 * W1 + W0 - 1.0) <= 1e-15


def test_a_splitting_needs_a_node_at_each_kick_time():
    with pytest.raises(ValueError, match=r"no node at the kick time 0\.5"):
        Splitting("bad", 2, (0.0, 1.0), "", kicks=(0.5, 0.0, 0.5), drifts=(0.5, 0.5))
    with pytest.raises(ValueError, match="one kick more than drifts"):
        Splitting("bad", 2, (0.0, 1.0), "", kicks=(0.5, 0.5), drifts=())


def test_verlet_is_the_leapfrog_by_hand_bit_for_bit():
    """omega += (h/2) a(theta); theta += h omega; omega += (h/2) a(theta), a written as the
    pendulum writes it: -(g/length) sin(theta) - damping omega."""
    system = get_system("pendulum", g=9.81, length=1.3)
    g, length, h = 9.81, 1.3, 0.05
    traj = simulate(system, [1.0, 0.0], t_span=(0, 200 * h), dt=h, method="verlet")
    theta, omega = 1.0, 0.0
    expected = [(theta, omega)]
    for _ in range(200):
        omega = omega + (h * 0.5) * (-g / length * np.sin(theta) - 0.0 * omega)
        theta = theta + (h * 1.0) * omega
        omega = omega + (h * 0.5) * (-g / length * np.sin(theta) - 0.0 * omega)
        expected.append((theta, omega))
    assert_array_equal(traj.states, np.array(expected))


@pytest.mark.parametrize("stepper", SYMPLECTIC, ids=lambda s: s.name)
@pytest.mark.parametrize("members", [False, True], ids=["shared", "per-member"])
@pytest.mark.parametrize("name", ["pendulum", "driven_oscillator"])
def test_step_into_is_step_bit_for_bit(stepper, members, name, rng):
    batch = 7
    params = {"length": rng.uniform(0.5, 2, batch)} if name == "pendulum" else {}
    if name == "driven_oscillator":
        params = {"k": rng.uniform(0.5, 2, batch), "A": rng.uniform(0, 1, batch)}
    system = get_system(name, **(params if members else {}))
    s = rng.uniform(-1, 1, (batch, 2))
    work = stepper.workspace(s.shape)
    work.state[...] = s
    state, p, h = work.state, AttributeParams(system.params), 0.05
    for n in range(20):
        t = 0.3 + n * h
        x = None
        if system.driven:
            x = np.stack([system.forcing(t + c * h, system.params) for c in stepper.nodes])
            x = np.broadcast_to(x, (len(stepper.nodes), batch)) if members else x
        s = stepper.step(system, t, h, s, x, system.params)
        state = stepper.step_into(system, t, h, state, x, p, work)
        assert state is work.state
        assert_array_equal(state, s)


# -- the compiled loop ----------------------------------------------------------------------
def test_generated_body_kicks_and_drifts_in_order():
    verlet = STEPPERS["verlet"]
    call = "g = field(t + {c} * h, (y0, y1,), {x}, p)"
    assert splitting_body(verlet, ["y0", "y1"], 1, True) == [
        call.format(c="0.0", x="x0"),
        "y1 = y1 + (h * 0.5) * g[1]",
        call.format(c="0.0", x="x0"),
        "y0 = y0 + (h * 1.0) * g[0]",
        call.format(c="1.0", x="x1"),
        "y1 = y1 + (h * 0.5) * g[1]",
    ]
    body = splitting_body(STEPPERS["yoshida4"], ["y0", "y1"], 1, False)
    assert len(body) == 14 and body[-2] == call.format(c="1.0", x="0.0")
    assert body[7] == "y0 = y0 + (h * -1.7024143839193153) * g[0]"


@needs_numba
@pytest.mark.parametrize("method", ["verlet", "yoshida4"])
@pytest.mark.parametrize("members", [False, True], ids=["shared", "per-member"])
@pytest.mark.parametrize("name", ["pendulum", "driven_oscillator"])
def test_compiled_loop_is_the_numpy_loop_bit_for_bit(method, members, name, rng):
    """A batch over two blocks, not a multiple of the block, kept every 7th step; the driven
    oscillator reads the drive at every node (yoshida4's 0, w1, w1 + w0 < 0 and 1)."""
    batch = kernels.BLOCK + 37
    draws = {"pendulum": {"length": (0.5, 2.0), "g": (5.0, 15.0)}}
    draws["driven_oscillator"] = {"k": (0.5, 2.0), "A": (0.0, 1.0), "omega": (0.5, 1.5)}
    params = {k: rng.uniform(lo, hi, batch) for k, (lo, hi) in draws[name].items()}
    shared = {"pendulum": {"length": 1.3}, "driven_oscillator": {"k": 2.0, "omega": 1.3}}
    system = get_system(name, **(params if members else shared[name]))
    s0 = rng.uniform(-1, 1, (batch, 2))
    run = dict(t_span=(0.5, 7.5), dt=0.05, method=method, save_every=7)
    a = simulate(system, s0, backend="numpy", **run)
    b = simulate(system, s0, backend="numba", **run)
    assert (a.info["backend"], b.info["backend"]) == ("numpy", "numba")
    assert b.states.shape == (batch, 21, 2)
    assert_array_equal(b.states, a.states)


# -- observed orders ------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["verlet", "yoshida4"])
@pytest.mark.parametrize("name", ["driven_oscillator", "pendulum"])
def test_observed_order(method, name):
    """dt = 0.1 ... 0.00625 over t in [0, 10]: against the exact solution at resonance, and a
    solve_ivp reference (rtol 1e-10) on the pendulum from theta = 1.  Measured: verlet 2.0003
    / 2.0009, yoshida4 4.0005 / 3.9993; the smallest yoshida4 errors 1.1e-9 / 4.6e-7."""
    study = convergence(get_system(name), [1.0, 0.0], method=method, t_span=(0, 10), dt=0.1)
    assert study.against == ("exact" if name == "driven_oscillator" else "reference")
    assert np.all(np.diff(study.error) < 0)
    assert abs(study.observed_order - STEPPERS[method].order) < 0.1


# -- energy over long runs ------------------------------------------------------------------
H, N_STEPS = 0.05, 20_000


@pytest.fixture(scope="module")
def pendulum_energy():
    """The relative energy error |E(t) - E(0)| / E(0) of each method on the pendulum (g 9.81,
    length 1) from theta = 1 rad at rest, h = 0.05, 2e4 steps (1000 s, about 500 periods)."""
    system = get_system("pendulum")
    out = {}
    for method in ("verlet", "yoshida4", "rk4"):
        traj = simulate(system, [1.0, 0.0], t_span=(0, N_STEPS * H), dt=H, method=method)
        energy = traj.energy()
        out[method] = np.abs(energy - energy[0]) / energy[0]
    return out


def halves(error: np.ndarray) -> tuple[float, float]:
    half = len(error) // 2
    return float(error[:half].max()), float(error[half:].max())


def test_verlet_energy_error_is_bounded(pendulum_energy):
    """Measured max 5.662e-3, the same in both halves to 2e-9: the leading term (omega h)^2 / 4
    of the modified energy, omega = sqrt(9.81), gives 6.1e-3 for small swings."""
    first, second = halves(pendulum_energy["verlet"])
    assert 5.6e-3 < max(first, second) < 5.7e-3
    assert second <= 1.1 * first


def test_yoshida4_energy_error_is_bounded_and_h4_smaller(pendulum_energy):
    """Measured max 5.081e-5 in both halves (h^4: 1e-6 needs h = 0.019)."""
    first, second = halves(pendulum_energy["yoshida4"])
    assert 5.0e-5 < max(first, second) < 5.2e-5
    assert second <= 1.1 * first


def test_rk4_energy_error_grows_linearly(pendulum_energy):
    """RK4 is not symplectic: its energy drifts at a steady rate; measured 1.466e-3
    over the first half and 2.932e-3 over the whole run."""
    error = pendulum_energy["rk4"]
    first, second = halves(error)
    assert second / first == pytest.approx(2.0, abs=0.02)
    quarters = [q.max() for q in np.array_split(error, 4)]
    assert np.all(np.diff(quarters) > 0)


def test_compare_energy_error_on_the_undamped_pendulum():
    """Against the reference: RK4's energy error small and growing with time, verlet's
    bounded (the same over (0, 50) as over (0, 100)); measured rk4 1.47e-4 then 2.94e-4,
    verlet 5.66e-3 both times."""
    result = compare(
        get_system("pendulum"), [1.0, 0.0], t_span=(0, 100), dt=H, methods=["rk4", "verlet"]
    )
    ref = result.reference.energy()
    half = len(ref) // 2

    def first_half(name: str) -> float:
        energy = result.trajectories[name].energy()
        return float(np.max(np.abs(energy - ref)[:half]) / np.max(np.abs(ref[:half])))

    rk4, verlet = result.methods["rk4"].energy_error, result.methods["verlet"].energy_error
    assert 1e-4 < first_half("rk4") < rk4 < 5e-4
    assert rk4 == pytest.approx(2 * first_half("rk4"), rel=0.05)
    assert verlet == pytest.approx(first_half("verlet"), rel=1e-3)
    assert 5.6e-3 < verlet < 5.7e-3
    assert "energy error" in result.table().splitlines()[1]


def test_energy_error_by_hand_scales_each_member_by_its_reference():
    """E = s^2 / 2 + v^2 / 2.  Member 0: reference energies 0.5, 2 (max 2), the method's 0.5,
    2.5: error 0.5 / 2 = 0.25.  Member 1: reference 8, 8, the method's 8, 10: 2 / 8 = 0.25 too;
    scaled by the largest reference energy of both (8) member 0 would count 0.0625."""
    system = get_system("driven_oscillator", A=0.0)
    t = np.array([0.0, 1.0])
    ref = np.array([[[1.0, 0.0], [2.0, 0.0]], [[4.0, 0.0], [0.0, 4.0]]])
    states = np.array([[[1.0, 0.0], [2.0, 1.0]], [[4.0, 0.0], [0.0, np.sqrt(20.0)]]])
    error = energy_error(
        Trajectory(t, states, system, "m", 1.0), Trajectory(t, ref, system, "r", 1.0)
    )
    assert error == pytest.approx(0.25, rel=1e-15)
    one = Trajectory(t, states[:1], system, "m", 1.0)
    assert energy_error(one, Trajectory(t, ref[:1], system, "r", 1.0)) == pytest.approx(0.25)


def test_energy_error_against_a_reference_at_rest_is_absolute():
    system = get_system("driven_oscillator", A=0.0)
    t = np.array([0.0, 1.0])
    rest = Trajectory(t, np.zeros((2, 2)), system, "r", 1.0)
    moved = Trajectory(t, np.array([[0.0, 0.0], [0.0, 0.1]]), system, "m", 1.0)
    assert energy_error(moved, rest) == pytest.approx(0.005, rel=1e-15)


# -- which systems they step ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("pendulum", {}),
        ("driven_oscillator", {}),
        ("driven_oscillator", {"A": 0.0, "omega": 2.0}),
        ("duffing", {"delta": 0.0}),
    ],
)
@pytest.mark.parametrize("stepper", SYMPLECTIC, ids=lambda s: s.name)
def test_conservative_and_driven_systems_are_accepted(stepper, name, params):
    system = get_system(name, **params)
    assert stepper.check(system) is None
    assert dependence(system) is None
    assert get_stepper(stepper.name, system) is stepper


REFUSED = [
    (
        "pendulum",
        {"damping": 0.3},
        "verlet needs a force that does not depend on the velocity; pendulum has "
        "d(domega/dt)/d(omega) = -0.3 (damping); use implicit_midpoint (symplectic, implicit) "
        "or rk4",
    ),
    (
        "duffing",
        {},
        "verlet needs a force that does not depend on the velocity; duffing has "
        "d(dv/dt)/d(v) = -0.2 (delta); use implicit_midpoint (symplectic, implicit) or rk4",
    ),
    (
        "driven_oscillator",
        {"c": [0.0, 0.0, 0.25]},
        "verlet needs a force that does not depend on the velocity; driven_oscillator has "
        "d(dv/dt)/d(v) = -0.25 (c); use implicit_midpoint (symplectic, implicit) or rk4",
    ),
    (
        "exponential_decay",
        {},
        "verlet needs states split into positions and velocities; exponential_decay has 1 "
        "state and n_positions = 0; use implicit_midpoint (symplectic, implicit) or rk4",
    ),
    (
        "logistic_map",
        {},
        "verlet steps an ODE; logistic_map is a discrete map, whose only method is 'map'",
    ),
]


@pytest.mark.parametrize(("name", "params", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_systems_it_cannot_step_are_refused_in_one_line(name, params, message):
    system = get_system(name, **params)
    with pytest.raises(InputError) as caught:
        STEPPERS["verlet"].check(system)
    assert str(caught.value) == message


@pytest.mark.parametrize("name", ["van_der_pol", "lotka_volterra", "lorenz"])
def test_fields_whose_force_depends_on_the_velocity_are_refused(name):
    with pytest.raises(InputError, match=r"^yoshida4 needs a force that does not depend on"):
        STEPPERS["yoshida4"].check(get_system(name))


def test_a_damped_system_is_refused_by_simulate():
    with pytest.raises(InputError, match=r"d\(domega/dt\)/d\(omega\) = -0\.1 \(damping\)"):
        simulate(
            get_system("pendulum", damping=0.1),
            [1.0, 0.0],
            t_span=(0, 1),
            dt=0.1,
            method="yoshida4",
        )


class PendulumWithoutJacobian(Pendulum):
    """The pendulum with no jacobian: check probes it by centred differences."""

    jacobian = None


def test_without_a_jacobian_the_probe_uses_centred_differences():
    assert PendulumWithoutJacobian.jacobian is None
    assert dependence(PendulumWithoutJacobian()) is None
    i, j, value = dependence(PendulumWithoutJacobian(damping=0.3))
    assert (i, j) == (1, 1) and value == pytest.approx(-0.3, rel=1e-8)
    with pytest.raises(InputError, match=r"= -0.3 \(damping\)"):
        STEPPERS["verlet"].check(PendulumWithoutJacobian(damping=0.3))


class Drifting(System):
    """dq/dt = v - a q, dv/dt = -q: the positions' rate depends on the positions."""

    name = "drifting"
    states = ("q", "v")
    default_s0 = (1.0, 0.0)
    parameters = (Parameter("a", 0.5, "drag on the position"),)

    @staticmethod
    def vector_field(t, s, x, p):
        q, v = s
        return v - p.a * q, -q


def test_a_drift_that_depends_on_the_positions_is_refused():
    with pytest.raises(InputError) as caught:
        STEPPERS["verlet"].check(Drifting())
    assert str(caught.value) == (
        "verlet needs positions whose rate does not depend on the positions; drifting has "
        "d(dq/dt)/d(q) = -0.5 (a); use implicit_midpoint (symplectic, implicit) or rk4"
    )
    assert STEPPERS["verlet"].check(Drifting(a=0.0)) is None
