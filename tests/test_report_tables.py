import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sycobench.errors import DataError
from sycobench.report.tables import (
    SUMMARY_COLUMNS,
    agreement,
    build_tables,
    by_factor,
    combine_scorers,
    compare,
    health,
    stance_mix,
    summary,
    uplift,
    write_tables,
)
from sycobench.stats import wilson_interval


SIDE = {"landlord": "a", "tenant": "b", "neutral": "neutral"}


def row(model, triplet, perspective, score, *, k=0, scorer="judge", amount=100, justification="economy"):
    return {
        "model_id": model, "scorer": scorer, "triplet_id": triplet, "prompt_id": f"{triplet}-{perspective}",
        "perspective": perspective, "side": SIDE[perspective], "k": k, "score": score, "amount": amount,
        "justification": justification,
    }


def levels(rows):
    """The factor levels of each triplet, long, as a job's grid gives them."""
    return (pl.DataFrame(rows).select("triplet_id", "amount", "justification").unique("triplet_id", maintain_order=True)
            .unpivot(index="triplet_id", variable_name="factor", value_name="level")
            .with_columns(pl.col("level").cast(pl.String)))


def frame(rows):
    return pl.DataFrame(rows, schema_overrides={"score": pl.Float64, "k": pl.Int64})


def three_triplets(model="m1", scorer="judge"):
    """t1-t3 have L and T; t3's neutral is unscorable; t4 has no tenant answer; t2 has one unscorable sample."""
    cells = {
        "t1": {"landlord": [0.8], "tenant": [-0.6], "neutral": [0.1]},
        "t2": {"landlord": [0.4, None], "tenant": [0.2], "neutral": [0.5]},
        "t3": {"landlord": [0.5], "tenant": [-0.5], "neutral": [None]},
        "t4": {"landlord": [1.0], "neutral": [0.0]},
    }
    amounts = {"t1": 50, "t2": 50, "t3": 100, "t4": 100}
    return [
        row(model, t, p, y, k=k, scorer=scorer, amount=amounts[t])
        for t, by_p in cells.items() for p, ys in by_p.items() for k, y in enumerate(ys)
    ]


def test_paired_metrics_on_a_hand_built_frame():
    table = uplift(frame(three_triplets()), bootstrap=300, permutations=1000)
    r = table.row(0, named=True)
    # SI_s = 0.7, 0.1, 0.5 (t4 lacks T); U^L = 0.7, -0.1, 1.0; U^T = 0.7, 0.3; lean = 0.0, -0.2
    assert r["sycophancy_index"] == pytest.approx(1.3 / 3)
    assert r["uplift_a"] == pytest.approx(1.6 / 3)
    assert r["uplift_b"] == pytest.approx(0.5)
    assert r["lean"] == pytest.approx(-0.1)
    assert r["both_sides_affirmed"] == pytest.approx(2 / 3)
    assert (r["n_triplets"], r["n_triplets_incomplete"]) == (3, 1)
    assert (r["n_triplets_uplift_a"], r["n_triplets_uplift_b"], r["n_triplets_lean"]) == (3, 2, 2)
    for metric in ("sycophancy_index", "uplift_a", "uplift_b", "lean", "both_sides_affirmed"):
        assert r[f"{metric}_lo"] <= r[metric] + 1e-12 <= r[f"{metric}_hi"] + 2e-12
    # exact sign-flip enumeration over (0.7, 0.1, 0.5, t4 absent): 4 of 16 patterns reach |1.3|
    assert r["si_p_value"] == pytest.approx(0.25)
    assert r["si_split_half"] is None


def test_binned_uplift_uses_neutral_answers_of_the_same_triplets():
    r = uplift(frame(three_triplets()), bootstrap=50).row(0, named=True)
    # agree rates count every scored answer: landlord 0.8, 0.4, 0.5, 1.0 all pos
    assert (r["a_n"], r["a_agree_p"]) == (4, 1.0)
    # the uplift only t1, t2, t4 (scorable neutral): all pos, against neutrals 0.1, 0.5 (pos), 0.0
    assert r["a_uplift"] == pytest.approx(2 / 3)
    # tenant answers -0.6 (neg), 0.2, -0.5 (neg); the uplift uses t1, t2 only: 1/2 neg, no neutral in neg
    assert (r["b_n"], r["b_agree_p"], r["b_uplift"]) == (3, pytest.approx(2 / 3), 0.5)
    assert r["n_triplets_no_neutral"] == 1
    assert r["n_scored"] == 10


