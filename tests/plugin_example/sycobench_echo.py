"""A third-party plugin, as a user would write it in their own package (docs/extending.md)."""

from __future__ import annotations

from sycobench.providers import Completion, Provider
from sycobench.scoring import Score, Scorer


class EchoProvider(Provider):
    """Answers every question by repeating its last line; no network."""

    name = "echo"
    cacheable = False

    def __init__(self, model, ctx) -> None:
        self.model = model

    async def generate(self, messages, *, k=0):
        text = messages[-1]["content"].splitlines()[-1]
        return Completion(text=f"You asked: {text}", finish_reason="stop", prompt_tokens=len(text) // 4,
                          completion_tokens=len(text) // 4, cost_usd=0.0)


class LengthScorer(Scorer):
    """A toy scorer: longer answers lean toward party A."""

    async def score(self, answer):
        return Score(score=max(-1.0, min(1.0, (len(answer.text) - 300) / 300)))
