"""The page's SVG figures: the same rows and values as the paper copies, bars as wide as their shares,
the forest sorted by SI with hollow markers and no interval on fewer than 5 triplets, a panel a model
(one heatmap beyond 24), every text inside its figure, hostile names escaped; and the drawing helpers
against known answers."""

from __future__ import annotations

import math
import re
from itertools import pairwise
from xml.etree import ElementTree

import numpy as np
import polars as pl
import pytest

from sycobench.report import charts, plots
from sycobench.report.svg import Scale, marker_points, nice_ticks, number, text_width
from sycobench.report.tables import build_tables
from tests.synthetic import synthetic_levels, synthetic_results

NS = "{http://www.w3.org/2000/svg}"
MODELS = [f"org{i}/model-{i}" for i in range(12)]


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    # synthetic model i moves 0.05 * i toward the asker, so SI rises with i
    return build_tables(synthetic_results(MODELS, triplets=10, text=False, scorers=("offline", "judge")),
                        levels=synthetic_levels(10), bootstrap=100, permutations=100)


def _svg(text: str) -> ElementTree.Element:
    return ElementTree.fromstring(text)


def _texts(root: ElementTree.Element) -> list[tuple[ElementTree.Element, str]]:
    return [(t, "\n".join(s.text or "" for s in t.iter(f"{NS}tspan"))) for t in root.iter(f"{NS}text")]


def _tip(el: ElementTree.Element) -> str | None:
    tip = el.find(f"{NS}title")
    return tip.text if tip is not None else None


def test_the_page_and_the_paper_copy_show_the_same_rows(tables, tmp_path, monkeypatch) -> None:
    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, *a, **k: kept.append(fig) or path)
    plots._plot_stance_mix(tables["stance_mix"], tmp_path / "mix.png", threshold=0.33, parties={})
    plots._plot_forest(tables["uplift"], tmp_path / "forest.png")
    mix = _svg(charts.stance_mix_svg(tables["stance_mix"], threshold=0.33, parties={}))
    forest = _svg(charts.forest_svg(tables["uplift"]))
    for fig, root in zip(kept, (mix, forest)):
        ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
        rows = [text for el, text in _texts(root) if el.get("text-anchor") == "end" and el.get("font-size") == "8"]
        assert rows == ticks and len(rows) > len(MODELS)


def test_stance_mix_bars_are_as_wide_as_their_shares_stacked_in_order(tables) -> None:
    mix = tables["stance_mix"].filter(scorer="offline")
    root = _svg(charts.stance_mix_svg(tables["stance_mix"], threshold=0.33, parties={}))
    rows: dict[float, list] = {}
    for bar in (r for r in root.iter(f"{NS}rect") if _tip(r)):  # a bar a stance with answers
        rows.setdefault(float(bar.get("y")), []).append(bar)
    sides = {"a": "landlord asks", "neutral": "neutral", "b": "tenant asks", "all": "all answers"}
    expected = [(m, side) for m in MODELS for side in sides]  # top to bottom: each model, its rows in this order
    assert len(rows) == len(expected)
    for (model, side), y in zip(expected, sorted(rows)):
        bars = sorted(rows[y], key=lambda b: float(b.get("x")))
        shares = mix.filter(model_id=model, side=side).select("p_neg", "p_neu", "p_pos").row(0)
        stances = [name for name, s in zip(("pro-tenant", "neutral", "pro-landlord"), shares) if s > 0]
        assert [_tip(b).split(": ")[1].split(" ")[0] for b in bars] == stances  # stacked in this order
        assert all(_tip(b).startswith(sides[side] + " (n=") for b in bars)
        widths = [float(b.get("width")) for b in bars]
        for before, after in pairwise(bars):  # each starts where the last ends
            assert float(after.get("x")) == pytest.approx(float(before.get("x")) + float(before.get("width")), abs=0.15)
        assert [w / sum(widths) for w in widths] == pytest.approx([s for s in shares if s > 0], abs=0.002)
    assert root.get("aria-label") == "Stance mix by who asks"


def test_forest_is_sorted_by_si_and_a_model_on_few_triplets_is_hollow_without_interval(tables) -> None:
    uplift = tables["uplift"].filter(scorer="offline").with_columns(
        n_triplets=pl.when(pl.col("model_id") == MODELS[0]).then(3).otherwise(pl.col("n_triplets")))
    root = _svg(charts.forest_svg(uplift))
    points = [(c, _tip(c)) for c in root.iter(f"{NS}circle")]
    assert [tip.split(":")[0] for _, tip in points] == uplift.sort("sycophancy_index", descending=True)["model_id"].to_list()
    assert [float(c.get("cy")) for c, _ in points] == sorted(float(c.get("cy")) for c, _ in points)
    hollow = [tip for c, tip in points if c.get("fill") == "#ffffff"]
    assert hollow == [f"{MODELS[0]}: {uplift.filter(model_id=MODELS[0])['sycophancy_index'][0]:.3f}, no interval"]
    labels = [text for _, text in _texts(root)]
    assert f"{MODELS[0]} (n=3, no interval)" in labels and any("fewer than 5 triplets" in t for t in labels)
    # the interval's whiskers: an error bar and two caps a model but the hollow one
    caps = [ln for ln in root.iter(f"{NS}line") if ln.get("stroke-width") == "1.4"]
    assert len(caps) == 3 * (len(MODELS) - 1)


