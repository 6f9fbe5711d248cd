"""The grid of any scenario file: matched triplets (party A, party B, neutral prompts).

The three prompts of a triplet state exactly the same facts and differ only in who asks.
Ids are content hashes, so they are identical across runs and machines. The wording comes
from the scenario file (sycobench.scenario_file); nothing here is specific to one scenario.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from sycobench.scenario_file import NEUTRAL, ScenarioConfig

__all__ = ["TURN_FIELDS", "Prompt", "build_grid", "content_id", "fact_sheet", "template_values", "who_asks"]

#: what a later turn's prompt adds (sycobench.protocol); a first turn's grid line leaves them out
TURN_FIELDS = ("turn", "parent_id", "style", "objector")


@dataclass(frozen=True, slots=True)
class Prompt:
    """One prompt of the grid. A later turn (`turn` 2) holds only the user turn it adds (`messages`), and
    follows the answer to its `parent_id` in the same conversation; `objector` is the side it pushes toward."""

    prompt_id: str
    triplet_id: str
    scenario: str
    version: str
    perspective: str
    factors: dict[str, Any]
    messages: list[dict[str, str]]
    turn: int = 1
    parent_id: str | None = None
    style: str | None = None
    objector: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.turn == 1:
            for name in TURN_FIELDS:
                del out[name]
        return out


def content_id(payload: dict[str, Any]) -> str:
    """A short content hash of `payload`: the same on every run and machine."""
    return _digest(payload)


def _digest(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def template_values(cfg: ScenarioConfig, factors: dict[str, Any]) -> dict[str, Any]:
    """What a template may name: each factor's level (a text factor's `fact` phrase), then the variables."""
    values = dict(factors)
    for name, spec in cfg.factors.items():
        if spec.get("text") is not None:
            values[name] = spec["text"][factors[name]].get("fact", factors[name])
    for name, spec in (cfg.to_dict().get("variables") or {}).items():
        value = factors[spec["value"]]
        if spec.get("per"):
            value = 100 * value / factors[spec["per"]]
        values[name] = spec.get("format", "{value}").format(value=value, currency=cfg.currency)
    return values


def fact_sheet(factors: dict[str, Any], *, cfg: ScenarioConfig | None = None) -> str:
    """The facts of a triplet in neutral, compact form (system background and blinded judge)."""
    cfg = cfg or ScenarioConfig()
    values = template_values(cfg, factors)
    return "\n".join(line.format(**values) for line in cfg.facts)


def _render(cfg: ScenarioConfig, factors: dict[str, Any], perspective: str) -> list[dict[str, str]]:
    values = template_values(cfg, factors)
    role = (cfg.to_dict().get("role") or {}).get(perspective, "") if cfg.explicit_role else ""
    texts = [spec["text"][factors[name]][perspective] for name, spec in cfg.factors.items() if spec.get("text")]
    body = " ".join([role + cfg.opening[perspective].format(**values), *(t.format(**values) for t in texts),
                     cfg.question[perspective].format(**values)])
    system = cfg.system_prompt
    if cfg.fact_sheet:
        system = f"{system}\n\nBackground facts:\n{fact_sheet(factors, cfg=cfg)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": body}]


def _all_factors(cfg: ScenarioConfig) -> list[dict[str, Any]]:
    names = list(cfg.factors)
    derived = cfg.to_dict().get("derived") or {}
    out = []
    for levels in itertools.product(*(getattr(cfg, key) for key in cfg.level_lists)):
        factors = dict(zip(names, levels))
        for name, spec in derived.items():
            factors[name] = spec["values"][" ".join(str(factors[f]) for f in spec["from"])]
        out.append(factors)
    return out


def _balanced_sample(cfg: ScenarioConfig, triplets: list[dict[str, Any]], limit: int, seed: int) -> list[dict[str, Any]]:
    """Seeded sampling that keeps every factor as even as possible: rounds over the strata
    (`sample.strata`, rent: base rent, amount, justification), each next pick being the stratum
    whose levels are least used so far, and inside it the least-used `sample.within` combination."""
    names = list(cfg.factors)
    spec = cfg.to_dict().get("sample") or {}
    strata_of = spec.get("strata") or names[:-1]
    within = spec.get("within") or names[len(strata_of):]
    rng = random.Random(seed)
    strata: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for t in triplets:
        strata[tuple(t[f] for f in strata_of)].append(t)
    for members in strata.values():
        rng.shuffle(members)
    used: Counter = Counter()
    chosen: list[dict[str, Any]] = []

    def inner(t: dict[str, Any]) -> tuple:
        return ("conduct", *(t[f] for f in within))

    while len(chosen) < limit:
        open_strata = {s: rng.random() for s in strata if strata[s]}
        while open_strata and len(chosen) < limit:
            s = min(open_strata, key=lambda s: (sum(used[(i, v)] for i, v in enumerate(s)), open_strata[s]))
            del open_strata[s]
            members = strata[s]
            best = min(range(len(members)), key=lambda i: used[inner(members[i])])
            pick = members.pop(best)
            used.update([(i, v) for i, v in enumerate(s)] + [inner(pick)])
            chosen.append(pick)
    return chosen


def build_grid(cfg: ScenarioConfig) -> list[Prompt]:
    """Every prompt of the configured grid: filter, sample `limit` triplets, keep one shard."""
    triplets = _all_factors(cfg)
    if cfg.limit is not None and cfg.limit < len(triplets):
        triplets = _balanced_sample(cfg, triplets, cfg.limit, cfg.seed)
    phrasing = {
        "explicit_role": cfg.explicit_role,
        "currency": cfg.currency,
        "system_prompt": cfg.system_prompt,
        "fact_sheet": cfg.fact_sheet,
    }
    base = {"scenario": cfg.name, "version": cfg.version, "phrasing": phrasing}
    keyed = sorted(((_digest({**base, "factors": f}), f) for f in triplets), key=lambda kv: kv[0])
    perspectives = [p for p in cfg.voices if p in cfg.perspectives and (p != "neutral" or cfg.include_neutral)]
    grid: list[Prompt] = []
    for index, (triplet_id, factors) in enumerate(keyed):
        if index % cfg.num_shards != cfg.shard:
            continue
        for perspective in perspectives:
            grid.append(
                Prompt(
                    prompt_id=_digest({**base, "factors": factors, "perspective": perspective}),
                    triplet_id=triplet_id,
                    scenario=cfg.name,
                    version=cfg.version,
                    perspective=perspective,
                    factors=factors,
                    messages=_render(cfg, factors, perspective),
                )
            )
    return grid


def who_asks(cfg: ScenarioConfig, text: str) -> str:
    """Which voice a prompt is written in (a party id or `neutral`), read as a model would: from the
    scenario's `mock.asker_cues` ("my landlord" is said by the tenant), else from how each voice's
    opening begins (the text before its first placeholder, after any role sentence)."""
    lowered = text.lower()
    cues = (cfg.to_dict().get("mock") or {}).get("asker_cues") or {}
    if cues:
        return next((party for party, said in cues.items() if any(c.lower() in lowered for c in said)), NEUTRAL)
    roles = cfg.to_dict().get("role") or {}
    openings = {voice: cfg.opening[voice].split("{", 1)[0].strip().lower() for voice in cfg.voices}
    for voice, start in sorted(openings.items(), key=lambda kv: -len(kv[1])):  # the longest, most specific first
        role = str(roles.get(voice) or "").strip().lower()
        body = lowered[len(role):].lstrip() if role and lowered.startswith(role) else lowered
        if start and body.startswith(start):
            return voice
    return NEUTRAL
