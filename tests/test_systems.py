"""Tests of the systems: the registry, parameter validation, shapes and broadcasting, Jacobians,
exact solutions and conserved quantities.

The oracles are independent of the code under test: finite differences for the Jacobians,
scipy's solve_ivp on the equations written out again here, and textbook closed forms.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.integrate import solve_ivp

from dynsys import SYSTEMS, InputError, get_system

ALL = sorted(SYSTEMS)
WITH_JACOBIAN = [name for name in ALL if SYSTEMS[name].jacobian is not None]
BATCH = 5


# -- helpers ------------------------------------------------------------------------------------
def random_params(name: str, rng: np.random.Generator, size: int | None = None) -> dict:
    """Parameter values near the defaults and inside each parameter's domain."""
    out = {}
    for p in SYSTEMS[name].parameters:
        if p.default == 0:
            out[p.name] = rng.uniform(0.0, 1.0, size)
        else:
            out[p.name] = p.default * rng.uniform(0.5, 1.5, size)
    return out


def random_state(name: str, rng: np.random.Generator, shape: tuple[int, ...] = ()) -> np.ndarray:
    """States near the default initial state (Lotka-Volterra's stay positive)."""
    s0 = np.asarray(SYSTEMS[name].default_s0)
    return s0 + rng.uniform(-0.5, 0.5, (*shape, len(s0))) * (1 + np.abs(s0))


def evaluate(system, t: float, s: np.ndarray, p: dict) -> np.ndarray:
    """The right-hand side g(t, s, x(t)) of an ODE, or the map f(t, s) of a discrete map."""
    if system.kind == "map":
        return system.next(t, s, p)
    x = system.forcing(t, p) if system.driven else None
    return system.rhs(t, s, x, p)


def member(params: dict, i: int) -> dict:
    """Batch member i of parameters given as arrays of shape (batch,)."""
    return {k: float(v[i]) for k, v in params.items()}


# -- the registry and parameter validation ------------------------------------------------------
def test_registry_holds_the_built_in_systems():
    expected = {
        "driven_oscillator",
        "exponential_decay",
        "pendulum",
        "van_der_pol",
        "duffing",
        "lotka_volterra",
        "lorenz",
        "logistic_map",
        "henon_map",
        "robertson",
        "prothero_robinson",
    }
    assert expected <= set(SYSTEMS)
    assert {name for name in SYSTEMS if SYSTEMS[name].kind == "map"} >= {
        "logistic_map",
        "henon_map",
    }


@pytest.mark.parametrize("name", ALL)
def test_every_system_constructs_with_its_defaults(name):
    system = get_system(name)
    cls = SYSTEMS[name]
    assert type(system) is cls
    assert system.name == name
    assert system.batch_size is None
    assert system.n_states == len(cls.states) == len(cls.default_s0)
    assert list(system.params) == [p.name for p in cls.parameters]
    for p in cls.parameters:
        assert system.params[p.name].shape == ()
        assert system.params[p.name].dtype == np.float64
        assert float(system.params[p.name]) == p.default
    out = evaluate(system, 0.0, np.asarray(cls.default_s0, dtype=float), system.params)
    assert out.shape == (system.n_states,)
    assert np.all(np.isfinite(out))


def test_unknown_system_lists_the_known_names():
    with pytest.raises(InputError) as info:
        get_system("nope")
    message = str(info.value)
    assert "'nope'" in message
    assert message.endswith(f"known: {', '.join(sorted(SYSTEMS))}")
    assert "did you mean" not in message


def test_misspelt_system_suggests_the_closest_name():
    with pytest.raises(InputError, match=r"did you mean 'driven_oscillator'\?"):
        get_system("driven_oscilator")
    with pytest.raises(InputError, match=r"did you mean 'henon_map'\?"):
        get_system("henon")


def test_unknown_parameter_is_named():
    with pytest.raises(InputError) as info:
        get_system("driven_oscillator", omgea=2.0)
    message = str(info.value)
    assert "'omgea'" in message
    assert "did you mean 'omega'?" in message
    assert message.endswith("known: A, c, k, m, omega")
    with pytest.raises(InputError, match="'rate'"):
        get_system("pendulum", rate=1.0)


