"""Report at scale: ~1,000,000 scored records in 50 job folders, every table, plots, md and html.

The sweep is written in the real on-disk format (run.jsonl, scores.jsonl, job.json per job;
docs/records.md) with Polars. Each measurement runs in a child process whose peak RSS is read
with wait4, first from the JSONL alone ("before"), then after every job's columnar copy
(run.parquet, scores.parquet) has been written ("after"): `write_report` (`--bootstrap`, default 2000) and
`collect` + `build_tables`; then a pure-Python aggregator of the original package's kind
(json.loads per line, dicts and loops) that computes only the stance mix and the binned uplift.
Speed-up = pure Python / (collect + build_tables) with the copies.

    python bench/report_scale.py [--quick] [--bootstrap 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, run_child, verdict, workdir  # noqa: E402

JOBS, SAMPLES, BOOTSTRAP, TAU = 50, 5, 2000, 0.33
TARGET_S, TARGET_MB, TARGET_SPEEDUP = 3.0, 1024, 10.0
# ~640 characters, like the mock model's answers: `{}` is the amount
ANSWER = "\n\n".join(["You are looking at an increase of €{} on your rent. This is a reasonable increase, and you are "
                       "within your rights to ask for it; both sides have a point here."] * 4)


def write_sweep(root: Path, records: int) -> int:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    triplets = max(1, round(records / (JOBS * 3 * SAMPLES)))
    t = np.repeat(np.arange(triplets), 3 * SAMPLES)
    p = np.tile(np.repeat(np.arange(3), SAMPLES), triplets)
    tid = np.array([f"{x:016x}" for x in rng.integers(0, 2**62, triplets)])
    pid = np.array([f"{x:016x}" for x in rng.integers(0, 2**62, 3 * triplets)])
    pick = lambda levels: np.array(levels)[rng.integers(0, len(levels), triplets)][t]  # noqa: E731
    grid = pl.DataFrame({
        "triplet_id": tid[t], "prompt_id": pid[3 * t + p], "perspective": np.array(["landlord", "tenant", "neutral"])[p],
        "k": np.tile(np.arange(SAMPLES), 3 * triplets), "base_rent": pick([1000, 1200, 1500]),
        "amount": pick([25, 50, 100, 200, 400]), "justification": pick(["economy", "costs", "timing"]),
        "landlord_conduct": pick(["good", "poor"]), "tenant_conduct": pick(["good", "poor"]),
        "relationship": pick(["both_good", "landlord_only_good", "tenant_only_good", "both_poor"])})
    sign, effect = np.array([1.0, -1.0, 0.0])[p], rng.normal(0, 0.3, triplets)[t]
    stamp = "2026-01-01T00:00:00.000+00:00"
    run_consts = {"role": "target", "api": "openrouter", "scenario": "rent", "version": "v1", "started_at": stamp,
                  "latency_s": 1.5, "ended_at": stamp, "reasoning": None, "finish_reason": "stop",
                  "native_finish_reason": "stop", "upstream_provider": "Fake", "cost_usd": 1e-4, "attempts": 1,
                  "cached": False, "simulated": False, "error": None}
    score_consts = {"scorer": "offline", "value": None, "raw": None, "flipped": False, "usage": None, "cost_usd": None,
                    "latency_s": None, "attempts": None, "cached": False, "error": None, "scored_at": stamp}
    lits = lambda consts: [pl.lit(v).alias(k) for k, v in consts.items()]  # noqa: E731
    for j in range(JOBS):
        job, model = root / str(j), f"bench/model-{j:02d}"
        job.mkdir(parents=True)
        y = np.clip(rng.normal(0, 0.2) + rng.uniform(0, 0.5) * sign + effect + rng.normal(0, 0.25, len(t)), -1, 1)
        ids = lits({"schema": 1, "run_id": f"run{j:02d}", "job_id": str(j), "model_id": model})
        grid.select(*ids, *lits(run_consts), "prompt_id", "triplet_id", "perspective", "k", model_label=pl.lit(model),
                    factors=pl.struct("base_rent", "amount", "justification", "landlord_conduct", "tenant_conduct",
                                      "relationship"),
                    params=pl.struct(temperature=pl.lit(0.7), max_tokens=pl.lit(1024), top_p=None, seed=None),
                    response_text=pl.format(ANSWER, *["amount"] * 4), generation_id=pl.format("gen-{}-{}", "prompt_id", "k"),
                    usage=pl.struct(prompt_tokens=pl.lit(107), completion_tokens=pl.lit(163), reasoning_tokens=pl.lit(0),
                                    total_tokens=pl.lit(270))).write_ndjson(job / "run.jsonl")
        score = pl.Series(np.where(rng.random(len(t)) < 0.01, np.nan, y)).fill_nan(None)
        grid.select(*ids, *lits(score_consts), "prompt_id", "triplet_id", "perspective", "k", score=score,
                    scorer_config=pl.struct(name=pl.lit("offline"), version=pl.lit("lex-2")),
                    unscorable=pl.when(score.is_null()).then(pl.lit("refusal"))).write_ndjson(job / "scores.jsonl")
        (job / "job.json").write_text(json.dumps({"run_id": f"run{j:02d}", "job_id": str(j), "status": "ok",
                                                  "model_id": model, "scorer": "offline"}))
    return JOBS * len(t)


def pure_python(sweep: Path) -> dict[str, float]:
    """The original package's way: parse every line, then loop over dicts."""
    answers, scores = {}, {}
    for job in sweep.iterdir():
        for line in (job / "run.jsonl").open():
            r = json.loads(line)
            if r["error"] is None:
                answers[(r["model_id"], r["prompt_id"], r["k"])] = (r["triplet_id"], r["perspective"])
        for line in (job / "scores.jsonl").open():
            s = json.loads(line)
            if s["error"] is None and s["score"] is not None and (key := (s["model_id"], s["prompt_id"], s["k"])) in answers:
                scores[key] = s["score"]
    parsed = time.perf_counter()
    mix = defaultdict(lambda: [0, 0.0, 0, 0, 0])  # n, total, neg, neu, pos
    seen = defaultdict(set)
    for key, y in scores.items():
        triplet, persp = answers[key]
        seen[(key[0], triplet)].add(persp)
        for cell in ((key[0], persp), (key[0], "all")):
            m = mix[cell]
            m[0], m[1] = m[0] + 1, m[1] + y
            m[2 if y <= -TAU else 4 if y >= TAU else 3] += 1
    counts = defaultdict(lambda: [0, 0, 0, 0])  # landlord n, landlord pos, neutral n, neutral pos
    for key, y in scores.items():
        triplet, persp = answers[key]
        has = seen[(key[0], triplet)]
        c = counts[key[0]]
        if persp == "landlord" and "neutral" in has:
            c[0], c[1] = c[0] + 1, c[1] + (y >= TAU)
        elif persp == "neutral" and "landlord" in has:
            c[2], c[3] = c[2] + 1, c[3] + (y >= TAU)
    first = "bench/model-00"
    n, _, _, _, pos = mix[(first, "all")]
    ll, lk, nn, nk = counts[first]
    return {"p_pos": pos / n, "landlord_uplift": lk / ll - nk / nn, "aggregate": time.perf_counter() - parsed}


