import contextlib
import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sycobench.stats import (
    HELD_WEIGHTS,
    Resamples,
    WeightCache,
    bootstrap_weights,
    cluster_bootstrap,
    clustered_wilson_interval,
    holm_adjust,
    krippendorff_alpha_interval,
    paired_bootstrap,
    quadratic_weighted_kappa,
    sign_flip_pvalues,
    spearman,
    spearman_brown,
    split_half_reliability,
    stance_codes,
    student_t_quantile,
    wilson_interval,
)


def wilson(k, n):
    frame = pl.DataFrame({"k": k, "n": n})
    lo, hi = wilson_interval("k", "n")
    out = frame.select(lo.alias("lo"), hi.alias("hi"))
    return list(zip(out["lo"].to_list(), out["hi"].to_list()))


def test_wilson_matches_published_bounds():
    (lo0, hi0), (lo5, hi5), (lo10, hi10), (lo_empty, hi_empty) = wilson([0, 5, 10, 0], [10, 10, 10, 0])
    assert lo0 == pytest.approx(0.0, abs=1e-12) and hi0 == pytest.approx(0.2775, abs=1e-4)
    assert (lo5, hi5) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert (lo10, hi10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert lo_empty is None and hi_empty is None


def test_wilson_by_hand_for_one_of_four():
    z = 1.959963984540054
    n, p = 4, 0.25
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson([1], [4])[0] == pytest.approx((centre - half, centre + half))


def test_stance_codes_bounds_are_inclusive():
    codes = stance_codes(np.array([-1.0, -0.33, -0.3299, 0.0, 0.3299, 0.33, 1.0]), threshold=0.33)
    assert codes.tolist() == [0, 0, 1, 1, 1, 2, 2]


def naive_ranks(x):
    return np.array([(x < v).sum() + ((x == v).sum() + 1) / 2 for v in x])


def test_spearman_hand_case_and_ties():
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4])) == pytest.approx(0.8)
    a = np.array([0.1, 0.5, 0.5, -0.2, 0.9, 0.5, np.nan])
    b = np.array([0.0, 0.3, 0.6, -0.5, 0.6, 0.1, 0.4])
    keep = ~np.isnan(a)
    expected = np.corrcoef(naive_ranks(a[keep]), naive_ranks(b[keep]))[0, 1]
    assert spearman(a, b) == pytest.approx(expected)


def brute_alpha(ratings):
    """Interval alpha from the coincidence pairs, written out loop by loop."""
    pairs = []
    for unit in ratings.T:
        vals = unit[~np.isnan(unit)]
        if len(vals) < 2:
            continue
        for i, j in itertools.permutations(range(len(vals)), 2):
            pairs.append((vals[i], vals[j], 1.0 / (len(vals) - 1)))
    n = sum(w for *_, w in pairs)
    d_o = sum(w * (x - y) ** 2 for x, y, w in pairs) / n
    pooled = [v for unit in ratings.T for v in unit[~np.isnan(unit)] if (~np.isnan(unit)).sum() >= 2]
    d_e = sum((x - y) ** 2 for x, y in itertools.permutations(pooled, 2)) / (n * (n - 1))
    return 1 - d_o / d_e


def test_krippendorff_alpha_hand_case():
    # D_o = 1/3, D_e = 2 * var([1, 2, 3, 1, 2, 4], ddof=1) = 82/30, alpha = 1 - 10/82
    assert krippendorff_alpha_interval(np.array([[1.0, 2, 3], [1.0, 2, 4]])) == pytest.approx(36 / 41)


def test_krippendorff_alpha_published_case():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders, 12 units, missing
    # values; the interval alpha he reports is 0.849
    n = np.nan
    ratings = np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ])
    assert krippendorff_alpha_interval(ratings) == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha_interval(ratings) == pytest.approx(brute_alpha(ratings))


def test_krippendorff_alpha_with_missing_values_and_three_coders():
    ratings = np.array([
        [0.2, 0.5, np.nan, -0.4, 1.0, 0.0],
        [0.1, 0.6, 0.3, -0.5, np.nan, np.nan],
        [0.4, np.nan, 0.2, -0.1, 0.8, 0.3],
    ])
    assert krippendorff_alpha_interval(ratings) == pytest.approx(brute_alpha(ratings))


