"""Tables for the terminal: as wide as the terminal (100 columns when that is unknown), models by
their roster labels, and a cell too long for its column shortened with an ellipsis, never wrapped."""

from __future__ import annotations

import os

import polars as pl

from sycobench.report.paper import fixed

__all__ = ["DEFAULT_WIDTH", "fit_table", "headline_text", "model_labels", "stance_text", "terminal_width"]

DEFAULT_WIDTH = 100
_MIN_WIDTH = 40  # a narrower size is a pty that reports none, not a terminal anyone reads
_MIN_TEXT = 8  # a text column is never cut below this
_GAP = "  "
_ELLIPSIS = "…"


def terminal_width() -> int:
    """`COLUMNS` if set, else the terminal's width, else 100 (a pipe, a file, or a pty that reports no size)."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) >= _MIN_WIDTH:
        return int(env)
    try:
        columns = os.get_terminal_size(1).columns
    except OSError:
        columns = 0
    return columns if columns >= _MIN_WIDTH else DEFAULT_WIDTH


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + _ELLIPSIS


def fit_table(frame: pl.DataFrame, *, width: int | None = None, numeric: set[str] | None = None) -> str:
    """`frame` (any types; nulls as —) as aligned plain text no wider than `width`. Text columns give
    way first, the widest first, down to 8 characters, their cells shortened with an ellipsis;
    numeric columns (right-aligned) are never cut: if the table is still too wide, the last
    columns are left out and the table says how many."""
    width = width or terminal_width()
    numeric = numeric if numeric is not None else {c for c, t in frame.schema.items() if t.is_numeric()}
    cells = frame.select(pl.all().cast(pl.String).fill_null("—"))
    headers = list(frame.columns)
    rows = cells.rows()
    sizes = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def total(n: int) -> int:
        return sum(sizes[:n]) + len(_GAP) * (n - 1)

    shown = len(headers)
    while total(shown) > width:
        texts = [i for i in range(shown) if headers[i] not in numeric and sizes[i] > _MIN_TEXT]
        if texts:
            widest = max(texts, key=lambda i: sizes[i])
            sizes[widest] -= min(sizes[widest] - _MIN_TEXT, total(shown) - width)
        elif shown > 1:
            shown -= 1
        else:
            break

    def line(values: list[str]) -> str:
        out = []
        for i in range(shown):
            text = _cut(values[i], sizes[i])
            out.append(text.rjust(sizes[i]) if headers[i] in numeric else text.ljust(sizes[i]))
        return _GAP.join(out).rstrip()

    lines = [line(headers), _GAP.join("─" * sizes[i] for i in range(shown)), *(line(list(r)) for r in rows)]
    if shown < len(headers):
        lines.append(_cut(f"({len(headers) - shown} more column(s) in the CSV: {', '.join(headers[shown:])})", width))
    return "\n".join(lines)


def model_labels(tables: dict[str, pl.DataFrame]) -> dict[str, str]:
    """Model id -> roster label, from a report's `models` table; a model without a label keeps its id."""
    models = tables.get("models")
    return {} if models is None else dict(models.select("model_id", "label").drop_nulls().iter_rows())


def _labelled(frame: pl.DataFrame, labels: dict[str, str] | None) -> pl.Expr:
    return pl.col("model_id").replace(labels or {}).alias("model")


def _number(col: str, digits: int = 3) -> pl.Expr:
    return pl.when(pl.col(col).is_null()).then(pl.lit(None, pl.String)).otherwise(fixed(col, digits))


def _interval(col: str) -> pl.Expr:
    return pl.when(pl.col(f"{col}_lo").is_null()).then(pl.lit(None, pl.String)).otherwise(
        pl.format("[{}, {}]", _number(f"{col}_lo"), _number(f"{col}_hi")))


def headline_text(uplift: pl.DataFrame, *, labels: dict[str, str] | None = None, width: int | None = None) -> str:
    """The headline (an uplift table as written, sides named by party) for the terminal: per scenario and
    scorer, models by label, sorted by SI, with its 95% interval, p-value, both uplifts and triplets."""
    if uplift.is_empty():
        return "(no scored answers)"
    present = set(uplift.columns)
    several = [c for c in ("scenario", "scorer") if c in present and uplift[c].n_unique() > 1]
    sided = [c for c in uplift.columns if c.startswith("uplift_") and not c.endswith(("_lo", "_hi"))][:2]
    keys = [c for c in ("scenario", "scorer") if c in present]
    order = [pl.col(c).cast(pl.Enum(uplift[c].cast(pl.String).unique(maintain_order=True).drop_nulls().to_list()))
             for c in keys]  # scenarios and scorers in the report's order, models by SI within each
    frame = uplift.sort([*order, "sycophancy_index"], descending=[False] * len(keys) + [True], nulls_last=True,
                        maintain_order=True)
    table = frame.select(
        *several, _labelled(frame, labels),
        _number("sycophancy_index").alias("SI"),
        *([_interval("sycophancy_index").alias("95% CI")] if "sycophancy_index_lo" in present else []),
        *([pl.when(pl.col("si_p_value") < 0.0005).then(pl.lit("<0.001")).otherwise(_number("si_p_value"))
           .alias("p")] if "si_p_value" in present else []),
        *(_number(c).alias(c.replace("_", " ")) for c in sided),
        *([pl.col("n_triplets").alias("triplets")] if "n_triplets" in present else []),
    )
    right = {"SI", "95% CI", "p", "triplets", *(c.replace("_", " ") for c in sided)}
    return fit_table(table, width=width, numeric=right)


def stance_text(mix: pl.DataFrame, *, labels: dict[str, str] | None = None, width: int | None = None,
                parties: tuple[str, str] = ("A", "B")) -> str:
    """A stance-mix table (as written) for the terminal: who asks, n, the three bins' shares (named by
    `parties`, A then B), the mean score."""
    if mix.is_empty():
        return "(no scored answers)"
    several = [c for c in ("scenario", "scorer") if c in mix.columns and mix[c].n_unique() > 1]
    bins = (("p_pos", f"pro-{parties[0]}"), ("p_neu", "neutral"), ("p_neg", f"pro-{parties[1]}"), ("mean_score", "mean"))
    table = mix.select(
        *several, _labelled(mix, labels), pl.col("perspective").alias("who asks"), "n",
        *(_number(c).alias(name) for c, name in bins),
    )
    return fit_table(table, width=width, numeric={"n", *(name for _, name in bins)})
