"""Experiment files: the smallest ones, defaults, overrides, every kind of mistake, the JSON
Schema, the command line, and random mutations of valid configs (a config or a clean error)."""

from __future__ import annotations

import json
import re
import string

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.experiments.config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    config_hash,
    config_schema,
    load_config,
    parse_config,
    resolved_yaml,
)
from dynsys.rnn.kinds import MODEL_KINDS as KINDS

NAMED = """\
name: seed-oscillator
system: {name: driven_oscillator, params: {k: 4.0}}
simulation: {s0: [1.0, 0.0], dt: 0.01, t_end: 20, methods: [euler, semi_implicit_euler, rk4]}
"""
OWN = """\
name: own-pendulum
system:
  states: [x, y]
  params: {a: 1.0, b: 0.5}
  equations: {x: "y", y: "-a*sin(x) - b*y + 0.3*cos(t)"}
"""
SWEEP = (
    NAMED
    + """\
sweep:
  grid: {simulation.dt: [0.1, 0.05, 0.025], system.params.k: [1.0, 4.0]}
"""
)
FULL = """\
name: full
seed: 3
system:
  states: [q, p]
  params: {w: 2.0}
  drive: "0.5*cos(t)"
  equations: {q: p, p: "-w**2*q + x"}
  jacobian: {q: {q: 0, p: 1}, p: {q: "-w**2", p: 0}}
  energy: "0.5*p**2 + 0.5*w**2*q**2"
  s0: [1, 0]
simulation: {s0: [[1, 0], [0, 1]], t_end: 5, dt: 1e-2, methods: [rk4, heun]}
reference: {method: Radau, rtol: 1e-8}
dataset: {ranges: {w: [1, 3]}, s0_ranges: {q: [-2, 2]}, h: 0.1, seq_len: 20}
model: {kind: elman, hidden: 8, activation: tanh}
training: {optimizer: adam, epochs: 10, lr: 3e-3}
plots:
  - {kind: phase, format: svg, options: {grid: 3, label: "1e-3"}}
  - {kind: timeseries, name: series}
output: {trajectories: csv}
sweep:
  points: [{seed: 1}, {simulation.dt: 0.05, model.hidden: 16}]
  executor: dask
  jobs: 4
"""
BLOCK = """\
name: block
system:
  name: driven_oscillator
  params:
    k: 4.0
model:
  kind: jordan
  hiden: 7
"""