def naive_kappa(a, b, c=3):
    obs = np.zeros((c, c))
    for x, y in zip(a, b):
        obs[x, y] += 1
    obs /= obs.sum()
    num = den = 0.0
    for i in range(c):
        for j in range(c):
            w = (i - j) ** 2 / (c - 1) ** 2
            num += w * obs[i, j]
            den += w * obs[i, :].sum() * obs[:, j].sum()
    return 1 - num / den


def test_quadratic_kappa_hand_cases():
    assert quadratic_weighted_kappa(np.array([0, 2]), np.array([2, 0])) == pytest.approx(-1.0)
    assert quadratic_weighted_kappa(np.array([0, 1, 2]), np.array([0, 1, 2])) == pytest.approx(1.0)
    a = np.array([0, 1, 2, 2, 1, 0, 2, 1])
    b = np.array([0, 2, 2, 1, 1, 0, 2, 0])
    assert quadratic_weighted_kappa(a, b) == pytest.approx(naive_kappa(a, b))


def test_sign_flip_exact_enumeration():
    # sums over the 8 sign patterns of (1, 2, 3): +-6, +-4, +-2, 0, 0 -> |sum| >= 6 in 2 of 8
    assert sign_flip_pvalues(np.array([1.0, 2.0, 3.0]), permutations=8) == pytest.approx(0.25)
    # NaN (incomplete triplet) contributes nothing; (1, 1): |sum| >= 2 in 2 of 4 patterns
    assert sign_flip_pvalues(np.array([1.0, np.nan, 1.0]), permutations=100) == pytest.approx(0.5)
    assert sign_flip_pvalues(np.zeros(4)) == pytest.approx(1.0)
    # a column is enumerated on its own rows: 3 values among 20 rows, 2**3 <= 10 patterns
    sparse = np.full((20, 2), np.nan)
    sparse[[2, 9, 15], 0] = [1.0, 2.0, 3.0]
    sparse[:, 1] = 1.0  # 20 rows: sampled; only the all-plus and all-minus patterns reach 20
    p = sign_flip_pvalues(sparse, permutations=10)
    assert p[0] == pytest.approx(0.25) and p[1] == pytest.approx(1 / 11)


def test_sign_flip_random_flips_approach_the_exact_value():
    values = np.random.default_rng(3).normal(0.15, 0.5, 14)
    patterns = np.array(list(itertools.product([-1.0, 1.0], repeat=14)))
    exact = (np.abs(patterns @ values) >= abs(values.sum()) - 1e-12).mean()
    sampled = sign_flip_pvalues(values, permutations=10_000, seed=1)
    assert sampled == pytest.approx(exact, abs=0.015)
    assert sign_flip_pvalues(values, permutations=10_000, seed=1) == sampled
    batched = sign_flip_pvalues(np.column_stack([values, -values, values * 0.5]), permutations=10_000, seed=1)
    assert batched == pytest.approx([sampled] * 3)


def test_bootstrap_weights_are_seeded_counts():
    w = bootstrap_weights(7, bootstrap=50, seed=4)
    assert w.shape == (50, 7) and (w.sum(axis=1) == 7).all()
    assert np.array_equal(w, bootstrap_weights(7, bootstrap=50, seed=4))
    assert not np.array_equal(w, bootstrap_weights(7, bootstrap=50, seed=5))
    cache = WeightCache(bootstrap=50, seed=4)
    assert np.array_equal(cache(7), w) and cache(7) is cache(7)


@pytest.mark.parametrize(("n", "bootstrap"), [(1, 300), (7, 513), (60, 1000), (300, 257)])
def test_bootstrap_weights_are_the_counts_of_one_seeded_index_matrix(n, bootstrap):
    """Drawn a block of resamples at a time, the counts are those of the whole (bootstrap, n) index matrix
    drawn at once with default_rng(seed), so every interval is the one the same seed always gave."""
    index = np.random.default_rng(11).integers(0, n, size=(bootstrap, n))
    expected = np.stack([np.bincount(row, minlength=n) for row in index])
    assert np.array_equal(bootstrap_weights(n, bootstrap=bootstrap, seed=11), expected)


