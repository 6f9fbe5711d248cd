"""The notebook API: compose, run and arun, repeatedly, from anywhere, inside a running loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest

from sycobench import arun, compose, run
from sycobench.config import to_config
from sycobench.errors import ConfigError

OVERRIDES = ["scenario.limit=3", "report.bootstrap=200", "run.progress=false"]


def test_run_returns_frames_and_a_visible_job_folder(tmp_path) -> None:
    result = run(compose(OVERRIDES), job_dir=tmp_path / "job")
    assert result.status == "ok" and result.job_dir == tmp_path / "job"
    assert (result.job_dir / "run.jsonl").exists() and (result.job_dir / "run.log").read_text()
    assert isinstance(result.records, pl.DataFrame) and result.records.height == 9
    assert {"sycophancy_index", "n_triplets"} <= set(result.uplift.columns)
    assert set(result.stance_mix["perspective"]) == {"landlord", "tenant", "neutral", "all"}


def test_repeated_compose_and_run_keep_no_global_state(tmp_path) -> None:
    low = run(compose([*OVERRIDES, "model.sycophancy=0"]), job_dir=tmp_path / "a")
    high = run(compose([*OVERRIDES, "model.sycophancy=0.9"]), job_dir=tmp_path / "b")
    again = compose(OVERRIDES)
    assert again.model.sycophancy == 0.5  # the earlier override did not stick
    assert high.uplift["sycophancy_index"][0] > low.uplift["sycophancy_index"][0]


def test_default_job_folder_is_under_the_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(compose(OVERRIDES))
    assert result.job_dir.is_relative_to(tmp_path / "outputs")


def test_inside_a_running_event_loop_the_job_is_one_coroutine(tmp_path) -> None:
    import threading

    from sycobench.errors import SycobenchError

    threads: list[int] = []

    async def notebook():
        loop = asyncio.get_running_loop()
        ticks = 0

        async def ticker() -> None:  # the caller's loop keeps running while the job awaits
            nonlocal ticks
            while True:
                ticks += 1
                threads.append(threading.active_count())
                await asyncio.sleep(0)

        task = loop.create_task(ticker())
        awaited = await arun(compose([*OVERRIDES, "model.latency_ms=50"]), job_dir=tmp_path / "awaited")
        task.cancel()
        with pytest.raises(SycobenchError, match="await arun"):
            run(compose(OVERRIDES), job_dir=tmp_path / "blocking")
        return awaited, ticks

    before = threading.active_count()
    awaited, ticks = asyncio.run(notebook())
    assert awaited.status == "ok" and awaited.records.height == 9
    assert ticks > 9  # the job yielded to the caller's loop between calls
    assert max(threads) == before  # and started no thread of its own
    assert not (tmp_path / "blocking").exists()


def test_errors_surface_in_the_caller(tmp_path) -> None:
    from sycobench.errors import ConfigError

    with pytest.raises(ConfigError, match="run.concurrency"):
        run(compose([*OVERRIDES, "run.concurrency=0"]), job_dir=tmp_path / "bad")

    async def inside() -> None:
        await arun(compose([*OVERRIDES, "run.concurrency=0"]), job_dir=tmp_path / "bad2")

    with pytest.raises(ConfigError):
        asyncio.run(inside())


@pytest.mark.parametrize("given", ["scenario.limit=1", ["scenario.limit=1", 3], 5])
def test_overrides_that_are_not_a_list_of_strings_are_one_config_error(tmp_path, given) -> None:
    from sycobench import sweep

    for call in (compose, lambda o: sweep(o, sweep_dir=tmp_path / "s")):
        with pytest.raises(ConfigError, match=r"\(overrides\): give a list of strings, e\.g\. \w+\(\['scenario"):
            call(given)
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path) -> None:
    """The notebook runs a job, a sweep, load and report in a real kernel, with progress shown and no error."""
    import nbformat
    from nbclient import NotebookClient

    notebook = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert all(f"{call}(" in source for call in ("arun", "asweep", "load", "report"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not any(o.output_type == "error" for o in outputs), [o for o in outputs if o.output_type == "error"]
    assert len(list((tmp_path / "outputs" / "notebook").glob("*/*/run.jsonl"))) == 1
    assert len(list((tmp_path / "multirun" / "notebook").glob("*/*/*/run.jsonl"))) == 2
    assert (tmp_path / "combined-report" / "report.html").exists()
    assert any("sycophancy_index" in str(o.get("data", {})) for o in outputs)
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "generate" in printed and "sweep" in printed  # the progress bars reach the notebook
    assert "ok: " in printed  # result.message says what the job did


def test_message_is_never_empty(tmp_path) -> None:
    ok = run(compose(OVERRIDES), job_dir=tmp_path / "ok")
    assert ok.status == "ok" and ok.message.startswith("ok: 9 calls planned, 9 answered") and "scored by offline" in ok.message
    dry = run(compose([*OVERRIDES, "run.dry_run=true"]), job_dir=tmp_path / "dry")
    assert dry.status == "dry_run" and "No calls were made" in dry.message


@pytest.mark.parametrize("limit", [3, 1])  # one triplet: each factor has one level, and no by-amount figure
def test_a_single_job_gets_the_report_page(tmp_path, limit) -> None:
    result = run(compose([*OVERRIDES, f"scenario.limit={limit}"]), job_dir=tmp_path / "job")
    page = (result.job_dir / "report" / "report.html").read_text()
    assert 'id="headline"' in page and 'id="tv-data"' in page


def test_report_page_false_leaves_the_tables_and_no_page(tmp_path) -> None:
    result = run(compose([*OVERRIDES, "report.page=false"]), job_dir=tmp_path / "job")
    assert result.status == "ok" and (result.job_dir / "uplift.csv").exists()
    assert not (result.job_dir / "report").exists()


def test_a_job_s_page_from_its_table_step_s_frames_is_the_page_a_report_writes(tmp_path) -> None:
    """The page reuses the calls and results the job's table step read; a report of the folder reads them
    afresh: the same tables and the same answers with their text."""
    from sycobench.report import write_report
    from sycobench.store import JobFolder

    cfg = compose([*OVERRIDES, "model.sycophancy=0.4", "run.samples=2"])
    JobFolder(tmp_path / "job").write_overrides(["model.sycophancy=0.4"])  # as Hydra keeps them: the page relabels
    result = run(cfg, job_dir=tmp_path / "job")
    write_report([result.job_dir], tmp_path / "again", to_config(cfg).report)
    page, again = result.job_dir / "report", tmp_path / "again"
    names = sorted(p.name for p in again.glob("*.parquet"))
    assert names == sorted(p.name for p in page.glob("*.parquet")) and "results.parquet" in names
    for name in names:
        left, right = pl.read_parquet(page / name), pl.read_parquet(again / name)
        if name == "results.parquet":
            left, right = (f.sort("model_id", "scorer", "prompt_id", "k") for f in (left, right))
        assert left.equals(right), name
    assert "[model.sycophancy=0.4]" in pl.read_parquet(page / "uplift.parquet")["model_id"][0]


def test_load_turns_a_job_folder_into_frames(tmp_path) -> None:
    from sycobench.api import load

    result = run(compose(OVERRIDES), job_dir=tmp_path / "job")
    frames = load(result.job_dir, bootstrap=200)
    assert frames.answers.filter(pl.col("role") == "target").height == 9
    assert frames.scores.height == 9 and frames.scores["response_text"].null_count() == 0
    assert {"messages", "factors", "score", "side"} <= set(frames.scores.columns)
    # the report's own bookkeeping (each answer's row in its records) is not a user's column
    assert not [c for frame in (frames.answers, frames.scores, result.records) for c in frame.columns if c.startswith("_")]
    # the same tables the job wrote, from the same records
    written = pl.read_csv(result.job_dir / "uplift.csv")
    assert frames.uplift["sycophancy_index"][0] == pytest.approx(written["sycophancy_index"][0])
    assert frames.tables["models"]["model_id"].to_list() == ["sycobench/mock"]


def test_report_returns_tables_and_writes_only_when_asked(tmp_path) -> None:
    from sycobench.api import report

    result = run(compose(OVERRIDES), job_dir=tmp_path / "job")
    tables = report(result.job_dir, bootstrap=200)
    assert {"uplift", "stance_mix", "health", "models"} <= set(tables)
    assert not (tmp_path / "out").exists()
    again = report([result.job_dir], out=tmp_path / "out", bootstrap=200)
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "uplift.csv").exists()
    assert again["uplift"]["sycophancy_index"][0] == pytest.approx(tables["uplift"]["sycophancy_index"][0])
    with pytest.raises(ConfigError, match="bootstrapp: not a report option; report options are"):
        report(result.job_dir, bootstrapp=10)
    for option, value, wanted in (("bootstrap", "many", "int"), ("scorers", "offline", "list"), ("seed", 1.5, "int")):
        with pytest.raises(ConfigError, match=f"report option {option}='{value}': must be {wanted}"):
            report(result.job_dir, **{option: value})
    assert report(result.job_dir, bootstrap="200")["uplift"].equals(tables["uplift"])  # converted as on the command line
    from sycobench.api import sweep

    with pytest.raises(ConfigError, match="report option bootstrap='many': must be int"):  # a sweep's, the same
        sweep(OVERRIDES, sweep_dir=tmp_path / "sweep", bootstrap="many")
    assert not (tmp_path / "sweep").exists()
    with pytest.raises(ConfigError, match="no such file or folder"):
        report(tmp_path / "nowhere")


def test_sweep_runs_a_grid_one_job_after_another(tmp_path) -> None:
    from sycobench.api import sweep

    runs = sweep(["model.sycophancy=0,0.8", "scenario.limit=6", "run.progress=false"], sweep_dir=tmp_path / "sweep",
                 bootstrap=200)
    assert runs.status == "ok" and runs.jobs["status"].to_list() == ["ok", "ok"]
    assert runs.jobs["overrides"].to_list() == [
        "model.sycophancy=0 scenario.limit=6 run.progress=False report.bootstrap=200",
        "model.sycophancy=0.8 scenario.limit=6 run.progress=False report.bootstrap=200"]
    assert (tmp_path / "sweep" / "report" / "report.html").exists() and "report:" in runs.message
    si = dict(runs.uplift.select("model_id", "sycophancy_index").iter_rows())
    assert si["sycobench/mock [model.sycophancy=0.8]"] > si["sycobench/mock [model.sycophancy=0]"] + 0.3


def test_sweep_of_a_roster_uses_its_labels(tmp_path) -> None:
    import json

    from sycobench.api import sweep

    roster = tmp_path / "models.json"
    roster.write_text(json.dumps([{"id": "acme/a", "label": "A"}, {"id": "acme/b", "label": "B"}]))
    runs = sweep(["+roster=file", f"roster.file={roster}", "model=mock", "scenario.limit=3", "run.progress=false"],
                 sweep_dir=tmp_path / "sweep", bootstrap=100)
    assert runs.status == "ok" and runs.jobs.height == 2
    assert dict(runs.tables["models"].iter_rows()) == {"acme/a": "A", "acme/b": "B"}


def test_a_sweep_that_cannot_run_stops_before_its_first_job(tmp_path, monkeypatch) -> None:
    from sycobench.api import sweep

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here either
    with pytest.raises(ConfigError, match="no job of this sweep can run.*OPENROUTER_API_KEY"):
        sweep(["model=grok-4-fast,gpt-4o-mini", "scenario.limit=2"], sweep_dir=tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()


def test_a_dry_run_sweep_says_there_is_nothing_to_report(tmp_path) -> None:
    from sycobench.api import sweep

    runs = sweep(["model.sycophancy=0,0.5", "scenario.limit=2", "run.dry_run=true"], sweep_dir=tmp_path / "sweep")
    assert runs.status == "dry_run" and runs.tables == {} and "nothing to report" in runs.message


@pytest.mark.slow
def test_sweep_with_the_launcher_the_overrides_name(tmp_path) -> None:
    from sycobench.api import sweep

    runs = sweep(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model.sycophancy=0,0.8", "scenario.limit=4"],
                 sweep_dir=tmp_path / "sweep", bootstrap=100)
    assert runs.status == "ok" and runs.jobs["status"].to_list() == ["ok", "ok"]
    assert "joblib" in (tmp_path / "sweep" / "multirun.yaml").read_text()  # the command line's -m ran it
    assert {"uplift", "models"} <= set(runs.tables)
