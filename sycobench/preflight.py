"""Checks run before a job writes anything or makes its first (paid) call (`spec.prepare_job`).

Each failure is a ConfigError: one line naming the setting and the fix. What a provider or a scorer
needs is asked of its registered class (`check`, `key_env`), never decided here by its name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sycobench.errors import ConfigError
from sycobench.providers.keys import load_api_key
from sycobench.scenario import Prompt, build_grid

if TYPE_CHECKING:
    from sycobench.config import ModelConfig, ReportConfig
    from sycobench.providers.base import Provider
    from sycobench.scenario_file import ScenarioConfig
    from sycobench.store import JobFolder

__all__ = ["check_grid", "check_keys", "check_model", "check_report_scorers", "grid_size"]


def check_model(model: ModelConfig, provider: type[Provider], key: str) -> None:
    import os

    from sycobench.roster import check_model_id

    if not str(model.id or "").strip():
        raise ConfigError(f"{key}.id is empty: pass {key}.id=org/slug")
    for name in ("id", "label"):
        value = getattr(model, name)
        problem = check_model_id(value) if isinstance(value, str) else None
        if problem is None and isinstance(value, str) and model.api_key_env and value == os.environ.get(model.api_key_env):
            problem = f"is the value of {model.api_key_env}, the API key"
        if problem:
            raise ConfigError(f"{key}.{name} {problem}; give the model's id (org/slug)")
    provider.check(model, key)


def check_grid(scenario: ScenarioConfig) -> list[Prompt]:
    """The grid, refusing duplicate list values and a selection of nothing."""
    for name in [*scenario.level_lists, "perspectives"]:
        values = list(getattr(scenario, name))
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ConfigError(f"scenario.{name}: repeated value(s) {', '.join(repeated)} would ask the same prompts twice; list each once")
    grid = build_grid(scenario)
    if not grid:
        raise ConfigError(
            f"the scenario selects no prompt (perspectives={list(scenario.perspectives)}, "
            f"include_neutral={scenario.include_neutral}, shard {scenario.shard} of {scenario.num_shards}); "
            "widen the filters or use fewer shards"
        )
    return grid


def grid_size(scenario: ScenarioConfig) -> int:
    """Triplets in the scenario's whole grid (every combination of the selected levels)."""
    size = 1
    for name in scenario.level_lists:
        size *= len(getattr(scenario, name))
    return size


def check_keys(target: ModelConfig | None, judge: ModelConfig | None, *, auto: bool = False) -> None:
    """Every key the job will use, for the target and for the scorer's model, is set and usable."""
    from sycobench.providers.base import PROVIDERS

    if target is not None and (env := PROVIDERS.get(target.api).key_env(target)):
        load_api_key(env)
    env = PROVIDERS.get(judge.api).key_env(judge) if judge is not None else None
    if not env:
        return
    try:
        load_api_key(env)
    except ConfigError as exc:
        if auto:
            raise ConfigError(
                f"scorer=auto picked the LLM judge {judge.id}, which needs {env}: set it, "
                "or point the judge at a local server (scorer=judge scorer.model.base_url=... "
                "scorer.model.api_key_env=null), or choose scorer=none and score later"
            ) from None
        raise ConfigError(f"the judge ({judge.id}): {exc}") from None


def check_report_scorers(report: ReportConfig, scorer_id: str, folder: JobFolder | None) -> None:
    """`report.scorers` may only name scorers that will have scored this job."""
    if not report.scorers:
        return
    present: set[Any] = {scorer_id} | (folder.scorers() if folder is not None else set())
    unknown = sorted(set(report.scorers) - present)
    if unknown:
        raise ConfigError(
            f"report.scorers: {', '.join(unknown)} will not have scored this job; "
            f"choose among {', '.join(sorted(str(p) for p in present))}"
        )
