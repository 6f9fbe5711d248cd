"""The answers a scorer has still to score: found once as row numbers in the run records (4 bytes an
answer), then read back with their text and prompt a block at a time, so a large job is never held in
memory whole, and no set of every answer's key is kept in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from sycobench.errors import DataError
from sycobench.records import ANSWER_KEY, RUN_FIELDS, Answer

__all__ = ["ANSWER_COLUMNS", "Pending"]

_KEY = list(ANSWER_KEY)
# What a scorer reads of each answer (the text, but never the params or the call accounting).
ANSWER_COLUMNS = {name: RUN_FIELDS[name] for name in (
    "run_id", "job_id", "model_id", "prompt_id", "triplet_id", "scenario", "perspective", "k", "error",
    "response_text", "turn", "messages")}
_ROW = "_row"


class Pending:
    """Successful answers that a scorer has not scored yet (`JobFolder.pending`). A key answered twice
    is scored once, at its first line.

    `total` is known at once; `blocks()` yields lists of `Answer`s (with their prompt), a block of the
    run records at a time; iterating yields the answers one by one.

    `runs`: the run records' key and `error` columns, in file order; `done`: the keys already scored;
    `blocks`: the records with ANSWER_COLUMNS, in the same order; `prompts`: `JobFolder.prompt_table`."""

    def __init__(self, runs: pl.LazyFrame, done: pl.DataFrame, *, blocks: Callable[[], Iterator[pl.DataFrame]],
                 prompts: Callable[[], pl.DataFrame], source: Path) -> None:
        self._blocks, self._prompts, self._source = blocks, prompts, source
        self._pending = (
            runs.with_row_index(_ROW).filter(pl.col("error").is_null())
            .unique(_KEY, keep="first", maintain_order=True)
            .join(done.lazy(), on=_KEY, how="anti").select(_ROW).collect()[_ROW].sort()
        )
        self.total = self._pending.len()

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[Answer]:
        for answers in self.blocks():
            yield from answers

    def blocks(self) -> Iterator[list[Answer]]:
        if not self.total:
            return
        prompts = self._prompts()
        wanted, start = self._pending, 0
        for block in self._blocks():
            end = start + block.height
            lo, hi = wanted.search_sorted(start, side="left"), wanted.search_sorted(end, side="left")
            if hi > lo:
                picked = block[wanted.slice(lo, hi - lo) - start]
                if picked["error"].null_count() != picked.height:  # rows moved: the file changed under the lock
                    raise DataError(f"{self._source} changed while its answers were being scored; "
                                    "score again")
                yield _answers(picked, prompts)
            start = end


def _answers(block: pl.DataFrame, prompts: pl.DataFrame) -> list[Answer]:
    """The block's rows as Answers; each prompt's messages and factors are made once per block."""
    asked = prompts.join(block.select("prompt_id").unique(), on="prompt_id", how="semi")
    known: dict[str, tuple[str | None, Any, list[dict[str, str]]]] = {
        pid: (scenario, None if factors is None else json.loads(factors), messages)
        for pid, scenario, factors, messages in asked.select("prompt_id", "scenario", "factors", "messages").iter_rows()
    }
    none = (None, None, None)
    columns = [block[name].to_list() for name in ("model_id", "prompt_id", "k", "triplet_id", "scenario",
                                                  "perspective", "response_text", "run_id", "job_id", "turn",
                                                  "messages")]
    out = []
    for model_id, prompt_id, k, triplet_id, scenario, perspective, text, run_id, job_id, turn, said in zip(*columns):
        p_scenario, factors, messages = known.get(prompt_id, none)
        # a later turn's record holds its conversation so far; a first turn's prompt is in the grid
        out.append(Answer(model_id=model_id, prompt_id=prompt_id, k=k, triplet_id=triplet_id,
                          scenario=scenario or p_scenario, perspective=perspective, factors=factors, text=text,
                          messages=said or messages, run_id=run_id, job_id=job_id, turn=turn))
    return out
