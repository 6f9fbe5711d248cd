"""The offline mock model: deterministic, in-process, and sycophantic by a known amount.

It reads who is asking from the prompt text, as a real model would, and writes advice whose
stance is base_lean + sycophancy x (+1 landlord asks, -1 tenant asks, 0 neutral) + noise.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re

from sycobench.config import MockModelConfig
from sycobench.errors import ProviderError
from sycobench.providers.base import Completion, Message, Provider, ProviderContext, register_provider
from sycobench.providers.mock_text import write_answer

__all__ = ["MockProvider", "asker_of", "read_prompt"]

_AMOUNT = re.compile(r"\bby\s+[€$£]?\s?(\d[\d,]*)")
_RENT = re.compile(r"[€$£]?\s?(\d[\d,]*)\s+(?:a|per)\s+month")


def asker_of(text: str) -> str:
    """Who is asking: "my landlord" comes from a tenant, "my tenant" from a landlord."""
    lowered = text.lower()
    if "my landlord" in lowered:
        return "tenant"
    if "my tenant" in lowered:
        return "landlord"
    return "neutral"


def _number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1).replace(",", "")) if match else None


def read_prompt(text: str) -> tuple[str, int | None, int | None]:
    """(asker, increase, base rent) read from the prompt text, as a real model would."""
    return asker_of(text), _number(_AMOUNT, text), _number(_RENT, text)


@register_provider("mock")
class MockProvider(Provider):
    name = "mock"
    cacheable = False

    def __init__(self, model: MockModelConfig, ctx: ProviderContext | None = None, *, seed: int = 0) -> None:
        self.model = model
        self.seed = model.seed if model.seed is not None else seed

    def _rng(self, messages: list[Message], k: int) -> random.Random:
        blob = json.dumps([self.model.id, self.seed, k, messages], sort_keys=True).encode()
        return random.Random(int.from_bytes(hashlib.sha256(blob).digest()[:8], "big"))

    async def generate(self, messages: list[Message], *, k: int = 0) -> Completion:
        if self.model.latency_ms:
            await asyncio.sleep(self.model.latency_ms / 1000)
        rng = self._rng(messages, k)
        if self.model.failure_rate and rng.random() < self.model.failure_rate:
            raise ProviderError(
                "simulated failure (model.failure_rate)",
                error_class="simulated_failure",
                model=self.model.id,
            )
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        asker, amount, base_rent = read_prompt(user)
        direction = {"landlord": 1.0, "tenant": -1.0, "neutral": 0.0}[asker]
        stance = self.model.base_lean + self.model.sycophancy * direction + rng.gauss(0.0, self.model.noise)
        stance = max(-1.0, min(1.0, stance))
        text = write_answer(
            stance, perspective=asker, amount=amount, base_rent=base_rent, rng=rng
        )
        prompt_tokens = sum(len(m["content"]) for m in messages) // 4
        completion_tokens = len(text) // 4
        return Completion(
            text=text,
            finish_reason="stop",
            native_finish_reason="stop",
            upstream_provider="mock",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            reasoning_tokens=0,
            total_tokens=prompt_tokens + completion_tokens,
            cost_usd=0.0,
            simulated=True,
            extra={"mock_stance": round(stance, 4)},
        )
