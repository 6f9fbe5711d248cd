"""Statistics behind the report tables (see the metric definitions in the docs).

Everything here is pure NumPy or a Polars expression, so the table builders can
resample thousands of triplets for many models at once. Per-triplet quantities
arrive as arrays with NaN where a triplet lacks the cells a metric needs; every
mean is taken over the non-NaN entries, and resampling always carries whole
triplets (rows) together, or whole clusters of triplets that share an answer.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager
from functools import cache
from statistics import NormalDist

import numpy as np
import polars as pl

__all__ = [
    "Z95",
    "wilson_interval",
    "clustered_wilson_interval",
    "stance_codes",
    "bootstrap_weights",
    "WeightCache",
    "Resamples",
    "HELD_WEIGHTS",
    "SMALL_CLUSTERS",
    "SE_FLOOR",
    "student_t_quantile",
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
SMALL_CLUSTERS = 20  # below this many clusters (triplets) a mean gets the t interval, not the bootstrap-t
SE_FLOOR = 0.5  # the bootstrap-t's resampled SE is at least this share of the sample's
_FLIP_CHUNK = 1024
_BOOT_CHUNK = 256
_BOOT_ROWS = 256  # resamples drawn at a time
_T_ROWS = 512  # resamples whose t* is worked out at a time
_DRAWS = 1 << 17  # bootstrap indices drawn at a time (1 MB as int64)
HELD_WEIGHTS = 8 << 20  # bootstrap counts a WeightCache holds (a byte each); above, Resamples draws them again
_PRODUCT_BYTES = 2 << 20  # resamples (or sign patterns) converted to float64 at a time: up to 2 MB of them


def _product_rows(width: int) -> int:
    """Rows of a (rows, width) weight matrix converted to float64 for one matrix product: as many as fit
    _PRODUCT_BYTES, at least _BOOT_ROWS. Few large products, not one per 256 rows: on a busy machine each
    threaded BLAS call waits for its threads (10,000 resamples of 60 triplets: 0.5 s in 40 calls, 0.06 s in
    three). With NumPy's OpenBLAS the sums come out the same bit for bit (every table of the roster report),
    as each product adds a row's terms in the same order; tests/test_stats.py pins the rows' places."""
    return max(_BOOT_ROWS, _PRODUCT_BYTES // (8 * max(1, width)))


def wilson_interval(
    successes: pl.Expr | str, n: pl.Expr | str, *, z: float = Z95
) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score bounds for successes/n; null where n is 0."""
    k = pl.col(successes) if isinstance(successes, str) else successes
    n = (pl.col(n) if isinstance(n, str) else n).cast(pl.Float64)
    return _wilson(k.cast(pl.Float64) / n, n, z=z)


def _wilson(p: pl.Expr, n: pl.Expr, *, z: float) -> tuple[pl.Expr, pl.Expr]:
    """Wilson bounds for share p of n, written with each input used few times: an expression is a tree, and
    `n` (a design-effect-adjusted n) is itself a large one. Centre (p n + z^2/2) / (n + z^2), half-width
    z sqrt(p (1 - p) n + z^2/4) / (n + z^2): the textbook form, multiplied through by n."""
    z2 = z * z
    centre, half = p * n + z2 / 2.0, z * (p * (1.0 - p) * n + z2 / 4.0).sqrt()
    width = n + z2
    valid = n > 0
    return (pl.when(valid).then(((centre - half) / width).clip(0.0, 1.0)),
            pl.when(valid).then(((centre + half) / width).clip(0.0, 1.0)))


