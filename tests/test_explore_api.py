"""The explorer's handlers against dynsys itself, and its HTTP layer through a real server on a
free port: every endpoint, and bad input refused with the right status and a one-line reason."""

from __future__ import annotations

import base64
import http.client
import json
import shlex
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys import get_system, simulate
from dynsys.cli import main
from dynsys.experiments.config import parse_config
from dynsys.explore import api, server, start_server
from dynsys.plots.equilibria import jacobian_at
from dynsys.plots.maps import staircase
from dynsys.plots.stability import in_region
from dynsys.reference import reference


def states_of(run: dict) -> np.ndarray:
    """A run's states (time, n): {"dtype": "f8", "shape", "data": base64 of little-endian
    float64} decoded here from the format itself."""
    packed = run["states"]
    assert packed["dtype"] == "f8" and set(packed) == {"dtype", "shape", "data"}
    flat = np.frombuffer(base64.b64decode(packed["data"]), dtype="<f8")
    return flat.reshape(packed["shape"])


@pytest.fixture(scope="module")
def targets():
    names = ("van_der_pol", "pendulum", "driven_oscillator", "lorenz", "logistic_map", "henon_map")
    return {name: api.load_target(name) for name in names}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny residual Jordan network of the driven oscillator (as tests/test_plots_rnn.py)."""
    from dynsys.rnn.pipeline import save_trained, train_model
    from dynsys.rnn.settings import plan_fit

    plan = plan_fit(
        "driven_oscillator",
        "jordan",
        dataset={"n_train": 6, "n_val": 2, "n_test": 3, "t_end": 5.0, "h": 0.1},
        model={"hidden": 8},
        training={"epochs": 100},
    )
    folder = tmp_path_factory.mktemp("explore")
    return save_trained(train_model(plan, progress=False), folder / "jordan.npz")


@pytest.fixture(scope="module")
def url():
    running, address = start_server("van_der_pol")
    yield address
    running.shutdown()


# -- the handlers ------------------------------------------------------------------------------


def test_trajectories_are_simulate_bit_for_bit(targets):
    starts = [[2.0, 0.0], [0.5, -0.25], [-1.0, 1.5]]
    out = api.trajectories(
        targets["van_der_pol"],
        {"starts": starts, "method": "rk4", "dt": 0.05, "t_end": 5.0, "params": {"mu": 2.0}},
    )
    system = get_system("van_der_pol", mu=2.0)
    traj = simulate(system, np.array(starts), t_span=(0.0, 5.0), dt=0.05, method="rk4")
    assert np.array_equal(out["t"], traj.t)
    for run, states in zip(out["runs"], traj.states, strict=True):
        assert run["diverged"] is None
        assert np.array_equal(states_of(run), states)
    shrink = np.sqrt(len(starts))  # the display tolerances, divided for the stack of 3
    rtol, atol = api.REFERENCE_RTOL / shrink, api.REFERENCE_ATOL / shrink
    ref = reference(system, np.array(starts), traj.t, stack=True, rtol=rtol, atol=atol)
    for run, states in zip(out["reference"]["runs"], ref.states, strict=True):
        assert np.array_equal(states_of(run), states)
    assert out["model"] is None and out["cobweb"] is None
    alone = api.ivp_reference(
        targets["van_der_pol"],
        {"starts": starts, "dt": 0.05, "t_end": 5.0, "params": {"mu": 2.0}},
    )
    assert alone["t"] == out["t"]
    for run, other in zip(alone["runs"], out["reference"]["runs"], strict=True):
        assert run == other  # the same packed bits


def test_the_reference_alone_backward_and_for_a_map(targets):
    """/api/reference backward ends where the run backward ends, to solve_ivp's tolerance; a
    map has no solve_ivp reference."""
    target, params = targets["driven_oscillator"], {"A": 0.0, "c": 0.2}
    state = {"dt": 0.01, "t_end": 3.0, "params": params, "starts": [[1.0, 0.0]]}
    back = api.ivp_reference(target, {"backward": True, **state})
    run = api.trajectories(target, {"backward": True, "method": "rk4", **state})
    assert back["t"] == run["t"]
    np.testing.assert_allclose(states_of(back["runs"][0]), states_of(run["runs"][0]), atol=1e-7)
    assert api.ivp_reference(target, {**state, "starts": []}) == {"t": [], "runs": []}
    with pytest.raises(api.InputError, match="logistic_map is a map: solve_ivp applies to ODEs"):
        api.ivp_reference(targets["logistic_map"], {"starts": [[0.2]], "dt": 1, "t_end": 5})


def test_a_diverging_start_is_reported_and_the_others_kept(targets):
    out = api.trajectories(
        targets["van_der_pol"],
        {"starts": [[2, 0], [40, 40]], "method": "euler", "dt": 0.1, "t_end": 20.0},
    )
    kept, lost = out["runs"]
    one = simulate(get_system("van_der_pol"), np.array([2.0, 0]), t_span=(0, 20), dt=0.1)
    assert kept["diverged"] is None and np.array_equal(states_of(kept), one.states)
    assert lost["diverged"]["step"] == len(states_of(lost)) == 9
    assert lost["diverged"]["t"] == pytest.approx(0.9)


def test_backward_runs_the_time_reversed_system(targets):
    """Forward 3 time units from (1, 0), then backward from where it ended: back at (1, 0) to
    RK4's error, at the times 0, -h, -2h, ... (undriven: A = 0)."""
    target, params = targets["driven_oscillator"], {"A": 0.0, "c": 0.2}
    state = {"method": "rk4", "dt": 0.01, "t_end": 3.0, "params": params}
    there = api.trajectories(target, {"starts": [[1.0, 0.0]], **state})
    end = states_of(there["runs"][0])[-1].tolist()
    back = api.trajectories(target, {"starts": [end], "backward": True, **state})
    assert back["t"][:3] == [0.0, -0.01, -0.02] and back["t"][-1] == pytest.approx(-3.0)
    assert np.allclose(states_of(back["runs"][0])[-1], [1.0, 0.0], atol=1e-9)
    assert np.allclose(states_of(back["reference"]["runs"][0])[-1], [1.0, 0.0], atol=1e-8)
    reversed_ = api.reversed_system(get_system("driven_oscillator", A=0.5))
    s = np.array([0.3, -0.7])
    forward = get_system("driven_oscillator", A=0.5)
    x = forward.forcing(-1.5, forward.params)
    assert np.array_equal(reversed_.forcing(1.5, reversed_.params), x)
    assert np.array_equal(
        reversed_.rhs(1.5, s, x, reversed_.params), -forward.rhs(-1.5, s, x, forward.params)
    )


