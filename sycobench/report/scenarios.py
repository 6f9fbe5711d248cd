"""Each scenario reported on its own, and named by its own parties.

Tables are built per scenario (`per_scenario`) and stacked under a `scenario` column; inside, they
speak of sides: `a` (party A, the +1 end of the judge axis), `b` (party B) and `neutral`. Names
come in only when a table is written (`present`): with one scenario its party ids take the sides'
places (rent's summary.csv keeps the original package's `landlord_*` / `tenant_*` columns, a
pay-raise report says `employee_*` / `employer_*`); with several, the columns stay `a_*` / `b_*`
and each row names its parties in `party_a` / `party_b`. Plots and pages use the display names
(`parties[].name`).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import polars as pl

from sycobench.report.load import RENT, JobParties

__all__ = ["Parties", "axis_words", "bin_names", "per_scenario", "present", "present_tables", "side_label"]

Parties = dict[str, JobParties]  # scenario -> its parties
PROTOCOL = "protocol"  # results of jobs run under several protocols are reported apart, like scenarios
_BEFORE = "rent"  # records written before scenarios were data, and legacy files, are all rent
# The tables' columns that name a side (party A or B); every other column is the same in any scenario.
_SIDED = ("uplift_a", "uplift_b", "n_triplets_uplift_a", "n_triplets_uplift_b", "a_", "b_")


Build = Callable[[Any, "pl.DataFrame | None", "pl.DataFrame | None"], dict[str, pl.DataFrame]]


def per_scenario(build: Build, results: pl.DataFrame | pl.LazyFrame, calls: pl.DataFrame | None = None,
                 levels: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """`build(results, calls, levels)` for each scenario in `results`, its tables stacked under a
    `scenario` column. Frames without a `scenario` column (built by hand) are one scenario. Results
    of several protocols (a `protocol` column; none: `single`) are built apart too, under a `protocol`
    column. A LazyFrame (the columnar copies) is handed on lazily, each scenario's rows filtered."""
    lazy = isinstance(results, pl.LazyFrame)
    columns = results.collect_schema().names() if lazy else results.columns
    results = results.with_columns((pl.col("scenario") if "scenario" in columns else pl.lit(_BEFORE))
                                   .fill_null(_BEFORE).alias("scenario"))
    if calls is not None and "scenario" in calls.columns:
        calls = calls.with_columns(pl.col("scenario").fill_null(_BEFORE))
    present = [pl.col("scenario").unique(maintain_order=True).implode()]
    if PROTOCOL in columns:
        present.append(pl.col(PROTOCOL).fill_null("single").n_unique())
    found = results.select(present)
    found = (found.collect() if lazy else found).row(0)
    if PROTOCOL in columns and found[1] > 1:
        return _per_protocol(build, results, calls, levels)
    out: dict[str, list[pl.DataFrame]] = {}
    # one scenario (the usual case) is not split: splitting copies every column of a million rows
    names = found[0] or [_BEFORE]  # no rows: `build` says what is wrong
    if len(names) <= 1:
        parts = [(names[0], results)]
    elif lazy:
        parts = [(name, results.filter(pl.col("scenario") == name)) for name in names]
    else:
        parts = [(part["scenario"][0], part) for part in results.partition_by("scenario", maintain_order=True)]
    for name, part in parts:
        part_calls = calls
        if calls is not None and "scenario" in calls.columns and not (mine := calls["scenario"] == name).all():
            models = part.select(pl.col("model_id").unique())
            models = (models.collect() if lazy else models)["model_id"]
            part_calls = calls.filter(mine | (pl.col("role") == "judge") & pl.col("model_id").is_in(models.implode()))
        part_levels = None
        if levels is not None:
            part_levels = levels.filter(pl.col("scenario") == name) if "scenario" in levels.columns else levels
        for key, table in build(part, part_calls, part_levels).items():
            out.setdefault(key, []).append(table.select(pl.lit(name).alias("scenario"), pl.all()))
    return {key: pl.concat(parts, how="diagonal_relaxed") for key, parts in out.items()}


