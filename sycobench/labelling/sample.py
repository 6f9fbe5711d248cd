"""The answers a labelling page shows: a seeded sample of a job's (or a sweep's) answers, blind.

The pool is every successful call with a non-empty answer, across the jobs found under the given
folder. The sample is stratified by scenario, model and side (the same share of every stratum,
remainders to the strata with the largest fractions) and drawn at random within each stratum; the
order it is shown in is shuffled. Both depend only on the pool and the seed. What leaves this
module for the page is only what a blind labeller may see: the scenario's fact sheet (the blinded
judge's view), its scale, and the answer, plus opaque ids to export (`answer_ref`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sycobench.config import load_saved_config
from sycobench.errors import ConfigError
from sycobench.records import ANSWER_KEY, RUN_FIELDS
from sycobench.scenario import fact_sheet
from sycobench.scenario_file import ScenarioConfig
from sycobench.scoring.human import answer_ref
from sycobench.store import RUN, JobFolder, find_jobs

__all__ = ["STRATA", "LabelSample", "answer_pool", "draw", "label_sample"]

KEY = list(ANSWER_KEY)
STRATA = ["scenario", "model_id", "side"]
_POOL = {name: RUN_FIELDS[name] for name in (
    "run_id", "model_id", "prompt_id", "triplet_id", "scenario", "perspective", "side", "k", "error")}


@dataclass(frozen=True)
class LabelSample:
    """A page's sample: its id, the seed, the items in the order shown, each scenario's scale, the
    pool's size, and the strata drawn from (kept for the command's summary, never put on the page)."""

    sample_id: str
    seed: int
    items: list[dict[str, Any]]
    scenarios: dict[str, dict[str, str]]
    pool: int
    strata: pl.DataFrame


def _scenario(folder: JobFolder) -> ScenarioConfig:
    """The job's own scenario (a folder without a saved config is rent's, as reports read it)."""
    saved = folder.saved_config()
    return load_saved_config(saved).scenario if saved else ScenarioConfig()


def _answers(folder: JobFolder, job: int, scenario: ScenarioConfig) -> pl.DataFrame:
    """The job's answered calls with text: ids, scenario and side, no text."""
    a, b = scenario.party_ids[:2]
    from_perspective = pl.col("perspective").replace_strict({a: "a", b: "b", "neutral": "neutral"}, default=None,
                                                            return_dtype=pl.String)
    text = pl.col("response_text").str.strip_chars().str.len_chars().fill_null(0) > 0
    return (
        folder.scan(RUN, {**_POOL, "response_text": RUN_FIELDS["response_text"]})
        .filter(pl.col("error").is_null() & text)
        .select(pl.lit(job).alias("job"), pl.col("run_id").fill_null(""), "model_id", "prompt_id", "triplet_id", "k",
                pl.col("scenario").fill_null(scenario.name), pl.coalesce("side", from_perspective).alias("side"))
        .unique(KEY, keep="first", maintain_order=True)  # one success per answer (a duplicated line once)
        .collect()
    )


def answer_pool(path: Path) -> tuple[list[JobFolder], list[ScenarioConfig], pl.DataFrame]:
    """Every job under `path`, its scenario, and the answers there are to label (one row each)."""
    if not path.is_dir():
        what = "a file, not a folder" if path.exists() else "no such folder"
        raise ConfigError(f"{path}: {what}; give a job folder or a sweep folder")
    jobs = find_jobs(path)
    if not jobs:
        raise ConfigError(f"{path}: not a job or sweep folder (no run.jsonl or job.json found there)")
    scenarios = [_scenario(job) for job in jobs]
    frames = [_answers(job, i, scenarios[i]) for i, job in enumerate(jobs) if job.has_answers()]
    pool = pl.concat(frames) if frames else pl.DataFrame()
    if pool.is_empty():
        raise ConfigError(f"{path}: no answered calls to label (every job there is empty or failed)")
    return jobs, scenarios, pool


