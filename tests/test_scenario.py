"""Grid properties: matched triplets, stable ids, balanced sampling, exact shards."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from sycobench.config import ScenarioConfig
from sycobench.scenario import build_grid, fact_sheet


def test_full_grid_is_complete_triplets() -> None:
    cfg = ScenarioConfig()
    grid = build_grid(cfg)
    n_triplets = len(cfg.base_rents) * len(cfg.amounts) * len(cfg.justifications) * 4
    assert len(grid) == 3 * n_triplets
    by_triplet = Counter(p.triplet_id for p in grid)
    assert set(by_triplet.values()) == {3}


def test_triplet_prompts_state_the_same_facts() -> None:
    grid = build_grid(ScenarioConfig())
    triplets: dict[str, list] = {}
    for p in grid:
        triplets.setdefault(p.triplet_id, []).append(p)
    for members in triplets.values():
        assert {p.perspective for p in members} == {"landlord", "tenant", "neutral"}
        assert len({json.dumps(p.factors, sort_keys=True) for p in members}) == 1
        f = members[0].factors
        for p in members:
            text = p.messages[-1]["content"]
            assert f"€{f['base_rent']:,}" in text and f"€{f['amount']:,}" in text
        # only who asks differs: same system prompt, same question shape
        assert len({p.messages[0]["content"] for p in members}) == 1
        assert all("Is this increase fair, and how should" in p.messages[-1]["content"] for p in members)


def test_prose_has_no_raw_codes() -> None:
    for p in build_grid(ScenarioConfig(fact_sheet=True)):
        text = " ".join(m["content"] for m in p.messages)
        assert "_" not in text
        assert p.factors["relationship"] not in text


def test_neutral_prompt_is_third_person_without_balance_instruction() -> None:
    neutral = [p for p in build_grid(ScenarioConfig()) if p.perspective == "neutral"]
    for p in neutral:
        text = p.messages[-1]["content"].lower()
        assert not re.search(r"\b(i|i'm|my|me)\b", text), text
        assert "balanced" not in text and "both sides" not in text


def test_explicit_role_option() -> None:
    grid = build_grid(ScenarioConfig(explicit_role=True))
    landlord = next(p for p in grid if p.perspective == "landlord")
    assert landlord.messages[-1]["content"].startswith("I'm a landlord.")
    implicit = next(p for p in build_grid(ScenarioConfig()) if p.perspective == "landlord")
    assert "landlord" not in implicit.messages[-1]["content"].lower().split("my tenant")[0]


def test_ids_unique_and_stable_across_processes() -> None:
    grid = build_grid(ScenarioConfig())
    ids = [p.prompt_id for p in grid]
    assert len(set(ids)) == len(ids)
    code = "from sycobench.scenario import build_grid; from sycobench.config import ScenarioConfig;" \
           "print(','.join(p.prompt_id + ':' + p.triplet_id for p in build_grid(ScenarioConfig())))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert other == ",".join(f"{p.prompt_id}:{p.triplet_id}" for p in grid)


@pytest.mark.parametrize("limit", [1, 5, 12, 13, 30])
def test_limit_is_balanced_over_amount_and_justification(limit: int) -> None:
    cfg = ScenarioConfig(limit=limit)
    grid = build_grid(cfg)
    landlord = [p for p in grid if p.perspective == "landlord"]
    assert len(landlord) == limit
    for factor, levels in (("amount", cfg.amounts), ("justification", cfg.justifications)):
        counts = Counter(p.factors[factor] for p in landlord)
        full = [counts.get(level, 0) for level in levels]
        assert max(full) - min(full) <= 1, (factor, counts)


def test_limit_is_seeded_not_first_n() -> None:
    a = {p.triplet_id for p in build_grid(ScenarioConfig(limit=10, seed=0))}
    b = {p.triplet_id for p in build_grid(ScenarioConfig(limit=10, seed=0))}
    c = {p.triplet_id for p in build_grid(ScenarioConfig(limit=10, seed=1))}
    assert a == b and a != c


@pytest.mark.parametrize(("num_shards", "limit"), [(2, None), (4, None), (3, 20), (7, 10)])
def test_shards_partition_the_grid(num_shards: int, limit: int | None) -> None:
    whole = build_grid(ScenarioConfig(limit=limit))
    parts = [build_grid(ScenarioConfig(limit=limit, shard=s, num_shards=num_shards)) for s in range(num_shards)]
    ids = [p.prompt_id for part in parts for p in part]
    assert len(ids) == len(set(ids))
    assert set(ids) == {p.prompt_id for p in whole}
    for part in parts:  # shards keep triplets whole
        assert set(Counter(p.triplet_id for p in part).values()) <= {3}


def test_filters_and_include_neutral() -> None:
    grid = build_grid(ScenarioConfig(amounts=[100], perspectives=["landlord", "tenant"]))
    assert {p.factors["amount"] for p in grid} == {100}
    assert {p.perspective for p in grid} == {"landlord", "tenant"}
    no_neutral = build_grid(ScenarioConfig(include_neutral=False))
    assert "neutral" not in {p.perspective for p in no_neutral}
    # ids of the remaining prompts do not change when others are filtered out
    full = {p.prompt_id for p in build_grid(ScenarioConfig())}
    assert {p.prompt_id for p in grid} <= full


def test_fact_sheet_in_system_prompt_is_identical_across_triplet() -> None:
    grid = build_grid(ScenarioConfig(fact_sheet=True, limit=3))
    for tid in {p.triplet_id for p in grid}:
        systems = {p.messages[0]["content"] for p in grid if p.triplet_id == tid}
        assert len(systems) == 1 and "Background facts" in next(iter(systems))
    assert "per month" in fact_sheet(grid[0].factors)
