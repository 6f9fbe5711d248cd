"""Known-truth check of the statistics layer at a given number of triplets.

Simulates y = base + SI_true * (+1 party A asks, -1 party B asks, 0 neutral) + triplet effect + noise,
one simulated data set per replicate (each a separate "model" in one results frame), runs
them through the report's uplift table, and reports how often its 95% interval covers
SI_true = 0.3 and how often the sign-flip test rejects SI = 0 at the 5% level when
SI_true = 0 (the false-positive rate). Each rate comes with its Monte Carlo standard error,
sqrt(p (1 - p) / replicates). For contrast it also gives the coverage of the plain
percentile interval on the same resamples, and the share of SI intervals wider than 1.0 (half of
SI's range: an interval that jumped to a bound). `--scores judge` rounds every score to the
judge's half steps and clips it to [-1, 1], as real judge scores are; the true SI is then the
expectation of that, computed exactly from the normal distribution. `--scores sparse` is a model
that sides with the asker in one triplet in four only, by SI_true / 0.25, on the judge's steps: SI_s
is then mostly 0 with a few values near 1, the skewed, tied case the t interval handles worst.

    python bench/known_truth.py --triplets 12
    python bench/known_truth.py --triplets 12 --scores judge
    python bench/known_truth.py --triplets 9 --scores sparse
    python bench/known_truth.py --triplets 36 --quick   # 1000 replicates: MC s.e. about 0.007
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from sycobench.report.tables import by_factor, uplift
from sycobench.stats import bootstrap_weights

__all__ = ["simulate", "known_truth", "KnownTruth"]

_SIGN = {"a": 1.0, "b": -1.0, "neutral": 0.0}
_CHUNK = 500  # replicates per uplift() call: bounds memory, same results
_BASE, _TRIPLET_SD, _NOISE_SD = 0.1, 0.3, 0.25
_STEPS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])  # judge scores; a value rounds to the nearest step
_AMOUNTS = (25, 50, 100, 200, 400)  # triplet i gets amount i mod 5, for the factor-cell check
_SPARSE = 0.25  # --scores sparse: the share of triplets in which the model sides with the asker
SCORES = ("continuous", "judge", "sparse")


@dataclass(frozen=True)
class KnownTruth:
    coverage: float
    false_positive: float
    percentile_coverage: float
    replicates: int
    si_true: float
    factor_any_raw: float
    factor_any_holm: float
    wide: float  # share of the SI intervals wider than 1.0 (half SI's range: an end that jumped to a bound)

    def se(self, p: float) -> float:
        """Monte Carlo standard error of a rate estimated from `replicates` data sets."""
        return float(np.sqrt(p * (1.0 - p) / self.replicates))


def judge_scale(y: np.ndarray) -> np.ndarray:
    """Scores as a judge gives them: the nearest half step, within [-1, 1]."""
    return np.clip(np.round(y * 2.0) / 2.0, -1.0, 1.0)


def expected_si(si_true: float, *, scores: str) -> float:
    """E[SI_s]: si_true itself, or on the judge scale the mean step of A minus that of B, halved
    (sparse: a share _SPARSE of triplets at si_true / _SPARSE, the rest at 0, whose SI_s has mean 0)."""
    if scores == "continuous":
        return si_true
    if scores == "sparse":
        return _SPARSE * expected_si(si_true / _SPARSE, scores="judge")
    sd = math.hypot(_TRIPLET_SD, _NOISE_SD)
    cuts = (_STEPS[:-1] + _STEPS[1:]) / 2

    def mean_step(mu: float) -> float:
        cdf = np.array([0.0, *(0.5 * (1 + math.erf((c - mu) / (sd * math.sqrt(2)))) for c in cuts), 1.0])
        return float((np.diff(cdf) * _STEPS).sum())

    return (mean_step(_BASE + si_true) - mean_step(_BASE - si_true)) / 2


def simulate(
    si_true: float, *, replicates: int, n_triplets: int, seed: int, base: float = _BASE,
    triplet_sd: float = _TRIPLET_SD, noise_sd: float = _NOISE_SD, scores: str = "continuous",
) -> pl.DataFrame:
    """A results frame with one model per replicate and K = 1."""
    rng = np.random.default_rng(seed)
    sides = np.array(list(_SIGN))
    n = replicates * n_triplets * 3
    replicate = np.repeat(np.arange(replicates), n_triplets * 3)
    triplet = np.tile(np.repeat(np.arange(n_triplets), 3), replicates)
    side = np.tile(sides, replicates * n_triplets)
    sign = np.tile(np.array(list(_SIGN.values())), replicates * n_triplets)
    effect = np.repeat(rng.normal(0.0, triplet_sd, replicates * n_triplets), 3)
    noise = rng.normal(0.0, noise_sd, n)
    if scores == "sparse":  # drawn last, so the other kinds keep their draws
        shift = np.repeat(np.where(rng.random(replicates * n_triplets) < _SPARSE, si_true / _SPARSE, 0.0), 3)
    else:
        shift = si_true
    score = base + shift * sign + effect + noise
    score = score if scores == "continuous" else judge_scale(score)
    return pl.DataFrame({
        "model_id": replicate, "triplet_id": triplet, "side": side, "score": score,
    }).with_columns(
        pl.format("rep{}", "model_id").alias("model_id"),
        pl.format("t{}", "triplet_id").alias("triplet_id"),
        pl.format("t{}-{}", "triplet_id", "side").alias("prompt_id"),
        scorer=pl.lit("sim"),
        k=pl.lit(0, dtype=pl.Int64),
    )


def amount_levels(n_triplets: int) -> pl.DataFrame:
    """Triplet i's level of the one factor, `amount`: i mod 5, long as a job's grid gives it."""
    return pl.DataFrame({"triplet_id": [f"t{i}" for i in range(n_triplets)], "factor": "amount",
                         "level": [str(_AMOUNTS[i % len(_AMOUNTS)]) for i in range(n_triplets)]})


def _tables(si_true: float, *, replicates: int, n_triplets: int, seed: int, bootstrap: int,
            permutations: int, scores: str) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame]:
    """The uplift rows of every replicate, the per-triplet SI matrix (triplets x replicates) and
    the SI p-values per amount level (by_factor; its intervals are not used, so few resamples)."""
    tables, si, cells = [], [], []
    for start in range(0, replicates, _CHUNK):
        count = min(_CHUNK, replicates - start)
        frame = simulate(si_true, replicates=count, n_triplets=n_triplets, seed=seed + 1000 * start,
                         scores=scores)
        tables.append(uplift(frame, bootstrap=bootstrap, permutations=permutations, seed=seed))
        levels = by_factor(frame, amount_levels(n_triplets), bootstrap=100, permutations=permutations, seed=seed)
        cells.append(levels.with_columns(chunk=pl.lit(start)))  # model ids restart in every chunk
        wide = frame.pivot(on="side", index=["model_id", "triplet_id"], values="score", sort_columns=True)
        per = ((wide["a"] - wide["b"]) / 2).to_numpy().reshape(count, n_triplets)
        si.append(per.T)
    return pl.concat(tables), np.hstack(si), pl.concat(cells)


def known_truth(
    *, replicates: int, n_triplets: int, bootstrap: int, permutations: int, seed: int = 0, si_true: float = 0.3,
    scores: str = "continuous",
) -> KnownTruth:
    """Coverage of the true SI by the table's 95% interval, the false-positive rate of SI = 0 at 5%, and
    how often any amount level of a null data set looks significant, before and after Holm's adjustment."""
    options = dict(replicates=replicates, n_triplets=n_triplets, bootstrap=bootstrap, permutations=permutations,
                   scores=scores)
    sycophantic, si, _ = _tables(si_true, seed=seed, **options)
    si_true = expected_si(si_true, scores=scores)
    covered = (pl.col("sycophancy_index_lo") <= si_true) & (pl.col("sycophancy_index_hi") >= si_true)
    coverage = sycophantic.select(covered.mean()).item()
    width = pl.col("sycophancy_index_hi") - pl.col("sycophancy_index_lo")
    wide = sycophantic.select((width > 1.0).mean()).item()
    means = bootstrap_weights(n_triplets, bootstrap=bootstrap, seed=seed) @ si / n_triplets
    lo, hi = np.quantile(means, [0.025, 0.975], axis=0)
    percentile = float(((lo <= si_true) & (hi >= si_true)).mean())
    null, _, cells = _tables(0.0, seed=seed + 1, **options)
    false_positive = null.select((pl.col("si_p_value") <= 0.05).mean()).item()
    any_cell = cells.group_by("chunk", "model_id").agg((pl.col("si_p_value", "si_p_holm") <= 0.05).any()).select(
        pl.col("si_p_value", "si_p_holm").mean())
    return KnownTruth(coverage, false_positive, percentile, replicates, si_true, *any_cell.row(0), wide)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triplets", type=int, default=36, help="triplets per simulated data set")
    parser.add_argument("--replicates", type=int, default=4000, help="simulated data sets per rate")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples, as report.bootstrap")
    parser.add_argument("--permutations", type=int, default=10_000, help="sign flips of the SI test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scores", choices=SCORES, default="continuous",
                        help="judge: half steps clipped to [-1, 1]; sparse: judge steps, siding in 1 triplet in 4")
    parser.add_argument("--quick", action="store_true", help="1000 replicates and 1000 resamples")
    args = parser.parse_args()
    if args.quick:
        args.replicates, args.bootstrap = 1000, 1000
    if args.triplets < 2 or args.replicates < 1:
        parser.error("--triplets needs at least 2 and --replicates at least 1")
    start = time.perf_counter()
    r = known_truth(replicates=args.replicates, n_triplets=args.triplets, bootstrap=args.bootstrap,
                    permutations=args.permutations, seed=args.seed, scores=args.scores)
    print(
        f"known truth at {args.triplets} triplets, {args.scores} scores ({r.replicates} replicates, "
        f"B={args.bootstrap}, {args.permutations} flips): SI_true={r.si_true:.4f} 95% interval "
        f"coverage {r.coverage:.3f} "
        f"(MC s.e. {r.se(r.coverage):.3f}; nominal 0.95; percentile interval {r.percentile_coverage:.3f}); "
        f"intervals wider than 1.0: {r.wide:.4f} (target <= 0.01); "
        f"SI_true=0 false-positive rate at 5% {r.false_positive:.3f} (MC s.e. {r.se(r.false_positive):.3f}; "
        f"nominal 0.05); any of {len(_AMOUNTS)} amount levels at p <= 0.05: raw {r.factor_any_raw:.3f}, "
        f"Holm {r.factor_any_holm:.3f} (family-wise target <= 0.05) [{time.perf_counter() - start:.1f} s]"
    )


if __name__ == "__main__":
    main()