def error_of(text: str, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.yaml", overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- valid files -----------------------------------------------------------------------------


def test_the_smallest_named_file_validates_with_defaults():
    config = parse_config(NAMED)
    assert config.name == "seed-oscillator"
    assert config.seed == 0
    assert config.system.name == "driven_oscillator"
    assert config.system.params == {"k": 4.0}
    assert config.simulation.s0 == [1.0, 0.0]
    assert config.simulation.t_end == 20.0
    assert config.simulation.methods == ["euler", "semi_implicit_euler", "rk4"]
    assert config.simulation.save_every == 1 and config.simulation.backend == "auto"
    assert (config.reference.method, config.reference.rtol) == ("DOP853", 1e-10)
    assert config.dataset is None and config.model is None and config.sweep is None
    assert config.training.given() == {}  # the recipe decides
    assert config.plots == [] and config.output.trajectories == "npz"


def test_the_smallest_own_system_validates_with_zero_s0():
    config = parse_config(OWN)
    assert config.system.name is None
    assert config.system.states == ["x", "y"]
    assert config.system.equations == {"x": "y", "y": "-a*sin(x) - b*y + 0.3*cos(t)"}
    assert config.system.s0 == [0.0, 0.0]
    assert config.simulation.s0 is None and config.simulation.dt == 0.01


def test_the_smallest_sweep_validates():
    sweep = parse_config(SWEEP).sweep
    assert sweep.grid == {"simulation.dt": [0.1, 0.05, 0.025], "system.params.k": [1.0, 4.0]}
    assert (sweep.points, sweep.executor, sweep.jobs) == ([], "local", 1)


def test_a_full_file_validates():
    config = parse_config(FULL)
    assert config.simulation.dt == 0.01  # 1e-2 is a number, not text
    assert config.system.jacobian["q"]["p"] == "1"  # a bare number is an expression too
    assert config.dataset.ranges == {"w": (1.0, 3.0)}
    assert [plot.name for plot in config.plots] == ["phase", "series"]
    assert config.plots[0].options == {"grid": 3, "label": "1e-3"}


def test_a_discrete_map_steps_with_map_by_default():
    config = parse_config("name: m\nsystem: {name: logistic_map}\n")
    assert config.simulation.methods == ["map"] and config.simulation.dt == 1.0


@pytest.mark.parametrize("text", [NAMED, OWN, SWEEP, FULL, "name: m\nsystem: {name: henon_map}\n"])
def test_the_resolved_yaml_reloads_to_the_same_config(text):
    config = parse_config(text)
    resolved = resolved_yaml(config)
    assert parse_config(resolved) == config
    assert resolved_yaml(parse_config(resolved)) == resolved
    assert "save_every: 1" in resolved and "\nsweep:" in resolved


def test_config_hash_ignores_name_and_sweep_only():
    base = parse_config(NAMED)
    assert config_hash(base) == config_hash(parse_config(SWEEP, overrides=["name=other"]))
    assert re.fullmatch(r"[0-9a-f]{12}", config_hash(base))
    assert config_hash(base) != config_hash(parse_config(NAMED, overrides=["simulation.dt=0.02"]))


# -- overrides -------------------------------------------------------------------------------


def test_overrides_set_nested_fields_lists_and_scalars():
    config = parse_config(
        NAMED,
        overrides=[
            "model.hidden=64",
            "system.params.k=4",
            "system.params.A=1e-3",
            "simulation.s0=[[1, 0], [0, 1]]",
            "simulation.methods=[rk4]",
            "simulation.backend=numpy",
            "dataset.h=0.05",
            "sweep={grid: {seed: [1, 2]}}",
        ],
    )
    assert config.model.hidden == 64 and config.model.kind == "jordan"
    assert config.system.params == {"k": 4.0, "A": 1e-3}
    assert config.simulation.s0 == [[1.0, 0.0], [0.0, 1.0]]
    assert config.simulation.methods == ["rk4"]
    assert config.dataset.h == 0.05
    assert config.sweep.grid == {"seed": [1, 2]}


def test_overrides_set_null_booleans_and_list_items():
    config = parse_config(
        FULL, overrides=["dataset=null", "model.identity_init=false", "plots.1.kind=error"]
    )
    assert config.dataset is None and config.model.identity_init is False
    assert config.plots[1].kind == "error"
    config = parse_config(FULL, overrides=["plots[0].format=pdf", "simulation.methods.1=euler"])
    assert config.plots[0].format == "pdf" and config.simulation.methods == ["rk4", "euler"]


def test_apply_overrides_copies():
    data = {"model": {"hidden": 3}}
    assert apply_overrides(data, ["model.hidden=4", "a.b.c=x y"]) == {
        "model": {"hidden": 4},
        "a": {"b": {"c": "x y"}},
    }
    assert data == {"model": {"hidden": 3}}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.hidden", "--set 'model.hidden': expected KEY=VALUE"),
        ("=3", "--set '=3': expected KEY=VALUE"),
        ("model..hidden=3", "--set model..hidden: empty name"),
        ("name.x=3", "--set name.x: name is a value, not a section"),
        ("plots.3.kind=phase", "--set plots.3.kind: plots is a list of 2; '3' is no index"),
        ("model.hidden=[1", "--set model.hidden: malformed YAML at line 1, column 3"),
    ],
)
def test_malformed_overrides_are_named(override, expected):
    assert error_of(FULL, [override]).startswith(expected)


def test_an_override_error_points_at_set():
    assert error_of(NAMED, ["model.hidden=0"]) == (
        "config.yaml: model.hidden (--set): must be >= 1, got 0"
    )


# -- errors ----------------------------------------------------------------------------------