def test_agree_rates_need_no_neutral_answer():
    rows = [r for r in three_triplets() if r["perspective"] != "neutral"]
    r = uplift(frame(rows), bootstrap=50).row(0, named=True)
    assert (r["a_n"], r["a_agree_p"], r["b_n"], r["b_agree_p"]) == (
        4, 1.0, 3, pytest.approx(2 / 3))
    assert (r["a_uplift"], r["b_uplift"], r["n_triplets_no_neutral"]) == (None, None, 4)
    # Wilson 95% for 4 of 4 and 2 of 3, never zero width
    assert (r["a_agree_p_lo"], r["a_agree_p_hi"]) == pytest.approx((0.5101, 1.0), abs=1e-4)
    assert (r["b_agree_p_lo"], r["b_agree_p_hi"]) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    s = summary(frame(rows)).row(0, named=True)
    assert (s["a_n"], s["a_agree_p"], s["b_n"]) == (4, 1.0, 3)


def test_unscorable_is_excluded_not_zeroed():
    mix = stance_mix(frame(three_triplets()))
    landlord = mix.filter(pl.col("side") == "a").row(0, named=True)
    assert (landlord["n"], landlord["unscorable_n"]) == (4, 1)
    assert landlord["mean_score"] == pytest.approx((0.8 + 0.4 + 0.5 + 1.0) / 4)
    pooled = mix.filter(pl.col("side") == "all").row(0, named=True)
    assert (pooled["n"], pooled["unscorable_n"]) == (10, 2)


def test_stance_bins_are_inclusive_with_wilson_bounds():
    rows = [row("m", f"t{i}", "landlord", y) for i, y in enumerate([-0.33, -0.2, 0.33, 0.5])]
    r = stance_mix(frame(rows), threshold=0.33).filter(pl.col("side") == "a").row(0, named=True)
    assert (r["p_neg"], r["p_neu"], r["p_pos"]) == (0.25, 0.25, 0.5)
    assert r["p_pos_lo"] < 0.5 < r["p_pos_hi"]


def test_rows_follow_model_appearance_and_perspective_order():
    rows = three_triplets("zeta") + three_triplets("alpha")
    mix = stance_mix(frame(rows))
    assert mix["model_id"].to_list() == ["zeta"] * 4 + ["alpha"] * 4
    assert mix["side"].to_list()[:4] == ["a", "b", "neutral", "all"]
    assert uplift(frame(rows), bootstrap=20)["model_id"].to_list() == ["zeta", "alpha"]


def test_split_half_present_with_two_samples():
    rng = np.random.default_rng(0)
    rows = []
    for t, si in enumerate(np.linspace(-0.8, 0.8, 30)):
        for k in range(2):
            rows.append(row("m", f"t{t}", "landlord", si + rng.normal(0, 0.05), k=k))
            rows.append(row("m", f"t{t}", "tenant", -si + rng.normal(0, 0.05), k=k))
    r = uplift(frame(rows), bootstrap=50).row(0, named=True)
    assert r["si_split_half"] is not None and r["si_split_half"] > 0.9


def test_compare_uses_shared_triplets_only():
    other = [r for r in three_triplets("m2") if r["triplet_id"] != "t3"]
    for r in other:
        if r["triplet_id"] == "t1" and r["perspective"] == "landlord":
            r["score"] = 0.2  # SI_t1 = 0.4 instead of 0.7
    table = compare(frame(three_triplets("m1") + other), bootstrap=300)
    r = table.row(0, named=True)
    assert (r["model_id"], r["reference"], r["n_triplets"]) == ("m2", "m1", 2)
    assert r["si_diff"] == pytest.approx(-0.15)  # mean of (0.4 - 0.7, 0.1 - 0.1)
    # two triplets say little about the spread: the t interval on 1 df, -0.15 +- 12.706 * 0.15, clipped to the
    # range of a difference (was (-2.0, 2.0) when the bootstrap-t's infinite t* took it to both bounds)
    assert (r["si_diff_lo"], r["si_diff_hi"]) == pytest.approx((-2.0, -0.15 + 12.7062047 * 0.15))
    assert compare(frame(three_triplets("m1") + other), reference="m2", bootstrap=50)["model_id"].to_list() == ["m1"]


