"""The one scoring loop: every scorer, every job folder. It takes the answers the scorer has not
scored yet from the store, asks the scorer about each, and appends one record per answer, so a
killed or stopped scoring resumes where it ended.

Scorers that call a model run concurrently (bounded) behind a progress bar, and each record is
written as soon as its (paid) call returns. The others run in a plain loop over blocks of answers,
and each block's records are appended together: a kill loses at most that block's scores, which a
resume scores again, and the loop costs little beside the scorer itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sycobench.logs import CONSOLE
from sycobench.progress import Progress
from sycobench.records import Answer, score_records
from sycobench.runner import run_bounded
from sycobench.store import SCORES, JobFolder

if TYPE_CHECKING:
    from sycobench.providers.client import RoleTotals
    from sycobench.scoring.base import Score, Scorer

__all__ = ["ScoringOutcome", "score_folder"]

log = logging.getLogger("sycobench.scoring")


@dataclass
class ScoringOutcome:
    scored: int = 0
    unscorable: int = 0
    errors: int = 0
    stop: BaseException | None = None  # what ended scoring early (a bad key, no credits, the cost cap)
    wall_s: float = 0.0  # the whole loop: finding the answers, scoring them, writing the records
    cpu_s: float = 0.0  # the process's CPU time over the same span


async def score_folder(folder: JobFolder, scorer: Scorer, *, concurrency: int = 16, totals: RoleTotals | None = None,
                       progress: bool = True, progress_every_s: float = 10.0,
                       retry_errors: bool = True) -> ScoringOutcome:
    """Score every answer of `folder` that `scorer` has not scored yet; `retry_errors`: answers whose
    scoring call failed before are tried again."""
    outcome = ScoringOutcome()
    if not scorer.scores:
        return outcome
    wall, cpu = time.perf_counter(), time.process_time()
    sid = scorer.id
    make = score_records(sid, scorer.config())
    pending = folder.pending(sid, retry_errors=retry_errors)

    def record(answer: Answer, result: Score) -> dict[str, Any]:
        outcome.scored += 1
        outcome.unscorable += result.unscorable is not None
        outcome.errors += result.error is not None
        return make(answer, **result.fields())

    with folder.writer(SCORES) as writer:
        if scorer.calls_model:
            from sycobench.providers.client import RoleTotals

            bar = (Progress("judge", pending.total, totals or RoleTotals(), enabled=progress, every_s=progress_every_s)
                   if pending.total else None)

            async def one(answer: Answer) -> None:
                result = await scorer.score(answer)
                if result is None:  # the scorer has nothing to say of this answer (e.g. no human label)
                    return
                writer.write(record(answer, result))
                if bar is not None:
                    bar.update()

            try:
                outcome.stop = await run_bounded(pending, one, concurrency=concurrency)
            finally:
                if bar is not None:
                    bar.close()
        else:
            for answers in pending.blocks():
                records = []
                for answer in answers:
                    result = await scorer.score(answer)
                    if result is not None:
                        records.append(record(answer, result))
                writer.write_many(records)
                await asyncio.sleep(0)  # signals (Ctrl-C, SIGTERM) are taken between blocks
    outcome.wall_s, outcome.cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    if outcome.scored or outcome.stop:
        extra = scorer.summary()
        log.info("scored %d answers with %s in %.1f s (%.1f s CPU): %d unscorable, %d call errors%s", outcome.scored,
                 sid, outcome.wall_s, outcome.cpu_s, outcome.unscorable, outcome.errors, f"; {extra}" if extra else "",
                 extra=None if scorer.calls_model and pending.total else CONSOLE)  # a judge's phase has its progress line
    return outcome
