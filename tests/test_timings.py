"""Timings that add up: the Stopwatch, and the parts of a run's simulation and train steps."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dynsys.cli import main
from dynsys.timing import Stopwatch

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "rnn_oscillator.yaml"
SHORT = (  # the shortened rnn_oscillator of test_run.py (RNN_SHORT), without plots
    "simulation.t_end=2",
    "dataset.n_train=8",
    "dataset.n_val=4",
    "dataset.n_test=4",
    "dataset.t_end=4",
    "training.epochs=20",
    "plots=[]",
)
TRAIN_PARTS = {"data", "normalisation", "fit:fit", "evaluation", "saving", "other", "total"}
SIMULATION_PARTS = {"methods", "reference", "comparison", "writing", "other", "total"}


def adds_up(parts: dict[str, float]) -> None:
    """Every part >= 0, and the parts with other sum to total (1e-6 relative)."""
    assert all(v >= 0 for v in parts.values()), parts
    summed = sum(v for k, v in parts.items() if k != "total")
    assert summed == pytest.approx(parts["total"], rel=1e-6, abs=0)


def test_stopwatch_parts_and_other_add_up_to_the_total():
    watch = Stopwatch()
    with watch.part("a"):
        time.sleep(0.002)
    with watch.part("a"):  # timed twice: added
        pass
    watch.add("b", 0.001)
    out = watch.breakdown()
    assert list(out) == ["a", "b", "other", "total"]
    assert out["a"] >= 0.002 and out["b"] == 0.001
    adds_up(out)
    micro = [round(v * 1_000_000) for v in out.values()]
    assert sum(micro[:-1]) == micro[-1]  # exact in whole microseconds


def test_stopwatch_total_is_never_below_its_parts():
    watch = Stopwatch()
    watch.add("long", 10.0)  # more than has elapsed since it began
    out = watch.breakdown()
    assert out == {"long": 10.0, "other": 0.0, "total": 10.0}


@pytest.fixture(scope="module")
def timings(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("runs") / "rnn_oscillator"
    args = ["run", str(CONFIG), *[a for s in SHORT for a in ("--set", s)], "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads((out / "metrics.json").read_text())["timings"]


def test_train_step_parts_add_up_to_its_total(timings):
    parts = timings["train_parts"]
    assert set(parts) == TRAIN_PARTS
    adds_up(parts)
    assert parts["total"] <= timings["train"]  # the step's time, measured around it
    assert parts["fit:fit"] >= timings["training"]["fit"]  # the stage's own clock is inside


def test_simulation_step_parts_add_up_to_its_total(timings):
    parts = timings["simulation_parts"]
    assert set(parts) == SIMULATION_PARTS
    adds_up(parts)
    assert parts["total"] <= timings["simulation"]
    assert parts["methods"] == pytest.approx(sum(timings["methods"].values()), abs=1e-5)
