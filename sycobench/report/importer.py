"""The original package's run file written as sycobench job folders, through the store, so that
`python -m sycobench.score` can score it later and every report reads it like any job.

One job folder per model: `out` itself for a file of one model, else `out/0`, `out/1`, ... in the
order the models first appear. Each holds:

- `grid.jsonl`: one line per (prompt, triplet) as legacy.py rebuilds the triplets (a prompt only a
  failed call asked is listed too, in its triplet where its factors name one); a neutral
  prompt that serves several triplets is listed once per triplet (the reports then give its
  answer a row in each, `dup` after the first). The records carry no prompt text: `messages` is
  empty, so a judge can score them blinded (fact sheet) only where the factors allow it.
- `run.jsonl`: one record per legacy record: the answer, tokens, cost and latency; a record with
  an `error` and no answer is a failed call (`legacy_error`).
- `scores.jsonl`: the original scores as scorer `legacy`: a record with a `score` field is
  scored (null: unscorable), an answer with an `error` is unscorable; a record with no `score`
  field was never scored and gets no score record (not scored).
- `config.yaml` (rent, the model by its id on OpenRouter, `scorer: none`) and `job.json`
  (status ok; a fingerprint naming the import, so no run resumes into the folder).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from sycobench.config import Config, ModelConfig, RateLimitConfig, RunConfig, ScorerConfig, config_yaml
from sycobench.errors import ConfigError
from sycobench.records import SCHEMA_VERSION, Answer, now_iso, run_record, score_record
from sycobench.report.legacy import failed_prompts, is_legacy, legacy_records
from sycobench.scenario import Prompt
from sycobench.scenario_file import ScenarioConfig
from sycobench.store import RUN, SCORES, JobFolder

__all__ = ["import_legacy"]

SCORER = "legacy"
_FACTORS = ("amount", "base_rent", "justification", "relationship")


def _factors(row: dict) -> dict:
    return {name: row[name] for name in _FACTORS if row.get(name) is not None}


def _grid(rows: pl.DataFrame) -> list[Prompt]:
    lines = rows.unique(["prompt_id", "triplet_id"], keep="first", maintain_order=True)
    return [Prompt(prompt_id=r["prompt_id"], triplet_id=r["triplet_id"], scenario="rent", version="legacy",
                   perspective=r["perspective"], factors=_factors(r), messages=[])
            for r in lines.iter_rows(named=True)]


def _write_job(folder: JobFolder, model: str, records: pl.DataFrame, rows: pl.DataFrame, source: Path,
               run_id: str) -> tuple[int, int]:
    """One model's job folder; returns (answers, scores) written."""
    folder.make()
    folder.write_grid(_grid(rows))
    own = rows.filter(~pl.col("dup")).select("line", "triplet_id", "side", *_FACTORS)
    by_prompt = rows.filter(~pl.col("dup")).group_by("prompt_id").agg(pl.col("triplet_id").first())
    records = (records.drop("amount", "base_rent", "justification").join(own, on="line", how="left")
               .join(by_prompt.rename({"triplet_id": "prompt_triplet"}), on="prompt_id", how="left")
               .with_columns(triplet_id=pl.coalesce("triplet_id", "prompt_triplet"))
               .sort("line"))
    stamp = now_iso()
    config = {"name": SCORER, "source": source.name}
    answers = scores = 0
    with folder.writer(RUN) as runs, folder.writer(SCORES) as out:
        for r in records.iter_rows(named=True):  # one record each: the writer appends whole lines
            error = {"class": "legacy_error", "status": None, "message": str(r["error"])[:500]} if r["failed"] else None
            side = r["side"] or {"landlord": "a", "tenant": "b", "neutral": "neutral"}[r["perspective"]]
            runs.write(run_record(
                run_id=run_id, job_id=folder.name, role="target", model_id=model, api="openrouter",
                prompt_id=r["prompt_id"], triplet_id=r["triplet_id"], scenario="rent", version="legacy",
                perspective=r["perspective"], side=side, factors=_factors(r), k=r["k"], params={},
                response_text=None if r["failed"] else r["response_text"],
                usage={"prompt_tokens": r["input_tokens"], "completion_tokens": r["output_tokens"],
                       "reasoning_tokens": None, "total_tokens": None},
                cost_usd=r["cost_usd"], latency_s=None if r["latency_ms"] is None else r["latency_ms"] / 1000.0,
                attempts=1, error=error, started_at=stamp, ended_at=stamp))
            if r["failed"]:
                continue
            answers += 1
            if not r["scored"]:  # never scored: no score record, so the folder says "not scored"
                continue
            erred = r["error"] is not None and r["error"] != ""
            why = None if r["score"] is not None else (f"legacy: {r['error']}" if erred else "legacy: no score")
            answer = Answer(model_id=model, prompt_id=r["prompt_id"], k=r["k"], triplet_id=r["triplet_id"],
                            perspective=r["perspective"], run_id=run_id, job_id=folder.name)
            out.write(score_record(answer, SCORER, config, score=r["score"], unscorable=why, scored_at=stamp))
            scores += 1
    samples = int(records["k"].max()) + 1 if records.height else 1
    cfg = Config(model=ModelConfig(name=SCORER, id=model), scenario=ScenarioConfig(), scorer=ScorerConfig(name="none"),
                 rate_limit=RateLimitConfig(), run=RunConfig(samples=samples))
    folder.write_config(config_yaml(cfg))
    folder.save_meta({
        "run_id": run_id, "job_id": folder.name, "schema": SCHEMA_VERSION, "status": "ok", "exit_code": 0,
        "message": f"imported from {source.name}", "model_id": model, "scorer": SCORER,
        # no sycobench setting makes these answers: a run into the folder is refused, scoring is not
        "fingerprint": {"imported_from": source.name},
    })
    return answers, scores


def import_legacy(path: Path, out: Path) -> list[tuple[JobFolder, int, int]]:
    """Write `path` (a run.jsonl / run_scored.jsonl of the original package) as job folders under
    `out`; returns (folder, answers, scores) per model. Nothing is written if `out` holds a job."""
    path, out = Path(path), Path(out)
    if not path.is_file():
        what = "a folder (a sycobench job or sweep folder needs no import)" if path.is_dir() else "no such file"
        raise ConfigError(f"{path}: {what}; give the original package's run.jsonl or run_scored.jsonl")
    if not is_legacy(path):
        raise ConfigError(f"{path}: not a run file of the original package (a JSON record with `response_text` "
                          "and no `schema` per line); a sycobench job folder needs no import")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: not an empty folder; import into a new folder (nothing was written)")
    records, rows = legacy_records(path)
    rows = pl.concat([rows, failed_prompts(records, rows)], how="diagonal_relaxed")  # a failed call's prompt too
    models = records["model_id"].unique(maintain_order=True).to_list()
    run_id = "legacy-" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    written = []
    for i, model in enumerate(models):
        folder = JobFolder(out if len(models) == 1 else out / str(i))
        counts = _write_job(folder, model, records.filter(pl.col("model_id") == model),
                            rows.filter(pl.col("model_id") == model), path, run_id)
        folder.write_copies()
        written.append((folder, *counts))
    return written
