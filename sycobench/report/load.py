"""Read job folders (and sweep folders of jobs) into the frames every table is built from.

`calls`: one row per model call (target answers and judge calls), deduplicated so a resumed
call counts once. `results`: one row per (response, scorer), joined to the call's ids and factors.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import polars as pl
import yaml
from polars.io.plugins import register_io_source

from sycobench.errors import DataError
from sycobench.records import FACTOR_TYPES, RUN_FIELDS, SCORE_FIELDS, read_jsonl
from sycobench.report.columnar import fresh_copy

__all__ = ["find_jobs", "lazy_frames", "load_calls", "load_results", "load_text", "read_blocks", "read_frame", "scan_records", "sink_with_text", "stream_frame", "with_text",
           "FACTORS", "TEXT_COLUMNS"]

FACTORS = list(FACTOR_TYPES)
# Polars' default (streaming) engine runs `unique` on these small per-job frames ~10x slower.
_ENGINE = "in-memory"
_BLOCK_BYTES = 16 << 20  # JSONL is parsed this much at a time
# The columns the tables read, typed by the one layout in sycobench.records; no text (see load_text).
RUN_SCHEMA = {name: RUN_FIELDS[name] for name in (
    "model_id", "model_label", "api", "prompt_id", "triplet_id", "scenario", "perspective", "k", "factors", "usage",
    "cost_usd", "latency_s", "cached", "error", "ended_at")}
SCORE_SCHEMA = {name: SCORE_FIELDS[name] for name in (
    "model_id", "prompt_id", "k", "scorer", "score", "unscorable", "usage", "cost_usd", "latency_s", "cached",
    "error", "scored_at")}
# What was asked and answered, carried into results.parquet and the transcript view; tables never read it.
TEXT_COLUMNS = ["messages", "response_text", "raw", "unscorable"]
_RUN_TEXT = {name: RUN_FIELDS[name] for name in ("model_id", "prompt_id", "k", "error", "response_text")}
_SCORE_TEXT = {name: SCORE_FIELDS[name] for name in ("model_id", "prompt_id", "k", "scorer", "error", "raw")}
GRID_SCHEMA = {"prompt_id": pl.String, "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String}))}


def read_frame(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Parse a JSONL file with Polars; a torn last line is ignored, a corrupt one is a DataError."""
    frames = list(read_blocks(path, schema))
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def read_blocks(path: Path, schema: dict[str, pl.DataType], *, size: int = _BLOCK_BYTES) -> Iterator[pl.DataFrame]:
    """`read_frame` in line-aligned blocks of about `size` bytes, so a reader that streams holds one block."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        while block := fh.read(size):
            block += fh.readline()
            if not block.endswith(b"\n"):  # a torn last line, left by a crash
                block = block[: block.rfind(b"\n") + 1]
            if not block or block.isspace():
                continue
            try:
                yield pl.read_ndjson(io.BytesIO(block), schema=schema)
            except pl.exceptions.ComputeError:
                for _ in read_jsonl(path):  # find and name the bad line
                    pass
                raise DataError(f"{path}: records do not match the schema in docs/records.md") from None


def lazy_frames(frames: Callable[[], Iterator[pl.DataFrame]], schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """Frames made one at a time, only when collected or sunk, as one LazyFrame (columns and
    filters pushed down to each frame)."""
    def source(columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
               _batch: int | None) -> Iterator[pl.DataFrame]:
        for frame in frames():
            frame = frame.select(columns) if columns else frame
            yield frame.filter(predicate) if predicate is not None else frame
    return register_io_source(source, schema=schema)


def stream_frame(path: Path, schema: dict[str, pl.DataType], *, size: int = _BLOCK_BYTES) -> pl.LazyFrame:
    """A JSONL file as a LazyFrame that parses it block by block, only when collected or sunk."""
    return lazy_frames(lambda: read_blocks(path, schema, size=size), schema)


def scan_records(job_dir: Path, name: str, schema: dict[str, pl.DataType], *, lazy: bool = False) -> pl.LazyFrame:
    """`<name>.jsonl`'s columns in `schema`: from its columnar copy when that is fresh (only those
    columns are read), else from the JSONL, parsed now or (`lazy`) when the frame is collected."""
    copy = fresh_copy(job_dir, name)
    if copy is not None:
        return pl.scan_parquet(copy).select(list(schema))
    path = job_dir / f"{name}.jsonl"
    return stream_frame(path, schema) if lazy else read_frame(path, schema).lazy()


def find_jobs(path: Path) -> list[Path]:
    """A job folder holds run.jsonl (or only job.json, if it failed early); a sweep folder holds
    job folders at any depth."""
    if (path / "run.jsonl").exists() or (path / "job.json").exists():
        return [path]
    found = {p.parent for p in path.rglob("run.jsonl")} | {p.parent for p in path.rglob("job.json")}
    jobs = sorted(found, key=lambda p: (len(p.parts), _num(p.name), str(p)))
    return [j for j in jobs if "report" not in j.parts]


def _num(name: str) -> int:
    return int(name) if name.isdigit() else 1 << 30


def _latest(frame: pl.LazyFrame, keys: list[str], ts: str) -> pl.LazyFrame:
    """Keep one row per key: the last success if any, else the last error (resumed calls count once)."""
    return (
        frame.with_columns(pl.col("error").is_null().alias("_ok"))
        .sort(["_ok", ts], nulls_last=False)
        .unique(subset=keys, keep="last", maintain_order=False)
        .drop("_ok")
    )


def load_calls(job_dir: Path, *, job: str | None = None,
               scores: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    runs = _latest(scan_records(job_dir, "run", RUN_SCHEMA), ["model_id", "prompt_id", "k"], "ended_at")
    target = runs.select(
        pl.lit(job or job_dir.name).alias("job"),
        "model_id",
        "api",
        pl.lit("target").alias("role"),
        "prompt_id",
        "triplet_id",
        "scenario",
        "perspective",
        "k",
        pl.col("factors").struct.unnest(),
        pl.col("error").struct.field("class").alias("error_class"),
        "latency_s",
        pl.col("cached").fill_null(False),
        pl.col("usage").struct.unnest(),
        "cost_usd",
        "model_label",
    )
    if scores is None:
        scores = scan_records(job_dir, "scores", SCORE_SCHEMA)
    judge = scores.lazy().filter(pl.col("usage").is_not_null() | pl.col("error").is_not_null()).select(
        pl.lit(job or job_dir.name).alias("job"),
        "model_id",
        pl.lit("judge").alias("role"),
        "prompt_id",
        pl.col("error").struct.field("class").alias("error_class"),
        "latency_s",
        pl.col("cached").fill_null(False),
        pl.col("usage").struct.unnest(),
        "cost_usd",
    )
    return pl.concat([target, judge], how="diagonal_relaxed").collect(engine=_ENGINE)


def load_results(job_dir: Path, *, calls: pl.DataFrame | None = None,
                 scores: pl.DataFrame | pl.LazyFrame | None = None, text: bool = True) -> pl.DataFrame:
    """One row per (response, scorer); with `text`, also the prompt, answer and judge reply
    (TEXT_COLUMNS, from load_text). Scores for unknown or failed calls are dropped."""
    if scores is None:
        scores = scan_records(job_dir, "scores", SCORE_SCHEMA)
    calls = calls if calls is not None else load_calls(job_dir, scores=scores)
    answers = calls.lazy().filter((pl.col("role") == "target") & pl.col("error_class").is_null())
    scores = _latest(scores.lazy(), ["model_id", "prompt_id", "k", "scorer"], "scored_at").filter(pl.col("error").is_null())
    party_a, party_b = _parties(job_dir)
    side = pl.col("perspective").replace_strict({party_a: "a", party_b: "b"}, default=None, return_dtype=pl.String)
    results = (
        scores.select("model_id", "prompt_id", "k", "scorer", "score", "unscorable")
        .join(answers.select("job", "model_id", "prompt_id", "triplet_id", "scenario", "perspective", "k", *FACTORS),
              on=["model_id", "prompt_id", "k"], how="inner")
        .select("job", "model_id", "scorer", "triplet_id", "prompt_id", "scenario", "perspective", side.alias("side"),
                "k", "score", *FACTORS, "unscorable")
        .sort("model_id", "scorer", "triplet_id", "prompt_id", "k")  # tables never depend on record order
    )
    if text:
        results = with_text(results, *load_text(job_dir))
    return results.collect(engine=_ENGINE)


def load_text(job_dir: Path, *, prompts: pl.LazyFrame | None = None) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The text behind the results, lazily: each answer's `messages` and `response_text` by
    (model_id, prompt_id, k), each judge reply (`raw`) by those and `scorer`. From the columnar
    copies only these columns are read, and only when collected or sunk. `prompts`: the grid's
    messages (`_prompts`), when the caller has read them already."""
    # A job holds one successful record per answer and per (answer, scorer) (docs/records.md), so the
    # text needs no dedup: sorting it, as `_latest` does, would hold all of it in memory.
    answers = scan_records(job_dir, "run", _RUN_TEXT, lazy=True).filter(pl.col("error").is_null())
    replies = scan_records(job_dir, "scores", _SCORE_TEXT, lazy=True).filter(pl.col("error").is_null())
    prompts = _prompts(job_dir) if prompts is None else prompts
    return (answers.select("model_id", "prompt_id", "k", "response_text").join(prompts, on="prompt_id", how="left"),
            replies.select("model_id", "prompt_id", "k", "scorer", "raw"))


