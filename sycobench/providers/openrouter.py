"""OpenRouter, or any OpenAI-compatible chat endpoint (vLLM, Ollama, LM Studio, llama.cpp).

The only module that knows URLs, JSON shapes and status codes. Every failure is classified
here, exactly once, into a `ProviderError` whose `error_class` the retry layer understands.
Errors often arrive inside an HTTP 200, so a 200 is checked as carefully as a 5xx.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from urllib.parse import urlsplit
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from sycobench.errors import AuthError, ConfigError, CreditsError, ProviderError, QuotaError
from sycobench.providers.base import BodyTooLarge, Completion, Message, Provider, ProviderContext, register_provider
from sycobench.providers.keys import load_api_key, redact
from sycobench.providers.ratelimit import key_identity
from sycobench.providers.retry import ERROR_CLASSES

if TYPE_CHECKING:
    from sycobench.config import ModelConfig

__all__ = ["OpenRouterProvider", "classify_status", "fetch_models", "parse_retry_after"]

log = logging.getLogger(__name__)
_SNIPPET_CHARS = 300
MAX_TOKENS = 100_000_000  # per call: more is no real count, and recorded as unknown
MAX_COST_USD = 1_000.0  # per call: likewise
_PER_DAY = re.compile(r"per[-_ ]day", re.IGNORECASE)
# A server refusing the judge's `response_format` (llama.cpp's server answers 500 with pydantic's
# "Input should be 'text' or 'json_object'"); the judge then asks in a plainer format.
_FORMAT_REFUSED = re.compile(r"response_format|Input should be 'text' or 'json_object'", re.IGNORECASE)
_FORMAT_STATUSES = (400, 422, 500)
# A 5xx whose body blames the request itself: the same request fails the same way.
_REQUEST_INVALID = re.compile(
    r"validation error|Input should be|Field required|Extra inputs are not permitted"
    r"|context (?:length|window)|maximum context|too many tokens|prompt is too long", re.IGNORECASE)
_FATAL: dict[str, type[ProviderError]] = {"auth": AuthError, "credits": CreditsError, "quota_exhausted": QuotaError}
# `metadata.error_type` stands in for a code that is missing or not a number.
_TYPED_CODES = {"rate_limit_exceeded": 429, "provider_overloaded": 529, "provider_unavailable": 503,
                "timeout": 408, "server": 500}
# httpx's exception tree, mapped once; order matters (first match wins).
_HTTPX_CLASSES: tuple[tuple[type[httpx.HTTPError], str], ...] = (
    (BodyTooLarge, "body_too_large"),
    (httpx.TimeoutException, "timeout"),
    (httpx.NetworkError, "connection"),
    (httpx.RemoteProtocolError, "connection"),
    (httpx.ProxyError, "connection"),
    (httpx.DecodingError, "bad_body"),
    (httpx.HTTPError, "bad_request"),  # LocalProtocolError, UnsupportedProtocol, TooManyRedirects
)


def _snippet(text: str, secret: str | None = None) -> str:
    """A short, one-line excerpt; the key is scrubbed first, so a cut never leaves part of it."""
    return " ".join(redact(text, secret).split())[:_SNIPPET_CHARS]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tokens(value: Any, field: str, odd: list[str]) -> int | None:
    """A token count, or unknown (None) when it is not a whole number in [0, MAX_TOKENS]."""
    count = _int(value)
    if value is not None and (count is None or not 0 <= count <= MAX_TOKENS):
        odd.append(f"{field}={str(value)[:30]}")
        return None
    return count


def _cost(value: Any, odd: list[str]) -> float | None:
    """A cost in USD, or unknown (None) when it is not a finite number in [0, MAX_COST_USD]."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and 0 <= value <= MAX_COST_USD:
        return float(value)
    odd.append(f"cost={str(value)[:30]}")
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def classify_status(code: int, text: str = "") -> str:
    """The error class of an HTTP status (or an envelope's `error.code`); `text` (the error body)
    tells quotas, format refusals and request errors sent as 500s apart."""
    if code in _FORMAT_STATUSES and _FORMAT_REFUSED.search(text):
        return "format_unsupported"
    if code == 429:
        return "quota_exhausted" if _PER_DAY.search(text) else "rate_limit"
    named = {401: "auth", 402: "credits", 403: "blocked", 404: "not_found", 408: "timeout"}
    if code in named:
        return named[code]
    if code >= 500:
        return "bad_request" if _REQUEST_INVALID.search(text) else "server_error"
    return "bad_request"


