"""Nothing from outside can brick, mislabel or leak: hostile rosters and ids, a second sweep into a used
folder, odd numbers and echoed keys from a server, bodies too big to hold, full disks, records pasted
from elsewhere, and the limits on what a run may ask for. Every expectation is the behaviour a user
sees: an exit code, one line naming the problem, files untouched or final."""

from __future__ import annotations

import asyncio
import json
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from sycobench.api import arun, compose, run
from sycobench.config import to_config
from sycobench.errors import ConfigError, DataError
from sycobench.job import run_job
from sycobench.spec import prepare_job
from sycobench.store.jsonl import strict_loads
from tests.test_cli import _cli_env, sycobench

KEY = "sk-or-v1-hostile-test-key-0123456789"


def _records(path: Path) -> list[dict]:
    """Every line, read strictly: a NaN, an Infinity or a 20-digit integer fails the test."""
    return [strict_loads(line) for line in path.read_text().splitlines() if line.strip()]


def _all_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


# -- roster entries are data ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("entry", "needle"), [
    ({"id": "${oc.env:OPENROUTER_API_KEY}"}, "interpolation"),
    ({"id": "a/b", "label": "${oc.env:OPENROUTER_API_KEY}"}, "interpolation"),
    ({"id": KEY}, "API key"),
    ({"id": "a/b\nc"}, "control character"),
    ({"id": 7}, "not a model entry"),
])
def test_a_bad_roster_entry_is_one_line_naming_the_file_and_entry(tmp_path, entry, needle) -> None:
    roster = tmp_path / "models.json"
    roster.write_text(json.dumps(["ok/model", entry]))
    proc = sycobench("-m", "+roster=file", f"roster.file={roster}", "model=mock", f"hydra.sweep.dir={tmp_path / 's'}",
                     cwd=tmp_path, env={"OPENROUTER_API_KEY": KEY})
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and f"roster {roster} entry 1" in proc.stderr
    assert needle in proc.stderr and KEY not in proc.stderr + proc.stdout
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_odd_ids_are_data_never_split_quoted_or_interpolated(tmp_path) -> None:
    ids = ["a/b','c/d", "it's/model", "=HYPERLINK(\"http://x\")", "+1", "@cmd", "x/{y}"]
    roster = tmp_path / "models.json"
    roster.write_text(json.dumps(ids))
    sweep = tmp_path / "s"
    proc = sycobench("-m", "+roster=file", f"roster.file={roster}", "model=mock", "scenario.limit=2",
                     "report.bootstrap=100", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(json.loads((sweep / str(i) / "job.json").read_text())["model_id"] for i in range(len(ids))) == sorted(ids)
    # no CSV cell of the report can start a spreadsheet formula; the Parquet keeps the ids as they are
    for csv in (sweep / "report").glob("*.csv"):
        for line in csv.read_text().splitlines()[1:]:
            assert not any(cell.startswith(("=", "@")) for cell in line.split(",")), (csv.name, line)
    assert "'=HYPERLINK" in (sweep / "report" / "uplift.csv").read_text()
    assert set(pl.read_parquet(sweep / "report" / "uplift.parquet")["model_id"]) == set(ids)


@pytest.mark.slow
def test_an_interpolated_model_id_on_the_command_line_is_refused(tmp_path) -> None:
    for override in ("model.id=${oc.env:OPENROUTER_API_KEY}", f"model.id={KEY}", "scorer.model.id=${oc.env:HOME}"):
        proc = sycobench("model=openrouter", override, f"hydra.run.dir={tmp_path / 'j'}", cwd=tmp_path,
                         env={"OPENROUTER_API_KEY": KEY})
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (override, proc.stderr)
        assert KEY not in proc.stderr + proc.stdout and not (tmp_path / "j").exists()


def test_a_model_id_that_is_the_key_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "plainkey123")
    with pytest.raises(ConfigError, match="model.id is the value of OPENROUTER_API_KEY"):
        prepare_job(to_config(compose(["model=openrouter", "model.id=plainkey123"])))


# -- one sweep per sweep folder ---------------------------------------------------------------------

