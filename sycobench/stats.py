"""Statistics behind the report tables (see the metric definitions in the docs).

Everything here is pure NumPy or a Polars expression, so the table builders can
resample thousands of triplets for many models at once. Per-triplet quantities
arrive as arrays with NaN where a triplet lacks the cells a metric needs; every
mean is taken over the non-NaN entries, and resampling always carries whole
triplets (rows) together.
"""

from __future__ import annotations

from collections import OrderedDict
import warnings

import numpy as np
import polars as pl

__all__ = [
    "Z95",
    "wilson_interval",
    "stance_codes",
    "bootstrap_weights",
    "WeightCache",
    "cluster_bootstrap",
    "paired_bootstrap",
    "holm_adjust",
    "sign_flip_pvalues",
    "spearman",
    "krippendorff_alpha_interval",
    "quadratic_weighted_kappa",
    "spearman_brown",
    "split_half_reliability",
]

Z95 = 1.959963984540054
_FLIP_CHUNK = 1024
_BOOT_CHUNK = 256
_BOOT_ROWS = 256  # resamples (or sign patterns) converted to float64 at a time


def wilson_interval(
    successes: pl.Expr | str, n: pl.Expr | str, *, z: float = Z95
) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score bounds for successes/n; null where n is 0."""
    k = pl.col(successes) if isinstance(successes, str) else successes
    n = pl.col(n) if isinstance(n, str) else n
    n_f = n.cast(pl.Float64)
    p = k.cast(pl.Float64) / n_f
    denom = 1.0 + z * z / n_f
    centre = (p + z * z / (2.0 * n_f)) / denom
    half = z / denom * (p * (1.0 - p) / n_f + z * z / (4.0 * n_f * n_f)).sqrt()
    valid = n > 0
    lo = pl.when(valid).then((centre - half).clip(0.0, 1.0))
    hi = pl.when(valid).then((centre + half).clip(0.0, 1.0))
    return lo, hi


def stance_codes(values: np.ndarray, *, threshold: float) -> np.ndarray:
    """Bin codes 0 = neg (y <= -tau), 1 = neu, 2 = pos (y >= tau); both bounds inclusive."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values >= threshold, 2, np.where(values <= -threshold, 0, 1))


def bootstrap_weights(n: int, *, bootstrap: int, seed: int) -> np.ndarray:
    """Resampling counts (bootstrap x n) from the index matrix drawn with default_rng(seed), in the
    smallest unsigned type that holds n: a quarter or an eighth of float64's memory."""
    rng = np.random.default_rng(seed)
    weights = np.empty((bootstrap, n), dtype=np.min_scalar_type(n))
    for b in range(bootstrap):  # row by row: the same draws as one (bootstrap, n) matrix, without holding it
        weights[b] = np.bincount(rng.integers(0, n, size=n), minlength=n)
    return weights


