"""Providers and scorers are found by name; a package adds its own without editing sycobench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sycobench.errors import ConfigError
from sycobench.providers import PROVIDERS
from sycobench.scoring import SCORERS

PLUGIN = Path(__file__).resolve().parent / "plugin_example"


def test_the_built_ins_are_registered_by_the_names_users_type() -> None:
    assert {"mock", "openrouter"} <= set(PROVIDERS.names())
    assert {"offline", "judge", "human", "none"} <= set(SCORERS.names())
    conf = Path(__file__).resolve().parent.parent / "conf" / "scorer"
    assert {p.stem for p in conf.glob("*.yaml")} - {"auto"} <= set(SCORERS.names())


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"model.api: unknown 'bedrock'; known: .*mock, openrouter"):
        PROVIDERS.get("bedrock")


@pytest.mark.slow
def test_a_plugin_package_adds_a_provider_and_a_scorer_through_entry_points(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PLUGIN)}
    proc = subprocess.run(
        [sys.executable, "-m", "sycobench", "model=openrouter", "model.api=echo", "model.id=echo/1",
         "model.api_key_env=null", "scorer=offline", "scorer.name=length", "scenario.limit=2",
         f"hydra.run.dir={tmp_path / 'job'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "job" / "run.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all(r["response_text"].startswith("You asked:") for r in records)
    scores = [json.loads(line) for line in (tmp_path / "job" / "scores.jsonl").read_text().splitlines()]
    assert {s["scorer"] for s in scores} == {"length"} and len(scores) == 6
