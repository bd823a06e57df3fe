"""The open model layer: one registry of kinds, settings declared once, one merge, files that
rebuild their system, and the forecasting table."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import fields

import numpy as np
import pytest
from click.testing import CliRunner

from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.experiments.config import DatasetConfig, ModelConfig, TrainingConfig, config_schema
from dynsys.rnn import MODEL_KINDS
from dynsys.rnn.base import FITTINGS, TASKS, Model
from dynsys.rnn.evaluate import smape_valid_time
from dynsys.rnn.forecast import ForecastResult, ForecastTable
from dynsys.rnn.io import load_model
from dynsys.rnn.pipeline import evaluate_file, save_trained, train_model
from dynsys.rnn.settings import TrainSettings, plan_fit, section_fields

SMALL = {"n_train": 6, "n_val": 2, "n_test": 3, "t_end": 3.0}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- the registry --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MODEL_KINDS))
def test_every_kind_declares_what_it_is(kind):
    cls = MODEL_KINDS[kind]
    assert issubclass(cls, Model) and cls.kind == kind
    assert cls.task in TASKS and cls.fitting in FITTINGS and cls.summary
    for f in fields(cls.Settings):
        assert f.metadata.get("help"), f"{kind}.{f.name} has no help"
    method = "loss_and_grad" if cls.fitting == "gradient" else "fit_closed_form"
    assert callable(getattr(cls, method, None))


def test_cli_choices_and_schema_come_from_the_registry():
    train = main.commands["train"]
    model = next(p for p in train.params if p.name == "kind")
    assert list(model.type.choices) == list(MODEL_KINDS)
    schema = config_schema()
    kinds = schema["$defs"]["ModelConfig"]["properties"]["kind"]["enum"]
    assert kinds == list(MODEL_KINDS)
    options = {p.name for p in train.params}
    for cls in MODEL_KINDS.values():
        assert set(cls.settings_fields()) <= options  # every setting is an option
        assert set(cls.settings_fields()) <= set(ModelConfig.model_fields)
    assert set(section_fields("training")) <= options | {"seed"}
    assert set(section_fields("training")) == set(TrainingConfig.model_fields)
    assert set(section_fields("dataset")) == set(DatasetConfig.model_fields)


def test_no_module_but_the_registry_names_the_kinds():
    """The model kinds' names appear as code only in their own module and in kinds.py."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "dynsys"
    own = {"jordan": "models.py", "elman": "models.py", "gru": "gru.py"}
    for kind, home in own.items():
        for path in root.rglob("*.py"):
            if path.name in (home, "kinds.py", "recipes.py"):
                continue
            text = path.read_text()
            assert f'== "{kind}"' not in text and f"== '{kind}'" not in text, path


# -- settings and the merge ----------------------------------------------------------------------


def test_plan_sets_the_users_settings_over_the_recipe():
    plan = plan_fit(
        "driven_oscillator",
        "jordan",
        params={"k": 2.0},
        dataset={"h": 0.05, "ranges": {"c": (0.0, 0.1)}},
        model={"hidden": 8},
        training={"epochs": 7},
        seed=3,
    )
    assert plan.spec.h == 0.05 and plan.spec.seed == 3
    assert plan.spec.params == {"m": 1.0, "k": 2.0}  # c is now sampled
    assert plan.spec.ranges == {"A": (0.2, 1.0), "c": (0.0, 0.1)}
    assert plan.model.hidden == 8 and plan.model.activation == "identity"  # linear system
    assert plan.training == TrainSettings(epochs=7, seed=3)


def test_a_setting_of_another_kind_is_refused_with_the_kinds_own_settings():
    with pytest.raises(InputError, match=r"'hidden' does not apply to model kind 'ngrc'; its "):
        plan_fit("van_der_pol", "ngrc", model={"hidden": 3})
    with pytest.raises(InputError, match="fitted in closed form"):
        plan_fit("van_der_pol", "esn", training={"epochs": 3})
    with pytest.raises(InputError, match="unknown model kind 'hopfield'"):
        plan_fit("van_der_pol", "hopfield")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "ngrc", "--hidden", "3"], "'hidden' does not apply to model kind 'ngrc'"),
        (["--model", "esn", "--epochs", "3"], "fitted in closed form"),
        (["--model", "esn", "--ridge", "0", "--units", "5"], "set a positive ridge"),
        (["--model", "esn", "--units", "10000000"], "units=10000000 would take"),
    ],
)
def test_cli_refuses_settings_of_another_kind(tmp_path, args, expected):
    out = tmp_path / "m.npz"
    result = invoke("train", "van_der_pol", *args, "--n-train", "2", "--out", out)
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_yaml_model_section_is_checked_against_its_kind():
    from dynsys.experiments.config import ConfigError, parse_config

    text = "name: x\nsystem: {name: van_der_pol}\nmodel: {kind: ngrc, hidden: 3}\n"
    with pytest.raises(ConfigError, match=r"model.hidden \(line 3\): does not apply to model kind"):
        parse_config(text, source="config.yaml")


