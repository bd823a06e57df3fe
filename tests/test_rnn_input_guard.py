"""The model commands refuse bad input in one line before any fitting or simulating:
dynsys forecast (names, seeds, output paths), dynsys train (--range, --holdout, settings out of
their declared bounds), and the method lists of the figures."""

from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner

import dynsys.files
import dynsys.rnn.forecast as forecast
import dynsys.rnn.pipeline as pipeline
from dynsys import InputError
from dynsys.cli import main
from dynsys.errors import WriteError
from dynsys.plots.checks import method_names
from dynsys.rnn.data import Normalizer
from dynsys.rnn.forecast import plan_benchmark
from dynsys.rnn.io import load_model

QUICK = ["--system", "exponential_decay", "--model", "ngrc", "--seed", "0"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, code: int = 2) -> str:
    """The single line of stderr of a refused command (nothing on stdout, no traceback)."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture
def no_fitting(monkeypatch):
    """Any fit, data drawn for a fit or agreement horizon fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a fit started before the input was checked")

    for module, name in ((forecast, "train_model"), (forecast, "solver_agreement")):
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(pipeline, "sample", refuse)
    monkeypatch.setattr(pipeline, "train_model", refuse)


# -- dynsys forecast ------------------------------------------------------------------------


@pytest.fixture
def places(tmp_path):
    (tmp_path / "adir.json").mkdir()
    (tmp_path / "afile.txt").write_text("x")
    os.mkfifo(tmp_path / "fifo.json")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--system", "exponential_decay", "--model", "ngrc", "--seed", "0", "--seed", "0",
             "--seed", "-2"],
            "--seed 0 is given twice",
        ),
        (["--system", "exponential_decay", "--seed", "-2"], "--seed must be a whole number >= 0"),
        (["--system", "lorenz", "--system", "lorenz"], "--system lorenz is given twice"),
        (["--model", "ngrc", "--model", "ngrc"], "--model ngrc is given twice"),
        (["--system", "lorenzz"], "unknown system 'lorenzz' (did you mean 'lorenz'?)"),
        (["--model", "esm"], "unknown model kind 'esm' (did you mean 'esn'?)"),
        # a later system is refused before the first one is fitted
        (["--system", "exponential_decay", "--system", "logistic_map"], "is a discrete map"),
        ([*QUICK, "--out", "{tmp}/out.txt"], "--out must name a .json file"),
        ([*QUICK, "--out", "{tmp}/missing/out.json"], "folder {tmp}/missing does not exist"),
        ([*QUICK, "--out", "{tmp}/afile.txt/out.json"], "{tmp}/afile.txt is not a folder"),
        ([*QUICK, "--out", "{tmp}/adir.json"], "it is a folder, not a file"),
        ([*QUICK, "--out", "{tmp}/fifo.json"], "it is a FIFO, not a file"),
        ([*QUICK, "--out", "{tmp}/" + "a" * 300 + ".json"], "File name too long"),
        ([*QUICK, "--plot", "{tmp}/out.gif"], "--plot must name a .png, .svg or .pdf file"),
        ([*QUICK, "--plot", "{tmp}/missing/out.png"], "folder {tmp}/missing does not exist"),
    ],
)  # fmt: skip
def test_forecast_refuses_bad_input_before_fitting(no_fitting, places, args, message):
    args = [a.replace("{tmp}", str(places)) for a in args]
    line = one_line_error(invoke("forecast", *args))
    assert message.replace("{tmp}", str(places)) in line
    assert not list(places.glob(".*.tmp"))  # the write probe left nothing behind


def test_forecast_refuses_a_fit_over_the_ceilings_before_the_first_fit(no_fitting):
    line = one_line_error(invoke("--max-steps", "10", "forecast", *QUICK))
    assert "more than the 10 allowed" in line


