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

import functools
import operator
from dataclasses import dataclass

import polars as pl

from sycobench.errors import DataError

__all__ = [
    "SIDES", "SIDE_ORDER", "GROUP", "TRIPLET", "ANSWER", "PROMPT", "SMALL_TRIPLETS", "THRESHOLD", "Input", "prepare",
    "prompt_sums", "ordered", "share", "surely_distinct",
]

SIDES = ("a", "b", "neutral")
SIDE_ORDER = pl.Enum([*SIDES, "all"])
GROUP = ["model_id", "scorer"]
TRIPLET = ["model_id", "scorer", "triplet_id"]
ANSWER = ["model_id", "triplet_id", "prompt_id", "side", "k"]
PROMPT = ["model_id", "scorer", "triplet_id", "prompt_id", "side", "dup"]
SMALL_TRIPLETS = 20  # rows resting on fewer triplets are flagged in the report
THRESHOLD = 0.33  # the stance bins' default edge
_REQUIRED = ("model_id", "scorer", "triplet_id", "prompt_id", "side", "k", "score")


@dataclass(frozen=True)
class Input:
    """The answers (`lf`, lazy: a DataFrame's rows or the store's columnar copies) and their per-prompt
    sums (`sums`), which every table but the per-answer ones is built from."""

    lf: pl.LazyFrame
    models: list[str]
    scorers: list[str]
    has_dup: bool
    has_scored: bool = False  # the frame says which answers no scorer saw (column `scored`)
    sums: pl.DataFrame | None = None  # prompt_sums(lf, threshold) at `threshold`
    threshold: float = THRESHOLD
    one_row_per_prompt: bool = False  # each prompt's own rows (not `dup`) are one row of the sums (any threshold)

    def at(self, threshold: float) -> pl.DataFrame:
        """The per-prompt sums with the stance bins at `threshold`."""
        if self.sums is not None and threshold == self.threshold:
            return self.sums
        return prompt_sums(self.lf, threshold).collect()


def prompt_sums(lf: pl.LazyFrame, threshold: float) -> pl.LazyFrame:
    """One row per PROMPT cell (model, scorer, triplet, prompt, side, dup), in order of first
    appearance: its rows, scored answers `n` and their sum, unscorable and not-scored counts, stance
    bins at `threshold`, and the sum and count of even-k and odd-k samples (split-half)."""
    score, even = pl.col("score"), pl.col("k") % 2 == 0
    # plain sums of precomputed columns: Polars aggregates those without gathering each group's rows
    # (a filter inside an aggregation does), which at a million answers held ~100 MB more
    flags = lf.select(
        *PROMPT, score, _row=pl.int_range(pl.len()),
        _n=score.is_not_null(), _unscorable=score.is_null() & pl.col("scored"), _not_scored=~pl.col("scored"),
        _neg=score <= -threshold, _neu=(score > -threshold) & (score < threshold), _pos=score >= threshold,
        _h0=pl.when(even).then(score), _h1=pl.when(~even).then(score),
    )
    return flags.group_by(PROMPT).agg(
        pl.col("_row").min(),
        rows=pl.len(),
        n=pl.col("_n").sum(),
        unscorable_n=pl.col("_unscorable").sum(),
        not_scored_n=pl.col("_not_scored").sum(),
        total=score.sum(),
        k_neg=pl.col("_neg").sum(),
        k_neu=pl.col("_neu").sum(),
        k_pos=pl.col("_pos").sum(),
        h0_total=pl.col("_h0").sum(), h0_n=pl.col("_h0").count(),
        h1_total=pl.col("_h1").sum(), h1_n=pl.col("_h1").count(),
    ).sort("_row").drop("_row")


def prepare(results: pl.DataFrame | pl.LazyFrame, *, threshold: float = THRESHOLD) -> Input:
    """The checked input of the tables. A DataFrame or a LazyFrame (say the columnar copies): only the
    per-prompt sums are collected, the answers stay where they are."""
    lf = results.lazy()
    columns = lf.collect_schema().names()
    missing = [c for c in _REQUIRED if c not in columns]
    if missing:
        raise DataError(f"results frame lacks columns {missing}")
    has_dup = "dup" in columns
    dup = pl.col("dup").fill_null(False) if has_dup else pl.lit(False)
    scored = pl.col("scored").fill_null(True) if "scored" in columns else pl.lit(True)
    lf = lf.with_columns(dup=dup, scored=scored)
    sums = prompt_sums(lf, threshold).collect()
    if sums.is_empty():
        raise DataError("results frame has no rows: nothing to report")
    unknown = sums.filter(~pl.col("side").is_in(SIDES))["side"].unique().to_list()
    if unknown:
        raise DataError(f"results frame has sides {unknown}; a side is one of {', '.join(SIDES)}")
    order = sums.select(
        pl.col("model_id").unique(maintain_order=True).implode(),
        pl.col("scorer").unique(maintain_order=True).implode(),
    )
    # a prompt in one triplet, its own (the usual grid): the tables' per-prompt group-bys are the rows as they are
    return Input(lf, order["model_id"][0].to_list(), order["scorer"][0].to_list(), has_dup, "scored" in columns,
                 sums, threshold, surely_distinct(sums.filter(~pl.col("dup")), [*GROUP, "prompt_id"]))


def surely_distinct(frame: pl.DataFrame, keys: list[str]) -> bool:
    """No two rows of `frame` share `keys`, as their hashes tell: distinct hashes are distinct keys; a hash
    shared says nothing (False). Each key hashed alone and the hashes mixed: hashing them as one struct cost
    1.6x as much."""
    mixed = functools.reduce(operator.xor, (pl.col(key).hash(seed) for seed, key in enumerate(keys)))
    return frame.select(mixed.n_unique()).item() == frame.height


def ordered(df: pl.DataFrame, inp: Input, *extra: pl.Expr) -> pl.DataFrame:
    keys = [pl.col("model_id").cast(pl.Enum(inp.models))]
    if "scorer" in df.columns:
        keys.append(pl.col("scorer").cast(pl.Enum(inp.scorers)))
    return df.sort([*keys, *extra], maintain_order=True)


def share(k: str, n: str) -> pl.Expr:
    return pl.when(pl.col(n) > 0).then(pl.col(k) / pl.col(n))
