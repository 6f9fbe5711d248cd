"""The page's figures, written as SVG (report.svg) in milliseconds.

What each figure shows (its rows, labels, intervals and order) comes from report.plots, which draws
the same figures with matplotlib for the paper copies `report.formats` asks for (PNG, PDF). Sizes are
in points, laid out from the labels' measured widths as report.plots lays out its figures in inches.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from sycobench.report.plots import (
    _MAX_PANELS,
    DEFAULT_FORMATS,
    EDGE,
    FORMATS,
    MODEL_COLOURS,
    PAPER,
    PAPER_PLOTS,
    PLOTS,
    PRO_B,
    _fmt,
    _wrap,
    agreement_counts,
    agreement_title,
    amount_data,
    amount_panels,
    draw_copy,
    forest_panels,
    heat_values,
    mix_keys,
    mix_rows,
    model_style,
    shown_plots,
)
from sycobench.report.scenarios import Parties
from sycobench.report.svg import Canvas, Scale, lines_height, nice_ticks, number, row_pitch, text_width
from sycobench.report.workers import Workers

__all__ = ["PAGE_PLOTS", "ROW", "TICK", "agreement_svg", "by_amount_svg", "forest_svg", "frame", "interval_marks",
           "interval_panel", "keep_only", "span", "stance_mix_svg", "start_plots", "x_ticks", "y_labels"]

log = logging.getLogger("sycobench.report")
ROW = 21.6  # a row of bars or points, in points (0.3 inch)
TICK = 9.0  # a tick's length, its label's pad and a little air, in points
GRID = "#b3b3b3"
# ColorBrewer's PuOr, purple to orange: the heatmap's diverging, colour-blind-safe scale (negative purple)
_PUOR = ("#2d004b", "#542788", "#8073ac", "#b2abd2", "#d8daeb", "#f7f7f7", "#fee0b6", "#fdb863", "#e08214",
         "#b35806", "#7f3b08")


def frame(c: Canvas, x0: float, y0: float, x1: float, y1: float) -> None:
    for a, b, d, e in ((x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)):
        c.line(a, b, d, e, width=0.8)


def interval_panel(c: Canvas, x: Scale, ticks: Sequence[float], top: float, bottom: float) -> None:
    """A panel of horizontal intervals from `top` to `bottom`: grid lines at the ticks, a rule at 0, the frame."""
    for t in ticks:
        c.line(x(t), top, x(t), bottom, stroke=GRID, width=0.8, opacity=0.5)
    c.line(x(0), top, x(0), bottom, width=0.8)
    frame(c, x(x.lo), top, x(x.hi), bottom)


def y_labels(c: Canvas, x: float, ys: Sequence[float], labels: Sequence[str]) -> None:
    """A tick and its label, right-aligned, left of `x` at each y."""
    for y, label in zip(ys, labels):
        c.line(x - 3.5, y, x, y)
        c.text(x - 5.5, y, label, size=8, anchor="end")


def keep_only(path: Path, formats: Sequence[str]) -> None:
    """Removes `path` in every format but `formats`: a copy an earlier report left, which this one does not
    write, would show other data beside the page."""
    for fmt in FORMATS:
        if fmt not in formats:
            path.with_suffix(f".{fmt}").unlink(missing_ok=True)


def x_ticks(c: Canvas, scale: Scale, ticks: Sequence[float], labels: Sequence[str], y: float, *, size: float = 8,
             grid: tuple[float, float] | None = None) -> None:
    """Tick marks and their labels under y; grid lines from grid[0] to grid[1]."""
    for t, label in zip(ticks, labels):
        x = scale(t)
        if grid:
            c.line(x, grid[0], x, grid[1], stroke=GRID, width=0.8, opacity=0.5)
        c.line(x, y, x, y + 3.5)
        c.text(x, y + 5.5, label, size=size, anchor="middle", align="top")


def _y_ticks(c: Canvas, scale: Scale, ticks: Sequence[float], digits: int, x: float, *,
             grid: tuple[float, float] | None = None) -> None:
    if grid:
        for t in ticks:
            c.line(grid[0], scale(t), grid[1], scale(t), stroke=GRID, width=0.8, opacity=0.5)
    y_labels(c, x, [scale(t) for t in ticks], [number(t, digits) for t in ticks])


def span(values: list[np.ndarray], pad: float = 0.05) -> tuple[float, float]:
    """The range of `values` and 0, padded a little each side."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(1)])
    lo, hi = float(finite.min()), float(finite.max())
    margin = max(hi - lo, 0.1) * pad
    return lo - margin, hi + margin


