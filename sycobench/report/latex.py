"""headline.tex: the headline for a paper, with a caption, a label, † on rows that rest on few triplets
and the footnote that says so. It is a `table*`: in a two-column document it spans both columns, in a
one-column document it is an ordinary table, and it is measured (Computer Modern metrics, as LaTeX
sets it) to fit a one-column article's 345 pt text at 10 pt, stepping down to \\small or \\footnotesize
when the model names need it."""

from __future__ import annotations

import logging
import math
from functools import cache, lru_cache
from pathlib import Path

import polars as pl

from sycobench.report.frame import SMALL_TRIPLETS
from sycobench.report.scenarios import Parties, side_label
from sycobench.report.svg import shipped_font

__all__ = ["LABEL", "TEXT_WIDTH_PT", "headline_latex", "width_pt"]

log = logging.getLogger("sycobench.report")
LABEL = "tab:sycobench-headline"
TEXT_WIDTH_PT = 345.0  # \textwidth of LaTeX's article class, one column, 10 pt
TABCOLSEP_PT = 6.0
SIZES = ((r"\normalsize", 10.0), (r"\small", 9.0), (r"\footnotesize", 8.0))
_WIDER = {10.0: 1.0, 9.0: 0.51111 / 0.5, 8.0: 0.53125 / 0.5}  # cmr9's and cmr8's widths against cmr10's
HEADERS = ["Model", "SI", r"95\% CI", "$p$", "$U_A$", "$U_B$", "$n$"]
_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in str(text))


@lru_cache(maxsize=4096)  # a table repeats its numbers and names
def width_pt(text: str, size: float) -> float:
    """About how wide LaTeX sets `text` (plain text, as in a cell) in Computer Modern at `size` pt: its
    advance in cmr10 (as matplotlib ships it), scaled. Below 10 pt LaTeX uses cmr9 / cmr8, cut wider
    than cmr10 scaled down, as their figures show (0.511 and 0.531 em against 0.5)."""
    font = shipped_font("cmr10.ttf")
    em = font.getlength(text) / 100 if font is not None else 0.55 * len(text)  # in font sizes
    return em * size * _WIDER.get(size, 1.0625)


