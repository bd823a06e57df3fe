"""The lyapunov and bifurcation sections of an experiment: their steps, files, metrics, summary,
resume, refusals and schema."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from dynsys import get_system
from dynsys.cli import main
from dynsys.experiments.config import config_schema, parse_config
from dynsys.experiments.run import filled_config, plan_run
from dynsys.lyapunov import lyapunov
from dynsys.orbits import OrbitDiagram, orbit_diagram, parameter_range

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LORENZ = CONFIGS / "lorenz_lyapunov.yaml"
LOGISTIC = CONFIGS / "logistic_bifurcation.yaml"
LORENZ_SHORT = ("simulation.t_end=2", "lyapunov.t_end=30", "lyapunov.transient=5")
LOGISTIC_SHORT = (
    "simulation.t_end=50",
    "bifurcation.n=121",  # r = 2.8, 2.81, ..., 4.0
    "bifurcation.transient=500",
    "bifurcation.keep=64",
    "bifurcation.lyapunov_iterations=1000",
)


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def sets(overrides) -> list[str]:
    return [item for o in overrides for item in ("--set", o)]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def lorenz(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("runs") / "lorenz"
    return out, invoke("run", LORENZ, *sets(LORENZ_SHORT), "--out", out, "--quiet")


@pytest.fixture(scope="module")
def logistic(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("runs") / "logistic"
    return out, invoke("run", LOGISTIC, *sets(LOGISTIC_SHORT), "--out", out, "--quiet")


# -- lyapunov --------------------------------------------------------------------------------


def test_lyapunov_step_writes_the_exponents_and_records_them(lorenz):
    folder, result = lorenz
    assert result.exit_code == 0, result.output
    status = read_json(folder / "status.json")
    assert status["state"] == "done" and status["completed"] == ["simulation", "lyapunov"]
    assert set(status["written"]["lyapunov"]) == {"lyapunov.json"}
    doc = read_json(folder / "lyapunov.json")
    assert doc["units"] == "per unit time" and doc["method"] == "rk4" and doc["dt"] == 0.01
    assert (doc["t_end"], doc["transient"], doc["steps"], doc["tangent"]) == (30, 5, 2500, "exact")
    assert len(doc["exponents"]) == 3 and doc["exponents"] == sorted(doc["exponents"])[::-1]
    assert "seconds" not in doc and len(doc["history"]) == len(doc["times"])
    # the same numbers as lyapunov() called with the section's settings
    direct = lyapunov(
        get_system("lorenz"),
        [1.0, 1.0, 1.0],
        dt=0.01,
        method="rk4",
        t_end=30.0,
        transient=5.0,
        spectrum=True,
    )
    assert doc["exponents"] == direct.exponents.tolist()
    assert doc["sum"] == pytest.approx(-(10 + 1 + 8 / 3), abs=2e-3)  # -trace of the jacobian
    metrics = read_json(folder / "metrics.json")["lyapunov"]
    assert {k: metrics[k] for k in ("exponents", "spread", "sum", "kaplan_yorke")} == {
        k: doc[k] for k in ("exponents", "spread", "sum", "kaplan_yorke")
    }
    assert "history" not in metrics
    out = result.output
    assert "Lyapunov exponents (per unit time): rk4, dt=0.01, exact tangent" in out
    assert f"{doc['exponents'][0]:.6g}" in out and "D_KY" in out


@pytest.mark.slow  # about 6 s, most of it compiling the tangent loop into a fresh cache
def test_the_shipped_lorenz_spectrum(tmp_path):
    result = invoke("run", LORENZ, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    exponents = read_json(tmp_path / "run" / "metrics.json")["lyapunov"]
    l1, l2, l3 = exponents["exponents"]
    assert l1 == pytest.approx(0.9056, abs=0.02)  # 0.9174 over (20, 200]
    assert abs(l2) < 0.01 and l3 == pytest.approx(-14.572, abs=0.02)
    assert exponents["sum"] == pytest.approx(-13.6667, abs=1e-3)
    assert exponents["kaplan_yorke"] == pytest.approx(2.06, abs=0.01)


def test_lyapunov_defaults_follow_the_simulation_and_fill_the_resolved_config(tmp_path):
    text = (
        "name: decay\nsystem: {name: logistic_map, params: {r: 4.0}}\n"
        "simulation: {s0: [0.3], t_end: 20}\nlyapunov: {t_end: 20000, transient: 100}\n"
    )
    path = tmp_path / "map.yaml"
    path.write_text(text)
    result = invoke("run", path, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    doc = read_json(tmp_path / "run" / "lyapunov.json")
    assert doc["units"] == "per iteration" and doc["method"] == "map" and doc["dt"] == 1.0
    assert doc["exponents"][0] == pytest.approx(math.log(2), abs=0.01)  # r = 4: ln 2
    resolved = yaml.safe_load((tmp_path / "run" / "config.resolved.yaml").read_text())
    assert resolved["lyapunov"]["method"] == "map" and resolved["lyapunov"]["dt"] is None
    assert "per iteration" in result.output and "dt=" not in result.output.split("Lyapunov")[1]
    ode = parse_config("name: a\nsystem: {name: lorenz}\nsimulation: {methods: [heun, rk4]}\n"
                       "lyapunov: {}\n")  # fmt: skip
    filled = filled_config(plan_run(ode)).lyapunov
    assert (filled.method, filled.dt, filled.t_end) == ("heun", 0.01, 20.0)


# -- bifurcation -----------------------------------------------------------------------------


def test_bifurcation_step_writes_the_diagram_figure_and_periods(logistic):
    folder, result = logistic
    assert result.exit_code == 0, result.output
    status = read_json(folder / "status.json")
    assert status["completed"] == ["simulation", "bifurcation"]
    assert set(status["written"]["bifurcation"]) == {"bifurcation.npz", "plots/bifurcation.png"}
    assert (folder / "plots" / "bifurcation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    diagram = OrbitDiagram.from_npz(folder / "bifurcation.npz")
    values = parameter_range(2.8, 4.0, 121)
    assert np.array_equal(diagram.values, values) and diagram.points.shape == (121, 64)
    same = orbit_diagram(get_system("logistic_map"), "r", values, s0=[0.2], transient=500, keep=64)
    assert np.array_equal(diagram.points, same.points)
    periods = diagram.periods()
    at = {r: periods[np.argmin(abs(values - r))] for r in (2.9, 3.2, 3.5, 3.83, 3.9)}
    assert at == {2.9: 1, 3.2: 2, 3.5: 4, 3.83: 3, 3.9: 0}
    with np.load(folder / "bifurcation.npz") as data:
        exponents = data["lyapunov"]
    assert exponents.shape == (121,) and exponents[-1] == pytest.approx(math.log(2), abs=0.02)
    assert exponents[np.argmin(abs(values - 3.2))] < 0 < exponents[np.argmin(abs(values - 3.9))]
    metrics = read_json(folder / "metrics.json")["bifurcation"]
    found, counts = np.unique(periods[periods > 0], return_counts=True)
    assert metrics["periods"] == {str(p): int(c) for p, c in zip(found, counts, strict=True)}
    assert metrics["without_period"] == int(np.sum(periods == 0))
    assert sum(metrics["periods"].values()) + metrics["without_period"] == metrics["values"] == 121
    assert metrics["lyapunov_positive"] == int(np.sum(exponents > 0))
    assert "orbit diagram over r from 2.8 to 4, 121 values" in result.output


# -- resume ----------------------------------------------------------------------------------


def test_resume_skips_the_completed_steps_and_redoes_a_removed_file(logistic):
    folder, _ = logistic
    npz = (folder / "bifurcation.npz").read_bytes()
    figure = (folder / "plots" / "bifurcation.png").stat().st_mtime_ns
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    assert "bifurcation: completed before, skipped" in (folder / "run.log").read_text()
    assert (folder / "plots" / "bifurcation.png").stat().st_mtime_ns == figure
    (folder / "bifurcation.npz").unlink()
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    log = (folder / "run.log").read_text()
    assert "bifurcation: bifurcation.npz is missing or changed since it was written" in log
    assert (folder / "bifurcation.npz").read_bytes() == npz  # recomputed identically


def test_ctrl_c_in_the_lyapunov_step_and_resume(tmp_path, monkeypatch, lorenz):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    folder = tmp_path / "run"
    monkeypatch.setattr(sys.modules["dynsys.lyapunov"], "lyapunov", interrupted)
    result = invoke("run", LORENZ, *sets(LORENZ_SHORT), "--out", folder, "--quiet")
    assert result.exit_code == 130
    status = read_json(folder / "status.json")
    assert status["state"] == "interrupted" and status["completed"] == ["simulation"]
    assert not (folder / "lyapunov.json").exists()
    monkeypatch.undo()
    result = invoke("run", "--resume", folder, "--quiet")
    assert result.exit_code == 0, result.output
    assert read_json(folder / "status.json")["completed"] == ["simulation", "lyapunov"]
    full, _ = lorenz
    assert read_json(folder / "lyapunov.json") == read_json(full / "lyapunov.json")


# -- bad input -------------------------------------------------------------------------------

BAD = [
    (LORENZ, "lyapunov.bogus=1", "lyapunov.bogus (--set): unknown key; valid keys: method, dt"),
    (
        LORENZ,
        "lyapunov.spectrum=4",
        "lyapunov.spectrum (--set): must be true, false or a whole "
        "number from 1 to 3 (the states x, y, z), got 4",
    ),
    (LORENZ, "lyapunov.spectrum=0", "lyapunov.spectrum (--set): must be true, false or a whole"),
    (LORENZ, "lyapunov.method=bdf2", "lyapunov.method (--set): 'bdf2' carries 2 states"),
    (LORENZ, "lyapunov.method=map", "lyapunov.method (--set): 'map' does not fit an ODE"),
    (LORENZ, "lyapunov.method=verlet", "lyapunov.method: "),
    (
        LORENZ,
        "lyapunov.transient=300",
        "lyapunov.t_end (line 17): t_end = 200 must be > t0 + transient = 300",
    ),
    (
        LORENZ,
        "lyapunov.tangent=exct",
        "lyapunov.tangent (--set): must be one of auto, exact, "
        "finite_difference; got 'exct' (did you mean 'exact'?)",
    ),
    (
        LORENZ,
        "bifurcation={param: rho, range: [1, 2]}",
        "bifurcation (--set): orbit diagrams are of discrete maps; lorenz is an ODE",
    ),
    (
        LOGISTIC,
        "bifurcation.param=q",
        "bifurcation.param (--set): unknown parameter 'q'; known: r",
    ),
    (
        LOGISTIC,
        "bifurcation.range=[4, 2.8]",
        "bifurcation.range (--set): must be [lo, hi] with lo < hi, got [4, 2.8]",
    ),
    (LOGISTIC, "bifurcation.range=[3, 3]", "bifurcation.range (--set): must be [lo, hi] with lo"),
    (LOGISTIC, "bifurcation.range=[]", "bifurcation.range"),
    (LOGISTIC, "bifurcation.n=1", "bifurcation.n (--set): must be >= 2, got 1"),
    (LOGISTIC, "bifurcation.state=y", "bifurcation.state (--set): no state 'y'; the states: 0 (x)"),
    (LOGISTIC, "bifurcation.state=true", "bifurcation.state (--set): must be a state's name or"),
    (
        LOGISTIC,
        "lyapunov={dt: 0.5}",
        "lyapunov.dt (--set): a discrete map steps once per iteration; leave dt out",
    ),
    (LOGISTIC, "bifurcation.n=1e9", "bifurcation.n (--set): must be a valid integer"),
    (LOGISTIC, "bifurcation.n=100000000", "the orbit diagram is 1.2e+11 steps"),
    (
        LOGISTIC,
        "plots=[{kind: timeseries, name: bifurcation}]",
        "plots[0].name: plots/bifurcation.png is the bifurcation section's figure",
    ),
]


@pytest.mark.parametrize(("config", "override", "message"), BAD)
def test_bad_sections_are_one_line_exit_2(tmp_path, config, override, message):
    out = tmp_path / "out"
    for args in (
        ("run", config, "--set", override, "--out", out, "--quiet"),
        ("config", "validate", config, "--set", override),
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert not out.exists()


# -- schema ----------------------------------------------------------------------------------


def test_the_schema_has_both_sections():
    schema = json.loads(json.dumps(config_schema()))
    assert {"lyapunov", "bifurcation"} <= set(schema["properties"])
    defs = schema["$defs"]
    assert set(defs["LyapunovConfig"]["properties"]) == {
        "method", "dt", "t_end", "transient", "spectrum", "every", "tangent", "s0",
    }  # fmt: skip
    tangent = defs["LyapunovConfig"]["properties"]["tangent"]
    assert tangent["enum"] == ["auto", "exact", "finite_difference"]
    assert defs["BifurcationConfig"]["required"] == ["param", "range"]
    assert defs["BifurcationConfig"]["additionalProperties"] is False
    result = invoke("config", "schema")
    assert result.exit_code == 0 and "BifurcationConfig" in json.loads(result.output)["$defs"]
