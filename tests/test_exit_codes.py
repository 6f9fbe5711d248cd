"""Exit codes and the final job.json status of a job and of a sweep, as a script sees them."""

from __future__ import annotations

import json
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from sycobench import exitcodes
from sycobench.errors import AuthError, ConfigError, CreditsError, DataError, ProviderError, QuotaError
from tests.test_cli import start_sycobench, sycobench

KEY = "sk-or-v1-fake-exitcodes"


def _meta(job: Path) -> dict:
    return json.loads((job / "job.json").read_text())


def _api(base_url: str, job: Path, *extra: str) -> list[str]:
    return ["model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={base_url}", "scorer=offline", "scorer.allow_unvalidated=true",
            "rate_limit=unlimited", "report.bootstrap=100", f"hydra.run.dir={job}", *extra]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("exc", "code"), [
    (AuthError("x"), 4), (CreditsError("x"), 4), (QuotaError("x"), 3), (ConfigError("x"), 2), (DataError("x"), 2),
    (ProviderError("x"), 2), (KeyboardInterrupt(), 130), (RuntimeError("x"), 1),
])
def test_each_error_has_its_code(exc, code) -> None:
    assert exitcodes.code_for_error(exc) == code


def test_status_codes_and_the_worst_of_a_sweep() -> None:
    assert [exitcodes.code_for_status(s) for s in ("ok", "dry_run", "incomplete", "interrupted", "running")] == [0, 0, 3, 130, 1]
    assert exitcodes.code_for_status("failed", 4) == 4
    assert exitcodes.worst([0, 3, 0]) == 3 and exitcodes.worst([3, 4, 0]) == 4 and exitcodes.worst([]) == 0
    assert exitcodes.worst([4, 130]) == 130


@pytest.mark.slow
def test_every_call_failing_is_incomplete_not_ok(tmp_path) -> None:
    job = tmp_path / "closed"
    proc = sycobench(*_api(f"http://127.0.0.1:{_closed_port()}/v1", job, "scenario.limit=2",
                           "rate_limit.max_attempts=1"), cwd=tmp_path, env={"OPENROUTER_API_KEY": KEY})
    assert proc.returncode == exitcodes.INCOMPLETE, proc.stderr
    meta = _meta(job)
    assert meta["status"] == "incomplete" and meta["exit_code"] == 3
    assert "6 of 6 calls failed after retries" in meta["message"]
    assert proc.stderr.strip().splitlines()[-1].startswith("sycobench: incomplete: 6 of 6 calls failed")


@pytest.mark.slow
def test_a_rejected_key_is_fatal(tmp_path, fake_openrouter) -> None:
    job = tmp_path / "bad-key"
    proc = sycobench(*_api(fake_openrouter.base_url, job, "scenario.limit=2"), cwd=tmp_path,
                     env={"OPENROUTER_API_KEY": "sk-or-v1-bad-key-for-tests"})
    assert proc.returncode == exitcodes.FATAL, proc.stderr
    assert _meta(job)["status"] == "failed" and _meta(job)["exit_code"] == 4
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_sweep_of_rejected_keys_exits_non_zero_and_lists_the_jobs(tmp_path, fake_openrouter) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "model=openrouter", "model.id=a/one,b/two", f"model.base_url={fake_openrouter.base_url}",
                     "scorer=offline", "scorer.allow_unvalidated=true", "rate_limit=unlimited", "scenario.limit=2", f"hydra.sweep.dir={sweep}",
                     cwd=tmp_path, env={"OPENROUTER_API_KEY": "sk-or-v1-bad-key-for-tests"})
    assert proc.returncode == exitcodes.FATAL, proc.stderr
    assert [_meta(sweep / n)["status"] for n in ("0", "1")] == ["failed", "failed"]
    out = proc.stdout + proc.stderr
    assert "2 job(s) did not end ok" in out and "0: failed (exit 4)" in out and "1: failed (exit 4)" in out


@pytest.mark.slow
def test_a_sweep_with_one_incomplete_job_exits_3(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    proc = sycobench("-m", "model.failure_rate=0,1", "scenario.limit=2", "report.bootstrap=100",
                     f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == exitcodes.INCOMPLETE, proc.stderr
    assert [_meta(sweep / n)["status"] for n in ("0", "1")] == ["ok", "incomplete"]
    assert "1 job(s) did not end ok" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_ends_the_job_interrupted_with_its_code_and_it_resumes(tmp_path, sig, code) -> None:
    """Ctrl-C, SLURM's scancel or time limit (SIGTERM), a closed terminal (SIGHUP): a final job.json, one
    line, and a resume that ends with exactly one record per (prompt, sample)."""
    job = tmp_path / "signalled"
    proc = start_sycobench(f"hydra.run.dir={job}", "scenario.limit=30", "model.latency_ms=200",
                           "run.concurrency=1", cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
            (job / "run.jsonl").exists() and (job / "run.jsonl").stat().st_size > 0):
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    meta = _meta(job)
    assert meta["status"] == "interrupted" and meta["exit_code"] == code and meta["ended_at"]
    assert "Traceback" not in err and "run.resume" in err and len(err.strip().splitlines()) == 1
    resumed = sycobench(f"hydra.run.dir={job}", "scenario.limit=30", "run.concurrency=4", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _meta(job)["status"] == "ok"
    keys = [(r["prompt_id"], r["k"]) for r in map(json.loads, (job / "run.jsonl").read_text().splitlines())]
    assert len(keys) == len(set(keys)) == 90


@pytest.mark.slow
def test_config_error_leaves_no_running_job_json(tmp_path) -> None:
    job = tmp_path / "cfg"
    assert sycobench(f"hydra.run.dir={job}", "scenario.limit=2", cwd=tmp_path).returncode == 0
    proc = sycobench(f"hydra.run.dir={job}", "scenario.limit=2", "model=openrouter", "model.id=a/b",
                     cwd=tmp_path, env={"OPENROUTER_API_KEY": ""})
    assert proc.returncode == exitcodes.USAGE
    assert _meta(job)["status"] == "ok"  # untouched: the refusal came before any write


@pytest.mark.parametrize(("module", "advice"), [
    ("sycobench.app", "resume with run.resume=<job dir>"),
    ("sycobench.score", "run the same command again: it scores only what is left"),
    ("sycobench.validate", "run the same command again: judge calls already made come from the cache, unpaid"),
])
def test_an_interrupted_command_says_how_to_go_on(module, advice, monkeypatch, capsys) -> None:
    """Ctrl-C (or SIGTERM) ends each command with one line: a job resumes, the commands that score run again."""
    from importlib import import_module

    from sycobench.errors import Signalled

    command = import_module(module)
    for stop, code in ((KeyboardInterrupt(), 130), (Signalled(signal.SIGTERM), 143)):
        for name in ("HYDRA_FULL_ERROR", "SYCOBENCH_TRACEBACK"):  # the entry sets them: restored after the test
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)

        def stopped(stop=stop) -> None:
            raise stop
        monkeypatch.setattr(command, "_hydra_main", stopped)
        monkeypatch.setattr(sys, "argv", [module])
        with pytest.raises(SystemExit) as ended:
            command.main()
        assert ended.value.code == code
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and lines[0].endswith(advice), lines