@pytest.mark.parametrize(("n", "bootstrap", "draws"), [(7, 513, 1 << 17), (300, 600, 900), (1001, 300, 999)])
def test_resamples_draw_the_same_counts_a_few_rows_at_a_time(monkeypatch, n, bootstrap, draws):
    """Resamples never holds the (bootstrap, n) counts: it draws them again, a few rows at a time (odd row
    counts too), at each use; every block and every interval is the one bootstrap_weights gives."""
    import sycobench.stats as stats

    index = np.random.default_rng(11).integers(0, n, size=(bootstrap, n))
    expected = np.stack([np.bincount(row, minlength=n) for row in index])
    monkeypatch.setattr(stats, "_DRAWS", draws)
    resamples = Resamples(n, bootstrap=bootstrap, seed=11)
    assert resamples.shape == (bootstrap, n)
    for _ in range(2):  # drawn anew, the same each time
        assert np.array_equal(np.concatenate(list(resamples.blocks())), expected)
    assert np.array_equal(bootstrap_weights(n, bootstrap=bootstrap, seed=11), expected)
    values = np.random.default_rng(2).normal(0.2, 0.5, (n, 3))
    values[::5, 1] = np.nan
    held = cluster_bootstrap(values, weights=expected.astype(np.uint8), bounds=(-1.0, 1.0))
    drawn = cluster_bootstrap(values, weights=resamples, bounds=(-1.0, 1.0))
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(held, drawn))


def test_weight_cache_holds_small_weights_and_draws_large_ones_again(monkeypatch):
    import sycobench.stats as stats

    cache = WeightCache(bootstrap=1000, seed=3)
    assert isinstance(cache(HELD_WEIGHTS // 1000), np.ndarray)
    large = cache(HELD_WEIGHTS // 1000 + 1)
    assert isinstance(large, Resamples) and large.shape == (1000, HELD_WEIGHTS // 1000 + 1) and cache(large.n) is large
    monkeypatch.setattr(stats, "HELD_WEIGHTS", 10)
    drawn = WeightCache(bootstrap=50, seed=4)(7)
    assert isinstance(drawn, Resamples)
    assert np.array_equal(np.concatenate(list(drawn.blocks())), bootstrap_weights(7, bootstrap=50, seed=4))


def test_cluster_bootstrap_contains_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 1000):
        values = rng.normal(0.3, 0.5, n)
        est, lo, hi = cluster_bootstrap(values, weights=bootstrap_weights(n, bootstrap=1000, seed=0))
        assert est == pytest.approx(values.mean())
        assert lo < est < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 3


def test_cluster_bootstrap_columns_use_their_own_complete_rows():
    values = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 4.0], [np.nan, np.nan]])
    weights = bootstrap_weights(4, bootstrap=200, seed=0)
    est, lo, hi = cluster_bootstrap(values, weights=weights, bounds=(0.0, 6.0))
    assert est == pytest.approx([3.0, 3.0])
    # three and two triplets: the t interval, 3 +- 4.303 * 1.155 and 3 +- 12.706 * 1, passes the whole
    # allowed range on both sides
    assert lo.tolist() == [0.0, 0.0] and hi.tolist() == [6.0, 6.0]
    again = cluster_bootstrap(values, weights=weights, bounds=(0.0, 6.0))
    assert all(np.array_equal(x, y) for x, y in zip((est, lo, hi), again))
    nothing = cluster_bootstrap(np.full(4, np.nan), weights=weights)
    assert all(np.isnan(x) for x in nothing)
    one = cluster_bootstrap(np.array([0.5, np.nan, np.nan, np.nan]), weights=weights)
    assert one[0] == 0.5 and np.isnan(one[1]) and np.isnan(one[2])


