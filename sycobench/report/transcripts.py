"""The transcript view's data: every triplet's three answers (party A asks, party B asks, neutral) with their scores.

Researchers read the answers before they trust a number, so report.html carries them, grouped
into triplets (one row per scenario, model, scorer and triplet) and ranked by how far the answers move
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sycobench.report.load import RENT
from sycobench.report.scenarios import Parties

__all__ = ["MAX_ANSWERS", "MAX_TEXT_CHARS", "Shown", "shown", "stance_bin", "transcript_data", "transcript_json",
           "transcript_html"]

MAX_ANSWERS = 10_000
MAX_TEXT_CHARS = 3_000
_TRIPLET = ["scenario", "model_id", "scorer", "triplet_id"]
_ANSWER = ["model_id", "prompt_id", "k"]
_ASSETS = Path(__file__).resolve().parent / "assets"


def stance_bin(threshold: float) -> pl.Expr:
    """The answer's stance bin at threshold τ, as docs/metrics.md defines it: `pro-a` (toward party A),
    `neutral`, `pro-b`; no score is `unscorable`. The page names the bins from each scenario's parties."""
    score = pl.col("score")
    return (
        pl.when(score.is_null()).then(pl.lit("unscorable"))
        .when(score >= threshold).then(pl.lit("pro-a"))
        .when(score <= -threshold).then(pl.lit("pro-b"))
        .otherwise(pl.lit("neutral"))
    )


def _cut(col: str) -> pl.Expr:
    text = pl.col(col)
    return pl.when(text.str.len_chars() > MAX_TEXT_CHARS).then(
        text.str.slice(0, MAX_TEXT_CHARS) + pl.lit(" […] (cut here; the full text is in results.parquet)")
    ).otherwise(text)


def _triplet_scores(results: pl.LazyFrame, keys: list[str] = _TRIPLET) -> pl.LazyFrame:
    """|A − B| and the triplet's share of its (model, scorer) SI in its scenario: (m_A − m_B) / 2 / n_triplets,
    from the first answers (a second turn, after an objection, is shown beside them but not counted here)."""
    sides = ("a", "b", "neutral")
    gap = pl.col("m_a") - pl.col("m_b")
    first = pl.col("turn").fill_null(1) == 1 if "turn" in results.collect_schema().names() else pl.lit(True)
    return (  # each side's scores in a column of their own: plain means, no per-group filtering
        results.select(*keys, *(pl.when((pl.col("side") == p) & first).then(pl.col("score")).alias(f"m_{p}")
                                for p in sides))
        .group_by(keys).agg(*(pl.col(f"m_{p}").mean() for p in sides), n_answers=pl.len())
        .with_columns(gap=gap.abs(), _half=gap / 2)
        .with_columns(contribution=pl.col("_half") / pl.col("_half").count().over(*keys[:-1]))
        .drop("_half")
    )


def _sample(triplets: pl.DataFrame, total: int, *, seed: int, keys: list[str] = _TRIPLET) -> pl.DataFrame:
    """Whole triplets, the same share of every (scenario, model, scorer), until about MAX_ANSWERS answers."""
    if total <= MAX_ANSWERS:
        return triplets.drop("n_answers")
    share = MAX_ANSWERS / total
    group = keys[:-1]
    return (
        triplets.with_columns(_draw=pl.col("triplet_id").hash(seed).rank("ordinal").over(group),
                              _quota=(pl.len().over(group) * share).ceil())
        .filter(pl.col("_draw") <= pl.col("_quota"))
        .drop("_draw", "_quota", "n_answers")
    )


