"""A sweep before and after its jobs: each job's overrides, a check that the sweep can run at all,
and what the console says at the end (the headline, or a dry run's total, or that there is nothing
to report)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["COMPOSED", "check_sweep", "dry_run_summary", "job_overrides"]

COMPOSED: set[tuple[str, ...]] = set()  # the jobs' overrides whose configs the sweep guard composed


def job_overrides(arguments: list[str], params: Mapping[str, Any] | None = None, *,
                  config_loader: Any = None) -> list[list[str]]:
    """Every job's overrides, as Hydra's basic sweeper makes them: `params` (hydra.sweeper.params, e.g. a
    roster's `model.id`) then `arguments`, each swept key crossed with the others, in order."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(lines)
    choices: dict[str, list[str]] = {}
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            choices[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
        else:
            choices[key] = [f"{key}={override.get_value_element_as_str()}"]
    return [list(job) for job in itertools.product(*choices.values())]


def check_sweep(jobs: list[list[str]], prepare: Callable[[list[str]], Any], *,
                describe: Callable[[BaseException], str] = str) -> None:
    """Raise ConfigError, one line, when no job of the sweep can run (`prepare(overrides)` raises for
    every one: no key, a model or scorer that cannot be called, ...). The first job that passes ends the
    check, so a sweep that can run pays for one job's checks."""
    from sycobench.errors import ConfigError

    problems: list[str] = []
    for overrides in jobs:
        try:
            prepare(overrides)
            return
        except Exception as exc:  # noqa: BLE001 - any reason a job would fail before its first call
            problems.append(describe(exc))
    if not problems:
        return
    first = problems[0]
    rest = ("" if len(problems) == 1 else f" (the same for all {len(problems)} jobs)"
            if len(set(problems)) == 1 else f" (and {len(problems) - 1} more job(s) fail too)")
    where = " ".join(jobs[0]) or "no overrides"
    raise ConfigError(f"no job of this sweep can run; job 0 ({where}): {first}{rest}")


def dry_run_summary(estimates: list[dict], *, width: int) -> str:
    """A dry-run sweep's total (calls, tokens, cost over every job) and one preview of the prompts."""
    calls = sum(e.get("calls", 0) for e in estimates)
    judge = sum(e.get("judge_calls", 0) for e in estimates)
    tokens_in = sum(e.get("prompt_tokens", 0) for e in estimates)
    tokens_out = sum(e.get("completion_tokens", 0) for e in estimates)
    costs = [e.get("cost_usd") for e in estimates]
    unknown = sum(c is None for c in costs)
    cost = sum(c for c in costs if c is not None)
    priced = f"estimated ${cost:.4f}" + (f" (price unknown for {unknown} job(s))" if unknown else "")
    lines = [f"dry run of {len(estimates)} job(s): {calls + judge:,} calls ({calls:,} target, {judge:,} judge), "
             f"~{tokens_in:,} prompt + ~{tokens_out:,} completion tokens, {priced}. No calls were made.",
             "preview (job 0):"]
    preview = (estimates[0].get("preview") or []) if estimates else []
    lines += [f"  {p}" if len(p) + 2 <= width else f"  {p[: width - 3]}…" for p in preview]
    return "\n".join(lines)


def sweep_jobs_meta(sweep_dir: Path) -> list[dict]:
    """Each job's job.json, in job order (a damaged one as {})."""
    from sycobench.errors import DataError
    from sycobench.store import find_jobs

    metas = []
    for job in find_jobs(sweep_dir):
        try:
            metas.append(job.read_meta())
        except DataError:
            metas.append({})
    return metas
