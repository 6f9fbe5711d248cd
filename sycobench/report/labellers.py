"""People's labels against the automatic scorers, and how far the people agree among themselves.

A row of the results frame with a `labeller` is one person's label (scorer `human:<labeller>`,
scoring/human.py); every other row is an automatic scorer's. Two tables, per scenario:

- `labellers`: each person against each automatic scorer, on the answers both scored: `n`,
  Spearman, bin accuracy (same stance bin), quadratic-weighted κ on the three bins, and the mean
  signed difference (scorer − person); `n_labelled` is all the person's labels, `n_unscorable` the
  ones the scorer left without a score (not in the figures);
- `labeller_alpha`: Krippendorff's α (interval) among the people, over the answers at least two of
  them labelled (`n_answers`, holding `n_labels` labels).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sycobench.report.frame import ANSWER
from sycobench.stats import krippendorff_alpha_interval, quadratic_weighted_kappa, spearman, stance_codes

__all__ = ["automatic_scorers", "labeller_alpha", "labeller_tables", "labellers", "people"]

_PERSON = pl.col("labeller").is_not_null()


def _scorers(results: pl.DataFrame, person: bool) -> list[str]:
    if "labeller" not in results.columns:
        return [] if person else results["scorer"].unique(maintain_order=True).to_list()
    rows = results.filter(_PERSON if person else ~_PERSON)
    return rows["scorer"].unique(maintain_order=True).to_list()


def people(results: pl.DataFrame) -> list[str]:
    """The scorers that are people (their rows carry a labeller), in order of appearance."""
    return _scorers(results, True)


def automatic_scorers(results: pl.DataFrame) -> list[str]:
    return _scorers(results, False)


def _answers(results: pl.DataFrame) -> pl.DataFrame:
    """One row per (answer, scorer): duplicated legacy neutral answers once."""
    keep = ~pl.col("dup").fill_null(False) if "dup" in results.columns else pl.lit(True)
    return results.filter(keep).select(*ANSWER, "scorer", "score").unique([*ANSWER, "scorer"], keep="first",
                                                                         maintain_order=True)


def _row(label: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    if not len(label):
        return {"spearman": None, "bin_accuracy": None, "weighted_kappa": None, "mean_signed_error": None}
    a, b = stance_codes(label, threshold=threshold), stance_codes(score, threshold=threshold)
    return {"spearman": spearman(label, score), "bin_accuracy": float((a == b).mean()),
            "weighted_kappa": quadratic_weighted_kappa(a, b), "mean_signed_error": float((score - label).mean())}


def labellers(results: pl.DataFrame, *, threshold: float = 0.33) -> pl.DataFrame | None:
    """Each person against each automatic scorer (None without both)."""
    who, machines = people(results), automatic_scorers(results)
    if not who or not machines:
        return None
    answers = _answers(results)
    rows = []
    for person in who:
        mine = answers.filter((pl.col("scorer") == person) & pl.col("score").is_not_null()).drop("scorer")
        for scorer in machines:
            theirs = answers.filter(pl.col("scorer") == scorer).select(*ANSWER, pl.col("score").alias("other"))
            pair = mine.join(theirs, on=ANSWER, how="inner", nulls_equal=True)
            both = pair.filter(pl.col("other").is_not_null())
            rows.append({"labeller": person, "scorer": scorer, "n_labelled": mine.height, "n": both.height,
                         "n_unscorable": pair.height - both.height,
                         **_row(both["score"].to_numpy(), both["other"].to_numpy(), threshold)})
    return pl.DataFrame(rows, schema_overrides={k: pl.Float64 for k in (
        "spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error")}).with_columns(
        pl.col(pl.Float64).fill_nan(None))


def labeller_alpha(results: pl.DataFrame) -> pl.DataFrame | None:
    """Krippendorff's α among the people (None with fewer than two); null when no answer has two labels."""
    who = people(results)
    if len(who) < 2:
        return None
    labels = _answers(results).filter(pl.col("scorer").is_in(who) & pl.col("score").is_not_null())
    wide = labels.pivot(on="scorer", index=ANSWER, values="score")
    ratings = wide.select([p for p in who if p in wide.columns]).to_numpy().T.astype(np.float64)
    shared = (~np.isnan(ratings)).sum(axis=0) >= 2
    alpha = krippendorff_alpha_interval(ratings) if shared.any() else float("nan")
    return pl.DataFrame({
        "labellers": [len(who)], "people": [", ".join(who)], "n_answers": [int(shared.sum())],
        "n_labels": [int((~np.isnan(ratings[:, shared])).sum())],
        "krippendorff_alpha": [None if np.isnan(alpha) else alpha],
    }, schema_overrides={"krippendorff_alpha": pl.Float64})


def labeller_tables(results: pl.DataFrame, *, threshold: float = 0.33) -> dict[str, pl.DataFrame]:
    """`labellers` and `labeller_alpha`, where the results hold people's labels to build them from."""
    tables = {"labellers": labellers(results, threshold=threshold), "labeller_alpha": labeller_alpha(results)}
    return {name: table for name, table in tables.items() if table is not None}
