"""Columnar copies of a job's record files: `run.parquet` beside `run.jsonl`, `scores.parquet`
beside `scores.jsonl` (docs/records.md).

The JSONL stays the source of truth. A copy is written when a job or a re-scoring finishes,
by streaming the JSONL into a temporary file in the same folder and renaming it, so a kill
never leaves half a copy. Its Parquet metadata records what it was built from; a copy whose
source has changed since, or that cannot be read, is never used: readers fall back to the JSONL. It also
names the columns that are null in every row (an offline scorer's usage, a job's errors), which readers make
instead of decoding: a nested column costs more to decode than the flat ones together.
A report's `results.parquet` is written the same way (`sink_whole`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from sycobench.errors import DataError
from sycobench.records import RUN_FIELDS, SCHEMA_VERSION, SCORE_FIELDS
from sycobench.store.jsonl import lazy_frames, read_blocks

__all__ = ["COPY_SCHEMAS", "copy_path", "fresh_copy", "null_columns", "replaced", "scan_copy", "sink_whole",
           "source_stamp", "write_copies", "write_copy"]

log = logging.getLogger("sycobench.store")

# Every field of the record layout that has a fixed type (`params` and `scorer_config` are free-form
# objects no table reads); the copy is typed exactly as the JSONL readers type it.
COPY_SCHEMAS = {name: {k: v for k, v in fields.items() if v != pl.Object}
                for name, fields in (("run", RUN_FIELDS), ("scores", SCORE_FIELDS))}
COPY_VERSION = 6  # bumped when the copy's layout changes: older copies are then stale (2: `side`, no `factors`;
#   3: `labeller` or `queued_s`; 4: both; 5: `turn`, `parent_id`, `style`, `objector`, `messages`;
#   6: a panel's `judges`)
_KEY = "sycobench.source"
_NULL = "sycobench.null_columns"  # the columns null in every row (a copy without it: none is known to be)
_EDGE = 1 << 16  # bytes hashed at each end of the source, so a same-size rewrite is caught too
_BLOCK = 1 << 24  # bytes read at a time to count lines
_BLOCK_BYTES = 4 << 20  # JSONL parsed at a time while copying
GROUP_ROWS = 16_384  # rows per row group of a copy: small groups keep the writer's memory flat


def copy_path(job_dir: Path, name: str) -> Path:
    return job_dir / f"{name}.parquet"


def _edges(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        digest.update(fh.read(_EDGE))
        fh.seek(max(0, size - _EDGE))
        digest.update(fh.read(_EDGE))
    return digest.hexdigest()


def source_stamp(path: Path) -> dict:
    """What a copy is checked against before use: the source's size, mtime and both ends' hash."""
    stat = path.stat()
    return {"copy_version": COPY_VERSION, "schema": SCHEMA_VERSION, "file": path.name, "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns, "edges_sha256": _edges(path, stat.st_size)}


def _lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            count += block.count(b"\n")
    return count


def write_copy(job_dir: Path, name: str) -> Path | None:
    """Stream `<name>.jsonl` into `<name>.parquet`; None (and no copy) when the source is missing,
    ends in a torn line, does not parse, or changed while it was copied."""
    source, target = job_dir / f"{name}.jsonl", copy_path(job_dir, name)
    target.unlink(missing_ok=True)  # an old copy is stale from here on, whatever happens next
    if not source.exists() or source.stat().st_size == 0:
        return None
    stamp = source_stamp(source)
    with source.open("rb") as fh:
        fh.seek(stamp["bytes"] - 1)
        if fh.read(1) != b"\n":  # a torn last line: the next write sets it aside; copy after that
            return None
    stamp["lines"] = _lines(source)
    try:
        with replaced(target) as tmp:
            _write_blocks(source, tmp, COPY_SCHEMAS[name], {_KEY: json.dumps(stamp)})
            if source_stamp(source) != {k: v for k, v in stamp.items() if k != "lines"}:
                raise ValueError("the source changed while it was copied")
    except (pl.exceptions.PolarsError, OSError, ValueError, DataError) as exc:
        log.warning("%s: no columnar copy (%s); reports read the JSONL", source, str(exc).splitlines()[0][:200])
        return None
    return target


def sink_whole(rows: pl.LazyFrame, path: Path, *, row_group_size: int) -> Path:
    """`rows` streamed into Parquet at `path` (a report's results.parquet), replaced only when whole."""
    with replaced(path) as tmp:
        rows.sink_parquet(tmp, row_group_size=row_group_size, engine="streaming")
    return path


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A file in a hidden temporary folder beside `path`, moved to `path` if the block ends without error;
    else the folder is taken away whole. A writer stopped part-way (Ctrl-C, a full disk, a bad record)
    leaves the last whole file, never part of one; and Polars' sink, whose writer can still create its
    file after the sink has raised, then finds no folder to create it in. What a killed writer left (its
    process gone) is removed first."""
    for left in path.parent.glob(f".{path.name}.*.tmp"):
        pid = left.name.removeprefix(f".{path.name}.").split(".")[0]
        if not (pid.isdigit() and _running(int(pid))):
            _discard(left)
    folder = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    folder.mkdir()
    try:
        yield folder / path.name
        os.replace(folder / path.name, path)
    finally:
        _discard(folder)


def _discard(left: Path) -> None:
    """A leftover file, or a temporary folder, renamed first so that nothing more can be created in it."""
    if not left.is_dir():
        left.unlink(missing_ok=True)
        return
    gone = left.with_name(left.name.removesuffix(".tmp") + ".gone.tmp")  # a leftover still, if this process dies
    try:
        left.rename(gone)
    except FileNotFoundError:
        return
    shutil.rmtree(gone, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _write_blocks(source: Path, target: Path, schema: dict[str, pl.DataType], metadata: dict[str, str]) -> None:
    """Streamed block by block into Parquet: memory holds a block or two, whatever the file's length. The
    columns null in every block are named in the metadata, which the writer asks for with the footer, once
    every block has passed (if it asked sooner, none would be named)."""
    null, passed = set(schema), []

    def blocks() -> Iterator[pl.DataFrame]:
        for block in read_blocks(source, schema, size=_BLOCK_BYTES):
            counts = block.null_count().row(0, named=True)
            null.difference_update([c for c in null if counts[c] != block.height])
            yield block
        passed.append(True)

    def footer(_context: object) -> dict[str, str]:
        return {**metadata, _NULL: json.dumps(sorted(null))} if passed else metadata

    lazy_frames(blocks, schema).sink_parquet(target, metadata=footer, row_group_size=GROUP_ROWS, engine="streaming")


def write_copies(job_dir: Path) -> list[Path]:
    """Both copies of a job folder (a missing record file has none)."""
    return [p for name in COPY_SCHEMAS if (p := write_copy(job_dir, name))]


def fresh_copy(job_dir: Path, name: str) -> Path | None:
    """The copy of `<name>.jsonl` if it exists, reads, and was built from the file as it is now."""
    found = _fresh(job_dir, name)
    return found[0] if found else None


def scan_copy(job_dir: Path, name: str, schema: dict[str, pl.DataType]) -> pl.LazyFrame | None:
    """The `schema` columns of the fresh copy of `<name>.jsonl` (None without one), lazily; a column the copy
    names as null in every row is made, not read."""
    found = _fresh(job_dir, name)
    if found is None:
        return None
    target, null = found
    if set(schema) <= null:  # one column read all the same: literals alone would make a single row
        null = null - {next(iter(schema), "")}
    return pl.scan_parquet(target).select(pl.lit(None, dtype).alias(c) if c in null else pl.col(c)
                                          for c, dtype in schema.items())


def null_columns(job_dir: Path, name: str) -> set[str]:
    """The columns that the fresh copy of `<name>.jsonl` names as null in every row (none without a copy). A
    filter on one, made by scan_copy, cannot skip the file's rows: a reader that would filter them all out
    asks here first."""
    found = _fresh(job_dir, name)
    return found[1] if found else set()


def _fresh(job_dir: Path, name: str) -> tuple[Path, set[str]] | None:
    """fresh_copy's copy, and the columns it names as null in every row."""
    target, source = copy_path(job_dir, name), job_dir / f"{name}.jsonl"
    if not target.exists() or not source.exists():
        return None
    try:
        metadata = pl.read_parquet_metadata(target)
        built = json.loads(metadata.get(_KEY, "null"))
        built.pop("lines")
        now = source_stamp(source)
        null = set(json.loads(metadata.get(_NULL, "[]")))
    except (pl.exceptions.PolarsError, OSError, ValueError, AttributeError, KeyError, TypeError):
        return None
    return (target, null) if built == now else None
