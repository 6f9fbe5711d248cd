"""The store: the only code that knows a job folder's files, and how records are read and written."""

from sycobench.store.folder import RUN, SCORES, JobFolder, SweepFolder, claim_dir, find_jobs, register_resolver
from sycobench.store.jsonl import JsonlWriter, lazy_frames, read_blocks, read_frame, read_jsonl, stream_frame

__all__ = ["RUN", "SCORES", "JobFolder", "JsonlWriter", "SweepFolder", "claim_dir", "find_jobs", "lazy_frames",
           "read_blocks", "read_frame", "read_jsonl", "register_resolver", "stream_frame"]
