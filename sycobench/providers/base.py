"""The narrow seam every model backend implements: messages in, one Completion out."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Completion", "Message", "Provider"]

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
    cached: bool = False
    simulated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Completion":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class Provider(abc.ABC):
    """A model backend. Failures are raised as `sycobench.errors.ProviderError` (or a subclass),
    after the provider's own single retry layer has spent its budget."""

    #: registry key, matches the value of `model.api` in the config
    name: str = ""
    #: whether answers may be served from / stored in the response cache
    cacheable: bool = True

    @abc.abstractmethod
    async def generate(self, messages: list[Message], *, k: int = 0) -> Completion:
        """Answer one conversation; `k` is the sample index (part of the cache key and mock seed)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; called once at the end of a job."""
