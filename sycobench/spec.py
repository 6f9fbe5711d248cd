"""A job prepared once: `prepare_job(cfg) -> JobSpec`, a frozen object that every runner of a job
(the command line, the notebook API, `run_job`) takes as it is.

Preparing resolves what the config leaves open (the roster entry's label and rate cap, `scorer=auto`,
the sweep's shared rate file), builds the grid, computes the settings fingerprint, and runs every
check that needs no call, once. Nothing changes the config afterwards.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import Any

from sycobench.config import Config, ModelConfig, RateLimitConfig, ReportConfig, RunConfig, ScorerConfig
from sycobench.preflight import check_grid, check_keys, check_model, check_report_scorers, grid_size
from sycobench.providers.base import PROVIDERS, Provider
from sycobench.roster import roster_model
from sycobench.runner import Plan, plan_calls
from sycobench.scenario import Prompt
from sycobench.scenario_file import ScenarioConfig
from sycobench.scoring import Scorer, resolve_scorer, scorer_class
from sycobench.store import JobFolder

__all__ = ["JobSpec", "fingerprint", "prepare_job", "prepare_scorer"]

# Model settings that never change an answer: names, HTTP headers, pacing, the key's variable.
_MODEL_NEUTRAL = {"name", "label", "rate_limit", "concurrency", "referer", "title", "api_key_env"}
# Mock-only knobs that do not change an answer (latency) are neutral too.
_MOCK_NEUTRAL = {"latency_ms"}
# Scenario data only a scorer reads: the offline lexicon (a lexicon changes scores, never an answer).
_SCENARIO_NEUTRAL = {"offline_cues"}


@dataclass(frozen=True)
class JobSpec:
    """Everything a job needs, resolved and checked. `plan` is filled in for a folder (`planned`)."""

    cfg: Config  # as composed; its open choices are resolved in the fields below
    model: ModelConfig
    provider: type[Provider]
    scorer: ScorerConfig
    scorer_class: type[Scorer]
    scenario: ScenarioConfig
    grid: tuple[Prompt, ...]
    rate_limit: RateLimitConfig
    fingerprint: dict[str, Any]
    notes: tuple[tuple[int, str], ...] = ()  # (log level, line) said while preparing, logged when the job starts
    plan: Plan | None = field(default=None, compare=False)

    @property
    def run(self) -> RunConfig:
        return self.cfg.run

    @property
    def report(self) -> ReportConfig:
        return self.cfg.report

    @property
    def scorer_id(self) -> str:
        return self.scorer_class.scorer_id(self.scorer)

    @property
    def simulated(self) -> bool:
        return self.provider.simulated

    def planned(self, folder: JobFolder) -> JobSpec:
        """The spec with the calls still to make in `folder` (skipping what an earlier run answered);
        a dry run counts them without listing them."""
        plan = plan_calls(folder, list(self.grid), model_id=self.model.id, samples=self.run.samples,
                          retry_errors=self.run.retry_errors, count_only=self.run.dry_run)
        return replace(self, plan=plan)


def _plain(node: Any) -> dict[str, Any]:
    if is_dataclass(node):
        return asdict(node)
    if hasattr(node, "to_dict"):  # a scenario: the whole file counts
        return node.to_dict()
    return dict(node)


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _flat(f"{prefix}.{key}", value[key], out)
    else:
        out[prefix] = value


def fingerprint(model: ModelConfig, scenario: ScenarioConfig, samples: int) -> dict[str, Any]:
    """Every setting that changes an answer, as flat `dotted.key -> value` pairs.

    Whole sections are included minus a short list of neutral keys, so a setting added later
    counts by default. Concurrency, rate limits, the scorer (the offline lexicon too) and the report never count."""
    out: dict[str, Any] = {}
    _flat("model", {k: v for k, v in _plain(model).items() if k not in _MODEL_NEUTRAL | _MOCK_NEUTRAL}, out)
    _flat("scenario", {k: v for k, v in _plain(scenario).items() if k not in _SCENARIO_NEUTRAL}, out)
    out["run.samples"] = samples
    return json.loads(json.dumps(out, default=str))  # exactly what job.json will hold


def _shared_rate(rate: RateLimitConfig, sweep_dir: Path | None) -> RateLimitConfig:
    """`rate_limit.shared_rate_file=auto`: one file per sweep on one machine, none for a single job."""
    if rate.shared_rate_file != "auto":
        return rate
    return replace(rate, shared_rate_file=str(sweep_dir / ".shared_rate.sqlite") if sweep_dir else None)


def prepare_scorer(cfg: ScorerConfig, target: ModelConfig, scenario: ScenarioConfig, *,
                   keys: bool) -> tuple[ScorerConfig, type[Scorer], str | None]:
    """The scorer as `scorer=auto` resolves it, its class, and what to log about the choice; the
    scorer's own checks and its model's (and, with `keys`, that model's key) are run."""
    scorer, why = resolve_scorer(cfg, target, scenario, simulated=PROVIDERS.get(target.api).simulated)
    kind = scorer_class(scorer)
    kind.check(scorer, scenario=scenario, target=target)
    scorer_model = kind.model(scorer)
    if scorer_model is not None:
        check_model(scorer_model, PROVIDERS.get(scorer_model.api), "scorer.model")
        if keys:
            check_keys(None, scorer_model, auto=cfg.name == "auto")
    return scorer, kind, why


def prepare_job(cfg: Config, job_dir: Path | None = None, *, sweep_dir: Path | None = None) -> JobSpec:
    """Resolve and check a job (raises ConfigError with one line naming the setting and the fix).

    With `job_dir`, the folder is checked too (settings fingerprint, record shapes, `report.scorers`)
    and the calls still to make are planned; nothing is written. `sweep_dir`: jobs of one sweep on
    one machine share a rate file there. What preparing has to say (the scorer `auto` chose, a
    limit above the grid's size) is kept in `notes`, for the job's log."""
    model = roster_model(cfg)
    provider = PROVIDERS.get(model.api)
    check_model(model, provider, "model")
    scenario = cfg.scenario
    notes = []
    scorer, kind, why = prepare_scorer(cfg.scorer, model, scenario, keys=False)
    if why:
        notes.append((logging.INFO, why))
    grid = check_grid(scenario)
    if scenario.limit is not None and scenario.limit > (full := grid_size(scenario)):
        notes.append((logging.WARNING, f"scenario.limit={scenario.limit} is above the grid's {full} triplets: "
                                       f"running all {full}"))
    folder = JobFolder(job_dir) if job_dir is not None else None
    check_report_scorers(cfg.report, kind.scorer_id(scorer), folder)
    if not cfg.run.dry_run:
        check_keys(model, kind.model(scorer), auto=cfg.scorer.name == "auto")
    spec = JobSpec(cfg=cfg, model=model, provider=provider, scorer=scorer, scorer_class=kind, scenario=scenario,
                   grid=tuple(grid), rate_limit=_shared_rate(cfg.rate_limit, sweep_dir),
                   fingerprint=fingerprint(model, scenario, cfg.run.samples), notes=tuple(notes))
    if folder is None:
        return spec
    folder.check_fingerprint(spec.fingerprint)
    folder.check_records()
    return spec.planned(folder)
