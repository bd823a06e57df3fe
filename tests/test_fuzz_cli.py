"""Generated invocations of every command, and of damaged model files and run folders: each
ends in success with whole files, or in one clean error line (the contract of tests/fuzzing.py).

Each test collects every violation it meets and fails once at the end, listing them by the
module they arise in, with a command line that shows each.  The default ("ci") profile runs the
same few examples on every run, about a minute in all; the "long" profile (marked slow: run it
with DYNSYS_SLOW=1 or --runslow) draws DYNSYS_FUZZ_EXAMPLES (2000) random examples per test.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from fuzzing import (  # tests/fuzzing.py
    DEEP,
    FILES,
    command_paths,
    file_damage,
    fuzz,
    invocations,
    invoke,
    json_text,
    long_examples,
    lying_npy,
    mutated,
    prepare,
    yaml_text,
)
from hypothesis import strategies as st

from dynsys.cli import main

# dynsys explore serves until Ctrl-C: its arguments are tested in tests/test_explore_api.py
COMMANDS = {path: c for path, c in command_paths().items() if path != ("explore",)}
PROFILES = [
    pytest.param("ci", id="ci"),
    pytest.param("long", id="long", marks=pytest.mark.slow),
]
SIZES = {  # profile: (examples, seconds) per command, and for each kind of damaged file
    "ci": {"command": (8, 3.0), "model": (25, 6.0), "run": (15, 8.0)},
    "long": {k: (long_examples(), long_examples() * 5.0) for k in ("command", "model", "run")},
}

TINY = {
    "name": "tiny",
    "seed": 0,
    "system": {"name": "driven_oscillator"},
    "simulation": {"s0": [1.0, 0.0], "t_end": 1.0, "dt": 0.1, "methods": ["euler"]},
}
SWEEP = TINY | {"name": "tiny-sweep", "sweep": {"grid": {"simulation.dt": [0.1, 0.05]}}}
USER = {  # a system written in YAML with a model: its model file carries the definition
    "name": "tiny-user",
    "seed": 0,
    "system": {
        "states": ["x", "v"],
        "params": {"k": 1.0, "A": 0.5},
        "equations": {"x": "v", "v": "-k*x + A*cos(t)"},
    },
    "simulation": {"s0": [1.0, 0.0], "t_end": 2.0, "dt": 0.1, "methods": ["euler", "rk4"]},
    "dataset": {"n_train": 4, "n_val": 2, "n_test": 2, "t_end": 2.0},
    "model": {"kind": "jordan", "hidden": 4},
    "training": {"epochs": 5},
    "plots": [{"kind": "training"}],
}
TRAIN = "train driven_oscillator --model jordan --hidden 4 --epochs 5 --n-train 4 --n-val 2"
TRAIN += " --n-test 2 --t-end 2 --quiet --out model.npz"


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> dict[str, Path]:
    """A tiny trained model, a tiny finished run folder and the configs, made once."""
    base = tmp_path_factory.mktemp("fuzz-assets")
    found = {}
    for name, doc in (("tiny.yaml", TINY), ("sweep.yaml", SWEEP), ("user.yaml", USER)):
        found[name] = base / name
        found[name].write_text(yaml.safe_dump(doc, sort_keys=False))
    with contextlib.chdir(base):
        for argv in (TRAIN.split(), ["run", "user.yaml", "--out", "run", "--quiet"]):
            result = CliRunner().invoke(main, argv, prog_name="dynsys")
            assert result.exit_code == 0, (argv, result.output)
    found["model"], found["run"] = base / "model.npz", base / "run"
    return found


@pytest.fixture(scope="session")
def examples_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-examples")


def in_fresh_folder(assets, root, argv, setup=None, what=""):
    """Run ``argv`` in a new folder holding the inputs, after ``setup(folder)`` (which does
    ``what``)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        prepare(folder, assets)
        if setup is not None:
            setup(folder)
        outcome = invoke(argv, folder)
        outcome.setup = what
        return outcome
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_damaged(assets, root):
    """The body of a fuzz run over (argv, setup, what) examples."""

    def body(example, findings):
        findings.add(in_fresh_folder(assets, root, *example))

    return body


# -- every command, its options from click -------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_every_invocation_succeeds_or_fails_in_one_line(path, profile, assets, examples_root):
    examples, budget = SIZES[profile]["command"]

    def body(argv, findings):
        findings.add(in_fresh_folder(assets, examples_root, argv))

    fuzz(
        f"dynsys {' '.join(path)}",
        invocations(path, COMMANDS[path]),
        body,
        examples=examples,
        budget_s=budget,
        randomize=profile == "long",
    )


def test_the_generators_cover_every_command_and_option():
    """Each command is fuzzed, and every option of it gets values (not just the defaults)."""
    from fuzzing import role

    assert {"simulate", "run", "train", "plot", "phase"} <= {p[0] for p in COMMANDS}
    assert ("config", "validate") in COMMANDS
    roles = {role(p) for command in COMMANDS.values() for p in command.params}
    assert {"number", "integer", "choice", "flag", "out_file", "config_file"} <= roles


# -- damaged model files -------------------------------------------------------------------

MODEL_COMMANDS = [
    "evaluate {m} --n-test 2 --seed 0",
    "plot training {m} --out f.png",
    "plot rollout {m} --n 1 --seed 0 --out f.png",
    "plot field {m} --out f.png",
    "plot unrolled --model {m} --steps 2 --out f.png",
]


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def write_npz(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)


