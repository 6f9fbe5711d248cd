"""Human labels as one more scorer, so a judge can be validated against people.

The CSV has a header and the columns `prompt_id,k,score` (score in [-1, 1], empty = unscorable),
plus an optional `model_id` column when one file labels several models' answers.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sycobench.config import ScorerConfig
from sycobench.errors import ConfigError
from sycobench.records import JsonlWriter
from sycobench.records import score_record
from sycobench.scoring import iter_pending, scorer_id

__all__ = ["import_labels", "read_labels"]


def read_labels(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise ConfigError(f"scorer.labels: {path} does not exist")
    try:
        frame = pl.read_csv(path, schema_overrides={"prompt_id": pl.String, "k": pl.Int64, "score": pl.Float64})
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise ConfigError(f"scorer.labels: {path} is not a CSV of prompt_id,k,score ({str(exc).splitlines()[0]})") from None
    missing = {"prompt_id", "k", "score"} - set(frame.columns)
    if missing:
        raise ConfigError(f"scorer.labels: {path} lacks column(s) {sorted(missing)}; expected prompt_id,k,score")
    bad = frame.filter(pl.col("score").abs() > 1)
    if bad.height:
        raise ConfigError(f"scorer.labels: {path} has {bad.height} score(s) outside [-1, 1], e.g. {bad['score'][0]}")
    return frame


def import_labels(job_dir: Path, scorer: ScorerConfig) -> int:
    labels = read_labels(Path(scorer.labels))
    keys = ["model_id", "prompt_id", "k"] if "model_id" in labels.columns else ["prompt_id", "k"]
    lookup = {tuple(row[:-1]): row[-1] for row in labels.select(*keys, "score").iter_rows()}
    sid = scorer_id(scorer)
    config = {"name": "human", "labels": str(scorer.labels)}
    written = 0
    with JsonlWriter(job_dir / "scores.jsonl") as writer:
        for answer in iter_pending(job_dir, sid):
            key = tuple(answer[k] for k in keys)
            if key not in lookup:
                continue
            score = lookup[key]
            writer.write(score_record(answer, sid, config, score=score, unscorable=None if score is not None else "unlabelled"))
            written += 1
    return written
