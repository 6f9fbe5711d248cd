"""The report's plots: what each shows, and its paper copies drawn with matplotlib's object API (no
global backend, no open figures).

The page's figures are SVG written directly (report.charts, from the same `mix_rows`, `forest_panels`,
... as the copies here): every report writes them. PNG and PDF copies for papers are drawn here where
`report.formats` asks, in worker processes (report.workers) where there are spare cores. Models are
told apart by colour *and* marker: the Okabe-Ito colours (safe for the common colour-vision
deficiencies) crossed with twelve marker shapes give 24 distinct styles before any repeats.
"""

from __future__ import annotations

import logging
import math
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from sycobench.config import PLOT_FORMATS
from sycobench.logs import quieted
from sycobench.report.layout import TICK, axes_at, lines_height, row_pitch, text_width, title_on_top, write_png
from sycobench.report.scenarios import Parties, axis_words, side_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_FORMATS", "FORMATS", "MIN_INTERVAL_TRIPLETS", "MODEL_COLOURS", "MODEL_MARKERS", "PAPER", "PAPER_PLOTS",
           "PLOTS", "draw_copy", "model_style", "shown_plots"]

log = logging.getLogger("sycobench.report")
DPI = 150
FORMATS = PLOT_FORMATS  # every format a plot can be written in; SVG always (the page shows it)
DEFAULT_FORMATS = ("svg",)  # the page's own SVG only: matplotlib's copies take a second and more (docs/performance.md)
PAPER = ("png", "pdf")  # the formats drawn by matplotlib
# Okabe-Ito without its yellow (unreadable on white), plus Tol's wine; markers get a dark edge as well
MODEL_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#882255", "#000000")
EDGE = "#222222"
#: an interval resting on fewer triplets is not drawn (its marker is hollow) and its n is shown
MIN_INTERVAL_TRIPLETS = 5
MODEL_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
PRO_B, NEUTRAL, PRO_A = "#0072B2", "#BBBBBB", "#D55E00"
_SLOTS = ("a", "neutral", "b", "all")  # rows of the stance-mix plot, in order: party A asks, neutral, party B asks
_MISSING = "—"
_MAX_SPLIT_MODELS = 12
_MAX_PANELS = 24  # beyond this many models, one heatmap reads better (and draws in a fraction of the time)


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _fmt(x: object, digits: int = 3) -> str:
    if _missing(x):
        return _MISSING
    if isinstance(x, (bool, str)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    text = f"{float(x):.{digits}f}"
    # a value that rounds to zero is shown as 0, unsigned: summed in another order, an exact 0 comes out -1e-17
    return text.removeprefix("-") if float(text) == 0 else text


def _several_scorers(df: pl.DataFrame) -> bool:
    return "scorer" in df.columns and df["scorer"].n_unique() > 1


def _usable(df: pl.DataFrame | None) -> bool:
    return df is not None and df.height > 0


def _first_scorer(df: pl.DataFrame) -> tuple[pl.DataFrame, str | None]:
    if "scorer" not in df.columns or df.is_empty():
        return df, None
    first = df["scorer"][0]
    return df.filter(pl.col("scorer") == first), first


def _wrap(text: str, width: int = 32) -> str:
    """Wrapped plot label; `$` escaped so an id is never read as mathtext."""
    return textwrap.fill(str(text), width, break_long_words=True, break_on_hyphens=False).replace("$", r"\$")


def model_style(i: int) -> tuple[str, str]:
    """Colour and marker of the i-th model; the pair stays unique for 24 models."""
    return MODEL_COLOURS[i % len(MODEL_COLOURS)], MODEL_MARKERS[i % len(MODEL_MARKERS)]


def _save(fig: Figure, path: Path, formats: Sequence[str] = ("png",)) -> Path:
    """The figure in each of `formats` (png, svg, pdf), named as `path` with the format's suffix; no
    timestamps, so reruns give the same vector files. Returns `path`."""
    if "png" in formats:
        write_png(fig, path.with_suffix(".png"), DPI)
    vectors = [fmt for fmt in dict.fromkeys(formats) if fmt != "png"]
    if not vectors:
        return path
    fig.set_layout_engine("none")  # keep the layout just computed: solving it again costs seconds per format
    # SVG text stays text (editable, and drawn in half the time of glyph outlines); PDF embeds
    # TrueType (Type 42) fonts, which publishers accept where they refuse Type 3
    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42}), quieted("fontTools"):
        for fmt in vectors:
            fig.savefig(path.with_suffix(f".{fmt}"), format=fmt, metadata=meta[fmt])
    return path


