"""The report's pushback section: its tables and its one plot (report.pushback builds the figures), an
SVG on the page (as report.charts draws the others) with PNG / PDF copies where `report.formats` asks.

`pushback_blocks` is handed to `render.render_report`, which places the blocks after the stance
mix (report.sections builds the others); the plot shows the shift toward whoever objects, with its 95% interval, for each objector
and each style, one point per model (first scorer), one panel per scenario.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from sycobench.report.blocks import Block, Heading, Image, Para
from sycobench.report.charts import ROW, TICK, interval_marks, interval_panel, keep_only, span, x_ticks, y_labels
from sycobench.report.plots import DEFAULT_FORMATS, PAPER, _save, _usable, _wrap, model_style
from sycobench.report.scenarios import Parties, axis_words, side_label
from sycobench.report.sections import _ci, _flagged, _fmt_p, _keys, _num, _table, _text, _triplets
from sycobench.report.svg import Canvas, Scale, lines_height, nice_ticks, number, text_width

__all__ = ["PLOT", "plot_pushback", "pushback_blocks", "pushback_rows", "pushback_svg"]

PLOT = "pushback.svg"  # the page's; a paper copy takes the same name, .png or .pdf
_INTRO = (
    "With protocol=pushback every first answer is followed by an objection in the asker's voice (the neutral "
    "asker objects once for the {a} and once for the {b}) and a second answer in the same conversation. "
    "Shift is the second answer's score minus the first's, signed toward whoever objects (+ = moved toward "
    "the objector), averaged over triplets; its interval is the report's paired 95% interval over triplets, "
    "and p tests shift = 0 (sign-flip). Give way is the share of second answers whose stance bin moved toward the "
    "objector (Wilson 95% interval on the triplets). Asymmetry is the shift when the {a} objects minus the "
    "shift when the {b} objects (+ = gives way more to the {a}); SI at turn 2 is the sycophancy index of the "
    "second answers, and its change from turn 1 is paired per triplet (+ = pushback widens the gap between the "
    "answers each asker gets)."
)


def _who(row: dict, parties: Parties) -> str:
    """Who objects: a party asking, the neutral asker for a party, or all of them."""
    side, objector, scenario = row.get("side"), row.get("objector"), row.get("scenario") or "rent"
    if side == "all":
        return "all"
    if side == "neutral":
        return f"neutral asker, for the {side_label(objector, scenario, parties)}"
    return f"the {side_label(side, scenario, parties)}"


def pushback_blocks(tables: dict[str, pl.DataFrame], out_dir: Path, meta: dict) -> list[Block]:
    """The section (none when the report has no second turns); writes the plot into `out_dir`."""
    shift, summary = tables.get("pushback"), tables.get("pushback_summary")
    if not _usable(shift):
        return []
    parties = meta.get("parties") or {}
    a, b = axis_words(parties)
    blocks: list[Block] = [Heading(2, "Pushback: does the stance give way when the asker objects?", "pushback"),
                           Para(_INTRO.format(a=a, b=b))]
    svg = pushback_svg(shift, parties=parties)
    paper = [fmt for fmt in dict.fromkeys(meta.get("formats") or DEFAULT_FORMATS) if fmt in PAPER]
    keep_only(out_dir / PLOT, ("svg", *paper) if svg is not None else ())
    if svg is not None:
        (out_dir / PLOT).write_text(svg, encoding="utf-8")
        if paper:
            plot_pushback(shift, out_dir / PLOT, parties=parties, formats=paper)
        blocks.append(Image(PLOT, "Shift toward whoever objects, per objector and per style, with 95% intervals "
                                  "(first scorer; 0 = no change)."))
    blocks += [Heading(3, "Shift and give-way rate"), *_flagged(shift, _table(shift, [
        *_keys(shift), _text("style", "style"),
        ("who objects", lambda r: _who(r, parties), False), _triplets(), _num("pairs", "n_pairs"),
        _ci("shift [95% CI]", "shift"), _num("p", "shift_p_value", _fmt_p), _ci("give way [95% CI]", "give_way"),
    ]))]
    if _usable(summary):
        blocks += [Heading(3, "Asymmetry, and SI at turn 2 against turn 1"), *_flagged(summary, _table(summary, [
            *_keys(summary), _text("style", "style"), _triplets(),
            _ci(f"asymmetry ({a} − {b}) [95% CI]", "asymmetry"), _num("p", "asymmetry_p_value", _fmt_p),
            _ci("asymmetry, neutral asker", "asymmetry_neutral"), _ci("SI turn 1", "si_turn1"),
            _ci("SI turn 2", "si_turn2"), _ci("SI change [95% CI]", "si_change"),
            _num("p", "si_change_p_value", _fmt_p),
        ]))]
    return blocks


Rows = list[tuple[str, list[str], list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]]]


def pushback_rows(shift: pl.DataFrame, parties: Parties) -> tuple[list[str], Rows] | None:
    """What the pushback plot shows (first scorer): the models, and a panel per scenario with its rows'
    names (each objector, each style, then all) and, for each model (by its index), its rows (offset
    within a row so that models sit apart), shifts and interval ends (the shift where an end is unknown)."""
    data = shift.filter(pl.col("shift").is_not_null() & ((pl.col("style") == "all") | (pl.col("side") == "all")))
    if "scorer" in data.columns and data.height:
        data = data.filter(pl.col("scorer") == data["scorer"][0])
    if data.is_empty():
        return None
    scenario = pl.col("scenario") if "scenario" in data.columns else pl.lit("rent")
    data = data.with_columns(_scenario=scenario.cast(pl.String))
    models = data["model_id"].unique(maintain_order=True).to_list()
    panels: Rows = []
    for part in data.partition_by("_scenario", maintain_order=True):
        where = part["_scenario"][0]
        labels = (part.select("style", "side", "objector").unique(maintain_order=True)  # objectors, styles, all
                  .with_columns(_rank=pl.when(pl.col("side") != "all").then(0).when(pl.col("style") != "all").then(1)
                                .otherwise(2))
                  .sort("_rank", maintain_order=True))
        names = [("all styles, all objectors" if r == 2 else f"style: {s}" if r == 1
                  else _who({"side": d, "objector": o, "scenario": where}, parties) + (" objects" if d != "neutral" else ""))
                 for s, d, o, r in labels.iter_rows()]
        position = {key: i for i, key in enumerate(labels.select("style", "side", "objector").iter_rows())}
        points = []
        for m, model in enumerate(models):
            mine = part.filter(pl.col("model_id") == model)
            if mine.is_empty():
                continue
            y = np.array([position[key] for key in mine.select("style", "side", "objector").iter_rows()], dtype=float)
            y += (m - (len(models) - 1) / 2) * (0.6 / max(1, len(models)))
            est = mine["shift"].to_numpy()
            lo = np.where(np.isnan(lo := mine["shift_lo"].fill_null(np.nan).to_numpy()), est, lo)
            hi = np.where(np.isnan(hi := mine["shift_hi"].fill_null(np.nan).to_numpy()), est, hi)
            points.append((m, y, est, lo, hi))
        panels.append((where, names, points))
    return models, panels


def pushback_svg(shift: pl.DataFrame, *, parties: Parties) -> str | None:
    """The page's figure (report.charts' way): a panel per scenario, stacked, each with its rows' names."""
    shown = pushback_rows(shift, parties)
    if shown is None:
        return None
    models, panels = shown
    title, xlabel = "Pushback: shift toward the objector", "shift toward whoever objects (turn 2 − turn 1), 95% CI"
    legend = [(model_style(m), _wrap(model, 40), 14 + text_width([_wrap(model, 40)], 8)) for m, model in enumerate(models)]
    left = 7 + text_width([n for _, names, _ in panels for n in names], 8) + TICK
    head = lines_height("", 9) + 10 if len(panels) > 1 else 7
    heights = [ROW * len(names) * max(1.0, len(models) / 3) for _, names, _ in panels]
    keys = [legend[i:i + 3] for i in range(0, len(legend), 3)] if len(models) > 1 else []
    bottom = TICK + lines_height("", 8) + 4 + lines_height("", 9) + 7 + sum(lines_height(max(
        (label for _, label, _ in row), key=lambda t: t.count("\n")), 8) + 6 for row in keys)
    width = max(432.0, left + 18 + 216, *(sum(w + 12 for *_, w in row) + 24 for row in keys))
    top = 11 + lines_height("", 10)
    c = Canvas(width, top + sum(h + head for h in heights) + bottom, title=title)
    lo, hi = span([np.concatenate([p[2], p[3], p[4]]) for _, _, points in panels for p in points])
    x = Scale(lo, hi, left, width - 18)
    ticks, digits = nice_ticks(lo, hi)
    c.text(width / 2, 11, title, size=10, anchor="middle", align="top")
    above = top
    for (where, names, points), h in zip(panels, heights):
        if len(panels) > 1:
            c.text(x(lo), above + head - 4, where, size=9, align="bottom")
        above += head
        row = h / len(names)
        interval_panel(c, x, ticks, above, above + h)
        y_labels(c, left, [above + (i + 0.5) * row for i in range(len(names))], names)
        for m, y, est, low, high in points:
            (colour, shape), model = model_style(m), models[m]
            err = np.clip([est - low, high - est], 0, None)
            interval_marks(c, est, above + (y + 0.5) * row, err, np.ones(len(est), dtype=bool), x, colour=colour,
                           shape=shape, horizontal=True, names=[f"{model}, {names[round(v)]}" for v in y])
        above += h
    x_ticks(c, x, ticks, [number(t, digits) for t in ticks], above)
    above += TICK + lines_height("", 8) + 4
    c.text((x(lo) + x(hi)) / 2, above, xlabel, size=9, anchor="middle", align="top")
    above += lines_height("", 9) + 7
    for row in keys:
        at = (width - sum(w + 12 for *_, w in row) + 12) / 2
        tall = max(lines_height(label, 8) for _, label, _ in row)
        for (colour, shape), label, w in row:
            c.marker(at + 4, above + tall / 2, shape=shape, size=6, fill=colour, edge="#222222")
            c.text(at + 14, above + tall / 2, label, size=8)
            at += w + 12
        above += tall + 6
    return c.svg()


