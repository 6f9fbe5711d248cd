"""How a scorer's scores agree with labels (docs/validation.md), as Polars tables.

Every figure is computed with a weight per answer: 1 for the plain figures, and for the re-weighted
ones the weight that brings the group's label mix (shares of the three stance bins) to a stated mix,
post-stratified on the label's bin. With weight 1 each figure is its textbook self; with whole-number
weights each equals the plain figure on the answers repeated that many times (tests/test_validation.py).
An answer a scorer could not score counts as score 0: no stance read.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = [
    "LENGTHS",
    "METRICS",
    "agreement_table",
    "bin_code",
    "context_table",
    "flip_table",
    "label_mix",
    "length_table",
    "mix_weights",
    "perspective_table",
    "reweighted_table",
    "weighted_kappa",
    "with_lengths",
]

METRICS = ("spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error")
LENGTHS = ("short", "medium", "long")  # terciles of an answer's word count within its set and scenario
_W = "_w"


def bin_code(col: str | pl.Expr, threshold: float) -> pl.Expr:
    """-1 / 0 / +1 by the report's bin rule: at or beyond the threshold is a lean."""
    x = pl.col(col) if isinstance(col, str) else col
    return pl.when(x >= threshold).then(1).when(x <= -threshold).then(-1).otherwise(0)


def _wmean(x: pl.Expr, w: pl.Expr) -> pl.Expr:
    return (w * x).sum() / (x * 0 + w).sum()  # `x * 0 + w`: a literal weight broadcast to x's length


def weighted_kappa(a: pl.Expr, b: pl.Expr, w: pl.Expr | None = None) -> pl.Expr:
    """Cohen's kappa with quadratic weights, through its closed form on equally spaced codes:
    2 cov(a, b) / (var a + var b + (mean a - mean b)^2), population moments (weighted by `w`)."""
    a, b = a.cast(pl.Float64), b.cast(pl.Float64)
    w = pl.lit(1.0) if w is None else w
    ma, mb = _wmean(a, w), _wmean(b, w)
    cov = _wmean((a - ma) * (b - mb), w)
    return 2 * cov / (_wmean((a - ma) ** 2, w) + _wmean((b - mb) ** 2, w) + (ma - mb) ** 2)


def _wcorr(a: pl.Expr, b: pl.Expr, w: pl.Expr) -> pl.Expr:
    ma, mb = _wmean(a, w), _wmean(b, w)
    return (w * (a - ma) * (b - mb)).sum() / ((w * (a - ma) ** 2).sum() * (w * (b - mb) ** 2).sum()).sqrt()


def _with_ranks(lf: pl.LazyFrame, keys: list[str], columns: Sequence[str]) -> pl.LazyFrame:
    """Weighted mid-ranks within each group: the weight of the values below plus half the weight of the
    ties. With weight 1 they are the average ranks less 1/2, so Pearson on them is Spearman's rho."""
    for col in columns:
        ties = (lf.group_by(*keys, col).agg(pl.col(_W).sum().alias("_tw")).sort(*keys, col)
                .with_columns((pl.col("_tw").cum_sum().over(keys) - pl.col("_tw") / 2).alias(f"_rank_{col}"))
                .drop("_tw"))
        lf = lf.join(ties, on=[*keys, col], how="left", nulls_equal=True)
    return lf


def _aggs(threshold: float) -> list[pl.Expr]:
    w = pl.col(_W)
    label_bin, score_bin = bin_code("label", threshold), bin_code("_s", threshold)
    return [
        pl.len().cast(pl.Int64).alias("n"),
        _wcorr(pl.col("_rank__s"), pl.col("_rank_label"), w).alias("spearman"),
        _wmean((label_bin == score_bin).cast(pl.Float64), w).alias("bin_accuracy"),
        weighted_kappa(label_bin, score_bin, w).alias("weighted_kappa"),
        _wmean(pl.col("_s") - pl.col("label"), w).alias("mean_signed_error"),
        pl.col("score").is_null().sum().cast(pl.Int64).alias("n_unscored"),
    ]


def _figures(scored: pl.DataFrame | pl.LazyFrame, keys: list[str], threshold: float,
             weight: pl.Expr | None = None) -> pl.LazyFrame:
    lf = scored.lazy().with_columns(pl.col("score").fill_null(0.0).alias("_s"),
                                    (pl.lit(1.0) if weight is None else weight).cast(pl.Float64).alias(_W))
    return _with_ranks(lf, keys, ["_s", "label"]).group_by(keys).agg(*_aggs(threshold))