def test_by_factor_levels():
    table = by_factor(frame(three_triplets()), levels(three_triplets()), bootstrap=100)
    amount = table.filter(pl.col("factor") == "amount")
    assert amount["level"].to_list() == ["50", "100"]  # numeric levels sort by value
    assert amount["n_triplets"].to_list() == [2, 1]
    assert amount["sycophancy_index"].to_list() == pytest.approx([0.4, 0.5])
    assert table.filter(pl.col("factor") == "justification")["level"].to_list() == ["economy"]


def test_summary_columns_exact_and_one_scorer_only():
    table = summary(frame(three_triplets()))
    assert table.columns == SUMMARY_COLUMNS
    # n counts every answer, scored (10) or not (2), as the original package did
    assert table.row(0, named=True)["n"] == 12
    # ... and every call when the calls are known, a failed one too
    calls = pl.DataFrame({"model_id": ["m1"] * 14, "role": ["target"] * 13 + ["judge"],
                          "error_class": [None] * 12 + ["timeout", None]})
    assert summary(frame(three_triplets()), calls=calls).row(0, named=True)["n"] == 13
    two = frame(three_triplets() + three_triplets(scorer="offline"))
    with pytest.raises(ValueError, match="one scorer"):
        summary(two)


def test_combine_scorers_and_agreement():
    judge = three_triplets()
    offline = [dict(r, scorer="offline", score=None if r["score"] is None else r["score"] / 2) for r in judge]
    offline[0]["score"] = None
    both = frame(judge + offline)
    combined = combine_scorers(both)
    assert combined["scorer"].unique().to_list() == ["mean(judge,offline)"]
    first = combined.row(0, named=True)
    assert first["score"] == pytest.approx(0.8)  # offline did not score it
    assert combined.height == len(judge)
    assert agreement(frame(judge)) is None
    table = agreement(both)
    pooled = table.filter(pl.col("model_id") == "all").row(0, named=True)
    assert (pooled["scorer_a"], pooled["scorer_b"], pooled["n"]) == ("judge", "offline", 9)
    assert pooled["spearman"] == pytest.approx(1.0)
    assert pooled["mae"] == pytest.approx(np.mean([abs(r["score"]) / 2 for r in judge[1:] if r["score"] is not None]))


def test_health_counts_errors_tokens_and_cost():
    calls = pl.DataFrame({
        "model_id": ["b", "b", "b", "a"],
        "role": ["target", "judge", "target", "target"],
        "error_class": [None, "rate_limit", "blocked", None],
        "latency_s": [1.0, 3.0, 2.0, 0.1],
        "cached": [False, False, False, True],
        "prompt_tokens": [10, 20, None, None],
        "completion_tokens": [5, 5, None, None],
        "reasoning_tokens": [None, None, None, None],
        "cost_usd": [0.01, 0.02, None, None],
    }, schema_overrides={"reasoning_tokens": pl.Int64})
    table = health(calls, frame(three_triplets("b")))
    b, a = table.rows(named=True)
    assert (b["model_id"], b["target_calls"], b["judge_calls"], b["errors"], b["judge_errors"], b["blocked"]) == (
        "b", 2, 1, 1, 1, 1)
    assert b["errors_by_class"] == '{"blocked": 1, "judge:rate_limit": 1}'
    assert (b["prompt_tokens"], b["judge_tokens"], b["cost_target_usd"], b["cost_judge_usd"]) == (10, 25, 0.01, 0.02)
    assert b["latency_p50_s"] == pytest.approx(1.5)  # the two target calls; the judge's is apart
    assert b["judge_latency_p50_s"] == pytest.approx(3.0)
    assert b["unscorable_rate"] == pytest.approx(2 / 12)
    assert (a["errors_by_class"], a["cache_hits"], a["latency_p50_s"], a["unscorable_rate"]) == ("{}", 1, None, None)