def test_an_unknown_key_gives_the_closest_key_and_line():
    assert (
        error_of(BLOCK) == "config.yaml: model.hiden (line 8): unknown key; did you mean 'hidden'?"
    )
    assert error_of(NAMED + "simulaton: {}\n") == (
        "config.yaml: simulaton (line 4): unknown key; did you mean 'simulation'?"
    )
    assert "valid keys: kind, hidden" in error_of(NAMED + "model: {zzz: 1}\n")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("dt: 0.01", "dt: fast", "simulation.dt (line 3): must be a valid number, got 'fast'"),
        ("dt: 0.01", "dt: true", "simulation.dt (line 3): must be a valid number, got True"),
        ("dt: 0.01", "dt: 0", "simulation.dt (line 3): must be > 0, got 0"),
        ("dt: 0.01", "dt: -0.1", "simulation.dt (line 3): must be > 0, got -0.1"),
        ("dt: 0.01", "dt: .nan", "simulation.dt (line 3): must be a finite number"),
        ("t_end: 20", "t_end: 0", "simulation.t_end (line 3): must be > t0 = 0, got 0"),
        ("t_end: 20", "t0: 30", "simulation.t_end (line 3): must be > t0 = 30, got 20"),
        ("dt: 0.01", "dt: 30", "simulation.dt (line 3): must not exceed t_end - t0 = 20"),
        ("rk4]", "rk5]", "simulation.methods[2] (line 3): must be one of euler,"),
        ("rk4]", "rk5]", "got 'rk5' (did you mean 'rk4'?)"),
        ("rk4]", "euler]", "simulation.methods[2] (line 3): 'euler' is listed twice"),
        ("[1.0, 0.0]", "[1.0]", "simulation.s0 (line 3): must have 2 values (s, v), got 1"),
        ("[1.0, 0.0]", "[1, a]", "simulation.s0 (line 3): must be a list of numbers or a list"),
        ("driven_oscillator", "driven_osc", "system.name (line 2): unknown system 'driven_osc'"),
        ("driven_oscillator", "driven_osc", "(did you mean 'driven_oscillator'?)"),
        ("k: 4.0", "kk: 4.0", "system.params.kk (line 2): unknown parameter 'kk' (did you mean"),
        ("k: 4.0", "m: -1", "system.params.m (line 2): parameter 'm' of driven_oscillator must be"),
        ("seed-oscillator", "seed oscillator", "name (line 1): must be letters, digits"),
    ],
)
def test_a_bad_value_is_named_with_its_line(old, new, expected):
    assert old in NAMED
    message = error_of(NAMED.replace(old, new))
    assert message.startswith("config.yaml: ") and expected in message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("model: {hidden: 0}", "model.hidden (line 4): must be >= 1, got 0"),
        ("model: {hidden: 2.5}", "model.hidden (line 4): must be a valid integer, got 2.5"),
        ("model: {kind: hopfield}", f"model.kind (line 4): must be one of {', '.join(KINDS)}"),
        ("seed: -1", "seed (line 4): must be >= 0, got -1"),
        ("training: {lr: 0}", "training.lr (line 4): must be > 0"),
        ("training: {optimizer: adma}", "(did you mean 'adam'?)"),
        (
            "{model: {kind: elman}, training: {closed_loop_epochs: 3}}",
            "training.closed_loop_epochs (line 5): applies to models that feed back their output",
        ),
        ("reference: {method: dop853}", "reference.method (line 4): must be one of RK45"),
        ("dataset: {ranges: {A: [1]}}", "dataset.ranges.A[1] (line 4): a value is missing"),
        ("dataset: {ranges: {A: [2, 1]}}", "dataset.ranges.A (line 4): must be [low, high]"),
        ("dataset: {ranges: {AA: [1, 2]}}", "dataset.ranges.AA (line 4): unknown parameter 'AA'"),
        ("dataset: {s0_ranges: {x: [1, 2]}}", "dataset.s0_ranges.x (line 4): unknown state 'x'"),
        ("plots: [{kind: phas}]", "plots[0].kind (line 4): unknown plot kind 'phas' (did you"),
        ("plots: [{kind: phase}, {kind: phase}]", "plots[1].name (line 4): another figure"),
        ("sweep: {grid: {}}", "sweep (line 4): sweep has no points"),
        ("sweep: {}", "sweep (line 4): sweep has no points"),
        ("sweep: {grid: {seed: []}}", "sweep.grid.seed (line 4): sweep has no points"),
        ("sweep: {points: []}", "sweep (line 4): sweep has no points"),
        ("sweep: {grid: {simulation.dtt: [1]}}", "simulation.dtt: unknown key; did you mean 'dt'?"),
        ("sweep: {grid: {simulation.dt: [0.1, -1]}}", "simulation.dt: must be > 0"),
        ("sweep: {points: [{model.hidden: 0}]}", "sweep.points[0] (line 4): with model.hidden"),
        ("sweep: {grid: {sweep.jobs: [2]}}", "a sweep cannot change the sweep"),
    ],
)
def test_a_bad_section_is_named_with_its_line(extra, expected):
    if extra.startswith("{"):
        extra = "\n".join(f"{k}: {v}" for k, v in yaml.safe_load(extra).items())
    message = error_of(NAMED + extra + "\n")
    assert message.startswith("config.yaml: ") and expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (OWN + "  name: pendulum\n", "system (line 2): give either name"),
        ("name: x\nsystem: {params: {k: 1}}\n", "system (line 2): needs a name"),
        ("name: x\nsystem: {states: [x]}\n", "system.equations (line 2): your own system needs"),
        ("name: x\n", "system: required key is missing"),
        ("system: {name: pendulum}\n", "name: required key is missing"),
        (OWN.replace('{x: "y", ', "{"), "system.equations (line 5): missing the state 'x'"),
        (OWN.replace('x: "y"', 'z: "y"'), "system.equations.z (line 5): unknown state 'z'"),
        (OWN.replace("cos(t)", "cos(z)"), "system.equations.y (line 5): "),
        (OWN.replace("cos(t)", "__import__('os')"), "is not allowed"),
        (OWN.replace("[x, y]", "[x, x]"), "system.states (line 3): 'x' appears twice"),
        (OWN.replace("a: 1.0", "y: 1.0"), "system.params.y (line 4): 'y' is a state and a param"),
        (OWN + "  s0: [1]\n", "system.s0 (line 6): must have 2 values"),
        (OWN + '  drive: "t"\n', "system.states[0] (line 3): 'x' is reserved"),
        ("name: m\nsystem: {name: logistic_map}\nsimulation: {methods: [rk4]}\n", "a discrete map"),
        ("name: m\nsystem: {name: logistic_map}\ndataset: {}\n", "datasets need an ODE"),
    ],
)
def test_system_mistakes(text, expected):
    assert expected in error_of(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsystem: [1\n", "config.yaml: malformed YAML at line 3, column 1: expected ','"),
        ("name: x\n  bad: 1\n", "config.yaml: malformed YAML at line 2, column 6: mapping values"),
        ("name: 'x\n", "config.yaml: malformed YAML at line 2, column 1: found unexpected end"),
        ("a: !!int abc\n", "malformed YAML at line 1, column 4: cannot read 'abc'"),
        ("a: !!python/object:os.system {}\n", "could not determine a constructor"),
        ("a: &a [*a]\n", "config.yaml: line 1: an alias refers to itself"),
        ("", "config.yaml: the file is empty"),
        (
            "name: x\nsystem: \x08\n",
            "config.yaml: malformed YAML at line 2, column 9: character #x0008",
        ),
        ("- a\n- b\n", "config.yaml: the top level must be a mapping (name: ..., system: ...)"),
        (
            "a: 1\n---\nb: 2\n",
            "line 2, column 1: expected a single document in the stream, but found another",
        ),
    ],
)
def test_malformed_yaml_is_one_line_with_line_and_column(text, expected):
    assert error_of(text).startswith(expected) or expected in error_of(text)


