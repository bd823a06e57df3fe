"""Saved trajectories: every format written by simulate --out read back bit for bit, drawn as
they are (Trajectory.plot, dynsys plot/phase FILE, simulate --plot), systems typed as
equations or read from a config, and bad files refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

import dynsys
from dynsys import InputError, Parameter, System, get_system, load_trajectory, simulate
from dynsys.errors import DynsysError
from dynsys.experiments.user_system import make_system_class
from dynsys.output import CSV_METADATA, SavedSystem, write_trajectory
from dynsys.plots.marks import TRAJECTORY

FORMATS = (".csv", ".npz", ".json")
USER_PENDULUM = "configs/user_pendulum.yaml"


def run(*args: str):
    return CliRunner().invoke(main(), list(args), prog_name="dynsys")


def main():
    from dynsys.cli import main as command

    return command


@pytest.fixture(scope="module")
def trajectories():
    """One of each shape; rk4 values carry all 17 digits, so a lossy format would show."""
    rng = np.random.default_rng(5)
    return {
        "one state": simulate(
            get_system("lorenz"), [1, 1, 1], t_span=(0, 1), dt=0.01, method="rk4"
        ),
        "initial states": simulate(
            get_system("van_der_pol", mu=2.0), rng.normal(size=(3, 2)), t_span=(0, 2), dt=0.05,
            method="heun", save_every=4,
        ),
        "parameters": simulate(
            get_system("pendulum", damping=[0.1, 0.5, 1.0]), [1.0, 0.0], t_span=(0, 2), dt=0.1,
            method="rk4",
        ),
        "driven": simulate(
            get_system("driven_oscillator", A=[0.1, 0.5]), rng.normal(size=(2, 2)),
            t_span=(0, 3), dt=0.1, method="semi_implicit_euler",
        ),
        "map": simulate(
            get_system("logistic_map", r=[3.2, 3.9]), [0.3], t_span=(0, 30), dt=1, method="map"
        ),
        "solve_ivp": simulate(
            get_system("exponential_decay", rate=0.7), [2.0], t_span=(0, 1), dt=0.1,
            method="solve_ivp",
        ),
    }  # fmt: skip


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# -- load_trajectory -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize(
    "shape", ["one state", "initial states", "parameters", "driven", "map", "solve_ivp"]
)
def test_every_format_and_shape_round_trips_bit_for_bit(trajectories, tmp_path, shape, suffix):
    traj = trajectories[shape]
    back = load_trajectory(write_trajectory(traj, tmp_path / f"traj{suffix}"))
    assert same_bits(back.t, traj.t) and same_bits(back.states, traj.states)
    assert type(back.system) is type(traj.system)
    assert back.system.param_values() == traj.system.param_values()
    assert (back.method, back.dt, back.save_every) == (traj.method, traj.dt, traj.save_every)
    assert back.info == {k: v for k, v in traj.info.items() if k not in ("wall_s", "kernel")}
    if traj.x is None:
        assert back.x is None
    else:
        assert same_bits(np.ascontiguousarray(back.x), np.ascontiguousarray(traj.x))


def test_the_csv_keeps_its_header_first_and_its_metadata_in_a_last_comment(trajectories, tmp_path):
    path = write_trajectory(trajectories["driven"], tmp_path / "d.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "trajectory,t,s,v,x"
    assert lines[-1].startswith(CSV_METADATA)
    meta = json.loads(lines[-1][len(CSV_METADATA) :])
    assert meta["system"] == "driven_oscillator" and meta["params"]["A"] == [0.1, 0.5]
    table = np.loadtxt(path, delimiter=",", skiprows=1)  # the comment is skipped
    assert table.shape == (2 * 31, 5)


def test_a_system_of_equations_is_rebuilt_from_the_definition_the_file_carries(tmp_path):
    cls = make_system_class(
        "user_tilted", ["q", "p"], {"a": 2.0}, {"q": "p", "p": "-a*sin(q) + 0.1"}, s0=[1, 0]
    )
    traj = simulate(cls(a=1.5), [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4")
    for suffix in FORMATS:
        back = load_trajectory(write_trajectory(traj, tmp_path / f"u{suffix}"))
        assert back.system.name == "user_tilted" and back.system.param_values() == {"a": 1.5}
        assert back.system.spec == cls.spec
        again = simulate(back.system, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4")
        assert same_bits(again.states, traj.states) and same_bits(back.states, traj.states)


class Spinner(System):
    """A system registered in another process only.

    Equations::

        dw/dt = -c w + x,   x(t) = sin(t)
    """

    name = "spinner_not_registered_here"
    states = ("w",)
    parameters = (Parameter("c", 1.0, "damping"),)
    default_s0 = (1.0,)

    @staticmethod
    def vector_field(t, s, x, p):
        (w,) = s
        return (-p.c * w + x,)

    @staticmethod
    def forcing(t, p):
        return np.sin(t) + 0 * p.c


@pytest.mark.parametrize("suffix", FORMATS)
def test_an_unregistered_system_comes_back_by_name_states_and_saved_drive(tmp_path, suffix):
    traj = simulate(Spinner(c=[0.5, 2.0]), [1.0], t_span=(0, 1), dt=0.1, method="rk4")
    back = load_trajectory(write_trajectory(traj, tmp_path / f"s{suffix}"))
    assert isinstance(back.system, SavedSystem)
    assert back.system.name == Spinner.name and back.state_names == ("w",)
    assert back.system.param_values() == {"c": [0.5, 2.0]}
    assert same_bits(back.states, traj.states)
    np.testing.assert_array_equal(back.x, traj.x)
    with pytest.raises(DynsysError, match="its equations are unknown here"):
        simulate(back.system, [1.0], t_span=(0, 1), dt=0.1, method="rk4")
    _, info = back.plot()
    assert info.trajectories == 2 and info.states == ("w",)


# -- bad files, through the library ----------------------------------------------------------


def test_bad_files_are_one_line_input_errors(trajectories, tmp_path):
    good = write_trajectory(trajectories["one state"], tmp_path / "good.npz")
    (tmp_path / "image.npz").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:300])
    (tmp_path / "metrics.json").write_text('{"rmse": 1.0}')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "plain.csv").write_text("t,x\n0,1\n")
    (tmp_path / "folder.npz").mkdir()
    csv = write_trajectory(trajectories["driven"], tmp_path / "driven.csv").read_text()
    (tmp_path / "renamed.csv").write_text(csv.replace("trajectory,t,s,v,x", "trajectory,t,q,v,x"))
    (tmp_path / "cut.csv").write_text(csv.replace("\n1,", "\n1,2\n", 1))
    cases = {
        "renamed.csv": "header 'trajectory,t,q,v,x' does not match its metadata",
        "cut.csv": "cut.csv is damaged",
        "missing.npz": "cannot read trajectory file .*missing.npz: No such file or directory",
        "image.npz": "image.npz is not a trajectory written by dynsys simulate --out: not an .npz",
        "cut.npz": "trajectory file .*cut.npz is truncated or corrupt",
        "metrics.json": "metrics.json is not a trajectory .*: no 't' \\(it has rmse",
        "list.json": "list.json is not a trajectory .*: JSON list, expected an object",
        "plain.csv": "plain.csv is not a trajectory .*: no last line '# dynsys-metadata:'",
        "folder.npz": "cannot read trajectory file .*folder.npz: it is a folder",
        "good.txt": "its name must end in one of .csv, .npz, .json",
    }
    (tmp_path / "good.txt").write_bytes(good.read_bytes())
    for name, message in cases.items():
        with pytest.raises(InputError, match=message) as caught:
            load_trajectory(tmp_path / name)
        assert "\n" not in str(caught.value)


# -- Trajectory.plot -------------------------------------------------------------------------


def test_plot_draws_the_saved_states_on_new_panels_or_the_callers_axes(trajectories):
    traj = trajectories["parameters"]
    fig, info = traj.plot()
    assert (info.kind, info.states, info.trajectories, info.panels) == (
        "timeseries", ("theta", "omega"), 3, 2,
    )  # fmt: skip
    assert len(fig.axes) == 2
    drawn = fig.axes[0].get_lines()[0]
    assert drawn.get_gid() == TRAJECTORY
    assert same_bits(np.asarray(drawn.get_ydata()), traj.states[0, :, 0])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "damping=0.1", "damping=0.5", "damping=1",
    ]  # fmt: skip
    own = Figure()
    ax = own.add_subplot()
    fig, info = traj.plot("timeseries", ax)
    assert fig is own and info.panels == 1 and len(ax.get_lines()) == 6
    two = own.subplots(1, 2)
    fig, info = traj.plot("timeseries", axes=two)
    assert fig is own and [a.get_ylabel() for a in two] == ["theta", "omega"]


def test_phase_plot_draws_two_states_a_curve_per_trajectory(trajectories):
    traj = trajectories["initial states"]
    fig, info = traj.plot("phase")
    ax = fig.axes[0]
    curves = [line for line in ax.get_lines() if line.get_gid() == TRAJECTORY]
    assert len(curves) == 3 and info.states == ("x", "y")
    assert same_bits(np.asarray(curves[1].get_xdata()), traj.states[1, :, 0])
    assert same_bits(np.asarray(curves[1].get_ydata()), traj.states[1, :, 1])
    own = Figure()
    fig, info = trajectories["one state"].plot("phase", own.add_subplot(), states="x,z")
    assert fig is own and (own.axes[0].get_xlabel(), own.axes[0].get_ylabel()) == ("x", "z")


def test_plot_refuses_what_it_cannot_draw(trajectories):
    with pytest.raises(InputError, match="a phase plot needs two states; logistic_map has one"):
        trajectories["map"].plot("phase")
    with pytest.raises(InputError, match="unknown kind of trajectory plot 'cobweb'"):
        trajectories["map"].plot("cobweb")
    with pytest.raises(InputError, match="axes of a trajectory's timeseries must be 3"):
        trajectories["one state"].plot(axes=[Figure().add_subplot()])


# -- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(trajectories, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    for suffix in FORMATS:
        write_trajectory(trajectories["driven"], folder / f"driven{suffix}")
    write_trajectory(trajectories["map"], folder / "logistic.csv")
    return folder


def is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, says",
    [
        (["plot", "timeseries", "driven.npz"], "timeseries plot of driven_oscillator saved in"),
        (["plot", "phase", "driven.csv", "--states", "v,s"], "2 trajectories of 31 times: v, s"),
        (["plot", "timeseries", "logistic.csv", "--states", "x"], "timeseries plot of logistic"),
        (["phase", "driven.json"], "phase plot of driven_oscillator saved in driven.json"),
        (["phase", "driven.npz", "--vs-time"], "states against time of driven_oscillator"),
    ],
)
def test_plot_and_phase_draw_a_saved_file(saved, tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(saved)
    out = tmp_path / "figure.png"
    result = run(*args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert says in result.output and is_png(out)


def test_simulate_plot_draws_what_it_simulated(tmp_path):
    out = tmp_path / "vdp.png"
    result = run(
        "simulate", "van_der_pol", "-p", "mu=0.5,2", "--method", "rk4", "--t-end", "5",
        "--plot", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "phase plot of van_der_pol; 2 trajectories of 501 times: x, y" in result.output
    assert is_png(out)
    result = run(
        "simulate", "exponential_decay", "--t-end", "1", "--out", str(tmp_path / "d.npz"),
        "--plot", str(tmp_path / "d.svg"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "timeseries plot of exponential_decay" in result.output
    assert (tmp_path / "d.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert load_trajectory(tmp_path / "d.npz").states.shape == (101, 1)


def test_phase_of_a_config_and_of_equations(tmp_path):
    out = tmp_path / "config.png"
    result = run("phase", USER_PENDULUM, "--t-end", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "driven phase portrait of user_driven_pendulum" in result.output and is_png(out)
    out = tmp_path / "eq.png"
    result = run(
        "phase", "--equations", "x: y", "--equations", "y: -sin(x) - b*y", "-p", "b=0.2",
        "--s0", "2,0", "--xlim", "-4,4", "--ylim", "-3,3", "--t-end", "5", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "field phase portrait of equations" in result.output
    assert "(-3.142, 0) saddle, (0, 0) stable focus, (3.142, 0) saddle" in result.output
    assert is_png(out)


def test_phase_of_a_system_is_unchanged(tmp_path):
    """The system's own path: the same summary and the same bytes as the library's figure."""
    from dynsys.plots import phase_portrait, save_figure

    out = tmp_path / "cli.png"
    result = run("phase", "henon_map", "--s0", "0.1,0", "--t-end", "200", "--out", str(out))
    assert result.exit_code == 0, result.output
    fig, info = phase_portrait(get_system("henon_map"), [[0.1, 0.0]], t_span=(0.0, 200.0))
    expected = save_figure(fig, tmp_path / "lib.png")
    assert out.read_bytes() == expected.read_bytes()
    assert (
        result.output
        == f"wrote {out}: {info.layout} phase portrait of henon_map; {info.summary()}\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["phase", "missing.npz"], "cannot read trajectory file missing.npz: No such file"),
        (["plot", "timeseries", "missing.csv"], "cannot read trajectory file missing.csv"),
        (["phase", "image.npz"], "image.npz is not a trajectory written by dynsys simulate"),
        (["plot", "phase", "metrics.json"], "metrics.json is not a trajectory written by"),
        (["phase", "folder.npz"], "cannot read trajectory file folder.npz: it is a folder"),
        (["phase", "folder"], "cannot read trajectory file folder: it is a folder"),
        (["phase", "logistic.csv"], "logistic.csv holds one state (x): draw it against time"),
        (["plot", "phase", "logistic.csv"], "draw it with dynsys plot timeseries logistic.csv"),
        (["phase", "driven.npz", "--grid", "3"], "--grid does not apply to a saved trajectory"),
        (["plot", "timeseries", "driven.npz", "--dt", "1"], "--dt does not apply to a saved"),
        (["plot", "phase", "van_der_pol"], "plot phase draws a trajectory FILE"),
        (["phase"], "phase needs a SYSTEM, a trajectory FILE (.csv, .npz, .json), a CONFIG"),
        (["phase", "--equations", "x = y"], "--equations expects 'STATE: EXPRESSION'"),
        (["phase", "--equations", "x: y", "--equations", "y: -sin(x"], "--equations y: cannot"),
        (["phase", "--equations", "x: y", "--equations", "y: -k*x"], "unknown name 'k'"),
        (["phase", "--equations", "t: 1"], "'t' is reserved for the time"),
        (["phase", "--equations", "x: __import__('os')"], "is not allowed: the dunder name"),
        (["phase", "van_der_pol", "--equations", "x: 1"], "or --equations, not both"),
        (["simulate", "van_der_pol", "--plot", "v.gif"], "must end in one of .png, .svg, .pdf"),
        (["simulate", "van_der_pol", "--plot-kind", "phase"], "--plot-kind applies with --plot"),
    ],
)
def test_bad_input_is_one_line_exit_2(saved, monkeypatch, args, message):
    monkeypatch.chdir(saved)
    (saved / "image.npz").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (saved / "metrics.json").write_text('{"rmse": 1.0}')
    (saved / "folder.npz").mkdir(exist_ok=True)
    (saved / "folder").mkdir(exist_ok=True)
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert message in lines[0]


def test_load_trajectory_is_exported():
    assert dynsys.load_trajectory is load_trajectory and "load_trajectory" in dynsys.__all__
