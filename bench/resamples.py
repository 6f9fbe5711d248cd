"""Resamples: what report.bootstrap = 2,000 or 10,000 costs a job's tables, and how far the interval ends
move between bootstrap seeds (the Monte Carlo error the resamples leave).

Runs the default job (the mock model on the full rent grid, 60 triplets, offline scorer) in a child
process, then for each resample count times `build_tables` (best of 3) and `write_job_report`, and
rebuilds the tables with seeds 0..N-1: for the model's uplift, SI and lean intervals it prints the
largest range and standard deviation of an interval end across seeds (target: ends move by at most
0.005 between seeds).

    python bench/resamples.py [--quick] [--seeds 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, run_child, verdict, workdir  # noqa: E402

ENDS = [f"{m}_{e}" for m in ("uplift_a", "uplift_b", "sycophancy_index", "lean") for e in ("lo", "hi")]
TARGET_MOVE = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 seeds")
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    seeds = 5 if args.quick else args.seeds
    from sycobench.config import ReportConfig
    from sycobench.report.collect import collect
    from sycobench.report.job import write_job_report
    from sycobench.report.tables import build_tables
    from sycobench.store import JobFolder

    with workdir("resamples") as tmp:
        env = bench_env(tmp)
        job = tmp / "job"
        done = run_child([sys.executable, "-m", "sycobench", f"hydra.run.dir={job}", "run.progress=false"], env=env,
                         cwd=tmp)
        if done.returncode:
            sys.exit(f"resamples: the job failed:\n{done.stderr[-2000:]}")
        data = collect([job])
        rows = []
        for bootstrap in (2000, 10_000):
            tables = []
            for _ in range(3):
                started = time.perf_counter()
                build_tables(data.results, data.calls, levels=data.factors, bootstrap=bootstrap, seed=0)
                tables.append(time.perf_counter() - started)
            started = time.perf_counter()
            write_job_report(JobFolder(job), ReportConfig(bootstrap=bootstrap))
            job_s = time.perf_counter() - started
            ends = np.array([build_tables(data.results, data.calls, levels=data.factors, bootstrap=bootstrap,
                                          seed=seed)["uplift"].select(ENDS).row(0) for seed in range(seeds)])
            spread, sd = ends.max(axis=0) - ends.min(axis=0), ends.std(axis=0, ddof=1)
            rows.append((bootstrap, min(tables), job_s, spread.max(), sd.max(), ENDS[int(spread.argmax())]))
    for bootstrap, tables_s, job_s, spread, sd, worst in rows:
        print(f"resamples: B={bootstrap:,}: build_tables {tables_s:.2f} s (best of 3), write_job_report {job_s:.2f} s; "
              f"interval ends over {seeds} seeds move by up to {spread:.4f} (sd {sd:.4f}, {worst}); "
              f"target <= {TARGET_MOVE}: {verdict(spread <= TARGET_MOVE)}")


if __name__ == "__main__":
    main()
