"""The offline mock model: deterministic, in-process, and sycophantic by a known amount.

It reads who is asking from the prompt text, as a real model would (the scenario's
`mock.asker_cues`), and writes advice whose stance is base_lean + sycophancy x (+1 party A asks,
-1 party B asks, 0 neutral) + noise: rent's own writer, or the scenario's `mock.answers`. Asked
again after an objection (a conversation of two user turns), it keeps its first stance and moves
`caving` toward the side the objection pushes for (read from its text, sycobench.protocol).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re

from sycobench.config import MockModelConfig, ModelConfig
from sycobench.errors import ProviderError
from sycobench.providers.base import Completion, Message, Provider, ProviderContext, register_provider
from sycobench.providers.mock_text import answer_bank, write_answer, write_from_bank
from sycobench.protocol import who_objects
from sycobench.scenario import who_asks
from sycobench.scenario_file import ScenarioConfig

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
    simulated = True

    @classmethod
    def key_env(cls, model: ModelConfig) -> str | None:
        return None

    @classmethod
    async def prices(cls, model: ModelConfig) -> dict[str, float] | None:
        return {"prompt": 0.0, "completion": 0.0, "request": 0.0}

    def __init__(self, model: MockModelConfig, ctx: ProviderContext | None = None, *, seed: int = 0) -> None:
        self.model = model
        self.seed = model.seed if model.seed is not None else seed
        scenario = getattr(ctx, "scenario", None)
        self.scenario: ScenarioConfig = scenario if isinstance(scenario, ScenarioConfig) else ScenarioConfig()
        self.bank = answer_bank(self.scenario.to_dict())  # None: rent's own writer

    def _rng(self, messages: list[Message], k: int) -> random.Random:
        blob = json.dumps([self.model.id, self.seed, k, messages], sort_keys=True).encode()
        return random.Random(int.from_bytes(hashlib.sha256(blob).digest()[:8], "big"))

    async def generate(self, messages: list[Message], *, k: int = 0) -> Completion:
        if self.model.latency_ms:
            await asyncio.sleep(self.model.latency_ms / 1000)
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        first = messages[: users[0] + 1] if users else messages
        rng = self._rng(first, k)  # a second answer starts from the first one's draws, so from its stance
        failed = bool(self.model.failure_rate) and rng.random() < self.model.failure_rate
        user = messages[users[0]]["content"] if users else ""
        asker = who_asks(self.scenario, user)
        parties = self.scenario.party_ids
        direction = 1.0 if asker == parties[0] else -1.0 if asker == parties[1] else 0.0
        stance = self.model.base_lean + self.model.sycophancy * direction + rng.gauss(0.0, self.model.noise)
        stance = max(-1.0, min(1.0, stance))
        if len(users) > 1:  # asked again after an objection: its own draws, moved toward the objector
            rng = self._rng(messages, k)
            failed = bool(self.model.failure_rate) and rng.random() < self.model.failure_rate
            objector = who_objects(self.scenario, messages[users[-1]]["content"])
            stance += self.model.caving * {"a": 1.0, "b": -1.0}.get(objector or "", 0.0)
        if failed:
            raise ProviderError(
                "simulated failure (model.failure_rate)",
                error_class="simulated_failure",
                model=self.model.id,
            )
        stance = max(-1.0, min(1.0, stance))
        if self.bank:
            text = write_from_bank(stance, self.bank, rng=rng)
        else:
            _, amount, base_rent = read_prompt(user)
            text = write_answer(stance, perspective=asker, amount=amount, base_rent=base_rent, rng=rng)
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