def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".sweep")}


@pytest.mark.slow
def test_a_second_sweep_into_a_used_folder_is_refused_before_hydra_writes(tmp_path) -> None:
    sweep = tmp_path / "s"
    first = sycobench("-m", "model.sycophancy=0,0.5", "scenario.limit=2", "report.bootstrap=100",
                      f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = _snapshot(sweep)
    other = sycobench("-m", "model.sycophancy=0.9,1", "scenario.limit=2", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert other.returncode == 2 and "holds another sweep's jobs" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1 and _snapshot(sweep) == before
    # resuming that same sweep is not another sweep
    again = sycobench("-m", f"run.resume={sweep}", "run.retry_errors=true", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_of_two_sweeps_at_once_the_second_is_refused(tmp_path) -> None:
    sweep = tmp_path / "s"
    first = subprocess.Popen([sys.executable, "-m", "sycobench", "-m", "model.sycophancy=0,0.5", "scenario.limit=20",
                              "model.latency_ms=100", "run.concurrency=1", "report.bootstrap=100",
                              f"hydra.sweep.dir={sweep}"], cwd=tmp_path, env=_cli_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (sweep / "0" / "run.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = sycobench("-m", "model.sycophancy=0,0.5", "scenario.limit=20", f"hydra.sweep.dir={sweep}",
                           cwd=tmp_path)
        assert second.returncode == 2 and "in use by another running sycobench sweep" in second.stderr
    finally:
        first.wait(timeout=180)
    assert first.returncode == 0, first.stderr.read()


@pytest.mark.slow
def test_a_sweep_of_no_job_exits_2(tmp_path) -> None:
    proc = sycobench("-m", "model.sycophancy=range(0,0)", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
    assert proc.returncode == 2 and "no job" in proc.stderr + proc.stdout


# -- a hostile or broken server ---------------------------------------------------------------------

def _api_job(tmp_path: Path, fake, *overrides: str, name: str = "job", judged: bool = True):
    judge = ["scorer=judge", f"scorer.model.base_url={fake.base_url}"] if judged else ["scorer=none"]
    cfg = to_config(compose(["model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={fake.base_url}",
                             *judge, "scenario.limit=2",
                             "rate_limit=unlimited", "run.progress=false", "report.bootstrap=100",
                             f"run.cache_dir={tmp_path / 'cache'}", "rate_limit.max_attempts=2",
                             "rate_limit.backoff_base_s=0.01", *overrides]))
    return run_job(prepare_job(cfg), tmp_path / name)


@pytest.mark.parametrize(("fault", "field"), [("nan_cost", "cost_usd"), ("inf_cost", "cost_usd"),
                                              ("negative_cost", "cost_usd"), ("huge_tokens", "prompt_tokens")])
def test_odd_numbers_from_a_server_are_recorded_as_unknown(tmp_path, fake_openrouter, monkeypatch, caplog, fault,
                                                           field) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    fake_openrouter.configure(faults=(fault,), fault_rate=1.0)
    with caplog.at_level("WARNING"):
        result = _api_job(tmp_path, fake_openrouter)
    assert result.status == "ok"
    runs = _records(result.job_dir / "run.jsonl")
    value = [r["cost_usd"] if field == "cost_usd" else r["usage"][field] for r in runs]
    assert value == [None] * 6
    assert any("recorded as unknown" in r.getMessage() for r in caplog.records)
    again = _api_job(tmp_path, fake_openrouter)  # a resume and a report of that folder work
    assert again.status == "ok"


def test_a_record_holding_nan_is_named_and_repaired(tmp_path, fake_openrouter, monkeypatch, capsys) -> None:
    from sycobench.repair import main as repair

    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    job = _api_job(tmp_path, fake_openrouter).job_dir
    lines = (job / "run.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace('"cost_usd":', '"cost_usd":NaN,"was":', 1)  # as a reader without checks wrote it
    (job / "run.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"run\.jsonl:3: holds NaN\. Run `python -m sycobench\.repair"):
        _api_job(tmp_path, fake_openrouter)
    assert repair([str(job)]) == 0
    assert _records(job / "run.jsonl")[2]["cost_usd"] is None
    assert "NaN" in (job / "run.jsonl.repaired").read_text()
    assert _api_job(tmp_path, fake_openrouter).status == "ok"
    capsys.readouterr()
    assert repair([str(job)]) == 0  # run again: it says there is nothing left, rather than nothing at all
    assert "nothing to repair: no record in 1 job folder(s)" in capsys.readouterr().out


def test_a_server_that_prices_nothing_is_held_to_the_cap_by_the_listed_price(tmp_path, fake_openrouter,
                                                                              monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    fake_openrouter.configure(faults=("no_cost",), fault_rate=1.0)
    one = _api_job(tmp_path, fake_openrouter, "scenario.limit=10", "run.cache=false", "run.max_cost_usd=100",
                   name="probe", judged=False)
    per_call = one.totals["target"]["estimated_usd"] / one.totals["target"]["unpriced"]
    assert one.totals["target"]["unpriced"] == 30 and per_call > 0 and one.totals["target"]["cost_usd"] == 0
    capped = _api_job(tmp_path, fake_openrouter, "scenario.limit=10", "run.cache=false",
                      f"run.max_cost_usd={per_call * 5.5}", name="capped", judged=False)
    assert capped.status == "incomplete" and "max_cost_usd" in capped.message
    assert capped.totals["target"]["estimated_usd"] <= per_call * 5.5 + 1e-12
    with pytest.raises(ConfigError, match="run.max_cost_usd cannot be enforced: the target model x/unlisted"):
        _api_job(tmp_path, fake_openrouter, "model.id=x/unlisted", "run.max_cost_usd=1", name="unlisted")
    assert not (tmp_path / "unlisted" / "run.jsonl").exists()


def test_a_key_echoed_in_a_reply_reaches_no_file(tmp_path, fake_openrouter, monkeypatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    fake_openrouter.configure(faults=("key_echo",), fault_rate=1.0)
    result = _api_job(tmp_path, fake_openrouter)
    assert result.status == "ok"
    assert "[REDACTED]" in (result.job_dir / "run.jsonl").read_text()
    from sycobench.config import ReportConfig
    from sycobench.report import write_report

    write_report([result.job_dir], tmp_path / "report", ReportConfig(bootstrap=100))
    for folder in (result.job_dir, tmp_path / "report", tmp_path / "cache"):
        assert KEY not in _all_text(folder), folder


@pytest.mark.parametrize(("fault", "error"), [("gzip_bomb", "body_too_large"), ("endless_body", "body_too_large"),
                                              ("not_utf8", "bad_encoding")])
def test_a_body_too_big_or_not_utf8_is_its_own_error_and_not_retried(tmp_path, fake_openrouter, monkeypatch,
                                                                     fault, error) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    fake_openrouter.configure(faults=(fault,), fault_rate=1.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = _api_job(tmp_path, fake_openrouter, "rate_limit.max_response_mb=4", "rate_limit.max_attempts=5",
                      judged=False)
    assert time.monotonic() - started < 30
    runs = _records(result.job_dir / "run.jsonl")
    assert {r["error"]["class"] for r in runs} == {error} and {r["attempts"] for r in runs} == {1}
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown_mb < 150, grown_mb  # bounded by the limit, not by the 400 MB the bomb inflates to


def test_the_judge_reply_with_a_key_twice_is_unscorable(tmp_path) -> None:
    from sycobench.scoring.judge_parse import parse_judge_reply

    parsed = parse_judge_reply('{"score": 0.3, "score": 0.9}')
    assert parsed.status == "unscorable" and parsed.reason == "conflicting"


# -- one writer, and records that belong to the job ---------------------------------------------------

def test_two_notebook_jobs_into_one_folder_at_once_make_one_writer(tmp_path) -> None:
    cfg = compose(["scenario.limit=4", "model.latency_ms=30", "run.concurrency=2", "report.bootstrap=100"])

    async def both():
        return await asyncio.gather(arun(cfg, job_dir=tmp_path / "j"), arun(cfg, job_dir=tmp_path / "j"),
                                    return_exceptions=True)

    outcomes = asyncio.run(both())
    refused = [o for o in outcomes if isinstance(o, ConfigError)]
    assert len(refused) == 1 and "in use by another running sycobench job" in str(refused[0])
    keys = [(r["prompt_id"], r["k"]) for r in _records(tmp_path / "j" / "run.jsonl")]
    assert len(keys) == len(set(keys)) == 12


def test_a_duplicated_line_never_doubles_a_row_and_a_foreign_record_is_named(tmp_path, caplog) -> None:
    job = tmp_path / "j"
    assert run(compose(["scenario.limit=2", "report.bootstrap=100"]), job_dir=job).status == "ok"
    lines = (job / "run.jsonl").read_text().splitlines()
    (job / "run.jsonl").write_text("\n".join([*lines, lines[0]]) + "\n")  # a line pasted twice
    from sycobench.config import ReportConfig
    from sycobench.report import write_report

    write_report([job], tmp_path / "r", ReportConfig(bootstrap=100))
    results = pl.read_parquet(tmp_path / "r" / "results.parquet")
    assert results.height == 6 and results.select("prompt_id", "k").n_unique() == 6
    foreign = json.loads(lines[1]) | {"prompt_id": "0000000000000000"}
    (job / "run.jsonl").write_text("\n".join([*lines, json.dumps(foreign)]) + "\n")
    with pytest.raises(DataError, match=r"run\.jsonl:7: prompt_id '0000000000000000' is not in this job's grid"):
        run(compose(["scenario.limit=2", "report.bootstrap=100"]), job_dir=job)
    with caplog.at_level("WARNING"):
        write_report([job], tmp_path / "r2", ReportConfig(bootstrap=100))
    assert "not in the job's grid" in caplog.text
    assert pl.read_parquet(tmp_path / "r2" / "results.parquet").height == 6


# -- disks, folders, caches -------------------------------------------------------------------------

def _limited(size: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


@pytest.mark.slow
@pytest.mark.parametrize(("size", "file"), [(20_000, "grid.jsonl"), (60_000, "run.jsonl")])
def test_a_full_disk_is_one_line_exit_3_and_a_final_job_json(tmp_path, size, file) -> None:
    """A file that cannot grow (a full disk, a quota): the write fails as it would, in a real process."""
    job = tmp_path / "j"
    proc = subprocess.run([sys.executable, "-m", "sycobench", "scenario.limit=20", f"hydra.run.dir={job}"],
                          cwd=tmp_path, env=_cli_env(), capture_output=True, text=True, preexec_fn=_limited(size),
                          timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and f"{job / file}: File too large" in proc.stderr
    meta = json.loads((job / "job.json").read_text())
    assert meta["status"] == "incomplete" and meta["exit_code"] == 3 and file in meta["message"]
    assert not (job / "job.json.tmp").exists()
    resumed = sycobench(f"run.resume={job}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr


def test_job_json_is_final_even_when_no_temporary_file_can_be_written(tmp_path, monkeypatch) -> None:
    from sycobench.store import JobFolder

    folder = JobFolder(tmp_path)
    folder.save_meta({"status": "running", "pad": "x" * 100})
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.endswith(".tmp"):
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)
    monkeypatch.setattr(Path, "write_text", full)
    folder.save_meta({"status": "incomplete", "exit_code": 3})
    assert folder.read_meta() == {"status": "incomplete", "exit_code": 3}
    assert not (tmp_path / "job.json.tmp").exists()


@pytest.mark.parametrize(("code", "fix"), [(28, "free space, then resume"), (17, "a file is where a folder should be"),
                                         (13, "choose a folder you may write to"), (30, "on a writable disk"),
                                         (5, "free space or choose a writable folder")])
def test_a_file_error_names_the_fix_its_cause_asks_for(code, fix) -> None:
    import os

    from sycobench.job import describe_os_error

    line = describe_os_error(OSError(code, os.strerror(code), "/out/j/run.jsonl"))
    assert line.startswith(f"/out/j/run.jsonl: {os.strerror(code)}; ") and fix in line


@pytest.mark.slow
def test_an_unwritable_output_folder_is_one_line_exit_2(tmp_path) -> None:
    (tmp_path / "afile").write_text("x")
    proc = sycobench("scenario.limit=2", f"hydra.run.dir={tmp_path / 'afile' / 'job'}", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert f"{tmp_path / 'afile' / 'job'}: Not a directory; a file is where a folder should be" in proc.stderr


@pytest.mark.parametrize("make", ["file", "folder"])
def test_an_unusable_cache_is_a_warning_and_the_job_runs_without_it(tmp_path, fake_openrouter, monkeypatch, caplog,
                                                                    make) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    where = tmp_path / "cache"
    if make == "file":
        where.write_text("not a folder")
    else:
        (where / "responses.sqlite").mkdir(parents=True)
    with caplog.at_level("WARNING"):
        result = _api_job(tmp_path, fake_openrouter, judged=False)
    assert result.status == "ok" and "cannot be used" in caplog.text and "goes without it" in caplog.text


def test_a_record_file_that_is_a_device_is_refused_not_read(tmp_path) -> None:
    job = tmp_path / "j"
    job.mkdir()
    (job / "run.jsonl").symlink_to("/dev/zero")
    with pytest.raises(DataError, match="not a regular file"):
        run(compose(["scenario.limit=2"]), job_dir=job)


# -- limits -------------------------------------------------------------------------------------------

BOMB = "\n".join([
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    *(f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")),
    "name: lol",
]) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize(("args", "needle"), [
    (["model.rate_limit.rps=-1"], "model.rate_limit.rps: must be > 0"),
    (["model.rate_limit.rps=0"], "model.rate_limit.rps: must be > 0"),
    (["rate_limit.rps=0"], "rate_limit.rps: must be > 0"),
    (["run.samples=300000000", "run.dry_run=true"], "run.samples: must be in [1, 10000]"),
    (["run.concurrency=1000000"], "run.concurrency: must be in [1, 4096]"),
    (["rate_limit.max_response_mb=0"], "rate_limit.max_response_mb"),
    (["scenario=lol"], "YAML aliases (*name) expand to more than"),
])
def test_limits_are_config_errors_given_at_once(tmp_path, args, needle) -> None:
    (tmp_path / "conf" / "scenario").mkdir(parents=True)
    (tmp_path / "conf" / "scenario" / "lol.yaml").write_text(BOMB)
    started = time.monotonic()
    proc = sycobench(f"hydra.searchpath=[file://{tmp_path / 'conf'}]", *args, f"hydra.run.dir={tmp_path / 'j'}",
                     cwd=tmp_path)
    assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert time.monotonic() - started < 30


def test_a_dry_run_counts_a_large_plan_at_once(tmp_path) -> None:
    started = time.monotonic()
    result = run(compose(["run.samples=10000", "run.dry_run=true"]), job_dir=tmp_path / "j")
    assert result.status == "dry_run" and "1800000 calls to make" in result.message
    assert time.monotonic() - started < 10


# -- smaller ------------------------------------------------------------------------------------------

def test_scoring_that_fills_every_gap_makes_the_job_ok(tmp_path) -> None:
    from sycobench.config import RateLimitConfig, ScorerConfig
    from sycobench.score import ScoreAppConfig, score_path

    job = tmp_path / "j"
    first = run(compose(["scenario.limit=2", "scorer=none", "report.bootstrap=100"]), job_dir=job)
    assert first.status == "ok"
    meta = json.loads((job / "job.json").read_text())
    meta.update(status="incomplete", exit_code=3, message="6 answers have no score")
    (job / "job.json").write_text(json.dumps(meta))
    app = ScoreAppConfig(run_dir=str(job), scorer=ScorerConfig(name="offline"), rate_limit=RateLimitConfig())
    assert score_path(job, app) == 6
    meta = json.loads((job / "job.json").read_text())
    assert meta["status"] == "ok" and meta["exit_code"] == 0


def test_two_reports_into_one_folder_at_once_make_one_writer(tmp_path) -> None:
    """A report into a folder another report is writing is refused at once (one line), and leaves that
    report's files alone; a report that stops before writing leaves no folder behind."""
    from sycobench.config import ReportConfig
    from sycobench.errors import ConfigError
    from sycobench.report import write_report
    from sycobench.store import ReportFolder

    a, b = tmp_path / "a", tmp_path / "b"
    for job in (a, b):
        assert run(compose(["scenario.limit=2", "report.bootstrap=100", "report.page=false"]), job_dir=job).status == "ok"
    out = tmp_path / "r"
    with ReportFolder(out).writing([str(a)]):  # the first report, still writing
        with pytest.raises(ConfigError, match="is being written by another running sycobench report"):
            write_report([b], out, ReportConfig(bootstrap=100))
        assert [p.name for p in out.iterdir()] == [".report.lock"]
    write_report([a], out, ReportConfig(bootstrap=100))
    assert json.loads((out / "report.json").read_text())["sources"] == [str(a)]
    with pytest.raises(ConfigError, match="no sycobench job folders"):
        write_report([tmp_path / "r"], tmp_path / "new" / "deep", ReportConfig(bootstrap=100))
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_report_out_refuses_a_job_folder_and_another_report(tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for job in (a, b):
        assert run(compose(["scenario.limit=2", "report.bootstrap=100"]), job_dir=job).status == "ok"
    into_job = sycobench(str(a), "--out", str(b), cwd=tmp_path, module="sycobench.report")
    assert into_job.returncode == 2 and "is a job folder" in into_job.stderr
    assert sycobench(str(a), "--out", str(tmp_path / "r"), cwd=tmp_path, module="sycobench.report").returncode == 0
    other = sycobench(str(b), "--out", str(tmp_path / "r"), cwd=tmp_path, module="sycobench.report")
    assert other.returncode == 2 and "holds another report" in other.stderr
    again = sycobench(str(a), "--out", str(tmp_path / "r"), cwd=tmp_path, module="sycobench.report")
    assert again.returncode == 0, again.stderr  # that report's own folder
    import shutil

    shutil.copytree(a, tmp_path / "moved")  # a job copied with its own report page (from a cluster, say)
    moved = sycobench(str(tmp_path / "moved"), cwd=tmp_path, module="sycobench.report")
    assert moved.returncode == 0, moved.stderr


@pytest.mark.slow
def test_resume_works_for_any_folder_the_tool_made(tmp_path) -> None:
    job = tmp_path / "a,b=c'{x}"
    made = sycobench("scenario.limit=2", f'hydra.run.dir="{job}"', cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert job.is_dir()
    resumed = sycobench(f"run.resume={job}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "skipped 6 already done" in (job / "run.log").read_text()


def test_headline_md_escapes_markup_as_report_md_does(tmp_path) -> None:
    from sycobench.report.load import JobParties
    from sycobench.report.paper import write_headline

    uplift = pl.DataFrame({"model_id": ["evil/<script>alert(1)</script>|*x*"], "sycophancy_index": [0.1]})
    _, md = write_headline(uplift, tmp_path)
    text = md.read_text()
    assert "<script>" not in text and r"\<script\>" in text and r"\|\*x\*" in text
    # a scenario's party name heads two columns: escaped too, so it adds no column
    parties = {"evil": JobParties("evil", "seller", "buyer", "<img src=x> | *seller*", "buyer")}
    _, md = write_headline(uplift.with_columns(scenario=pl.lit("evil")), tmp_path, parties)
    header, rule, row = md.read_text().splitlines()
    assert r"\<img src=x\> \| \*seller\*" in header and "<img" not in header.replace(r"\<img", "")
    columns = [len(re.findall(r"(?<!\\)\|", line)) - 1 for line in (header, rule, row)]
    assert columns == [8, 8, 8]  # model, SI, p, two uplifts, two agree rates, triplets


def test_every_hostile_fault_of_the_fake_server_is_driven_here() -> None:
    from sycobench.fake_openrouter.faults import HOSTILE
    source = Path(__file__).read_text(encoding="utf-8")
    assert [f for f in HOSTILE if f'"{f}"' not in source] == []
