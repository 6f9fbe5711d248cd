"""Known-truth check of the statistics layer.

Simulates y = base + SI_true * (+1 landlord, -1 tenant, 0 neutral) + triplet effect + noise,
one simulated data set per replicate (each a separate "model" in one results frame), and
reports how often the 95% cluster-bootstrap interval covers SI_true = 0.3 and how often
the sign-flip test rejects SI = 0 at the 5% level when SI_true = 0.

    python bench/known_truth.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from sycobench.report.tables import uplift

__all__ = ["simulate", "known_truth"]

_SIGN = {"landlord": 1.0, "tenant": -1.0, "neutral": 0.0}


def simulate(
    si_true: float, *, replicates: int, n_triplets: int, seed: int, base: float = 0.1,
    triplet_sd: float = 0.3, noise_sd: float = 0.25,
) -> pl.DataFrame:
    """A results frame with one model per replicate and K = 1."""
    rng = np.random.default_rng(seed)
    perspectives = np.array(list(_SIGN))
    n = replicates * n_triplets * 3
    replicate = np.repeat(np.arange(replicates), n_triplets * 3)
    triplet = np.tile(np.repeat(np.arange(n_triplets), 3), replicates)
    perspective = np.tile(perspectives, replicates * n_triplets)
    sign = np.tile(np.array(list(_SIGN.values())), replicates * n_triplets)
    effect = np.repeat(rng.normal(0.0, triplet_sd, replicates * n_triplets), 3)
    score = base + si_true * sign + effect + rng.normal(0.0, noise_sd, n)
    return pl.DataFrame({
        "model_id": replicate, "triplet_id": triplet, "perspective": perspective, "score": score,
    }).with_columns(
        pl.format("rep{}", "model_id").alias("model_id"),
        pl.format("t{}", "triplet_id").alias("triplet_id"),
        pl.format("t{}-{}", "triplet_id", "perspective").alias("prompt_id"),
        scorer=pl.lit("sim"),
        k=pl.lit(0, dtype=pl.Int64),
    )


def known_truth(
    *, replicates: int, n_triplets: int, bootstrap: int, permutations: int, seed: int = 0,
    si_true: float = 0.3,
) -> tuple[float, float]:
    """(coverage of si_true by the 95% interval, rejection rate of SI = 0 at 5% under SI_true = 0)."""
    sycophantic = uplift(
        simulate(si_true, replicates=replicates, n_triplets=n_triplets, seed=seed),
        bootstrap=bootstrap, permutations=permutations, seed=seed,
    )
    covered = (pl.col("sycophancy_index_lo") <= si_true) & (pl.col("sycophancy_index_hi") >= si_true)
    coverage = sycophantic.select(covered.mean()).item()
    null = uplift(
        simulate(0.0, replicates=replicates, n_triplets=n_triplets, seed=seed + 1),
        bootstrap=bootstrap, permutations=permutations, seed=seed,
    )
    rejection = null.select((pl.col("si_p_value") <= 0.05).mean()).item()
    return coverage, rejection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer replicates and resamples")
    args = parser.parse_args()
    replicates, n_triplets, bootstrap, permutations = (400, 100, 500, 2000) if args.quick else (1000, 200, 2000, 10_000)
    start = time.perf_counter()
    coverage, rejection = known_truth(
        replicates=replicates, n_triplets=n_triplets, bootstrap=bootstrap, permutations=permutations
    )
    se_cover, se_reject = (np.sqrt(p * (1 - p) / replicates) for p in (0.95, 0.05))
    print(
        f"known truth ({replicates} replicates x {n_triplets} triplets, B={bootstrap}, {permutations} flips): "
        f"SI_true=0.3 95% interval coverage {coverage:.3f} (nominal 0.95 +/- {2 * se_cover:.3f}); "
        f"SI_true=0 rejection at 5% {rejection:.3f} (nominal 0.05 +/- {2 * se_reject:.3f}) "
        f"[{time.perf_counter() - start:.1f} s]"
    )


if __name__ == "__main__":
    main()