def read_model(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "metadata"}
        return json.loads(str(npz["metadata"])), arrays


@st.composite
def model_damage(draw, assets):
    """(argv, setup, what): a command on a model file damaged in its metadata (a JSON tree),
    its arrays or its bytes."""
    target = draw(st.sampled_from(list(FILES.models)))
    source = assets["model"] if target == "model.npz" else assets["run"] / "model.npz"
    meta, arrays = read_model(source)
    members = {name: npy(a) for name, a in arrays.items()}
    members["metadata"] = npy(np.array(json.dumps(meta)))
    how = draw(st.sampled_from(["metadata", "metadata", "array", "bytes"]))
    if how == "bytes":
        damage = draw(file_damage(target))
        argv = draw(st.sampled_from(MODEL_COMMANDS)).format(m=target).split()
        return argv, damage, damage.__name__
    if how == "metadata":
        doc, changes = draw(mutated(meta))
        members["metadata"] = npy(np.array(json_text(doc)))
        what = f"{target}: metadata: {changes}"
    else:
        name = draw(st.sampled_from(sorted(arrays)))
        a = arrays[name]
        changes = {
            "drop": None,
            "grow": npy(np.concatenate([a, a[:1]]) if a.ndim else a),
            "text": npy(np.array(["x"] * max(a.size, 1))),
            "nan": npy(np.full_like(a, np.nan)),
            "object": npy(np.array([{}], dtype=object)),
            "huge": lying_npy((2**40,)),
            "scalar": npy(np.array(1.0)),
            "int": npy(a.astype(np.int64)),
        }
        change = draw(st.sampled_from(sorted(changes)))
        members[name] = changes[change]
        members = {k: v for k, v in members.items() if v is not None}
        what = f"{target}: array {name}: {change}"
    argv = draw(st.sampled_from(MODEL_COMMANDS)).format(m=target).split()
    return argv, lambda folder: write_npz(folder / target, members), what


def deep_json(path: Path) -> None:
    """Make the JSON file at ``path`` nest 50,000 lists deep (a reader that recurses fails)."""
    path.write_text('{"x": ' + "[" * 50_000 + "]" * 50_000 + "}")


def deep_metadata(folder: Path) -> None:
    meta, arrays = read_model(folder / "model.npz")
    members = {name: npy(a) for name, a in arrays.items()}
    meta["training"] = DEEP
    members["metadata"] = npy(np.array(json_text(meta)))
    write_npz(folder / "model.npz", members)


MODEL_EXAMPLES = (  # always among the examples: damage seen to break readers
    (["evaluate", "model.npz", "--n-test", "2"], deep_metadata, "metadata: training nested deep"),
)


@pytest.mark.parametrize("profile", PROFILES)
def test_damaged_model_files_give_one_line_errors(profile, assets, examples_root):
    examples, budget = SIZES[profile]["model"]
    fuzz(
        "damaged model files",
        model_damage(assets),
        run_damaged(assets, examples_root),
        examples=examples,
        budget_s=budget,
        randomize=profile == "long",
        explicit=MODEL_EXAMPLES,
    )


# -- damaged run folders -------------------------------------------------------------------

RUN_COMMANDS = {  # the file damaged: the commands that read it (default: resume the run)
    "config.resolved.yaml": [
        "run --resume run --quiet",
        "config validate run/config.resolved.yaml",
    ],
    "model.npz": ["run --resume run --quiet", "evaluate run/model.npz --n-test 2 --seed 0"],
}


@st.composite
def run_damage(draw, assets):
    """(argv, setup, what): resume (or read) a run folder with one of its files damaged: the
    tree of a JSON or YAML record changed, or any file damaged as a whole."""
    run = assets["run"]
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    name = draw(st.sampled_from(files))
    argv = draw(st.sampled_from(RUN_COMMANDS.get(name, ["run --resume run --quiet"]))).split()
    if name.endswith((".json", ".yaml")) and draw(st.integers(0, 3)) < 3:
        loads = yaml.safe_load if name.endswith(".yaml") else json.loads
        doc, changes = draw(mutated(loads((run / name).read_text())))
        text = yaml_text(doc) if name.endswith(".yaml") else json_text(doc)
        return argv, lambda folder: (folder / "run" / name).write_text(text), f"{name}: {changes}"
    damage = draw(file_damage(f"run/{name}"))
    return argv, damage, damage.__name__


def run_log_a_folder(folder: Path) -> None:
    (folder / "run" / "run.log").unlink()
    (folder / "run" / "run.log").mkdir()


RESUME = ["run", "--resume", "run", "--quiet"]
RUN_EXAMPLES = (  # always among the examples: damage seen to break readers
    (RESUME, lambda folder: deep_json(folder / "run/status.json"), "status.json nested deep"),
    (RESUME, lambda folder: deep_json(folder / "run/metrics.json"), "metrics.json nested deep"),
    (RESUME, run_log_a_folder, "run.log a folder"),
)


@pytest.mark.parametrize("profile", PROFILES)
def test_damaged_run_folders_resume_or_fail_in_one_line(profile, assets, examples_root):
    examples, budget = SIZES[profile]["run"]
    fuzz(
        "damaged run folders",
        run_damage(assets),
        run_damaged(assets, examples_root),
        examples=examples,
        budget_s=budget,
        randomize=profile == "long",
        explicit=RUN_EXAMPLES,
    )
