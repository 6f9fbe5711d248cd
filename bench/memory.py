"""Memory: peak RSS of a whole mock job (`python -m sycobench model=mock ...`) as the grid grows 10x.

Each job runs in a child process (generation, offline scoring, tables, bootstrap) and its peak
RSS is read with wait4. The grid grows through `scenario.base_rents` and `scenario.amounts`
(12 triplets per (base rent, amount) pair, 3 prompts each), with the same `run.samples`.

    python bench/memory.py [--quick] [--bootstrap 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, run_child, verdict, workdir  # noqa: E402

TARGET_MB, FLAT = 300, 1.25  # "flat": the 10x job may use at most 25% more than the small one
SAMPLES = 11


def grid(rents: int, amounts: int) -> list[str]:
    return [f"scenario.base_rents=[{','.join(str(800 + 50 * i) for i in range(rents))}]",
            f"scenario.amounts=[{','.join(str(10 + 15 * i) for i in range(amounts))}]", f"run.samples={SAMPLES}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bootstrap", type=int, help="report.bootstrap (default: the config's)")
    args = parser.parse_args()
    extra = [] if args.bootstrap is None else [f"report.bootstrap={args.bootstrap}"]
    sizes = [(1, 5), (2, 25)] if args.quick else [(5, 5), (10, 25)]  # (base rents, amounts)
    rows = []
    with workdir("memory") as tmp:
        env = bench_env(tmp)
        for rents, amounts in sizes:
            calls = 36 * rents * amounts * SAMPLES
            job = tmp / f"job-{calls}"
            child = run_child([sys.executable, "-m", "sycobench", "model=mock", *grid(rents, amounts), *extra,
                               f"hydra.run.dir={job}"], env=env, cwd=tmp)
            if child.returncode:
                sys.exit(f"memory: the {calls}-call job failed:\n{child.stderr[-2000:]}")
            meta = json.loads((job / "job.json").read_text())
            if meta["status"] != "ok" or meta["totals"]["target"]["ok"] != calls:
                sys.exit(f"memory: the {calls}-call job did not finish: {meta['status']} {meta['totals']}")
            rows.append((calls, child.peak_rss_mb, child.wall_s, meta["totals"]["wall_s"]))
    (small, small_mb, *_), (big, big_mb, *_) = rows
    ok = big_mb <= TARGET_MB and big_mb <= FLAT * small_mb
    print(f"memory: peak RSS {big_mb:.0f} MB at {big:,} calls vs {small_mb:.0f} MB at {small:,} calls "
          f"(x{big_mb / small_mb:.2f} for a {big // small}x grid); targets <= {TARGET_MB} MB and <= x{FLAT}: "
          f"{verdict(ok)}")
    for calls, mb, wall, gen in rows:
        print(f"  {calls:,} calls ({calls // (3 * SAMPLES):,} triplets x 3 x {SAMPLES} samples): peak RSS {mb:.0f} MB, "
              f"whole process {wall:.1f} s, generation {gen:.1f} s")


if __name__ == "__main__":
    main()
