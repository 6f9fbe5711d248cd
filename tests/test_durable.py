"""Durable runs: kill -9 and resume, the response cache, the budget cap, the dry-run estimate."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.test_cli import sycobench

KEY = "sk-or-v1-fake-durable"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _args(fake, job: Path, *extra: str, page: bool = True) -> list[str]:
    """A fake-server job; `page=False` where the test is about calls and records, not the job's page
    (a page that fails is only a warning, so these tests never checked it: tests/test_api.py does)."""
    return ["model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={fake.base_url}", "scorer=offline", "scorer.allow_unvalidated=true",
            "rate_limit=unlimited", "report.bootstrap=200", f"hydra.run.dir={job}", *extra,
            *([] if page else ["report.page=false"])]


def _env(tmp_path: Path, cache: str = "cache") -> dict:
    return {"OPENROUTER_API_KEY": KEY, "XDG_CACHE_HOME": str(tmp_path / cache)}


def _assert_same_tables(a: Path, b: Path) -> None:
    for name in ("stance_mix.csv", "uplift.csv", "summary.csv"):
        assert_frame_equal(pl.read_csv(a / name), pl.read_csv(b / name), check_exact=False, rel_tol=1e-9)


@pytest.mark.slow
def test_kill9_at_random_points_then_resume_equals_an_uninterrupted_run(tmp_path, fake_openrouter) -> None:
    fake_openrouter.configure(latency_ms=40, latency_jitter_ms=30)
    reference = tmp_path / "reference"
    proc = sycobench(*_args(fake_openrouter, reference, "scenario.limit=20", "run.samples=2", "run.concurrency=4"),
                     cwd=tmp_path, env=_env(tmp_path, "ref-cache"))
    assert proc.returncode == 0, proc.stderr

    job = tmp_path / "job"
    cmd = [sys.executable, "-m", "sycobench",
           *_args(fake_openrouter, job, "scenario.limit=20", "run.samples=2", "run.concurrency=4")]
    env = {**os.environ, **_env(tmp_path, "cache"), "HYDRA_FULL_ERROR": ""}
    rng = random.Random(3)
    kills = 0
    for _ in range(4):
        child = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.6, 1.6))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
    assert kills >= 2
    final = sycobench(*_args(fake_openrouter, job, "scenario.limit=20", "run.samples=2", "run.concurrency=4"),
                      cwd=tmp_path, env=_env(tmp_path, "cache"))
    assert final.returncode == 0, final.stderr
    raw = (job / "run.jsonl").read_text()
    assert raw.endswith("\n")
    records = [json.loads(line) for line in raw.splitlines()]  # no torn line survives
    ok = [(r["prompt_id"], r["k"]) for r in records if r["error"] is None]
    assert len(ok) == len(set(ok)) == 120
    _assert_same_tables(job, reference)
    assert "skipped" in (job / "run.log").read_text()


@pytest.mark.slow
def test_second_identical_run_makes_zero_http_calls(tmp_path, fake_openrouter) -> None:
    env = {**_env(tmp_path), "OPENROUTER_API_KEY": KEY}
    judge = ["scorer=judge", f"scorer.model.base_url={fake_openrouter.base_url}", "scenario.limit=4", "run.samples=2"]
    first = sycobench(*_args(fake_openrouter, tmp_path / "a", *judge, page=False), cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    calls = fake_openrouter.stats()["requests"]
    judged = _lines(tmp_path / "a" / "scores.jsonl")
    assert len(judged) == 24
    # answers + judge calls; a judge prompt repeated within the run (same answer text) hits the cache
    assert calls == 24 + sum(not s["cached"] for s in judged) > 24
    second = sycobench(*_args(fake_openrouter, tmp_path / "b", *judge, page=False), cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert fake_openrouter.stats()["requests"] == calls  # not one more call
    runs = _lines(tmp_path / "b" / "run.jsonl")
    assert all(r["cached"] and r["attempts"] == 0 for r in runs)
    assert all(s["cached"] for s in _lines(tmp_path / "b" / "scores.jsonl"))
    assert json.loads((tmp_path / "b" / "job.json").read_text())["cache"] == {"hits": 48, "misses": 0}  # answers + judge
    assert _lines(tmp_path / "a" / "run.jsonl")[0]["response_text"] in {r["response_text"] for r in runs}
    # other sample indices, models and parameters never collapse onto a cached answer
    third = sycobench(*_args(fake_openrouter, tmp_path / "c", "scenario.limit=4", "run.samples=3", page=False), cwd=tmp_path, env=env)
    assert third.returncode == 0
    assert fake_openrouter.stats()["requests"] == calls + 12
    fourth = sycobench(*_args(fake_openrouter, tmp_path / "d", "scenario.limit=4", "model.temperature=0.2", page=False),
                       cwd=tmp_path, env=env)
    assert fourth.returncode == 0
    assert fake_openrouter.stats()["requests"] == calls + 12 + 12
    off = sycobench(*_args(fake_openrouter, tmp_path / "e", "scenario.limit=4", "run.cache=false", page=False), cwd=tmp_path, env=env)
    assert off.returncode == 0
    assert fake_openrouter.stats()["requests"] == calls + 36


@pytest.mark.slow
def test_errors_are_not_cached_and_retried_only_on_request(tmp_path, fake_openrouter) -> None:
    fake_openrouter.script(["400", "400"])
    job = tmp_path / "job"
    args = _args(fake_openrouter, job, "scenario.limit=2", "run.concurrency=1", page=False)
    first = sycobench(*args, cwd=tmp_path, env=_env(tmp_path))
    assert first.returncode == 3, first.stderr  # incomplete: two calls failed
    assert "run.retry_errors=true" in first.stderr
    assert json.loads((job / "job.json").read_text())["status"] == "incomplete"
    assert sum(r["error"] is not None for r in _lines(job / "run.jsonl")) == 2
    again = sycobench(*args, cwd=tmp_path, env=_env(tmp_path))
    assert again.returncode == 3 and fake_openrouter.stats()["requests"] == 6  # errors left alone
    retry = sycobench(*args, "run.retry_errors=true", cwd=tmp_path, env=_env(tmp_path))
    assert retry.returncode == 0 and fake_openrouter.stats()["requests"] == 8
    assert json.loads((job / "job.json").read_text())["status"] == "ok"
    log = (job / "run.log").read_text()
    assert "2 failed before and asked again" in log and "retries 0" in log
    records = _lines(job / "run.jsonl")
    assert len({(r["prompt_id"], r["k"]) for r in records if r["error"] is None}) == 6


@pytest.mark.slow
def test_two_jobs_share_the_cache_concurrently(tmp_path, fake_openrouter) -> None:
    fake_openrouter.configure(latency_ms=20)
    env = {**os.environ, **_env(tmp_path), "HYDRA_FULL_ERROR": ""}
    procs = [subprocess.Popen([sys.executable, "-m", "sycobench",
                               *_args(fake_openrouter, tmp_path / name, "scenario.limit=10", "run.concurrency=8", page=False)],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "locked" not in err
    for name in ("a", "b"):
        assert len(_lines(tmp_path / name / "run.jsonl")) == 30
    calls = fake_openrouter.stats()["requests"]
    assert 30 <= calls <= 60
    third = sycobench(*_args(fake_openrouter, tmp_path / "c", "scenario.limit=10", page=False), cwd=tmp_path, env=_env(tmp_path))
    assert third.returncode == 0 and fake_openrouter.stats()["requests"] == calls


@pytest.mark.slow
def test_budget_cap_stops_cleanly_and_resumes(tmp_path, fake_openrouter) -> None:
    job = tmp_path / "job"
    args = _args(fake_openrouter, job, "scenario.limit=10", "run.concurrency=8", page=False)
    capped = sycobench(*args, "run.max_cost_usd=0.002", cwd=tmp_path, env=_env(tmp_path))
    assert capped.returncode == 3, capped.stderr  # incomplete, resumable
    records = _lines(job / "run.jsonl")
    spent = sum(r["cost_usd"] for r in records)
    assert 0 < len(records) < 30 and spent <= 0.002
    meta = json.loads((job / "job.json").read_text())
    assert meta["status"] == "incomplete" and "max_cost_usd" in meta["message"]
    done = sycobench(*args, "run.max_cost_usd=1.0", cwd=tmp_path, env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert len(_lines(job / "run.jsonl")) == 30
    assert json.loads((job / "job.json").read_text())["status"] == "ok"


@pytest.mark.slow
def test_dry_run_estimates_cost_from_model_prices(tmp_path, fake_openrouter) -> None:
    job = tmp_path / "dry"
    proc = sycobench(*_args(fake_openrouter, job, "scenario.limit=10", "run.dry_run=true"), cwd=tmp_path,
                     env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = (job / "run.log").read_text()
    assert "30 calls" in out and "estimated $" in out and "tokens estimated from characters" in out
    assert fake_openrouter.stats()["requests"] == 0
    assert not (job / "run.jsonl").exists()


@pytest.mark.slow
def test_resuming_a_sweep_folder_resumes_every_job(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    first = sycobench("-m", "model.sycophancy=0,0.6", "scenario.limit=3", "report.bootstrap=200",
                      f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for job in ("0", "1"):  # lose the tail of each job
        path = sweep / job / "run.jsonl"
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[:4]) + lines[4][:20])
    again = sycobench("-m", f"run.resume={sweep}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    for job in ("0", "1"):
        records = _lines(sweep / job / "run.jsonl")
        assert len(records) == 9 and len({r["prompt_id"] for r in records}) == 9
        assert "skipped 4 already done" in (sweep / job / "run.log").read_text()
    assert (sweep / "report" / "uplift.csv").exists()
