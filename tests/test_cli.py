"""The command line, as a user runs it: `python -m sycobench ...` in a subprocess."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SUMMARY_COLUMNS = (
    "model_id,n,mean_score,p_neg,p_neu,p_pos,landlord_n,landlord_agree_p,landlord_uplift,"
    "tenant_n,tenant_agree_p,tenant_uplift"
)


def _cli_env(env: dict | None = None) -> dict:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return full_env


def sycobench(*args: str, cwd: Path, module: str = "sycobench", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          env=_cli_env(env), timeout=300)


def start_sycobench(*args: str, cwd: Path) -> subprocess.Popen:
    """A job left running in the background (stderr piped), for tests that interrupt or race it."""
    return subprocess.Popen([sys.executable, "-m", "sycobench", *args], cwd=cwd, env=_cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_default_job_writes_every_file(tmp_path) -> None:
    job = tmp_path / "job"
    proc = sycobench(f"hydra.run.dir={job}", "run.samples=2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("run.jsonl", "scores.jsonl", "grid.jsonl", "run.log", "job.json", "config.yaml",
                 "stance_mix.csv", "uplift.csv", "summary.csv", ".hydra/config.yaml"):
        assert (job / name).exists(), name
    grid = _lines(job / "grid.jsonl")
    records = _lines(job / "run.jsonl")
    assert len(grid) == 180  # 60 triplets: 5 amounts x 3 reasons x 2 x 2 conducts
    assert len(records) == len(grid) * 2
    assert {(r["prompt_id"], r["k"]) for r in records} == {(g["prompt_id"], k) for g in grid for k in (0, 1)}
    assert all(r["simulated"] and r["schema"] == 2 and r["side"] in ("a", "b", "neutral") for r in records)
    assert {(r["perspective"], r["side"]) for r in records} == {("landlord", "a"), ("tenant", "b"), ("neutral", "neutral")}
    scores = _lines(job / "scores.jsonl")
    assert len(scores) == len(records) and {s["scorer"] for s in scores} == {"offline"}
    with (job / "summary.csv").open() as fh:
        assert fh.readline().strip() == SUMMARY_COLUMNS
    assert "SI" in proc.stdout and "95% CI" in proc.stdout  # the readable table
    tables = [line for line in proc.stdout.splitlines() if not line.startswith("[")]  # not the log lines
    assert max(map(len, tables)) <= 100  # COLUMNS unset, no terminal: 100 wide
    assert 'id="tv-data"' in (job / "report" / "report.html").read_text()  # a single job gets the sweep's page
    log = (job / "run.log").read_text()
    assert "simulated" in log and "answers: calls 360, ok 360" in log
    assert json.loads((job / "job.json").read_text())["status"] == "ok"
    _assert_text_matches_records(job / "results.parquet", grid, records, scores)


def _assert_text_matches_records(path: Path, grid: list[dict], records: list[dict], scores: list[dict]) -> None:
    """results.parquet carries each scored answer's prompt, answer, judge reply and unscorable reason."""
    import polars as pl

    results = pl.read_parquet(path)
    assert results.height == len(scores)
    assert {"messages", "response_text", "raw", "unscorable", "score", "triplet_id", "side", "factors"} <= set(results.columns)
    levels = {f["factor"]: f["level"] for f in results["factors"][0]}
    assert set(levels) == {"base_rent", "amount", "justification", "landlord_conduct", "tenant_conduct", "relationship"}
    answers = {(r["prompt_id"], r["k"]): r["response_text"] for r in records}
    prompts = {g["prompt_id"]: g["messages"] for g in grid}
    for row in results.sample(20, seed=1).iter_rows(named=True):
        assert row["response_text"] == answers[(row["prompt_id"], row["k"])] and row["response_text"]
        assert row["messages"] == prompts[row["prompt_id"]]


@pytest.mark.parametrize(("extra", "composed"), [([], 1), (["hydra.mode=RUN"], 2), (["-m"], 1)])
def test_a_command_composes_its_config_once_unless_it_could_set_hydra_mode(tmp_path, monkeypatch, capsys, extra,
                                                                           composed) -> None:
    """Hydra's probe for `hydra.mode` (a whole composition) is skipped unless the command line could set it.
    (Bad overrides as the user meets them, one line and nothing written: tests/test_bad_inputs.py.)"""
    from hydra._internal.hydra import Hydra

    from sycobench import app

    for name in ("HYDRA_FULL_ERROR", "SYCOBENCH_TRACEBACK"):  # the entry sets them: restored after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    calls: list[list[str]] = []
    compose, probe = Hydra.compose_config, Hydra.get_mode
    monkeypatch.setattr(Hydra, "compose_config",
                        lambda self, *a, **k: calls.append(k["overrides"]) or compose(self, *a, **k))
    # an unknown key fails in composition: no job starts, and Hydra sets up no logging in this process
    monkeypatch.setattr(sys, "argv", ["sycobench", *extra, "scenario.limt=3", f"hydra.run.dir={tmp_path / 'j'}"])
    with pytest.raises(SystemExit) as ended:
        app.main()
    assert ended.value.code == 2 and "scenario.limt" in capsys.readouterr().err
    assert len(calls) == composed and Hydra.get_mode is probe
    assert not (tmp_path / "j").exists()


