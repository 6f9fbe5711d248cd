"""Rate fidelity: does `rate_limit.rps=20 rate_limit.burst=5` give 20 requests per second at the server?

Measured from the fake's own arrival timestamps (it runs in a separate process):
  achieved rate  = (count - burst) / (t_last - t_first)   (the first `burst` requests may
                   arrive at once; every later one should follow 1/rps after the previous)
  busiest second = the most arrivals in any 1-second window [t_i, t_i + 1)
First one job of 300 calls (in this process), then 4 jobs of ~75 calls each as separate
`python -m sycobench` processes sharing one budget (`rate_limit.shared_rate_file=<sqlite file>`).

    python bench/rate_fidelity.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, run_sycobench_job, start_fake, verdict, workdir  # noqa: E402

RPS, BURST, JOBS = 20, 5, 4
SAMPLES = 2  # the grid has 60 triplets; 50 of them x 3 perspectives x 2 samples = 300 calls
LATENCY_MS = 50


def measure(timestamps: list[float]) -> tuple[int, float, int]:
    """(count, achieved rate, busiest 1-second window)."""
    t = np.sort(np.asarray(timestamps))
    rate = (len(t) - BURST) / (t[-1] - t[0])
    busiest = int((np.searchsorted(t, t + 1.0, side="left") - np.arange(len(t))).max())
    return len(t), float(rate), busiest


def judged(label: str, count: int, rate: float, busiest: int) -> str:
    ok = abs(rate - RPS) <= 0.05 * RPS and busiest <= RPS + BURST
    return (f"{label}: {count} requests, achieved {rate:.2f} req/s ({100 * (rate / RPS - 1):+.1f}%), busiest "
            f"1-s window {busiest}; target {RPS} +-5% and <= {RPS + BURST}: {verdict(ok)}")


def shared_jobs(fake_url: str, tmp: Path, triplets: int, env: dict[str, str]) -> tuple[list[int], Path]:
    budget = tmp / "budget.sqlite"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "sycobench", "model=openrouter", "model.id=openai/gpt-4o-mini",
         f"model.base_url={fake_url}", "scorer=none", f"rate_limit.rps={RPS}", f"rate_limit.burst={BURST}",
         f"rate_limit.shared_rate_file={budget}", f"scenario.limit={triplets}", f"scenario.num_shards={JOBS}",
         f"scenario.shard={i}", f"run.samples={SAMPLES}", "run.concurrency=32", f"hydra.run.dir={tmp / f'job{i}'}"],
        env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(JOBS)]
    codes = []
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        if proc.returncode:
            print(f"  a shared-budget job failed: {err.strip().splitlines()[-1:]}")
        codes.append(proc.returncode)
    return codes, budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    triplets = 10 if args.quick else 50
    with workdir("rate") as tmp, start_fake(latency_ms=LATENCY_MS) as fake:
        bench_env(tmp)
        run_sycobench_job(fake.base_url, tmp / "single", [
            f"rate_limit.rps={RPS}", f"rate_limit.burst={BURST}", f"scenario.limit={triplets}", f"run.samples={SAMPLES}",
            "run.concurrency=32"])
        single = measure(fake.stats()["timestamps"])
        fake.reset()
        env = bench_env(tmp / "shared")  # a cold cache again, or the jobs would answer from it
        codes, budget = shared_jobs(fake.base_url, tmp, triplets, env)
        stamps = fake.stats()["timestamps"]
        shared = measure(stamps) if len(stamps) > BURST + 1 else None
        budget_used = budget.exists()
    print(judged(f"rate_fidelity: one job, rps={RPS} burst={BURST}", *single))
    print(f"  {triplets * 3 * SAMPLES} calls ({triplets} triplets x 3 x {SAMPLES} samples; the 4 jobs split them by "
          f"scenario.shard), concurrency 32, fake latency {LATENCY_MS} ms; rate = (count - burst) / span")
    if shared is None or not budget_used or any(codes):
        print("  shared budget: not available"
              + (f" (4 jobs without it: {shared[1]:.1f} req/s, busiest second {shared[2]})" if shared else ""))
        return
    print("  " + judged(f"shared budget, {JOBS} processes", *shared))


if __name__ == "__main__":
    main()
