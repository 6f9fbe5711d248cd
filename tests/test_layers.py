"""Imports run one way: a module imports only its own or earlier pipeline stages, never a later
stage or the command line, and no module reaches itself through its imports, not even inside a
folder (docs/architecture.md)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sycobench"

# Stage of each module by the first part of its dotted name below `sycobench`; lower comes first.
STAGES = {
    "errors": 0, "registry": 0, "paths": 0, "exitcodes": 0, "allocator": 0, "heap": 0, "logs": 0,
    "config": 1, "scenario_file": 1, "records": 1,
    "roster": 1,  # rosters are read while the config is composed
    "scenario": 2, "protocol": 2,
    "store": 3,  # the job folder: files, records, copies, lock
    "providers": 4, "progress": 4,
    "runner": 5,
    "scoring": 6, "validation": 6, "validation_metrics": 6, "stats": 6,
    "report": 7, "labelling": 7,
    "preflight": 8, "spec": 8, "estimate": 8,
    "job": 9, "sweep": 9,
    "api": 10, "app": 10, "score": 10, "validate": 10, "label": 10, "repair": 10, "callbacks": 10, "__main__": 10, "__init__": 10,
    "fake_openrouter": 10,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("sycobench", *parts))
        found[name.removesuffix(".__init__") if parts[-1] == "__init__" and len(parts) > 1 else name] = path
    return found


MODULES = _modules()


def _stage(dotted: str) -> int:
    return STAGES[dotted.split(".")[1] if "." in dotted else "__init__"]


def _imports(path: Path) -> set[str]:
    """Every sycobench module `path` imports, at its top or inside a function (a lazy import still ties)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sycobench"):
            for alias in node.names:  # `from sycobench.store import columnar` imports a module
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sycobench"))
    return {name for name in found if name in MODULES or name == "sycobench"}


def test_every_module_has_a_stage() -> None:
    for name in MODULES:
        assert name == "sycobench" or name.split(".")[1] in STAGES, f"give {name} a stage in this test"


def test_no_module_imports_a_later_stage_or_the_cli() -> None:
    wrong = []
    for me, path in MODULES.items():
        for target in _imports(path):
            if target == "sycobench" and me != "sycobench":
                wrong.append(f"{me} -> {target}")
            elif target != "sycobench" and _stage(target) > _stage(me):
                wrong.append(f"{me} -> {target}")
    assert not wrong, "imports against the pipeline: " + ", ".join(sorted(wrong))


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_anywhere_not_even_inside_a_folder() -> None:
    graph = {me: _imports(path) - {me} for me, path in MODULES.items()}
    assert not _circles(graph), _circles(graph)


def test_the_circle_finder_finds_a_circle_inside_one_folder() -> None:
    graph = {"sycobench.report.load": {"sycobench.report.columnar"},
             "sycobench.report.columnar": {"sycobench.report.load"}, "sycobench.report.render": set()}
    assert _circles(graph) == [["sycobench.report.columnar", "sycobench.report.load"]]


def test_docs_architecture_lists_every_module() -> None:
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for name, path in MODULES.items():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ("__init__.py", "__main__.py") or rel.endswith("/__init__.py") or rel.endswith("/__main__.py"):
            continue
        if f"`{rel}`" not in text:
            missing.append(rel)
    assert not missing, f"docs/architecture.md does not list: {', '.join(sorted(missing))}"


def test_the_job_command_sets_polars_allocator_before_polars_loads() -> None:
    """jemalloc reads its setting once, when Polars loads: the command must set it first, and a
    value the user set must win."""
    import os
    import subprocess
    import sys

    probe = ("import os, sys; import sycobench.app; loaded = 'polars' in sys.modules; import polars; "
             "print(loaded, os.environ['_RJEM_MALLOC_CONF'])")  # Polars appends it to its own: the last word wins
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    loaded, conf = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                  check=True).stdout.split()
    assert loaded == "False" and conf.endswith(",dirty_decay_ms:0,muzzy_decay_ms:0")
    loaded, conf = subprocess.run([sys.executable, "-c", probe], env={**env, "_RJEM_MALLOC_CONF": "narenas:2"},
                                  capture_output=True, text=True, check=True).stdout.split()
    assert loaded == "False" and conf.endswith(",narenas:2")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt; other C libraries are left alone")
def test_the_job_command_gives_freed_numpy_blocks_back_at_once() -> None:
    """After a large block is freed, glibc serves the next ones from its heap and keeps them when freed
    below a block still in use; the job command's allocator settings unmap them at once."""
    import os
    import subprocess

    probe = """if True:
        import sys
        if sys.argv[1] == "job":
            import sycobench.app
        import numpy as np

        def anon():
            return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssAnon")) / 1024

        big = np.ones(2 << 20)  # 16 MB, mmapped: freeing it raises glibc's threshold to 16 MB
        del big
        before = anon()
        block = np.ones(1 << 20)  # 8 MB
        pins = [np.ones(4) for _ in range(100)]  # small blocks above it: the heap's top stays in use
        del block
        print(anon() - before)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}

    def kept(mode: str) -> float:
        return float(subprocess.run([sys.executable, "-c", probe, mode], env=env, capture_output=True, text=True,
                                    check=True).stdout)

    if kept("plain") < 4:
        pytest.skip("this C library gives the block back by itself")
    assert kept("job") < 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim; other C libraries are left alone")
def test_give_back_returns_heap_pages_freed_below_blocks_in_use() -> None:
    """Mid-sized Python objects (an answer's text, 1-3 KB) live in glibc's heap; freed below one still
    in use, their pages stay in the process until heap.give_back() hands them back."""
    import subprocess

    probe = """if True:
        from sycobench.heap import give_back

        def anon():
            return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssAnon")) / 1024

        texts = [bytes(2000) + i.to_bytes(4, "little") for i in range(40_000)]  # ~80 MB of 2 KB blocks
        kept = texts[::16]  # every 16th stays: no page at the heap's top is free
        del texts
        before = anon()
        ok = give_back()
        print(ok, before - anon(), len(kept))
    """
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "True":
        pytest.skip("not glibc")
    assert float(out[1]) > 40  # MB given back of the ~75 MB freed
