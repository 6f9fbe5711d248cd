"""The labelling page's command (`python -m sycobench.label`): a seeded, stratified, blind sample; its
CSV export imported by `scorer=human`, one scorer per person; bad input as one line and exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sycobench import compose
from sycobench.config import RateLimitConfig, ScorerConfig, to_config
from sycobench.errors import ConfigError
from sycobench.job import run_job
from sycobench.label import main as label_main
from sycobench.labelling.page import CSV_COLUMNS, page_html
from sycobench.labelling.sample import _allocate, draw, label_sample
from sycobench.scoring.human import answer_ref, read_labels
from sycobench.spec import prepare_job
from tests.test_cli import sycobench

DATA = re.compile(r'<script type="application/json" id="lb-data">(.*?)</script>', re.S)


def _job(path: Path, *overrides: str) -> Path:
    cfg = to_config(compose(["run.progress=false", "report.bootstrap=100", *overrides]))
    return run_job(prepare_job(cfg), path).job_dir


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """Two jobs of one sweep: two models, rent and pay raise, two samples per prompt (84 answers)."""
    root = tmp_path_factory.mktemp("sweep") / "sweep"
    _job(root / "0", "model.id=mock/a", "scenario.limit=6", "run.samples=2")
    _job(root / "1", "model.id=mock/b", "scenario=payraise", "scenario.limit=8", "run.samples=2")
    return root


def _runs(job: Path) -> list[dict]:
    return [json.loads(line) for line in (job / "run.jsonl").read_text().splitlines()]


def _data(page: str) -> dict:
    return json.loads(DATA.search(page).group(1))


def _export(sample, labeller: str, scores: list[float]) -> str:
    """What the page's export holds when `labeller` scores the first len(scores) items (label.js csv())."""
    rows = [",".join(CSV_COLUMNS)]
    for i, (item, score) in enumerate(zip(sample.items, scores)):
        rows.append(",".join(str(v) for v in (labeller, item["ref"], item["run"], item["prompt"], item["k"], score,
                                              sample.sample_id, i + 1, "2026-01-01T00:00:00.000Z")))
    return "\n".join(rows) + "\n"


# --- the sample ------------------------------------------------------------------------------------


def test_allocation_is_proportional_with_largest_remainders() -> None:
    strata = pl.DataFrame({"s": ["x", "y", "z"], "size": [10, 20, 30]})
    rng = np.random.default_rng(0)
    assert _allocate(strata, 6, rng)["take"].to_list() == [1, 2, 3]
    # 7 * (10, 20, 30) / 60 = 1.17, 2.33, 3.5: floors 1, 2, 3 and the one left to the largest remainder
    assert _allocate(strata, 7, rng)["take"].to_list() == [1, 2, 4]
    assert _allocate(strata, 60, rng)["take"].to_list() == [10, 20, 30]


def test_the_sample_is_seeded_stratified_and_shuffled(sweep) -> None:
    first, again, other = (label_sample(sweep, 42, seed=s) for s in (0, 0, 1))
    assert [i["ref"] for i in first.items] == [i["ref"] for i in again.items] and first.sample_id == again.sample_id
    assert page_html(first) == page_html(again)  # the page itself is the same file for the same seed
    assert {i["ref"] for i in first.items} != {i["ref"] for i in other.items} and first.sample_id != other.sample_id
    assert len({i["ref"] for i in first.items}) == 42 and first.pool == 84
    # 36 rent answers of mock/a, 48 pay-raise answers of mock/b, a third on each side: 42 of 84 is half of each
    taken = first.strata.filter(pl.col("take") > 0)
    assert taken.height == 6 and sorted(taken["take"].to_list()) == [6, 6, 6, 8, 8, 8]
    assert set(taken["side"]) == {"a", "b", "neutral"} and set(taken["model_id"]) == {"mock/a", "mock/b"}
    refs = {answer_ref(r["run_id"], r["model_id"], r["prompt_id"], r["k"]): r
            for job in ("0", "1") for r in _runs(sweep / job)}
    drawn = [refs[i["ref"]] for i in first.items]
    counts = pl.DataFrame(drawn).group_by("model_id", "side").len()
    assert sorted(counts["len"].to_list()) == [6, 6, 6, 8, 8, 8]  # what the page holds, counted from the records
    sides = [r["side"] for r in drawn]
    assert sides != sorted(sides, key=["a", "b", "neutral"].index)  # shown in shuffled order, not by stratum
    assert all(i["text"] == refs[i["ref"]]["response_text"] for i in first.items)


