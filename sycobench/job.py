"""One job, end to end: grid -> calls -> records -> scores -> tables, in one event loop.

`arun_job` takes a prepared `JobSpec` (sycobench.spec) and a folder; it knows nothing about Hydra,
so tests, the notebook API and the Hydra entry point all call the same function (`run_job` from
sync code).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sycobench.exitcodes as exitcodes
from sycobench.config import RateLimitConfig, RunConfig, config_yaml
from sycobench.errors import AuthError, ConfigError, CreditsError, Signalled, SycobenchError, is_file_error
from sycobench.logs import CONSOLE
from sycobench.progress import Progress
from sycobench.providers.cache import ResponseCache
from sycobench.providers.client import CallTotals, ModelClient
from sycobench.providers.costcap import CostCap
from sycobench.records import now_iso
from sycobench.runner import Plan, plan_calls, run_calls
from sycobench.scoring import ScoringContext, score_folder
from sycobench.spec import JobSpec
from sycobench.store import RUN, JobFolder

__all__ = ["JobResult", "arun_job", "open_client", "record_failure", "run_job", "write_page"]

log = logging.getLogger("sycobench")


@dataclass
class JobResult:
    job_dir: Path
    status: str  # ok | incomplete | dry_run (failed and interrupted jobs raise)
    message: str = ""
    totals: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    loaded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # for the page, then dropped


_FIXES = {
    errno.ENOSPC: "free space, then resume", errno.EDQUOT: "free space, then resume",
    errno.EFBIG: "free space (or raise the file size limit), then resume",
    errno.EEXIST: "a file is where a folder should be: move it, or choose another folder",
    errno.ENOTDIR: "a file is where a folder should be: move it, or choose another folder",
    errno.EACCES: "choose a folder you may write to", errno.EPERM: "choose a folder you may write to",
    errno.EROFS: "choose a folder on a writable disk",
}


def describe_os_error(exc: OSError, folder: Path | None = None) -> str:
    """One line for a file that could not be written (a full disk, a read-only or missing folder), with
    the fix its cause asks for."""
    where = exc.filename or (f"a file in {folder}" if folder else "a file")
    fix = _FIXES.get(exc.errno or 0, "free space or choose a writable folder, then resume")
    return f"{where}: {exc.strerror or type(exc).__name__}; {fix}"


def _cache(run: RunConfig) -> ResponseCache | None:
    """The response cache, or none (with a warning) where it cannot be used: it never blocks a run."""
    if not run.cache:
        return None
    where = Path(run.cache_dir) if run.cache_dir else None
    try:
        return ResponseCache(where)
    except (OSError, sqlite3.Error) as exc:
        log.warning("the response cache (%s) cannot be used: %s; this run goes without it (set run.cache_dir to a "
                    "writable folder, or run.cache=false)", where or "the default cache folder", exc)
        return None


def open_client(run: RunConfig, rate_limit: RateLimitConfig, folder: JobFolder, *, scenario: Any = None) -> ModelClient:
    """The job's one call path: its cache, its cost cap (counting what earlier runs spent)."""
    cache = _cache(run)
    cap = CostCap(None)
    if run.max_cost_usd is not None:
        cap = CostCap(run.max_cost_usd, spent=folder.spent())
        log.info("cost cap: $%.4f of run.max_cost_usd=$%.4f already spent", cap.spent, run.max_cost_usd)
    return ModelClient(rate_limit, concurrency=run.concurrency, cache=cache, cost_cap=cap, scenario=scenario)


def _totals(plan: Plan, calls: CallTotals, wall_s: float, stopped: str | None) -> dict[str, Any]:
    return {"planned": plan.planned, "skipped": plan.skipped, "reasked": plan.reasked, **calls.to_dict(),
            "wall_s": round(wall_s, 3), "stopped": stopped}


async def _price_the_cap(spec: JobSpec, client: ModelClient) -> None:
    """With `run.max_cost_usd`, the listed price of every model the job calls: the cap counts a call
    whose server reports no cost at that price. A model with no listed price stops the job here."""
    from sycobench.providers.base import PROVIDERS

    judges = [("judge", model) for _, model in spec.scorer_class.models(spec.scorer)]
    for role, model in (("target", spec.model), *judges):
        try:
            price, why = await PROVIDERS.get(model.api).prices(model), f"not listed by {model.base_url}/models"
        except (SycobenchError, OSError) as exc:
            price, why = None, str(exc)
        if price is None:
            raise ConfigError(f"run.max_cost_usd cannot be enforced: the {role} model {model.id} has no known price "
                              f"({why}), so a call its server does not price could pass the cap unseen; drop "
                              "run.max_cost_usd or use a model with a listed price")
        client.set_price(model, price)


