"""Score later: `python -m sycobench.score run_dir=PATH [scorer=...]`.

Scores every answer of a job folder (or of every job in a sweep folder) that this scorer has
not scored yet, appends to scores.jsonl beside the others, and rebuilds the tables.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from sycobench.app import exit_on_error, run_entry
from sycobench.config import Config, Settings, load_saved_config
from sycobench.errors import ConfigError
from sycobench.paths import CONF_DIR

if TYPE_CHECKING:  # the store loads Polars: a command refused for a wrong value never needs it
    from sycobench.store import JobFolder

__all__ = ["ScoreAppConfig", "ascore_path", "main", "score_path"]

log = logging.getLogger("sycobench.score")


@dataclass
class ScoreAppConfig(Settings):
    """The job's settings that scoring uses, plus the folder to score."""

    run_dir: str = MISSING


ConfigStore.instance().store(name="sycobench_score_schema", node=ScoreAppConfig)


def _job_config(folder: JobFolder, app: ScoreAppConfig) -> Config:
    """The job's own saved config, with this app's scorer, rate limit, run and report settings."""
    saved = folder.saved_config()
    if saved is None:
        raise ConfigError(f"{folder.path}: no saved config; is this a sycobench job folder?")
    cfg = load_saved_config(saved)
    run = replace(cfg.run, concurrency=app.run.concurrency, cache=app.run.cache, cache_dir=app.run.cache_dir,
                  max_cost_usd=app.run.max_cost_usd, progress=app.run.progress)
    return replace(cfg, scorer=app.scorer, rate_limit=app.rate_limit, report=app.report, run=run)


async def ascore_path(path: Path, app: ScoreAppConfig) -> int:
    """Score every job under `path`, each through its own call path (cache, cost cap, totals)."""
    from sycobench.job import open_client
    from sycobench.report.job import write_job_report
    from sycobench.scoring import ScoringContext, score_folder
    from sycobench.spec import prepare_scorer
    from sycobench.store import SweepFolder, find_jobs

    jobs = [job for job in find_jobs(path) if job.has_answers()]
    if not jobs:
        raise ConfigError(f"run_dir={path}: no job folder with answers found there")
    prepared = []
    for folder in jobs:  # every job is checked before the first is scored
        cfg = _job_config(folder, app)
        scorer, kind, why = prepare_scorer(cfg.scorer, cfg.model, cfg.scenario, keys=True)
        folder.check_records()
        prepared.append((folder, cfg, scorer, kind, why))
    total = 0
    for folder, cfg, scorer, kind, why in prepared:
        if why:
            log.info(why)
        with folder.lock():  # never beside a job still writing there
            async with open_client(cfg.run, cfg.rate_limit, folder, scenario=cfg.scenario) as client:
                outcome = await score_folder(folder, kind(scorer, ScoringContext(cfg.scenario, client)),
                                             concurrency=cfg.run.concurrency, totals=client.totals.judge,
                                             progress=cfg.run.progress, progress_every_s=cfg.run.progress_every_s)
            total += outcome.scored
            write_job_report(folder, cfg.report)
            _update_status(folder, cfg, kind.scorer_id(scorer) if kind.scores else None)
            if outcome.stop is not None:
                raise outcome.stop
    if len(jobs) > 1 or jobs[0].path != path:
        from sycobench.report import write_report

        write_report([path], SweepFolder(path).report, app.report)
    return total


def _update_status(folder: JobFolder, cfg: Config, scorer: str | None) -> None:
    """A job left incomplete only for want of scores is `ok` once scoring fills every gap."""
    meta = folder.read_meta()
    if meta.get("status") != "incomplete":
        return
    from sycobench.preflight import check_grid

    prompts = [p.prompt_id for p in folder.read_grid()] or [p.prompt_id for p in check_grid(cfg.scenario)]
    gaps = folder.gaps(prompts, cfg.run.samples, cfg.model.id, scorer)
    if gaps:
        meta["message"] = f"{gaps}. Resume with run.resume={folder.path}"
    else:
        meta.update(status="ok", message="", exit_code=0)
        log.info("%s: every answer is scored now; job.json says ok", folder.path)
    folder.save_meta(meta)


def score_path(path: Path, app: ScoreAppConfig) -> int:
    return asyncio.run(ascore_path(path, app))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="score")
@exit_on_error
def _hydra_main(cfg: DictConfig) -> None:
    app: ScoreAppConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    n = score_path(Path(app.run_dir), app)
    log.info("scored %d answers", n)


def main() -> None:
    run_entry(_hydra_main, again="run the same command again: it scores only what is left")


if __name__ == "__main__":
    main()