def test_the_page_holds_no_asker_side_model_or_score(sweep) -> None:
    sample = label_sample(sweep, 84, seed=3)
    page = page_html(sample)
    data = _data(page)
    assert {key for item in data["items"] for key in item} == {"ref", "run", "prompt", "k", "scenario", "facts", "text"}

    def keys(node: object) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        return {k for v in node for k in keys(v)} if isinstance(node, list) else set()

    assert not {k for k in keys(data) if re.search(r"perspective|side|model|score|scorer|triplet", k)} - {"scenarios"}
    for needle in ("mock/a", "mock/b", "sycobench/mock", '"perspective"', '"side"', "offline"):
        assert needle not in page, needle
    # the fact sheet is the blinded judge's: the same for the three answers of a triplet, never who asked
    facts = {i["facts"] for i in data["items"]}
    assert len(facts) == 6 + 8 and all(f and "asks" not in f for f in facts)
    # self-contained: nothing is fetched, and the page forbids fetching
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|https?://", page)
    assert "default-src 'none'" in page


def test_a_single_job_and_the_order_of_its_strata(tmp_path) -> None:
    job = _job(tmp_path / "job", "scenario.limit=3")
    sample = label_sample(job, 9, seed=0)
    assert len(sample.items) == 9 and sample.strata["take"].to_list() == [3, 3, 3]
    with pytest.raises(ConfigError, match=r"--n 10: only 9 answers"):
        label_sample(job, 10)


def test_draw_refuses_n_below_one_and_above_the_pool() -> None:
    pool = pl.DataFrame({"scenario": ["r"] * 3, "model_id": ["m"] * 3, "side": ["a", "b", "neutral"],
                         "run_id": ["x"] * 3, "prompt_id": ["p", "q", "r"], "k": [0, 0, 0]})
    with pytest.raises(ConfigError, match="at least 1"):
        draw(pool, 0, 0)
    with pytest.raises(ConfigError, match="only 3 answers"):
        draw(pool, 4, 0)
    shown, _ = draw(pool, 3, 0)
    assert sorted(shown["prompt_id"]) == ["p", "q", "r"]


# --- the export, imported ------------------------------------------------------------------------


def _score(run_dir: Path, labels: Path, **extra: str) -> int:
    from sycobench.score import ScoreAppConfig, score_path

    app = ScoreAppConfig(run_dir=str(run_dir), scorer=ScorerConfig(name="human", labels=str(labels), **extra),
                         rate_limit=RateLimitConfig())
    return score_path(run_dir, app)