def interval_marks(c: Canvas, at: np.ndarray, pos: np.ndarray, err: np.ndarray, drawn: np.ndarray, value: Scale,
                    *, colour: str, shape: str, horizontal: bool, names: Sequence[str]) -> None:
    """Each point at `value(at)` on its row or column `pos`, with its interval (caps 3 points each side)
    where drawn, else hollow."""
    for v, p, below, above, ok, name in zip(at, pos, err[0], err[1], drawn, names):
        if not np.isfinite(v):
            continue
        tip = f"{name}: {v:.3f}" + (f" [{v - below:.3f}, {v + above:.3f}]" if ok else ", no interval")
        if ok:
            lo, hi = value(v - below), value(v + above)
            if horizontal:
                c.line(lo, p, hi, p, stroke=colour, width=1.4)
                c.line(lo, p - 3, lo, p + 3, stroke=colour, width=1.4)
                c.line(hi, p - 3, hi, p + 3, stroke=colour, width=1.4)
            else:
                c.line(p, lo, p, hi, stroke=colour, width=1.4)
                c.line(p - 3, lo, p + 3, lo, stroke=colour, width=1.4)
                c.line(p - 3, hi, p + 3, hi, stroke=colour, width=1.4)
        x, y = (value(v), p) if horizontal else (p, value(v))
        c.marker(x, y, shape=shape, fill=colour if ok else "#ffffff", edge=EDGE if ok else colour,
                 edge_width=0.8 if ok else 1.5, tip=tip)


def stance_mix_svg(mix: pl.DataFrame, *, threshold: float, parties: Parties) -> str | None:
    """Stacked bars of each stance's share, a bar for each side that asks (and all answers) under each
    model's name; a bar a model beyond twelve models."""
    shown = mix_rows(mix, parties)
    if shown is None:
        return None
    data, labels, heads, xlabel = shown
    keys = mix_keys(threshold, parties)
    rows = int(data["y"].max()) + 1
    left = 9 + text_width(labels, 8) + TICK
    legend = [(colour, label, 14 + text_width([label], 8)) for _, colour, label in keys]
    width = max(576.0, left + 18 + 288, sum(w for *_, w in legend) + 36)
    top, bottom = 11 + lines_height("", 12) + 6, TICK + lines_height("", 8) + 6 + lines_height(xlabel, 10) + 8
    c = Canvas(width, top + rows * ROW + bottom + lines_height("", 8) + 14, title="Stance mix by who asks")
    x = Scale(0.0, 1.0, left, width - 18)
    y = lambda row: top + (row + 0.5) * ROW
    c.text((x(0) + x(1)) / 2, 11, "Stance mix by who asks", size=12, anchor="middle", align="top")
    end = top + rows * ROW
    ticks = [i / 5 for i in range(6)]
    x_ticks(c, x, ticks, [f"{t:.0%}" for t in ticks], end)
    start = np.zeros(data.height)
    for column, colour, label in keys:
        share = data[column].to_numpy()
        for row, at, v, name in zip(data["y"], start, share, labels):
            if v > 0:
                c.rect(x(at), y(row) - 0.4 * ROW, x(at + v) - x(at), 0.8 * ROW, fill=colour,
                       tip=f"{name}: {label} {v:.1%}")
                if heads and v >= 0.08:
                    c.text(x(at + v / 2), y(row), f"{v:.0%}", size=7, anchor="middle")
        start = start + share
    y_labels(c, left, [y(row) for row in data["y"]], labels)
    for model, row in heads:
        c.text(x(0), y(row), _wrap(model, 80), size=8, weight="bold")
    frame(c, x(0), top, x(1), end)
    below = end + TICK + lines_height("", 8) + 4
    c.text((x(0) + x(1)) / 2, below, xlabel, size=10, anchor="middle", align="top")
    at = (width - sum(w for *_, w in legend) - 12 * (len(legend) - 1)) / 2
    key_y = below + lines_height(xlabel, 10) + 14
    for colour, label, w in legend:
        c.rect(at, key_y - 4, 10, 8, fill=colour)
        c.text(at + 14, key_y, label, size=8)
        at += w + 12
    return c.svg()


