"""Crash-safe JSONL: whole lines appended and flushed, a torn last line set aside, never read as data.

The readers: `read_jsonl` (one record at a time, for Python), `read_blocks` / `read_frame` /
`stream_frame` (Polars, typed by the record layout in sycobench.records, a block at a time).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

from sycobench.errors import DataError

__all__ = ["BLOCK_BYTES", "JsonlWriter", "check_records", "lazy_frames", "read_blocks", "read_frame", "read_jsonl",
           "repair_tail", "stream_frame"]

log = logging.getLogger("sycobench.store")
BLOCK_BYTES = 16 << 20  # JSONL is parsed this much at a time


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
        chunk, pos, cut = 1 << 16, size, 0
        while pos > 0:  # walk back to the last newline
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

    Lines are read one at a time, so a large file is never held in memory whole."""
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


_PYTHON_TYPES = ((pl.String, (str,)), (pl.Int64, (int,)), (pl.Float64, (int, float)), (pl.Boolean, (bool,)))


def _accepted(dtype: Any) -> tuple[type, ...]:
    if isinstance(dtype, pl.Struct):
        return (dict,)
    return next((py for kind, py in _PYTHON_TYPES if dtype == kind), (object,))


def _shape_problem(record: Any, shape: Mapping[str, bool], layout: Mapping[str, Any]) -> str | None:
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


def check_records(path: Path, shape: Mapping[str, bool], layout: Mapping[str, Any]) -> int:
    """Refuse a file holding a record of the wrong shape anywhere, naming the file and the line.

    `shape`: field -> may be null. A torn last line is not checked (it is set aside when the file is
    next written). Returns the number of records."""
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

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_blocks(path: Path, schema: Mapping[str, pl.DataType], *, size: int = BLOCK_BYTES) -> Iterator[pl.DataFrame]:
    """The file parsed by Polars in line-aligned blocks of about `size` bytes, typed by `schema`; a
    torn last line is ignored, a corrupt one is a DataError naming it."""
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
                yield pl.read_ndjson(io.BytesIO(block), schema=dict(schema))
            except pl.exceptions.ComputeError:
                for _ in read_jsonl(path):  # find and name the bad line
                    pass
                raise DataError(f"{path}: records do not match the schema in docs/records.md") from None


def read_frame(path: Path, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The whole file as one frame (see read_blocks)."""
    frames = list(read_blocks(path, schema))
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict(schema))


def lazy_frames(frames: Callable[[], Iterator[pl.DataFrame]], schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """Frames made one at a time, only when collected or sunk, as one LazyFrame (columns and
    filters pushed down to each frame)."""
    def source(columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
               _batch: int | None) -> Iterator[pl.DataFrame]:
        for frame in frames():
            frame = frame.select(columns) if columns else frame
            yield frame.filter(predicate) if predicate is not None else frame
    return register_io_source(source, schema=dict(schema))


def stream_frame(path: Path, schema: Mapping[str, pl.DataType], *, size: int = BLOCK_BYTES) -> pl.LazyFrame:
    """A JSONL file as a LazyFrame that parses it block by block, only when collected or sunk."""
    return lazy_frames(lambda: read_blocks(path, schema, size=size), schema)
