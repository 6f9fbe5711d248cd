"""Where the shipped configs and data live: beside the package in a wheel (the build maps the
repository's top-level `conf/` and `data/` into it), at the top of the repository in a checkout;
and how a YAML file is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONF_DIR", "DATA_DIR", "read_yaml"]

# libyaml's parser where PyYAML was built with it: the same safe subset, about ten times faster
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_HERE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    inside = _HERE / name
    return inside if inside.is_dir() else _HERE.parent / name


CONF_DIR = _shipped("conf")
DATA_DIR = _shipped("data")


def read_yaml(text: str) -> Any:
    """`yaml.safe_load`, with libyaml's parser where it is there."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
