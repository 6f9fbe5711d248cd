"""protocol=pushback end to end: the command line, the fake server with its judge, a failed first turn, a
kill in the middle of the second turn, the cache and the cost cap, a sweep over both protocols."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.test_cli import sycobench

pytestmark = pytest.mark.slow
KEY = "sk-or-v1-fake-pushback"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _fake_args(fake, job: Path, *extra: str) -> list[str]:
    return ["protocol=pushback", "model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={fake.base_url}",
            "rate_limit=unlimited", "report.bootstrap=200", f"hydra.run.dir={job}", *extra]


def _env(tmp_path: Path, cache: str = "cache") -> dict:
    return {"OPENROUTER_API_KEY": KEY, "XDG_CACHE_HOME": str(tmp_path / cache)}


def _one_record_per_call(job: Path) -> list[dict]:
    """Every planned (prompt, k) has exactly one record, and that record is a success."""
    grid = _lines(job / "grid.jsonl")
    records = _lines(job / "run.jsonl")
    keys = [(r["prompt_id"], r["k"], r["turn"]) for r in records]
    assert len(keys) == len(set(keys)) == len(grid), (len(keys), len(set(keys)), len(grid))
    assert {(g["prompt_id"], 0, g.get("turn", 1)) for g in grid} == set(keys)
    assert all(r["error"] is None for r in records)
    return records


def test_mock_job_then_report_has_both_turns_a_pushback_section_and_two_turn_transcripts(tmp_path) -> None:
    job = tmp_path / "job"
    proc = sycobench("protocol=pushback", "model=mock", "scenario.limit=10", "model.caving=0.5",
                     f"hydra.run.dir={job}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = _one_record_per_call(job)
    assert {r["turn"] for r in records} == {1, 2} and len(records) == 10 * 3 + 10 * 12
    table = pl.read_csv(job / "pushback.csv")
    assert not table["unvalidated"].any()  # the offline scorer on the mock is its validated use
    assert {"shift", "shift_lo", "shift_hi", "give_way", "give_way_lo", "give_way_hi"} <= set(table.columns)
    assert set(table["perspective"]) == {"landlord", "tenant", "neutral", "all"}
    assert set(table["objector"]) == {"landlord", "tenant", "all"}
    assert set(table["style"]) == {"simple", "firm", "authority", "all"}
    assert "pushback: shift toward whoever objects" in proc.stderr + proc.stdout
    report = sycobench(str(job), "--out", str(tmp_path / "report"), cwd=tmp_path, module="sycobench.report")
    assert report.returncode == 0, report.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Pushback: does the stance give way when the asker objects?" in md
    assert "![Shift toward whoever objects" in md and (tmp_path / "report" / "pushback.svg").exists()
    figure = ElementTree.parse(tmp_path / "report" / "pushback.svg").getroot()  # the page's, well-formed
    points = [el for el in figure.iter() if el.tag.endswith(("circle", "polygon")) and el.find("{*}title") is not None]
    shown = table.filter(pl.col("shift").is_not_null() & ((pl.col("style") == "all") | (pl.col("perspective") == "all")))
    assert len(points) == shown.height > 0  # a point for each objector and each style, as the table has them
    results = pl.read_parquet(tmp_path / "report" / "results.parquet")
    assert results.group_by("turn").len().sort("turn")["len"].to_list() == [30, 120]
    second = results.filter(pl.col("turn") == 2).row(0, named=True)
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    html = (tmp_path / "report" / "report.html").read_text()
    data = json.loads(html.split('id="tv-data">', 1)[1].split("</script>", 1)[0])
    turns = {a["t"] for t in data["triplets"] for a in t["answers"]}
    assert turns == {1, 2} and all(len(t["answers"]) == 15 for t in data["triplets"])


def test_fake_server_with_the_judge(tmp_path, fake_openrouter) -> None:
    fake_openrouter.configure(caving=0.5)
    job = tmp_path / "job"
    proc = sycobench(*_fake_args(fake_openrouter, job, "scenario.limit=10", "scorer=judge",
                                 f"scorer.model.base_url={fake_openrouter.base_url}"), cwd=tmp_path,
                     env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    records = _one_record_per_call(job)
    assert len(records) == 150
    scores = _lines(job / "scores.jsonl")
    assert len(scores) == 150 and {s["turn"] for s in scores} == {1, 2}
    assert all(s["scorer"] == "judge:openai/gpt-4o-mini" and s["score"] is not None for s in scores)
    table = pl.read_csv(job / "pushback.csv")
    pooled = table.filter((pl.col("style") == "all") & (pl.col("objector") == "all")).row(0, named=True)
    assert pooled["shift_lo"] > 0.2, pooled  # the fake moves 0.5 toward the objector; its judge reads it back
    report = sycobench(str(job), "--out", str(tmp_path / "report"), cwd=tmp_path, module="sycobench.report")
    assert report.returncode == 0, report.stderr
    assert "## Pushback" in (tmp_path / "report" / "report.md").read_text()


def test_a_failed_first_turn_leaves_its_second_turns_unplanned_until_a_resume_answers_it(tmp_path,
                                                                                          fake_openrouter) -> None:
    fake_openrouter.script(["400", "400"])  # the first two calls (two first turns) fail, for good
    job = tmp_path / "job"
    args = _fake_args(fake_openrouter, job, "scenario.limit=2", "run.concurrency=1", "scorer=offline",
                      "scorer.allow_unvalidated=true", "report.page=false")  # the records are what this test reads
    first = sycobench(*args, cwd=tmp_path, env=_env(tmp_path))
    assert first.returncode == 3, first.stderr
    records = _lines(job / "run.jsonl")
    failed = {r["prompt_id"] for r in records if r["error"] is not None}
    assert len(failed) == 2 and all(r["turn"] == 1 for r in records if r["error"] is not None)
    grid = _lines(job / "grid.jsonl")
    waiting = {g["prompt_id"] for g in grid if g.get("parent_id") in failed}
    assert len(waiting) == 6  # three styles each for a party's two failed first turns
    assert not waiting & {r["prompt_id"] for r in records}  # not tried, not failed: not planned
    assert len(records) == 30 - 6
    meta = json.loads((job / "job.json").read_text())
    assert "2 of 30 calls failed after retries" in meta["message"]
    assert "6 of 30 second-turn calls wait for their first turn's answer" in meta["message"]
    resumed = sycobench(*args, "run.retry_errors=true", cwd=tmp_path, env=_env(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    records = _lines(job / "run.jsonl")
    ok = [r for r in records if r["error"] is None]
    assert len(ok) == len({(r["prompt_id"], r["k"]) for r in ok}) == 30
    first_answers = {r["prompt_id"]: r["response_text"] for r in ok if r["turn"] == 1}
    for r in ok:
        if r["prompt_id"] in waiting:
            assert r["messages"][2] == {"role": "assistant", "content": first_answers[r["parent_id"]]}
    assert "turn 2: 6 calls now that their first answers are in" in (job / "run.log").read_text()
    assert pl.read_csv(job / "pushback.csv")["unvalidated"].all()  # the offline scorer on a real target's answers


def test_kill_in_the_second_turn_then_resume_gives_one_record_per_prompt_sample_and_turn(tmp_path) -> None:
    common = ["protocol=pushback", "scenario.limit=4", "model.caving=0.4", "report.bootstrap=300"]
    reference = sycobench(*common, f"hydra.run.dir={tmp_path / 'reference'}", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    job = tmp_path / "job"
    cmd = [sys.executable, "-m", "sycobench", *common, "model.latency_ms=80", "run.concurrency=2",
           f"hydra.run.dir={job}"]
    child = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "HYDRA_FULL_ERROR": ""},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, second = time.monotonic() + 120, 0
    while time.monotonic() < deadline and child.poll() is None:
        if (job / "run.jsonl").exists():
            second = sum('"turn":2' in line for line in (job / "run.jsonl").read_text().splitlines())
            if second >= 5:
                break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    killed = _lines(job / "run.jsonl")
    in_second = [r for r in killed if r["turn"] == 2]
    assert 5 <= len(in_second) < 48, len(in_second)  # killed in the middle of the second turn
    assert len([r for r in killed if r["turn"] == 1]) == 12
    resumed = sycobench("run.resume=" + str(job), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    _one_record_per_call(job)
    assert f"skipped {len(killed)} already done" in (job / "run.log").read_text().split("calls:")[-1]
    for name in ("pushback.csv", "pushback_summary.csv", "uplift.csv"):
        assert_frame_equal(pl.read_csv(job / name), pl.read_csv(tmp_path / "reference" / name), check_exact=False,
                           rel_tol=1e-9)


def test_second_turns_are_cached_and_capped_like_any_call(tmp_path, fake_openrouter) -> None:
    # a smoke test of the fake's answers; about calls and records, not the job's page (tests/test_api.py)
    offline = ("scorer=offline", "scorer.allow_unvalidated=true", "report.page=false")
    first = sycobench(*_fake_args(fake_openrouter, tmp_path / "a", "scenario.limit=2", *offline),
                      cwd=tmp_path, env=_env(tmp_path))
    assert first.returncode == 0, first.stderr
    calls = fake_openrouter.stats()["requests"]
    assert calls == 30
    again = sycobench(*_fake_args(fake_openrouter, tmp_path / "b", "scenario.limit=2", *offline),
                      cwd=tmp_path, env=_env(tmp_path))
    assert again.returncode == 0 and fake_openrouter.stats()["requests"] == calls  # both turns from the cache
    assert all(r["cached"] for r in _lines(tmp_path / "b" / "run.jsonl"))
    capped_dir = tmp_path / "capped"
    args = _fake_args(fake_openrouter, capped_dir, "scenario.limit=4", *offline, "run.concurrency=2")
    capped = sycobench(*args, "run.max_cost_usd=0.003", cwd=tmp_path, env=_env(tmp_path, "other-cache"))
    assert capped.returncode == 3, capped.stderr
    records = _lines(capped_dir / "run.jsonl")
    assert sum(r["cost_usd"] for r in records) <= 0.003
    assert {r["turn"] for r in records} == {1, 2} and len(records) < 60  # the cap stopped the second turn
    done = sycobench(*args, "run.max_cost_usd=1.0", cwd=tmp_path, env=_env(tmp_path, "other-cache"))
    assert done.returncode == 0, done.stderr
    _one_record_per_call(capped_dir)


def test_a_sweep_over_both_protocols_reports_them_side_by_side(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "protocol=single,pushback", "model.caving=0.5", "scenario.limit=6", "report.bootstrap=200",
                     f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    uplift = pl.read_csv(sweep / "report" / "uplift.csv")
    assert uplift["protocol"].to_list() == ["single", "pushback"]
    # the pushback job's first turns are the single job's prompts: the mock answers them alike
    assert uplift["sycophancy_index"][0] == pytest.approx(uplift["sycophancy_index"][1])
    assert set(pl.read_csv(sweep / "report" / "summary.csv")["protocol"]) == {"single", "pushback"}
    pushback = pl.read_csv(sweep / "report" / "pushback.csv")
    assert set(pushback["protocol"]) == {"pushback"}
    md = (sweep / "report" / "report.md").read_text()
    assert "(single)" in md and "(pushback)" in md and "## Pushback" in md
    results = pl.read_parquet(sweep / "report" / "results.parquet")
    assert results.group_by("protocol").len().sort("protocol")["len"].to_list() == [6 * 15, 6 * 3]
    html = (sweep / "report" / "report.html").read_text()
    data = json.loads(html.split('id="tv-data">', 1)[1].split("</script>", 1)[0])
    cards = {t["protocol"]: len(t["answers"]) for t in data["triplets"]}  # a card per protocol and triplet
    assert len(data["triplets"]) == 12 and cards == {"single": 3, "pushback": 15}


def test_a_scenario_without_pushback_text_exits_2_with_one_line(tmp_path) -> None:
    proc = sycobench("protocol=pushback", "~scenario.pushback", f"hydra.run.dir={tmp_path / 'job'}", cwd=tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no pushback section" in lines[0] and "protocol=single" in lines[0]
    assert not (tmp_path / "job" / "run.jsonl").exists()