def _prompts(job_dir: Path) -> pl.LazyFrame:
    """Each prompt's `messages`, once, from grid.jsonl (one line a prompt, not an answer). Read line
    by line: Polars' JSON reader holds several times the file for nested lists like these."""
    path = job_dir / "grid.jsonl"
    rows = []
    for number, r in enumerate(read_jsonl(path), start=1):
        messages = r.get("messages") if isinstance(r, dict) else None
        if not (isinstance(r, dict) and isinstance(r.get("prompt_id"), str) and isinstance(messages, list)
                and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)):
            raise DataError(f"{path}: prompt {number} has no prompt_id and messages as in docs/records.md; repair "
                            "that line, or remove it (its answers are then reported without their prompt)")
        rows.append((r["prompt_id"], [{"role": m.get("role"), "content": m["content"]} for m in messages]))
    return pl.DataFrame(rows, schema=GRID_SCHEMA, orient="row").lazy().unique("prompt_id", keep="first")


def _answer_blocks(job_dir: Path, rows: int) -> Iterator[pl.DataFrame]:
    """Each successful answer's keys and `response_text`, about `rows` at a time, in file order."""
    copy = fresh_copy(job_dir, "run")
    if copy is not None:
        scan = pl.scan_parquet(copy).select(list(_RUN_TEXT))
        total = pl.scan_parquet(copy).select(pl.len()).collect().item()
        for start in range(0, total, rows):  # a slice reads only the row groups it spans
            yield scan.slice(start, rows).filter(pl.col("error").is_null()).drop("error").collect()
        return
    for block in read_blocks(job_dir / "run.jsonl", _RUN_TEXT, size=rows * 1024):
        yield block.filter(pl.col("error").is_null()).drop("error")


