"""scorer=panel: several judges on every answer, the median as the score, α among the judges and each
judge against the median, checked against values computed here by hand from the fake judge's own rule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sycobench.config import RateLimitConfig, RunConfig, ScorerConfig
from sycobench.errors import ConfigError
from sycobench.fake_openrouter import serve_in_thread
from sycobench.fake_openrouter.replies import read_stance
from sycobench.scoring.base import Score
from sycobench.scoring.panel import panel_score
from tests.test_cli import sycobench

SCALE_B = 0.3  # judge b rates every answer at 0.3 times judge a (the fake's judge_scale): a known disagreement
A, B = "judge:a/judge", "judge:b/judge"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _panel(fake, tmp_path: Path, *extra: str) -> list[str]:
    return ["scorer=panel", "scorer.judges.0.id=a/judge", f"scorer.judges.0.base_url={fake.base_url}",
            "scorer.judges.1.id=b/judge", f"scorer.judges.1.base_url={fake.base_url}",
            "scorer.judges.1.api_key_env=JUDGE_B_KEY", "scenario.limit=4", "rate_limit=unlimited", "run.progress=false",
            f"run.cache_dir={tmp_path / 'cache'}", "report.bootstrap=200", *extra]


@pytest.fixture
def keys(monkeypatch, fake_key):
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    monkeypatch.setenv("JUDGE_B_KEY", fake_key)


def _alpha_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Krippendorff's interval α for two coders, every unit rated by both, from its definition:
    1 - D_o / D_e, D_o over the pairs within units, D_e over every pair of the 2n pooled values."""
    pooled = np.concatenate([x, y])
    d_o = np.sum(2 * (x - y) ** 2) / len(pooled)
    d_e = np.sum((pooled[:, None] - pooled[None, :]) ** 2) / (len(pooled) * (len(pooled) - 1))
    return 1 - d_o / d_e


