"""The per-job tables (stance mix, uplift, summary, agreement) and the table printed at the end."""

from __future__ import annotations

import logging

import polars as pl

from sycobench.config import ReportConfig
from sycobench.report.labellers import labeller_tables
from sycobench.report.load import JobParties, load_calls, load_factors, load_results, sink_with_text
from sycobench.report.panel import panel_tables
from sycobench.report.scenarios import Parties, per_scenario, present_tables
from sycobench.report.tables import write_csv
from sycobench.store import ROW, JobFolder

__all__ = ["format_headline", "format_pushback", "job_labels", "job_tables", "write_job_report"]

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
        out.update(labeller_tables(results, threshold=report.threshold))
        out.update(panel_tables(results, threshold=report.threshold))
        return out

    return per_scenario(build, results, calls) | pushback_tables(
        results, threshold=report.threshold, bootstrap=report.bootstrap, seed=report.seed)


def format_headline(uplift: pl.DataFrame, labels: dict[str, str] | None = None) -> str:
    """The headline of an uplift table (as written: sides named by party), for the terminal."""
    from sycobench.report.terminal import headline_text

    return headline_text(uplift, labels=labels)


def job_labels(calls: pl.DataFrame) -> dict[str, str]:
    """Model id -> its roster label, where the records name one."""
    if "model_label" not in calls.columns:
        return {}
    pairs = calls.select("model_id", "model_label").drop_nulls().unique("model_id", keep="first")
    return dict(pairs.filter(pl.col("model_label") != pl.col("model_id")).iter_rows())


def write_job_report(folder: JobFolder, report: ReportConfig, *, keep: dict[str, pl.DataFrame] | None = None
                     ) -> dict[str, pl.DataFrame]:
    """The job's columnar copies (its records are final now), then its tables, read from them and
    written as they are presented (sides named by the scenario's party ids). `keep` gets the `calls`
    and `results` read, for the job's page."""
    folder.write_copies()
    parties = JobParties.of(folder)
    calls = load_calls(folder, parties=parties)
    results = load_results(folder, calls=calls, text=False, unscored=True, ordered=False)
    calls = calls.drop(ROW)  # the answers' row numbers are the results' now (load_results)
    if keep is not None:
        keep.update(calls=calls, results=results)
    seen = results.filter(pl.col("scored")).drop("scored")  # what a scorer saw: scored or unscorable
    if seen.is_empty():
        log.warning("no scored answers in %s: no tables written", folder.path)
        return {}
    sink_with_text(seen, folder, factors=load_factors(folder, parties))  # the text is never held whole
    named: Parties = {parties.scenario: parties}
    from sycobench.validation import mark_unvalidated, report_validation, unvalidated_note

    figures, unvalidated = report_validation(seen, calls)
    tables = mark_unvalidated(present_tables(job_tables(results.drop("unscorable"), report, calls), named), unvalidated)
    for name, frame in tables.items():
        write_csv(frame, folder.table(name))
    if unvalidated.height:  # names the rows of every table, summary.csv's too, that are no measurement
        write_csv(unvalidated, folder.table("unvalidated"))
        log.warning(unvalidated_note(unvalidated))
    else:
        folder.table("unvalidated").unlink(missing_ok=True)
    if not figures.is_empty():
        write_csv(figures, folder.table("scorer_validation"))
        for row in figures.filter(pl.col("split") == "heldout").iter_rows(named=True):
            log.info("scorer %s on the held-out %s %s validation answers: Spearman %.2f, bin accuracy %.2f, "
                     "kappa %.2f (n=%d)", row["scorer"], row["set"], row["scenario"], row["spearman"],
                     row["bin_accuracy"], row["weighted_kappa"], row["n"])
    for row in tables.get("labeller_alpha", pl.DataFrame()).iter_rows(named=True):
        alpha = "none yet (no answer labelled by two of them)" if row["krippendorff_alpha"] is None \
            else f"{row['krippendorff_alpha']:.3f}"
        log.info("people's labels (%s): Krippendorff's alpha among %d people = %s, on %d answers; each person against "
                 "each scorer: labellers.csv", row["scenario"], row["labellers"], alpha, row["n_answers"])
    for row in tables.get("panel_alpha", pl.DataFrame()).iter_rows(named=True):
        alpha = "none (no answer scored by two judges)" if row["krippendorff_alpha"] is None \
            else f"{row['krippendorff_alpha']:.3f}"
        log.info("judge panel (%s): Krippendorff's alpha among %d judges = %s, on %d answers; each judge against the "
                 "panel's median: panel_judges.csv", row["scenario"], row["judges"], alpha, row["n_answers"])
    from sycobench.report.terminal import headline_text, stance_text

    labels = job_labels(calls)
    text = (f"stance mix\n{stance_text(tables['stance_mix'], labels=labels, parties=(parties.a_name, parties.b_name))}\n"
            f"uplift and sycophancy index (95% CI: t below 20 triplets, else cluster bootstrap-t)\n"
            f"{headline_text(tables['uplift'], labels=labels)}")
    if "pushback" in tables:
        text += ("\npushback: shift toward whoever objects, and the give-way rate (95% CI)\n"
                 f"{format_pushback(tables['pushback'], labels)}")
    log.info("tables written to %s\n%s", folder.path, text)
    return tables


def format_pushback(table: pl.DataFrame, labels: dict[str, str] | None = None) -> str:
    """Each style's pooled row of a pushback table (as written) for the terminal: the shift toward whoever
    objects and the give-way rate, each with its 95% interval."""
    from sycobench.report.paper import fixed
    from sycobench.report.terminal import fit_table

    rows = table.filter(pl.col("objector") == "all")
    several = [c for c in ("scenario", "scorer") if c in rows.columns and rows[c].n_unique() > 1]

    def ci(col: str) -> pl.Expr:
        return pl.when(pl.col(f"{col}_lo").is_null()).then(pl.lit(None, pl.String)).otherwise(
            pl.format("[{}, {}]", fixed(f"{col}_lo"), fixed(f"{col}_hi")))

    shown = rows.select(*several, pl.col("model_id").replace(labels or {}).alias("model"), "style",
                        fixed("shift").alias("shift"), ci("shift").alias("95% CI"),
                        fixed("give_way").alias("give way"), ci("give_way").alias("95% CI "),
                        pl.col("n_triplets").alias("triplets"))
    return fit_table(shown, numeric={"shift", "95% CI", "give way", "95% CI ", "triplets"})
