"""Turn a grid into calls and calls into records: one bounded-concurrency loop for every phase.

Every finished call is appended to run.jsonl at once. Calls that already have a record are
skipped on resume, and a stop (bad key, no credits, daily quota, cost cap) ends the starting of
new work while the calls in flight finish and are recorded, so the job can be resumed later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import Any, TypeVar

from sycobench.config import ModelConfig
from sycobench.errors import (
    AuthError,
    CostCapReached,
    CreditsError,
    ProviderError,
    QuotaError,
)
from sycobench.progress import Progress
from sycobench.providers.base import Completion
from sycobench.providers.client import ModelClient
from sycobench.protocol import conversation
from sycobench.records import error_field, now_iso, run_record, side_of
from sycobench.scenario import Prompt
from sycobench.store import JobFolder, JsonlWriter

__all__ = ["Call", "Plan", "STOPS", "plan_calls", "run_bounded", "run_calls"]

log = logging.getLogger("sycobench.runner")
T = TypeVar("T")
#: what stops a phase: no new work starts, in-flight work finishes and is recorded
STOPS = (AuthError, CreditsError, QuotaError, CostCapReached)
#: work that never waits (an offline model) hands the event loop a turn this often, in seconds
YIELD_EVERY_S = 0.02


@dataclass(frozen=True, slots=True)
class Call:
    prompt: Prompt
    k: int
    parent: Prompt | None = None  # a later turn: the prompt it follows, whose answer (same k) is `answer`
    answer: str | None = None

    @property
    def messages(self) -> list[dict[str, str]]:
        """What the call sends: the prompt, or for a later turn the conversation so far."""
        if self.parent is None:
            return self.prompt.messages
        return conversation(self.parent.messages, self.answer or "", self.prompt.messages)


class Calls(Sequence[Call]):
    """A plan's calls, each made only when it is taken: one entry per prompt is held (the prompt, its
    sample indices, and for a later turn its parent and the parent's answer per index), not one object
    per call."""

    def __init__(self, todo: list[tuple[Prompt, Sequence[int], Prompt | None, Sequence[str] | None]]) -> None:
        self._todo = todo
        self._len = sum(len(ks) for _, ks, _, _ in todo)

    def __len__(self) -> int:
        return self._len

    @staticmethod
    def _call(entry: tuple[Prompt, Sequence[int], Prompt | None, Sequence[str] | None], i: int) -> Call:
        prompt, ks, parent, answers = entry
        return Call(prompt, ks[i], parent, answers[i] if answers is not None else None)

    def __iter__(self) -> Iterator[Call]:
        return (self._call(entry, i) for entry in self._todo for i in range(len(entry[1])))

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - Sequence's int and slice forms
        if isinstance(index, slice):
            return list(self)[index]
        if index < 0:
            index += self._len
        for entry in self._todo:
            if 0 <= index < len(entry[1]):
                return self._call(entry, index)
            index -= len(entry[1])
        raise IndexError("call index out of range")


@dataclass
class Plan:
    """What a (re)started job has to do: `calls`, out of `planned`, with the rest already done.
    A plan made only to count (a dry run) lists no call: `todo` says how many each prompt needs."""

    calls: Sequence[Call]
    planned: int
    skipped: int  # already answered (or failed, without run.retry_errors)
    reasked: int  # failed in an earlier run and asked again (run.retry_errors=true)
    todo: dict[str, int] | None = None  # prompt_id -> calls to make, when the calls are counted, not listed
    waiting: int = 0  # later-turn calls not planned: their first turn has no answer (yet)

    @property
    def to_make(self) -> int:
        return sum(self.todo.values()) if self.todo is not None else len(self.calls)


def plan_calls(folder: JobFolder, grid: list[Prompt], *, model_id: str, samples: int, retry_errors: bool,
               count_only: bool = False, turn: int | None = None) -> Plan:
    """Every (prompt, k) without a successful record yet; errors too with `retry_errors`. With
    `count_only`, the calls are counted per prompt, never enumerated (samples x prompts can be large).
    A later turn's call is planned only once its parent prompt has an answer for the same k (it is
    counted in `waiting` until then), and carries that answer. `turn`: plan that turn's prompts only."""
    status = folder.call_status(model_id) if folder.has_answers() else {}
    parents = {p.prompt_id: p for p in grid} if any(p.parent_id for p in grid) else {}
    wanted = {p.parent_id for p in grid if p.parent_id} if parents and not count_only else set()
    answers = folder.answer_texts(model_id, wanted)
    waiting = 0
    by_prompt: dict[str, list[bool]] = {}
    for (prompt_id, k), ok in status.items():
        if 0 <= k < samples:
            by_prompt.setdefault(prompt_id, []).append(ok)
    calls: list[tuple[Prompt, Sequence[int], Prompt | None, Sequence[str] | None]] = []
    every = range(samples)  # shared by every prompt with nothing done yet
    todo: dict[str, int] = {}
    skipped = reasked = 0
    chosen = grid if turn is None else [p for p in grid if p.turn == turn]
    for prompt in chosen:
        seen = by_prompt.get(prompt.prompt_id, [])
        done = sum(1 for ok in seen if ok or not retry_errors)
        skipped += done
        reasked += sum(1 for ok in seen if not ok and retry_errors)
        if count_only:
            todo[prompt.prompt_id] = samples - done
            continue
        if not seen and prompt.parent_id is None:
            calls.append((prompt, every, None, None))
            continue
        ks = [k for k in every if not (
            (state := status.get((prompt.prompt_id, k))) is True or (state is False and not retry_errors))]
        if prompt.parent_id is not None:  # a later turn: only the samples whose first turn has an answer
            ready = [k for k in ks if (prompt.parent_id, k) in answers]
            waiting += len(ks) - len(ready)
            if ready:
                calls.append((prompt, ready, parents[prompt.parent_id], [answers[(prompt.parent_id, k)] for k in ready]))
        elif ks:
            calls.append((prompt, ks, None, None))
    return Plan(Calls(calls), len(chosen) * samples, skipped, reasked, todo if count_only else None, waiting)


