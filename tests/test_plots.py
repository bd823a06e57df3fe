"""The figures: what they draw (trajectories, equilibria, slopes, regions), the files they make,
the maths under the stability plot, and the plotting commands with good and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from images import assert_image, lines  # tests/images.py

from dynsys import STEPPERS, InputError, Parameter, System, get_system
from dynsys.cli import main
from dynsys.plots import (
    amplification,
    convergence_plot,
    error_plot,
    in_region,
    phase_portrait,
    rnn_graph,
    save_figure,
    stability_function,
    stability_plot,
    stability_polynomial,
    stepper_graph,
    timeseries_plot,
    unrolled_plot,
)
from dynsys.plots.marks import EQUILIBRIUM, TRAJECTORY
from dynsys.plots.stability import SPLIT

# -- phase portraits -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def van_der_pol():
    system = get_system("van_der_pol", mu=1.0)
    s0 = [[0.1, 0.0], [3.0, 3.0], [-2.0, 3.0]]
    return phase_portrait(system, s0, t_span=(0.0, 8.0), dt=0.02, xlim=(-3, 3), ylim=(-4, 4))


def test_phase_portrait_draws_what_it_says(van_der_pol):
    fig, info = van_der_pol
    ax = fig.axes[0]
    assert info.layout == "field"
    assert info.trajectories == 3 == len(lines(ax))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    assert "mu=1" in ax.get_title()
    assert [(tuple(e.point), e.kind) for e in info.equilibria] == [((0.0, 0.0), "unstable focus")]
    assert len(lines(ax, EQUILIBRIUM)) == 1
    assert any(t.get_text() == "unstable focus" for t in ax.texts)
    assert len(fig.axes) == 2  # the colour bar of the speed
    assert ax.get_xlim() == (-3.0, 3.0) and ax.get_ylim() == (-4.0, 4.0)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "nullcline dx/dt = 0" in labels and "nullcline dy/dt = 0" in labels


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_save_figure_writes_each_format(van_der_pol, tmp_path, suffix):
    path = save_figure(van_der_pol[0], tmp_path / f"portrait{suffix}")
    assert_image(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_save_figure_refuses_other_suffixes(van_der_pol, tmp_path):
    with pytest.raises(InputError, match=r"must end in one of \.png, \.svg, \.pdf"):
        save_figure(van_der_pol[0], tmp_path / "portrait.jpg")
    with pytest.raises(InputError, match="does not exist"):
        save_figure(van_der_pol[0], tmp_path / "no" / "portrait.png")


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_same_input_same_bytes(tmp_path, suffix):
    def render(name):
        fig, _ = phase_portrait(get_system("pendulum"), [1.0, 0.0], t_span=(0, 3), dt=0.05)
        return save_figure(fig, tmp_path / f"{name}{suffix}").read_bytes()

    assert render("a") == render("b")


def test_grid_of_initial_states_and_pendulum_types():
    fig, info = phase_portrait(
        get_system("pendulum", damping=0.5), grid=3, xlim=(-4, 4), ylim=(-5, 5), t_span=(0, 2)
    )
    assert info.trajectories == 9 == len(lines(fig.axes[0]))
    assert [e.kind for e in info.equilibria] == ["saddle", "stable focus", "saddle"]
    np.testing.assert_allclose([e.point[0] for e in info.equilibria], [-np.pi, 0, np.pi])


def test_methods_beside_solve_ivp_euler_spirals_out():
    system = get_system("driven_oscillator", A=0.0)  # undamped, undriven: a circle
    fig, info = phase_portrait(
        system, [1.0, 0.0], methods="euler,semi_implicit_euler", dt=0.1, t_span=(0, 20)
    )
    assert info.layout == "driven"  # driven_oscillator has a drive, even at A = 0
    assert info.methods == ("solve_ivp", "euler", "semi_implicit_euler")
    drawn = {line.get_label(): line for line in lines(fig.axes[0])}
    radius = {m: np.hypot(*drawn[m].get_data())[-1] for m in info.methods}
    assert radius["euler"] > 2.5  # (1 + h^2)^(n/2) = 1.01^100
    assert abs(radius["semi_implicit_euler"] - 1) < 0.1
    assert abs(radius["solve_ivp"] - 1) < 1e-6
    assert [e.kind for e in info.equilibria] == ["centre"]


def test_driven_poincare_section():
    system = get_system("duffing")
    fig, info = phase_portrait(system, t_span=(0, 60), poincare=True)
    period = 2 * np.pi / 1.2
    assert info.section_points == int(60 // period) + 1
    assert len(fig.axes) == 2
    section = [c for c in fig.axes[1].collections if c.get_gid() == "section"]
    assert len(section) == 1 and len(section[0].get_offsets()) == info.section_points
    assert fig.axes[1].get_xlabel() == "s" and fig.axes[1].get_ylabel() == "v"
    assert [e.kind for e in info.equilibria] == ["stable focus", "saddle", "stable focus"]


def test_escaping_initial_states_are_counted_not_drawn():
    # mu < 0: the origin is stable inside an unstable cycle; from (4, 0) x blows up
    system = get_system("van_der_pol", mu=-1.0)
    fig, info = phase_portrait(
        system, [[0.5, 0], [4, 0]], t_span=(0, 10), xlim=(-3, 3), ylim=(-3, 3)
    )
    assert (info.trajectories, info.failed) == (1, 1) and len(lines(fig.axes[0])) == 1
    assert "1 initial states escaped" in info.summary()


def test_lorenz_3d_and_projections():
    system = get_system("lorenz")
    fig, info = phase_portrait(system, [[1, 1, 1], [-1, 2, 20]], t_span=(0, 5))
    assert info.layout == "3d" and info.trajectories == 2
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("x", "y", "z")
    fig, info = phase_portrait(system, t_span=(0, 5), projections=True)
    assert info.layout == "projections" and len(fig.axes) == 3
    pairs = [(a.get_xlabel(), a.get_ylabel()) for a in fig.axes]
    assert pairs == [("x", "y"), ("x", "z"), ("y", "z")]
    assert all(len(lines(a)) == 1 for a in fig.axes)


def test_projection_on_chosen_states():
    fig, info = phase_portrait(get_system("lorenz"), t_span=(0, 3), states="z,0")
    assert info.layout == "projection"
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("z", "x")


def test_maps_cobweb_and_orbit():
    fig, info = phase_portrait(get_system("logistic_map", r=2.5), [[0.1], [0.9]], xlim=(-0.1, 1))
    assert info.layout == "cobweb" and info.trajectories == 2 == len(lines(fig.axes[0]))
    assert [e.kind for e in info.equilibria] == ["unstable node", "stable node"]
    fig, info = phase_portrait(get_system("henon_map"), t_span=(0, 500))
    assert info.layout == "orbit"
    (cloud,) = [c for c in fig.axes[0].collections if c.get_gid() == TRAJECTORY]
    assert len(cloud.get_offsets()) == 501
    assert [e.kind for e in info.equilibria] == ["saddle", "saddle"]


def test_one_state_against_time():
    fig, info = phase_portrait(
        get_system("exponential_decay"),
        [[1.0], [2.0]],
        vs_time=True,
        methods="euler",
        dt=0.5,
        t_span=(0, 5),
    )
    assert info.layout == "vs_time" and info.trajectories == 3
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("t", "s")


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("exponential_decay", {}, "needs two or more: plot the state against time"),
        ("van_der_pol", {"xlim": (2, 1)}, "xlim must be two numbers a,b with a < b"),
        ("van_der_pol", {"ylim": "1,1"}, "ylim must be two numbers"),
        ("van_der_pol", {"xlim": "1"}, "xlim must be two numbers"),
        ("lorenz", {"states": "x,5"}, "state index 5 does not exist; lorenz has states"),
        ("lorenz", {"states": "x,w"}, "unknown state 'w'"),
        ("lorenz", {"states": "x,x"}, "states must be distinct"),
        ("van_der_pol", {"poincare": True}, "Poincaré section needs a driven ODE"),
        ("van_der_pol", {"projections": True}, "three or more states"),
        ("lorenz", {"grid": 3}, "grid needs a planar phase portrait"),
        ("van_der_pol", {"grid": -1}, "grid must be a whole number from 0 to 30"),
        ("van_der_pol", {"grid": 2.5}, "grid must be a whole number"),
        ("henon_map", {"methods": "euler"}, "discrete map"),
        ("van_der_pol", {"methods": "euler,nope"}, "unknown method 'nope'"),
        ("driven_oscillator", {"poincare": True, "t_span": (0, 5)}, "at least|>= 2 forcing"),
    ],
)
def test_phase_bad_input(name, kwargs, message):
    with pytest.raises(InputError, match=message):
        phase_portrait(get_system(name), **kwargs)


def test_batched_parameters_are_refused():
    with pytest.raises(InputError, match="one value per parameter"):
        phase_portrait(get_system("van_der_pol", mu=[1.0, 2.0]))


# -- against time, convergence -------------------------------------------------------------


def test_timeseries_panels_and_lines():
    fig, info = timeseries_plot(
        get_system("driven_oscillator"), t_span=(0, 5), dt=0.1, methods="euler,rk4"
    )
    assert info.panels == ("s", "v") and info.methods == ("solve_ivp", "euler", "rk4")
    assert [ax.get_ylabel() for ax in fig.axes] == ["s", "v"]
    assert all(len(lines(ax)) == 3 for ax in fig.axes)
    fig, info = timeseries_plot(get_system("lorenz"), t_span=(0, 1), dt=0.1, states="z")
    assert info.panels == ("z",) and [ax.get_ylabel() for ax in fig.axes] == ["z"]


def test_error_against_exact_or_reference():
    fig, info = error_plot(
        get_system("driven_oscillator"), t_span=(0, 5), dt=0.1, methods="euler,rk4"
    )
    assert info.against == "exact" and info.methods == ("solve_ivp", "euler", "rk4")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    final = {line.get_label(): line.get_ydata()[-1] for line in lines(ax)}
    assert final["rk4"] < 1e-3 * final["euler"]
    _, info = error_plot(get_system("van_der_pol"), t_span=(0, 5), dt=0.1, methods="heun")
    assert info.against == "reference" and info.methods == ("heun",)


def test_a_diverging_method_is_drawn_up_to_its_last_finite_state():
    _, info = timeseries_plot(
        get_system("van_der_pol", mu=5.0), t_span=(0, 30), dt=0.3, methods="euler"
    )
    assert info.diverged == ("euler",)


def test_convergence_slopes():
    fig, info = convergence_plot(
        get_system("driven_oscillator"), methods="euler,rk4", t_span=(0, 4), dt=0.1, levels=3
    )
    assert info.against == "exact" and info.expected == {"euler": 1, "rk4": 4}
    assert abs(info.slopes["rk4"] - 4) < 0.25
    assert abs(info.slopes["euler"] - 1) < 0.25
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert {"slope 1", "slope 2", "slope 4"} <= {t.get_text() for t in ax.texts}


# -- stability -----------------------------------------------------------------------------


def test_stability_regions_of_known_methods():
    assert in_region("euler", -1.0) and not in_region("euler", 0.5j)
    assert in_region("euler", -2.0) and not in_region("euler", -2.01)
    assert in_region("rk4", 2.5j) and not in_region("rk4", 2.9j)
    assert in_region("heun", -2.0) and not in_region("heun", 0.1j)
    assert in_region(SPLIT, 1.9j) and not in_region(SPLIT, 2.1j)
    assert not in_region(SPLIT, 0.1 + 0.5j) and in_region(SPLIT, -0.1 + 0.5j)


def test_stability_polynomial_of_rk4_is_the_exponential_series():
    rk4 = STEPPERS["rk4"]
    np.testing.assert_allclose(stability_polynomial(rk4.a, rk4.b), [1, 1, 1 / 2, 1 / 6, 1 / 24])
    # the general formula with (I - zA)^-1 agrees: backward Euler's R(z) = 1 / (1 - z)
    z = np.array([-3.0, 0.5j, 2.0 + 1j])
    np.testing.assert_allclose(stability_function(((1.0,),), (1.0,), z), 1 / (1 - z))


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "rk4", "dopri5"])
def test_stability_function_is_one_step_of_the_stepper(method):
    # s' = lambda s with lambda = -rate: one step multiplies s by R(h lambda)
    h, rate = 0.3, 2.5
    system = get_system("exponential_decay", rate=rate)
    step = STEPPERS[method].step(system, 0.0, h, np.array([1.0]), None, system.params)
    expected = stability_function(STEPPERS[method].a, STEPPERS[method].b, -h * rate)
    np.testing.assert_allclose(step[0], expected.real, rtol=1e-12)


class LinearOscillator(System):
    """q' = p, p' = -w2 q - gamma p: eigenvalues lambda, conj(lambda) of any sign of Re."""

    name = "linear_oscillator"
    states = ("q", "p")
    default_s0 = (1.0, 0.0)
    parameters = (Parameter("w2", 1.0, "|lambda|^2"), Parameter("gamma", 0.0, "-2 Re lambda"))

    def rhs(self, t, s, x, p):
        return np.stack((s[..., 1], -p["w2"] * s[..., 0] - p["gamma"] * s[..., 1]), axis=-1)


@pytest.mark.parametrize("lam", [2j, -0.3 + 1.5j, -1.0 + 0.5j, 0.2 + 1j, -2.0 + 0.1j])
def test_semi_implicit_region_is_the_oscillators_step_matrix(lam):
    h = 0.4
    system = LinearOscillator(w2=abs(lam) ** 2, gamma=-2 * lam.real)
    columns = [STEPPERS[SPLIT].step(system, 0.0, h, e, None, system.params) for e in np.eye(2)]
    radius = np.max(np.abs(np.linalg.eigvals(np.array(columns).T)))
    np.testing.assert_allclose(amplification(SPLIT, h * lam), radius, rtol=1e-12)


def test_stability_plot_marks_h_lambda_of_the_undamped_oscillator():
    fig, info = stability_plot(get_system("driven_oscillator"), dt=0.5, t_span=(0, 10))
    assert info.h == 0.5
    assert [e.kind for e in info.equilibria] == ["centre"]
    np.testing.assert_allclose(sorted(z.imag for z in info.h_lambda[0]), [-0.5, 0.5])
    assert info.inside["euler"] == ((False, False),)  # outside Euler's disc for every h
    assert info.inside["semi_implicit_euler"] == ((True, True),)
    assert info.inside["rk4"] == ((True, True),)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Re z", "Im z")


def test_stability_plot_bad_input():
    with pytest.raises(InputError, match="unknown method with a stability region 'map'"):
        stability_plot(get_system("van_der_pol"), methods="map")
    with pytest.raises(InputError, match="discrete map"):
        stability_plot(get_system("logistic_map"))


# -- unrolled graph ------------------------------------------------------------------------


def test_unrolled_graph_of_a_stepper():
    fig, info = unrolled_plot(stepper_graph(get_system("driven_oscillator"), "rk4", 0.1), 3)
    states = [n for n in info.nodes if n.startswith("s(")]
    inputs = [n for n in info.nodes if n.startswith("x(")]
    assert states == ["s(0)", "s(1)", "s(2)", "s(3)"] and inputs == ["x(1)", "x(2)", "x(3)"]
    assert info.nodes.count("f") == 3 and not info.elided
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "rk4" in texts and "θ = (m, k, A, c, omega), h = 0.1" in texts
    _, info = unrolled_plot(stepper_graph(get_system("van_der_pol"), "euler"), 50)
    assert info.elided and not any(n.startswith("x(") for n in info.nodes)
    assert [n for n in info.nodes if n.startswith("s(")] == [
        "s(0)",
        "s(1)",
        "s(2)",
        "s(49)",
        "s(50)",
    ]


def test_unrolled_graph_of_an_rnn_has_weights_on_the_edges():
    fig, info = unrolled_plot(rnn_graph(), 2)
    assert {"h(0)", "h(1)", "o(1)", "x(1)", "o(2)"} <= set(info.nodes)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("U") == texts.count("W") == texts.count("V") == 2


def test_unrolled_graph_bad_steps():
    with pytest.raises(InputError, match="steps must be a whole number"):
        unrolled_plot(rnn_graph(), 0)


# -- the command line ----------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["phase", "logistic_map", "--t-end", "20"], "cobweb.svg"),
        (["phase", "van_der_pol", "--s0", "1,0", "--s0", "0,2", "--t-end", "5"], "vdp.png"),
        (["plot", "timeseries", "van_der_pol", "--dt", "0.1", "--t-end", "3"], "ts.png"),
        (["plot", "error", "driven_oscillator", "--dt", "0.1", "--t-end", "3"], "err.pdf"),
        (["plot", "convergence", "driven_oscillator", "--t-end", "2", "--levels", "2"], "c.png"),
        (["plot", "stability", "pendulum", "--dt", "0.2", "--t-end", "3"], "stab.png"),
        (["plot", "unrolled", "duffing", "--method", "heun", "--steps", "8"], "graph.svg"),
    ],
)
def test_cli_writes_the_figure(tmp_path, args, name):
    out = tmp_path / name
    result = run(*args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out}: ")
    assert_image(out)


def test_cli_phase_summary_names_the_equilibria(tmp_path):
    out = tmp_path / "p.png"
    result = run(
        "phase",
        "pendulum",
        "-p",
        "damping=0.5",
        "--xlim",
        "-4,4",
        "--ylim",
        "-5,5",
        "--t-end",
        "2",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "(0, 0) stable focus" in result.output and "(3.142, 0) saddle" in result.output


BAD_INPUT = [
    (
        ["plot", "timeseris", "van_der_pol"],
        "unknown plot kind 'timeseris' (did you mean 'timeseries'?)",
    ),
    (["phase", "exponential_decay"], "--vs-time"),
    (
        ["phase", "van_der_pol", "--xlim", "2,1"],
        "xlim must be two numbers a,b with a < b, got '2,1'",
    ),
    (["phase", "van_der_pol", "--ylim", "0,0"], "ylim must be two numbers"),
    (["phase", "lorenz", "--states", "0,3"], "state index 3 does not exist"),
    (["phase", "van_der_pol", "--poincare"], "Poincaré section needs a driven ODE"),
    (["phase", "van_der_pol", "--out", "portrait.gif"], "must end in one of .png, .svg, .pdf"),
    (["phase", "van_der_pol", "--out", "no/such/dir/p.png"], "does not exist"),
    (["phase", "nope"], "unknown system 'nope'"),
    (["phase", "van_der_pol", "-p", "mu=1,2"], "one value per parameter"),
    (["plot", "timeseries", "lorenz", "--states", "q"], "unknown state 'q'"),
    (
        ["plot", "timeseries", "van_der_pol", "--levels", "3"],
        "--levels applies to plot convergence",
    ),
    (["plot", "convergence", "van_der_pol", "--methods", "solve_ivp"], "must be steppers"),
    (["plot", "stability", "henon_map"], "discrete map"),
    (["plot", "stability", "van_der_pol", "--xlim", "1,-1"], "xlim must be two numbers"),
    (["plot", "unrolled", "van_der_pol", "--steps", "0"], "steps must be a whole number"),
    (["plot", "unrolled", "van_der_pol", "--method", "rk5"], "unknown method 'rk5'"),
    (["plot", "error", "logistic_map"], "discrete map"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    out_lines = result.output.strip().splitlines()
    assert len(out_lines) == 1 and out_lines[0].startswith("Error: ")
    assert message in out_lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["phase", "plot"])
def test_cli_help_has_examples(command):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"dynsys {command}" in result.output and "Examples" in result.output