def _weighted_sums(weights: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """weights @ columns in float64, converting _BOOT_ROWS resamples at a time (the counts stay small)."""
    out = np.empty((weights.shape[0], columns.shape[1]))
    for start in range(0, weights.shape[0], _BOOT_ROWS):
        out[start:start + _BOOT_ROWS] = weights[start:start + _BOOT_ROWS].astype(np.float64) @ columns
    return out


class WeightCache:
    """Bootstrap weights keyed by triplet count.

    Because every (model, scorer) is seeded with the same seed, two of them with
    the same number of triplets draw the same index matrix; caching the last few
    sizes lets a whole grid of models share one draw.
    """

    def __init__(self, *, bootstrap: int, seed: int, keep: int = 2) -> None:
        self.bootstrap = bootstrap
        self.seed = seed
        self._keep = keep
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __call__(self, n: int) -> np.ndarray:
        if n in self._cache:
            self._cache.move_to_end(n)
            return self._cache[n]
        weights = bootstrap_weights(n, bootstrap=self.bootstrap, seed=self.seed)
        self._cache[n] = weights
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return weights


def _unique_columns(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct mask columns and, per input column, the index of its distinct column."""
    packed = np.packbits(mask, axis=0)
    seen: dict[bytes, int] = {}
    which = np.array([seen.setdefault(packed[:, j].tobytes(), len(seen)) for j in range(mask.shape[1])])
    first = np.unique(which, return_index=True)[1]
    return mask[:, first], which


def cluster_bootstrap(
    values: np.ndarray, *, weights: np.ndarray, level: float = 0.95,
    bounds: tuple[float, float] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means over triplets with studentized (bootstrap-t) intervals from resampled whole triplets.

    `values` is (n,) or (n, M), one row per triplet, NaN where the triplet lacks
    the metric's cells; `weights` is (B, n) resampling counts. Each resample's
    mean and standard error come from weights @ [x, x^2, mask], so metrics with
    different complete sets share one draw. The interval is
    [mean - t*_hi * se, mean - t*_lo * se], where t* = (mean* - mean) / se* over
    the resamples: unlike the percentile interval, it widens like Student's t
    when triplets are few. A resample made of one repeated value has se* = 0 and
    t* = +-inf, so with very few triplets an end can be infinite; `bounds`
    (lo, hi), one pair or one per column, clips the interval to the metric's
    possible range. Returns (estimate, lo, hi): the estimate is NaN where no
    triplet counts, the interval where fewer than two do; it has zero width
    where every triplet has the same value.
    """
    values = np.asarray(values, dtype=np.float64)
    single = values.ndim == 1
    values = values.reshape(len(values), -1)
    if values.shape[1] > _BOOT_CHUNK:  # bound the (B, 3 * columns) work arrays
        per = None if bounds is None else np.broadcast_to(
            np.asarray(bounds, dtype=np.float64).reshape(-1, 2), (values.shape[1], 2))
        parts = [
            cluster_bootstrap(values[:, j:j + _BOOT_CHUNK], weights=weights, level=level,
                              bounds=None if per is None else per[j:j + _BOOT_CHUNK])
            for j in range(0, values.shape[1], _BOOT_CHUNK)
        ]
        return tuple(np.concatenate(x) for x in zip(*parts))
    mask = ~np.isnan(values)
    masks, which = _unique_columns(mask)
    filled = np.where(mask, values, 0.0)
    m = values.shape[1]
    totals = _weighted_sums(weights, np.hstack([filled, filled * filled, masks.astype(np.float64)]))
    count = totals[:, 2 * m:][:, which]
    used = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = filled.sum(axis=0) / used
        centred = np.where(mask, values - estimate, 0.0)
        se = np.sqrt((centred * centred).sum(axis=0) / (used - 1.0) / used)
        dev = totals[:, :m] / count - estimate
        se_b = np.sqrt(_variance(totals[:, :m], totals[:, m:2 * m], count) / count)
        tol = 1e-9 * np.maximum(1.0, np.abs(estimate))  # below this a spread is rounding, not data
        # se* = 0: one value repeated; t* is infinite unless that value is the estimate itself
        t = np.where(se_b > tol, dev / se_b, np.where(np.abs(dev) <= tol, 0.0, np.sign(dev) * np.inf))
    t[count < 2] = np.nan
    alpha = (1.0 - level) / 2.0
    lo = np.full(m, np.nan)
    hi = np.full(m, np.nan)
    ok = used >= 2
    if ok.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t_lo, t_hi = np.nanquantile(t[:, ok], [alpha, 1.0 - alpha], axis=0, method="inverted_cdf")
            s = se[ok]
            flat = s <= tol[ok]
            lo[ok] = np.where(flat, estimate[ok], estimate[ok] - t_hi * s)
            hi[ok] = np.where(flat, estimate[ok], estimate[ok] - t_lo * s)
    if bounds is not None:
        b = np.broadcast_to(np.asarray(bounds, dtype=np.float64).reshape(-1, 2), (m, 2))
        lo, hi = np.clip(lo, b[:, 0], b[:, 1]), np.clip(hi, b[:, 0], b[:, 1])
    if single:
        return estimate[0], lo[0], hi[0]
    return estimate, lo, hi


def _variance(total: np.ndarray, total_sq: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Sample variance (n - 1) from sums; NaN below two values, never negative from rounding."""
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (total_sq - total * total / count) / (count - 1.0)
    return np.where(count >= 2, np.maximum(var, 0.0), np.nan)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, *, weights: np.ndarray, level: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float, float]:
    """Mean of a - b over rows where both exist; each resample uses the same row indices for both."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return cluster_bootstrap(diff, weights=weights, level=level, bounds=bounds)


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values along the last axis; NaN entries are not tests and stay NaN.

    Sorted ascending, the i-th of m p-values (from 0) becomes max over j <= i of
    min(1, (m - j) p_(j)): the family-wise error rate stays at most alpha.
    """
    p = np.asarray(p, dtype=np.float64)
    single = p.ndim == 1
    p = p.reshape(1, -1) if single else p
    out = np.full(p.shape, np.nan)
    for g, row in enumerate(p):  # one family per row; families are few (one per model and scorer)
        tested = np.flatnonzero(~np.isnan(row))
        order = tested[np.argsort(row[tested], kind="mergesort")]
        scaled = (len(order) - np.arange(len(order))) * row[order]
        out[g, order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out[0] if single else out


def _flip_statistics(values: np.ndarray, signs01: np.ndarray) -> np.ndarray:
    """|sum of signed values| for each sign pattern (a row of 0/1), _BOOT_ROWS patterns in float64 at a time."""
    out = np.empty((signs01.shape[0], values.shape[1]))
    for start in range(0, signs01.shape[0], _BOOT_ROWS):
        out[start:start + _BOOT_ROWS] = np.abs((signs01[start:start + _BOOT_ROWS].astype(np.float64) * 2.0 - 1.0) @ values)
    return out


def sign_flip_pvalues(
    values: np.ndarray, *, permutations: int = 10_000, seed: int = 0
) -> np.ndarray | float:
    """Two-sided sign-flip test of mean = 0 for each column of per-triplet values.

    Swapping the landlord and tenant labels within a triplet flips the sign of
    its SI, so under "no sycophancy" every sign pattern is equally likely. NaN
    rows contribute nothing. When a column has n non-NaN rows and
    2**n <= permutations, every pattern of those rows is enumerated and the
    p-value is exact (count / 2**n); otherwise `permutations` random patterns,
    shared by all such columns, give (1 + count) / (1 + permutations).
    """
    values = np.asarray(values, dtype=np.float64)
    single = values.ndim == 1
    values = values.reshape(len(values), -1)
    present = ~np.isnan(values)
    exact = present.sum(axis=0) <= (int(permutations).bit_length() - 1 if permutations >= 1 else -1)  # 2**n <= permutations
    p = np.empty(values.shape[1])
    if exact.any():
        masks, which = _unique_columns(present[:, exact])
        for u in range(masks.shape[1]):
            cols = np.flatnonzero(exact)[which == u]
            p[cols] = _enumerated(values[np.ix_(masks[:, u], cols)])
    if not exact.all():
        p[~exact] = _sampled(np.nan_to_num(values[:, ~exact], nan=0.0), permutations=permutations, seed=seed)
    return float(p[0]) if single else p


def _tolerance(values: np.ndarray) -> np.ndarray:
    return 1e-12 * np.maximum(1.0, np.abs(values).sum(axis=0))


def _enumerated(values: np.ndarray) -> np.ndarray:
    n = values.shape[0]
    observed = np.abs(values.sum(axis=0))
    patterns = np.arange(2**n, dtype=np.uint64)[:, None] >> np.arange(n, dtype=np.uint64)
    hits = (_flip_statistics(values, patterns & np.uint64(1)) >= observed - _tolerance(values)).sum(axis=0)
    return hits / 2.0**n


def _sampled(values: np.ndarray, *, permutations: int, seed: int) -> np.ndarray:
    n = values.shape[0]
    observed = np.abs(values.sum(axis=0))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    hits = np.zeros(values.shape[1])
    for start in range(0, permutations, _FLIP_CHUNK):
        rows = min(_FLIP_CHUNK, permutations - start)
        bits = rng.integers(0, 256, size=(rows, (n + 7) // 8), dtype=np.uint8)
        signs01 = np.unpackbits(bits, axis=1, count=n)
        hits += (_flip_statistics(values, signs01) >= observed - _tolerance(values)).sum(axis=0)
    return (1.0 + hits) / (1.0 + permutations)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(x)]
    group = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    ranks = np.empty(len(x))
    ranks[order] = ((starts + ends + 1) / 2.0)[group]
    return ranks


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt((da * da).sum() * (db * db).sum())
    return float((da * db).sum() / denom) if denom > 0 else float("nan")


def _paired_finite(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN pairs dropped."""
    a, b = _paired_finite(a, b)
    return _pearson(_average_ranks(a), _average_ranks(b)) if len(a) else float("nan")


def krippendorff_alpha_interval(ratings: np.ndarray) -> float:
    """Krippendorff's alpha, interval metric, for a (coders x units) matrix with NaN as missing.

    With m_u values in unit u, observed disagreement is
    sum_u 2 m_u SS_u / (m_u - 1) / N and expected disagreement 2 SS / (N - 1),
    where SS_u and SS are sums of squares about the unit and the pooled mean and
    N counts the values in units with at least two of them.
    """
    ratings = np.asarray(ratings, dtype=np.float64)
    present = ~np.isnan(ratings)
    m_u = present.sum(axis=0)
    pairable = m_u >= 2
    ratings, present, m_u = ratings[:, pairable], present[:, pairable], m_u[pairable]
    total = m_u.sum()
    if total < 2:
        return float("nan")
    filled = np.where(present, ratings, 0.0)
    unit_mean = filled.sum(axis=0) / m_u
    ss_unit = (np.where(present, ratings - unit_mean, 0.0) ** 2).sum(axis=0)
    pooled = filled.sum() / total
    ss_total = (np.where(present, ratings - pooled, 0.0) ** 2).sum()
    if ss_total == 0:
        return float("nan")
    observed = (2.0 * m_u * ss_unit / (m_u - 1)).sum() / total
    expected = 2.0 * ss_total / (total - 1)
    return float(1.0 - observed / expected)


def quadratic_weighted_kappa(a: np.ndarray, b: np.ndarray, *, categories: int = 3) -> float:
    """Cohen's kappa with quadratic weights for integer codes 0..categories-1."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if len(a) == 0:
        return float("nan")
    observed = np.bincount(a * categories + b, minlength=categories**2).reshape(categories, categories)
    observed = observed / observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    grid = np.arange(categories)
    w = (grid[:, None] - grid[None, :]) ** 2 / (categories - 1) ** 2
    disagreement = (w * expected).sum()
    return float(1.0 - (w * observed).sum() / disagreement) if disagreement > 0 else float("nan")


def spearman_brown(r: float, *, factor: float = 2.0) -> float:
    """Reliability of a measure `factor` times as long as the one with reliability r."""
    denom = 1.0 + (factor - 1.0) * r
    return factor * r / denom if denom != 0 else float("nan")


def split_half_reliability(half_a: np.ndarray, half_b: np.ndarray) -> float:
    """Spearman-Brown corrected correlation of one quantity measured on two halves of the samples.

    Needs at least three units with both halves present; NaN otherwise.
    """
    a, b = _paired_finite(half_a, half_b)
    if len(a) < 3:
        return float("nan")
    r = _pearson(a, b)
    return spearman_brown(r) if not np.isnan(r) else float("nan")
