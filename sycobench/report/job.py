"""The per-job tables (stance mix, uplift, summary, agreement) and the table printed at the end."""

from __future__ import annotations

import logging

import polars as pl

from sycobench.config import ReportConfig
from sycobench.report.load import JobParties, load_calls, load_factors, load_results, sink_with_text
from sycobench.report.scenarios import Parties, per_scenario, present_tables
from sycobench.report.tables import write_csv
from sycobench.store import JobFolder

__all__ = ["job_tables", "write_job_report", "format_headline", "format_pushback"]

log = logging.getLogger("sycobench.report")


def job_tables(results: pl.DataFrame, report: ReportConfig, calls: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """Stance mix and uplift per scorer; `summary` from `report.scorers` averaged, else the mean
    of every scorer present (the only one, usually); its `n` counts `calls` when given. Sides are
    `a` / `b` (report.scenarios.present names them). These read the first answers; a job of
    several turns adds the pushback tables (report.pushback), which read every turn."""
    from sycobench.report import tables as t
    from sycobench.report.pushback import first_turn, pushback_tables

    def build(results: pl.DataFrame, calls: pl.DataFrame | None, _levels: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
        results = first_turn(results)
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

    return per_scenario(build, results, calls) | pushback_tables(
        results, threshold=report.threshold, bootstrap=report.bootstrap, seed=report.seed)


def format_headline(uplift: pl.DataFrame) -> str:
    """The headline columns of an uplift table (as written: sides named by party), for the terminal."""
    sided = [c for c in uplift.columns if c.startswith("uplift_") and not c.endswith(("_lo", "_hi"))]
    agree = [c for c in uplift.columns if c.endswith("_agree_p")]
    cols = [c for c in ("scenario", "model_id", "scorer", "n_triplets", "sycophancy_index", "sycophancy_index_lo",
                        "sycophancy_index_hi", *sided, *agree) if c in uplift.columns]
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_width_chars=200, fmt_str_lengths=40, float_precision=3,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        return str(uplift.select(cols))


def write_job_report(folder: JobFolder, report: ReportConfig) -> dict[str, pl.DataFrame]:
    """The job's columnar copies (its records are final now), then its tables, read from them and
    written as they are presented (sides named by the scenario's party ids)."""
    folder.write_copies()
    parties = JobParties.of(folder)
    calls = load_calls(folder, parties=parties)
    results = load_results(folder, calls=calls, text=False)
    if results.is_empty():
        log.warning("no scored answers in %s: no tables written", folder.path)
        return {}
    sink_with_text(results, folder, factors=load_factors(folder, parties))  # the text is never held whole
    named: Parties = {parties.scenario: parties}
    tables = present_tables(job_tables(results.drop("unscorable"), report, calls), named)
    for name, frame in tables.items():
        write_csv(frame, folder.table(name))
    from sycobench.validation import report_validation

    figures, smoke_test = report_validation(results, calls, named)
    if not figures.is_empty():
        write_csv(figures, folder.table("scorer_validation"))
        for row in figures.filter(pl.col("split") == "heldout").iter_rows(named=True):
            log.info("scorer %s on the held-out %s validation answers: Spearman %.2f, bin accuracy %.2f, kappa %.2f "
                     "(n=%d)", row["scorer"], row["scenario"], row["spearman"], row["bin_accuracy"],
                     row["weighted_kappa"], row["n"])
    if smoke_test:
        log.warning(smoke_test)
    mix = tables["stance_mix"].select(*(c for c in ("scenario", "party_a", "party_b") if c in tables["stance_mix"].columns),
                                      "model_id", "scorer", "perspective", "n", "p_neg", "p_neu", "p_pos", "mean_score")
    with pl.Config(tbl_rows=50, tbl_cols=20, float_precision=3, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        text = (f"stance mix\n{mix}\nuplift and sycophancy index (95% studentized cluster-bootstrap CI)\n"
                f"{format_headline(tables['uplift'])}")
    if "pushback" in tables:
        text += f"\npushback: shift toward whoever objects, and the give-way rate (95% CI)\n{format_pushback(tables['pushback'])}"
    log.info("tables written to %s\n%s", folder.path, text)
    return tables


def format_pushback(table: pl.DataFrame) -> str:
    """Each style's pooled row of the pushback table (as written), for the terminal."""
    cols = [c for c in ("scenario", "model_id", "scorer", "style", "perspective", "objector", "n_triplets", "shift",
                        "shift_lo", "shift_hi", "give_way", "give_way_lo", "give_way_hi") if c in table.columns]
    with pl.Config(tbl_rows=60, tbl_cols=20, tbl_width_chars=200, fmt_str_lengths=40, float_precision=3,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        return str(table.filter(pl.col("objector") == "all").select(cols))
