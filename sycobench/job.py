"""One job, end to end: grid -> calls -> records -> scores -> tables, in one event loop.

`arun_job` takes typed config and a folder; it knows nothing about Hydra, so tests, the
notebook API and the Hydra entry point all call the same function (`run_job` from sync code).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sycobench.exitcodes as exitcodes
from sycobench.cache import ResponseCache
from sycobench.config import Config, config_yaml
from sycobench.errors import AuthError, CreditsError
from sycobench.jobdir import check_fingerprint, fingerprint, job_lock
from sycobench.preflight import check_job
from sycobench.progress import Progress
from sycobench.providers.client import CallTotals, ModelClient
from sycobench.providers.costcap import CostCap
from sycobench.records import JsonlWriter, check_job_records, now_iso, read_jsonl
from sycobench.runner import STOPS, Plan, plan_calls, run_calls
from sycobench.scenario import write_grid
from sycobench.scoring import ScoringContext, score_job, scorer_id

__all__ = ["JobResult", "arun_job", "job_gaps", "open_client", "record_failure", "resolve_shared_rate_file",
           "run_job"]

log = logging.getLogger("sycobench")


@dataclass
class JobResult:
    job_dir: Path
    status: str  # ok | incomplete | dry_run (failed and interrupted jobs raise)
    message: str = ""
    totals: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)


def _job_meta(job_dir: Path) -> dict[str, Any]:
    from sycobench.report.load import load_job_meta

    return load_job_meta(job_dir)


def _save_meta(job_dir: Path, meta: dict[str, Any]) -> None:
    tmp = job_dir / "job.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, default=str))
    tmp.replace(job_dir / "job.json")


def _spent(job_dir: Path) -> float:
    """What earlier runs of this job paid, answers and judge calls together (cached calls: $0)."""
    return sum((r.get("cost_usd") or 0.0) for name in ("run.jsonl", "scores.jsonl")
               for r in read_jsonl(job_dir / name) if not r.get("cached"))


def open_client(cfg: Config, job_dir: Path) -> ModelClient:
    """The job's one call path: its cache, its cost cap (counting what earlier runs spent)."""
    cache = None
    if cfg.run.cache:
        cache = ResponseCache(Path(cfg.run.cache_dir) if cfg.run.cache_dir else None)
    cap = CostCap(None)
    if cfg.run.max_cost_usd is not None:
        cap = CostCap(cfg.run.max_cost_usd, spent=_spent(job_dir))
        log.info("cost cap: $%.4f of run.max_cost_usd=$%.4f already spent", cap.spent, cfg.run.max_cost_usd)
    return ModelClient(cfg.rate_limit, concurrency=cfg.run.concurrency, cache=cache, cost_cap=cap,
                       scenario=cfg.scenario)


def resolve_shared_rate_file(cfg: Config, sweep_dir: Path | None) -> None:
    """`rate_limit.shared_rate_file=auto`: one file per sweep, none for a single job."""
    if cfg.rate_limit.shared_rate_file == "auto":
        cfg.rate_limit.shared_rate_file = str(sweep_dir / ".shared_rate.sqlite") if sweep_dir else None


def _totals(plan: Plan, calls: CallTotals, wall_s: float, stopped: str | None) -> dict[str, Any]:
    return {"planned": plan.planned, "skipped": plan.skipped, "reasked": plan.reasked, **calls.to_dict(),
            "wall_s": round(wall_s, 3), "stopped": stopped}


async def _generate(cfg: Config, job_dir: Path, plan: Plan, client: ModelClient, meta: dict[str, Any]) -> str | None:
    progress = Progress("generate", len(plan.calls), client.totals.target, enabled=cfg.run.progress,
                        every_s=cfg.run.progress_every_s)
    with JsonlWriter(job_dir / "run.jsonl") as writer:
        stop = await run_calls(plan.calls, model=cfg.model, client=client, writer=writer,
                               meta={"run_id": meta["run_id"], "job_id": meta["job_id"]},
                               concurrency=cfg.run.concurrency, progress=progress)
    if isinstance(stop, (AuthError, CreditsError)):
        raise stop
    return None if stop is None else str(stop)


