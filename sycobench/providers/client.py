"""The one path every model call takes, for target answers and the judge alike:

    cache -> cost cap -> (per attempt: rate limit -> provider) with retries around the attempts

A job opens one `ModelClient`; it owns the pooled HTTP clients, the API keys (each read once),
the rate limits (per key, so models on one account share them), the response cache, the cost
cap and the totals that the log, `job.json` and the progress lines report.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import httpx

from sycobench.providers.cache import ResponseCache, cache_key
from sycobench.errors import CostCapReached, ProviderError
from sycobench.providers.base import PROVIDERS, Completion, Message, Provider
from sycobench.providers.costcap import CostCap
from sycobench.providers.keys import load_api_key
from sycobench.providers.ratelimit import RateLimits
from sycobench.providers.retry import call_with_retries

if TYPE_CHECKING:
    from sycobench.config import ModelConfig, RateLimitConfig

__all__ = ["CallTotals", "ModelClient", "RoleTotals"]

ROLES = ("target", "judge")
_CONNECT_TIMEOUT_S = 10.0
_WRITE_TIMEOUT_S = 30.0


@dataclass
class RoleTotals:
    """What the calls of one role (target answers, judge) did in this run. Cost is what this run
    paid: a cached answer costs $0 now, and what it cost when first paid is in `saved_usd`."""

    calls: int = 0
    ok: int = 0
    cached: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    saved_usd: float = 0.0
    unpriced: int = 0  # paid calls whose server reported no usable cost
    estimated_usd: float = 0.0  # their cost from the model's listed price (what the cost cap counts)

    def add(self, completion: Completion) -> None:
        self.calls += 1
        self.ok += 1
        self.prompt_tokens += completion.prompt_tokens or 0
        self.completion_tokens += completion.completion_tokens or 0
        self.reasoning_tokens += completion.reasoning_tokens or 0
        if completion.cached:
            self.cached += 1
            self.saved_usd += completion.cost_usd or 0.0
        else:
            self.cost_usd += completion.cost_usd or 0.0

    def add_error(self, exc: ProviderError) -> None:
        self.calls += 1
        self.errors[exc.error_class] = self.errors.get(exc.error_class, 0) + 1

    def summary(self) -> str:
        errors = ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items())) or "none"
        unpriced = (f"; {self.unpriced} calls without a reported cost, estimated ${self.estimated_usd:.4f} from the "
                    "listed price" if self.unpriced else "")
        return (f"calls {self.calls}, ok {self.ok}, cached {self.cached}, errors: {errors}, retries {self.retries}; "
                f"tokens in/out/reasoning {self.prompt_tokens}/{self.completion_tokens}/{self.reasoning_tokens}; "
                f"cost ${self.cost_usd:.4f} (cache saved ${self.saved_usd:.4f}){unpriced}")


@dataclass
class CallTotals:
    target: RoleTotals = field(default_factory=RoleTotals)
    judge: RoleTotals = field(default_factory=RoleTotals)

    def role(self, name: str) -> RoleTotals:
        if name not in ROLES:
            raise ValueError(f"unknown call role {name!r}; known: {ROLES}")
        return getattr(self, name)

    @property
    def cost_usd(self) -> float:
        return self.target.cost_usd + self.judge.cost_usd

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cost_usd": self.cost_usd}


class ModelClient:
    """`async with ModelClient(rate_cfg, concurrency=N) as client: await client.call(model, messages)`."""

    def __init__(self, rate_cfg: RateLimitConfig, *, concurrency: int, cache: ResponseCache | None = None,
                 cost_cap: CostCap | None = None, totals: CallTotals | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, scenario: Any = None) -> None:
        self.rate_cfg = rate_cfg
        self.scenario = scenario  # the job's scenario: what the offline mock writes about
        self.limits = RateLimits(rate_cfg)
        self.cache = cache
        self.cost_cap = cost_cap or CostCap(None)
        self.totals = totals or CallTotals()
        self._concurrency = max(1, concurrency)
        self._transport = transport  # None: the production transport, over aiohttp's pool
        self._http: dict[str, httpx.AsyncClient] = {}
        self._keys: dict[str, str] = {}
        self._providers: dict[int, tuple[ModelConfig, Provider]] = {}
        self._prices: dict[tuple[str, str], dict[str, float]] = {}  # (base URL, model id) -> USD per token, request

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        providers, clients = list(self._providers.values()), list(self._http.values())
        self._providers, self._http = {}, {}
        for _, provider in providers:
            await provider.aclose()
        for client in clients:
            await client.aclose()
        if self.cache is not None:
            self.cache.close()

    # -- what providers may take from the job (ProviderContext) -----------------------------------

    def http_client(self, base_url: str) -> httpx.AsyncClient:
        """One pooled client per server; the read timeout is a backstop, the retry layer's
        per-attempt deadline is what actually bounds a call."""
        root = base_url.rstrip("/")
        if root not in self._http:
            from sycobench.providers.transport import AiohttpTransport  # aiohttp loads only for a job that calls a server

            max_body = int(self.rate_cfg.max_response_mb * (1 << 20))
            self._http[root] = httpx.AsyncClient(
                transport=self._transport or AiohttpTransport(max_connections=self._concurrency,
                                                              max_body_bytes=max_body),
                headers={"Accept-Encoding": "gzip, deflate"},  # the encodings the transport inflates within the limit
                timeout=httpx.Timeout(self.rate_cfg.attempt_timeout_s, connect=_CONNECT_TIMEOUT_S,
                                      write=_WRITE_TIMEOUT_S, pool=None),
                follow_redirects=False,
            )
        return self._http[root]

    def api_key(self, env_name: str | None) -> str | None:
        if env_name is None:
            return None
        if env_name not in self._keys:
            self._keys[env_name] = load_api_key(env_name)
        return self._keys[env_name]

    def set_price(self, model: ModelConfig, price: dict[str, float]) -> None:
        """The model's listed price: the cost cap counts a call the server does not price at it."""
        self._prices[(model.base_url.rstrip("/"), model.id)] = price

    def _estimate(self, model: ModelConfig, completion: Completion) -> float | None:
        price = self._prices.get((model.base_url.rstrip("/"), model.id))
        if price is None:
            return None
        return ((completion.prompt_tokens or 0) * price.get("prompt", 0.0)
                + (completion.completion_tokens or 0) * price.get("completion", 0.0) + price.get("request", 0.0))

    # -- the call path ----------------------------------------------------------------------------

    def provider_for(self, model: ModelConfig) -> Provider:
        """The provider of `model.api` (looked up by name), made once per model config."""
        entry = self._providers.get(id(model))
        if entry is None:
            entry = (model, PROVIDERS.get(model.api)(model, self))
            self._providers[id(model)] = entry
        return entry[1]

    async def call(self, model: ModelConfig, messages: list[Message], *, k: int = 0,
                   role: str = "target", keep: Callable[[Completion], bool] | None = None) -> Completion:
        """One answer, through every layer. Raises ProviderError once retries are spent (fatal
        subclasses for a bad key, no credits, a daily quota) and CostCapReached before a call
        that could pass the cap; a cached answer is returned whatever the cap. `keep` decides
        whether a new answer may be cached (the judge caches only replies it could read)."""
        stats = self.totals.role(role)
        provider = self.provider_for(model)
        key = None
        if self.cache is not None and provider.cacheable:
            key = cache_key(base_url=model.base_url, model_id=model.id, params=model.generation_params(),
                            messages=messages, k=k)
            hit = self.cache.get(key)
            if hit is not None:
                stats.add(hit)
                return hit
        if not await self.cost_cap.start():
            raise CostCapReached(self.cost_cap.describe())
        cost = None
        try:
            completion = await self._attempts(provider, model, messages, k, stats)
            cost = completion.cost_usd
            if cost is None and (cost := self._estimate(model, completion)) is not None:
                stats.unpriced += 1
                stats.estimated_usd += cost
        except ProviderError as exc:
            stats.add_error(exc)
            raise
        finally:
            self.cost_cap.finish(cost, paid=cost is not None)
        stats.add(completion)
        if key is not None and (keep is None or keep(completion)):
            self.cache.put(key, model.id, completion)
        return completion

    async def _attempts(self, provider: Provider, model: ModelConfig, messages: list[Message], k: int,
                        stats: RoleTotals) -> Completion:
        seen_partial = False

        async def attempt() -> Completion:
            nonlocal seen_partial
            try:
                return await provider.generate(messages, k=k)
            except ProviderError as exc:  # e.g. empty content: ask once more, then keep what came
                if exc.partial is not None and seen_partial:
                    return exc.partial
                seen_partial = seen_partial or exc.partial is not None
                raise

        def counted(*_: object) -> None:
            stats.retries += 1

        queued = 0.0  # waiting at the gate (rate tokens, in-flight slots), kept apart from the request's own time

        @asynccontextmanager
        async def timed_gate() -> AsyncIterator[None]:
            nonlocal queued
            started = time.perf_counter()
            async with self.limits.gate(rate_key, model):
                queued += time.perf_counter() - started
                yield

        rate_key = provider.rate_key
        gate = timed_gate if rate_key is not None else None
        try:
            completion, attempts = await call_with_retries(attempt, rate_cfg=self.rate_cfg, gate=gate,
                                                           on_retry=counted)
        except ProviderError as exc:
            exc.queued_s = round(queued, 4)
            if exc.partial is None:
                raise
            completion, attempts = exc.partial, exc.attempts or 1  # the budget ended before the re-ask
        completion.attempts = attempts
        completion.queued_s = round(queued, 4)
        return completion