# -- every kind trains, saves and evaluates -------------------------------------------------------


@pytest.mark.parametrize("kind", list(MODEL_KINDS))
def test_every_kind_trains_saves_and_evaluates(kind, tmp_path):
    model = {"hidden": 6} if "hidden" in MODEL_KINDS[kind].settings_fields() else {}
    if kind == "esn":
        model = {"units": 30, "warmup": 5}
    training = {"epochs": 5} if MODEL_KINDS[kind].fitting == "gradient" else {}
    if training and "whole_epochs" in getattr(MODEL_KINDS[kind], "recipe", {}).get("training", {}):
        training["whole_epochs"] = 2
    plan = plan_fit("van_der_pol", kind, dataset=SMALL, model=model, training=training)
    trained = train_model(plan, progress=False)
    rows = trained.evaluation.to_dict()["test"]
    assert list(rows) == ["model", "euler", "semi_implicit_euler", "rk4"]
    assert rows["model"]["rel_l2"] is not None and rows["model"]["valid_time"] > 0
    path = save_trained(trained, tmp_path / "m.npz")
    loaded = load_model(path)
    assert type(loaded.model) is MODEL_KINDS[kind]
    for name, arr in trained.model.params.items():
        np.testing.assert_array_equal(loaded.model.params[name], arr)
    again = evaluate_file(path, n_test=2, seed=5)
    assert set(again.rows) == {"model", "euler", "semi_implicit_euler", "rk4"}


