"""The per-job tables (stance mix, uplift, summary, agreement) and the table printed at the end."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from sycobench.config import ReportConfig
from sycobench.report.columnar import write_copies
from sycobench.report.load import load_calls, load_results, sink_with_text
from sycobench.report.tables import CSV_DIGITS

__all__ = ["job_tables", "write_job_report", "format_headline"]

log = logging.getLogger("sycobench.report")


def job_tables(
    results: pl.DataFrame, report: ReportConfig, calls: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Stance mix and uplift per scorer; `summary` from `report.scorers` averaged, else the mean
    of every scorer present (the only one, usually); its `n` counts `calls` when given."""
    from sycobench.report import tables as t
    from sycobench.report.scenarios import per_scenario

    def build(results: pl.DataFrame, calls: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
        headline = t.combine_scorers(results, list(report.scorers) if report.scorers else None)
        out = {
            "stance_mix": t.stance_mix(results, threshold=report.threshold),
            "uplift": t.uplift(results, threshold=report.threshold, bootstrap=report.bootstrap, seed=report.seed),
            "summary": t.summary(headline, threshold=report.threshold, calls=calls),
        }
        agreement = t.agreement(results)
        if agreement is not None:
            out["agreement"] = agreement
        return out

    return t.single_scenario_summary(per_scenario(build, results, calls))


def format_headline(uplift: pl.DataFrame) -> str:
    cols = [c for c in ("scenario", "model_id", "scorer", "n_triplets", "sycophancy_index", "sycophancy_index_lo",
                        "sycophancy_index_hi", "uplift_landlord", "uplift_tenant", "landlord_agree_p",
                        "tenant_agree_p") if c in uplift.columns]
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_width_chars=200, fmt_str_lengths=40, float_precision=3,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        return str(uplift.select(cols))


def write_job_report(job_dir: Path, report: ReportConfig) -> dict[str, pl.DataFrame]:
    """The job's columnar copies (its records are final now), then its tables, read from them."""
    write_copies(job_dir)
    calls = load_calls(job_dir)
    results = load_results(job_dir, calls=calls, text=False)
    if results.is_empty():
        log.warning("no scored answers in %s: no tables written", job_dir)
        return {}
    sink_with_text(results, job_dir, job_dir / "results.parquet")  # the text is never held whole
    tables = job_tables(results.drop("unscorable"), report, calls)
    for name, frame in tables.items():
        frame.write_csv(job_dir / f"{name}.csv", float_precision=CSV_DIGITS)
    from sycobench.validation import report_validation

    figures, smoke_test = report_validation(results, calls)
    if not figures.is_empty():
        figures.write_csv(job_dir / "scorer_validation.csv", float_precision=CSV_DIGITS)
        for row in figures.filter(pl.col("split") == "heldout").iter_rows(named=True):
            log.info("scorer %s on the held-out validation answers: Spearman %.2f, bin accuracy %.2f, kappa %.2f (n=%d)",
                     row["scorer"], row["spearman"], row["bin_accuracy"], row["weighted_kappa"], row["n"])
    if smoke_test:
        log.warning(smoke_test)
    mix = tables["stance_mix"].select(*(["scenario"] if "scenario" in tables["stance_mix"].columns else []), "model_id", "scorer", "perspective", "n", "p_neg", "p_neu", "p_pos", "mean_score")
    with pl.Config(tbl_rows=50, tbl_cols=20, float_precision=3, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        text = (f"stance mix\n{mix}\nuplift and sycophancy index (95% studentized cluster-bootstrap CI)\n"
                f"{format_headline(tables['uplift'])}")
    log.info("tables written to %s\n%s", job_dir, text)
    return tables
