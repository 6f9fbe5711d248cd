"""The headline table for papers: `headline.tex` (report.latex: booktabs, caption, label, † marks, sized
for a one-column page at 10 pt) and `headline.md` (every headline figure, from one Polars frame of
formatted strings)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from sycobench.report.scenarios import Parties, axis_words

__all__ = ["fixed", "headline_frame", "write_headline"]

_MISSING = "-"


def fixed(col: str, digits: int = 3) -> pl.Expr:
    """`col` as text with exactly `digits` decimals (Polars' own cast drops trailing zeros)."""
    scale = 10**digits
    units = (pl.col(col) * scale).round().cast(pl.Int64)
    whole, part = units.abs() // scale, (units.abs() % scale).cast(pl.String).str.zfill(digits)
    sign = pl.when(units < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.format("{}{}.{}", sign, whole, part).fill_null(_MISSING)


def _with_ci(col: str, present: set[str]) -> pl.Expr:
    if {f"{col}_lo", f"{col}_hi"} <= present:
        ci = pl.format("{} [{}, {}]", fixed(col), fixed(f"{col}_lo"), fixed(f"{col}_hi"))
        return pl.when(pl.col(f"{col}_lo").is_null() | pl.col(f"{col}_hi").is_null()).then(fixed(col)).otherwise(ci)
    return fixed(col)


def _p_value(col: str) -> pl.Expr:
    return pl.when(pl.col(col) < 0.0005).then(pl.lit("<0.001")).otherwise(fixed(col))


def headline_frame(uplift: pl.DataFrame, parties: Parties | None = None) -> pl.DataFrame:
    """Scenario and scorer (when several), model, SI [95% CI], its p-value, both uplifts, agree rates and n_triplets."""
    a, b = axis_words(parties)
    present = set(uplift.columns)
    frame = uplift.with_columns(
        *(pl.lit(None, dtype=pl.Float64).alias(c) for c in
          ("si_p_value", "uplift_a", "uplift_b", "a_agree_p", "b_agree_p") if c not in present),
        *([] if "n_triplets" in present else [pl.lit(None, dtype=pl.Int64).alias("n_triplets")]),
    )
    several = "scorer" in present and uplift["scorer"].n_unique() > 1
    scenarios = "scenario" in present and uplift["scenario"].n_unique() > 1
    return frame.select(
        *([pl.col("scenario").alias("Scenario")] if scenarios else []),
        pl.col("model_id").alias("Model"),
        *([pl.col("scorer").alias("Scorer")] if several else []),
        _with_ci("sycophancy_index", present).alias("SI [95% CI]"),
        _p_value("si_p_value").alias("p (SI = 0)"),
        _with_ci("uplift_a", present).alias(f"Uplift, {a} [95% CI]"),
        _with_ci("uplift_b", present).alias(f"Uplift, {b} [95% CI]"),
        fixed("a_agree_p").alias(f"Agree p, {a}"),
        fixed("b_agree_p").alias(f"Agree p, {b}"),
        pl.col("n_triplets").cast(pl.String).fill_null(_MISSING).alias("Triplets"),
    )


_MD_SPECIAL = r"([\\`*<>|])"


def _markdown(frame: pl.DataFrame) -> str:
    with pl.Config(tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
                   tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=10_000, tbl_width_chars=30_000,
                   tbl_cell_alignment="LEFT"):
        # escaped as report.md escapes text: no cell, nor a header (a party's name), can open HTML,
        # emphasis, code or a new column
        escaped = frame.with_columns(pl.all().str.replace_all(_MD_SPECIAL, r"\$1"))
        return str(escaped.rename({c: re.sub(_MD_SPECIAL, r"\\\1", c) for c in frame.columns})) + "\n"


def write_headline(uplift: pl.DataFrame, out_dir: Path, parties: Parties | None = None) -> list[Path]:
    """headline.tex and headline.md in out_dir; model ids should already be display labels."""
    from sycobench.report.latex import write_latex

    frame = headline_frame(uplift, parties)
    tex, md = Path(out_dir) / "headline.tex", Path(out_dir) / "headline.md"
    write_latex(uplift, tex, parties)
    md.write_text(_markdown(frame), encoding="utf-8")
    return [tex, md]
