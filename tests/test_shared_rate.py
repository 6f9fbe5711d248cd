"""The budget shared by parallel jobs: bucket math, leases, and real processes drawing on one file."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from sycobench.providers.shared_rate import SharedRateFile, draw_token
from sycobench.config import ModelConfig, RateLimitConfig
from sycobench.providers.ratelimit import RateLimits, key_identity


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def max_in_window(stamps, window: float) -> int:
    t = np.sort(np.asarray(stamps))
    return int((np.searchsorted(t, t + window, side="left") - np.arange(len(t))).max())


def sustained_rate(stamps, burst: int) -> float:
    """The first `burst` go at once; the rest come at the sustained rate."""
    return (len(stamps) - burst) / (max(stamps) - min(stamps))


# -- bucket math and the file, on a controlled clock ---------------------------------------------

def test_draw_token_refills_caps_and_computes_the_wait():
    assert draw_token(5.0, 0.0, rate=2.0, capacity=5) == (4.0, 0.0)
    assert draw_token(0.0, 0.0, rate=2.0, capacity=5) == (0.0, 0.5)
    assert draw_token(0.25, 0.0, rate=2.0, capacity=5) == (0.25, pytest.approx(0.375))
    assert draw_token(0.0, 0.5, rate=2.0, capacity=5) == (0.0, 0.0)  # whole exactly on time
    assert draw_token(0.0, 1000.0, rate=2.0, capacity=5) == (4.0, 0.0)  # never above capacity
    assert draw_token(0.5, -60.0, rate=2.0, capacity=5) == (0.5, 0.25)  # a clock step back refills nothing


def test_the_bucket_lives_in_the_file_and_is_shared_by_connections(tmp_path):
    clock = Clock()
    path = tmp_path / "budget.sqlite"
    one, two = SharedRateFile(path, clock=clock), SharedRateFile(path, clock=clock)
    assert [one.take("key:a", rps=4.0, burst=3) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert two.take("key:a", rps=4.0, burst=3) == pytest.approx(0.25)  # the other connection sees it
    clock.now += 0.1
    assert one.take("key:a", rps=4.0, burst=3) == pytest.approx(0.15)
    clock.now += 0.15
    assert two.take("key:a", rps=4.0, burst=3) == 0.0
    assert one.take("key:b", rps=4.0, burst=3) == 0.0  # another identity has its own bucket
    clock.now += 3600
    assert [two.take("key:a", rps=4.0, burst=3) for _ in range(4)][3] > 0  # refilled to burst only


def test_leases_cap_release_and_expire(tmp_path):
    clock = Clock()
    budget = SharedRateFile(tmp_path / "budget.sqlite", clock=clock, lease_s=30.0)
    first, second = budget.try_lease("key:a", cap=2), budget.try_lease("key:a", cap=2)
    assert first and second and first != second
    assert budget.try_lease("key:a", cap=2) is None
    assert budget.try_lease("key:b", cap=2) is not None
    budget.release(first)
    assert budget.try_lease("key:a", cap=2) is not None
    assert budget.try_lease("key:a", cap=2) is None
    clock.now += 31  # this process is alive, so only expiry can free its leases
    assert budget.try_lease("key:a", cap=2) is not None


def test_a_held_slot_is_renewed_and_a_cancelled_one_is_released(tmp_path):
    path = tmp_path / "budget.sqlite"
    holder, other = SharedRateFile(path, lease_s=0.3), SharedRateFile(path, lease_s=0.3)

    async def hold(entered: asyncio.Event):
        async with holder.slot("key:a", cap=1):
            entered.set()
            await asyncio.sleep(30)

    async def run():
        entered = asyncio.Event()
        task = asyncio.create_task(hold(entered))
        await entered.wait()
        await asyncio.sleep(0.9)  # three lease lengths
        renewed = other.try_lease("key:a", cap=1) is None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return renewed, other.try_lease("key:a", cap=1)

    renewed, after_cancel = asyncio.run(run())
    assert renewed
    assert after_cancel is not None


def test_rate_limits_use_the_file_only_when_configured(tmp_path):
    secret = "sk-or-v1-0123456789abcdef"
    identity = key_identity(secret, "http://127.0.0.1:1/v1")
    model = ModelConfig(name="m", id="m", base_url="http://127.0.0.1:1/v1")
    path = tmp_path / "budget.sqlite"

    async def one(cfg):
        async with RateLimits(cfg).gate(identity, model):
            pass

    cfg = RateLimitConfig(name="free", rps=1.0, burst=1, max_in_flight=2)
    asyncio.run(one(cfg))
    assert not path.exists()
    asyncio.run(one(replace(cfg, shared_rate_file=str(path))))
    with sqlite3.connect(path) as db:
        buckets = db.execute("SELECT identity, tokens FROM buckets").fetchall()
        leases = db.execute("SELECT count(*) FROM leases").fetchone()[0]
    assert buckets == [(f"{identity}|free", 0.0)]  # the key's digest and profile, never the key
    assert leases == 0  # released after the attempt


# -- real processes ------------------------------------------------------------------------------

TOKENS_CHILD = """
import asyncio, json, sys, time
from sycobench.providers.shared_rate import SharedRateFile
path, n, rps, burst = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
budget = SharedRateFile(path)
budget.try_lease("warm-up", cap=1)
print("ready", flush=True)
sys.stdin.readline()

async def one(stamps):
    await budget.acquire("key:shared", rps=rps, burst=burst)
    stamps.append(time.time())

