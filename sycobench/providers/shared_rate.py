"""One request rate shared by every job (process) on a machine, kept in a small SQLite file.

Each job already paces itself in memory (`sycobench.providers.ratelimit`); this adds a gate that all jobs
of a sweep pass together, because OpenRouter counts requests per account, not per process.
Per identity the file holds a token bucket (wall-clock time, since the jobs are different
processes) and a table of in-flight leases. Transactions are a few statements long, so they run
inline on the event loop: about 20 µs each, against 75 µs through a worker thread, and a request
cancelled meanwhile cannot leave a lease behind. No transaction is open while a coroutine sleeps.
SQLite's locking is only trustworthy on a local disk: across nodes, split the rate instead
(docs/rate_limits.md).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from sycobench.errors import ConfigError

__all__ = ["SharedRateFile", "draw_token"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    identity TEXT PRIMARY KEY, tokens REAL NOT NULL, refilled_at REAL NOT NULL,
    rate REAL NOT NULL, capacity REAL NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    lease_id TEXT PRIMARY KEY, identity TEXT NOT NULL, host TEXT NOT NULL,
    pid INTEGER NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS leases_by_identity ON leases (identity);
"""
_WHOLE = 1.0 - 1e-9  # float refill can land a hair below a whole token at the computed moment
_POLL_FIRST_S, _POLL_MAX_S = 0.005, 0.05  # waiting for a lease: no event to wake on, so poll
_LOCKED_RETRY_S = 0.01
_RELEASE_TRIES = 8


def draw_token(tokens: float, elapsed: float, *, rate: float, capacity: float) -> tuple[float, float]:
    """Refill for `elapsed` seconds, then take one token: (tokens left, 0.0) when one was whole,
    else (tokens, seconds until one is) and nothing is taken. A clock that stepped back refills nothing."""
    level = min(float(capacity), tokens + max(0.0, elapsed) * rate)
    if level >= _WHOLE:
        return max(0.0, level - 1.0), 0.0
    return level, (1.0 - level) / rate


def _busy(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would signal the process there; leave it to expiry
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, but alive
        pass
    return True


class SharedRateFile:
    """Token buckets and in-flight leases in one SQLite file, keyed by an identity string (a key
    digest, never a key). Every process opens its own connection; the file is the shared state."""

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time,
                 lease_s: float = 30.0, busy_timeout_s: float = 0.25) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lease_s = lease_s
        self._busy_timeout_s = busy_timeout_s
        self._host = socket.gethostname()
        self._db: sqlite3.Connection | None = None
        self._db_pid = 0
        self._turns: dict[tuple[str, str], asyncio.Lock] = {}

    def _connect(self) -> sqlite3.Connection:
        """One connection per process: a connection inherited through fork must not be used."""
        if self._db is None or self._db_pid != os.getpid():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
            except (OSError, sqlite3.Error) as exc:
                raise ConfigError(f"rate_limit.shared_rate_file: cannot open {self.path}: {exc}") from exc
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
            except sqlite3.Error as exc:
                db.close()
                if _busy(exc):
                    raise
                raise ConfigError(f"rate_limit.shared_rate_file: cannot use {self.path}: {exc}") from exc
            self._db, self._db_pid = db, os.getpid()
        return self._db

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _patiently(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in a transaction; past the (short) busy timeout, yield to the loop and try again,
        so a crowded file slows the requests down instead of stalling the loop or failing them."""
        while True:
            try:
                return self._transaction(work)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
            await asyncio.sleep(_LOCKED_RETRY_S * random.uniform(0.5, 1.5))

    def _turn(self, kind: str, identity: str) -> asyncio.Lock:
        """Only one coroutine per process and identity polls the file; the rest queue in memory."""
        return self._turns.setdefault((kind, identity), asyncio.Lock())

    # -- the token bucket ------------------------------------------------------------------------

    def _take(self, db: sqlite3.Connection, identity: str, rps: float, burst: int) -> float:
        now = self._clock()
        row = db.execute("SELECT tokens, refilled_at FROM buckets WHERE identity = ?", (identity,)).fetchone()
        tokens, refilled_at = row if row is not None else (float(burst), now)
        left, wait = draw_token(tokens, now - refilled_at, rate=rps, capacity=burst)
        if wait == 0.0:
            db.execute(
                "INSERT INTO buckets (identity, tokens, refilled_at, rate, capacity) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (identity) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at, "
                "rate = excluded.rate, capacity = excluded.capacity",
                (identity, left, now, rps, burst))
        return wait

    def take(self, identity: str, *, rps: float, burst: int) -> float:
        """One try: 0.0 when a token was taken, else the seconds until one will be."""
        return self._transaction(lambda db: self._take(db, identity, rps, burst))

    async def acquire(self, identity: str, *, rps: float, burst: int) -> None:
        async with self._turn("token", identity):
            while (wait := await self._patiently(lambda db: self._take(db, identity, rps, burst))) > 0:
                await asyncio.sleep(wait)

    # -- in-flight leases ------------------------------------------------------------------------

    def _lease(self, db: sqlite3.Connection, identity: str, cap: int) -> str | None:
        now = self._clock()
        db.execute("DELETE FROM leases WHERE expires_at < ?", (now,))
        holders = db.execute("SELECT lease_id, host, pid FROM leases WHERE identity = ?", (identity,)).fetchall()
        if len(holders) >= cap:
            dead = [(lease_id,) for lease_id, host, pid in holders if host == self._host and not _alive(pid)]
            db.executemany("DELETE FROM leases WHERE lease_id = ?", dead)
            if len(holders) - len(dead) >= cap:
                return None
        lease_id = uuid.uuid4().hex
        db.execute("INSERT INTO leases (lease_id, identity, host, pid, expires_at) VALUES (?, ?, ?, ?, ?)",
                   (lease_id, identity, self._host, os.getpid(), now + self._lease_s))
        return lease_id

    def try_lease(self, identity: str, *, cap: int) -> str | None:
        """A lease id when fewer than `cap` live leases exist, else None; expired leases and
        leases of dead processes on this host are reaped first."""
        return self._transaction(lambda db: self._lease(db, identity, cap))

    def release(self, lease_id: str) -> None:
        """Synchronous, so a cancelled request still frees its slot; if the file stays locked
        through every try, the lease's expiry frees it instead."""
        for _ in range(_RELEASE_TRIES):
            try:
                self._transaction(lambda db: db.execute("DELETE FROM leases WHERE lease_id = ?", (lease_id,)))
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise

    def _renew(self, db: sqlite3.Connection, lease_id: str) -> None:
        db.execute("UPDATE leases SET expires_at = ? WHERE lease_id = ?", (self._clock() + self._lease_s, lease_id))

    async def _keep_alive(self, lease_id: str) -> None:
        """Renew while held, so a short expiry frees the slot of a job that hangs or vanishes."""
        while True:
            await asyncio.sleep(self._lease_s / 3)
            await self._patiently(lambda db: self._renew(db, lease_id))

    @asynccontextmanager
    async def slot(self, identity: str, *, cap: int) -> AsyncIterator[None]:
        """Hold one of `cap` in-flight slots shared by every process using this file."""
        async with self._turn("lease", identity):
            pause = _POLL_FIRST_S
            while (lease_id := await self._patiently(lambda db: self._lease(db, identity, cap))) is None:
                await asyncio.sleep(pause * random.uniform(0.5, 1.5))
                pause = min(_POLL_MAX_S, pause * 2)
        keeper = asyncio.create_task(self._keep_alive(lease_id))
        try:
            yield
        finally:
            keeper.cancel()
            self.release(lease_id)
