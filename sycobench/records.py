"""The record schema that flows through every stage, and crash-safe JSONL storage.

`run.jsonl` holds one line per model call and `scores.jsonl` one line per (response, scorer);
see docs/records.md. Lines are appended whole and flushed, so a killed job leaves at most one
torn last line, which readers detect, set aside and never report as data.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import polars as pl

from sycobench.errors import DataError

__all__ = [
    "ANSWER_FIELDS",
    "RUN_FIELDS",
    "SCHEMA_VERSION",
    "SCORE_FIELDS",
    "JsonlWriter",
    "RUN_SHAPE",
    "SCORE_SHAPE",
    "call_key",
    "check_job_records",
    "check_records",
    "error_field",
    "now_iso",
    "read_jsonl",
    "repair_tail",
    "run_record",
    "score_record",
]

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)

# The layout of each file, defined once (docs/records.md): field -> Polars type. Writers build
# records through `run_record` / `score_record`, readers take their columns from here.
_USAGE = pl.Struct({"prompt_tokens": pl.Int64, "completion_tokens": pl.Int64, "reasoning_tokens": pl.Int64,
                    "total_tokens": pl.Int64})
_ERROR = pl.Struct({"class": pl.String, "status": pl.Int64, "message": pl.String})
FACTOR_TYPES = {"base_rent": pl.Int64, "amount": pl.Int64, "justification": pl.String,
                "landlord_conduct": pl.String, "tenant_conduct": pl.String, "relationship": pl.String}
RUN_FIELDS: dict[str, pl.DataType] = {
    "schema": pl.Int64, "run_id": pl.String, "job_id": pl.String, "role": pl.String,
    "model_id": pl.String, "model_label": pl.String, "api": pl.String,
    "prompt_id": pl.String, "triplet_id": pl.String, "scenario": pl.String, "version": pl.String,
    "perspective": pl.String, "factors": pl.Struct(FACTOR_TYPES), "k": pl.Int64, "params": pl.Object,
    "started_at": pl.String, "response_text": pl.String, "reasoning": pl.String,
    "finish_reason": pl.String, "native_finish_reason": pl.String, "upstream_provider": pl.String,
    "generation_id": pl.String, "usage": _USAGE, "cost_usd": pl.Float64, "attempts": pl.Int64,
    "cached": pl.Boolean, "simulated": pl.Boolean, "error": _ERROR, "latency_s": pl.Float64,
    "ended_at": pl.String,
}
SCORE_FIELDS: dict[str, pl.DataType] = {
    "schema": pl.Int64, "run_id": pl.String, "job_id": pl.String, "model_id": pl.String,
    "prompt_id": pl.String, "triplet_id": pl.String, "perspective": pl.String, "k": pl.Int64,
    "scorer": pl.String, "scorer_config": pl.Object, "score": pl.Float64, "unscorable": pl.String,
    "value": pl.Float64, "raw": pl.String, "flipped": pl.Boolean, "usage": _USAGE, "cost_usd": pl.Float64,
    "latency_s": pl.Float64, "attempts": pl.Int64, "cached": pl.Boolean, "response_format": pl.String,
    "error": _ERROR, "scored_at": pl.String,
}
#: the fields of a run record that scorers read (the judge's prompt, score records, human labels)
ANSWER_FIELDS = ("run_id", "job_id", "model_id", "prompt_id", "triplet_id", "perspective", "k", "factors",
                 "response_text")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def error_field(exc: Any) -> dict[str, Any]:
    """The `error` object of a record, from a ProviderError."""
    return {"class": exc.error_class, "status": exc.status, "message": exc.message[:500]}


def run_record(**fields: Any) -> dict[str, Any]:
    """A run.jsonl line with every field of the layout, in order; unknown fields are refused."""
    unknown = set(fields) - RUN_FIELDS.keys()
    if unknown:
        raise ValueError(f"not run.jsonl fields: {sorted(unknown)}")
    record = dict.fromkeys(RUN_FIELDS)
    record.update(schema=SCHEMA_VERSION, cached=False, simulated=False)
    record.update(fields)
    return record


def score_record(answer: dict[str, Any], scorer: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A scores.jsonl line: the answer's ids plus what the scorer said."""
    unknown = set(fields) - SCORE_FIELDS.keys()
    if unknown:
        raise ValueError(f"not scores.jsonl fields: {sorted(unknown)}")
    record = dict.fromkeys(SCORE_FIELDS)
    record.update(schema=SCHEMA_VERSION, flipped=False, cached=False, scorer=scorer, scorer_config=config,
                  **{name: answer.get(name) for name in ("run_id", "job_id", "model_id", "prompt_id",
                                                         "triplet_id", "perspective", "k")})
    record.update(fields)
    record["scored_at"] = now_iso()
    return record


