"""SVG drawing for the page's figures: a canvas in points, texts measured in the font they name.

A page figure is a few hundred shapes and texts; written as SVG directly it takes milliseconds where
matplotlib took a second and more (docs/performance.md). Texts stay text (searchable, sharp at any
zoom) in DejaVu Sans, the font matplotlib ships; their widths, which set the margins, are measured in
that font's file with Pillow, so a browser with the font shows what was measured; one without it falls
back to Verdana (of much the same widths) or its own sans-serif.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = ["FONT", "Canvas", "Scale", "lines_height", "marker_points", "nice_ticks", "number", "shipped_font",
           "text_width"]

FONT = "DejaVu Sans, Verdana, Geneva, sans-serif"
LINE = 1.2  # line spacing, in font sizes
_ASCENT, _DESCENT = 0.76, 0.24  # of DejaVu Sans, in font sizes
_FILES = {"normal": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}


@lru_cache(maxsize=4)
def shipped_font(name: str):
    """One of the fonts matplotlib ships (`DejaVuSans.ttf`, `cmr10.ttf`), read without importing matplotlib."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "mpl-data", "fonts", "ttf", name)
    try:
        from PIL import ImageFont

        return ImageFont.truetype(path, 100)
    except (ImportError, OSError):
        return None


@lru_cache(maxsize=8192)
def _line_width(line: str, weight: str) -> float:
    font = shipped_font(_FILES[weight])
    return font.getlength(line) / 100 if font is not None else 0.62 * len(line)  # in font sizes


def text_width(texts: Iterable[object], size: float, *, weight: str = "normal") -> float:
    """The widest line among `texts` at `size` points, in points."""
    return size * max((_line_width(line, weight) for text in texts for line in str(text).split("\n")), default=0.0)


def lines_height(text: object, size: float) -> float:
    """A text's height at `size` points, in points."""
    return (str(text).count("\n") + 1) * LINE * size


def row_pitch(labels: Iterable[object], size: float, least: float) -> float:
    """A row's height, in points: `least`, or the tallest label's lines and a little air."""
    return max(least, max((lines_height(label, size) for label in labels), default=0.0) + 0.3 * size)


