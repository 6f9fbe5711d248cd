"""The one retry layer: one visible budget per call (attempts and a total deadline), never nested.

Providers classify failures into `ProviderError.error_class`; this module alone decides which
classes are worth another attempt and how long to wait before it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import backoff

from sycobench.errors import AuthError, CreditsError, ProviderError, QuotaError

if TYPE_CHECKING:
    from sycobench.config import RateLimitConfig

__all__ = ["ERROR_CLASSES", "call_with_retries", "should_retry", "wait_seconds"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: every error class a provider may report, and whether another attempt can help
ERROR_CLASSES: dict[str, bool] = {
    "bad_request": False,  # 400 and other 4xx, or a 5xx blaming the request (validation, context length)
    "auth": False,  # 401: stops every call that uses the key
    "credits": False,  # 402: stops the run
    "blocked": False,  # 403 moderation: an outcome, not a failure
    "not_found": False,  # 404: no endpoint for the model
    "quota_exhausted": False,  # 429 per-day: resumable after the reset, not now
    "bad_body": False,  # non-JSON body on a non-5xx status
    "format_unsupported": False,  # 400/422/500 refusing `response_format`: the judge asks in a plainer format
    "body_too_large": False,  # a body beyond rate_limit.max_response_mb (sent, or once decompressed)
    "bad_encoding": False,  # a 200 whose body is not UTF-8: the same server sends the same bytes again
    "rate_limit": True,  # 429 per-minute or upstream
    "server_error": True,  # 5xx, 52x, 529
    "timeout": True,  # 408, attempt timeout, trickling body
    "connection": True,  # refused, reset, closed mid-response
    "empty_response": True,  # 200 without choices
    "empty_content": True,  # 200 with no text (retried once by the provider)
    "finish_error": True,  # finish_reason "error": partial output is unusable
    "truncated_body": True,  # 200 whose JSON stops half way
}

_RNG = random.Random()
_INSIDE_ATTEMPT: ContextVar[bool] = ContextVar("sycobench_inside_attempt", default=False)
_LOUD_WAIT_S = 5.0  # shorter waits are routine; longer ones explain an apparently idle run


def should_retry(exc: BaseException) -> bool:
    if isinstance(exc, (AuthError, CreditsError, QuotaError)) or not isinstance(exc, ProviderError):
        return False
    return ERROR_CLASSES.get(exc.error_class, exc.retryable)


def wait_seconds(exc: BaseException, attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """The server's own `retry_after` if it gave one, else capped exponential backoff with
    equal jitter (half fixed, half random) so that retries neither stampede nor fire instantly."""
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        return max(0.0, float(retry_after))
    ceiling = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 60))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


async def call_with_retries(
    attempt_fn: Callable[[], Awaitable[T]],
    *,
    rate_cfg: RateLimitConfig,
    on_retry: Callable[[ProviderError, int, float], None] | None = None,
    gate: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
    rng: random.Random | None = None,
) -> tuple[T, int]:
    """Run `attempt_fn` until it succeeds or the budget is spent; returns (result, attempts).

    `gate` is entered around every attempt (rate tokens, in-flight slots) but not around the
    waits between attempts. When the budget is spent the last ProviderError is raised with
    `.attempts` set; the wait before an attempt that could not finish in time is never taken.
    Calling it from inside an attempt raises RuntimeError: nested budgets multiply.
    """
    if _INSIDE_ATTEMPT.get():
        raise RuntimeError("call_with_retries called inside a retried attempt; retries must not nest")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + rate_cfg.deadline_s
    draw = rng or _RNG
    attempts = 0

    async def attempt() -> T:
        nonlocal attempts
        attempts += 1
        inside = _INSIDE_ATTEMPT.set(True)
        try:
            async with asyncio.timeout_at(deadline) as whole:
                async with gate() if gate is not None else nullcontext():
                    async with asyncio.timeout(rate_cfg.attempt_timeout_s):
                        return await attempt_fn()
        except TimeoutError as exc:
            if whole.expired():
                message = f"the call's deadline of {rate_cfg.deadline_s:g} s passed"
            else:
                message = f"no complete response within {rate_cfg.attempt_timeout_s:g} s"
            raise ProviderError(message, error_class="timeout", retryable=True) from exc
        finally:
            _INSIDE_ATTEMPT.reset(inside)

    def waits() -> Generator[float | None, ProviderError, None]:
        exc = yield None
        while True:
            seconds = wait_seconds(exc, attempts, base=rate_cfg.backoff_base_s, cap=rate_cfg.backoff_max_s,
                                   rng=draw)
            if loop.time() + seconds >= deadline:
                return
            exc = yield seconds

    def report(details: dict[str, Any]) -> None:
        exc, tries, wait = details["exception"], details["tries"], details["wait"]
        level = logging.INFO if wait >= _LOUD_WAIT_S else logging.DEBUG
        log.log(level, "attempt %d failed (%s); retrying in %.1f s", tries, exc, wait)
        if on_retry is not None:
            on_retry(exc, tries, wait)

    retrying = backoff.on_exception(
        waits,
        ProviderError,
        max_tries=rate_cfg.max_attempts,
        jitter=None,
        giveup=lambda exc: not should_retry(exc),
        on_backoff=report,
        raise_on_giveup=True,
        logger=None,
    )(attempt)
    try:
        return await retrying(), attempts
    except ProviderError as exc:
        exc.attempts = attempts
        raise
