"""The notebook API: compose configs with overrides, run a job, get Polars frames back.

    from sycobench import compose, run
    cfg = compose(["model=mock", "scenario.limit=10"])
    result = run(cfg)            # in Jupyter (a running event loop): result = await arun(cfg)
    result.uplift
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from sycobench.paths import CONF_DIR
from sycobench.config import register_configs, to_config
from sycobench.errors import ConfigError, SycobenchError
from sycobench.scenario_file import ScenarioConfig, check_scenario_files

__all__ = ["RunResult", "arun", "compose", "run"]


@dataclass
class RunResult:
    job_dir: Path
    status: str
    message: str
    records: pl.DataFrame
    stance_mix: pl.DataFrame | None
    uplift: pl.DataFrame | None
    summary: pl.DataFrame | None
    totals: dict = field(default_factory=dict)  # planned, skipped, and per role calls, tokens, cost (job.json's)


def compose(overrides: list[str] | None = None) -> DictConfig:
    """The same config the CLI would compose, from any working directory."""
    from sycobench.app import describe_error
    from sycobench.providers.keys import refuse_keys_in_overrides
    from sycobench.store.dirs import register_resolver

    register_configs()
    register_resolver()
    refuse_keys_in_overrides(list(overrides or []))
    check_scenario_files(list(overrides or []))
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="sycobench"):
            cfg = hydra_compose(config_name="config", overrides=list(overrides or []))
    except SycobenchError:
        raise
    except Exception as exc:  # the same one line the command line prints
        raise ConfigError(describe_error(exc)) from None
    ScenarioConfig(OmegaConf.to_container(cfg.scenario, resolve=True))  # the scenario file is checked here, not by a schema
    return cfg


async def _arun(cfg: DictConfig, job_dir: Path | None) -> RunResult:
    from sycobench.job import arun_job
    from sycobench.report.load import load_results
    from sycobench.spec import prepare_job
    from sycobench.store import JobFolder, claim_dir

    spec = prepare_job(to_config(cfg), job_dir)  # every check, before the folder or its log is touched
    if job_dir is None:
        job_dir = Path(claim_dir(str(Path.cwd() / "outputs" / "notebook")))
    folder = JobFolder(job_dir)
    folder.make()
    handler = logging.FileHandler(folder.file("log"))
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    root = logging.getLogger("sycobench")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        result = await arun_job(spec, job_dir)
    finally:
        root.removeHandler(handler)
        handler.close()
    tables = result.tables or {}
    records = load_results(folder) if folder.has_answers() else pl.DataFrame()
    return RunResult(job_dir, result.status, result.message, records,
                     tables.get("stance_mix"), tables.get("uplift"), tables.get("summary"), result.totals)


def run(cfg: DictConfig, *, job_dir: str | Path | None = None) -> RunResult:
    """Run one job and return its frames. Inside a running event loop (Jupyter), use
    `await arun(cfg)`: the job is one coroutine and runs in the caller's loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_arun(cfg, Path(job_dir) if job_dir else None))
    raise SycobenchError("run() was called inside a running event loop (e.g. Jupyter); "
                         "use `result = await arun(cfg)` there")


async def arun(cfg: DictConfig, *, job_dir: str | Path | None = None) -> RunResult:
    """Awaitable `run`: the job runs as one coroutine in the caller's event loop, no threads."""
    return await _arun(cfg, Path(job_dir) if job_dir else None)