async def arun_job(cfg: Config, job_dir: Path, *, job_id: str | None = None,
                   sweep_dir: Path | None = None) -> JobResult:
    """Run one job into `job_dir` (created or resumed). Raises SycobenchError on bad input.

    Every check that needs no call runs first; then the folder is locked and its fingerprint
    compared, so a refused job writes nothing. From then on job.json always ends in a final status.
    `sweep_dir` is set for jobs of a sweep on one machine: they then share one rate file."""
    from sycobench.roster import apply_roster

    apply_roster(cfg)
    resolve_shared_rate_file(cfg, sweep_dir)
    scorer, grid = check_job(cfg, job_dir)
    prints = fingerprint(cfg)
    check_fingerprint(job_dir, prints)
    with job_lock(job_dir):
        check_fingerprint(job_dir, prints)  # again under the lock: another job may just have finished
        check_job_records(job_dir)
        meta = _job_meta(job_dir)
        meta.setdefault("run_id", uuid.uuid4().hex[:12])
        meta["job_id"] = job_id or meta.get("job_id") or job_dir.name
        meta.update(status="running", started_at=now_iso(), model_id=cfg.model.id, fingerprint=prints)
        for stale in ("ended_at", "exit_code", "message"):
            meta.pop(stale, None)
        try:
            return await _arun_locked(cfg, job_dir, scorer, grid, meta)
        except BaseException as exc:  # Ctrl-C arrives here as a cancellation of this coroutine
            code = exitcodes.code_for_error(exc)
            status = "interrupted" if code == exitcodes.INTERRUPTED else "failed"
            meta.update(status=status, message=str(exc) or type(exc).__name__, ended_at=now_iso(), exit_code=code)
            _save_meta(job_dir, meta)
            raise


async def _arun_locked(cfg: Config, job_dir: Path, scorer: Any, grid: list, meta: dict[str, Any]) -> JobResult:
    cfg.scorer = scorer
    meta["scorer"] = scorer_id(scorer)
    (job_dir / "config.yaml").write_text(config_yaml(cfg))
    _save_meta(job_dir, meta)

    write_grid(grid, job_dir / "grid.jsonl")
    log.info(
        "job %s: model=%s%s scenario=%s prompts=%d samples=%d scorer=%s -> %s",
        meta["job_id"], cfg.model.id, " (simulated)" if cfg.model.api == "mock" else "",
        cfg.scenario.name, len(grid), cfg.run.samples, meta["scorer"], job_dir,
    )
    plan = plan_calls(cfg, job_dir, grid)
    if cfg.run.dry_run:
        from sycobench.estimate import dry_run_report

        message = await dry_run_report(cfg, grid, plan)
        log.info(message)
        meta.update(status="dry_run", ended_at=now_iso(), exit_code=exitcodes.OK)
        _save_meta(job_dir, meta)
        return JobResult(job_dir, "dry_run", message)

    log.info("calls: %d planned, skipped %d already done, %d failed before and asked again, %d new",
             plan.planned, plan.skipped, plan.reasked, len(plan.calls) - plan.reasked)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, message, stopped = "ok", "", None
    client = open_client(cfg, job_dir)
    try:
        async with client:
            stopped = await _generate(cfg, job_dir, plan, client, meta)
            try:  # after a stop too: what was answered is scored, as far as the cap allows
                await score_job(ScoringContext(job_dir, scorer, cfg, client))
            except STOPS as exc:
                if isinstance(exc, (AuthError, CreditsError)):
                    raise
                stopped = stopped or str(exc)
    except (AuthError, CreditsError) as exc:  # the caller records the final status
        meta["totals"] = _totals(plan, client.totals, loop.time() - started, str(exc))
        raise
    finally:
        if client.cache is not None:
            meta["cache"] = {"hits": client.cache.hits, "misses": client.cache.misses}
    totals = _totals(plan, client.totals, loop.time() - started, stopped)
    if stopped:
        log.warning("stopped early: %s. Resume with run.resume=%s", stopped, job_dir)
    log.info("answers: %s", client.totals.target.summary())
    if client.totals.judge.calls:
        log.info("judge: %s", client.totals.judge.summary())
    log.info("summary: spent $%.4f this run (target $%.4f, judge $%.4f); wall %.1fs",
             client.totals.cost_usd, client.totals.target.cost_usd, client.totals.judge.cost_usd, totals["wall_s"])

    from sycobench.report.job import write_job_report

    tables = write_job_report(job_dir, cfg.report)
    gaps = job_gaps(job_dir, grid, cfg.run.samples, cfg.model.id, None if scorer.name == "none" else scorer_id(scorer))
    if stopped or gaps:
        status = "incomplete"
        message = "; ".join(filter(None, [stopped, gaps]))
        fix = " run.retry_errors=true" if "failed after retries" in message else ""
        message += f". Resume with run.resume={job_dir}{fix}"
        log.warning("job incomplete: %s", message)
    meta.update(status=status, message=message, ended_at=now_iso(), totals=totals,
                exit_code=exitcodes.code_for_status(status))
    _save_meta(job_dir, meta)
    return JobResult(job_dir, status, message, totals, tables)


