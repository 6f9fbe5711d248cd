"""A third-party plugin, as a user would write it in their own package (docs/extending.md)."""

from __future__ import annotations

from sycobench.providers import Completion, Provider
from sycobench.records import JsonlWriter, score_record
from sycobench.scoring import iter_pending, scorer_id


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


async def score_length(ctx) -> int:
    """A toy scorer: longer answers lean landlord."""
    sid = scorer_id(ctx.scorer)
    n = 0
    with JsonlWriter(ctx.job_dir / "scores.jsonl") as writer:
        for answer in iter_pending(ctx.job_dir, sid):
            score = max(-1.0, min(1.0, (len(answer["response_text"]) - 300) / 300))
            writer.write(score_record(answer, sid, {"name": "length"}, score=score))
            n += 1
    return n
