"""What dynsys reads from the user is bounded and checked: config files, model files, option
values.  Bad input is one line naming the file or field (exit status 2), never a hang, a
traceback or a silent reading of something else."""

from __future__ import annotations

import copy
import io
import json
import os
import struct
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.experiments import config as config_module
from dynsys.experiments.config import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    ConfigError,
    load_config,
    parse_config,
    resolved_yaml,
)
from dynsys.experiments.run import filled_config, plan_run
from dynsys.rnn import io as model_io
from dynsys.rnn.io import MAX_METADATA_DEPTH, load_model, save_model
from dynsys.rnn.models import ElmanRNN

NAMED = """\
name: guard
system: {name: driven_oscillator, params: {k: 2.0}}
simulation: {s0: [1.0, 0.0], dt: 0.1, t_end: 2, methods: [euler, rk4]}
"""
OWN = """\
name: own
system:
  states: [u, v]
  params: {a: 1.0}
  equations: {u: v, v: -a*u}
simulation: {dt: 0.1, t_end: 1, methods: [rk4]}
"""


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


def one_line_exit_2(result) -> str:
    """The message of a refusal: exit status 2, one line, no traceback."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert output.count("\n") == 1 and output.startswith("Error: "), output
    return output


def error_of(text: str, overrides=()) -> str:
    with pytest.raises(InputError) as info:
        parse_config(text, "config.yaml", overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- config files: what is read, and how much ------------------------------------------------


SPECIAL_FILES = """
import json, sys
from click.testing import CliRunner
from dynsys.cli import main
for args in (a.split("|") for a in sys.argv[1:]):
    result = CliRunner().invoke(main, args)
    print(result.exit_code, json.dumps(result.output))