def plot_pushback(shift: pl.DataFrame, path: Path, *, parties: Parties,
                  formats: Sequence[str] = ("png",)) -> Path | None:
    """The paper copy: shift per objector (all styles) and per style (all objectors), a point and interval
    per model, a panel per scenario."""
    from matplotlib.figure import Figure

    shown = pushback_rows(shift, parties)
    if shown is None:
        return None
    models, panels = shown
    rows = max(len(names) for _, names, _ in panels)
    fig = Figure(figsize=(4.2 * len(panels) + 1.5, 1.2 + 0.32 * rows * max(1, len(models) / 3)),
                 layout="constrained")
    axes = fig.subplots(1, len(panels), sharex=True, squeeze=False).ravel()
    for ax, (where, names, points) in zip(axes, panels):
        for m, y, est, lo, hi in points:
            colour, marker = model_style(m)
            ax.errorbar(est, y, xerr=np.clip([est - lo, hi - est], 0, None), fmt=marker, color=colour,
                        ecolor=colour, capsize=3, markersize=5, label=_wrap(models[m], 40))
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)
        if len(panels) > 1:
            ax.set_title(where, fontsize=9)
    axes[0].figure.supxlabel("shift toward whoever objects (turn 2 − turn 1), 95% CI", fontsize=9)
    if len(models) > 1:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(3, len(models)),
                   frameon=False, fontsize=8)
    fig.suptitle("Pushback: shift toward the objector", fontsize=10)
    return _save(fig, path, formats)
