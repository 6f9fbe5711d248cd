"""The offline scorer never headlines a real model: refused without `scorer.allow_unvalidated=true`, and with
it every table row it feeds is marked and the report says so first. The check is the scorer class's own."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from sycobench import compose
from sycobench.config import ReportConfig, ScorerConfig, to_config
from sycobench.errors import ConfigError
from sycobench.report.tables import SUMMARY_COLUMNS
from sycobench.scoring.offline import OfflineScorer
from sycobench.spec import prepare_job
from tests.test_cli import sycobench

REAL = ["model=openrouter", "model.id=x/real-model", "scorer=offline"]


def _cfg(tmp_path: Path, *overrides: str, base_url: str | None = None):
    url = [f"model.base_url={base_url}"] if base_url else []
    return to_config(compose([*overrides, *url, "scenario.limit=3", "rate_limit=unlimited", "run.progress=false",
                              f"run.cache_dir={tmp_path / 'cache'}", "report.bootstrap=200"]))


def test_the_offline_scorer_refuses_a_real_target_in_its_own_check(tmp_path, monkeypatch, fake_key) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    cfg = _cfg(tmp_path, *REAL)
    with pytest.raises(ConfigError) as err:
        OfflineScorer.check(cfg.scorer, scenario=cfg.scenario, target=cfg.model)
    message = str(err.value)
    assert "\n" not in message and "scorer=judge" in message and "scorer.allow_unvalidated=true" in message
    with pytest.raises(ConfigError, match="allow_unvalidated"):
        prepare_job(cfg)
    OfflineScorer.check(ScorerConfig(name="offline", allow_unvalidated=True), scenario=cfg.scenario, target=cfg.model)
    mock = _cfg(tmp_path, "scorer=offline")
    OfflineScorer.check(mock.scorer, scenario=mock.scenario, target=mock.model)  # the mock is simulated


@pytest.mark.slow
def test_cli_refuses_offline_scores_of_a_real_model_in_one_line(tmp_path, fake_openrouter, fake_key) -> None:
    proc = sycobench(*REAL, f"model.base_url={fake_openrouter.base_url}", f"hydra.run.dir={tmp_path / 'job'}",
                     cwd=tmp_path, env={"OPENROUTER_API_KEY": fake_key})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "scorer=judge" in lines[0] and "scorer.allow_unvalidated=true" in lines[0], lines
    assert fake_openrouter.stats()["requests"] == 0 and not (tmp_path / "job" / "run.jsonl").exists()


def _real_job(tmp_path: Path, fake, key: str, monkeypatch, *extra: str) -> Path:
    from sycobench.job import run_job

    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    cfg = _cfg(tmp_path, *REAL, "scorer.allow_unvalidated=true", *extra, base_url=fake.base_url)
    return run_job(prepare_job(cfg), tmp_path / "job").job_dir


def test_with_the_override_every_row_is_marked_and_the_report_says_so_first(tmp_path, fake_openrouter, fake_key,
                                                                          monkeypatch, caplog) -> None:
    from sycobench.report import write_report

    with caplog.at_level("WARNING"):
        job = _real_job(tmp_path, fake_openrouter, fake_key, monkeypatch)
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("unvalidated:")]
    assert len(warnings) == 1 and "x/real-model" in warnings[0] and "scorer=judge" in warnings[0]
    for name in ("uplift", "stance_mix"):
        table = pl.read_csv(job / f"{name}.csv")
        assert table["unvalidated"].to_list() == [True] * table.height, name
    assert pl.read_csv(job / "summary.csv").columns == [c.replace("a_", "landlord_").replace("b_", "tenant_")
                                                        for c in SUMMARY_COLUMNS]  # the original package's columns
    assert pl.read_csv(job / "unvalidated.csv").rows() == [("x/real-model", "offline", "rent")]

    write_report([job], tmp_path / "report", ReportConfig(bootstrap=200))
    md = (tmp_path / "report" / "report.md").read_text()
    lines = [line for line in md.splitlines() if line]
    assert lines[0] == "# sycobench report (unvalidated scores)"
    assert lines[1].startswith("Unvalidated: offline scored answers of x/real-model")  # the first line under the title
    assert md.count("Unvalidated:") == 1 and "x/real-model (unvalidated)" in md
    html = (tmp_path / "report" / "report.html").read_text()
    body = html.split("</h1>", 1)[1].lstrip()
    assert re.match(r'<p class="[^"]*">Unvalidated: offline scored answers of x/real-model', body), body[:200]
    assert "<title>sycobench report (unvalidated scores)</title>" in html
    assert pl.read_csv(tmp_path / "report" / "uplift.csv")["unvalidated"].all()
    assert (tmp_path / "report" / "unvalidated.csv").is_file()


def test_only_the_rows_of_the_unvalidated_scorer_are_marked(tmp_path, fake_openrouter, fake_key, monkeypatch) -> None:
    """A real model judged, then scored later by the offline scorer with the override."""
    from sycobench.score import ScoreAppConfig, score_path
    from sycobench.scoring.judge import default_judge

    judge = ["scorer=judge", f"scorer.model.base_url={fake_openrouter.base_url}"]
    job = _real_job(tmp_path, fake_openrouter, fake_key, monkeypatch, *judge)
    cfg = _cfg(tmp_path, *REAL)
    app = ScoreAppConfig(scorer=cfg.scorer, rate_limit=cfg.rate_limit, run=cfg.run, report=cfg.report, run_dir=str(job))
    with pytest.raises(ConfigError, match="allow_unvalidated"):
        score_path(job, app)
    app.scorer = ScorerConfig(name="offline", allow_unvalidated=True)
    score_path(job, app)
    marks = dict(pl.read_csv(job / "uplift.csv").select("scorer", "unvalidated").iter_rows())
    assert marks == {default_judge().name + ":openai/gpt-4o-mini": False, "offline": True}


def test_mock_answers_are_never_marked(tmp_path, caplog) -> None:
    from sycobench.job import run_job
    from sycobench.report import write_report

    with caplog.at_level("INFO"):
        job = run_job(prepare_job(_cfg(tmp_path)), tmp_path / "job").job_dir
    messages = [r.getMessage() for r in caplog.records]
    assert not any(m.startswith("unvalidated:") for m in messages)
    assert any("scorer offline on the held-out v2 rent validation answers" in m for m in messages)
    assert not pl.read_csv(job / "uplift.csv")["unvalidated"].any() and not (job / "unvalidated.csv").exists()
    write_report([job], tmp_path / "report", ReportConfig(bootstrap=200))
    assert (tmp_path / "report" / "report.md").read_text().splitlines()[0] == "# sycobench report"


def test_a_plugin_scorer_is_marked_by_its_class_not_its_name(tmp_path) -> None:
    from sycobench.scoring import Scorer, register_scorer
    from sycobench.scoring.base import SCORERS
    from sycobench.validation import unvalidated

    @register_scorer("keywords-test")
    class Keywords(Scorer):
        validated_on_real_models = False

    try:
        results = pl.DataFrame({"model_id": ["m", "m", "mock"], "scorer": ["keywords-test", "judge:j", "keywords-test"],
                                "scenario": "rent"})
        calls = pl.DataFrame({"model_id": ["m", "mock"], "role": "target", "api": ["openrouter", "mock"]})
        assert unvalidated(results, calls).rows() == [("m", "keywords-test", "rent")]
        combined = results.with_columns(pl.lit("mean(judge:j,keywords-test)").alias("scorer"))
        assert unvalidated(combined, calls)["model_id"].to_list() == ["m"]  # a mean rests on each of its scorers
    finally:
        SCORERS._entries.pop("keywords-test", None)


def test_a_model_is_simulated_by_its_provider_or_by_its_records_own_flag() -> None:
    """Target calls only; a provider no longer installed leaves its model as it is; no model is named twice."""
    from sycobench.validation import _simulated_models

    calls = pl.DataFrame({
        "model_id": ["m-mock", "m-mock", "m-said", "m-real", "m-judge", "m-gone", None],
        "role": ["target", "target", "target", "target", "judge", "target", "target"],
        "api": ["mock", "mock", "openrouter", "openrouter", "mock", "no-such-provider", "mock"],
        "simulated": [None, None, True, False, None, None, None],
    })
    assert _simulated_models(calls) == ["m-mock", "m-said"]
    assert _simulated_models(calls.drop("simulated")) == ["m-mock"]
    assert _simulated_models(calls.drop("api")) == ["m-said"]
    assert _simulated_models(calls.drop("role")) == ["m-judge", "m-mock", "m-said"]
    assert _simulated_models(None) == []