def job_gaps(job_dir: Path, grid: list, samples: int, model_id: str, scorer: str | None) -> str:
    """What keeps a job from being complete: planned calls with no answer, answers not scored."""
    import polars as pl

    from sycobench.records import RUN_FIELDS, SCORE_FIELDS
    from sycobench.report.load import read_frame

    keys = ["prompt_id", "k"]
    # only the ids and the error: the answer and judge texts are never parsed for this
    run_cols = {name: RUN_FIELDS[name] for name in ("model_id", "prompt_id", "k", "error")}
    score_cols = {name: SCORE_FIELDS[name] for name in ("model_id", "prompt_id", "k", "scorer", "error")}
    planned = pl.DataFrame({"prompt_id": [p.prompt_id for p in grid]}).join(
        pl.DataFrame({"k": list(range(samples))}, schema={"k": pl.Int64}), how="cross")
    runs = read_frame(job_dir / "run.jsonl", run_cols).filter(pl.col("model_id") == model_id)
    answered = runs.filter(pl.col("error").is_null()).select(keys).unique()
    missing = planned.join(answered, on=keys, how="anti")
    failed = missing.join(runs.select(keys).unique(), on=keys, how="semi").height
    problems = []
    if failed:
        problems.append(f"{failed} of {planned.height} calls failed after retries")
    if missing.height - failed:
        problems.append(f"{missing.height - failed} of {planned.height} calls not made yet")
    if scorer is not None:
        scored = (read_frame(job_dir / "scores.jsonl", score_cols)
                  .filter((pl.col("model_id") == model_id) & (pl.col("scorer") == scorer) & pl.col("error").is_null())
                  .select(keys).unique())
        unscored = planned.join(answered, on=keys, how="semi").join(scored, on=keys, how="anti").height
        if unscored:
            problems.append(f"{unscored} answers have no score from {scorer} (the scorer's call failed)")
    return "; ".join(problems)


def run_job(cfg: Config, job_dir: Path, *, job_id: str | None = None, sweep_dir: Path | None = None) -> JobResult:
    """`arun_job` from synchronous code: the whole job runs in one event loop."""
    return asyncio.run(arun_job(cfg, job_dir, job_id=job_id, sweep_dir=sweep_dir))


def record_failure(job_dir: Path, exc: BaseException) -> None:
    """Mark a sweep job as failed in its job.json so the sweep report can list it."""
    job_dir.mkdir(parents=True, exist_ok=True)
    meta = _job_meta(job_dir)
    meta.update(status="failed", message=str(exc) or type(exc).__name__, ended_at=now_iso(),
                exit_code=exitcodes.code_for_error(exc))
    _save_meta(job_dir, meta)
