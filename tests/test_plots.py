"""Plots: three formats, forest sorted by SI with a zero line, small multiples with distinct colour-blind-safe styles."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from matplotlib.colors import to_hex

from sycobench.report import plots
from sycobench.report.plots import MODEL_COLOURS, model_style
from sycobench.report.tables import build_tables
from tests.synthetic import synthetic_levels, synthetic_results

OKABE_ITO = {"#000000", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}
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

    def keep(fig, path: Path) -> Path:
        kept.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return kept


def test_palette_is_colour_blind_safe_and_distinct_for_twelve_models() -> None:
    assert {c.lower() for c in MODEL_COLOURS} == OKABE_ITO
    styles = [model_style(i) for i in range(24)]
    assert len(set(styles)) == 24
    assert len({colour for colour, _ in styles[:8]}) == 8


def test_forest_is_sorted_by_si_with_a_zero_line(tables, figures, tmp_path) -> None:
    uplift = tables["uplift"].sample(fraction=1.0, shuffle=True, seed=3)  # roster order must not matter
    plots._plot_forest(uplift, tmp_path / "forest.png")
    ax = figures[0].axes[0]
    labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    expected = tables["uplift"].sort("sycophancy_index", descending=True)["model_id"].to_list()
    assert labels == expected and expected[0] == MODELS[-1]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # first label on top
    assert any(line.get_xdata()[0] == 0 and line.get_xdata()[1] == 0 for line in ax.get_lines())


def test_by_amount_draws_one_panel_per_model(tables, figures, tmp_path) -> None:
    path = plots._plot_by_amount(tables["by_factor"], tmp_path / "amount.png")
    fig = figures[0]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == len(MODELS) and not fig.legends and not any(ax.get_legend() for ax in panels)
    assert [ax.get_title().split("\n")[0] for ax in panels] == MODELS
    styles = [(to_hex(ax.get_lines()[1].get_color()), ax.get_lines()[1].get_marker()) for ax in panels]
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
    assert [ax.get_title() for ax in axes] == ["scenario: rent", "scenario: payraise"]
    for ax, sign in zip(axes, (1, -1)):
        labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
        assert labels == uplift.sort(pl.col("sycophancy_index") * sign, descending=True)["model_id"].to_list()
