"""simulation.events in experiment configs: checked at config time, located in the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dynsys
from dynsys.cli import main
from dynsys.experiments.config import ConfigError, config_hash, config_schema, parse_config

# The undamped, undriven oscillator (A = 0, c = 0, m = k = 1) from s0 = (1, 0): s = cos t,
# crossing s = 0 at t = pi/2 + k pi (going down for even k, up for odd k).
CONFIG = """\
name: events-oscillator
system: {name: driven_oscillator, params: {A: 0.0, c: 0.0}}
simulation:
  s0: [1.0, 0.0]
  t_end: 10.0
  dt: 0.01
  methods: [rk4]
  events: ["s=0", "s=0,ds>0"]
"""
EXACT = np.pi / 2 + np.pi * np.arange(3)  # the crossings before t = 10
OWN = """\
name: own-events
system:
  states: [x, y]
  params: {a: 1.0}
  equations: {x: "y", y: "-a*x"}
simulation: {s0: [1.0, 0.0], t_end: 5.0, events: ["x=a/2,dx<0"]}
"""


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module", autouse=True)
def registry():
    before = dict(dynsys.SYSTEMS)
    yield
    dynsys.SYSTEMS.clear()
    dynsys.SYSTEMS.update(before)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "events.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def ran(config_file, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("runs") / "events"
    return out, invoke("run", config_file, "--out", out)


def test_the_run_locates_the_crossings_at_the_exact_times(ran):
    out, result = ran
    assert result.exit_code == 0, result.output
    for name in ("rk4", "reference"):
        doc = read_json(out / "events" / f"{name}.json")
        assert doc["events"] == ["s=0", "s=0,increasing"]
        assert doc["stop"] == [None] and doc["notes"] == []
        rows = doc["crossings"]
        down = [r for r in rows if r["event"] == "s=0"]
        up = [r for r in rows if r["event"] == "s=0,increasing"]
        assert np.max(np.abs([r["t"] for r in down] - EXACT)) < 1e-6
        assert [r["direction"] for r in down] == [-1, 1, -1]
        assert len(up) == 1 and abs(up[0]["t"] - EXACT[1]) < 1e-6
        assert abs(up[0]["state"]["v"] - 1.0) < 1e-6  # v = -sin t = 1 at t = 3 pi / 2


def test_metrics_count_each_event_per_method_and_the_summary_shows_them(ran):
    out, result = ran
    metrics = read_json(out / "metrics.json")
    counts = {"s=0": 3, "s=0,ds>0": 1}
    assert metrics["events"] == {"rk4": counts, "reference": counts}
    assert "events (crossings, events/<method>.json): rk4 (s=0: 3, s=0,ds>0: 1)" in result.output
    status = read_json(out / "status.json")
    assert {"events/rk4.json", "events/reference.json"} <= set(status["written"]["simulation"])


def test_resume_redoes_the_simulation_when_an_events_file_is_missing(ran, tmp_path):
    out, _ = ran
    folder = tmp_path / "copy"
    first = invoke("run", out / "config.resolved.yaml", "--out", folder, "--quiet")
    assert first.exit_code == 0, first.output
    written = (folder / "events" / "rk4.json").read_bytes()
    assert written == (out / "events" / "rk4.json").read_bytes()
    (folder / "events" / "rk4.json").unlink()
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    assert (folder / "events" / "rk4.json").read_bytes() == written
    assert "simulation: events/rk4.json is missing" in (folder / "run.log").read_text()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            'simulation.events=["s=0", "q=0"]',
            "simulation.events[1] (--set): event 'q=0': 'q' is not allowed: unknown name 'q' "
            "(allowed: numbers, the names A, c, k, m, omega, s, t, v,",
        ),
        (
            "simulation.save_every=2",
            "simulation.save_every (--set): events need every step kept: set "
            "simulation.save_every to 1 (it is 2) or remove simulation.events",
        ),
        ('simulation.events=["s=0,dv>0"]', "the direction dv names 'v', which the event does"),
        ('simulation.events=["s=0", "s=0"]', "simulation.events[1] (--set): 's=0' is listed twice"),
    ],
)
def test_bad_events_are_one_line_exit_2(config_file, setting, message):
    result = invoke("config", "validate", config_file, "--set", setting)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_events_of_an_own_system_and_a_map_are_checked():
    config = parse_config(OWN)
    assert config.simulation.events == ["x=a/2,dx<0"]
    bad = OWN.replace("x=a/2", "x=b/2")
    with pytest.raises(
        ConfigError, match=r"simulation\.events\[0\] \(line 6\): .*unknown name 'b'"
    ):
        parse_config(bad)
    logistic = "name: m\nsystem: {name: logistic_map}\nsimulation: {events: ['x=0.5']}\n"
    with pytest.raises(ConfigError, match=r"simulation\.events\[0\] \(line 3\): .*discrete map"):
        parse_config(logistic)


def test_the_schema_lists_the_field_and_no_events_keep_the_hash():
    result = invoke("config", "schema")
    assert result.exit_code == 0
    fields = json.loads(result.output)["$defs"]["SimulationConfig"]["properties"]
    assert fields["events"]["type"] == "array" and fields["events"]["items"] == {"type": "string"}
    assert fields == config_schema()["$defs"]["SimulationConfig"]["properties"]
    plain = parse_config(CONFIG.replace('  events: ["s=0", "s=0,ds>0"]\n', ""))
    assert plain.simulation.events == []
    assert config_hash(plain) != config_hash(parse_config(CONFIG))
