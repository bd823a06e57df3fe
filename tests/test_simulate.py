"""simulate, the one time loop: its grid, shapes, save_every, input checks, memory guard,
divergence reports and determinism."""

from __future__ import annotations

import math
import re
import time
import tracemalloc
import warnings

import numpy as np
import pytest

import dynsys
from dynsys import DivergenceError, InputError, checks, get_system, simulate
from dynsys.simulate import plan_size

DBL_MAX = float(np.finfo(np.float64).max)


@pytest.fixture(scope="module")
def osc():
    """The founding example, driven at resonance (A = 0.5, omega = 1)."""
    return get_system("driven_oscillator")


def run_recording(fn):
    """Call fn() and return (its exception or result, the warnings it emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn()
        except DivergenceError as err:
            out = err
    return out, caught


# -- the grid ------------------------------------------------------------------------------


def test_whole_span_ends_exactly_at_t_end(osc):
    traj = simulate(osc, [1.0, 0.0], t_span=(0, 1), dt=0.1)
    assert traj.t.shape == (11,)
    assert traj.t[-1] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(traj.t, 0.0 + np.arange(11) * 0.1)
    assert traj.info["n_steps"] == 10


@pytest.mark.parametrize(
    "t_span, dt, n_steps",
    [
        ((0.0, 1.05), 0.1, 10),  # not whole: floor, ends before t_end
        ((0.0, 0.3), 0.1, 3),  # 0.3 / 0.1 = 2.9999999999999996 is still 3 steps
        ((0.0, 0.99), 0.1, 9),
        ((2.5, 3.5), 0.25, 4),  # t0 != 0
        ((-1.0, 1.0), 0.5, 4),
        ((10.0, 10.7), 0.2, 3),
    ],
)
def test_grid_is_t0_plus_n_dt_and_floors_a_partial_step(osc, t_span, dt, n_steps):
    t0, t_end = t_span
    traj = simulate(osc, [1.0, 0.0], t_span=t_span, dt=dt)
    np.testing.assert_array_equal(traj.t, t0 + np.arange(n_steps + 1) * dt)
    assert traj.t[-1] <= t_end + 1e-12
    assert t_end - traj.t[-1] < dt
    assert traj.states.shape == (n_steps + 1, 2)
    np.testing.assert_array_equal(traj.states[0], [1.0, 0.0])


def test_t0_is_the_time_of_the_drive_and_of_the_exact_solution(osc):
    """Started at t0 = 2, rk4 follows the exact solution from s(2) = s0: the drive is read at
    the absolute time t0 + n dt, not at n dt."""
    s0 = np.array([0.3, -0.7])
    traj = simulate(osc, s0, t_span=(2.0, 7.0), dt=0.01, method="rk4")
    exact = osc.exact(traj.t, s0, 2.0, osc.params)
    assert np.max(np.abs(traj.states - exact)) < 1e-8
    shifted = simulate(osc, s0, t_span=(0.0, 5.0), dt=0.01, method="rk4")
    # the same steps from t0 = 0 see a different phase of the drive A cos(t)
    assert np.max(np.abs(shifted.states - traj.states)) > 0.1


# -- shapes ------------------------------------------------------------------------------


def test_single_initial_state_shapes(osc):
    traj = simulate(osc, [1.0, 0.0], t_span=(0, 2), dt=0.1)
    assert traj.states.shape == (21, 2)
    assert traj.x.shape == (21,)
    assert not traj.batched and traj.batch_size is None
    np.testing.assert_allclose(traj.x, 0.5 * np.cos(traj.t), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(traj["s"], traj.states[:, 0])


def test_batched_initial_states_shapes_and_members(osc):
    s0 = np.random.default_rng(1).normal(size=(4, 2))
    traj = simulate(osc, s0, t_span=(0, 2), dt=0.1, method="heun")
    assert traj.states.shape == (4, 21, 2)
    assert traj.x.shape == (4, 21)
    assert traj.batch_size == 4
    for i in range(4):
        alone = simulate(osc, s0[i], t_span=(0, 2), dt=0.1, method="heun")
        np.testing.assert_allclose(traj.states[i], alone.states, rtol=1e-14, atol=1e-15)
        np.testing.assert_array_equal(traj.x[i], alone.x)


def test_array_parameters_broadcast_one_initial_state_to_a_batch():
    k = np.array([0.5, 1.0, 4.0])
    system = get_system("driven_oscillator", k=k, A=0.0)
    traj = simulate(system, [1.0, 0.0], t_span=(0, 3), dt=0.01, method="rk4")
    assert traj.states.shape == (3, 301, 2)
    assert traj.x.shape == (3, 301)
    np.testing.assert_array_equal(traj.states[:, 0], np.tile([1.0, 0.0], (3, 1)))
    # each member is the unforced oscillator with its own stiffness: s = cos(sqrt(k) t)
    expected = np.cos(np.sqrt(k)[:, None] * traj.t)
    np.testing.assert_allclose(traj["s"], expected, rtol=0, atol=1e-8)
    for i, ki in enumerate(k):
        alone = simulate(
            get_system("driven_oscillator", k=ki, A=0.0),
            [1.0, 0.0],
            t_span=(0, 3),
            dt=0.01,
            method="rk4",
        )
        np.testing.assert_allclose(traj.states[i], alone.states, rtol=1e-14, atol=1e-15)


# -- save_every ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "k, kept", [(2, [0, 2, 4, 6, 8, 10]), (3, [0, 3, 6, 9, 10]), (15, [0, 10])]
)
def test_save_every_keeps_every_kth_step_and_the_last(osc, k, kept):
    full = simulate(osc, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4")
    part = simulate(osc, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk4", save_every=k)
    np.testing.assert_array_equal(part.t, full.t[kept])
    np.testing.assert_array_equal(part.states, full.states[kept])
    np.testing.assert_array_equal(part.x, full.x[kept])
    assert part.save_every == k


def test_save_every_over_many_blocks_equals_the_subsampled_full_run(osc):
    """3001 rows span several of the loop's blocks of saved rows (1024 at most)."""
    s0 = np.random.default_rng(2).normal(size=(3, 2))
    full = simulate(osc, s0, t_span=(0, 30), dt=0.01, method="midpoint")
    assert full.t.shape == (3001,)
    for k in (7, 1000):
        part = simulate(osc, s0, t_span=(0, 30), dt=0.01, method="midpoint", save_every=k)
        kept = np.append(np.arange(0, 3001, k), 3000) if 3000 % k else np.arange(0, 3001, k)
        np.testing.assert_array_equal(part.t, full.t[kept])
        np.testing.assert_array_equal(part.states, full.states[:, kept])


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": -0.1}, "dt"),
        ({"dt": float("nan")}, "dt"),
        ({"dt": float("inf")}, "dt"),
        ({"dt": None}, "dt"),
        ({"dt": 2.0}, "dt"),  # longer than the span
        ({"t_span": (1.0, 1.0)}, "t_end"),
        ({"t_span": (1.0, 0.5)}, "t_end"),
        ({"t_span": (0.0, float("nan"))}, "t_end"),
        ({"t_span": 5.0}, "t_span"),
        ({"s0": [1.0]}, "s0"),
        ({"s0": [1.0, 0.0, 0.0]}, "s0"),
        ({"s0": [[[1.0, 0.0]]]}, "s0"),
        ({"s0": [np.nan, 0.0]}, "s0"),
        ({"s0": [np.inf, 0.0]}, "s0"),
        ({"s0": ["a", "b"]}, "s0"),
        ({"save_every": 0}, "save_every"),
        ({"save_every": 1.5}, "save_every"),
        ({"save_every": True}, "save_every"),
    ],
)
def test_bad_input_names_the_field(osc, change, field):
    kwargs = {"s0": [1.0, 0.0], "t_span": (0.0, 1.0), "dt": 0.1} | change
    s0 = kwargs.pop("s0")
    with pytest.raises(InputError, match=field):
        simulate(osc, s0, **kwargs)


