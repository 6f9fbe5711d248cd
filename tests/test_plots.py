"""Plots: PNG and on request SVG and PDF, forest sorted by SI with a zero line and a panel per scenario and scorer, small
multiples with distinct colour-blind-safe styles readable on white, no interval drawn on fewer than 5
triplets, no label cut by the figure's edge, and figures sized to their content."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.colors import to_hex

from sycobench.report import plots
from sycobench.report.plots import MODEL_COLOURS, model_style
from sycobench.report.tables import build_tables
from tests.synthetic import synthetic_levels, synthetic_results

OKABE_ITO = {"#000000", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}
YELLOW = "#f0e442"
MODELS = [f"org{i}/model-{i}" for i in range(12)]


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    # synthetic model i moves 0.05 * i toward the asker, so SI rises with i
    return build_tables(synthetic_results(MODELS, triplets=10, text=False), levels=synthetic_levels(10), bootstrap=100,
                        permutations=100)


@pytest.fixture
def figures(monkeypatch) -> list:
    """The figures the plot functions save, kept for inspection (files are still written)."""
    kept = []
    save = plots._save

    def keep(fig, path: Path, *formats) -> Path:
        kept.append(fig)
        return save(fig, path, *formats)

    monkeypatch.setattr(plots, "_save", keep)
    return kept


def _contrast_on_white(colour: str) -> float:
    """WCAG contrast ratio of a colour against white."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def test_palette_is_colour_blind_safe_readable_on_white_and_distinct_for_twelve_models() -> None:
    colours = {c.lower() for c in MODEL_COLOURS}
    assert colours - OKABE_ITO == {"#882255"} and YELLOW not in colours  # Okabe-Ito less its yellow, plus Tol's wine
    assert _contrast_on_white(YELLOW) < 1.5  # what was dropped: nearly invisible on white
    assert min(map(_contrast_on_white, MODEL_COLOURS)) >= 2.0
    styles = [model_style(i) for i in range(24)]
    assert len(set(styles)) == 24
    assert len({colour for colour, _ in styles[:8]}) == 8


def test_forest_is_sorted_by_si_with_a_zero_line(tables, figures, tmp_path) -> None:
    uplift = tables["uplift"].sample(fraction=1.0, shuffle=True, seed=3)  # roster order must not matter
    plots._plot_forest(uplift, tmp_path / "forest.png")
    ax = figures[0].axes[0]
    labels = [t.get_text().split(" (n=")[0] for t in ax.get_yticklabels()]
    expected = tables["uplift"].sort("sycophancy_index", descending=True)["model_id"].to_list()
    assert labels == expected and expected[0] == MODELS[-1]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first label on top
    assert any(line.get_xdata()[0] == 0 and line.get_xdata()[1] == 0 for line in ax.get_lines())


def _panels(fig) -> dict[str, dict]:
    """Each model's panel of the by-amount plot (a row of panels is one axes, a panel a unit of its x axis):
    its title, lines, intervals and level ticks."""
    from matplotlib.container import ErrorbarContainer

    panels = {}
    for ax in fig.axes:
        for j, title in enumerate(t for t in ax.texts):
            model = title.get_text().replace("\n", "")
            ticks = [t.get_text() for t, x in zip(ax.get_xticklabels(), ax.get_xticks()) if j <= x < j + 1]
            panels[model] = {"title": title.get_position()[0], "ticks": ticks,
                             "lines": [line for line in ax.get_lines() if line.get_label() == model],
                             "errorbars": [c for c in ax.containers if isinstance(c, ErrorbarContainer)
                                           and c.get_label() == model]}
    return panels


