"""Memory: peak RSS of a whole mock job (`python -m sycobench model=mock ...`) as the grid grows 10x,
and the speed of its offline scoring against the scorer alone.

Each job runs in a child process (generation, offline scoring, tables, bootstrap) and its peak
RSS is read with wait4. The grid grows through `scenario.base_rents` and `scenario.amounts`
(12 triplets per (base rent, amount) pair, 3 prompts each), with the same `run.samples`.

Scoring in a job: the job's own log line (`scored N answers with offline in W s (C s CPU)`) for
the larger job: finding the answers, scoring them, writing the records. Scorer alone: the same
scorer on the same answers (text and prompt), held in memory, in another child process (median of
3 passes). Both are process CPU time, which a busy machine disturbs less than wall time.

    python bench/memory.py [--quick] [--bootstrap 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, median, run_child, verdict, workdir  # noqa: E402

TARGET_MB, FLAT = 300, 1.25  # "flat": the 10x job may use at most 25% more than the small one
SCORING = 1.5  # offline scoring in a job may take at most 1.5x the scorer's own time
SAMPLES = 11
_SCORED = re.compile(r"scored (\d+) answers with offline in ([\d.]+) s \(([\d.]+) s CPU\)")


def grid(rents: int, amounts: int) -> list[str]:
    return [f"scenario.base_rents=[{','.join(str(800 + 50 * i) for i in range(rents))}]",
            f"scenario.amounts=[{','.join(str(10 + 15 * i) for i in range(amounts))}]", f"run.samples={SAMPLES}"]


def scorer_alone(job: Path, overrides: list[str]) -> None:
    """Child: the job's answers as the scoring loop hands them over, then the scorer on each, timed."""
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.scoring import ScoringContext
    from sycobench.scoring.offline import OfflineScorer
    from sycobench.store import JobFolder

    cfg = to_config(compose(["model=mock", "scorer=offline", *overrides]))
    scorer = OfflineScorer(cfg.scorer, ScoringContext(cfg.scenario, None))
    answers = list(JobFolder(job).pending("not-scored-yet"))  # every answer, with its prompt

    async def once() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for answer in answers:
            await scorer.score(answer)
        return time.perf_counter() - wall, time.process_time() - cpu

    runs = [asyncio.run(once()) for _ in range(3)]
    print(json.dumps({"answers": len(answers), "wall_s": median([w for w, _ in runs]),
                      "cpu_s": median([c for _, c in runs])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bootstrap", type=int, help="report.bootstrap (default: the config's)")
    parser.add_argument("--scorer-alone", nargs=2, metavar=("JOB", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scorer_alone:
        job, size = args.scorer_alone
        scorer_alone(Path(job), grid(*map(int, size.split("x"))))
        return
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
        scored = _SCORED.search((job / "run.log").read_text())
        if scored is None or int(scored.group(1)) != calls:
            sys.exit(f"memory: the {calls}-call job's run.log does not say it scored {calls} answers")
        alone = run_child([sys.executable, __file__, "--scorer-alone", str(job), f"{rents}x{amounts}"], env=env,
                          cwd=tmp)
        if alone.returncode:
            sys.exit(f"memory: timing the scorer alone failed:\n{alone.stderr[-2000:]}")
        solo = json.loads(alone.stdout.strip().splitlines()[-1])
        if solo["answers"] != calls:
            sys.exit(f"memory: the scorer alone saw {solo['answers']} answers, not {calls}")
    (small, small_mb, *_), (big, big_mb, *_) = rows
    ok = big_mb <= TARGET_MB and big_mb <= FLAT * small_mb
    print(f"memory: peak RSS {big_mb:.0f} MB at {big:,} calls vs {small_mb:.0f} MB at {small:,} calls "
          f"(x{big_mb / small_mb:.2f} for a {big // small}x grid); targets <= {TARGET_MB} MB and <= x{FLAT}: "
          f"{verdict(ok)}")
    job_wall, job_cpu = float(scored.group(2)), float(scored.group(3))
    ratio = job_cpu / solo["cpu_s"]
    print(f"scoring in a job: {big / job_cpu:,.0f} answers/s, scorer alone: {big / solo['cpu_s']:,.0f} answers/s "
          f"(CPU time, x{ratio:.2f}; target <= x{SCORING}: {verdict(ratio <= SCORING)})")
    for calls, mb, wall, gen in rows:
        print(f"  {calls:,} calls ({calls // (3 * SAMPLES):,} triplets x 3 x {SAMPLES} samples): peak RSS {mb:.0f} MB, "
              f"whole process {wall:.1f} s, generation and scoring {gen:.1f} s")
    print(f"  scoring {big:,} answers: in the job {job_wall:.1f} s wall, {job_cpu:.1f} s CPU; the scorer alone "
          f"{solo['wall_s']:.1f} s wall, {solo['cpu_s']:.1f} s CPU")


if __name__ == "__main__":
    main()