def parse_retry_after(headers: Mapping[str, str], metadata: dict[str, Any], *, now: float) -> float | None:
    """Seconds to wait: `Retry-After` (seconds or HTTP date), else `X-RateLimit-Reset` (epoch ms)."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    inner = {str(k).lower(): v for k, v in _dict(metadata.get("headers")).items()}
    reset = inner.get("x-ratelimit-reset") or headers.get("x-ratelimit-reset")
    try:
        moment = float(reset) if reset is not None else None
    except (TypeError, ValueError):
        moment = None
    if moment is None:
        return None
    if moment > 1e11:  # epoch milliseconds, as OpenRouter sends
        return max(0.0, moment / 1000 - now)
    return max(0.0, moment - now) if moment > 1e9 else max(0.0, moment)


def _upstream(metadata: dict[str, Any], secret: str | None = None) -> str:
    parts = [f"upstream {metadata['provider_name']}"] if metadata.get("provider_name") else []
    if metadata.get("raw"):
        parts.append(_snippet(str(metadata["raw"]), secret)[:200])
    return f" ({'; '.join(parts)})" if parts else ""


def _empty_content(completion: Completion, *, model: str) -> ProviderError:
    """A 200 with no answer text; carries the Completion so it is recorded after one re-ask."""
    where = "the text is in `reasoning`" if completion.reasoning else "no reasoning either"
    return ProviderError(f"empty content (finish_reason={completion.finish_reason}; {where})",
                         error_class="empty_content", status=200, retryable=True, model=model,
                         partial=completion)


@register_provider("openrouter")
class OpenRouterProvider(Provider):
    name = "openrouter"
    structured_output = True

    @classmethod
    def check(cls, model: ModelConfig, key: str) -> None:
        parts = urlsplit(model.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{key}.base_url: {model.base_url!r} is not an http(s) URL with a host; "
                              f"e.g. {key}.base_url=http://127.0.0.1:8000/v1")

    @classmethod
    async def prices(cls, model: ModelConfig) -> dict[str, float] | None:
        key = load_api_key(model.api_key_env) if model.api_key_env else None
        async with httpx.AsyncClient(timeout=20) as client:
            return (await fetch_models(client, model.base_url, key)).get(model.id)

    def __init__(self, model: ModelConfig, ctx: ProviderContext) -> None:
        self.model = model
        self._client = ctx.http_client(model.base_url)
        api_key = ctx.api_key(model.api_key_env)
        self._secret = api_key
        self.rate_key = key_identity(api_key, model.base_url)
        self._url = model.base_url.rstrip("/") + "/chat/completions"
        self._odd_warned = 0
        self._headers = {name: value for name, value in (
            ("HTTP-Referer", model.referer), ("X-Title", model.title)) if value}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def __repr__(self) -> str:
        return f"OpenRouterProvider(model={self.model.id!r}, url={self._url!r})"

    def _scrub(self, value: Any) -> str | None:
        """A text field of a reply with the key (or anything shaped like one) taken out, so no echo of it
        reaches a record, the cache or a report; a field that is not text is unknown."""
        return redact(value, self._secret) if isinstance(value, str) else None

    def _body(self, messages: list[Message], k: int) -> dict[str, Any]:
        m = self.model
        body: dict[str, Any] = {"model": m.id, "messages": messages}
        body.update({name: value for name, value in (
            ("temperature", m.temperature), ("top_p", m.top_p), ("max_tokens", m.max_tokens)) if value is not None})
        if m.seed is not None:  # each sample k gets its own seed, else samples would repeat
            body["seed"] = m.seed + k
        for name in ("provider", "reasoning"):
            if getattr(m, name):
                body[name] = getattr(m, name)
        for name, value in (m.extra_body or {}).items():  # e.g. the judge's response_format
            body.setdefault(name, value)
        return body

    async def generate(self, messages: list[Message], *, k: int = 0) -> Completion:
        return self._parse(await self._post(self._body(messages, k)))

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            return await self._client.post(self._url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            error_class = next(name for kind, name in _HTTPX_CLASSES if isinstance(exc, kind))
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise self._error(error_class, detail) from exc

    def _error(self, error_class: str, message: str, *, status: int | None = None,
               retry_after: float | None = None) -> ProviderError:
        kind = _FATAL.get(error_class, ProviderError)
        return kind(redact(message, self._secret), error_class=error_class, status=status,
                    retryable=ERROR_CLASSES[error_class], retry_after=retry_after, model=self.model.id)

    def _describe(self, error_class: str, message: str, metadata: dict[str, Any]) -> str:
        env = self.model.api_key_env
        if error_class == "auth" and env:
            return f"the API key was rejected ({message}); check {env}"
        if error_class == "auth":
            return f"the endpoint wants an API key ({message}); set model.api_key_env to the variable holding it"
        if error_class == "credits":
            return f"out of credits; add credits at OpenRouter or lower the run ({message})"
        if error_class == "quota_exhausted":
            return f"daily quota exhausted; resume this model after the reset ({message})"
        if error_class == "blocked":
            reasons = metadata.get("reasons") or []
            return f"blocked by moderation (reasons: {', '.join(map(str, reasons)) or 'none given'}): {message}"
        return message + _upstream(metadata, self._secret)

    def _envelope_error(self, code: int, error: dict[str, Any], headers: httpx.Headers, *,
                        in_200: bool) -> ProviderError:
        metadata = _dict(error.get("metadata"))
        message = str(error.get("message") or "no message")
        error_class = classify_status(code, message + " " + json.dumps(metadata))
        text = self._describe(error_class, message, metadata)
        if in_200:
            text += " [error envelope inside HTTP 200]"
        return self._error(error_class, text, status=code,
                           retry_after=parse_retry_after(headers, metadata, now=time.time()))

    def _http_error(self, response: httpx.Response, payload: Any) -> ProviderError:
        status = response.status_code
        error = _dict(payload).get("error")
        if isinstance(error, dict):
            return self._envelope_error(status, error, response.headers, in_200=False)
        if 300 <= status < 400:
            detail = f"unexpected redirect to {response.headers.get('location')}"
        else:
            detail = (f"non-JSON body: {_snippet(response.text, self._secret)}" if payload is None
                      else _snippet(response.text, self._secret))
        return self._error(classify_status(status, response.text), detail, status=status,
                           retry_after=parse_retry_after(response.headers, {}, now=time.time()))

    def _parse(self, response: httpx.Response) -> Completion:
        status = response.status_code
        try:
            payload = json.loads(response.content)
        except ValueError:
            payload = None
        if not 200 <= status < 300:
            raise self._http_error(response, payload)
        if payload is None:
            try:
                response.content.decode("utf-8")
            except UnicodeDecodeError as exc:  # not a body cut short: the same bytes would come again
                raise self._error("bad_encoding", f"the body is not UTF-8 text (byte {exc.start}): "
                                  f"{_snippet(response.content[:200].decode('utf-8', 'replace'), self._secret)!r}",
                                  status=status) from None
            text = response.text
            truncated = not text.strip() or text.lstrip().startswith(("{", "["))
            raise self._error("truncated_body" if truncated else "bad_body",
                              f"body is not valid JSON: {_snippet(text, self._secret)!r}", status=status)
        if not isinstance(payload, dict):
            raise self._error("bad_body", f"unexpected JSON body: {_snippet(response.text, self._secret)}", status=status)
        error = payload.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            if isinstance(code, str) and code.isdigit():
                code = int(code)
            if _int(code) is None:
                code = _TYPED_CODES.get(_dict(error.get("metadata")).get("error_type"), 502)
            raise self._envelope_error(code, error, response.headers, in_200=True)
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._error("empty_response", f"no choices in the response (choices={choices!r})", status=status)
        return self._completion(payload, choices[0])

    def _completion(self, payload: dict[str, Any], choice: dict[str, Any]) -> Completion:
        message = _dict(choice.get("message"))
        content, reasoning = message.get("content"), message.get("reasoning")
        finish = choice.get("finish_reason")
        if finish == "error":
            detail = _dict(choice.get("error")).get("message") or "the upstream failed mid-answer"
            partial = len(content) if isinstance(content, str) else 0
            raise self._error("finish_error", f"finish_reason 'error' after {partial} characters: {detail}",
                              status=200)
        usage, odd = _dict(payload.get("usage")), []
        scrub = self._scrub
        completion = Completion(
            text=scrub(content),
            reasoning=scrub(reasoning),
            finish_reason=scrub(finish),
            native_finish_reason=scrub(choice.get("native_finish_reason")),
            upstream_provider=scrub(payload.get("provider")),
            generation_id=scrub(payload.get("id")),
            prompt_tokens=_tokens(usage.get("prompt_tokens"), "prompt_tokens", odd),
            completion_tokens=_tokens(usage.get("completion_tokens"), "completion_tokens", odd),
            reasoning_tokens=_tokens(_dict(usage.get("completion_tokens_details")).get("reasoning_tokens"),
                                     "reasoning_tokens", odd),
            total_tokens=_tokens(usage.get("total_tokens"), "total_tokens", odd),
            cost_usd=_cost(usage.get("cost"), odd),
            extra={"served_model": scrub(payload["model"])} if isinstance(payload.get("model"), str) else {},
        )
        if odd and self._odd_warned < 3:  # a server that sends one odd number usually sends more: say it thrice
            self._odd_warned += 1
            log.warning("%s: the server sent %s; recorded as unknown", self.model.id, ", ".join(odd))
        if not (completion.text or "").strip():
            raise _empty_content(completion, model=self.model.id)
        return completion


async def fetch_models(client: httpx.AsyncClient, base_url: str, api_key: str | None) -> dict[str, dict[str, float]]:
    """Price per token in USD for each listed model, e.g. {"x-ai/grok-4-fast": {"prompt": 2e-7, ...}}."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = base_url.rstrip("/") + "/models"
    try:
        response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise ProviderError(f"could not list models at {url}: {type(exc).__name__}",
                            error_class="connection") from exc
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code != 200 or not isinstance(payload, dict):
        message = _dict(_dict(payload).get("error")).get("message") or _snippet(response.text, api_key)
        error_class = "bad_body" if response.status_code == 200 else classify_status(response.status_code)
        raise ProviderError(redact(f"could not list models at {url}: {message}", api_key),
                            error_class=error_class, status=response.status_code)
    prices: dict[str, dict[str, float]] = {}
    for entry in map(_dict, payload.get("data") or []):
        parsed = {}
        for name, value in _dict(entry.get("pricing")).items():
            try:
                parsed[name] = float(value)
            except (TypeError, ValueError):
                continue
        if entry.get("id"):
            prices[entry["id"]] = parsed
    return prices