def test_equilibria_and_their_kinds(targets):
    vdp = api.field(targets["van_der_pol"], {"xlim": [-3, 3], "ylim": [-3, 3]})
    (origin,) = vdp["equilibria"]
    assert origin["point"] == [0.0, 0.0] and origin["kind"] == "unstable focus"
    assert np.allclose(origin["eigenvalues"], [[0.5, -(3**0.5) / 2], [0.5, 3**0.5 / 2]])
    damped = api.field(targets["van_der_pol"], {"params": {"mu": -1.0}})
    assert [e["kind"] for e in damped["equilibria"]] == ["stable focus"]
    pendulum = api.field(targets["pendulum"], {"xlim": [-4, 4], "ylim": [-3, 3]})
    kinds = [(round(e["point"][0], 6), e["kind"]) for e in pendulum["equilibria"]]
    assert kinds == [(-3.141593, "saddle"), (0.0, "centre"), (3.141593, "saddle")]


def test_field_is_the_vector_field_at_the_grid_points(targets):
    out = api.field(
        targets["driven_oscillator"],
        {"xlim": [-2, 2], "ylim": [-1, 3], "grid": 7, "t": 0.5, "params": {"c": 0.3}},
    )
    system = get_system("driven_oscillator", c=0.3)
    x = system.forcing(0.5, system.params)
    assert len(out["x"]) == len(out["y"]) == 7 and out["learned"] is None
    for k, y in enumerate(out["y"]):
        for m, xv in enumerate(out["x"]):
            g = system.rhs(0.5, np.array([xv, y]), x, system.params)
            assert (out["u"][k][m], out["v"][k][m]) == (g[0], g[1])
    names = [n["state"] for n in out["nullclines"]]
    assert names == ["s", "v"]
    # ds/dt = v: the nullcline is the line v = 0
    for segment in out["nullclines"][0]["segments"]:
        assert np.allclose(np.array(segment)[:, 1], 0.0, atol=1e-12)