def number(x: float, digits: int) -> str:
    """A tick's value, with a true minus sign."""
    text = f"{x:.{digits}f}"
    return ("−" + text[1:] if text.startswith("-") else text) if float(text) != 0 else f"{0:.{digits}f}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], int]:
    """About `count` round ticks within [lo, hi], and the digits they need."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return ([lo] if math.isfinite(lo) else []), 2
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 2.5, 5, 10)), key=lambda s: abs(math.log(s / raw)))  # the nearest round step
    first = math.ceil(lo / step - 1e-9)
    ticks = [round(i * step, 12) for i in range(first, math.floor(hi / step + 1e-9) + 1)]
    return ticks, next(d for d in range(12) if abs(round(step, d) - step) < 1e-9 * step)


class Scale:
    """A linear map from data values to canvas points."""

    def __init__(self, lo: float, hi: float, start: float, end: float) -> None:
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def __call__(self, value: float) -> float:
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


def marker_points(shape: str, x: float, y: float, size: float) -> list[tuple[float, float]] | None:
    """The corners of a marker drawn as a polygon, `size` points across; None for a circle ("o")."""
    r = size / 2

    def ring(corners: int, turn: float, radii: Sequence[float] = (1.0,)) -> list[tuple[float, float]]:
        return [(x + r * radii[i % len(radii)] * math.sin(turn + 2 * math.pi * i / corners),
                 y - r * radii[i % len(radii)] * math.cos(turn + 2 * math.pi * i / corners)) for i in range(corners)]

    arms = [(-1, 0.35), (-0.35, 0.35), (-0.35, 1), (0.35, 1), (0.35, 0.35), (1, 0.35),
            (1, -0.35), (0.35, -0.35), (0.35, -1), (-0.35, -1), (-0.35, -0.35), (-1, -0.35)]
    turned = lambda cos, sin: [(x + r * (a * cos - b * sin), y + r * (a * sin + b * cos)) for a, b in arms]
    shapes = {"s": lambda: ring(4, math.pi / 4, (1.2,)), "D": lambda: ring(4, 0), "^": lambda: ring(3, 0, (1.15,)),
              "v": lambda: ring(3, math.pi, (1.15,)), "<": lambda: ring(3, -math.pi / 2, (1.15,)),
              ">": lambda: ring(3, math.pi / 2, (1.15,)), "p": lambda: ring(5, 0), "h": lambda: ring(6, 0),
              "*": lambda: ring(10, 0, (1.2, 0.5)), "P": lambda: turned(1, 0),
              "X": lambda: turned(math.sqrt(0.5), math.sqrt(0.5))}
    return shapes[shape]() if shape in shapes else None


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _escape(text: str) -> str:
    """Text as SVG text: markup escaped, and characters XML cannot hold (control codes) shown as �."""
    return html.escape(_NOT_XML.sub("\ufffd", text))


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


class Canvas:
    """One figure: shapes and texts in points from the top left corner, written as one SVG element."""

    def __init__(self, width: float, height: float, *, title: str = "") -> None:
        self.width, self.height, self.title, self.parts = width, height, title, []

    def rect(self, x: float, y: float, w: float, h: float, *, fill: str, stroke: str | None = None,
             tip: str | None = None) -> None:
        edge = f' stroke="{stroke}" stroke-width="0.8"' if stroke else ""
        shape = f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0))}" height="{_f(max(h, 0))}" fill="{fill}"{edge}'
        self.parts.append(f"{shape}>{self._tip(tip)}</rect>" if tip else f"{shape}/>")

    def line(self, x1: float, y1: float, x2: float, y2: float, *, stroke: str = "#000000", width: float = 0.8,
             dash: str | None = None, opacity: float | None = None) -> None:
        extra = (f' stroke-dasharray="{dash}"' if dash else "") + (f' stroke-opacity="{opacity:g}"' if opacity else "")
        self.parts.append(f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{stroke}" '
                          f'stroke-width="{width:g}"{extra}/>')

    def polyline(self, points: Iterable[tuple[float, float]], *, stroke: str, width: float = 1.2) -> None:
        joined = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
        self.parts.append(f'<polyline points="{joined}" fill="none" stroke="{stroke}" stroke-width="{width:g}"/>')

    def marker(self, x: float, y: float, *, shape: str = "o", size: float = 6.0, fill: str, edge: str,
               edge_width: float = 0.8, opacity: float | None = None, tip: str | None = None) -> None:
        """A marker `size` points across centred on (x, y); `fill` "none" draws it hollow."""
        style = f'fill="{fill}" stroke="{edge}" stroke-width="{edge_width:g}"' + (
            f' fill-opacity="{opacity:g}"' if opacity is not None else "")
        corners = marker_points(shape, x, y, size)
        tip = self._tip(tip)
        if corners is None:
            self.parts.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(size / 2)}" {style}>{tip}</circle>')
        else:
            joined = " ".join(f"{_f(a)},{_f(b)}" for a, b in corners)
            self.parts.append(f'<polygon points="{joined}" {style}>{tip}</polygon>')

    def text(self, x: float, y: float, text: object, *, size: float, anchor: str = "start", align: str = "middle",
             weight: str = "normal", rotate: bool = False, fill: str = "#000000") -> None:
        """`text` (its lines LINE apart) at (x, y): `anchor` start, middle or end; `align` top, middle or
        bottom: where (x, y) falls on the block of lines. `rotate`: read upward."""
        lines = str(text).split("\n")
        block = lines_height(text, size)
        top = {"top": 0.0, "middle": -block / 2, "bottom": -block}[align]
        first = top + (LINE - _ASCENT - _DESCENT) / 2 * size + _ASCENT * size  # the first line's baseline
        spans = "".join(f'<tspan x="{_f(x)}" y="{_f(y + first + i * LINE * size)}">{_escape(line)}</tspan>'
                        for i, line in enumerate(lines))
        bold = ' font-weight="bold"' if weight == "bold" else ""
        turn = f' transform="rotate(-90 {_f(x)} {_f(y)})"' if rotate else ""
        colour = f' fill="{fill}"' if fill != "#000000" else ""
        self.parts.append(f'<text font-size="{size:g}" text-anchor="{anchor}"{bold}{colour}{turn}>{spans}</text>')

    @staticmethod
    def _tip(tip: str | None) -> str:
        return f"<title>{_escape(tip)}</title>" if tip else ""

    def svg(self) -> str:
        """The figure as a standalone SVG document (it is inlined in the page as it is)."""
        w, h = self.width, self.height
        label = f' aria-label="{_escape(self.title)}"' if self.title else ""
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(w * 4 / 3)}" height="{_f(h * 4 / 3)}" '
                f'viewBox="0 0 {_f(w)} {_f(h)}" role="img"{label} font-family="{FONT}">\n'
                f'<rect width="100%" height="100%" fill="#ffffff"/>\n' + "\n".join(self.parts) + "\n</svg>\n")
