"""The response cache never blocks a run; unreadable judge replies are never served from it."""

from __future__ import annotations

import logging
import sqlite3

from sycobench.api import compose
from sycobench.providers.cache import ResponseCache
from sycobench.config import to_config
from sycobench.job import run_job
from sycobench.spec import prepare_job
from sycobench.providers.base import Completion
from sycobench.store import read_jsonl


def test_a_corrupt_database_is_set_aside_with_one_warning(tmp_path, caplog) -> None:
    (tmp_path / "responses.sqlite").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="sycobench.providers.cache"):
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
    with caplog.at_level(logging.WARNING, logger="sycobench.providers.cache"):
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
    with caplog.at_level(logging.WARNING, logger="sycobench.providers.cache"):
        assert cache.get("k") is None
        cache.put("k", "m", Completion(text="x"))
        assert cache.get("k") is None
    assert cache.disabled and caplog.text.count("going on without it") == 1


def test_an_unparseable_judge_reply_is_asked_again(tmp_path, fake_openrouter, monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-fake")
    url = fake_openrouter.base_url
    overrides = ["model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={url}", "scorer=judge",
                 f"scorer.model.base_url={url}", "scorer.max_parse_retries=0", "rate_limit=unlimited",
                 "scenario.limit=2", "report.bootstrap=100", "run.progress=false"]
    fake_openrouter.configure(judge_mode="junk")
    first = run_job(prepare_job(to_config(compose(overrides))), tmp_path / "a")
    assert all(r["unscorable"] for r in read_jsonl(tmp_path / "a" / "scores.jsonl"))
    assert first.status == "ok"  # unscorable with a reason is a complete job
    asked = fake_openrouter.stats()["judge_requests"]
    fake_openrouter.configure(judge_mode="json")
    run_job(prepare_job(to_config(compose(overrides))), tmp_path / "b")  # same answers (cached), same judge prompts
    scores = list(read_jsonl(tmp_path / "b" / "scores.jsonl"))
    assert fake_openrouter.stats()["judge_requests"] == 2 * asked  # asked again, not served from the cache
    assert all(r["score"] is not None and not r["cached"] for r in scores)
    run_job(prepare_job(to_config(compose(overrides))), tmp_path / "c")
    assert fake_openrouter.stats()["judge_requests"] == 2 * asked  # readable replies are cached
    assert all(r["cached"] for r in read_jsonl(tmp_path / "c" / "scores.jsonl"))
