"""llama.cpp's server for the real-model tests: started on a free loopback port, and watched, so a
server that dies mid-test fails the test with its signal and its last log lines, not with the
connection errors its clients see afterwards."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

LOG_LINES = 25


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def how_it_ended(returncode: int) -> str:
    """`killed by SIGILL (illegal instruction)` or `exit code 1`."""
    if returncode < 0:
        sig = signal.Signals(-returncode)
        described = signal.strsignal(sig) or ""
        return f"killed by {sig.name}" + (f" ({described.lower()})" if described else "")
    return f"exit code {returncode}"


@dataclass
class Server:
    process: subprocess.Popen
    log_path: Path
    base_url: str = ""

    def tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_LINES:]) or "(the server wrote nothing)"

    def fail_if_dead(self) -> None:
        code = self.process.poll()
        if code is not None:
            pytest.fail(f"llama.cpp's server died: {how_it_ended(code)}. Its last log lines:\n{self.tail()}",
                        pytrace=False)

    @contextmanager
    def watched(self) -> Iterator[None]:
        """A test body: if the server died, that is the failure, whatever the client saw."""
        try:
            yield
        except BaseException:
            try:  # a client can see the connection drop a moment before the process is reaped
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.fail_if_dead()
            raise
        self.fail_if_dead()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(command: list[str], log_path: Path, *, port: int, timeout_s: float) -> Server:
    """Start `command` (a server on `port`) and wait until GET /v1/models answers 200."""
    with log_path.open("w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    server = Server(process, log_path, f"http://127.0.0.1:{port}/v1")
    deadline = time.monotonic() + timeout_s
    while True:
        server.fail_if_dead()
        try:
            if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"llama.cpp's server did not answer /v1/models within {timeout_s:.0f} s. Its last log "
                        f"lines:\n{server.tail()}", pytrace=False)
        time.sleep(0.5)


def start_llamacpp(model: Path, log_path: Path, *, timeout_s: float = 120) -> Server:
    port = _free_port()
    return start([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                  "--port", str(port), "--n_ctx", "2048",
                  "--n_threads", "1"],  # the other core runs the rest of the suite; more threads only contend
                 log_path, port=port, timeout_s=timeout_s)
