"""User-defined systems: equations as text, run by every part of dynsys like a built-in one."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dynsys
from dynsys import kernels
from dynsys.errors import DynsysError, InputError
from dynsys.experiments.expressions import ExpressionError
from dynsys.experiments.user_system import (
    UserSystem,
    make_system_class,
    register_user_system,
    user_system_class,
)
from dynsys.steppers import STEPPERS, Splitting
from dynsys.systems import SYSTEMS, Parameter, System, get_system
from dynsys.systems.base import Params, jacobian_matrix

ISSUE = {
    "states": ["x", "y"],
    "params": {"a": 1.0, "b": 0.5},
    "equations": {"x": "y", "y": "-a*sin(x) - b*y + 0.3*cos(t)"},
}
ODE_STEPPERS = [name for name, s in STEPPERS.items() if s.kind == "ode"]


@pytest.fixture(scope="module")
def pendulum() -> type[UserSystem]:
    """The issue's example, with a Jacobian and an energy."""
    return make_system_class(
        "user_pendulum",
        **ISSUE,
        jacobian={"x": {"y": "1"}, "y": {"x": "-a*cos(x)", "y": "-b"}},
        energy="y**2/2 + a*(1 - cos(x))",
        s0=[1.0, 0.0],
    )


class HandWritten(System):
    """The issue's example written as a built-in system.

    Equations::

        dx/dt = y
        dy/dt = -a sin(x) - b y + 0.3 cos(t)
    """

    name = "hand_written"
    states = ("x", "y")
    default_s0 = (1.0, 0.0)
    parameters = (Parameter("a", 1.0, "a"), Parameter("b", 0.5, "b"))

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        pos, vel = s
        return vel, -p.a * np.sin(pos) - p.b * vel + 0.3 * np.cos(t)


class HandWrittenDriven(HandWritten):
    """dx/dt = y, dy/dt = x_drive - a sin(x) - b y with the drive A cos(w t)."""

    name = "hand_written_driven"
    parameters = (*HandWritten.parameters, Parameter("A", 0.3, "A"), Parameter("w", 1.2, "w"))

    @staticmethod
    def vector_field(t, s, x, p: Params) -> tuple:
        pos, vel = s
        return vel, x - p.a * np.sin(pos) - p.b * vel

    @staticmethod
    def forcing(t, p: Params):
        return p.A * np.cos(p.w * t)


def numpy_rk4(a, b, s0, dt, n):
    """RK4 on the issue's equations, written out."""

    def g(t, s):
        return np.array([s[1], -a * np.sin(s[0]) - b * s[1] + 0.3 * np.cos(t)])

    s, out = np.array(s0, dtype=np.float64), [np.array(s0, dtype=np.float64)]
    for k in range(n):
        t = k * dt
        k1 = g(t, s)
        k2 = g(t + dt / 2, s + dt / 2 * k1)
        k3 = g(t + dt / 2, s + dt / 2 * k2)
        k4 = g(t + dt, s + dt * k3)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(s)
    return np.array(out)