def _bars(y: np.ndarray, left: np.ndarray, width: np.ndarray, height: float = 0.8) -> np.ndarray:
    """Horizontal bars as the corners of rectangles, (bars, 4, 2)."""
    x0, x1, y0, y1 = left, left + width, y - height / 2, y + height / 2
    return np.stack([np.column_stack(c) for c in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))], axis=1)


def mix_rows(mix: pl.DataFrame, parties: Parties) -> tuple[pl.DataFrame, list[str], list[tuple[str, int]], str] | None:
    """What the stance-mix plot shows: its bars (`y`, `p_neg`, `p_neu`, `p_pos`), their labels, each
    model's heading row (none beyond _MAX_SPLIT_MODELS: then a bar a model) and the x axis' label."""
    scenario = pl.col("scenario").cast(pl.String) if "scenario" in mix.columns else pl.lit("rent")
    data, scorer = _first_scorer(mix.with_columns(slot=pl.col("side"), _scenario=scenario)
                                 .filter(pl.col("slot").is_in(_SLOTS)))
    if data.is_empty():
        return None
    models = data["model_id"].unique(maintain_order=True).to_list()
    split = len(models) <= _MAX_SPLIT_MODELS  # four bars a model stop being readable (and take seconds to draw)
    if not split:  # one bar a model, named on its own row: no heading rows
        data = data.filter(pl.col("slot") == "all")
    rank = {p: i for i, p in enumerate(_SLOTS)}
    data = (
        data.with_columns(_m=pl.col("model_id").cast(pl.Enum(models)),
                          _r=pl.col("slot").replace_strict(rank, return_dtype=pl.Int64))
        .sort("_m", "_r")
        .with_columns(y=pl.int_range(pl.len()) + (pl.col("_m").to_physical().cast(pl.Int64) + 1 if split else 0),
                      *(pl.col(f"p_{b}").fill_null(0.0) for b in ("neg", "neu", "pos")))
    )
    heads = data.group_by("model_id", maintain_order=True).agg(y=pl.col("y").min() - 1).rows() if split else []
    names = {"neutral": "neutral", "all": "all answers"}
    if split:
        labels = [f"{names.get(slot) or side_label(slot, where, parties) + ' asks'} (n={n})"
                  for slot, where, n in zip(data["slot"], data["_scenario"], data["n"])]
    else:
        labels = [f"{_wrap(model, 40)}, all answers (n={n})" for model, n in zip(data["model_id"], data["n"])]
    return data, labels, heads, _wrap("share of answers" + (f" (scorer: {scorer})" if scorer else ""), 90)


def mix_keys(threshold: float, parties: Parties) -> list[tuple[str, str, str]]:
    """The stance-mix plot's stances, left to right: column, colour and legend label."""
    a, b = axis_words(parties)
    return [("p_neg", PRO_B, f"pro-{b} (y ≤ −{threshold:g})"), ("p_neu", NEUTRAL, "neutral"),
            ("p_pos", PRO_A, f"pro-{a} (y ≥ {threshold:g})")]


