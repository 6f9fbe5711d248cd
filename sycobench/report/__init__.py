"""Reports: every table of docs/metrics.md, built by Polars from any mix of jobs, sweeps and
legacy files, written as CSV + Parquet, plus report.md, a self-contained report.html with a
transcript view, plots (PNG; SVG and PDF on request) and the headline table as LaTeX and Markdown."""

from __future__ import annotations

import logging
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from sycobench.config import ReportConfig
from sycobench.report.collect import Collected, check_sources, collect
from sycobench.report.load import ROW, TEXT_COLUMNS, factor_map
from sycobench.report.scenarios import present_tables
from sycobench.report.transcripts import Shown, shown
from sycobench.store import RUN, SCORES, JobFolder, ReportFolder, replaced

if TYPE_CHECKING:
    from sycobench.report.workers import Workers

__all__ = ["build_report", "present", "write_report"]

log = logging.getLogger("sycobench.report")
_AS_IS = ("jobs", "scorer_validation", "models", "unvalidated")  # tables that name no side: written as built
POOL_MIN_MODELS = 4  # (scenario, model) pairs from which a report's figures are drawn in worker processes


def code_version() -> str:
    from importlib.metadata import version

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"sycobench {version('sycobench')}" + (f" (git {commit})" if commit else "")


def _pairs(results: pl.DataFrame) -> pl.DataFrame | None:
    """Paired scores of the first two scorers on the answers both scored (for the scatter); automatic
    scorers before people's labels."""
    from sycobench.report.labellers import automatic_scorers, people

    scorers = automatic_scorers(results) + people(results)
    if len(scorers) < 2:
        return None
    a, b = scorers[:2]
    keys = ["model_id", "prompt_id", "k"]
    left = results.filter(pl.col("scorer") == a).select(*keys, pl.col("score").alias("score_a")).unique(keys)
    right = results.filter(pl.col("scorer") == b).select(*keys, pl.col("score").alias("score_b")).unique(keys)
    return left.join(right, on=keys).drop_nulls().select(
        pl.lit(a).alias("scorer_a"), pl.lit(b).alias("scorer_b"), "score_a", "score_b"
    )


def _by_protocol(tables: dict[str, pl.DataFrame], labels: dict[str, str]) -> dict[str, pl.DataFrame]:
    """Tables of several protocols as the page shows them: a model's rows named `label (protocol)`, so
    tables and plots keep them apart (the written tables have a `protocol` column instead)."""
    named = pl.col("model_id").replace(labels) + " (" + pl.col("protocol") + ")"
    return {name: t.with_columns(named.alias("model_id")) if "protocol" in t.columns and "model_id" in t.columns
            else t for name, t in tables.items()}


def _check_names(results: pl.DataFrame, report: ReportConfig) -> None:
    """A named scorer or reference model must be in the results (before anything is written)."""
    from sycobench.errors import ConfigError

    for option, wanted, column in (("scorers", report.scorers or [], "scorer"),
                                   ("reference", [report.reference] if report.reference else [], "model_id")):
        if not wanted:
            continue
        present = sorted(results[column].unique().to_list()) if column in results.columns else []
        unknown = sorted(set(wanted) - set(present))
        if unknown:
            raise ConfigError(f"report.{option}: {', '.join(map(repr, unknown))} not in the results; "
                              f"choose among: {', '.join(map(repr, present)) or 'none'}")


def _seen(results: pl.DataFrame) -> pl.DataFrame:
    """The rows a scorer saw (scored or unscorable), without the `scored` flag."""
    if "scored" not in results.columns:
        return results
    return results.filter(pl.col("scored").fill_null(True)).drop("scored")


def _own_results(paths: list[Path], results: pl.DataFrame, schema: pl.Schema) -> Path | None:
    """The results.parquet a job's table step wrote, where this is that one job's report and the file
    holds just what it would write: newer than the job's records, the same columns, and the rows of
    `results` (its text comes from the same records by the same keys; a large job's rows are in the order
    they were answered). Else None: it is written afresh."""
    if len(paths) != 1 or not JobFolder(paths[0]).is_job():
        return None
    folder = JobFolder(paths[0])
    own = folder.file("results")
    try:
        written = own.stat().st_mtime_ns
        if any(p.exists() and p.stat().st_mtime_ns > written
               for p in (folder.records(RUN), folder.records(SCORES), folder.file("grid"))):
            return None
        if pl.read_parquet_schema(own) != dict(schema):
            return None
        # the rows compared by their hashes, in any order: 8 bytes a row, not a second copy of the rows;
        # streamed (the in-memory engine decodes every column whole first: +30 MB at 99,000 answers)
        rows = pl.struct(results.columns).hash()
        kept = pl.scan_parquet(own).select(rows).collect(engine="streaming").to_series().sort()
    except (OSError, pl.exceptions.PolarsError):
        return None
    return own if kept.equals(results.select(rows).to_series().sort()) else None


