"""Crash-safe JSONL: whole lines, torn tails set aside, corrupt lines named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sycobench.errors import DataError
from sycobench.report.load import RUN_SCHEMA
from sycobench.store.jsonl import JsonlWriter, read_frame, read_jsonl, repair_tail


def test_writer_appends_whole_lines(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    with JsonlWriter(path) as w:
        w.write({"a": 1})
    with JsonlWriter(path) as w:
        w.write({"a": 2})
    assert path.read_text() == '{"a":1}\n{"a":2}\n'


def test_torn_last_line_is_ignored_and_set_aside(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    assert [r["a"] for r in read_jsonl(path)] == [1, 2]
    assert repair_tail(path)
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    assert '{"a": 3, "b"' in (tmp_path / "run.jsonl.torn").read_text()
    with JsonlWriter(path) as w:  # appending after a crash starts on a fresh line
        w.write({"a": 4})
    assert [r["a"] for r in read_jsonl(path)] == [1, 2, 4]


def test_corrupt_middle_line_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 3}\n')
    with pytest.raises(DataError, match=r"run\.jsonl:2: corrupt JSON line"):
        list(read_jsonl(path))


def test_polars_reader_skips_torn_tail_and_names_corrupt_line(tmp_path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"model_id": "m", "prompt_id": "p", "k": 0}\n{"model_id": "m", "pro')
    assert read_frame(path, RUN_SCHEMA).height == 1
    path.write_text('{"model_id": "m", "prompt_id": "p", "k": 0}\n{oops}\n{"model_id": "m"}\n')
    with pytest.raises(DataError, match=":2:"):
        read_frame(path, RUN_SCHEMA)


# A job folder written before records spoke of sides and before factors were free-form (main at 4c968e8:
# schema 1, rent's factors as fixed fields, columnar copies in the old layout).
OLD_JOB = Path(__file__).resolve().parent / "data" / "jobs" / "rent-v1"


def test_a_job_folder_from_before_still_loads_with_rent_mapped(tmp_path) -> None:
    from sycobench.config import ReportConfig
    from sycobench.report import write_report
    from sycobench.report.load import load_results
    from sycobench.store import JobFolder

    job = tmp_path / "old"
    shutil.copytree(OLD_JOB, job)
    folder = JobFolder(job)
    assert folder.fresh_copy("run") is None  # an old copy's layout is stale: the JSONL is read
    results = load_results(folder, text=False)
    assert results.height == 6 and set(results["side"]) == {"a", "b", "neutral"}
    assert set(results.filter(pl.col("perspective") == "landlord")["side"]) == {"a"}
    tables = write_report([job], tmp_path / "report", ReportConfig(bootstrap=100))
    assert tables["summary"].columns[6:] == ["landlord_n", "landlord_agree_p", "landlord_uplift", "tenant_n",
                                             "tenant_agree_p", "tenant_uplift"]
    old_summary = pl.read_csv(OLD_JOB / "summary.csv")
    assert_frame_equal(pl.read_csv(tmp_path / "report" / "summary.csv"), old_summary)  # the same figures as then
    assert {r for r in pl.read_csv(tmp_path / "report" / "by_factor.csv")["factor"]} >= {"amount", "justification"}


def test_a_job_folder_from_before_can_be_scored_later_and_resumed(tmp_path) -> None:
    from sycobench import compose, run
    from sycobench.config import RateLimitConfig, ScorerConfig
    from sycobench.score import ScoreAppConfig, score_path

    job = tmp_path / "old"
    shutil.copytree(OLD_JOB, job)
    runs = [json.loads(line) for line in (job / "run.jsonl").read_text().splitlines()]
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,k,score\n" + "".join(f"{r['prompt_id']},0,0.5\n" for r in runs))
    app = ScoreAppConfig(run_dir=str(job), scorer=ScorerConfig(name="human", labels=str(labels)),
                         rate_limit=RateLimitConfig())
    assert score_path(job, app) == 6
    # its settings still match: a resume makes no call and keeps every record
    again = run(compose(["scenario.limit=2", "report.bootstrap=100"]), job_dir=job)
    assert again.status == "ok" and again.totals["target"]["calls"] == 0
    assert len((job / "run.jsonl").read_text().splitlines()) == 6
