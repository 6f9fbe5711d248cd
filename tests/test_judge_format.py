"""Response-format negotiation: json_schema, then json_object, then plain instructions."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from sycobench import compose
from sycobench.config import ModelConfig, to_config
from sycobench.errors import AuthError, ProviderError
from sycobench.job import run_job
from sycobench.spec import prepare_job
from sycobench.scoring.judge_format import FORMAT_STEPS, FormatNegotiator, response_format
from sycobench.scoring.judge_parse import JUDGE_SCORE_SCHEMA

JUDGE = ModelConfig(name="judge", id="local/tiny", base_url="http://127.0.0.1:8080/v1", api_key_env=None)


def refusing(*refused: str, seen: list | None = None, delay_s: float = 0.0):
    """A stand-in for one judge call on a server that refuses the `refused` formats."""
    calls = seen if seen is not None else []

    async def call(step: str, model: ModelConfig) -> str:
        calls.append((step, (model.extra_body or {}).get("response_format")))
        await asyncio.sleep(delay_s)
        if step in refused:
            raise ProviderError("Input should be 'text' or 'json_object'", error_class="format_unsupported",
                                status=500)
        return f"answer in {step}"

    return call


def test_steps_and_their_request_bodies():
    assert FORMAT_STEPS == ("json_schema", "json_object", "instructions")
    assert response_format("json_schema") == {"type": "json_schema", "json_schema": JUDGE_SCORE_SCHEMA}
    assert response_format("json_object") == {"type": "json_object"}
    assert response_format("instructions") is None
    with pytest.raises(ValueError, match="known: json_schema"):
        response_format("grammar")


def test_model_for_adds_the_format_to_a_copy_and_keeps_the_users_keys():
    model, formats = ModelConfig(name="j", id="m", extra_body={"top_k": 5}), FormatNegotiator(structured=True)
    shaped = formats.model_for(model, "json_object")
    assert shaped.extra_body == {"response_format": {"type": "json_object"}, "top_k": 5}
    assert model.extra_body == {"top_k": 5}
    assert formats.model_for(model, "instructions") is model
    assert formats.model_for(model, "json_object") is shaped  # one object per step


@pytest.mark.parametrize(("refused", "expect_step", "expect_refusals"), [
    ((), "json_schema", 0),
    (("json_schema",), "json_object", 1),
    (("json_schema", "json_object"), "instructions", 2),
])
def test_steps_down_once_per_refusal_and_remembers(refused, expect_step, expect_refusals):
    formats, seen = FormatNegotiator(structured=True), []
    call = refusing(*refused, seen=seen)

    async def three_calls():
        return [await formats.ask(JUDGE, call) for _ in range(3)]

    results = asyncio.run(three_calls())
    assert results == [(f"answer in {expect_step}", expect_step)] * 3
    assert formats.refusals == expect_refusals and formats.step(JUDGE) == expect_step
    assert [step for step, _ in seen] == [*refused, expect_step, expect_step, expect_step]
    assert seen[-1][1] == response_format(expect_step)


def test_the_choice_is_kept_per_server_and_model():
    formats = FormatNegotiator(structured=True)
    asyncio.run(formats.ask(JUDGE, refusing("json_schema")))
    other_server = ModelConfig(name="judge", id="local/tiny", base_url="http://127.0.0.1:8081/v1")
    other_model = ModelConfig(name="judge", id="local/other", base_url=JUDGE.base_url)
    same_with_slash = ModelConfig(name="judge", id="local/tiny", base_url=JUDGE.base_url + "/")
    assert formats.step(JUDGE) == formats.step(same_with_slash) == "json_object"
    assert formats.step(other_server) == formats.step(other_model) == "json_schema"
    assert FormatNegotiator(structured=True).step(JUDGE) == "json_schema"  # a new job learns it again


def test_calls_in_flight_wait_for_the_first_answer_so_a_refusal_costs_one_request():
    formats, seen = FormatNegotiator(structured=True), []
    call = refusing("json_schema", seen=seen, delay_s=0.01)

    async def many():
        return await asyncio.gather(*(formats.ask(JUDGE, call) for _ in range(16)))

    results = asyncio.run(many())
    assert {step for _, step in results} == {"json_object"}
    assert formats.refusals == 1 and len(seen) == 17


def test_a_refusal_after_the_format_was_settled_still_steps_down():
    formats, answered = FormatNegotiator(structured=True), []

    async def flaky(step, model):  # accepts json_schema once, then refuses it (another upstream)
        if step == "json_schema" and answered:
            raise ProviderError("response_format unsupported", error_class="format_unsupported", status=400)
        answered.append(step)
        return step

    async def calls():
        return [await formats.ask(JUDGE, flaky) for _ in range(3)]

    assert [step for _, step in asyncio.run(calls())] == ["json_schema", "json_object", "json_object"]


def test_a_refusal_of_plain_instructions_is_raised():
    formats = FormatNegotiator(structured=True)
    with pytest.raises(ProviderError) as raised:
        asyncio.run(formats.ask(JUDGE, refusing(*FORMAT_STEPS)))
    assert raised.value.error_class == "format_unsupported" and formats.refusals == 3


@pytest.mark.parametrize("error", [
    ProviderError("down", error_class="server_error", status=503),
    AuthError("bad key", error_class="auth", status=401),
])
def test_other_errors_pass_through_and_keep_the_format(error):
    formats = FormatNegotiator(structured=True)

    async def failing(step, model):
        raise error

    with pytest.raises(type(error)):
        asyncio.run(formats.ask(JUDGE, failing))
    assert formats.step(JUDGE) == "json_schema" and formats.refusals == 0


def test_no_negotiation_without_structured_output_or_with_the_users_own_format():
    seen: list = []
    asyncio.run(FormatNegotiator(structured=False).ask(JUDGE, refusing(seen=seen)))
    own = ModelConfig(name="j", id="m", extra_body={"response_format": {"type": "json_object"}})
    formats = FormatNegotiator(structured=True)
    asyncio.run(formats.ask(own, refusing(seen=seen)))
    assert seen == [("instructions", None), ("instructions", {"type": "json_object"})]


# -- a whole judged job against a fake that refuses like llama.cpp's server ----------------------


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(("refuse", "expect_step", "refused"), [
    ("json_schema", "json_object", {"500_format": 1}),
    ("any", "instructions", {"400_format": 2}),
])
def test_a_judged_job_against_a_refusing_server(tmp_path, fake_openrouter, fake_key, monkeypatch, caplog, refuse,
                                               expect_step, refused):
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    fake_openrouter.configure(refuse_format=refuse)
    caplog.set_level(logging.DEBUG, logger="sycobench.providers.retry")
    cfg = to_config(compose([
        "model=openrouter", "model.id=local/tiny", f"model.base_url={fake_openrouter.base_url}",
        "scorer=judge", f"scorer.model.base_url={fake_openrouter.base_url}", "scenario.limit=10",
        "run.progress=false", f"run.cache_dir={tmp_path / 'cache'}", "report.bootstrap=200",
    ]))
    result = run_job(prepare_job(cfg), tmp_path / "job")
    scores = _lines(result.job_dir / "scores.jsonl")
    assert len(scores) == 30
    assert all(s["error"] is None and s["score"] is not None and s["attempts"] == 1 for s in scores)
    assert {s["response_format"] for s in scores} == {expect_step}
    outcomes = fake_openrouter.stats()["by_outcome"]
    assert {k: v for k, v in outcomes.items() if k != "ok"} == refused
    assert outcomes["ok"] == 60  # 30 answers + 30 judge calls
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]  # no backoff waits
