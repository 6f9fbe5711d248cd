"""Score later: `python -m sycobench.score run_dir=PATH [scorer=...]`.

Scores every answer of a job folder (or of every job in a sweep folder) that this scorer has
not scored yet, appends to scores.jsonl beside the others, and rebuilds the tables.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from sycobench.app import exit_on_error, run_entry
from sycobench.config import Config, Settings, load_saved_config
from sycobench.errors import ConfigError
from sycobench.paths import CONF_DIR

__all__ = ["ScoreAppConfig", "ascore_path", "main", "score_path"]

log = logging.getLogger("sycobench.score")


@dataclass
class ScoreAppConfig(Settings):
    """The job's settings that scoring uses, plus the folder to score."""

    run_dir: str = MISSING


ConfigStore.instance().store(name="sycobench_score_schema", node=ScoreAppConfig)


def _job_config(job_dir: Path, app: ScoreAppConfig) -> Config:
    """The job's own saved config, with this app's scorer, rate limit, run and report settings."""
    saved = job_dir / "config.yaml"
    if not saved.exists():
        raise ConfigError(f"{job_dir}: no config.yaml; is this a sycobench job folder?")
    cfg = load_saved_config(OmegaConf.load(saved))
    cfg.scorer, cfg.rate_limit, cfg.report = app.scorer, app.rate_limit, app.report
    cfg.run.concurrency, cfg.run.cache, cfg.run.cache_dir = app.run.concurrency, app.run.cache, app.run.cache_dir
    return cfg


async def ascore_path(path: Path, app: ScoreAppConfig) -> int:
    """Score every job under `path`, each through its own call path (cache, cost cap, totals)."""
    from sycobench.job import open_client
    from sycobench.jobdir import job_lock
    from sycobench.records import check_job_records
    from sycobench.report.job import write_job_report
    from sycobench.report.load import find_jobs
    from sycobench.scoring import ScoringContext, resolve_scorer, score_job

    jobs = find_jobs(path)
    if not jobs:
        raise ConfigError(f"run_dir={path}: no job folder (with run.jsonl) found there")
    total = 0
    for job_dir in jobs:
        cfg = _job_config(job_dir, app)
        scorer = resolve_scorer(app.scorer, cfg.model)
        check_job_records(job_dir)
        with job_lock(job_dir):  # never beside a job still writing there
            async with open_client(cfg, job_dir) as client:
                total += await score_job(ScoringContext(job_dir, scorer, cfg, client))
            write_job_report(job_dir, cfg.report)
    if len(jobs) > 1 or jobs[0] != path:
        from sycobench.report import write_report

        write_report([path], path / "report", app.report)
    return total


def score_path(path: Path, app: ScoreAppConfig) -> int:
    return asyncio.run(ascore_path(path, app))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="score")
@exit_on_error
def _hydra_main(cfg: DictConfig) -> None:
    app: ScoreAppConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    n = score_path(Path(app.run_dir), app)
    log.info("scored %d answers", n)


def main() -> None:
    run_entry(_hydra_main)


if __name__ == "__main__":
    main()
