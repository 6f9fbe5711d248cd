"""`python -m sycobench.repair PATH`: record as unknown the numbers no reader can keep (NaN, Infinity, an
integer beyond 64 bits) in the record files of a job folder, or of every job of a sweep folder.

Such a number can only come from a file edited by hand or written before servers' numbers were
checked (docs/records.md). The lines as they were are kept beside each file (`run.jsonl.repaired`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sycobench.errors import SycobenchError
from sycobench.exitcodes import USAGE
from sycobench.store import RUN, SCORES, find_jobs
from sycobench.store.jsonl import repair_numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sycobench.repair", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a job folder or a sweep folder")
    args = parser.parse_args(argv)
    jobs = find_jobs(args.path) if args.path.is_dir() else []
    if not jobs:
        print(f"sycobench.repair: error: {args.path}: no sycobench job folder found there", file=sys.stderr)
        return USAGE
    repaired = 0
    try:
        for job in jobs:
            with job.lock():  # never beside a job still writing there
                for name in (RUN, SCORES):
                    fixed = repair_numbers(job.records(name))
                    repaired += fixed
                    if fixed:
                        print(f"{job.records(name)}: {fixed} line(s) repaired; as they were: "
                              f"{job.records(name).name}.repaired")
                job.write_copies()
    except SycobenchError as exc:
        print(f"sycobench.repair: error: {exc}", file=sys.stderr)
        return USAGE
    if not repaired:
        print(f"nothing to repair: no record in {len(jobs)} job folder(s) holds a number a reader cannot keep; "
              "a line that is not a record is named, with its file and line, by the command that reads it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
