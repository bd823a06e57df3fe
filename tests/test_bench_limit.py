"""The machine-limit benchmark's hand-written loops do dynsys's RK4 work, bit for bit.

benchmarks/machine_limit.py times dynsys against a C loop (benchmarks/oscillator_loop.c), a
hand-written in-place numpy RK4 and a pure-Python RK4 on the driven oscillator.  These tests
check, at tiny sizes, that each returns the final states of ``simulate(..., backend="numpy")``
exactly: the comparison is of the same work.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import machine_limit as ml  # the benchmarks folder is not a package: found through sys.path

KINDS = ("shared", "per_member")


@pytest.fixture(scope="module")
def c_loop() -> ml.CLoop:
    """oscillator_loop.c compiled once for the module; the tests skip without a compiler."""
    if shutil.which("cc") is None:
        pytest.skip(ml.NO_COMPILER)
    loop, status = ml.build_c_loop()
    if loop is None:
        pytest.skip(status)
    return loop


def numpy_loop_final(kind: str, batch: int, steps: int) -> tuple[np.ndarray, dict, np.ndarray]:
    """(final states of dynsys's numpy loop, the parameters, s0) of a benchmark case."""
    system, s0, params = ml.case_inputs(kind, batch)
    final, info = ml.simulate_final(system, s0, steps, "numpy")
    assert info["backend"] == "numpy"
    return final, params, s0


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("batch", "threads"), [(3, 1), (300, 2)])
def test_c_loop_gives_the_numpy_loops_bits(c_loop, kind, batch, threads):
    """RK4, h = 0.01, 20 steps: one block of 3 members, and 300 members in two blocks on two
    threads (shared parameters: the drive table; per-member: a cosine per member)."""
    expected, params, s0 = numpy_loop_final(kind, batch, 20)
    got = c_loop.run(params, s0, 20, threads)
    assert same_bits(got, expected)
    assert np.all(got != s0)  # it stepped
    assert ml.agreement(got, expected) == {"bitwise": True, "max_rel_diff": 0.0}


def test_c_loop_leaves_its_input_alone(c_loop):
    _, params, s0 = numpy_loop_final("shared", 3, 1)
    before = s0.copy()
    c_loop.run(params, s0, 20)
    assert same_bits(s0, before)


@pytest.mark.parametrize("kind", KINDS)
def test_hand_written_numpy_rk4_gives_the_numpy_loops_bits(kind):
    expected, params, s0 = numpy_loop_final(kind, 3, 20)
    assert same_bits(ml.numpy_rk4(params, s0, 20), expected)


def test_python_rk4_gives_the_numpy_loops_bits():
    """One trajectory: s0 of shape (2,) and scalar parameters."""
    system, s0, params = ml.case_inputs("shared", 1)
    expected, _ = ml.simulate_final(system, s0[0], 20, "numpy")
    assert same_bits(np.array(ml.python_rk4(params, s0[0], 20)), expected)


def test_agreement_reports_the_largest_relative_difference():
    b = np.array([[1.0, -2.0], [4.0, 8.0]])
    a = b.copy()
    a[1, 0] = 4.0 * (1 + 1e-12)
    found = ml.agreement(a, b)
    assert found["bitwise"] is False
    assert found["max_rel_diff"] == pytest.approx(1e-12, rel=1e-3)
    assert ml.agree_text(found) == "rel 1.0e-12"
    assert ml.agree_text(ml.agreement(b, b.copy())) == "bitwise"


def test_floors_judge_values_and_say_what_was_not_measured():
    assert ml.limit_floor("ratio", 1.9, 2.0, "<=", "x")["pass"] is True
    assert ml.limit_floor("ratio", 2.1, 2.0, "<=", "x")["pass"] is False
    assert ml.limit_floor("speed-up", 1.5, 1.6, ">=", "x")["pass"] is False
    assert ml.limit_floor("ratio", None, 2.0, "<=", "x")["pass"] is False  # a failed run
    skipped = ml.limit_floor("ratio", None, 2.0, "<=", "x", "no C loop")
    assert skipped["pass"] is None
