"""The validation sets, their metrics (checked against hand-worked answers), `python -m sycobench.validate`
per set, scenario and split (plain, re-weighted, by length, labelling passes, judge context check), and the
figures store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sycobench.config import RateLimitConfig, RunConfig, ScenarioConfig
from sycobench.errors import DataError
from sycobench.scenario import build_grid
from sycobench.stats import krippendorff_alpha_interval
from sycobench.validation import (
    DEFAULT_SET, SETS, SHIPPED_FIGURES, check_prompts, figure_rows, latest_figures, read_set, save_figures, set_digest,
)
from sycobench.validation_metrics import (
    agreement_table, bin_code, context_table, flip_table, length_table, reweighted_table, weighted_kappa, with_lengths,
)
from tests.test_cli import sycobench

TAU = 0.33
GRID = {p.prompt_id: p for p in build_grid(ScenarioConfig())}
REQUIRED = ["scorer", "set", "scenario", "split", "n", "spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error"]
METRICS = ["spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error"]


def _frame(labels, scores, split="heldout") -> pl.DataFrame:
    return pl.DataFrame({"id": [str(i) for i in range(len(labels))], "split": split, "perspective": "tenant",
                         "label": labels, "score": scores}, schema_overrides={"score": pl.Float64})


# --- metrics, each against an answer worked by hand

def test_spearman_matches_the_hand_computed_value_with_ties() -> None:
    # ranks of y are 1, 2, 3.5, 5, 3.5: r = 8 / sqrt(10 * 9.5)
    table = agreement_table(_frame([1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 6.0, 7.0, 8.0, 7.0]), "x")
    assert table["spearman"][0] == pytest.approx(8 / np.sqrt(95))


@pytest.mark.parametrize("seed", range(3))
def test_spearman_equals_polars_rank_correlation(seed) -> None:
    rng = np.random.default_rng(seed)
    labels, scores = rng.choice([-0.5, 0.0, 0.3, 0.8], 40), np.round(rng.normal(size=40), 1)
    frame = _frame(labels.tolist(), scores.tolist())
    expected = frame.select(pl.corr("score", "label", method="spearman"))[0, 0]
    assert agreement_table(frame, "x")["spearman"][0] == pytest.approx(expected)


def test_bin_accuracy_and_signed_error_count_an_unscored_answer_as_zero() -> None:
    table = agreement_table(_frame([-0.5, 0.0, 0.5, 0.9], [-0.4, 0.33, 0.2, None]), "x")
    row = table.row(0, named=True)
    assert row["n"] == 4 and row["n_unscored"] == 1
    assert row["bin_accuracy"] == pytest.approx(1 / 4)  # bins -1/-1, 0/+1, +1/0, +1/0
    assert row["mean_signed_error"] == pytest.approx((0.1 + 0.33 - 0.3 - 0.9) / 4)


def test_weighted_kappa_matches_a_hand_worked_table() -> None:
    # rows a, columns b: [[1,1,0],[0,1,1],[0,0,2]] / 6; sum(w*O) = 2/6, sum(w*E) = 4/3, kappa = 1 - 1/4
    frame = pl.DataFrame({"a": [-1, -1, 0, 0, 1, 1], "b": [-1, 0, 0, 1, 1, 1]})
    assert frame.select(weighted_kappa(pl.col("a"), pl.col("b")))[0, 0] == pytest.approx(0.75)


def _kappa_by_definition(a: np.ndarray, b: np.ndarray) -> float:
    """1 - sum(w O) / sum(w E) with w = (i - j)^2 over the 3x3 table: the textbook definition."""
    cats = np.array([-1, 0, 1])
    observed = np.array([[np.mean((a == i) & (b == j)) for j in cats] for i in cats])
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    w = (cats[:, None] - cats[None, :]) ** 2
    return 1 - (w * observed).sum() / (w * expected).sum()


@pytest.mark.parametrize("seed", range(5))
def test_weighted_kappa_agrees_with_the_table_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(-1, 2, 60)
    b = np.where(rng.random(60) < 0.6, a, rng.integers(-1, 2, 60))
    got = pl.DataFrame({"a": a, "b": b}).select(weighted_kappa(pl.col("a"), pl.col("b")))[0, 0]
    assert got == pytest.approx(_kappa_by_definition(a, b))


def test_perfect_agreement_and_bin_rule() -> None:
    labels = [-1.0, -0.33, 0.0, 0.32, 0.33, 1.0]
    table = agreement_table(_frame(labels, labels), "x")
    assert table["bin_accuracy"][0] == 1 and table["weighted_kappa"][0] == pytest.approx(1)
    codes = pl.DataFrame({"s": labels}).select(bin_code("s", TAU).alias("bin"))["bin"].to_list()
    assert codes == [-1, -1, 0, 0, 1, 1]


def test_flip_consistency_on_a_known_case() -> None:
    plain = _frame([0.0] * 4, [0.5, -0.5, 0.1, 0.9]).with_columns(pl.lit(False).alias("flipped"))
    flipped = _frame([0.0] * 4, [0.4, 0.5, 0.0, 0.9]).with_columns(pl.Series("flipped", [True, True, False, False]))
    row = flip_table(plain, flipped, threshold=TAU).row(0, named=True)
    assert row["flip_n"] == 2  # only the answers judged on the reversed scale
    assert row["flip_bin_agreement"] == pytest.approx(0.5)  # +/+ agree, -/+ disagree
    assert row["flip_mean_abs_diff"] == pytest.approx((0.1 + 1.0) / 2)


# --- re-weighting to a label mix

def _mixed(seed: int = 0, n: int = 45) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.choice([-0.7, -0.4, 0.0, 0.1, 0.5, 0.8], n)
    scores = np.clip(labels + rng.normal(0, 0.35, n), -1, 1).round(2)
    return _frame(labels.tolist(), scores.tolist()).with_columns(pl.lit("s").alias("scenario"), pl.lit("v").alias("set"))


def test_reweighting_to_the_groups_own_mix_changes_nothing() -> None:
    frame = _mixed()
    plain = agreement_table(frame, "x")
    own = tuple(frame.select(*((bin_code("label", TAU) == c).mean().alias(str(c)) for c in (-1, 0, 1))).row(0))
    again = reweighted_table(frame, "x", mix=own)
    for m in METRICS:
        assert again[m][0] == pytest.approx(plain[m][0]), m
    assert reweighted_table(frame, "x")["spearman"][0] == pytest.approx(plain["spearman"][0])  # default: the set's own


@pytest.mark.parametrize("seed", range(3))
def test_reweighting_equals_the_figures_on_answers_repeated_by_their_weight(seed) -> None:
    """Weights 1, 2, 3 for -, 0, + bins (equal-sized): every re-weighted figure is the plain figure on the
    answers repeated that many times."""
    frame = _mixed(seed)
    bins = frame.select(bin_code("label", TAU).alias("b"))["b"]
    frame = frame.filter(pl.int_range(pl.len()).over(bins) < 10)  # ten answers a bin
    assert frame.height == 30
    repeats = frame.with_columns(bin_code("label", TAU).alias("b")).select(
        pl.all().repeat_by(pl.col("b") + 2).explode()).drop("b")
    got = reweighted_table(frame, "x", mix=(1 / 6, 2 / 6, 3 / 6))
    expected = agreement_table(repeats, "x")
    for m in METRICS:
        assert got[m][0] == pytest.approx(expected[m][0]), m
    assert got["label_mix"][0] == "0.17/0.33/0.5"


def test_reweighting_to_one_bin_reads_that_bin_alone() -> None:
    # perfect on the leaning answers, wrong on every neutral one
    frame = _frame([-0.8, -0.6, 0.0, 0.1, 0.7, 0.9], [-0.8, -0.6, 0.6, -0.5, 0.7, 0.9])
    frame = frame.with_columns(pl.lit("s").alias("scenario"), pl.lit("v").alias("set"))
    assert reweighted_table(frame, "x", mix=(0.0, 1.0, 0.0))["bin_accuracy"][0] == pytest.approx(0)
    assert reweighted_table(frame, "x", mix=(0.5, 0.0, 0.5))["bin_accuracy"][0] == pytest.approx(1)
    assert agreement_table(frame, "x")["bin_accuracy"][0] == pytest.approx(4 / 6)


def test_a_mix_the_group_cannot_reach_gives_no_figures() -> None:
    frame = _frame([0.5, 0.6, 0.0], [0.5, 0.6, 0.0]).with_columns(pl.lit("s").alias("scenario"), pl.lit("v").alias("set"))
    row = reweighted_table(frame, "x", mix=(0.2, 0.4, 0.4)).row(0, named=True)  # no pro-B label to weigh up
    assert all(row[m] is None for m in METRICS)


# --- length terciles, labelling passes, context check

def test_length_terciles_are_equal_thirds_of_each_set_and_scenario() -> None:
    texts = [" ".join(["w"] * n) for n in (5, 1, 9, 3, 7, 2, 8, 4, 6)]
    frame = pl.DataFrame({"text": texts * 2, "scenario": ["a"] * 9 + ["b"] * 9, "set": "v"})
    out = with_lengths(frame)
    assert out.filter(pl.col("scenario") == "a").sort("words")["length"].to_list() == (
        ["short"] * 3 + ["medium"] * 3 + ["long"] * 3)
    scored = out.with_columns(pl.lit("heldout").alias("split"), pl.lit(0.0).alias("label"), pl.lit(0.0).alias("score"))
    table = length_table(scored, "x")
    assert table.height == 6 and table["n"].to_list() == [3] * 6
    assert table.filter(pl.col("scenario") == "a")["words_min"].to_list() == [1, 4, 7]


def test_labeller_agreement_against_hand_worked_cases() -> None:
    from sycobench.validate import labeller_table

    labels = [[0.5, 0.5, 0.4], [-0.6, -0.5, -0.6], [0.0, 0.1, 0.0], [-0.5, 0.0, 0.5]]
    frame = pl.DataFrame({"set": "v2", "scenario": "rent", "labels": labels, "text": "x"})
    row = labeller_table(frame).row(0, named=True)
    assert row["n"] == 4 and row["passes"] == 3
    assert row["krippendorff_alpha"] == pytest.approx(krippendorff_alpha_interval(np.array(labels).T))
    assert row["n_disagree_over_one_bin"] == 1  # the last answer: pro-B, neutral and pro-A
    assert row["share_one_bin"] == pytest.approx(3 / 4)
    same = labeller_table(frame.with_columns(pl.Series("labels", [[v] * 3 for v in (0.5, -0.6, 0.0, 0.3)])))
    assert same["krippendorff_alpha"][0] == pytest.approx(1)


def test_context_agreement_on_a_known_case() -> None:
    blinded = _frame([0.5, -0.5, 0.0, 0.2], [0.5, -0.5, 0.0, 0.2])
    full = _frame([0.5, -0.5, 0.0, 0.2], [0.6, -0.4, 0.5, None])
    row = context_table(blinded, full, "judge:x").row(0, named=True)
    assert row["n"] == 4 and row["bin_agreement"] == pytest.approx(3 / 4)  # +/+, -/-, 0/+, 0/0 (None is 0)
    assert row["mean_abs_diff"] == pytest.approx((0.1 + 0.1 + 0.5 + 0.2) / 4)
    assert row["mean_full_minus_blinded"] == pytest.approx((0.1 + 0.1 + 0.5 - 0.2) / 4)
    assert row["spearman_label_blinded"] == pytest.approx(1)


# --- the shipped sets

def test_set_v1_is_large_split_and_balanced() -> None:
    answers = read_set(DEFAULT_SET, "v1")
    check_prompts(answers, {"rent": set(GRID)})
    assert answers.height >= 150 and set(answers["scenario"]) == {"rent"}
    assert set(answers["split"]) == {"tuning", "heldout"}
    assert 0.45 <= (answers["split"] == "heldout").mean() <= 0.55
    cells = answers.group_by("split", "perspective", bin_code("label", TAU).alias("bin")).len()
    assert cells.height == 2 * 3 * 3 and cells["len"].min() >= 8
    assert (answers["perspective"] == answers["prompt_id"].replace_strict({k: p.perspective for k, p in GRID.items()})).all()


@pytest.mark.parametrize("path", SETS["v2"], ids=lambda p: p.stem)
def test_set_v2_has_every_labelling_pass_and_whole_triplets_per_split(path: Path) -> None:
    from sycobench.validate import _scenario

    answers = read_set(path, "v2")
    scenario = _scenario(path.stem)
    grid = {p.prompt_id: p for p in build_grid(scenario)}
    check_prompts(answers, {path.stem: set(grid)})
    assert answers.height >= 150 and set(answers["scenario"]) == {path.stem}
    assert (answers["labels"].list.len() == 3).all()
    median = answers.select(pl.col("labels").list.median().round(2) - pl.col("label")).to_series().abs()
    assert (median < 1e-9).all()  # the reference label is the median of the passes
    per_triplet = answers.group_by("triplet_id").agg(pl.col("split").n_unique())
    assert (per_triplet["split"] == 1).all()  # no triplet in both splits
    assert set(answers["split"]) == {"tuning", "heldout"}
    assert answers["style"].n_unique() == 7
    assert (answers["triplet_id"] == answers["prompt_id"].replace_strict({k: p.triplet_id for k, p in grid.items()})).all()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"label": 1.5}, "label outside"),
        ({"labels": [0.1, 2.0, 0.0]}, "labelling pass outside"),
        ({"split": "train"}, "split other than"),
        ({"text": None}, "lacks one of"),
    ],
)
def test_a_bad_line_is_named(tmp_path, line, problem) -> None:
    good = {"id": "a1", "split": "tuning", "prompt_id": next(iter(GRID)), "perspective": "landlord", "label": 0.5,
            "text": "Fine."}
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({**good, **line}) + "\n")
    with pytest.raises(DataError, match=problem):
        read_set(path, "mine")


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_a_set_of_no_answer_is_named(tmp_path, text) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match="set.jsonl: holds no answer"):
        read_set(path, "mine")


def test_an_answer_to_another_grid_is_named(tmp_path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "a1", "split": "tuning", "prompt_id": "0" * 16, "perspective": "landlord",
                                "label": 0.5, "text": "Fine."}) + "\n")
    with pytest.raises(DataError, match="answer a1 answers a prompt_id not in the default rent grid"):
        check_prompts(read_set(path, "mine"), {"rent": set(GRID)})


def _offline(tmp_path: Path, **validation) -> dict[str, pl.DataFrame]:
    from sycobench.config import ScorerConfig
    from sycobench.validate import ValidateAppConfig, ValidationConfig, validate

    app = ValidateAppConfig(scorer=ScorerConfig(name="offline"), rate_limit=RateLimitConfig(),
                            run=RunConfig(progress=False), validation=ValidationConfig(save=False, **validation))
    return validate(app, tmp_path / "out")


def test_shipped_figures_are_those_of_the_current_lexicon(tmp_path) -> None:
    """data/validation/figures.csv is written by `validate`; a lexicon change must re-measure it, for every
    set and scenario."""
    from sycobench.scoring.offline import SCORER_VERSION

    shipped = pl.read_csv(SHIPPED_FIGURES).filter(pl.col("scorer") == "offline")
    assert set(shipped["version"]) == {SCORER_VERSION}
    digests = {(name, path.stem if name == "v2" else "rent"): set_digest(path) for name, paths in SETS.items()
               for path in paths}
    assert {(s, c): d for s, c, d in shipped.select("set", "scenario", "set_sha").unique().iter_rows()} == digests
    fresh = _offline(tmp_path)["validation"]
    joined = fresh.join(shipped, on=["set", "scenario", "split"], suffix="_shipped")
    assert joined.height == fresh.height == shipped.height == 2 * len(digests)
    for metric in METRICS:
        assert np.allclose(joined[metric], joined[f"{metric}_shipped"], atol=1e-4), metric


def test_validate_reports_every_set_scenario_and_split(tmp_path) -> None:
    tables = _offline(tmp_path, label_mix=[21, 74, 5])
    table = tables["validation"]
    assert set(table.select("set", "scenario").iter_rows()) == {
        ("v1", "rent"), ("v2", "rent"), ("v2", "payraise"), ("v2", "usedcar")}
    assert table.group_by("set", "scenario").agg(pl.col("split"))["split"].to_list() == [["tuning", "heldout"]] * 4
    v2 = table.filter(pl.col("set") == "v2")
    assert dict(v2.group_by("scenario").agg(pl.col("n").sum()).iter_rows()) == {"rent": 180, "payraise": 160, "usedcar": 160}
    assert set(tables["reweighted"]["label_mix"]) == {"0.21/0.74/0.05"}
    by_length = tables["by_length"]
    assert by_length["n"].sum() == table["n"].sum() and set(by_length["length"]) == {"short", "medium", "long"}
    labellers = tables["labellers"]
    assert sorted(labellers["scenario"]) == ["payraise", "rent", "usedcar"] and (labellers["passes"] == 3).all()
    assert labellers["krippendorff_alpha"].is_between(-1, 1).all()
    by_who = tables["by_perspective"].filter((pl.col("set") == "v2") & (pl.col("scenario") == "payraise"))
    assert set(by_who["perspective"]) == {"employee", "employer", "neutral"}


def test_limit_and_scenarios_pick_a_slice(tmp_path) -> None:
    table = _offline(tmp_path, sets=["v2"], scenarios=["usedcar"], limit=5)["validation"]
    assert set(table["scenario"]) == {"usedcar"} and table["n"].sum() == 5


def test_the_store_keeps_the_latest_figures_per_scorer_scenario_and_set(tmp_path) -> None:
    store = tmp_path / "figures.csv"

    def rows(scorer: str, scores: list[float], scenario: str = "rent", name: str = "v2") -> pl.DataFrame:
        table = agreement_table(_frame([0.5, -0.5], scores).with_columns(
            pl.lit(scenario).alias("scenario"), pl.lit(name).alias("set")), scorer)
        return figure_rows(table, version=scorer, digest="d")

    save_figures(rows("judge:a", [0.5, -0.5]), store)
    save_figures(rows("judge:b", [0.1, 0.1]), store)
    save_figures(rows("judge:a", [0.5, -0.5], "payraise"), store)
    save_figures(rows("judge:a", [0.5, -0.5], "rent", "v1"), store)
    save_figures(rows("judge:a", [-0.5, 0.5]), store)
    pairs = pl.DataFrame({"scorer": ["judge:a", "judge:b"], "scenario": ["rent", "rent"]})
    figures = latest_figures(pairs, store)
    assert set(figures["scenario"]) == {"rent"}  # never another scenario's figures
    a = figures.filter(pl.col("scorer") == "judge:a")
    assert dict(a.select("set", "bin_accuracy").iter_rows()) == {"v1": 1.0, "v2": 0.0}  # the latest run replaced the first
    assert latest_figures(pl.DataFrame({"scorer": ["judge:a"], "scenario": ["payraise"]}), store)[
        "bin_accuracy"].to_list() == [1.0]


def test_a_store_written_before_sets_had_names_reads_as_v1(tmp_path) -> None:
    store = tmp_path / "figures.csv"
    store.write_text("scorer,scenario,split,n,spearman,bin_accuracy,weighted_kappa,mean_signed_error,n_unscored,"
                     "flip_n,flip_bin_agreement,flip_mean_abs_diff,version,set_sha,validated_at\n"
                     "judge:a,rent,heldout,81,0.7,0.6,0.5,0.1,0,,,,judge:a,e59c94238935,2026-11-30T21:04:21+00:00\n")
    shown = latest_figures(pl.DataFrame({"scorer": ["judge:a"], "scenario": ["rent"]}), store)
    assert shown.select("set", "split", "n").row(0) == ("v1", "heldout", 81)


def test_stale_offline_figures_are_not_shown(tmp_path) -> None:
    store = tmp_path / "figures.csv"
    table = agreement_table(_frame([0.5], [0.5]).with_columns(pl.lit("rent").alias("scenario"), pl.lit("v2").alias("set")),
                            "offline")
    save_figures(figure_rows(table, version="lex-0", digest="d"), store)
    shown = latest_figures(pl.DataFrame({"scorer": ["offline"], "scenario": ["rent"]}), store)
    assert "lex-0" not in shown["version"] and set(shown["version"]) == set(pl.read_csv(SHIPPED_FIGURES)["version"])


# --- the command

@pytest.mark.slow
def test_validate_cli_prints_every_table_and_keeps_the_figures(tmp_path) -> None:
    out = tmp_path / "v"
    proc = sycobench("scorer=offline", f"hydra.run.dir={out}", "validation.label_mix=[0.2,0.7,0.1]", cwd=tmp_path,
                     module="sycobench.validate", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    table = pl.read_csv(out / "validation.csv")
    assert table.columns[: len(REQUIRED)] == REQUIRED and table.height == 8
    for title in ("re-weighted to the label mix", "by length tercile", "by who asked", "labelling passes"):
        assert title in proc.stdout, title
    assert "0.2/0.7/0.1" in proc.stdout and "payraise" in proc.stdout
    for name in ("reweighted", "by_length", "by_perspective", "labellers"):
        assert (out / f"validation_{name}.csv").is_file(), name
    kept = pl.read_csv(tmp_path / "cache" / "sycobench" / "validation" / "figures.csv")
    assert kept.filter(pl.col("scorer") == "offline").height == 8


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validation.data=missing.jsonl"], "validation.data=missing.jsonl: no such file"),
        (["scorer=none"], "scorer=none scores nothing"),
        (["validation.threshold=2"], "validation.threshold: must be in (0, 1)"),
        (["validation.label_mix=[1,2]"], "validation.label_mix: give three shares"),
        (["validation.sets=[v9]"], "validation.sets: unknown set 'v9'"),
        (["validation.scenarios=[moon]"], "validation.scenarios: the sets hold no answers of 'moon'"),
        (["validation.context_check=true"], "validation.context_check: scorer=offline does not read scorer.context"),
    ],
)
def test_validate_cli_bad_input_is_one_line(tmp_path, args, message) -> None:
    proc = sycobench(*args, f"hydra.run.dir={tmp_path / 'v'}", cwd=tmp_path, module="sycobench.validate")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# --- judges, through the loopback fake

def _judge_app(tmp_path: Path, fake, **validation):
    from sycobench.scoring.judge import default_judge
    from sycobench.validate import ValidateAppConfig, ValidationConfig

    judge = default_judge()
    judge.model.base_url = fake.base_url
    return ValidateAppConfig(scorer=judge, rate_limit=RateLimitConfig(rps=None, shared_rate_file=None),
                             run=RunConfig(progress=False, cache_dir=str(tmp_path / "cache")),
                             validation=ValidationConfig(store=str(tmp_path / "figures.csv"), **validation))


def test_validate_a_judge_per_scenario_through_the_loopback_fake(tmp_path, fake_openrouter, monkeypatch, fake_key) -> None:
    from sycobench.validate import validate

    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    app = _judge_app(tmp_path, fake_openrouter, sets=["v2"], limit=4)
    table = validate(app, tmp_path / "out")["validation"]
    assert set(table["scorer"]) == {"judge:openai/gpt-4o-mini"} and table["n"].sum() == 12
    assert dict(table.group_by("scenario").agg(pl.col("n").sum()).iter_rows()) == {"rent": 4, "payraise": 4, "usedcar": 4}
    flips = int(table["flip_n"].fill_null(0).sum())
    # every answer on the plain scale; on the flip-half pass only the flipped ones miss the response cache
    assert fake_openrouter.stats()["judge_requests"] == 12 + flips
    assert not (tmp_path / "figures.csv").exists()  # figures of a slice are never kept as the judge's latest


def test_the_judge_context_check_scores_both_contexts_and_agrees_with_known_stances(tmp_path, fake_key,
                                                                                   monkeypatch) -> None:
    """A pay-raise set written from the scenario's own mock sentences, which the fake judge reads back
    exactly: blinded and full must agree fully, and both must match the labels."""
    from sycobench.fake_openrouter import serve_in_thread
    from sycobench.validate import _scenario, validate

    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    scenario = _scenario("payraise")
    bank = scenario.mock["answers"]
    grid = build_grid(scenario)
    lines = [{"id": f"x{i}", "split": "heldout" if i % 2 else "tuning", "scenario": "payraise",
              "prompt_id": p.prompt_id, "perspective": p.perspective, "label": label, "text": text}
             for i, (p, (label, text)) in enumerate(zip(grid, [(1.0, bank["a"][i % 6]) for i in range(4)]
                                                         + [(-1.0, bank["b"][i % 6]) for i in range(4)]
                                                         + [(0.0, bank["balanced"][i % 5]) for i in range(4)]))]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with serve_in_thread(latency_ms=0, scenario="payraise") as fake:
        app = _judge_app(tmp_path, fake, data=str(data), context_check=True)
        tables = validate(app, tmp_path / "out")
        requests = fake.stats()["judge_requests"]
    context = tables["context"]
    assert context["n"].sum() == 12 and set(context["scorer"]) == {"judge:openai/gpt-4o-mini"}
    assert (context["bin_agreement"] == 1).all() and (context["mean_abs_diff"] == 0).all()
    assert (context["spearman_label_blinded"] == 1).all() and (context["spearman_label_full"] == 1).all()
    table = tables["validation"]
    assert set(table["set"]) == {"mine"} and (table["bin_accuracy"] == 1).all()
    assert (table["flip_bin_agreement"] == 1).all()
    assert requests == 12 + int(table["flip_n"].sum()) + 12  # plain, flipped half, full context
    records = [json.loads(x) for x in (tmp_path / "out" / "scored" / "mine-payraise" / "scores.jsonl").read_text().splitlines()]
    assert {r["scorer"] for r in records} == {"judge:openai/gpt-4o-mini", "judge:openai/gpt-4o-mini/flip",
                                              "judge:openai/gpt-4o-mini/full"}


def test_a_job_scores_each_answer_with_its_prompt(tmp_path) -> None:
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.scoring.offline import score_text
    from sycobench.spec import prepare_job

    job = run_job(prepare_job(to_config(compose(["scenario.limit=6", "run.progress=false", "report.bootstrap=200"]))),
                  tmp_path / "job").job_dir
    read = lambda name: [json.loads(line) for line in (job / name).read_text().splitlines()]  # noqa: E731
    prompts = {p["prompt_id"]: p["messages"] for p in read("grid.jsonl")}
    texts = {r["prompt_id"]: r["response_text"] for r in read("run.jsonl")}
    scores = {s["prompt_id"]: s["score"] for s in read("scores.jsonl")}
    assert scores == {pid: score_text(text, prompt=prompts[pid]).score for pid, text in texts.items()}
    # the mock's answers repeat the question's "fair", so the prompt changes some scores
    assert scores != {pid: score_text(text).score for pid, text in texts.items()}


def test_human_labels_equal_to_the_set_score_perfectly(tmp_path) -> None:
    """scorer=human keys answers by prompt_id and k = the line number: the set's own labels must agree fully."""
    from sycobench.config import ScorerConfig
    from sycobench.validate import ValidateAppConfig, ValidationConfig, validate

    lines = DEFAULT_SET.read_text().splitlines()
    data = tmp_path / "subset.jsonl"
    data.write_text("\n".join(lines[:10] + lines[-10:]) + "\n")
    answers = read_set(data, "subset")
    labels = tmp_path / "labels.csv"
    answers.with_row_index("k").select("prompt_id", "k", pl.col("label").alias("score")).write_csv(labels)
    app = ValidateAppConfig(scorer=ScorerConfig(name="human", labels=str(labels)), rate_limit=RateLimitConfig(),
                            validation=ValidationConfig(data=str(data), save=False))
    table = validate(app, tmp_path / "out")["validation"]
    assert table["scorer"][0] == "human:labels" and table["n"].sum() == 20
    for metric, perfect in (("spearman", 1), ("bin_accuracy", 1), ("weighted_kappa", 1), ("mean_signed_error", 0)):
        assert np.allclose(table[metric], perfect), metric
