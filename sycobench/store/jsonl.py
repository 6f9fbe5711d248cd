"""Crash-safe JSONL: whole lines appended and flushed, a torn last line set aside, never read as data.

The readers: `read_jsonl` (one record at a time, for Python), `read_blocks` / `read_frame` /
`stream_frame` (Polars, typed by the record layout in sycobench.records, a block at a time).
"""

from __future__ import annotations

import errno
import io
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

from sycobench.errors import DataError

__all__ = ["BLOCK_BYTES", "JsonlWriter", "check_records", "lazy_frames", "read_blocks", "read_frame", "read_jsonl",
           "repair_numbers", "repair_tail", "stream_frame"]

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


_INT64 = 2**63 - 1
REPAIR = "python -m sycobench.repair"


class _OddNumber(ValueError):
    """A number a reader cannot keep: NaN, Infinity, or an integer beyond 64 bits."""


def _no_constant(name: str) -> Any:
    raise _OddNumber(f"holds {name}")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OddNumber(f"holds a number too large for a float ({text[:20]})")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if abs(value) > _INT64:
        raise _OddNumber(f"holds an integer beyond 64 bits ({text[:20]})")
    return value


def strict_loads(raw: bytes | str) -> Any:
    """json.loads that refuses what no reader can keep (NaN, Infinity, 1e999, 10**20) with _OddNumber."""
    return json.loads(raw, parse_constant=_no_constant, parse_float=_finite, parse_int=_int64)


def _odd_line(path: Path, number: int, problem: str) -> DataError:
    return DataError(f"{path}:{number}: {problem}. Run `{REPAIR} {path.parent}` to record it as unknown "
                     f"(the line as it was is kept in {path.name}.repaired), then retry.")


def _regular(path: Path) -> bool:
    """Whether there is a record file to read; a device, folder or pipe in its place is a DataError."""
    if not path.exists():
        return False
    if not path.is_file():
        raise DataError(f"{path}: not a regular file (a folder, device or pipe is in its place); move it aside")
    return True


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield records; a torn last line is skipped, a corrupt line elsewhere is a DataError.

    Lines are read one at a time, so a large file is never held in memory whole."""
    if not _regular(path):
        return
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield strict_loads(raw)
            except _OddNumber as exc:
                raise _odd_line(path, number, str(exc)) from None
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
    if not _regular(path):
        return 0
    count = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = strict_loads(raw)
            except _OddNumber as exc:
                raise _odd_line(path, number, str(exc)) from None
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


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class JsonlWriter:
    """Append-only writer of whole lines: each `write` / `write_many` call goes to the file at once,
    in one system call where the OS allows (a kill can tear only the last line, set aside on reopen)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        repair_tail(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        """One whole line; a NaN or Infinity is a bug upstream (numbers are checked where they enter).
        A failed write (a full disk) names the file."""
        self._append((_ENCODE(record) + "\n").encode())

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        """Whole lines, appended together."""
        data = "".join([_ENCODE(record) + "\n" for record in records]).encode()
        if data:
            self._append(data)

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:  # a short write (a nearly full disk) goes on where it stopped, or raises
                written = os.write(self._fd, view)
                if not written:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fix(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _fix(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fix(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value) or isinstance(value, int) and not isinstance(
            value, bool) and abs(value) > _INT64:
        return None
    return value


def repair_numbers(path: Path) -> int:
    """Record as unknown (null) every number no reader can keep; each line changed is kept as it was in
    `<path>.repaired`. The file is rewritten whole and renamed into place. Returns the lines changed."""
    if not path.exists():
        return 0
    changed, lines = [], []
    with path.open("rb") as fh:
        for raw in fh:
            try:
                strict_loads(raw)
            except _OddNumber:
                record = json.loads(raw)  # Python's own reader takes NaN, Infinity and big integers
                changed.append(raw if raw.endswith(b"\n") else raw + b"\n")
                raw = (json.dumps(_fix(record), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
                       + "\n").encode()
            except ValueError:
                pass  # not this repair's business: other problems are named where they are read
            lines.append(raw)
    if not changed:
        return 0
    with open(str(path) + ".repaired", "ab") as keep:
        keep.writelines(changed)
    tmp = path.with_name(f".{path.name}.repair.tmp")
    with tmp.open("wb") as fh:
        fh.writelines(lines)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return len(changed)


def read_blocks(path: Path, schema: Mapping[str, pl.DataType], *, size: int = BLOCK_BYTES) -> Iterator[pl.DataFrame]:
    """The file parsed by Polars in line-aligned blocks of about `size` bytes, typed by `schema`; a
    torn last line is ignored, a corrupt one is a DataError naming it."""
    if not _regular(path):
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
