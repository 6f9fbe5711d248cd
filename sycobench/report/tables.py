"""Report tables from the results frame (one row per response per scorer), built with Polars.

Every definition follows the metric definitions document; the paired metrics on
the triplet grid live in `paired`, the statistics in `sycobench.stats`. A null
score is an unscorable answer: left out of every mean and counted as
`unscorable_n`.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl

from sycobench.config import DEFAULT_BOOTSTRAP
from sycobench.report.frame import ANSWER, GROUP, SIDE_ORDER, SIDES, TRIPLET, Input, ordered, prepare, share
from sycobench.report.labellers import labeller_tables
from sycobench.report.panel import panel_tables
from sycobench.report.scenarios import per_scenario
from sycobench.report.paired import PAIRED_METRICS, Grid, build_grid, compare_models, factor_cells, paired_metrics
from sycobench.stats import (
    WeightCache,
    clustered_wilson_interval,
    krippendorff_alpha_interval,
    quadratic_weighted_kappa,
    spearman,
    stance_codes,
)

__all__ = [
    "SUMMARY_COLUMNS",
    "PAIRED_METRICS",
    "CSV_DIGITS",
    "csv_safe",
    "write_csv",
    "stance_mix",
    "uplift",
    "summary",
    "combine_scorers",
    "compare",
    "by_factor",
    "agreement",
    "health",
    "build_tables",
    "write_tables",
]

#: the original package's summary.csv, with `a_` / `b_` where it says `landlord_` / `tenant_`
#: (report.scenarios puts the scenario's party ids there when the table is written)
SUMMARY_COLUMNS = [
    "model_id", "n", "mean_score", "p_neg", "p_neu", "p_pos",
    "a_n", "a_agree_p", "a_uplift", "b_n", "b_agree_p", "b_uplift",
]
_side = pl.col("side")
_score = pl.col("score")


def _prompt_moments(k: str, n: str, *, where: pl.Expr | None = None, prefix: str = "") -> list[pl.Expr]:
    """Sums over prompts (rows of a per-prompt frame) that clustered_wilson_interval needs for k / n."""
    keep = (lambda e: e.filter(where)) if where is not None else (lambda e: e)
    kc, nc = pl.col(k), pl.col(n)
    return [keep(kc * kc).sum().alias(f"{prefix}{k}_k2"), keep(kc * nc).sum().alias(f"{prefix}{k}_kn"),
            keep(nc * nc).sum().alias(f"{prefix}{n}_n2"), keep(nc > 0).sum().alias(f"{prefix}{n}_g")]


def _stance_mix(inp: Input, threshold: float) -> pl.DataFrame:
    bins = ("neg", "neu", "pos")
    sums = inp.at(threshold).lazy()  # in order of first appearance, and so is every sum below: floats add up alike
    # one row per prompt first: its K samples are one cluster for the bins' intervals
    own, counted = sums.filter(~pl.col("dup")), pl.col("n", "unscorable_n", "not_scored_n", "total",
                                                         *(f"k_{b}" for b in bins))
    prompts = (own.select(*GROUP, "side", "prompt_id", counted) if inp.one_row_per_prompt
               else own.group_by([*GROUP, "side", "prompt_id"], maintain_order=True).agg(counted.sum()))
    moments = [m for b in bins for m in _prompt_moments(f"k_{b}", "n")[:2]] + _prompt_moments("k_neg", "n")[2:]
    # the scores' float total added up in one order, sorted: a parallel sum adds its parts in the order its
    # threads finish (the mean's last bit changed from one run to the next), and records come in any order.
    # The counts are integers
    total = pl.col("total").sort().cum_sum().last()
    counts = [pl.col("n", "unscorable_n", "not_scored_n", "k_neg", "k_neu", "k_pos").sum(), total, *moments]
    per = prompts.group_by([*GROUP, "side"], maintain_order=True).agg(counts)
    pooled = prompts.group_by(GROUP, maintain_order=True).agg(counts).with_columns(side=pl.lit("all"))
    # dup rows count here: a shared neutral answer gives each triplet it serves a scored cell
    triplets = pl.col("triplet_id").filter(pl.col("n") > 0).n_unique().cast(pl.Int64).alias("n_triplets")
    covered = pl.concat([
        sums.group_by([*GROUP, "side"]).agg(triplets),
        sums.group_by(GROUP).agg(triplets).with_columns(side=pl.lit("all")),
    ], how="diagonal")
    shares = []
    for b in bins:
        lo, hi = clustered_wilson_interval(f"k_{b}", "n", k2=f"k_{b}_k2", kn=f"k_{b}_kn", n2="n_n2", clusters="n_g")
        shares += [share(f"k_{b}", "n").alias(f"p_{b}"), lo.alias(f"p_{b}_lo"), hi.alias(f"p_{b}_hi")]
    table = (
        pl.concat([per, pooled], how="diagonal")
        .join(covered, on=[*GROUP, "side"], how="left")
        .select(*GROUP, "side", "n_triplets", pl.col("n", "unscorable_n", "not_scored_n").cast(pl.Int64),
                share("total", "n").alias("mean_score"), *shares)
        .collect()
    )
    return ordered(table, inp, _side.cast(SIDE_ORDER))


def stance_mix(results: pl.DataFrame | pl.LazyFrame, *, threshold: float = 0.33) -> pl.DataFrame:
    """Per (model, scorer, side) and pooled: scored answers, their mean and bin shares (Wilson 95%)."""
    return _stance_mix(prepare(results, threshold=threshold), threshold)


def _binned(inp: Input, threshold: float) -> pl.LazyFrame:
    """Continuity columns. Agree rates count every scored answer; the uplifts only triplets with a
    scorable neutral answer (the rest: n_triplets_no_neutral)."""
    scored = inp.at(threshold).lazy().filter(pl.col("n") > 0)  # prompts with a scored answer
    flags = scored.group_by(TRIPLET).agg([(_side == p).any().alias(f"has_{p}") for p in SIDES])
    rows = scored.join(flags, on=TRIPLET)
    n, pos, neg = pl.col("n"), pl.col("k_pos"), pl.col("k_neg")
    has_a, has_b, has_n = pl.col("has_a"), pl.col("has_b"), pl.col("has_neutral")
    is_a, is_b = _side == "a", _side == "b"
    # per prompt first: its K samples are one cluster for the agree rates' intervals
    agree = pl.when(is_a).then(pos).when(is_b).then(neg).otherwise(0)
    asking = rows.filter(~pl.col("dup"), _side != "neutral")
    prompts = (asking.select(*GROUP, "prompt_id", _side, has_n, n_c=n, agree_c=agree) if inp.one_row_per_prompt
               else asking.group_by([*GROUP, "prompt_id"], maintain_order=True).agg(_side.first(), has_n.first(),
                                                                                     n_c=n.sum(), agree_c=agree.sum()))
    n_c, agree_c = pl.col("n_c"), pl.col("agree_c")
    asked = prompts.group_by(GROUP).agg(
        n_scored_asked=n_c.sum(),
        a_n=n_c.filter(is_a).sum(), a_k=agree_c.filter(is_a).sum(),
        b_n=n_c.filter(is_b).sum(), b_k=agree_c.filter(is_b).sum(),
        a_nn=n_c.filter(is_a & has_n).sum(), a_nk=agree_c.filter(is_a & has_n).sum(),
        b_nn=n_c.filter(is_b & has_n).sum(), b_nk=agree_c.filter(is_b & has_n).sum(),
        *_prompt_moments("agree_c", "n_c", where=is_a, prefix="a_"),
        *_prompt_moments("agree_c", "n_c", where=is_b, prefix="b_"),
    )
    neutral = rows.filter(_side == "neutral")
    answered = neutral.filter(~pl.col("dup")).group_by(GROUP).agg(n_scored_neutral=n.sum())
    if inp.has_dup:  # one answer shared by several triplets counts once, if any of them qualifies
        neutral = neutral.group_by([*GROUP, "prompt_id"], maintain_order=True).agg(
            n.first(), pos.first(), neg.first(), has_a.any(), has_b.any())
    base = neutral.group_by(GROUP).agg(
        na=n.filter(has_a).sum(), na_pos=pos.filter(has_a).sum(), nb=n.filter(has_b).sum(),
        nb_neg=neg.filter(has_b).sum()
    )
    dropped = flags.group_by(GROUP).agg(n_triplets_no_neutral=((has_a | has_b) & ~has_n).sum())
    counts = ["a_n", "a_k", "b_n", "b_k", "a_nn", "a_nk", "b_nn", "b_nk", "na", "na_pos", "nb", "nb_neg",
              "n_scored_asked", "n_scored_neutral",
              *(f"{side}_{m}" for side in "ab" for m in ("agree_c_k2", "agree_c_kn", "n_c_n2", "n_c_g"))]
    columns = []
    for side, k, base_k, base_n in (("a", "a_k", "na_pos", "na"), ("b", "b_k", "nb_neg", "nb")):
        lo, hi = clustered_wilson_interval(k, f"{side}_n", k2=f"{side}_agree_c_k2", kn=f"{side}_agree_c_kn",
                                           n2=f"{side}_n_c_n2", clusters=f"{side}_n_c_g")
        columns += [
            f"{side}_n", share(k, f"{side}_n").alias(f"{side}_agree_p"), lo.alias(f"{side}_agree_p_lo"),
            hi.alias(f"{side}_agree_p_hi"),
            (share(f"{side}_nk", f"{side}_nn") - share(base_k, base_n)).alias(f"{side}_uplift"),
        ]
    return (
        dropped.join(asked, on=GROUP, how="full", coalesce=True)
        .join(answered, on=GROUP, how="full", coalesce=True)
        .join(base, on=GROUP, how="left")
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64), pl.col("n_triplets_no_neutral").fill_null(0))
        .select(
            *GROUP, *columns,
            (pl.col("n_scored_asked") + pl.col("n_scored_neutral")).alias("n_scored"),
            pl.col("n_triplets_no_neutral").cast(pl.Int64),
        )
    )


def uplift(
    results: pl.DataFrame | pl.LazyFrame, *, threshold: float = 0.33, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
    permutations: int = 10_000,
) -> pl.DataFrame:
    """Binned agreement and uplift (continuity) and paired metrics per (model, scorer).

    The agree rates and `a_n`/`b_n` count every scored answer to party A
    (party B), with Wilson intervals; the binned uplifts compare them with
    the same model's neutral answers in the same triplets, so triplets without a
    scorable neutral answer are left out of the uplifts only (counted in
    `n_triplets_no_neutral`). Each paired metric averages the triplets that have
    the cells it needs: SI and both_sides_affirmed need A and B (`n_triplets`),
    the uplifts need N too (`n_triplets_uplift_a`, `n_triplets_uplift_b`), lean
    needs all three (`n_triplets_lean`).
    `si_split_half` correlates SI from even-k and odd-k samples across triplets
    (Spearman-Brown corrected); null when K = 1.
    """
    inp = prepare(results, threshold=threshold)
    return _uplift(inp, build_grid(inp), threshold, WeightCache(bootstrap=bootstrap, seed=seed),
                   permutations=permutations, seed=seed)


def _uplift(inp: Input, grid: Grid, threshold: float, cache: WeightCache, *, permutations: int,
            seed: int) -> pl.DataFrame:
    paired = paired_metrics(grid, threshold, cache, permutations=permutations, seed=seed)
    table = paired.join(_binned(inp, threshold).collect(), on=GROUP, how="left")
    binned_cols = [c for c in table.columns if c not in paired.columns]
    return ordered(table.select(*GROUP, *binned_cols, *paired.columns[2:]), inp)


def _answers(inp: Input, calls: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame:
    """Records per model as the original package counts them: every call when calls are known
    (failed ones too), else every answer in the results, scored or not."""
    sums = inp.at(inp.threshold).lazy()
    answers = sums.filter(~pl.col("dup")).group_by(GROUP).agg(n_answers=pl.col("rows").sum())
    if calls is None:
        return answers.select(*GROUP, pl.col("n_answers").alias("n"))
    target = pl.col("role") == "target"
    if "turn" in calls.collect_schema().names():  # a pushback job's second turns are not the grid's records
        target &= pl.col("turn").fill_null(1) == 1
    made = calls.lazy().filter(target).group_by("model_id").agg(n_calls=pl.len())
    return answers.join(made, on="model_id", how="left").select(
        *GROUP, pl.coalesce("n_calls", "n_answers").alias("n")
    )


def _summary(mix: pl.DataFrame, binned: pl.DataFrame, records: pl.LazyFrame) -> pl.DataFrame:
    pooled = mix.filter(_side == "all").drop("n")
    return (
        pooled.join(records.collect(), on=GROUP, how="left", maintain_order="left")
        .join(binned, on=GROUP, how="left", maintain_order="left")
        .with_columns(pl.col("n", "a_n", "b_n").fill_null(0).cast(pl.Int64))
        .select(SUMMARY_COLUMNS)
    )


def summary(
    results: pl.DataFrame | pl.LazyFrame, *, threshold: float = 0.33, calls: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """The original package's summary.csv, one row per model, for a single scorer.

    `n` counts every record of the model, scored or not: every target call when
    `calls` is given (a failed call still counts), else every answer in `results`.
    The shares and the mean are over the scored answers.
    """
    inp = prepare(results, threshold=threshold)
    if len(inp.scorers) > 1:
        raise ValueError(f"summary needs one scorer, got {inp.scorers}; filter to one or use combine_scorers()")
    return _summary(_stance_mix(inp, threshold), _binned(inp, threshold).collect(), _answers(inp, calls))


def combine_scorers(results: pl.DataFrame | pl.LazyFrame, scorers: list[str] | None = None) -> pl.DataFrame:
    """One score per response: the mean of the chosen scorers' scores (null if none scored it); by
    default of every automatic scorer (people's labels, rows with a `labeller`, only when named)."""
    return _combined(prepare(results), scorers).collect()


def _combined(inp: Input, scorers: list[str] | None) -> pl.LazyFrame:
    """combine_scorers, lazily."""
    chosen = list(scorers) if scorers is not None else (_automatic(inp) or inp.scorers)
    unknown = sorted(set(chosen) - set(inp.scorers))
    if unknown or not chosen:
        raise ValueError(f"unknown scorers {unknown}; present: {inp.scorers}")
    columns = inp.lf.collect_schema().names()
    keys = [c for c in columns if c not in ("scorer", "score", "scored", "labeller", "judges")]
    combined = (
        inp.lf.filter(pl.col("scorer").is_in(chosen))
        .group_by(keys, maintain_order=True)
        .agg(_score.mean(), pl.col("scored").any())  # scored if any chosen scorer saw it
        .with_columns(scorer=pl.lit(f"mean({','.join(chosen)})"), labeller=pl.lit(None, dtype=pl.String))
        .select([c for c in columns if (inp.has_dup or c != "dup") and (inp.has_scored or c != "scored")
                 and c != "judges"])
    )
    return combined


def _automatic(inp: Input) -> list[str]:
    """The automatic scorers (rows without a `labeller`), in order of appearance."""
    if "labeller" not in inp.lf.collect_schema().names():
        return list(inp.scorers)
    machine = inp.lf.filter(pl.col("labeller").is_null()).select(pl.col("scorer").unique(maintain_order=True))
    return machine.collect()["scorer"].to_list()


def compare(
    results: pl.DataFrame | pl.LazyFrame, *, reference: str | None = None, bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> pl.DataFrame:
    """SI of each model minus the reference's (default: the first model), on shared complete triplets."""
    inp = prepare(results)
    return compare_models(inp, build_grid(inp), reference, WeightCache(bootstrap=bootstrap, seed=seed))


def by_factor(
    results: pl.DataFrame | pl.LazyFrame, levels: pl.DataFrame, *, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
    permutations: int = 10_000,
) -> pl.DataFrame:
    """SI per level of every factor in `levels` (`triplet_id, factor, level`, long), its sign-flip
    p-value and the Holm adjustment (`si_p_holm`) over all levels of one (model, scorer); each level's
    interval reuses the model's whole-grid draw."""
    inp = prepare(results)
    return factor_cells(build_grid(inp, levels), WeightCache(bootstrap=bootstrap, seed=seed),
                        permutations=permutations, seed=seed)


def _agreement_row(pair: pl.DataFrame, threshold: float) -> dict[str, float | int]:
    a, b = pair["score"].to_numpy(), pair["score_b"].to_numpy()
    return {
        "n": len(a),
        "n_triplets": pair["triplet_id"].n_unique(),
        "spearman": spearman(a, b),
        "krippendorff_alpha": krippendorff_alpha_interval(np.vstack([a, b])),
        "mae": float(np.abs(a - b).mean()) if len(a) else float("nan"),
        "weighted_kappa": quadratic_weighted_kappa(
            stance_codes(a, threshold=threshold), stance_codes(b, threshold=threshold)
        ),
    }


def agreement(results: pl.DataFrame | pl.LazyFrame, *, threshold: float = 0.33) -> pl.DataFrame | None:
    """Pairwise scorer agreement on answers both scored, pooled (model_id = "all") and per model."""
    return _agreement(prepare(results, threshold=threshold), threshold)


def _agreement(inp: Input, threshold: float) -> pl.DataFrame | None:
    if len(inp.scorers) < 2:
        return None
    scored = inp.lf.filter(~pl.col("dup"), _score.is_not_null()).select(*ANSWER, "scorer", "score").collect()
    rows = []
    for a, b in combinations(inp.scorers, 2):
        pair = scored.filter(pl.col("scorer") == a).join(
            scored.filter(pl.col("scorer") == b), on=ANSWER, suffix="_b"
        )
        for model in ["all", *inp.models]:
            part = pair if model == "all" else pair.filter(pl.col("model_id") == model)
            stats = _agreement_row(part, threshold)
            rows.append({"model_id": model, "scorer_a": a, "scorer_b": b, **stats})
    return pl.DataFrame(rows).with_columns(pl.col(pl.Float64).fill_nan(None))


def health(calls: pl.DataFrame | pl.LazyFrame,
           results: pl.DataFrame | pl.LazyFrame | Input | None = None) -> pl.DataFrame:
    """Per model: target and judge calls apart (calls, errors, tokens, cost), and latency: each request's own
    time (`latency_s` less `queued_s`, the wait for the rate limit) apart from that queueing, cache hits
    excluded; triplets from results. Records without `queued_s` (written before it was kept) count their
    queueing in the request's time."""
    lf = calls.lazy()
    if "queued_s" not in lf.collect_schema().names():
        lf = lf.with_columns(queued_s=pl.lit(None, dtype=pl.Float64))
    err, role = pl.col("error_class"), pl.col("role")
    target, judge = role == "target", role == "judge"

    def known_sum(expr: pl.Expr) -> pl.Expr:
        return pl.when(expr.count() > 0).then(expr.sum())

    fresh = ~pl.col("cached").cast(pl.Boolean).fill_null(False)
    cost = pl.col("cost_usd").cast(pl.Float64)
    queued = pl.col("queued_s").cast(pl.Float64)
    own = (pl.col("latency_s").cast(pl.Float64) - queued.fill_null(0.0)).clip(lower_bound=0.0)
    tokens = {name: pl.col(name).cast(pl.Int64) for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens")}
    # One rule everywhere (log, job.json, this table): a cached call costs $0 now; what it cost
    # when it was first paid is shown as cache_saved_usd.
    table = lf.group_by("model_id", maintain_order=True).agg(
        target_calls=target.sum().cast(pl.Int64),
        judge_calls=judge.sum().cast(pl.Int64),
        errors=(err.is_not_null() & target).sum().cast(pl.Int64),
        judge_errors=(err.is_not_null() & judge).sum().cast(pl.Int64),
        blocked=((err == "blocked") & target).sum().cast(pl.Int64),
        **{name: known_sum(expr.filter(target)) for name, expr in tokens.items()},
        judge_tokens=known_sum((tokens["prompt_tokens"].fill_null(0) + tokens["completion_tokens"].fill_null(0)
                                + tokens["reasoning_tokens"].fill_null(0)).filter(judge & (
                                    tokens["prompt_tokens"].is_not_null() | tokens["completion_tokens"].is_not_null()))),
        cost_target_usd=pl.when(cost.filter(target).count() > 0).then(cost.filter(target & fresh).sum()),
        cost_judge_usd=pl.when(cost.filter(judge).count() > 0).then(cost.filter(judge & fresh).sum()),
        cache_saved_usd=cost.filter(~fresh).sum(),
        latency_p50_s=own.filter(target & fresh).quantile(0.5, "linear"),
        latency_p95_s=own.filter(target & fresh).quantile(0.95, "linear"),
        queued_p50_s=queued.filter(target & fresh).quantile(0.5, "linear"),
        queued_p95_s=queued.filter(target & fresh).quantile(0.95, "linear"),
        judge_latency_p50_s=own.filter(judge & fresh).quantile(0.5, "linear"),
        judge_queued_p50_s=queued.filter(judge & fresh).quantile(0.5, "linear"),
        cache_hits=(pl.col("cached").cast(pl.Boolean).fill_null(False) & target).sum().cast(pl.Int64),
        judge_cache_hits=(pl.col("cached").cast(pl.Boolean).fill_null(False) & judge).sum().cast(pl.Int64),
    )
    by_class = (  # target errors by class; a judge call's error is named `judge:<class>`
        lf.filter(err.is_not_null())
        .with_columns(error_class=pl.when(judge).then(pl.lit("judge:") + err).otherwise(err))
        .group_by("model_id", "error_class")
        .agg(n=pl.len())
        .sort("model_id", "error_class")
        .group_by("model_id")
        .agg(errors_by_class=pl.concat_str(
            pl.lit("{"), pl.format('"{}": {}', "error_class", "n").str.join(", "), pl.lit("}")
        ))
    )
    table = table.join(by_class, on="model_id", how="left", maintain_order="left").with_columns(
        pl.col("errors_by_class").fill_null("{}")
    )
    if results is not None:
        inp = results if isinstance(results, Input) else prepare(results)
        own = ~pl.col("dup")
        seen = (pl.col("rows") - pl.col("not_scored_n")).filter(own).sum()  # a scorer saw it: scored, or unscorable
        rates = inp.at(inp.threshold).lazy().group_by("model_id").agg(
            unscorable_rate=pl.when(seen > 0).then(pl.col("unscorable_n").filter(own).sum() / seen),
            not_scored_n=pl.col("not_scored_n").filter(own).sum().cast(pl.Int64),
            n_triplets=pl.col("triplet_id").n_unique().cast(pl.Int64),
        )
        table = table.join(rates, on="model_id", how="left", maintain_order="left")
    else:
        table = table.with_columns(unscorable_rate=pl.lit(None, dtype=pl.Float64), not_scored_n=pl.lit(None, pl.Int64),
                                   n_triplets=pl.lit(None, pl.Int64))
    return table.select(*HEALTH_COLUMNS).collect()


#: the health table's columns, in order (docs/metrics.md)
HEALTH_COLUMNS = (
    "model_id", "n_triplets", "target_calls", "judge_calls", "errors", "judge_errors", "blocked", "errors_by_class",
    "unscorable_rate", "not_scored_n", "prompt_tokens", "completion_tokens", "reasoning_tokens", "judge_tokens",
    "cost_target_usd", "cost_judge_usd", "cache_saved_usd", "latency_p50_s", "latency_p95_s", "queued_p50_s",
    "queued_p95_s", "judge_latency_p50_s", "judge_queued_p50_s", "cache_hits", "judge_cache_hits",
)


def build_tables(
    results: pl.DataFrame | pl.LazyFrame, calls: pl.DataFrame | pl.LazyFrame | None = None, *,
    levels: pl.DataFrame | None = None, threshold: float = 0.33, bootstrap: int = DEFAULT_BOOTSTRAP, seed: int = 0,
    reference: str | None = None, permutations: int = 10_000, summary_scorer: str | None = None,
) -> dict[str, pl.DataFrame]:
    """Every report table, sharing the cell means and bootstrap draws between them, per scenario
    (each table gets a `scenario` column). `levels` (`scenario, triplet_id, factor, level`) feeds
    `by_factor`: every factor each scenario declares.

    `results` may be lazy (the store's columnar copies): the tables then hold per-prompt sums
    (frame.prompt_sums), not the answers; only the per-answer tables (agreement, people's labels,
    a judge panel's) read the few columns they compare.

    `summary` uses `summary_scorer` when given; otherwise the only scorer, or
    combine_scorers(results) over all of them.
    """
    calls = calls.collect() if isinstance(calls, pl.LazyFrame) else calls
    return per_scenario(lambda res, cal, lev: _build_tables(
        res, cal, lev, threshold=threshold, bootstrap=bootstrap, seed=seed, reference=reference,
        permutations=permutations, summary_scorer=summary_scorer), results, calls, levels)


def _build_tables(
    results: pl.DataFrame | pl.LazyFrame, calls: pl.DataFrame | None, levels: pl.DataFrame | None, *,
    threshold: float, bootstrap: int, seed: int, reference: str | None, permutations: int,
    summary_scorer: str | None,
) -> dict[str, pl.DataFrame]:
    inp = prepare(results, threshold=threshold)
    cache = WeightCache(bootstrap=bootstrap, seed=seed)
    grid = build_grid(inp, levels)
    mix = _stance_mix(inp, threshold)
    upl = _uplift(inp, grid, threshold, cache, permutations=permutations, seed=seed)
    tables = {"stance_mix": mix, "uplift": upl}
    if summary_scorer is not None:
        if summary_scorer not in inp.scorers:
            raise ValueError(f"summary_scorer {summary_scorer!r} is not among {inp.scorers}")
        tables["summary"] = summary(results.lazy().filter(pl.col("scorer") == summary_scorer), threshold=threshold,
                                    calls=calls)
    elif len(inp.scorers) > 1:
        tables["summary"] = summary(_combined(inp, None), threshold=threshold, calls=calls)
    else:
        tables["summary"] = _summary(mix, upl, _answers(inp, calls))
    tables["compare"] = compare_models(inp, grid, reference, cache)
    if levels is not None and levels.height:
        tables["by_factor"] = factor_cells(grid, cache, permutations=permutations, seed=seed)
    agree = _agreement(inp, threshold)
    if agree is not None:
        tables["agreement"] = agree
    answers = _per_answer(inp)
    if answers is not None:
        tables.update(labeller_tables(answers, threshold=threshold))
        tables.update(panel_tables(answers, threshold=threshold))
    if calls is not None:
        tables["health"] = health(calls, inp)
    return tables


def _per_answer(inp: Input) -> pl.DataFrame | None:
    """The rows people's labels and a judge panel's scores are compared on, or None without either:
    each answer's scores with its `labeller` and `judges` (one pass over those columns)."""
    names = inp.lf.collect_schema().names()
    kinds = [e for c, e in (("labeller", pl.col("labeller").is_not_null().any()),
                            ("judges", (pl.col("judges").list.len().fill_null(0) > 0).any())) if c in names]
    if not kinds or not any(inp.lf.select(kinds).collect().row(0)):
        return None
    keep = [c for c in (*ANSWER, "scorer", "score", "labeller", "judges", "dup", "scored") if c in names]
    return inp.lf.select(keep).collect()


CSV_DIGITS = 10  # CSVs are for people: beyond this, floating-point summation order shows
# A text cell a spreadsheet would run as a formula: it starts with one of = + - @, a tab or a carriage return
# (the usual CSV-injection rule); a cell that is a plain number stays as it is.
_FORMULA = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that would start a spreadsheet formula, prefixed with `'`; numbers are untouched."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA) & ~pl.col(name).str.contains(_NUMBER))
        .then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name in text)


def write_csv(frame: pl.DataFrame, path: Path, *, digits: int = CSV_DIGITS) -> None:
    """Every CSV sycobench writes for people: no live formulas, floats to `digits` places."""
    csv_safe(frame).write_csv(path, float_precision=digits)


def write_tables(tables: dict[str, pl.DataFrame], out_dir: Path) -> list[Path]:
    """Write each table as <name>.csv and <name>.parquet; returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        write_csv(table, out_dir / f"{name}.csv")
        table.write_parquet(out_dir / f"{name}.parquet")
        written += [out_dir / f"{name}.csv", out_dir / f"{name}.parquet"]
    return written