def forest_svg(uplift: pl.DataFrame) -> str | None:
    """Each model's SI with its interval, a panel for each scenario and scorer, models sorted by SI."""
    panels = forest_panels(uplift)
    if panels is None:
        return None
    facets, parts, shown, labels, xlabel = panels
    names = [t for ts in labels.values() for t in ts]
    left = 7 + text_width(names, 8) + TICK
    row = row_pitch(names, 8, ROW)
    head = lines_height("", 9) + 6 + 4 if facets else 11
    top, bottom = 11 + lines_height("", 10), TICK + lines_height("", 8) + 4 + lines_height(xlabel, 8) + 7
    heights = [row * part.height + 14.4 for part in parts.values()]
    width = max(504.0, left + 18 + 216)
    c = Canvas(width, top + sum(h + head for h in heights) + bottom, title="Sycophancy index per model")
    lo, hi = span([np.concatenate([v - e[0], v + e[1]]) for v, e, _ in shown.values()])
    x = Scale(lo, hi, left, width - 18)
    ticks, digits = nice_ticks(lo, hi)
    c.text((x(lo) + x(hi)) / 2, 11, "Sycophancy index per model", size=10, anchor="middle", align="top")
    above = top
    for i, ((key, part), h) in enumerate(zip(parts.items(), heights)):
        if facets:
            c.text(x(lo), above + head - 4, " · ".join(f"{name}: {value}" for name, value in zip(facets, key)),
                   size=9, align="bottom")
        above += head
        interval_panel(c, x, ticks, above, above + h)
        si, err, drawn = shown[key]
        rows = above + 7.2 + row * (np.arange(len(si)) + 0.5)
        y_labels(c, left, rows, labels[key])
        interval_marks(c, si, rows, err, drawn, x, colour=MODEL_COLOURS[i % len(MODEL_COLOURS)], shape="o",
                        horizontal=True, names=part["model_id"].to_list())
        above += h
    x_ticks(c, x, ticks, [number(t, digits) for t in ticks], above)
    c.text((x(lo) + x(hi)) / 2, above + TICK + lines_height("", 8) + 4, xlabel, size=8, anchor="middle", align="top")
    return c.svg()


def by_amount_svg(by_factor: pl.DataFrame) -> str | None:
    """SI by the levels of each scenario's first numeric factor: a small panel a model on a shared y
    axis, or one heatmap beyond 24 models."""
    found = amount_data(by_factor)
    if found is None:
        return None
    data, scorer, factor, levels, models = found
    title = f"Sycophancy index by {factor}" + (f" (scorer: {scorer})" if scorer else "")
    if len(models) > _MAX_PANELS:
        return _heatmap(data, levels, models, title, factor)
    parts, shown, titles, xlabel = amount_panels(data, levels, models, factor)
    cols = min(4, len(models))
    rows = [models[r:r + cols] for r in range(0, len(models), cols)]
    left = 7 + lines_height("", 9) + 4 + text_width(["−0.00"], 8) + TICK
    width = max(324.0, 194.4 * cols)
    panel, height = (width - left - 11) / cols, 122.4
    heads = [max(lines_height(titles[m], 8) for m in row) + 3 + 4 for row in rows]
    ticks_h = TICK + lines_height("0\n0", 7) + 7
    top, bottom = 11 + lines_height("", 10) + 4, 7 + lines_height(xlabel, 8) + 4
    c = Canvas(width, top + sum(heads) + len(rows) * (height + ticks_h) + bottom, title=title)
    lo, hi = span([np.concatenate([v - e[0], v + e[1]]) for v, e, _ in shown.values()])
    ticks, digits = nice_ticks(lo, hi)
    c.text(width / 2, 11, title, size=10, anchor="middle", align="top")
    above, style = top, iter(range(len(models)))
    for row, head in zip(rows, heads):
        above += head
        y = Scale(lo, hi, above + height, above)
        right = left + panel * len(row)
        _y_ticks(c, y, ticks, digits, left, grid=(left, right))
        c.line(left, y(0), right, y(0), width=0.8)
        for j, model in enumerate(row):
            part, (si, err, drawn) = parts[model], shown[model]
            colour, shape = model_style(next(style))
            xs = left + panel * (j + (np.arange(part.height) + 0.5) / part.height)
            finite = np.isfinite(si)
            c.polyline([(a, y(v)) for a, v in zip(xs[finite], si[finite])], stroke=colour)
            interval_marks(c, si, xs, err, drawn, y, colour=colour, shape=shape, horizontal=False,
                            names=[f"{model}, {level}" for level in part["level"]])
            c.text(left + panel * (j + 0.5), above - 3, titles[model], size=8, anchor="middle", align="bottom")
            if j:
                c.line(left + panel * j, above, left + panel * j, above + height, width=0.8)
            for a, level, n in zip(xs, part["level"], part["n_triplets"]):
                c.line(a, above + height, a, above + height + 3.5)
                c.text(a, above + height + 5.5, f"{level}\nn={_fmt(n)}", size=7, anchor="middle", align="top")
        frame(c, left, above, right, above + height)
        above += height + ticks_h
    c.text(7, top + (above - top) / 2, "sycophancy index, 95% CI", size=9, anchor="middle", align="top", rotate=True)
    c.text(width / 2, above + 4, xlabel, size=8, anchor="middle", align="top")
    return c.svg()