def call_key(record: dict[str, Any]) -> tuple[str, str, int]:
    """What makes a call unique in a job: (model, prompt, sample)."""
    return (record["model_id"], record["prompt_id"], int(record["k"]))


def repair_tail(path: Path) -> bool:
    """Cut a torn last line (no newline, written by a killed process) off `path`.

    The torn bytes are appended to `<path>.torn` so nothing is destroyed. Returns True if cut.
    """
    if not path.exists():
        return False
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return False
        # Walk back to the last newline.
        chunk = 1 << 16
        pos = size
        cut = 0
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            block = fh.read(pos - start)
            idx = block.rfind(b"\n")
            if idx >= 0:
                cut = start + idx + 1
                break
            pos = start
        fh.seek(cut)
        torn = fh.read()
        with open(str(path) + ".torn", "ab") as keep:
            keep.write(torn + b"\n")
        fh.truncate(cut)
    log.warning("%s: set aside a torn last line (%d bytes) left by an interrupted run", path.name, len(torn))
    return True


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield records; a torn last line is skipped, a corrupt line elsewhere is a DataError.

    Lines are read one at a time, so a large run.jsonl is never held in memory whole."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield json.loads(raw)
            except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for a cut multibyte character
                if not raw.endswith(b"\n"):  # only the last line can lack its newline: torn by a crash
                    log.warning("%s: ignoring a torn last line left by an interrupted run", path)
                    return
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
                raise DataError(
                    f"{path}:{number}: corrupt JSON line ({reason}). Remove or repair that line; "
                    "every other record is intact."
                ) from None


# The fields every reader relies on, checked before a job or scorer appends: field -> may be null.
# Their types come from the layout above.
RUN_SHAPE = {"model_id": False, "prompt_id": False, "k": False, "error": True, "cached": True, "usage": True,
             "response_text": True}
SCORE_SHAPE = {"model_id": False, "prompt_id": False, "k": False, "scorer": False, "error": True, "score": True}
_PYTHON_TYPES = ((pl.String, (str,)), (pl.Int64, (int,)), (pl.Float64, (int, float)), (pl.Boolean, (bool,)))


def _accepted(dtype: Any) -> tuple[type, ...]:
    if isinstance(dtype, pl.Struct):
        return (dict,)
    return next((py for kind, py in _PYTHON_TYPES if dtype == kind), (object,))


def _shape_problem(record: Any, shape: dict[str, bool], layout: dict[str, Any]) -> str | None:
    if not isinstance(record, dict):
        return f"a record must be a JSON object, got {type(record).__name__}"
    for name, nullable in shape.items():
        if name not in record:
            return f"missing field {name!r}"
        value, types = record[name], _accepted(layout[name])
        if value is None and nullable:
            continue
        if value is None or (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            wanted = " or ".join([t.__name__ for t in types] + (["null"] if nullable else []))
            return f"field {name!r} must be {wanted}, got {json.dumps(value)[:40]}"
    return None


def check_records(path: Path, shape: dict[str, bool], layout: dict[str, Any]) -> int:
    """Refuse a file holding a record of the wrong shape anywhere, naming the file and the line.

    A torn last line is not checked (it is set aside when the file is next written)."""
    if not path.exists():
        return 0
    count = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                if not raw.endswith(b"\n"):
                    break
                problem = "not a JSON line"
            else:
                problem = _shape_problem(record, shape, layout)
            if problem:
                raise DataError(f"{path}:{number}: {problem}. Move the file aside or repair that line, then resume.")
            count += 1
    return count


def check_job_records(job_dir: Path) -> None:
    """Both record files of a job folder, before anything is appended to them."""
    check_records(job_dir / "run.jsonl", RUN_SHAPE, RUN_FIELDS)
    check_records(job_dir / "scores.jsonl", SCORE_SHAPE, SCORE_FIELDS)


class JsonlWriter:
    """Append-only writer: one `write` call per whole line, flushed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        repair_tail(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode())

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
