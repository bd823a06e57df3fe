"""The figures refuse what they cannot compute or draw before they start, never exit 0 after
failing to write, read the records of a model file defensively, and draw what the reader must
see (identical stability regions, the reference under RK4, labels inside the axes)."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
from click.testing import CliRunner
from images import assert_image  # tests/images.py
from matplotlib.figure import Figure

from dynsys import DynsysError, InputError, get_system
from dynsys.cli import main
from dynsys.plots import (
    check_figure,
    convergence_plot,
    find_equilibria,
    phase_portrait,
    save_figure,
    stability_plot,
    timeseries_plot,
    vector_field_plot,
)
from dynsys.plots import orbits as orbits_module
from dynsys.plots.orbits import stroboscopic
from dynsys.plots.stability import region_box
from dynsys.plots.style import params_text
from dynsys.rnn.pipeline import save_trained, train_model
from dynsys.rnn.settings import plan_fit


def run(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="dynsys")


def one_line(result, code: int) -> str:
    """The single line of a failed command, after checking its exit status."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    out = result.output.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("Error: "), result.output
    return out[0]


@pytest.fixture
def nothing_computed(monkeypatch):
    """Fail the test if a figure starts stepping or solving (the refusal must come first)."""

    def refuse(*args, **kwargs):
        raise AssertionError("the figure started computing before refusing")

    for name in ("simulate", "reference"):
        monkeypatch.setattr(orbits_module, name, refuse)
    monkeypatch.setattr("dynsys.plots.convergence.convergence", refuse)
    monkeypatch.setattr("dynsys.plots.rnn.sample", refuse)


# -- sizes refused before computing -------------------------------------------------------

TOO_BIG = [
    (["plot", "error", "van_der_pol", "--t-end", "1e10", "--dt", "1e-5"], "dt"),
    (["plot", "timeseries", "van_der_pol", "--t-end", "1e10", "--dt", "1e-5"], "dt"),
    (["plot", "timeseries", "van_der_pol", "--t-end", "1e5", "--dt", "1e-3"], "take dt >= 0.4"),
    (["plot", "error", "van_der_pol", "--t-end", "1e5", "--dt", "1e-3"], "take dt >= 0.4"),
    (["plot", "timeseries", "van_der_pol", "--t-end", "1e5", "--dt", "1"], "take t_end <="),
    (["plot", "timeseries", "logistic_map", "--t-end", "1e9"], "take t_end <= 1e+06"),
    (["phase", "van_der_pol", "--t-end", "1e9"], "t_end"),
    (["phase", "duffing", "--poincare", "--t-end", "1e9"], "t_end"),
    (["phase", "duffing", "--poincare", "--t-end", "1e6", "--dt", "100"], "take t_end <="),
    (["phase", "van_der_pol", "--grid", "30", "--t-end", "1e6", "--dt", "1"], "t_end"),
    (["phase", "logistic_map", "--t-end", "1e9"], "take t_end <= 1e+06"),
    (["phase", "henon_map", "--t-end", "1e9"], "take t_end <= 1e+06"),
    (["phase", "lorenz", "--projections", "--t-end", "1e6"], "t_end"),
    (["phase", "exponential_decay", "--vs-time", "--t-end", "1e12"], "t_end"),
    (["phase", "van_der_pol", "-p", "mu=1000", "--t-end", "1e5", "--dt", "10"], "t_end <="),
    (["phase", "van_der_pol", "--methods", "euler", "--t-end", "1e5", "--dt", "1e-3"], "dt >="),
    (["plot", "stability", "van_der_pol", "--t-end", "1e9"], "take t_end <="),
    (["plot", "convergence", "van_der_pol", "--levels", "30"], "take levels <= 10"),
    (["plot", "convergence", "van_der_pol", "--levels", "60"], "take levels <= 10"),
    (["plot", "convergence", "van_der_pol", "--levels", "1000"], "take levels <= 10"),
    (["plot", "convergence", "van_der_pol", "--levels", "1000000000"], "dt/2^1000000000"),
    (["plot", "convergence", "van_der_pol", "--levels", "0"], "levels must be"),
    (
        ["plot", "convergence", "van_der_pol", "--t-end", "1e7", "--dt", "1e3", "--levels", "1"],
        "take t_end <=",
    ),
]


