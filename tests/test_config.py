"""Every option of every config group composes, and bad values fail before any work."""

from __future__ import annotations

import pytest

from sycobench import compose
from sycobench.paths import CONF_DIR
from sycobench.config import Config, to_config
from sycobench.errors import ConfigError

GROUPS = ["model", "scenario", "scorer", "rate_limit", "protocol"]
ROSTERS = ["paid", "free"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize(("group", "option"), [(g, o) for g in GROUPS for o in _options(g)])
def test_every_option_composes(group: str, option: str) -> None:
    overrides = [f"{group}={option}"]
    if group == "model" and option == "openrouter":
        overrides.append("model.id=openai/gpt-4o-mini")
    if group == "scorer" and option == "human":
        overrides.append("scorer.labels=labels.csv")
    cfg = to_config(compose(overrides))
    assert isinstance(cfg, Config)
    assert getattr(cfg, group).name == option


def test_default_is_offline_mock() -> None:
    cfg = to_config(compose())
    assert cfg.model.api == "mock"
    assert cfg.scenario.name == "rent"
    assert cfg.scorer.name == "auto"


def test_shipped_models_cover_grok_and_a_free_model() -> None:
    ids = {to_config(compose([f"model={m}"])).model.id for m in _options("model") if m != "openrouter"}
    assert "x-ai/grok-4-fast" in ids
    assert any(i.endswith(":free") for i in ids)
    assert len([i for i in ids if "/" in i and not i.startswith("sycobench/")]) >= 7


def test_generic_openrouter_model_takes_any_id() -> None:
    cfg = to_config(compose(["model=openrouter", "model.id=mistralai/mistral-nemo"]))
    assert cfg.model.id == "mistralai/mistral-nemo"
    assert cfg.model.base_url.startswith("https://openrouter.ai")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("scenario.limit=-3", "scenario.limit"),
        ("run.concurrency=0", "run.concurrency"),
        ("scenario.shard=4", "scenario.shard"),
        ("model.sycophancy=1.5", "model.sycophancy"),
        ("rate_limit.max_attempts=0", "rate_limit.max_attempts"),
        ("report.threshold=2", "report.threshold"),
        ("report.formats=[png,jpg]", "report.formats: 'jpg' is not a plot format; choose among svg, png, pdf"),
        ("scenario.perspectives=[landlord,owner]", "scenario.perspectives"),
    ],
)
def test_out_of_range_values_name_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        to_config(compose([override]))


@pytest.mark.parametrize("override", ["scenario.limit=abc", "scenario.limt=3", "run.samples=many"])
def test_wrong_types_and_keys_fail_at_composition(override: str) -> None:
    with pytest.raises(Exception, match=override.split("=")[0].split(".")[1]):
        compose([override])


def test_missing_model_id_is_named() -> None:
    with pytest.raises(ConfigError, match=r"model\.id is required"):
        to_config(compose(["model=openrouter"]))


def test_compose_works_from_any_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert to_config(compose(["scenario.limit=2"])).scenario.limit == 2
    assert to_config(compose()).scenario.limit is None  # global state was cleaned up


@pytest.mark.parametrize("roster", ROSTERS)
def test_every_roster_composes(roster: str) -> None:
    cfg = to_config(compose([f"+roster={roster}", "model.id=openai/gpt-4o-mini"]))
    assert cfg.roster is not None and cfg.model.api == "openrouter"
