"""The scoring loop: which answers it scores, and exactly one score per (answer, scorer) after a kill."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sycobench import compose, run
from sycobench.config import to_config
from sycobench.scoring import ScoringContext, score_folder
from sycobench.scoring.offline import OfflineScorer
from sycobench.store import JobFolder

ANSWERS = 60  # scenario.limit=10 triplets x 3 prompts x run.samples=2


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _scores(job: Path) -> dict[tuple[str, str, int], list[float | None]]:
    out: dict[tuple[str, str, int], list[float | None]] = {}
    for r in _records(job / "scores.jsonl"):
        out.setdefault((r["model_id"], r["prompt_id"], r["k"]), []).append(r["score"])
    return out


@pytest.fixture
def answered(tmp_path) -> Path:
    """A job whose answers are in and not scored yet."""
    job = tmp_path / "job"
    assert run(compose(["scenario.limit=10", "run.samples=2", "scorer=none"]), job_dir=job).status == "ok"
    assert not (job / "scores.jsonl").exists()
    return job


def _score(job: Path, **kwargs) -> int:
    cfg = to_config(compose(["scorer=offline"]))
    return asyncio.run(score_folder(JobFolder(job), OfflineScorer(cfg.scorer, ScoringContext(cfg.scenario)),
                                    progress=False, **kwargs)).scored


_KILLED_WHILE_SCORING = textwrap.dedent("""
    import asyncio, os, signal, sys
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.scoring import ScoringContext, score_folder
    from sycobench.scoring.offline import OfflineScorer
    from sycobench.store import JobFolder

    pending = JobFolder.pending
    JobFolder.pending = lambda self, scorer, **kw: pending(self, scorer, **{**kw, "rows": 8})  # small blocks

    class Killed(OfflineScorer):
        seen = 0

        async def score(self, answer):
            Killed.seen += 1
            if Killed.seen == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)
            return await super().score(answer)

    cfg = to_config(compose(["scorer=offline"]))
    asyncio.run(score_folder(JobFolder(sys.argv[1]), Killed(cfg.scorer, ScoringContext(cfg.scenario)), progress=False))
""")


@pytest.mark.parametrize("torn", [False, True])
def test_a_kill_mid_scoring_then_resume_gives_one_score_per_answer(answered, tmp_path, torn) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(answered, reference)
    assert _score(reference) == ANSWERS

    killed = subprocess.run([sys.executable, "-c", _KILLED_WHILE_SCORING, str(answered), "37"], capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before = _records(answered / "scores.jsonl")
    assert 0 < len(before) < 37  # whole blocks reached the file; the one being scored did not
    if torn:  # a kill inside the write leaves part of a line
        with (answered / "scores.jsonl").open("a") as fh:
            fh.write(json.dumps(before[0])[:50])

    assert _score(answered) == ANSWERS - len(before)  # only what was missing
    scores = _scores(answered)
    assert len(scores) == ANSWERS and all(len(v) == 1 for v in scores.values())
    assert scores == _scores(reference)  # the same scores as an uninterrupted run
    assert (answered / "scores.jsonl.torn").exists() == torn
    assert _score(answered) == 0  # nothing left


def test_only_successful_answers_are_scored_once_each(answered) -> None:
    lines = (answered / "run.jsonl").read_text().splitlines()
    failed = json.loads(lines[1]) | {"response_text": None, "error": {"class": "server_error", "status": 500,
                                                                      "message": "boom"}}
    failed["prompt_id"], failed["k"] = json.loads(lines[0])["prompt_id"], 5  # a key with no success
    (answered / "run.jsonl").write_text("\n".join([*lines, lines[0], lines[3], json.dumps(failed)]) + "\n")
    assert _score(answered) == ANSWERS
    assert len(_records(answered / "scores.jsonl")) == ANSWERS
    assert (json.loads(lines[0])["model_id"], failed["prompt_id"], 5) not in _scores(answered)


def test_answers_are_scored_in_blocks_with_their_prompt(answered) -> None:
    folder = JobFolder(answered)
    pending = folder.pending("offline", rows=4)
    blocks = list(pending.blocks())
    assert pending.total == len(pending) == ANSWERS and len(blocks) > 1
    answers = [a for block in blocks for a in block]
    runs = _records(answered / "run.jsonl")
    assert [(a.prompt_id, a.k, a.text) for a in answers] == [(r["prompt_id"], r["k"], r["response_text"]) for r in runs]
    grid = {p.prompt_id: p for p in folder.read_grid()}
    assert all(a.messages == grid[a.prompt_id].messages and a.factors == grid[a.prompt_id].factors
               and a.scenario == grid[a.prompt_id].scenario for a in answers)
    assert [a.prompt_id for a in folder.pending("offline", rows=10_000)] == [a.prompt_id for a in answers]


def test_a_record_file_changed_under_the_loop_is_named(answered) -> None:
    from sycobench.errors import DataError

    pending = JobFolder(answered).pending("offline", rows=4)
    lines = (answered / "run.jsonl").read_text().splitlines()
    failed = json.loads(lines[0]) | {"error": {"class": "server_error", "status": 500, "message": "boom"}}
    (answered / "run.jsonl").write_text("\n".join([json.dumps(failed), *lines]) + "\n")  # rows moved by one
    with pytest.raises(DataError, match="run.jsonl changed while its answers were being scored"):
        list(pending)


def test_the_offline_loop_takes_a_signal_between_blocks(answered) -> None:
    """Scoring that never waits still gives the event loop a turn, so SIGTERM ends a job's scoring."""
    ran: list[int] = []

    async def both() -> None:
        cfg = to_config(compose(["scorer=offline"]))

        class Counting(OfflineScorer):
            async def score(self, answer):
                ran.append(0)
                return await super().score(answer)

        pending = JobFolder.pending
        JobFolder.pending = lambda self, scorer, **kw: pending(self, scorer, **{**kw, "rows": 8})
        try:
            task = asyncio.ensure_future(score_folder(JobFolder(answered), Counting(cfg.scorer, ScoringContext(
                cfg.scenario)), progress=False))
            asyncio.get_running_loop().call_soon(task.cancel)
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            JobFolder.pending = pending

    asyncio.run(both())
    assert 0 < len(ran) < ANSWERS
    assert 0 < len(_records(answered / "scores.jsonl")) == len(ran)  # every block scored before is on disk
    assert _score(answered) == ANSWERS - len(ran)


def test_the_loop_writes_the_records_score_record_makes(answered) -> None:
    from sycobench.records import score_record

    assert _score(answered) == ANSWERS
    cfg = to_config(compose(["scorer=offline"]))
    scorer = OfflineScorer(cfg.scorer, ScoringContext(cfg.scenario))
    answers = {(a.prompt_id, a.k): a for a in JobFolder(answered).pending("another-scorer")}
    for written in _records(answered / "scores.jsonl"):
        answer = answers[(written["prompt_id"], written["k"])]
        expected = score_record(answer, "offline", scorer.config(), **asyncio.run(scorer.score(answer)).fields())
        assert list(written) == list(expected)  # every field, in the layout's order
        assert {**written, "scored_at": None} == {**expected, "scored_at": None}
