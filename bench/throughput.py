"""Throughput: N calls at fake latency L and concurrency C, no rate limit; efficiency = (N*L/C) / wall.

The job runs in this process exactly as a user's job does (run.jsonl, run.log, progress bar,
a cold response cache, `scorer=none`), against the fake server in a separate process.
Headline: the generation phase and the judge phase, each timed from the job's own progress log
lines (`generate: N to do` .. `generate: done`), each on the one call path; the judge phase's
efficiency should be within 0.05 of generation's. The whole `run_job` call (config, grid,
tables) is shown too, and so is the ceiling of this setup: a minimal aiohttp loop making the
same calls against the same fake.

    python bench/throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bare_calls, bench_env, chat_bodies, run_sycobench_job, start_fake, verdict, workdir  # noqa: E402

TARGET = 0.90
GRID_PROMPTS = 180  # the default rent grid: 60 triplets x 3 perspectives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    samples = 2 if args.quick else 11
    n = GRID_PROMPTS * samples
    latency = args.latency_ms / 1000
    with workdir("throughput") as tmp, start_fake(latency_ms=args.latency_ms) as fake:
        bench_env(tmp)
        server_cpu = fake.cpu_s()
        timing = run_sycobench_job(fake.base_url, tmp / "job", [
            f"run.samples={samples}", f"run.concurrency={args.concurrency}", "rate_limit=unlimited"], judge=True)
        server_cpu = fake.cpu_s() - server_cpu
        stats = fake.stats()
        records = sum(1 for _ in (tmp / "job" / "run.jsonl").open())
        # a judge prompt repeated within the run is served from the cache, so count what was asked
        judge_asked = sum(not json.loads(line)["cached"] for line in (tmp / "job" / "scores.jsonl").open())
        bodies = chat_bodies(n)
        started = time.perf_counter()
        asyncio.run(bare_calls("aiohttp", fake.base_url + "/chat/completions", bodies, concurrency=args.concurrency))
        ceiling_s = time.perf_counter() - started
    ideal = n * latency / args.concurrency
    efficiency = ideal / timing.gen_wall_s
    judge_wall = timing.phase_wall_s("judge")
    judge_eff = ideal / judge_wall
    print(f"throughput: generation efficiency {efficiency:.3f} (ideal {ideal:.3f} s / {timing.gen_wall_s:.3f} s) "
          f"N={n} L={args.latency_ms:g} ms C={args.concurrency}; target >= {TARGET}: {verdict(efficiency >= TARGET)}")
    print(f"throughput: judge efficiency {judge_eff:.3f} (ideal {ideal:.3f} s / {judge_wall:.3f} s), "
          f"{judge_eff - efficiency:+.3f} vs generation; within 0.05: {verdict(judge_eff >= efficiency - 0.05)}")
    print(f"  whole run_job: {timing.wall_s:.3f} s; generation {n / timing.gen_wall_s:.0f} calls/s, "
          f"judge {n / judge_wall:.0f} calls/s (ideal {args.concurrency / latency:.0f})")
    print(f"  records {records}, server requests {stats['requests']} (answers + judge), server max in flight "
          f"{stats['max_in_flight']}, client CPU: generation {1e3 * timing.gen_cpu_s / n:.2f} ms/call, "
          f"judge {1e3 * timing.phase_cpu_s('judge') / n:.2f} ms/call; server CPU {server_cpu:.2f} s")
    print(f"  ceiling of this setup (bare aiohttp loop, same calls and fake): {ceiling_s:.3f} s -> "
          f"efficiency {ideal / ceiling_s:.3f}")
    if records != n or stats["requests"] != n + judge_asked:
        sys.exit(f"throughput: expected {n} records and {n + judge_asked} requests, "
                 f"got {records} and {stats['requests']}")


if __name__ == "__main__":
    main()
