"""Fixtures shared by the test modules: generic ones only."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator for each test, so tests do not depend on their order."""
    return np.random.default_rng(12345)