def _order(keys: list[str]) -> list[pl.Expr]:
    ranks = {"split": ("tuning", "heldout"), "length": LENGTHS}
    return [pl.col(k).replace_strict(ranks[k], range(len(ranks[k])), default=9) if k in ranks else pl.col(k)
            for k in keys]


def _keys(scored: pl.DataFrame | pl.LazyFrame, *extra: str) -> list[str]:
    names = scored.collect_schema().names() if isinstance(scored, pl.LazyFrame) else scored.columns
    return [k for k in ("set", "scenario") if k in names] + ["split", *extra]


def agreement_table(scored: pl.DataFrame, scorer: str, *, threshold: float = 0.33) -> pl.DataFrame:
    """One row per (set, scenario,) split: how the scores (`score`, null = unscored) agree with `label`."""
    keys = _keys(scored)
    return (_figures(scored, keys, threshold).with_columns(pl.lit(scorer).alias("scorer"))
            .select("scorer", *keys, "n", *METRICS, "n_unscored").sort(_order(keys)).collect())


def perspective_table(scored: pl.DataFrame, scorer: str, *, threshold: float = 0.33) -> pl.DataFrame:
    keys = _keys(scored, "perspective")
    return (_figures(scored, keys, threshold).with_columns(pl.lit(scorer).alias("scorer"))
            .select("scorer", *keys, "n", *METRICS, "n_unscored").sort(_order(keys)).collect())


def label_mix(frame: pl.DataFrame, keys: list[str], *, threshold: float = 0.33) -> pl.DataFrame:
    """The share of labels in each bin (`mix_neg`, `mix_neu`, `mix_pos`) per group."""
    b = bin_code("label", threshold)
    return (frame.lazy().group_by(keys).agg((b == -1).mean().alias("mix_neg"), (b == 0).mean().alias("mix_neu"),
                                            (b == 1).mean().alias("mix_pos")).sort(keys).collect())


def mix_weights(target: pl.Expr | tuple[float, float, float], keys: list[str], threshold: float) -> pl.Expr:
    """Each answer's weight: its bin's target share over that bin's share in its group (`keys`). `target`
    is a fixed (-, 0, +) mix or an expression giving the answer's own bin's target share."""
    b = bin_code("label", threshold)
    if isinstance(target, tuple):
        target = pl.when(b == -1).then(target[0]).when(b == 0).then(target[1]).otherwise(target[2])
    share = pl.len().over([*keys, b]) / pl.len().over(keys)
    return target.cast(pl.Float64) / share


def reweighted_table(scored: pl.DataFrame, scorer: str, *, mix: tuple[float, float, float] | None = None,
                     threshold: float = 0.33) -> pl.DataFrame:
    """`agreement_table` re-weighted so every group's label mix is `mix` (shares of -, 0, +; default each
    set and scenario's own, all splits pooled). A group that lacks a bin the mix needs gets no figures."""
    keys = _keys(scored)
    base = [k for k in keys if k != "split"]
    b = bin_code("label", threshold)
    frame = scored.lazy()
    if mix is None:
        def own(e: pl.Expr) -> pl.Expr:
            return e.over(base) if base else e

        frame = frame.with_columns(*(own((b == code).mean()).alias(f"mix_{name}")
                                     for code, name in ((-1, "neg"), (0, "neu"), (1, "pos"))))
    else:
        frame = frame.with_columns(*(pl.lit(float(share)).alias(f"mix_{name}")
                                     for share, name in zip(mix, ("neg", "neu", "pos"))))
    target = pl.when(b == -1).then(pl.col("mix_neg")).when(b == 0).then(pl.col("mix_neu")).otherwise(pl.col("mix_pos"))
    frame = frame.with_columns(mix_weights(target, keys, threshold).alias("_weight"))
    # a bin the mix wants but the group lacks: its share cannot be reached
    present = frame.group_by(keys).agg(*((b == code).any().alias(f"_has_{name}")
                                         for code, name in ((-1, "neg"), (0, "neu"), (1, "pos"))),
                                       *(pl.col(f"mix_{name}").first() for name in ("neg", "neu", "pos")))
    reachable = pl.all_horizontal(pl.col(f"_has_{name}") | (pl.col(f"mix_{name}") == 0) for name in ("neg", "neu", "pos"))
    table = (_figures(frame.collect(), keys, threshold, pl.col("_weight")).join(present, on=keys)
             .with_columns([pl.when(reachable).then(pl.col(m)).alias(m) for m in METRICS])
             .with_columns(pl.lit(scorer).alias("scorer"),
                           pl.format("{}/{}/{}", *(pl.col(f"mix_{n}").round(2) for n in ("neg", "neu", "pos")))
                           .alias("label_mix")))
    return table.select("scorer", *keys, "label_mix", "n", *METRICS).sort(_order(keys)).collect()


