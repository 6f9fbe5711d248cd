"""Model backends, found by the name the user types as `model.api`.

A `ProviderPool` owns everything one job shares between its providers: one pooled HTTP client
per base URL, the rate limits (per API key, so models on one account share a budget) and the
API keys, each read once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from sycobench.errors import ConfigError
from sycobench.providers.base import Completion, Message, Provider
from sycobench.providers.keys import load_api_key
from sycobench.providers.openrouter import OpenRouterProvider
from sycobench.providers.transport import AiohttpTransport
from sycobench.ratelimit import RateLimits

if TYPE_CHECKING:
    from sycobench.config import ModelConfig, RateLimitConfig

__all__ = ["KNOWN_APIS", "Completion", "Message", "Provider", "ProviderPool"]

KNOWN_APIS = ("mock", "openrouter")
_CONNECT_TIMEOUT_S = 10.0
_WRITE_TIMEOUT_S = 30.0


class ProviderPool:
    """`async with ProviderPool(rate_cfg, concurrency=N) as pool: pool.provider_for(model_cfg)`."""

    def __init__(self, rate_cfg: RateLimitConfig, *, concurrency: int) -> None:
        self._rate = rate_cfg
        self._concurrency = max(1, concurrency)
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._keys: dict[str, str] = {}
        self._providers: list[Provider] = []
        self.limits = RateLimits(rate_cfg)

    async def __aenter__(self) -> ProviderPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        providers, clients = self._providers, list(self._clients.values())
        self._providers, self._clients = [], {}
        for provider in providers:
            await provider.aclose()
        for client in clients:
            await client.aclose()

    def _client(self, base_url: str) -> httpx.AsyncClient:
        """One pooled client per server; the read timeout is a backstop, the retry layer's
        per-attempt deadline is what actually bounds a call."""
        root = base_url.rstrip("/")
        if root not in self._clients:
            size = self._concurrency
            self._clients[root] = httpx.AsyncClient(
                transport=AiohttpTransport(max_connections=size),
                timeout=httpx.Timeout(self._rate.attempt_timeout_s, connect=_CONNECT_TIMEOUT_S,
                                      write=_WRITE_TIMEOUT_S, pool=None),
                follow_redirects=False,
            )
        return self._clients[root]

    def _key(self, env_name: str | None) -> str | None:
        if env_name is None:
            return None
        if env_name not in self._keys:
            self._keys[env_name] = load_api_key(env_name)
        return self._keys[env_name]

    def provider_for(self, model: ModelConfig) -> Provider:
        if model.api == "openrouter":
            provider: Provider = OpenRouterProvider(
                model, self._rate, client=self._client(model.base_url), limits=self.limits,
                api_key=self._key(model.api_key_env))
        elif model.api == "mock":
            from sycobench.providers.mock import MockProvider

            provider = MockProvider(model)
        else:
            raise ConfigError(f"model.api: unknown api {model.api!r}; known: {', '.join(KNOWN_APIS)}")
        self._providers.append(provider)
        return provider
