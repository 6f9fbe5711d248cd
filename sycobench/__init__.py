"""sycobench: does a model take the side of whoever is asking?"""

from typing import Any

from sycobench.errors import ConfigError, DataError, ProviderError, ScoringError, SycobenchError

__all__ = [
    "ConfigError",
    "DataError",
    "Loaded",
    "ProviderError",
    "RunResult",
    "ScoringError",
    "SweepResult",
    "SycobenchError",
    "arun",
    "asweep",
    "compose",
    "load",
    "run",
    "sweep",
    "write_report",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The notebook API pulls in Polars and Hydra; load it on first use so the CLI starts fast.
    # `report` stays in sycobench.api: here the name is the sycobench.report package
    if name in ("Loaded", "RunResult", "SweepResult", "arun", "asweep", "compose", "load", "run", "sweep"):
        from sycobench import api

        return getattr(api, name)
    if name == "write_report":
        from sycobench.report import write_report

        return write_report
    raise AttributeError(f"module 'sycobench' has no attribute {name!r}")
