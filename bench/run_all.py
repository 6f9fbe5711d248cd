"""Run every benchmark script in turn; `--quick` is passed through. Exits non-zero if any failed.

    python bench/run_all.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["throughput.py", "vs_openai.py", "cpu_per_call.py", "rate_fidelity.py", "report_scale.py", "memory.py",
           "startup.py", "known_truth.py", "resamples.py", "components.py"]


def main() -> None:
    passed = [arg for arg in sys.argv[1:] if arg == "--quick"]
    unknown = [arg for arg in sys.argv[1:] if arg != "--quick"]
    if unknown:
        sys.exit(f"usage: python bench/run_all.py [--quick] (unknown: {' '.join(unknown)})")
    failed = []
    for script in SCRIPTS:
        print(f"== {script} {' '.join(passed)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *passed])
        print(f"   ({time.perf_counter() - started:.1f} s, exit {code})", flush=True)
        if code:
            failed.append(script)
    print(f"run_all: {len(SCRIPTS) - len(failed)}/{len(SCRIPTS)} scripts ran"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