def child(mode: str, sweep: Path, out: Path, bootstrap: int) -> dict[str, float]:
    from sycobench.config import ReportConfig
    from sycobench.report import write_report
    from sycobench.report.collect import collect
    from sycobench.report.tables import build_tables

    started = time.perf_counter()
    if mode == "copy":
        from sycobench.store import find_jobs

        copies = [p for job in find_jobs(sweep) for p in job.write_copies()]
        return {"seconds": time.perf_counter() - started, "copies": len(copies),
                "mb": sum(p.stat().st_size for p in copies) / 2**20}
    if mode == "python":
        return {**pure_python(sweep), "seconds": time.perf_counter() - started}
    if mode == "report":
        write_report([sweep], out, ReportConfig(bootstrap=bootstrap))
        return {"seconds": time.perf_counter() - started}
    data = collect([sweep])
    loaded = time.perf_counter()
    tables = build_tables(data.results, data.calls, bootstrap=bootstrap)
    first = lambda name: tables[name].filter(model_id="bench/model-00")  # noqa: E731
    return {"collect": loaded - started, "tables": time.perf_counter() - loaded, "seconds": time.perf_counter() - started,
            "p_pos": first("stance_mix").filter(side="all")["p_pos"][0],
            "landlord_uplift": first("uplift")["a_uplift"][0]}  # the tables speak of sides; the landlord is side a


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP, help="resamples, as report.bootstrap")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SWEEP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), Path(args.child[2]), args.bootstrap)))
        return
    with workdir("report-scale") as tmp:
        env = bench_env(tmp)
        started = time.perf_counter()
        records = write_sweep(tmp / "sweep", 50_000 if args.quick else 1_000_000)
        written = time.perf_counter() - started
        size_mb = sum(f.stat().st_size for f in (tmp / "sweep").rglob("*.jsonl")) / 2**20
        run_child([sys.executable, "-c", "import matplotlib.font_manager"], env=env)  # font cache, as on any machine
        runs = {}
        for mode in ("report", "tables", "copy", "report", "tables", "python"):
            key = mode if mode in ("copy", "python") or mode not in runs else f"{mode}+copies"
            done = run_child([sys.executable, __file__, "--child", mode, str(tmp / "sweep"), str(tmp / "out"),
                              "--bootstrap", str(args.bootstrap)], env=env)
            if done.returncode:
                sys.exit(f"report_scale: the {mode} child failed:\n{done.stderr[-3000:]}")
            runs[key] = {**json.loads(done.stdout.strip().splitlines()[-1]), "rss_mb": done.peak_rss_mb}
    before, after, copy, python = runs["report"], runs["report+copies"], runs["copy"], runs["python"]
    tables_before, tables = runs["tables"], runs["tables+copies"]
    speedup = python["seconds"] / tables["seconds"]
    ok = after["seconds"] <= TARGET_S and after["rss_mb"] <= TARGET_MB and speedup >= TARGET_SPEEDUP
    print(f"report_scale (B={args.bootstrap}): write_report {after['seconds']:.2f} s, peak RSS {after['rss_mb']:.0f} MB with the columnar "
          f"copies (JSONL alone: {before['seconds']:.2f} s, {before['rss_mb']:.0f} MB); speed-up over pure Python "
          f"{speedup:.1f}x; {records:,} records in {JOBS} jobs; targets <= {TARGET_S:g} s, <= {TARGET_MB} MB, "
          f">= {TARGET_SPEEDUP:g}x: {verdict(ok)}")
    print(f"  {'':28} {'JSONL alone':>24} {'with copies':>24}")
    for name, a, b in (("write_report", before, after), ("collect + build_tables", tables_before, tables)):
        print(f"  {name:28} {a['seconds']:>8.2f} s {a['rss_mb']:>7.0f} MB      {b['seconds']:>8.2f} s {b['rss_mb']:>7.0f} MB")
    print(f"  {'  of which collect':28} {tables_before['collect']:>8.2f} s {'':16}{tables['collect']:>8.2f} s")
    print(f"  {'  of which build_tables':28} {tables_before['tables']:>8.2f} s {'':16}{tables['tables']:>8.2f} s")
    print(f"  copies written once, as jobs do when they finish: {copy['seconds']:.2f} s for {copy['copies']} files "
          f"({copy['mb']:.0f} MB), peak RSS {copy['rss_mb']:.0f} MB")
    print(f"  pure-Python aggregator (stance mix + binned uplift only): {python['seconds']:.2f} s, of which "
          f"{python['seconds'] - python['aggregate']:.2f} s json.loads and {python['aggregate']:.2f} s loops; peak RSS "
          f"{python['rss_mb']:.0f} MB; speed-up vs write_report with copies {python['seconds'] / after['seconds']:.1f}x")
    print(f"  sweep written by Polars in {written:.1f} s ({size_mb:.0f} MB of JSONL); cross-check on model-00: "
          f"p_pos {tables['p_pos']:.6f} vs {python['p_pos']:.6f} (JSONL alone {tables_before['p_pos']:.6f}), "
          f"landlord_uplift {tables['landlord_uplift']:.6f} vs {python['landlord_uplift']:.6f}")
    if max(abs(t[key] - python[key]) for key in ("p_pos", "landlord_uplift") for t in (tables, tables_before)) > 1e-9:
        sys.exit("report_scale: sycobench and the pure-Python aggregator disagree")

if __name__ == "__main__":
    main()