def with_lengths(frame: pl.DataFrame) -> pl.DataFrame:
    """`words` (whitespace-separated) and `length`: the answer's word-count tercile within its set and
    scenario (all splits pooled, so a split's short answers are as short as another's)."""
    keys = [k for k in ("set", "scenario") if k in frame.columns]
    over = keys or [pl.lit(0)]
    words = pl.col("text").str.count_matches(r"\S+")
    tercile = ((words.rank("ordinal").over(over) - 1) * 3 // pl.len().over(over)).cast(pl.Int64)
    return frame.with_columns(words.alias("words")).with_columns(
        tercile.replace_strict(range(3), LENGTHS, return_dtype=pl.String).alias("length"))


def length_table(scored: pl.DataFrame, scorer: str, *, threshold: float = 0.33) -> pl.DataFrame:
    """`agreement_table` per length tercile, with the tercile's word range."""
    scored = scored if "length" in scored.columns else with_lengths(scored)
    keys = _keys(scored, "length")
    words = scored.lazy().group_by(keys).agg(pl.col("words").min().alias("words_min"),
                                             pl.col("words").max().alias("words_max"))
    return (_figures(scored, keys, threshold).join(words, on=keys).with_columns(pl.lit(scorer).alias("scorer"))
            .select("scorer", *keys, "words_min", "words_max", "n", *METRICS, "n_unscored")
            .sort(_order(keys)).collect())


def flip_table(plain: pl.DataFrame, flipped: pl.DataFrame, *, threshold: float = 0.33) -> pl.DataFrame:
    """Polarity-flip consistency per split: on the answers judged with the scale reversed, how the
    mapped-back score agrees with the same answer judged on the plain scale."""
    keys = _keys(plain)
    ids = [k for k in ("set", "scenario", "id") if k in plain.columns]
    pairs = (
        flipped.lazy().filter(pl.col("flipped"))
        .join(plain.lazy().select(*ids, pl.col("score").alias("plain")), on=ids)
        .drop_nulls(["score", "plain"])
    )
    return pairs.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("flip_n"),
        (bin_code("score", threshold) == bin_code("plain", threshold)).mean().alias("flip_bin_agreement"),
        (pl.col("score") - pl.col("plain")).abs().mean().alias("flip_mean_abs_diff"),
    ).collect()


def context_table(blinded: pl.DataFrame, full: pl.DataFrame, scorer: str, *, threshold: float = 0.33) -> pl.DataFrame:
    """The same answers scored with `context=blinded` and `context=full`: per split, how the two agree
    (Spearman, bin agreement, weighted kappa, mean absolute difference, mean of full - blinded) and
    each one's Spearman with the labels. Answers either left unscored count as 0, as elsewhere."""
    keys = _keys(blinded)
    ids = [k for k in ("set", "scenario", "id") if k in blinded.columns]
    both = blinded.lazy().select(*keys, *[i for i in ids if i not in keys], "label",
                                 pl.col("score").fill_null(0.0).alias("_b")).join(
        full.lazy().select(*ids, pl.col("score").fill_null(0.0).alias("_f")), on=ids)
    bb, bf = bin_code("_b", threshold), bin_code("_f", threshold)
    return (both.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.corr("_b", "_f", method="spearman").alias("spearman"),
        (bb == bf).mean().alias("bin_agreement"),
        weighted_kappa(bb, bf).alias("weighted_kappa"),
        (pl.col("_f") - pl.col("_b")).abs().mean().alias("mean_abs_diff"),
        (pl.col("_f") - pl.col("_b")).mean().alias("mean_full_minus_blinded"),
        pl.corr("_b", "label", method="spearman").alias("spearman_label_blinded"),
        pl.corr("_f", "label", method="spearman").alias("spearman_label_full"),
    ).with_columns(pl.lit(scorer).alias("scorer")).select("scorer", pl.exclude("scorer")).sort(_order(keys)).collect())