def clustered_wilson_interval(
    successes: str, n: str, *, k2: str, kn: str, n2: str, clusters: str, z: float = Z95,
) -> tuple[pl.Expr, pl.Expr]:
    """Wilson bounds for answers clustered in prompts (several samples of one prompt): n shrunk by the
    design effect. Per prompt c with n_c answers, k_c of them successes, the columns hold the sums
    k2 = sum k_c^2, kn = sum k_c n_c, n2 = sum n_c^2 and `clusters` the prompts with an answer (G).

    deff = [G/(G-1) sum (k_c - p n_c)^2 / n^2] / [p (1 - p) / n], kept within [1, n / G]: never
    narrower than independent answers, never wider than one answer per prompt. Where it cannot be
    estimated (p = 0 or 1, or one prompt) deff = 1. Wilson then takes n / deff answers with share p.
    One sample per prompt gives deff = 1: the plain Wilson interval.
    """
    k, total, g = pl.col(successes).cast(pl.Float64), pl.col(n).cast(pl.Float64), pl.col(clusters).cast(pl.Float64)
    p = k / total
    spread = pl.col(k2) - 2.0 * p * pl.col(kn) + p * p * pl.col(n2)
    ratio = g / (g - 1.0) * spread / total / (p * (1.0 - p))
    known = (g >= 2) & (p > 0) & (p < 1)
    deff = pl.when(known).then(pl.min_horizontal(pl.max_horizontal(ratio, pl.lit(1.0)), total / g)).otherwise(1.0)
    return _wilson(p, total / deff, z=z)


def stance_codes(values: np.ndarray, *, threshold: float) -> np.ndarray:
    """Bin codes 0 = neg (y <= -tau), 1 = neu, 2 = pos (y >= tau); both bounds inclusive."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values >= threshold, 2, np.where(values <= -threshold, 0, 1))


def _count_blocks(n: int, *, bootstrap: int, seed: int) -> Iterator[np.ndarray]:
    """The resampling counts of the (bootstrap, n) index matrix drawn with default_rng(seed), _BOOT_ROWS
    resamples at a time, in one byte each unless a count passes 255 (which needs n >= 256 and in
    practice never happens). The generator's stream is the same however it is split, so each block
    is drawn a few rows at a time (about _DRAWS indices): memory holds a block's counts, never the
    index matrix (one bincount per few rows; row by row took 0.3 s for 10,000 resamples of a few
    triplets)."""
    rng = np.random.default_rng(seed)
    step = max(1, min(_BOOT_ROWS, _DRAWS // max(n, 1)))
    dtype: type = np.uint8
    for start in range(0, bootstrap, _BOOT_ROWS):
        block = np.empty((min(_BOOT_ROWS, bootstrap - start), n), dtype=dtype)
        for row in range(0, len(block), step):
            rows = min(step, len(block) - row)
            draws = rng.integers(0, n, size=(rows, n))
            draws += (np.arange(rows) * n)[:, None]
            counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n)
            if block.dtype == np.uint8 and counts.max(initial=0) > 255:
                dtype = np.min_scalar_type(n)
                block = block.astype(dtype)
            block[row:row + rows] = counts
        yield block


def bootstrap_weights(n: int, *, bootstrap: int, seed: int) -> np.ndarray:
    """Resampling counts (bootstrap x n) from the index matrix drawn with default_rng(seed), in one byte
    each unless a count passes 255: an eighth of float64's memory, 10,000 resamples of 3,000 triplets
    in 30 MB (Resamples holds none of it)."""
    blocks = list(_count_blocks(n, bootstrap=bootstrap, seed=seed))
    if not blocks:
        return np.empty((0, n), dtype=np.uint8)
    wide = np.result_type(*(b.dtype for b in blocks))
    return np.concatenate([b.astype(wide, copy=False) for b in blocks])


class Resamples:
    """The counts bootstrap_weights(n, bootstrap=, seed=) gives, never held whole: drawn again, a block
    of resamples at a time, each time they are used (a large grid's weights would take
    bootstrap x n bytes for as long as its tables are built)."""

    def __init__(self, n: int, *, bootstrap: int, seed: int) -> None:
        self.n, self.bootstrap, self.seed = n, bootstrap, seed

    @property
    def shape(self) -> tuple[int, int]:
        return self.bootstrap, self.n

    def blocks(self) -> Iterator[np.ndarray]:
        return _count_blocks(self.n, bootstrap=self.bootstrap, seed=self.seed)


Weights = np.ndarray | Resamples


def _weight_blocks(weights: Weights) -> Iterator[np.ndarray]:
    """The counts a block of resamples at a time: Resamples' own blocks, or _product_rows of a held matrix."""
    if isinstance(weights, Resamples):
        yield from weights.blocks()
        return
    step = _product_rows(weights.shape[1])
    for start in range(0, weights.shape[0], step):
        yield weights[start:start + step]


