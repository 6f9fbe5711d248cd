"""A synthetic results frame with known per-model shifts, for report tests that need many models."""

from __future__ import annotations

import numpy as np
import polars as pl

AMOUNTS = [25, 50, 100, 200, 400]
RENT = {"landlord": "a", "tenant": "b", "neutral": "neutral"}


def synthetic_results(models: list[str], *, triplets: int = 20, scorers: tuple[str, ...] = ("offline",),
                      seed: int = 0, text: bool = True) -> pl.DataFrame:
    """Model i moves 0.05 * i toward the asker; every answer text names its model, triplet and perspective.
    The scenario is rent (landlord = side a, tenant = side b); its factor levels are `synthetic_levels`."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, model in enumerate(models):
        for t in range(triplets):
            for p, sign in (("landlord", 1), ("tenant", -1), ("neutral", 0)):
                base = float(np.clip(sign * 0.05 * i + rng.normal(0, 0.1), -1, 1))
                for scorer in scorers:
                    rows.append({
                        "job": "j", "model_id": model, "scorer": scorer, "scenario": "rent", "triplet_id": f"t{t:03d}",
                        "prompt_id": f"p{t:03d}{p[0]}", "perspective": p, "side": RENT[p], "k": 0, "score": base,
                    })
    frame = pl.DataFrame(rows)
    if not text:
        return frame
    return frame.with_columns(
        response_text=pl.format("Answer of {} to triplet {} ({} asks). ", "model_id", "triplet_id", "perspective")
        + pl.lit("More words. " * 40),
        raw=pl.when(pl.col("scorer") != "offline").then(pl.format("judge reply {}", "prompt_id")),
        unscorable=pl.lit(None, dtype=pl.String),
        messages=pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.format("Question {}", "prompt_id"))),
    )


def synthetic_levels(triplets: int = 20) -> pl.DataFrame:
    """The factor levels of `synthetic_results`' triplets, long, as a job's grid gives them."""
    rows = [("rent", f"t{t:03d}", factor, str(level)) for t in range(triplets) for factor, level in (
        ("base_rent", 1200), ("amount", AMOUNTS[t % len(AMOUNTS)]), ("justification", ["costs", "timing"][t % 2]),
        ("relationship", "mutual_good"))]
    return pl.DataFrame(rows, schema=["scenario", "triplet_id", "factor", "level"], orient="row")
