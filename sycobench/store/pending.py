"""The answers a scorer has still to score: found once as row numbers in the run records (4 bytes an
answer), then read back with their text and prompt a block at a time, so a large job is never held in
memory whole, and no set of every answer's key is kept in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from sycobench.errors import DataError
from sycobench.records import ANSWER_KEY, RUN_FIELDS, Answer

__all__ = ["ANSWER_COLUMNS", "ROW", "Pending", "first_rows", "take_rows"]

_KEY = list(ANSWER_KEY)
# What a scorer reads of each answer (the text, but never the params or the call accounting).
ANSWER_COLUMNS = {name: RUN_FIELDS[name] for name in (
    "run_id", "job_id", "model_id", "prompt_id", "triplet_id", "scenario", "perspective", "k", "error",
    "response_text", "turn", "messages")}
ROW = "_row"  # a record's row number in its file


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
        self._pending = first_rows(runs).join(done.lazy(), on=_KEY, how="anti").select(ROW).collect()[ROW].sort()
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
        for _, _, picked in take_rows(self._pending, self._blocks()):
            if picked["error"].null_count() != picked.height:  # rows moved: the file changed under the lock
                raise DataError(f"{self._source} changed while its answers were being scored; score again")
            yield _answers(picked, prompts)


def first_rows(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Each answer's key and its row number (ROW) in the run records: its first successful line, so a key
    answered twice counts once. `runs`: the records' key and `error` columns, in file order."""
    return (runs.with_row_index(ROW).filter(pl.col("error").is_null())
            .unique(_KEY, keep="first", maintain_order=True).drop("error"))


def take_rows(wanted: pl.Series, blocks: Iterable[pl.DataFrame]) -> Iterator[tuple[int, int, pl.DataFrame]]:
    """The records numbered `wanted` (sorted; a number may repeat) of a file read `blocks` at a time: for
    each block that holds some, where they sit in `wanted` (`lo`, `hi`) and those records, in that order."""
    start = 0
    for block in blocks:
        end = start + block.height
        lo, hi = wanted.search_sorted(start, side="left"), wanted.search_sorted(end, side="left")
        if hi > lo:
            rows = wanted.slice(lo, hi - lo) - start
            # every record of the block once (sorted: in order), a finished job's usual case: the block, not a copy
            yield lo, hi, block if rows.len() == block.height == rows.n_unique() else block[rows]
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
