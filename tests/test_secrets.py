"""Keys: read from .env as a shell would, never on the command line, never shown anywhere."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sycobench.errors import ConfigError
from sycobench.providers.keys import load_api_key, redact, refuse_keys_in_overrides
from sycobench.providers.openrouter import _snippet
from tests.test_cli import sycobench

SECRET = "sk-or-v1-" + "c0ffee5ecret4242" * 4
VAR = "SYCOBENCH_TEST_KEY"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(VAR, raising=False)
    return tmp_path


@pytest.mark.parametrize("line", [
    f'{VAR} = "{SECRET}" # mine',
    f"export {VAR}='{SECRET}'",
    f"{VAR}={SECRET}",
    f"{VAR}={SECRET}  # a comment",
    f'# {VAR}=old\n{VAR}="{SECRET}"',
])
def test_dotenv_lines_are_read_as_a_shell_would(in_tmp, line) -> None:
    (in_tmp / ".env").write_text(line + "\n")
    assert load_api_key(VAR) == SECRET


def test_environment_wins_over_dotenv(in_tmp, monkeypatch) -> None:
    (in_tmp / ".env").write_text(f"{VAR}=from-file\n")
    monkeypatch.setenv(VAR, SECRET)
    assert load_api_key(VAR) == SECRET


def test_an_unreadable_dotenv_is_named(in_tmp) -> None:
    (in_tmp / ".env").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError) as err:
        load_api_key(VAR)
    assert str(in_tmp / ".env") in str(err.value) and "not UTF-8" in str(err.value)


@pytest.mark.parametrize("bad", [SECRET[:20] + "\u2013" + SECRET[21:], "\u201c" + SECRET + "\u201d"])
def test_a_non_ascii_key_names_the_variable_and_hides_the_key(in_tmp, monkeypatch, bad) -> None:
    monkeypatch.setenv(VAR, bad)
    with pytest.raises(ConfigError) as err:
        load_api_key(VAR)
    assert VAR in str(err.value) and "c0ffee" not in str(err.value)


def test_redaction_comes_before_truncation() -> None:
    echoed = "error: " + "x" * 280 + f" key was {SECRET} " + "y" * 200
    snippet = _snippet(echoed, SECRET)
    assert all(SECRET[i:i + 8] not in snippet for i in range(len(SECRET) - 8))
    assert "[REDACTED]" in redact(f"echo {SECRET}", None)  # a key-shaped value, even unknown


@pytest.mark.parametrize("override", [
    f"model.api_key_env={SECRET}", f"+model.api_key={SECRET}", "+model.api_key=short", f"scorer.model.id={SECRET}",
])
def test_key_shaped_overrides_are_refused(override) -> None:
    with pytest.raises(ConfigError) as err:
        refuse_keys_in_overrides([override])
    assert "environment or a .env file" in str(err.value) and "c0ffee" not in str(err.value)


def test_ordinary_overrides_pass() -> None:
    refuse_keys_in_overrides(["model.api_key_env=MY_KEY", "model.id=openai/gpt-4o-mini", "scenario.limit=3"])


class _Echo(BaseHTTPRequestHandler):
    """A server that puts the caller's key deep inside a long error message."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Authorization", "").partition(" ")[2]
        # Not JSON, so only an excerpt is kept: the key straddles where the excerpt is cut.
        body = "upstream failure " + "z" * 256 + f" for key {key} " + "w" * 300
        self.send_response(400)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
def test_an_echoed_key_reaches_no_file_and_no_console(tmp_path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        job = tmp_path / "job"
        proc = sycobench("model=openrouter", "model.id=a/b", f"model.base_url=http://127.0.0.1:{server.server_port}/v1",
                         "scorer=offline", "scorer.allow_unvalidated=true", "scenario.limit=1", "rate_limit.max_attempts=1", f"hydra.run.dir={job}",
                         cwd=tmp_path, env={"OPENROUTER_API_KEY": SECRET})
    finally:
        server.shutdown()
    assert proc.returncode == 3, proc.stderr
    texts = [proc.stdout, proc.stderr] + [p.read_text(errors="replace") for p in job.rglob("*") if p.is_file()]
    assert "for key [REDACTED]" in (job / "run.jsonl").read_text() or "[REDACTED]" in (job / "run.log").read_text()
    fragments = {SECRET[i:i + 8] for i in range(9, len(SECRET) - 8)}
    assert not any(f in text for text in texts for f in fragments)


@pytest.mark.slow
def test_a_key_on_the_command_line_is_refused_and_never_written(tmp_path) -> None:
    job = tmp_path / "job"
    proc = sycobench(f"model.api_key_env={SECRET}", f"hydra.run.dir={job}", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "environment or a .env file" in lines[0] and "c0ffee" not in proc.stderr
    assert not job.exists() and not (tmp_path / "outputs").exists()