@pytest.mark.parametrize(
    ("name", "param", "value"),
    [
        ("driven_oscillator", "m", float("nan")),
        ("driven_oscillator", "k", float("inf")),
        ("driven_oscillator", "A", -np.inf),
        ("driven_oscillator", "A", [1.0, np.nan]),
        ("lorenz", "rho", np.nan),
        ("logistic_map", "r", np.inf),
    ],
)
def test_non_finite_parameter_is_refused(name, param, value):
    with pytest.raises(InputError, match=f"parameter '{param}' of {name} must be a finite"):
        get_system(name, **{param: value})


@pytest.mark.parametrize("value", ["big", None, {"a": 1}, 1 + 2j, [1.0, "x"]])
def test_non_numeric_parameter_is_refused(value):
    with pytest.raises(InputError, match="parameter 'A' of driven_oscillator"):
        get_system("driven_oscillator", A=value)


@pytest.mark.parametrize(
    ("name", "param", "value", "rule"),
    [
        ("driven_oscillator", "m", 0.0, "> 0"),
        ("driven_oscillator", "m", -1.0, "> 0"),
        ("driven_oscillator", "k", 0, "> 0"),
        ("driven_oscillator", "c", -1.0, ">= 0"),
        ("driven_oscillator", "omega", -0.5, ">= 0"),
        ("driven_oscillator", "m", [1.0, 0.0], "> 0"),
        ("pendulum", "length", 0.0, "> 0"),
        ("pendulum", "damping", -0.1, ">= 0"),
        ("lotka_volterra", "alpha", -1.5, "> 0"),
        ("duffing", "delta", -0.2, ">= 0"),
        ("robertson", "k2", 0.0, "> 0"),
        ("prothero_robinson", "stiffness", -1e4, "> 0"),
    ],
)
def test_parameter_out_of_its_domain_is_refused(name, param, value, rule):
    with pytest.raises(InputError, match=f"parameter '{param}' of {name} must be {rule}"):
        get_system(name, **{param: value})


def test_parameters_on_the_edge_of_their_domain_are_accepted():
    system = get_system("driven_oscillator", c=0.0, omega=0.0, A=-3.0)
    assert float(system.params["c"]) == 0.0
    assert float(system.params["omega"]) == 0.0
    assert float(system.params["A"]) == -3.0


def test_array_parameters_must_be_one_dimensional_and_of_one_length():
    with pytest.raises(InputError, match="parameter 'A' of driven_oscillator must be a number or"):
        get_system("driven_oscillator", A=[[1.0, 2.0]])
    with pytest.raises(InputError, match=r"must have one length, got \[2, 3\]"):
        get_system("driven_oscillator", A=[1.0, 2.0], k=[1.0, 2.0, 3.0])
    system = get_system("driven_oscillator", A=[1.0, 2.0, 3.0], k=[1.0, 2.0, 3.0], m=2.0)
    assert system.batch_size == 3
    assert system.params["m"].shape == ()


def test_empty_array_parameter_is_refused():
    # A batch of no members used to be accepted, and then failed far from its cause (compare
    # raised numpy's "zero-size array to reduction operation").
    with pytest.raises(InputError, match="parameter 'A' of driven_oscillator must not be an empty"):
        get_system("driven_oscillator", A=[])


