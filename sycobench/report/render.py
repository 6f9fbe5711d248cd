"""report.md, a self-contained report.html (with the transcript view), plots and the headline
table for papers, all from the aggregated report tables.

Both documents are rendered from one list of blocks (report.blocks, built by report.sections), so
they always say the same thing; a model is named by its roster label wherever the roster gives one
(the Models list maps labels to ids). The page's figures are SVG written directly (report.charts) and
inlined in report.html; PNG or PDF copies for papers come from matplotlib (report.plots) where asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from sycobench.report.blocks import Block, Bullets, Code, Contents, Heading, Image, Note, Para, Table, Transcripts
from sycobench.report.charts import start_plots
from sycobench.report.html import to_html
from sycobench.report.paper import write_headline
from sycobench.report.plots import DEFAULT_FORMATS, PLOTS, _usable
from sycobench.report.scenarios import axis_words
from sycobench.report.sections import body_blocks, headline_blocks
from sycobench.report.transcripts import Shown, transcript_data, transcript_html
from sycobench.report.workers import Workers

__all__ = ["PLOTS", "render_report"]  # PLOTS: the plots' file names, re-exported for callers and tests


def _lede(tables: dict[str, pl.DataFrame], meta: dict) -> str:
    """One line under the title: what the report covers."""
    uplift = tables.get("uplift")
    parts = []
    jobs = tables.get("jobs")
    if _usable(jobs):
        parts.append(f"{jobs.height} job(s)")
    if _usable(uplift):
        parts.append(f"{uplift['model_id'].n_unique()} model(s)")
        if "scorer" in uplift.columns:
            parts.append("scorers: " + ", ".join(uplift["scorer"].unique(maintain_order=True).cast(pl.String).to_list()))
    parties = meta.get("parties") or {}
    if parties:
        parts.append("scenarios: " + "; ".join(f"{name} ({who.a_name} / {who.b_name})" for name, who in parties.items()))
    if meta.get("created_at"):
        created = str(meta["created_at"])  # ISO 8601, UTC: shown to the minute
        parts.append(f"created {created[:10]} {created[11:16]} UTC" if len(created) >= 16 else f"created {created}")
    return " · ".join(parts)


def _build_blocks(tables: dict[str, pl.DataFrame], meta: dict, plots: set[str],
                  transcripts: list[Block] | None = None, sections: list[Block] | None = None) -> list[Block]:
    """Title, the headline first, then the contents (every h2 section that follows, the headline's too), then the rest."""
    top: list[Block] = [Heading(1, str(meta.get("title") or "sycobench report"))]
    if meta.get("unvalidated"):  # the first line under the title: these scores are no measurement
        top.append(Note(f"{meta['unvalidated'][0].upper()}{meta['unvalidated'][1:]}.", "warn"))
    lede = _lede(tables, meta)
    if lede:
        top.append(Para(lede))
    headline = headline_blocks(tables.get("uplift"), plots, meta)
    rest = _after_section(body_blocks(tables, meta, plots, transcripts), "stance-mix", sections or [])
    entries = [(b.id, b.text) for b in (*headline, *rest) if isinstance(b, Heading) and b.level == 2 and b.id]
    return [*top, *headline, Contents(entries), *rest]


def _after_section(blocks: list[Block], section: str, extra: list[Block]) -> list[Block]:
    """`extra` (sections of a caller's own) placed after the h2 section `section`, else at the end."""
    start = next((i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.id == section), None)
    if not extra or start is None:
        return [*blocks, *extra]
    end = next((i for i in range(start + 1, len(blocks)) if isinstance(blocks[i], Heading) and blocks[i].level == 2),
               len(blocks))
    return [*blocks[:end], *extra, *blocks[end:]]


_MD_SPECIAL = re.compile(r"([\\`*<>|])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _to_markdown(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        match block:
            case Heading(level, text, _):
                out.append(f"{'#' * level} {_md(text)}")
            case Para(text) | Note(text, _):
                out.append(_md(text))
            case Contents(_):
                continue
            case Bullets(items):
                out.append("\n".join(f"- {_md(item)}" for item in items))
            case Code(text):
                fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
                out.append(f"{fence}\n{text.rstrip()}\n{fence}")
            case Image(file, caption):
                out.append(f"![{_md(caption)}]({file})")
            case Transcripts(_, note):
                out.append(_md(note))
            case Table(headers, rows, numeric):
                lines = ["| " + " | ".join(map(_md, headers)) + " |",
                         "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
                lines += ["| " + " | ".join(_md(str(c)) for c in row) + " |" for row in rows]
                out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _relabel(tables: dict[str, pl.DataFrame], labels: dict[str, str]) -> dict[str, pl.DataFrame]:
    """Model ids shown as their roster labels (the tables on disk keep the ids)."""
    if not labels:
        return tables
    return {name: t.with_columns(pl.col(c).replace(labels) for c in ("model_id", "reference")
                                 if c in t.columns and t.schema[c] == pl.String)
            for name, t in tables.items()}


def _mark_unvalidated(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Rows no measurement (column `unvalidated`) name their model "... (unvalidated)" in every table
    and plot of the page."""
    return {name: t.with_columns(pl.when(pl.col("unvalidated")).then(pl.col("model_id") + " (unvalidated)")
                                 .otherwise(pl.col("model_id")).alias("model_id"))
            if {"unvalidated", "model_id"} <= set(t.columns) and t.schema["model_id"] == pl.String else t
            for name, t in tables.items()}


def _transcript_blocks(results: pl.DataFrame | None, meta: dict, threshold: float,
                       text: Callable[[pl.LazyFrame], pl.LazyFrame] | None,
                       levels: pl.DataFrame | None, picked: Shown | None) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Transcripts", "transcripts")]
    if not _usable(results):
        return [*blocks, Para("No scored answers to show.")]
    data = transcript_data(results, threshold=threshold, labels=meta.get("labels"), seed=int(meta.get("seed") or 0),
                           text=text, levels=levels, parties=meta.get("parties"), picked=picked)
    a, b = axis_words(meta.get("parties"))
    note = (f"Every triplet's {a}, {b} and neutral answers, side by side, with their scores, are in the "
            "transcript view of report.html; every answer, with its prompt and the judge's reply, is in "
            "results.parquet.")
    intro = Para(f"Each row is one triplet: the answers when the {a} asks, when the {b} asks and when "
                 "neither does, with each answer's score and bin. Search the answers' text; filter by scenario, "
                 "model, scorer, factor level or bin; sort by the triplet's contribution to SI ((A − B) / 2 over the "
                 "model's triplets in that scenario) or by |A − B| to read the most sycophantic answers first. "
                 "Keys: j / k next and previous triplet, / search. The address bar keeps the filters: copy it to "
                 "share this view.")
    return [*blocks, intro, Transcripts(transcript_html(data), note)]


def render_report(tables: dict[str, pl.DataFrame], out_dir: Path, *, meta: dict,
                  results: pl.DataFrame | None = None,
                  text: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
                  levels: pl.DataFrame | None = None, formats: Sequence[str] = DEFAULT_FORMATS,
                  workers: Workers | None = None, picked: Shown | None = None,
                  sections: Callable[[dict[str, pl.DataFrame], Path, dict], list[Block]] | None = None) -> list[Path]:
    """Write the plots (SVG, plus PNG or PDF as `formats` asks), headline.tex/.md, report.md and
    report.html into out_dir; `results` (one row per scored answer, with its text, or without it and
    `text` to add it to the rows shown) feeds the transcript view, whose rows are `picked` where already
    picked (transcripts.shown); `sections(tables, out_dir, meta)` adds blocks of its own (and their
    images, in `meta["formats"]`) after the stance mix. The paper copies are drawn in `workers`
    (report.workers) if given, else in this process. Returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = float(meta.get("threshold") or 0.33)
    tables = _mark_unvalidated(_relabel(tables, meta.get("labels") or {}))
    drawing = start_plots(tables, out_dir, threshold=threshold, parties=meta.get("parties"), formats=formats,
                          workers=workers)
    headline = write_headline(tables["uplift"], out_dir, parties=meta.get("parties")) if _usable(
        tables.get("uplift")) else []
    # the transcripts are made while any paper copies are drawn
    transcripts = _transcript_blocks(results, meta, threshold, text, levels, picked) if results is not None else None
    extra = sections(tables, out_dir, {**meta, "formats": formats}) if sections is not None else []
    plots = drawing()
    plots += [out_dir / b.file for b in extra if isinstance(b, Image) and (out_dir / b.file).exists()]
    blocks = _build_blocks(tables, meta, {p.name for p in plots}, transcripts, extra)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(_to_markdown(blocks), encoding="utf-8")
    images = {p.name: p.read_bytes() for p in plots}
    html_path.write_text(to_html(blocks, title=str(meta.get("title") or "sycobench report"), images=images),
                         encoding="utf-8")
    copies = [p.with_suffix(f".{fmt}") for p in plots for fmt in dict.fromkeys(formats) if fmt != p.suffix[1:]]
    return [*plots, *copies, *headline, md_path, html_path]
