"""The job command's memory allocator settings: freed memory goes back to the system at once.

Polars allocates with jemalloc and, unless told otherwise, lets freed pages linger for 0.5 s and
then 1 s more (still counted in the process's memory), so each short step of a job's table stage
(copies, loads, results.parquet, bootstrap) adds its peak to the ones before it. Polars appends
`_RJEM_MALLOC_CONF` to its own setting when it is first imported, so the job command sets it
before anything imports Polars; a value already in the environment wins. Reports and notebooks
keep Polars' setting, which is faster for them (docs/performance.md).

NumPy and Python allocate with the C library's malloc. glibc raises its mmap threshold each time a
large block is freed, up to 32 MB, so the bootstrap's arrays come to live in the heap, which is
given back only from its top: a job kept 30-60 MB it no longer used. The job command fixes the
threshold at 128 KB (glibc's default), so a freed large block is unmapped at once
(`MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` in the environment win). Other C libraries:
nothing is changed.
"""

import ctypes
import os
import sys

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
_THRESHOLD = 128 * 1024


def _fixed_thresholds() -> None:
    if not sys.platform.startswith("linux") or os.environ.keys() & {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _THRESHOLD)
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): its own behaviour stays
        pass


_fixed_thresholds()