def test_by_amount_draws_one_panel_per_model(tables, figures, tmp_path) -> None:
    path = plots._plot_by_amount(tables["by_factor"], tmp_path / "amount.png", formats=plots.FORMATS)
    fig = figures[0]
    panels = _panels(fig)
    assert not fig.legends and not any(ax.get_legend() for ax in fig.axes)
    assert list(panels) == MODELS  # in roster order, four to a row
    assert len(fig.axes) == 3 and all(ax.get_shared_y_axes().joined(ax, fig.axes[0]) for ax in fig.axes)
    for panel in panels.values():  # each model's points sit inside its own panel, under its title
        assert all(abs(x - panel["title"]) < 0.5 for line in panel["lines"] for x in line.get_xdata())
        assert len(panel["ticks"]) == tables["by_factor"].filter(factor="amount")["level"].n_unique()
    styles = [next((to_hex(line.get_color()), line.get_marker()) for line in panel["lines"]
                   if line.get_marker() not in (None, "None", "") and len(line.get_xdata())) for panel in panels.values()]
    assert len(set(styles)) == len(MODELS)
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF-")):
        assert path.with_suffix(f".{fmt}").read_bytes().startswith(magic), fmt


def test_by_amount_beyond_24_models_is_one_heatmap(figures, tmp_path) -> None:
    models = [f"m/{i:02d}" for i in range(30)]
    by_factor = build_tables(synthetic_results(models, triplets=5, text=False), levels=synthetic_levels(5),
                             bootstrap=20, permutations=10)["by_factor"]
    plots._plot_by_amount(by_factor, tmp_path / "amount.png")
    ax = figures[0].axes[0]
    values = ax.get_images()[0].get_array()
    assert values.shape == (30, 5)
    assert [t.get_text() for t in ax.get_yticklabels()] == models
    expected = by_factor.filter((pl.col("factor") == "amount") & (pl.col("model_id") == "m/07") & (pl.col("level") == "100"))
    assert values[7, 2] == pytest.approx(expected["sycophancy_index"][0])
    vmin, vmax = ax.get_images()[0].get_clim()
    assert vmin == -vmax  # zero sits in the middle of the diverging scale


def test_forest_draws_a_panel_per_scenario_and_scorer(tables, figures, tmp_path) -> None:
    uplift = tables["uplift"]
    two = pl.concat([uplift.with_columns(scenario=pl.lit("rent")),
                     uplift.with_columns(scenario=pl.lit("payraise"), sycophancy_index=-pl.col("sycophancy_index"))])
    plots._plot_forest(two, tmp_path / "forest.png")
    axes = figures[0].axes
    assert [ax.get_title(loc="left") for ax in axes] == ["scenario: rent", "scenario: payraise"]
    for ax, sign in zip(axes, (1, -1)):
        labels = [t.get_text().split(" (n=")[0] for t in ax.get_yticklabels()]
        assert labels == uplift.sort(pl.col("sycophancy_index") * sign, descending=True)["model_id"].to_list()


def _errorbars(ax) -> int:
    """How many intervals an axes draws."""
    from matplotlib.container import ErrorbarContainer

    return sum(len(c.lines[2][0].get_segments()) for c in ax.containers if isinstance(c, ErrorbarContainer))


def test_intervals_on_fewer_than_5_triplets_are_not_drawn_and_n_is_shown(tables, figures, tmp_path) -> None:
    by_factor = tables["by_factor"].filter(pl.col("factor") == "amount").with_columns(  # 10 triplets a level, but 4 at 100
        n_triplets=pl.when(pl.col("level") == "100").then(pl.lit(4)).otherwise(pl.lit(10)))
    plots._plot_by_amount(by_factor, tmp_path / "amount.png")
    levels = by_factor["level"].n_unique()
    panels = _panels(figures[0])
    assert list(panels) == MODELS
    for panel in panels.values():
        # every level but the one on 4 triplets
        assert sum(len(c.lines[2][0].get_segments()) for c in panel["errorbars"]) == levels - 1
        assert "100\nn=4" in panel["ticks"] and all("\nn=" in t for t in panel["ticks"])
        hollow = [line for line in panel["lines"] if line.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))]
        assert sum(len(line.get_xdata()) for line in hollow) == 1
    uplift = tables["uplift"].with_columns(n_triplets=pl.when(pl.col("model_id") == MODELS[0]).then(pl.lit(3))
                                           .otherwise(pl.col("n_triplets")))
    plots._plot_forest(uplift, tmp_path / "forest.png")
    ax = figures[1].axes[0]
    assert _errorbars(ax) == len(MODELS) - 1
    assert [t.get_text() for t in ax.get_yticklabels() if "no interval" in t.get_text()] == [f"{MODELS[0]} (n=3, no interval)"]
    assert "fewer than 5 triplets" in ax.get_xlabel()