def test_two_people_s_exports_import_into_a_sweep_as_two_scorers(sweep, tmp_path) -> None:
    """The answer ids name the job too: the same model, prompt and sample in another job is another answer."""
    copy = tmp_path / "sweep"
    import shutil

    shutil.copytree(sweep, copy)
    sample = label_sample(copy, 20, seed=5)
    alice = [-1.0, -0.5, 0.0, 0.5, 1.0] * 4
    bob = [-0.5, -0.5, 0.5, 0.5, 1.0] * 4
    (tmp_path / "alice.csv").write_text(_export(sample, "alice", alice))
    (tmp_path / "bob.csv").write_text(_export(sample, "bob", bob[:10]))  # bob labelled half of them
    assert _score(copy, tmp_path / "alice.csv") == 20
    assert _score(copy, tmp_path / "bob.csv") == 10
    assert _score(copy, tmp_path / "bob.csv") == 0  # imported once: a second import adds nothing
    refs = {answer_ref(r["run_id"], r["model_id"], r["prompt_id"], r["k"]): (job, r)
            for job in ("0", "1") for r in _runs(copy / job)}
    got = {}
    for job in ("0", "1"):
        for s in map(json.loads, (copy / job / "scores.jsonl").read_text().splitlines()):
            if s["scorer"].startswith("human:"):
                ref = answer_ref(s["run_id"], s["model_id"], s["prompt_id"], s["k"])
                got[(s["labeller"], ref)] = s["score"]
                assert s["scorer"] == f"human:{s['labeller']}" and refs[ref][0] == job
                assert s["scorer_config"]["labeller"] == s["labeller"]
    want = {("alice", i["ref"]): v for i, v in zip(sample.items, alice)}
    want |= {("bob", i["ref"]): v for i, v in zip(sample.items[:10], bob)}
    assert got == want
    # the sweep's report, per scenario: α among the two on the answers both labelled, each against offline
    from sycobench.stats import krippendorff_alpha_interval

    alpha = pl.read_csv(copy / "report" / "labeller_alpha.csv")
    assert alpha["n_answers"].sum() == 10 and alpha["labellers"].to_list() == [2, 2]
    for row in alpha.iter_rows(named=True):
        mine = [i for i, item in enumerate(sample.items[:10]) if item["scenario"] == row["scenario"]]
        ratings = np.array([[alice[i] for i in mine], [bob[i] for i in mine]])
        assert row["n_answers"] == len(mine) and row["n_labels"] == 2 * len(mine)
        assert row["krippendorff_alpha"] == pytest.approx(krippendorff_alpha_interval(ratings))
    people = pl.read_csv(copy / "report" / "labellers.csv")
    assert set(people["labeller"]) == {"human:alice", "human:bob"} and set(people["scorer"]) == {"offline"}
    assert people.group_by("labeller").agg(pl.col("n_labelled").sum()).sort("labeller")["n_labelled"].to_list() == [20, 10]
    report = (copy / "report" / "report.md").read_text()
    assert "## People's labels" in report and "human:alice" in report.split("## People's labels")[1]


def test_labels_files_refused_with_one_line(tmp_path) -> None:
    def bad(text: str, match: str, **cfg: str) -> None:
        path = tmp_path / "labels.csv"
        path.write_text(text)
        from sycobench.scoring.human import _person

        with pytest.raises(ConfigError, match=match):
            _person(ScorerConfig(name="human", labels=str(path), **cfg))

    head = "labeller,answer,score\n"
    bad(head + "alice,aaaa,0.5\nbob,aaaa,0.5\n", r"2 people \(alice, bob\).*scorer.labeller=NAME")
    bad(head + "alice,aaaa,0.5\nbob,aaaa,0.5\n", r"scorer.labeller=carol: not in", labeller="carol")
    bad(head + "alice,aaaa,0.5\nalice,aaaa,-0.5\n", "alice labels one answer twice")
    bad(head + "alice,aaaa,NaN\n", "outside")
    bad(head + "alice,aaaa,1.5\n", "outside")
    bad(head + "=cmd(),aaaa,0.5\n", "labeller '=cmd\\(\\)' is not a name")
    bad("prompt_id,k,score\np,0,0.5\n", "no labeller column", labeller="alice")
    bad("answer,label\naaaa,0.5\n", "expected prompt_id,k,score")
    path = tmp_path / "labels.csv"
    path.write_text(head + "alice,aaaa,0.5\nbob,bbbb,-0.5\n")
    from sycobench.scoring.human import _person

    name, frame = _person(ScorerConfig(name="human", labels=str(path), labeller="bob"))
    assert name == "bob" and frame["answer"].to_list() == ["bbbb"]
    assert read_labels(path).height == 2