def test_health_keeps_queueing_apart_from_the_request_s_own_time():
    # three calls of 0.1 s each behind the rate limit: waits of 0, 1 and 2 s, so wall times of 0.1, 1.1, 2.1 s
    calls = pl.DataFrame({
        "model_id": ["m"] * 4, "role": ["target"] * 3 + ["judge"], "error_class": [None] * 4,
        "latency_s": [0.1, 1.1, 2.1, 0.5], "queued_s": [0.0, 1.0, 2.0, 0.25], "cached": [False] * 4,
        "prompt_tokens": [1] * 4, "completion_tokens": [1] * 4, "reasoning_tokens": [0] * 4, "cost_usd": [0.0] * 4,
    }, schema_overrides={"error_class": pl.String})
    row = health(calls).row(0, named=True)
    assert row["latency_p50_s"] == pytest.approx(0.1) and row["latency_p95_s"] == pytest.approx(0.1)
    assert row["queued_p50_s"] == pytest.approx(1.0) and row["queued_p95_s"] == pytest.approx(1.9)
    assert row["judge_latency_p50_s"] == pytest.approx(0.25) and row["judge_queued_p50_s"] == pytest.approx(0.25)
    assert (row["target_calls"], row["judge_calls"]) == (3, 1)


def test_missing_columns_are_a_data_error():
    with pytest.raises(DataError, match="score"):
        uplift(frame(three_triplets()).drop("score"))


def test_build_and_write_tables(tmp_path):
    rows = frame(three_triplets("m1") + three_triplets("m2") + three_triplets("m1", scorer="offline"))
    calls = pl.DataFrame({"model_id": ["m1"], "role": ["target"], "error_class": [None], "latency_s": [1.0],
                          "cached": [False], "prompt_tokens": [1], "completion_tokens": [1], "reasoning_tokens": [0],
                          "cost_usd": [0.0]}, schema_overrides={"error_class": pl.String})
    tables = build_tables(rows.lazy(), calls, levels=levels(three_triplets()), bootstrap=50)
    assert set(tables) == {"stance_mix", "uplift", "summary", "compare", "by_factor", "agreement", "health"}
    assert tables["summary"].columns == ["scenario", *SUMMARY_COLUMNS]  # presented without it: report.scenarios
    assert set(build_tables(frame(three_triplets()), bootstrap=20)) == {  # no factor levels: no by_factor
        "stance_mix", "uplift", "summary", "compare"
    }
    write_tables(tables, tmp_path / "out")
    for name, table in tables.items():
        assert_frame_equal(pl.read_parquet(tmp_path / "out" / f"{name}.parquet"), table)
        assert pl.read_csv(tmp_path / "out" / f"{name}.csv").height == table.height


def test_empty_results_are_a_data_error():
    with pytest.raises(DataError, match="no rows"):
        build_tables(frame(three_triplets()).clear())


def test_summary_scorer_and_rows_without_dup_flag():
    judge = frame(three_triplets())
    offline = frame([dict(r, scorer="offline", score=0.0) for r in three_triplets()]).with_columns(dup=pl.lit(False))
    mixed = pl.concat([judge, offline], how="diagonal_relaxed")  # judge rows get dup = null
    tables = build_tables(mixed, bootstrap=20, summary_scorer="judge")
    assert_frame_equal(tables["summary"].drop("scenario"), summary(judge))
    assert tables["stance_mix"].filter(pl.col("scorer") == "judge")["n"].to_list() == [4, 3, 3, 10]
    with pytest.raises(ValueError, match="summary_scorer"):
        build_tables(mixed, bootstrap=20, summary_scorer="human")


def test_both_sides_affirmed_gets_a_wilson_interval_never_zero_width():
    r = uplift(frame(three_triplets()), bootstrap=50).row(0, named=True)
    # 2 of 3 complete triplets affirmed: Wilson 95% (0.2077, 0.9385)
    assert (r["both_sides_affirmed_lo"], r["both_sides_affirmed_hi"]) == pytest.approx((0.2077, 0.9385), abs=1e-4)
    calm = [row("m", f"t{i}", p, 0.0) for i in range(6) for p in ("landlord", "tenant")]
    r = uplift(frame(calm), bootstrap=50).row(0, named=True)
    # 0 of 6: the upper bound is z^2 / (n + z^2) = 0.3903, not 0
    assert (r["both_sides_affirmed"], r["both_sides_affirmed_lo"]) == (0.0, 0.0)
    assert r["both_sides_affirmed_hi"] == pytest.approx(3.8415 / 9.8415, abs=1e-4)


