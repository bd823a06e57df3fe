"""Fixtures shared by the test modules: generic ones only."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator for each test, so tests do not depend on their order."""
    return np.random.default_rng(12345)


# -- the compiled loops' cache: one per test session -------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    """The tests (and the processes they start) keep compiled loops in a folder of their own,
    so that what the machine cached before never changes which loop a test runs."""
    folder = tempfile.mkdtemp(prefix="dynsys-test-cache-")
    config._dynsys_cache = folder
    os.environ["DYNSYS_CACHE_DIR"] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = getattr(config, "_dynsys_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


# -- slow tests: skipped unless asked for ------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow",
        action="store_true",
        help="also run the tests marked slow (as does the environment variable DYNSYS_SLOW=1)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow (long fuzz runs, repeated kills) run only with --runslow or
    DYNSYS_SLOW=1."""
    if config.getoption("--runslow") or os.environ.get("DYNSYS_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or DYNSYS_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