def test_hand_made_labels_keep_their_file_name_as_the_labeller(tmp_path) -> None:
    job = _job(tmp_path / "job", "scenario.limit=2")
    runs = _runs(job)
    labels = tmp_path / "carol.csv"
    labels.write_text("prompt_id,k,score\n" + "".join(f"{r['prompt_id']},0,0.25\n" for r in runs[:4]))
    assert _score(job, labels) == 4
    human = [json.loads(s) for s in (job / "scores.jsonl").read_text().splitlines() if "human:" in s]
    assert {(s["scorer"], s["labeller"], s["score"]) for s in human} == {("human:carol", "carol", 0.25)}


# --- the report's tables, on hand-worked cases ---------------------------------------------------------


def _results(rows: dict[str, list[float | None]], labellers: dict[str, str]) -> pl.DataFrame:
    n = len(next(iter(rows.values())))
    return pl.DataFrame([
        {"model_id": "m", "scorer": scorer, "scenario": "rent", "triplet_id": f"t{i // 3}", "prompt_id": f"p{i}",
         "side": ("a", "b", "neutral")[i % 3], "k": 0, "score": score, "labeller": labellers.get(scorer)}
        for scorer, scores in rows.items() for i, score in zip(range(n), scores)
    ], schema_overrides={"score": pl.Float64, "labeller": pl.String})


def test_alpha_among_people_and_each_person_against_a_scorer_by_hand() -> None:
    from sycobench.report.labellers import labeller_alpha, labellers

    results = _results({
        "offline": [-0.9, -0.2, 0.1, 0.2, 0.8, None],
        "human:alice": [-1.0, -0.5, 0.0, 0.5, 1.0, 0.5],
        "human:bob": [-0.5, -0.5, 0.5, 0.5, 1.0, None],
    }, {"human:alice": "alice", "human:bob": "bob"})
    # five answers with two labels: D_o = 2 (0.25 + 0.25) / 10 = 0.1; the ten labels' mean is 0.1 and their
    # sum of squares about it 4.4, so D_e = 2 * 10 * 4.4 / (10 * 9) = 88/90; alpha = 1 - 9/88 = 79/88
    alpha = labeller_alpha(results)
    assert alpha.row(0, named=True) == {"labellers": 2, "people": "human:alice, human:bob", "n_answers": 5,
                                        "n_labels": 10, "krippendorff_alpha": pytest.approx(79 / 88)}
    table = labellers(results, threshold=0.33)
    alice = table.filter(pl.col("labeller") == "human:alice").row(0, named=True)
    # bins at 0.33: alice -,-,0,+,+ and offline -,0,0,0,+ agree on 3 of 5; codes 0,0,1,2,2 vs 0,1,1,1,2 have
    # equal means, cov 0.4 and variances 0.8 and 0.4: kappa = 2 * 0.4 / 1.2; offline - alice sums to 0
    assert alice == {"labeller": "human:alice", "scorer": "offline", "n_labelled": 6, "n": 5, "n_unscorable": 1,
                     "spearman": pytest.approx(1.0), "bin_accuracy": pytest.approx(0.6),
                     "weighted_kappa": pytest.approx(2 / 3), "mean_signed_error": pytest.approx(0.0, abs=1e-12)}
    assert set(table["scorer"]) == {"offline"} and table.height == 2


def test_no_people_no_tables_and_one_person_no_alpha() -> None:
    from sycobench.report.labellers import labeller_tables

    assert labeller_tables(_results({"offline": [0.1, 0.2, 0.3]}, {})) == {}
    one = labeller_tables(_results({"offline": [0.1, 0.2, 0.3], "human:a": [0.0, 0.5, 1.0]}, {"human:a": "a"}))
    assert set(one) == {"labellers"}
    apart = _results({"human:a": [0.0, None, None], "human:b": [None, 0.5, 1.0]}, {"human:a": "a", "human:b": "b"})
    row = labeller_tables(apart)["labeller_alpha"].row(0, named=True)
    assert row["n_answers"] == 0 and row["krippendorff_alpha"] is None  # nothing labelled twice: no α, not 0


