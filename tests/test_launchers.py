"""Sweeps at scale: joblib and submitit launchers, rosters, shards merging exactly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from sycobench.errors import ConfigError
from sycobench.roster import load_roster, roster_indices
from tests.test_cli import sycobench


def _jobs(sweep: Path) -> list[dict]:
    with (sweep / "report" / "jobs.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
@pytest.mark.parametrize("launcher", [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], ["hydra/launcher=submitit_local"]])
def test_parallel_launchers_produce_the_sweep_report(tmp_path, launcher) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", *launcher, "model=mock", "model.sycophancy=0,0.4", "scenario.limit=4",
                     "report.bootstrap=200", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(j["status"] for j in _jobs(sweep)) == ["ok", "ok"]
    uplift = pl.read_csv(sweep / "report" / "uplift.csv")
    assert uplift.height == 2 and (sweep / "report" / "report.html").exists()
    for job in ("0", "1"):
        assert (sweep / job / "run.log").read_text()


def test_roster_loading_dedupes_keeps_order_and_puts_smoke_first(tmp_path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps(["a/one", {"id": "b/two", "label": "Two"}, "a/one",
                                {"id": "c/three", "smoke": True, "rate_limit": {"rps": 1, "burst": 2}, "concurrency": 3}]))
    entries = load_roster(str(path))
    assert [e.id for e in entries] == ["c/three", "a/one", "b/two"]
    assert entries[0].rps == 1 and entries[0].burst == 2 and entries[0].concurrency == 3
    assert roster_indices(str(path)) == "0,1,2"  # the sweep runs over entry numbers, never over ids
    shipped = {e.id for e in load_roster("free")}
    assert shipped and all(i.endswith(":free") for i in shipped)
    assert len(load_roster("paid")) >= 8


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{not json", "not valid JSON"), ("{}", "non-empty JSON list"), ("[3]", "not a model entry"),
     ('[{"id": "a/b", "rps": 2}]', "unknown key"), ('[{"id": "a/b", "rate_limit": {"rps": -1}}]', "positive"),
     ('[{"id": "a/b", "concurrency": 1.5}]', "whole numbers")],
)
def test_malformed_rosters_are_named(tmp_path, content, needle) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=needle):
        load_roster(str(path))


@pytest.mark.slow
def test_malformed_roster_fails_before_any_job(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": 7}]')
    proc = sycobench("-m", "+roster=file", f"roster.file={bad}", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
    assert proc.returncode != 0
    assert "entry 0" in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_roster_sweep_with_the_mock(tmp_path) -> None:
    roster = tmp_path / "models.json"
    roster.write_text(json.dumps([{"id": "mock/a", "label": "Mock A"}, "mock/b"]))
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "+roster=file", f"roster.file={roster}", "model=mock", "scenario.limit=3",
                     "report.bootstrap=200", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(pl.read_csv(sweep / "report" / "uplift.csv")["model_id"]) == ["mock/a", "mock/b"]
    records = [json.loads(line) for line in (sweep / "0" / "run.jsonl").read_text().splitlines()]
    assert {r["model_label"] for r in records} == {"Mock A"}


@pytest.mark.slow
def test_free_roster_runs_every_model_against_the_fake(tmp_path, fake_openrouter, fake_key) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "+roster=free", f"model.base_url={fake_openrouter.base_url}", "scorer=offline", "scorer.allow_unvalidated=true",
                     # one triplet: the roster's Gemma entry keeps its own 8 requests a minute
                     "rate_limit=unlimited", "scenario.limit=1", "report.bootstrap=200", f"hydra.sweep.dir={sweep}",
                     cwd=tmp_path, env={"OPENROUTER_API_KEY": fake_key, "XDG_CACHE_HOME": str(tmp_path / "c")})
    assert proc.returncode == 0, proc.stderr
    expected = [e.id for e in load_roster("free")]
    assert set(fake_openrouter.stats()["by_model"]) == set(expected)
    assert sorted(pl.read_csv(sweep / "report" / "uplift.csv")["model_id"]) == sorted(expected)


@pytest.mark.slow
def test_shards_and_filters_merge_back_into_one_grid(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "scenario.shard=0,1,2,3", "scenario.num_shards=4", "scenario.amounts=[25,50],[100,200,400]",
                     "report.bootstrap=200", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = pl.read_parquet(sweep / "report" / "results.parquet")
    whole = sycobench(f"hydra.run.dir={tmp_path / 'whole'}", "report.bootstrap=200", cwd=tmp_path)
    assert whole.returncode == 0
    grid = {json.loads(line)["prompt_id"] for line in (tmp_path / "whole" / "grid.jsonl").read_text().splitlines()}
    assert results.height == len(grid) == results["prompt_id"].n_unique()
    assert set(results["prompt_id"]) == grid
    assert pl.read_csv(sweep / "report" / "uplift.csv").height == 1  # one model, not eight


@pytest.mark.slow
def test_parallel_sweep_shares_one_rate_budget(tmp_path, fake_openrouter, fake_key) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=4", "model=openrouter",
                     "model.id=a/one,b/two,c/three,d/four", f"model.base_url={fake_openrouter.base_url}",
                     "scorer=offline", "scorer.allow_unvalidated=true", "rate_limit.rps=6", "rate_limit.burst=1", "scenario.limit=3",
                     "report.bootstrap=200", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
                     env={"OPENROUTER_API_KEY": fake_key, "XDG_CACHE_HOME": str(tmp_path / "c")})
    assert proc.returncode == 0, proc.stderr
    stamps = sorted(fake_openrouter.stats()["timestamps"])
    assert len(stamps) == 36
    window = max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)
    assert window <= 6 + 1  # one budget for all four jobs, not four budgets
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) <= 6 * 1.05
    assert (sweep / ".shared_rate.sqlite").exists()
