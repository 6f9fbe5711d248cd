"""The pushback turn: after its first answer, every prompt's asker objects and asks again.

`protocol=pushback` adds, for each first-turn prompt of the grid and each objection style of the
scenario's `pushback` section, a second-turn prompt: party A's asker objects toward party A, party
B's toward party B, and the neutral asker once toward each (`objector`: `a` or `b`). A second-turn
prompt holds only the user turn it adds; its conversation is its parent's prompt, the parent's
answer (same sample k), then that turn (`conversation`). Ids are content hashes of the parent's id,
the style and the objector, so they repeat across runs like every other id.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sycobench.errors import ConfigError
from sycobench.scenario import Prompt, content_id, template_values
from sycobench.scenario_file import NEUTRAL, ScenarioConfig

__all__ = ["check_pushback", "conversation", "pushback_prompts", "who_objects", "with_pushback"]


def check_pushback(cfg: ScenarioConfig, styles: list[str] | None) -> list[str]:
    """The styles a pushback job uses; a scenario without a `pushback` section, or a style it does not
    have, is one ConfigError line."""
    have = cfg.pushback_styles
    if not have:
        raise ConfigError(f"protocol=pushback: scenario {cfg.name!r} has no pushback section (the asker's objection "
                          "in each voice, docs/scenarios.md); add one, or use protocol=single")
    unknown = [s for s in styles or [] if s not in have]
    if unknown:
        raise ConfigError(f"protocol.styles: {', '.join(map(repr, unknown))} not in scenario {cfg.name!r}; "
                          f"choose from {', '.join(have)}")
    return list(styles) if styles else have


def _objections(cfg: ScenarioConfig, style: str, perspective: str) -> list[tuple[str, str]]:
    """(objector side, template) of one asker in one style: a party objects for itself, the third person
    once for each party."""
    table = cfg.pushback[style]
    a, b = cfg.party_ids
    if perspective == NEUTRAL:
        return [("a", table[NEUTRAL][a]), ("b", table[NEUTRAL][b])]
    return [("a" if perspective == a else "b", table[perspective])]


def pushback_prompts(cfg: ScenarioConfig, grid: list[Prompt], styles: list[str]) -> list[Prompt]:
    """The second-turn prompts of every first-turn prompt in `grid`, for each of `styles`."""
    out = []
    for parent in grid:
        values = template_values(cfg, parent.factors)
        for style in styles:
            for objector, template in _objections(cfg, style, parent.perspective):
                out.append(Prompt(
                    prompt_id=content_id({"parent": parent.prompt_id, "turn": 2, "style": style, "objector": objector}),
                    triplet_id=parent.triplet_id, scenario=parent.scenario, version=parent.version,
                    perspective=parent.perspective, factors=parent.factors,
                    messages=[{"role": "user", "content": template.format(**values)}],
                    turn=2, parent_id=parent.prompt_id, style=style, objector=objector))
    return out


def with_pushback(cfg: ScenarioConfig, grid: list[Prompt], styles: list[str]) -> list[Prompt]:
    """The grid followed by its second-turn prompts."""
    return [*grid, *pushback_prompts(cfg, grid, styles)]


def conversation(parent: list[dict[str, str]], answer: str, turn: list[dict[str, str]]) -> list[dict[str, str]]:
    """What a second-turn call sends: the first prompt, its answer, the objection."""
    return [*parent, {"role": "assistant", "content": answer}, *turn]


def who_objects(cfg: ScenarioConfig, text: str) -> str | None:
    """Which side an objection pushes toward (`a` or `b`), read from its text as a model would read it:
    the scenario's pushback sentence it is (placeholders match any text); None for any other text."""
    for side, pattern in _patterns(cfg.name, _key(cfg)):
        if pattern.fullmatch(text.strip()):
            return side
    return None


def _key(cfg: ScenarioConfig) -> tuple:
    a, b = cfg.party_ids
    section = cfg.to_dict().get("pushback") or {}
    return tuple((style, party, side, table.get(party) if party != NEUTRAL else None,
                  (table.get(NEUTRAL) or {}).get(a if side == "a" else b) if party == NEUTRAL else None)
                 for style, table in section.items() for party, side in ((a, "a"), (b, "b"), (NEUTRAL, "a"), (NEUTRAL, "b")))


@lru_cache(maxsize=16)
def _patterns(_name: str, key: tuple) -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for _style, _party, side, own, neutral in key:
        template = own if own is not None else neutral
        parts = re.split(r"\{[^{}]*\}", template.strip())
        out.append((side, re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)))
    return tuple(out)