def test_the_default_mean_of_scorers_leaves_people_out() -> None:
    from sycobench.report.tables import combine_scorers

    results = _results({"offline": [0.2, 0.4, 0.6], "judge:x": [0.0, 0.0, 0.0], "human:a": [1.0, 1.0, 1.0]},
                       {"human:a": "a"})
    combined = combine_scorers(results)
    assert combined["scorer"][0] == "mean(offline,judge:x)"
    assert combined["score"].to_list() == pytest.approx([0.1, 0.2, 0.3])
    assert combine_scorers(results, ["offline", "human:a"])["score"].to_list() == pytest.approx([0.6, 0.7, 0.8])


# --- the command -------------------------------------------------------------------------------------


def test_the_command_writes_one_page(sweep, tmp_path, capsys) -> None:
    out = tmp_path / "labels.html"
    assert label_main([str(sweep), "--n", "12", "--seed", "7", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "12 of 84 answers" in said and "scorer=human" in said
    data = _data(out.read_text())
    assert len(data["items"]) == 12 and data["seed"] == 7 and data["columns"] == CSV_COLUMNS
    assert [p.name for p in tmp_path.iterdir()] == ["labels.html"]  # no temporary file left


@pytest.mark.parametrize(("case", "args", "message"), [
    ("no folder", ["{tmp}/nowhere"], "no such folder"),
    ("a file", ["{tmp}/afile"], "a file, not a folder; give a job folder or a sweep folder"),
    ("not a job", ["{tmp}/empty"], "not a job or sweep folder"),
    ("empty job", ["{tmp}/emptyjob"], "no answered calls to label"),
    ("n below 1", ["{sweep}", "--n", "0"], "--n 0: give at least 1"),
    ("n too large", ["{sweep}", "--n", "85"], "--n 85: only 84 answers there to label; give --n 84 or fewer"),
    ("n not a number", ["{sweep}", "--n", "many"], "argument --n: invalid int value"),
    ("seed below 0", ["{sweep}", "--n", "3", "--seed", "-1"], "--seed -1: give a whole number >= 0"),
    ("out in a job", ["{sweep}", "--out", "{sweep}/0/labels.html"], "inside the job folder"),
    ("out deep in a job", ["{sweep}", "--out", "{sweep}/0/.hydra/labels.html"], "inside the job folder"),
    ("out a folder", ["{sweep}", "--out", "{tmp}"], "a folder; give the page's file name"),
    ("out folder missing", ["{sweep}", "--out", "{tmp}/no/labels.html"], "does not exist"),
    ("out under a file", ["{sweep}", "--out", "{tmp}/afile/labels.html"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(sweep, tmp_path, capsys, case, args, message) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "emptyjob").mkdir()
    (tmp_path / "emptyjob" / "run.jsonl").write_text("")
    (tmp_path / "emptyjob" / "job.json").write_text('{"status": "failed"}')
    (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in (sweep / "0").iterdir())
    argv = [a.format(tmp=tmp_path, sweep=sweep) for a in args]
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(label_main(["--out", str(tmp_path / "labels.html"), *argv]))
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "labels.html").exists() and sorted(p.name for p in (sweep / "0").iterdir()) == before


def test_an_unwritable_page_is_one_line_and_exit_2(sweep, tmp_path) -> None:
    """As a user runs it, in a subprocess; /proc refuses a new file even to root."""
    proc = sycobench(str(sweep), "--n", "3", "--out", "/proc/labels.html", cwd=tmp_path, module="sycobench.label")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("sycobench.label: error: ") and "labels.html" in proc.stderr
