"""sycobench: does a model take the side of whoever is asking?"""

import os
from typing import Any

# Polars' allocator (jemalloc) keeps freed pages for 10 s by default, so each short step of a job's
# table stage would add its peak to the ones before it. Returning them within 0.2 s, from a
# background thread, keeps a job's memory near its largest step (docs/performance.md). Read when
# Polars is first imported; a value already in the environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:200,muzzy_decay_ms:0")

from sycobench.errors import ConfigError, DataError, ProviderError, ScoringError, SycobenchError

__all__ = [
    "ConfigError",
    "DataError",
    "ProviderError",
    "RunResult",
    "ScoringError",
    "SycobenchError",
    "arun",
    "compose",
    "run",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The notebook API pulls in Polars and Hydra; load it on first use so the CLI starts fast.
    if name in ("RunResult", "arun", "compose", "run"):
        from sycobench import api

        return getattr(api, name)
    raise AttributeError(f"module 'sycobench' has no attribute {name!r}")