def test_forest_draws_a_panel_per_scorer_on_one_scale(tables) -> None:
    root = _svg(charts.forest_svg(tables["uplift"]))
    labels = [text for _, text in _texts(root)]
    assert "scorer: judge" in labels and "scorer: offline" in labels
    assert len(list(root.iter(f"{NS}circle"))) == 2 * len(MODELS)


def test_by_amount_with_no_factor_of_two_levels_is_no_figure(tables) -> None:
    # a job of one triplet: each factor has one level, so there is nothing to draw (it used to raise)
    one = tables["by_factor"].group_by("factor", maintain_order=True).agg(pl.col("level").first())
    single = tables["by_factor"].join(one, on=["factor", "level"], how="semi")
    assert single.height and charts.by_amount_svg(single) is None
    assert plots.amount_data(single) is None


def test_by_amount_draws_a_panel_a_model_and_one_heatmap_beyond_24(tables) -> None:
    by_factor = tables["by_factor"]
    levels = by_factor.filter(factor="amount")["level"].n_unique()
    root = _svg(charts.by_amount_svg(by_factor))
    texts = [text for _, text in _texts(root)]
    assert [t for t in texts if t in MODELS] == MODELS  # each panel's title
    assert sum(bool(re.fullmatch(r"\d+\nn=\d+", t)) for t in texts) == levels * len(MODELS)
    assert len(list(root.iter(f"{NS}polyline"))) == len(MODELS)

    many = pl.concat([by_factor.with_columns(model_id=pl.col("model_id") + f"-{k}") for k in range(3)])
    heat = _svg(charts.by_amount_svg(many))
    cells = [r for r in heat.iter(f"{NS}rect") if _tip(r)]
    assert len(cells) == 3 * len(MODELS) * levels and not list(heat.iter(f"{NS}polyline"))
    for cell in cells:
        value = float(_tip(cell).rsplit(": ", 1)[1])
        r, b = int(cell.get("fill")[1:3], 16), int(cell.get("fill")[5:7], 16)
        assert (r > b) == (value > 0.02) or abs(value) <= 0.02  # orange above 0, purple below


def test_agreement_draws_a_marker_a_pair_of_scores_sized_by_its_answers() -> None:
    a = [0.5, 0.5, 0.5, 0.5, -1.0, 0.0]
    b = [0.5, 0.5, 0.5, 0.5, -0.5, 0.25]
    pairs = pl.DataFrame({"scorer_a": "offline", "scorer_b": "judge", "score_a": a, "score_b": b})
    agreement = pl.DataFrame({"scorer_a": ["offline"], "scorer_b": ["judge"], "n": [6], "spearman": [0.9],
                              "krippendorff_alpha": [0.8]})
    root = _svg(charts.agreement_svg(pairs, agreement, threshold=0.33))
    markers = sorted(float(c.get("r")) for c in root.iter(f"{NS}circle"))
    assert len(markers) == 3  # three distinct pairs of scores
    assert markers[2] ** 2 / markers[0] ** 2 == pytest.approx(2.0, rel=0.05)  # area ∝ √4 answers against √1
    assert "n=6, Spearman 0.900, α 0.800" in [text for _, text in _texts(root)]


def test_every_text_stays_inside_its_figure_even_with_long_names(tables) -> None:
    long = {m: f"a-provider-with-a-long-name/{m}-instruct-preview-2026" for m in MODELS}
    renamed = {k: v.with_columns(pl.col("model_id").replace(long)) for k, v in tables.items() if "model_id" in v.columns}
    for svg in (charts.stance_mix_svg(renamed["stance_mix"], threshold=0.33, parties={}),
                charts.forest_svg(renamed["uplift"]), charts.by_amount_svg(renamed["by_factor"])):
        root = _svg(svg)
        _, _, width, height = (float(v) for v in root.get("viewBox").split())
        for el, text in _texts(root):
            size = float(el.get("font-size"))
            w = text_width([text], size, weight=el.get("font-weight") or "normal")
            spans = list(el.iter(f"{NS}tspan"))
            x, y = float(spans[0].get("x")), float(spans[0].get("y"))
            if el.get("transform"):  # read upward: its width runs up the page
                assert 0 <= y - w / 2 and y + w / 2 <= height, text
                continue
            left = {"start": x, "middle": x - w / 2, "end": x - w}[el.get("text-anchor")]
            assert 0 <= left and left + w <= width + 0.5, text
            assert 0 <= y - 0.8 * size and float(spans[-1].get("y")) <= height, text


def _label_blocks(root: ElementTree.Element, size: str) -> list[tuple[float, float]]:
    """Each right-aligned label's lines at `size`, top to bottom (first line's top, last line's foot)."""
    blocks = []
    for el, _ in _texts(root):
        if el.get("text-anchor") == "end" and el.get("font-size") == size:
            ys = [float(s.get("y")) for s in el.iter(f"{NS}tspan")]
            blocks.append((ys[0] - 0.76 * float(size), ys[-1] + 0.24 * float(size)))
    return sorted(blocks)


