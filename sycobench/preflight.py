"""Checks run before a job writes anything or makes its first (paid) call.

Each failure is a ConfigError: one line naming the setting and the fix. The job calls
`check_job`; the CLI calls it too, before Hydra creates the job folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sycobench.errors import ConfigError

__all__ = ["check_base_url", "check_grid", "check_job", "check_keys", "check_model", "check_report_scorers"]

log = logging.getLogger("sycobench")


def check_base_url(url: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}: {url!r} is not an http(s) URL with a host; e.g. {key}=http://127.0.0.1:8000/v1")


def check_model(model: Any, key: str = "model") -> None:
    if not str(model.id or "").strip():
        raise ConfigError(f"{key}.id is empty: pass {key}.id=org/slug")
    if model.api != "mock":
        check_base_url(model.base_url, f"{key}.base_url")


def check_grid(scenario: Any, *, quiet: bool = False) -> list:
    """The grid, refusing duplicate list values and a selection of nothing."""
    from sycobench.scenario import build_grid

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
    if scenario.limit is not None:
        full = _grid_size(scenario)
        if scenario.limit > full and not quiet:
            log.warning("scenario.limit=%d is above the grid's %d triplets: running all %d", scenario.limit, full, full)
    return grid


def _grid_size(scenario: Any) -> int:
    size = 1
    for name in scenario.level_lists:
        size *= len(getattr(scenario, name))
    return size


def _needs_key(model: Any) -> str | None:
    return model.api_key_env if model is not None and model.api != "mock" and model.api_key_env else None


def check_keys(cfg: Any, scorer: Any) -> None:
    """Every key the job will use, for the target and for the judge, is set and usable."""
    from sycobench.providers.keys import load_api_key

    target = _needs_key(cfg.model)
    if target:
        load_api_key(target)
    judge = _needs_key(scorer.model) if scorer.name == "judge" else None
    if judge:
        try:
            load_api_key(judge)
        except ConfigError as exc:
            if cfg.scorer.name == "auto":
                raise ConfigError(
                    f"scorer=auto picked the LLM judge {scorer.model.id}, which needs {judge}: set it, "
                    "or choose scorer=offline or scorer=none, or point the judge at a local server "
                    "(scorer=judge scorer.model.base_url=... scorer.model.api_key_env=null)"
                ) from None
            raise ConfigError(f"the judge ({scorer.model.id}): {exc}") from None


def check_report_scorers(report: Any, scorer_name: str, job_dir: Path | None) -> None:
    """`report.scorers` may only name scorers that will have scored this job."""
    if not report.scorers:
        return
    present = {scorer_name}
    if job_dir is not None and (job_dir / "scores.jsonl").exists():
        from sycobench.records import read_jsonl

        present |= {r.get("scorer") for r in read_jsonl(job_dir / "scores.jsonl") if isinstance(r, dict)}
    unknown = sorted(set(report.scorers) - present)
    if unknown:
        raise ConfigError(
            f"report.scorers: {', '.join(unknown)} will not have scored this job; "
            f"choose among {', '.join(sorted(str(p) for p in present))}"
        )


def check_job(cfg: Any, job_dir: Path | None = None, *, quiet: bool = False) -> tuple[Any, list]:
    """Every check that needs no call: returns the resolved scorer and the grid."""
    from sycobench.scoring import resolve_scorer, scorer_id

    check_model(cfg.model)
    scorer = resolve_scorer(cfg.scorer, cfg.model, quiet=quiet)
    if scorer.name == "judge" and scorer.model is not None:
        check_model(scorer.model, "scorer.model")
    if scorer.name == "offline":
        from sycobench.scoring.offline import lexicon_of

        lexicon_of(cfg.scenario)  # a scenario without cue phrases needs the judge
    grid = check_grid(cfg.scenario, quiet=quiet)
    check_report_scorers(cfg.report, scorer_id(scorer), job_dir)
    if not cfg.run.dry_run:
        check_keys(cfg, scorer)
    return scorer, grid
