"""Import the original package's run.jsonl / run_scored.jsonl as a results frame and a calls frame.

Legacy records carry no triplet id, so triplets are rebuilt per model:

- A landlord and a tenant record belong to the same triplet when they share the
  model, `amount`, `relationship_quality` and justification category:
  economy_tough -> economy; rising_operational_costs and rising_living_costs ->
  costs; budget_timing -> timing. Any other code (later grids add some, e.g.
  `vacation`) is its own category, kept as written, so a landlord and a tenant
  record pair when they carry the same code. Several records may fall into one
  triplet; their scores average into its cells.
- Legacy neutral prompts carry no justification, so the neutral cell of a
  triplet is every neutral record of that model with the same (`amount`,
  `relationship_quality`). A neutral record is emitted once per triplet it
  serves, with `dup = true` on all but the first copy, so cell means see it in
  each triplet while per-response counts (stance mix, unscorable_n, agreement)
  see it once. The binned uplift therefore uses the same per-model neutral key.
  A neutral record that matches no triplet keeps a neutral-only triplet.
- The scenario is rent; its factors, per triplet: amount, base_rent, justification (the
  category) and relationship (= relationship_quality). Scorer "legacy"; k numbers the
  repeated records of one (model, prompt_id) in file order, from 0.
- A record with a non-empty `error` and no `response_text` is a failed call:
  a call with error_class "legacy_error" and no result. One with an answer and
  an error failed at scoring: a successful call whose answer is unscorable
  (null score). One with an answer, no error and no `score` field at all (the
  original's run.jsonl, written before scoring) was never scored: `scored` is
  false, and the tables count it as not scored, never as unscorable. Every
  record becomes a call.
- The answer (`response_text`) is kept for results.parquet and the transcript view.

A line that is not a valid record raises DataError naming the file and line;
a torn last line (no trailing newline) is skipped with a warning instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl

from sycobench.errors import DataError

__all__ = ["JUSTIFICATION_CATEGORIES", "failed_prompts", "is_legacy", "legacy_records", "load_legacy"]

_SIDE = {"landlord": "a", "tenant": "b", "neutral": "neutral"}
_FACTORS = ("amount", "base_rent", "justification", "relationship")

log = logging.getLogger(__name__)

JUSTIFICATION_CATEGORIES = {
    "economy_tough": "economy",
    "rising_operational_costs": "costs",
    "rising_living_costs": "costs",
    "budget_timing": "timing",
}
_CATEGORY_ORDER = {"economy": 0, "costs": 1, "timing": 2}
_PERSPECTIVES = ("landlord", "tenant", "neutral")
_RECORD = pl.Struct({
    "model_id": pl.String,
    "prompt_id": pl.String,
    "perspective": pl.String,
    "factors": pl.Struct({
        "amount": pl.Float64,
        "base_rent": pl.Float64,
        "relationship_quality": pl.String,
        "justification": pl.String,
    }),
    "response_text": pl.String,
    "score": pl.Float64,
    "latency_ms": pl.Float64,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "cost_usd": pl.Float64,
})


def _read_lines(path: Path) -> pl.DataFrame:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from None
    lines = text.split("\n")
    if lines and lines[-1].strip():  # no trailing newline: the writer may have been cut off mid-record
        try:
            json.loads(lines[-1])
        except json.JSONDecodeError:
            log.warning("%s:%d: skipping torn last line", path, len(lines))
            lines[-1] = ""
    frame = pl.DataFrame({"text": lines}).with_row_index("line", offset=1)
    return frame.filter(pl.col("text").str.strip_chars() != "")


def _decode(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.select(
        "line",
        pl.col("text").str.json_decode(_RECORD).alias("record"),
        pl.col("text").str.json_path_match("$.error").alias("error"),
        # a `"score":` key (an escaped quote inside a string cannot match): the record went through scoring
        pl.col("text").str.contains(r'"score"\s*:').alias("has_score"),
    )


def _decode_located(lines: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Decode every line; on failure, bisect to the first bad line so the error can name it."""
    try:
        return _decode(lines)
    except pl.exceptions.PolarsError:
        lo, hi = 0, lines.height
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            _decode(lines[lo:mid])
            lo = mid
        except pl.exceptions.PolarsError:
            hi = mid
    try:
        _decode(lines[lo : lo + 1])
        reason = "unreadable record"
    except pl.exceptions.PolarsError as exc:
        reason = str(exc).splitlines()[0]
    raise DataError(f"{path}:{lines['line'][lo]}: corrupt record: {reason}")


def _check(frame: pl.DataFrame, bad: pl.Expr, message: str, path: Path) -> None:
    hit = frame.filter(bad)
    if hit.height:
        row = hit.row(0, named=True)
        raise DataError(f"{path}:{row['line']}: {message.format(**row)}")


def _records(path: Path) -> pl.DataFrame:
    decoded = _decode_located(_read_lines(path), path)
    _check(decoded, pl.col("record").is_null(), "not a JSON object", path)
    records = decoded.unnest("record").unnest("factors")
    _check(records, pl.col("model_id").is_null() | pl.col("prompt_id").is_null(),
           "record lacks model_id or prompt_id", path)
    _check(records, ~pl.col("perspective").is_in(_PERSPECTIVES) | pl.col("perspective").is_null(),
           "unknown perspective {perspective!r}", path)
    erred = pl.col("error").is_not_null() & (pl.col("error") != "")
    answered = pl.col("response_text").fill_null("").str.strip_chars() != ""
    return records.with_columns(
        failed=erred & ~answered,
        scored=pl.col("has_score") | erred,
        score=pl.when(erred).then(None).otherwise(pl.col("score")),
        k=pl.int_range(pl.len()).over("model_id", "prompt_id").cast(pl.Int64),
    )