def test_unknown_method_lists_the_known_ones(osc):
    with pytest.raises(InputError, match="unknown method 'rk5'") as info:
        simulate(osc, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="rk5")
    message = str(info.value)
    for name in dynsys.METHODS:
        assert name in message
    assert "did you mean 'rk4'" in message


def test_map_method_on_an_ode_and_ode_method_on_a_map_are_refused(osc):
    with pytest.raises(InputError, match="map"):
        simulate(osc, [1.0, 0.0], t_span=(0, 1), dt=0.1, method="map")
    logistic = get_system("logistic_map")
    with pytest.raises(InputError, match="map"):
        simulate(logistic, [0.2], t_span=(0, 10), method="euler")
    with pytest.raises(InputError, match="dt"):
        simulate(logistic, [0.2], t_span=(0, 10), dt=0.5)


def test_array_parameters_whose_length_disagrees_with_the_batch():
    system = get_system("driven_oscillator", k=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=r"s0 has 2 initial states but the parameters have 3"):
        simulate(system, [[1.0, 0.0], [0.5, 0.0]], t_span=(0, 1), dt=0.1)


# -- memory -------------------------------------------------------------------------------


def test_a_run_over_the_memory_limit_is_refused_with_its_size(osc):
    """The estimate is the peak: per kept step the states (s, v), the drive x, the step's index
    and time, 5 * 8 bytes; and the loop's own arrays, about 1 MiB."""
    size = plan_size(osc, [1.0, 0.0], t_span=(0, 1), dt=0.001)
    assert size.peak() == 1001 * 5 * 8 + size.work_bytes()
    assert 2 * 2**20 < size.work_bytes() < 2 * 2**20 + 20_000
    with pytest.raises(InputError) as info:
        simulate(osc, [1.0, 0.0], t_span=(0, 1), dt=0.001, memory_limit=1000)
    message = str(info.value)
    assert "1001 saved steps of 1 trajectory" in message
    assert f"would take {checks.size_text(size.peak())}" in message
    assert "1000.0 B allowed; shorten the run" in message