def test_three_states_field_on_a_plane_with_the_others_held(targets):
    target = targets["lorenz"]
    assert target.plane == (0, 2) and api.info(target)["others"] == [0.0]
    out = api.field(
        target, {"plane": [0, 2], "others": [2.0], "xlim": [-20, 20], "ylim": [0, 50], "grid": 5}
    )
    system = get_system("lorenz")
    for k, z in enumerate(out["y"]):
        for m, x in enumerate(out["x"]):
            g = system.rhs(0.0, np.array([x, 2.0, z]), None, system.params)
            assert (out["u"][k][m], out["v"][k][m]) == (g[0], g[2])
    points = sorted(tuple(np.round(e["point"], 6)) for e in out["equilibria"])
    c = round(float(np.sqrt(8 / 3 * 27)), 6)
    assert points == [(-c, -c, 27.0), (0.0, 0.0, 0.0), (c, c, 27.0)]
    runs = api.trajectories(target, {"starts": [[1, 1, 1]], "dt": 0.01, "t_end": 1.0})
    assert states_of(runs["runs"][0]).shape == (101, 3)


def test_stability_region_and_h_lambda(targets):
    out = api.stability(targets["van_der_pol"], {"method": "rk4", "dt": 0.5, "point": [0.1, 0.1]})
    z = np.array(out["x"])[None, :] + 1j * np.array(out["y"])[:, None]
    assert np.array_equal(np.array(out["inside"]), in_region("rk4", z))
    lam = np.linalg.eigvals(jacobian_at(get_system("van_der_pol"), np.zeros(2)))
    points = np.array(out["points"])
    assert np.allclose(sorted(points[:, 1]), sorted(0.5 * lam.imag))
    assert np.allclose(points[:, 0], 0.5 * lam.real)
    assert out["stable"] is False and out["kind"] == "unstable focus"  # Re z > 0: R > 1
    euler = api.stability(
        targets["van_der_pol"], {"method": "euler", "dt": 0.1, "params": {"mu": -1.0}}
    )
    assert euler["stable"] == bool(np.all(in_region("euler", np.array(euler["points"]) @ [1, 1j])))
    verlet = api.stability(targets["pendulum"], {"method": "verlet", "dt": 0.1})
    assert verlet["inside"] is None and verlet["stable"] is None


def test_reproduce_runs_and_its_yaml_loads(targets, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state = {
        "params": {"mu": 1.5},
        "method": "heun",
        "dt": 0.02,
        "t_end": 4.0,
        "starts": [[2.0, 0.0], [-0.5, 1.0]],
        "xlim": [-3.0, 3.0],
        "ylim": [-4.0, 4.0],
        "plane": [0, 1],
    }
    out = api.reproduce(targets["van_der_pol"], state)
    words = shlex.split(out["command"])
    assert words[:3] == ["dynsys", "phase", "van_der_pol"]
    assert "--s0" in words and "-p" in words and "mu=1.5" in words
    result = CliRunner().invoke(main, words[1:])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "van_der_pol_phase.png").is_file()
    config = parse_config(out["yaml"])
    assert config.system.name == "van_der_pol" and config.system.params == {"mu": 1.5}
    assert config.simulation.s0 == [[2.0, 0.0], [-0.5, 1.0]]
    assert (config.simulation.dt, config.simulation.t_end) == (0.02, 4.0)
    assert config.simulation.methods == ["heun"]
    assert config.plots[0].options["xlim"] == [-3.0, 3.0]
    lorenz = api.reproduce(targets["lorenz"], {"starts": [[1, 1, 1]], "t_end": 1.0})
    assert "--states x,z" in lorenz["command"]
    result = CliRunner().invoke(main, shlex.split(lorenz["command"])[1:])
    assert result.exit_code == 0, result.output