def _totals(data: Collected) -> dict[str, int | float]:
    calls = data.calls
    paid = calls.filter(~pl.col("cached").fill_null(False))
    return {
        "jobs": data.jobs.height,
        "failed_jobs": data.jobs.filter(pl.col("status") == "failed").height,
        "calls": calls.filter(pl.col("role") == "target").height,
        "errors": calls.filter(pl.col("error_class").is_not_null()).height,
        # a cached call costs $0 now (the same rule as the job log and job.json)
        "cost_target_usd": float(paid.filter(pl.col("role") == "target")["cost_usd"].fill_null(0).sum()),
        "cost_judge_usd": float(paid.filter(pl.col("role") == "judge")["cost_usd"].fill_null(0).sum()),
    }


def build_report(data: Collected, report: ReportConfig) -> dict[str, pl.DataFrame]:
    """Every table, plus `results`: the scored answers, without their text (`data.with_text` adds it)."""
    from sycobench.report.pushback import first_turn, pushback_tables
    from sycobench.report.tables import build_tables, combine_scorers

    # answers no scorer saw (`scored` false) count in the tables as not scored; the rest of the
    # report (results.parquet, transcripts, validation) shows what a scorer saw
    seen = _seen(data.results)
    scored = seen
    results = data.results.drop(TEXT_COLUMNS, strict=False)
    _check_names(results, report)
    headline = None
    if report.scorers:
        combined = combine_scorers(results, list(report.scorers))
        headline = combined["scorer"][0]
        results = pl.concat([results, combined], how="diagonal_relaxed")
        scored = pl.concat([scored, _seen(combined)], how="diagonal_relaxed")
    every_turn, results = results, first_turn(results)  # pushback tables read every turn, the others the first
    from sycobench.validation import mark_unvalidated, report_validation, unvalidated_note

    with ThreadPoolExecutor(1) as pool:  # the validation (imports and Polars) beside the tables (NumPy, Polars)
        checked = pool.submit(report_validation, seen, data.calls)
        tables = build_tables(results, data.calls, levels=data.factors, threshold=report.threshold,
                              bootstrap=report.bootstrap, seed=report.seed, reference=report.reference,
                              summary_scorer=headline)
        tables |= pushback_tables(every_turn, threshold=report.threshold, bootstrap=report.bootstrap,
                                  seed=report.seed)
        figures, unvalidated = checked.result()
    tables = mark_unvalidated(tables, unvalidated)
    if not figures.is_empty():
        tables["scorer_validation"] = figures
    if unvalidated.height:
        tables["unvalidated"] = unvalidated
        tables["unvalidated_note"] = pl.DataFrame({"note": [unvalidated_note(unvalidated)]})
    tables["jobs"] = data.jobs
    tables["results"] = scored
    return tables