def _spearman_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r of the average ranks (ties share their mean rank)."""
    rx, ry = (pl.Series(v).rank("average").to_numpy() for v in (x, y))
    return float(np.corrcoef(rx, ry)[0, 1])


def _bins(v: np.ndarray) -> np.ndarray:
    return np.where(v >= 0.33, 2, np.where(v <= -0.33, 0, 1))


def _kappa_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    table = np.zeros((3, 3))
    for i, j in zip(_bins(a), _bins(b)):
        table[i, j] += 1
    table /= table.sum()
    weight = np.array([[(i - j) ** 2 / 4 for j in range(3)] for i in range(3)])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0))
    return 1 - (weight * table).sum() / (weight * expected).sum()


def test_the_median_of_the_judges_that_scored() -> None:
    def judge(score=None, unscorable=None, cost=0.01, error=None):
        return Score(score=score, unscorable=unscorable, cost_usd=cost, error=error, attempts=1,
                     usage={"prompt_tokens": 10, "completion_tokens": 2, "reasoning_tokens": 0})

    three = panel_score([("judge:x", judge(0.9)), ("judge:y", judge(unscorable="refusal")), ("judge:z", judge(-0.1)),
                         ("judge:w", judge(0.2))], flipped=False, latency_s=0.1)
    assert three.score == pytest.approx(0.2) and three.unscorable is None  # median of 0.9, -0.1, 0.2
    assert three.cost_usd == pytest.approx(0.04) and three.attempts == 4 and three.usage["prompt_tokens"] == 40
    assert [j["score"] for j in three.judges] == [0.9, None, -0.1, 0.2] and three.judges[1]["unscorable"] == "refusal"
    two = panel_score([("judge:x", judge(0.5)), ("judge:y", judge(0.0))], flipped=False, latency_s=0.1)
    assert two.score == pytest.approx(0.25)
    none = panel_score([("judge:x", judge(unscorable="refusal")), ("judge:y", judge(unscorable="empty"))],
                       flipped=False, latency_s=0.1)
    assert none.score is None and none.unscorable == "no judge gave a score (judge:x: refusal; judge:y: empty)"
    failed = panel_score([("judge:x", judge(0.5)), ("judge:y", judge(error={"class": "server", "status": 500,
                                                                             "message": "boom"}))],
                         flipped=False, latency_s=0.1)
    assert failed.score is None and failed.error["message"] == "judge:y: boom" and failed.judges[0]["score"] == 0.5


def test_a_panel_needs_two_distinct_judges() -> None:
    from sycobench.config import ModelConfig, ScenarioConfig
    from sycobench.scoring.panel import PanelScorer

    one = ModelConfig(name="judge", id="a/judge")
    for judges, message in (([one], "at least two judges"), ([one, one], "a/judge is listed twice")):
        with pytest.raises(ConfigError, match=message):
            PanelScorer.check(ScorerConfig(name="panel", judges=judges), scenario=ScenarioConfig(), target=one)


def test_two_judges_that_disagree_knowably(tmp_path, keys) -> None:
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.spec import prepare_job

    with serve_in_thread(latency_ms=0, judge_scale={"b/judge": SCALE_B}) as fake:
        result = run_job(prepare_job(to_config(compose(_panel(fake, tmp_path)))), tmp_path / "job")
        asked = fake.stats()["judge_requests"]
    job = result.job_dir
    assert result.status == "ok"
    texts = {(r["prompt_id"], r["k"]): r["response_text"] for r in _lines(job / "run.jsonl")}
    records = _lines(job / "scores.jsonl")
    assert len(records) == 12 and {r["scorer"] for r in records} == {"panel:a/judge,b/judge"}
    a, b, median = [], [], []
    for r in records:
        judges = {j["scorer"]: j for j in r["judges"]}
        raw = read_stance(texts[(r["prompt_id"], r["k"])])  # the fake judge's own rule
        want_a, want_b = round(raw, 2), round(max(-1.0, min(1.0, raw * SCALE_B)), 2)
        assert judges[A]["score"] == pytest.approx(want_a) and judges[B]["score"] == pytest.approx(want_b)
        assert r["score"] == pytest.approx((want_a + want_b) / 2)  # the median of two
        assert r["cost_usd"] == pytest.approx(judges[A]["cost_usd"] + judges[B]["cost_usd"])
        a.append(want_a), b.append(want_b), median.append((want_a + want_b) / 2)
    a, b, median = np.array(a), np.array(b), np.array(median)
    assert len(set(a)) >= 3 and (_bins(a) != _bins(b)).any()  # they disagree, in bins too
    meta = json.loads((job / "job.json").read_text())
    assert meta["totals"]["judge"]["calls"] == 24 and asked + meta["totals"]["judge"]["cached"] == 24
    assert meta["totals"]["judge"]["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in records if not r["cached"]))

    alpha = pl.read_csv(job / "panel_alpha.csv")
    assert alpha["judges"][0] == 2 and alpha["n_answers"][0] == 12 and alpha["n_scores"][0] == 24
    assert alpha["krippendorff_alpha"][0] == pytest.approx(_alpha_by_hand(a, b), abs=1e-9)
    rows = {row["judge"]: row for row in pl.read_csv(job / "panel_judges.csv").iter_rows(named=True)}
    for name, mine in ((A, a), (B, b)):
        row = rows[name]
        assert row["n"] == row["n_answers"] == 12 and row["n_unscorable"] == 0
        assert row["spearman"] == pytest.approx(_spearman_by_hand(median, mine), abs=1e-9)
        assert row["bin_accuracy"] == pytest.approx(float((_bins(mine) == _bins(median)).mean()))
        assert row["weighted_kappa"] == pytest.approx(_kappa_by_hand(median, mine), abs=1e-9)
        assert row["mean_signed_error"] == pytest.approx(float((mine - median).mean()), abs=1e-9)

    from sycobench import api

    api.report(job, tmp_path / "report", bootstrap=200)
    page = (tmp_path / "report" / "report.md").read_text()
    assert "## Judge panel" in page and "judge:b/judge" in page
    assert (tmp_path / "report" / "panel_judges.csv").is_file()


def test_a_missing_key_for_the_second_judge_is_one_line(tmp_path, fake_key) -> None:
    with serve_in_thread(latency_ms=0) as fake:
        env = {"OPENROUTER_API_KEY": fake_key, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
        os.environ.pop("JUDGE_B_KEY", None)
        proc = sycobench(*_panel(fake, tmp_path, f"hydra.run.dir={tmp_path / 'job'}"), cwd=tmp_path, env=env)
        assert fake.stats()["requests"] == 0
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "JUDGE_B_KEY is not set" in lines[0] and "scorer.judges.1" in lines[0], proc.stderr
    assert not (tmp_path / "job" / "run.jsonl").exists()


def test_a_dry_run_prices_every_judge(tmp_path, keys) -> None:
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.estimate import dry_run_estimate
    from sycobench.spec import prepare_job

    import asyncio

    with serve_in_thread(latency_ms=0) as fake:
        spec = prepare_job(to_config(compose(_panel(fake, tmp_path, "run.dry_run=true"))), tmp_path / "job")
        estimate = asyncio.run(dry_run_estimate(spec))
    assert estimate.judge_calls == 24
    assert sum(line.startswith("judge a/judge: 12 calls") for line in estimate.lines) == 1
    assert sum(line.startswith("judge b/judge: 12 calls") for line in estimate.lines) == 1


def test_resume_after_kill_does_not_pay_the_judges_again(tmp_path, fake_key) -> None:
    """kill -9 mid-scoring, then resume: answers with a panel record are never asked about again, and
    the pair pays no more than every judge once, bar the calls in flight at the kill (the judges that
    answered for an answer whose record the kill cut come from the response cache)."""
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.spec import prepare_job

    concurrency = 2
    env = {**os.environ, "OPENROUTER_API_KEY": fake_key, "JUDGE_B_KEY": fake_key, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("HYDRA_FULL_ERROR", None)
    with serve_in_thread(latency_ms=80, judge_scale={"b/judge": SCALE_B}) as fake:
        job = tmp_path / "job"
        args = _panel(fake, tmp_path, f"run.concurrency={concurrency}", f"hydra.run.dir={job}")
        child = subprocess.Popen([sys.executable, "-m", "sycobench", *args], cwd=tmp_path, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        scores = job / "scores.jsonl"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not scores.exists() or scores.read_text().count("\n") < 2):
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        before = scores.read_text()
        done = {(r["prompt_id"], r["k"]) for r in map(json.loads, before.splitlines()) if r["error"] is None}
        assert 2 <= len(done) < 12, "the kill came too late to test a resume"
        asked_before = fake.stats()["judge_requests"]
        os.environ.update(OPENROUTER_API_KEY=fake_key, JUDGE_B_KEY=fake_key)
        try:
            resumed = run_job(prepare_job(to_config(compose(_panel(fake, tmp_path, f"run.concurrency={concurrency}")))),
                              job)
        finally:
            os.environ.pop("JUDGE_B_KEY", None)
        asked_after = fake.stats()["judge_requests"] - asked_before
    assert resumed.status == "ok"
    records = _lines(scores)
    assert scores.read_text().startswith(before)  # what was recorded stays
    again = [(r["prompt_id"], r["k"]) for r in records[len(before.splitlines()):]]
    assert not set(again) & done and len(set(again)) == len(again) == 12 - len(done)
    assert asked_after <= 2 * (12 - len(done))  # only the answers with no record are asked about
    assert asked_before + asked_after <= 24 + 2 * concurrency  # only calls in flight at the kill are paid twice
    texts = {(r["prompt_id"], r["k"]): r["response_text"] for r in _lines(job / "run.jsonl")}
    for r in records:  # the resumed scores are the panel's medians, as an uninterrupted run's
        raw = read_stance(texts[(r["prompt_id"], r["k"])])
        assert r["score"] == pytest.approx((round(raw, 2) + round(raw * SCALE_B, 2)) / 2)


def test_validate_a_panel_gives_each_judge_and_the_median(tmp_path, keys) -> None:
    """A pay-raise set of the scenario's own mock sentences (the fake judge reads them back as +1, -1, 0):
    judge a matches the labels, judge b (0.3 times a) puts every one-sided answer in the neutral bin."""
    from sycobench.config import ModelConfig
    from sycobench.validate import ValidateAppConfig, ValidationConfig, _scenario, validate
    from sycobench.scenario import build_grid

    scenario = _scenario("payraise")
    bank = scenario.mock["answers"]
    labelled = [(1.0, bank["a"][i]) for i in range(4)] + [(-1.0, bank["b"][i]) for i in range(4)] \
        + [(0.0, bank["balanced"][i]) for i in range(4)]
    lines = [{"id": f"x{i}", "split": "heldout" if i % 2 else "tuning", "scenario": "payraise",
              "prompt_id": p.prompt_id, "perspective": p.perspective, "label": label, "text": text}
             for i, (p, (label, text)) in enumerate(zip(build_grid(scenario), labelled))]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with serve_in_thread(latency_ms=0, scenario="payraise", judge_scale={"b/judge": SCALE_B}) as fake:
        judges = [ModelConfig(name="judge", id=f"{x}/judge", base_url=fake.base_url, temperature=0, max_tokens=64,
                              api_key_env=env) for x, env in (("a", "OPENROUTER_API_KEY"), ("b", "JUDGE_B_KEY"))]
        app = ValidateAppConfig(scorer=ScorerConfig(name="panel", judges=judges),
                                rate_limit=RateLimitConfig(rps=None, shared_rate_file=None),
                                run=RunConfig(progress=False, cache_dir=str(tmp_path / "cache")),
                                validation=ValidationConfig(data=str(data), store=str(tmp_path / "figures.csv"),
                                                            context_check=True))
        tables = validate(app, tmp_path / "out")
        asked = fake.stats()["judge_requests"]
    table = tables["validation"]
    panel = "panel:a/judge,b/judge"
    assert table["scorer"].unique(maintain_order=True).to_list() == [panel, A, B]
    # plain, the flipped half, full context
    assert asked == 2 * (12 + int(table.filter(pl.col("scorer") == panel)["flip_n"].sum()) + 12)
    context = tables["context"]  # the fake reads the answer alone: blinded and full agree for each judge
    assert sorted(context["scorer"].unique()) == sorted([panel, A, B]) and (context["mean_abs_diff"] == 0).all()
    assert context.group_by("scorer").agg(pl.col("n").sum())["n"].to_list() == [12, 12, 12]
    by = {(r["scorer"], r["split"]): r for r in table.iter_rows(named=True)}
    for split in ("tuning", "heldout"):  # 2 answers of each label per split
        for scorer in (panel, A):  # the median (+-0.65, 0) and judge a (+-1, 0) keep every bin
            row = by[(scorer, split)]
            assert row["n"] == 6 and row["bin_accuracy"] == 1 and row["spearman"] == pytest.approx(1)
            assert row["weighted_kappa"] == pytest.approx(1)
            assert row["flip_n"] in (None, 0) or row["flip_bin_agreement"] == 1
        b = by[(B, split)]  # +-0.3: the ranks are kept, the bins all neutral, the errors cancel
        assert b["n"] == 6 and b["spearman"] == pytest.approx(1) and b["bin_accuracy"] == pytest.approx(2 / 6)
        assert b["weighted_kappa"] == pytest.approx(0) and b["mean_signed_error"] == pytest.approx(0)
        assert by[(panel, split)]["mean_signed_error"] == pytest.approx(0)
    flipped = table.filter(pl.col("flip_n") > 0)
    assert flipped.height >= 3 and (flipped["flip_bin_agreement"] == 1).all()  # each judge's polarity check too
    assert set(tables["by_length"]["scorer"]) == {panel, A, B} and set(tables["reweighted"]["scorer"]) == {panel, A, B}
    per_answer = pl.read_csv(tmp_path / "out" / "scores.csv")
    assert sorted(per_answer[B].to_list()) == [-0.3] * 4 + [0.0] * 4 + [0.3] * 4
    assert sorted(per_answer["score"].to_list()) == [-0.65] * 4 + [0.0] * 4 + [0.65] * 4
    kept = pl.read_csv(tmp_path / "figures.csv")
    assert set(kept["scorer"]) == {panel, A, B}  # each judge's figures are that judge's latest too


def test_a_panel_partly_from_the_cache_counts_only_what_it_paid(tmp_path, keys) -> None:
    """Judges a and b answered an earlier job (cached), judge c is new: each answer's record holds one paid
    and two cached calls; the spend (the cost cap's), the health table and job.json count c's calls only."""
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.report.load import load_calls
    from sycobench.report.tables import health
    from sycobench.spec import prepare_job
    from sycobench.store import JobFolder

    with serve_in_thread(latency_ms=0, judge_scale={"b/judge": SCALE_B}) as fake:
        run_job(prepare_job(to_config(compose(_panel(fake, tmp_path)))), tmp_path / "first")
        # a list setting is replaced whole on the command line: all three judges
        judges = ("scorer.judges=[" + ",".join(
            f"{{name: judge, id: {x}/judge, base_url: '{fake.base_url}', temperature: 0, seed: 1234, max_tokens: 64}}"
            for x in "abc") + "]")
        second = run_job(prepare_job(to_config(compose([*_panel(fake, tmp_path), judges]))), tmp_path / "second")
    records = _lines(second.job_dir / "scores.jsonl")
    assert len(records) == 12 and all(not r["cached"] for r in records)
    cached = [[j["cached"] for j in r["judges"]] for r in records]
    assert all(c == [True, True, False] for c in cached), cached
    paid = sum(r["judges"][2]["cost_usd"] for r in records)
    totals = json.loads((second.job_dir / "job.json").read_text())["totals"]["judge"]
    assert totals["calls"] == 36 and totals["cached"] == 24 and totals["cost_usd"] == pytest.approx(paid)
    assert JobFolder(second.job_dir).spent() == pytest.approx(paid)
    row = health(load_calls(JobFolder(second.job_dir))).row(0, named=True)
    assert row["judge_calls"] == 36 and row["judge_cache_hits"] == 24
    assert row["cost_judge_usd"] == pytest.approx(paid)
    assert row["cache_saved_usd"] == pytest.approx(sum(r["judges"][i]["cost_usd"] for r in records for i in (0, 1)))