def sink_with_text(results: pl.DataFrame, job_dir: Path, target: Path, *, rows: int = 8192) -> None:
    """`results` with the text behind each row (with_text) written to `target` (Parquet), one block
    of the job's answers at a time, in the order they were answered: memory holds one block's text."""
    keys = ["model_id", "prompt_id", "k"]
    prompts = _prompts(job_dir).collect()
    answers, replies = load_text(job_dir, prompts=prompts.lazy())
    replies = replies.filter(pl.col("raw").is_not_null())  # a scorer with no reply (offline) adds nothing
    if fresh_copy(job_dir, "scores") is None:  # parse the JSONL once, not once a block
        replies = replies.collect().lazy()
    schema = with_text(results.head(0).lazy(), answers, replies).collect_schema()

    def blocks() -> Iterator[pl.DataFrame]:
        seen = []
        for block in _answer_blocks(job_dir, rows):
            seen.append(block.select(keys))
            part = results.join(block.select(keys), on=keys, how="semi", maintain_order="left")
            if part.height:
                wanted = part.lazy().select(keys).unique()
                yield with_text(part.lazy(), block.lazy().join(prompts.lazy(), on="prompt_id", how="left"),
                                replies.join(wanted, on=keys, how="semi")).collect()
        rest = results.join(pl.concat(seen) if seen else pl.DataFrame(schema={k: results.schema[k] for k in keys}),
                            on=keys, how="anti")
        if rest.height:  # no successful answer in run.jsonl (not written by a job): the row, without text
            yield with_text(rest.lazy(), answers.head(0), replies.head(0)).collect()

    lazy_frames(blocks, schema).sink_parquet(target, row_group_size=rows, engine="streaming")


def with_text(results: pl.LazyFrame, answers: pl.LazyFrame, replies: pl.LazyFrame, *,
              by: tuple[str, ...] = ()) -> pl.LazyFrame:
    """Text-free results joined to their text (load_text); `by` adds keys such as a sweep's job.
    Rows of a derived scorer have no reply of their own: they take the answer's text only."""
    keys = [*by, "model_id", "prompt_id", "k"]
    names = results.collect_schema().names()
    columns = [c for c in names if c not in TEXT_COLUMNS]
    if "unscorable" not in names:  # legacy files say only `score`
        results = results.with_columns(unscorable=pl.lit(None, dtype=pl.String))
    return (
        results.join(answers.select(*keys, "messages", "response_text"), on=keys, how="left", maintain_order="left")
        .join(replies.select(*keys, "scorer", "raw"), on=[*keys, "scorer"], how="left", maintain_order="left")
        .select(*columns, *TEXT_COLUMNS)  # `unscorable` is the results' own
    )


def _parties(job_dir: Path) -> tuple[str, str]:
    """The job's party ids (A, B) from its config.yaml; jobs from before scenarios were data are rent."""
    path = job_dir / "config.yaml"
    try:
        parties = yaml.safe_load(path.read_text(encoding="utf-8"))["scenario"]["parties"]
        return str(parties[0]["id"]), str(parties[1]["id"])
    except (OSError, ValueError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return "landlord", "tenant"


def load_job_meta(job_dir: Path) -> dict:
    path = job_dir / "job.json"
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError(f"{path}: not a readable job.json; move it aside (the job's records are kept) and retry") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: not a job.json object; move it aside (the job's records are kept) and retry")
    return meta