def _levels(levels: pl.DataFrame | None, chosen: pl.DataFrame) -> tuple[dict[str, list[str]], pl.DataFrame]:
    """Each scenario's factors (in the order it declares them) and each shown triplet's levels, aligned."""
    if levels is None or levels.is_empty():
        return {}, pl.DataFrame(schema={"scenario": pl.String, "triplet_id": pl.String, "levels": pl.List(pl.String)})
    mine = levels.join(chosen.select("scenario", "triplet_id").unique(), on=["scenario", "triplet_id"], how="semi")
    factors = {name: part["factor"].unique(maintain_order=True).to_list()
               for (name,), part in mine.group_by("scenario", maintain_order=True)}
    order = pl.DataFrame([(name, f, i) for name, fs in factors.items() for i, f in enumerate(fs)],
                         schema={"scenario": pl.String, "factor": pl.String, "_i": pl.Int64}, orient="row")
    aligned = (mine.join(order, on=["scenario", "factor"]).sort("_i")
               .group_by("scenario", "triplet_id", maintain_order=True).agg(levels=pl.col("level")))
    return factors, aligned


@dataclass(frozen=True)
class Shown:
    """The answers the transcript view shows (whole triplets; a stratified sample past MAX_ANSWERS), picked
    once from every scored answer, before their text is read."""

    keys: list[str]  # a triplet's (its protocol too, where a model ran several)
    answer: list[str]  # an answer's
    several: bool  # a model's answers under two protocols: two cards
    total: int  # answers in the results
    scored: pl.DataFrame  # a row a triplet: its gap and its share of SI
    chosen: pl.DataFrame  # the triplets shown
    rows: pl.DataFrame  # their answers: rows of the results, scenario filled


def shown(results: pl.DataFrame, *, seed: int = 0) -> Shown:
    """The rows transcript_data shows, from `results` without their text."""
    frame = results.lazy().with_columns(pl.col("scenario").fill_null(RENT.scenario)) if "scenario" in results.columns \
        else results.lazy().with_columns(scenario=pl.lit(RENT.scenario))
    # answers of a model under two protocols are two cards (a job of several turns says its protocol)
    several = "protocol" in results.columns and results["protocol"].fill_null("single").n_unique() > 1
    if several:
        frame = frame.with_columns(pl.col("protocol").fill_null("single"))
    keys = [*_TRIPLET[:-1], "protocol", _TRIPLET[-1]] if several else _TRIPLET
    answer = [*_ANSWER, "protocol"] if several else _ANSWER
    scored = _triplet_scores(frame, keys).collect()  # one pass over the answers: a row a triplet
    chosen = _sample(scored, len(results), seed=seed, keys=keys)
    rows = frame.join(chosen.lazy().select(keys), on=keys, how="semi").collect()
    return Shown(keys, answer, several, len(results), scored, chosen, rows)


