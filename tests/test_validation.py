"""The validation set, its metrics (checked against hand-worked answers), `python -m sycobench.validate`,
and the validation figures and smoke-test line in job and sweep reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sycobench.config import RateLimitConfig, ReportConfig, RunConfig, ScenarioConfig
from sycobench.errors import DataError
from sycobench.scenario import build_grid
from sycobench.validation import (
    DEFAULT_SET, SHIPPED_FIGURES, agreement_table, bin_code, figure_rows, flip_table, latest_figures, load_set,
    save_figures, set_digest, weighted_kappa,
)
from tests.test_cli import sycobench

TAU = 0.33
GRID = {p.prompt_id: p for p in build_grid(ScenarioConfig())}
REQUIRED = ["scorer", "scenario", "split", "n", "spearman", "bin_accuracy", "weighted_kappa", "mean_signed_error"]


def _frame(labels, scores, split="heldout") -> pl.DataFrame:
    return pl.DataFrame({"id": [str(i) for i in range(len(labels))], "split": split, "perspective": "tenant",
                         "label": labels, "score": scores}, schema_overrides={"score": pl.Float64})


# --- metrics, each against an answer worked by hand

def test_spearman_matches_the_hand_computed_value_with_ties() -> None:
    # ranks of y are 1, 2, 3.5, 5, 3.5: r = 8 / sqrt(10 * 9.5)
    table = agreement_table(_frame([1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 6.0, 7.0, 8.0, 7.0]), "x")
    assert table["spearman"][0] == pytest.approx(8 / np.sqrt(95))


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


# --- the shipped set

def test_the_shipped_set_is_large_split_and_balanced() -> None:
    answers = load_set(DEFAULT_SET, set(GRID))
    assert answers.height >= 150 and answers["id"].n_unique() == answers.height
    assert set(answers["split"]) == {"tuning", "heldout"}
    share = (answers["split"] == "heldout").mean()
    assert 0.45 <= share <= 0.55
    cells = answers.group_by("split", "perspective", bin_code("label", TAU).alias("bin")).len()
    assert cells.height == 2 * 3 * 3 and cells["len"].min() >= 8
    assert answers["written_by"].null_count() == 0
    assert (answers["perspective"] == answers["prompt_id"].replace_strict({k: p.perspective for k, p in GRID.items()})).all()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"label": 1.5}, "label outside"),
        ({"split": "train"}, "split other than"),
        ({"prompt_id": "0000000000000000"}, "not in the default rent grid"),
        ({"text": None}, "lacks one of"),
    ],
)
def test_a_bad_line_is_named(tmp_path, line, problem) -> None:
    good = {"id": "a1", "split": "tuning", "prompt_id": next(iter(GRID)), "perspective": "landlord", "label": 0.5,
            "text": "Fine."}
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({**good, **line}) + "\n")
    with pytest.raises(DataError, match=problem):
        load_set(path, set(GRID))


def _offline_scores(tmp_path: Path) -> pl.DataFrame:
    from sycobench.config import ScorerConfig
    from sycobench.validate import ValidateAppConfig, score_set

    app = ValidateAppConfig(scorer=ScorerConfig(name="offline"), rate_limit=RateLimitConfig(),
                            run=RunConfig(progress=False))
    return score_set(load_set(DEFAULT_SET, set(GRID)), app.scorer, app, tmp_path / "set", GRID, ScenarioConfig())


def test_offline_scorer_meets_its_targets_on_the_heldout_split(tmp_path) -> None:
    table = agreement_table(_offline_scores(tmp_path), "offline")
    held = table.filter(pl.col("split") == "heldout").row(0, named=True)
    assert held["spearman"] >= 0.6 and held["bin_accuracy"] >= 0.65, held


def test_shipped_figures_are_those_of_the_current_lexicon(tmp_path) -> None:
    """data/validation/figures.csv is written by `validate`; a lexicon change must re-measure it."""
    from sycobench.scoring.offline import SCORER_VERSION

    shipped = pl.read_csv(SHIPPED_FIGURES).filter(pl.col("scorer") == "offline")
    assert set(shipped["version"]) == {SCORER_VERSION} and set(shipped["set_sha"]) == {set_digest(DEFAULT_SET)}
    fresh = agreement_table(_offline_scores(tmp_path), "offline")
    joined = fresh.join(shipped, on="split", suffix="_shipped")
    assert joined.height == 2
    for metric in REQUIRED[3:]:
        assert np.allclose(joined[metric], joined[f"{metric}_shipped"], atol=1e-4), metric


def test_the_store_keeps_the_latest_figures_per_scorer(tmp_path) -> None:
    store = tmp_path / "figures.csv"
    def rows(scorer: str, scores: list[float], scenario: str = "rent") -> pl.DataFrame:
        return figure_rows(agreement_table(_frame([0.5, -0.5], scores), scorer), scenario=scenario, version=scorer,
                           digest="d")

    save_figures(rows("judge:a", [0.5, -0.5]), store)
    save_figures(rows("judge:b", [0.1, 0.1]), store)
    save_figures(rows("judge:a", [0.5, -0.5], "payraise"), store)
    save_figures(rows("judge:a", [-0.5, 0.5]), store)
    pairs = pl.DataFrame({"scorer": ["judge:a", "judge:b"], "scenario": ["rent", "rent"]})
    figures = latest_figures(pairs, store)
    assert figures.height == 2 and set(figures["scenario"]) == {"rent"}  # never another scenario's figures
    assert figures.filter(pl.col("scorer") == "judge:a")["bin_accuracy"][0] == 0  # the latest run replaced the first
    assert latest_figures(pl.DataFrame({"scorer": ["judge:a"], "scenario": ["payraise"]}), store)[
        "bin_accuracy"].to_list() == [1.0]


def test_stale_offline_figures_are_not_shown(tmp_path) -> None:
    store = tmp_path / "figures.csv"
    rows = figure_rows(agreement_table(_frame([0.5], [0.5]), "offline"), scenario="rent", version="lex-0", digest="d")
    save_figures(rows, store)
    shown = latest_figures(pl.DataFrame({"scorer": ["offline"], "scenario": ["rent"]}), store)
    assert set(shown["version"]) <= {pl.read_csv(SHIPPED_FIGURES)["version"][0]} and "lex-0" not in shown["version"]


# --- the command

@pytest.mark.slow
def test_validate_cli_writes_the_tables_and_keeps_the_figures(tmp_path) -> None:
    out = tmp_path / "v"
    proc = sycobench("scorer=offline", f"hydra.run.dir={out}", cwd=tmp_path, module="sycobench.validate",
                     env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    table = pl.read_csv(out / "validation.csv")
    assert table.columns[: len(REQUIRED)] == REQUIRED and table["split"].to_list() == ["tuning", "heldout"]
    assert "heldout" in proc.stdout and "spearman" in proc.stdout
    by_perspective = pl.read_csv(out / "validation_by_perspective.csv")
    assert by_perspective.height == 6 and by_perspective["n"].sum() == table["n"].sum()
    kept = pl.read_csv(tmp_path / "cache" / "sycobench" / "validation" / "figures.csv")
    assert kept.filter(pl.col("scorer") == "offline").height == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validation.data=missing.jsonl"], "validation.data=missing.jsonl: no such file"),
        (["scorer=none"], "scorer=none scores nothing"),
        (["validation.threshold=2"], "validation.threshold: must be in (0, 1)"),
    ],
)
def test_validate_cli_bad_input_is_one_line(tmp_path, args, message) -> None:
    proc = sycobench(*args, f"hydra.run.dir={tmp_path / 'v'}", cwd=tmp_path, module="sycobench.validate")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _subset(tmp_path: Path, n: int = 12) -> Path:
    lines = DEFAULT_SET.read_text().splitlines()
    path = tmp_path / "subset.jsonl"
    path.write_text("\n".join(lines[:n // 2] + lines[-n // 2:]) + "\n")
    return path


def test_validate_a_judge_through_the_loopback_fake(tmp_path, fake_openrouter, monkeypatch, fake_key) -> None:
    from sycobench.scoring.judge import default_judge
    from sycobench.validate import ValidateAppConfig, ValidationConfig, validate

    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    judge = default_judge()
    judge.model.base_url = fake_openrouter.base_url
    store = tmp_path / "figures.csv"
    app = ValidateAppConfig(scorer=judge, rate_limit=RateLimitConfig(rps=None, shared_rate_file=None),
                            run=RunConfig(progress=False, cache_dir=str(tmp_path / "cache")),
                            validation=ValidationConfig(data=str(_subset(tmp_path)), store=str(store)))
    tables = validate(app, tmp_path / "out")
    table = tables["validation"]
    assert table["scorer"].to_list() == ["judge:openai/gpt-4o-mini"] * 2 and table["n"].sum() == 12
    assert (table["flip_n"] > 0).all()
    # the fake judge maps a reversed scale back exactly, so the polarity check must find full agreement
    assert (table["flip_bin_agreement"] == 1).all() and (table["flip_mean_abs_diff"] == 0).all()
    # every answer on the plain scale; on the flip-half pass only the flipped ones miss the response cache
    assert fake_openrouter.stats()["judge_requests"] == 12 + table["flip_n"].sum()
    assert latest_figures(pl.DataFrame({"scorer": ["judge:openai/gpt-4o-mini"], "scenario": ["rent"]}), store).height == 2


# --- reports

def _api_job(tmp_path: Path, fake, key: str, monkeypatch) -> Path:
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.spec import prepare_job

    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    cfg = to_config(compose([
        "model=openrouter", "model.id=x/real-model", f"model.base_url={fake.base_url}", "scorer=offline",
        "scenario.limit=3", "rate_limit=unlimited", "run.progress=false", f"run.cache_dir={tmp_path / 'cache'}",
        "report.bootstrap=200",
    ]))
    return run_job(prepare_job(cfg), tmp_path / "job").job_dir


def test_offline_scores_of_a_real_model_carry_the_smoke_test_line(tmp_path, fake_openrouter, fake_key, monkeypatch,
                                                                   caplog) -> None:
    from sycobench.report import write_report

    with caplog.at_level("WARNING"):
        job = _api_job(tmp_path, fake_openrouter, fake_key, monkeypatch)
    warnings = [r.getMessage() for r in caplog.records if "smoke-test scorer" in r.getMessage()]
    assert warnings and "x/real-model" in warnings[0] and "scorer=judge" in warnings[0]
    held = pl.read_csv(SHIPPED_FIGURES).filter(pl.col("split") == "heldout")
    assert f"Spearman {held['spearman'][0]:.2f}" in warnings[0]
    assert (job / "scorer_validation.csv").exists()
    write_report([job], tmp_path / "report", ReportConfig(bootstrap=200))
    md = (tmp_path / "report" / "report.md").read_text()
    assert md.count("smoke-test scorer") == 1 and "Scorer validation" in md


def test_mock_answers_get_no_smoke_test_line(tmp_path, caplog) -> None:
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.spec import prepare_job

    with caplog.at_level("INFO"):
        run_job(prepare_job(to_config(compose(["scenario.limit=2", "run.progress=false", "report.bootstrap=200"]))), tmp_path / "job")
    messages = [r.getMessage() for r in caplog.records]
    assert not any("smoke-test scorer" in m for m in messages)
    assert any("scorer offline on the held-out rent validation answers" in m for m in messages)


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

    data = _subset(tmp_path, 20)
    answers = load_set(data, set(GRID))
    labels = tmp_path / "labels.csv"
    answers.with_row_index("k").select("prompt_id", "k", pl.col("label").alias("score")).write_csv(labels)
    app = ValidateAppConfig(scorer=ScorerConfig(name="human", labels=str(labels)), rate_limit=RateLimitConfig(),
                            validation=ValidationConfig(data=str(data), save=False))
    table = validate(app, tmp_path / "out")["validation"]
    assert table["scorer"][0] == "human:labels" and table["n"].sum() == 20
    for metric, perfect in (("spearman", 1), ("bin_accuracy", 1), ("weighted_kappa", 1), ("mean_signed_error", 0)):
        assert np.allclose(table[metric], perfect), metric
