"""The one scoring loop: every scorer, every job folder. It takes the answers the scorer has not
scored yet from the store, asks the scorer about each, and appends one record per answer, so a
killed or stopped scoring resumes where it ended. Scorers that call a model run concurrently
(bounded) behind a progress bar; the others run in a plain loop, which costs next to nothing
beside the scorer itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sycobench.logs import CONSOLE
from sycobench.progress import Progress
from sycobench.records import Answer, score_record
from sycobench.runner import run_bounded
from sycobench.store import SCORES, JobFolder

if TYPE_CHECKING:
    from sycobench.providers.client import RoleTotals
    from sycobench.scoring.base import Scorer

__all__ = ["ScoringOutcome", "score_folder"]

log = logging.getLogger("sycobench.scoring")


@dataclass
class ScoringOutcome:
    scored: int = 0
    unscorable: int = 0
    errors: int = 0
    stop: BaseException | None = None  # what ended scoring early (a bad key, no credits, the cost cap)


async def score_folder(folder: JobFolder, scorer: Scorer, *, concurrency: int = 16, totals: RoleTotals | None = None,
                       progress: bool = True, progress_every_s: float = 10.0,
                       retry_errors: bool = True) -> ScoringOutcome:
    """Score every answer of `folder` that `scorer` has not scored yet; `retry_errors`: answers whose
    scoring call failed before are tried again."""
    outcome = ScoringOutcome()
    if not scorer.scores:
        return outcome
    sid, config = scorer.id, scorer.config()
    pending = folder.pending(sid, retry_errors=retry_errors)
    with folder.writer(SCORES) as writer:

        async def one(answer: Answer) -> None:
            result = await scorer.score(answer)
            if result is None:  # the scorer has nothing to say of this answer (e.g. no human label)
                return
            writer.write(score_record(answer, sid, config, **result.fields()))
            outcome.scored += 1
            outcome.unscorable += result.unscorable is not None
            outcome.errors += result.error is not None
            if bar is not None:
                bar.update()

        bar = None
        if scorer.calls_model:
            total = folder.count_pending(sid, retry_errors=retry_errors)
            if total:
                from sycobench.providers.client import RoleTotals

                bar = Progress("judge", total, totals or RoleTotals(), enabled=progress, every_s=progress_every_s)
            try:
                outcome.stop = await run_bounded(pending, one, concurrency=concurrency)
            finally:
                if bar is not None:
                    bar.close()
        else:
            for answer in pending:
                await one(answer)
    if outcome.scored or outcome.stop:
        extra = scorer.summary()
        log.info("scored %d answers with %s: %d unscorable, %d call errors%s", outcome.scored, sid,
                 outcome.unscorable, outcome.errors, f"; {extra}" if extra else "",
                 extra=CONSOLE if bar is None else None)  # a judge's phase has its progress line already
    return outcome
