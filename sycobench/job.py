"""One job, end to end: grid -> calls -> records -> scores -> tables.

`run_job` takes typed config and a folder; it knows nothing about Hydra, so tests, the
notebook API and the Hydra entry point all call the same function.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sycobench.cache import ResponseCache
from sycobench.config import Config
from sycobench.errors import AuthError, CreditsError
from sycobench.records import JsonlWriter, now_iso, read_jsonl
from sycobench.runner import Budget, Call, RunTotals, run_calls
from sycobench.scenario import build_grid, write_grid
from sycobench.scoring import resolve_scorer, score_job, scorer_id

__all__ = ["JobResult", "plan_calls", "record_failure", "resolve_shared_budget", "run_job"]

log = logging.getLogger("sycobench")


@dataclass
class JobResult:
    job_dir: Path
    status: str  # ok | incomplete | failed | dry_run
    message: str = ""
    totals: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)


def _job_meta(job_dir: Path) -> dict[str, Any]:
    path = job_dir / "job.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_meta(job_dir: Path, meta: dict[str, Any]) -> None:
    tmp = job_dir / "job.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, default=str))
    tmp.replace(job_dir / "job.json")


def plan_calls(cfg: Config, job_dir: Path, grid: list, totals: RunTotals) -> list[Call]:
    """Every (prompt, k) without a successful record yet; errors too with run.retry_errors."""
    status: dict[tuple[str, int], bool] = {}
    for r in read_jsonl(job_dir / "run.jsonl"):
        if r["model_id"] != cfg.model.id:
            continue
        key = (r["prompt_id"], r["k"])
        status[key] = status.get(key, False) or r["error"] is None
    calls = []
    for prompt in grid:
        for k in range(cfg.run.samples):
            seen = status.get((prompt.prompt_id, k))
            if seen is True or (seen is False and not cfg.run.retry_errors):
                totals.skipped += 1
                continue
            totals.retried += seen is False
            totals.new += seen is None
            calls.append(Call(prompt, k))
    totals.planned = len(grid) * cfg.run.samples
    return calls


async def _generate(cfg: Config, job_dir: Path, calls: list[Call], totals: RunTotals, meta: dict[str, Any]) -> None:
    from sycobench.providers import ProviderPool

    cache = None
    if cfg.run.cache and cfg.model.api != "mock":
        cache = ResponseCache(Path(cfg.run.cache_dir) if cfg.run.cache_dir else None)
    budget = Budget(None)
    if cfg.run.max_cost_usd is not None:
        spent = sum((r["cost_usd"] or 0.0) for r in read_jsonl(job_dir / "run.jsonl") if not r.get("cached"))
        budget = Budget(cfg.run.max_cost_usd, spent=spent)
        log.info("budget: $%.4f of run.max_cost_usd=$%.4f already spent", spent, cfg.run.max_cost_usd)
    try:
        async with ProviderPool(cfg.rate_limit, concurrency=cfg.run.concurrency) as pool:
            provider = pool.provider_for(cfg.model)
            with JsonlWriter(job_dir / "run.jsonl") as writer:
                await run_calls(
                    calls,
                    model=cfg.model,
                    provider=provider,
                    writer=writer,
                    totals=totals,
                    meta={"run_id": meta["run_id"], "job_id": meta["job_id"]},
                    concurrency=cfg.run.concurrency,
                    cache=cache,
                    budget=budget,
                    progress=cfg.run.progress,
                    total=len(calls),
                )
    finally:
        if cache is not None:
            meta["cache"] = {"hits": cache.hits, "misses": cache.misses}
            cache.close()


def resolve_shared_budget(cfg: Config, sweep_dir: Path | None) -> None:
    """`rate_limit.shared_budget=auto`: one budget file per sweep, none for a single job."""
    if cfg.rate_limit.shared_budget == "auto":
        cfg.rate_limit.shared_budget = str(sweep_dir / ".rate_budget.sqlite") if sweep_dir else None


def run_job(cfg: Config, job_dir: Path, *, job_id: str | None = None, sweep_dir: Path | None = None) -> JobResult:
    """Run one job into `job_dir` (created or resumed). Raises SycobenchError on bad input.

    `sweep_dir` is set for jobs of a sweep on one machine: they then share one rate budget."""
    from sycobench.roster import apply_roster

    apply_roster(cfg)
    resolve_shared_budget(cfg, sweep_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    meta = _job_meta(job_dir)
    meta.setdefault("run_id", uuid.uuid4().hex[:12])
    meta["job_id"] = job_id or meta.get("job_id") or job_dir.name
    meta.update(status="running", started_at=now_iso(), model_id=cfg.model.id)

    scorer = resolve_scorer(cfg.scorer, cfg.model)
    cfg.scorer = scorer
    meta["scorer"] = scorer_id(scorer)
    (job_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    _save_meta(job_dir, meta)

    grid = build_grid(cfg.scenario)
    write_grid(grid, job_dir / "grid.jsonl")
    log.info(
        "job %s: model=%s%s scenario=%s prompts=%d samples=%d scorer=%s -> %s",
        meta["job_id"], cfg.model.id, " (simulated)" if cfg.model.api == "mock" else "",
        cfg.scenario.name, len(grid), cfg.run.samples, meta["scorer"], job_dir,
    )
    if cfg.run.dry_run:
        from sycobench.estimate import dry_run_report

        message = dry_run_report(cfg, grid, job_dir)
        log.info(message)
        meta.update(status="dry_run")
        _save_meta(job_dir, meta)
        return JobResult(job_dir, "dry_run", message)

    totals = RunTotals()
    calls = plan_calls(cfg, job_dir, grid, totals)
    log.info("calls: %d planned, %d skipped (already done), %d retried, %d new",
             totals.planned, totals.skipped, totals.retried, totals.new)
    status, message = "ok", ""
    try:
        asyncio.run(_generate(cfg, job_dir, calls, totals, meta))
    except (AuthError, CreditsError) as exc:
        meta.update(status="failed", message=str(exc), totals=asdict(totals))
        _save_meta(job_dir, meta)
        raise
    if totals.stopped:
        status, message = "incomplete", totals.stopped
        log.warning("stopped early: %s. Resume with run.resume=%s", totals.stopped, job_dir)
    log.info("summary: %s", totals.summary())

    score_job(job_dir, scorer, cfg)
    from sycobench.report.job import write_job_report

    tables = write_job_report(job_dir, cfg.report)
    meta.update(status=status, message=message, ended_at=now_iso(), totals=asdict(totals))
    _save_meta(job_dir, meta)
    return JobResult(job_dir, status, message, asdict(totals), tables)



def record_failure(job_dir: Path, exc: BaseException) -> None:
    """Mark a sweep job as failed in its job.json so the sweep report can list it."""
    job_dir.mkdir(parents=True, exist_ok=True)
    meta = _job_meta(job_dir)
    meta.update(status="failed", message=str(exc) or type(exc).__name__, ended_at=now_iso())
    _save_meta(job_dir, meta)