def test_issue_example_with_rk4_matches_numpy(pendulum):
    traj = dynsys.simulate(pendulum(), [1.0, 0.0], t_span=(0, 10), dt=0.01, method="rk4")
    expected = numpy_rk4(1.0, 0.5, [1.0, 0.0], 0.01, 1000)
    np.testing.assert_allclose(traj.states, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", ODE_STEPPERS)
def test_every_stepper_matches_the_hand_written_system(pendulum, method):
    stepper = STEPPERS[method]
    damping = 0.0 if isinstance(stepper, Splitting) else 0.1  # a splitting needs b = 0
    params = {"a": np.array([0.5, 1.0, 2.0]), "b": damping}
    got = dynsys.simulate(pendulum(**params), [1.0, 0.0], t_span=(0, 5), dt=0.05, method=method)
    want = dynsys.simulate(
        HandWritten(**params), [1.0, 0.0], t_span=(0, 5), dt=0.05, method=method, backend="numpy"
    )
    # Newton stops on a tolerance, with the YAML jacobian or differences of the hand-written g
    tolerance = 1e-12 if stepper.implicit else 1e-15
    np.testing.assert_allclose(got.states, want.states, rtol=tolerance, atol=tolerance)


def test_batch_over_parameters_equals_one_by_one(pendulum):
    a = np.array([0.5, 1.0, 2.0, 4.0])
    s0 = np.array([[1.0, 0.0], [0.5, 0.1], [-1.0, 0.3], [2.0, -1.0]])
    batch = dynsys.simulate(pendulum(a=a), s0, t_span=(0, 3), dt=0.01, method="heun")
    for i in range(len(a)):
        one = dynsys.simulate(pendulum(a=a[i]), s0[i], t_span=(0, 3), dt=0.01, method="heun")
        np.testing.assert_allclose(batch.states[i], one.states, rtol=1e-15, atol=1e-15)


def test_drive_makes_a_driven_system_with_its_samples():
    cls = make_system_class(
        "user_driven",
        ["q", "v"],
        {"a": 1.0, "b": 0.5, "A": 0.3, "w": 1.2},
        {"q": "v", "v": "x - a*sin(q) - b*v"},
        drive="A*cos(w*t)",
    )
    assert cls().driven and cls.equations()[-1].endswith("with the drive x(t) = A*cos(w*t)")
    params = {"A": np.array([0.1, 0.3]), "w": 1.2}
    for method in ("euler", "rk4", "dopri5", "semi_implicit_euler"):
        got = dynsys.simulate(cls(**params), [0.1, 0.0], t_span=(0, 4), dt=0.1, method=method)
        want = dynsys.simulate(HandWrittenDriven(**params), [0.1, 0.0], t_span=(0, 4), dt=0.1,
                               method=method, backend="numpy")  # fmt: skip
        np.testing.assert_allclose(got.states, want.states, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(got.x, params["A"][:, None] * np.cos(1.2 * got.t))
        assert got.x.shape == got.states.shape[:-1]


def test_x_is_a_state_name_without_a_drive_and_reserved_with_one():
    decay = make_system_class("u", ["x"], None, {"x": "-x"})()
    assert decay.rhs(0.0, np.ones(1), None, decay.params).tolist() == [-1.0]
    with pytest.raises(InputError, match=r"system.states\[0\]: 'x' is reserved for the drive"):
        make_system_class("u", ["x"], None, {"x": "-x"}, drive="cos(t)")


def test_jacobian_and_energy(pendulum, rng):
    system = pendulum(a=np.array([1.0, 2.0]))
    s = rng.normal(size=(2, 2))
    jac = system.jacobian(0.3, s, system.params)
    a = system.params["a"]
    expected = np.stack(
        [
            jacobian_matrix([[0.0, 1.0], [-a[i] * np.cos(s[i, 0]), -0.5]], s[i], Params())
            for i in range(2)
        ]
    )
    np.testing.assert_allclose(jac, expected)
    step = 1e-6  # and it is the derivative of rhs
    for j in range(2):
        ds = np.zeros(2)
        ds[j] = step
        fd = (
            system.rhs(0.3, s + ds, None, system.params)
            - system.rhs(0.3, s - ds, None, system.params)
        ) / (2 * step)
        np.testing.assert_allclose(jac[..., j], fd, atol=1e-8)
    traj = dynsys.simulate(system, [1.0, 0.0], t_span=(0, 2), dt=0.01, method="rk4")
    energy = traj.energy()
    assert energy.shape == (2, len(traj.t))
    x, y = traj.states[..., 0], traj.states[..., 1]
    np.testing.assert_allclose(energy, y**2 / 2 + a[:, None] * (1 - np.cos(x)))
    assert dynsys.energy_drift(traj) > 0


def test_unspecified_jacobian_entries_are_zero():
    cls = make_system_class(
        "u", ["p", "q"], {"k": 2.0}, {"p": "q", "q": "-k*p"}, jacobian={"q": {"p": "-k"}}
    )
    np.testing.assert_array_equal(cls().jacobian(0.0, np.zeros(2), cls().params), [[0, 0], [-2, 0]])


def test_reference_and_compare(pendulum):
    system = pendulum(a=2.0)
    t = np.linspace(0, 5, 51)
    for method in ("DOP853", "Radau"):  # Radau uses the Jacobian
        got = dynsys.reference(system, [1.0, 0.0], t, method=method)
        want = dynsys.reference(HandWritten(a=2.0), [1.0, 0.0], t, method=method)
        np.testing.assert_allclose(got.states, want.states, atol=1e-8)
    comparison = dynsys.compare(
        system, [1.0, 0.0], t_span=(0, 2), dt=0.01, methods=["euler", "rk4"]
    )
    assert comparison.methods["rk4"].errors.max_abs_error < 1e-8
    assert comparison.methods["rk4"].energy_error is not None


def test_never_compiled_by_numba(pendulum):
    system = pendulum()
    assert pendulum.vector_field is None
    for stepper in ("euler", "semi_implicit_euler", "rk4"):
        assert not kernels.supports(system, STEPPERS[stepper])
    traj = dynsys.simulate(system, [1.0, 0.0], t_span=(0, 1), dt=0.1, backend="auto")
    assert traj.info["backend"] == "numpy"
    if kernels.available():
        with pytest.raises(InputError, match="backend 'numba' cannot run"):
            dynsys.simulate(system, [1.0, 0.0], t_span=(0, 1), dt=0.1, backend="numba")


def test_class_describes_itself(pendulum):
    assert issubclass(pendulum, UserSystem) and pendulum.__name__ == "UserPendulum"
    assert pendulum.equations() == ["dx/dt = y", "dy/dt = -a*sin(x) - b*y + 0.3*cos(t)"]
    described = pendulum().describe()
    assert described["states"] == ["x", "y"] and described["default_s0"] == [1.0, 0.0]
    assert described["jacobian"] and described["energy"] and not described["driven"]
    assert [p["name"] for p in described["parameters"]] == ["a", "b"]
    assert repr(pendulum(b=0.25)) == "UserPendulum(a=1, b=0.25)"
    with pytest.raises(InputError, match="unknown parameter of user_pendulum 'c'"):
        pendulum(c=1.0)


def test_default_s0_is_zero_and_split_is_half():
    cls = make_system_class("u", ["q", "p", "r"], None, {"q": "p", "p": "-q", "r": "1"})
    assert cls.default_s0 == (0.0, 0.0, 0.0) and cls().n_positions == 1
    assert (
        make_system_class(
            "u", ["q", "p", "r"], None, {"q": "p", "p": "-q", "r": "1"}, split=2
        )().n_positions
        == 2
    )


def test_constant_equations_fill_the_batch():
    cls = make_system_class("u", ["s"], {"k": 1.0}, {"s": "1"})
    system = cls(k=[1.0, 2.0, 3.0])
    assert system.rhs(0.0, np.zeros((3, 1)), None, system.params).shape == (3, 1)
    traj = dynsys.simulate(system, [0.0], t_span=(0, 1), dt=0.5, method="rk4")
    np.testing.assert_allclose(traj.states[:, -1, 0], 1.0)


def test_pickles_as_its_definition(pendulum):
    system = pendulum(a=[1.0, 2.0])
    copy = pickle.loads(pickle.dumps(system))
    assert copy.name == system.name and copy.param_values() == system.param_values()
    s = np.array([[0.3, 0.1], [0.2, -0.4]])
    np.testing.assert_array_equal(
        copy.rhs(0.1, s, None, copy.params), system.rhs(0.1, s, None, system.params)
    )
    assert copy.equations() == system.equations()


def test_register_user_system(pendulum):
    try:
        assert register_user_system(pendulum) is pendulum
        assert isinstance(get_system("user_pendulum", a=3.0), pendulum)
        again = make_system_class("user_pendulum", **ISSUE)
        assert register_user_system(again) is again  # a user system may replace a user system
    finally:
        SYSTEMS.pop("user_pendulum", None)
    with pytest.raises(InputError, match="system name 'pendulum' is a built-in system"):
        register_user_system(make_system_class("pendulum", **ISSUE))
    assert SYSTEMS["pendulum"] is dynsys.systems.Pendulum


def test_system_names():
    assert make_system_class("pendule_amorti-é", **ISSUE).__name__ == "PenduleAmortiÉ"
    for bad in ("", "_u", "2u", "my system", None):
        with pytest.raises(InputError, match=r"system\.name must be letters, digits"):
            make_system_class(bad, **ISSUE)


def test_user_system_class_from_a_mapping():
    cls = user_system_class({**ISSUE, "name": "from_yaml", "s0": [0.5, 0]})
    assert cls.name == "from_yaml" and cls.default_s0 == (0.5, 0.0)
    assert user_system_class(ISSUE).name == "user_system"
    with pytest.raises(
        InputError, match=r"unknown key of system 'equation' \(did you mean 'equations'\?\)"
    ):
        user_system_class({"states": ["x"], "equation": {"x": "1"}})
    with pytest.raises(InputError, match=r"system.equations is required"):
        user_system_class({"states": ["x"]})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"states": []}, "system.states must name at least one state"),
        ({"states": "x"}, "system.states must be a list of state names, got 'x'"),
        ({"states": ["x", "x"]}, r"system.states\[1\]: 'x' appears twice"),
        ({"states": ["x", "2y"]}, r"system.states\[1\]: '2y' is not a name"),
        ({"states": ["x", "lambda"]}, r"system.states\[1\]: 'lambda' is a Python keyword"),
        (
            {"states": ["x", True]},
            r"system.states\[1\] must be a name \(a string\), got True \(quote",
        ),
        ({"states": ["x", "t"]}, r"system.states\[1\]: 't' is reserved for the time"),
        ({"states": ["x", "sin"]}, r"system.states\[1\]: 'sin' is the name of a function"),
        ({"states": ["x", "__y"]}, r"system.states\[1\]: '__y' starts with __"),
        ({"states": ["x", "µ"]}, r"system.states\[1\]: 'µ' is read by Python as 'μ'"),
        ({"states": ["x", "ｙ"]}, r"system.states\[1\]: 'ｙ' is read by Python as 'y'; write 'y'"),
        ({"params": {"name": 1.0}}, "system.params.name: 'name' is reserved for the system's name"),
        ({"params": {"a": 1.0, "x": 2.0}}, "system.params.x: 'x' is also a state"),
        ({"params": {"a": "one"}}, "system.params.a must be a finite number, got 'one'"),
        ({"params": {"a": float("nan")}}, "system.params.a must be a finite number, got nan"),
        ({"params": {"a": True}}, "system.params.a must be a finite number, got True"),
        ({"params": {"self": 1.0}}, "system.params.self: 'self' is reserved"),
        ({"params": [1.0]}, "system.params must map parameter names to numbers"),
        ({"equations": {"x": "y"}}, "system.equations.y: missing; every state needs an equation"),
        ({"equations": {"x": "y", "y": "1", "z": "2"}}, "system.equations.z: 'z' is not a state"),
        (
            {"equations": {"x": "y", "yy": "1"}},
            r"system.equations.yy: 'yy' is not a state \(did you mean 'y'\?\)",
        ),
        ({"equations": ["y", "1"]}, "system.equations must map each state to its ds/dt"),
        (
            {"equations": {"x": "y", "y": "x.__class__"}},
            r"system.equations.y: 'x.__class__' is not allowed",
        ),
        (
            {"equations": {"x": "y", "y": "-c*x"}},
            r"system.equations.y: '-c\*x' is not allowed: unknown name 'c'",
        ),
        ({"equations": {"x": "y", "y": "x + "}}, r"system.equations.y: cannot parse 'x \+'"),
        ({"equations": {"x": "y", "y": None}}, r"system.equations.y: must be an expression"),
        ({"energy": "t*y"}, r"system.energy: 't\*y' is not allowed: unknown name 't'"),
        ({"drive": "y*t"}, r"system.states\[0\]: 'x' is reserved"),
        ({"jacobian": {"x": {"z": "1"}}}, r"system.jacobian.x.z: 'z' is not a state"),
        ({"jacobian": {"w": {}}}, r"system.jacobian.w: 'w' is not a state"),
        ({"jacobian": {"y": {"x": "cos(q)"}}}, r"system.jacobian.y.x: 'cos\(q\)' is not allowed"),
        ({"jacobian": {"y": "1"}}, r"system.jacobian.y must map states to expressions"),
        ({"s0": [1.0]}, r"system.s0 must be 2 finite numbers \(x, y\), got 1 values"),
        ({"s0": [1.0, "a"]}, r"system.s0\[1\] must be a finite number, got 'a'"),
        ({"split": 3}, "system.split must be a whole number of position states, 0 to 2"),
        ({"name": "my system"}, "system.name must be letters, digits"),
    ],
)
def test_definition_errors_name_the_field(changes, message):
    definition = {"name": "u", **ISSUE, **changes}
    with pytest.raises(InputError, match=message) as info:
        make_system_class(**definition)
    assert "\n" not in str(info.value)


