"""The one retry layer: which failures are retried, how long it waits, and the per-call budget."""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest

from sycobench.errors import AuthError, ConfigError, CreditsError, ProviderError, QuotaError
from sycobench.providers.retry import ERROR_CLASSES, call_with_retries, should_retry, wait_seconds

# Written out here, not read from the module: a change to the decision must change this table.
EXPECTED_RETRY = {
    "bad_request": False,
    "auth": False,
    "credits": False,
    "blocked": False,
    "not_found": False,
    "quota_exhausted": False,
    "bad_body": False,
    "format_unsupported": False,
    "body_too_large": False,
    "bad_encoding": False,
    "rate_limit": True,
    "server_error": True,
    "timeout": True,
    "connection": True,
    "empty_response": True,
    "empty_content": True,
    "finish_error": True,
    "truncated_body": True,
}


def rate(**changes):
    values = dict(max_attempts=4, attempt_timeout_s=5.0, deadline_s=30.0, backoff_base_s=0.001, backoff_max_s=0.01)
    return SimpleNamespace(**(values | changes))


def test_the_table_names_every_error_class():
    assert set(ERROR_CLASSES) == set(EXPECTED_RETRY)


@pytest.mark.parametrize("error_class", sorted(EXPECTED_RETRY))
def test_should_retry_by_class(error_class):
    # the class decides, whatever flag a provider happened to set
    for flag in (True, False):
        exc = ProviderError("x", error_class=error_class, retryable=flag)
        assert should_retry(exc) is EXPECTED_RETRY[error_class]


@pytest.mark.parametrize("kind", [AuthError, CreditsError, QuotaError])
def test_fatal_errors_are_never_retried(kind):
    assert not should_retry(kind("x", error_class="server_error", retryable=True))


def test_unknown_classes_fall_back_to_the_flag_and_other_exceptions_are_not_retried():
    assert should_retry(ProviderError("x", error_class="simulated_failure", retryable=True))
    assert not should_retry(ProviderError("x", error_class="simulated_failure", retryable=False))
    assert not should_retry(ValueError("bug"))
    assert not should_retry(ConfigError("bad config"))
    assert not should_retry(TimeoutError())


def test_wait_honours_retry_after():
    exc = ProviderError("slow down", error_class="rate_limit", retry_after=7.5)
    assert wait_seconds(exc, 1, base=0.5, cap=60, rng=random.Random(0)) == 7.5
    assert wait_seconds(ProviderError("x", retry_after=-3), 1, base=0.5, cap=60, rng=random.Random(0)) == 0.0


