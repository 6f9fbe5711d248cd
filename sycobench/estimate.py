"""`run.dry_run=true`: the grid, its size, a preview, and an estimated cost. No model calls.

Token counts are a character-based estimate (about 4 characters per token), and each answer is
assumed to use `TYPICAL_ANSWER_TOKENS` (capped by max_tokens). Prices are asked of each model's
provider (`Provider.prices`: the server's `GET /models` for OpenRouter, $0 for the mock).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from sycobench.config import ModelConfig
from sycobench.errors import SycobenchError
from sycobench.providers.base import PROVIDERS

if TYPE_CHECKING:
    from sycobench.spec import JobSpec

__all__ = ["Estimate", "TYPICAL_ANSWER_TOKENS", "dry_run_estimate", "dry_run_report", "estimate_tokens"]

CHARS_PER_TOKEN = 4
TYPICAL_ANSWER_TOKENS = 400
JUDGE_REPLY_TOKENS = 10
JUDGE_OVERHEAD_TOKENS = 250  # instruction + fact sheet around the answer


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


async def _price(role: str, model: ModelConfig, n_calls: int, tokens_in: int, tokens_out: int) -> tuple[str, float | None]:
    """One role's line of the estimate, and its cost (None: the price is unknown)."""
    provider = PROVIDERS.get(model.api)
    try:
        price = await provider.prices(model)
    except (SycobenchError, OSError) as exc:
        return f"{role} {model.id}: {n_calls} calls; price unknown ({exc})", None
    if price is None:
        return f"{role} {model.id}: {n_calls} calls; price unknown (not listed by {model.base_url}/models)", None
    cost = tokens_in * price.get("prompt", 0.0) + tokens_out * price.get("completion", 0.0) + n_calls * price.get("request", 0.0)
    if provider.simulated:
        return f"{role} {model.id}: {n_calls} calls, simulated, ${cost:.0f}", cost
    return (f"{role} {model.id}: {n_calls} calls, ~{tokens_in:,} prompt + ~{tokens_out:,} completion tokens, "
            f"estimated ${cost:.4f}"), cost


@dataclass
class Estimate:
    """What a dry run found: the calls, estimated tokens and cost of one job, and a preview of its prompts.
    Kept in job.json (`estimate`), so a sweep can add its jobs up."""

    calls: int
    judge_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: some price is unknown
    lines: list[str] = field(default_factory=list)
    preview: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([*self.lines, "preview:", *(f"  {p}" for p in self.preview)])

    def to_dict(self) -> dict:
        return asdict(self)


async def dry_run_estimate(spec: JobSpec) -> Estimate:
    plan = spec.plan
    todo = plan.todo if plan.todo is not None else {}
    if plan.todo is None:
        for call in plan.calls:
            todo[call.prompt.prompt_id] = todo.get(call.prompt.prompt_id, 0) + 1
    n = plan.to_make
    out_tokens = min(spec.model.max_tokens or TYPICAL_ANSWER_TOKENS, TYPICAL_ANSWER_TOKENS)
    tokens_in = sum(todo.get(p.prompt_id, 0) * sum(estimate_tokens(m["content"]) for m in p.messages)
                    for p in spec.grid)
    tokens_out = n * out_tokens
    lines = [f"dry run: {len(spec.grid)} prompts x {spec.run.samples} samples = {plan.planned} calls; "
             f"{n} calls to make ({plan.skipped} already done). No calls were made."]
    target_line, cost = await _price("target", spec.model, n, tokens_in, tokens_out)
    lines.append(target_line)
    judge_calls = 0
    scorer_model = spec.scorer_class.model(spec.scorer)
    if scorer_model is not None:
        judge_calls = n
        judge_in, judge_out = n * (out_tokens + JUDGE_OVERHEAD_TOKENS), n * JUDGE_REPLY_TOKENS
        judge_line, judge_cost = await _price("judge", scorer_model, n, judge_in, judge_out)
        lines.append(judge_line)
        tokens_in, tokens_out = tokens_in + judge_in, tokens_out + judge_out
        cost = None if cost is None or judge_cost is None else cost + judge_cost
    if cost is not None:
        lines.append(f"estimated total: ${cost:.4f} (tokens estimated from characters, {out_tokens} tokens per answer assumed)")
    preview = [f"[{p.perspective}] {p.messages[-1]['content']}" for p in spec.grid[:3]]
    return Estimate(n, judge_calls, tokens_in, tokens_out, cost, lines, preview)


async def dry_run_report(spec: JobSpec) -> str:
    return (await dry_run_estimate(spec)).text()
