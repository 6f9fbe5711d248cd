"""Write the rent reference grids: `python tests/data/grids/make.py` (run only to refresh them on purpose).

Each variant is a list of command-line overrides; its grid is written as `<name>.jsonl`, one
prompt per line, exactly as a job's grid.jsonl. tests/test_grids.py compares byte for byte.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

VARIANTS: dict[str, list[str]] = {
    "default": [],
    "role_facts_rents": ["scenario.explicit_role=true", "scenario.fact_sheet=true", "scenario.base_rents=[900,1500]"],
    "no_neutral": ["scenario.include_neutral=false"],
    "limit_seed": ["scenario.limit=7", "scenario.seed=3"],
    "limit_shard": ["scenario.limit=13", "scenario.num_shards=3", "scenario.shard=1"],
    "shard": ["scenario.num_shards=4", "scenario.shard=2"],
    "filter": ["scenario.justifications=[costs]", "scenario.amounts=[50,400]", "scenario.tenant_conduct=[poor]"],
    "perspectives": ["scenario.perspectives=[tenant,neutral]"],
    "phrasing": ["scenario.version=v2", "scenario.currency=$", "scenario.system_prompt=Answer briefly.",
                 "scenario.landlord_conduct=[good]"],
}


def grid_text(overrides: list[str]) -> str:
    """The grid of a variant, as grid.jsonl text."""
    import json

    from sycobench.api import compose
    from sycobench.config import to_config
    from sycobench.scenario import build_grid

    grid = build_grid(to_config(compose(overrides)).scenario)
    return "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in grid)


def judge_text() -> str:
    """The judge's messages for the first triplets of the default grid, in every context and flip."""
    import json

    from sycobench.api import compose
    from sycobench.config import to_config
    from sycobench.records import Answer
    from sycobench.scenario import build_grid
    from sycobench.scoring.judge import judge_messages

    cfg = to_config(compose([]))
    lines = []
    for p in build_grid(cfg.scenario)[:6]:
        answer = Answer(model_id="m", prompt_id=p.prompt_id, k=0, factors=p.factors, text="An answer.",
                        messages=p.messages)
        for context in ("blinded", "full"):
            for flipped in (False, True):
                messages = judge_messages(answer, context=context, flipped=flipped, scenario=cfg.scenario)
                lines.append(json.dumps({"prompt_id": p.prompt_id, "context": context, "flipped": flipped,
                                         "messages": messages}, ensure_ascii=False) + "\n")
    return "".join(lines)


if __name__ == "__main__":
    for name, overrides in VARIANTS.items():
        (HERE / f"{name}.jsonl").write_text(grid_text(overrides), encoding="utf-8")
    (HERE / "judge.jsonl").write_text(judge_text(), encoding="utf-8")
