"""Turn a grid into calls and calls into records: one asyncio loop, bounded concurrency.

Every finished call is appended to run.jsonl at once. Calls that already have a record are
skipped on resume, answers already paid for come from the cache, and a fatal provider error
(bad key, no credits, daily quota) stops new calls cleanly so the job can be resumed later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from tqdm import tqdm

from sycobench.cache import ResponseCache, cache_key
from sycobench.config import ModelConfig
from sycobench.errors import AuthError, CreditsError, ProviderError, QuotaError
from sycobench.providers.base import Completion, Provider
from sycobench.records import SCHEMA_VERSION, JsonlWriter, now_iso
from sycobench.scenario import Prompt

__all__ = ["Budget", "Call", "RunTotals", "generation_params", "run_calls"]

log = logging.getLogger("sycobench.runner")


@dataclass(frozen=True, slots=True)
class Call:
    prompt: Prompt
    k: int


@dataclass
class RunTotals:
    planned: int = 0
    skipped: int = 0
    retried: int = 0
    new: int = 0
    done: int = 0
    ok: int = 0
    cached: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    stopped: str | None = None

    def add(self, record: dict[str, Any]) -> None:
        self.done += 1
        if record["error"]:
            name = record["error"]["class"]
            self.errors[name] = self.errors.get(name, 0) + 1
        else:
            self.ok += 1
        self.cached += bool(record["cached"])
        usage = record["usage"]
        self.prompt_tokens += usage.get("prompt_tokens") or 0
        self.completion_tokens += usage.get("completion_tokens") or 0
        self.reasoning_tokens += usage.get("reasoning_tokens") or 0
        if not record["cached"]:
            self.cost_usd += record["cost_usd"] or 0.0

    def summary(self) -> str:
        errors = ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"calls {self.done}/{self.planned - self.skipped} (skipped {self.skipped} already done, "
            f"retried {self.retried}, new {self.new}), ok {self.ok}, cached {self.cached}, errors: {errors}; "
            f"tokens in/out/reasoning {self.prompt_tokens}/{self.completion_tokens}/{self.reasoning_tokens}; "
            f"cost ${self.cost_usd:.4f}; wall {self.wall_s:.1f}s"
        )


class Budget:
    """`run.max_cost_usd`: no call starts if it could push spending past the cap.

    A call's cost is estimated as the largest cost seen so far; until one paid call has
    finished, calls go one at a time, so the first estimate is never a guess.
    """

    def __init__(self, cap: float | None, *, spent: float = 0.0) -> None:
        self.cap = cap
        self.spent = spent
        self.estimate: float | None = None
        self.in_flight = 0
        self._changed = asyncio.Event()

    async def start(self) -> bool:
        """Reserve room for one call; False once the cap would be passed (stop starting calls)."""
        if self.cap is None:
            return True
        while True:
            fits = self.estimate is not None and self.spent + (self.in_flight + 1) * self.estimate <= self.cap
            first = self.estimate is None and self.in_flight == 0 and self.spent < self.cap
            if fits or first:
                self.in_flight += 1
                return True
            if self.in_flight == 0:
                return False
            self._changed.clear()
            await self._changed.wait()  # an in-flight call will finish and refine the estimate

    def finish(self, cost: float | None, *, paid: bool = True) -> None:
        if self.cap is None:
            return
        self.in_flight -= 1
        if paid:
            self.spent += cost or 0.0
            self.estimate = max(self.estimate or 0.0, cost or 0.0)
        self._changed.set()


def generation_params(model: ModelConfig) -> dict[str, Any]:
    return {
        "temperature": model.temperature,
        "max_tokens": model.max_tokens,
        "top_p": model.top_p,
        "seed": model.seed,
        "provider": model.provider,
        "reasoning": model.reasoning,
        "extra_body": model.extra_body,
    }


def _record(call: Call, model: ModelConfig, meta: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    p = call.prompt
    return {
        "schema": SCHEMA_VERSION,
        **meta,
        "role": "target",
        "model_id": model.id,
        "model_label": model.display,
        "api": model.api,
        "prompt_id": p.prompt_id,
        "triplet_id": p.triplet_id,
        "scenario": p.scenario,
        "version": p.version,
        "perspective": p.perspective,
        "factors": p.factors,
        "k": call.k,
        "params": params,
    }


def _fill(record: dict[str, Any], c: Completion | None, error: ProviderError | None, attempts: int) -> None:
    record.update(
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
        attempts=c.attempts if c else attempts,
        cached=bool(c and c.cached),
        simulated=bool(c and c.simulated),
        error=None
        if error is None
        else {"class": error.error_class, "status": error.status, "message": error.message[:500]},
    )


async def run_calls(
    calls: Iterable[Call],
    *,
    model: ModelConfig,
    provider: Provider,
    writer: JsonlWriter,
    totals: RunTotals,
    meta: dict[str, Any],
    concurrency: int,
    cache: ResponseCache | None = None,
    budget: Budget | None = None,
    progress: bool = True,
    total: int | None = None,
) -> RunTotals:
    """Run `calls` through `provider`, appending one record per finished call."""
    params = generation_params(model)
    budget = budget or Budget(None)
    queue = iter(calls)
    started = time.perf_counter()
    bar = tqdm(total=total, desc=model.display, unit="call", disable=None if progress else True, dynamic_ncols=True)
    use_cache = cache is not None and provider.cacheable

    async def one(call: Call) -> None:
        record = _record(call, model, meta, params)
        key = None
        completion: Completion | None = None
        error: ProviderError | None = None
        record["started_at"] = now_iso()
        t0 = time.perf_counter()
        if use_cache:
            key = cache_key(base_url=model.base_url, model_id=model.id, params=params, messages=call.prompt.messages, k=call.k)
            completion = cache.get(key)
        if completion is None:
            try:
                completion = await provider.generate(call.prompt.messages, k=call.k)
            except (AuthError, CreditsError, QuotaError) as exc:
                totals.stopped = totals.stopped or str(exc)
                budget.finish(None, paid=False)
                raise
            except ProviderError as exc:
                error = exc
                log.warning("model=%s prompt=%s k=%d: %s", model.id, call.prompt.prompt_id, call.k, exc)
            else:
                if use_cache and key is not None:
                    cache.put(key, model.id, completion)
        record["latency_s"] = round(time.perf_counter() - t0, 4)
        record["ended_at"] = now_iso()
        _fill(record, completion, error, (error.attempts or 1) if error else 1)
        budget.finish(record["cost_usd"], paid=not record["cached"] and record["error"] is None)
        writer.write(record)
        totals.add(record)
        bar.update(1)

    async def worker() -> None:
        while totals.stopped is None:
            call = next(queue, None)
            if call is None:
                return
            if not await budget.start():
                totals.stopped = (
                    f"budget: the next call could pass run.max_cost_usd=${budget.cap:.4f} "
                    f"(spent ${budget.spent:.4f}); raise the cap and resume to finish"
                )
                return
            try:
                await one(call)
            except QuotaError:
                return

    try:
        outcomes = await asyncio.gather(*(worker() for _ in range(concurrency)), return_exceptions=True)
    finally:
        bar.close()
        totals.wall_s += time.perf_counter() - started
    for outcome in outcomes:  # in-flight calls have finished and been recorded; now stop
        if isinstance(outcome, BaseException):
            raise outcome
    return totals