def test_parameters_are_copied_and_read_only():
    values = np.array([1.0, 2.0])
    system = get_system("driven_oscillator", k=values)
    values[0] = 99.0
    assert_array_equal(system.params["k"], [1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        system.params["k"][0] = 5.0


def test_with_params_replaces_some_values_and_validates_them():
    system = get_system("driven_oscillator", m=2.0, c=0.1)
    other = system.with_params(k=4.0)
    assert other.param_values() == {"m": 2.0, "k": 4.0, "A": 0.5, "c": 0.1, "omega": 1.0}
    assert system.param_values()["k"] == 1.0
    with pytest.raises(InputError, match="'m'"):
        system.with_params(m=0.0)


# -- shapes, broadcasting, equations and descriptions ------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_output_shape_equals_state_shape(name, rng):
    system = get_system(name)
    p = system.params
    one = random_state(name, rng)
    many = random_state(name, rng, (BATCH,))
    assert evaluate(system, 0.3, one, p).shape == one.shape
    out = evaluate(system, 0.3, many, p)
    assert out.shape == many.shape
    for i in range(BATCH):
        assert_array_equal(out[i], evaluate(system, 0.3, many[i], p))


@pytest.mark.parametrize("name", ALL)
def test_array_parameters_broadcast_over_the_batch(name, rng):
    params = random_params(name, rng, BATCH)
    system = get_system(name, **params)
    assert system.batch_size == BATCH
    s = random_state(name, rng, (BATCH,))
    out = evaluate(system, 0.7, s, system.params)
    assert out.shape == s.shape
    for i in range(BATCH):
        alone = get_system(name, **member(params, i))
        assert_allclose(out[i], evaluate(alone, 0.7, s[i], alone.params), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", ALL)
def test_equations_come_from_the_docstring(name):
    equations = SYSTEMS[name].equations()
    assert len(equations) >= len(SYSTEMS[name].states)
    assert all("=" in line for line in equations)
    assert all(line == line.strip() and line for line in equations)
    # one equation per state, each naming the derivative (ODE) or the next value (map)
    for state in SYSTEMS[name].states:
        lhs = f"{state}(n+1)" if SYSTEMS[name].kind == "map" else f"d{state}/dt"
        assert any(line.startswith(lhs) for line in equations), (state, equations)


@pytest.mark.parametrize("name", ALL)
def test_describe_is_json_ready(name):
    system = get_system(name)
    described = system.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["name"] == name
    assert described["equations"] == SYSTEMS[name].equations()
    assert described["states"] == list(SYSTEMS[name].states)
    assert [p["name"] for p in described["parameters"]] == list(system.params)
    assert described["jacobian"] == (SYSTEMS[name].jacobian is not None)
    assert described["driven"] == system.driven


# -- Jacobians against central differences -----------------------------------------------------
def central_differences(f, s: np.ndarray) -> np.ndarray:
    """J[..., i, j] = d f_i / d s_j by central differences, steps scaled to |s_j|."""
    cols = []
    for j in range(s.shape[-1]):
        step = np.zeros_like(s)
        step[..., j] = 1e-6 * np.maximum(1.0, np.abs(s[..., j]))
        width = (s + step)[..., j] - (s - step)[..., j]
        cols.append((f(s + step) - f(s - step)) / width[..., None])
    return np.stack(cols, axis=-1)


def test_the_jacobians_under_test_include_odes_and_maps():
    assert set(WITH_JACOBIAN) >= {"driven_oscillator", "lorenz", "logistic_map", "henon_map"}


@pytest.mark.parametrize("name", WITH_JACOBIAN)
@pytest.mark.parametrize("batched", [False, True], ids=["scalar-params", "array-params"])
def test_jacobian_matches_central_differences(name, batched, rng):
    size = BATCH if batched else None
    system = get_system(name, **random_params(name, rng, size))
    p = system.params
    n = system.n_states
    for _ in range(3):
        t = rng.uniform(0.0, 10.0)
        s = random_state(name, rng, (BATCH,) if batched else ())
        jac = system.jacobian(t, s, p)
        assert jac.shape == (*s.shape[:-1], n, n)
        numeric = central_differences(lambda z, t=t: evaluate(system, t, z, p), s)
        scale = max(1.0, float(np.max(np.abs(numeric))))
        assert_allclose(jac, numeric, rtol=1e-6, atol=1e-7 * scale)


# -- exact solutions ----------------------------------------------------------------------------
def oscillator_ode(m, k, A, c, omega):
    """m s'' = -k s - c s' + A cos(omega t), written out again as the oracle's vector field."""

    def f(t, y):
        return [y[1], (A * np.cos(omega * t) - k * y[0] - c * y[1]) / m]

    return f


def tight_solution(f, t: np.ndarray, s0) -> np.ndarray:
    sol = solve_ivp(f, (t[0], t[-1]), s0, method="DOP853", t_eval=t, rtol=1e-12, atol=1e-12)
    assert sol.status == 0
    return sol.y.T


CRITICAL = 2 * np.sqrt(2.0 * 3.0)  # c = 2 sqrt(k m) for m = 2, k = 3
OSCILLATOR_CASES = {
    "undamped-off-resonance": dict(omega=0.7),
    "undamped-at-resonance": dict(),
    "undamped-near-resonance": dict(omega=1 + 1e-7),
    "static-force": dict(omega=0.0),
    "unforced": dict(A=0.0),
    "underdamped": dict(c=0.3),
    "critically-damped": dict(m=2.0, k=3.0, c=CRITICAL),
    "critically-damped-exact-zero": dict(c=2.0),  # k/m - (c/2m)^2 is exactly 0.0 here
    "overdamped": dict(c=3.0),
    "overdamped-m": dict(m=1.5, k=0.8, c=4.0, A=0.9, omega=1.3),
    "damped-at-resonance": dict(c=0.2),
    "resonance-m2": dict(m=2.0, k=0.5, omega=0.5, A=1.2),
    "off-resonance-m": dict(m=2.5, k=4.0, A=1.3, omega=2.0),
}
# The largest |exact - solve_ivp| measured over these cases is 3.1e-10 (overdamped, v, where
# solve_ivp's own error peaks in the initial transient); exact is the better of the two.
IVP_TOLERANCE = 1e-9


@pytest.mark.parametrize("t0", [0.0, 2.5])
@pytest.mark.parametrize("case", list(OSCILLATOR_CASES))
def test_oscillator_exact_matches_solve_ivp(case, t0):
    system = get_system("driven_oscillator", **OSCILLATOR_CASES[case])
    values = system.param_values()
    t = t0 + np.linspace(0.0, 30.0, 1501)
    s0 = np.array([0.3, -0.4])
    exact = system.exact(t, s0, t0, system.params)
    assert exact.shape == (len(t), 2)
    oracle = tight_solution(oscillator_ode(**values), t, s0)
    scale = np.maximum(1.0, np.max(np.abs(exact), axis=0))  # per component: s and v
    assert np.all(np.abs(exact - oracle) <= IVP_TOLERANCE * scale)


def test_oscillator_cases_cover_every_regime():
    """The critically damped cases really sit on the boundary, the others on either side."""
    wd2 = {}
    for case, kw in OSCILLATOR_CASES.items():
        p = get_system("driven_oscillator", **kw).param_values()
        wd2[case] = p["k"] / p["m"] - (p["c"] / (2 * p["m"])) ** 2
    assert wd2["critically-damped-exact-zero"] == 0.0
    assert abs(wd2["critically-damped"]) < 1e-15
    assert wd2["overdamped"] < 0 and wd2["overdamped-m"] < 0
    assert wd2["underdamped"] > 0


@pytest.mark.parametrize("t0", [0.0, 2.5, 17.0])
@pytest.mark.parametrize("case", list(OSCILLATOR_CASES))
def test_oscillator_exact_starts_at_s0(case, t0):
    system = get_system("driven_oscillator", **OSCILLATOR_CASES[case])
    s0 = np.array([-1.2, 0.7])
    start = system.exact(np.array([t0, t0 + 1.0]), s0, t0, system.params)[0]
    assert_allclose(start, s0, rtol=0, atol=1e-12)


def test_oscillator_resonance_grows_like_t():
    """Defaults m = k = omega = 1, c = 0, A = 0.5, from rest: s = A t sin(t) / 2."""
    system = get_system("driven_oscillator")
    t = np.linspace(0.0, 30.0, 3001)
    s, v = system.exact(t, np.zeros(2), 0.0, system.params).T
    assert_allclose(s, 0.25 * t * np.sin(t), rtol=0, atol=1e-12 * 30)
    assert_allclose(v, 0.25 * (np.sin(t) + t * np.cos(t)), rtol=0, atol=1e-12 * 30)
    late = np.max(np.abs(s[t >= 20]))
    early = np.max(np.abs(s[t <= 10]))
    assert late > 4.0
    assert 7.4 < late < 7.5  # about 0.25 * 29.87, near the peak of t |sin t| at t = 9.5 pi
    assert late > 2.5 * early


def test_oscillator_closed_forms():
    """Textbook solutions, written independently of the library's unified formula."""
    t = np.linspace(0.0, 25.0, 501)

    def exact(s0, **kw):
        system = get_system("driven_oscillator", **kw)
        return system.exact(t, np.asarray(s0, dtype=float), 0.0, system.params)

    # off resonance, from rest: s = A/m (cos(omega t) - cos(w0 t)) / (w0^2 - omega^2)
    m, k, A, omega = 2.0, 8.0, 1.5, 0.5
    w0 = np.sqrt(k / m)
    expected = A / m * (np.cos(omega * t) - np.cos(w0 * t)) / (w0**2 - omega**2)
    assert_allclose(exact([0, 0], m=m, k=k, A=A, omega=omega)[:, 0], expected, atol=1e-13)
    # at resonance, from rest, m != 1: s = A t sin(w0 t) / (2 m w0)
    m, k, A = 2.0, 0.5, 1.2
    w0 = np.sqrt(k / m)
    expected = A * t * np.sin(w0 * t) / (2 * m * w0)
    assert_allclose(exact([0, 0], m=m, k=k, A=A, omega=w0)[:, 0], expected, atol=1e-12)
    # static force (omega = 0), from rest: s = A/k (1 - cos(w0 t))
    k, A = 4.0, 0.8
    expected = A / k * (1 - np.cos(2.0 * t))
    assert_allclose(exact([0, 0], k=k, A=A, omega=0.0)[:, 0], expected, atol=1e-13)
    # critically damped, unforced: s = (s0 + (v0 + gamma s0) t) exp(-gamma t), gamma = c / 2m
    s0, v0 = 0.6, -2.0
    for m, k in [(1.0, 1.0), (2.0, 3.0)]:
        gamma = np.sqrt(k / m)
        expected = (s0 + (v0 + gamma * s0) * t) * np.exp(-gamma * t)
        got = exact([s0, v0], m=m, k=k, c=2 * np.sqrt(k * m), A=0.0)[:, 0]
        assert_allclose(got, expected, atol=1e-13)
    # overdamped, unforced: s = a exp(r1 t) + b exp(r2 t) with r = -gamma +- mu
    m, k, c = 1.5, 0.8, 4.0
    gamma = c / (2 * m)
    mu = np.sqrt(gamma**2 - k / m)
    r1, r2 = -gamma + mu, -gamma - mu
    b = (v0 - r1 * s0) / (r2 - r1)
    expected = (s0 - b) * np.exp(r1 * t) + b * np.exp(r2 * t)
    assert_allclose(exact([s0, v0], m=m, k=k, c=c, A=0.0)[:, 0], expected, atol=1e-13)
    # underdamped, unforced: s = exp(-gamma t) (s0 cos(w t) + (v0 + gamma s0) sin(w t) / w)
    m, k, c = 1.0, 4.0, 0.4
    gamma, w = 0.2, np.sqrt(4.0 - 0.04)
    expected = np.exp(-gamma * t) * (s0 * np.cos(w * t) + (v0 + gamma * s0) * np.sin(w * t) / w)
    assert_allclose(exact([s0, v0], m=m, k=k, c=c, A=0.0)[:, 0], expected, atol=1e-13)


def test_oscillator_exact_is_batched_like_one_by_one():
    cases = list(OSCILLATOR_CASES.values())
    names = [p.name for p in get_system("driven_oscillator").parameters]
    single = [get_system("driven_oscillator", **kw) for kw in cases]
    params = {name: np.array([float(s.params[name]) for s in single]) for name in names}
    batched = get_system("driven_oscillator", **params)
    t = 1.3 + np.linspace(0.0, 20.0, 401)
    s0 = np.random.default_rng(7).uniform(-1, 1, (len(cases), 2))
    together = batched.exact(t, s0, 1.3, batched.params)
    assert together.shape == (len(cases), len(t), 2)
    for i, system in enumerate(single):
        alone = system.exact(t, s0[i], 1.3, system.params)
        scale = max(1.0, float(np.max(np.abs(alone))))
        assert_allclose(together[i], alone, rtol=0, atol=1e-14 * scale)
    # one parameter set, a batch of initial states
    system = single[0]
    together = system.exact(t, s0, 1.3, system.params)
    for i in range(len(s0)):
        assert_allclose(together[i], system.exact(t, s0[i], 1.3, system.params), atol=1e-15)


@pytest.mark.parametrize("rate", [1.0, 0.3, -0.2, 0.0])
@pytest.mark.parametrize("t0", [0.0, -1.5])
def test_exponential_decay_exact(rate, t0):
    system = get_system("exponential_decay", rate=rate)
    t = t0 + np.linspace(0.0, 30.0, 601)
    s0 = np.array([1.7])
    exact = system.exact(t, s0, t0, system.params)
    assert exact.shape == (len(t), 1)
    assert exact[0, 0] == s0[0]
    assert_allclose(exact[:, 0], 1.7 * np.exp(-rate * (t - t0)), rtol=1e-14)
    oracle = tight_solution(lambda _, y: -rate * y, t, s0)
    scale = max(1.0, float(np.max(np.abs(exact))))
    assert np.max(np.abs(exact - oracle)) <= IVP_TOLERANCE * scale


def test_exponential_decay_exact_is_batched_like_one_by_one():
    rates = np.array([2.0, 0.5, -0.1, 0.0])
    s0 = np.array([[1.0], [-2.0], [0.5], [3.0]])
    t = np.linspace(0.5, 5.0, 46)
    batched = get_system("exponential_decay", rate=rates)
    together = batched.exact(t, s0, 0.5, batched.params)
    assert together.shape == (4, len(t), 1)
    for i, rate in enumerate(rates):
        alone = get_system("exponential_decay", rate=rate)
        assert_allclose(together[i], alone.exact(t, s0[i], 0.5, alone.params), rtol=1e-15)


# -- energy and conserved quantities ------------------------------------------------------------
def test_undamped_oscillator_exact_energy_is_constant(rng):
    for _ in range(5):
        m, k = rng.uniform(0.3, 3.0, 2)
        system = get_system("driven_oscillator", m=m, k=k, A=0.0, c=0.0)
        t = np.linspace(0.0, 100.0, 5001)
        states = system.exact(t, rng.uniform(-2, 2, 2), 0.0, system.params)
        energy = system.energy(states, system.params)
        assert_allclose(energy[0], 0.5 * m * states[0, 1] ** 2 + 0.5 * k * states[0, 0] ** 2)
        assert np.max(np.abs(energy / energy[0] - 1)) < 1e-12
        # and the motion is not trivial: the energy moves between its two terms
        kinetic = 0.5 * m * states[:, 1] ** 2
        assert np.max(kinetic) > 0.99 * energy[0] and np.min(kinetic) < 0.01 * energy[0]


def along_tight_solution(system, s0, t_end: float) -> np.ndarray:
    p = system.params
    t = np.linspace(0.0, t_end, 2001)
    sol = solve_ivp(
        lambda tt, y: evaluate(system, tt, y, p),
        (0.0, t_end),
        s0,
        method="DOP853",
        t_eval=t,
        rtol=1e-11,
        atol=1e-12,
    )
    assert sol.status == 0
    return sol.y.T


def test_lotka_volterra_quantity_is_conserved():
    system = get_system("lotka_volterra")
    states = along_tight_solution(system, [10.0, 5.0], 20.0)
    prey = states[:, 0]
    assert prey.max() > 3 * prey.min()  # several real cycles, not a fixed point
    value = system.energy(states, system.params)
    a, b, g, d = 1.5, 1.0, 3.0, 1.0
    assert_allclose(value[0], d * 10 - g * np.log(10) + b * 5 - a * np.log(5), rtol=1e-15)
    assert np.max(np.abs(value / value[0] - 1)) < 1e-8  # measured 1.1e-10
    # the quantity is not constant off the trajectory
    nearby = system.energy(states * 1.01, system.params)
    assert np.max(np.abs(nearby / value[0] - 1)) > 1e-4


@pytest.mark.parametrize("params", [{}, {"g": 4.0, "length": 2.0}])
def test_undamped_pendulum_energy_is_conserved(params):
    system = get_system("pendulum", damping=0.0, **params)
    states = along_tight_solution(system, [2.5, 0.5], 20.0)
    energy = system.energy(states, system.params)
    assert np.max(np.abs(energy / energy[0] - 1)) < 1e-8  # measured 4e-11
    assert np.ptp(states[:, 0]) > 4.0  # large swings, where sin(theta) is far from theta


def test_damped_pendulum_energy_decreases():
    system = get_system("pendulum", damping=0.3)
    states = along_tight_solution(system, [2.5, 0.5], 20.0)
    energy = system.energy(states, system.params)
    assert np.all(np.diff(energy) <= 1e-12)
    assert energy[-1] < 0.1 * energy[0]


def test_unforced_undamped_duffing_energy_is_conserved():
    system = get_system("duffing", delta=0.0, gamma=0.0)
    states = along_tight_solution(system, [1.0, 0.3], 20.0)
    energy = system.energy(states, system.params)
    assert np.max(np.abs(energy - energy[0])) < 1e-8 * max(1.0, abs(float(energy[0])))


@pytest.mark.parametrize("value", [True, False, [True, False]])
def test_boolean_parameters_are_refused(value):
    with pytest.raises(InputError, match="parameter 'k' of driven_oscillator must be a number"):
        get_system("driven_oscillator", k=value)


# -- typical initial states (where datasets draw s0) --------------------------------------------
ODES = [name for name in ALL if SYSTEMS[name].kind == "ode"]


@pytest.mark.parametrize("name", ODES)
def test_typical_initial_states_are_declared_and_documented(name):
    cls = SYSTEMS[name]
    ranges = cls.typical_s0_ranges()
    assert list(ranges) == list(cls.states)
    assert all(np.isfinite(lo) and np.isfinite(hi) and lo < hi for lo, hi in ranges.values())
    assert set(cls.typical_s0) <= set(cls.states)
    assert cls.transient >= 0
    lines = [line.strip() for line in (cls.__doc__ or "").splitlines()]
    assert any(line.startswith("Typical initial states: ") for line in lines)
    described = get_system(name).describe()
    assert described["typical_s0"] == {k: list(v) for k, v in ranges.items()}
    assert described["transient"] == cls.transient


def test_maps_declare_no_typical_initial_states():
    assert "typical_s0" not in get_system("logistic_map").describe()


def test_lotka_volterra_typical_states_are_positive_around_the_equilibrium():
    system = get_system("lotka_volterra")
    (x_lo, x_hi), (y_lo, y_hi) = system.typical_s0_ranges().values()
    p = {k: float(v) for k, v in system.params.items()}
    assert x_lo > 0 and y_lo > 0
    assert x_lo < p["gamma"] / p["delta"] < x_hi and y_lo < p["alpha"] / p["beta"] < y_hi


def test_pendulum_typical_states_swing_and_rotate():
    """At the defaults the box holds energies below and above the separatrix E = 2 g/length."""
    system = get_system("pendulum")
    (t_lo, t_hi), (w_lo, w_hi) = system.typical_s0_ranges().values()
    assert (t_lo, t_hi) == (-np.pi, np.pi)
    separatrix = 2 * float(system.params["g"] / system.params["length"])
    corners = np.array([[0.0, 0.0], [0.0, w_hi], [0.0, w_lo], [np.pi, 0.0]])
    energy = system.energy(corners, system.params)
    assert energy[0] < separatrix < min(energy[1], energy[2])
    assert min(energy[1], energy[2]) > 1.5 * separatrix  # well above: whole turns
    assert energy[3] == pytest.approx(separatrix)  # theta = pi is on the separatrix


def test_van_der_pol_typical_box_holds_its_limit_cycle():
    system = get_system("van_der_pol")
    t = np.linspace(20.0, 40.0, 401)
    sol = solve_ivp(
        lambda tt, y: system.rhs(tt, y, None, system.params),
        (0, 40),
        [0.1, 0.0],
        t_eval=t,
        rtol=1e-9,
        atol=1e-12,
    )
    (x_lo, x_hi), (y_lo, y_hi) = system.typical_s0_ranges().values()
    assert x_lo < sol.y[0].min() < -1.9 and 1.9 < sol.y[0].max() < x_hi
    assert y_lo < sol.y[1].min() and sol.y[1].max() < y_hi


def test_lorenz_runs_a_transient_and_user_systems_keep_the_default():
    from dynsys.experiments.user_system import make_system_class

    assert SYSTEMS["lorenz"].transient == 10.0
    assert SYSTEMS["lorenz"].typical_s0_ranges()["z"] == (10.0, 40.0)
    user = make_system_class("u", ["q", "p"], {"a": 1.0}, {"q": "p", "p": "-a*q"})
    assert user.typical_s0_ranges() == {"q": (-1.0, 1.0), "p": (-1.0, 1.0)}
    assert user.transient == 0.0
