"""Validate a scorer: `python -m sycobench.validate [scorer=...]`.

Scores every answer of the labelled validation set with the scorer, through the same scoring
path as a job, and writes `validation.csv` (one row per split) and `validation_by_perspective.csv`
in its run folder. Judges are also asked with the scale reversed, for the polarity-flip check.
The figures are kept as the scorer's latest, where job and sweep reports find them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import hydra
import polars as pl
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sycobench.app import exit_on_error, run_entry
from sycobench.config import ModelConfig, ScenarioConfig, ScorerConfig, Settings
from sycobench.errors import ConfigError
from sycobench.paths import CONF_DIR
from sycobench.records import run_record
from sycobench.scenario import Prompt, build_grid
from sycobench.scoring import Scorer, ScoringContext, score_folder, scorer_class
from sycobench.spec import prepare_scorer
from sycobench.store import RUN, SCORES, JobFolder
from sycobench.validation import (
    DEFAULT_SET, agreement_table, figure_rows, figures_path, flip_table, load_set, perspective_table, save_figures,
    set_digest,
)

__all__ = ["ValidateAppConfig", "ValidationConfig", "main", "score_set", "validate"]

log = logging.getLogger("sycobench.validate")
# The answers stand in for a model that is not the mock, so scorer=auto picks what a real model gets.
SET_MODEL = ModelConfig(name="validation-set", api="openrouter", id="validation-set")


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


def _set_job(folder: JobFolder, answers: pl.DataFrame, grid: dict[str, Prompt]) -> None:
    """The set as a job folder (k = the answer's line number), so any scorer scores it as it scores a job."""
    folder.make()
    used = answers["prompt_id"].unique(maintain_order=True).to_list()
    folder.write_grid([grid[p] for p in used])
    if folder.has_answers():
        return  # written by the first pass (a judge is asked twice: plain and flipped scale)
    with folder.writer(RUN) as writer:
        for k, (pid, text) in enumerate(answers.select("prompt_id", "text").iter_rows()):
            p = grid[pid]
            writer.write(run_record(role="target", model_id=SET_MODEL.id, model_label=SET_MODEL.display,
                                    api=SET_MODEL.api, prompt_id=pid, triplet_id=p.triplet_id, scenario=p.scenario,
                                    version=p.version, perspective=p.perspective, factors=p.factors, k=k,
                                    response_text=text))


async def _run_scorer(folder: JobFolder, scorer: ScorerConfig, kind: type[Scorer], app: ValidateAppConfig,
                      scenario: ScenarioConfig) -> None:
    from sycobench.job import open_client

    async with open_client(app.run, app.rate_limit, folder, scenario=scenario) as client:
        outcome = await score_folder(folder, kind(scorer, ScoringContext(scenario, client)),
                                     concurrency=app.run.concurrency, totals=client.totals.judge,
                                     progress=app.run.progress, progress_every_s=app.run.progress_every_s)
    if outcome.stop is not None:
        raise outcome.stop


def score_set(answers: pl.DataFrame, scorer: ScorerConfig, app: ValidateAppConfig, work_dir: Path,
              grid: dict[str, Prompt], scenario: ScenarioConfig) -> pl.DataFrame:
    """`answers` with the scorer's `score` (null = unscored) and whether it was `flipped`."""
    kind = scorer_class(scorer)
    folder = JobFolder(work_dir)
    _set_job(folder, answers, grid)
    asyncio.run(_run_scorer(folder, scorer, kind, app, scenario))
    sid = kind.scorer_id(scorer)
    records = folder.frame(SCORES, ["k", "scorer", "score", "flipped", "error"]).filter(pl.col("scorer") == sid)
    errors = records.filter(pl.col("error").is_not_null()).height
    if errors:
        log.warning("%s: %d answers could not be scored (call errors); they count as unscored", sid, errors)
    scores = records.filter(pl.col("error").is_null()).select("k", "score", pl.col("flipped").fill_null(False))
    return (answers.with_row_index("k").with_columns(pl.col("k").cast(pl.Int64))
            .join(scores, on="k", how="left").drop("k").with_columns(pl.col("flipped").fill_null(False)))


def validate(app: ValidateAppConfig, out_dir: Path) -> dict[str, pl.DataFrame]:
    scenario = ScenarioConfig()
    scorer, kind, _ = prepare_scorer(app.scorer, SET_MODEL, scenario, keys=True)
    if not kind.scores:
        raise ConfigError(f"scorer={scorer.name} scores nothing; validate scorer=offline, scorer=judge or scorer=human")
    grid = {p.prompt_id: p for p in build_grid(scenario)}
    path = Path(app.validation.data) if app.validation.data else DEFAULT_SET
    answers = load_set(path, set(grid))
    sid, tau = kind.scorer_id(scorer), app.validation.threshold
    work_dir = out_dir / "scored"
    scored = score_set(answers, scorer, app, work_dir, grid, scenario)
    flips = None
    if kind.flip_check:
        other = score_set(answers, replace(scorer, flip_half=not scorer.flip_half), app, work_dir, grid, scenario)
        plain, flipped = (other, scored) if scorer.flip_half else (scored, other)
        flips = flip_table(plain, flipped, threshold=tau)
    version = kind.version(scorer)
    table = figure_rows(agreement_table(scored, sid, threshold=tau), scenario=scenario.name, version=version,
                        digest=set_digest(path), flips=flips)
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
