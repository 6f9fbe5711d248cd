"""sycobench: does a model take the side of whoever is asking?"""

from typing import Any

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