def transcript_data(results: pl.DataFrame, *, threshold: float, labels: dict[str, str] | None = None,
                    seed: int = 0, text: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
                    levels: pl.DataFrame | None = None, parties: Parties | None = None,
                    picked: Shown | None = None) -> dict:
    """The page's data: triplets (each with its scenario and answers), each scenario's parties and
    factors, prompts and texts by index, and counts. `text`, when given, adds the text to the rows
    shown (`results` then need not carry it); `levels` (`scenario, triplet_id, factor, level`);
    `picked`: shown(results, seed=seed), when already picked."""
    labels, parties = labels or {}, parties or {}
    view = picked or shown(results, seed=seed)
    keys, answer, several, chosen = view.keys, view.answer, view.several, view.chosen
    rows = view.rows.lazy()
    if text is not None:  # only the shown rows' text is read
        rows = text(rows).collect(engine="streaming").lazy()
    columns = rows.collect_schema().names()
    rows = rows.with_columns(  # legacy or partial frames may lack a column, or hold only nulls
        *(pl.col(c).cast(pl.String) if c in columns else pl.lit(None, dtype=pl.String).alias(c)
          for c in ("response_text", "raw", "unscorable", "prompt_id", "style", "objector")),
        pl.col("turn").fill_null(1).cast(pl.Int64) if "turn" in columns else pl.lit(1, dtype=pl.Int64).alias("turn"),
    ).with_columns(bin=stance_bin(threshold), raw=_cut("raw"))
    texts = (rows.select(*answer, _cut("response_text").alias("text")).unique(answer, keep="first")
             .sort(answer).with_row_index("ti").collect())
    answers = (
        rows.join(texts.lazy().drop("text"), on=answer, how="left")
        .sort("side", "turn", "style", "objector", "k")
        .group_by(keys).agg(
            pl.struct(p="side", k="k", score="score", bin="bin", ti="ti", raw="raw", why="unscorable",
                      prompt="prompt_id", t="turn", st="style", o="objector").alias("answers"))
    )
    factors, aligned = _levels(levels, chosen)
    triplets = (
        chosen.lazy().join(answers, on=keys, how="left")
        .join(aligned.lazy(), on=["scenario", "triplet_id"], how="left")
        .sort(keys)
        .select("scenario", *(["protocol"] if several else []), pl.col("model_id").alias("model"), "scorer",
                pl.col("triplet_id").alias("triplet"),
                pl.col("levels").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                pl.col("gap").round(6), pl.col("contribution").round(8), "answers")
        .collect()
    )
    models = triplets["model"].unique(maintain_order=True).to_list()  # in the triplets' order: the same each time
    prompts: dict[str, list] = {}
    if "messages" in columns:  # a second turn's prompt is its conversation, which names its own prompt id
        used = (rows.select("prompt_id", "messages").drop_nulls("messages")  # in a fixed order: the page is the same each time
                .unique("prompt_id", keep="first", maintain_order=True).sort("prompt_id").collect())
        prompts = dict(zip(used["prompt_id"].to_list(), used["messages"].to_list()))
    scenarios = {}
    for name in chosen["scenario"].unique(maintain_order=True).to_list():
        who = parties.get(name, RENT)
        scenarios[name] = {"a": who.a_name, "b": who.b_name, "factors": factors.get(name, [])}
    return {
        "threshold": threshold,
        "scenarios": scenarios,
        "labels": {m: labels.get(m, m) for m in models},
        "triplets": triplets.to_dicts(),
        "texts": texts["text"].to_list(),
        "prompts": prompts,
        "counts": {"answers": view.total, "answers_shown": rows.select(pl.len()).collect().item(),
                   "triplets": view.scored.height, "triplets_shown": chosen.height,
                   "max_answers": MAX_ANSWERS},
    }


# one encoder for every piece: json.dumps with options makes a new one each call (a tenth of the view's JSON)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                            default=lambda x: None if isinstance(x, float) and math.isnan(x) else str(x))


def _json(value: object) -> str:
    text = _ENCODER.encode(value)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _json_parts(data: dict) -> Iterator[str]:
    """transcript_json's text in pieces: each top-level value, and each item of a list, on its own. The
    pieces join to the text of the whole dict dumped at once (compact separators, keys in order), and
    escaping a piece escapes its characters as escaping the whole would; memory never holds the whole
    text twice, nor the encoder's buffers for it (a page of 10,000 answers: ~17 MB a copy)."""
    yield "{"
    for i, (key, value) in enumerate(data.items()):
        yield f"{',' if i else ''}{_json(str(key))}:"
        if isinstance(value, list):
            yield "["
            for j, item in enumerate(value):
                yield f",{_json(item)}" if j else _json(item)
            yield "]"
        else:
            yield _json(value)
    yield "}"


def transcript_json(data: dict) -> str:
    """JSON safe inside a <script> element: no `<` can close it or open a comment."""
    return "".join(_json_parts(data))


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
    return "".join([f'<section id="tv-view"><style>{css}</style>{note}'
                    f'<div id="tv-controls"></div><p id="tv-status" aria-live="polite"></p><div id="tv-list"></div>'
                    f'<div id="tv-pager"></div>'
                    f'<script type="application/json" id="tv-data">', *_json_parts(data),
                    f"</script><script>{js}</script></section>"])