async def _generate(spec: JobSpec, folder: JobFolder, client: ModelClient, meta: dict[str, Any]) -> str | None:
    """The planned calls; then, in a job of several turns, each later turn whose earlier answer came in
    during this run (planned only now that it has that answer to follow)."""
    calls, stop = spec.plan.calls, None
    with folder.writer(RUN) as writer:
        for turn in range(1, spec.protocol.turns + 1):
            if turn > 1:
                later = plan_calls(folder, list(spec.grid), model_id=spec.model.id, samples=spec.run.samples,
                                   retry_errors=False, turn=turn)
                calls = later.calls
                if calls or later.waiting:
                    log.info("turn %d: %d calls now that their first answers are in%s", turn, len(calls),
                             f"; {later.waiting} wait for a first answer that failed" if later.waiting else "")
                if not calls:
                    continue
            progress = Progress("generate" if turn == 1 else f"turn {turn}", len(calls), client.totals.target,
                                enabled=spec.run.progress, every_s=spec.run.progress_every_s)
            stop = await run_calls(calls, model=spec.model, client=client, writer=writer,
                                   meta={"run_id": meta["run_id"], "job_id": meta["job_id"]},
                                   parties=spec.scenario.party_ids, concurrency=spec.run.concurrency,
                                   progress=progress, turns=spec.protocol.turns)
            if stop is not None:
                break
    if isinstance(stop, (AuthError, CreditsError)):
        raise stop
    return None if stop is None else str(stop)


async def arun_job(spec: JobSpec, job_dir: Path, *, job_id: str | None = None, locked: bool = False,
                   page: bool = False) -> JobResult:
    """Run a prepared job into `job_dir` (created or resumed). Raises SycobenchError on bad input.

    The folder is locked (`locked`: the caller holds its lock already) and its fingerprint and
    records checked again under the lock (another job may just have finished there), so a refused
    job writes nothing. From then on job.json always ends in a final status. With `page`, the job
    also gets the report a sweep gets (report.html and the rest, in its `report` folder); a sweep's
    jobs leave that to the sweep."""
    folder = JobFolder(job_dir)
    with contextlib.nullcontext() if locked else folder.lock():
        folder.check_fingerprint(spec.fingerprint)
        folder.check_records()
        folder.check_prompts({p.prompt_id for p in spec.grid})
        spec = spec.planned(folder)
        meta = folder.read_meta()
        meta.setdefault("run_id", uuid.uuid4().hex[:12])
        meta["job_id"] = job_id or meta.get("job_id") or folder.name
        meta.update(status="running", started_at=now_iso(), model_id=spec.model.id, fingerprint=spec.fingerprint)
        for stale in ("ended_at", "exit_code", "message"):
            meta.pop(stale, None)
        received: list[int] = []
        with _signals_cancel_this_task(received):
            try:
                result = await _arun_locked(spec, folder, meta)
            except BaseException as exc:  # Ctrl-C, SIGTERM and SIGHUP arrive as a cancellation of this coroutine
                if received and isinstance(exc, asyncio.CancelledError):
                    exc = Signalled(received[0])
                code = exitcodes.code_for_error(exc)
                status = ("interrupted" if code in exitcodes.INTERRUPTIONS else
                          "incomplete" if is_file_error(exc) else "failed")
                message = (describe_os_error(exc, folder.path) if is_file_error(exc)
                           else str(exc) or type(exc).__name__)
                meta.update(status=status, message=message, ended_at=now_iso(), exit_code=code)
                folder.save_meta(meta)
                if isinstance(exc, Signalled):
                    raise exc from None
                raise
        if page and spec.report.page and result.tables:  # outside the signal handlers: a signal ends the page, not the job
            write_page(folder, spec.report, loaded=result.loaded)
        result.loaded.clear()  # the table step's frames served the page; a caller keeping results keeps no answers
        return result