def test_aliases_cannot_blow_up():
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    assert "aliases expand the file to" in error_of("\n".join(lines) + "\n")


def test_a_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"cannot read config .*nope\.yaml: No such file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="is a folder"):
        load_config(tmp_path)


def test_load_config_reads_a_file(tmp_path):
    path = tmp_path / "experiment.yaml"
    path.write_text(BLOCK.replace("hiden", "hidden"))
    assert load_config(path, ["model.hidden=9"]).model.hidden == 9
    path.write_text(BLOCK)
    with pytest.raises(ConfigError, match=r"experiment\.yaml: model\.hiden \(line 8\)"):
        load_config(path)


def test_the_schema_is_json_with_the_sections():
    schema = json.loads(json.dumps(config_schema()))
    assert {"name", "system", "simulation", "sweep"} <= set(schema["properties"])
    assert schema["required"] == ["name", "system"]
    assert schema["additionalProperties"] is False
    methods = schema["$defs"]["SimulationConfig"]["properties"]["methods"]
    assert "rk4" in methods["items"]["enum"]


# -- command line ----------------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, text in {"named": NAMED, "own": OWN, "sweep": SWEEP, "block": BLOCK}.items():
        paths[name] = tmp_path / f"{name}.yaml"
        paths[name].write_text(text)
    paths["broken"] = tmp_path / "broken.yaml"
    paths["broken"].write_text("name: x\nsystem: [1\n")
    return paths


def test_cli_validate(files):
    result = run("config", "validate", str(files["named"]))
    assert result.exit_code == 0
    assert result.output == (
        f"{files['named']}: valid (seed-oscillator, driven_oscillator, 3 methods)\n"
    )
    result = run("config", "validate", str(files["sweep"]), "--set", "model.hidden=4")
    assert result.exit_code == 0
    assert "jordan model, sweep over simulation.dt, system.params.k" in result.output
    assert "own system (x, y)" in run("config", "validate", str(files["own"])).output


def test_cli_show_prints_the_resolved_yaml(files):
    result = run("config", "show", str(files["named"]), "--set", "simulation.dt=0.02")
    assert result.exit_code == 0
    data = yaml.safe_load(result.output)
    assert data["simulation"]["dt"] == 0.02 and data["reference"]["method"] == "DOP853"
    assert parse_config(result.output) == parse_config(NAMED, overrides=["simulation.dt=0.02"])


