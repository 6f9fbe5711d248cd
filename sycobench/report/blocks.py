"""The blocks report.md and report.html are both rendered from, so the two always say the same thing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Block", "Bullets", "Cell", "Code", "Contents", "Heading", "Image", "Note", "Para", "Table", "Transcripts",
           "anchor"]


def anchor(text: str) -> str:
    """A section's id in the page: lower case, words joined by `-` (`rent: amount` -> `rent-amount`)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    id: str | None = None  # the anchor (h2 sections are listed in the page's contents)


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Note:
    """A short callout (a warning, a caveat); a paragraph in Markdown."""

    text: str
    kind: str = "note"  # note | warn


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Image:
    file: str
    caption: str


@dataclass(frozen=True)
class Cell:
    """A table cell with a link (HTML only), e.g. a model that opens its transcripts."""

    text: str
    href: str | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str | Cell]]
    numeric: list[bool]
    fit: bool = True  # HTML: intervals under their value, so wide tables fit the page
    id: str | None = None
    caption: str | None = None
    top: int = 12  # HTML: rows beyond this are folded under "show all" (sorting still covers every row)


@dataclass(frozen=True)
class Contents:
    """The page's table of contents (HTML only: it lists the h2 sections that follow)."""

    entries: list[tuple[str, str]] = field(default_factory=list)  # (id, title)


@dataclass(frozen=True)
class Transcripts:
    """The interactive view in HTML; `note` stands in for it in Markdown."""

    html: str
    note: str


Block = Heading | Para | Note | Bullets | Code | Image | Table | Contents | Transcripts
