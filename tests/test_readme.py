"""The README's promises: its Python runs, and CI runs its test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_python_examples_run():
    for block in _blocks("python"):
        exec(compile(block, "README.md", "exec"), {})


def test_ci_runs_the_readme_test_command():
    setup, tests = (b.strip() for b in _blocks("bash")[:2])
    assert "dynsys" in setup and "pip install" in setup
    assert "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()
