"""Tables per scenario: each scenario's records are reported on their own, under a `scenario` column.

Perspectives are the scenario's party ids. Party A is the +1 end of its judge axis, party B the
-1 end (docs/scenarios.md). The tables are written once, with rent's names for the two ends:
inside a scenario, party A's rows take the `landlord` columns and party B's the `tenant` columns,
so every scenario's tables have the same columns; the `perspective` values name the parties.
"""

from __future__ import annotations

from typing import Callable

import polars as pl

__all__ = ["SIDE_SLOTS", "axis_words", "parties_of", "per_scenario"]

#: side of the judge axis -> the column names the tables use for it
SIDE_SLOTS = {"a": "landlord", "b": "tenant"}
_BEFORE = "rent"  # records written before scenarios were data, and legacy files, are all rent


def _sides(part: pl.DataFrame) -> pl.Expr:
    side = pl.col("side") if "side" in part.columns else pl.lit(None, dtype=pl.String)
    return side.replace_strict(SIDE_SLOTS, default=pl.col("perspective"))


def per_scenario(build: Callable[[pl.DataFrame, pl.DataFrame | None], dict[str, pl.DataFrame]],
                 results: pl.DataFrame, calls: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """`build(results, calls)` for each scenario in `results`, its tables stacked under a `scenario` column.

    Frames without a `scenario` column (built by hand) are passed through as they are."""
    if "scenario" not in results.columns:
        return build(results, calls)
    results = results.with_columns(pl.col("scenario").fill_null(_BEFORE))
    if calls is not None and "scenario" in calls.columns:
        calls = calls.with_columns(pl.col("scenario").fill_null(_BEFORE))
    out: dict[str, list[pl.DataFrame]] = {}
    # one scenario (the usual case) is not split: splitting copies every column of a million rows
    parts = [results] if results["scenario"].n_unique() == 1 else results.partition_by("scenario", maintain_order=True)
    for part in parts:
        name = part["scenario"][0]
        slots = part.select(_sides(part).alias("slot"), "perspective").unique()
        back = dict(zip(slots["slot"], slots["perspective"]))
        part_calls = calls
        if calls is not None and "scenario" in calls.columns and not (mine := calls["scenario"] == name).all():
            part_calls = calls.filter(mine)
        tables = build(part.with_columns(_sides(part).alias("perspective")), part_calls)
        for key, table in tables.items():
            if "perspective" in table.columns:
                table = table.with_columns(pl.col("perspective").replace(back))
            out.setdefault(key, []).append(table.select(pl.lit(name).alias("scenario"), pl.all()))
    return {key: pl.concat(parts, how="diagonal_relaxed") for key, parts in out.items()}


def parties_of(results: pl.DataFrame) -> dict[str, tuple[str, str]]:
    """Each scenario's party ids (A, B), read from the results' `side`; rent's for records without one."""
    if not {"side", "perspective"} <= set(results.columns):
        return {_BEFORE: ("landlord", "tenant")}
    scenario = pl.col("scenario").fill_null(_BEFORE) if "scenario" in results.columns else pl.lit(_BEFORE)
    rows = (results.lazy().filter(pl.col("side").is_in(list(SIDE_SLOTS)))
            .select(scenario.alias("scenario"), "side", "perspective").unique().sort("scenario", "side").collect())
    found: dict[str, dict[str, str]] = {}
    for name, side, party in rows.iter_rows():
        found.setdefault(name, {})[side] = party
    return {name: (sides.get("a", "party A"), sides.get("b", "party B")) for name, sides in found.items()} or {
        _BEFORE: ("landlord", "tenant")}


def axis_words(parties: dict[str, tuple[str, str]] | None) -> tuple[str, str]:
    """What the report's prose calls the +1 and -1 ends: the one scenario's parties, else party A / party B."""
    if not parties:
        return "landlord", "tenant"
    return next(iter(parties.values())) if len(parties) == 1 else ("party A", "party B")