def _results(records: pl.DataFrame, path: Path) -> pl.DataFrame:
    ok = records.filter(~pl.col("failed"))
    _check(ok, pl.col("amount").is_null() | pl.col("relationship_quality").is_null(),
           "record lacks factors.amount or factors.relationship_quality", path)
    _check(ok, pl.col("amount") != pl.col("amount").round(), "non-integer amount {amount}", path)
    asked = ok.filter(pl.col("perspective") != "neutral").with_columns(
        category=pl.col("justification").replace(JUSTIFICATION_CATEGORIES)
    )
    _check(asked, pl.col("category").is_null(), "landlord or tenant record lacks factors.justification", path)
    key = ["model_id", "amount", "relationship_quality"]
    triplets = asked.select(*key, "category").unique()
    neutral = (
        ok.filter(pl.col("perspective") == "neutral")
        .drop("justification")
        .join(triplets, on=key, how="left")
        .sort("line", pl.col("category").replace_strict(_CATEGORY_ORDER, default=None), "category", nulls_last=True)
    )
    rows = pl.concat([asked.drop("justification"), neutral], how="diagonal_relaxed")
    return rows.sort("line", maintain_order=True).select(
        "model_id",
        scorer=pl.lit("legacy"),
        scenario=pl.lit("rent"),
        triplet_id=_triplet_id(),
        prompt_id="prompt_id",
        perspective="perspective",
        side=pl.col("perspective").replace_strict(_SIDE),
        k="k",
        score="score",
        scored="scored",
        amount=pl.col("amount").cast(pl.Int64),
        base_rent=pl.col("base_rent").cast(pl.Int64),
        justification="category",
        relationship="relationship_quality",
        dup=pl.int_range(pl.len()).over("line") > 0,
        response_text="response_text",
        line="line",
    )


def _triplet_id() -> pl.Expr:
    """amount/relationship/justification category (`-`: a neutral answer not matched to a triplet)."""
    return pl.format("{}/{}/{}", pl.col("amount").cast(pl.Int64), "relationship_quality",
                     pl.col("category").fill_null("-"))


def failed_prompts(records: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """Prompts asked only by failed calls (so in no row), in `rows`' columns: their triplet by the same
    rule where the record's factors give it, else a triplet of their own."""
    category = pl.col("justification").replace_strict(JUSTIFICATION_CATEGORIES, default=None)
    failed = records.filter(pl.col("failed")).join(rows.select("model_id", "prompt_id").unique(),
                                                   on=["model_id", "prompt_id"], how="anti")
    return failed.unique(["model_id", "prompt_id"], keep="first", maintain_order=True).with_columns(category=category).select(
        "model_id", "prompt_id", "perspective", "line",
        triplet_id=pl.coalesce(pl.when(pl.col("perspective") != "neutral").then(_triplet_id()),
                               pl.format("failed/{}", "prompt_id")),
        side=pl.col("perspective").replace_strict(_SIDE, default=None),
        amount=pl.col("amount").cast(pl.Int64), base_rent=pl.col("base_rent").cast(pl.Int64),
        justification="category", relationship="relationship_quality", dup=pl.lit(False),
    )


def _factors(rows: pl.DataFrame) -> pl.DataFrame:
    """Each triplet's levels, long (`scenario, triplet_id, factor, level`), as a job's grid gives them."""
    return (
        rows.group_by("scenario", "triplet_id", maintain_order=True)
        .agg(pl.col(f).drop_nulls().first().cast(pl.String) for f in _FACTORS)
        .unpivot(index=["scenario", "triplet_id"], on=list(_FACTORS), variable_name="factor", value_name="level")
        .drop_nulls("level")
        .sort("triplet_id", "factor")
    )


def _calls(records: pl.DataFrame) -> pl.DataFrame:
    return records.select(
        "model_id",
        role=pl.lit("target"),
        error_class=pl.when(pl.col("failed")).then(pl.lit("legacy_error")),
        latency_s=pl.col("latency_ms") / 1000.0,
        cached=pl.lit(False),
        prompt_tokens="input_tokens",
        completion_tokens="output_tokens",
        reasoning_tokens=pl.lit(None, dtype=pl.Int64),
        cost_usd="cost_usd",
    )


def is_legacy(path: Path) -> bool:
    """Whether `path` reads as the original package's run file: a JSON record with an answer and no schema."""
    with Path(path).open("rb") as fh:
        first = fh.readline()
    try:
        record = json.loads(first)
    except ValueError:  # not JSON, or not UTF-8 text at all
        return False
    return isinstance(record, dict) and "schema" not in record and "response_text" in record


def legacy_records(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, rows): every record as read (`line`, its fields, `failed`, `scored`, `k`, `error`), and
    the answers' result rows with their triplets (a shared neutral answer once per triplet, `dup` after
    the first), factor levels and `line`; see the module docstring."""
    path = Path(path)
    records = _records(path)
    return records, _results(records, path)


def load_legacy(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(results, calls, factors) from a legacy run.jsonl or run_scored.jsonl; see the module docstring."""
    records, rows = legacy_records(path)
    return rows.drop(*_FACTORS, "line"), _calls(records), _factors(rows)
