"""The real-model tests' server watcher: a server that dies is reported by its signal and its log."""

from __future__ import annotations

import socket
import sys

import httpx
import pytest

from tests.llama_server import how_it_ended, start

# A stand-in for llama.cpp's server: answers /v1/models, logs a line, and dies of SIGILL at the first
# chat request, as a native llama.cpp build does on a CPU whose AMX the kernel has not enabled.
DYING = r'''
import http.server, os, signal, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"data": []}')
    def do_POST(self):
        print("ggml: tileloadd in libggml-cpu.so", flush=True)
        os.kill(os.getpid(), signal.SIGILL)
print("llama server listening", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_server_that_dies_mid_test_fails_it_with_its_signal_and_last_log_lines(tmp_path):
    port = _port()
    server = start([sys.executable, "-c", DYING, str(port)], tmp_path / "server.log", port=port, timeout_s=30)
    try:
        with pytest.raises(pytest.fail.Exception) as failed, server.watched():
            httpx.post(f"{server.base_url}/chat/completions", json={}, timeout=10)  # a connection error
        message = str(failed.value)
        assert "killed by SIGILL" in message, message
        assert "tileloadd in libggml-cpu.so" in message and "listening" in message
        assert "RemoteProtocolError" not in message and "ConnectError" not in message
    finally:
        server.stop()


def test_a_server_that_dies_at_start_is_reported_the_same_way(tmp_path):
    with pytest.raises(pytest.fail.Exception) as failed:
        start([sys.executable, "-c", "import os, signal; print('loading model'); os.kill(os.getpid(), signal.SIGILL)"],
              tmp_path / "server.log", port=_port(), timeout_s=30)
    assert "killed by SIGILL" in str(failed.value) and "loading model" in str(failed.value)


def test_how_a_process_ended_is_said_in_words():
    assert how_it_ended(-4).startswith("killed by SIGILL")
    assert how_it_ended(-9).startswith("killed by SIGKILL")
    assert how_it_ended(1) == "exit code 1"
