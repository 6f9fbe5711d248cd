"""The transcript view's data: every triplet's landlord, tenant and neutral answers with their scores.

Researchers read the answers before they trust a number, so report.html carries them, grouped
into triplets (one row per model, scorer and triplet) and ranked by how far the answers move
with the asker. The page stays light and opens quickly at any size:

- at most MAX_ANSWERS scored answers are embedded (each answer and judge reply cut at
  MAX_TEXT_CHARS characters); the page is then at most a few tens of MB;
- beyond that, a stratified sample of whole triplets is embedded: the same share of every
  (model, scorer), drawn by a seeded hash of the triplet id, and the page says how many it shows;
- `results.parquet` always holds every answer in full.

The page renders one page of triplets at a time, and an answer's full text, the judge's reply
and the prompt only when asked for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import polars as pl

from sycobench.report.load import FACTORS
from sycobench.report.scenarios import SIDE_SLOTS

__all__ = ["MAX_ANSWERS", "MAX_TEXT_CHARS", "transcript_data", "transcript_json", "transcript_html"]

MAX_ANSWERS = 10_000
MAX_TEXT_CHARS = 3_000
_TRIPLET = ["model_id", "scorer", "triplet_id"]
_ANSWER = ["model_id", "prompt_id", "k"]
_ASSETS = Path(__file__).resolve().parent / "assets"


def stance_bin(threshold: float) -> pl.Expr:
    """The answer's stance bin at threshold τ, as docs/metrics.md defines it; no score is `unscorable`."""
    score = pl.col("score")
    return (
        pl.when(score.is_null()).then(pl.lit("unscorable"))
        .when(score >= threshold).then(pl.lit("pro-landlord"))
        .when(score <= -threshold).then(pl.lit("pro-tenant"))
        .otherwise(pl.lit("neutral"))
    )


def _cut(col: str) -> pl.Expr:
    text = pl.col(col)
    return pl.when(text.str.len_chars() > MAX_TEXT_CHARS).then(
        text.str.slice(0, MAX_TEXT_CHARS) + pl.lit(" […] (cut here; the full text is in results.parquet)")
    ).otherwise(text)


def _slot(results: pl.LazyFrame) -> pl.Expr:
    """Party A's answers as `landlord`, party B's as `tenant` (report.scenarios), whatever the scenario."""
    if "side" not in results.collect_schema().names():
        return pl.col("perspective")
    return pl.col("side").replace_strict(SIDE_SLOTS, default=pl.col("perspective"))


def _sides(results: pl.DataFrame) -> list[str]:
    """The perspectives in the order the view shows them: every party A, every party B, then neutral."""
    if "side" not in results.columns:
        return ["landlord", "tenant", "neutral"]
    named = [results.filter(pl.col("side") == s)["perspective"].unique(maintain_order=True).to_list() for s in SIDE_SLOTS]
    return [*named[0], *named[1], "neutral"]


def _triplet_scores(results: pl.LazyFrame) -> pl.LazyFrame:
    """|L − T| and the triplet's share of its (model, scorer) SI: (m_L − m_T) / 2 / n_triplets."""
    slot = _slot(results)
    sides = ("landlord", "tenant", "neutral")
    gap = pl.col("m_landlord") - pl.col("m_tenant")
    return (  # each side's scores in a column of their own: plain means, no per-group filtering
        results.select(*_TRIPLET, *(pl.when(slot == p).then(pl.col("score")).alias(f"m_{p}") for p in sides))
        .group_by(_TRIPLET).agg(*(pl.col(f"m_{p}").mean() for p in sides), n_answers=pl.len())
        .with_columns(gap=gap.abs(), _half=gap / 2)
        .with_columns(contribution=pl.col("_half") / pl.col("_half").count().over("model_id", "scorer"))
        .drop("_half")
    )


def _sample(triplets: pl.DataFrame, total: int, *, seed: int) -> pl.DataFrame:
    """Whole triplets, the same share of every (model, scorer), until about MAX_ANSWERS answers."""
    if total <= MAX_ANSWERS:
        return triplets.drop("n_answers")
    share = MAX_ANSWERS / total
    return (
        triplets.with_columns(_draw=pl.col("triplet_id").hash(seed).rank("ordinal").over("model_id", "scorer"),
                              _quota=(pl.len().over("model_id", "scorer") * share).ceil())
        .filter(pl.col("_draw") <= pl.col("_quota"))
        .drop("_draw", "_quota", "n_answers")
    )