def test_a_user_system_model_is_evaluated_in_a_new_process(tmp_path):
    """The model file carries the user system's definition: evaluate works where the system
    was never registered (a fresh process)."""
    import subprocess
    import sys

    from dynsys.experiments.user_system import make_system_class, register_user_system

    cls = make_system_class(
        "user_spring_test",
        ["x", "v"],
        {"k": 2.0},
        {"x": "v", "v": "-k * x"},
    )
    register_user_system(cls)
    plan = plan_fit("user_spring_test", "ngrc", dataset=SMALL | {"h": 0.1})
    path = save_trained(train_model(plan, progress=False), tmp_path / "u.npz")
    assert load_model(path).metadata["system"]["definition"]["equations"]["v"] == "-k * x"
    code = (
        "from dynsys.cli import main; import sys; "
        f"sys.exit(main(['evaluate', {str(path)!r}, '--n-test', '2', '--json'], "
        "standalone_mode=True))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["test"]["model"]["rel_l2"] < 1e-3


def test_a_file_without_its_user_systems_definition_is_refused(tmp_path):
    from dynsys.rnn.io import save_model
    from dynsys.rnn.models import JordanRNN

    path = save_model(tmp_path / "m.npz", JordanRNN(1, 2, 2), dataset={"system": "user_nowhere"})
    with pytest.raises(InputError, match="'user_nowhere' is not built in and the file carries"):
        load_model(path)


# -- the forecasting table ------------------------------------------------------------------------


def test_smape_valid_time_is_the_first_time_above_30_percent():
    t = np.arange(5.0)
    ref = np.ones((1, 5, 2))
    pred = ref.copy()
    pred[0, 3:] = 2.0  # sMAPE = 200 * 1/3 = 66.7% from t = 3
    assert smape_valid_time(pred, ref, t).mean == 3.0
    assert smape_valid_time(ref, ref, t).mean == 4.0


def test_forecast_table_takes_medians_over_seeds():
    def rows(rel):
        base = {"rel_l2": rel, "valid_time": 1.0, "valid_time_smape": 1.0}
        return {"model": base, "euler": base, "semi_implicit_euler": base, "rk4": base}

    results = [
        ForecastResult("lorenz", "ngrc", s, rows(r), 0.1) for s, r in enumerate((1.0, 3.0, None))
    ]
    medians = ForecastTable(results).medians()
    assert medians[("lorenz", "ngrc")]["rel_l2"] == 3.0  # None (diverged) counts as inf
    assert medians[("lorenz", "ngrc")]["valid_time_lyapunov"] is None


def test_forecast_command_prints_the_table(tmp_path):
    out = tmp_path / "f.json"
    result = invoke(
        "forecast", "--system", "exponential_decay", "--model", "ngrc", "--seed", "0",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| exponential_decay | ngrc |" in result.output
    doc = json.loads(out.read_text())
    assert doc["results"][0]["rows"]["model"]["rel_l2"] < 1e-3
    bad = invoke("forecast", "--model", "hopfield")
    assert bad.exit_code == 2 and "unknown model kind 'hopfield'" in bad.output


def test_plots_of_a_closed_form_step_map(tmp_path):
    """The learned field of an undriven system's NG-RC; the figures it has no data for are
    refused in one line."""
    plan = plan_fit("van_der_pol", "ngrc", dataset=SMALL | {"n_train": 16, "t_end": 10.0})
    path = save_trained(train_model(plan, progress=False), tmp_path / "v.npz")
    out = tmp_path / "field.png"
    result = invoke("plot", "field", path, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000 and "undriven" in result.output
    for args, expected in (
        (["training", path], "fitted in closed form"),
        (["unrolled", "--model", path], "a ngrc model is not one"),
    ):
        bad = invoke("plot", *args, "--out", tmp_path / "x.png")
        assert bad.exit_code == 2 and expected in bad.output, bad.output
        assert bad.output.count("\n") == 1


def test_forecast_tables_merge_and_summarise():
    def rows(rel, lyap=None):
        base = {"rel_l2": rel, "valid_time": 1.0, "valid_time_smape": 1.0}
        if lyap is not None:
            base["valid_time_lyapunov"] = lyap
        return {"model": base, "euler": base, "semi_implicit_euler": base, "rk4": base}

    a = ForecastTable([ForecastResult("van_der_pol", "esn", 0, rows(1e-3), 0.2)])
    b = ForecastTable(
        [
            ForecastResult("van_der_pol", "ngrc", 0, rows(0.1), 0.01),
            ForecastResult("lorenz", "ngrc", 0, rows(0.4, lyap=14.0), 0.5),
        ],
        {"lorenz": 25.0},
    )
    merged = ForecastTable.merged([a.to_dict(), json.loads(json.dumps(b.to_dict()))])
    assert len(merged.results) == 3 and merged.agreement == {"lorenz": 25.0}
    summary = merged.summary()
    assert "| van_der_pol | **1.0e-03** | 1.0e-01 |" in summary
    assert "| lorenz (Lyapunov times) | - | **14** |" in summary


def test_forecast_figure_and_the_command_s_plot(tmp_path):
    from dynsys.plots import forecast_plot

    def rows(rel, lyap=None):
        base = {"rel_l2": rel, "valid_time": 2.0, "valid_time_smape": 1.0}
        if lyap is not None:
            base["valid_time_lyapunov"] = lyap
        return {"model": base, "euler": base, "semi_implicit_euler": base, "rk4": base}

    table = ForecastTable(
        [
            ForecastResult("van_der_pol", "esn", 0, rows(1e-3), 0.2),
            ForecastResult("lorenz", "ngrc", 0, rows(0.4, lyap=1.8), 0.5),
        ],
        {"lorenz": 25.0},
    )
    fig, info = forecast_plot(table)
    assert info == {"systems": ["van_der_pol", "lorenz"], "kinds": ["esn", "ngrc"],
                    "chaotic": ["lorenz"]}  # fmt: skip
    assert len(fig.axes) == 2 and "Lyapunov" in fig.axes[1].get_ylabel()
    with pytest.raises(InputError, match="no finished fit"):
        forecast_plot(ForecastTable([]))
    out = tmp_path / "f.png"
    result = invoke(
        "forecast", "--system", "exponential_decay", "--model", "ngrc", "--seed", "0",
        "--plot", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    bad = invoke("forecast", "--plot", tmp_path / "f.gif")
    assert bad.exit_code == 2 and "Traceback" not in bad.output


@pytest.mark.parametrize("kind", ["elman", "jordan", "gru", "mlp"])
def test_parameters_too_big_for_memory_are_refused_before_they_are_drawn(kind, monkeypatch):
    monkeypatch.setenv("DYNSYS_MAX_MEMORY", "1MiB")
    cls = MODEL_KINDS[kind]
    settings = dataclasses.replace(cls.Settings(), hidden=20_000)
    with pytest.raises(InputError, match=rf"parameters of the {kind} model would take .*1\.0 MiB"):
        cls.build(settings, 3, 2, seed=0)
