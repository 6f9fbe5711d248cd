"""Where the shipped configs and data live: beside the package in a wheel (the build maps the
repository's top-level `conf/` and `data/` into it), at the top of the repository in a checkout."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONF_DIR", "DATA_DIR"]

_HERE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    inside = _HERE / name
    return inside if inside.is_dir() else _HERE.parent / name


CONF_DIR = _shipped("conf")
DATA_DIR = _shipped("data")
