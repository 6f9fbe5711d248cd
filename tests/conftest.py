from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sycobench.fake_openrouter import FakeServer


def pytest_configure(config: pytest.Config) -> None:
    """Compile the package's bytecode once, before the workers start: the suite starts a few hundred
    `python -m sycobench` processes, and where bytecode is not written (PYTHONDONTWRITEBYTECODE) each
    would compile every module again (~0.2 s of CPU each)."""
    if hasattr(config, "workerinput"):  # a worker: the controller compiled it already
        return
    import compileall
    from pathlib import Path

    import sycobench

    compileall.compile_dir(Path(sycobench.__file__).parent, quiet=2)  # best effort: a read-only install runs as before


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker per core and half as many again. Much of the suite waits (CLI subprocesses
    starting, loopback servers, rate limits and latency on purpose), and the extra workers fill that."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores + cores // 2)


_HEAVY = ("slow", "local", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with the most end-to-end tests (slow, local, browser) first, each file's tests in their own
    order: the workers take whole files in this order, so the long files start early and the short
    ones fill the gaps at the end, instead of a long file starting last and running alone."""
    heavy: dict[str, int] = {}
    for item in items:
        heavy.setdefault(item.nodeid.split("::")[0], 0)
        if any(item.get_closest_marker(name) for name in _HEAVY):
            heavy[item.nodeid.split("::")[0]] += 1
    rank = {file: i for i, file in enumerate(sorted(heavy, key=lambda f: -heavy[f]))}  # stable: ties keep their order
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


def missing_component(message: str) -> None:
    """A real component (Chromium, pdflatex, the llama.cpp server and its model) is not installed. CI
    installs them, so there this fails loudly; on a developer's machine the test is skipped
    with the same message, so `python -m pytest` stays green after the README's install."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message} (in CI this fails)")


@pytest.fixture(scope="session")
def _mpl_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("matplotlib"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch, _mpl_dir) -> None:
    """No test may read or write the user's real cache directory (matplotlib's font cache is
    shared by the session so it is built once)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLCONFIGDIR", _mpl_dir)


@pytest.fixture
def fake_openrouter() -> Iterator[FakeServer]:
    """A fresh loopback fake OpenRouter (default options, no latency) for one test."""
    from sycobench.fake_openrouter import serve_in_thread

    with serve_in_thread(latency_ms=0) as fake:
        yield fake


@pytest.fixture
def fake_key() -> str:
    return "sk-or-v1-fake"
