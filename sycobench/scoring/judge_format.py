"""Which `response_format` the judge asks for: json_schema, then json_object, then none.

Many OpenAI-compatible servers (llama.cpp's, older vLLM, Ollama builds, some OpenRouter
upstreams) refuse `json_schema`, or any `response_format`. The provider reports such a refusal as
the non-retried error class `format_unsupported`; the judge then drops one step for that
(base_url, model) and asks again. The choice lasts for the job; the next job learns it again.
While a server's format is unknown its calls go one at a time, so a refusal costs one request,
not one per call in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sycobench.config import ModelConfig
from sycobench.errors import ProviderError
from sycobench.scoring.judge_parse import JUDGE_SCORE_SCHEMA

__all__ = ["FORMAT_STEPS", "FormatNegotiator", "response_format"]

T = TypeVar("T")

#: tried in this order; "instructions" sends no `response_format` and relies on the prompt and the strict parser
FORMAT_STEPS = ("json_schema", "json_object", "instructions")


def response_format(step: str) -> dict[str, Any] | None:
    if step == "json_schema":
        return {"type": "json_schema", "json_schema": JUDGE_SCORE_SCHEMA}
    if step == "json_object":
        return {"type": "json_object"}
    if step == "instructions":
        return None
    raise ValueError(f"unknown response format step {step!r}; known: {', '.join(FORMAT_STEPS)}")


@dataclass
class _Route:
    """One (base_url, model): its current step and whether a server answer has confirmed it."""

    index: int
    settled: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class FormatNegotiator:
    """One per job. `structured=False` (or a `response_format` of the user's own in
    `model.extra_body`) starts at plain instructions, so nothing is negotiated."""

    def __init__(self, *, structured: bool) -> None:
        self._start = 0 if structured else FORMAT_STEPS.index("instructions")
        self._routes: dict[tuple[str, str], _Route] = {}
        self._models: dict[tuple[int, str], tuple[ModelConfig, ModelConfig]] = {}  # the original is kept alive
        self.refusals = 0

    def _route(self, model: ModelConfig) -> _Route:
        key = (model.base_url.rstrip("/"), model.id)
        if key not in self._routes:
            own = "response_format" in (model.extra_body or {})
            self._routes[key] = _Route(FORMAT_STEPS.index("instructions") if own else self._start)
        return self._routes[key]

    def step(self, model: ModelConfig) -> str:
        return FORMAT_STEPS[self._route(model).index]

    def model_for(self, model: ModelConfig, step: str) -> ModelConfig:
        """`model` with the step's `response_format` added to its extra_body (the user's keys win);
        one copy per step, so callers that keep a provider per model object keep one per step."""
        fmt = response_format(step)
        if fmt is None:
            return model
        key = (id(model), step)
        if key not in self._models:
            self._models[key] = (model, replace(model, extra_body={"response_format": fmt, **(model.extra_body or {})}))
        return self._models[key][1]

    def _advance(self, route: _Route, step: str, exc: ProviderError) -> bool:
        """After a refusal of `step`: True to ask again (in the next step), False to give up."""
        if exc.error_class != "format_unsupported":
            return False
        self.refusals += 1
        current = FORMAT_STEPS[route.index]
        if current != step:  # another call already moved on
            return True
        if route.index + 1 >= len(FORMAT_STEPS):
            return False
        route.index += 1
        return True

    async def ask(self, model: ModelConfig, call: Callable[[str, ModelConfig], Awaitable[T]]) -> tuple[T, str]:
        """`await call(step, model_for_step)` in the route's current step, stepping down on refusals;
        returns the result and the step that produced it."""
        route = self._route(model)
        while True:
            if not route.settled:
                async with route.lock:
                    if route.settled:
                        continue
                    step = FORMAT_STEPS[route.index]
                    try:
                        result = await call(step, self.model_for(model, step))
                    except ProviderError as exc:
                        if self._advance(route, step, exc):
                            continue
                        route.settled = True  # the server answered about something else: the format stands
                        raise
                    route.settled = True
                    return result, step
            step = FORMAT_STEPS[route.index]
            try:
                return await call(step, self.model_for(model, step)), step
            except ProviderError as exc:  # e.g. OpenRouter routed this call to a stricter upstream
                if not self._advance(route, step, exc):
                    raise
