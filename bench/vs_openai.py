"""sycobench vs the natural hand-written alternative: `openai.AsyncOpenAI` + `asyncio.Semaphore`.

Both make the same calls (the default grid x samples, C = 64, fake latency 100 ms) and write
one JSONL line per result. Runs alternate (sycobench, peer, sycobench, peer, ...), each in a
fresh child process; the times compared are those of the work itself (sycobench: the whole
`run_job`, cold cache; peer: client, calls and file), so interpreter start-up is left out.

    python bench/vs_openai.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH_KEY, bench_env, chat_bodies, median, run_child, run_sycobench_job, start_fake, verdict, workdir,
)

TARGET = 1.0
CONCURRENCY = 64
GRID_PROMPTS = 180


async def peer(base_url: str, samples: int, out: Path) -> None:
    import openai

    bodies = chat_bodies(GRID_PROMPTS * samples)
    client = openai.AsyncOpenAI(base_url=base_url, api_key=BENCH_KEY, max_retries=2)
    slots = asyncio.Semaphore(CONCURRENCY)
    with out.open("w") as sink:
        async def one(i: int, body: dict) -> None:
            async with slots:
                reply = await client.chat.completions.create(**body)
            sink.write(json.dumps({"i": i, "k": i // GRID_PROMPTS, "text": reply.choices[0].message.content,
                                   "finish_reason": reply.choices[0].finish_reason,
                                   "usage": reply.usage.model_dump() if reply.usage else None}) + "\n")

        await asyncio.gather(*(one(i, body) for i, body in enumerate(bodies)))
    await client.close()


def one_run(kind: str, base_url: str, samples: int, tmp: Path) -> dict[str, float]:
    tmp.mkdir(parents=True)
    bench_env(tmp)  # a fresh cache for every run
    if kind == "sycobench":
        timing = run_sycobench_job(base_url, tmp / "job", [
            f"run.samples={samples}", f"run.concurrency={CONCURRENCY}", "rate_limit=unlimited"])
        return {"wall_s": timing.wall_s, "gen_s": timing.gen_wall_s, "cpu_s": timing.cpu_s}
    import openai  # noqa: F401  (imported before the clock starts, as sycobench's modules are)

    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(peer(base_url, samples, tmp / "results.jsonl"))
    lines = sum(1 for _ in (tmp / "results.jsonl").open())
    if lines != GRID_PROMPTS * samples:
        raise RuntimeError(f"peer wrote {lines} lines")
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", choices=["sycobench", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    samples = 2 if args.quick else 11
    if args.one:
        print(json.dumps(one_run(args.one, args.base_url, samples, args.tmp)))
        return
    rounds = 1 if args.quick else 3
    runs: dict[str, list[dict[str, float]]] = {"sycobench": [], "peer": []}
    with workdir("vs-openai") as tmp, start_fake(latency_ms=100) as fake:
        env = bench_env(tmp)
        for i in range(rounds):
            for kind in runs:
                where = tmp / f"{kind}-{i}"
                cmd = [sys.executable, __file__, "--one", kind, "--base-url", fake.base_url, "--tmp", str(where)]
                cmd += ["--quick"] if args.quick else []
                child = run_child(cmd, env=env)
                if child.returncode != 0:
                    sys.exit(f"vs_openai: {kind} run failed:\n{child.stderr[-2000:]}")
                runs[kind].append({**json.loads(child.stdout.strip().splitlines()[-1]), "process_s": child.wall_s,
                                   "rss_mb": child.peak_rss_mb})
    mid = {kind: {key: median([r[key] for r in rs]) for key in rs[0]} for kind, rs in runs.items()}
    ratio = mid["sycobench"]["wall_s"] / mid["peer"]["wall_s"]
    n = GRID_PROMPTS * samples
    print(f"vs_openai: sycobench / peer wall = {ratio:.2f} ({mid['sycobench']['wall_s']:.2f} s vs "
          f"{mid['peer']['wall_s']:.2f} s, medians of {rounds}) N={n} C={CONCURRENCY} L=100 ms; "
          f"target <= {TARGET}: {verdict(ratio <= TARGET)}")
    for kind, rs in runs.items():
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in rs)
        print(f"  {kind}: walls {walls} s; median CPU {mid[kind]['cpu_s']:.2f} s; "
              f"median process wall {mid[kind]['process_s']:.2f} s; peak RSS {mid[kind]['rss_mb']:.0f} MB"
              + (f"; generation phase {mid[kind]['gen_s']:.2f} s" if "gen_s" in mid[kind] else ""))
    print(f"  ideal N*L/C = {n * 0.1 / CONCURRENCY:.2f} s")


if __name__ == "__main__":
    main()