def test_studentized_interval_approaches_the_normal_interval_for_many_triplets():
    values = np.random.default_rng(7).normal(0.3, 0.5, 2000)
    est, lo, hi = cluster_bootstrap(values, weights=bootstrap_weights(2000, bootstrap=2000, seed=0))
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert est == pytest.approx(values.mean())
    assert (est - lo, hi - est) == pytest.approx((1.96 * se, 1.96 * se), rel=0.08)


def test_studentized_interval_covers_at_twelve_triplets_where_percentile_does_not():
    """Known truth: mean 0.3; 1000 data sets of 12 triplets, one shared draw as in the tables."""
    n, replicates, truth = 12, 1000, 0.3
    values = np.random.default_rng(11).normal(truth, 0.25, (n, replicates))
    weights = bootstrap_weights(n, bootstrap=1000, seed=0)
    _, lo, hi = cluster_bootstrap(values, weights=weights)
    coverage = ((lo <= truth) & (hi >= truth)).mean()
    means = weights @ values / n
    p_lo, p_hi = np.quantile(means, [0.025, 0.975], axis=0)
    percentile = ((p_lo <= truth) & (p_hi >= truth)).mean()
    assert coverage >= 0.93  # MC standard error of a coverage near 0.95 over 1000 data sets: 0.007
    assert percentile < 0.93


def test_paired_bootstrap_resamples_the_same_rows_for_both():
    rng = np.random.default_rng(1)
    b = rng.normal(0.0, 1.0, 300)
    a = b + 0.2
    diff, lo, hi = paired_bootstrap(a, b, weights=bootstrap_weights(300, bootstrap=500, seed=0))
    assert (diff, lo, hi) == pytest.approx((0.2, 0.2, 0.2))


