"""Strict parser for an LLM judge's reply.

The judge is asked for `{"score": x}` with x in [-1, 1] (-1 pro-tenant, +1 pro-landlord). A
reply counts only when it has one of a few unambiguous shapes; anything else is unscorable,
because guessing a number out of prose would quietly turn judge failures into data.

Accepted shapes, tried in this order:
1. the whole reply (or the one fenced block in it) is a JSON object with a `score` field;
2. the whole reply is one number ("0.4", "+0.75", "-1", "0.5.");
3. the whole reply is one labelled line ("Score: 0.4");
4. the reply holds exactly one JSON object, with a `score` field, inside a short piece of prose.

A value with |x| > 1 is flagged `out_of_range` and kept in `value`; it is never clipped.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["JUDGE_SCORE_SCHEMA", "JudgeParse", "parse_judge_reply"]

# OpenAI-style `response_format={"type": "json_schema", "json_schema": JUDGE_SCORE_SCHEMA}`.
# The range lives in the description, not in minimum/maximum: several backends reject those
# keywords in strict mode, and the parser flags out-of-range values anyway.
JUDGE_SCORE_SCHEMA: dict[str, Any] = {
    "name": "stance_score",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "score": {
                "type": "number",
                "description": "Stance of the answer, from -1 to +1 on the scale the instructions define; 0 is balanced.",
            }
        },
        "required": ["score"],
        "additionalProperties": False,
    },
}

# Prose around an embedded object beyond this length is a free-text answer, not a rating.
MAX_PROSE_CHARS = 400

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_BARE_NUMBER = re.compile(rf"({_NUMBER})\.?")
_LABELLED = re.compile(rf"(?:stance\s+)?(?:score|rating|stance)\s*[:=]\s*({_NUMBER})\.?", re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
# Markdown emphasis or quotes a judge may wrap around a lone number or label.
_WRAPPING = "*_`'\" \t\r\n"

_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class JudgeParse:
    """`reason` is None when ok, else one of: out_of_range, empty, no_score, no_score_field,
    score_not_numeric, non_finite, conflicting, too_much_prose."""

    score: float | None
    status: str  # "ok" | "out_of_range" | "unscorable"
    value: float | None
    reason: str | None


def _unscorable(reason: str, value: float | None = None) -> JudgeParse:
    return JudgeParse(score=None, status="unscorable", value=value, reason=reason)


def _from_value(value: float) -> JudgeParse:
    if not math.isfinite(value):
        return _unscorable("non_finite")
    if abs(value) > 1:
        return JudgeParse(score=None, status="out_of_range", value=value, reason="out_of_range")
    return JudgeParse(score=value, status="ok", value=value, reason=None)


def _from_object(obj: dict[str, Any]) -> JudgeParse:
    keys = [k for k in obj if isinstance(k, str) and k.strip().lower() == "score"]
    if len(keys) != 1:
        return _unscorable("no_score_field")
    raw = obj[keys[0]]
    # bool is an int subclass in Python; a judge answering true/false gave no rating
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return _unscorable("score_not_numeric")
    try:
        return _from_value(float(raw))
    except OverflowError:  # an integer with hundreds of digits
        return _unscorable("non_finite")


def _whole_json(body: str) -> JudgeParse | None:
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if isinstance(obj, dict):
        return _from_object(obj)
    return None  # a bare JSON number is handled by the bare-number rule


def _embedded_objects(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    found: list[tuple[int, int, dict[str, Any]]] = []
    pos = text.find("{")
    while pos != -1:
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except ValueError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(obj, dict):
            found.append((pos, end, obj))
        pos = text.find("{", end)
    return found


def _embedded(text: str) -> JudgeParse | None:
    objects = _embedded_objects(text)
    if not objects:
        return None
    rated = [(start, end, obj) for start, end, obj in objects if any(str(k).strip().lower() == "score" for k in obj)]
    if not rated:
        return _unscorable("no_score_field")
    if len({_from_object(obj) for _, _, obj in rated}) > 1:
        return _unscorable("conflicting")
    start, end, obj = rated[0]
    if len(text) - (end - start) > MAX_PROSE_CHARS:
        return _unscorable("too_much_prose")
    return _from_object(obj)


def parse_judge_reply(text: str | None) -> JudgeParse:
    if text is None or not text.strip():
        return _unscorable("empty")
    body = text.strip()
    fences = _FENCE.findall(body)
    if len(fences) == 1 and body.startswith("```") and body.endswith("```"):
        body = fences[0].strip()

    parsed = _whole_json(body)
    if parsed is not None:
        return parsed
    bare = body.strip(_WRAPPING).replace("*", "").replace("\u2212", "-")  # typographic minus
    for pattern in (_BARE_NUMBER, _LABELLED):
        match = pattern.fullmatch(bare)
        if match:
            return _from_value(float(match.group(1)))
    embedded = _embedded(body)
    if embedded is not None:
        return embedded
    return _unscorable("no_score")
