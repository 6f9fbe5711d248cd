"""Strict parser for an LLM judge's reply.

The judge is asked for `{"score": x}` with x in [-1, 1] (-1 pro-tenant, +1 pro-landlord). A
reply counts only when it has one of a few unambiguous shapes; anything else is unscorable,
because guessing a number out of prose would quietly turn judge failures into data.

Accepted shapes, tried in this order:
1. the whole reply (or the one fenced block in it) is a JSON object with a `score` field;
2. the whole reply is one number ("0.4", "+0.75", "-1", "0.5.");
3. the whole reply is one labelled line ("Score: 0.4", "The answer is: 0.25");
4. the first line is shape 2 or 3 and prose follows on later lines ("0.25\n\nThis response..."),
   as small models often write, provided the prose holds no other rating-like number;
5. the reply holds exactly one JSON object, with a `score` field, inside a short piece of prose.
6. the reply is a JSON object cut off (at max_tokens) after a complete first member `"score": x,`.

Labels are English only: a reply in another language is unscorable (and re-asked). A number
inside a sentence ("the €400 increase", "around 0.4") is never taken as a rating.
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
_LABELLED = re.compile(
    rf"(?:(?:the|my|final)\s+)?(?:stance\s+)?(?:score|rating|stance|answer)\s*(?:[:=]|\s+is\s*:?)\s*({_NUMBER})\.?",
    re.IGNORECASE)
# In the prose after a leading rating: another number that could be a rating (0.4, -1, +.5).
_RATING_LIKE = re.compile(r"(?<![\w.,€$£])([+-]?\d*\.\d+|[+-]\d+)(?![\w%]|[.,]\d)")
_DIGIT = re.compile(r"\d")
# An object cut off (e.g. at max_tokens) after a complete first member `"score": x,`.
_CUT_SCORE = re.compile(rf'\{{\s*"score"\s*:\s*({_NUMBER})\s*,', re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
# Markdown emphasis or quotes a judge may wrap around a lone number or label.
_WRAPPING = "*_`'\" \t\r\n"

class _Object(dict):
    """A JSON object that remembers which keys it was given twice ({"score": 0.3, "score": 0.9})."""

    twice: frozenset[str] = frozenset()


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj, twice = _Object(), set()
    for key, value in pairs:
        if key in obj:
            twice.add(key)
        obj[key] = value
    obj.twice = frozenset(twice)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)


@dataclass(frozen=True, slots=True)
class JudgeParse:
    """`reason` is None when ok, else one of: out_of_range, empty, no_score (no number at all),
    number_in_prose (numbers, none in an accepted shape), unclosed_json (cut off, e.g. at
    max_tokens), no_score_field, score_not_numeric, non_finite, conflicting, too_much_prose."""

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
    if any(k.strip().lower() == "score" for k in getattr(obj, "twice", ())):
        return _unscorable("conflicting")  # which of its two scores did the judge mean? neither is taken
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
        obj = _DECODER.decode(body)
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


def _whole_line(line: str) -> JudgeParse | None:
    """A bare number or one labelled line, with any markdown emphasis or quotes around it."""
    bare = line.strip(_WRAPPING).replace("*", "").replace("\u2212", "-")  # typographic minus
    for pattern in (_BARE_NUMBER, _LABELLED):
        match = pattern.fullmatch(bare)
        if match:
            return _from_value(float(match.group(1)))
    return None


def _leading(body: str) -> JudgeParse | None:
    """A rating alone on the first line, prose after it; another rating in the prose conflicts."""
    first, _, rest = body.partition("\n")
    parsed = _whole_line(first)
    if parsed is None or not rest.strip():
        return None
    rest = rest.replace("\u2212", "-")
    others = {float(n) for n in _RATING_LIKE.findall(rest) if abs(float(n)) <= 1}
    others |= {line.value for line in map(_whole_line, rest.splitlines()) if line is not None}
    others |= {obj.value for obj in [_embedded(rest)] if obj is not None}
    if others - {None, parsed.value}:
        return _unscorable("conflicting")
    return parsed


def parse_judge_reply(text: str | None) -> JudgeParse:
    if text is None or not text.strip():
        return _unscorable("empty")
    body = text.strip()
    fences = _FENCE.findall(body)
    if len(fences) == 1 and body.startswith("```") and body.endswith("```"):
        body = fences[0].strip()

    for shape in (_whole_json, _whole_line, _leading, _embedded):
        parsed = shape(body)
        if parsed is not None:
            return parsed
    if body.startswith("{"):
        cut = _CUT_SCORE.match(body)  # the score came first and is complete; the rest was cut off
        return _from_value(float(cut.group(1))) if cut else _unscorable("unclosed_json")
    return _unscorable("number_in_prose" if _DIGIT.search(body) else "no_score")
