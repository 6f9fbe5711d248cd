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

from sycobench.errors import DataError

__all__ = [
    "SCHEMA_VERSION",
    "JsonlWriter",
    "call_key",
    "now_iso",
    "read_jsonl",
    "repair_tail",
]

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


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
            except json.JSONDecodeError as exc:
                if not raw.endswith(b"\n"):  # only the last line can lack its newline: torn by a crash
                    log.warning("%s: ignoring a torn last line left by an interrupted run", path)
                    return
                raise DataError(
                    f"{path}:{number}: corrupt JSON line ({exc.msg}). Remove or repair that line; "
                    "every other record is intact."
                ) from None


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
