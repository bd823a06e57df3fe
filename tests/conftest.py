"""Fixtures shared by the test modules: generic ones only."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator for each test, so tests do not depend on their order."""
    return np.random.default_rng(12345)


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
