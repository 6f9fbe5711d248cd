"""Checks before the first paid call: keys, report names, URLs, the grid."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from sycobench.api import compose
from sycobench.config import to_config
from sycobench.errors import ConfigError
from sycobench.providers.openrouter import OpenRouterProvider
from sycobench.spec import prepare_job


def _cfg(*overrides: str):
    return to_config(compose(list(overrides)))


def check_job(cfg, job_dir=None):
    return prepare_job(cfg, job_dir)


@pytest.mark.parametrize("url", ["http://", "ftp://host/v1", "localhost:8000/v1", "https:///v1", "", "file:///tmp/x"])
def test_urls_without_host_or_http_scheme_are_refused(url) -> None:
    model = _cfg("model=openrouter", "model.id=a/b").model
    with pytest.raises(ConfigError, match="model.base_url"):
        OpenRouterProvider.check(replace(model, base_url=url), "model")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/v1", "https://openrouter.ai/api/v1", "http://gpu01:8000/v1"])
def test_good_urls_pass(url) -> None:
    model = _cfg("model=openrouter", "model.id=a/b").model
    OpenRouterProvider.check(replace(model, base_url=url), "model")


def test_limit_above_the_grid_is_noted_once_with_the_grid_size() -> None:
    spec = prepare_job(_cfg("scenario.limit=500"))
    warnings = [line for level, line in spec.notes if level == logging.WARNING]
    assert len(warnings) == 1 and "60 triplets" in warnings[0]
    assert len(spec.grid) == 180
    assert not [line for level, line in prepare_job(_cfg("scenario.limit=60")).notes if level == logging.WARNING]


def test_keyless_local_target_with_auto_scorer_fails_before_any_call(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    with pytest.raises(ConfigError) as err:
        check_job(_cfg("model=vllm"))
    assert "OPENROUTER_API_KEY" in str(err.value) and "scorer=none" in str(err.value)
    check_job(_cfg("model=vllm", "scorer=none"))  # what the message suggests works
    with pytest.raises(ConfigError, match="scorer.allow_unvalidated=true"):
        check_job(_cfg("model=vllm", "scorer=offline"))  # never a headline for a real model
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "x" * 20)
    assert check_job(_cfg("model=vllm")).scorer.name == "judge"


def test_a_dry_run_needs_no_key(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    check_job(_cfg("model=grok-4-fast", "run.dry_run=true"))


def test_report_scorers_must_name_a_scorer_of_the_job(tmp_path) -> None:
    with pytest.raises(ConfigError, match="report.scorers: judge:x"):
        check_job(_cfg("report.scorers=[judge:x]"))
    check_job(_cfg("report.scorers=[offline]"))
    (tmp_path / "scores.jsonl").write_text('{"model_id": "m", "prompt_id": "p", "k": 0, "scorer": "human:labels", '
                                           '"error": null, "score": 0.5}\n')
    check_job(_cfg("report.scorers=[offline,human:labels]"), tmp_path)  # already in the folder


def test_dict_valued_model_settings_from_overrides() -> None:
    cfg = _cfg("model=openrouter", "model.id=a/b", "model.reasoning={effort:low}",
               "model.provider={order:[x,y],allow_fallbacks:false}", "model.extra_body={top_k:5}")
    assert cfg.model.reasoning == {"effort": "low"}
    assert cfg.model.provider == {"order": ["x", "y"], "allow_fallbacks": False}
    assert cfg.model.extra_body == {"top_k": 5}
    assert _cfg("model=openrouter", "model.id=a/b").model.reasoning is None
