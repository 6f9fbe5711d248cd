"""Planning the calls a job still has to make, and the bounded loop that makes them."""

from __future__ import annotations

import asyncio
import time

from sycobench.config import ScenarioConfig
from sycobench.records import run_record
from sycobench.runner import Call, plan_calls, run_bounded
from sycobench.scenario import build_grid
from sycobench.store import RUN, JobFolder

MODEL = "sycobench/mock"


def _answer(prompt_id: str, k: int, *, ok: bool) -> dict:
    error = None if ok else {"class": "server_error", "status": 500, "message": "boom"}
    return run_record(model_id=MODEL, prompt_id=prompt_id, k=k, response_text="An answer." if ok else None,
                      error=error)


def test_a_plan_lists_the_calls_an_earlier_run_left(tmp_path) -> None:
    grid = build_grid(ScenarioConfig())[:3]
    a, b, c = (p.prompt_id for p in grid)
    folder = JobFolder(tmp_path)
    folder.make()
    with folder.writer(RUN) as writer:
        writer.write_many([_answer(a, 0, ok=True), _answer(a, 1, ok=False), _answer(b, 0, ok=True),
                           _answer(b, 1, ok=True), _answer(b, 2, ok=True), _answer(c, 7, ok=True)])
    keep = plan_calls(folder, grid, model_id=MODEL, samples=3, retry_errors=False)
    assert [(call.prompt.prompt_id, call.k) for call in keep.calls] == [(a, 2), (c, 0), (c, 1), (c, 2)]
    assert (keep.planned, keep.skipped, keep.reasked, keep.to_make) == (9, 5, 0, 4)
    again = plan_calls(folder, grid, model_id=MODEL, samples=3, retry_errors=True)
    assert [(call.prompt.prompt_id, call.k) for call in again.calls] == [(a, 1), (a, 2), (c, 0), (c, 1), (c, 2)]
    assert (again.skipped, again.reasked, again.to_make) == (4, 1, 5)
    calls = again.calls
    assert len(calls) == 5 and calls[0] == Call(grid[0], 1) and calls[-1] == Call(grid[2], 2)
    assert calls[1:3] == [Call(grid[0], 2), Call(grid[2], 0)] and list(calls) == list(calls)  # iterable again
    counted = plan_calls(folder, grid, model_id=MODEL, samples=3, retry_errors=True, count_only=True)
    assert counted.todo == {a: 2, b: 0, c: 3} and counted.to_make == 5 and not counted.calls


def test_work_that_never_waits_still_gives_the_event_loop_turns() -> None:
    """An offline model never waits; signals, progress lines and the loop's timer cleanup still run."""
    done: list[int] = []
    seen_by_other_task: list[int] = []

    def busy(_: int) -> None:
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass

    async def work(item: int) -> None:
        busy(item)
        done.append(item)

    async def main() -> None:
        async def other() -> None:
            while len(done) < 300:
                seen_by_other_task.append(len(done))
                await asyncio.sleep(0)

        watcher = asyncio.ensure_future(other())
        assert await run_bounded(range(300), work, concurrency=4) is None
        await watcher

    asyncio.run(main())
    assert sorted(done) == list(range(300))
    assert any(0 < n < 300 for n in seen_by_other_task)  # the other task ran while the work went on


def test_the_gaps_of_a_job_count_planned_calls_only(tmp_path) -> None:
    grid = build_grid(ScenarioConfig())[:3]
    a, b, c = (p.prompt_id for p in grid)
    folder = JobFolder(tmp_path)
    folder.make()
    with folder.writer(RUN) as writer:  # b 0..2 answered, a 0 answered and a 1 failed twice; c 7 and a foreign
        writer.write_many([_answer(a, 0, ok=True), _answer(a, 1, ok=False), _answer(a, 1, ok=False),
                           _answer(b, 0, ok=True), _answer(b, 1, ok=True), _answer(b, 2, ok=True),
                           _answer(c, 7, ok=True), _answer("not-in-the-grid", 0, ok=True)])
    with folder.writer("scores") as writer:
        writer.write_many([{"model_id": MODEL, "prompt_id": b, "k": k, "scorer": "offline", "error": None,
                            "score": 0.1} for k in range(3)])
    ids = [p.prompt_id for p in grid]
    assert folder.gaps(ids, 3, MODEL, None) == "1 of 9 calls failed after retries; 4 of 9 calls not made yet"
    assert folder.gaps(ids, 3, MODEL, "offline") == ("1 of 9 calls failed after retries; 4 of 9 calls not made "
                                                     "yet; 1 answers have no score from offline (the scorer's call "
                                                     "failed)")
    assert folder.gaps(ids, 3, "another/model", None) == "9 of 9 calls not made yet"
    assert folder.gaps(ids[1:2], 3, MODEL, "offline") == ""