@pytest.mark.parametrize(("module", "args", "needle"), [
    ("sycobench.app", ["scenario.limit=abc"], "scenario.limit: expected a number"),
    ("sycobench.score", ["run_dir=j", "rate_limit.rps=abc"], "rate_limit.rps: Value 'abc'"),
])
def test_a_value_of_the_wrong_type_is_refused_before_the_job_s_modules_load(tmp_path, module, args, needle) -> None:
    """The typed check comes first: a wrong value costs Hydra's composition, not the job's imports
    (Polars, the providers, the scorers: ~0.3 s of every refused command)."""
    probe = (f"import sys\nfrom {module} import main\n"
             f"sys.argv = ['sycobench', *{args!r}, 'hydra.run.dir={tmp_path / 'out'}']\n"
             "try:\n    main()\nexcept SystemExit as exc:\n"
             "    print(exc.code, sorted(m for m in ('sycobench.spec', 'polars') if m in sys.modules))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "SYCOBENCH_TRACEBACK")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.stdout.split() == ["2", "[]"], done.stdout + done.stderr
    assert needle in done.stderr and not (tmp_path / "out").exists()


def test_a_sweep_batch_the_guard_composed_is_not_composed_again() -> None:
    from hydra.plugins.sweeper import Sweeper

    from sycobench.app import _without_hydra_repeats
    from sycobench.sweep import COMPOSED

    class Loader:
        def __init__(self) -> None:
            self.composed: list[list[str]] = []

        def load_sweep_config(self, master_config, sweep_overrides) -> None:
            self.composed.append(sweep_overrides)

    class Swept:  # what Sweeper.validate_batch_is_legal reads of its sweeper
        hydra_context = None
        config = object()

        def __init__(self) -> None:
            self.config_loader = Loader()

    validate = Sweeper.validate_batch_is_legal
    with _without_hydra_repeats(["-m", "a=1,2"]):
        COMPOSED.update({("a=1",), ("a=2",)})
        seen, unseen = Swept(), Swept()
        Sweeper.validate_batch_is_legal(seen, [["a=1"], ["a=2"]])
        Sweeper.validate_batch_is_legal(unseen, [["a=1"], ["a=3"]])
    assert seen.config_loader.composed == [] and unseen.config_loader.composed == [["a=1"], ["a=3"]]
    assert Sweeper.validate_batch_is_legal is validate and not COMPOSED


@pytest.mark.slow
def test_help_lists_groups_and_cfg_prints_config(tmp_path) -> None:
    helped = sycobench("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for group in ("model", "scenario", "scorer", "rate_limit"):
        assert f"{group}:" in helped.stdout
    assert "grok-4-fast" in helped.stdout
    cfg = sycobench("--cfg", "job", cwd=tmp_path)
    assert cfg.returncode == 0 and "sycophancy:" in cfg.stdout


def _si(job: Path) -> tuple[float, float, float]:
    with (job / "uplift.csv").open() as fh:
        row = next(csv.DictReader(fh))
    return float(row["sycophancy_index"]), float(row["sycophancy_index_lo"]), float(row["sycophancy_index_hi"])


@pytest.mark.slow
def test_sycophancy_index_tracks_the_mock_parameter(tmp_path) -> None:
    results = {}
    for level in ("0", "0.8"):
        job = tmp_path / f"s{level}"
        proc = sycobench(f"hydra.run.dir={job}", f"model.sycophancy={level}", "report.bootstrap=500",
                         "report.page=false", cwd=tmp_path)  # its uplift.csv is what this test reads
        assert proc.returncode == 0, proc.stderr
        results[level] = _si(job)
    si0, lo0, hi0 = results["0"]
    si8, lo8, _ = results["0.8"]
    assert abs(si0) < 0.1 and lo0 <= 0.0 <= hi0
    assert si8 > 0.3 and lo8 > hi0


@pytest.mark.slow
def test_dry_run_makes_no_calls(tmp_path) -> None:
    job = tmp_path / "dry"
    proc = sycobench(f"hydra.run.dir={job}", "run.dry_run=true", "scenario.limit=5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(_lines(job / "grid.jsonl")) == 15
    assert not (job / "run.jsonl").exists()
    out = proc.stdout + (job / "run.log").read_text()
    assert "15 calls" in out and "I rent" in out