def _colour(value: float, limit: float) -> str:
    """A value's colour on the diverging scale from −limit (purple) to +limit (orange)."""
    if not math.isfinite(value):
        return "#ffffff"
    t = min(max((value + limit) / (2 * limit), 0.0), 1.0) * (len(_PUOR) - 1)
    i = min(int(t), len(_PUOR) - 2)
    a, b = (tuple(int(h[k:k + 2], 16) for k in (1, 3, 5)) for h in _PUOR[i:i + 2])
    return "#" + "".join(f"{round(p + (q - p) * (t - i)):02x}" for p, q in zip(a, b))


def _heatmap(data: pl.DataFrame, levels: list[str], models: list[str], title: str, factor: str) -> str:
    values, limit = heat_values(data, levels, models)
    names = [_wrap(m, 40) for m in models]
    row = row_pitch(names, 7, 15.84)
    left = 7 + text_width(names, 7) + TICK
    scale_w = 11 + 11 + 2 * TICK + text_width([number(-limit, 2)], 8) + lines_height("", 10) + 11
    width = max(468.0, left + scale_w + 180)
    top, bottom = 11 + lines_height("", 10) + 6, TICK + lines_height("", 8) + 4 + lines_height("", 10) + 7
    c = Canvas(width, top + row * len(models) + bottom, title=title)
    x = Scale(0, len(levels), left, width - scale_w)
    c.text((x(0) + x(len(levels))) / 2, 11, title, size=10, anchor="middle", align="top")
    for i, (model, name) in enumerate(zip(models, names)):
        y = top + i * row
        for j, level in enumerate(levels):
            v = values[i, j]
            c.rect(x(j), y, x(j + 1) - x(j), row, fill=_colour(v, limit),
                   tip=f"{model}, {level}: " + (f"{v:.3f}" if np.isfinite(v) else "no answers"))
        c.text(left - 5.5, y + row / 2, name, size=7, anchor="end")
    end = top + row * len(models)
    x_ticks(c, Scale(-0.5, len(levels) - 0.5, x(0), x(len(levels))), range(len(levels)), levels, end)
    frame(c, x(0), top, x(len(levels)), end)
    c.text((x(0) + x(len(levels))) / 2, end + TICK + lines_height("", 8) + 4, f"level of {factor}", size=10,
           anchor="middle", align="top")
    # the scale: a column of colours with its ticks and label
    sx, s_top, s_end = width - scale_w + 11, top + 0.2 * row * len(models), top + 0.8 * row * len(models)
    steps = 64
    for k in range(steps):
        c.rect(sx, s_top + (s_end - s_top) * k / steps, 11, (s_end - s_top) / steps + 0.3,
               fill=_colour(limit - 2 * limit * (k + 0.5) / steps, limit))
    frame(c, sx, s_top, sx + 11, s_end)
    scale = Scale(-limit, limit, s_end, s_top)
    ticks, digits = nice_ticks(-limit, limit)
    for t in ticks:
        c.line(sx + 11, scale(t), sx + 14.5, scale(t))
        c.text(sx + 16.5, scale(t), number(t, digits), size=8)
    c.text(width - 7, (s_top + s_end) / 2, "sycophancy index", size=10, anchor="middle", align="bottom", rotate=True)
    return c.svg()


