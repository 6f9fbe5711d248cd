"""The job folder contract: fingerprint refusal, the folder lock, unique default folders,
damaged records (a torn UTF-8 line, a record of the wrong shape)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sycobench.api import compose, run
from sycobench.config import to_config
from sycobench.errors import ConfigError, DataError
from sycobench.records import RUN_FIELDS, RUN_SHAPE
from sycobench.spec import prepare_job
from sycobench.store import JobFolder, claim_dir, read_jsonl
from sycobench.store.jsonl import check_records
from tests.test_cli import start_sycobench, sycobench

NO_PAGE = "report.page=false"  # these jobs are about the folder and its records; tests/test_api.py pins the page


def _print(*overrides: str) -> dict:
    return prepare_job(to_config(compose(["scenario.limit=2", *overrides]))).fingerprint


def _folder_with(tmp_path: Path, prints: dict) -> Path:
    job = tmp_path / "job"
    job.mkdir()
    (job / "job.json").write_text(json.dumps({"status": "ok", "fingerprint": prints}))
    (job / "run.jsonl").write_text("{}\n")
    return job


@pytest.mark.parametrize("override", [
    "model.sycophancy=0.9", "model.temperature=0.1", "model.max_tokens=10", "model.seed=3",
    "model.reasoning={effort:low}", "scenario.system_prompt=Hi", "scenario.explicit_role=true",
    "scenario.fact_sheet=true", "scenario.version=v2", "scenario.amounts=[25,50]", "run.samples=2",
])
def test_answer_settings_change_the_fingerprint(override) -> None:
    assert _print() != _print(override)


@pytest.mark.parametrize("override", [
    "run.concurrency=3", "rate_limit=free", "scorer=offline", "scorer=none", "report.bootstrap=500",
    "model.label=x", "run.max_cost_usd=1", "model.latency_ms=5", "run.progress=false",
])
def test_neutral_settings_keep_the_fingerprint(override) -> None:
    assert _print() == _print(override)


def test_a_folder_whose_fingerprint_held_the_offline_lexicon_still_resumes(tmp_path) -> None:
    """The offline lexicon changes scores, never an answer: it left the fingerprint, and a folder written
    while it was there (payraise's cues were once inline) resumes under a new lexicon."""
    assert not any(k.startswith("scenario.offline_cues") for k in _print("scenario=payraise"))
    old = {**_print("scenario=payraise"), "scenario.offline_cues": [{"side": "a", "weight": 1.0, "phrases": ["x"]}]}
    JobFolder(_folder_with(tmp_path, old)).check_fingerprint(_print("scenario=payraise"))
    with pytest.raises(ConfigError, match="scenario.seed"):
        JobFolder(tmp_path / "job").check_fingerprint(_print("scenario=payraise", "scenario.seed=3"))


def test_refusal_names_each_changed_key_old_and_new(tmp_path) -> None:
    job = _folder_with(tmp_path, _print("model.sycophancy=0"))
    JobFolder(job).check_fingerprint(_print("model.sycophancy=0", "run.concurrency=2"))  # neutral: accepted
    with pytest.raises(ConfigError) as err:
        JobFolder(job).check_fingerprint(_print("model.sycophancy=0.9", "run.samples=3"))
    text = str(err.value)
    assert "\n" not in text
    assert "model.sycophancy 0.0 -> 0.9" in text and "run.samples 1 -> 3" in text
    assert "new folder" in text


def test_a_folder_without_answers_takes_new_settings(tmp_path) -> None:
    job = _folder_with(tmp_path, _print("model.sycophancy=0"))
    (job / "run.jsonl").unlink()  # e.g. a dry run
    JobFolder(job).check_fingerprint(_print("model.sycophancy=0.9"))


def test_notebook_api_refuses_changed_settings(tmp_path) -> None:
    job = tmp_path / "nb"
    first = run(compose(["scenario.limit=2", "model.sycophancy=0", "report.bootstrap=100", NO_PAGE]), job_dir=job)
    assert first.status == "ok"
    before = {p.name: p.read_bytes() for p in job.iterdir() if p.is_file()}
    with pytest.raises(ConfigError, match="model.sycophancy 0.0 -> 0.9"):
        run(compose(["scenario.limit=2", "model.sycophancy=0.9", "report.bootstrap=100", NO_PAGE]), job_dir=job)
    assert {p.name: p.read_bytes() for p in job.iterdir() if p.is_file()} == before
    again = run(compose(["scenario.limit=2", "model.sycophancy=0", "report.bootstrap=100", NO_PAGE, "run.concurrency=2"]),
                job_dir=job)
    assert again.status == "ok"


@pytest.mark.slow
def test_cli_resume_with_changed_setting_is_refused_and_changes_nothing(tmp_path) -> None:
    job = tmp_path / "D"
    assert sycobench("model.sycophancy=0", "scenario.limit=3", f"hydra.run.dir={job}", cwd=tmp_path).returncode == 0
    before = {str(p): p.read_bytes() for p in job.rglob("*") if p.is_file()}
    proc = sycobench("model.sycophancy=0.9", "scenario.limit=3", f"hydra.run.dir={job}", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.sycophancy 0.0 -> 0.9" in lines[0] and "Traceback" not in proc.stderr
    assert {str(p): p.read_bytes() for p in job.rglob("*") if p.is_file()} == before


def test_lock_is_refused_while_another_process_holds_it(tmp_path) -> None:
    job = tmp_path / "job"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from sycobench.store import JobFolder\n"
         f"with JobFolder({str(job)!r}).lock():\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match="in use by another running sycobench job"):
            with JobFolder(job).lock():
                pass
    finally:
        holder.kill()
        holder.wait()
    with JobFolder(job).lock():  # released by the OS when the holder died
        with pytest.raises(ConfigError, match="in use"):  # not re-entrant: two jobs of one process are two writers
            with JobFolder(job).lock():
                pass
    with JobFolder(job).lock():  # and released on exit
        pass


@pytest.mark.slow
def test_second_cli_job_into_a_busy_folder_is_refused(tmp_path) -> None:
    job = tmp_path / "busy"
    first = start_sycobench(f"hydra.run.dir={job}", "scenario.limit=20", "model.latency_ms=150",
                            "run.concurrency=1", NO_PAGE, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not (job / "run.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (job / "run.jsonl").exists()
        second = sycobench(f"hydra.run.dir={job}", "scenario.limit=20", "model.latency_ms=150",
                           "run.concurrency=1", cwd=tmp_path)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "in use by another running sycobench job" in lines[0]
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0
    assert json.loads((job / "job.json").read_text())["status"] == "ok"


def test_claim_dir_gives_distinct_folders_in_the_same_second(tmp_path) -> None:
    names = [Path(claim_dir(str(tmp_path / "outputs"))) for _ in range(3)]
    assert len(set(names)) == 3 and all(p.is_dir() for p in names)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.parent.name) for p in names)
    assert all(re.fullmatch(r"\d{2}-\d{2}-\d{2}(-\d+)?", p.name) for p in names)


@pytest.mark.slow
def test_two_cli_jobs_started_together_get_their_own_default_folders(tmp_path) -> None:
    procs = [start_sycobench("scenario.limit=2", "report.bootstrap=100", NO_PAGE, cwd=tmp_path) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    folders = sorted(p.parent for p in (tmp_path / "outputs").glob("*/*/job.json"))
    assert len(folders) == 2
    assert all(len(list(read_jsonl(f / "run.jsonl"))) == 6 for f in folders)


def test_a_line_torn_inside_a_multibyte_character_is_set_aside(tmp_path) -> None:
    job = tmp_path / "torn"
    result = run(compose(["scenario.limit=2", "report.bootstrap=100", NO_PAGE]), job_dir=job)
    assert result.status == "ok"
    path = job / "run.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    last = lines[-1]
    euro = last.index("€".encode())
    path.write_bytes(b"".join(lines[:-1]) + last[: euro + 1])  # cut after the first byte of "€"
    assert len(list(read_jsonl(path))) == len(lines) - 1
    again = run(compose(["scenario.limit=2", "report.bootstrap=100", NO_PAGE]), job_dir=job)
    assert again.status == "ok"
    assert len(list(read_jsonl(path))) == len(lines)  # the torn call was made again
    assert (job / "run.jsonl.torn").read_bytes().startswith(last[:20])


@pytest.mark.parametrize(("line", "needle"), [
    ('{"model_id": "m", "prompt_id": "p", "k": "0", "error": null, "cached": false, "usage": {}, "response_text": "x"}', "'k'"),
    ('{"model_id": "m", "prompt_id": "p", "k": 0, "error": null, "cached": false, "usage": {}}', "missing field 'response_text'"),
    ('[1, 2]', "JSON object"),
    ('{"model_id": "m", "prompt_id": "p", "k": true, "error": null, "cached": false, "usage": {}, "response_text": "x"}', "'k'"),
    ('not json', "not a JSON line"),
])
def test_a_record_of_the_wrong_shape_is_refused_naming_file_and_line(tmp_path, line, needle) -> None:
    good = '{"model_id": "m", "prompt_id": "p", "k": 0, "error": null, "cached": false, "usage": {}, "response_text": "x"}'
    path = tmp_path / "run.jsonl"
    path.write_text(f"{good}\n{line}\n{good}\n")
    with pytest.raises(DataError) as err:
        check_records(path, RUN_SHAPE, RUN_FIELDS)
    assert f"{path}:2:" in str(err.value) and needle in str(err.value)


def test_a_damaged_record_stops_a_resume_before_any_call(tmp_path) -> None:
    job = tmp_path / "bad"
    run(compose(["scenario.limit=2", "report.bootstrap=100", NO_PAGE]), job_dir=job)
    path = job / "run.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["k"] = "zero"
    path.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    before = path.read_bytes()
    with pytest.raises(DataError, match=r"run.jsonl:2: field 'k'"):
        run(compose(["scenario.limit=2", "report.bootstrap=100", NO_PAGE]), job_dir=job)
    assert path.read_bytes() == before


def test_a_report_reads_a_jobs_grid_once_and_again_only_when_it_changes(tmp_path, monkeypatch) -> None:
    """Loading a job for a report reads grid.jsonl in one pass for its prompt ids, shared prompts and factor
    levels (not once each), and not at all for the prompts' text until the text is asked for; a grid
    rewritten is read again."""
    import importlib

    collect = importlib.import_module("sycobench.report.collect")
    job = run(compose(["scenario.limit=4", "run.progress=false", NO_PAGE]), job_dir=tmp_path / "job").job_dir
    passes, texts = [], []
    line_by_line, text = JobFolder.grid_prompts, JobFolder.prompts
    monkeypatch.setattr(JobFolder, "grid_prompts", lambda self: passes.append(1) or line_by_line(self))
    monkeypatch.setattr(JobFolder, "prompts", lambda self: texts.append(1) or text(self))
    folder = JobFolder(job)
    _, results, factors, _, answers, _, _ = collect._load(folder)
    assert len(passes) == 1 and not texts and results.height and factors.height
    levels = {(t, f): lv for t, f, lv in factors.select("triplet_id", "factor", "level").iter_rows()}
    grid = [json.loads(line) for line in (job / "grid.jsonl").read_text().splitlines()]
    assert levels == {(p["triplet_id"], str(f)): str(v) for p in grid for f, v in p["factors"].items()}
    assert answers.collect()["messages"].null_count() == 0 and len(texts) == 1 and len(passes) == 1  # when asked for
    shared = {**grid[0], "triplet_id": grid[-1]["triplet_id"]}  # a prompt serving a second triplet
    (job / "grid.jsonl").write_text("".join(json.dumps(p) + "\n" for p in [*grid, shared]))
    assert folder.shared_prompts()["prompt_id"].unique().to_list() == [grid[0]["prompt_id"]] and len(passes) == 2
    assert folder.prompt_ids().len() == len(grid) + 1 and len(passes) == 2


@pytest.fixture(scope="module")
def small_grid(tmp_path_factory) -> list[dict]:
    """The prompts of a job of three triplets, as its grid.jsonl holds them."""
    job = run(compose(["scenario.limit=3", "run.progress=false", NO_PAGE]),
              job_dir=tmp_path_factory.mktemp("grid") / "job").job_dir
    return [json.loads(line) for line in (job / "grid.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("whole", [True, False])
@pytest.mark.parametrize("damage", ["none", "extra keys", "a prompt twice", "a torn last line", "empty"])
def test_a_grids_prompts_read_whole_are_those_read_line_by_line(tmp_path, monkeypatch, small_grid, damage,
                                                                whole) -> None:
    """The prompts' text, parsed whole once the lines are checked (a large grid: a chunk at a time), is what
    the line-by-line reader gives, whatever the grid holds; a malformed line is still the DataError naming it."""
    from sycobench.store import folder as folders
    from sycobench.store.folder import _GRID_SCHEMA

    monkeypatch.setattr(folders, "_WHOLE_GRID", 1 << 20 if whole else 0)
    job, lines = tmp_path / "job", json.loads(json.dumps(small_grid))
    job.mkdir()
    text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in lines)
    if damage == "extra keys":
        lines[0]["messages"][0]["name"], lines[1]["messages"][0]["meta"] = "x", {"deep": [1, 2]}
        text = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in lines)
    elif damage == "a prompt twice":
        text += json.dumps({**lines[0], "messages": [{"role": "user", "content": "not the first"}]}) + "\n"
    elif damage == "a torn last line":
        text += '{"prompt_id": "torn", "mess'
    elif damage == "empty":
        text = ""
    (job / "grid.jsonl").write_text(text, encoding="utf-8")
    folder = JobFolder(job)
    read = folder.prompts()
    assert read.equals(folder.prompt_table().select(list(_GRID_SCHEMA)))
    assert read.height == (0 if damage == "empty" else len(lines))
    (job / "grid.jsonl").write_text(text.replace('"messages"', '"mesages"', 1) if text else '{"x": 1}\n',
                                    encoding="utf-8")
    with pytest.raises(DataError, match=r"grid\.jsonl:1"):
        JobFolder(job).prompts()
