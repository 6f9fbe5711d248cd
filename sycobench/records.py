"""The record schema that flows through every stage (docs/records.md), defined once.

`run.jsonl` holds one record per model call and `scores.jsonl` one per (answer, scorer). Writers
build records through `run_record` / `score_record`; readers take their column types from
`RUN_FIELDS` / `SCORE_FIELDS`. Records speak of the scenario's parties as sides: `a` (the +1 end
of its judge axis), `b` (the -1 end) and `neutral`; `perspective` keeps the party id that asked.
Factors are whatever the scenario declares: a free-form object, never a fixed set of columns.
A job with more than one turn (`protocol=pushback`) adds to each record its `turn` and, to a call's
record, the conversation sent (`messages`) and the second turn's `parent_id`, `style` and `objector`;
single-turn records leave these fields out and read as turn 1 (FOLLOWUP_FIELDS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import polars as pl

__all__ = [
    "ANSWER_KEY",
    "FOLLOWUP_FIELDS",
    "JUDGE",
    "RUN_FIELDS",
    "RUN_SHAPE",
    "SCHEMA_VERSION",
    "SCORE_FIELDS",
    "SCORE_SHAPE",
    "SIDES",
    "Answer",
    "call_key",
    "error_field",
    "now_iso",
    "run_record",
    "score_record",
    "score_records",
    "side_of",
]

SCHEMA_VERSION = 2  # 2: `side` added, `factors` free-form (version 1 records still read: docs/records.md)
SIDES = ("a", "b", "neutral")
#: what makes an answer unique in a job: (model, prompt, sample)
ANSWER_KEY = ("model_id", "prompt_id", "k")

# The layout of each file: field -> Polars type. `pl.Object` marks a free-form object that no table reads.
_USAGE = pl.Struct({"prompt_tokens": pl.Int64, "completion_tokens": pl.Int64, "reasoning_tokens": pl.Int64,
                    "total_tokens": pl.Int64})
_ERROR = pl.Struct({"class": pl.String, "status": pl.Int64, "message": pl.String})
MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
#: one judge of a panel (scorer `panel:...`): its scorer id, what it said, and its calls' accounting
JUDGE = pl.Struct({"scorer": pl.String, "score": pl.Float64, "unscorable": pl.String, "value": pl.Float64,
                   "usage": _USAGE, "cost_usd": pl.Float64, "cached": pl.Boolean, "attempts": pl.Int64,
                   "latency_s": pl.Float64, "queued_s": pl.Float64, "error": pl.String})
RUN_FIELDS: dict[str, pl.DataType] = {
    "schema": pl.Int64, "run_id": pl.String, "job_id": pl.String, "role": pl.String,
    "model_id": pl.String, "model_label": pl.String, "api": pl.String,
    "prompt_id": pl.String, "triplet_id": pl.String, "scenario": pl.String, "version": pl.String,
    "perspective": pl.String, "side": pl.String, "factors": pl.Object, "k": pl.Int64,
    "turn": pl.Int64, "parent_id": pl.String, "style": pl.String, "objector": pl.String,
    "params": pl.Object, "messages": MESSAGES, "started_at": pl.String, "response_text": pl.String, "reasoning": pl.String,
    "finish_reason": pl.String, "native_finish_reason": pl.String, "upstream_provider": pl.String,
    "generation_id": pl.String, "usage": _USAGE, "cost_usd": pl.Float64, "attempts": pl.Int64,
    "cached": pl.Boolean, "simulated": pl.Boolean, "error": _ERROR, "latency_s": pl.Float64,
    "queued_s": pl.Float64, "ended_at": pl.String,
}
SCORE_FIELDS: dict[str, pl.DataType] = {
    "schema": pl.Int64, "run_id": pl.String, "job_id": pl.String, "model_id": pl.String,
    "prompt_id": pl.String, "triplet_id": pl.String, "perspective": pl.String, "k": pl.Int64, "turn": pl.Int64,
    "scorer": pl.String, "scorer_config": pl.Object, "score": pl.Float64, "unscorable": pl.String,
    "value": pl.Float64, "raw": pl.String, "flipped": pl.Boolean, "usage": _USAGE, "cost_usd": pl.Float64,
    "latency_s": pl.Float64, "queued_s": pl.Float64, "attempts": pl.Int64, "cached": pl.Boolean,
    "response_format": pl.String,
    "error": _ERROR, "scored_at": pl.String, "labeller": pl.String, "judges": pl.List(JUDGE),
}
#: fields only a job of several turns writes; a record without them is a first (and only) turn
FOLLOWUP_FIELDS = ("turn", "parent_id", "style", "objector", "messages")
# The fields every reader relies on, checked before a job or scorer appends: field -> may be null.
RUN_SHAPE = {"model_id": False, "prompt_id": False, "k": False, "error": True, "cached": True, "usage": True,
             "response_text": True}
SCORE_SHAPE = {"model_id": False, "prompt_id": False, "k": False, "scorer": False, "error": True, "score": True}


@dataclass(frozen=True, slots=True)
class Answer:
    """One successful answer, as a scorer sees it: its ids, the prompt it answered and its text."""

    model_id: str
    prompt_id: str
    k: int
    triplet_id: str | None = None
    scenario: str | None = None
    perspective: str | None = None
    factors: dict[str, Any] | None = None
    text: str | None = None
    messages: list[dict[str, str]] | None = None  # the prompt (None when the grid does not hold it)
    run_id: str | None = None
    job_id: str | None = None
    turn: int | None = None  # set in a job of several turns; `messages` is then the conversation so far


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def side_of(perspective: str | None, parties: list[str] | tuple[str, ...]) -> str | None:
    """`a`, `b` or `neutral` for a perspective, given the scenario's party ids (A, B)."""
    if perspective == "neutral":
        return "neutral"
    if perspective in parties[:2]:
        return "ab"[list(parties).index(perspective)]
    return None


