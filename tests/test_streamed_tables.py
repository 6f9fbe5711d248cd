"""The table step from per-prompt sums: the same tables from a DataFrame and from a lazy scan of a
columnar copy, and the sums against the per-answer definitions they replace."""

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sycobench.report.frame import prepare
from sycobench.report.paired import build_grid
from sycobench.report.tables import build_tables, stance_mix, uplift

SIDE = {"landlord": "a", "tenant": "b", "neutral": "neutral"}


def mixed_results() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Two scenarios, two models, two scorers, two samples a prompt, factor levels; unscorable answers
    (null score), answers no scorer saw (`scored` false), and shared neutral answers (`dup` rows)."""
    rng = np.random.default_rng(7)
    rows, levels = [], []
    for scenario in ("rent", "raise"):
        for t in range(24):
            triplet = f"{scenario}-t{t:02d}"
            levels += [(scenario, triplet, "amount", str(50 * (1 + t % 3))), (scenario, triplet, "tone", "ab"[t % 2])]
            # every fourth triplet shares the neutral answer of the triplet before it (a legacy import's `dup`)
            shared = t % 4 == 3
            for model in ("m1", "m2"):
                for perspective, sign in (("landlord", 1), ("tenant", -1), ("neutral", 0)):
                    prompt = f"{triplet}-{perspective}"
                    if shared and perspective == "neutral":
                        prompt = f"{scenario}-t{t - 1:02d}-neutral"
                    for k in range(2):
                        base = float(np.clip(sign * 0.3 + rng.normal(0, 0.3), -1, 1))
                        for scorer in ("offline", "judge"):
                            score = round(base + (0.05 if scorer == "judge" else 0.0), 3)
                            scored = not (t == 5 and model == "m2")  # a triplet no scorer saw
                            if rng.random() < 0.08 or not scored:
                                score = None  # unscorable (or not scored)
                            rows.append({"job": f"j-{model}", "model_id": model, "scorer": scorer, "scenario": scenario,
                                         "triplet_id": triplet, "prompt_id": prompt, "perspective": perspective,
                                         "side": SIDE[perspective], "k": k, "score": score, "scored": scored,
                                         "dup": shared and perspective == "neutral"})
    results = pl.DataFrame(rows, schema_overrides={"score": pl.Float64})
    # a dup row repeats its answer's score and scored flag from the triplet it was first recorded in
    first = results.filter(~pl.col("dup")).select("model_id", "scorer", "prompt_id", "k", "score", "scored")
    results = (results.join(first, on=["model_id", "scorer", "prompt_id", "k"], how="left", suffix="_first",
                            maintain_order="left")
               .with_columns(score=pl.when("dup").then("score_first").otherwise("score"),
                             scored=pl.when("dup").then("scored_first").otherwise("scored"))
               .drop("score_first", "scored_first"))
    calls = (results.filter(pl.col("scorer") == "offline", ~pl.col("dup"))
             .select("model_id", "scenario", "prompt_id", "k", role=pl.lit("target"), error_class=pl.lit(None, pl.String),
                     latency_s=pl.lit(1.0), queued_s=pl.lit(0.1), cached=pl.lit(False), prompt_tokens=pl.lit(10),
                     completion_tokens=pl.lit(20), reasoning_tokens=pl.lit(0), cost_usd=pl.lit(0.001)))
    factors = pl.DataFrame(levels, schema=["scenario", "triplet_id", "factor", "level"], orient="row")
    return results, calls, factors


def same(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Equal: every count and key exactly, every float to 1e-13, since the order in which Polars
    adds floats in a group follows how its input is chunked (a Parquet file's row groups, a frame's chunks)."""
    assert_frame_equal(left, right, check_exact=False, rel_tol=1e-13, abs_tol=1e-15)
    exact = [c for c, dtype in left.schema.items() if not dtype.is_float()]
    assert_frame_equal(left.select(exact), right.select(exact), check_exact=True)