def test_holm_against_a_hand_worked_example():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert holm_adjust(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm_adjust(np.array([[0.01, np.nan, 0.04, 0.03, 0.005], [0.5, 0.6, np.nan, np.nan, np.nan]]))
    assert adjusted[0, [0, 2, 3, 4]] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and np.isnan(adjusted[0, 1])
    assert adjusted[1, :2] == pytest.approx([1.0, 1.0]) and np.isnan(adjusted[1, 2:]).all()


def test_spearman_brown_and_split_half():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    truth = np.linspace(-1, 1, 40)
    noise = np.random.default_rng(2).normal(0, 0.05, (2, 40))
    r = np.corrcoef(truth + noise[0], truth + noise[1])[0, 1]
    assert split_half_reliability(truth + noise[0], truth + noise[1]) == pytest.approx(2 * r / (1 + r))
    assert np.isnan(split_half_reliability(np.array([1.0, 2.0]), np.array([1.0, 2.0])))


@pytest.mark.slow
def test_known_truth_coverage_and_rejection_at_twelve_triplets(monkeypatch):
    path = Path(__file__).resolve().parents[1] / "bench" / "known_truth.py"
    spec = importlib.util.spec_from_file_location("known_truth", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "known_truth", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    result = module.known_truth(replicates=1000, n_triplets=12, bootstrap=1000, permutations=2000)
    # seeded, so the figures are fixed; the MC standard errors are about 0.007 (coverage) and 0.007 (rate)
    assert result.coverage >= 0.93
    assert result.percentile_coverage < result.coverage
    assert 0.03 <= result.false_positive <= 0.07
    # at 36 triplets five amount levels of about 7 triplets each: raw p-values find "effects" in
    # about a fifth of null data sets, Holm-adjusted ones in at most 5%
    cells = module.known_truth(replicates=400, n_triplets=36, bootstrap=200, permutations=2000)
    assert cells.factor_any_raw >= 0.12 and cells.factor_any_holm <= 0.05


def test_cluster_bootstrap_in_column_chunks_matches_one_pass(monkeypatch):
    import sycobench.stats as stats

    values = np.random.default_rng(4).normal(0.0, 1.0, (9, 7))
    values[2, 3] = np.nan
    weights = bootstrap_weights(9, bootstrap=300, seed=1)
    bounds = np.array([(-1.0, 1.0)] * 4 + [(-2.0, 2.0)] * 3)
    whole = cluster_bootstrap(values, weights=weights, bounds=bounds)
    monkeypatch.setattr(stats, "_BOOT_CHUNK", 3)
    chunked = cluster_bootstrap(values, weights=weights, bounds=bounds)
    assert all(np.allclose(a, b, rtol=0, atol=1e-12, equal_nan=True) for a, b in zip(whole, chunked))


def test_student_t_quantiles_match_the_published_table():
    # two-sided 95% (0.975) and 99% (0.995) points, as printed in any t table
    table = {1: 12.7062047, 2: 4.3026527, 3: 3.1824463, 5: 2.5705818, 8: 2.3060041, 11: 2.2009852, 18: 2.1009220,
             30: 2.0422725, 120: 1.9799304, 1000: 1.9623391}
    for df, expected in table.items():
        assert student_t_quantile(0.975, df) == pytest.approx(expected, abs=2e-7)
        assert student_t_quantile(0.025, df) == pytest.approx(-expected, abs=2e-7)
    assert student_t_quantile(0.995, 5) == pytest.approx(4.0321430, abs=2e-7)
    assert student_t_quantile(0.995, 60) == pytest.approx(2.6602830, abs=2e-7)
    assert student_t_quantile(0.5, 7) == 0.0


def test_below_twenty_triplets_the_interval_is_the_t_interval_by_hand():
    values = np.array([-0.5] * 6 + [-0.25, 0.0, 0.25])  # the tied cell of the issue: old bootstrap-t [-0.486, +1]
    est, lo, hi = cluster_bootstrap(values, weights=bootstrap_weights(9, bootstrap=2000, seed=0), bounds=(-1.0, 1.0))
    half = 2.3060041 * np.sqrt(0.625 / 8) / 3  # t_8 * sd / sqrt(9); sum of squares about -1/3 is 0.625
    assert (est, lo, hi) == pytest.approx((-1 / 3, -1 / 3 - half, -1 / 3 + half))


def test_the_floor_on_the_resampled_se_keeps_tied_data_off_the_bound():
    """20 triplets, 18 at 0 and 2 at 0.5: 12% of resamples are all 0 (se* = 0). Without a floor their
    t* is -inf and the upper end is +1; with se* >= se / 2 their t* is -mean / (se / 2), and as they
    are more than 2.5% of resamples the upper end is mean + 2 mean = 3 mean = 0.15 exactly."""
    values = np.array([0.0] * 18 + [0.5] * 2)
    est, lo, hi = cluster_bootstrap(values, weights=bootstrap_weights(20, bootstrap=2000, seed=0), bounds=(-1.0, 1.0))
    assert est == pytest.approx(0.05)
    assert hi == pytest.approx(0.15)
    assert -0.05 < lo < 0.0  # resamples with 3 or more 0.5s: t* about 1.2 to 1.6


def test_clusters_of_one_triplet_are_the_triplet_bootstrap():
    rng = np.random.default_rng(3)
    for n in (9, 40):  # the t interval and the bootstrap-t
        values = rng.normal(0.2, 0.4, (n, 3))
        values[rng.random((n, 3)) < 0.2] = np.nan
        weights = bootstrap_weights(n, bootstrap=400, seed=2)
        alone = cluster_bootstrap(values, weights=weights)
        clustered = cluster_bootstrap(values, weights=weights, clusters=np.arange(n))
        assert all(np.allclose(a, b, rtol=0, atol=1e-12) for a, b in zip(alone, clustered))


def test_cluster_standard_error_by_hand():
    """Three clusters of two triplets: sums 3, 8, 4 over 6 triplets, mean 15/6 = 2.5; cluster-robust
    se^2 = 3/2 * ((3-5)^2 + (8-5)^2 + (4-5)^2) / 6^2 = 3/2 * 14/36; t interval on 2 df."""
    values = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 0.0])
    est, lo, hi = cluster_bootstrap(values, weights=bootstrap_weights(3, bootstrap=100, seed=0),
                                    clusters=np.array([0, 0, 1, 1, 2, 2]))
    se = np.sqrt(1.5 * 14 / 36)
    assert (est, lo, hi) == pytest.approx((2.5, 2.5 - 4.3026527 * se, 2.5 + 4.3026527 * se))


