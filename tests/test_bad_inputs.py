"""Bad input, everywhere a user can give it: one stderr line naming the problem, a non-zero exit,
no traceback, and no file written or changed.

The command-line cases run as real subprocesses, a few at a time (a session fixture), each in a
folder of its own; the report CLI, the notebook API and the roster loader run in-process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from sycobench.errors import SycobenchError

KEY = "sk-or-v1-" + "b0gu5k3y" * 6
Setup = Callable[[Path], None]


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under `root`, with file contents."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def _write(name: str, data: str | bytes) -> Setup:
    def setup(root: Path) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


_RUN_LINE = {"schema": 1, "model_id": "sycobench/mock", "prompt_id": "p", "k": 0, "error": None, "cached": False,
             "usage": {}, "response_text": "fine"}


def _job_folder(*, meta: dict | str | None = None, lines: list[str] | None = None) -> Setup:
    def setup(root: Path) -> None:
        job = root / "job"
        job.mkdir()
        (job / "run.jsonl").write_text("\n".join(lines or [json.dumps(_RUN_LINE)]) + "\n")
        if meta is not None:
            (job / "job.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return setup


@dataclass
class Case:
    id: str
    args: list[str]
    needle: str
    code: int = 2
    module: str = "sycobench"
    env: dict[str, str] = field(default_factory=dict)
    setup: Setup | None = None


MOCK_FP = {"model.id": "sycobench/other", "run.samples": 1}
CLI_CASES = [
    Case("limit-not-a-number", ["scenario.limit=abc"], "scenario.limit"),
    Case("misspelled-key", ["scenario.limt=3"], "scenario.limt"),
    Case("added-unknown-key", ["+scenario.limits=5"], "scenario.limits: no such setting"),
    Case("added-unknown-model-key", ["+model.temprature=0.2"], "model.temprature: no such setting"),
    Case("negative-limit", ["scenario.limit=-3"], "scenario.limit"),
    Case("zero-concurrency", ["run.concurrency=0"], "run.concurrency"),
    Case("zero-samples", ["run.samples=0"], "run.samples"),
    Case("unknown-model", ["model=nope"], "unknown model 'nope'"),
    Case("unknown-scorer", ["scorer=nope"], "unknown scorer 'nope'"),
    Case("model-id-missing", ["model=openrouter"], "model.id is required"),
    Case("model-id-empty", ["model=openrouter", "model.id="], "model.id is empty", env={"OPENROUTER_API_KEY": KEY}),
    Case("url-without-host", ["model=vllm", "model.base_url=http://", "scorer=offline"], "model.base_url"),
    Case("url-ftp", ["model=vllm", "model.base_url=ftp://example.org/v1", "scorer=offline"], "model.base_url"),
    Case("judge-url-bad", ["scorer=judge", "scorer.model.base_url=localhost:8000"], "scorer.model.base_url",
         env={"OPENROUTER_API_KEY": KEY}),
    Case("duplicate-amounts", ["scenario.amounts=[100,100]"], "scenario.amounts: repeated value(s) 100"),
    Case("duplicate-perspectives", ["scenario.perspectives=[tenant,tenant]"], "scenario.perspectives: repeated"),
    Case("filters-select-nothing", ["scenario.perspectives=[neutral]", "scenario.include_neutral=false"],
         "selects no prompt"),
    Case("shard-selects-nothing", ["scenario.limit=3", "scenario.num_shards=10", "scenario.shard=7"],
         "selects no prompt"),
    Case("shard-out-of-range", ["scenario.shard=5"], "scenario.shard"),
    Case("unknown-justification", ["scenario.justifications=[weather]"], "unknown value(s) ['weather']"),
    Case("binary-scenario-file", ["hydra.searchpath=[file://conf]", "scenario=bin"], "a config file is not UTF-8 text",
         setup=_write("conf/scenario/bin.yaml", b"\x00\x01\xff")),
    Case("temperature-out-of-range", ["model.temperature=5"], "model.temperature"),
    Case("reasoning-not-an-object", ["model.reasoning=3"], "model.reasoning"),
    Case("keyless-local-target-auto-judge", ["model=vllm"], "scorer=auto picked the LLM judge"),
    Case("api-target-without-key", ["model=grok-4-fast"], "OPENROUTER_API_KEY is not set"),
    Case("judge-without-key", ["model=vllm", "scorer=judge"], "OPENROUTER_API_KEY is not set"),
    Case("report-scorer-unknown", ["report.scorers=[nope]"], "report.scorers: nope"),
    Case("report-bootstrap-huge", ["report.bootstrap=20000000"], "report.bootstrap"),
    Case("report-threshold", ["report.threshold=2"], "report.threshold"),
    Case("report-seed-negative", ["report.seed=-1"], "report.seed: must be >= 0"),
    Case("report-formats", ["report.formats=[png,eps]"], "report.formats: 'eps' is not a plot format"),
    Case("rate-limit-zero", ["rate_limit.rps=0"], "rate_limit.rps"),
    Case("override-under-null-node", ["scorer.model.id=x/y"], "null here"),
    Case("human-labels-missing", ["scorer=human"], "scorer.labels"),
    Case("key-as-api-key-env", [f"model.api_key_env={KEY}"], "environment or a .env file"),
    Case("key-added-as-api-key", [f"+model.api_key={KEY}"], "environment or a .env file"),
    Case("resume-from-nowhere", ["run.resume=nowhere"], "not a sycobench job folder"),
    Case("roster-missing", ["-m", "+roster=file", "roster.file=missing.json"], "missing.json"),
    Case("roster-not-json", ["-m", "+roster=file", "roster.file=r.json"], "not valid JSON", setup=_write("r.json", "{bad")),
    Case("roster-binary", ["-m", "+roster=file", "roster.file=r.json"], "not UTF-8", setup=_write("r.json", b"\xff\xfe\x00")),
    Case("roster-bad-entry", ["-m", "+roster=file", "roster.file=r.json"], "not a model entry", setup=_write("r.json", "[1]")),
    Case("dotenv-binary", ["model=grok-4-fast"], ".env: cannot read", setup=_write(".env", b"\xff\xfe\x00\x80")),
    Case("key-not-ascii", ["model=grok-4-fast"], "OPENROUTER_API_KEY holds non-ASCII",
         env={"OPENROUTER_API_KEY": "sk-or-v1-abc\u2013def"}),
    Case("record-wrong-shape", [], "run.jsonl:2: field 'k'",
         setup=_job_folder(lines=[json.dumps(_RUN_LINE), json.dumps({**_RUN_LINE, "k": "0"})])),
    Case("record-corrupt-line", [], "run.jsonl:1: not a JSON line", setup=_job_folder(lines=["{oops", json.dumps(_RUN_LINE)])),
    Case("job-json-corrupt", [], "job.json", setup=_job_folder(meta="{not json")),
    Case("fingerprint-mismatch", [], "model.id 'sycobench/other' -> 'sycobench/mock'",
         setup=_job_folder(meta={"status": "ok", "fingerprint": MOCK_FP})),
    Case("score-missing-run-dir", ["run_dir=missing"], "run_dir=missing: no such folder", module="sycobench.score"),
    Case("score-folder-without-jobs", ["run_dir=empty"], "no sycobench job folder", module="sycobench.score",
         setup=lambda root: (root / "empty").mkdir()),
    Case("score-unknown-scorer", ["run_dir=.", "scorer=nope"], "unknown scorer 'nope'", module="sycobench.score"),
]


def _run_case(case: Case, root: Path) -> tuple[subprocess.CompletedProcess, dict, dict]:
    root.mkdir(parents=True)
    if case.setup:
        case.setup(root)
    before = _snapshot(root)
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "OPENROUTER_API_KEY")}
    env.update(case.env, XDG_CACHE_HOME=str(root.parent / f"{root.name}-cache"))
    job = [f"hydra.run.dir={root / 'job'}"] if case.module == "sycobench" else []
    proc = subprocess.run([sys.executable, "-m", case.module, *case.args, *job], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc, before, _snapshot(root)


@pytest.fixture(scope="session")
def cli_results(tmp_path_factory) -> dict[str, tuple]:
    base = tmp_path_factory.mktemp("bad-inputs")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {c.id: pool.submit(_run_case, c, base / c.id) for c in CLI_CASES}
        return {name: f.result() for name, f in futures.items()}


def _assert_one_line(stderr: str, needle: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert needle in lines[0], lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_bad_input(case: Case, cli_results) -> None:
    proc, before, after = cli_results[case.id]
    assert proc.returncode == case.code, proc.stderr
    _assert_one_line(proc.stderr, case.needle)
    assert after == before, sorted(set(after) ^ set(before))
    assert KEY not in proc.stderr + proc.stdout


def _job(root: Path) -> Path:
    """A small real job folder to point the report CLI at."""
    from sycobench.api import compose, run

    job = root / "job"
    run(compose(["scenario.limit=2", "report.bootstrap=100"]), job_dir=job)
    return job


REPORT_CASES = [
    ("binary-file", lambda r: [str(r / "blob.jsonl")], "not a run file of the original package"),
    ("out-is-a-file", lambda r: [str(r / "job"), "--out", str(r / "job" / "job.json")], "a file is there"),
    ("unknown-reference", lambda r: [str(r / "job"), "--reference", "nope"], "report.reference: 'nope'"),
    ("unknown-scorer", lambda r: [str(r / "job"), "--scorers", "nope"], "report.scorers: 'nope'"),
    ("bootstrap-huge", lambda r: [str(r / "job"), "--bootstrap", "20000000"], "report.bootstrap"),
    ("bootstrap-not-a-number", lambda r: [str(r / "job"), "--bootstrap", "many"], "invalid int value"),
    ("threshold-out-of-range", lambda r: [str(r / "job"), "--threshold", "2"], "report.threshold"),
    ("unknown-plot-format", lambda r: [str(r / "job"), "--formats", "png", "jpeg"], "report.formats: 'jpeg' is not a plot format"),
    ("missing-path", lambda r: [str(r / "nowhere")], "no such file or folder"),
    ("folder-without-jobs", lambda r: [str(r / "empty")], "no sycobench job folders"),
    ("corrupt-job-json", lambda r: [str(r / "broken")], "job.json: not a readable job.json"),
    ("corrupt-grid-prompt", lambda r: [str(r / "badgrid")], "grid.jsonl:1: not a prompt as in docs/records.md"),
    ("folder-read-as-a-format", lambda r: ["--formats", "svg", str(r / "job")], "job was read as a value of --scorers"),
    ("import-a-job-folder", lambda r: ["--import-legacy", str(r / "job"), "--out", str(r / "imported")],
     "job: a folder (a sycobench job or sweep folder needs no import)"),
    ("seed-negative", lambda r: [str(r / "job"), "--seed", "-1"], "report.seed: must be >= 0"),
]


@pytest.fixture(scope="module")
def report_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report-inputs")
    job = _job(root)
    (root / "blob.jsonl").write_bytes(bytes(range(256)) * 20)
    (root / "empty").mkdir()
    broken = root / "broken"
    broken.mkdir()
    (broken / "run.jsonl").write_bytes((job / "run.jsonl").read_bytes())
    (broken / "job.json").write_text("{half a json")
    badgrid = root / "badgrid"
    shutil.copytree(job, badgrid)
    first, *rest = (badgrid / "grid.jsonl").read_text().splitlines(keepends=True)
    (badgrid / "grid.jsonl").write_text(json.dumps({**json.loads(first), "messages": "not a list"}) + "\n" + "".join(rest))
    return root


@pytest.mark.parametrize(("name", "argv", "needle"), REPORT_CASES, ids=[c[0] for c in REPORT_CASES])
def test_report_cli_bad_input(report_root, capsys, name, argv, needle) -> None:
    from sycobench.report.__main__ import main

    before = _snapshot(report_root)
    try:
        code = main(argv(report_root))
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    _assert_one_line(capsys.readouterr().err, needle)
    assert _snapshot(report_root) == before


def test_report_cli_ctrl_c_is_one_line_and_130(report_root, capsys, monkeypatch) -> None:
    import sycobench.report as report
    from sycobench.report.__main__ import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_report", interrupted)
    assert main([str(report_root / "job"), "--out", str(report_root / "out")]) == 130
    _assert_one_line(capsys.readouterr().err, "interrupted")


NOTEBOOK_CASES = [
    ("compose-bad-type", ["scenario.limit=abc"], "scenario.limit"),
    ("compose-unknown-model", ["model=nope"], "unknown model 'nope'"),
    ("compose-key", [f"model.api_key_env={KEY}"], "environment or a .env file"),
    ("compose-null-node", ["scorer.model.id=x/y"], "null here"),
    ("run-added-unknown-key", ["+scenario.limits=5"], "scenario.limits: no such setting"),
    ("run-duplicates", ["scenario.amounts=[100,100]"], "repeated value(s) 100"),
    ("run-no-key", ["model=grok-4-fast"], "OPENROUTER_API_KEY is not set"),
    ("run-empty-id", ["model=openrouter", "model.id= "], "model.id is empty"),
    ("run-bad-url", ["model=vllm", "model.base_url=ftp://x", "scorer=offline"], "model.base_url"),
]


@pytest.mark.parametrize(("name", "overrides", "needle"), NOTEBOOK_CASES, ids=[c[0] for c in NOTEBOOK_CASES])
def test_notebook_bad_input(tmp_path, monkeypatch, name, overrides, needle) -> None:
    from sycobench.api import compose, run

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    before = _snapshot(tmp_path)
    with pytest.raises(SycobenchError) as err:
        run(compose(overrides), job_dir=tmp_path / "job")
    text = str(err.value)
    assert "\n" not in text and needle in text and KEY not in text
    assert _snapshot(tmp_path) == before


ROSTER_CASES = [
    ("missing", None, "no such file"),
    ("empty-list", "[]", "must be a non-empty JSON list"),
    ("not-json", "[1,", "not valid JSON"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\xff", "not UTF-8"),
    ("unknown-key", '[{"id": "a/b", "colour": "red"}]', "unknown key(s) ['colour']"),
    ("bad-rps", '[{"id": "a/b", "rate_limit": {"rps": -1}}]', "rate_limit.rps must be a positive number"),
    ("a-folder", "dir", "cannot be read"),
]


@pytest.mark.parametrize(("name", "content", "needle"), ROSTER_CASES, ids=[c[0] for c in ROSTER_CASES])
def test_roster_bad_input(tmp_path, name, content, needle) -> None:
    from sycobench.roster import load_roster

    path = tmp_path / "roster.json"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = _snapshot(tmp_path)
    with pytest.raises(SycobenchError) as err:
        load_roster(str(path))
    text = str(err.value)
    assert "\n" not in text and needle in text and (content is None or str(path) in text)
    assert _snapshot(tmp_path) == before


def test_the_matrix_is_large_enough() -> None:
    assert len(CLI_CASES) + len(REPORT_CASES) + len(NOTEBOOK_CASES) + len(ROSTER_CASES) >= 40