@pytest.mark.parametrize(("args", "message"), TOO_BIG, ids=[" ".join(a) for a, _ in TOO_BIG])
def test_a_figure_too_large_is_refused_before_computing(
    tmp_path, monkeypatch, nothing_computed, args, message
):
    monkeypatch.chdir(tmp_path)
    line = one_line(run(*args), 2)
    assert message in line
    assert list(tmp_path.iterdir()) == []


BAD_LIMITS = [
    (["phase", "van_der_pol", "--xlim", "-1e300,1e300"], "xlim must lie within"),
    (["phase", "van_der_pol", "--ylim", "0,1e-320"], "ylim is too narrow"),
    (["phase", "van_der_pol", "--xlim", "1,1.0000000000000002"], "xlim is too narrow"),
    (["phase", "van_der_pol", "--xlim", "nan,1"], "xlim must be a finite number"),
    (["phase", "van_der_pol", "--xlim", "-inf,1"], "xlim must be a finite number"),
    (["phase", "van_der_pol", "--ylim", "3,-3"], "ylim must be two numbers a,b with a < b"),
    (["phase", "van_der_pol", "--xlim", "1e400,2e400"], "xlim must be a finite number"),
    (["phase", "logistic_map", "--xlim", "-1e300,1e300"], "xlim must lie within"),
    (["plot", "stability", "van_der_pol", "--xlim", "-1e300,1e300"], "within -100 and 100"),
    (["plot", "stability", "van_der_pol", "--ylim", "1e3,2e3"], "within -100 and 100"),
    (["plot", "stability", "driven_oscillator", "--dt", "1e300"], "take dt <= 100"),
    (["plot", "stability", "pendulum", "--dt", "1e300"], "take dt <= 31.9"),
    (["plot", "stability", "van_der_pol", "--dt", "nan"], "dt must be a finite number"),
    (["plot", "unrolled", "van_der_pol", "--dt", "-1"], "dt must be > 0"),
]


@pytest.mark.parametrize(("args", "message"), BAD_LIMITS, ids=[" ".join(a) for a, _ in BAD_LIMITS])
def test_extreme_inverted_and_nan_limits_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert message in one_line(run(*args), 2)
    assert list(tmp_path.iterdir()) == []


def test_the_widest_limits_allowed_draw(tmp_path):
    system = get_system("pendulum")
    fig, info = phase_portrait(system, t_span=(0, 2), xlim=(-1e12, 1e12), ylim=(-1e12, 1e12))
    assert_image(save_figure(fig, tmp_path / "wide.png"))
    assert info.xlim == (-1e12, 1e12)


def test_runaway_orbits_give_limits_that_can_be_drawn(tmp_path):
    """A Hénon orbit from (3, 3) runs off to 1e+300 and beyond: the axes stop at 1e12, and the
    fixed points found in so wide a box are the true ones (not merged, not rounded to 0)."""
    fig, info = phase_portrait(get_system("henon_map"), [3.0, 3.0], t_span=(0, 40))
    assert info.xlim == info.ylim == (-1e12, 1e12)
    assert [e.kind for e in info.equilibria] == ["saddle", "saddle"]
    np.testing.assert_allclose(info.equilibria[1].point, [0.6314, 0.1894], atol=1e-4)
    assert_image(save_figure(fig, tmp_path / "runaway.png"))
    far = find_equilibria(get_system("van_der_pol"), [(-1e12, 1e12)] * 2)
    assert [tuple(e.point) for e in far] == [(0.0, 0.0)]  # no roots by cancellation far out


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("phase", {"t_span": (0, 1e9)}, "t_end"),
        (
            "phase",
            {"s0": [1.0, 0.0], "poincare": True, "period": 1e-6, "t_span": (0, 100)},
            "t_end",
        ),
        ("timeseries", {"t_span": (0, 1e5), "dt": 1e-3}, "take dt >="),
        ("error", {"t_span": (0, 1e5), "dt": 1e-3}, "take dt >="),
        ("convergence", {"levels": 60}, "take levels <="),
        ("stability", {"xlim": (-1e300, 1e300)}, "xlim must lie within"),
        ("phase", {"methods": ["rk5"]}, "unknown method"),
    ],
)
def test_check_figure_refuses_what_the_figure_would(nothing_computed, kind, options, message):
    """What a run's `plots:` entries call before the run starts (the same checks)."""
    system = get_system("duffing" if "poincare" in options else "van_der_pol")
    with pytest.raises(InputError, match=message):
        check_figure(kind, system, **options)