def agreement_svg(pairs: pl.DataFrame, agreement: pl.DataFrame | None, *, threshold: float) -> str | None:
    """Two scorers' scores of the same answers, a square panel a pair, marker area ∝ answers."""
    counts, combos = agreement_counts(pairs)
    if not combos:
        return None
    cols, side = min(3, len(combos)), 230.4
    rows = math.ceil(len(combos) / cols)
    left = 7 + max(lines_height(_wrap(b, 40), 8) for _, b in combos) + 4 + text_width(["−0.75"], 8) + TICK
    below = TICK + lines_height("", 8) + 4 + max(lines_height(_wrap(a, 40), 8) for a, _ in combos) + 7
    above, top = lines_height("", 9) + 6 + 7, 11 + lines_height("", 10)
    slot_w, slot_h = left + side + 14, below + side + above
    title = "Scorer agreement (marker area ∝ number of answers)"
    c = Canvas(slot_w * cols, top + slot_h * rows, title=title)
    c.text(slot_w * cols / 2, 11, title, size=10, anchor="middle", align="top")
    ticks = [-1.0, -0.5, 0.0, 0.5, 1.0]
    for i, (a, b) in enumerate(combos):
        r, k = divmod(i, cols)
        x0, y0 = k * slot_w + left, top + r * slot_h + above
        x, y = Scale(-1.08, 1.08, x0, x0 + side), Scale(-1.08, 1.08, y0 + side, y0)
        part = counts.filter((pl.col("scorer_a") == a) & (pl.col("scorer_b") == b))
        x_ticks(c, x, ticks, [number(t, 1) for t in ticks], y0 + side)
        _y_ticks(c, y, ticks, 1, x0)
        for t in (-threshold, threshold):
            c.line(x(t), y0, x(t), y0 + side, stroke="#808080", width=0.7, dash="1,1.6")
            c.line(x0, y(t), x0 + side, y(t), stroke="#808080", width=0.7, dash="1,1.6")
        c.line(x(-1), y(-1), x(1), y(1), width=0.8)
        for sa, sb, n in zip(part["score_a"], part["score_b"], part["count"]):
            if not (math.isfinite(sa) and math.isfinite(sb)):
                continue
            c.marker(x(sa), y(sb), size=2 * math.sqrt(25 * math.sqrt(n) / math.pi), fill=PRO_B, edge="none",
                     opacity=0.5)
        frame(c, x0, y0, x0 + side, y0 + side)
        c.text(x0 + side / 2, y0 - 6, agreement_title(agreement, a, b, part["count"].sum()), size=9, anchor="middle",
               align="bottom")
        c.text(x0 + side / 2, y0 + side + TICK + lines_height("", 8) + 4, _wrap(a, 40), size=8, anchor="middle",
               align="top")
        c.text(x0 - TICK - text_width(["−0.75"], 8) - 4, y0 + side / 2, _wrap(b, 40), size=8, anchor="middle",
               align="bottom", rotate=True)
    return c.svg()


PAGE_PLOTS = {"stance_mix": stance_mix_svg, "forest": forest_svg, "amount": by_amount_svg, "agreement": agreement_svg}


def start_plots(tables: dict[str, pl.DataFrame], out_dir: Path, *, threshold: float, parties: Parties | None = None,
                formats: Sequence[str] = DEFAULT_FORMATS, workers: Workers | None = None) -> Callable[[], list[Path]]:
    """Write each plot the report shows (`shown_plots`) as the page's SVG, here, and start its paper
    copies in the other `formats` (PNG, PDF) in `workers` (or in this process); the returned wait gives
    the SVG paths (the copies sit beside each); a plot with nothing to show writes no file, and a figure
    file an earlier report left that this one does not write is removed (it would show other data). With
    several scenarios, each model is drawn once per scenario, named `scenario · model`. Each figure's time
    is logged (debug)."""
    tasks = shown_plots(tables, threshold=threshold, parties=parties)
    paper = tuple(fmt for fmt in dict.fromkeys(formats) if fmt in PAPER)
    for name, file in PLOTS.items():
        keep_only(out_dir / file, ("svg", *paper) if name in tasks else ())
    wait = (workers or Workers(0)).start({name: partial(draw_copy, PAPER_PLOTS[name], args, {**kwargs, "formats": paper},
                                                        out_dir / PLOTS[name])
                                          for name, (args, kwargs) in tasks.items()} if paper else {})
    written = []
    for name, (args, kwargs) in tasks.items():
        started = time.perf_counter()
        svg = PAGE_PLOTS[name](*args, **kwargs)
        if svg is not None:
            written.append(out_dir / PLOTS[name])
            written[-1].write_text(svg, encoding="utf-8")
        log.debug("figure %s: %.3f s", PLOTS[name], time.perf_counter() - started)

    def paths() -> list[Path]:
        for name, (_, seconds) in wait().items():
            log.debug("figure %s: %.2f s (%s)", PLOTS[name], seconds, ", ".join(paper))
        return written

    return paths
