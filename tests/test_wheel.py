"""The package as users get it: a wheel, installed in a fresh venv, run from any folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_lists_every_package_of_the_tree() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.relative_to(ROOT).parts[:-1]) for p in (ROOT / "sycobench").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


@pytest.mark.slow
def test_a_wheel_install_runs_from_any_folder(tmp_path) -> None:
    # No key: the roster dry run then prices nothing, so nothing leaves this machine.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "OPENROUTER_API_KEY")}
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist")], check=True, env=env, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("sycobench-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # pip below, from outside
    py = venv / "bin" / "python"
    # The dependencies come from this environment (no network in tests); sycobench only from the wheel.
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, env=env)
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(py), *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)

    where = run("-c", "import sycobench, sycobench.paths as p; print(sycobench.__file__); print(p.CONF_DIR)")
    assert where.returncode == 0, where.stderr
    module, conf = where.stdout.split()
    assert module.startswith(str(site)) and conf.startswith(str(site)), where.stdout

    helped = run("-m", "sycobench", "--help")
    assert helped.returncode == 0, helped.stderr
    for group in ("model", "scenario", "scorer", "rate_limit", "roster"):
        assert f"{group}:" in helped.stdout or f"{group}/" in helped.stdout, group

    job = run("-m", "sycobench", "scenario.limit=3", "hydra.run.dir=job")
    assert job.returncode == 0, job.stderr
    assert json.loads((work / "job" / "job.json").read_text())["status"] == "ok"
    assert (work / "job" / "uplift.csv").exists()
    report = run("-m", "sycobench.report", "job", "--bootstrap", "100")  # the transcript view's assets ship too
    assert report.returncode == 0, report.stderr
    assert 'id="tv-data"' in (work / "job" / "report" / "report.html").read_text(encoding="utf-8")
    label = run("-m", "sycobench.label", "job", "--n", "3", "--out", "labels.html")  # the page's assets ship too
    assert label.returncode == 0, label.stderr
    assert 'id="lb-data"' in (work / "labels.html").read_text(encoding="utf-8")

    roster = run("-m", "sycobench", "-m", "+roster=paid", "run.dry_run=true", "scenario.limit=1",
                 "hydra.sweep.dir=sweep")
    assert roster.returncode == 0, roster.stderr
    assert len(list((work / "sweep").glob("*/job.json"))) >= 2