def test_forecast_refuses_a_folder_it_cannot_write(no_fitting, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", denied)
    line = one_line_error(invoke("forecast", *QUICK, "--out", tmp_path / "out.json"), code=1)
    assert line == f"Error: cannot write {tmp_path / 'out.json'}: Permission denied"


def test_forecast_writes_the_json_and_the_figure(tmp_path):
    out, plot = tmp_path / "f.json", tmp_path / "f.svg"
    result = invoke("forecast", *QUICK, "--json", "--out", out, "--plot", plot)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert json.loads(result.stdout) == doc
    assert [(r["system"], r["kind"], r["seed"]) for r in doc["results"]] == [
        ("exponential_decay", "ngrc", 0)
    ]
    assert plot.read_bytes().startswith(b"<?xml")


def test_a_failed_write_after_the_fits_keeps_the_table_on_screen(tmp_path, monkeypatch):
    def full(path, write):
        raise WriteError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(dynsys.files, "atomic_write", full)
    result = invoke("forecast", *QUICK, "--json", "--out", tmp_path / "f.json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["results"][0]["kind"] == "ngrc"
    assert result.stderr.strip().endswith("No space left on device")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"systems": "lorenz"}, "systems must be a list of system names, got 'lorenz'"),
        ({"systems": []}, "systems must name at least one system name"),
        ({"systems": [3]}, "systems must be system names, got 3"),
        ({"kinds": ["esn", "esn"]}, "kinds lists 'esn' twice"),
        ({"kinds": ["nope"]}, "unknown model kind 'nope'"),
        ({"seeds": 3}, "seeds must be a list of seeds, got 3"),
        ({"seeds": [0, -1]}, "seed must be a whole number >= 0, got -1"),
        ({"seeds": [True]}, "seed must be a whole number >= 0, got True"),
        ({"seeds": [1, 1]}, "seeds lists 1 twice"),
    ],
)
def test_plan_benchmark_refuses_bad_lists(kwargs, message):
    with pytest.raises(InputError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        plan_benchmark(**{"systems": ["exponential_decay"], **kwargs})


def test_plan_benchmark_plans_every_fit_in_order():
    plans = plan_benchmark(["exponential_decay", "lorenz"], ["ngrc", "esn"], range(2))
    assert [(p.spec.system, p.kind, p.spec.seed) for p in plans] == [
        (s, k, seed) for s in ("exponential_decay", "lorenz") for k in ("ngrc", "esn")
        for seed in (0, 1)
    ]  # fmt: skip


# -- dynsys train: --range and --holdout, settings out of bounds ----------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--range", "A=nan,1"], "--range A must be a finite number, got 'nan'"),
        (["--range", "A=0.2,inf"], "--range A must be a finite number, got 'inf'"),
        (["--range", "=0.2,1"], "--range must be NAME=LOW,HIGH, got '=0.2,1'"),
        (["--range", "A"], "--range must be NAME=LOW,HIGH, got 'A'"),
        (["--range", "A=1"], "--range must be NAME=LOW,HIGH (two numbers), got 'A=1'"),
        (["--range", "A=0.2,0.5,1"], "(two numbers)"),
        (["--range", "A=1,0.2"], "--range A must have LOW < HIGH, got 'A=1,0.2'"),
        (["--range", "A=0.5,0.5"], "--range A must have LOW < HIGH"),
        (["--range", "A=0.2,,1"], "--range A '0.2,,1' has an empty item"),
        (["--range", "A=0.2,"], "--range A '0.2,' has an empty item"),
        (["--range", "A=0.2,1", "--range", "A=0.3,0.4"], "--range A is given twice"),
        (["--range", "Q=0,1"], "unknown parameter of driven_oscillator in --range 'Q'"),
        (["--range", "A=0.2,1", "-p", "A=0.5"], "parameter 'A' is given by both -p and --range"),
        (["--holdout", "A=nan,1"], "--holdout A must be a finite number"),
        (["--holdout", "A=0.9,0.8"], "--holdout A must have LOW < HIGH"),
        (["--holdout", "B=0,1"], "unknown parameter of driven_oscillator in --holdout 'B'"),
    ],
)
def test_train_refuses_bad_ranges(no_fitting, tmp_path, args, message):
    result = invoke("train", "driven_oscillator", *args, "--out", tmp_path / "m.npz")
    assert message in one_line_error(result)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--leak", "2"], "leak must be <= 1, got 2.0"),
        (["--connectivity", "1.5"], "connectivity must be <= 1, got 1.5"),
        (["--leak", "0"], "leak must be > 0"),
        (["--spectral-radius", "-1"], "spectral_radius must be > 0"),
        (["--ridge", "-1e-6"], "ridge must be >= 0"),
    ],
)
def test_train_refuses_an_esn_setting_out_of_bounds_at_once(no_fitting, tmp_path, args, message):
    start = time.perf_counter()
    result = invoke("train", "lorenz", "--model", "esn", *args, "--out", tmp_path / "m.npz")
    assert message in one_line_error(result)
    assert time.perf_counter() - start < 2.0


def test_a_saved_model_keeps_the_names_of_its_channels(tmp_path):
    path = tmp_path / "m.npz"
    args = ["--model", "ngrc", "--n-train", "2", "--n-test", "2", "--t-end", "5", "--quiet"]
    result = invoke("train", "exponential_decay", *args, "--out", path)
    assert result.exit_code == 0, result.output
    norm = Normalizer.from_dict(load_model(path).normalizer)
    assert norm.input_names and len(norm.input_names) == len(norm.x_mean)
    assert norm.output_names == ("s",)


# -- method lists of the figures ------------------------------------------------------------


def test_method_names():
    assert method_names("euler, rk4") == ("euler", "rk4")
    assert method_names(["euler", " rk4 "]) == ("euler", "rk4")
    assert method_names("") == () == method_names(())


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ("euler,,rk4", "methods 'euler,,rk4' has an empty item"),
        ("euler,", "methods 'euler,' has an empty item"),
        (",euler", "methods ',euler' has an empty item"),
        ("euler,rk4,euler", "methods lists 'euler' twice"),
        ("euler, euler", "methods lists 'euler' twice"),
        (["euler", ""], "methods must be method names, got '' in"),
        (["euler", 4], "methods must be method names, got 4 in"),
        (["rk4", "rk4 "], "methods lists 'rk4' twice"),
        (4, "methods must be method names, got 4"),
    ],
)
def test_method_names_refuses_empty_and_repeated_items(methods, message):
    with pytest.raises(InputError) as caught:
        method_names(methods)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


@pytest.mark.parametrize("methods", ["euler,,rk4", "euler,euler"])
def test_a_figure_refuses_a_bad_method_list(tmp_path, methods):
    result = invoke(
        "plot", "error", "van_der_pol", "--methods", methods, "--t-end", "1",
        "--out", tmp_path / "e.png",
    )  # fmt: skip
    assert "methods" in one_line_error(result)
    assert not (tmp_path / "e.png").exists()
