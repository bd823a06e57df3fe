"""Checks shared by the plotting tests: a written image is valid; the trajectories on an axis."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dynsys.plots.marks import TRAJECTORY

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


def assert_image(path: Path) -> None:
    """A PNG or PDF starts with its magic bytes; an SVG parses as XML with an <svg> root."""
    data = path.read_bytes()
    if path.suffix == ".svg":
        assert ET.fromstring(data).tag.endswith("svg")
    else:
        assert data.startswith(MAGIC[path.suffix]), data[:16]
    assert len(data) > 1000


def lines(ax, gid: str = TRAJECTORY) -> list:
    """The lines of ``ax`` drawn with the given gid (trajectories by default)."""
    return [line for line in ax.lines if line.get_gid() == gid]
