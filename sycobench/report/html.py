"""report.html from the blocks: one self-contained file (style, script, images and data inline; it
works offline). Tables sort on any column and fold long bodies under "show all"; the contents stay
in view as the reader scrolls; without a script every row is simply shown."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from sycobench.heap import give_back
from sycobench.report.blocks import Block, Bullets, Cell, Code, Contents, Heading, Image, Note, Para, Table, Transcripts

__all__ = ["to_html"]

_ASSETS = Path(__file__).resolve().parent / "assets"
_INTERVAL = re.compile(r"^(\S+) (\[.*\])$")


def _fit_cell(text: str) -> str:
    """A value with its interval on a second, smaller line, so wide tables fit the page."""
    match = _INTERVAL.match(text)
    if not match:
        return html.escape(text)
    return f'{html.escape(match[1])}<br><span class="ci">{html.escape(match[2])}</span>'


def _css_width(png: bytes) -> int:
    """A plot's width on the page: its size in inches (the PNG's pixels at the plots' DPI), as a screen shows an inch."""
    from sycobench.report.plots import DPI

    pixels = int.from_bytes(png[16:20], "big") if png[12:16] == b"IHDR" else 0
    return round(pixels * 96 / DPI) if pixels else 768


def _cell(value: str | Cell, numeric: bool, fit: bool) -> str:
    if isinstance(value, Cell):
        inner = html.escape(value.text)
        if value.href:
            inner = f'<a href="{html.escape(value.href, quote=True)}">{inner}</a>'
    else:
        inner = _fit_cell(value) if fit and numeric else html.escape(value)
    return f'<td class="num">{inner}</td>' if numeric else f"<td>{inner}</td>"


def _table(block: Table) -> str:
    e = html.escape
    num_class = ' class="num"'
    head = "".join(f'<th scope="col"{num_class if num else ""}>{e(h)}</th>' for h, num in zip(block.headers, block.numeric))
    body = "".join("<tr>" + "".join(_cell(c, num, block.fit) for c, num in zip(row, block.numeric)) + "</tr>"
                   for row in block.rows)
    ident = f' id="{e(block.id)}"' if block.id else ""
    caption = f"<caption>{e(block.caption)}</caption>" if block.caption else ""
    return (f'<div class="tbl"><table class="data"{ident} data-top="{block.top}">{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _contents(block: Contents) -> str:
    links = "".join(f'<li><a href="#{html.escape(i)}">{html.escape(t)}</a></li>' for i, t in block.entries)
    return f'<nav id="contents" aria-label="Contents"><b>Contents</b><ul>{links}</ul></nav>'


def _block(block: Block, images: dict[str, bytes]) -> str:
    e = html.escape
    match block:
        case Heading(level, text, ident):
            attr = f' id="{e(ident)}"' if ident else ""
            return f"<h{level}{attr}>{e(text)}</h{level}>"
        case Para(text):
            return f"<p>{e(text)}</p>"
        case Note(text, kind):
            return f'<p class="note {e(kind)}">{e(text)}</p>'
        case Bullets(items):
            return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>"
        case Code(text):
            return f"<pre><code>{e(text.rstrip())}</code></pre>"
        case Image(file, caption) if file in images and file.endswith(".svg"):  # inline: text stays text
            return f'<figure>{images[file].decode("utf-8")}<figcaption>{e(caption)}</figcaption></figure>'
        case Image(file, caption) if file in images:
            data = base64.b64encode(images[file]).decode("ascii")
            width = _css_width(images[file])
            return (f'<figure><img src="data:image/png;base64,{data}" alt="{e(caption)}" style="width: {width}px">'
                    f"<figcaption>{e(caption)}</figcaption></figure>")
        case Transcripts(view, _):
            return view
        case Table():
            return _table(block)
        case Contents():
            return _contents(block)
    return ""


def to_html(blocks: list[Block], *, title: str, images: dict[str, bytes]) -> str:
    """The page; its text is put together once (the transcript view alone can be ~17 MB a copy), after
    the heap pages the blocks' making freed are given back."""
    give_back()
    css = (_ASSETS / "report.css").read_text(encoding="utf-8")
    js = (_ASSETS / "report.js").read_text(encoding="utf-8")
    parts = [part for b in blocks if (part := _block(b, images))]
    body = [piece for part in parts for piece in ("\n", part)][1:]  # the blocks a line apart
    head = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{html.escape(title)}</title>\n'
            f"<style>{css}</style>\n</head>\n<body>\n<main>\n")
    return "".join([head, *body, f"\n</main>\n<script>{js}</script>\n</body>\n</html>\n"])
