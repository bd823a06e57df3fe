"""Events: zero crossings located on the Hermite interpolant of a trajectory, or on solve_ivp's
dense output, against the closed-form crossings of the undamped oscillator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from dynsys.errors import InputError
from dynsys.events import Event, find_events, parse_event, reference_events
from dynsys.simulate import simulate
from dynsys.systems import system_class
from dynsys.trajectory import Trajectory


def oscillator(**params):
    """x'' = -(k/m) x: s(t) = s0 cos(w t) + (v0 / w) sin(w t), w = sqrt(k/m)."""
    return system_class("driven_oscillator")(A=0.0, c=0.0, **params)


def exact_grid(system, s0, t_end, h) -> Trajectory:
    """The exact solution sampled at t = n h, as a trajectory that keeps every step."""
    t = np.arange(round(t_end / h) + 1) * h
    states = system.exact(t, np.asarray(s0, dtype=float), 0.0, system.params)
    return Trajectory(t, states, system, "exact", h)


@pytest.fixture(scope="module")
def dopri5_run():
    """s(t) = cos t + 0.5 sin t = R cos(t - phi): zeros at phi + pi/2 + k pi."""
    system = oscillator()
    return simulate(system, [1.0, 0.5], t_span=(0.0, 20.0), dt=0.01, method="dopri5")


PHI = np.arctan2(0.5, 1.0)
ZEROS = PHI + np.pi / 2 + np.pi * np.arange(6)  # the six zeros in [0, 20]


def test_crossing_times_of_dopri5_agree_with_the_closed_form(dopri5_run):
    events = find_events(dopri5_run, "s=0")
    assert len(events) == 6
    np.testing.assert_allclose(events.times(), ZEROS, rtol=0, atol=1e-10)
    np.testing.assert_allclose(events.states[:, 0], 0.0, atol=1e-10)
    # s = R cos(t - phi) falls through zero first: down, up, down, ...
    assert events.direction.tolist() == [-1, 1, -1, 1, -1, 1]
    np.testing.assert_allclose(events.rate, -np.sqrt(1.25) * (-1.0) ** np.arange(6), rtol=1e-6)


def test_directions_filter_by_the_sign_of_de_dt(dopri5_run):
    up = find_events(dopri5_run, "s=0,ds>0")
    down = find_events(dopri5_run, "s=0,ds<0")
    np.testing.assert_allclose(up.times(), ZEROS[1::2], atol=1e-10)
    np.testing.assert_allclose(down.times(), ZEROS[0::2], atol=1e-10)
    assert set(up.direction) == {1} and set(down.direction) == {-1}


def test_an_expression_of_several_states_and_its_direction():
    # s = cos t, v = -sin t: s - v = cos t + sin t = 0 at 3 pi/4 + k pi, where
    # d(s - v)/dt = v + s = -sqrt(2) cos(t - pi/4) ... alternately -sqrt 2 and +sqrt 2
    system = oscillator()
    traj = exact_grid(system, [1.0, 0.0], 10.0, 0.01)
    events = find_events(traj, "s-v=0,ds<0")
    expected = 3 * np.pi / 4 + 2 * np.pi * np.arange(2)
    np.testing.assert_allclose(events.times(), expected, atol=1e-10)
    np.testing.assert_allclose(events.rate, -np.sqrt(2), rtol=1e-6)
    mixed = find_events(traj, "s + 0*k = v")  # parameters may appear; any direction
    np.testing.assert_allclose(mixed.times(), 3 * np.pi / 4 + np.pi * np.arange(3), atol=1e-10)


def test_two_crossings_inside_one_step_are_both_found():
    # s = cos t exceeds 0.99999 for |t - 2 pi| < 0.00447: both crossings lie in the step
    # [6.25, 6.30], where s is below the level at both ends
    system = oscillator()
    traj = exact_grid(system, [1.0, 0.0], 7.0, 0.05)
    level = 0.99999
    assert np.all(traj.states[125:127, 0] < level)
    events = find_events(traj, f"s={level}")
    beyond = np.arccos(level)
    times = events.times()
    assert len(times) == 3  # leaving at t = 0.0045, back around 2 pi
    np.testing.assert_allclose(times, [beyond, 2 * np.pi - beyond, 2 * np.pi + beyond], atol=1e-5)
    assert np.all((times[1:] > 6.25) & (times[1:] < 6.30))
    assert events.direction.tolist() == [-1, 1, -1]


def test_a_batch_gives_each_member_its_crossings():
    system = oscillator(k=np.array([1.0, 4.0]))
    traj = simulate(system, [1.0, 0.0], t_span=(0.0, 6.0), dt=0.005, method="rk4")
    events = find_events(traj, Event("s", direction=1))
    np.testing.assert_allclose(events.times(0), [3 * np.pi / 2], atol=1e-9)
    np.testing.assert_allclose(events.times(1), [3 * np.pi / 4, 7 * np.pi / 4], atol=1e-9)
    assert events.member.tolist() == [0, 1, 1]


def test_terminal_events_stop_each_member_at_its_first_crossing():
    system = oscillator(k=np.array([1.0, 4.0, 0.01]))
    traj = simulate(system, [1.0, 0.0], t_span=(0.0, 6.0), dt=0.005, method="rk4")
    events = find_events(traj, ["s=0,ds>0,terminal", "v=0"])
    assert events.events[0].terminal
    stop = events.stop
    np.testing.assert_allclose(stop[:2], [3 * np.pi / 2, 3 * np.pi / 4], atol=1e-9)
    assert stop[2] is None  # w = 0.1: s = cos(0.1 t) > 0 on [0, 6]
    for member, end in enumerate(stop):
        times = events.times(member)
        assert end is None or times.max() == pytest.approx(end, abs=1e-12)
    # v = -sin t is zero at pi before member 0 stops at 3 pi/2; member 1 at pi/2 only
    np.testing.assert_allclose(events.times(0, 1), [np.pi], atol=1e-9)
    np.testing.assert_allclose(events.times(1, 1), [np.pi / 2], atol=1e-9)
    assert "stopped at t = 4.71238898" in events.table()


def test_an_event_that_never_fires_is_a_note_not_an_error(dopri5_run):
    events = find_events(dopri5_run, ["s=5", "s=0"])
    assert len(events.times(0, 0)) == 0 and len(events.times(0, 1)) == 6
    assert events.notes == ("event 's=5' never fired",)
    assert "note: event 's=5' never fired" in events.table()


def test_the_solve_ivp_reference_finds_a_double_crossing_scipys_events_miss():
    # s = cos t rises above 0.999 for 0.09 time units around each 2 k pi: DOP853's long steps
    # step over the excursion, and scipy's events (sign changes at step ends) miss it
    system = oscillator()
    level = 0.999
    sol = solve_ivp(
        lambda t, y: [y[1], -y[0]],
        (0.0, 20.0),
        [1.0, 0.0],
        method="DOP853",
        rtol=1e-10,
        atol=1e-12,
        events=lambda t, y: y[0] - level,
    )
    beyond = np.arccos(level)
    expected = np.sort(np.r_[beyond + 2 * np.pi * np.arange(4), -beyond + 2 * np.pi * np.r_[1:4]])
    assert len(sol.t_events[0]) < len(expected)
    events = reference_events(system, [1.0, 0.0], (0.0, 20.0), f"s={level}")
    np.testing.assert_allclose(events.times(), expected, atol=1e-7)
    assert events.direction.tolist() == [-1, 1, -1, 1, -1, 1, -1]


def test_the_reference_agrees_with_the_closed_form_to_1e_10():
    events = reference_events(oscillator(), [1.0, 0.5], (0.0, 20.0), "s=0,ds>0")
    np.testing.assert_allclose(events.times(), ZEROS[1::2], atol=1e-10)


def test_time_in_events_and_parsing():
    event = parse_event("z=27,dz>0", system_class("lorenz")())
    assert event == Event("z=27", 1, False)
    assert parse_event("arctan2(y, x) = 0.5, terminal").terminal
    assert parse_event("x=0,dx<0").direction == -1
    traj = exact_grid(oscillator(), [1.0, 0.0], 3.0, 0.1)
    np.testing.assert_allclose(find_events(traj, "t=1.234").times(), [1.234], atol=1e-14)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q=0", "unknown name 'q'"),
        ("s=0,dq>0", "the direction dq names 'q', which the event does not read"),
        ("s=0,up", "cannot read 'up'"),
        ("s=0=1", "one equation LEFT=RIGHT"),
        ("s=", "write LEFT=RIGHT"),
        ("s.real=0", "attribute access"),
        ("", "an event must be a string"),
    ],
)
def test_bad_events_are_one_line_input_errors(text, message):
    with pytest.raises(InputError) as err:
        parse_event(text, oscillator())
    assert message in str(err.value) and "\n" not in str(err.value)


def test_refusals():
    system = oscillator()
    kept = simulate(system, [1.0, 0.0], t_span=(0.0, 1.0), dt=0.1, method="rk4", save_every=2)
    with pytest.raises(InputError, match="every step of the trajectory"):
        find_events(kept, "s=0")
    logistic = system_class("logistic_map")()
    with pytest.raises(InputError, match="discrete map"):
        parse_event("x=0.5", logistic)


def run_cli(*args: str):
    from click.testing import CliRunner

    from dynsys.cli import main

    return CliRunner().invoke(main, list(args), prog_name="dynsys")


def test_simulate_prints_the_events_and_where_each_member_stopped():
    result = run_cli(
        "simulate", "driven_oscillator", "-p", "A=0", "-p", "k=1,4", "--method", "rk4",
        "--t-end", "10", "--event", "s=0,ds>0", "--terminal",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "events: 2 crossings" in result.output
    assert "member 0: stopped at t = 4.71238898" in result.output
    assert "member 1: stopped at t = 2.3561944" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--event", "q=0"), "unknown name 'q'"),
        (("--event", "s=0", "--save-every", "2"), "--event needs every step kept"),
        (("--terminal",), "--terminal applies to events"),
    ],
)
def test_simulate_refuses_bad_events_in_one_line(args, message):
    result = run_cli("simulate", "driven_oscillator", *args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


# -- Poincaré sections and the default pendulum portrait -----------------------------------------


def test_lorenz_section_draws_the_upward_crossings_on_x_and_y():
    from dynsys.plots import phase_portrait

    system = system_class("lorenz")()
    fig, info = phase_portrait(system, t_span=(0.0, 30.0), section="z=27,dz>0", transient=5.0)
    expected = reference_events(system, system.default_s0, (0.0, 30.0), "z=27,dz>0", rtol=1e-9)
    assert info.layout == "projection"
    assert info.section_points == int(np.sum(expected.t >= 5.0)) > 20
    panel = fig.axes[1]
    assert (panel.get_xlabel(), panel.get_ylabel()) == ("x", "y")
    dots = next(c for c in panel.collections if c.get_gid() == "section")
    assert len(dots.get_offsets()) == info.section_points
    assert "t >= 5" in panel.get_title()


def test_the_stroboscopic_section_drops_its_transient():
    from dynsys.plots import phase_portrait

    system = system_class("duffing")()
    _, full = phase_portrait(system, t_span=(0.0, 60.0), poincare=True)
    _, late = phase_portrait(system, t_span=(0.0, 60.0), poincare=True, transient=30.0)
    period = 2 * np.pi / 1.2
    assert full.section_points == 12  # t = k T <= 60, k = 0..11
    assert late.section_points == int(np.sum(np.arange(12) * period >= 30.0)) == 6


@pytest.mark.parametrize(
    ("system", "options", "message"),
    [
        ("duffing", {"section": "v=0", "poincare": True}, "either poincare"),
        ("van_der_pol", {"section": "x=0"}, "sections need three or more states"),
        ("lorenz", {"section": "w=1"}, "unknown name 'w'"),
        ("lorenz", {"section": "z=27", "projections": True}, "not for projections"),
        ("lorenz", {"transient": 1.0}, "give poincare or section too"),
        ("duffing", {"poincare": True, "transient": 50.0, "t_span": (0, 20)}, "below t_end"),
    ],
)
def test_bad_sections_are_refused(system, options, message):
    from dynsys.plots import check_phase

    with pytest.raises(InputError, match=message):
        check_phase(system_class(system)(), **options)


def test_the_default_pendulum_shows_the_separatrix_and_rotating_orbits():
    from dynsys.plots import phase_portrait

    fig, info = phase_portrait(system_class("pendulum")())
    assert info.trajectories == 4  # the default orbit, one inside, two rotating outside
    kinds = sorted(e.kind for e in info.equilibria)
    assert kinds == ["centre", "saddle", "saddle"]
    assert info.xlim[0] == -info.xlim[1] and info.xlim[1] > np.pi
    assert info.ylim[0] == -info.ylim[1] and info.ylim[1] > 2 * np.sqrt(9.81)  # the separatrix
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "separatrix E = 19.62 (through the saddles)" in legend
    _, damped = phase_portrait(system_class("pendulum")(damping=0.3), t_span=(0.0, 5.0))
    assert damped.trajectories == 1  # the energy is not conserved: the default orbit alone


def test_a_config_phase_plot_takes_a_section(tmp_path):
    from click.testing import CliRunner

    from dynsys.cli import main

    config = tmp_path / "section.yaml"
    config.write_text(
        "name: section\nsystem: {name: lorenz}\n"
        "simulation: {s0: [1.0, 1.0, 1.0], dt: 0.01, t_end: 20, methods: [rk4]}\n"
        'plots:\n  - {kind: phase, options: {section: "z=27,dz>0", methods: []}}\n'
    )
    runner = CliRunner()
    assert runner.invoke(main, ["config", "validate", str(config)]).exit_code == 0
    out = tmp_path / "run"
    result = runner.invoke(main, ["run", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "plots" / "phase.png").exists()
    bad = runner.invoke(
        main, ["config", "validate", str(config), "--set", "plots.0.options.section=q=1"]
    )
    assert bad.exit_code == 2 and "unknown name 'q'" in bad.output
