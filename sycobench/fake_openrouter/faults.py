"""Every failure OpenRouter is known to produce, rebuilt byte for byte over real HTTP."""

from __future__ import annotations

import asyncio
import functools
import datetime as dt
import email.utils
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sycobench.fake_openrouter.replies import UPSTREAM, completion_body

__all__ = [
    "FAULTS",
    "FORMAT_REFUSALS",
    "QUICK_FAULTS",
    "FaultContext",
    "error_envelope",
    "error_response",
    "format_refusal",
    "rate_limited",
    "send_fault",
]

# Drawn at random by `--fault-rate` alone: transient failures a client must ride out quickly.
QUICK_FAULTS = (
    "429_retry_after", "429_retry_after_date", "429_reset", "500", "502", "503", "504", "524", "408",
    "200_error", "finish_error", "empty_choices", "missing_choices", "truncated_json", "drop",
)
# Fatal (401, 402, quota_day) or slow (trickle): only when named explicitly.
FAULTS = QUICK_FAULTS + (
    "quota_day", "529", "200_error_429", "null_content_reasoning", "trickle",
    "400", "401", "402", "403_moderation", "404",
)
# A hostile or broken server's 200s: numbers no reader can keep, a key echoed back, bodies too big or not
# UTF-8. Only when named explicitly.
HOSTILE = ("nan_cost", "inf_cost", "negative_cost", "no_cost", "huge_tokens", "key_echo", "not_utf8", "gzip_bomb",
           "endless_body")
FAULTS = FAULTS + HOSTILE

_TRICKLE_EVERY_S = 0.5
_CLOUDFLARE_524 = (
    "<!DOCTYPE html>\n<html><head><title>openrouter.ai | 524: A timeout occurred</title></head>\n"
    "<body><h1>A timeout occurred</h1><p>Error code 524</p>\n"
    "<p>The origin web server timed out responding to this request.</p></body></html>\n"
)


@dataclass(frozen=True, slots=True)
class FaultContext:
    """What a fault needs to know about the request it spoils."""

    model: str
    prompt: str
    prompt_tokens: int
    max_tokens: int | None
    answer: Callable[[], str]
    retry_after_s: float
    trickle_s: float
    key: str = ""  # the key the request carried (the `key_echo` fault sends it back)

    def success(self, content: str | None, **changes: Any) -> dict[str, Any]:
        return completion_body(self.model, content, prompt_tokens=self.prompt_tokens,
                               max_tokens=self.max_tokens, **changes)


def error_envelope(code: int, message: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if metadata is not None:
        error["metadata"] = metadata
    return {"error": error, "user_id": "user_fake0000"}


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(payload).encode(),
                        content_type="application/json", headers=headers)


def error_response(status: int, message: str, metadata: dict[str, Any] | None = None, *,
                   code: int | None = None, headers: dict[str, str] | None = None) -> web.Response:
    return _json(status, error_envelope(code or status, message, metadata), headers)


#: `--refuse-format`: which response formats the fake refuses, like a server that lacks them
FORMAT_REFUSALS = ("json_schema", "any")


def format_refusal(requested: Any, refuse: str | None) -> web.Response | None:
    """`json_schema`: llama.cpp's server (a pydantic literal error sent as HTTP 500); `any`: a
    server that takes no `response_format` at all (400). None when the request may proceed."""
    kind = requested.get("type") if isinstance(requested, dict) else None
    if refuse is None or kind is None or kind == "text":
        return None
    if refuse == "json_schema" and kind == "json_schema":
        detail = [{"type": "literal_error", "loc": ("body", "response_format", "type"),
                   "msg": "Input should be 'text' or 'json_object'", "input": kind,
                   "ctx": {"expected": "'text' or 'json_object'"}}]
        error = {"message": str(detail), "type": "internal_server_error", "param": None, "code": None}
        return _json(500, {"error": error})
    if refuse == "any":
        return error_response(400, f"response_format of type '{kind}' is not supported by this model")
    return None


def rate_limited(*, limit: int, reset_ms: int, window: str) -> web.Response:
    """OpenRouter's own 429: no Retry-After, the reset time hides in `metadata.headers`."""
    message = f"Rate limit exceeded: {window}. "
    if window.endswith("per-day"):
        message += "Add 10 credits to unlock 1000 free model requests per day"
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset": str(reset_ms)}
    return error_response(429, message, {"headers": headers})


