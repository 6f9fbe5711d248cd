"""A scenario file is checked when it loads: one line per problem, as a ConfigError (exit 2)."""

from __future__ import annotations

import copy

import pytest
import yaml

from sycobench.config import to_config
from sycobench.errors import ConfigError
from sycobench.paths import CONF_DIR
from sycobench.scenario import build_grid
from sycobench.scenario_file import ScenarioConfig

RENT = yaml.safe_load((CONF_DIR / "scenario" / "rent.yaml").read_text(encoding="utf-8"))


def _broken(edit) -> dict:
    data = copy.deepcopy(RENT)
    edit(data)
    return data


@pytest.mark.parametrize(("edit", "line"), [
    (lambda d: d["factors"]["justification"]["text"]["costs"].pop("tenant"),
     "scenario.factors.justification.text.costs: no 'tenant' voice"),
    (lambda d: d["opening"].update(landlord="I charge {rentt} a month."),
     "scenario.opening.landlord: template names unknown factor or variable {rentt}"),
    (lambda d: d["question"].update(owner="Is it fair?"), "scenario.question: 'owner' is not a party id"),
    (lambda d: d.update(amounts=[]), "scenario.amounts: the levels of factor amount must be a non-empty list"),
    (lambda d: d.update(justifications=["weather"]), "scenario.justifications: unknown value(s) ['weather']"),
    (lambda d: d["judge"].pop("minus"), "scenario.judge: missing minus"),
    (lambda d: d.pop("facts"), "scenario.facts: missing"),
    (lambda d: d["parties"].pop(), "scenario.parties: give exactly two"),
    (lambda d: d.update(perspectives=["landlord", "owner"]), "scenario.perspectives: values must be among"),
    (lambda d: d["variables"]["pct"].update(per="rent"), "scenario.variables.pct: give `value: <numeric factor>`"),
    (lambda d: d.update(offline_cues=[{"side": "a", "weight": 1, "phrases": ["(unclosed"]}]),
     "scenario.offline_cues[0]: '(unclosed' is not a lowercase regex"),
    (lambda d: d["mock"].update(answers={"a": ["One."], "b": [], "balanced": [], "closers": {}}),
     "scenario.mock.answers.a: give at least five sentences"),
    (lambda d: d["pushback"]["firm"].pop("tenant"),
     "scenario.pushback.firm.tenant: give the objection as one text (the asker's voice, asking again); it is missing"),
    (lambda d: d["pushback"]["firm"]["neutral"].pop("landlord"),
     "scenario.pushback.firm.neutral.landlord: give the objection as one text"),
    (lambda d: d["pushback"]["simple"].update(owner="No."), "scenario.pushback.simple: 'owner' is not a party id"),
    (lambda d: d["pushback"]["simple"]["neutral"].update(owner="No."),
     "scenario.pushback.simple.neutral: 'owner' is not a party id"),
    (lambda d: d["pushback"]["firm"].update(landlord="Raising it by {amonut} is fair."),
     "scenario.pushback.firm.landlord: template names unknown factor or variable {amonut}"),
    (lambda d: d["pushback"]["firm"].update(tenant=d["pushback"]["simple"]["tenant"]),
     "scenario.pushback.firm.tenant: the same text as pushback.simple.tenant"),
    (lambda d: d["pushback"].update({"All": d["pushback"]["simple"]}), "scenario.pushback.All: a style is a lowercase"),
    (lambda d: d.update(pushback=[]), "scenario.pushback: give each style's objections"),
])
def test_each_problem_is_one_line(edit, line: str) -> None:
    with pytest.raises(ConfigError) as err:
        ScenarioConfig(_broken(edit))
    assert any(row.startswith(line) for row in str(err.value).splitlines()), str(err.value)


def test_every_problem_is_listed() -> None:
    def two(d: dict) -> None:
        d["opening"].pop("neutral")
        d["question"].pop("tenant")

    rows = str(pytest.raises(ConfigError, ScenarioConfig, _broken(two)).value).splitlines()
    assert rows == ["scenario.opening: no 'neutral' voice (give landlord, tenant, neutral)",
                    "scenario.question: no 'tenant' voice (give landlord, tenant, neutral)"]


def test_every_shipped_scenario_loads_and_builds_matched_triplets() -> None:
    from sycobench.api import compose

    for path in sorted((CONF_DIR / "scenario").glob("*.yaml")):
        cfg = to_config(compose([f"scenario={path.stem}"])).scenario
        grid = build_grid(cfg)
        assert grid and {p.perspective for p in grid} == {*cfg.party_ids, "neutral"}
        by_triplet: dict[str, list] = {}
        for p in grid:
            by_triplet.setdefault(p.triplet_id, []).append(p)
        assert all(len(members) == 3 for members in by_triplet.values()), path.stem
        assert all(len({str(p.factors) for p in members}) == 1 for members in by_triplet.values())


def test_level_knobs_of_any_scenario_work_from_the_command_line() -> None:
    from sycobench.api import compose

    cfg = to_config(compose(["scenario.justifications=[costs]", "scenario.limit=2"])).scenario
    assert {p.factors["justification"] for p in build_grid(cfg)} == {"costs"}
    with pytest.raises(ConfigError, match="scenario.limits: no such setting"):
        compose(["+scenario.limits=5"])


def test_a_job_saved_before_scenarios_were_data_loads_as_rent() -> None:
    from sycobench.config import load_saved_config

    saved = {"model": {"name": "mock", "api": "mock", "id": "sycobench/mock"}, "scorer": {"name": "offline"},
             "rate_limit": {"name": "default"},
             "scenario": {"name": "rent", "version": "v1", "base_rents": [1200], "amounts": [50, 100],
                          "justifications": ["costs"], "landlord_conduct": ["good", "poor"],
                          "tenant_conduct": ["good"], "perspectives": ["landlord", "tenant", "neutral"],
                          "include_neutral": True, "explicit_role": False, "currency": "€",
                          "system_prompt": "You are a helpful assistant.", "fact_sheet": False, "limit": None,
                          "seed": 0, "shard": 0, "num_shards": 1}}
    cfg = load_saved_config(saved).scenario
    assert cfg.party_ids == ["landlord", "tenant"] and len(build_grid(cfg)) == 2 * 2 * 3