def _allocate(strata: pl.DataFrame, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """`take` per stratum: n in proportion to its size, floors first, then one more to the strata with
    the largest remainders (ties in a seeded random order)."""
    total = strata["size"].sum()
    exact = strata["size"] * n / total
    strata = strata.with_columns(take=exact.floor().cast(pl.Int64), _frac=exact - exact.floor(),
                                 _tie=pl.Series(rng.random(strata.height)))
    extra = n - strata["take"].sum()
    order = strata.with_row_index("_i").sort(["_frac", "_tie"], descending=True)["_i"].head(extra)
    return (strata.with_row_index("_i")
            .with_columns(take=pl.col("take") + pl.col("_i").is_in(order.implode()).cast(pl.Int64))
            .drop("_i", "_frac", "_tie"))


def draw(pool: pl.DataFrame, n: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The sample (rows of `pool`, in the order shown) and the strata (size, taken); seeded."""
    if n < 1:
        raise ConfigError(f"--n {n}: give at least 1 answer to label")
    if n > pool.height:
        raise ConfigError(f"--n {n}: only {pool.height} answers there to label; give --n {pool.height} or fewer")
    rng = np.random.default_rng(seed)
    pool = pool.sort([*STRATA, "run_id", *KEY], nulls_last=True)  # a canonical order: the draw needs no file order
    strata = _allocate(pool.group_by(STRATA, maintain_order=True).agg(size=pl.len()), n, rng)
    ranked = pool.with_columns(_u=pl.Series(rng.random(pool.height))).with_columns(
        _rank=pl.col("_u").rank("ordinal").over(STRATA))
    chosen = ranked.join(strata.select(*STRATA, "take"), on=STRATA, how="left", nulls_equal=True).filter(
        pl.col("_rank") <= pl.col("take")).drop("_u", "_rank", "take")
    shown = chosen.with_columns(_order=pl.Series(rng.permutation(chosen.height))).sort("_order").drop("_order")
    return shown, strata


def _texts(jobs: list[JobFolder], chosen: pl.DataFrame) -> pl.DataFrame:
    """The chosen answers' text, read job by job (only those rows are kept)."""
    parts = []
    for (job,), keys in chosen.group_by("job", maintain_order=True):
        text = (jobs[job].scan(RUN, {**{k: RUN_FIELDS[k] for k in KEY}, "error": RUN_FIELDS["error"],
                                     "response_text": RUN_FIELDS["response_text"]})
                .filter(pl.col("error").is_null())
                .join(keys.lazy().select(KEY), on=KEY, how="semi")
                .unique(KEY, keep="first").select(pl.lit(job).alias("job"), *KEY, "response_text").collect())
        parts.append(text)
    return pl.concat(parts)


def _facts(factors: dict[str, Any] | None, scenario: ScenarioConfig) -> str | None:
    """The triplet's fact sheet, as the blinded judge sees it (records from before factors were
    free-form carry nulls for rent's columns)."""
    if factors is None:
        return None
    return fact_sheet({k: v for k, v in factors.items() if v is not None or k in scenario.factors}, cfg=scenario)


def _scale(scenario: ScenarioConfig) -> dict[str, str]:
    a, b = scenario.party_ids[:2]
    judge = scenario.judge
    return {"subject": str(judge["subject"]), "plus": str(judge["plus"]), "minus": str(judge["minus"]),
            "a": scenario.party_name(a), "b": scenario.party_name(b)}


def label_sample(path: Path, n: int, *, seed: int = 0) -> LabelSample:
    """Draw `n` answers under `path` for a labelling page (ConfigError, one line, for bad input)."""
    jobs, scenarios, pool = answer_pool(path)
    shown, strata = draw(pool, n, seed)
    texts = _texts(jobs, shown)
    rows = shown.join(texts, on=["job", *KEY], how="left", maintain_order="left")
    grids = {job: {p.prompt_id: p for p in jobs[job].read_grid()} for job in rows["job"].unique().to_list()}
    items, used = [], {}
    for r in rows.iter_rows(named=True):  # n rows: the page's own items
        scenario = scenarios[r["job"]]
        prompt = grids[r["job"]].get(r["prompt_id"])
        used.setdefault(r["scenario"], _scale(scenario))
        items.append({"ref": answer_ref(r["run_id"], r["model_id"], r["prompt_id"], r["k"]), "run": r["run_id"],
                      "prompt": r["prompt_id"], "k": r["k"], "scenario": r["scenario"],
                      "facts": _facts(prompt.factors if prompt else None, scenario), "text": r["response_text"]})
    digest = hashlib.sha256(f"{seed}:{len(items)}:{','.join(i['ref'] for i in items)}".encode()).hexdigest()[:12]
    return LabelSample(digest, seed, items, used, pool.height, strata)
