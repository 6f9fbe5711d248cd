"""Read job folders (and sweep folders of jobs) into the frames every table is built from.

`calls`: one row per model call (target answers and judge calls), deduplicated so a resumed
call counts once. `results`: one row per (response, scorer), joined to the call's ids and factors.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import yaml

from sycobench.errors import DataError
from sycobench.records import FACTOR_TYPES, RUN_FIELDS, SCORE_FIELDS, read_jsonl

__all__ = ["find_jobs", "load_calls", "load_results", "read_frame", "FACTORS", "TEXT_COLUMNS"]

FACTORS = list(FACTOR_TYPES)
# Polars' default (streaming) engine runs `unique` on these small per-job frames ~10x slower.
_ENGINE = "in-memory"
_BLOCK_BYTES = 16 << 20  # JSONL is parsed this much at a time
# The columns the tables read, typed by the one layout in sycobench.records.
RUN_SCHEMA = {name: RUN_FIELDS[name] for name in (
    "model_id", "model_label", "api", "prompt_id", "triplet_id", "scenario", "perspective", "k", "factors", "usage",
    "cost_usd", "latency_s", "cached", "error", "ended_at", "response_text")}
SCORE_SCHEMA = {name: SCORE_FIELDS[name] for name in (
    "model_id", "prompt_id", "k", "scorer", "score", "unscorable", "raw", "usage", "cost_usd", "latency_s", "cached",
    "error", "scored_at")}
# What was asked and answered, carried into results.parquet and the transcript view; tables never read it.
TEXT_COLUMNS = ["messages", "response_text", "raw", "unscorable"]
GRID_SCHEMA = {"prompt_id": pl.String, "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String}))}


def read_frame(path: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Parse a JSONL file with Polars; a torn last line is ignored, a corrupt one is a DataError.

    The file is parsed in line-aligned blocks, so memory does not grow with its length."""
    if not path.exists():
        return pl.DataFrame(schema=schema)
    frames = []
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK_BYTES):
            block += fh.readline()
            if not block.endswith(b"\n"):  # a torn last line, left by a crash
                block = block[: block.rfind(b"\n") + 1]
            if not block or block.isspace():
                continue
            try:
                frames.append(pl.read_ndjson(io.BytesIO(block), schema=schema))
            except pl.exceptions.ComputeError:
                for _ in read_jsonl(path):  # find and name the bad line
                    pass
                raise DataError(f"{path}: records do not match the schema in docs/records.md") from None
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


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


def load_calls(job_dir: Path, *, job: str | None = None, scores: pl.DataFrame | None = None) -> pl.DataFrame:
    runs = _latest(read_frame(job_dir / "run.jsonl", RUN_SCHEMA).lazy(), ["model_id", "prompt_id", "k"], "ended_at")
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
        "response_text",
    )
    if scores is None:
        scores = read_frame(job_dir / "scores.jsonl", SCORE_SCHEMA)
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
                 scores: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per (response, scorer), with the prompt, answer and judge reply (TEXT_COLUMNS).
    Scores for unknown or failed calls are dropped."""
    if scores is None:
        scores = read_frame(job_dir / "scores.jsonl", SCORE_SCHEMA)
    calls = calls if calls is not None else load_calls(job_dir, scores=scores)
    answers = calls.lazy().filter((pl.col("role") == "target") & pl.col("error_class").is_null())
    scores = _latest(scores.lazy(), ["model_id", "prompt_id", "k", "scorer"], "scored_at").filter(pl.col("error").is_null())
    prompts = read_frame(job_dir / "grid.jsonl", GRID_SCHEMA).lazy().unique("prompt_id", keep="first")
    party_a, party_b = _parties(job_dir)
    side = pl.col("perspective").replace_strict({party_a: "a", party_b: "b"}, default=None, return_dtype=pl.String)
    return (
        scores.select("model_id", "prompt_id", "k", "scorer", "score", "raw", "unscorable")
        .join(answers.select("job", "model_id", "prompt_id", "triplet_id", "scenario", "perspective", "k", *FACTORS,
                             "response_text"),
              on=["model_id", "prompt_id", "k"], how="inner")
        .join(prompts, on="prompt_id", how="left")
        .select("job", "model_id", "scorer", "triplet_id", "prompt_id", "scenario", "perspective", side.alias("side"),
                "k", "score", *FACTORS, *TEXT_COLUMNS)
        .sort("model_id", "scorer", "triplet_id", "prompt_id", "k")  # tables never depend on record order
        .collect(engine=_ENGINE)
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
