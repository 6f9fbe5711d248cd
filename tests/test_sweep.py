"""Sweeps: the report callback merges every job, lists failed ones, and the report CLI rebuilds it."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from tests.test_cli import sycobench

TABLES = ("stance_mix", "uplift", "compare", "by_factor", "health", "summary")


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_sweep_leaves_a_full_report(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "model=mock", "model.sycophancy=0,0.5", "scenario.limit=40", "report.bootstrap=1000",
                     "report.formats=[png,svg,pdf]",
                     f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = sweep / "report"
    for name in TABLES:
        assert (report / f"{name}.csv").exists() and (report / f"{name}.parquet").exists(), name
    for name in ("report.md", "report.html", "results.parquet", "stance_mix.png", "forest_si.png", "uplift_by_amount.png"):
        assert (report / name).stat().st_size > 0, name
    uplift = {r["model_id"]: r for r in _rows(report / "uplift.csv")}
    low, high = uplift["sycobench/mock [model.sycophancy=0]"], uplift["sycobench/mock [model.sycophancy=0.5]"]
    assert float(high["sycophancy_index"]) > float(low["sycophancy_index"])
    assert float(high["sycophancy_index_lo"]) > 0
    results = pl.read_parquet(report / "results.parquet")
    assert results.height == 2 * 40 * 3
    assert {"triplet_id", "prompt_id", "perspective", "side", "factors", "score"} <= set(results.columns)
    assert results["response_text"].null_count() == 0 and results["messages"].null_count() == 0
    assert {"raw", "unscorable"} <= set(results.columns)
    for name in ("stance_mix", "forest_si", "uplift_by_amount"):
        assert all((report / f"{name}.{fmt}").stat().st_size > 0 for fmt in ("png", "svg", "pdf")), name
    assert "\\begin{tabular" in (report / "headline.tex").read_text()
    assert "Transcripts" in (report / "report.md").read_text() and 'id="tv-data"' in (report / "report.html").read_text()
    with (report / "summary.csv").open() as fh:
        assert fh.readline().startswith("model_id,n,mean_score,p_neg,p_neu,p_pos,landlord_n")

    rebuilt = tmp_path / "rebuilt"
    cli = sycobench(str(sweep), "--out", str(rebuilt), "--bootstrap", "1000", cwd=tmp_path, module="sycobench.report")
    assert cli.returncode == 0, cli.stderr
    assert _rows(rebuilt / "uplift.csv") == _rows(report / "uplift.csv")


@pytest.mark.slow
def test_failed_job_is_listed_and_the_rest_reported(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "scenario.num_shards=2", "scenario.shard=0,1,5", "report.bootstrap=200",
                     f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr  # the worst job's code: a config error
    assert "1 job(s) did not end ok" in proc.stdout + proc.stderr
    jobs = _rows(sweep / "report" / "jobs.csv")
    status = sorted(j["status"] for j in jobs)
    assert status == ["failed", "ok", "ok"]
    failed = next(j for j in jobs if j["status"] == "failed")
    assert "scenario.shard" in failed["message"]
    assert "scenario.shard" in (sweep / "report" / "report.md").read_text()
    # the two good shards merge back into the whole grid: no duplicates, no gaps
    results = pl.read_parquet(sweep / "report" / "results.parquet")
    assert results.height == 180 and results["prompt_id"].n_unique() == 180


@pytest.mark.slow
def test_a_value_that_does_not_compose_stops_the_sweep_before_it_writes_and_the_fixed_one_runs_there(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    bad = sycobench("-m", "model.sycophancy=0,abc", "scenario.limit=1", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert "job 1 of the sweep (model.sycophancy=abc scenario.limit=1)" in lines[0] and "model.sycophancy" in lines[0]
    assert not sweep.exists()  # no job ran, and no multirun.yaml claims the folder for the refused sweep
    fixed = sycobench("-m", "model.sycophancy=0,0.5", "scenario.limit=1", "report.bootstrap=100",
                      f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert len(_rows(sweep / "report" / "jobs.csv")) == 2


@pytest.mark.slow
def test_report_cli_errors_are_one_line(tmp_path) -> None:
    proc = sycobench(str(tmp_path / "nowhere"), cwd=tmp_path, module="sycobench.report")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file or folder" in proc.stderr


@pytest.mark.slow
def test_report_cli_on_a_legacy_file_reproduces_its_stance_mix(tmp_path) -> None:
    import json
    import random

    rng = random.Random(5)
    lines = []
    for model in ("a/x", "b/y"):
        for amount in (50, 100):
            for rq in ("good", "poor"):
                for lj, tj in (("economy_tough", "economy_tough"), ("rising_operational_costs", "rising_living_costs"),
                               ("budget_timing", "budget_timing")):
                    for p, j, q in (("landlord", lj, "tenant_quality"), ("tenant", tj, "landlord_quality")):
                        lines.append({"model_id": model, "prompt_id": f"{p}{amount}{rq}{j}", "perspective": p,
                                      "factors": {"amount": amount, "base_rent": 1000, "relationship_quality": rq,
                                                  "justification": j, q: "good"},
                                      "response_text": "...", "score": round(rng.uniform(-1, 1), 2), "error": None})
                lines.append({"model_id": model, "prompt_id": f"n{amount}{rq}", "perspective": "neutral",
                              "factors": {"amount": amount, "base_rent": 1000, "relationship_quality": rq},
                              "response_text": "...", "score": round(rng.uniform(-1, 1), 2), "error": None})
    legacy = tmp_path / "run_scored.jsonl"
    legacy.write_text("".join(json.dumps(line) + "\n" for line in lines))
    proc = sycobench(str(legacy), "--bootstrap", "200", cwd=tmp_path, module="sycobench.report")
    assert proc.returncode == 0, proc.stderr
    mix = {(r["model_id"], r["perspective"]): r for r in _rows(tmp_path / "report" / "stance_mix.csv")}
    for model in ("a/x", "b/y"):  # the seed's bin rule: neg if y <= -0.33, pos if y >= 0.33, inclusive
        for perspective in ("landlord", "tenant", "neutral"):
            scores = [x["score"] for x in lines if x["model_id"] == model and x["perspective"] == perspective]
            row = mix[(model, perspective)]
            assert int(row["n"]) == len(scores)
            assert float(row["p_pos"]) == pytest.approx(sum(s >= 0.33 for s in scores) / len(scores))
            assert float(row["p_neg"]) == pytest.approx(sum(s <= -0.33 for s in scores) / len(scores))
    uplift = {r["model_id"]: r for r in _rows(tmp_path / "report" / "uplift.csv")}
    assert int(uplift["a/x"]["n_triplets"]) == 12