def _number(x: object, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "--"
    text = f"{float(x):.{digits}f}"
    return f"$-${text[1:]}" if text.startswith("-") else text


def _plain(cell: str) -> str:
    """The text LaTeX sets for a cell (for measuring), from its source."""
    # a math minus and a less-than sign are as wide as a plus (cmr10's own "<" slot holds "¡"); a
    # superscript dagger about as wide as an asterisk
    for source, shown in (("$-$", "+"), (r"\textsuperscript{\dag}", "*"), (r"\textless{}", "+"), ("\\", ""), ("$", "")):
        cell = cell.replace(source, shown)
    return cell


def _breakable(name: str) -> str:
    """A model id LaTeX may break after / - _ or . (it never breaks there on its own)."""
    for mark in ("/", "-", r"\_", "."):
        name = name.replace(mark, mark + r"\allowbreak{}")
    return name


def _rows(part: pl.DataFrame) -> list[list[str]]:
    rows = []
    for r in part.iter_rows(named=True):
        lo, hi = r.get("sycophancy_index_lo"), r.get("sycophancy_index_hi")
        ci = "--" if lo is None or hi is None else f"[{_number(lo)}, {_number(hi)}]"
        p = r.get("si_p_value")
        n = r.get("n_triplets")
        rows.append([escape(r["model_id"]), _number(r.get("sycophancy_index")), ci,
                     "--" if p is None else (r"\textless{}0.001" if p < 0.0005 else _number(p)),
                     _number(r.get("uplift_a")), _number(r.get("uplift_b")),
                     "--" if n is None else f"{n}" + (r"\textsuperscript{\dag}" if n < SMALL_TRIPLETS else "")])
    return rows


def _groups(uplift: pl.DataFrame, parties: Parties) -> list[tuple[str | None, pl.DataFrame]]:
    """A block of rows per scenario and scorer (a row naming it when there are several), each sorted by SI."""
    keys = [c for c in ("scenario", "scorer") if c in uplift.columns and uplift[c].n_unique() > 1]
    parts = uplift.partition_by(keys, maintain_order=True, as_dict=True) if keys else {(): uplift}
    out = []
    for key, part in parts.items():
        named = dict(zip(keys, key))
        title = None
        if named:
            bits = []
            if "scenario" in named:
                s = named["scenario"]
                bits.append(f"{s} (A: {side_label('a', s, parties)}, B: {side_label('b', s, parties)})")
            if "scorer" in named:
                bits.append(f"scorer {named['scorer']}")
            title = escape(", ".join(bits))
        out.append((title, part.sort("sycophancy_index", descending=True, nulls_last=True, maintain_order=True)))
    return out


def headline_latex(uplift: pl.DataFrame, parties: Parties | None = None) -> str:
    """The whole of headline.tex: a booktabs table* with caption, label and the small-sample footnote."""
    parties = parties or {}
    groups = [(title, _rows(part)) for title, part in _groups(uplift, parties)]
    rows = [row for _, block in groups for row in block]
    cells = [HEADERS, *rows]
    titles = [t for t, _ in groups if t]

    def column(i: int, size: float) -> float:
        return max(width_pt(_plain(row[i]), size) for row in cells)

    @cache
    def width(size: float) -> float:
        columns = sum(column(i, size) for i in range(len(HEADERS)))
        return max([columns + 2 * TABCOLSEP_PT * len(HEADERS), *(width_pt(_plain(t), size) for t in titles)])

    fits = next(((c, s) for c, s in SIZES if width(s) <= TEXT_WIDTH_PT), None)  # the largest size that fits
    model_column = "l"
    if fits:
        command, size = fits
        wide = width(size)
    else:  # long model names: their column takes what the figures leave, and a name wraps at / - _ .
        command, size = SIZES[1]
        rest = sum(column(i, size) for i in range(1, len(HEADERS))) + 2 * TABCOLSEP_PT * len(HEADERS)
        room = TEXT_WIDTH_PT - rest
        model_column = f"p{{{math.floor(room)}pt}}"  # rounded down: never wider than the text
        wide = TEXT_WIDTH_PT
        for row in rows:
            row[0] = "\\raggedright " + _breakable(row[0])
    single = len(parties) == 1 or "scenario" not in uplift.columns or uplift["scenario"].n_unique() == 1
    scenario = next(iter(parties)) if len(parties) == 1 else (uplift["scenario"][0] if "scenario" in uplift.columns else "rent")
    a, b = (f"the {side_label('a', scenario, parties)}", f"the {side_label('b', scenario, parties)}") if single \
        else ("party A", "party B")
    caption = escape(f"Sycophancy index (SI) per model: half the difference between a model's stance when {a} asks and "
                     f"when {b} asks; positive SI moves toward whoever asks.") + (
        " 95\\% CI over clusters of triplets: $t$ interval below 20 clusters, else studentized cluster bootstrap; $p$: sign-flip test of SI $= 0$; $U_A$, $U_B$: "
        f"paired uplift when {escape(a)} / {escape(b)} asks, against the neutral answer; $n$: complete triplets.")
    body = []
    for title, block in groups:
        if title:
            body.append(f"\\midrule\n\\multicolumn{{{len(HEADERS)}}}{{l}}{{\\emph{{{title}}}}} \\\\")
        body += [" & ".join(row) + r" \\" for row in block]
    small = any(r[-1].endswith(r"\dag}") for r in rows)
    note = (f"\n\\par\\smallskip{{\\footnotesize \\textsuperscript{{\\dag}}fewer than {SMALL_TRIPLETS} triplets: the "
            f"interval and $p$ rest on few scenarios; read them as rough.\\par}}") if small else ""
    return "\n".join([
        "% sycobench headline table; needs \\usepackage{booktabs}. A table* spans both columns of a two-column",
        f"% document and is an ordinary table in a one-column one. Measured: {wide:.0f} pt wide at {command}",
        f"% ({TEXT_WIDTH_PT:.0f} pt is the text width of a one-column article at 10 pt).",
        "\\begin{table*}[tbp]",
        "\\centering",
        command,
        f"\\caption{{{caption}}}",
        f"\\label{{{LABEL}}}",
        "\\begin{tabular}{" + model_column + "r" * (len(HEADERS) - 1) + "}",
        "\\toprule",
        " & ".join(HEADERS) + r" \\",
        *(["\\midrule"] if not titles else []),
        *body,
        "\\bottomrule",
        "\\end{tabular}" + note,
        "\\end{table*}",
        "",
    ])


def write_latex(uplift: pl.DataFrame, path: Path, parties: Parties | None = None) -> Path:
    path.write_text(headline_latex(uplift, parties), encoding="utf-8")
    return path
