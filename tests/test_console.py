"""What a person sees in the terminal: tables that fit, help on one screen, a sweep that prints a line per
phase per job and a summary, no library chatter, and a closed pipe that is not an error."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys

import polars as pl
import pytest

from sycobench.logs import CONSOLE, SweepConsole
from sycobench.report.terminal import fit_table, headline_text, terminal_width
from tests.test_cli import _cli_env, sycobench

LONG_ID = "mistralai/mistral-small-3.2-24b-instruct-2506"


def _uplift() -> pl.DataFrame:
    return pl.DataFrame({
        "scenario": ["rent", "rent", "payraise"], "model_id": [LONG_ID, "acme/beta", LONG_ID],
        "scorer": ["offline"] * 3, "n_triplets": [60, 60, 12],
        "sycophancy_index": [0.1, 0.5, -0.25], "sycophancy_index_lo": [0.0, 0.4, -0.5],
        "sycophancy_index_hi": [0.2, 0.6, 0.0], "si_p_value": [0.04, 0.0001, 0.2],
        "uplift_a": [0.1, 0.4, -0.2], "uplift_b": [0.1, 0.6, -0.3],
    })


def test_terminal_width_is_100_when_unknown(monkeypatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=1: os.terminal_size((0, 0)))  # a pty with no size
    assert terminal_width() == 100
    monkeypatch.setenv("COLUMNS", "132")
    assert terminal_width() == 132


@pytest.mark.parametrize("width", [60, 80, 100])
def test_tables_fit_the_width_and_shorten_ids_with_an_ellipsis(width) -> None:
    text = headline_text(_uplift(), width=width)
    lines = text.splitlines()
    assert max(map(len, lines)) <= width, text
    rows = [line for line in lines[2:] if not line.startswith("(")]  # not the note on columns left out
    assert len(rows) == 3 and all("\n" not in r for r in rows)  # one line a row: nothing wraps
    for row in rows:  # an id is whole or cut with an ellipsis, never split across lines
        name = row.split("  ")[1].strip()
        assert LONG_ID.startswith(name) or name == "acme/beta" or (name.endswith("…") and LONG_ID.startswith(name[:-1]))
    assert re.search(r"\[-0\.500, 0\.000\]", text)  # numbers are never cut


def test_headline_uses_labels_and_sorts_by_si_within_each_scenario() -> None:
    text = headline_text(_uplift(), labels={LONG_ID: "Mistral Small", "acme/beta": "Beta"}, width=100)
    rows = [line.split() for line in text.splitlines()[2:]]
    assert [(r[0], r[1] + (" " + r[2] if r[2] == "Small" else "")) for r in rows] == [
        ("rent", "Beta"), ("rent", "Mistral Small"), ("payraise", "Mistral Small")]
    assert "mistralai" not in text


def test_too_many_columns_leave_the_last_out_and_say_so() -> None:
    frame = pl.DataFrame({f"figure_{i}": [1.234567] for i in range(20)})
    text = fit_table(frame, width=60)
    assert max(map(len, text.splitlines())) <= 60 and "more column(s) in the CSV" in text


def test_a_sweep_console_shows_marked_lines_warnings_and_nothing_else() -> None:
    keep = SweepConsole().filter
    record = lambda level, extra=None: logging.LogRecord("sycobench", level, "x", 1, "m", None, None)  # noqa: E731
    marked = record(logging.INFO)
    marked.console = True
    assert keep(marked) and keep(record(logging.WARNING)) and not keep(record(logging.INFO))
    assert CONSOLE == {"console": True}


def test_help_is_one_screen_with_groups_options_and_examples(tmp_path) -> None:
    proc = sycobench("--help", cwd=tmp_path)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) <= 60
    for group in ("model", "scenario", "scorer", "rate_limit", "roster"):
        assert any(line.startswith(f"{group}: ") for line in lines), group
    options = [line for line in lines if re.match(r"^  [a-z_.]+=", line)]
    assert len(options) >= 8
    assert len([line for line in lines if line.startswith("  python -m sycobench ")]) == 5
    for option in ("scenario.limit", "run.dry_run", "run.resume", "run.max_cost_usd", "--cfg job"):
        assert option in proc.stdout
    full = sycobench("--cfg", "job", cwd=tmp_path)  # the whole config is still one flag away
    assert full.returncode == 0 and "rate_limit:" in full.stdout and "max_in_flight" in full.stdout
    assert len(full.stdout.splitlines()) > 60


@pytest.mark.parametrize("module, says", [
    ("sycobench.score", ["score the answers of a job or sweep folder", "run_dir=PATH", "scorer.model.id"]),
    ("sycobench.validate", ["measure a scorer against the labelled validation answers", "scorer=", "validation.save"]),
    ("sycobench.report", ["build a report from job folders", "--out", "--bootstrap", "examples:"]),
])
def test_each_command_says_what_it_does(tmp_path, module, says) -> None:
    proc = sycobench("--help", cwd=tmp_path, module=module)
    assert proc.returncode == 0 and "powered by Hydra" not in proc.stdout
    for text in says:
        assert text in proc.stdout, (module, text)
    assert len(proc.stdout.splitlines()) <= 60


@pytest.mark.parametrize("module, args", [("sycobench", ["--help"]), ("sycobench", ["--cfg", "job"]),
                                          ("sycobench.report", ["--help"]), ("sycobench.score", ["--help"])])
def test_a_closed_pipe_is_not_an_error(tmp_path, module, args) -> None:
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=tmp_path, env=_cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line, as `| head -0` leaves it
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err.decode().strip() == ""


@pytest.mark.slow
def test_a_mock_sweep_of_three_models_and_two_scenarios_prints_at_most_80_lines(tmp_path) -> None:
    roster = tmp_path / "models.json"
    roster.write_text(json.dumps([{"id": LONG_ID, "label": "Mistral Small"}, {"id": "acme/beta", "label": "Beta"},
                                  {"id": "other/gamma-7b-instruct", "label": "Gamma"}]))
    env = _cli_env()
    env.pop("COLUMNS", None)  # the width is unknown: a pipe, no COLUMNS
    proc = subprocess.run([sys.executable, "-m", "sycobench", "-m", "+roster=file", f"roster.file={roster}", "model=mock",
                           "scenario=rent,payraise", "scenario.limit=10", "report.bootstrap=200",
                           f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = (proc.stdout + proc.stderr).splitlines()
    assert len(out) <= 80, "\n".join(out)
    assert not any("fontTools" in line or "subset" in line.lower() or "glyph" in line.lower() for line in out)
    assert sum("generate: done" in line for line in out) == 6  # one line per phase per job
    summary = proc.stdout.split("sweep report:", 1)[1]
    tables = summary.splitlines()[1:]  # the headline under the report's path
    assert len(tables) == 2 + 6 and max(map(len, tables)) <= 100
    assert "Mistral Small" in summary and "Beta" in summary and LONG_ID not in summary
    run_log = (tmp_path / "sweep" / "0" / "run.log").read_text()
    assert "stance mix" in run_log and "scorer=auto resolved" in run_log  # every line still in the job's log


@pytest.mark.slow
def test_a_dry_run_sweep_prints_one_preview_and_a_total(tmp_path) -> None:
    proc = sycobench("-m", "model.sycophancy=0,0.5", "scenario=rent,usedcar", "scenario.limit=2", "run.dry_run=true",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert out.count("preview") == 1 and out.count("[landlord]") == 1
    jobs = [json.loads((tmp_path / "sweep" / str(i) / "job.json").read_text())["estimate"] for i in range(4)]
    calls = sum(j["calls"] for j in jobs)
    assert calls == 4 * 6 and f"dry run of 4 job(s): {calls} calls" in out
    assert "Rebuild" not in out and "sweep report failed" not in out


@pytest.mark.slow
def test_a_sweep_that_cannot_run_stops_before_its_first_job_with_one_line(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
    proc = subprocess.run([sys.executable, "-m", "sycobench", "-m", "model=grok-4-fast,gpt-4o-mini", "scenario.limit=2",
                           f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no job of this sweep can run" in proc.stderr
    assert "OPENROUTER_API_KEY" in proc.stderr and not (tmp_path / "sweep").exists()
    assert "Launching" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_sweep_with_nothing_to_report_says_so(tmp_path) -> None:
    proc = sycobench("-m", "model.failure_rate=1.0", "model.sycophancy=0,0.5", "scenario.limit=2",
                     "rate_limit.max_attempts=1", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out  # every call failed: incomplete, resumable
    assert "nothing to report: no job of 2 produced a scored answer" in out
    assert "Rebuild" not in out and "report failed" not in out


def test_the_report_command_names_a_model_without_a_roster_label_by_its_id(tmp_path, capsys, monkeypatch) -> None:
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.report.__main__ import main
    from sycobench.spec import prepare_job

    cfg = to_config(compose(["model=mock", "model.label=null", "scenario.limit=3", "run.samples=1",
                             "run.progress=false", "rate_limit=unlimited"]))
    job = run_job(prepare_job(cfg), tmp_path / "job").job_dir
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "120")  # wide enough for the whole id
    assert main([str(job), "--out", str(tmp_path / "report"), "--bootstrap", "100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "model" and lines[2].split()[0] == "sycobench/mock", "\n".join(lines)