def _plot_stance_mix(mix: pl.DataFrame, path: Path, *, threshold: float, parties: Parties,
                     formats: Sequence[str] = ("png",)) -> Path | None:
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    shown = mix_rows(mix, parties)
    if shown is None:
        return None
    data, labels, heads, xlabel = shown
    split = bool(heads)
    y = data["y"].to_numpy()
    # a fixed layout: the tick labels' width on the left; title above; ticks, axis label and legend below
    left, right, top = 0.12 + text_width(labels, 8) + TICK, 0.25, 0.15 + lines_height("", 12) + 6 / 72
    legend_h = 0.2 + lines_height("", 8)
    bottom = 0.1 + legend_h + TICK + lines_height("", 10) + 4 / 72 + lines_height(xlabel, 10)
    rows = 0.3 * (len(y) + len(heads))
    width = max(8.0, left + right + 4.0)
    fig = Figure(figsize=(width, top + rows + bottom))
    ax = axes_at(fig, left, bottom, width - left - right, rows)
    start, keys = np.zeros(len(y)), []
    for column, colour, label in mix_keys(threshold, parties):
        share = data[column].to_numpy()
        # one collection of bars a stance (barh's patch a bar cost 3 ms each to add)
        ax.add_collection(PolyCollection(_bars(y, start, share), facecolors=colour, edgecolors="none", label=label),
                          autolim=False)
        keys.append(Patch(facecolor=colour, label=label))
        if split:  # beyond that, a share on every bar is more text than a reader scans and most of the time
            for at, yy, v in zip(start + share / 2, y, share):
                if v >= 0.08:  # plain texts: bar_label's annotations cost ten times as much to place
                    ax.text(at, yy, f"{v:.0%}", ha="center", va="center", fontsize=7)
        start = start + share
    ax.set_yticks(y, labels, fontsize=8)
    if split:
        for model, yy in heads:
            ax.text(0, yy, _wrap(model, 80), fontweight="bold", fontsize=8, va="center", ha="left")
    ax.set_ylim(data["y"].max() + 0.6, -0.6)
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_title("Stance mix by who asks")
    fig.legend(handles=keys, loc="lower center", bbox_to_anchor=(0.5, 0.1 / fig.get_figheight()), ncol=3, frameon=False,
               fontsize=8)
    return _save(fig, path, formats)


