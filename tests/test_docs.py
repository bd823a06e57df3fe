"""The documentation site: it builds with no warning (the tutorial notebooks executed in the
build, so a notebook that raises fails it), and its pages, images and API reference are there.
The Python examples of its pages run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GALLERY = sorted(p.name for p in (DOCS / "gallery").glob("*.png"))
TUTORIALS = sorted(p.stem for p in (DOCS / "tutorials").glob("*.ipynb"))
GUIDE = ("systems", "steppers", "drive", "rnn", "experiments", "sweeps", "figures", "parallel")
GUIDE += ("analysis", "explore")
API = ("simulate", "trajectory", "study", "steppers", "systems", "lyapunov", "orbits", "basins")
API += ("events", "parallel", "rnn", "plots", "experiments", "files")

pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")
pytest.importorskip("myst_nb", reason="the docs extra is not installed: pip install -e '.[docs]'")
pytest.importorskip("furo", reason="the docs extra is not installed: pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once, in a fresh process, as docs/README.md builds it."""
    out = tmp_path_factory.mktemp("docs")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-j", "auto", "-q"]
    command += ["-b", "html", "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": ""}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    warnings = [line for line in warnings if not line.startswith("[IPKernelApp]")]
    assert done.returncode == 0, "sphinx-build failed:\n" + done.stderr[-6000:]
    assert not warnings, "\n".join(warnings)
    return out / "html"


def test_pages_exist(site: Path):
    for page in ("index", "getting-started", "guide/index", "api/index", "tutorials/index"):
        assert (site / f"{page}.html").is_file(), page
    for page in GUIDE:
        assert (site / "guide" / f"{page}.html").is_file(), page


def test_api_reference_pages_hold_the_docstrings(site: Path):
    for page in API:
        assert (site / "api" / f"{page}.html").is_file(), page
    simulate = (site / "api" / "simulate.html").read_text()
    assert 'id="dynsys.simulate.simulate"' in simulate  # the signature of simulate()
    assert 'id="dynsys.simulate.Recurrence"' in simulate
    steppers = (site / "api" / "steppers.html").read_text()
    assert 'id="dynsys.steppers.explicit.ExplicitRungeKutta"' in steppers
    systems = (site / "api" / "systems.html").read_text()
    assert 'id="dynsys.systems.get_system"' in systems


def test_gallery_page_shows_every_figure(site: Path):
    assert len(GALLERY) >= 20
    figures = (site / "guide" / "figures.html").read_text()
    for name in GALLERY:
        assert f"_images/{name}" in figures, name
        assert (site / "_images" / name).is_file(), name


def test_every_tutorial_is_built_with_its_outputs(site: Path):
    index = (site / "tutorials" / "index.html").read_text()
    for stem in TUTORIALS:
        page = site / "tutorials" / f"{stem}.html"
        assert page.is_file(), stem
        assert f'href="{stem}.html"' in index, stem
        assert "cell_output" in page.read_text(), f"{stem} shows no output: was it executed?"


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("page", ["getting-started.md", *(f"guide/{p}.md" for p in GUIDE)])
def test_python_examples_run(page: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)  # the examples read configs/ from the repository root
    for block in _python_blocks(DOCS / page):
        exec(compile(block, page, "exec"), {"__name__": "__docs__"})


UNDOCUMENTED = ("dynsys.__main__", "dynsys._malloc", "dynsys.cli", "dynsys.kernels.")
"""The command line's modules (its --help documents it), the compiled loop's code generators and
private helpers: the API index says so.  Every other module has a page."""


def test_every_module_is_in_the_api_reference():
    import pkgutil

    import dynsys

    documented = {
        name
        for page in (DOCS / "api").glob("*.rst")
        for name in re.findall(r"automodule:: (\S+)", page.read_text())
    }
    modules = {m.name for m in pkgutil.walk_packages(dynsys.__path__, "dynsys.")}
    missing = {m for m in modules - documented if not m.startswith(UNDOCUMENTED)}
    assert missing == set(), f"add to a page of docs/api/: {sorted(missing)}"
    assert "dynsys.kernels" in documented and documented <= modules | {"dynsys"}