@pytest.mark.parametrize("row_group", [7, 100, 100_000])
def test_tables_from_a_lazy_copy_equal_the_tables_from_a_frame(tmp_path, row_group):
    results, calls, factors = mixed_results()
    copy = tmp_path / "results.parquet"
    results.write_parquet(copy, row_group_size=row_group)
    options = {"levels": factors, "bootstrap": 400, "permutations": 400, "seed": 3}
    eager = build_tables(results, calls, **options)
    streamed = build_tables(pl.scan_parquet(copy), calls, **options)
    assert set(eager) == set(streamed) >= {"stance_mix", "uplift", "summary", "compare", "by_factor", "agreement",
                                           "health"}
    for name in eager:
        same(streamed[name], eager[name])
    headline = build_tables(pl.scan_parquet(copy), calls, summary_scorer="judge", **options)["summary"]
    same(headline, build_tables(results, calls, summary_scorer="judge", **options)["summary"])
    # what the tables say is the data's: both scenarios, both scorers, every kind of row counted
    mix = eager["stance_mix"].filter(pl.col("side") == "all")
    assert mix["scenario"].unique().sort().to_list() == ["raise", "rent"]
    assert mix["not_scored_n"].sum() == results.filter(~pl.col("scored"), ~pl.col("dup")).height
    assert mix["unscorable_n"].sum() == results.filter(pl.col("scored"), pl.col("score").is_null(),
                                                       ~pl.col("dup")).height


def test_cell_means_and_counts_from_sums_are_the_per_answer_ones():
    results, _, _ = mixed_results()
    rent = results.filter(pl.col("scenario") == "rent")
    grid = build_grid(prepare(rent))
    # the grid's cell means against a plain mean of every row of the cell (dup rows included)
    direct = rent.group_by("model_id", "scorer", "triplet_id").agg(
        *(pl.col("score").filter(pl.col("side") == p).mean().alias(f"m_{p}") for p in SIDE.values()))
    cells = grid.cells.join(direct, on=["model_id", "scorer", "triplet_id"], suffix="_direct")
    assert cells.height == grid.cells.height
    for p in SIDE.values():
        assert cells[f"m_{p}"].to_list() == cells[f"m_{p}_direct"].to_list()
    # the stance mix's counts against the answers themselves (a shared answer counted once)
    own = rent.filter(~pl.col("dup"))
    mix = stance_mix(rent).filter(pl.col("side") == "all").sort("model_id", "scorer")
    direct = own.group_by("model_id", "scorer").agg(
        n=pl.col("score").count(), pos=(pl.col("score") >= 0.33).sum(),
        mean=pl.col("score").mean()).sort("model_id", "scorer")
    assert mix["n"].to_list() == direct["n"].to_list()
    assert mix["p_pos"].to_list() == pytest.approx((direct["pos"] / direct["n"]).to_list(), rel=1e-12)
    assert mix["mean_score"].to_list() == pytest.approx(direct["mean"].to_list(), rel=1e-12)


def test_agree_rates_count_a_shared_neutral_answer_once():
    results, _, _ = mixed_results()
    rent = results.filter(pl.col("scenario") == "rent", pl.col("scorer") == "offline", pl.col("model_id") == "m1")
    table = uplift(rent, bootstrap=50, permutations=50).row(0, named=True)
    scored = rent.filter(pl.col("score").is_not_null())
    asked = scored.filter(~pl.col("dup"), pl.col("side") == "a")
    assert table["a_n"] == asked.height
    assert table["a_agree_p"] == pytest.approx((asked["score"] >= 0.33).mean(), rel=1e-12)
    # the binned uplift's base: each neutral answer once, if any triplet it serves has a scored A answer
    with_a = scored.filter(pl.col("side") == "a").select("triplet_id").unique()
    base = (scored.filter(pl.col("side") == "neutral").join(with_a, on="triplet_id")
            .unique(["prompt_id", "k"]))
    near = scored.filter(~pl.col("dup"), pl.col("side") == "a").join(
        scored.filter(pl.col("side") == "neutral").select("triplet_id").unique(), on="triplet_id")
    expected = (near["score"] >= 0.33).mean() - (base["score"] >= 0.33).mean()
    assert table["a_uplift"] == pytest.approx(expected, rel=1e-12)


def test_tables_with_weights_drawn_again_equal_the_tables_with_weights_held(monkeypatch):
    """Above stats.HELD_WEIGHTS the bootstrap's counts are drawn again at each use (stats.Resamples), not
    held: every table, shared clusters and factor cells included, is the same to the last bit."""
    import sycobench.stats as stats

    results, calls, factors = mixed_results()
    options = {"levels": factors, "bootstrap": 600, "permutations": 400, "seed": 5}
    held = build_tables(results, calls, **options)
    monkeypatch.setattr(stats, "HELD_WEIGHTS", 0)
    monkeypatch.setattr(stats, "_DRAWS", 50)  # a few rows of resamples at a time
    drawn = build_tables(results, calls, **options)
    assert set(held) == set(drawn) >= {"uplift", "compare", "by_factor"}
    for name in held:  # Polars may add a group's floats in another order from one run to the next
        same(drawn[name], held[name])
    for name in ("uplift", "compare", "by_factor"):  # the intervals are the same to the last bit
        assert_frame_equal(drawn[name], held[name], check_exact=True)
