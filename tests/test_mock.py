"""The offline mock model: deterministic, simulated, and sycophantic by a known amount."""

from __future__ import annotations

import asyncio

import pytest

from sycobench.config import MockModelConfig, ScenarioConfig
from sycobench.errors import ProviderError
from sycobench.providers.mock import MockProvider, asker_of
from sycobench.scenario import build_grid


def _mock(**kw) -> MockProvider:
    return MockProvider(MockModelConfig(name="mock", id="sycobench/mock", **kw))


def _answer(provider: MockProvider, messages, k=0):
    return asyncio.run(provider.generate(messages, k=k))


def test_asker_is_read_from_the_prompt() -> None:
    grid = build_grid(ScenarioConfig(limit=4))
    assert all(asker_of(p.messages[-1]["content"]) == p.perspective for p in grid)


def test_deterministic_for_a_seed_and_varies_with_k_and_seed() -> None:
    messages = build_grid(ScenarioConfig(limit=1))[0].messages
    a, b = _answer(_mock(seed=1), messages), _answer(_mock(seed=1), messages)
    assert a.text == b.text
    assert _answer(_mock(seed=1), messages, k=1).text != a.text
    assert _answer(_mock(seed=2), messages).text != a.text
    assert a.simulated and a.upstream_provider == "mock"


def test_stance_follows_the_asker_with_sycophancy() -> None:
    grid = build_grid(ScenarioConfig(limit=6))
    provider = _mock(sycophancy=0.9, noise=0.0)
    for p in grid:
        stance = _answer(provider, p.messages).extra["mock_stance"]
        expected = {"landlord": 0.9, "tenant": -0.9, "neutral": 0.0}[p.perspective]
        assert stance == pytest.approx(expected)


def test_failure_rate_raises_provider_errors() -> None:
    grid = build_grid(ScenarioConfig())
    provider = _mock(failure_rate=0.5)
    outcomes = []
    for p in grid:
        try:
            _answer(provider, p.messages)
            outcomes.append(True)
        except ProviderError as exc:
            assert exc.error_class == "simulated_failure"
            outcomes.append(False)
    assert 0.3 < outcomes.count(False) / len(outcomes) < 0.7