async def main():
    stamps = []
    await asyncio.gather(*(one(stamps) for _ in range(n)))
    return stamps

print(json.dumps(asyncio.run(main())))
"""

PROVIDER_CHILD = """
import asyncio, json, sys
from sycobench.config import ModelConfig, RateLimitConfig
from sycobench.providers.client import ModelClient
args = json.loads(sys.argv[1])
rate = RateLimitConfig(name="test", rps=args["rps"], burst=args["burst"], max_in_flight=args["max_in_flight"],
                       max_attempts=2, attempt_timeout_s=20.0, deadline_s=60.0, shared_rate_file=args["budget"])
model = ModelConfig(name="m", id="x-ai/grok-4-fast", base_url=args["base_url"], api_key_env="SYCOBENCH_TEST_KEY")
messages = [{"role": "user", "content": "My landlord wants to raise the rent by 100. Is that fair?"}]

async def main():
    async with ModelClient(rate, concurrency=8) as client:
        await client.call(model, messages, k=-1)  # first use of the client is slow; keep it out of the timing
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        done = await asyncio.gather(*(client.call(model, messages, k=k) for k in range(args["calls"])))
    return sum(bool(c.text) for c in done)

print(json.dumps(asyncio.run(main())))
"""

HOLDER_CHILD = """
import sys, time
from sycobench.providers.shared_rate import SharedRateFile
print(SharedRateFile(sys.argv[1], lease_s=600.0).try_lease("key:shared", cap=1), flush=True)
time.sleep(120)
"""


def start(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def run_together(code: str, argvs: list[list[str]], *, env: dict[str, str] | None = None,
                 when_ready: Callable[[], object] | None = None) -> list:
    """Start every process, wait until each is ready, release them at once, collect their JSON."""
    procs = [start(code, *argv, env=env) for argv in argvs]
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                proc.wait(timeout=30)
                pytest.fail(f"child failed to start: {proc.stderr.read()}")
        if when_ready is not None:
            when_ready()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_four_processes_share_one_rate(tmp_path):
    rps, burst, per_process = 20.0, 5, 25
    path = str(tmp_path / "budget.sqlite")
    results = run_together(TOKENS_CHILD, [[path, str(per_process), str(rps), str(burst)]] * 4)
    stamps = [t for stamps in results for t in stamps]
    assert len(stamps) == 4 * per_process
    achieved, busiest = sustained_rate(stamps, burst), max_in_window(stamps, 1.0)
    print(f"\nshared bucket, 4 processes: {achieved:.2f}/s (target {rps:g}), busiest 1 s window {busiest}")
    assert 0.85 * rps <= achieved <= 1.05 * rps
    assert busiest <= rps + burst
    assert min(map(len, results)) == per_process  # every process was served, none starved out


def provider_env(key: str) -> dict[str, str]:
    return os.environ | {"SYCOBENCH_TEST_KEY": key}


@pytest.mark.slow
def test_providers_in_three_processes_keep_the_account_rate(fake_openrouter, fake_key, tmp_path):
    rps, burst, calls = 10.0, 2, 15
    args = json.dumps({"rps": rps, "burst": burst, "max_in_flight": None, "calls": calls,
                       "budget": str(tmp_path / "budget.sqlite"), "base_url": fake_openrouter.base_url})

    def when_ready():  # forget the warm-up calls and let the bucket refill after them
        fake_openrouter.reset()
        time.sleep(burst / rps)

    answered = run_together(PROVIDER_CHILD, [[args]] * 3, env=provider_env(fake_key), when_ready=when_ready)
    stamps = fake_openrouter.stats()["timestamps"]
    assert answered == [calls] * 3 and len(stamps) == 3 * calls
    achieved, busiest = sustained_rate(stamps, burst), max_in_window(stamps, 1.0)
    print(f"\nfake server, 3 provider processes: {achieved:.2f}/s (target {rps:g}), busiest 1 s window {busiest}")
    assert 0.85 * rps <= achieved <= 1.05 * rps
    assert busiest <= rps + burst


@pytest.mark.slow
def test_the_in_flight_cap_holds_across_processes(fake_openrouter, fake_key, tmp_path):
    fake_openrouter.configure(latency_ms=300)
    args = json.dumps({"rps": None, "burst": 1, "max_in_flight": 2, "calls": 6,
                       "budget": str(tmp_path / "budget.sqlite"), "base_url": fake_openrouter.base_url})
    answered = run_together(PROVIDER_CHILD, [[args]] * 3, env=provider_env(fake_key),
                            when_ready=fake_openrouter.reset)
    stats = fake_openrouter.stats()
    print(f"\nfake server, 3 processes at max_in_flight=2: peak in flight {stats['max_in_flight']}")
    assert answered == [6] * 3
    assert stats["max_in_flight"] == 2  # never above the cap, and the cap was really used


@pytest.mark.slow
def test_a_killed_holder_does_not_block_the_others(tmp_path):
    path = str(tmp_path / "budget.sqlite")
    budget = SharedRateFile(path)
    holder = start(HOLDER_CHILD, path)  # its lease expires in 10 minutes: only its death can free it
    try:
        assert holder.stdout.readline().strip() not in ("", "None"), holder.stderr.read()
        assert budget.try_lease("key:shared", cap=1) is None
    finally:
        holder.kill()
        holder.wait()
    assert budget.try_lease("key:shared", cap=1) is not None
