"""Rent's grids and judge prompts, byte for byte as the code before scenarios-as-data wrote them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "data" / "grids"
_spec = importlib.util.spec_from_file_location("make_grids", HERE / "make.py")
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)


@pytest.mark.parametrize("name", sorted(make.VARIANTS))
def test_rent_grid_is_unchanged(name: str) -> None:
    assert make.grid_text(make.VARIANTS[name]) == (HERE / f"{name}.jsonl").read_text(encoding="utf-8")


def test_rent_judge_prompts_are_unchanged() -> None:
    assert make.judge_text() == (HERE / "judge.jsonl").read_text(encoding="utf-8")
