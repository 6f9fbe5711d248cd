"""Rate and in-flight caps: one budget per API key, optional tighter caps per model."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import numpy as np

from sycobench.providers.ratelimit import RateLimits, key_identity


def rate(**changes):
    return SimpleNamespace(**(dict(rps=20.0, burst=5, max_in_flight=None) | changes))


def model(model_id: str, *, rps=None, burst=None, concurrency=None):
    return SimpleNamespace(id=model_id, rate_limit=SimpleNamespace(rps=rps, burst=burst), concurrency=concurrency)


async def stamp(limits: RateLimits, identity: str, cfg, n: int, out: list[float], hold_s: float = 0.0):
    async def one():
        async with limits.gate(identity, cfg):
            out.append(time.monotonic())
            await asyncio.sleep(hold_s)

    await asyncio.gather(*(one() for _ in range(n)))


def max_in_window(stamps: list[float], window: float) -> int:
    t = np.sort(np.asarray(stamps))
    return int((np.searchsorted(t, t + window, side="left") - np.arange(len(t))).max())


def test_rate_and_burst_over_a_hundred_acquisitions():
    stamps: list[float] = []
    asyncio.run(stamp(RateLimits(rate(rps=20.0, burst=5)), "key:a", model("m"), 100, stamps))
    span = max(stamps) - min(stamps)
    achieved = (len(stamps) - 5) / span  # the first burst comes at once, the rest at the rate
    assert 17.0 <= achieved <= 21.0
    assert max_in_window(stamps, 1.0) <= 20 + 5
    assert max_in_window(stamps, 0.05) >= 5  # the burst is really allowed


def test_models_on_one_key_share_its_budget_and_other_keys_do_not():
    async def run():
        limits = RateLimits(rate(rps=50.0, burst=5))
        shared: list[float] = []
        other: list[float] = []
        await asyncio.gather(
            stamp(limits, "key:a", model("m1"), 30, shared),
            stamp(limits, "key:a", model("m2"), 30, shared),
            stamp(limits, "key:b", model("m1"), 30, other),
        )
        return shared, other

    shared, other = asyncio.run(run())
    assert max(shared) - min(shared) >= (60 - 5) / 50 * 0.9
    assert max(other) - min(other) < (60 - 5) / 50 * 0.75  # half as many calls: its own budget
    assert max_in_window(shared, 1.0) <= 50 + 5


def test_a_model_cap_is_tighter_than_the_key_budget():
    async def run():
        limits = RateLimits(rate(rps=None))
        capped: list[float] = []
        free: list[float] = []
        await asyncio.gather(
            stamp(limits, "key:a", model("slow", rps=10.0, burst=1), 8, capped),
            stamp(limits, "key:a", model("fast"), 8, free),
        )
        return capped, free

    capped, free = asyncio.run(run())
    assert max(capped) - min(capped) >= 7 / 10 * 0.9
    assert max(free) - min(free) < 0.1


def test_in_flight_caps_per_key_and_per_model():
    async def peak(limits, identity, cfg, n):
        inside = 0
        highest = 0

        async def one():
            nonlocal inside, highest
            async with limits.gate(identity, cfg):
                inside += 1
                highest = max(highest, inside)
                await asyncio.sleep(0.02)
                inside -= 1

        await asyncio.gather(*(one() for _ in range(n)))
        return highest

    assert asyncio.run(peak(RateLimits(rate(rps=None, max_in_flight=3)), "key:a", model("m"), 12)) == 3
    assert asyncio.run(peak(RateLimits(rate(rps=None, max_in_flight=3)), "key:a", model("m", concurrency=1), 6)) == 1
    assert asyncio.run(peak(RateLimits(rate(rps=None, max_in_flight=None)), "key:a", model("m"), 12)) == 12


def test_key_identity_is_a_digest_never_the_key():
    secret = "sk-or-v1-0123456789abcdef"
    identity = key_identity(secret, "https://openrouter.ai/api/v1")
    assert secret not in identity and "0123456789abcdef" not in identity
    assert identity == key_identity(secret, "http://127.0.0.1:1/v1")  # the account, not the server
    assert identity != key_identity(secret + "x", "https://openrouter.ai/api/v1")
    assert key_identity(None, "http://127.0.0.1:8000/v1/") == key_identity(None, "http://127.0.0.1:8000/v1")
    assert key_identity(None, "http://127.0.0.1:8000/v1") != key_identity(None, "http://127.0.0.1:11434/v1")
