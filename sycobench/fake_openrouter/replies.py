"""What the fake says when nothing goes wrong: the model catalogue, advice text, judge scores."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import time
from typing import Any

__all__ = [
    "JUDGE_MODES",
    "UPSTREAM",
    "completion_body",
    "count_tokens",
    "find_judged_answer",
    "judge_reply",
    "load_scenario",
    "message_text",
    "models_payload",
    "price_of",
    "write_advice",
]

UPSTREAM = "FakeUpstream"
JUDGE_MODES = ("json", "bare", "distract", "out_of_range", "junk", "mixed")
_MIXED_CYCLE = JUDGE_MODES[:-1]
_ANSWER_TAGS = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_DEFAULT_PRICE = ("0.000001", "0.000002")

# id -> (display name, context length, prompt USD/token, completion USD/token)
_CATALOGUE: dict[str, tuple[str, int, str, str]] = {
    "x-ai/grok-4-fast": ("xAI: Grok 4 Fast", 2_000_000, "0.0000002", "0.0000005"),
    "openai/gpt-4o-mini": ("OpenAI: GPT-4o-mini", 128_000, "0.00000015", "0.0000006"),
    "anthropic/claude-3.5-haiku": ("Anthropic: Claude 3.5 Haiku", 200_000, "0.0000008", "0.000004"),
    "google/gemini-2.5-flash": ("Google: Gemini 2.5 Flash", 1_048_576, "0.0000003", "0.0000025"),
    "meta-llama/llama-3.3-70b-instruct": ("Meta: Llama 3.3 70B Instruct", 131_072, "0.00000013", "0.00000039"),
    "mistralai/mistral-small-3.2-24b-instruct": (
        "Mistral: Mistral Small 3.2 24B", 131_072, "0.00000006", "0.00000018"),
    "deepseek/deepseek-chat-v3.1": ("DeepSeek: DeepSeek V3.1", 163_840, "0.00000027", "0.000001"),
    "qwen/qwen3-235b-a22b-2507": ("Qwen: Qwen3 235B A22B Instruct 2507", 262_144, "0.00000013", "0.0000006"),
    "meta-llama/llama-3.3-70b-instruct:free": ("Meta: Llama 3.3 70B Instruct (free)", 65_536, "0", "0"),
    "deepseek/deepseek-chat-v3.1:free": ("DeepSeek: DeepSeek V3.1 (free)", 163_840, "0", "0"),
    "google/gemma-3-27b-it:free": ("Google: Gemma 3 27B (free)", 96_000, "0", "0"),
    "mistralai/mistral-small-3.2-24b-instruct:free": (
        "Mistral: Mistral Small 3.2 24B (free)", 131_072, "0", "0"),
}


@functools.cache
def models_payload() -> bytes:
    """The `/models` body, built once: it never changes while the server runs."""
    data = [
        {
            "id": model_id,
            "canonical_slug": model_id.split(":")[0],
            "name": name,
            "created": 1_740_000_000,
            "description": f"{name}, as simulated by the sycobench fake server.",
            "context_length": context,
            "architecture": {"modality": "text->text", "input_modalities": ["text"],
                             "output_modalities": ["text"], "tokenizer": "Other"},
            "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0",
                        "web_search": "0", "internal_reasoning": "0"},
            "top_provider": {"context_length": context, "max_completion_tokens": 16_384,
                             "is_moderated": False},
            "supported_parameters": ["max_tokens", "temperature", "top_p", "seed", "stop"],
        }
        for model_id, (name, context, prompt, completion) in _CATALOGUE.items()
    ]
    return json.dumps({"data": data}).encode()


@functools.lru_cache(maxsize=1024)
def price_of(model: str) -> tuple[float, float]:
    """USD per prompt token and per completion token; unknown ids get a default price."""
    prompt, completion = _CATALOGUE[model][2:] if model in _CATALOGUE else _DEFAULT_PRICE
    return float(prompt), float(completion)


def message_text(message: dict[str, Any]) -> str:
    """Content as plain text, whether a string or a list of OpenAI content parts."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def count_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _digest(*parts: object) -> int:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big")


@functools.lru_cache(maxsize=256)
def _model_lean(model: str) -> float:
    """Each simulated model has its own baseline stance; `:free` shares its paid twin's."""
    return (_digest(model.split(":")[0]) % 10_001) / 10_000 * 0.6 - 0.3


@functools.lru_cache(maxsize=8)
def load_scenario(name: str) -> Any:
    """A shipped scenario by name (`rent`), or a scenario file by path: what the answers are about."""
    from pathlib import Path

    import sycobench.providers.mock  # noqa: F401  loaded with the server, so no request pays for it
    from sycobench.paths import CONF_DIR, read_yaml
    from sycobench.scenario_file import ScenarioConfig

    path = Path(name) if name.endswith((".yaml", ".yml")) else CONF_DIR / "scenario" / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"scenario {name!r}: no such scenario file")
    return ScenarioConfig(read_yaml(path.read_text(encoding="utf-8")))


@functools.lru_cache(maxsize=8)
def _answers(scenario: str) -> dict[str, Any] | None:
    """The sentences the scenario's answers are written from (None: rent's own writer)."""
    from sycobench.providers.mock_text import answer_bank

    return answer_bank(load_scenario(scenario).to_dict())


