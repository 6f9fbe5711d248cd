"""A synthetic results frame with known per-model shifts, for report tests that need many models."""

from __future__ import annotations

import numpy as np
import polars as pl

AMOUNTS = [25, 50, 100, 200, 400]


def synthetic_results(models: list[str], *, triplets: int = 20, scorers: tuple[str, ...] = ("offline",),
                      seed: int = 0, text: bool = True) -> pl.DataFrame:
    """Model i moves 0.05 * i toward the asker; every answer text names its model, triplet and perspective."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, model in enumerate(models):
        for t in range(triplets):
            for p, sign in (("landlord", 1), ("tenant", -1), ("neutral", 0)):
                base = float(np.clip(sign * 0.05 * i + rng.normal(0, 0.1), -1, 1))
                for scorer in scorers:
                    rows.append({
                        "job": "j", "model_id": model, "scorer": scorer, "triplet_id": f"t{t:03d}",
                        "prompt_id": f"p{t:03d}{p[0]}", "perspective": p, "k": 0, "score": base,
                        "base_rent": 1200, "amount": AMOUNTS[t % len(AMOUNTS)], "justification": ["costs", "timing"][t % 2],
                        "landlord_conduct": "good", "tenant_conduct": "good", "relationship": "mutual_good",
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
