"""The store: the only code that knows a job folder's files, and how records are read and written.

Its names load on first use, so the command line can claim a folder without loading Polars.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["ROW", "RUN", "SCORES", "JobFolder", "JsonlWriter", "ReportFolder", "SweepFolder", "claim_dir",
           "find_jobs", "first_rows", "lazy_frames", "read_blocks", "read_frame", "read_jsonl", "register_resolver",
           "replaced", "results_file", "sink_whole", "stream_frame", "take_rows"]

_HOME = {"RUN": "folder", "SCORES": "folder", "JobFolder": "folder", "SweepFolder": "folder", "find_jobs": "folder",
         "results_file": "folder", "sink_whole": "columnar", "replaced": "columnar", "ReportFolder": "folder",
         "claim_dir": "dirs", "register_resolver": "dirs", "JsonlWriter": "jsonl", "lazy_frames": "jsonl",
         "read_blocks": "jsonl", "read_frame": "jsonl", "read_jsonl": "jsonl", "stream_frame": "jsonl",
         "ROW": "pending", "first_rows": "pending", "take_rows": "pending"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"sycobench.store.{_HOME[name]}"), name)
    raise AttributeError(f"module 'sycobench.store' has no attribute {name!r}")