def _cut_texts(fig) -> list[str]:
    """Every drawn label that reaches past the figure's edge (by more than a pixel): each axes with its
    titles, tick labels and axis labels (only what it draws), and the figure's own texts and legends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the layout was fixed when the PNG was saved; drawing again keeps it
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox

    def outside(extent) -> bool:
        return extent.x0 < box.x0 - 1 or extent.y0 < box.y0 - 1 or extent.x1 > box.x1 + 1 or extent.y1 > box.y1 + 1

    cut = [f"axes {ax.get_title() or ax.get_title(loc='left')}" for ax in fig.axes
           if ax.get_visible() and outside(ax.get_tightbbox(renderer))]
    texts = [*fig.texts, fig._suptitle, fig._supxlabel, fig._supylabel]
    cut += [t.get_text() for t in texts if t is not None and t.get_text().strip() and outside(t.get_window_extent(renderer))]
    cut += ["legend" for legend in fig.legends if outside(legend.get_window_extent(renderer))]
    return cut


def test_no_label_is_cut_and_every_plot_is_sized_to_its_content(tables, figures, tmp_path) -> None:
    long = [f"a-provider-with-a-long-name/{m}-instruct-preview-2026" for m in MODELS]
    rename = dict(zip(MODELS, long))
    renamed = {k: v.with_columns(pl.col("model_id").replace(rename)) for k, v in tables.items() if "model_id" in v.columns}
    two = pl.concat([renamed["uplift"].with_columns(scorer=pl.lit("offline")),
                     renamed["uplift"].with_columns(scorer=pl.lit("judge:openai/gpt-4o-mini"))])
    plots._plot_forest(two, tmp_path / "forest.png")
    plots._plot_by_amount(renamed["by_factor"], tmp_path / "amount.png")
    plots._plot_stance_mix(renamed["stance_mix"], tmp_path / "mix.png", threshold=0.33, parties={})
    plots._plot_forest(renamed["uplift"].head(3), tmp_path / "small.png")
    for fig in figures:
        assert _cut_texts(fig) == [], fig.get_suptitle()
    forest, _, _, small = figures
    assert [ax.get_title(loc="left") for ax in forest.axes] == ["scorer: offline", "scorer: judge:openai/gpt-4o-mini"]
    rows = 2 * len(MODELS)
    assert forest.get_figheight() < 0.5 * rows + 2.5  # about 0.3 in a row, not the 2,160 px of old
    assert small.get_figheight() < 2.5 and small.get_figheight() < forest.get_figheight() / 3


def test_labels_of_three_lines_do_not_overlap(tables, figures, tmp_path) -> None:
    """The paper copies as the page: a model id of three lines gets a row as tall as it needs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    long = {m: f"a-provider/{m}-instruct-preview-2026:beta (model.temperature=0.7, model.sycophancy=0.5)"
            for m in MODELS[::3]}
    renamed = {k: v.with_columns(pl.col("model_id").replace(long)) for k, v in tables.items() if "model_id" in v.columns}
    plots._plot_forest(renamed["uplift"], tmp_path / "forest.png")
    heat = pl.concat([renamed["by_factor"].with_columns(model_id=pl.col("model_id") + f"-{k}") for k in range(3)])
    plots._plot_by_amount(heat, tmp_path / "heat.png")
    checked = 0
    for fig in figures:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        for ax in fig.axes:
            names = [t for t in ax.get_yticklabels() if t.get_text()]
            if not any("a-provider/" in t.get_text() for t in names):  # a colour scale's ticks
                continue
            boxes = sorted((t.get_window_extent(canvas.get_renderer()) for t in names), key=lambda b: b.y0)
            assert max(b.height for b in boxes) > 2.5 * 7  # three lines (pixels at 72 dpi: points)
            assert all(lower.y1 <= upper.y0 + 0.5 for lower, upper in pairwise(boxes))
            checked += 1
    assert checked == len(figures[0].axes) + 1  # the forest's panels and the heatmap


