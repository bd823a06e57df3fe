"""A report as a list of blocks (headings, paragraphs, tables, figures, code, links), and its
two renderings: Markdown and one self-contained HTML page.

The HTML page holds everything it shows: its CSS inline, each figure as a base64 PNG ``data:``
URI, no script and no address on the network; its links (to the run's files) are relative, so
it opens offline and still works when the folder is moved.  The Markdown links the figures
and files by their paths relative to the folder.  Tables go through
:func:`dynsys.tables.markdown_table` and :func:`dynsys.tables.html_table`.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from typing import Union

from ..tables import html_table, markdown_table


@dataclass(frozen=True)
class Link:
    """A relative link: ``href`` in the Markdown, ``html_href`` (default ``href``) in the HTML
    (a point's report.md in one, its report.html in the other)."""

    text: str
    href: str
    html_href: str = ""

    def __str__(self) -> str:
        return f"[{self.text}]({_url(self.href)})"

    def __html__(self) -> str:
        href = html.escape(_url(self.html_href or self.href))
        return f'<a href="{href}">{html.escape(self.text)}</a>'


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Plain text (escaped in the HTML); ``note`` marks a warning (an unfinished run)."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG figure: its name, its path relative to the folder, and its bytes."""

    name: str
    path: str
    data: bytes


@dataclass(frozen=True)
class Links:
    items: tuple[Link, ...]


Block = Union[Heading, Paragraph, Code, Table, Image, Links]  # noqa: UP007


@dataclass(frozen=True)
class Document:
    title: str
    blocks: tuple[Block, ...]


def _url(path: str) -> str:
    """A relative path as a link target (spaces and parentheses escaped)."""
    return path.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


# -- Markdown ----------------------------------------------------------------------------------


def markdown(doc: Document) -> str:
    """The document as Markdown (GitHub flavour), ending in one newline."""
    parts = [f"# {doc.title}"]
    for block in doc.blocks:
        parts.append(_markdown_block(block))
    return "\n\n".join(parts) + "\n"


def _markdown_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
    if isinstance(block, Paragraph):
        return f"> **Note:** {block.text}" if block.note else block.text
    if isinstance(block, Code):
        fence = "````" if "```" in block.text else "```"
        return f"{fence}{block.language}\n{block.text.rstrip()}\n{fence}"
    if isinstance(block, Table):
        caption = f"{block.caption}\n\n" if block.caption else ""
        return caption + markdown_table(block.headers, block.rows)
    if isinstance(block, Image):
        return f"![{block.name}]({_url(block.path)})"
    return "\n".join(f"- {item}" for item in block.items)


# -- HTML --------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #0072B2; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .25rem .7rem; }
th { background: #f3f6f9; text-align: left; }
tbody tr:nth-child(even) { background: #fafafa; }
td, th { font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .85rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
.note { background: #fff4e5; border-left: 4px solid #E69F00; padding: .5rem .8rem; }
"""


def html_page(doc: Document) -> str:
    """The document as one HTML page with everything inline (see the module doc)."""
    body = "\n".join(_html_block(block) for block in doc.blocks)
    title = html.escape(doc.title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n{body}\n</body>\n</html>\n"
    )


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        if block.note:
            return f'<p class="note"><strong>Note:</strong> {html.escape(block.text)}</p>'
        return f"<p>{html.escape(block.text)}</p>"
    if isinstance(block, Code):
        language = f' class="language-{html.escape(block.language)}"' if block.language else ""
        return f"<pre><code{language}>{html.escape(block.text.rstrip())}</code></pre>"
    if isinstance(block, Table):
        return html_table(block.headers, block.rows, caption=block.caption or None)
    if isinstance(block, Image):
        data = base64.b64encode(block.data).decode("ascii")
        name = html.escape(block.name)
        link = Link(block.path, block.path).__html__()
        return (
            f'<figure>\n<img src="data:image/png;base64,{data}" alt="{name}">\n'
            f"<figcaption>{name} ({link})</figcaption>\n</figure>"
        )
    items = "\n".join(f"<li>{item.__html__()}</li>" for item in block.items)
    return f"<ul>\n{items}\n</ul>"


__all__ = [
    "Code",
    "Document",
    "Heading",
    "Image",
    "Link",
    "Links",
    "Paragraph",
    "Table",
    "html_page",
    "markdown",
]