def test_by_factor_p_values_are_exact_and_holm_adjusted():
    si = {50: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], 100: [0.2] * 8, 200: [0.3, -0.1]}
    rows = [
        row("m", f"a{amount}-{i}", p, sign * s, amount=amount)
        for amount, values in si.items() for i, s in enumerate(values)
        for p, sign in (("landlord", 1.0), ("tenant", -1.0))
    ]
    # 18 triplets: 2**18 sign patterns <= permutations, so every p-value is enumerated exactly
    table = by_factor(frame(rows), levels(rows).filter(pl.col("factor") == "amount"), bootstrap=200,
                      permutations=300_000)
    assert table["level"].to_list() == ["50", "100", "200"]
    assert table["n_triplets"].to_list() == [8, 8, 2]
    # all eight of one sign: only the all-plus and all-minus patterns reach it, 2 / 256
    assert table["si_p_value"].to_list() == pytest.approx([2 / 256, 2 / 256, 1.0])
    # Holm: 3 x 2/256, then 2 x 2/256 lifted to the running max, then 1
    assert table["si_p_holm"].to_list() == pytest.approx([6 / 256, 6 / 256, 1.0])


def test_every_table_carries_n_triplets():
    rows = frame(three_triplets("m1") + three_triplets("m2") + three_triplets("m1", scorer="offline"))
    calls = pl.DataFrame({"model_id": ["m1", "m2"], "role": ["target"] * 2, "error_class": [None, None],
                          "latency_s": [1.0, 1.0], "cached": [False, False], "prompt_tokens": [1, 1],
                          "completion_tokens": [1, 1], "reasoning_tokens": [0, 0], "cost_usd": [0.0, 0.0]},
                         schema_overrides={"error_class": pl.String})
    tables = build_tables(rows, calls, bootstrap=50)
    for name, table in tables.items():
        if name != "summary":  # summary keeps exactly the original package's columns
            assert "n_triplets" in table.columns, name
    mix = tables["stance_mix"].filter(pl.col("model_id") == "m1", pl.col("scorer") == "judge")
    # landlord in t1-t4, tenant in t1-t3, neutral scorable in t1, t2, t4; four triplets in all
    assert mix["n_triplets"].to_list() == [4, 3, 3, 4]
    assert tables["compare"]["n_triplets"].to_list() == [3]
    assert tables["health"]["n_triplets"].to_list() == [4, 4]
    assert tables["agreement"].filter(pl.col("model_id") == "m1")["n_triplets"].to_list() == [4]


def test_job_summary_counts_every_call_of_the_job():
    from sycobench.config import ReportConfig
    from sycobench.report.job import job_tables

    results = frame(three_triplets())
    calls = pl.DataFrame({"model_id": ["m1"] * 15, "role": ["target"] * 13 + ["judge"] * 2,
                          "error_class": [None] * 12 + ["server_error", None, None]})
    tables = job_tables(results, ReportConfig(bootstrap=100), calls)
    assert tables["summary"].columns == ["scenario", *SUMMARY_COLUMNS]
    assert tables["summary"]["n"].to_list() == [13]
    assert tables["uplift"]["n_scored"].to_list() == [10]


def test_a_small_tied_factor_cell_never_jumps_to_the_far_bound():
    """The issue's case: a by_factor cell of 9 triplets with judge-like ties. Six triplets at SI -0.5
    make some resamples all -0.5 (se* = 0), and the old bootstrap-t read -0.333 [-0.504, +1.000].
    Below 20 triplets the cell gets the t interval, by hand: mean -1/3, sd sqrt(0.625 / 8),
    t_8 = 2.306004 -> -0.3333 +- 0.2148."""
    cell = [-0.5] * 6 + [-0.25, 0.0, 0.25]
    other = [0.25, 0.5, 0.0, 0.25, 0.75, 0.5, 0.25, 0.0, 0.5]
    rows = []
    for level, values in (("small", cell), ("large", other)):
        for i, si in enumerate(values):
            t = f"{level}{i}"
            rows += [row("m", t, "landlord", si, amount=level), row("m", t, "tenant", -si, amount=level)]
    table = by_factor(frame(rows), levels(rows), bootstrap=2000, seed=0, permutations=1000)
    small = table.filter(pl.col("factor") == "amount", pl.col("level") == "small").row(0, named=True)
    half = 2.306004135 * np.sqrt(0.625 / 8) / 3
    assert small["n_triplets"] == 9
    assert small["sycophancy_index"] == pytest.approx(-1 / 3)
    assert (small["sycophancy_index_lo"], small["sycophancy_index_hi"]) == pytest.approx((-1 / 3 - half, -1 / 3 + half))
    assert small["sycophancy_index_hi"] < 0  # the old interval reached +1.000, away from the estimate


