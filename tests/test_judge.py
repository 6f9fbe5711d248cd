"""The LLM judge over real HTTP (the loopback fake), scorer selection, score-later, agreement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sycobench import compose
from sycobench.config import ScorerConfig, to_config
from sycobench.job import run_job
from sycobench.spec import prepare_job
from sycobench.scenario import build_grid
from sycobench.config import ScenarioConfig
from sycobench.records import Answer
from sycobench.scoring import resolve_scorer
from sycobench.scoring.judge import default_judge, is_flipped, judge_messages
from tests.test_cli import sycobench

CUES = ("my landlord", "my tenant", "i rent", "i'm planning", "how should i", "landlord asks", "tenant asks", "perspective")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _answer(prompt, text="The increase seems fair; go ahead."):
    return Answer(model_id="m", prompt_id=prompt.prompt_id, k=0, factors=prompt.factors, text=text,
                  perspective=prompt.perspective, messages=prompt.messages)


def test_auto_picks_offline_for_mock_and_judge_for_api_models() -> None:
    mock = to_config(compose())
    assert resolve_scorer(mock.scorer, mock.model, mock.scenario, simulated=True)[0].name == "offline"
    api = to_config(compose(["model=grok-4-fast"]))
    chosen, why = resolve_scorer(api.scorer, api.model, api.scenario, simulated=False)
    assert chosen.name == "judge" and chosen.model.temperature == 0 and chosen.model.seed is not None
    assert chosen.model.id == default_judge().model.id and "API model" in why
    assert prepare_job(api.__class__(**{**api.__dict__, "run": api.run.__class__(dry_run=True)})).scorer.name == "judge"


def test_blinded_context_carries_no_perspective_cue() -> None:
    grid = build_grid(ScenarioConfig(limit=3))
    by_triplet: dict[str, set[str]] = {}
    for prompt in grid:
        messages = judge_messages(_answer(prompt), context="blinded", flipped=False, scenario=ScenarioConfig())
        text = json.dumps(messages).lower()
        assert not any(cue in text for cue in CUES), text
        by_triplet.setdefault(prompt.triplet_id, set()).add(json.dumps(messages))
    assert all(len(v) == 1 for v in by_triplet.values())  # the judge cannot tell who asked


def test_full_context_shows_the_conversation_and_scale_flips() -> None:
    prompt = build_grid(ScenarioConfig(limit=1))[0]
    rent = ScenarioConfig()
    full = json.dumps(judge_messages(_answer(prompt), context="full", flipped=False, scenario=rent))
    assert "I rent out an apartment" in full and "<answer>" in full
    flipped = json.dumps(judge_messages(_answer(prompt), context="blinded", flipped=True, scenario=rent))
    assert "-1 = clearly pro-landlord" in flipped and "-1 = clearly pro-landlord" not in full
    scorer = ScorerConfig(name="judge", model=default_judge().model, flip_half=True)
    flips = [is_flipped(scorer, p.prompt_id, k) for p in build_grid(ScenarioConfig()) for k in range(2)]
    assert 0.35 < sum(flips) / len(flips) < 0.65


def _judge_job(tmp_path: Path, fake, overrides: list[str]):
    cfg = to_config(compose([
        "model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={fake.base_url}",
        "scorer=judge", f"scorer.model.base_url={fake.base_url}", "scenario.limit=4", "rate_limit=unlimited",
        "run.progress=false", f"run.cache_dir={tmp_path / 'cache'}", "report.bootstrap=200", *overrides,
    ]))
    return run_job(prepare_job(cfg), tmp_path / "job")


@pytest.fixture
def api_key(monkeypatch, fake_key):
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    return fake_key


@pytest.mark.parametrize(
    ("mode", "expect"),
    [("json", "scored"), ("bare", "scored"), ("distract", "unparseable"), ("junk", "unparseable"),
     ("out_of_range", "out_of_range")],
)
def test_judge_modes_over_http(tmp_path, fake_openrouter, api_key, mode, expect) -> None:
    fake_openrouter.configure(judge_mode=mode)
    result = _judge_job(tmp_path, fake_openrouter, ["scorer.max_parse_retries=1"])
    scores = _lines(result.job_dir / "scores.jsonl")
    assert len(scores) == 12
    for s in scores:
        assert s["scorer"] == "judge:openai/gpt-4o-mini" and s["error"] is None
        if expect == "scored":
            assert -1 <= s["score"] <= 1 and s["unscorable"] is None and s["attempts"] == 1
        else:
            assert s["score"] is None and s["unscorable"].startswith(expect)
            assert s["raw"]
    if expect == "out_of_range":
        assert all(s["value"] == 7 for s in scores)
    if expect == "unparseable":  # retried once, then recorded with the raw reply
        assert fake_openrouter.stats()["judge_requests"] == 24
    judge_cost = sum(s["cost_usd"] for s in scores)
    assert judge_cost > 0  # accounted under the judge role


def test_flip_half_maps_reversed_scores_back(tmp_path, fake_openrouter, api_key) -> None:
    plain = _judge_job(tmp_path / "a", fake_openrouter, [])
    flipped = _judge_job(tmp_path / "b", fake_openrouter, ["scorer.flip_half=true"])
    a = {(s["prompt_id"], s["k"]): s["score"] for s in _lines(plain.job_dir / "scores.jsonl")}
    rows = _lines(flipped.job_dir / "scores.jsonl")
    assert any(r["flipped"] for r in rows) and not all(r["flipped"] for r in rows)
    for r in rows:
        assert r["score"] == pytest.approx(a[(r["prompt_id"], r["k"])], abs=1e-9)


@pytest.mark.slow
def test_judge_job_then_score_later_adds_a_second_scorer(tmp_path, fake_openrouter, fake_key) -> None:
    job = tmp_path / "job"
    env = {"OPENROUTER_API_KEY": fake_key, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = sycobench("model=openrouter", "model.id=x/y", f"model.base_url={fake_openrouter.base_url}",
                     "scorer=judge", f"scorer.model.base_url={fake_openrouter.base_url}", "scenario.limit=6",
                     "report.bootstrap=200", f"hydra.run.dir={job}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    runs = (job / "run.jsonl").read_bytes()
    scores = _lines(job / "scores.jsonl")
    assert len(scores) == 18 and all(s["score"] is not None or s["unscorable"] for s in scores)
    assert "scorer: judge" in (job / "config.yaml").read_text().replace("name: judge", "scorer: judge")
    later = sycobench(f"run_dir={job}", "scorer=offline", "scorer.allow_unvalidated=true", "report.bootstrap=200", cwd=tmp_path, env=env,
                      module="sycobench.score")
    assert later.returncode == 0, later.stderr
    assert (job / "run.jsonl").read_bytes() == runs
    assert {s["scorer"] for s in _lines(job / "scores.jsonl")} == {"judge:openai/gpt-4o-mini", "offline"}
    agreement = (job / "agreement.csv").read_text()
    assert "spearman" in agreement and "offline" in agreement
    again = sycobench(f"run_dir={job}", "scorer=offline", "scorer.allow_unvalidated=true", cwd=tmp_path, env=env, module="sycobench.score")
    assert again.returncode == 0 and len(_lines(job / "scores.jsonl")) == 36  # resumable: nothing re-scored


def test_human_labels_import_as_a_scorer(tmp_path) -> None:
    from sycobench.report.load import load_results
    from sycobench.score import ScoreAppConfig, score_path
    from sycobench.config import RateLimitConfig

    result = run_job(prepare_job(to_config(compose(["scenario.limit=2", "run.progress=false", "report.bootstrap=200"]))),
                     tmp_path / "job")
    runs = _lines(result.job_dir / "run.jsonl")
    labels = tmp_path / "labels.csv"
    labels.write_text("prompt_id,k,score\n" + "".join(f"{r['prompt_id']},0,{0.5 if r['perspective'] == 'landlord' else -0.5}\n" for r in runs))
    app = ScoreAppConfig(run_dir=str(result.job_dir), scorer=ScorerConfig(name="human", labels=str(labels)),
                         rate_limit=RateLimitConfig())
    assert score_path(result.job_dir, app) == 6
    from sycobench.store import JobFolder

    results = load_results(JobFolder(result.job_dir))
    assert set(results["scorer"]) == {"offline", "human:labels"}
    assert (result.job_dir / "agreement.csv").exists()
    with pytest.raises(Exception, match="prompt_id,k,score"):
        bad = tmp_path / "bad.csv"
        bad.write_text("id,label\n1,2\n")
        score_path(result.job_dir, ScoreAppConfig(run_dir=str(result.job_dir), rate_limit=RateLimitConfig(),
                                                  scorer=ScorerConfig(name="human", labels=str(bad))))
