"""Reports of run and sweep folders (report.md, self-contained report.html), `dynsys report`,
the overview figure, and the HTML and Markdown tables (also of Comparison and Convergence)."""

from __future__ import annotations

import base64
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import dynsys
from dynsys.cli import main
from dynsys.errors import InputError
from dynsys.experiments.folder import lock
from dynsys.experiments.report import REPORT_HTML, REPORT_MD, timings_of
from dynsys.plots.overview import overview_plot
from dynsys.plots.style import new_figure
from dynsys.study import compare, convergence
from dynsys.tables import html_table, markdown_table, number

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Page(HTMLParser):
    """An HTML page read back: its tags (checked balanced), the src and href of each element,
    the images' sources, and each table as (caption, rows of cell texts)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.images: list[str] = []
        self.targets: list[str] = []
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._text: list[str] | None = None
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag, attrs) -> None:
        values = dict(attrs)
        self.tags.append(tag)
        self.targets += [values[k] for k in ("src", "href") if k in values]
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag == "table":
            self.tables.append(("", []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th", "caption"):
            self._text = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._text is not None:
            self.tables[-1][1][-1].append("".join(self._text).strip())
        elif tag == "caption" and self._text is not None:
            self.tables[-1] = ("".join(self._text).strip(), self.tables[-1][1])
        if tag in ("td", "th", "caption"):
            self._text = None

    def handle_data(self, data) -> None:
        if self._text is not None:
            self._text.append(data)

    def table(self, caption: str) -> list[list[str]]:
        return next(rows for cap, rows in self.tables if cap == caption)

    def headers(self) -> set[str]:
        return {cell for _, rows in self.tables if rows for cell in rows[0]}


def assert_report(folder: Path) -> Page:
    """report.md and report.html of a run folder are there and right: the page parses with
    balanced tags, embeds every PNG of plots/ (the overview's included) as its own bytes,
    refers to nothing on the network, runs no script, holds each table of metrics.json, and
    its timings rows add up to the total."""
    text = (folder / REPORT_HTML).read_text()
    md = (folder / REPORT_MD).read_text()
    page = Page(text)
    assert not page.errors, page.errors
    assert text.startswith("<!DOCTYPE html>") and "script" not in page.tags
    assert not [t for t in page.targets if t.startswith(("http:", "https:", "//"))]
    assert "http://" not in text and "https://" not in text
    pngs = sorted((folder / "plots").glob("*.png"))
    assert folder / "plots" / "overview.png" in pngs
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in page.images}
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    for png in pngs:
        assert png.read_bytes() in embedded, png.name
        assert f"](plots/{png.name})" in md
    metrics = json.loads((folder / "metrics.json").read_text())
    headers = page.headers()
    expected = {"step", "wall s", "share %"}
    if metrics.get("simulation"):
        expected |= {"method", "max abs err", "rmse", "rel L2", "final err"}
    if metrics.get("test"):
        expected |= {"rel_l2", "valid_time", "valid_time_smape"}
    if metrics.get("lyapunov"):
        expected |= {"lambda1", "max spread"}
    if metrics.get("bifurcation"):
        expected |= {"period", "values"}
    for counts in (metrics.get("events") or {}).values():
        expected |= set(counts)
    assert expected <= headers, expected - headers
    rows = page.table("wall time of each step of the run")[1:]
    seconds = {row[0]: float(row[1]) for row in rows}
    steps = {k for k, v in metrics["timings"].items() if isinstance(v, float) and k != "total"}
    assert set(seconds) == steps | {"other", "total"}
    parts = sum(v for k, v in seconds.items() if k != "total")
    assert parts == pytest.approx(seconds["total"], abs=0.0005 * len(rows) + 1e-9)
    assert seconds["total"] == pytest.approx(metrics["timings"]["total"], abs=0.0005)
    for name in ("metrics.json", "config.resolved.yaml", "run.log"):
        assert name in page.targets and f"]({name})" in md
    return page


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The seed experiment, shortened, run once: its folder."""
    out = tmp_path_factory.mktemp("report") / "seed"
    result = invoke(
        "run",
        CONFIGS / "seed_oscillator.yaml",
        "--set",
        "simulation.t_end=3",
        "--out",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"report: {out / REPORT_HTML} (and report.md)"
    return out


def test_a_run_writes_its_report(run):
    page = assert_report(run)
    sim = page.table("errors against solve_ivp DOP853 rtol=1e-10 atol=1e-12")
    metrics = json.loads((run / "metrics.json").read_text())
    assert sim[1][:2] == ["euler", number(metrics["simulation"]["euler"]["max_abs_error"])]
    md = (run / REPORT_MD).read_text()
    assert md.startswith("# Run seed-oscillator\n\ndriven_oscillator (m=1, k=1, A=0.5, c=0, ")
    assert "stepped by euler at dt = 0.01 over t in [0, 3]" in md
    assert "```yaml\nname: seed-oscillator\n" in md
    marker = json.loads((run / ".dynsys-run.json").read_text())
    assert {"report.md", "report.html", "plots/overview.png"} <= set(marker["files"])
    environment = dict(page.table("of the process that wrote this report")[1:])
    assert environment["numpy"] == np.__version__ and environment["dynsys"] == dynsys.__version__


def test_report_command_rewrites_the_same_bytes(run):
    before = {p: (run / p).read_bytes() for p in (REPORT_MD, REPORT_HTML, "plots/overview.png")}
    (run / REPORT_HTML).unlink()
    result = invoke("report", run)
    assert result.exit_code == 0, result.output
    assert result.output == f"{run / REPORT_HTML}\n"
    assert {p: (run / p).read_bytes() for p in before} == before


def test_overwrite_replaces_the_report_with_the_run(run, tmp_path):
    copy = tmp_path / "seed"
    shutil.copytree(run, copy)
    result = invoke(
        "run",
        CONFIGS / "seed_oscillator.yaml",
        "--set",
        "simulation.t_end=2",
        "--set",
        "plots=[]",
        "--out",
        copy,
        "--overwrite",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.glob("*kept*"))  # the old report went with the old run
    assert sorted(p.name for p in (copy / "plots").iterdir()) == ["overview.png"]
    assert "over t in [0, 2]" in (copy / REPORT_MD).read_text()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing", "no such folder"),
        ("plain", "not a dynsys run folder"),
        ("file.txt", "it is a file"),
    ],
)
def test_report_of_what_is_not_a_run_is_one_line_exit_2(tmp_path, where, message):
    (tmp_path / "plain").mkdir()
    (tmp_path / "file.txt").write_text("hello")
    result = invoke("report", tmp_path / where)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_unfinished_run_gets_a_partial_report_and_exit_2(run, tmp_path):
    copy = tmp_path / "seed"
    shutil.copytree(run, copy)
    status = json.loads((copy / "status.json").read_text())
    status |= {"state": "interrupted", "message": "interrupted during plot:timeseries"}
    (copy / "status.json").write_text(json.dumps(status))
    result = invoke("report", copy)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "the run is interrupted, not done" in lines[0]
    assert "wrote a report of what it completed" in lines[0]
    assert "> **Note:** the run is interrupted, not done" in (copy / REPORT_MD).read_text()
    assert 'class="note"' in (copy / REPORT_HTML).read_text()