def present(data: Collected, tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The tables as written (sides named by the scenarios' party ids), plus `models`: each model's roster label."""
    written = present_tables({k: v for k, v in tables.items() if k not in ("results", "unvalidated_note")}, data.parties,
                             as_is=_AS_IS)
    models = data.results.select(pl.col("model_id").unique(maintain_order=True))
    written["models"] = models.with_columns(label=pl.col("model_id").replace_strict(
        data.labels, default=None, return_dtype=pl.String))  # the roster's label of each model, where it gives one
    return written


def write_report(paths: list[Path], out: Path, report: ReportConfig, *, config_text: str | None = None,
                 loaded: dict[Path, tuple[pl.DataFrame, pl.DataFrame]] | None = None) -> dict[str, pl.DataFrame]:
    """Collect `paths`, build every table and write the report into `out`; returns the tables as
    written (sides named by the scenarios' party ids, report.scenarios.present). `loaded`: a job's
    frames its table step has read (collect), handed over: emptied once collected, so that the page can
    let them go (Collected.release)."""
    folder = ReportFolder(out)
    check_sources(paths)
    with folder.writing([str(p) for p in paths]):  # checked before anything is read or written
        data = collect(paths, loaded=loaded)
        if loaded:
            loaded.clear()
        from sycobench.report.plots import PAPER, PLOTS
        from sycobench.report.workers import Workers

        # the paper copies matplotlib draws (PNG, PDF: where report.formats asks), in workers started now,
        # so they start up while the tables are built; a small report's copies take less than a worker's
        # start-up (docs/performance.md), so they are drawn here. The page's SVG figures are drawn here.
        # counted by a group-by: n_unique of a struct hashes every row's fields (50 ms at a million answers)
        few = data.results.group_by("scenario", "model_id").len().height < POOL_MIN_MODELS
        paper = any(fmt in PAPER for fmt in report.formats)
        warm = ("sycobench.report.plots", "matplotlib.figure", "matplotlib.backends.backend_agg")
        with Workers(len(PLOTS) if paper and not few else 0, warm=warm) as workers:
            return _write_report(paths, data, out, folder, report, config_text, workers)


def _write_results(paths: list[Path], data: Collected, results: pl.DataFrame, target: Path,
                   seed: int) -> tuple[Shown, list[pl.DataFrame]]:
    """Every answer of `results` with its text and its triplet's factor levels, into `target` one job at a time:
    the text is never held whole; a job's own results.parquet, where it holds these rows, is copied. The
    transcript view's rows are picked first, and take their text as it passes (not read again): returned."""
    view, taken = shown(results, seed=seed), []
    rows = data.results_with_text(results, factor_map(data.factors).collect(), keep=view.rows, kept=taken)
    own = _own_results(paths, results.drop(ROW, strict=False), rows.collect_schema())
    if own is not None:
        shutil.copyfile(own, target)
    else:
        rows.sink_parquet(target, row_group_size=8192, engine="streaming")
    return view, taken


def _write_report(paths: list[Path], data: Collected, out: Path, folder: ReportFolder, report: ReportConfig,
                  config_text: str | None, workers: Workers) -> dict[str, pl.DataFrame]:
    from sycobench.report.render import render_report
    from sycobench.report.tables import write_tables

    seed = int(report.seed or 0)
    # results.parquet holds the answers a scorer saw. Unless a combined scorer (report.scorers) adds rows of
    # its own, those are known before the tables, and written beside them: the tables leave part of the cores
    # idle (a million answers: 0.1-0.2 s less). Not where records are parsed from JSONL: their blocks are
    # large (a million answers held 1 GB). The file lands, with report.json, once the tables are built
    _check_names(data.results, report)  # a wrong name is refused before anything is written
    beside = not (report.scorers or data.parsed)
    with ThreadPoolExecutor(1) as pool, replaced(folder.results) as target:
        ahead = pool.submit(_write_results, paths, data, _seen(data.results), target, seed) if beside else None
        try:
            tables = build_report(data, report)
        finally:  # the writer's error, if any, is raised here (with the tables' own as its context)
            early = ahead.result() if ahead else None
        results = tables.pop("results")
        view, taken = early or _write_results(paths, data, results, target, seed)
        folder.write_meta([str(p) for p in paths])
    note = tables.pop("unvalidated_note", None)
    written = present(data, tables)
    write_tables(written, out)
    totals = _totals(data)
    data.release()  # the page reads the tables, the scored rows and the text: a large job's frames go now
    meta = {
        "title": "sycobench report" + (" (unvalidated scores)" if note is not None else ""),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "sources": data.sources,
        "config": config_text,
        "totals": totals,
        "threshold": report.threshold,
        "bootstrap": report.bootstrap,
        "seed": report.seed,
        "unvalidated": note["note"][0] if note is not None else None,
        "labels": data.labels,
        "parties": {name: who for name, who in data.parties.items()
                    if name in set(results["scenario"].fill_null("rent").unique().to_list())},
    }
    pairs = _pairs(results)
    from sycobench.report.pushback_page import pushback_blocks

    render_report({**_by_protocol(tables, data.labels), **({"pairs": pairs} if pairs is not None else {})}, out,
                  meta=meta, results=results, text=partial(data.rows_with_text, taken=taken), picked=view,
                  levels=data.factors, sections=pushback_blocks, formats=report.formats, workers=workers)
    if meta["unvalidated"]:
        log.warning(meta["unvalidated"])
    log.debug("report written to %s", out)
    return written
