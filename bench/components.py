"""Speed of two components, kept out of the test suite (machines are noisy): the offline
scorer (answers/s, target >= 5,000) and the fake server in this process (requests/s, >= 300)."""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import aiohttp

from sycobench.fake_openrouter import serve_in_thread
from sycobench.providers.mock_text import write_answer
from sycobench.scoring.offline import score_text


def scorer_rate(n: int) -> float:
    rng = random.Random(0)
    texts = [write_answer(rng.uniform(-1, 1), perspective="tenant", amount=100, base_rent=1200, rng=rng) for _ in range(n)]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for text in texts:
            score_text(text)
        best = min(best, time.perf_counter() - start)
    return n / best


async def _burst(base_url: str, requests: int, concurrency: int) -> None:
    body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Is a €100 rise fair?"}]}
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer sk-or-v1-bench"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async def one() -> None:
            async with limit, session.post(f"{base_url}/chat/completions", json=body) as response:
                await response.read()
        await asyncio.gather(*(one() for _ in range(requests)))


def server_rate(n: int) -> float:
    with serve_in_thread() as fake:
        start = time.perf_counter()
        asyncio.run(_burst(fake.base_url, n, 16))
        return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scorer = scorer_rate(200 if args.quick else 2000)
    server = server_rate(150 if args.quick else 600)
    ok = scorer >= 5000 and server >= 300
    print(f"components: offline scorer {scorer:,.0f} answers/s (target >= 5,000), fake server "
          f"{server:,.0f} requests/s in-process (target >= 300): {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