def error_field(exc: Any) -> dict[str, Any]:
    """The `error` object of a record, from a ProviderError."""
    return {"class": exc.error_class, "status": exc.status, "message": exc.message[:500]}


def _layout(fields: dict[str, Any], given: dict[str, Any]) -> dict[str, None]:
    """The layout's fields in order, the several-turn ones only when given."""
    return dict.fromkeys(name for name in fields if name not in FOLLOWUP_FIELDS or name in given)


def run_record(**fields: Any) -> dict[str, Any]:
    """A run.jsonl line with every field of the layout, in order; unknown fields are refused."""
    unknown = set(fields) - RUN_FIELDS.keys()
    if unknown:
        raise ValueError(f"not fields of a run record: {sorted(unknown)}")
    record = _layout(RUN_FIELDS, fields)
    record.update(schema=SCHEMA_VERSION, cached=False, simulated=False)
    record.update(fields)
    return record


def score_record(answer: Answer, scorer: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A scores.jsonl line: the answer's ids plus what the scorer said."""
    return score_records(scorer, config)(answer, **fields)


def score_records(scorer: str, config: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """`score_record` for the many answers of one scorer: `make(answer, **fields)` gives the same
    record, with the fields that never change laid out once (a later turn's layout adds `turn`)."""
    def base(turned: bool) -> dict[str, Any]:
        laid = _layout(SCORE_FIELDS, {"turn": None} if turned else {})
        laid.update(schema=SCHEMA_VERSION, flipped=False, cached=False, scorer=scorer, scorer_config=config)
        return laid

    single, several = base(False), base(True)

    def make(answer: Answer, **fields: Any) -> dict[str, Any]:
        if not fields.keys() <= SCORE_FIELDS.keys():
            raise ValueError(f"not fields of a score record: {sorted(set(fields) - SCORE_FIELDS.keys())}")
        record = single.copy() if answer.turn is None else several.copy()
        if answer.turn is not None:
            record["turn"] = answer.turn
        record["run_id"], record["job_id"], record["model_id"] = answer.run_id, answer.job_id, answer.model_id
        record["prompt_id"], record["triplet_id"] = answer.prompt_id, answer.triplet_id
        record["perspective"], record["k"] = answer.perspective, answer.k
        record.update(fields)
        record["scored_at"] = now_iso()
        return record

    return make


def call_key(record: dict[str, Any]) -> tuple[str, str, int]:
    """A record's ANSWER_KEY values."""
    return (record["model_id"], record["prompt_id"], int(record["k"]))
