"""A content-addressed response cache shared across runs and jobs (SQLite in WAL mode).

The key covers everything that determines an answer: base URL, model id, every generation
parameter, the full messages and the sample index k. Errors and content-filtered answers are
never stored, so a cached answer is one a run already paid for and can reuse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sycobench.providers.base import Completion, Message

__all__ = ["ResponseCache", "cache_key", "default_cache_dir"]

log = logging.getLogger("sycobench.providers.cache")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sycobench"


def cache_key(*, base_url: str, model_id: str, params: dict[str, Any], messages: list[Message], k: int) -> str:
    blob = json.dumps(
        {"base_url": base_url.rstrip("/"), "model": model_id, "params": params, "messages": messages, "k": k},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """Never blocks a run: a corrupt database is set aside (renamed, with one warning) and
    rebuilt; a corrupt row is dropped; a failure mid-run turns the cache off for that run."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or default_cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "responses.sqlite"
        self.hits = 0
        self.misses = 0
        self.disabled = False
        if self.path.exists() and not self.path.is_file():
            raise OSError(f"{self.path} is not a file (a folder or device is in its place)")
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # locked, unwritable, full: not a damaged file
                raise
            self._db.close()
            aside = self._set_aside(exc)
            log.warning("response cache %s is damaged (%s): moved to %s; starting a new cache", self.path, exc, aside)
            self._open()

    def _set_aside(self, exc: BaseException) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                part.rename(Path(str(aside) + suffix))
        return aside

    def _off(self, exc: BaseException) -> None:
        if not self.disabled:
            log.warning("response cache %s failed (%s); going on without it. If it persists, move that file aside",
                        self.path, exc)
        self.disabled = True

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA quick_check(1)").fetchone()  # a corrupt file fails here, not mid-run
        for attempt in range(100):
            # Two jobs creating the cache at once: switching to WAL can fail with "locked" at once,
            # without waiting on the busy timeout, so the setup is simply tried again.
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
                    "completion TEXT NOT NULL, created REAL NOT NULL DEFAULT (strftime('%s','now')))"
                )
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)
        self._db.execute("PRAGMA synchronous=NORMAL")

    def get(self, key: str) -> Completion | None:
        if self.disabled:
            return None
        try:
            row = self._db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._off(exc)
            return None
        try:
            completion = Completion.from_dict(json.loads(row[0])) if row is not None else None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("response cache %s: dropped a damaged entry (%s); the call is made again", self.path, exc)
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
            completion = None
        if completion is None:
            self.misses += 1
            return None
        self.hits += 1
        completion.cached = True
        completion.attempts = 0
        completion.queued_s = 0.0
        return completion

    def put(self, key: str, model_id: str, completion: Completion) -> None:
        if not completion.text or completion.finish_reason in ("content_filter", "error"):
            return
        if self.disabled:
            return
        data = completion.to_dict()
        data["cached"] = False
        try:
            self._db.execute(
                "INSERT OR IGNORE INTO responses (key, model, completion) VALUES (?, ?, ?)",
                (key, model_id, json.dumps(data, ensure_ascii=False)),
            )
        except sqlite3.DatabaseError as exc:
            self._off(exc)

    def close(self) -> None:
        self._db.close()