def test_report_waits_for_the_run_holding_the_folder(run):
    held = lock(run)
    try:
        result = invoke("report", run)
    finally:
        held.release()
    assert result.exit_code == 2 and "is in use by pid" in result.output


def test_timings_other_makes_the_rows_add_up_to_the_total():
    doc = {"methods": {"euler": 0.2}, "simulation": 1.25, "plot:a": 0.5, "total": 2.0}
    timings = timings_of(doc)
    assert timings.steps == {"simulation": 1.25, "plot:a": 0.5}
    assert (timings.other, timings.total) == (0.25, 2.0)
    assert timings.parts == {"methods": {"euler": 0.2}}
    assert timings_of({"simulation": 1.0}).other == 0.0  # no total recorded: the steps' sum


def test_tables_escape_their_cells():
    text = html_table(["a<b", "x"], [["<script>", "1.5"], ["&", "-"]], caption="c & d")
    page = Page(text)
    assert not page.errors and "script" not in page.tags
    assert page.tables == [("c & d", [["a<b", "x"], ["<script>", "1.5"], ["&", "-"]])]
    assert '<td style="text-align: right">1.5</td>' in text
    assert markdown_table(["a", "b"], [["x|y", "2"]]) == "| a | b |\n| --- | ---: |\n| x\\|y | 2 |"


def test_comparison_and_convergence_render_as_html_tables():
    system = dynsys.get_system("driven_oscillator")
    result = compare(system, [1.0, 0.0], t_span=(0.0, 1.0), dt=0.1, methods=["euler", "rk4"])
    page = Page(result._repr_html_())
    assert not page.errors
    caption, rows = page.tables[0]
    assert caption.startswith("driven_oscillator (") and "reference solve_ivp" in caption
    assert [row[0] for row in rows] == ["method", "euler", "rk4"]
    euler = result.methods["euler"].errors
    assert rows[1][1:5] == [
        number(euler.max_abs_error),
        number(euler.rmse),
        number(euler.rel_l2),
        number(euler.final_abs_error),
    ]
    study = convergence(system, [1.0, 0.0], method="heun", t_span=(0.0, 1.0), dt=0.1, levels=2)
    html = study._repr_html_()
    rows = Page(html).tables[0][1]
    assert rows[0] == ["dt", "max abs error", "order"]
    assert [r[1] for r in rows[1:]] == [number(e) for e in study.error]
    assert "heun" in html and f"observed order {study.observed_order:.3f}" in html


def test_overview_draws_on_the_callers_axes():
    system = dynsys.get_system("driven_oscillator")
    result = compare(system, [1.0, 0.0], t_span=(0.0, 1.0), dt=0.1, methods=["euler", "rk4"])
    fig = new_figure()
    axes = fig.subplots(3, 1)
    drawn, info = overview_plot(result.trajectories, result.reference, axes=axes)
    assert drawn is fig and info.methods == ("euler", "rk4", "reference")
    assert info.states == ("s", "v") and axes[2].get_yscale() == "log"
    assert info.max_error["euler"] == result.methods["euler"].errors.max_abs_error
    with pytest.raises(InputError, match="must be 3 matplotlib Axes"):
        overview_plot(result.trajectories, result.reference, axes=axes[:2])
