"""The stiff benchmark runs end to end at its smallest sizes and reports what it measured.

benchmarks/bench_stiff.py --quick (10 members, short spans, a 1 s search budget) is run in
this process; the checks are on values that do not depend on timing: the exact-solution
orders, the stability results, the references' agreement and the JSON's shape.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_stiff as bs  # the benchmarks folder is not a package: found through sys.path


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("stiff") / "quick.json"
    assert bs.main(["--quick", "--json", str(out)]) == 0  # quick sizes: never judged
    return json.loads(out.read_text())


def test_quick_orders_cover_every_implicit_stepper(quick):
    rows = quick["orders"]
    names = {r["method"] for r in rows}
    assert names == {"implicit_euler", "implicit_midpoint", "trapezoidal", "sdirk3", "bdf2"}
    assert {r["system"] for r in rows} == {"exponential_decay", "driven_oscillator"}
    for r in rows:
        assert r["against"] == "exact"
        assert len(r["dt"]) == 5  # 4 halvings
        assert r["observed"] == pytest.approx(r["declared"], abs=0.25)


def test_quick_stability(quick):
    rows = {r["method"]: r for r in quick["stability"]}
    for name in bs.STABLE_METHODS:
        assert rows[name]["finite"] and rows[name]["max_abs"] <= 1.0
    assert rows["euler"]["max_abs"] > bs.BLOWUP  # (1 - 1e4 * 0.1)^100 ~ 9e299, finite
    assert quick["pass"]["stability"] is True


def test_quick_stiff_speed_reports_every_solver(quick):
    for res in quick["stiff_speed"]:
        assert res["batch"] == 10
        assert res["reference"]["solo_diff"] < 1e-6  # stacked and solo references agree
        assert {r["method"] for r in res["scipy"]} == set(bs.IVP_METHODS)
        assert [r["method"] for r in res["dynsys"]] == list(bs.STIFF_METHODS)
        for r in res["dynsys"]:
            assert r["rungs"], r["method"]
            if r["pass"]:
                assert r["error"] <= bs.TARGET
                assert r["backend"] in ("numpy", "numba")
        sdirk3 = next(r for r in res["dynsys"] if r["method"] == "sdirk3")
        assert sdirk3["pass"]  # reached 1e-3 at the quick sizes


def test_rel_error_scales_each_component():
    ref = {"states": np.zeros((1, 2, 2)), "scale": np.array([2.0, 1e-3])}
    states = np.array([[[0.0, 0.0], [0.2, 1e-6]]])
    assert bs.rel_error(states, ref) == pytest.approx(0.1)
    states[0, 0, 1] = np.nan
    assert bs.rel_error(states, ref) == float("inf")