def test_wait_backs_off_exponentially_with_equal_jitter_and_a_cap():
    rng = random.Random(1)
    exc = ProviderError("x", error_class="server_error")
    for attempt in range(1, 12):
        ceiling = min(60.0, 0.5 * 2 ** (attempt - 1))
        draws = [wait_seconds(exc, attempt, base=0.5, cap=60.0, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in draws)
        assert max(draws) - min(draws) > ceiling / 4  # jittered, not fixed
    assert wait_seconds(exc, 10_000, base=0.5, cap=60.0, rng=rng) <= 60.0


def flaky(failures: list[ProviderError | None], result: str = "ok"):
    calls = []

    async def attempt():
        calls.append(time.monotonic())
        error = failures[len(calls) - 1] if len(calls) <= len(failures) else None
        if error is not None:
            raise error
        return result

    return attempt, calls


def server_error():
    return ProviderError("boom", error_class="server_error", status=500, retryable=True)


def test_retries_until_success_and_counts_attempts():
    attempt, calls = flaky([server_error(), server_error()])
    seen = []
    result, attempts = asyncio.run(call_with_retries(
        attempt, rate_cfg=rate(), on_retry=lambda exc, n, wait: seen.append((exc.error_class, n, wait))))
    assert (result, attempts, len(calls)) == ("ok", 3, 3)
    assert [(c, n) for c, n, _ in seen] == [("server_error", 1), ("server_error", 2)]
    assert all(0 <= w <= 0.01 for _, _, w in seen)


def test_max_attempts_is_the_total_including_the_first():
    attempt, calls = flaky([server_error() for _ in range(10)])
    with pytest.raises(ProviderError) as info:
        asyncio.run(call_with_retries(attempt, rate_cfg=rate(max_attempts=3)))
    assert len(calls) == 3
    assert info.value.attempts == 3
    assert info.value.error_class == "server_error" and info.value.status == 500


def test_permanent_failures_are_not_retried():
    attempt, calls = flaky([ProviderError("no", error_class="bad_request", status=400)])
    with pytest.raises(ProviderError) as info:
        asyncio.run(call_with_retries(attempt, rate_cfg=rate()))
    assert (len(calls), info.value.attempts) == (1, 1)


def test_a_bug_in_the_attempt_is_not_retried_or_wrapped():
    calls = []

    async def attempt():
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        asyncio.run(call_with_retries(attempt, rate_cfg=rate()))
    assert len(calls) == 1


def test_gives_up_at_once_when_the_next_wait_would_pass_the_deadline():
    later = ProviderError("later", error_class="rate_limit", status=429, retry_after=30.0)
    attempt, calls = flaky([later, None])
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        asyncio.run(call_with_retries(attempt, rate_cfg=rate(deadline_s=2.0)))
    assert time.monotonic() - started < 1.5  # not the 30 s wait, nor the 2 s deadline
    assert len(calls) == 1 and info.value.attempts == 1 and info.value.error_class == "rate_limit"


def test_the_deadline_bounds_the_whole_call():
    attempt, calls = flaky([server_error() for _ in range(100)])
    elapsed = []

    async def timed():  # the clock starts with the call, not with the event loop's start-up
        started = time.monotonic()
        try:
            await call_with_retries(attempt, rate_cfg=rate(
                max_attempts=100, deadline_s=1.0, backoff_base_s=0.2, backoff_max_s=0.2))
        finally:
            elapsed.append(time.monotonic() - started)

    with pytest.raises(ProviderError) as info:
        asyncio.run(timed())
    assert elapsed[0] < 1.0
    assert 2 <= len(calls) < 100 and info.value.attempts == len(calls)


def test_a_slow_attempt_becomes_a_retryable_timeout():
    calls = []

    async def attempt():
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(10)
        return "second try"

    started = time.monotonic()
    result, attempts = asyncio.run(call_with_retries(attempt, rate_cfg=rate(attempt_timeout_s=0.3)))
    assert (result, attempts) == ("second try", 2)
    assert time.monotonic() - started < 2.0  # not the 10 s sleep


def test_timeouts_report_their_class_and_which_limit_hit():
    async def hang():
        await asyncio.sleep(10)

    with pytest.raises(ProviderError) as info:
        asyncio.run(call_with_retries(hang, rate_cfg=rate(attempt_timeout_s=0.1, max_attempts=2)))
    assert info.value.error_class == "timeout" and info.value.attempts == 2
    assert "0.1 s" in info.value.message
    with pytest.raises(ProviderError) as info:
        asyncio.run(call_with_retries(hang, rate_cfg=rate(attempt_timeout_s=5, deadline_s=0.2)))
    assert info.value.error_class == "timeout" and "deadline" in info.value.message


def test_the_gate_is_held_per_attempt_and_released_while_waiting():
    events = []

    @asynccontextmanager
    async def gate():
        events.append("enter")
        try:
            yield
        finally:
            events.append("exit")

    attempt, calls = flaky([server_error(), server_error()])
    asyncio.run(call_with_retries(attempt, rate_cfg=rate(), gate=gate))
    assert events == ["enter", "exit"] * 3


def test_retries_never_nest():
    async def inner():
        return "inner"

    async def outer():
        return await call_with_retries(inner, rate_cfg=rate())

    calls = []

    async def attempt():
        calls.append(1)
        return await outer()

    with pytest.raises(RuntimeError, match="must not nest"):
        asyncio.run(call_with_retries(attempt, rate_cfg=rate()))
    assert len(calls) == 1
    # one after another is fine
    assert asyncio.run(outer()) == ("inner", 1)
