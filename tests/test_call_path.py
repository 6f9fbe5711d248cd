"""One call path for target answers and the judge: one cost cap, one totals object, one retry
count, progress for every phase, and one event loop per job."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import polars as pl
import pytest

from sycobench import compose
from sycobench.config import to_config
from sycobench.job import run_job
from sycobench.spec import prepare_job
from sycobench.store import read_jsonl

KEY = "sk-or-v1-fake"


def _cfg(fake, *extra: str, judge: bool = True):
    scorer = ["scorer=judge", "scorer.model.id=openai/gpt-4o-mini", f"scorer.model.base_url={fake.base_url}"] \
        if judge else ["scorer=offline", "scorer.allow_unvalidated=true"]  # the offline scorer: a cheap stand-in here
    return to_config(compose(["model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={fake.base_url}",
                              *scorer, "rate_limit=unlimited", "rate_limit.backoff_base_s=0.01",
                              "rate_limit.backoff_max_s=0.02", "report.bootstrap=200", "run.progress=false",
                              *extra]))


def _paid(job: Path) -> float:
    return sum((r["cost_usd"] or 0.0) for name in ("run.jsonl", "scores.jsonl")
               for r in read_jsonl(job / name) if not r["cached"])


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)


def test_the_cost_cap_covers_target_and_judge_together(tmp_path, fake_openrouter, keyed) -> None:
    probe = run_job(prepare_job(_cfg(fake_openrouter, "scenario.limit=10", "run.cache=false")), tmp_path / "probe")
    answers, judging = probe.totals["target"]["cost_usd"], probe.totals["judge"]["cost_usd"]
    assert answers > 0 and judging > 0
    cap = answers + judging / 2  # room for every answer, and for about half of the judging
    job = tmp_path / "job"
    result = run_job(prepare_job(_cfg(fake_openrouter, "scenario.limit=10", "run.concurrency=8", "run.cache=false",
                          f"run.max_cost_usd={cap}")), job)
    assert result.status == "incomplete" and "max_cost_usd" in result.message
    assert len(list(read_jsonl(job / "run.jsonl"))) == 30
    judged = list(read_jsonl(job / "scores.jsonl"))
    assert 0 < len(judged) < 30, "the judge stopped at the cap, not before it and not past it"
    spent = _paid(job)
    assert answers < spent <= cap
    totals = json.loads((job / "job.json").read_text())["totals"]
    assert totals["cost_usd"] == pytest.approx(spent)
    assert totals["judge"]["cost_usd"] > 0 and totals["target"]["cost_usd"] > 0
    # resuming with room finishes both phases
    done = run_job(prepare_job(_cfg(fake_openrouter, "scenario.limit=10", "run.cache=false", "run.max_cost_usd=1.0")), job)
    assert done.status == "ok"
    assert len(list(read_jsonl(job / "scores.jsonl"))) == 30


def test_retries_made_in_this_run_are_counted(tmp_path, fake_openrouter, keyed, caplog) -> None:
    fake_openrouter.script(["500", "502", "503", "500", "408"])
    caplog.set_level(logging.INFO, logger="sycobench")
    result = run_job(prepare_job(_cfg(fake_openrouter, "scenario.limit=10", "run.concurrency=1", judge=False)), tmp_path / "job")
    assert result.status == "ok"
    assert result.totals["target"]["retries"] == 5
    assert result.totals["reasked"] == 0
    assert "retries 5" in caplog.text
    assert sum(r["attempts"] for r in read_jsonl(tmp_path / "job" / "run.jsonl")) == 30 + 5


def test_cost_is_counted_one_way_in_the_log_job_json_and_the_report(tmp_path, fake_openrouter, keyed, caplog) -> None:
    first = run_job(prepare_job(_cfg(fake_openrouter, "scenario.limit=3")), tmp_path / "first")
    paid = first.totals["cost_usd"]
    assert paid > 0 and paid == pytest.approx(_paid(tmp_path / "first"))
    caplog.set_level(logging.INFO, logger="sycobench")
    again = run_job(prepare_job(_cfg(fake_openrouter, "scenario.limit=3")), tmp_path / "again")  # all from the cache
    assert again.totals["cost_usd"] == 0
    assert again.totals["target"]["cached"] == 9 and again.totals["judge"]["cached"] == 9
    assert again.totals["target"]["saved_usd"] + again.totals["judge"]["saved_usd"] == pytest.approx(paid)
    assert "spent $0.0000 this run" in caplog.text
    from sycobench.config import ReportConfig
    from sycobench.report import write_report

    write_report([tmp_path / "again"], tmp_path / "report", ReportConfig(bootstrap=200))
    health = pl.read_csv(tmp_path / "report" / "health.csv")
    assert health["cost_target_usd"].fill_null(0).sum() == 0 and health["cost_judge_usd"].fill_null(0).sum() == 0
    assert health["cache_saved_usd"].sum() == pytest.approx(paid)


def test_every_phase_reports_progress_off_a_terminal(tmp_path, fake_openrouter, keyed, caplog) -> None:
    fake_openrouter.configure(latency_ms=30)
    caplog.set_level(logging.INFO, logger="sycobench")
    cfg = _cfg(fake_openrouter, "scenario.limit=4", "run.concurrency=2", "run.progress=true",
               "run.progress_every_s=0.05")
    run_job(prepare_job(cfg), tmp_path / "job")
    lines = [r.getMessage() for r in caplog.records if r.name == "sycobench.progress"]
    for phase in ("generate", "judge"):
        mine = [line for line in lines if line.startswith(f"{phase}: ")]
        assert mine[0] == f"{phase}: 12 to do"
        assert any("/12 (" in line and "errors 0, retries 0, spent $" in line for line in mine[1:-1]), mine
        assert mine[-1].startswith(f"{phase}: done, 12/12")


def test_a_job_is_one_event_loop(tmp_path, fake_openrouter, keyed, monkeypatch) -> None:
    started = []
    real_run = asyncio.run
    monkeypatch.setattr(asyncio, "run", lambda main, **kw: started.append(main) or real_run(main, **kw))
    result = run_job(prepare_job(_cfg(fake_openrouter, "scenario.limit=2")), tmp_path / "job")
    assert result.status == "ok" and len(list(read_jsonl(tmp_path / "job" / "scores.jsonl"))) == 6
    assert len(started) == 1


def test_queueing_for_the_rate_limit_is_kept_apart_from_the_request_s_own_time(tmp_path, fake_openrouter, keyed) -> None:
    """At 10 requests/s with a burst of 1 and 12 calls in flight, the server answers in 100 ms but the later calls
    wait about a second for their turn: health.csv reports the 100 ms and the wait separately."""
    fake_openrouter.configure(latency_ms=100)
    cfg = _cfg(fake_openrouter, "scenario.limit=4", "run.concurrency=12", "run.cache=false", "rate_limit.rps=10",
               "rate_limit.burst=1", judge=False)
    run_job(prepare_job(cfg), tmp_path / "job")
    records = list(read_jsonl(tmp_path / "job" / "run.jsonl"))
    assert len(records) == 12 and all(r["queued_s"] is not None for r in records)
    own = sorted(r["latency_s"] - r["queued_s"] for r in records)
    waits = sorted(r["queued_s"] for r in records)
    assert 0.09 <= own[len(own) // 2] < 0.5, own  # about the server's 100 ms
    assert waits[-1] >= 0.8, waits  # the 12th call waited for about 11 tokens at 10/s
    from sycobench.config import ReportConfig
    from sycobench.report import write_report

    write_report([tmp_path / "job"], tmp_path / "report", ReportConfig(bootstrap=200))
    row = pl.read_csv(tmp_path / "report" / "health.csv").row(0, named=True)
    assert (row["target_calls"], row["judge_calls"]) == (12, 0)
    assert 0.09 <= row["latency_p50_s"] < 0.5 and row["queued_p50_s"] >= 0.3
