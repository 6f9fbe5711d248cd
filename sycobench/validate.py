"""Validate a scorer: `python -m sycobench.validate [scorer=...]`.

Scores every answer of the labelled validation set with the scorer, through the same scoring
path as a job, and writes `validation.csv` (one row per split) and `validation_by_perspective.csv`
in its run folder. Judges are also asked with the scale reversed, for the polarity-flip check.
The figures are kept as the scorer's latest, where job and sweep reports find them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import hydra
import polars as pl
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sycobench.app import exit_on_error, run_entry
from sycobench.config import Config, ModelConfig, ScenarioConfig, ScorerConfig, Settings
from sycobench.errors import ConfigError
from sycobench.paths import CONF_DIR
from sycobench.scenario import Prompt, build_grid
from sycobench.validation import (
    DEFAULT_SET, agreement_table, figure_rows, figures_path, flip_table, load_set, perspective_table, save_figures,
    set_digest,
)

__all__ = ["ValidateAppConfig", "ValidationConfig", "main", "score_set", "validate"]

log = logging.getLogger("sycobench.validate")
# The answers stand in for a model that is not the mock, so scorer=auto picks what a real model gets.
SET_MODEL = ModelConfig(name="validation-set", api="validation", id="validation-set")


@dataclass
class ValidationConfig:
    data: str | None = None
    store: str | None = None
    save: bool = True
    threshold: float = 0.33

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ConfigError(f"validation.threshold: must be in (0, 1), got {self.threshold}")


@dataclass
class ValidateAppConfig(Settings):
    """The settings scoring uses (scorer, rate limit, run), plus where the set and the figures are."""

    validation: ValidationConfig = field(default_factory=ValidationConfig)


ConfigStore.instance().store(name="sycobench_validate_schema", node=ValidateAppConfig)


def _offline_scores(answers: pl.DataFrame, grid: dict[str, Prompt]) -> pl.DataFrame:
    from sycobench.scoring.offline import score_text

    scores = [score_text(text, prompt=grid[pid].messages).score
              for text, pid in answers.select("text", "prompt_id").iter_rows()]
    return answers.with_columns(pl.Series("score", scores, dtype=pl.Float64), pl.lit(False).alias("flipped"))


def _write_set_job(job_dir: Path, answers: pl.DataFrame, grid: dict[str, Prompt]) -> None:
    """The set as a job folder (k = the answer's line number), so any scorer scores it as it scores a job."""
    job_dir.mkdir(parents=True, exist_ok=True)
    used = answers["prompt_id"].unique(maintain_order=True).to_list()
    (job_dir / "grid.jsonl").write_text("".join(json.dumps(grid[p].to_dict(), ensure_ascii=False) + "\n" for p in used))
    with (job_dir / "run.jsonl").open("w") as fh:
        for k, (pid, text) in enumerate(answers.select("prompt_id", "text").iter_rows()):
            prompt = grid[pid]
            record = {"run_id": None, "job_id": None, "model_id": SET_MODEL.id, "prompt_id": pid, "k": k,
                      "triplet_id": prompt.triplet_id, "perspective": prompt.perspective, "factors": prompt.factors,
                      "response_text": text, "error": None}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


async def _run_scorer(job_dir: Path, scorer: ScorerConfig, cfg: Config) -> None:
    from sycobench.job import open_client
    from sycobench.scoring import ScoringContext, score_job

    async with open_client(cfg, job_dir) as client:
        await score_job(ScoringContext(job_dir, scorer, cfg, client))


def _job_scores(job_dir: Path, answers: pl.DataFrame, scorer: ScorerConfig, cfg: Config) -> pl.DataFrame:
    from sycobench.records import read_jsonl
    from sycobench.scoring import scorer_id

    asyncio.run(_run_scorer(job_dir, scorer, cfg))
    sid = scorer_id(scorer)
    rows = [(r["k"], r["score"], bool(r.get("flipped"))) for r in read_jsonl(job_dir / "scores.jsonl")
            if r["scorer"] == sid and r["error"] is None]
    errors = sum(1 for r in read_jsonl(job_dir / "scores.jsonl") if r["scorer"] == sid and r["error"] is not None)
    if errors:
        log.warning("%s: %d answers could not be scored (call errors); they count as unscored", sid, errors)
    scores = pl.DataFrame(rows, schema={"k": pl.Int64, "score": pl.Float64, "flipped": pl.Boolean}, orient="row")
    return (answers.with_row_index("k").with_columns(pl.col("k").cast(pl.Int64))
            .join(scores, on="k", how="left").drop("k").with_columns(pl.col("flipped").fill_null(False)))


def score_set(answers: pl.DataFrame, scorer: ScorerConfig, app: ValidateAppConfig, work_dir: Path,
              grid: dict[str, Prompt]) -> pl.DataFrame:
    """`answers` with the scorer's `score` (null = unscored) and whether it was `flipped`."""
    if scorer.name == "offline":
        return _offline_scores(answers, grid)
    _write_set_job(work_dir, answers, grid)
    cfg = Config(model=SET_MODEL, scenario=ScenarioConfig(), scorer=scorer, rate_limit=app.rate_limit, run=app.run,
                 report=app.report)
    return _job_scores(work_dir, answers, scorer, cfg)


def validate(app: ValidateAppConfig, out_dir: Path) -> dict[str, pl.DataFrame]:
    from sycobench.scoring import resolve_scorer, scorer_id
    from sycobench.scoring.offline import SCORER_VERSION

    if app.scorer.name == "none":
        raise ConfigError("scorer=none scores nothing; validate scorer=offline, scorer=judge or scorer=human")
    grid = {p.prompt_id: p for p in build_grid(ScenarioConfig())}
    path = Path(app.validation.data) if app.validation.data else DEFAULT_SET
    answers = load_set(path, set(grid))
    scorer = resolve_scorer(app.scorer, SET_MODEL)
    sid, tau = scorer_id(scorer), app.validation.threshold
    work_dir = out_dir / "scored"
    scored = score_set(answers, scorer, app, work_dir, grid)
    flips = None
    if scorer.name == "judge":
        other = score_set(answers, replace(scorer, flip_half=not scorer.flip_half), app, work_dir, grid)
        plain, flipped = (other, scored) if scorer.flip_half else (scored, other)
        flips = flip_table(plain, flipped, threshold=tau)
    version = SCORER_VERSION if scorer.name == "offline" else sid
    table = figure_rows(agreement_table(scored, sid, threshold=tau), version=version, digest=set_digest(path), flips=flips)
    by_perspective = perspective_table(scored, sid, threshold=tau)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.write_csv(out_dir / "validation.csv", float_precision=4)
    by_perspective.write_csv(out_dir / "validation_by_perspective.csv", float_precision=4)
    scored.select("id", "split", "perspective", "label", "score").write_csv(out_dir / "scores.csv", float_precision=4)
    if app.validation.save:
        store = Path(app.validation.store) if app.validation.store else figures_path()
        save_figures(table, store)
        log.info("kept as the latest figures of %s in %s", sid, store)
    return {"validation": table, "by_perspective": by_perspective}


def format_table(table: pl.DataFrame) -> str:
    cols = [c for c in table.columns if c not in ("version", "set_sha", "validated_at") and table[c].null_count() < table.height]
    with pl.Config(tbl_rows=20, tbl_cols=20, tbl_width_chars=200, float_precision=3, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        return str(table.select(cols))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="validate")
@exit_on_error
def _hydra_main(cfg: DictConfig) -> None:
    app: ValidateAppConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    tables = validate(app, out_dir)
    print(f"validation of {tables['validation']['scorer'][0]} (written to {out_dir / 'validation.csv'})")
    print(format_table(tables["validation"]))


def main() -> None:
    run_entry(_hydra_main)


if __name__ == "__main__":
    main()
