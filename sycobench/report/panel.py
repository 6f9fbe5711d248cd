"""A judge panel's judges: how far they agree among themselves and with the panel's median.

A row of the results frame whose `judges` holds entries is a panel's score (scorer `panel:...`,
scoring/panel.py); each entry is one judge's score of that answer. Two tables, per scenario,
pooled over the models the panel scored (as the people's tables are):

- `panel_alpha`: per panel, Krippendorff's α (interval) among its judges, over the answers at
  least two judges scored (`n_answers`, holding `n_scores` scores);
- `panel_judges`: each judge against the panel's median, on the answers both scored: `n`,
  Spearman, bin accuracy, quadratic-weighted κ on the three bins and the mean signed difference
  (judge − median); `n_answers` is every answer the panel scored, `n_unscorable` those the judge
  gave no score. The median includes the judge itself, so these figures run higher than a
  judge's agreement with an outside reference would.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sycobench.report.frame import ANSWER
from sycobench.report.labellers import agreement_row
from sycobench.stats import krippendorff_alpha_interval

__all__ = ["judge_scores", "panel_alpha", "panel_judges", "panel_tables"]

_FIGURES = ("spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error")


def judge_scores(results: pl.DataFrame) -> pl.DataFrame:
    """Long: one row per (panel, answer, judge) with the judge's `judge_score` and the panel's `median`
    (null where it gave none); empty without panel rows."""
    schema = {"panel": pl.String, **{k: results.schema.get(k, pl.String) for k in ANSWER},
              "median": pl.Float64, "judge": pl.String, "judge_score": pl.Float64}
    if "judges" not in results.columns:
        return pl.DataFrame(schema=schema)
    keep = pl.col("judges").list.len().fill_null(0) > 0
    if "dup" in results.columns:  # a legacy neutral answer shared by triplets counts once
        keep &= ~pl.col("dup").fill_null(False)
    if "scored" in results.columns:
        keep &= pl.col("scored").fill_null(True)
    return (results.lazy().filter(keep)
            .select(pl.col("scorer").alias("panel"), *ANSWER, pl.col("score").alias("median"), "judges")
            .unique(["panel", *ANSWER], keep="first", maintain_order=True)
            .explode("judges")
            .select("panel", *ANSWER, "median", pl.col("judges").struct.field("scorer").alias("judge"),
                    pl.col("judges").struct.field("score").alias("judge_score"))
            .collect())


def panel_alpha(scores: pl.DataFrame) -> pl.DataFrame | None:
    """Krippendorff's α among each panel's judges (None without a panel); null when no answer has two scores."""
    if scores.is_empty():
        return None
    rows = []
    for (panel,), part in scores.group_by("panel", maintain_order=True):
        who = part["judge"].unique(maintain_order=True).to_list()
        wide = part.pivot(on="judge", index=ANSWER, values="judge_score")
        ratings = wide.select(who).to_numpy().T.astype(np.float64)
        shared = (~np.isnan(ratings)).sum(axis=0) >= 2
        alpha = krippendorff_alpha_interval(ratings) if shared.any() else float("nan")
        rows.append({"panel": panel, "judges": len(who), "who": ", ".join(who), "n_answers": int(shared.sum()),
                     "n_scores": int((~np.isnan(ratings[:, shared])).sum()),
                     "krippendorff_alpha": None if np.isnan(alpha) else alpha})
    return pl.DataFrame(rows, schema_overrides={"krippendorff_alpha": pl.Float64})


def panel_judges(scores: pl.DataFrame, *, threshold: float = 0.33) -> pl.DataFrame | None:
    """Each judge against its panel's median (None without a panel)."""
    if scores.is_empty():
        return None
    rows = []
    for (panel, judge), part in scores.group_by("panel", "judge", maintain_order=True):
        scored = part.filter(pl.col("median").is_not_null())
        both = scored.filter(pl.col("judge_score").is_not_null())
        rows.append({"panel": panel, "judge": judge, "n_answers": scored.height, "n": both.height,
                     "n_unscorable": scored.height - both.height,
                     **agreement_row(both["median"].to_numpy(), both["judge_score"].to_numpy(), threshold)})
    return pl.DataFrame(rows, schema_overrides={k: pl.Float64 for k in _FIGURES}).with_columns(
        pl.col(pl.Float64).fill_nan(None))


def panel_tables(results: pl.DataFrame, *, threshold: float = 0.33) -> dict[str, pl.DataFrame]:
    """`panel_alpha` and `panel_judges`, where the results hold a panel's scores to build them from."""
    scores = judge_scores(results)
    tables = {"panel_alpha": panel_alpha(scores), "panel_judges": panel_judges(scores, threshold=threshold)}
    return {name: table for name, table in tables.items() if table is not None}