def write_advice(messages: list[dict[str, Any]], *, model: str, request_seed: object,
                 server_seed: int, sycophancy: float, scenario: str = "rent", caving: float = 0.0) -> str:
    """Advice of a known stance. Asked again after an objection (a second user turn), the answer starts
    from the first answer's stance and moves `caving` toward the side the objection pushes for."""
    from sycobench.protocol import who_objects
    from sycobench.providers.mock import read_prompt
    from sycobench.providers.mock_text import write_answer, write_from_bank
    from sycobench.scenario import who_asks

    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    asked = message_text(messages[users[0]]) if users else ""
    first = messages[: users[0] + 1] if users else messages
    rng = random.Random(_digest(server_seed, model, request_seed, first))
    cfg = load_scenario(scenario)
    asker = who_asks(cfg, asked)
    pull = 1.0 if asker == cfg.party_ids[0] else -1.0 if asker == cfg.party_ids[1] else 0.0
    stance = max(-1.0, min(1.0, _model_lean(model) + sycophancy * pull + rng.gauss(0.0, 0.08)))
    if len(users) > 1:
        rng = random.Random(_digest(server_seed, model, request_seed, messages))
        objector = who_objects(cfg, message_text(messages[users[-1]]))
        stance = max(-1.0, min(1.0, stance + caving * {"a": 1.0, "b": -1.0}.get(objector or "", 0.0)))
    bank = _answers(scenario)
    if bank is not None:
        return write_from_bank(stance, bank, rng=rng)
    _, amount, base_rent = read_prompt(asked)
    return write_answer(stance, perspective=asker, amount=amount, base_rent=base_rent, rng=rng)


def find_judged_answer(messages: list[dict[str, Any]]) -> str | None:
    """The text a judge is asked to rate, or None when this is not a judge request."""
    found = [match for m in messages for match in _ANSWER_TAGS.findall(message_text(m))]
    return found[-1] if found else None


@functools.lru_cache(maxsize=8)
def _bank_keys(scenario: str = "rent") -> tuple[tuple[str, str], ...]:
    """(literal text, side) for every stance-bearing sentence and closing verdict the answer
    writer uses: the longest stretch of each template without a placeholder."""
    from sycobench.providers.mock_text import BANKS, CLOSERS

    bank = _answers(scenario)
    if bank is not None:
        sides = ("a", "b", "balanced")
        return tuple([(line, side) for side in sides for line in bank[side]]
                     + [(line, side) for side, lines in bank["closers"].items() for line in lines])
    keys = []
    rent_sides = {"landlord": "a", "tenant": "b", "balanced": "balanced"}  # rent's own writer names its sides so
    for table in (BANKS, CLOSERS):
        for by_side in table.values():
            for side, templates in by_side.items():
                for template in templates:
                    keys.append((max(re.split(r"\{[^}]*\}", template), key=len).strip(), rent_sides[side]))
    return tuple(keys)


def read_stance(answer: str, scenario: str = "rent") -> float:
    """The fake judge's rating: the answer writer's own key, read back from which of its
    sentences the answer holds (party A's - party B's, over all). It shares nothing with the
    offline scorer, so tests comparing the two are not circular; prose it did not write rates 0."""
    counts = {"a": 0, "b": 0, "balanced": 0}
    for text, side in _bank_keys(scenario):
        if text and text in answer:
            counts[side] += 1
    seen = sum(counts.values())
    return (counts["a"] - counts["b"]) / seen if seen else 0.0


def judge_reply(messages: list[dict[str, Any]], answer: str, *, mode: str, turn: int, scenario: str = "rent",
                scale: float = 1.0) -> str:
    """`turn` (the judge request count) drives the deterministic cycle of the `mixed` mode; `scale`
    multiplies the rating (clipped to [-1, 1]), so two judge models can disagree in a known way."""
    if mode == "mixed":
        mode = _MIXED_CYCLE[turn % len(_MIXED_CYCLE)]
    if mode == "distract":
        return "A €100 rise on €1,200 is 8.3%, which seems steep to me."
    if mode == "out_of_range":
        return '{"score": 7}'
    if mode == "junk":
        return "I'm not sure how to rate this."
    score = max(-1.0, min(1.0, read_stance(answer, scenario) * scale))
    reversed_scale = "-1 = " + load_scenario(scenario).judge["plus"].split(" (")[0]  # the +1 end, asked at -1
    if any(reversed_scale in message_text(m) for m in messages):
        score = -score
    score = round(score, 2) + 0.0  # no "-0.0"
    return json.dumps({"score": score}) if mode == "json" else repr(score)


def completion_body(model: str, content: str | None, *, prompt_tokens: int,
                    finish_reason: str = "stop", reasoning: str | None = None,
                    max_tokens: int | None = None) -> dict[str, Any]:
    if max_tokens and content and count_tokens(content) > max_tokens:
        content, finish_reason = content[: max_tokens * 4], "length"
    now = int(time.time())
    completion_tokens = count_tokens((content or "") + (reasoning or ""))
    prompt_price, completion_price = price_of(model)
    return {
        "id": f"gen-{now}-{random.getrandbits(80):020x}",
        "provider": UPSTREAM,
        "model": model,
        "object": "chat.completion",
        "created": now,
        "choices": [{
            "index": 0,
            "finish_reason": finish_reason,
            "native_finish_reason": finish_reason,
            "logprobs": None,
            "message": {"role": "assistant", "content": content, "refusal": None, "reasoning": reasoning},
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens_details": {"reasoning_tokens": count_tokens(reasoning) if reasoning else 0},
            "cost": round(prompt_tokens * prompt_price + completion_tokens * completion_price, 12),
        },
    }
