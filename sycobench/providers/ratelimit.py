"""Request-rate and in-flight caps for one job, shared by every model that spends the same budget.

OpenRouter's limits belong to the account (the API key), not to a model, so every model that
uses the same key draws from one limiter. A model may add a tighter cap of its own. Each retry
attempt passes the gate again: a retry spends a request like any other. When
`rate_limit.shared_rate_file` names a file, the key's rate and in-flight cap are also kept there,
so parallel jobs on one machine share them (`sycobench.providers.shared_rate`); model caps stay per job.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from aiolimiter import AsyncLimiter

from sycobench.providers.shared_rate import SharedRateFile

if TYPE_CHECKING:
    from sycobench.config import ModelConfig, RateLimitConfig

__all__ = ["RateLimits", "key_identity", "make_limiter"]


def key_identity(api_key: str | None, base_url: str) -> str:
    """Who pays for a request: a digest of the key (never the key), or the URL of a keyless server."""
    if api_key:
        return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return "url:" + base_url.rstrip("/")


def make_limiter(rps: float | None, burst: int | None) -> AsyncLimiter | None:
    """`rps` sustained, up to `burst` at once; None when there is no rate to keep."""
    if rps is None:
        return None
    size = max(1, burst or 1)
    return AsyncLimiter(max_rate=size, time_period=size / rps)


class RateLimits:
    """The registry of limiters and semaphores for one job; call `gate` once per attempt."""

    def __init__(self, rate_cfg: RateLimitConfig) -> None:
        self._cfg = rate_cfg
        self._key_limiters: dict[str, AsyncLimiter | None] = {}
        self._key_slots: dict[str, asyncio.Semaphore | None] = {}
        self._model_limiters: dict[tuple[str, str], AsyncLimiter | None] = {}
        self._model_slots: dict[tuple[str, str], asyncio.Semaphore | None] = {}
        path = getattr(rate_cfg, "shared_rate_file", None)
        # "auto" is resolved by the job (a sweep's file, or none); unresolved, it means none.
        self._shared = SharedRateFile(path) if path and path != "auto" else None

    def _shared_name(self, identity: str) -> str:
        """Profiles are separate budgets (OpenRouter limits :free models apart from paid ones),
        so jobs that share a key but not a rate-limit profile do not throttle each other."""
        return f"{identity}|{self._cfg.name}"

    def _for_key(self, identity: str) -> tuple[AsyncLimiter | None, asyncio.Semaphore | None]:
        if identity not in self._key_limiters:
            cfg = self._cfg
            self._key_limiters[identity] = make_limiter(cfg.rps, cfg.burst)
            cap = cfg.max_in_flight
            self._key_slots[identity] = asyncio.Semaphore(cap) if cap else None
        return self._key_limiters[identity], self._key_slots[identity]

    def _for_model(self, identity: str, model: ModelConfig) -> tuple[AsyncLimiter | None, asyncio.Semaphore | None]:
        slot = (identity, model.id)
        if slot not in self._model_limiters:
            cap = model.rate_limit
            self._model_limiters[slot] = make_limiter(cap.rps, cap.burst) if cap is not None else None
            self._model_slots[slot] = asyncio.Semaphore(model.concurrency) if model.concurrency else None
        return self._model_limiters[slot], self._model_slots[slot]

    @asynccontextmanager
    async def gate(self, identity: str, model: ModelConfig) -> AsyncIterator[None]:
        """Hold an in-flight slot, then take a rate token: model first, so a model waiting on its
        own tighter cap does not hold or spend the shared key budget meanwhile."""
        model_limiter, model_slot = self._for_model(identity, model)
        key_limiter, key_slot = self._for_key(identity)
        async with AsyncExitStack() as stack:
            for slot in (model_slot, key_slot):
                if slot is not None:
                    await stack.enter_async_context(slot)
            cfg, shared = self._cfg, self._shared
            if shared is not None and cfg.max_in_flight:
                await stack.enter_async_context(shared.slot(self._shared_name(identity), cap=cfg.max_in_flight))
            for limiter in (model_limiter, key_limiter):
                if limiter is not None:
                    await limiter.acquire()
            if shared is not None and cfg.rps is not None:
                await shared.acquire(self._shared_name(identity), rps=cfg.rps, burst=cfg.burst)
            yield
