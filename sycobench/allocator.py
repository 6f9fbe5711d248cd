"""The job command's memory allocator setting: freed memory goes back to the system at once.

Polars allocates with jemalloc and, unless told otherwise, lets freed pages linger for 0.5 s and
then 1 s more (still counted in the process's memory), so each short step of a job's table stage
(copies, loads, results.parquet, bootstrap) adds its peak to the ones before it. Polars appends
`_RJEM_MALLOC_CONF` to its own setting when it is first imported, so the job command sets it
before anything imports Polars; a value already in the environment wins. Reports and notebooks
keep Polars' setting, which is faster for them (docs/performance.md).
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