def clustered(per_prompt):
    """clustered_wilson_interval from (k_c, n_c) per prompt, through the sums the tables compute."""
    k = np.array([c[0] for c in per_prompt], dtype=float)
    n = np.array([c[1] for c in per_prompt], dtype=float)
    frame = pl.DataFrame({"k": [k.sum()], "n": [n.sum()], "k2": [(k * k).sum()], "kn": [(k * n).sum()],
                          "n2": [(n * n).sum()], "g": [(n > 0).sum()]})
    lo, hi = clustered_wilson_interval("k", "n", k2="k2", kn="kn", n2="n2", clusters="g")
    return frame.select(lo.alias("lo"), hi.alias("hi")).row(0)


def test_clustered_wilson_is_wilson_with_one_sample_per_prompt():
    for k, n in ((0, 6), (1, 4), (5, 12), (12, 12)):
        assert clustered([(1, 1)] * k + [(0, 1)] * (n - k)) == pytest.approx(wilson([k], [n])[0])


def test_clustered_wilson_with_identical_samples_is_wilson_over_prompts():
    # 10 prompts x 3 samples, each prompt's samples all alike: 30 answers carry 10 answers' information
    for k in (1, 3, 7):
        assert clustered([(3, 3)] * k + [(0, 3)] * (10 - k)) == pytest.approx(wilson([k], [10])[0])
    # independent-looking samples (within-prompt spread as large as binomial) keep about all 30
    spread = clustered([(1, 3)] * 6 + [(2, 3)] * 3 + [(0, 3)])
    assert spread == pytest.approx(wilson([12], [30])[0], abs=1e-9)  # deff below 1 is kept at 1


def test_bootstrap_weights_take_one_byte_and_grow_only_for_a_count_past_255(monkeypatch):
    n = 300
    rng = np.random.default_rng(9)
    expected = np.array([np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(40)])
    w = bootstrap_weights(n, bootstrap=40, seed=9)
    assert w.dtype == np.uint8 and np.array_equal(w, expected)  # the same draws as before, in a byte each
    import sycobench.stats as stats

    class Stuck:  # every index drawn is 0: one triplet counted 300 times
        def integers(self, low, high, size):
            return np.zeros(size, dtype=np.int64)

    monkeypatch.setattr(stats.np.random, "default_rng", lambda seed: Stuck())
    grown = bootstrap_weights(n, bootstrap=3, seed=0)
    assert grown.dtype == np.uint16 and grown[:, 0].tolist() == [300, 300, 300]