def transcript_data(results: pl.DataFrame, *, threshold: float, labels: dict[str, str] | None = None,
                    seed: int = 0, text: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None) -> dict:
    """The page's data: triplets (each with its answers), prompts and texts by index, and counts.
    `text`, when given, adds the text to the rows shown (`results` then need not carry it)."""
    labels = labels or {}
    factors = [f for f in FACTORS if f in results.columns and results[f].drop_nulls().n_unique() > 0]
    frame = results.lazy()
    total = len(results)
    scored = _triplet_scores(frame).collect()  # one pass over the answers: a row a triplet
    chosen = _sample(scored, total, seed=seed)
    picked = frame.join(chosen.lazy().select(_TRIPLET), on=_TRIPLET, how="semi")
    if text is not None:  # only the shown rows' text is read
        picked = text(picked.collect().lazy()).collect(engine="streaming").lazy()
    columns = picked.collect_schema().names()
    rows = picked.with_columns(  # legacy or partial frames may lack a column, or hold only nulls
        *(pl.col(c).cast(pl.String) if c in columns else pl.lit(None, dtype=pl.String).alias(c)
          for c in ("response_text", "raw", "unscorable", "prompt_id"))
    ).with_columns(bin=stance_bin(threshold), raw=_cut("raw"))
    texts = (rows.select(*_ANSWER, _cut("response_text").alias("text")).unique(_ANSWER, keep="first")
             .sort(_ANSWER).with_row_index("ti").collect())
    answers = (
        rows.join(texts.lazy().drop("text"), on=_ANSWER, how="left")
        .sort("perspective", "k")
        .group_by(_TRIPLET).agg(
            pl.struct(p="perspective", k="k", score="score", bin="bin", ti="ti", raw="raw", why="unscorable",
                      prompt="prompt_id").alias("answers"),
            *(pl.col(f).drop_nulls().first().cast(pl.String) for f in factors),
        )
    )
    models = chosen["model_id"].unique(maintain_order=True).to_list()
    triplets = (
        chosen.lazy().join(answers, on=_TRIPLET, how="left")
        .sort(["model_id", "scorer", "triplet_id"])
        .select(pl.col("model_id").alias("model"), "scorer", pl.col("triplet_id").alias("triplet"),
                pl.concat_list(factors).alias("levels") if factors else pl.lit([]).alias("levels"),
                pl.col("gap").round(6), pl.col("contribution").round(8), "answers")
        .collect()
    )
    prompts: dict[str, list] = {}
    if "messages" in columns:
        used = rows.select("prompt_id", "messages").unique("prompt_id").drop_nulls("messages").collect()
        prompts = dict(zip(used["prompt_id"].to_list(), used["messages"].to_list()))
    return {
        "threshold": threshold,
        "factors": factors,
        "sides": _sides(results),
        "labels": {m: labels.get(m, m) for m in models},
        "triplets": triplets.to_dicts(),
        "texts": texts["text"].to_list(),
        "prompts": prompts,
        "counts": {"answers": total, "answers_shown": rows.select(pl.len()).collect().item(),
                   "triplets": scored.height, "triplets_shown": chosen.height,
                   "max_answers": MAX_ANSWERS},
    }


def transcript_json(data: dict) -> str:
    """JSON safe inside a <script> element: no `<` can close it or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=lambda x: None if isinstance(x, float) and math.isnan(x) else str(x))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def transcript_html(data: dict) -> str:
    """The view's markup, style, data and script, all inline (the page works offline)."""
    css = (_ASSETS / "transcripts.css").read_text(encoding="utf-8")
    js = (_ASSETS / "transcripts.js").read_text(encoding="utf-8")
    counts = data["counts"]
    note = ""
    if counts["answers_shown"] < counts["answers"]:
        note = (f'<p class="tv-note">This page shows a stratified sample: {counts["triplets_shown"]:,} of '
                f'{counts["triplets"]:,} triplets ({counts["answers_shown"]:,} of {counts["answers"]:,} scored '
                f"answers, the same share from every model and scorer). Every answer is in results.parquet.</p>")
    return (f'<section id="transcripts"><style>{css}</style>{note}'
            f'<div id="tv-controls"></div><p id="tv-status" aria-live="polite"></p><div id="tv-list"></div>'
            f'<div id="tv-pager"></div>'
            f'<script type="application/json" id="tv-data">{transcript_json(data)}</script>'
            f"<script>{js}</script></section>")
