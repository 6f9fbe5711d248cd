"""Human labels as one more scorer, so a judge can be validated against people.

The CSV has a header and the columns `prompt_id,k,score` (score in [-1, 1], empty = unscorable),
plus an optional `model_id` column when one file labels several models' answers. Answers the file
does not label are left unscored.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sycobench.config import ModelConfig, ScorerConfig
from sycobench.errors import ConfigError
from sycobench.records import Answer
from sycobench.scenario_file import ScenarioConfig
from sycobench.scoring.base import Score, Scorer, ScoringContext, register_scorer

__all__ = ["HumanScorer", "read_labels"]


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


@register_scorer("human")
class HumanScorer(Scorer):
    def __init__(self, cfg: ScorerConfig, ctx: ScoringContext) -> None:
        super().__init__(cfg, ctx)
        labels = read_labels(Path(cfg.labels))
        self.keys = ["model_id", "prompt_id", "k"] if "model_id" in labels.columns else ["prompt_id", "k"]
        self.lookup = {tuple(row[:-1]): row[-1] for row in labels.select(*self.keys, "score").iter_rows()}

    @classmethod
    def scorer_id(cls, cfg: ScorerConfig) -> str:
        return f"human:{Path(cfg.labels).stem}" if cfg.labels else cfg.name

    @classmethod
    def check(cls, cfg: ScorerConfig, *, scenario: ScenarioConfig, target: ModelConfig) -> None:
        if not cfg.labels:
            raise ConfigError("scorer.labels: human labels need a CSV: scorer.labels=path/to/labels.csv")
        read_labels(Path(cfg.labels))

    def config(self) -> dict[str, str]:
        return {"name": self.cfg.name, "labels": str(self.cfg.labels)}

    async def score(self, answer: Answer) -> Score | None:
        key = tuple(getattr(answer, k) for k in self.keys)
        if key not in self.lookup:
            return None
        value = self.lookup[key]
        return Score(score=value, unscorable=None if value is not None else "unlabelled")
