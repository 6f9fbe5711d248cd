"""Imports run one way: a module imports only its own or earlier pipeline stages, never a later
stage or the command line (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sycobench"

# Stage of each module (by its dotted name's first part below `sycobench`); lower comes first.
STAGES = {
    "errors": 0, "registry": 0, "paths": 0, "exitcodes": 0, "allocator": 0,
    "config": 1, "scenario_file": 1, "records": 1, "jobdir": 1,
    "roster": 1,  # rosters are read while the config is composed
    "scenario": 2,
    "cache": 3,  # the first layer of the call path
    "providers": 3, "progress": 3,
    "runner": 4, "estimate": 4,
    "scoring": 5, "validation": 5,
    "stats": 6, "report": 6, "preflight": 6,
    "job": 7,
    "api": 8, "app": 8, "score": 8, "validate": 8, "callbacks": 8, "__main__": 8, "__init__": 8, "fake_openrouter": 8,
}


def _stage(dotted: str) -> int:
    return STAGES[dotted.split(".")[1] if "." in dotted else "__init__"]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "sycobench":  # from sycobench import x
            found.update(f"sycobench.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sycobench"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sycobench"))
    return found


def test_every_module_has_a_stage() -> None:
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        assert rel.parts[0] in STAGES, f"give sycobench/{rel} a stage in this test"


def test_no_module_imports_a_later_stage_or_the_cli() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        me = "sycobench." + ".".join(rel.parts)
        for target in _imports(path):
            if target == "sycobench" and me != "sycobench.__init__":
                wrong.append(f"{me} -> {target}")
            elif target != "sycobench" and _stage(target) > _stage(me):
                wrong.append(f"{me} -> {target}")
    assert not wrong, "imports against the pipeline: " + ", ".join(sorted(wrong))


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