@contextlib.contextmanager
def _signals_cancel_this_task(received: list[int]) -> Iterator[None]:
    """SIGTERM and SIGHUP cancel the job as Ctrl-C does (calls in flight are abandoned, every finished one
    is on disk), so it ends `interrupted` and resumes. Where the loop cannot take them (not the main
    thread), they keep their default."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    installed = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, lambda s=sig: (received.append(s), task.cancel()))
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed[sig] = previous
    try:
        yield
    finally:
        for sig, previous in installed.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


def write_page(folder: JobFolder, report: Any, *, loaded: dict[str, Any] | None = None) -> Path | None:
    """The job's report page; a failure here loses no data, so it is a warning that says how to rebuild.
    `loaded`: the `calls` and `results` the job's table step read (write_job_report's `keep`)."""
    from sycobench.report import write_report

    out = folder.file("report")
    config = folder.file("config")
    try:
        frames = {folder.path: (loaded.pop("calls"), loaded.pop("results"))} if loaded else None
        write_report([folder.path], out, report, loaded=frames,
                     config_text=config.read_text(encoding="utf-8") if config.exists() else None)
    except Exception as exc:  # noqa: BLE001 - the job's records and tables are already safe on disk
        log.warning("report page not written (%s); rebuild it with: python -m sycobench.report %s", exc, folder.path)
        return None
    log.info("report: %s", out / "report.html", extra=CONSOLE)
    return out


async def _arun_locked(spec: JobSpec, folder: JobFolder, meta: dict[str, Any]) -> JobResult:
    for level, note in spec.notes:
        log.log(level, note)
    meta["scorer"] = spec.scorer_id
    folder.write_config(config_yaml(spec.cfg, model=spec.model, scorer=spec.scorer))
    folder.save_meta(meta)
    folder.write_grid(list(spec.grid))
    log.info(
        "job %s: model=%s%s scenario=%s protocol=%s prompts=%d samples=%d scorer=%s -> %s",
        meta["job_id"], spec.model.id, " (simulated)" if spec.simulated else "", spec.scenario.name,
        spec.protocol.name + (f" ({', '.join(spec.styles)})" if spec.styles else ""), len(spec.grid),
        spec.run.samples, meta["scorer"], folder.path,
    )
    plan = spec.plan
    if spec.run.dry_run:
        from sycobench.estimate import dry_run_estimate

        estimate = await dry_run_estimate(spec)
        message = estimate.text()
        log.info(message)
        meta.update(status="dry_run", ended_at=now_iso(), exit_code=exitcodes.OK, estimate=estimate.to_dict())
        folder.save_meta(meta)
        return JobResult(folder.path, "dry_run", message)

    log.info("calls: %d planned, skipped %d already done, %d failed before and asked again, %d new%s",
             plan.planned, plan.skipped, plan.reasked, plan.to_make - plan.reasked,
             f"; {plan.waiting} second-turn calls follow once their first answers are in" if plan.waiting else "")
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, message, stopped = "ok", "", None
    client = open_client(spec.run, spec.rate_limit, folder, scenario=spec.scenario)
    try:
        async with client:
            if spec.run.max_cost_usd is not None:
                await _price_the_cap(spec, client)
            stopped = await _generate(spec, folder, client, meta)
            # after a stop too: what was answered is scored, as far as the cap allows
            scorer = spec.scorer_class(spec.scorer, ScoringContext(spec.scenario, client))
            outcome = await score_folder(folder, scorer, concurrency=spec.run.concurrency, totals=client.totals.judge,
                                         progress=spec.run.progress, progress_every_s=spec.run.progress_every_s)
            if isinstance(outcome.stop, (AuthError, CreditsError)):
                raise outcome.stop
            stopped = stopped or (str(outcome.stop) if outcome.stop else None)
    except (AuthError, CreditsError) as exc:  # the caller records the final status
        meta["totals"] = _totals(plan, client.totals, loop.time() - started, str(exc))
        raise
    finally:
        if client.cache is not None:
            meta["cache"] = {"hits": client.cache.hits, "misses": client.cache.misses}
    totals = _totals(plan, client.totals, loop.time() - started, stopped)
    if stopped:
        log.warning("stopped early: %s. Resume with run.resume=%s", stopped, folder.path)
    log.info("answers: %s", client.totals.target.summary())
    if client.totals.judge.calls:
        log.info("judge: %s", client.totals.judge.summary())
    log.info("summary: spent $%.4f this run (target $%.4f, judge $%.4f); wall %.1fs",
             client.totals.cost_usd, client.totals.target.cost_usd, client.totals.judge.cost_usd, totals["wall_s"],
             extra=CONSOLE)

    from sycobench.report.job import write_job_report

    loaded: dict[str, Any] = {}
    tables = write_job_report(folder, spec.report, keep=loaded)
    gaps = folder.gaps([p.prompt_id for p in spec.grid], spec.run.samples, spec.model.id,
                       spec.scorer_id if spec.scorer_class.scores else None,
                       parents={p.prompt_id: p.parent_id for p in spec.grid if p.parent_id})
    if stopped or gaps:
        status = "incomplete"
        message = "; ".join(filter(None, [stopped, gaps]))
        fix = " run.retry_errors=true" if "failed after retries" in message else ""
        message += f". Resume with run.resume={folder.path}{fix}"
        log.warning("job incomplete: %s", message)
    else:
        target = client.totals.target
        message = (f"ok: {plan.planned} calls planned, {target.ok} answered in this run ({target.cached} from the "
                   f"cache, {plan.skipped} before), {outcome.scored} scored by {spec.scorer_id}; "
                   f"spent ${client.totals.cost_usd:.4f}")
    meta.update(status=status, message=message, ended_at=now_iso(), totals=totals,
                exit_code=exitcodes.code_for_status(status))
    folder.save_meta(meta)
    return JobResult(folder.path, status, message, totals, tables, loaded)


def run_job(spec: JobSpec, job_dir: Path, *, job_id: str | None = None, locked: bool = False,
            page: bool = False) -> JobResult:
    """`arun_job` from synchronous code: the whole job runs in one event loop."""
    return asyncio.run(arun_job(spec, job_dir, job_id=job_id, locked=locked, page=page))


def record_failure(job_dir: Path, exc: BaseException) -> None:
    """Mark a sweep job as failed in its job.json so the sweep report can list it."""
    folder = JobFolder(job_dir)
    folder.make()
    meta = folder.read_meta()
    meta.update(status="failed", message=str(exc) or type(exc).__name__, ended_at=now_iso(),
                exit_code=exitcodes.code_for_error(exc))
    folder.save_meta(meta)