def clustered_answers(*, replicates, prompts, samples, seed, p=0.3, icc=0.5):
    """Known truth for proportions with K samples per prompt: each prompt's chance of a pro-A answer
    is drawn from Beta(p (1/icc - 1), (1 - p) (1/icc - 1)), so P(pos) = p and samples of one prompt
    correlate with intra-class correlation `icc`; the design effect is 1 + (K - 1) icc."""
    rng = np.random.default_rng(seed)
    s = 1.0 / icc - 1.0
    chance = np.repeat(rng.beta(p * s, (1 - p) * s, (replicates, prompts)), samples, axis=1)
    pos = rng.random(chance.shape) < chance
    r, c, k = (a.ravel() for a in np.meshgrid(np.arange(replicates), np.arange(prompts), np.arange(samples),
                                              indexing="ij"))
    return pl.DataFrame({"model_id": [f"rep{x}" for x in r], "scorer": "sim", "triplet_id": [f"t{x}" for x in c],
                         "prompt_id": [f"t{x}-a" for x in c], "side": "a", "k": k,
                         "score": np.where(pos.ravel(), 0.6, 0.0)})


def test_proportions_with_several_samples_per_prompt_cover_at_95_percent():
    """40 prompts x 3 samples, ICC 0.5 (deff 2): Wilson over 120 answers as if independent covers
    P(pos) = 0.3 in about 83% of data sets; with the design effect, in about 95%."""
    results = clustered_answers(replicates=2000, prompts=40, samples=3, seed=5)
    mix = stance_mix(results).filter(pl.col("side") == "a")
    covered = ((pl.col("p_pos_lo") <= 0.3) & (pl.col("p_pos_hi") >= 0.3)).mean()
    assert mix.select(covered).item() >= 0.93  # MC standard error 0.005 over 2000 data sets
    naive_lo, naive_hi = wilson_interval(pl.col("p_pos") * pl.col("n"), "n")
    naive = mix.with_columns(p_pos_lo=naive_lo, p_pos_hi=naive_hi)
    assert naive.select(covered).item() <= 0.88
    rates = uplift(results, bootstrap=100, permutations=10)
    assert rates["a_agree_p"].to_list() == mix["p_pos"].to_list()
    assert rates.select(((pl.col("a_agree_p_lo") <= 0.3) & (pl.col("a_agree_p_hi") >= 0.3)).mean()).item() >= 0.93
    # one sample per prompt: the plain Wilson interval, unchanged
    single = stance_mix(clustered_answers(replicates=50, prompts=40, samples=1, seed=6)).filter(pl.col("side") == "a")
    plain_lo, plain_hi = wilson_interval(pl.col("p_pos") * pl.col("n"), "n")
    expected = single.select(plain_lo.alias("lo"), plain_hi.alias("hi"))
    assert single["p_pos_lo"].to_list() == pytest.approx(expected["lo"].to_list())
    assert single["p_pos_hi"].to_list() == pytest.approx(expected["hi"].to_list())


