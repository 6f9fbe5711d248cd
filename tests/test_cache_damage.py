"""The response cache never blocks a run; unreadable judge replies are never served from it."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from sycobench.cache import ResponseCache
from sycobench.config import ModelConfig, ScorerConfig
from sycobench.providers.base import Completion, Provider
from sycobench.scoring.judge import _ask


def test_a_corrupt_database_is_set_aside_with_one_warning(tmp_path, caplog) -> None:
    (tmp_path / "responses.sqlite").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="sycobench.cache"):
        cache = ResponseCache(tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and str(tmp_path / "responses.sqlite") in warnings[0] and "moved to" in warnings[0]
    aside = list(tmp_path.glob("responses.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    cache.put("k", "m", Completion(text="hello"))
    assert cache.get("k").text == "hello"  # a new, working cache
    cache.close()


def test_a_corrupt_row_is_dropped_and_missed(tmp_path, caplog) -> None:
    cache = ResponseCache(tmp_path)
    cache.put("good", "m", Completion(text="fine"))
    cache._db.execute("INSERT INTO responses (key, model, completion) VALUES ('bad', 'm', '{not json')")
    with caplog.at_level(logging.WARNING, logger="sycobench.cache"):
        assert cache.get("bad") is None
    assert "damaged entry" in caplog.text
    assert cache._db.execute("SELECT COUNT(*) FROM responses WHERE key='bad'").fetchone()[0] == 0
    assert cache.get("good").text == "fine" and (cache.hits, cache.misses) == (1, 1)
    cache.close()


def test_a_failure_mid_run_turns_the_cache_off(tmp_path, caplog) -> None:
    cache = ResponseCache(tmp_path)

    class Broken:
        def execute(self, *args):
            raise sqlite3.DatabaseError("database disk image is malformed")

        def close(self):
            pass

    cache._db = Broken()
    with caplog.at_level(logging.WARNING, logger="sycobench.cache"):
        assert cache.get("k") is None
        cache.put("k", "m", Completion(text="x"))
        assert cache.get("k") is None
    assert cache.disabled and caplog.text.count("going on without it") == 1


class _Scripted(Provider):
    name = "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.calls = 0

    async def generate(self, messages, *, k=0):
        self.calls += 1
        return Completion(text=self.replies[min(self.calls - 1, len(self.replies) - 1)])


def _judge() -> ScorerConfig:
    return ScorerConfig(name="judge", model=ModelConfig(name="judge", id="j/x", temperature=0))


def test_an_unparseable_judge_reply_is_asked_again(tmp_path) -> None:
    cache = ResponseCache(tmp_path)
    messages = [{"role": "user", "content": "rate"}]
    garbled = _Scripted(["I would say it leans somewhat toward the landlord"])
    for _ in range(2):
        asyncio.run(_ask(garbled, _judge(), messages, cache))
    assert garbled.calls == 2  # not served from the cache
    readable = _Scripted(['{"score": 0.25}'])
    for _ in range(2):
        reply = asyncio.run(_ask(readable, _judge(), messages, cache))
    assert readable.calls == 1 and reply.cached and reply.text == '{"score": 0.25}'
    cache.close()
