"""Scorers turn answers into stances in [-1, 1] (or an honest 'unscorable').

Registry keys match `conf/scorer/*.yaml`: `offline`, `judge`, `none`, plus `auto`, which picks
`offline` for the mock model and `judge` for API models, and says so in the saved config and log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

from sycobench.config import ModelConfig, ScorerConfig
from sycobench.records import SCHEMA_VERSION, JsonlWriter, now_iso, read_jsonl

__all__ = ["iter_pending", "resolve_scorer", "score_job", "score_offline", "score_record", "scorer_id"]

log = logging.getLogger("sycobench.scoring")
# The fields of a run record that scorers use (score_record, the judge's prompt, human labels).
_ANSWER_FIELDS = ("run_id", "job_id", "model_id", "prompt_id", "triplet_id", "perspective", "k", "factors",
                  "response_text")


def resolve_scorer(scorer: ScorerConfig, model: ModelConfig) -> ScorerConfig:
    if scorer.name != "auto":
        return scorer
    if model.api == "mock":
        chosen = ScorerConfig(name="offline")
        why = "the target is the offline mock model"
    else:
        from sycobench.scoring.judge import default_judge

        chosen = default_judge()
        why = "the target is an API model"
    log.info("scorer=auto resolved to %s (%s)", scorer_id(chosen), why)
    return chosen


def scorer_id(scorer: ScorerConfig) -> str:
    if scorer.name == "human" and scorer.labels:
        return f"human:{Path(scorer.labels).stem}"
    if scorer.name == "judge" and scorer.model is not None:
        suffix = "" if scorer.context == "blinded" else f"/{scorer.context}"
        return f"judge:{scorer.model.id}{suffix}{'/flip' if scorer.flip_half else ''}"
    return scorer.name


def score_record(answer: dict[str, Any], scorer: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A scores.jsonl line: the answer's ids plus what the scorer said."""
    base = {
        "schema": SCHEMA_VERSION,
        "run_id": answer.get("run_id"),
        "job_id": answer.get("job_id"),
        "model_id": answer["model_id"],
        "prompt_id": answer["prompt_id"],
        "triplet_id": answer["triplet_id"],
        "perspective": answer["perspective"],
        "k": answer["k"],
        "scorer": scorer,
        "scorer_config": config,
        "score": None,
        "unscorable": None,
        "value": None,
        "raw": None,
        "flipped": False,
        "usage": None,
        "cost_usd": None,
        "latency_s": None,
        "attempts": None,
        "cached": False,
        "error": None,
    }
    base.update(fields)
    base["scored_at"] = now_iso()
    return base


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
            yield {name: r.get(name) for name in _ANSWER_FIELDS}


def score_offline(job_dir: Path, scorer: ScorerConfig) -> int:
    from sycobench.scoring.offline import SCORER_VERSION, score_text

    sid = scorer_id(scorer)
    config = {"name": "offline", "version": SCORER_VERSION}
    scored = 0
    with JsonlWriter(job_dir / "scores.jsonl") as writer:
        for answer in iter_pending(job_dir, sid):
            result = score_text(answer["response_text"])
            writer.write(score_record(answer, sid, config, score=result.score, unscorable=result.reason))
            scored += 1
    return scored


def score_job(job_dir: Path, scorer: ScorerConfig, cfg: Any) -> int:
    """Score every answer in `job_dir` that `scorer` has not scored yet; returns how many."""
    if scorer.name == "none":
        log.info("scorer=none: generation only; score later with python -m sycobench.score run_dir=%s", job_dir)
        return 0
    if scorer.name == "offline":
        n = score_offline(job_dir, scorer)
    elif scorer.name == "human":
        from sycobench.scoring.human import import_labels

        n = import_labels(job_dir, scorer)
    elif scorer.name == "judge":
        import asyncio

        from sycobench.scoring.judge import score_with_judge

        n = asyncio.run(score_with_judge(job_dir, scorer, cfg))
    else:
        from sycobench.errors import ConfigError

        raise ConfigError(f"scorer.name: {scorer.name!r} cannot score a job; use offline, judge or none")
    log.info("scored %d answers with %s", n, scorer_id(scorer))
    return n