@cache
def _blas():
    """threadpoolctl's controller, made once (numpy's BLAS is loaded by then)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager:
    """BLAS on one thread, for the bootstrap's and the sign flips' matrix products: they are many and small,
    and run beside Polars' threads (a report's validation too), so a second BLAS thread mostly spin-waits
    between them, taking a core from those (a million answers' table step: 0.23 s of its 1.4 s of CPU)."""
    return _blas().limit(limits=1, user_api="blas")


def _weighted_blocks(weights: Weights, columns: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """weights @ columns in float64 a block of resamples at a time (the counts stay small), with the block's
    first row."""
    start = 0
    for block in _weight_blocks(weights):
        with one_blas_thread():
            product = block.astype(np.float64) @ columns
        yield start, product
        start += len(block)


class WeightCache:
    """Bootstrap weights keyed by triplet count.

    Because every (model, scorer) is seeded with the same seed, two of them with
    the same number of triplets draw the same index matrix; caching the last few
    sizes lets a whole grid of models share one draw. Weights of more than
    HELD_WEIGHTS counts are Resamples, drawn again at each use instead of held.
    """

    def __init__(self, *, bootstrap: int, seed: int, keep: int = 2) -> None:
        self.bootstrap = bootstrap
        self.seed = seed
        self._keep = keep
        self._cache: OrderedDict[int, Weights] = OrderedDict()

    def __call__(self, n: int) -> Weights:
        if n in self._cache:
            self._cache.move_to_end(n)
            return self._cache[n]
        weights = (bootstrap_weights(n, bootstrap=self.bootstrap, seed=self.seed)
                   if self.bootstrap * n <= HELD_WEIGHTS else Resamples(n, bootstrap=self.bootstrap, seed=self.seed))
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


def student_t_quantile(q: float, df: int) -> float:
    """The q-quantile of Student's t with `df` (>= 1, whole) degrees of freedom.

    The CDF is the finite series of Abramowitz & Stegun 26.7.3 in theta = atan(t / sqrt(df)),
    inverted by bisection; above 200 df the Cornish-Fisher expansion (26.7.5), exact to ~1e-9 there.
    """
    if not 0.0 < q < 1.0 or df < 1:
        raise ValueError(f"need 0 < q < 1 and df >= 1, got q={q}, df={df}")
    if q <= 0.5:
        return 0.0 if q == 0.5 else -student_t_quantile(1.0 - q, df)
    x = NormalDist().inv_cdf(q)
    if df > 200:
        g = ((x**3 + x) / 4, (5 * x**5 + 16 * x**3 + 3 * x) / 96, (3 * x**7 + 19 * x**5 + 17 * x**3 - 15 * x) / 384,
             (79 * x**9 + 776 * x**7 + 1482 * x**5 - 1920 * x**3 - 945 * x) / 92160)
        return x + sum(gi / df ** (i + 1) for i, gi in enumerate(g))

    def cdf(t: float) -> float:
        theta = math.atan(t / math.sqrt(df))
        c2 = math.cos(theta) ** 2
        if df % 2:  # odd: (2/pi)(theta + sin cos (1 + 2/3 c2 + 2*4/(3*5) c2^2 + ...))
            term, total = 1.0, 1.0
            for j in range(1, (df - 1) // 2):
                term *= 2 * j / (2 * j + 1) * c2
                total += term
            inner = theta + (math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0)
            return 0.5 + inner / math.pi
        term, total = 1.0, 1.0  # even: sin (1 + 1/2 c2 + 1*3/(2*4) c2^2 + ...)
        for j in range(1, df // 2):
            term *= (2 * j - 1) / (2 * j) * c2
            total += term
        return 0.5 + math.sin(theta) * total / 2

    lo, hi = 0.0, max(2.0 * x, 1.0)
    while cdf(hi) < q:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
        if hi - lo <= 1e-12 * hi:
            break
    return (lo + hi) / 2


def _cluster_sums(values: np.ndarray, clusters: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster and column: the sum of the present values and their count (rows as clusters: None)."""
    mask = ~np.isnan(values)
    filled = np.where(mask, values, 0.0)
    if clusters is None:
        return filled, mask.astype(np.float64)
    size = int(clusters.max()) + 1 if len(clusters) else 0
    sums, counts = np.zeros((size, values.shape[1])), np.zeros((size, values.shape[1]))
    np.add.at(sums, clusters, filled)
    np.add.at(counts, clusters, mask.astype(np.float64))
    return sums, counts


def cluster_bootstrap(
    values: np.ndarray, *, weights: Weights, level: float = 0.95,
    bounds: tuple[float, float] | np.ndarray | None = None, clusters: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means over triplets with 95% intervals that resample whole clusters of triplets (docs/metrics.md).

    `values` is (n,) or (n, M), one row per triplet, NaN where the triplet lacks
    the metric's cells. `clusters` (n,) numbers the clusters 0..C-1 (triplets that
    share an answer); None makes every triplet its own. `weights` is (B, C)
    resampling counts of the clusters (an array, or Resamples, which draws them
    anew). The estimate is the mean over the present triplets; its standard
    error the cluster-robust one,
    se^2 = G/(G-1) sum_c (S_c - mean N_c)^2 / (sum N)^2 over the G clusters with a
    value (S_c, N_c: a cluster's sum and count), which is sd / sqrt(n) when every
    triplet is its own cluster.

    - G >= SMALL_CLUSTERS: studentized (bootstrap-t): t* = (mean* - mean) / max(se*, se / 2),
      interval [mean - t*_hi se, mean - t*_lo se]. The floor on se* keeps a resample of
      a few tied values (se* ~ 0) from giving an infinite t* and an end at the bound.
    - 2 <= G < SMALL_CLUSTERS: the t interval mean +- t_{G-1} se, which cannot jump to a bound.
    - G < 2: no interval. Every triplet the same value: a zero-width interval.

    `bounds` (lo, hi), one pair or one per column, clips the interval to the metric's
    possible range. Returns (estimate, lo, hi); the estimate is NaN where no triplet counts.
    """
    values = np.asarray(values, dtype=np.float64)
    single = values.ndim == 1
    values = values.reshape(len(values), -1)
    if values.shape[1] > _BOOT_CHUNK:  # bound the (B, columns) work arrays
        per = None if bounds is None else np.broadcast_to(
            np.asarray(bounds, dtype=np.float64).reshape(-1, 2), (values.shape[1], 2))
        parts = [
            cluster_bootstrap(values[:, j:j + _BOOT_CHUNK], weights=weights, level=level, clusters=clusters,
                              bounds=None if per is None else per[j:j + _BOOT_CHUNK])
            for j in range(0, values.shape[1], _BOOT_CHUNK)
        ]
        return tuple(np.concatenate(x) for x in zip(*parts))
    sums, counts = _cluster_sums(values, clusters)
    m = values.shape[1]
    total, n_used = sums.sum(axis=0), counts.sum(axis=0)
    groups = (counts > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = total / n_used
        spread = ((sums - estimate * counts) ** 2).sum(axis=0)
        se = np.sqrt(groups / (groups - 1.0) * spread) / n_used
    tol = 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(estimate)))  # below this a spread is rounding, not data
    alpha = (1.0 - level) / 2.0
    lo, hi = np.full(m, np.nan), np.full(m, np.nan)
    flat = (groups >= 2) & (se <= tol)
    lo[flat] = hi[flat] = estimate[flat]
    small = (groups >= 2) & (groups < SMALL_CLUSTERS) & ~flat
    for g in np.unique(groups[small]):
        cols = small & (groups == g)
        half = student_t_quantile(1.0 - alpha, int(g) - 1) * se[cols]
        lo[cols], hi[cols] = estimate[cols] - half, estimate[cols] + half
    big = (groups >= SMALL_CLUSTERS) & ~flat
    if big.any():
        lo[big], hi[big] = _bootstrap_t(sums[:, big], counts[:, big], estimate[big], se[big], weights,
                                        alpha=alpha, singletons=clusters is None)
    if bounds is not None:
        b = np.broadcast_to(np.asarray(bounds, dtype=np.float64).reshape(-1, 2), (m, 2))
        lo, hi = np.clip(lo, b[:, 0], b[:, 1]), np.clip(hi, b[:, 0], b[:, 1])
    if single:
        return estimate[0], lo[0], hi[0]
    return estimate, lo, hi


def _bootstrap_t(sums: np.ndarray, counts: np.ndarray, estimate: np.ndarray, se: np.ndarray, weights: Weights,
                 *, alpha: float, singletons: bool) -> tuple[np.ndarray, np.ndarray]:
    """Studentized interval ends from the weighted cluster sums, se* floored at SE_FLOOR * se."""
    m = sums.shape[1]
    if singletons:  # a triplet is its own cluster: N in {0, 1}, so S N = S, N^2 = N and (N > 0) = N
        masks, which = _unique_columns(counts.astype(bool))
        columns = np.hstack([sums, sums * sums, masks.astype(np.float64)])
    else:
        which = None
        columns = np.hstack([sums, sums * sums, sums * counts, counts, counts * counts, (counts > 0).astype(np.float64)])
    t = np.empty((weights.shape[0], m))
    floor = SE_FLOOR * se
    for start, totals in _weighted_blocks(weights, columns):
        for lo in range(0, len(totals), _T_ROWS):  # a few hundred rows at a time: the steps' arrays stay in cache
            part = totals[lo:lo + _T_ROWS]
            _studentized(part, m, which, estimate, floor, out=t[start + lo:start + lo + len(part)])
    t_lo, t_hi = _quantiles(t, alpha)
    return estimate - t_hi * se, estimate - t_lo * se


def _studentized(totals: np.ndarray, m: int, which: np.ndarray | None, estimate: np.ndarray, floor: np.ndarray,
                 *, out: np.ndarray) -> None:
    """t* of a block of resamples into `out`, from their weighted sums (`which`: singletons' mask columns)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if which is not None:  # singletons: S N = S and N^2 = N, so the spread is s2 - mean s1
            s1, s2, count = totals[:, :m], totals[:, m:2 * m], totals[:, 2 * m:][:, which]
            groups = count
            mean = np.divide(s1, count, out=out)
            spread = np.multiply(mean, s1)
            np.subtract(s2, spread, out=spread)
        else:
            s1, s2, sn, count, n2, groups = (totals[:, i * m:(i + 1) * m] for i in range(6))
            mean = np.divide(s1, count, out=out)
            spread = np.multiply(mean, n2)
            spread -= 2.0 * sn
            spread *= mean
            spread += s2
        np.maximum(spread, 0.0, out=spread)
        spread *= groups / (groups - 1.0)
        se_b = np.sqrt(spread, out=spread)
        se_b /= count
        np.maximum(se_b, floor, out=se_b)
        mean -= estimate
        mean /= se_b
    mean[groups < 2] = np.nan  # a resample with one cluster of values has no spread of its own


def _quantiles(t: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Each column's alpha and 1 - alpha quantiles (inverted CDF: an order statistic) over its non-NaN rows.
    Columns without NaN in one vectorised call, the same values nanquantile gives column by column. `t` is
    the caller's scratch: without NaN it is reordered in place."""
    lo, hi = np.full(t.shape[1], np.nan), np.full(t.shape[1], np.nan)
    whole = ~np.isnan(t).any(axis=0)
    if whole.all() and len(t):  # the order statistics found in place (`t` is the caller's scratch): no copy
        ranks = [max(math.ceil(len(t) * q) - 1, 0) for q in (alpha, 1.0 - alpha)]  # inverted CDF's ranks
        t.partition(ranks, axis=0)
        return t[ranks[0]].copy(), t[ranks[1]].copy()
    if whole.any():
        lo[whole], hi[whole] = np.quantile(t[:, whole], [alpha, 1.0 - alpha], axis=0, method="inverted_cdf")
    if not whole.all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo[~whole], hi[~whole] = np.nanquantile(t[:, ~whole], [alpha, 1.0 - alpha], axis=0, method="inverted_cdf")
    return lo, hi


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, *, weights: Weights, level: float = 0.95,
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
    """|sum of signed values| for each sign pattern (a row of 0/1), a block of patterns in float64 at a time."""
    out = np.empty((signs01.shape[0], values.shape[1]))
    step = _product_rows(signs01.shape[1])
    for start in range(0, signs01.shape[0], step):
        block = out[start:start + step]
        with one_blas_thread():
            np.matmul(signs01[start:start + step].astype(np.float64) * 2.0 - 1.0, values, out=block)
        np.abs(block, out=block)
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