@pytest.mark.parametrize("alpha", [0.0005, 0.005, 0.025, (1 - 0.95) / 2, 0.05, 0.1, 0.25])
def test_interval_quantiles_are_nanquantile_column_by_column(alpha):
    """The bootstrap-t's quantiles: columns without NaN in one call (order statistics found in place), the
    others by nanquantile; the same order statistics either way, NaN rows left out and an all-NaN column NaN."""
    import warnings

    from sycobench import stats

    rng = np.random.default_rng(1)
    for trial in range(30):
        t = rng.standard_t(3, size=(int(rng.integers(1, 2000)), int(rng.integers(1, 30))))
        t[rng.random(t.shape) < (0.0, 0.001, 0.3, 1.0)[trial % 4]] = np.nan
        t[:, 0] = np.inf if trial % 5 == 0 else t[:, 0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanquantile(t, [alpha, 1 - alpha], axis=0, method="inverted_cdf")
        assert all(np.array_equal(e, g, equal_nan=True) for e, g in zip(expected, stats._quantiles(t, alpha))), trial
    for n in (1, 2, 3, 4, 7, 8, 20, 40, 200, 400, 2000, 10_000):  # n alpha a whole number, or just off one
        t = rng.standard_t(3, size=(n, 5))
        expected = np.quantile(t, [alpha, 1 - alpha], axis=0, method="inverted_cdf")
        assert all(np.array_equal(e, g) for e, g in zip(expected, stats._quantiles(t.copy(), alpha))), n


@pytest.mark.parametrize("singletons", [True, False])
def test_bootstrap_t_is_the_same_whatever_rows_are_worked_at_once(monkeypatch, singletons):
    """t* is worked out a few hundred resamples at a time, within blocks of resamples multiplied at once; the
    interval ends depend on neither size."""
    from sycobench import stats

    rng = np.random.default_rng(4)
    values = rng.integers(-8, 9, size=(90, 12)) / 8.0  # eighths: every weighted sum is exact in any order
    values[rng.random(values.shape) < 0.2] = np.nan
    clusters = None if singletons else rng.integers(0, 40, 90)
    weights = stats.bootstrap_weights(90 if singletons else 40, bootstrap=2000, seed=3)
    ends = []
    for rows, product_bytes in ((10**6, 64 << 20), (1, 64 << 20), (7, 1), (512, 1), (300, 1 << 20)):
        monkeypatch.setattr(stats, "_T_ROWS", rows)
        monkeypatch.setattr(stats, "_PRODUCT_BYTES", product_bytes)  # all at once, or blocks of 256 or more
        ends.append(stats.cluster_bootstrap(values, weights=weights, clusters=clusters))
    assert all(np.array_equal(e, ends[0], equal_nan=True) for e in ends[1:])
    assert np.isfinite(ends[0][1]).all() and (ends[0][1] < ends[0][0]).all() and (ends[0][0] < ends[0][2]).all()


@pytest.mark.parametrize("product_bytes", [1, 1 << 20, 8 << 20])
def test_weighted_sums_are_the_same_in_any_block_size(monkeypatch, product_bytes):
    """Resamples are converted and multiplied a block at a time, every row in its place whatever the block's
    size (eighths: every sum is exact, so the test does not depend on the order a BLAS adds in)."""
    from sycobench import stats

    rng = np.random.default_rng(2)
    weights = stats.bootstrap_weights(60, bootstrap=3000, seed=0)
    columns = rng.integers(-1000, 1000, size=(60, 40)) / 8.0
    expected = np.vstack([weights[i:i + 256].astype(np.float64) @ columns for i in range(0, 3000, 256)])  # as before
    monkeypatch.setattr(stats, "_PRODUCT_BYTES", product_bytes)  # 256 rows a block, 2,184, or all 3,000 at once
    blocks = list(stats._weighted_blocks(weights, columns))
    assert [start for start, _ in blocks] == list(np.cumsum([0] + [len(b) for _, b in blocks[:-1]]))
    assert np.array_equal(np.vstack([b for _, b in blocks]), expected)


def test_the_bootstrap_s_and_sign_flips_products_run_on_one_blas_thread(monkeypatch) -> None:
    """A second BLAS thread only spin-waits between the many small products, beside Polars' threads; the
    limit holds inside the products only, and the estimates are the same as without it."""
    from threadpoolctl import threadpool_info

    from sycobench import stats

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    inside: list[set[int]] = []
    real = stats.one_blas_thread

    class Watched:
        def __enter__(self):
            self.limit = real()
            self.limit.__enter__()
            inside.append(blas_threads())

        def __exit__(self, *exc):
            return self.limit.__exit__(*exc)

    values = np.random.default_rng(1).normal(size=(40, 3))
    weights = bootstrap_weights(40, bootstrap=500, seed=0)
    monkeypatch.setattr(stats, "one_blas_thread", contextlib.nullcontext)  # as many BLAS threads as it likes
    plain = cluster_bootstrap(values, weights=weights), sign_flip_pvalues(values, permutations=400, seed=0)
    monkeypatch.setattr(stats, "one_blas_thread", Watched)
    limited = cluster_bootstrap(values, weights=weights), sign_flip_pvalues(values, permutations=400, seed=0)
    assert len(inside) >= 2 and all(threads == {1} for threads in inside)  # both kinds of product
    assert blas_threads() == before
    np.testing.assert_allclose(np.concatenate([*plain[0], plain[1]]), np.concatenate([*limited[0], limited[1]]))