"""


def test_devices_and_fifos_are_refused_at_once(tmp_path):
    """A config or model file that is /dev/zero or a FIFO: refused without reading or waiting
    (in a child process with a timeout, so that a regression fails instead of hanging)."""
    config, model = tmp_path / "config.yaml", tmp_path / "model.npz"
    os.mkfifo(config)
    os.mkfifo(model)
    commands = [
        f"config|validate|{config}",
        "config|show|/dev/zero",
        f"evaluate|{model}",
        f"plot|field|{model}",
    ]
    result = subprocess.run(
        [sys.executable, "-c", SPECIAL_FILES, *commands],
        capture_output=True,
        text=True,
        timeout=20,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 4, result.stderr
    expected = [
        f"cannot read config {config}: it is a FIFO, not a file",
        "cannot read config /dev/zero: it is a device, not a file",
        f"cannot read model file {model}: it is a FIFO, not a file",
        f"cannot read model file {model}: it is a FIFO, not a file",
    ]
    for line, words in zip(lines, expected, strict=True):
        code, _, output = line.partition(" ")
        assert code == "2" and json.loads(output) == f"Error: {words}\n"


def test_a_config_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(NAMED + "plots: [" + ",".join(["1"] * 2_000_000) + "]\n")
    began = time.perf_counter()
    message = one_line_exit_2(run("config", "validate", str(path)))
    assert time.perf_counter() - began < 5
    assert "3.8 MiB, more than the 1.0 MiB a config may have" in message


def test_too_many_values_are_refused_as_they_are_read_naming_the_cause():
    text = NAMED + "plots: [" + ",".join(["1"] * (MAX_BYTES // 2 - 100)) + "]\n"
    assert len(text) <= MAX_BYTES
    began = time.perf_counter()
    message = error_of(text)
    assert time.perf_counter() - began < 10
    assert message == f"config.yaml: line 4: too many values: a config holds at most {MAX_VALUES}"
    assert "alias" not in message


def test_deep_nesting_is_refused_as_it_is_read():
    message = error_of(NAMED + "plots: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert f"line 4: nested too deeply: a config nests at most {MAX_DEPTH} levels" in message
    lists = MAX_DEPTH - 1  # below the top-level mapping
    data, _ = config_module._read_yaml("a: " + "[" * lists + "]" * lists, "f")
    assert data["a"] == json.loads("[" * lists + "]" * lists)
    with pytest.raises(ConfigError, match="nested too deeply"):
        config_module._read_yaml("a: " + "[" * (lists + 1) + "]" * (lists + 1), "f")


def test_aliases_are_blamed_only_when_they_cause_the_refusal():
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    assert "aliases expand the file to" in error_of("\n".join(lines) + "\n")
    chain = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 80)]
    assert f"aliases nest the file more than {MAX_DEPTH} levels deep" in error_of(
        "\n".join(chain) + "\n"
    )


def test_the_python_reader_refuses_the_same_as_libyaml(monkeypatch):
    monkeypatch.setattr(config_module, "_FastLoader", None)
    monkeypatch.setattr(config_module, "MAX_VALUES", 1000)
    text = NAMED + "plots: [" + ", ".join(["1"] * 1000) + "]\n"
    assert "too many values: a config holds at most 1000" in error_of(text)
    assert "nested too deeply" in error_of(NAMED + "plots: " + "[" * 1000 + "]" * 1000)
    assert "lines 3 and 4" in error_of(NAMED + "simulation: {}\n")


# -- config files: what the values mean -------------------------------------------------------


def test_a_key_written_twice_is_refused_with_both_lines():
    text = "name: guard\nsystem: {name: driven_oscillator}\nsimulation:\n  dt: 0.1\n  dt: 0.2\n"
    assert error_of(text) == (
        "config.yaml: simulation.dt (lines 4 and 5): the key is written twice; keep one"
    )
    assert "system.params.k (line 2, twice)" in error_of(
        "name: x\nsystem: {name: driven_oscillator, params: {k: 1, k: 2}}\n"
    )
    assert "--set system.params: k (line 1, twice)" in error_of(
        NAMED, ["system.params={k: 1, k: 2}"]
    )
    merged = "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n"  # a merged key may be set again
    assert config_module._read_yaml(merged, "f")[0]["c"] == {"x": 3, "y": 2}
    with pytest.raises(ConfigError, match=r"^f: c\.x \(lines 3 and 4\): the key is written"):
        config_module._read_yaml("base: &b {x: 1}\nc:\n  x: 2\n  x: 3\n", "f")


@pytest.mark.parametrize(
    ("value", "read"),
    [("010", 10), ("0o10", 8), ("0x10", 16), ("1_000", 1000), ("1e3", 1000.0), ("-.5", -0.5)],
)
def test_numbers_are_read_as_yaml_1_2_writes_them(value, read):
    data, _ = config_module._read_yaml(f"a: {value}", "f")
    assert data["a"] == read and type(data["a"]) is type(read)
    assert parse_config(NAMED.replace("t_end: 2", "t_end: 010")).simulation.t_end == 10


@pytest.mark.parametrize("value", ["1:30", "1:30.5", "0b11", "2001-01-01"])
def test_base_60_and_dates_are_text_that_the_schema_refuses(value):
    message = error_of(NAMED.replace("t_end: 2", f"t_end: {value}"))
    assert f"simulation.t_end (line 3): must be a valid number, got '{value}'" in message


def test_text_that_reads_as_a_number_is_quoted_in_the_resolved_file():
    for name in ("0o17", "1_0", "0x1F", "1e3", "010"):
        config = parse_config(NAMED.replace("name: guard", f"name: '{name}'"))
        assert parse_config(resolved_yaml(config)).name == name
        assert yaml.safe_load(resolved_yaml(config))["name"] == name


def test_an_escape_that_is_half_a_character_is_refused_at_its_line():
    message = error_of(NAMED + 'plots: [{kind: "\\ud800"}]\n')
    assert "malformed YAML at line 4, column 16: an escape \\uD800-\\uDFFF is half" in message
    message = error_of(NAMED, ["name=\ud800"])  # a lone surrogate from a command line
    assert message.startswith("--set name: malformed YAML at line 1, column 1: character #xd800")
    assert config_module._read_yaml('a: "g\\u00e9 \\U0001F600"', "f")[0] == {"a": "gé 😀"}


# -- option values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["simulate", "driven_oscillator", "--s0", "1,,2"], "--s0 '1,,2' has an empty item"),
        (["simulate", "driven_oscillator", "--s0", "1,0,"], "--s0 '1,0,' has an empty item"),
        (["simulate", "driven_oscillator", "--s0", ",1,0"], "--s0 ',1,0' has an empty item"),
        (["simulate", "driven_oscillator", "--s0", " "], "--s0 must name at least one value"),
        (["simulate", "driven_oscillator", "--s0", "1,nan"], "s0 (s, v) must be a finite"),
        (["simulate", "driven_oscillator", "--s0", "1,-inf"], "s0 (s, v) must be a finite"),
        (["simulate", "driven_oscillator", "-p", "k=1,,2"], "-p k '1,,2' has an empty item"),
        (["simulate", "driven_oscillator", "-p", "k=1,"], "-p k '1,' has an empty item"),
        (["simulate", "driven_oscillator", "-p", "k="], "-p k must name at least one value"),
        (["simulate", "driven_oscillator", "-p", "k=1,inf"], "parameter 'k' must be a finite"),
        (["simulate", "driven_oscillator", "-p", "k=1", "-p", "k=2"], "-p k is given twice"),
        (["simulate", "driven_oscillator", "-p", "name=1"], "unknown parameter of driven_osc"),
        (["compare", "driven_oscillator", "-p", "self=1"], "unknown parameter of driven_osc"),
        (["compare", "driven_oscillator", "--methods", "euler,,rk4"], "has an empty item"),
        (["compare", "driven_oscillator", "--methods", "euler,"], "--methods 'euler,' has an"),
        (["compare", "driven_oscillator", "--methods", "rk4,rk4"], "--methods lists 'rk4' twice"),
    ],
)
def test_comma_lists_never_drop_an_item(args, expected):
    assert expected in one_line_exit_2(run(*args))


def test_a_comma_list_with_blanks_is_read():
    result = run("simulate", "driven_oscillator", "--s0", " 1 , 0 ", "--t-end", "1")
    assert result.exit_code == 0, result.output


# -- config validate runs what run runs; config show shows what runs ----------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("params: {a: 1.0, self: 2.0}", "system.params.self (line 4): 'self' is reserved"),
        ("params: {a: 1.0, sin: 2.0}", "system.params.sin (line 4): 'sin' is the name of a"),
        ("params: {a: 1.0, name: 2.0}", "system.params.name (line 4): 'name' is reserved"),
        ("params: {a: 1.0, ｋ: 2.0}", "system.params.ｋ (line 4): 'ｋ' is read by Python as 'k'"),
        ("states: [u, sin]", "system.states[1] (line 3): 'sin' is the name of a function"),
        ("states: [ｕ, v]", "system.states[0] (line 3): 'ｕ' is read by Python as 'u'"),
        ("states: [u, lambda]", "system.states[1] (line 3): 'lambda' is a Python keyword"),
        ("states: [u, t]", "system.states[1] (line 3): 't' is reserved for the time"),
    ],
)
def test_config_validate_refuses_the_names_run_refuses(tmp_path, change, expected):
    key = change.partition(":")[0]
    text = "\n".join(
        f"  {change}" if line.strip().startswith(f"{key}:") else line for line in OWN.splitlines()
    )
    path = tmp_path / "own.yaml"
    path.write_text(text + "\n")
    message = one_line_exit_2(run("config", "validate", str(path)))
    assert f"{path}: {expected}" in message
    message = one_line_exit_2(run("run", str(path), "--out", str(tmp_path / "out")))
    assert expected.split(": ", 1)[1].split(" (")[0] in message


def test_config_validate_plans_the_run_and_every_sweep_point(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        NAMED
        + "plots: [{kind: phase, options: {t_span: [0, 1]}}]\n"
        + "sweep: {grid: {seed: [0, 1]}, points: [{plots.0.options.t_span: [1, 0]}]}\n"
    )
    message = one_line_exit_2(run("config", "validate", str(path)))
    assert f"{path}: sweep point 3 (" in message and "plots.0.options.t_span = [1, 0]" in message
    assert "t_end must be greater than t0" in message
    path.write_text(NAMED + "plots: [{kind: phase, options: {colour: red}}]\n")
    message = one_line_exit_2(run("config", "validate", str(path)))
    assert f"{path}: plots[0] (phase): unknown option 'colour'" in message


def test_config_show_fills_what_the_recipe_gives(tmp_path):
    path = tmp_path / "fit.yaml"
    path.write_text(NAMED + "model: {kind: jordan}\n")
    result = run("config", "show", str(path))
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["dataset"]["n_train"] is not None and shown["dataset"]["h"] is not None
    assert shown["model"]["activation"] is not None and shown["model"]["hidden"] is not None
    assert shown["training"]["epochs"] is not None and shown["training"]["optimizer"]
    config = load_config(path)
    assert parse_config(result.output) == filled_config(plan_run(config))


def test_the_shipped_configs_validate():
    folder = os.path.join(os.path.dirname(__file__), os.pardir, "configs")
    for name in ("user_pendulum.yaml", "rnn_oscillator.yaml", "dt_sweep.yaml"):
        result = run("config", "validate", os.path.join(folder, name))
        assert result.exit_code == 0, result.output


# -- model files ------------------------------------------------------------------------------


def _npy(arr) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, np.asarray(arr), allow_pickle=False)
    return out.getvalue()


def _npy_header(shape, descr: str = "<f8") -> bytes:
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue()


def _zip(path, entries: dict[str, bytes], compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def model_entries(tmp_path_factory) -> dict[str, bytes]:
    """The entries of a valid model file (an Elman network 2 -> 6 -> 3)."""
    path = tmp_path_factory.mktemp("model") / "model.npz"
    normalizer = {
        "x_mean": [0.0, 1.0],
        "x_std": [1.0, 2.0],
        "y_mean": [0.0] * 3,
        "y_std": [1.0] * 3,
    }
    save_model(path, ElmanRNN(2, 6, 3, seed=1), normalizer=normalizer, extra={"note": "ok"})
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


@pytest.fixture(scope="module")
def metadata(model_entries) -> dict:
    return json.loads(str(np.load(io.BytesIO(model_entries["metadata.npy"]))))


def _with_metadata(entries: dict[str, bytes], text: str) -> dict[str, bytes]:
    return {**entries, "metadata.npy": _npy(np.array(text))}


def _refusal(path) -> str:
    with pytest.raises(InputError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_valid_file_built_here_loads(tmp_path, model_entries):
    loaded = load_model(_zip(tmp_path / "m.npz", model_entries, zipfile.ZIP_DEFLATED))
    assert loaded.model.params["W"].shape == (6, 6) and loaded.extra == {"note": "ok"}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m.update(normalizer="abc"), "normalizer: must be a JSON object, got 'abc'"),
        (lambda m: m.update(architecture="elman"), "architecture: must be a JSON object"),
        (lambda m: m.pop("architecture"), "architecture: is missing"),
        (lambda m: m["architecture"].update(kind=["elman"]), "architecture.kind: must be a"),
        (
            lambda m: m["normalizer"].update(x_mean=[[0.0], [1.0, 2.0]]),
            "normalizer.x_mean[0]: must be a valid number, got [0.0]",
        ),
        (
            lambda m: m["normalizer"].update(x_std=[1.0]),
            "normalizer: x_mean has 2 values and x_std 1: one each per channel",
        ),
        (lambda m: m["normalizer"].update(y_std=[1.0, 0.0, 1.0]), "normalizer.y_std[1]: must be"),
        (lambda m: m.update(training={"stages": {"fit": []}}), "training.stages.fit: must be a"),
        (lambda m: m.update(extra=[1, 2]), "extra: must be a JSON object, got [1, 2]"),
        (lambda m: m.update(system={"name": 3}), "system.name: must be a valid string, got 3"),
        (lambda m: m.update(dynsys_version="9" * 5000), "has an invalid dynsys_version '999"),
        (lambda m: m.update(format_version=10**4000), "has an invalid format_version 1000"),
        (
            lambda m: m["architecture"].update(n_hidden=10**15),
            "parameters of the elman model would take",
        ),
        (lambda m: m["architecture"].update(n_hidden="6"), "n_hidden must be a positive integer"),
    ],
)
def test_metadata_of_the_wrong_type_is_one_line_naming_the_field(
    tmp_path, model_entries, metadata, edit, expected
):
    meta = copy.deepcopy(metadata)
    edit(meta)
    path = _zip(tmp_path / "m.npz", _with_metadata(model_entries, json.dumps(meta)))
    message = _refusal(path)
    assert expected in message and len(message) < 400


def test_huge_numbers_and_deep_nesting_in_the_metadata_are_refused_fast(
    tmp_path, model_entries, metadata
):
    text = json.dumps(metadata).replace('"format_version": 1', '"format_version": ' + "9" * 5000)
    path = _zip(tmp_path / "digits.npz", _with_metadata(model_entries, text))
    assert "metadata is not valid JSON" in _refusal(path)
    deep = json.dumps(metadata)[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = _zip(tmp_path / "deep.npz", _with_metadata(model_entries, deep))
    began = time.perf_counter()
    assert f"metadata nests more than {MAX_METADATA_DEPTH} levels" in _refusal(path)
    assert time.perf_counter() - began < 5
    quoted = json.dumps({**metadata, "extra": {"text": "[" * 1000}})  # brackets in a string
    load_model(_zip(tmp_path / "quoted.npz", _with_metadata(model_entries, quoted)))


def test_save_refuses_metadata_that_load_would_refuse(tmp_path):
    deep: list = []
    for _ in range(MAX_METADATA_DEPTH + 5):
        deep = [deep]
    with pytest.raises(InputError, match="nested at most 64 levels"):
        save_model(tmp_path / "m.npz", ElmanRNN(1, 2, 1), extra={"deep": deep})
    assert not (tmp_path / "m.npz").exists()


def test_a_header_claiming_two_billion_weights_is_refused_before_reading(tmp_path, model_entries):
    entries = {**model_entries, "W.npy": _npy_header((2_000_000_000,)) + bytes(64)}
    message = _refusal(_zip(tmp_path / "claim.npz", entries))
    assert "'W'" in message and "2000000000" in message


def test_an_array_header_that_does_not_fit_the_architecture_is_refused(tmp_path, model_entries):
    entries = {**model_entries, "W.npy": _npy_header((6, 5)) + bytes(240)}
    message = _refusal(_zip(tmp_path / "shape.npz", entries))
    assert message.endswith("array 'W' has shape (6, 5) but the architecture needs (6, 6)")
    entries = {**model_entries, "W.npy": _npy_header((6, 6), "<c16") + bytes(576)}
    assert "array 'W' must hold numbers" in _refusal(_zip(tmp_path / "complex.npz", entries))
    entries = {**model_entries, "W.npy": _npy_header((6, 6), "|O") + bytes(288)}
    assert "holds pickled objects" in _refusal(_zip(tmp_path / "object.npz", entries))
    entries = {**model_entries, "W.npy": b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{"}
    assert "entry 'W.npy' is not an .npy array" in _refusal(_zip(tmp_path / "header.npz", entries))


class _Counting:
    """Counts the bytes zipfile inflates while it is installed."""

    def __init__(self, monkeypatch):
        self.total = 0
        read = zipfile.ZipExtFile.read

        def counted(stream, n=-1):
            data = read(stream, n)
            self.total += len(data)
            return data

        monkeypatch.setattr(zipfile.ZipExtFile, "read", counted)


def test_an_entry_larger_than_its_header_is_refused_without_inflating_it(
    tmp_path, model_entries, monkeypatch
):
    bomb = _npy_header((6, 6)) + bytes(64 * 2**20)  # 64 MiB of zeros: 64 KiB deflated
    path = _zip(tmp_path / "bomb.npz", {**model_entries, "W.npy": bomb}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    counter = _Counting(monkeypatch)
    message = _refusal(path)
    size = len(bomb)
    assert f"entry 'W.npy' holds {size} bytes, more than its header declares (416: shape" in message
    assert counter.total < 2**20


def test_an_archive_directory_that_lies_about_a_size_inflates_no_more(
    tmp_path, model_entries, monkeypatch
):
    bomb = _npy_header((6, 6)) + bytes(64 * 2**20)
    path = _zip(tmp_path / "liar.npz", {**model_entries, "W.npy": bomb}, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")  # the archive's directory
    while at >= 0:  # the central directory entry of W.npy: claim the header's size
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46 : at + 46 + name_length]) == b"W.npy":
            struct.pack_into("<I", data, at + 24, 416)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    counter = _Counting(monkeypatch)
    assert "is truncated or corrupt" in _refusal(path)
    assert counter.total < 2**20


def test_entries_written_twice_or_too_many_are_refused(tmp_path, model_entries):
    path = _zip(tmp_path / "twice.npz", model_entries)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("W.npy", model_entries["W.npy"])
    assert "holds the entry 'W.npy' twice" in _refusal(path)
    many = {**model_entries, **{f"x{i}.npy": _npy(0.0) for i in range(model_io.MAX_ENTRIES)}}
    assert "entries; a model file holds at most" in _refusal(_zip(tmp_path / "many.npz", many))


def test_an_oversized_metadata_entry_is_refused_before_reading(tmp_path, model_entries):
    entries = {**model_entries, "metadata.npy": _npy_header((), "<U100000000") + bytes(16)}
    assert "metadata has 100000000 characters" in _refusal(_zip(tmp_path / "m.npz", entries))


# -- a trained model's field plot (the undriven step map's constant input) ---------------------


def test_the_field_of_a_jordan_network_on_van_der_pol_is_drawn(tmp_path):
    model = tmp_path / "vdp.npz"
    train = run(
        "train", "van_der_pol", "--model", "jordan", "--dt", "0.05", "--t-end", "2",
        "--hidden", "4", "--epochs", "2", "--n-train", "4", "--n-val", "2", "--n-test", "2",
        "--out", str(model),
    )  # fmt: skip
    assert train.exit_code == 0, train.output
    result = run("plot", "field", str(model), "--out", str(tmp_path / "field.png"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "field.png").stat().st_size > 0


# -- random damage: a clean refusal or a success, nothing else ---------------------------------

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 40),
        st.sampled_from([10**20, -1, 0, 2**63, 10**400]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=6),
        st.sampled_from(["elman", "jordan", "tanh", "float64", "driven_oscillator"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(data, prefix=()):
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        out.append((*prefix, key))
        if isinstance(value, dict | list) and value:
            out += _paths(value, (*prefix, key))
    return out


def _damage(data, draw) -> None:
    path = draw(st.sampled_from(_paths(data)))
    *head, last = path
    parent = data
    for key in head:
        parent = parent[key]
    action = draw(st.sampled_from(["delete", "replace", "nest", "swap"]))
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = draw(JSON_VALUES)
    elif action == "nest":
        value = parent[last]
        for _ in range(draw(st.sampled_from([1, 5, MAX_METADATA_DEPTH + 1]))):
            value = [value]
        parent[last] = value
    else:  # a value of another type: a string, a list, an object
        value = parent[last]
        parent[last] = draw(st.sampled_from([str(value), [value], {"v": value}]))


@settings(max_examples=50, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_metadata_loads_or_is_refused_cleanly(tmp_path_factory, model_entries, data):
    meta = json.loads(str(np.load(io.BytesIO(model_entries["metadata.npy"]))))
    for _ in range(data.draw(st.integers(1, 3))):
        if meta:
            _damage(meta, data.draw)
    text = json.dumps(meta)
    path = _zip(tmp_path_factory.mktemp("fuzz") / "m.npz", _with_metadata(model_entries, text))
    try:
        loaded = load_model(path)
    except InputError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert all(np.all(np.isfinite(p)) for p in loaded.model.params.values())


CONFIG_FIELDS = {
    "name": ["other", "'0x10'", "a b"],
    "seed": ["3", "-1", "010", "1:30"],
    "system.params.k": ["0.5", "-1", ".nan", "x"],
    "system.params.A": ["[0.1, 0.2]", "1e-3"],
    "simulation.s0": ["[1, 0]", "[[1, 0], [0, 1]]", "[1]", "[.inf, 0]"],
    "simulation.t_end": ["1", "5", "0", "1e308"],
    "simulation.dt": ["0.05", "0.5", "1e-300"],
    "simulation.methods": ["[rk4]", "[map]", "[]", "[rk4, rk4]"],
    "model": ["{}", "{kind: esn}", "{kind: ngrc}", "{kind: mlp, hidden: 3}"],
    "model.hidden": ["4", "0", "1099511627776"],
    "dataset": ["{n_train: 4}", "{h: 0.05}", "{param_inputs: [k]}", "{ranges: {A: [0.2, 1]}}"],
    "training.epochs": ["2", "0"],
    "plots": ["[{kind: phase}]", "[{kind: field}]", "[{kind: phase, options: {t_span: [0, 1]}}]"],
    "sweep": ["{grid: {seed: [0, 1]}}", "{points: [{simulation.dt: 0.05}]}", "{grid: {x: [1]}}"],
}
"""Fields of a config, each with values to set it to: some valid, some not."""


@st.composite
def _override(draw) -> str:
    key = draw(st.sampled_from(sorted(CONFIG_FIELDS)))
    value = draw(st.one_of(st.sampled_from(CONFIG_FIELDS[key]), JSON_VALUES.map(json.dumps)))
    return f"{key}={value}"


@settings(max_examples=50, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_values_in_random_fields_validate_or_are_refused_cleanly(data):
    overrides = data.draw(st.lists(_override(), min_size=1, max_size=4))
    try:
        plan = plan_run(parse_config(NAMED, "fuzz.yaml", overrides))
    except InputError as err:
        assert str(err) and "\n" not in str(err)
        return
    filled = filled_config(plan)  # what config show prints, and a run writes, re-reads the same
    assert parse_config(resolved_yaml(filled)) == filled


def test_a_greek_parameter_name_runs(tmp_path):
    """σ is a name Python keeps as written (NFKC leaves it), so a system may use it."""
    path = tmp_path / "greek.yaml"
    path.write_text(
        "name: greek\nsystem:\n  states: [x, y]\n  params: {σ: 4.0}\n"
        '  equations: {x: "y", y: "-σ*x"}\n'
        "simulation: {s0: [1.0, 0.0], dt: 0.01, t_end: 1, methods: [rk4]}\n",
        encoding="utf-8",
    )
    from dynsys.experiments.config import load_config
    from dynsys.experiments.run import plan_run
    from dynsys.simulate import simulate

    plan = plan_run(load_config(path))
    traj = simulate(plan.system, plan.s0, t_span=(0, 1), dt=0.01, method="rk4")
    assert traj.states[-1, 0] == pytest.approx(np.cos(2.0), abs=1e-8)