def test_a_config_target(tmp_path, monkeypatch):
    path = Path(__file__).parents[1] / "configs" / "user_pendulum.yaml"
    target = api.load_target(str(path))
    info = api.info(target)
    assert info["system"]["states"] == ["theta", "omega"] and info["starts"] == []
    assert info["system"]["driven"] and info["dt"] == 0.01
    out = api.reproduce(target, {"starts": [[1.0, 0.0]], "t_end": 2.0})
    config = parse_config(out["yaml"])
    assert config.system.equations["theta"] == "omega"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(out["command"])[1:])
    assert result.exit_code == 0, result.output
    with pytest.raises(api.InputError, match="unknown system 'no_such_system'"):
        api.load_target(str(_config(tmp_path, "no_such_system")))


def _config(folder: Path, system: str) -> Path:
    path = folder / "bad.yaml"
    path.write_text(f"name: bad\nsystem:\n  name: {system}\n")
    return path


def test_maps_iterate_and_cobweb(targets):
    logistic = targets["logistic_map"]
    info = api.info(logistic)
    assert info["methods"] == ["map"] and info["dt"] == 1.0 and info["plane"] == [0, 0]
    field = api.field(logistic, {"xlim": [0, 1], "ylim": [0, 1]})
    assert field["u"] is None and field["v"] is None and len(field["graph"]) == api.GRAPH_POINTS
    assert [round(e["point"][0], 9) for e in field["equilibria"]] == [0.0, round(1 - 1 / 3.9, 9)]
    out = api.trajectories(
        logistic, {"starts": [[0.2], [0.3]], "method": "map", "dt": 1, "t_end": 30}
    )
    traj = simulate(get_system("logistic_map"), np.array([[0.2], [0.3]]), t_span=(0, 30))
    for run, states in zip(out["runs"], traj.states, strict=True):
        assert np.array_equal(states_of(run), states)
    xs, ys = staircase(traj.states[-1][:, 0])
    assert np.array_equal(np.array(out["cobweb"]), np.stack([xs, ys], axis=1))
    assert out["reference"] is None and out["t"] == list(range(31))
    stab = api.stability(logistic, {"method": "map", "dt": 1, "point": [0.7]})
    assert stab["points"] == [[pytest.approx(2 - 3.9), 0.0]] and stab["stable"] is False
    henon = api.trajectories(targets["henon_map"], {"starts": [[0, 0]], "t_end": 100})
    assert states_of(henon["runs"][0]).shape == (101, 2) and henon["cobweb"] is None
    with pytest.raises(api.InputError, match="forward only"):
        api.trajectories(logistic, {"starts": [[0.2]], "backward": True})


def test_a_model_target_gives_learned_field_and_rollouts(model_path):
    from dynsys.rnn.data import sample
    from dynsys.rnn.evaluate import model_rollout

    target = api.load_target(str(model_path))
    info = api.info(target)
    assert info["target"]["kind"] == "model" and info["system"]["name"] == "driven_oscillator"
    assert info["model"]["kind"] == "jordan" and info["model"]["hidden"] == 8
    assert info["model"]["h"] == 0.1 and info["system"]["params"]["A"]["min"] == 0.2
    field = api.field(target, {"grid": 9})
    assert np.array(field["learned"]["u"]).shape == (9, 9)
    src = target.model
    data = sample(src.spec, 1, 5, whole=True)
    out = api.trajectories(
        target,
        {
            "starts": data.s0.tolist(),
            "params": {"A": float(data.params["A"][0])},
            "t_end": 5.0,
            "dt": 0.1,
        },
    )
    expected = model_rollout(src.model, data, src.normalizer)[0]
    assert np.array_equal(np.array(out["model"]["runs"][0]["states"]), expected)
    assert np.allclose(out["model"]["t"], np.arange(51) * 0.1)
    assert out["reference"] is not None


# -- the HTTP layer ----------------------------------------------------------------------------