def test_cli_schema():
    result = run("config", "schema")
    assert result.exit_code == 0
    assert "system" in json.loads(result.output)["properties"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("validate", "{block}"), "model.hiden (line 8): unknown key; did you mean 'hidden'?"),
        (("show", "{block}"), "model.hiden (line 8)"),
        (("validate", "{broken}"), "malformed YAML at line 3, column 1"),
        (("validate", "{named}", "--set", "model.hidden=0"), "model.hidden (--set): must be >= 1"),
        (("validate", "{named}", "--set", "oops"), "--set 'oops': expected KEY=VALUE"),
        (("validate", "{named}", "--set", "sweep.grid={}"), "sweep has no points"),
        (("validate", "{missing}"), "missing.yaml: No such file or directory"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(files, tmp_path, args, expected):
    paths = {**{k: str(v) for k, v in files.items()}, "missing": str(tmp_path / "missing.yaml")}
    result = run("config", *(paths.get(a.strip("{}"), a) for a in args))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert expected in result.output


# -- random configs --------------------------------------------------------------------------

BASES = [yaml.safe_load(text) for text in (NAMED, OWN, SWEEP, FULL)]
WORDS = [
    *ExperimentConfig.model_fields,
    "hidden",
    "dt",
    "t_end",
    "methods",
    "params",
    "states",
    "equations",
    "grid",
    "points",
    "kind",
    "rk4",
    "map",
    "phase",
    "driven_oscillator",
    "logistic_map",
    "x*y + sin(t)",
    "__import__('os')",
    "simulation.dt",
    "system.params.k",
    "1e-3",
    "",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(WORDS),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=10,
)


def _paths(data, prefix=()):
    """Every path (a tuple of keys and indices) into ``data``."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        out.append((*prefix, key))
        if isinstance(value, dict | list) and value:
            out += _paths(value, (*prefix, key))
    return out


def _mutate(data, draw):
    path = draw(st.sampled_from(_paths(data)))
    *head, last = path
    parent = data
    for key in head:
        parent = parent[key]
    action = draw(st.sampled_from(["drop", "rename", "replace", "add"]))
    if action == "drop":
        del parent[last]
    elif action == "replace":
        parent[last] = draw(VALUES)
    elif isinstance(parent, dict) and action == "rename":
        word = str(last)
        at = draw(st.integers(0, len(word)))
        typo = word[:at] + draw(st.sampled_from(["", *string.ascii_lowercase])) + word[at + 1 :]
        parent[draw(st.one_of(st.just(typo), st.sampled_from(WORDS)))] = parent.pop(last)
    elif isinstance(parent, dict):
        parent[draw(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)))] = draw(VALUES)
    else:
        parent.append(draw(VALUES))


def _dotted(path) -> str:
    return ".".join(str(part) for part in path)


def _config_or_clean_error(text: str, overrides=()) -> ExperimentConfig | None:
    try:
        config = parse_config(text, "fuzz.yaml", overrides)
    except InputError as err:
        assert str(err) and "\n" not in str(err)
        return None
    assert isinstance(config, ExperimentConfig)
    assert parse_config(resolved_yaml(config)) == config
    config_hash(config)
    return config


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_configs_validate_or_fail_cleanly(data):
    config = yaml.safe_load(yaml.safe_dump(data.draw(st.sampled_from(BASES))))
    for _ in range(data.draw(st.integers(1, 3))):
        if config:
            _mutate(config, data.draw)
    keys = st.one_of(st.sampled_from([_dotted(p) for p in _paths(config)] or ["name"]), st.text())
    values = st.one_of(VALUES.map(lambda v: yaml.safe_dump(v).strip()), st.text(max_size=8))
    overrides = data.draw(
        st.lists(
            st.one_of(*[st.builds(lambda k, v: f"{k}={v}", keys, values)] * 3, st.text(max_size=8)),
            max_size=2,
        )
    )
    _config_or_clean_error(yaml.safe_dump(config, allow_unicode=True), overrides)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([NAMED, OWN, SWEEP, FULL]), st.data())
def test_mutated_yaml_text_validates_or_fails_cleanly(text, data):
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        insert = data.draw(
            st.one_of(st.text(max_size=3), st.sampled_from(list(":-[]{},&*!'\"#\n ")))
        )
        text = text[:at] + insert + text[at + cut :]
    _config_or_clean_error(text)


def test_a_dataset_without_a_model_is_refused():
    text = "name: x\nsystem: {name: driven_oscillator}\ndataset: {n_train: 8}\n"
    with pytest.raises(InputError, match=r"dataset.*add a model section"):
        parse_config(text)
