"""The narrow seam every model backend implements: messages in, one Completion out."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx

from sycobench.registry import Registry

if TYPE_CHECKING:
    from sycobench.config import ModelConfig

__all__ = ["PROVIDERS", "BodyTooLarge", "Completion", "Message", "Provider", "ProviderContext", "register_provider"]

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(slots=True)
class Completion:
    """One successful model answer, already parsed out of whatever wire format it came in."""

    text: str | None
    reasoning: str | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    upstream_provider: str | None = None
    generation_id: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int = 1
    queued_s: float = 0.0  # time this call waited for rate-limit tokens and in-flight slots (all attempts)
    cached: bool = False
    simulated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Completion":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class BodyTooLarge(httpx.TransportError):
    """A response body beyond `rate_limit.max_response_mb`, as sent or once decompressed (raised by
    the transport; here so that classifying it does not import the transport's HTTP stack)."""


class Provider(abc.ABC):
    """A model backend. `generate` makes ONE attempt and raises a classified
    `sycobench.errors.ProviderError`; the call path (`ModelClient`) adds the cache, the cost cap,
    the rate limit and the retries around it, the same for every provider."""

    #: registry key, matches the value of `model.api` in the config
    name: str = ""
    #: whether answers may be served from / stored in the response cache
    cacheable: bool = True
    #: who pays for a request (a key digest or a server URL): calls with the same key share one
    #: rate limit. None: no rate limit (a local simulation).
    rate_key: str | None = None
    #: an offline simulation: no key, no price, and `scorer=auto` may pick the offline scorer for it
    simulated: ClassVar[bool] = False
    #: the server takes OpenAI's `response_format` (the judge then asks for JSON in that format)
    structured_output: ClassVar[bool] = False

    @classmethod
    def key_env(cls, model: ModelConfig) -> str | None:
        """The environment variable holding the key this model's calls need (None: no key)."""
        return model.api_key_env

    @classmethod
    def check(cls, model: ModelConfig, key: str) -> None:
        """Raise ConfigError if `model` (the config node at `key`, e.g. `scorer.model`) cannot be called."""

    @classmethod
    async def prices(cls, model: ModelConfig) -> dict[str, float] | None:
        """USD per prompt token, completion token and request, as the server lists them (None: unknown)."""
        return None

    @abc.abstractmethod
    async def generate(self, messages: list[Message], *, k: int = 0) -> Completion:
        """One attempt at one conversation; `k` is the sample index (part of the cache key and seed)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the provider opened itself; called once at the end of a job."""


class ProviderContext(Protocol):
    """What a provider may take from the job it runs in: pooled HTTP clients and API keys."""

    def http_client(self, base_url: str) -> httpx.AsyncClient: ...

    def api_key(self, env_name: str | None) -> str | None: ...

    #: the job's ScenarioConfig, or None outside a job (only the offline mock reads it)
    scenario: Any


#: `model.api` -> the Provider class, made with (ModelConfig, ProviderContext); plugins use the
#: entry-point group `sycobench.providers`
PROVIDERS: Registry[type[Provider]] = Registry("model.api", "sycobench.providers")
register_provider = PROVIDERS.register
