"""Scorers turn answers into stances in [-1, 1] (or an honest 'unscorable').

Scorers are found by name in `SCORERS`, the keys being those of `conf/scorer/*.yaml`:
`offline`, `judge`, `human`, `none`, plus `auto`, which picks `offline` for the mock model and
`judge` for API models, and says so in the saved config and log. A scorer is an
`async def (ScoringContext) -> int` (answers scored); other packages add theirs with
`register_scorer` or the entry-point group `sycobench.scorers` (docs/extending.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sycobench.config import Config, ModelConfig, ScorerConfig
from sycobench.providers.client import ModelClient
from sycobench.records import ANSWER_FIELDS, JsonlWriter, read_jsonl, score_record
from sycobench.registry import Registry

__all__ = ["SCORERS", "ScoringContext", "iter_pending", "register_scorer", "resolve_scorer", "score_job",
           "score_record", "scorer_id"]

log = logging.getLogger("sycobench.scoring")


@dataclass
class ScoringContext:
    """What a scorer gets: the job folder, its own config, the job's config, and the job's one
    call path (cache, cost cap, rate limits, retries, totals) for any model calls it makes."""

    job_dir: Path
    scorer: ScorerConfig
    cfg: Config
    client: ModelClient


Scorer = Callable[[ScoringContext], Awaitable[int]]
SCORERS: Registry[Scorer] = Registry("scorer.name", "sycobench.scorers")
register_scorer = SCORERS.register


def resolve_scorer(scorer: ScorerConfig, model: ModelConfig, *, quiet: bool = False) -> ScorerConfig:
    if scorer.name != "auto":
        SCORERS.get(scorer.name)  # an unknown name fails here, before any call
        return scorer
    if model.api == "mock":
        chosen = ScorerConfig(name="offline")
        why = "the target is the offline mock model"
    else:
        from sycobench.scoring.judge import default_judge

        chosen = default_judge()
        why = "the target is an API model"
    if not quiet:
        log.info("scorer=auto resolved to %s (%s)", scorer_id(chosen), why)
    return chosen


def scorer_id(scorer: ScorerConfig) -> str:
    if scorer.name == "human" and scorer.labels:
        return f"human:{Path(scorer.labels).stem}"
    if scorer.name == "judge" and scorer.model is not None:
        suffix = "" if scorer.context == "blinded" else f"/{scorer.context}"
        return f"judge:{scorer.model.id}{suffix}{'/flip' if scorer.flip_half else ''}"
    return scorer.name


def iter_pending(job_dir: Path, scorer: str, *, retry_errors: bool = True) -> Iterator[dict[str, Any]]:
    """Successful answers in run.jsonl that `scorer` has not scored yet (resumable scoring),
    streamed, each cut down to the fields scorers read, so a large job is never held in memory."""
    done = {
        (r["model_id"], r["prompt_id"], r["k"])
        for r in read_jsonl(job_dir / "scores.jsonl")
        if r["scorer"] == scorer and (r["error"] is None or not retry_errors)
    }
    for r in read_jsonl(job_dir / "run.jsonl"):
        key = (r["model_id"], r["prompt_id"], r["k"])
        if r["error"] is None and key not in done:  # a job has one success per key
            done.add(key)
            yield {name: r.get(name) for name in ANSWER_FIELDS}


@register_scorer("offline")
async def score_offline(ctx: ScoringContext) -> int:
    from sycobench.scoring.offline import SCORER_VERSION, lexicon_of, score_text

    lexicon = lexicon_of(ctx.cfg.scenario)
    sid = scorer_id(ctx.scorer)
    config = {"name": "offline", "version": SCORER_VERSION}
    # The prompt lets the scorer ignore cue phrases the question itself put into the answer.
    prompts = {p["prompt_id"]: p["messages"] for p in read_jsonl(ctx.job_dir / "grid.jsonl")}
    scored = 0
    with JsonlWriter(ctx.job_dir / "scores.jsonl") as writer:
        for answer in iter_pending(ctx.job_dir, sid):
            result = score_text(answer["response_text"], prompt=prompts.get(answer["prompt_id"]), lexicon=lexicon)
            writer.write(score_record(answer, sid, config, score=result.score, unscorable=result.reason))
            scored += 1
    return scored


@register_scorer("none")
async def score_none(ctx: ScoringContext) -> int:
    log.info("scorer=none: generation only; score later with python -m sycobench.score run_dir=%s", ctx.job_dir)
    return 0


@register_scorer("human")
async def score_human(ctx: ScoringContext) -> int:
    from sycobench.scoring.human import import_labels

    return import_labels(ctx.job_dir, ctx.scorer)


@register_scorer("judge")
async def score_judge(ctx: ScoringContext) -> int:
    from sycobench.scoring.judge import score_with_judge

    return await score_with_judge(ctx)


async def score_job(ctx: ScoringContext) -> int:
    """Score every answer in the job folder that the scorer has not scored yet; returns how many."""
    n = await SCORERS.get(ctx.scorer.name)(ctx)
    if ctx.scorer.name != "none":
        log.info("scored %d answers with %s", n, scorer_id(ctx.scorer))
    return n