def test_drive_reads_t_and_params_only():
    with pytest.raises(
        ExpressionError, match=r"system.drive: 'y\*t' is not allowed: unknown name 'y'"
    ):
        make_system_class("u", ["p", "y"], {"a": 1.0}, {"p": "y", "y": "x"}, drive="y*t")


def test_field_prefix_is_configurable():
    with pytest.raises(InputError, match=r"^systems\[2\].equations.y: missing"):
        make_system_class("u", ["x", "y"], None, {"x": "y"}, field="systems[2]")


# -- random definitions: a valid run or a clean error ------------------------------------------

GOOD = ["x", "-y", "a*x - b*y", "sin(t)", "1/x", "y**3", "x if x > 0 else y", "exp(x)", "b*t", 1]
BAD = ["q", "x.y", "", "x +", "__import__('os')", "[x]", "exp(exp(exp(y + 3)))", None]
EXPRESSIONS = st.sampled_from([*GOOD, *BAD])
NAME = st.sampled_from(["x", "y", "a", "b", "t", "sin", "lambda", "2x", "__x", "", True, 1])
VALID = {
    "states": ["x", "y"],
    "params": {"a": 1.0, "b": 0.5},
    "equations": {"x": "y", "y": "-a*sin(x) - b*y"},
    "drive": None,
    "energy": None,
    "s0": [0.5, 0.0],
}
MUTATIONS = {
    "states": st.lists(NAME, max_size=3) | st.sampled_from([["x"], ["y", "x"], "xy", None]),
    "params": st.dictionaries(NAME, st.floats() | st.sampled_from(["z", None]), max_size=3),
    "equations": st.dictionaries(st.sampled_from(["x", "y", "z", 1]), EXPRESSIONS, max_size=3)
    | st.fixed_dictionaries({"x": EXPRESSIONS, "y": EXPRESSIONS}),
    "drive": st.none() | EXPRESSIONS,
    "energy": st.none() | EXPRESSIONS,
    "s0": st.none() | st.lists(st.floats(-3, 3) | st.sampled_from(["1", None]), max_size=3),
}


@st.composite
def definitions(draw):
    """The issue's example with up to three of its fields replaced by random ones."""
    definition = dict(VALID)
    for key in draw(st.lists(st.sampled_from(list(MUTATIONS)), max_size=3)):
        definition[key] = draw(MUTATIONS[key])
    return definition


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definitions())
def test_random_definitions_run_or_fail_cleanly(definition):
    try:
        cls = make_system_class("u", **definition)
    except InputError as err:
        assert str(err) and "\n" not in str(err)
        return
    system = cls(b=[0.1, 0.2]) if "b" in definition["params"] else cls()
    try:
        traj = dynsys.simulate(system, system.default_s0, t_span=(0, 1), dt=0.25, method="rk4")
    except DynsysError:
        return
    assert traj.states.shape[-2:] == (5, len(cls.states))
    assert np.isfinite(traj.states).all()
    if definition["energy"] is not None:
        assert traj.energy().shape == traj.states.shape[:-1]
    if definition["drive"] is not None:
        assert traj.x.shape == traj.states.shape[:-1]
