"""The tutorial notebooks in docs/tutorials: valid nbformat 4, stored without outputs, titled,
seeded.  (The docs build executes them.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
NAMES = (
    "01_euler_recurrence.ipynb",
    "02_steppers_convergence.ipynb",
    "03_graph_bptt.ipynb",
    "04_fit_rnn.ipynb",
    "05_experiments_sweeps.ipynb",
)
SEED = re.compile(r"\bseed\b|default_rng\(\d+\)")
"""A seed in the code: a ``seed=`` argument, a YAML ``seed:`` or ``np.random.default_rng(n)``."""


def read(name: str):
    return nbformat.read(TUTORIALS / name, as_version=nbformat.NO_CONVERT)


def test_the_five_tutorials_are_there():
    assert sorted(p.name for p in TUTORIALS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_valid_nbformat_4_with_the_python3_kernel(name):
    nb = read(name)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    for cell in read(name).cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


@pytest.mark.parametrize("name", NAMES)
def test_notebook_opens_with_a_markdown_title(name):
    first = read(name).cells[0]
    assert first.cell_type == "markdown"
    assert re.match(r"# \S", first.source)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_uses_a_seed(name):
    code = "\n".join(c.source for c in read(name).cells if c.cell_type == "code")
    assert SEED.search(code)
    assert "np.random.seed" not in code  # a Generator, never the global state
