"""The checked results frame every report table starts from, and the keys and orders they share.

Rows are answers scored by one scorer, each with its `side`: `a` (party A asked), `b` (party B
asked) or `neutral`; the parties' names are the scenario's, applied only when a table, plot or
page is written (report.scenarios). A null score is an unscorable answer, or, in a row flagged
`scored = false`, an answer no scorer saw (not scored; counted apart, never as unscorable). Rows
flagged `dup` repeat another row's answer (the legacy importer shares one neutral answer between triplets);
per-answer counts skip them, cell means keep them. Rows are ordered by model (first appearance),
scorer (first appearance), then side (a, b, neutral, all).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sycobench.errors import DataError

__all__ = [
    "SIDES", "SIDE_ORDER", "GROUP", "TRIPLET", "ANSWER", "SMALL_TRIPLETS", "Input", "prepare", "ordered", "share",
]

SIDES = ("a", "b", "neutral")
SIDE_ORDER = pl.Enum([*SIDES, "all"])
GROUP = ["model_id", "scorer"]
TRIPLET = ["model_id", "scorer", "triplet_id"]
ANSWER = ["model_id", "triplet_id", "prompt_id", "side", "k"]
SMALL_TRIPLETS = 20  # rows resting on fewer triplets are flagged in the report
_REQUIRED = ("model_id", "scorer", "triplet_id", "prompt_id", "side", "k", "score")


@dataclass(frozen=True)
class Input:
    lf: pl.LazyFrame
    models: list[str]
    scorers: list[str]
    has_dup: bool
    has_scored: bool = False  # the frame says which answers no scorer saw (column `scored`)


def prepare(results: pl.DataFrame | pl.LazyFrame) -> Input:
    frame = results.collect() if isinstance(results, pl.LazyFrame) else results
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"results frame lacks columns {missing}")
    if frame.is_empty():
        raise DataError("results frame has no rows: nothing to report")
    unknown = frame.filter(~pl.col("side").is_in(SIDES))["side"].unique().to_list()
    if unknown:
        raise DataError(f"results frame has sides {unknown}; a side is one of {', '.join(SIDES)}")
    has_dup = "dup" in frame.columns
    dup = pl.col("dup").fill_null(False) if has_dup else pl.lit(False)
    scored = pl.col("scored").fill_null(True) if "scored" in frame.columns else pl.lit(True)
    lf = frame.lazy().with_columns(dup=dup, scored=scored)
    order = frame.select(
        pl.col("model_id").unique(maintain_order=True).implode(),
        pl.col("scorer").unique(maintain_order=True).implode(),
    )
    return Input(lf, order["model_id"][0].to_list(), order["scorer"][0].to_list(), has_dup, "scored" in frame.columns)


def ordered(df: pl.DataFrame, inp: Input, *extra: pl.Expr) -> pl.DataFrame:
    keys = [pl.col("model_id").cast(pl.Enum(inp.models))]
    if "scorer" in df.columns:
        keys.append(pl.col("scorer").cast(pl.Enum(inp.scorers)))
    return df.sort([*keys, *extra], maintain_order=True)


def share(k: str, n: str) -> pl.Expr:
    return pl.when(pl.col(n) > 0).then(pl.col(k) / pl.col(n))