def _next_utc_midnight_ms() -> int:
    today = dt.datetime.now(dt.UTC).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return int(midnight.timestamp() * 1000)


_UPSTREAM_ERROR = {
    "raw": json.dumps({"error": {"message": "upstream connect error or disconnect/reset before headers"}}),
    "provider_name": UPSTREAM,
}


def _upstream_rate_limited(ctx: FaultContext, retry_after: str) -> web.Response:
    message = f"{ctx.model} is temporarily rate-limited upstream. Please retry shortly."
    return error_response(429, message, {"raw": message, "provider_name": UPSTREAM},
                          headers={"Retry-After": retry_after})


def _seconds(value: float) -> str:
    return f"{value:g}"


def _body(ctx: FaultContext, **changes: Any) -> web.Response:
    payload = ctx.success(ctx.answer())
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return _json(200, payload)


def _finish_error(ctx: FaultContext) -> web.Response:
    text = ctx.answer()
    return _json(200, ctx.success(text[: len(text) // 2], finish_reason="error"))


def _null_content(ctx: FaultContext) -> web.Response:
    return _json(200, ctx.success(None, reasoning=ctx.answer(), finish_reason="length"))


def _truncated(ctx: FaultContext) -> web.Response:
    whole = json.dumps(ctx.success(ctx.answer())).encode()
    return web.Response(status=200, body=whole[: len(whole) // 2], content_type="application/json")


_SIMPLE: dict[str, Callable[[FaultContext], web.Response]] = {
    "429_retry_after": lambda ctx: _upstream_rate_limited(ctx, _seconds(ctx.retry_after_s)),
    "429_retry_after_date": lambda ctx: _upstream_rate_limited(
        ctx, email.utils.formatdate(time.time() + 2, usegmt=True)),
    "429_reset": lambda ctx: rate_limited(
        limit=20, reset_ms=int(time.time() * 1000) + 1000, window="free-models-per-min"),
    "quota_day": lambda ctx: rate_limited(
        limit=50, reset_ms=_next_utc_midnight_ms(), window="free-models-per-day"),
    "500": lambda ctx: error_response(500, "Internal Server Error", {"error_type": "server"}),
    "502": lambda ctx: error_response(502, "Provider returned error", _UPSTREAM_ERROR),
    "503": lambda ctx: error_response(
        503, "No instances available for this model. Please try again later.",
        {"error_type": "provider_unavailable"}, headers={"Retry-After": _seconds(ctx.retry_after_s)}),
    "504": lambda ctx: error_response(504, "Upstream timed out", {"error_type": "timeout"}),
    "524": lambda ctx: web.Response(status=524, text=_CLOUDFLARE_524, content_type="text/html"),
    "529": lambda ctx: error_response(
        529, "Provider is overloaded", {"error_type": "provider_overloaded", "provider_name": UPSTREAM}),
    "408": lambda ctx: error_response(408, "Request timed out", {"error_type": "timeout"}),
    "200_error": lambda ctx: error_response(
        200, "Provider returned error", _UPSTREAM_ERROR, code=502),
    "200_error_429": lambda ctx: error_response(
        200, "Rate limit exceeded upstream", {"error_type": "rate_limit_exceeded",
                                              "provider_name": UPSTREAM}, code=429),
    "finish_error": _finish_error,
    "empty_choices": lambda ctx: _body(ctx, choices=[]),
    "missing_choices": lambda ctx: _body(ctx, choices=None),
    "null_content_reasoning": _null_content,
    "truncated_json": _truncated,
    "400": lambda ctx: error_response(
        400, "This endpoint's maximum context length is 8192 tokens. "
             f"However, you requested about {ctx.prompt_tokens + 9000} tokens."),
    "401": lambda ctx: error_response(401, "User not found."),
    "402": lambda ctx: error_response(
        402, "Insufficient credits. Add more credits to your account to continue."),
    "403_moderation": lambda ctx: error_response(
        403, f'{ctx.model} requires moderation on {UPSTREAM}. Your input was flagged for "harassment".',
        {"reasons": ["harassment"], "flagged_input": ctx.prompt[:100], "provider_name": UPSTREAM,
         "model_slug": ctx.model}),
    "404": lambda ctx: error_response(404, f"No endpoints found for {ctx.model}."),
}


async def _drop(request: web.Request, ctx: FaultContext) -> web.StreamResponse:
    """Close the socket without a status line, like a reset upstream connection."""
    transport = request.transport
    request.protocol.force_close()
    if transport is not None:
        transport.abort()
    return web.Response()  # never written: the connection is already gone


async def _trickle(request: web.Request, ctx: FaultContext) -> web.StreamResponse:
    """Keep-alive whitespace while "the model works": defeats a read timeout, not a deadline."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    deadline = time.monotonic() + ctx.trickle_s
    try:
        while (left := deadline - time.monotonic()) > 0:
            await response.write(b"\n")
            await asyncio.sleep(min(_TRICKLE_EVERY_S, left))
        await response.write(json.dumps(ctx.success(ctx.answer())).encode())
        await response.write_eof()
    except ConnectionError:  # the client gave up first, as it should
        pass
    return response


def _usage(ctx: FaultContext, **changes: Any) -> dict[str, Any]:
    payload = ctx.success(ctx.answer())
    payload["usage"].update(changes)
    return payload


def _raw_json(payload: dict[str, Any], **literals: str) -> web.Response:
    """JSON with some values written as literals no strict JSON has (NaN, Infinity), as a broken server might."""
    text = json.dumps(payload)
    for name, literal in literals.items():
        text = text.replace(f'"{name}": "__literal__"', f'"{name}": {literal}')
    return web.Response(status=200, body=text.encode(), content_type="application/json")


def _key_echo(ctx: FaultContext) -> web.Response:
    payload = ctx.success(f"{ctx.answer()} (your key is {ctx.key})", reasoning=f"I was sent {ctx.key}.")
    payload.update(provider=f"Echo-{ctx.key}", id=f"gen-{ctx.key}", model=ctx.key)
    return _json(200, payload)


@functools.cache
def _bomb() -> bytes:
    """About 400 KB of gzip that inflates to 400 MB: made once, a MB at a time."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"choices": [{"message": {"content": "')]
    block = b"a" * (1 << 20)
    parts += [packer.compress(block) for _ in range(400)]
    parts += [packer.compress(b'"}}]}'), packer.flush()]
    return b"".join(parts)


async def _gzip_bomb(request: web.Request, ctx: FaultContext) -> web.StreamResponse:
    """A small gzip body that inflates to hundreds of MB."""
    return web.Response(status=200, body=_bomb(), headers={"Content-Type": "application/json",
                                                          "Content-Encoding": "gzip"})


async def _endless_body(request: web.Request, ctx: FaultContext) -> web.StreamResponse:
    """A 200 whose body never ends, as fast as the socket takes it."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    chunk = b'{"choices": [' + b" " * (1 << 16)
    try:
        while True:
            await response.write(chunk)
    except (ConnectionError, RuntimeError):  # the client gave up, as it should
        pass
    return response


_SIMPLE.update({
    "nan_cost": lambda ctx: _raw_json(_usage(ctx, cost="__literal__"), cost="NaN"),
    "inf_cost": lambda ctx: _raw_json(_usage(ctx, cost="__literal__"), cost="1e999"),
    "negative_cost": lambda ctx: _json(200, _usage(ctx, cost=-0.5)),
    "no_cost": lambda ctx: _json(200, _usage(ctx, cost=None)),
    "huge_tokens": lambda ctx: _json(200, _usage(ctx, prompt_tokens=10**20, total_tokens=10**20)),
    "key_echo": _key_echo,
    "not_utf8": lambda ctx: web.Response(status=200, body=json.dumps(ctx.success(ctx.answer())).encode().replace(
        b"a", b"\xe9", 3).replace(b'\\u00e9', b"\xe9"), content_type="application/json"),
})

_STREAMED: dict[str, Callable[[web.Request, FaultContext], Awaitable[web.StreamResponse]]] = {
    "drop": _drop,
    "trickle": _trickle,
    "gzip_bomb": _gzip_bomb,
    "endless_body": _endless_body,
}


async def send_fault(name: str, request: web.Request, ctx: FaultContext) -> web.StreamResponse:
    if name in _STREAMED:
        return await _STREAMED[name](request, ctx)
    return _SIMPLE[name](ctx)
