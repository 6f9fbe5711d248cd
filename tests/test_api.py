"""The notebook API: compose, run and arun, repeatedly, from anywhere, inside a running loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest

from sycobench import arun, compose, run

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


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not any(o.output_type == "error" for o in outputs)
    assert len(list((tmp_path / "outputs" / "notebook").glob("*/*/run.jsonl"))) == 1
    assert any("sycophancy_index" in str(o.get("data", {})) for o in outputs)