def test_check_figure_passes_what_draws(nothing_computed):
    system = get_system("van_der_pol")
    check_figure("phase", system, t_span=(0, 20), grid=4)
    check_figure("timeseries", system, t_span=(0, 20), dt=0.01)
    check_figure("convergence", system, levels=5)
    check_figure("training", system)  # model figures: checked when drawn


# -- writing the figure --------------------------------------------------------------------


FULL = OSError(errno.ENOSPC, "No space left on device")
DENIED = PermissionError(errno.EACCES, "Permission denied")


@pytest.mark.parametrize(
    ("args", "err"),
    [
        (["phase", "van_der_pol", "--t-end", "2"], FULL),
        (["plot", "timeseries", "van_der_pol", "--t-end", "2", "--dt", "0.1"], DENIED),
        (["plot", "unrolled", "van_der_pol"], FULL),
        (["plot", "unrolled", "van_der_pol"], DENIED),
    ],
)
def test_a_failed_write_is_one_line_exit_1(tmp_path, monkeypatch, args, err):
    out = tmp_path / "figure.png"
    out.write_bytes(b"old figure")

    def full(self, f, **kwargs):
        f.write(b"\x89PNG half")
        raise err

    monkeypatch.setattr(Figure, "savefig", full)
    line = one_line(run(*args, "--out", str(out)), 1)
    assert str(out) in line and err.strerror in line
    assert out.read_bytes() == b"old figure"  # the old file intact, no temporary file left
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_a_figure_that_cannot_be_rendered_is_one_line_exit_1(tmp_path, monkeypatch):
    def broken(self, f, **kwargs):
        raise ValueError("Image size of 100000x100000 pixels is too large")

    monkeypatch.setattr(Figure, "savefig", broken)
    line = one_line(
        run("phase", "van_der_pol", "--t-end", "2", "--out", str(tmp_path / "a.png")), 1
    )
    assert "cannot draw" in line and "too large" in line
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_line_exit_1(tmp_path):
    """A real 8 KiB tmpfs: the figure does not fit, and nothing is left on it."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    disk = tmp_path / "disk"
    disk.mkdir()
    dynsys = Path(sys.executable).parent / "dynsys"
    if not dynsys.exists():
        pytest.skip("the dynsys command is not installed beside this Python")
    script = (
        f"mount -t tmpfs -o size=8k tmpfs {disk} && "
        f"{dynsys} plot unrolled van_der_pol --out {disk}/p.png; "
        f"echo status=$?; ls -A {disk}"
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    if "status=" not in done.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert "status=1" in done.stdout, done.stdout + done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1 and "No space left on device" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.strip().endswith("status=1")  # the folder is empty: no temporary file


# -- the records of a model file -------------------------------------------------------------


@pytest.fixture(scope="module")
def jordan_file(tmp_path_factory):
    """A tiny Jordan network of the driven oscillator, saved."""
    plan = plan_fit(
        "driven_oscillator",
        "jordan",
        dataset={"n_train": 4, "n_val": 2, "n_test": 2, "t_end": 3.0, "h": 0.1},
        model={"hidden": 4},
        training={"epochs": 15},
    )
    folder = tmp_path_factory.mktemp("guard_models")
    return save_trained(train_model(plan, progress=False), folder / "jordan.npz")


def edited(source: Path, target: Path, change) -> Path:
    """A copy of the model file ``source`` whose metadata ``change(meta)`` edited."""
    with np.load(source) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("metadata")))
    change(meta)
    np.savez(target, metadata=np.array(json.dumps(meta)), **arrays)
    return target


def setter(path: str, value):
    def change(meta):
        keys = path.split(".")
        node = meta
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


EDITS = [
    ("training", "training", "a string"),
    ("training", "training", [1, 2]),
    ("training", "training.stages", "fit"),
    ("training", "training.stages", []),
    ("training", "training.stages.fit", None),
    ("training", "training.stages.fit.train_loss", "0.1, 0.2"),
    ("training", "training.stages.fit.train_loss", ["a", 0.1]),
    ("training", "training.stages.fit.train_loss", [[0.1], [0.2]]),
    ("training", "training.stages.fit.val_loss", 5),
    ("training", "training.stages.fit.val_loss", [0.1]),
    ("training", "training.stages.fit.best_epoch", "3"),
    ("training", "training.stages.fit.best_epoch", [1]),
    ("training", "training.stages.fit.best_epoch", -1),
    ("training", "training.stages.fit.initial_train_loss", "x"),
    ("training", "training.stages.fit.initial_train_loss", [1.0]),
    ("training", "training.stages.fit.wall_s", [1.0, 2.0]),
    ("rollout", "normalizer", "a string"),
    ("rollout", "normalizer.x_mean", "abc"),
    ("rollout", "normalizer.x_std", None),
    ("rollout", "normalizer.y_mean", [0.0, 0.0, 0.0]),
    ("field", "normalizer.x_mean", [[1.0], [2.0]]),
    ("field", "normalizer.input_names", 5),
    ("field", "normalizer", None),
    ("rollout", "dataset", [1, 2]),
    ("rollout", "dataset.t_end", "ten"),
    ("rollout", "dataset.t_end", 1e12),
    ("rollout", "dataset.h", None),
    ("field", "dataset.system", 5),
    ("field", "dataset.s0_ranges", "x"),
    ("field", "dataset.ranges", [1]),
    ("field", "dataset", None),
]


@pytest.mark.parametrize(
    ("kind", "path", "value"), EDITS, ids=[f"{k}-{p}={v!r}" for k, p, v in EDITS]
)
def test_edited_records_of_a_model_file_are_one_line(
    jordan_file, tmp_path, monkeypatch, kind, path, value
):
    monkeypatch.chdir(tmp_path)
    model = edited(jordan_file, tmp_path / "edited.npz", setter(path, value))
    result = run("plot", kind, str(model), "--out", "figure.png")
    if result.exit_code == 0:  # an edit the figure does not read
        assert path.endswith("wall_s"), result.output
        return
    assert "edited.npz" in one_line(result, 2)


def test_a_drive_out_of_range_is_one_line(jordan_file, tmp_path):
    out = str(tmp_path / "f.png")
    line = one_line(run("plot", "field", str(jordan_file), "--drive", "1e308", "--out", out), 2)
    assert "drive must lie within" in line


def test_a_run_folder_is_read_through_its_model(jordan_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "exp-1"
    folder.mkdir()
    shutil.copy(jordan_file, folder / "model.npz")
    result = run("plot", "training", "exp-1")
    assert result.exit_code == 0, result.output
    assert_image(tmp_path / "exp-1_training.png")
    (folder / "model.npz").unlink()
    assert "has no model.npz" in one_line(run("plot", "training", "exp-1"), 2)


def test_the_field_of_an_undriven_step_map_without_input_names(tmp_path):
    """The constant input channel of an undriven system is known from the dataset spec alone,
    not from the names the normaliser gives its inputs."""
    plan = plan_fit(
        "van_der_pol",
        "jordan",
        dataset={"n_train": 4, "n_val": 2, "n_test": 2, "t_end": 2.0, "h": 0.05},
        model={"hidden": 4},
        training={"epochs": 5},
    )
    model = save_trained(train_model(plan, progress=False), tmp_path / "vdp.npz")
    for names in (None, ["one"]):
        changed = edited(
            model, tmp_path / "vdp_edited.npz", setter("normalizer.input_names", names)
        )
        if names is None:
            changed = edited(model, changed, lambda meta: meta["normalizer"].pop("input_names"))
        _, info = vector_field_plot(changed, xlim=(-2, 2), ylim=(-2, 2))
        assert info.drive is None and np.isfinite(info.max_rel_diff)


# -- what the figures show -----------------------------------------------------------------


def test_convergence_labels_inside_the_axes_and_apart():
    fig, _ = convergence_plot(
        get_system("driven_oscillator"),
        methods="euler,semi_implicit_euler,heun,rk4",
        t_span=(0, 2),
        dt=0.1,
        levels=3,
    )
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text().startswith("slope")]
    assert len(boxes) == 3
    for box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 <= frame.y1
    for a, b in combinations(boxes, 2):
        assert not a.overlaps(b)


def test_identical_stability_regions_stay_visible_and_every_region_fits():
    methods = "euler,midpoint,heun,rk4,dopri5"
    fig, info = stability_plot(get_system("driven_oscillator"), dt=0.5, methods=methods)
    ax = fig.axes[0]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "midpoint" in labels and "heun (same region as midpoint)" in labels
    re_lo, re_hi, im_lo, im_hi = region_box(info.methods)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 <= re_lo and re_hi <= x1 and y0 <= im_lo and im_hi <= y1
    assert im_hi > 3.5  # dopri5 reaches beyond the old window


def test_the_reference_shows_under_rk4():
    fig, _ = timeseries_plot(get_system("driven_oscillator"), t_span=(0, 3), dt=0.1, methods="rk4")
    ref, rk4 = fig.axes[0].lines[:2]
    assert ref.get_linewidth() >= 3 * rk4.get_linewidth()  # a halo on both sides of RK4
    assert ref.get_zorder() < rk4.get_zorder()


def test_one_state_and_parameter_values_in_labels():
    fig, _ = phase_portrait(
        get_system("exponential_decay"), [1.0], vs_time=True, methods="euler", dt=0.5, t_span=(0, 2)
    )
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "solve_ivp, s0 = 1" in labels
    assert "beta=2.667" in params_text(get_system("lorenz"))


def test_the_section_is_the_same_as_a_solve_of_its_own():
    system = get_system("duffing", delta=0.3, gamma=0.5)
    period = 2 * np.pi / float(system.params["omega"])
    fig, info = phase_portrait(system, [1.0, 0.0], poincare=True, t_span=(0, 12 * period))
    drawn = fig.axes[1].collections[0].get_offsets()
    alone = stroboscopic(system, np.array([1.0, 0.0]), (0, 12 * period), period)
    assert info.section_points == 13
    np.testing.assert_allclose(drawn, alone, rtol=0, atol=1e-9)


def test_the_bytes_do_not_depend_on_the_users_matplotlib_settings(tmp_path):
    def render(name):
        fig, _ = timeseries_plot(
            get_system("exponential_decay"), t_span=(0, 2), dt=0.5, methods="euler"
        )
        return save_figure(fig, tmp_path / name).read_bytes()

    plain = render("a.svg")
    with mpl.rc_context({"font.size": 20, "lines.linewidth": 5, "axes.facecolor": "black"}):
        styled = render("b.svg")
    assert plain == styled
    assert b"Matplotlib v" not in plain and b"<dc:date>" not in plain
    pdf = render("c.pdf")
    assert b"CreationDate" not in pdf and b"Producer" not in pdf


def test_a_figure_error_is_a_dynsys_error(tmp_path, monkeypatch):
    def broken(self, f, **kwargs):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(Figure, "savefig", broken)
    fig = Figure()
    with pytest.raises(DynsysError, match="cannot draw"):
        save_figure(fig, tmp_path / "x.png")


def test_the_figure_ceilings_rise_with_max_steps():
    """A figure refused at the default ceiling of 1e6 steps: --max-steps raises it."""
    from click.testing import CliRunner

    from dynsys import checks
    from dynsys.cli import main
    from dynsys.plots.checks import max_figure_steps

    args = ["phase", "pendulum", "--t-end", "2000", "--dt", "0.001", "--methods", "euler"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2
    assert "2,000,000 steps, more than the 1,000,000 a figure computes (raise it" in refused.output
    assert max_figure_steps() == 10**6
    with checks.limits(max_steps=3 * 10**6):
        assert max_figure_steps() == 3 * 10**6