def _get(url: str) -> tuple[int, dict | bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
            kind = response.headers["Content-Type"]
            value = json.loads(body) if kind == "application/json" else body
            return response.status, value, dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def _post(url: str, payload=None, data: bytes | None = None) -> tuple[int, dict]:
    body = json.dumps(payload).encode() if data is None else data
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Cache-Control"] == "no-store"
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_every_endpoint_answers(url):
    status, info, headers = _get(url + "api/info")
    assert status == 200 and info["system"]["name"] == "van_der_pol"
    assert headers["Cache-Control"] == "no-store"
    assert info["limits"] == {
        "max_steps": 10**6,
        "max_starts": 64,
        "max_grid": 60,
        "max_reference_span": 2000.0,
    }
    state = {"starts": [[2.0, 0.0]], "method": "rk4", "dt": 0.05, "t_end": 2.0}
    for path, payload, key in (
        ("api/field", {"grid": 10}, "u"),
        ("api/trajectories", state, "runs"),
        ("api/reference", {k: v for k, v in state.items() if k != "method"}, "runs"),
        ("api/stability", {"method": "rk4", "dt": 0.1, "point": [0, 0]}, "inside"),
        ("api/reproduce", state, "command"),
    ):
        status, answer = _post(url + path, payload)
        assert status == 200 and answer[key] is not None, (path, answer)
    status, _, headers = _get(url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    folder = Path(server.__file__).parent / "static"
    for name in server.STATIC:
        status, _, _ = _get(url + "static/" + name)
        assert status == (200 if (folder / name).is_file() else 404)


@pytest.mark.parametrize(
    ("path", "payload", "status", "reason"),
    [
        ("api/field", {"gird": 10}, 400, "unknown key 'gird' in /api/field; known: params"),
        ("api/field", {"grid": 10**6}, 400, "grid must be a whole number from 2 to 60"),
        ("api/field", {"xlim": [1, 0]}, 400, "xlim must be [a, b] with a < b"),
        ("api/field", [1, 2], 400, "/api/field expects a JSON object, got a list"),
        ("api/field", {"params": {"nu": 1}}, 400, "unknown parameter of van_der_pol 'nu'"),
        ("api/trajectories", {"dt": "0.1"}, 400, "dt must be a number, got a string"),
        ("api/trajectories", {"dt": 0}, 400, "dt must be > 0, got 0.0"),
        ("api/trajectories", {"dt": -0.1}, 400, "dt must be > 0"),
        ("api/trajectories", {"starts": [[1]]}, 400, "starts[0] must be a list of 2 numbers"),
        ("api/trajectories", {"method": "rk5"}, 400, "unknown method for van_der_pol 'rk5'"),
        ("api/trajectories", {"backward": "yes"}, 400, "backward must be true or false"),
        (
            "api/trajectories",
            {"starts": [[1, 0]], "dt": 1e-5, "t_end": 100},
            400,
            "1 starts x 10,000,000 steps = 10,000,000 steps exceed the explorer's limit",
        ),
        (
            "api/trajectories",
            {"starts": [[1, 0]] * 10, "method": "sdirk3", "dt": 0.01, "t_end": 100},
            400,
            "10 starts x 10,000 steps (x 20: sdirk3 is implicit) = 2,000,000 steps exceed",
        ),
        (
            "api/trajectories",
            {"starts": [[1, 0]] * 30, "dt": 0.5, "t_end": 100},
            400,
            "the solve_ivp reference of 30 starts x t_end 100 = 3000 time units exceeds",
        ),
        ("api/reference", {"method": "rk4"}, 400, "unknown key 'method' in /api/reference"),
        ("api/reference", {"dt": 0}, 400, "dt must be > 0, got 0.0"),
        (
            "api/reference",
            {"starts": [[1, 0]] * 30, "dt": 0.5, "t_end": 100},
            400,
            "the solve_ivp reference of 30 starts x t_end 100 = 3000 time units exceeds",
        ),
        (
            "api/reference",
            {"starts": [[1, 0]] * 2, "dt": 1e-4, "t_end": 1000},
            400,
            "2 starts x 10,000,000 steps = 20,000,000 steps exceed the explorer's limit",
        ),
        ("api/stability", {"dt": float("inf")}, 400, "the body is not JSON: Infinity"),
        ("api/nothing", {}, 404, "no such path: /api/nothing"),
        ("api/info", {}, 405, "/api/info takes GET"),
    ],
)
def test_bad_input_is_a_4xx_with_one_line(url, path, payload, status, reason):
    if payload == {"dt": float("inf")}:
        got, answer = _post(url + path, data=b'{"dt": Infinity}')
    else:
        got, answer = _post(url + path, payload)
    assert got == status
    assert answer["error"].startswith(reason) or reason in answer["error"], answer
    assert "\n" not in answer["error"]


def test_bad_requests_of_the_http_layer(url):
    status, answer = _post(url + "api/field", data=b"{not json")
    assert status == 400 and answer["error"].startswith("the body is not JSON")
    status, answer = _post(url + "api/field", data=b" " * (2 * 2**20))
    assert status == 413 and "at most 1,048,576" in answer["error"]
    status, answer, _ = _get(url + "api/field")
    assert status == 405 and answer["error"] == "/api/field takes POST"
    status, answer, _ = _get(url + "nowhere")
    assert status == 404
    host, port = url[len("http://") : -1].split(":")
    for path in ("/static/../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd", "/static/x.py"):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 404 and b"root:" not in response.read()
        connection.close()
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/api/info", headers={"Host": "evil.example:80"})
    assert connection.getresponse().status == 403
    connection.close()


def test_unknown_system_in_a_config_and_target(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["explore", str(_config(tmp_path, "vanderpol")), "--no-browser"])
    assert result.exit_code == 2
    assert "unknown system 'vanderpol' (did you mean 'van_der_pol'?)" in result.output
    result = runner.invoke(main, ["explore", "lorentz", "--no-browser"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "unknown system 'lorentz' (did you mean 'lorenz'?)" in result.output


def test_the_command_serves_until_ctrl_c(monkeypatch):
    def interrupted(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(server.ExplorerServer, "serve_forever", interrupted)
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = CliRunner().invoke(main, ["explore", "pendulum"])
    assert result.exit_code == 0, result.output
    first, last = result.output.strip().splitlines()
    assert first.startswith("dynsys explore: http://127.0.0.1:") and first.endswith(
        "/ (Ctrl-C stops it)"
    )
    assert last == "stopped" and opened == [first.split()[2]]
    result = CliRunner().invoke(main, ["explore", "--host", "0.0.0.0", "--no-browser"])
    assert result.exit_code == 0 and "warning: listening on 0.0.0.0" in result.output
    result = CliRunner().invoke(main, ["explore", "--host", "no such host", "--no-browser"])
    assert result.exit_code == 2 and "Error: cannot listen on no such host:0" in result.output
    help_text = CliRunner().invoke(main, ["explore", "--help"]).output
    assert "dynsys explore van_der_pol" in help_text and "--no-browser" in help_text


def test_the_cache_is_bounded_in_entries_and_bytes():
    cache = api._Cache(3, max_bytes=10)
    for key in "abcd":
        assert cache.get(key, lambda key=key: key.encode() * 2) == key.encode() * 2
    assert list(cache.items) == ["b", "c", "d"] and cache.bytes == 6
    assert cache.get("b", lambda: b"never computed") == b"bb"
    cache.get("e", lambda: b"eeeeeeee")  # 8 bytes: the least recently used make room
    assert list(cache.items) == ["b", "e"] and cache.bytes == 10
    assert cache.get("f", lambda: b"f" * 11) == b"f" * 11 and "f" not in cache.items


def test_a_key_asked_twice_at_once_is_computed_once():
    """Two threads asking for one key while it is computed: one computes, the other waits and
    gets the same value (the field and the stability panel share their equilibria)."""
    import threading

    cache, calls, started, release = api._Cache(4), [], threading.Event(), threading.Event()

    def compute():
        calls.append(1)
        started.set()
        release.wait(5)
        return "value"

    got: list[str] = []
    first = threading.Thread(target=lambda: got.append(cache.get("k", compute)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: got.append(cache.get("k", compute)))
    second.start()
    release.set()
    first.join(5), second.join(5)
    assert got == ["value", "value"] and len(calls) == 1 and not cache.pending


def test_a_backward_blow_up_is_capped_and_reported(targets):
    """The Lorenz system backward from (1, 1, 20) leaves every bound in finite time: the
    stepper's run and the reference's stop, each saying where, and the request answers."""
    out = api.trajectories(
        targets["lorenz"],
        {"starts": [[1, 1, 20]], "method": "rk4", "dt": 0.01, "t_end": 20.0, "backward": True},
    )
    run, ref = out["runs"][0], out["reference"]["runs"][0]
    assert run["diverged"]["step"] == 121 and run["diverged"]["t"] == pytest.approx(1.21)
    assert f"{api.REFERENCE_NFEV} evaluations of the vector field" in ref["diverged"]["reason"]
