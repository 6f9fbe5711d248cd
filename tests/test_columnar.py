"""Columnar copies of finished jobs: written at the end of a job or a re-scoring, used only while
fresh, never half-written, and giving exactly the tables the JSONL gives."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sycobench import compose
from sycobench.config import ReportConfig, ScorerConfig, to_config
from sycobench.job import run_job
from sycobench.spec import prepare_job
from sycobench.records import RUN_FIELDS, SCORE_FIELDS
from sycobench.report import build_report
from sycobench.report.collect import RESULT_KEY, Collected, collect
from sycobench.report.load import factor_map, load_calls, load_results
from sycobench.store import ROW, JobFolder, columnar
from sycobench.store.columnar import COPY_SCHEMAS, copy_path, fresh_copy, write_copies, write_copy

REPORT = ReportConfig(bootstrap=200, seed=3)


def _job(path: Path, *overrides: str) -> Path:
    cfg = to_config(compose(["scenario.limit=6", "run.samples=2", "run.progress=false", "report.bootstrap=100",
                             "rate_limit=unlimited", *overrides]))
    return run_job(prepare_job(cfg), path).job_dir


def _jsonl_only(job_dir: Path) -> None:
    for name in COPY_SCHEMAS:
        copy_path(job_dir, name).unlink(missing_ok=True)


def _frames(job_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    calls = load_calls(JobFolder(job_dir))
    return calls, load_results(JobFolder(job_dir), calls=calls)


def _assert_same(a: tuple[pl.DataFrame, ...], b: tuple[pl.DataFrame, ...]) -> None:
    for left, right in zip(a, b, strict=True):
        key = [c for c in ("role", "model_id", "scorer", "prompt_id", "k") if c in left.columns]
        assert_frame_equal(left.sort(key, nulls_last=True), right.sort(key, nulls_last=True))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """Two mock models (one with failing calls), two samples, scored by offline and human labels."""
    from sycobench.config import RateLimitConfig
    from sycobench.score import ScoreAppConfig, score_path

    root = tmp_path_factory.mktemp("columnar") / "sweep"
    first = _job(root / "0", "model.sycophancy=0.8")
    _job(root / "1", "model.id=sycobench/mock-b", "model.sycophancy=0.1", "model.failure_rate=0.2",
         "rate_limit.max_attempts=1")
    runs = [json.loads(line) for line in (first / "run.jsonl").read_text().splitlines()]
    labels = root.parent / "labels.csv"
    labels.write_text("prompt_id,k,score\n" + "".join(
        f"{r['prompt_id']},{r['k']},{0.5 if r['perspective'] == 'landlord' else -0.25 * r['k']}\n" for r in runs))
    app = ScoreAppConfig(run_dir=str(first), scorer=ScorerConfig(name="human", labels=str(labels)),
                         rate_limit=RateLimitConfig())
    assert score_path(first, app) == len(runs)
    return root


def test_a_finished_job_has_fresh_copies_of_every_typed_field(sweep) -> None:
    for job_dir in (sweep / "0", sweep / "1"):
        for name, fields in (("run", RUN_FIELDS), ("scores", SCORE_FIELDS)):
            copy = fresh_copy(job_dir, name)
            assert copy is not None, f"{job_dir.name}/{name}"
            schema = pl.read_parquet_schema(copy)
            assert {k: v for k, v in fields.items() if v != pl.Object} == dict(schema)
            lines = (job_dir / f"{name}.jsonl").read_text().count("\n")
            assert pl.scan_parquet(copy).select(pl.len()).collect().item() == lines
            stamp = json.loads(pl.read_parquet_metadata(copy)["sycobench.source"])
            assert stamp["lines"] == lines and stamp["bytes"] == (job_dir / f"{name}.jsonl").stat().st_size
    assert "scenario" in RUN_FIELDS and "scenario" in COPY_SCHEMAS["run"]  # issue 16's column travels too
    calls = load_calls(JobFolder(sweep / "1"))
    assert calls["error_class"].drop_nulls().len() > 0  # the failing model's errors are in the copy


def test_a_copy_names_the_columns_null_in_every_row_and_reads_as_its_jsonl(sweep, tmp_path, monkeypatch) -> None:
    """Readers make the columns a copy names as null instead of decoding them: it names exactly those, checked
    over every block (here the failing model's errors come last, in the last of many blocks)."""
    from sycobench.store.jsonl import read_frame

    job_dir = tmp_path / "job"
    shutil.copytree(sweep / "1", job_dir)
    lines = (job_dir / "run.jsonl").read_text().splitlines(keepends=True)
    failed = [line for line in lines if json.loads(line)["error"] is not None]
    assert failed and len(failed) < len(lines)
    (job_dir / "run.jsonl").write_text("".join([line for line in lines if line not in failed] + failed))
    monkeypatch.setattr(columnar, "_BLOCK_BYTES", 2_000)  # many blocks
    for name, schema in COPY_SCHEMAS.items():
        assert write_copy(job_dir, name) is not None
        jsonl = read_frame(job_dir / f"{name}.jsonl", schema)
        null = {c for c in schema if jsonl[c].null_count() == jsonl.height}
        named = set(json.loads(pl.read_parquet_metadata(copy_path(job_dir, name))["sycobench.null_columns"]))
        assert named == null and (name != "run" or ("error" not in named and "messages" in named))
        assert_frame_equal(JobFolder(job_dir).scan(name, schema).collect(), jsonl)
        blocks = pl.concat(JobFolder(job_dir).blocks(name, schema, rows=7))
        assert_frame_equal(blocks, jsonl)

    # a column named null is made, not read: a copy that named a column wrongly would read as nulls there
    copy = copy_path(job_dir, "run")
    metadata = pl.read_parquet_metadata(copy)
    whole = pl.read_parquet(copy)
    whole.write_parquet(copy, metadata={**metadata, "sycobench.null_columns": json.dumps(["usage", "latency_s"])})
    assert fresh_copy(job_dir, "run") == copy  # still the source's copy
    made = JobFolder(job_dir).scan("run", ["prompt_id", "usage", "latency_s"]).collect()
    assert made.height == whole.height == made["usage"].null_count() == made["latency_s"].null_count()
    assert JobFolder(job_dir).scan("run", ["usage"]).collect().height == whole.height  # not one row of a literal
    assert JobFolder(job_dir).null_columns("run") == {"usage", "latency_s"}
    # a copy from before copies named their null columns reads every column
    whole.write_parquet(copy, metadata={"sycobench.source": metadata["sycobench.source"]})
    assert JobFolder(job_dir).null_columns("run") == set()
    assert_frame_equal(JobFolder(job_dir).scan("run", COPY_SCHEMAS["run"]).collect(),
                       read_frame(job_dir / "run.jsonl", COPY_SCHEMAS["run"]))
    # a name list that does not read is no copy to trust: the JSONL is read
    whole.write_parquet(copy, metadata={**metadata, "sycobench.null_columns": "\x00not json"})
    assert fresh_copy(job_dir, "run") is None and JobFolder(job_dir).null_columns("run") == set()
    assert_frame_equal(JobFolder(job_dir).scan("run", COPY_SCHEMAS["run"]).collect(),
                       read_frame(job_dir / "run.jsonl", COPY_SCHEMAS["run"]))


def test_tables_from_copies_equal_tables_from_the_jsonl(sweep, tmp_path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(sweep, plain)
    for job_dir in (plain / "0", plain / "1"):
        _jsonl_only(job_dir)
    assert all(fresh_copy(sweep / j, n) for j in "01" for n in COPY_SCHEMAS)
    fast, slow = collect([sweep]), collect([plain])
    assert set(fast.results["scorer"]) == {"offline", "human:labels"} and fast.results["k"].n_unique() == 2
    renamed = lambda frame: frame.with_columns(pl.col("job").str.replace(str(plain), str(sweep), literal=True))  # noqa: E731
    _assert_same((fast.results, fast.calls), (renamed(slow.results), renamed(slow.calls)))
    texts = [renamed(data.with_text(data.results.lazy()).collect()) for data in (fast, slow)]
    _assert_same(texts[:1], texts[1:])  # and the text behind them, streamed from either
    report = ReportConfig(bootstrap=200, seed=3, scorers=["offline", "human:labels"])
    tables_fast, tables_slow = build_report(fast, report), build_report(slow, report)
    assert set(tables_fast) == set(tables_slow)
    for name in tables_fast:  # the input frames are equal exactly; Polars' parallel means may differ in the
        if name not in ("jobs", "results"):  # last bit from one run to the next, whatever the source
            assert_frame_equal(tables_fast[name], tables_slow[name], rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("source", ["copies", "jsonl"])
def test_a_report_does_not_depend_on_the_order_its_records_are_in(sweep, tmp_path, source, monkeypatch) -> None:
    """The report reads each job's rows in its records' order (not sorted by key: load_results(ordered=False)),
    so records in another order (a resumed job's, a concurrent one's) must give the same tables, and every
    row the same text from the same record, read a few records at a time."""
    import importlib
    import random
    from functools import partial

    from sycobench.report import load

    collecting = importlib.import_module("sycobench.report.collect")  # the module, not the function it exports
    monkeypatch.setattr(collecting, "texted_blocks", partial(load.texted_blocks, rows=7))

    shuffled = tmp_path / "shuffled"
    shutil.copytree(sweep, shuffled)
    for job_dir in (shuffled / "0", shuffled / "1"):
        for name in ("run.jsonl", "scores.jsonl"):
            lines = (job_dir / name).read_text().splitlines()
            random.Random(name).shuffle(lines)
            (job_dir / name).write_text("".join(line + "\n" for line in lines))
        _jsonl_only(job_dir)
        if source == "copies":
            write_copies(job_dir)
    before, after = collect([sweep]), collect([shuffled])
    def renamed(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col("job").str.replace(str(shuffled), str(sweep), literal=True))

    key = ["job", "model_id", "scorer", "prompt_id", "k"]
    assert not before.results.drop(ROW).equals(renamed(after.results).drop(ROW))  # the rows come in another order
    _assert_same((before.results.drop(ROW),), (renamed(after.results).drop(ROW),))
    report = ReportConfig(bootstrap=200, seed=3, scorers=["offline", "human:labels"])
    tables = [build_report(data, report) for data in (before, after)]
    for name in tables[0]:
        if name not in ("jobs", "results"):
            assert_frame_equal(tables[0][name], renamed(tables[1][name]) if "job" in tables[1][name].columns
                               else tables[1][name], rel_tol=1e-12, abs_tol=1e-12)
    levels = [factor_map(data.factors).collect() for data in (before, after)]
    texts = [data.results_with_text(table["results"], level).collect() for data, table, level in
             zip((before, after), tables, levels)]
    assert texts[0]["response_text"].null_count() < texts[0].height
    assert_frame_equal(texts[0].sort(key), renamed(texts[1]).sort(key))


def test_an_answer_two_sources_hold_counts_once_and_only_theirs_are_compared(sweep, tmp_path) -> None:
    """A job given twice, and a copy of it under another folder, add no rows: the first source's
    row is kept; a model held by one source only keeps every row, in order."""
    twin = tmp_path / "twin"
    shutil.copytree(sweep / "0", twin)
    alone = collect([sweep])
    again = collect([sweep, sweep / "0", twin])
    assert_frame_equal(again.results, alone.results)  # in order: each job's rows in its records' order
    _assert_same((again.calls,), (alone.calls,))
    target = again.calls.filter(pl.col("role") == "target")
    assert target.height == target.unique(["model_id", "prompt_id", "k"]).height
    assert str(twin) not in set(again.results["job"])
    # a job is listed once however often it is named; a copy elsewhere is a job folder of its own
    assert again.jobs["job"].to_list() == [*alone.jobs["job"], str(twin)]
    assert collect([sweep, Path(f"{sweep}/./")]).jobs["job"].to_list() == alone.jobs["job"].to_list()


@pytest.mark.parametrize("carried", [True, False], ids=["rows-carried", "rows-found"])
@pytest.mark.parametrize("source", ["copies", "jsonl"])
def test_a_jobs_results_parquet_is_written_a_block_of_answers_at_a_time(sweep, tmp_path, source, carried,
                                                                         monkeypatch) -> None:
    """Blocks of 5 answers (so many blocks, and scorers split across them) give exactly the rows and
    text of one whole join, from the copies or from the JSONL, whether each row carries its record's
    number (as load_results gives it: no record is searched) or its record is found by its key; a row whose
    answer is gone (no record, so no number: found by key) keeps no text."""
    from sycobench.report import load
    from sycobench.report.load import load_text, sink_with_text, with_text

    job = tmp_path / "job"
    shutil.copytree(sweep / "0", job)
    scores = job / "scores.jsonl"  # a judge's replies too, each its own (the text a block must not mix up)
    judged = pl.read_ndjson(scores, infer_schema_length=None).filter(scorer="offline").with_columns(
        scorer=pl.lit("judge:some/judge"), raw=pl.concat_str(pl.lit("reply to "), "prompt_id", pl.lit(" sample "), pl.col("k").cast(pl.String)))
    with scores.open("a") as fh:
        fh.write(judged.write_ndjson())
    JobFolder(job).write_copies()
    if source == "jsonl":
        _jsonl_only(job)
    folder = JobFolder(job)
    results = load_results(folder, text=False)
    assert results[ROW].null_count() == 0 and results[ROW].n_unique() < results.height  # several scorers a record
    if carried:
        monkeypatch.setattr(load, "first_rows", lambda *a: pytest.fail("a record was searched for"))
    else:
        results = results.drop(ROW)
        orphan = results.head(1).with_columns(pl.lit("no-such-prompt").alias("prompt_id"))
        results = pl.concat([results, orphan])
    sink_with_text(results, folder, rows=5)
    written = pl.read_parquet(folder.file("results"))
    whole = with_text(results.lazy().drop(ROW, strict=False), *load_text(folder)).collect()
    key = ["model_id", "scorer", "prompt_id", "k"]
    assert written.height == results.height
    assert set(written["scorer"]) == {"offline", "human:labels", "judge:some/judge"}
    replies = written.filter(scorer="judge:some/judge")
    assert (replies["raw"] == "reply to " + replies["prompt_id"] + " sample " + replies["k"].cast(pl.String)).all()
    assert_frame_equal(written.drop("factors").sort(key), whole.sort(key))
    levels = {f["factor"]: f["level"] for f in written["factors"][0]}  # each row carries its triplet's levels
    assert levels["amount"].isdigit() and "justification" in levels
    assert written.filter(pl.col("prompt_id") == "no-such-prompt")["response_text"].to_list() == ([] if carried else [None])
    assert written["response_text"].null_count() == (0 if carried else 1)


def test_blocks_with_no_judge_replies_and_no_grid_have_the_columns_of_one_whole_join(sweep, tmp_path) -> None:
    """An offline scorer writes no replies, and an old job has no grid (no factor levels): the blocks then
    skip those joins, and must still give the whole join's rows, with `raw` and `factors` null and typed."""
    from sycobench.report.load import load_text, sink_with_text, with_text

    job = tmp_path / "job"
    shutil.copytree(sweep / "1", job)  # mock-b: offline scores only, and failed calls (rows with no text)
    (job / "grid.jsonl").unlink()
    folder = JobFolder(job)
    folder.write_copies()
    results = load_results(folder, text=False)
    assert set(results["scorer"]) == {"offline"}
    sink_with_text(results, folder, rows=5)
    written = pl.read_parquet(folder.file("results"))
    whole = with_text(results.lazy().drop(ROW), *load_text(folder)).collect()
    key = ["model_id", "scorer", "prompt_id", "k"]
    assert written.height == results.height > 5
    assert written["raw"].null_count() == written.height and written["factors"].null_count() == written.height
    assert written.schema["factors"] == pl.List(pl.Struct({"factor": pl.String, "level": pl.String}))
    assert_frame_equal(written.drop("factors").sort(key), whole.sort(key))
    assert written["response_text"].null_count() == 0


def test_the_report_streams_every_answer_with_its_text_from_the_copies(sweep, tmp_path) -> None:
    from sycobench.report import write_report

    write_report([sweep], tmp_path / "report", REPORT)
    written = pl.read_parquet(tmp_path / "report" / "results.parquet")
    expected = pl.concat([load_results(JobFolder(sweep / j)).with_columns(pl.lit(str(sweep / j)).alias("job"))
                          for j in "01"])
    assert written.height == expected.height and written["model_id"].n_unique() == 2
    assert written["response_text"].null_count() == 0 and written["messages"].null_count() == 0
    assert written["factors"].null_count() == 0
    key = ["model_id", "scorer", "prompt_id", "k"]
    assert_frame_equal(written.drop("factors").sort(key), expected.select(written.drop("factors").columns).sort(key))
    page = (tmp_path / "report" / "report.html").read_text()
    assert written["response_text"][0][:40] in page.replace("\\n", "\n")  # the transcript view got the text


def test_a_job_s_report_copies_the_job_s_results_parquet_only_while_it_holds_the_report_s_rows(tmp_path,
                                                                                                 monkeypatch) -> None:
    """A report of one job copies the results.parquet the job's table step wrote, where it holds the rows
    the report would write; a score changed behind it, or a record newer than it, and it is written afresh."""
    import sycobench.report as report_module
    from sycobench.report import write_report

    job = _job(tmp_path / "job")
    own = JobFolder(job).file("results")
    made: list[str] = []
    real = report_module._own_results

    def recorded(*args):
        found = real(*args)
        made.append("copied" if found else "written")
        return found
    monkeypatch.setattr(report_module, "_own_results", recorded)
    key = ["model_id", "scorer", "prompt_id", "k"]

    write_report([job], tmp_path / "copied", REPORT)
    assert made == ["copied"] and (tmp_path / "copied" / "results.parquet").read_bytes() == own.read_bytes()
    with monkeypatch.context() as fresh:  # what the report writes when it copies nothing
        fresh.setattr(report_module, "_own_results", lambda *a: None)
        write_report([job], tmp_path / "written", REPORT)
    assert_frame_equal(pl.read_parquet(tmp_path / "written" / "results.parquet").sort(key), pl.read_parquet(own).sort(key))

    changed = pl.read_parquet(own).with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(0.123))
                                                .otherwise("score").alias("score"))
    changed.write_parquet(own)  # newer than the records, the same columns: only the rows tell
    made.clear()
    write_report([job], tmp_path / "rescored", REPORT)
    assert made == ["written"]
    assert 0.123 not in pl.read_parquet(tmp_path / "rescored" / "results.parquet")["score"].to_list()

    scores = JobFolder(job).records("scores")
    os.utime(scores, ns=(own.stat().st_mtime_ns + 10**9,) * 2)  # a record written after the file
    shutil.copyfile(tmp_path / "copied" / "results.parquet", own)
    os.utime(own, ns=(scores.stat().st_mtime_ns - 10**9,) * 2)
    made.clear()
    write_report([job], tmp_path / "newer", REPORT)
    assert made == ["written"]


def test_results_parquet_is_written_beside_the_tables_and_lands_only_with_them(sweep, tmp_path,
                                                                               monkeypatch) -> None:
    """Unless a combined scorer adds rows to it, or records are parsed from JSONL, results.parquet is written
    while the tables are built, on a thread of its own. It lands, with report.json, only once both are done: an error in either is raised and
    leaves nothing; a wrong name in the report's options is refused before it is started."""
    import threading

    import sycobench.report as report_module
    from sycobench.errors import ConfigError, DataError
    from sycobench.report import write_report

    threads: dict[str, int] = {}

    def tracked(name: str):
        real = getattr(report_module, name)

        def run(*args, **kwargs):
            threads[name] = threading.get_ident()
            return real(*args, **kwargs)
        return run
    for name in ("build_report", "_write_results"):
        monkeypatch.setattr(report_module, name, tracked(name))
    write_report([sweep], tmp_path / "beside", REPORT)
    assert threads["build_report"] != threads["_write_results"]
    assert pl.read_parquet(tmp_path / "beside" / "results.parquet").height > 0
    threads.clear()
    write_report([sweep / "0"], tmp_path / "after", ReportConfig(bootstrap=200, seed=3, scorers=["offline", "human:labels"]))
    assert threads["build_report"] == threads["_write_results"] == threading.get_ident()  # the combined rows first
    assert "mean(offline,human:labels)" in set(pl.read_parquet(tmp_path / "after" / "results.parquet")["scorer"])
    parsed = tmp_path / "parsed"
    shutil.copytree(sweep, parsed)
    for job_dir in (parsed / "0", parsed / "1"):
        _jsonl_only(job_dir)
    threads.clear()
    write_report([parsed], tmp_path / "from-jsonl", REPORT)  # JSONL's large blocks: not beside the tables
    assert threads["build_report"] == threads["_write_results"] == threading.get_ident()

    def broken(*_args, **_kwargs):
        raise DataError("broken on purpose")
    for name in ("build_report", "_write_results"):
        with monkeypatch.context() as patched:
            patched.setattr(report_module, name, broken)
            with pytest.raises(DataError, match="broken on purpose"):
                write_report([sweep], tmp_path / name, REPORT)
        assert not (tmp_path / name).exists()  # made for the report, taken away whole
    monkeypatch.setattr(report_module, "_write_results", lambda *a: pytest.fail("written before the names were checked"))
    with pytest.raises(ConfigError, match="report.reference"):
        write_report([sweep], tmp_path / "refused", ReportConfig(bootstrap=200, reference="no/such-model"))
    assert not (tmp_path / "refused").exists()


def test_a_job_s_page_lets_go_of_the_table_step_s_frames_before_it_draws(tmp_path, monkeypatch) -> None:
    """The page reuses the frames the job's table step read, then lets them go once its tables are built:
    at 99,000 answers they held 22 MB through the transcript view, the job's peak (bench/memory.py)."""
    import gc
    import weakref

    import sycobench.report as report_module
    from sycobench.report import job as job_report
    from sycobench.report import render

    frames: list[weakref.ref] = []

    def keeping(*args, keep, **kwargs):
        tables = real_tables(*args, keep=keep, **kwargs)
        frames.extend(weakref.ref(keep[name]) for name in ("calls", "results"))
        return tables

    def collecting(*args, **kwargs):
        data = real_collect(*args, **kwargs)
        frames.extend(weakref.ref(frame) for frame in (data.calls, data.results))
        return data

    def drawing(*args, **kwargs):
        gc.collect()
        alive.extend(ref() is not None for ref in frames)
        return real_render(*args, **kwargs)

    real_tables, real_collect, real_render = job_report.write_job_report, report_module.collect, render.render_report
    alive: list[bool] = []
    monkeypatch.setattr(job_report, "write_job_report", keeping)
    monkeypatch.setattr(report_module, "collect", collecting)
    monkeypatch.setattr(render, "render_report", drawing)
    cfg = to_config(compose(["scenario.limit=6", "run.progress=false", "report.bootstrap=100", "rate_limit=unlimited"]))
    job = run_job(prepare_job(cfg), tmp_path / "job", page=True).job_dir
    assert alive == [False] * 4  # the job's two frames and the report's own two
    assert (JobFolder(job).file("report") / "report.html").exists()


def test_a_large_job_gets_its_text_a_block_at_a_time_with_the_same_rows(sweep) -> None:
    """Every row with its text, in the same order, whether a job's rows are read whole or a few at a
    time (each block reading only its own prompts' text): the single job's report page held the
    whole job's text at once (650 MB at 99,000 answers)."""
    data = collect([sweep])
    results = data.results
    whole = pl.concat(list(data._by_job(results, block=results.height)))
    blocks = list(data._by_job(results, block=7))
    assert len(blocks) > results["job"].n_unique()  # the jobs were read in several blocks each
    assert_frame_equal(pl.concat(blocks), whole)
    assert whole.height == results.height and whole["response_text"].null_count() == 0


def test_the_transcript_view_reads_the_text_of_the_jobs_it_shows_only(sweep, tmp_path) -> None:
    """The text of a job with no row shown is never read: reading every job's text at once
    held all of it in memory (the JSONL path peaked at 4.1 GB for 1M answers)."""
    plain = tmp_path / "plain"
    shutil.copytree(sweep, plain)
    for job_dir in (plain / "0", plain / "1"):
        _jsonl_only(job_dir)
    data = collect([plain])
    shown = data.results.filter(pl.col("job") == str(plain / "0"))
    (plain / "1" / "run.jsonl").write_text("not json\n")  # any read of job 1's text now fails
    rows = data.rows_with_text(shown.lazy()).collect()
    assert rows.height == shown.height and rows["response_text"].null_count() == 0
    assert rows.columns == data.with_text(shown.lazy()).collect_schema().names()


def test_rows_taken_with_their_text_are_not_read_again_and_the_rest_are(sweep, monkeypatch) -> None:
    """The transcript view's rows that the text step took with their text (`taken`) are not read again;
    the rest are read as before, and together they are exactly the rows read whole."""
    data = collect([sweep])
    whole = data.rows_with_text(data.results.lazy()).collect()
    first = str(sweep / "0")
    read: list[str] = []
    real = Collected._by_job

    def by_job(self, rows, **kwargs):
        read.extend(rows["job"].unique().to_list())
        return real(self, rows, **kwargs)

    monkeypatch.setattr(Collected, "_by_job", by_job)
    taken = whole.filter(pl.col("job") == first).with_columns(factors=pl.lit(None))  # as results_with_text's
    got = data.rows_with_text(data.results.lazy(), taken=[taken.head(5), taken.slice(5)]).collect()
    assert read == [str(sweep / "1")]
    assert_frame_equal(got.select(whole.columns).sort(RESULT_KEY), whole.sort(RESULT_KEY))


def test_a_report_s_transcript_view_takes_its_text_as_the_text_step_passes(sweep, tmp_path, monkeypatch) -> None:
    """The rows the page shows take their text from the blocks written to results.parquet (reading it again
    took a quarter of a second at a million answers), and show what reading it would."""
    from sycobench.report import write_report
    from sycobench.report.transcripts import transcript_data

    data = collect([sweep])
    results = build_report(data, REPORT)["results"]
    read = transcript_data(results, threshold=REPORT.threshold, seed=REPORT.seed, text=data.rows_with_text,
                           levels=data.factors)
    monkeypatch.setattr(Collected, "_by_job", lambda *a, **k: pytest.fail("a shown row's text was read again"))
    write_report([sweep], tmp_path / "report", REPORT)
    page = (tmp_path / "report" / "report.html").read_text()
    shown = json.loads(page.split('id="tv-data">', 1)[1].split("</script>", 1)[0])
    assert shown["counts"]["answers_shown"] == results.height and None not in shown["texts"]
    assert (shown["texts"], shown["prompts"]) == (read["texts"], read["prompts"])
    assert shown["triplets"] == read["triplets"]


def test_a_stale_copy_is_never_used(tmp_path, sweep) -> None:
    job_dir = tmp_path / "job"
    shutil.copytree(sweep / "0", job_dir)
    before = _frames(job_dir)
    run_lines = (job_dir / "run.jsonl").read_text().splitlines()
    extra = json.loads(run_lines[0]) | {"k": 7, "response_text": "I side with the landlord: pay it."}
    with (job_dir / "run.jsonl").open("a") as fh:
        fh.write(json.dumps(extra) + "\n")
    score = json.loads((job_dir / "scores.jsonl").read_text().splitlines()[0]) | {"k": 7, "score": 0.9}
    with (job_dir / "scores.jsonl").open("a") as fh:
        fh.write(json.dumps(score) + "\n")
    assert fresh_copy(job_dir, "run") is None and fresh_copy(job_dir, "scores") is None
    stale = _frames(job_dir)
    _jsonl_only(job_dir)
    _assert_same(stale, _frames(job_dir))  # exactly what the JSONL says
    assert stale[0].height == before[0].height + 1 and stale[1].filter(pl.col("k") == 7)["score"].to_list() == [0.9]


def test_a_same_size_rewrite_makes_the_copy_stale(tmp_path, sweep) -> None:
    job_dir = tmp_path / "job"
    shutil.copytree(sweep / "0", job_dir)
    path = job_dir / "scores.jsonl"
    assert fresh_copy(job_dir, "scores") is not None
    stat = path.stat()
    data = path.read_bytes()
    swapped = data.replace(b'"score":0.5', b'"score":0.4', 1)
    assert swapped != data and len(swapped) == len(data)
    path.write_bytes(swapped)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    assert fresh_copy(job_dir, "scores") is None


def test_an_interrupted_copy_leaves_nothing_that_is_used(tmp_path, sweep, monkeypatch) -> None:
    job_dir = tmp_path / "job"
    shutil.copytree(sweep / "0", job_dir)
    expected = _frames(job_dir)

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # a kill between writing the temporary file and the rename
    monkeypatch.setattr(columnar.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_copy(job_dir, "run")
    monkeypatch.undo()
    assert not copy_path(job_dir, "run").exists() and fresh_copy(job_dir, "run") is None
    assert not list(job_dir.glob(".*.tmp"))
    _assert_same(_frames(job_dir), expected)

    # half a copy at the final name (written in place by some other tool) is unreadable, so unused
    write_copy(job_dir, "run")
    whole = copy_path(job_dir, "run").read_bytes()
    copy_path(job_dir, "run").write_bytes(whole[: len(whole) // 2])
    assert fresh_copy(job_dir, "run") is None
    _assert_same(_frames(job_dir), expected)


def test_a_process_killed_while_copying_leaves_no_copy(tmp_path, sweep) -> None:
    job_dir = tmp_path / "job"
    shutil.copytree(sweep / "0", job_dir)
    _jsonl_only(job_dir)
    # a run.jsonl large enough that its copy takes a while: the same records, many times over
    lines = (job_dir / "run.jsonl").read_bytes()
    with (job_dir / "run.jsonl").open("ab") as fh:
        for _ in range(400):
            fh.write(lines)
    code = ("import sys; from pathlib import Path; from sycobench.store.columnar import write_copy; "
            "print('start', flush=True); write_copy(Path(sys.argv[1]), 'run')")
    child = subprocess.Popen([sys.executable, "-c", code, str(job_dir)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 60
    while not list(job_dir.glob(".run.parquet.*.tmp")) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if child.poll() is not None:
        pytest.skip("the copy finished before it could be killed")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert list(job_dir.glob(".run.parquet.*.tmp"))  # killed mid-write: a temporary file at most ...
    assert not copy_path(job_dir, "run").exists() and fresh_copy(job_dir, "run") is None  # ... never the copy
    assert write_copy(job_dir, "run") is not None and not list(job_dir.glob(".run.parquet.*.tmp"))  # tidied


def test_a_torn_or_corrupt_source_gets_no_copy(tmp_path, sweep) -> None:
    job_dir = tmp_path / "job"
    shutil.copytree(sweep / "0", job_dir)
    with (job_dir / "scores.jsonl").open("a") as fh:
        fh.write('{"schema": 1, "model_id": "to')  # torn by a crash
    assert write_copy(job_dir, "scores") is None and not copy_path(job_dir, "scores").exists()
    (job_dir / "run.jsonl").write_text((job_dir / "run.jsonl").read_text() + "not json\n")
    assert write_copy(job_dir, "run") is None and not copy_path(job_dir, "run").exists()
    (tmp_path / "empty").mkdir()
    assert write_copies(tmp_path / "empty") == []


def _counting(produced: dict, started: list, m: int, items: int, *, fail_at: int | None = None):
    def make():
        started.append(m)
        for i in range(items):
            if i == fail_at:
                raise ValueError(f"maker {m} broke at {i}")
            produced[m] = i + 1
            time.sleep(0.001 * ((m * 7 + i) % 3))  # makers finish in no fixed order
            yield (m, i)
    return make


def _threads_settle(before: int) -> bool:
    import threading

    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count() <= before


@pytest.mark.parametrize("wanted", [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],  # every record: each block as it is
    [0, 1, 2, 3, 4, 6, 7, 8],  # gaps
    [0, 0, 2, 3, 4, 5, 5, 7, 8, 9],  # a record twice, as many rows as a block holds
    [1, 1, 2, 3, 4],
    [9],
    [],
])
def test_records_taken_by_number_are_those_records_in_order(wanted: list[int]) -> None:
    """take_rows gives a block's records at the numbers asked for, repeats and all (a block asked for whole
    is given as it is, without a copy)."""
    from sycobench.store import take_rows

    records = pl.DataFrame({"n": range(10), "text": [f"answer {i}" for i in range(10)]})
    blocks = [records.slice(0, 5), records.slice(5, 5)]
    numbers = pl.Series(wanted, dtype=pl.UInt32)
    got = list(take_rows(numbers, blocks))
    assert [n for _, _, taken in got for n in taken["n"]] == wanted
    assert [(lo, hi) for lo, hi, _ in got] == [(lo, hi) for lo, hi in ((0, sum(w < 5 for w in wanted)),
                                                                   (sum(w < 5 for w in wanted), len(wanted)))
                                               if hi > lo]
    if wanted == list(range(10)):
        assert all(taken is block for (_, _, taken), block in zip(got, blocks))


def test_makers_read_ahead_on_threads_give_their_items_in_order_and_only_a_few_ahead() -> None:
    """The sweep's text is made a few jobs at once (collect.in_order): the items come maker after
    maker, each maker at most `depth` items (and the one in its hand) ahead of the reader, and at most
    `ahead` makers beyond the one read are started."""
    import threading

    from sycobench.report.collect import in_order

    before = threading.active_count()
    produced, started = {}, []
    makers = [_counting(produced, started, m, 6) for m in range(7)]
    got = []
    for m, i in in_order(makers, ahead=2, depth=1):
        assert produced[m] <= i + 1 + 1 + 1  # the item read, one queued, one in the maker's hand
        assert max(started) <= m + 2  # makers beyond `ahead` wait for a thread
        got.append((m, i))
    assert got == [(m, i) for m in range(7) for i in range(6)]
    assert _threads_settle(before)
    assert list(in_order([_counting({}, [], 0, 3)])) == [(0, 0), (0, 1), (0, 2)]  # one maker: no thread


def test_a_makers_error_is_raised_in_turn_and_closing_early_stops_the_threads() -> None:
    import threading

    from sycobench.report.collect import in_order

    before = threading.active_count()
    makers = [_counting({}, [], m, 4, fail_at=2 if m == 1 else None) for m in range(5)]
    got = []
    with pytest.raises(ValueError, match="maker 1 broke at 2"):
        for item in in_order(makers, ahead=3, depth=1):
            got.append(item)
    assert got == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]  # everything made before the error
    assert _threads_settle(before)
    reader = in_order([_counting({}, [], m, 50) for m in range(6)], ahead=3, depth=1)
    assert next(reader) == (0, 0)
    reader.close()  # a reader that stops early (a failed sink) leaves no thread behind
    assert _threads_settle(before)


@pytest.mark.parametrize("rows", [5, 8192])  # the job's answers in blocks, or in one
@pytest.mark.parametrize("source", ["copies", "jsonl"])
def test_an_answer_recorded_twice_shows_the_text_its_score_was_given_for(sweep, tmp_path, source, rows) -> None:
    """A key answered twice (a line pasted again, with other text and a later time): the tables keep its
    last record, but the scoring loop scored its first, so its text in results.parquet is the first's."""
    from sycobench.report.load import sink_with_text

    job = tmp_path / "job"
    shutil.copytree(sweep / "0", job)
    lines = (job / "run.jsonl").read_text().splitlines()
    again = json.loads(lines[3])
    assert again["error"] is None
    with (job / "run.jsonl").open("a") as fh:
        fh.write(json.dumps({**again, "response_text": "a later copy", "ended_at": "2099-01-01T00:00:00+00:00"}) + "\n")
    folder = JobFolder(job)
    folder.write_copies()
    if source == "jsonl":
        _jsonl_only(job)
    results = load_results(folder, text=False)
    sink_with_text(results, folder, rows=rows)
    written = pl.read_parquet(folder.file("results"))
    assert written.height == results.height and written["response_text"].null_count() == 0
    shown = written.filter(prompt_id=again["prompt_id"], k=again["k"])["response_text"]
    assert shown.len() >= 1 and set(shown) == {again["response_text"]}


def test_records_that_move_while_the_report_reads_their_text_are_named(sweep, tmp_path) -> None:
    """A block's rows are taken by their row numbers, found first: if the records moved in between, the
    report stops with the file's name instead of giving answers another answer's text."""
    from sycobench.errors import DataError
    from sycobench.report.load import factor_map, load_factors, texted_blocks

    job = tmp_path / "job"
    shutil.copytree(sweep / "0", job)
    folder = JobFolder(job)
    results = load_results(folder, text=False)
    blocks, _ = texted_blocks(results, folder, factor_map(load_factors(folder)).collect(), rows=5)
    assert sum(frame.height for frame in blocks()) == results.height
    read = folder.blocks
    folder.blocks = lambda *args, **kwargs: (block.slice(1) if i == 1 else block  # a line gone from the second block
                                             for i, block in enumerate(read(*args, **kwargs)))
    with pytest.raises(DataError, match="run.jsonl changed while its answers were being read"):
        list(blocks())


def test_a_sweep_parsed_from_jsonl_reads_its_text_one_job_at_a_time(sweep, tmp_path) -> None:
    """Text is read a few jobs ahead from columnar copies, one job at a time where a job's JSONL is parsed
    (its parse buffers are large); collect knows which it did, without looking at the files again."""
    assert not collect([sweep]).parsed and collect([sweep])._ahead() > 1
    plain = tmp_path / "plain"
    shutil.copytree(sweep, plain)
    _jsonl_only(plain / "1")
    data = collect([plain])
    assert data.parsed and data._ahead() == 1


def test_a_reader_dropped_on_one_of_its_own_threads_closes_without_error() -> None:
    """An interrupted sink may leave the reader in a reference cycle, collected by whichever thread runs the
    collector: one of the reader's own threads among them. It must then not wait for itself."""
    import threading

    from sycobench.report.collect import in_order

    before, go, reader, failed = threading.active_count(), threading.Event(), [], []

    def closing():  # a maker whose thread ends up closing the reader
        go.wait(5)
        try:
            reader[0].close()
        except BaseException as exc:  # noqa: BLE001 - what the test looks for
            failed.append(exc)
        yield (1, 0)

    reader.append(in_order([_counting({}, [], 0, 3), closing], ahead=2, depth=1))
    assert next(reader[0]) == (0, 0)
    go.set()
    assert _threads_settle(before)
    assert failed == []


def test_results_parquet_is_replaced_only_when_whole(tmp_path) -> None:
    """A report stopped while it streams results.parquet (Ctrl-C, a full disk, a bad record) keeps the last
    whole file, and leaves no part of the new one; a killed writer's leftover is removed by the next."""
    from sycobench.errors import DataError
    from sycobench.store import lazy_frames, sink_whole

    path, schema = tmp_path / "results.parquet", {"k": pl.Int64}

    def frames(*ks: int):
        return lambda: iter([pl.DataFrame({"k": [k]}, schema=schema) for k in ks])

    def broken():
        yield pl.DataFrame({"k": [5]})
        raise DataError("a record changed while it was read")

    sink_whole(lazy_frames(frames(1, 2), schema), path, row_group_size=1)
    with pytest.raises(Exception, match="a record changed while it was read"):
        sink_whole(lazy_frames(broken, schema), path, row_group_size=1)
    assert pl.read_parquet(path)["k"].to_list() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    leftover, alive = tmp_path / f".results.parquet.{dead.stdout.strip()}.tmp", tmp_path / ".results.parquet.1.tmp"
    leftover.write_bytes(b"PAR1 half a file")
    alive.write_bytes(b"PAR1 another writer's")
    sink_whole(lazy_frames(frames(3), schema), path, row_group_size=1)
    assert pl.read_parquet(path)["k"].to_list() == [3] and not leftover.exists() and alive.exists()


def test_a_failed_sink_leaves_nothing_behind_however_late_polars_writes(tmp_path) -> None:
    """Polars' sink can raise a record's error before its writer has created the file, and the writer
    then creates it: about one failure in 300 left a hidden part-file beside results.parquet."""
    from sycobench.errors import DataError
    from sycobench.store import lazy_frames, sink_whole

    def broken():
        yield pl.DataFrame({"k": [5]})
        raise DataError("a record changed while it was read")

    for i in range(300):
        folder = tmp_path / str(i)
        folder.mkdir()
        with pytest.raises(DataError):
            sink_whole(lazy_frames(broken, {"k": pl.Int64}), folder / "results.parquet", row_group_size=1)
    time.sleep(0.2)  # the late writers have long finished
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_records_read_from_a_copy_s_row_groups_are_kept_as_one_chunk(tmp_path, monkeypatch) -> None:
    """Records with no key twice skip the sort that keeps one of each, but not the copying into one chunk:
    frames joined straight from a copy's row groups, as read, held 240 MB more at a million answers."""
    from sycobench.report.load import KEY, RUN_SCHEMA, SCORE_SCHEMA, _latest

    job = _job(tmp_path / "job")
    monkeypatch.setattr(columnar, "GROUP_ROWS", 5)  # 36 answers, 72 scores: several row groups each
    write_copies(job)
    folder = JobFolder(job)
    for name, schema, keys, ts in (("run", RUN_SCHEMA, KEY, "ended_at"),
                                   ("scores", SCORE_SCHEMA, [*KEY, "scorer"], "scored_at")):
        read = folder.scan(name, schema).collect()
        assert read.n_chunks("all") != [1] * read.width  # as read: a chunk per row group
        kept = _latest(read, keys, ts)
        assert kept.n_chunks("all") == [1] * kept.width and kept.equals(read)


@pytest.mark.parametrize("source", ["copies", "jsonl"])
def test_calls_made_again_count_once_and_unscored_answers_get_a_row(tmp_path, source) -> None:
    """A call made again (a failure, then its success) counts once, as the success; a re-score replaces the
    score; an answer whose score is gone gets one `scored = false` row; a job scored whole gets none.
    Checked against a count by hand over the JSONL lines."""
    job = _job(tmp_path / "job")
    folder = JobFolder(job)
    plain = load_results(folder, text=False, unscored=True)
    assert plain["scored"].all() and plain.height == len((job / "scores.jsonl").read_text().splitlines())
    runs = [json.loads(line) for line in (job / "run.jsonl").read_text().splitlines()]
    scores = [json.loads(line) for line in (job / "scores.jsonl").read_text().splitlines()]
    first, second = runs[0], runs[1]
    failed = {**first, "response_text": None, "error": {"class": "timeout", "message": "t", "status": None},
              "ended_at": "2000-01-01T00:00:00.000+00:00"}  # an earlier failed try of the same call
    rescored = {**scores[2], "score": -0.75, "scored_at": "2999-01-01T00:00:00.000+00:00"}
    lost = (second["model_id"], second["prompt_id"], second["k"])
    kept = [s for s in scores if (s["model_id"], s["prompt_id"], s["k"]) != lost]
    with (job / "run.jsonl").open("a") as f:
        f.write(json.dumps(failed) + "\n")
    (job / "scores.jsonl").write_text("".join(json.dumps(s) + "\n" for s in [*kept, rescored]))
    if source == "copies":
        write_copies(job)
    else:
        _jsonl_only(job)
    calls = load_calls(folder)
    results = load_results(folder, calls=calls, text=False, unscored=True)
    target = calls.filter(role="target")
    assert target.height == len(runs)  # the failed try is not a call of its own
    again = target.filter(prompt_id=first["prompt_id"], k=first["k"])
    assert again.height == 1 and again["error_class"].to_list() == [None]  # the success is kept
    assert results.height == len(runs) and results.filter(~pl.col("scored")).select("prompt_id", "k").rows() == [
        (second["prompt_id"], second["k"])]
    assert results.filter(prompt_id=scores[2]["prompt_id"], k=scores[2]["k"])["score"].to_list() == [-0.75]
    order = ["model_id", "scorer", "triplet_id", "prompt_id", "k"]  # whatever order the records are in
    assert results.select(order).equals(results.select(order).sort(order))


def test_scores_in_the_answers_order_are_matched_row_for_row_as_a_join_matches_them(tmp_path, monkeypatch) -> None:
    """Scores written in the answers' own order (an offline scorer's) are matched to their answers by
    position; in any other order (a judge's, scored concurrently) by a join: the same results either way."""
    from sycobench.report import load

    job = _job(tmp_path / "job")
    _jsonl_only(job)
    folder = JobFolder(job)
    matched: list[bool] = []
    real = load._in_step
    monkeypatch.setattr(load, "_in_step", lambda *a: matched.append(real(*a) is not None) or real(*a))
    in_step = load_results(folder, text=False, unscored=True)
    lines = (job / "scores.jsonl").read_text().splitlines()
    (job / "scores.jsonl").write_text("".join(line + "\n" for line in [*lines[1:], lines[0]]))
    joined = load_results(folder, text=False, unscored=True)
    assert matched == [True, False]
    assert_frame_equal(in_step, joined)
    monkeypatch.setattr(load, "_in_step", lambda *a: None)
    assert_frame_equal(load_results(folder, text=False, unscored=True), joined)
