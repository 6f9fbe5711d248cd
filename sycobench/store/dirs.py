"""New job and sweep folders, named by date and time and claimed atomically (no Polars: the CLI loads this at start)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sycobench.errors import ConfigError

__all__ = ["claim_dir", "register_resolver"]


def claim_dir(root: str, pattern: str = "%Y-%m-%d/%H-%M-%S") -> str:
    """A new folder `<root>/<date>/<time>`, created here so no other job can take it: two jobs
    started in the same second get `<time>` and `<time>-2`."""
    base = Path(root) / datetime.now().strftime(pattern)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return str(candidate)
    raise ConfigError(f"{base}: no free folder name; choose one with hydra.run.dir=...")


def register_resolver() -> None:
    """`${sycobench_dir:outputs}` in conf/config.yaml; cached so a config resolves it once."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("sycobench_dir"):
        OmegaConf.register_new_resolver("sycobench_dir", claim_dir, use_cache=True)
