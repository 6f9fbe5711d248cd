"""Client CPU per call at fake latency 0: the sycobench runner vs a bare httpx.AsyncClient loop.

Same calls (the default grid x samples), same concurrency (64), same request body; the bare
loop POSTs and parses the JSON, nothing else. sycobench is a whole job as a user runs it
(records, log, cold response cache) and its CPU is counted over the generation phase only.
A bare aiohttp loop is shown for reference. Each measurement runs `rounds` times, alternating;
medians are reported. CPU is this process's `time.process_time()`; the fake runs elsewhere.

    python bench/cpu_per_call.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    bare_calls, bench_env, chat_bodies, median, run_sycobench_job, start_fake, verdict, workdir,
)

TARGET = 1.5
CONCURRENCY = 64
GRID_PROMPTS = 180


def bare_cpu(kind: str, url: str, bodies: list[dict]) -> float:
    started = time.process_time()
    asyncio.run(bare_calls(kind, url, bodies, concurrency=CONCURRENCY))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    samples, rounds = (2, 1) if args.quick else (11, 3)
    n = GRID_PROMPTS * samples
    cpu: dict[str, list[float]] = {"sycobench": [], "httpx": [], "aiohttp": []}
    with workdir("cpu") as tmp, start_fake(latency_ms=0) as fake:
        url = fake.base_url + "/chat/completions"
        bodies = chat_bodies(n)
        for i in range(rounds):
            bench_env(tmp / f"run-{i}")  # a cold cache for every sycobench run
            timing = run_sycobench_job(fake.base_url, tmp / f"job-{i}", [
                f"run.samples={samples}", f"run.concurrency={CONCURRENCY}", "rate_limit=unlimited"])
            cpu["sycobench"].append(timing.gen_cpu_s)
            for kind in ("httpx", "aiohttp"):
                cpu[kind].append(bare_cpu(kind, url, bodies))
        requests = fake.stats()["requests"]
    per_call = {kind: 1e3 * median(values) / n for kind, values in cpu.items()}
    ratio = per_call["sycobench"] / per_call["httpx"]
    print(f"cpu_per_call: sycobench / bare httpx = {ratio:.2f}x ({per_call['sycobench']:.3f} vs "
          f"{per_call['httpx']:.3f} ms CPU per call) N={n} C={CONCURRENCY} L=0; target <= {TARGET}x: "
          f"{verdict(ratio <= TARGET)}")
    print(f"  bare aiohttp loop for reference: {per_call['aiohttp']:.3f} ms per call "
          f"(sycobench / aiohttp = {per_call['sycobench'] / per_call['aiohttp']:.1f}x)")
    for kind, values in cpu.items():
        print(f"  {kind}: CPU seconds per run {', '.join(f'{v:.2f}' for v in values)}")
    if requests != 3 * n * rounds:
        sys.exit(f"cpu_per_call: the fake saw {requests} requests, expected {3 * n * rounds}")


if __name__ == "__main__":
    main()
