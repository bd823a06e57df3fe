"""Sphinx configuration of the dynsys documentation site.

Build it from the repository root (offline: nothing is fetched)::

    .venv/bin/python -m sphinx -W --keep-going -j auto -b html docs build/docs/html
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's dynsys, installed or not

import dynsys  # noqa: E402

# Import every documented module before autodoc reads any: autodoc's reading of a pydantic
# model's annotations leaves pydantic unable to build the models of a module imported later
# (PydanticSchemaGenerationError on ``__pydantic_extra__``), so nothing is imported late.
for _page in sorted((ROOT / "docs" / "api").glob("*.rst")):
    for _name in re.findall(r"automodule:: (\S+)", _page.read_text()):
        importlib.import_module(_name)

project = "dynsys"
author = "the dynsys authors"
copyright = "the dynsys authors"
version = release = dynsys.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "myst_nb",
]

# Markdown pages (MyST) and notebooks (myst-nb); README.md is the gallery's own notes on GitHub
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "README.md", "**/.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"

# -- API reference from the docstrings ----------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "ignore-module-all": True}
add_module_names = False
# the pages' own headings make the navigation; an entry per documented object in every page's
# toctree would make furo's navigation tree (computed for each page) the slowest part of a build
toc_object_entries = False

# -- notebooks: executed at every build, an error fails it ---------------------------------------
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 120
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"dynsys {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


# -- the docstrings' plain-text maths ----------------------------------------------------------
# dynsys docstrings write equations as plain text: |x| is an absolute value or a norm, and
# (T, *batch, n) a shape with a starred batch.  In reStructuredText |x| would be a substitution
# a lone * the start of an emphasis and x_ a link, so these are escaped in prose (never inside
# ``code``, roles, directives, literal blocks or doctests).  Well-formed *emphasis* and
# **strong** are kept.  Without this, every |x| written in a docstring would fail the build.
_PROTECTED = re.compile(
    r"``.+?``"  # inline literal
    r"|:[\w:.+-]+:`[^`]*`"  # a role, :func:`name`
    r"|`[^`]+`_{0,2}"  # interpreted text or a link
    r"|\*\*[^\s*](?:[^*]*[^\s*])?\*\*(?=[\s.,;:!?)'\"-]|$)"  # **strong**
    r"|(?<![\w*])\*[^\s*](?:[^*]*[^\s*])?\*(?=[\s.,;:!?)'\"-]|$)"  # *emphasis*
)


_STAR = re.compile(r"\*(?=\S)")  # a * before a space (a bullet, a * b) starts nothing
_LINK_END = re.compile(r"(?<=\w)_(?!\w)")  # x_ would be a link to "x"


def _escape(text: str) -> str:
    return _LINK_END.sub(r"\_", _STAR.sub(r"\*", text.replace("|", r"\|")))


def _escape_prose(line: str) -> str:
    out, last = [], 0
    for match in _PROTECTED.finditer(line):
        out.append(_escape(line[last : match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(_escape(line[last:]))
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_plain_maths(app, what, name, obj, options, lines: list[str]) -> None:
    """autodoc-process-docstring: escape | and stray * in prose lines, in place."""
    literal_from = None  # the indentation a literal block must exceed, while inside one
    doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if literal_from is not None:
            if not stripped or _indent(line) > literal_from:
                continue
            literal_from = None
        if doctest:
            if stripped:
                continue
            doctest = False
        if stripped.startswith(">>>"):
            doctest = True
            continue
        if stripped.startswith(".. "):  # a directive or a comment: its body is left alone
            literal_from = _indent(line)
            continue
        lines[i] = _escape_prose(line)
        if stripped.endswith("::"):
            literal_from = _indent(line)


def setup(app) -> None:
    app.connect("autodoc-process-docstring", escape_plain_maths)
