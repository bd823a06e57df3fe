"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def number(value: float | None, digits: int = 3) -> str:
    """A short scientific number, or '-' for a missing one."""
    if value is None:
        return "-"
    return f"{value:.{digits}e}"


def params_text(values: dict[str, Any], digits: int = 6) -> str:
    """'sigma=10, beta=2.66667' (``digits`` significant digits; a batch as [1, 2])."""

    def short(value: Any) -> str:
        if isinstance(value, list | tuple):
            return "[" + ", ".join(short(v) for v in value) + "]"
        return f"{float(value):.{digits}g}"

    return ", ".join(f"{k}={short(v)}" for k, v in values.items())


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell in ("-", "")
    return True


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns aligned: numbers to the right, text to the left."""
    cells = [[str(c) for c in row] for row in rows]
    columns = list(zip(headers, *cells, strict=True))
    widths = [max(len(c) for c in column) for column in columns]
    right = [all(_numeric(c) for c in column[1:]) and len(column) > 1 for column in columns]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])
