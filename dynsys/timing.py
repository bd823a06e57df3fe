"""Wall times of the parts of one piece of work, that add up to its total."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MICRO = 1_000_000
"""Timings are kept in whole microseconds, so that the parts add up to the total exactly."""


@dataclass
class Stopwatch:
    """Wall seconds of named parts of the work begun at ``began`` (``time.perf_counter``).

    Parts are disjoint intervals inside [began, now]; a part timed twice adds up.
    :meth:`breakdown` gives every part, ``other`` = total - sum(parts) and ``total``.
    """

    parts: dict[str, float] = field(default_factory=dict)
    began: float = field(default_factory=time.perf_counter)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time the block under ``name`` (added to what ``name`` already holds)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to part ``name``."""
        self.parts[name] = self.parts.get(name, 0.0) + seconds

    def breakdown(self) -> dict[str, float]:
        """{part: seconds, ..., "other": total - sum(parts), "total": now - began}, in whole
        microseconds: the parts and other add up to total exactly (in integers), and other
        is >= 0 (the parts lie inside the total; a total below their sum by the clock's
        rounding is raised to it)."""
        micro = {name: round(seconds * MICRO) for name, seconds in self.parts.items()}
        total = max(round((time.perf_counter() - self.began) * MICRO), sum(micro.values()))
        micro |= {"other": total - sum(micro.values()), "total": total}
        return {name: value / MICRO for name, value in micro.items()}
