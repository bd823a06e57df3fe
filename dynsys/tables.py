"""Tables: plain text for the terminal, Markdown and HTML for reports and notebooks.

The three renderers take the same ``headers`` and ``rows`` (cells as text) and align alike:
a column whose cells are all numbers (or '-') to the right, others to the left.
"""

from __future__ import annotations

import html
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


def _right_aligned(headers: Sequence[str], cells: list[list[str]]) -> list[bool]:
    """For each column: whether every cell is a number (or '-'), so it is aligned right."""
    columns = list(zip(headers, *cells, strict=True))
    return [all(_numeric(c) for c in column[1:]) and len(column) > 1 for column in columns]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown (GitHub) table; numbers aligned right, '|' and line breaks escaped.  A cell
    is written as ``str(cell)``, so a link cell may render itself as ``[text](href)``."""
    cells = [[_markdown_cell(c) for c in row] for row in rows]
    head = [_markdown_cell(h) for h in headers]
    rule = ["---:" if r else "---" for r in _right_aligned(head, cells)]
    return "\n".join("| " + " | ".join(row) + " |" for row in [head, rule, *cells])


def _markdown_cell(cell: object) -> str:
    return str(cell).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def html_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, caption: str | None = None
) -> str:
    """An HTML ``<table>`` (with a ``<caption>`` when given); every text is escaped with
    :func:`html.escape`, except a cell that renders itself (an ``__html__`` method, as
    markupsafe's Markup has); numbers aligned right."""
    texts = [[str(c) for c in row] for row in rows]
    right = _right_aligned([str(h) for h in headers], texts)
    align = [' style="text-align: right"' if r else "" for r in right]
    head = "".join(
        f"<th{a}>{html.escape(str(h))}</th>" for h, a in zip(headers, align, strict=True)
    )
    body = [
        "<tr>"
        + "".join(f"<td{a}>{_html_cell(c)}</td>" for c, a in zip(row, align, strict=True))
        + "</tr>"
        for row in rows
    ]
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts += [f"<thead><tr>{head}</tr></thead>", "<tbody>", *body, "</tbody>", "</table>"]
    return "\n".join(parts)


def _html_cell(cell: object) -> str:
    render = getattr(cell, "__html__", None)
    return render() if callable(render) else html.escape(str(cell))