async def run_bounded(items: Iterable[T], work: Callable[[T], Awaitable[None]], *, concurrency: int) -> BaseException | None:
    """Run `work` on every item, at most `concurrency` at once. The first stop (STOPS) ends the
    starting of new items; items in flight finish. Returns that stop, or None; any other
    exception is raised once the workers are done."""
    queue = iter(items)
    stop: list[BaseException] = []
    loop = asyncio.get_running_loop()
    turn = [loop.time() + YIELD_EVERY_S]

    async def worker() -> None:
        while not stop:
            item = next(queue, None)
            if item is None:
                return
            try:
                await work(item)
            except STOPS as exc:
                stop.append(exc)
                return
            if loop.time() >= turn[0]:  # work that never waited: let signals, progress and timer cleanup run
                turn[0] = loop.time() + YIELD_EVERY_S
                await asyncio.sleep(0)

    workers = min(concurrency, len(items)) if isinstance(items, Sized) else concurrency  # no idle workers
    outcomes = await asyncio.gather(*(worker() for _ in range(max(1, workers))), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return stop[0] if stop else None


def _answer_fields(c: Completion | None, error: ProviderError | None) -> dict[str, Any]:
    return dict(
        response_text=c.text if c else None,
        reasoning=c.reasoning if c else None,
        finish_reason=c.finish_reason if c else None,
        native_finish_reason=c.native_finish_reason if c else None,
        upstream_provider=c.upstream_provider if c else None,
        generation_id=c.generation_id if c else None,
        usage={
            "prompt_tokens": c.prompt_tokens if c else None,
            "completion_tokens": c.completion_tokens if c else None,
            "reasoning_tokens": c.reasoning_tokens if c else None,
            "total_tokens": c.total_tokens if c else None,
        },
        cost_usd=c.cost_usd if c else None,
        queued_s=c.queued_s if c else (error.queued_s if error else None),
        attempts=c.attempts if c else ((error.attempts or 1) if error else 1),
        cached=bool(c and c.cached),
        simulated=bool(c and c.simulated),
        error=None if error is None else error_field(error),
    )


async def run_calls(calls: list[Call], *, model: ModelConfig, client: ModelClient, writer: JsonlWriter,
                    meta: dict[str, Any], parties: list[str], concurrency: int,
                    progress: Progress, turns: int = 1) -> BaseException | None:
    """Answer `calls` through the client, appending one record per finished call; returns the
    stop that ended the phase early, if any. `parties`: the scenario's party ids (A, B). With
    `turns` > 1 each record holds its turn and the conversation sent (records.FOLLOWUP_FIELDS)."""
    params = model.generation_params()

    async def one(call: Call) -> None:
        p = call.prompt
        started_at, t0 = now_iso(), time.perf_counter()
        completion, error = None, None
        messages = call.messages
        turn = {} if turns == 1 else dict(turn=p.turn, parent_id=p.parent_id, style=p.style, objector=p.objector,
                                           messages=messages)
        try:
            completion = await client.call(model, messages, k=call.k, role="target")
        except (*STOPS,):
            raise
        except ProviderError as exc:
            error = exc
            log.warning("model=%s prompt=%s k=%d: %s", model.id, p.prompt_id, call.k, exc)
        writer.write(run_record(
            run_id=meta["run_id"], job_id=meta["job_id"], role="target", model_id=model.id,
            model_label=model.display, api=model.api, prompt_id=p.prompt_id, triplet_id=p.triplet_id,
            scenario=p.scenario, version=p.version, perspective=p.perspective,
            side=side_of(p.perspective, parties), factors=p.factors, k=call.k, **turn,
            params=params, started_at=started_at, latency_s=round(time.perf_counter() - t0, 4),
            ended_at=now_iso(), **_answer_fields(completion, error)))
        progress.update()

    try:
        return await run_bounded(calls, one, concurrency=concurrency)
    finally:
        progress.close()