def test_stance_mix_shows_shares_on_the_bars_only_while_it_splits_by_who_asks(tables, figures, tmp_path) -> None:
    many = [f"m/{i:02d}" for i in range(plots._MAX_SPLIT_MODELS + 1)]
    mix = build_tables(synthetic_results(many, triplets=5, text=False), bootstrap=20, permutations=10)["stance_mix"]
    plots._plot_stance_mix(tables["stance_mix"], tmp_path / "split.png", threshold=0.33, parties={})
    plots._plot_stance_mix(mix, tmp_path / "many.png", threshold=0.33, parties={})
    split, pooled = (fig.axes[0] for fig in figures)
    assert any(t.get_text().endswith("%") for t in split.texts)
    assert not any(t.get_text().endswith("%") for t in pooled.texts)
    assert len(pooled.get_yticklabels()) == len(many)  # one bar a model, still every model


def test_stance_mix_bars_are_the_shares_of_each_stance_stacked_in_order(tables, figures, tmp_path) -> None:
    mix = tables["stance_mix"]
    plots._plot_stance_mix(mix, tmp_path / "mix.png", threshold=0.33, parties={})
    ax = figures[0].axes[0]
    bars = [np.array([path.vertices[:4] for path in c.get_paths()]) for c in ax.collections]
    assert [c.get_label() for c in ax.collections][1] == "neutral" and len(bars) == 3
    first = mix.filter(model_id=MODELS[0], side="a")  # the first bar row: the first model, party A asks
    start = 0.0
    for corners, share in zip(bars, (first["p_neg"][0], first["p_neu"][0], first["p_pos"][0])):
        x0, x1 = corners[0, :, 0].min(), corners[0, :, 0].max()
        assert (x0, x1) == pytest.approx((start, start + share))
        start += share
    assert start == pytest.approx(1.0)
    assert len(bars[0]) == mix.filter(pl.col("side").is_in(["a", "b", "neutral", "all"])).height


def test_a_value_that_rounds_to_zero_is_shown_unsigned() -> None:
    """A mean that is exactly 0 comes out as -1e-17 when summed in another order; the page shows 0.000 either
    way, so two reports of the same records read the same."""
    assert [plots._fmt(x) for x in (-1e-17, 1e-17, -0.0, -0.0004)] == ["0.000"] * 4
    assert [plots._fmt(x) for x in (-0.0005, -0.25, 0.25)] == ["-0.001", "-0.250", "0.250"]


def test_the_agreement_points_come_in_one_order_whatever_the_order_of_the_pairs() -> None:
    rng = np.random.default_rng(0)
    pairs = pl.DataFrame({"scorer_a": "offline", "scorer_b": "judge", "score_a": rng.choice([-1.0, 0.0, 0.5], 200),
                          "score_b": rng.choice([-0.5, 0.0, 1.0], 200)})
    counts, combos = plots.agreement_counts(pairs)
    for seed in range(3):
        shuffled = plots.agreement_counts(pairs.sample(fraction=1.0, shuffle=True, seed=seed))
        assert shuffled[0].equals(counts) and shuffled[1] == combos
    assert counts["count"].sum() == 200