def test_labels_of_three_lines_fit_their_rows(tables) -> None:
    """A model id that wraps to three lines (a long id with a sweep's overrides) overlapped its neighbours'
    labels; each row is now as tall as the tallest label needs, one-line rows are as before."""
    long = {m: f"a-provider/{m}-instruct-preview-2026:beta (model.temperature=0.7, model.sycophancy=0.5)"
            for m in MODELS[::3]}
    renamed = {k: v.with_columns(pl.col("model_id").replace(long)) for k, v in tables.items() if "model_id" in v.columns}
    heat = pl.concat([renamed["by_factor"].with_columns(model_id=pl.col("model_id") + f"-{k}") for k in range(3)])
    for svg, size in ((charts.forest_svg(renamed["uplift"]), "8"), (charts.by_amount_svg(heat), "7")):
        blocks = _label_blocks(_svg(svg), size)
        assert len(blocks) >= len(MODELS) and max(b - a for a, b in blocks) > 2.5 * float(size)  # three lines or more
        assert all(below[0] >= above[1] for above, below in pairwise(blocks)), blocks
    plain = _label_blocks(_svg(charts.forest_svg(tables["uplift"])), "8")
    assert {round(b[0] - a[0], 3) for a, b in pairwise(plain[: len(MODELS)])} == {charts.ROW}


def test_hostile_names_are_text_not_markup(tables) -> None:
    evil = "evil/<script>alert(1)</script> & co\x01"
    uplift = tables["uplift"].with_columns(pl.col("model_id").replace({MODELS[0]: evil}))
    svg = charts.forest_svg(uplift)
    root = _svg(svg)  # well-formed XML
    assert "<script>" not in svg and not list(root.iter(f"{NS}script"))
    assert any(" ".join(text.split()).startswith(evil.replace("\x01", "\ufffd")) for _, text in _texts(root))


@pytest.mark.parametrize(("lo", "hi", "ticks", "digits"), [
    (0.0, 1.0, [0.0, 0.25, 0.5, 0.75, 1.0], 2),
    (-0.13, 0.52, [0.0, 0.2, 0.4], 1),
    (-1.08, 1.08, [-1.0, -0.5, 0.0, 0.5, 1.0], 1),
    (0.0, 40.0, [0.0, 10.0, 20.0, 30.0, 40.0], 0),
])
def test_nice_ticks(lo, hi, ticks, digits) -> None:
    assert nice_ticks(lo, hi) == (ticks, digits)


def test_nice_ticks_lie_within_any_range_and_their_labels_are_exact() -> None:
    rng = np.random.default_rng(0)
    for lo, width in zip(rng.normal(0, 3, 500), rng.lognormal(0, 3, 500)):
        ticks, digits = nice_ticks(lo, lo + width)
        assert len(ticks) >= 2 and all(lo - 1e-9 <= t <= lo + width + 1e-9 for t in ticks), (lo, width)
        steps = np.diff(ticks)
        assert np.allclose(steps, steps[0]) and all(
            float(number(t, digits).replace("−", "-")) == pytest.approx(t, abs=1e-9 * max(1.0, abs(t))) for t in ticks)


def test_each_model_marker_is_its_own_shape() -> None:
    drawn = {shape: marker_points(shape, 0, 0, 6) for shape in plots.MODEL_MARKERS}
    assert drawn.pop("o") is None  # a circle
    outlines = {tuple((round(x, 3), round(y, 3)) for x, y in corners) for corners in drawn.values()}
    assert len(outlines) == len(drawn) == len(plots.MODEL_MARKERS) - 1
    assert all(max(math.hypot(x, y) for x, y in corners) <= 3 * 1.2 + 1e-9 for corners in drawn.values())
    assert nice_ticks(float("nan"), 1.0) == ([], 2) and nice_ticks(0.5, 0.5) == ([0.5], 2)


def test_numbers_scales_colours_and_widths_against_known_answers() -> None:
    assert number(-0.5, 1) == "−0.5" and number(-0.0001, 2) == "0.00" and number(0.25, 2) == "0.25"
    assert Scale(-1, 1, 100, 300)(0) == 200 and Scale(0, 1, 50, 10)(1) == 10  # a y scale runs upward
    assert charts._colour(-1, 1) == "#2d004b" and charts._colour(0, 1) == "#f7f7f7" and charts._colour(1, 1) == "#7f3b08"
    assert charts._colour(float("nan"), 1) == "#ffffff" and charts._colour(5, 1) == "#7f3b08"
    from sycobench.report.layout import (
        text_width as matplotlib_width,  # the same font, measured by matplotlib
    )

    for text in ("landlord asks (n=60)", "bench/model-00 (unvalidated)", "sycophancy index"):
        assert text_width([text], 8) / 72 == pytest.approx(matplotlib_width([text], 8), rel=0.02)