@pytest.mark.parametrize("limit", [2_500_000, 3_000_000, 4_000_000, 6_000_000])
def test_the_suggested_save_every_is_the_smallest_that_fits(osc, limit):
    span = {"t_span": (0, 1), "dt": 1e-5, "memory_limit": limit}
    with pytest.raises(InputError) as info:
        simulate(osc, [1.0, 0.0], **span)
    k = int(re.search(r"k=(\d+) would fit", str(info.value)).group(1))
    traj = simulate(osc, [1.0, 0.0], save_every=k, **span)
    assert 8 * (traj.states.size + traj.x.size) <= limit
    assert plan_size(osc, [1.0, 0.0], t_span=(0, 1), dt=1e-5, save_every=k).peak() <= limit
    with pytest.raises(InputError):
        simulate(osc, [1.0, 0.0], save_every=k - 1, **span)


def test_the_memory_check_comes_before_any_allocation(osc):
    """1e7 steps: an index of the kept steps alone would take 80 MB."""
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="save_every"):
            simulate(osc, [1.0, 0.0], t_span=(0, 1), dt=1e-7, memory_limit=3_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_a_huge_run_is_refused_fast_under_the_default_limit(osc):
    """1e13 steps of a batch of 1000: about 2e17 bytes; refused within a second."""
    began = time.perf_counter()
    with pytest.raises(InputError) as info, checks.limits(max_steps=10**20):
        simulate(osc, np.zeros((1000, 2)), t_span=(0, 1e4), dt=1e-9)
    assert time.perf_counter() - began < 1.0
    message = str(info.value)
    assert "10000000000001 saved steps of 1000 trajectories" in message
    assert re.search(r"would take \d+\.\d (KiB|MiB|GiB|TiB)", message)
    assert "save_every" in message


# -- divergence -----------------------------------------------------------------------------


def stiff_decay_step() -> int:
    """The step at which explicit Euler on ds/dt = -100 s, dt = 0.1, s0 = 1 leaves the floats.

    In exact arithmetic s(n) = (1 - 10)^n = (-9)^n, which first exceeds DBL_MAX at
    n = floor(log(DBL_MAX) / log 9) + 1 = 324.  But the step s + h g(s) first evaluates
    g(s(n-1)) = -100 s(n-1), and that overflows as soon as 100 * 9^(n-1) > DBL_MAX, two steps
    earlier: s(322) = s(321) + 0.1 * (-inf) = -inf.
    """
    exact_overflow = math.floor(math.log(DBL_MAX) / math.log(9)) + 1
    assert exact_overflow == 324
    g_overflow = math.floor((math.log(DBL_MAX) - math.log(100)) / math.log(9)) + 1
    return g_overflow + 1


def test_stiff_euler_diverges_at_the_step_computed_by_hand():
    system = get_system("exponential_decay", rate=100.0)
    err, caught = run_recording(
        lambda: simulate(system, [1.0], t_span=(0, 50), dt=0.1, method="euler")
    )
    assert isinstance(err, DivergenceError)
    assert caught == []
    assert stiff_decay_step() == 322
    assert err.step == 322
    assert err.method == "euler"
    assert err.t == 0.0 + 322 * 0.1
    assert err.trajectory is None
    assert "step 322" in str(err) and "smaller dt" in str(err)
    # the same recurrence replayed in plain floats
    s, n = 1.0, 0
    while math.isfinite(s):
        s, n = s + 0.1 * (-100.0 * s), n + 1
    assert n == 322


def test_the_partial_trajectory_holds_the_finite_states_before_the_divergence():
    system = get_system("exponential_decay", rate=100.0)
    with pytest.raises(DivergenceError) as info:
        simulate(system, [1.0], t_span=(0, 50), dt=0.1)
    partial = info.value.partial
    assert partial.states.shape == (322, 1)
    assert np.all(np.isfinite(partial.states))
    np.testing.assert_array_equal(partial.t, np.arange(322) * 0.1)
    np.testing.assert_allclose(partial.states[:, 0], (-9.0) ** np.arange(322), rtol=1e-12)
    assert partial.method == "euler" and partial.dt == 0.1


def test_the_partial_trajectory_with_save_every_keeps_the_saved_rows():
    system = get_system("exponential_decay", rate=100.0)
    with pytest.raises(DivergenceError) as info:
        simulate(system, [1.0], t_span=(0, 50), dt=0.1, save_every=10)
    err = info.value
    assert err.step == 322
    kept = np.arange(0, 322, 10)  # 0, 10, ..., 320
    np.testing.assert_array_equal(err.partial.t, kept * 0.1)
    np.testing.assert_allclose(err.partial.states[:, 0], (-9.0) ** kept, rtol=1e-12)
    assert err.partial.save_every == 10


def test_undamped_oscillator_with_a_huge_step_diverges():
    """Explicit Euler multiplies |s| by exactly sqrt(1 + dt^2) per step on s'' = -s, so with
    dt = 10 the norm passes DBL_MAX after about 2 log(DBL_MAX) / log(101) = 307.6 steps."""
    system = get_system("driven_oscillator", A=0.0)
    dt = 10.0
    err, caught = run_recording(
        lambda: simulate(system, [1.0, 0.0], t_span=(0, 1e4), dt=dt, method="euler")
    )
    assert isinstance(err, DivergenceError)
    assert caught == []
    by_norm = math.floor(2 * math.log(DBL_MAX) / math.log(1 + dt**2)) + 1
    assert by_norm == 308
    s, v, n = 1.0, 0.0, 0
    while math.isfinite(s) and math.isfinite(v):
        s, v, n = s + dt * v, v + dt * (-s), n + 1
    assert err.step == n
    assert abs(err.step - by_norm) <= 1
    assert err.t == err.step * dt
    assert err.trajectory is None
    partial = err.partial.states
    assert partial.shape == (err.step, 2)
    assert np.all(np.isfinite(partial))
    norm = np.hypot(partial[:, 0], partial[:, 1])
    np.testing.assert_allclose(norm, (1 + dt**2) ** (np.arange(err.step) / 2), rtol=1e-12)


def test_in_a_batch_the_error_names_the_member_that_diverged():
    rate = np.array([1.0, 1.0, 1.0, 100.0, 1.0, 2.0])
    system = get_system("exponential_decay", rate=rate)
    err, caught = run_recording(lambda: simulate(system, [1.0], t_span=(0, 50), dt=0.1))
    assert isinstance(err, DivergenceError)
    assert caught == []
    assert err.trajectory == 3
    assert err.step == 322
    assert err.t == 322 * 0.1
    assert "in trajectory 3" in str(err)
    partial = err.partial.states
    assert partial.shape == (6, 322, 1)
    assert np.all(np.isfinite(partial))
    # the members that stayed finite are their own runs, cut where member 3 left
    for i in (0, 5):
        alone = simulate(
            get_system("exponential_decay", rate=rate[i]), [1.0], t_span=(0, 32.1), dt=0.1
        )
        np.testing.assert_allclose(partial[i], alone.states, rtol=1e-14)
    np.testing.assert_allclose(partial[3, :, 0], (-9.0) ** np.arange(322), rtol=1e-12)


def test_a_batch_of_initial_states_names_the_member_that_diverged():
    """Same rate everywhere; member 2 starts 1e10 times larger, so it overflows first."""
    system = get_system("exponential_decay", rate=100.0)
    s0 = np.array([[1.0], [1.0], [1e10], [1.0]])
    with pytest.raises(DivergenceError) as info:
        simulate(system, s0, t_span=(0, 50), dt=0.1)
    err = info.value
    assert err.trajectory == 2
    # 100 * 1e10 * 9^(n-1) > DBL_MAX
    m = math.floor((math.log(DBL_MAX) - math.log(100) - math.log(1e10)) / math.log(9)) + 1
    assert err.step == m + 1


def test_the_logistic_map_escapes_with_a_map_hint():
    system = get_system("logistic_map", r=4.5)
    err, caught = run_recording(lambda: simulate(system, [0.5], t_span=(0, 100)))
    assert isinstance(err, DivergenceError)
    assert caught == []
    x, n = 0.5, 0
    while math.isfinite(x):
        x, n = 4.5 * x * (1 - x), n + 1
    assert n == 11
    assert err.step == 11 and err.t == 11.0
    assert err.method == "map"
    assert "map escapes" in str(err)
    assert err.partial.states[:3, 0].tolist() == [0.5, 1.125, -0.6328125]
    assert np.all(np.isfinite(err.partial.states))


def test_divergence_error_is_a_dynsys_error_and_a_floating_point_error():
    with pytest.raises(dynsys.DynsysError):
        simulate(get_system("logistic_map", r=4.5), [0.5], t_span=(0, 100))
    with pytest.raises(FloatingPointError):
        simulate(get_system("logistic_map", r=4.5), [0.5], t_span=(0, 100))


# -- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["euler", "semi_implicit_euler", "heun", "midpoint", "rk4"])
def test_same_inputs_give_bitwise_the_same_outputs(method):
    s0 = np.random.default_rng(7).normal(size=(5, 2))
    system = get_system("duffing")
    a = simulate(system, s0, t_span=(0, 5), dt=0.01, method=method)
    b = simulate(system, s0.copy(), t_span=(0, 5), dt=0.01, method=method)
    assert a.states.tobytes() == b.states.tobytes()
    assert a.t.tobytes() == b.t.tobytes()
    assert a.x.tobytes() == b.x.tobytes()
