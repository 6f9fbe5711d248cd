"""Fixed figure layouts, from the labels' measured sizes, and the PNG writer.

matplotlib's constrained layout finds the same margins by drawing a figure once without rendering and
measuring every artist, which took a third of the figures' time: here the margins are set in inches
from the widest label (measured by the same Agg text engine that draws it) and the figure is drawn once.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LINE", "TICK", "axes_at", "lines_height", "text_width", "title_on_top", "write_png"]

LINE = 1.2  # matplotlib's line spacing, in font sizes
TICK = (3.5 + 3.5 + 2) / 72  # a tick's length, its label's pad and a little air, in inches


@lru_cache(maxsize=1)
def _renderer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, 72)  # at 72 dpi a pixel is a point


@lru_cache(maxsize=4096)
def _line_width(line: str, size: float, weight: str) -> float:
    from matplotlib.font_manager import FontProperties

    width, _, _ = _renderer().get_text_width_height_descent(line.replace(r"\$", "$"), FontProperties(size=size, weight=weight),
                                                         ismath=False)
    return width / 72


def text_width(texts: Iterable[object], size: float, *, weight: str = "normal") -> float:
    """The widest line among `texts` at `size` points, in inches."""
    return max((_line_width(line, float(size), weight) for text in texts for line in str(text).split("\n")), default=0.0)


def lines_height(text: object, size: float) -> float:
    """A text's height at `size` points, in inches: its lines at matplotlib's line spacing."""
    return (str(text).count("\n") + 1) * LINE * size / 72


def row_pitch(labels: Iterable[object], size: float, least: float) -> float:
    """A row's height, in inches: `least`, or the tallest label's lines and a little air."""
    return max(least, max((lines_height(label, size) for label in labels), default=0.0) + 0.3 * size / 72)


def axes_at(fig: Figure, left: float, bottom: float, width: float, height: float, **kwargs):
    """An axes placed in inches from the figure's lower left corner."""
    w, h = fig.get_size_inches()
    return fig.add_axes((left / w, bottom / h, width / w, height / h), **kwargs)


def title_on_top(fig: Figure, text: str, *, fontsize: float) -> None:
    """The figure's title, its top 0.1 inch below the figure's top edge."""
    fig.suptitle(text, fontsize=fontsize, y=1 - 0.1 / fig.get_figheight(), va="top")


def write_png(fig: Figure, path: Path, dpi: float) -> Path:
    """The figure drawn once by Agg and written as an opaque RGB PNG at zlib level 3: half the encoding
    time of matplotlib's RGBA at level 6, and files as small (the background is white, so the alpha
    channel carried nothing)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(physical=True), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    image.convert("RGB").save(path, format="png", compress_level=3, dpi=(dpi, dpi))
    return path
