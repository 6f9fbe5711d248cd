"""Whole jobs against the loopback fake OpenRouter: faults, bad keys, rate limits, no key leaks."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.test_cli import sycobench

KEY = "sk-or-v1-fake-3f9a1c7e"  # distinctive, so a leak anywhere is found


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _job_args(fake, job: Path, *extra: str) -> list[str]:
    return ["model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={fake.base_url}",
            "scorer=offline", "scorer.allow_unvalidated=true", "report.bootstrap=200", f"hydra.run.dir={job}", *extra]


def _env(tmp_path: Path, key: str | None = KEY) -> dict:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    if key:
        env["OPENROUTER_API_KEY"] = key
    return env


@pytest.mark.slow
def test_faulty_server_still_gives_one_record_per_prompt_and_never_leaks_the_key(tmp_path, fake_openrouter) -> None:
    fake_openrouter.configure(fault_rate=0.3, seed=7, retry_after_s=0.2)
    job = tmp_path / "job"
    # 12 attempts: a call out of retries at a fault rate of 0.3 is then a 1-in-10,000 run (8 gave 1 in 100)
    proc = sycobench(*_job_args(fake_openrouter, job, "scenario.limit=50", "rate_limit=unlimited",
                                "rate_limit.max_attempts=12", "rate_limit.backoff_base_s=0.05",
                                "rate_limit.backoff_max_s=0.5", "run.concurrency=16"),
                     cwd=tmp_path, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    records = _lines(job / "run.jsonl")
    assert len(records) == 150
    assert len({(r["prompt_id"], r["k"]) for r in records}) == 150
    stats = fake_openrouter.stats()
    faults = sum(v for k, v in stats["by_outcome"].items() if k != "ok")
    assert faults > 20  # the fault rate really bit
    for r in records:  # every transient fault was retried within the budget
        if r["error"] is not None:
            assert r["attempts"] == 12, r["error"]
    assert sum(r["attempts"] for r in records) == stats["requests"]
    ok = [r for r in records if r["error"] is None]
    assert all(r["response_text"] and r["upstream_provider"] and r["generation_id"] for r in ok)
    assert all(r["cost_usd"] and r["usage"]["prompt_tokens"] for r in ok)
    # the key is nowhere: not in any file of the job, not on the console
    for path in job.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_bad_key_stops_the_job_with_one_clear_message(tmp_path, fake_openrouter) -> None:
    job = tmp_path / "job"
    bad = "sk-or-v1-bad-0000"
    proc = sycobench(*_job_args(fake_openrouter, job, "scenario.limit=5"), cwd=tmp_path, env=_env(tmp_path, bad))
    assert proc.returncode != 0
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and "OPENROUTER_API_KEY" in errors[0]
    assert bad not in proc.stdout + proc.stderr
    for path in job.rglob("*"):
        if path.is_file():
            assert bad not in path.read_text(errors="replace")
    # the job stopped instead of hammering the server with a bad key
    assert fake_openrouter.stats()["requests"] <= 16
    assert json.loads((job / "job.json").read_text())["status"] == "failed"


@pytest.mark.slow
def test_missing_key_fails_before_any_call(tmp_path, fake_openrouter) -> None:
    proc = sycobench(*_job_args(fake_openrouter, tmp_path / "job", "scenario.limit=2"), cwd=tmp_path,
                     env={**_env(tmp_path, None), "OPENROUTER_API_KEY": ""})
    assert proc.returncode != 0
    assert "OPENROUTER_API_KEY" in proc.stderr and ".env" in proc.stderr
    assert fake_openrouter.stats()["requests"] == 0


@pytest.mark.slow
def test_key_from_dotenv_in_working_directory(tmp_path, fake_openrouter) -> None:
    (tmp_path / ".env").write_text(f"OPENROUTER_API_KEY={KEY}\n")
    job = tmp_path / "job"
    proc = sycobench(*_job_args(fake_openrouter, job, "scenario.limit=2"), cwd=tmp_path,
                     env={**_env(tmp_path, None), "OPENROUTER_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    assert len(_lines(job / "run.jsonl")) == 6


@pytest.mark.slow
def test_job_holds_the_configured_rate(tmp_path, fake_openrouter) -> None:
    job = tmp_path / "job"
    proc = sycobench(*_job_args(fake_openrouter, job, "scenario.limit=15", "rate_limit.rps=10",
                                "rate_limit.burst=2", "run.concurrency=16", "report.page=false"),  # the calls' times only
                     cwd=tmp_path, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert len(fake_openrouter.stats()["timestamps"]) == 45
    # when each call got its tokens, on the client: its start plus its wait for the limiter. The server
    # stamps a request when its handler runs, so on a loaded machine a stalled server thread bunched them
    records = _lines(job / "run.jsonl")
    stamps = sorted(datetime.fromisoformat(r["started_at"]).timestamp() + r["queued_s"] for r in records)
    assert len(stamps) == 45 and all(r["attempts"] == 1 for r in records)
    step = 0.002  # start times are kept to the millisecond
    window = max(sum(1 for t in stamps if s <= t < s + 1.0 - step) for s in stamps)
    assert window <= 10 + 2
    rate = (len(stamps) - 2) / (stamps[-1] - stamps[0] + step)
    assert rate <= 10 * 1.05


@pytest.mark.slow
def test_daily_quota_stops_the_model_cleanly_and_resumes(tmp_path, fake_openrouter) -> None:
    job = tmp_path / "job"
    fake_openrouter.script([None] * 4 + ["quota_day"])
    args = _job_args(fake_openrouter, job, "scenario.limit=5", "run.concurrency=1", "report.page=false")  # records only
    first = sycobench(*args, cwd=tmp_path, env=_env(tmp_path))
    assert first.returncode == 3, first.stderr  # incomplete: resumable after the quota resets
    meta = json.loads((job / "job.json").read_text())
    assert meta["status"] == "incomplete" and "per-day" in meta["message"]
    assert len(_lines(job / "run.jsonl")) == 4
    second = sycobench(*args, cwd=tmp_path, env=_env(tmp_path))
    assert second.returncode == 0, second.stderr
    records = _lines(job / "run.jsonl")
    assert len(records) == 15 and all(r["error"] is None for r in records)
    assert "skipped 4" in (job / "run.log").read_text()
