"""Shared helpers for the benchmark scripts: the fake server in its own process, isolated
environments, children whose peak memory is measured, and a sycobench job timed phase by phase."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

__all__ = ["BENCH_KEY", "Child", "Fake", "JobTiming", "bare_calls", "bench_env", "chat_bodies", "median", "run_child",
           "run_sycobench_job", "start_fake", "verdict", "workdir"]

BENCH_KEY = "sk-or-v1-bench"
PYTHON = sys.executable
_LISTENING = re.compile(r"listening on (http://\S+)")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"sycobench-{prefix}-") as tmp:
        yield Path(tmp)


def bench_env(tmp: Path) -> dict[str, str]:
    """A private cache and the bench key, set in this process (for in-process jobs) and returned
    as a full environment for children."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp / "cache"), "MPLCONFIGDIR": str(tmp / "mpl"),
           "OPENROUTER_API_KEY": BENCH_KEY, "PYTHONUNBUFFERED": "1"}
    os.environ.update({k: env[k] for k in ("XDG_CACHE_HOME", "MPLCONFIGDIR", "OPENROUTER_API_KEY")})
    return env


@dataclass
class Fake:
    """A fake OpenRouter in a child process, driven over its `/_fake/*` endpoints."""

    proc: subprocess.Popen
    base_url: str  # .../api/v1

    def _call(self, action: str, payload: dict | None = None) -> dict[str, Any]:
        root = self.base_url.rsplit("/api/v1", 1)[0]
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{root}/_fake/{action}", data=data, method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return self._call("stats")

    def reset(self) -> None:
        self._call("reset", {})

    def cpu_s(self) -> float:
        """The server process's CPU seconds so far (utime + stime from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def start_fake(*, latency_ms: float = 0.0) -> Iterator[Fake]:
    proc = subprocess.Popen([PYTHON, "-m", "sycobench.fake_openrouter", "--port", "0", "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        found = _LISTENING.search(line)
        if not found:
            raise RuntimeError(f"the fake server did not start: {line!r}")
        yield Fake(proc, found.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Child:
    returncode: int
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_child(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Child:
    """Run `cmd` to the end; peak RSS comes from wait4, i.e. from this child (or its largest
    descendant) alone, not from every child this process ever had."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(proc.returncode, wall, usage.ru_maxrss / 1024, out.read(), err.read())


@dataclass
class JobTiming:
    """A job's wall and CPU seconds, whole and per phase (`generate`, `judge`), told apart by the
    job's own progress log lines `<phase>: N to do` and `<phase>: done, ...`."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    marks: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def phase_wall_s(self, phase: str) -> float:
        return self.marks[(phase, "end")][0] - self.marks[(phase, "start")][0]

    def phase_cpu_s(self, phase: str) -> float:
        return self.marks[(phase, "end")][1] - self.marks[(phase, "start")][1]

    @property
    def gen_wall_s(self) -> float:
        return self.phase_wall_s("generate")

    @property
    def gen_cpu_s(self) -> float:
        return self.phase_cpu_s("generate")


class _Marks(logging.Handler):
    def __init__(self, timing: JobTiming) -> None:
        super().__init__(logging.INFO)
        self.timing = timing

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        head, _, rest = message.partition(": ")
        edge = "end" if rest.startswith("done") else "start" if rest.endswith(" to do") else None
        if head in ("generate", "judge") and edge:  # periodic progress lines in between are no edge
            self.timing.marks[(head, edge)] = (time.perf_counter(), time.process_time())


def run_sycobench_job(base_url: str, job_dir: Path, overrides: list[str], *, judge: bool = False) -> JobTiming:
    """One job as a user runs it (records, progress, run.log, response cache), against `base_url`;
    with `judge`, every answer is then rated by a judge model served by the same fake."""
    from sycobench import compose
    from sycobench.config import to_config
    from sycobench.job import run_job
    from sycobench.spec import prepare_job

    scorer = ["scorer=judge", "scorer.model.id=openai/gpt-4o-mini", f"scorer.model.base_url={base_url}"] \
        if judge else ["scorer=none"]
    cfg = to_config(compose(["model=openrouter", "model.id=openai/gpt-4o-mini", f"model.base_url={base_url}",
                             *scorer, *overrides]))
    job_dir.mkdir(parents=True, exist_ok=True)
    timing = JobTiming()
    log_file = logging.FileHandler(job_dir / "run.log")
    log_file.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    root = logging.getLogger("sycobench")
    handlers = [log_file, _Marks(timing)]
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = run_job(prepare_job(cfg), job_dir)
    finally:
        timing.wall_s, timing.cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        for handler in handlers:
            root.removeHandler(handler)
        log_file.close()
    target = result.totals.get("target", {})
    if result.status != "ok" or target.get("ok") != result.totals.get("planned"):
        raise RuntimeError(f"the job did not finish cleanly: {result.status} {result.message} {result.totals}")
    return timing


def chat_bodies(n: int) -> list[dict[str, Any]]:
    """The request bodies sycobench sends for the default grid (openrouter defaults), `n` of them."""
    from sycobench.config import ScenarioConfig
    from sycobench.scenario import build_grid

    grid = build_grid(ScenarioConfig())
    return [{"model": "openai/gpt-4o-mini", "messages": grid[i % len(grid)].messages, "temperature": 0.7,
             "max_tokens": 1024} for i in range(n)]


async def bare_calls(kind: str, url: str, bodies: list[dict[str, Any]], *, concurrency: int) -> None:
    """The minimal client: POST every body at most `concurrency` at a time, parse the JSON, keep nothing."""
    headers = {"Authorization": f"Bearer {BENCH_KEY}"}
    slots = asyncio.Semaphore(concurrency)
    if kind == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            async def one(body: dict[str, Any]) -> None:
                async with slots:
                    response = await client.post(url, json=body, headers=headers)
                    response.raise_for_status()
                    response.json()

            await asyncio.gather(*map(one, bodies))
    elif kind == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            async def one(body: dict[str, Any]) -> None:
                async with slots, session.post(url, json=body, headers=headers) as response:
                    response.raise_for_status()
                    json.loads(await response.read())

            await asyncio.gather(*map(one, bodies))
    else:
        raise ValueError(f"unknown client {kind!r}")