def _intervals(part: pl.DataFrame, col: str = "sycophancy_index") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, error bars (below, above) and whether the interval may be drawn (enough triplets, both ends known)."""
    value = part[col].fill_null(np.nan).to_numpy()
    lo = part[f"{col}_lo"].fill_null(np.nan).to_numpy() if f"{col}_lo" in part.columns else np.full(len(value), np.nan)
    hi = part[f"{col}_hi"].fill_null(np.nan).to_numpy() if f"{col}_hi" in part.columns else np.full(len(value), np.nan)
    n = part["n_triplets"].fill_null(0).to_numpy() if "n_triplets" in part.columns else np.zeros(len(value))
    drawn = (n >= MIN_INTERVAL_TRIPLETS) & np.isfinite(lo) & np.isfinite(hi)
    err = np.vstack([np.where(drawn, value - lo, 0.0), np.where(drawn, hi - value, 0.0)])
    return value, np.clip(np.nan_to_num(err), 0, None), drawn


def _points(ax, x: np.ndarray, y: np.ndarray, err: np.ndarray, drawn: np.ndarray, *, colour: str, marker: str,
            horizontal: bool, label: str | None = None) -> None:
    """Filled markers with their intervals; hollow markers, no interval, where too few triplets stand behind one.
    `label` names the artists (a model's, where several share an axes)."""
    kw = dict(fmt="none", ecolor=colour, capsize=3, elinewidth=1.4, label=label)
    if drawn.any():
        ax.errorbar(x[drawn], y[drawn], **({"xerr": err[:, drawn]} if horizontal else {"yerr": err[:, drawn]}), **kw)
    ax.plot(x[drawn], y[drawn], linestyle="none", marker=marker, color=colour, markeredgecolor=EDGE, markersize=6,
            label=label)
    ax.plot(x[~drawn], y[~drawn], linestyle="none", marker=marker, markerfacecolor="white", markeredgecolor=colour,
            markeredgewidth=1.5, markersize=6, label=label)


def forest_panels(uplift: pl.DataFrame) -> tuple[list[str], dict[tuple, pl.DataFrame], dict[tuple, tuple], dict[tuple, list[str]], str] | None:
    """What the forest plot shows: a panel per scenario and scorer (their SIs are not on one scale, and a
    judge is not ranked with another scorer), named by `facets`; in each, the models sorted by SI with
    their intervals (`_intervals`) and labels; and the x axis' label."""
    data = uplift.filter(pl.col("sycophancy_index").is_not_null()) if "sycophancy_index" in uplift.columns else None
    if not _usable(data):
        return None
    facets = [c for c in ("scenario", "scorer") if c in data.columns and data[c].n_unique() > 1]
    panels = data.partition_by(facets, maintain_order=True, as_dict=True) if facets else {(): data}
    parts = {key: part.sort("sycophancy_index", descending=True, maintain_order=True)  # largest effect on top
             for key, part in panels.items()}
    shown = {key: _intervals(part) for key, part in parts.items()}
    few = not all(drawn.all() for _, _, drawn in shown.values())
    labels = {key: [f"{_wrap(m, 34)} (n={_fmt(k)}{'' if ok else ', no interval'})" for m, k, ok in
                    zip(part["model_id"], part["n_triplets"] if "n_triplets" in part.columns else [None] * part.height,
                        shown[key][2])] for key, part in parts.items()}
    xlabel = ("sycophancy index (positive: moves toward the asker)\nwith its 95% cluster-bootstrap interval"
              + (f"; hollow: fewer than {MIN_INTERVAL_TRIPLETS} triplets, no interval" if few else ""))
    return facets, parts, shown, labels, xlabel


def _plot_forest(uplift: pl.DataFrame, path: Path, *, formats: Sequence[str] = ("png",)) -> Path | None:
    """The forest plot (`forest_panels`): the figure is as tall as its rows."""
    from matplotlib.figure import Figure

    panels = forest_panels(uplift)
    if panels is None:
        return None
    facets, parts, shown, labels, xlabel = panels
    rows = [part.height for part in parts.values()]
    # a fixed layout: panels stacked, each as tall as its rows, under its title; labels' width on the left
    names = [t for ts in labels.values() for t in ts]
    left, row = 0.1 + text_width(names, 8) + TICK, row_pitch(names, 8, 0.3)
    right, title = 0.25, (lines_height("", 9) + 6 / 72 + 0.05 if facets else 0.15)
    top, bottom = 0.15 + lines_height("", 10), 0.1 + TICK + lines_height("", 10) + 4 / 72 + lines_height(xlabel, 8)
    heights = [row * r + 0.2 for r in rows]
    width = max(7.0, left + right + 3.0)
    fig = Figure(figsize=(width, top + sum(h + title for h in heights) + bottom))
    axes, above = [], fig.get_figheight() - top
    for h in heights:
        above -= title + h
        axes.append(axes_at(fig, left, above, width - left - right, h, sharex=axes[0] if axes else None))
    for i, (ax, (key, part)) in enumerate(zip(axes, parts.items())):
        si, err, drawn = shown[key]
        y = np.arange(len(si), dtype=float)
        ax.axvline(0, color="black", linewidth=0.8)
        _points(ax, si, y, err, drawn, colour=MODEL_COLOURS[i % len(MODEL_COLOURS)], marker="o", horizontal=True)
        ax.set_yticks(y, labels[key], fontsize=8)
        ax.set_ylim(len(si) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
        if ax is not axes[-1]:
            ax.tick_params(labelbottom=False)
        if facets:
            ax.set_title(" · ".join(f"{name}: {value}" for name, value in zip(facets, key)), fontsize=9, loc="left")
    axes[-1].set_xlabel(xlabel, fontsize=8)
    title_on_top(fig, "Sycophancy index per model", fontsize=10)
    return _save(fig, path, formats)


def _span(counts: pl.Series) -> str:
    lo, hi = counts.min(), counts.max()
    return _fmt(lo) if lo == hi else f"{_fmt(lo)}–{_fmt(hi)}"


def _level_order(levels: pl.Series) -> list[str]:
    """Numeric levels (amounts) sort by value, not as strings."""
    frame = pl.DataFrame({"level": levels.unique()}).with_columns(v=pl.col("level").cast(pl.Float64, strict=False))
    return frame.sort("v", "level", nulls_last=True)["level"].to_list()


def _numeric_factor(by_factor: pl.DataFrame) -> pl.DataFrame:
    """Each scenario's first factor (in the order it declares them) with two or more numeric levels."""
    group = ["scenario"] if "scenario" in by_factor.columns else []
    levels = by_factor.group_by(*group, "factor", maintain_order=True).agg(
        numeric=pl.col("level").cast(pl.Float64, strict=False).is_not_null().all(), count=pl.col("level").n_unique())
    chosen = levels.filter(pl.col("numeric") & (pl.col("count") >= 2))
    chosen = chosen.group_by(*group, maintain_order=True).first() if group else chosen.head(1)
    return by_factor.join(chosen.select(*group, "factor"), on=[*group, "factor"], how="semi")


def amount_data(by_factor: pl.DataFrame) -> tuple[pl.DataFrame, str | None, str, list[str], list[str]] | None:
    """What the by-amount plot shows: each scenario's first numeric factor (of the first scorer), the
    scorer, the factor's name, its levels in order and the models."""
    data, scorer = _first_scorer(_numeric_factor(by_factor))
    if data.is_empty():
        return None
    factor = data["factor"][0] if data["factor"].n_unique() == 1 else "factor"
    return data, scorer, factor, _level_order(data["level"]), data["model_id"].unique(maintain_order=True).to_list()


def amount_panels(data: pl.DataFrame, levels: list[str], models: list[str], factor: str
                  ) -> tuple[dict[str, pl.DataFrame], dict[str, tuple], dict[str, str], str]:
    """A panel a model: its levels in order, their intervals (`_intervals`), its title; and the x label."""
    position = {lv: j for j, lv in enumerate(levels)}
    parts = {model: data.filter(pl.col("model_id") == model).with_columns(
        rank=pl.col("level").replace_strict(position, return_dtype=pl.Int64)).sort("rank") for model in models}
    shown = {model: _intervals(part) for model, part in parts.items()}
    few = not all(drawn.all() for _, _, drawn in shown.values())
    xlabel = (f"level of {factor}, with the triplets behind each point"
              + (f"; hollow: fewer than {MIN_INTERVAL_TRIPLETS}, no interval" if few else ""))
    return parts, shown, {model: _wrap(model, 30) for model in models}, xlabel


def _plot_by_amount(by_factor: pl.DataFrame, path: Path, *, formats: Sequence[str] = ("png",)) -> Path | None:
    """One small panel per model, each on its own levels (scenarios differ), on a shared y axis: with
    many models, offset lines overlap. Each level's n is under its tick."""
    found = amount_data(by_factor)
    if found is None:
        return None
    data, scorer, factor, levels, models = found
    if len(models) > _MAX_PANELS:
        return _heatmap_by_amount(data, levels, models, scorer, factor, path, formats)
    from matplotlib.figure import Figure
    from matplotlib.transforms import ScaledTranslation, blended_transform_factory

    cols = min(4, len(models))
    rows = [models[r:r + cols] for r in range(0, len(models), cols)]
    parts, shown, titles, xlabel = amount_panels(data, levels, models, factor)
    # a fixed layout: a row of panels is one axes (a model a panel, between vertical rules; a panel's own
    # axes cost more to make and draw than its points), each row under its titles and over its level ticks
    left = 0.1 + lines_height("", 9) + 4 / 72 + text_width(["−0.00"], 8) + TICK
    right, top, bottom = 0.15, 0.15 + lines_height("", 10) + 0.05, 0.1 + lines_height(xlabel, 8) + 0.05
    width = max(4.5, 2.7 * cols)
    panel = (width - left - right) / cols
    heads = [max(lines_height(titles[m], 8) for m in row) + 3 / 72 + 0.05 for row in rows]
    ticks = TICK + lines_height("0\n0", 7) + 0.1
    height = 1.7
    fig = Figure(figsize=(width, top + sum(heads) + len(rows) * (height + ticks) + bottom))
    above, axes, style = fig.get_figheight() - top, [], iter(range(len(models)))
    for row, head in zip(rows, heads):
        above -= head + height
        ax = axes_at(fig, left, above, panel * len(row), height, sharey=axes[0] if axes else None)
        above -= ticks
        axes.append(ax)
        ax.axhline(0, color="black", linewidth=0.8)
        title_at = blended_transform_factory(ax.transData, ax.transAxes) + ScaledTranslation(0, 3 / 72, fig.dpi_scale_trans)
        xs, names = [], []
        for j, model in enumerate(row):
            part, (si, err, drawn) = parts[model], shown[model]
            colour, marker = model_style(next(style))
            x = j + (np.arange(part.height) + 0.5) / part.height
            ax.plot(x, si, color=colour, linewidth=1.2, label=model)
            _points(ax, x, si, err, drawn, colour=colour, marker=marker, horizontal=False, label=model)
            ax.text(j + 0.5, 1, titles[model], transform=title_at, ha="center", va="bottom", fontsize=8)
            if j:
                ax.axvline(j, color="black", linewidth=0.8)
            xs += list(x)
            names += [f"{lv}\nn={_fmt(n)}" for lv, n in zip(part["level"], part["n_triplets"])]
        ax.grid(axis="y", alpha=0.3)
        ax.set_xticks(xs, names, fontsize=7)
        ax.set_xlim(0, len(row))
        ax.tick_params(axis="y", labelsize=8)
    fig.supxlabel(xlabel, fontsize=8, y=0.1 / fig.get_figheight(), va="bottom")
    fig.supylabel("sycophancy index, 95% CI", fontsize=9, x=0.1 / width, ha="left")
    title_on_top(fig, f"Sycophancy index by {factor}" + (f" (scorer: {scorer})" if scorer else ""), fontsize=10)
    return _save(fig, path, formats)


def heat_values(data: pl.DataFrame, levels: list[str], models: list[str]) -> tuple[np.ndarray, float]:
    """The heatmap's SIs, models by levels (NaN where none), and its scale's end: the largest |SI|."""
    grid = (
        pl.DataFrame({"model_id": models}).join(pl.DataFrame({"level": levels}), how="cross")
        .join(data.select("model_id", "level", "sycophancy_index"), on=["model_id", "level"], how="left")
    )
    values = grid["sycophancy_index"].fill_null(np.nan).to_numpy().reshape(len(models), len(levels))
    return values, max(float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0, 0.05)


def _heatmap_by_amount(data: pl.DataFrame, levels: list[str], models: list[str], scorer: str | None, factor: str,
                       path: Path, formats: Sequence[str]) -> Path:
    """SI per model (rows) and amount (columns) on a diverging, colour-blind-safe scale centred on 0."""
    from matplotlib.figure import Figure

    values, limit = heat_values(data, levels, models)
    names = [_wrap(m, 40) for m in models]
    # a fixed layout: model names on the left, the scale and its label on the right
    left, top = 0.1 + text_width(names, 7) + TICK, 0.15 + lines_height("", 10) + 6 / 72
    bottom, right = 0.1 + TICK + lines_height("", 8) + 4 / 72 + lines_height("", 10), 0.15 + 0.15 + 2 * TICK + 0.45 + 0.35
    rows = row_pitch(names, 7, 0.22) * len(models)
    width = max(6.5, left + right + 2.5)
    fig = Figure(figsize=(width, top + rows + bottom))
    ax = axes_at(fig, left, bottom, width - left - right, rows)
    image = ax.imshow(values, cmap="PuOr_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(levels)), levels, fontsize=8)
    ax.set_yticks(range(len(models)), names, fontsize=7)
    ax.set_xlabel(f"level of {factor}")
    scale = axes_at(fig, width - right + 0.15, bottom + 0.2 * rows, 0.15, 0.6 * rows)
    fig.colorbar(image, cax=scale, label="sycophancy index")
    ax.set_title(f"Sycophancy index by {factor}" + (f" (scorer: {scorer})" if scorer else ""), fontsize=10)
    return _save(fig, path, formats)


def _pair_stats(agreement: pl.DataFrame | None, a: str, b: str) -> dict:
    if not _usable(agreement):
        return {}
    match = agreement.filter(((pl.col("scorer_a") == a) & (pl.col("scorer_b") == b))
                             | ((pl.col("scorer_a") == b) & (pl.col("scorer_b") == a)))
    if "model_id" in match.columns:
        match = match.filter(pl.col("model_id") == "all")
    return match.row(0, named=True) if match.height else {}


def agreement_counts(pairs: pl.DataFrame) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """How many answers each pair of scores has, and the pairs of scorers (a panel each)."""
    keys = ["scorer_a", "scorer_b", "score_a", "score_b"]  # sorted: the points are drawn in one order every time
    counts = pairs.drop_nulls(["score_a", "score_b"]).group_by(keys, maintain_order=True).agg(count=pl.len()).sort(
        keys, maintain_order=True)
    return counts, counts.select("scorer_a", "scorer_b").unique(maintain_order=True).rows()


def agreement_title(agreement: pl.DataFrame | None, a: str, b: str, count: int) -> str:
    stats = _pair_stats(agreement, a, b)
    return (f"n={_fmt(stats.get('n', count))}, Spearman {_fmt(stats.get('spearman'))}, "
            f"α {_fmt(stats.get('krippendorff_alpha'))}")


def _plot_agreement(pairs: pl.DataFrame, agreement: pl.DataFrame | None, path: Path, *, threshold: float,
                    formats: Sequence[str] = ("png",)) -> Path | None:
    from matplotlib.figure import Figure

    counts, combos = agreement_counts(pairs)
    if not combos:
        return None
    cols = min(3, len(combos))
    rows = math.ceil(len(combos) / cols)
    # a fixed layout: each panel's slot holds its square axes, its title above and its axis labels
    side = 3.2
    left = 0.1 + max(lines_height(_wrap(b, 40), 8) for _, b in combos) + 4 / 72 + text_width(["−0.75"], 10) + TICK
    below = 0.1 + TICK + lines_height("", 10) + 4 / 72 + max(lines_height(_wrap(a, 40), 8) for a, _ in combos)
    above, top = lines_height("", 9) + 6 / 72 + 0.1, 0.15 + lines_height("", 10)
    slot_w, slot_h = left + side + 0.2, below + side + above
    fig = Figure(figsize=(slot_w * cols, top + slot_h * rows))
    for i, (a, b) in enumerate(combos):
        r, c = divmod(i, cols)
        ax = axes_at(fig, c * slot_w + left, (rows - 1 - r) * slot_h + below, side, side)
        part = counts.filter((pl.col("scorer_a") == a) & (pl.col("scorer_b") == b))
        ax.plot([-1, 1], [-1, 1], color="black", linewidth=0.8, label="identity")
        for t in (-threshold, threshold):
            ax.axvline(t, color="grey", linestyle=":", linewidth=0.7)
            ax.axhline(t, color="grey", linestyle=":", linewidth=0.7)
        ax.scatter(part["score_a"], part["score_b"], s=25 * np.sqrt(part["count"].to_numpy()),
                   alpha=0.5, color=PRO_B, edgecolors="none")
        ax.set(xlim=(-1.08, 1.08), ylim=(-1.08, 1.08), aspect="equal")
        ax.set_xlabel(_wrap(a, 40), fontsize=8)
        ax.set_ylabel(_wrap(b, 40), fontsize=8)
        ax.set_title(agreement_title(agreement, a, b, part["count"].sum()), fontsize=9)
    title_on_top(fig, "Scorer agreement (marker area ∝ number of answers)", fontsize=10)
    return _save(fig, path, formats)


PLOTS = {"stance_mix": "stance_mix.svg", "forest": "forest_si.svg", "amount": "uplift_by_amount.svg",
         "agreement": "agreement_scatter.svg"}  # the page's files; a paper copy takes the same name, .png or .pdf
PAPER_PLOTS = {"stance_mix": _plot_stance_mix, "forest": _plot_forest, "amount": _plot_by_amount,
                "agreement": _plot_agreement}


def _per_scenario_names(table: pl.DataFrame | None) -> pl.DataFrame | None:
    if table is None or not {"scenario", "model_id"} <= set(table.columns) or table["scenario"].n_unique() < 2:
        return table
    return table.with_columns(pl.concat_str("scenario", pl.lit(" · "), "model_id").alias("model_id"))


def shown_plots(tables: dict[str, pl.DataFrame | None], *, threshold: float = 0.33,
                parties: Parties | None = None) -> dict[str, tuple[tuple, dict]]:
    """The plots the report shows (a section shows a plot only beside its table), each as the arguments
    and keywords of its drawing functions (report.charts' for the page, `PAPER_PLOTS`' for the copies);
    the plot's file name is `PLOTS[name]`."""
    get = tables.get
    faceted = get("uplift")  # the forest plot draws a panel per scenario itself
    mix, by_factor, pairs, agreement = (_per_scenario_names(get(name))
                                        for name in ("stance_mix", "by_factor", "pairs", "agreement"))
    wanted = {
        "stance_mix": _usable(mix) and ((mix,), {"threshold": threshold, "parties": parties or {}}),
        "forest": _usable(faceted) and ((faceted,), {}),
        "amount": _usable(by_factor) and ((by_factor,), {}),
        "agreement": _usable(pairs) and _usable(agreement) and ((pairs, agreement), {"threshold": threshold}),
    }
    return {name: task for name, task in wanted.items() if task}


def draw_copy(func: Callable, args: tuple, kwargs: dict, path: Path) -> tuple[Path | None, float]:
    """One paper copy drawn and written; its time."""
    started = time.perf_counter()
    return func(*args, path, **kwargs), time.perf_counter() - started