def test_answers_no_scorer_saw_are_not_scored_not_unscorable():
    rows = three_triplets()  # t2 landlord k=1 and t3 neutral are unscorable (a scorer saw them)
    never = [dict(row("m1", "t5", p, None), scored=False) for p in ("landlord", "tenant", "neutral")]
    results = frame([dict(r, scored=True) for r in rows] + never)
    mix = stance_mix(results)
    pooled = mix.filter(pl.col("side") == "all").row(0, named=True)
    assert (pooled["n"], pooled["unscorable_n"], pooled["not_scored_n"]) == (10, 2, 3)
    assert stance_mix(frame(rows)).filter(pl.col("side") == "all")["not_scored_n"].to_list() == [0]
    calls = pl.DataFrame({"model_id": ["m1"], "role": ["target"], "error_class": [None], "latency_s": [1.0],
                          "cached": [False], "prompt_tokens": [1], "completion_tokens": [1], "reasoning_tokens": [0],
                          "cost_usd": [0.0]}, schema_overrides={"error_class": pl.String})
    table = health(calls, results).row(0, named=True)
    assert (table["unscorable_rate"], table["not_scored_n"]) == (pytest.approx(2 / 12), 3)
    assert health(calls, frame(never)).row(0, named=True)["unscorable_rate"] is None
    # a mean over scorers counts an answer as scored if any of them saw it
    both = pl.concat([results, results.with_columns(scorer=pl.lit("offline"))])
    assert combine_scorers(both)["scored"].to_list() == results["scored"].to_list()


def test_the_stance_mix_is_the_same_to_the_last_bit_whatever_the_rows_order() -> None:
    """A mean is summed in one order, not in the order a parallel sum's threads finish or the records came in:
    the same scores give the same table, bit for bit (its CSV was different from one run to the next)."""
    rng = np.random.default_rng(7)
    n = 3 * 2 * 400 * 3 * 2
    results = pl.DataFrame({
        "model_id": np.repeat([f"m{i}" for i in range(3)], n // 3),
        "scorer": np.tile(np.repeat(["offline", "judge:j"], n // 6), 3),
        "triplet_id": np.tile(np.repeat([f"t{i:03d}" for i in range(400)], 6), 6),
        "side": np.tile(np.repeat(["a", "b", "neutral"], 2), n // 6),
        "k": np.tile([0, 1], n // 2),
        "score": rng.uniform(-1, 1, n) / 3,  # thirds and other fractions that do not add up exactly
    }).with_columns(prompt_id=pl.col("triplet_id") + pl.col("side"))
    key = ["model_id", "scorer", "side"]
    mix = stance_mix(results).sort(key)
    for seed in range(3):
        shuffled = stance_mix(results.sample(fraction=1.0, shuffle=True, seed=seed)).sort(key)
        assert_frame_equal(shuffled, mix, check_exact=True)


def test_a_prompt_asked_in_two_triplets_is_one_cluster_whether_or_not_its_rows_are_merged() -> None:
    """A prompt's own answers are one cluster of the bins' and agree rates' intervals, however many rows of
    the per-prompt sums they span. Where each prompt is one row (the usual grid), the tables take the rows as
    they are, with the same figures as merging them; where one is not, they merge."""
    import dataclasses

    from sycobench.report.frame import prepare
    from sycobench.report.tables import _binned, _stance_mix

    def tables(inp):
        return _stance_mix(inp, 0.33), _binned(inp, 0.33).collect().sort("model_id", "scorer")

    stance = [0.8, -0.8, 0.8, 0.0, -0.8, 0.8, 0.0, 0.8]  # party A's prompts: each one's 4 samples agree
    rows = [row("m1", f"t{t}", side, score if side == "landlord" else -0.5 if side == "tenant" else 0.1, k=k)
            for t, score in enumerate(stance) for k in range(4) for side in ("landlord", "tenant", "neutral")]
    usual = prepare(frame(rows))
    assert usual.one_row_per_prompt
    for got, merged in zip(tables(usual), tables(dataclasses.replace(usual, one_row_per_prompt=False)), strict=True):
        assert_frame_equal(got, merged, check_exact=True)

    # t2 asks party A's prompt of t0 again, as its own (not `dup`): one cluster of 8 answers, not two of 4
    inp = prepare(frame([r | {"prompt_id": "t0-landlord"} if r["prompt_id"] == "t2-landlord" else r for r in rows]))
    assert not inp.one_row_per_prompt
    (mix, binned), (two_mix, two_binned) = tables(inp), tables(dataclasses.replace(inp, one_row_per_prompt=True))
    a = pl.col("side") == "a"
    assert mix.filter(a)["p_pos_lo"].item() < two_mix.filter(a)["p_pos_lo"].item()  # one larger cluster: wider
    assert binned["a_agree_p_lo"].item() < two_binned["a_agree_p_lo"].item()
    assert binned["a_n"].item() == two_binned["a_n"].item() == 32  # the same answers, counted once either way
