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


def test_inside_a_running_event_loop(tmp_path) -> None:
    async def notebook() -> tuple:
        awaited = await arun(compose(OVERRIDES), job_dir=tmp_path / "awaited")
        blocking = run(compose(OVERRIDES), job_dir=tmp_path / "blocking")  # works too, on a helper thread
        return awaited, blocking

    awaited, blocking = asyncio.run(notebook())
    assert awaited.status == blocking.status == "ok"
    assert awaited.records.height == blocking.records.height == 9


def test_errors_surface_in_the_caller(tmp_path) -> None:
    from sycobench.errors import ConfigError

    with pytest.raises(ConfigError, match="run.concurrency"):
        run(compose([*OVERRIDES, "run.concurrency=0"]), job_dir=tmp_path / "bad")

    async def inside() -> None:
        run(compose([*OVERRIDES, "run.concurrency=0"]), job_dir=tmp_path / "bad2")

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
    assert (tmp_path / "outputs" / "notebook" / "quickstart" / "run.jsonl").exists()
    assert any("sycophancy_index" in str(o.get("data", {})) for o in outputs)