def _per_protocol(build: Build, results: pl.DataFrame | pl.LazyFrame, calls: pl.DataFrame | None,
                  levels: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    """per_scenario for each protocol, its tables stacked under a `protocol` column after `scenario`."""
    results = results.with_columns(pl.col(PROTOCOL).fill_null("single"))
    if calls is not None:
        calls = calls.with_columns((pl.col(PROTOCOL) if PROTOCOL in calls.columns else pl.lit(None, pl.String))
                                   .fill_null("single").alias(PROTOCOL))
    out: dict[str, list[pl.DataFrame]] = {}
    if isinstance(results, pl.LazyFrame):
        names = results.select(pl.col(PROTOCOL).unique(maintain_order=True)).collect()[PROTOCOL].to_list()
        parts = [(name, results.filter(pl.col(PROTOCOL) == name)) for name in names]
    else:
        parts = [(part[PROTOCOL][0], part) for part in results.partition_by(PROTOCOL, maintain_order=True)]
    for name, part in parts:
        mine = part.drop(PROTOCOL)
        part_calls = None if calls is None else calls.filter(pl.col(PROTOCOL) == name).drop(PROTOCOL)
        for key, table in per_scenario(build, mine, part_calls, levels).items():
            out.setdefault(key, []).append(table.select("scenario", pl.lit(name).alias(PROTOCOL),
                                                        pl.exclude("scenario")))
    return {key: pl.concat(parts, how="diagonal_relaxed") for key, parts in out.items()}


def _sided(column: str) -> tuple[str, str] | None:
    """(side, template) for a column that names a side, e.g. `uplift_a_lo` -> ("a", "uplift_{}_lo")."""
    if not column.startswith(_SIDED):
        return None
    if column.startswith(("a_", "b_")):
        return column[0], "{}" + column[1:]
    match = re.match(r"^(.*_)(a|b)(_lo|_hi)?$", column)
    return (match[2], match[1] + "{}" + (match[3] or "")) if match else None


def present(table: pl.DataFrame, parties: Parties) -> pl.DataFrame:
    """A table as it is written (CSV, Parquet, the notebook API): the sides named by party ids."""
    if "scenario" not in table.columns:
        return table
    names = {name: parties.get(name, RENT) for name in table["scenario"].unique().to_list()}
    side = "side" if "side" in table.columns else None
    objector = "objector" if "objector" in table.columns else None  # pushback tables: the side that objects
    if len(names) == 1:
        (scenario, who), = names.items()
        ids = {"a": who.a, "b": who.b}
        renamed = {c: t.format(ids[s]) for c in table.columns if (st := _sided(c)) for s, t in [st]}
        out = table.rename(renamed)
        if objector:
            out = out.with_columns(pl.col("objector").replace(ids))
        if side:
            out = out.with_columns(pl.col("side").replace(ids).alias("side")).rename({"side": "perspective"})
        return out
    ids = pl.DataFrame([(name, p.a, p.b) for name, p in names.items()],
                       schema={"scenario": pl.String, "party_a": pl.String, "party_b": pl.String}, orient="row")
    out = table.with_columns(pl.col("scenario").cast(pl.String)).join(ids, on="scenario", how="left",
                                                                      maintain_order="left")
    out = out.select("scenario", "party_a", "party_b", pl.exclude("scenario", "party_a", "party_b"))
    if objector:
        out = out.with_columns(
            pl.when(pl.col("objector") == "a").then(pl.col("party_a")).when(pl.col("objector") == "b")
            .then(pl.col("party_b")).otherwise(pl.col("objector")).alias("objector"))
    if side:
        out = out.with_columns(
            pl.when(pl.col("side") == "a").then(pl.col("party_a")).when(pl.col("side") == "b").then(pl.col("party_b"))
            .otherwise(pl.col("side")).alias("side")).rename({"side": "perspective"})
    return out


def present_tables(tables: dict[str, pl.DataFrame], parties: Parties, *,
                   as_is: tuple[str, ...] = ()) -> dict[str, pl.DataFrame]:
    """Every table as written (`present`); with one scenario, `summary` has exactly the original
    package's columns, with no `scenario` column. Tables named in `as_is` name no side."""
    out = {name: table if name in as_is else present(table, parties) for name, table in tables.items()}
    summary = out.get("summary")
    if summary is not None and "party_a" not in summary.columns and "scenario" in summary.columns:
        out["summary"] = summary.drop("scenario")
    return out


def side_label(side: str, scenario: str, parties: Parties) -> str:
    """A side's display name in its scenario: the party's name, or `neutral` / `all`."""
    who = parties.get(scenario, RENT)
    return {"a": who.a_name, "b": who.b_name}.get(side, side)


def axis_words(parties: Parties | None) -> tuple[str, str]:
    """What the report's prose calls the +1 and -1 ends: the one scenario's parties, else party A / party B."""
    if not parties or len(parties) != 1:
        return ("party A", "party B") if parties else (RENT.a_name, RENT.b_name)
    who = next(iter(parties.values()))
    return who.a_name, who.b_name


def bin_names(scenario: str, parties: Parties) -> dict[str, str]:
    """The stance bins of a scenario, named from its parties: pro-<B name>, neutral, pro-<A name>."""
    who = parties.get(scenario, RENT)
    return {"neg": f"pro-{who.b_name}", "neu": "neutral", "pos": f"pro-{who.a_name}"}
