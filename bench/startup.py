"""Start-up: `python -m sycobench --help` vs `python -c "import hydra"` (and a bare interpreter).

Each command runs `runs` times in a fresh child process, interleaved; medians of wall time.

    python bench/startup.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, median, run_child, workdir  # noqa: E402

COMMANDS = {
    "sycobench --help": ["-m", "sycobench", "--help"],
    "import hydra": ["-c", "import hydra"],
    "bare python": ["-c", "pass"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 2 if args.quick else 7
    walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
    rss: dict[str, float] = {}
    with workdir("startup") as tmp:
        env = bench_env(tmp)
        for _ in range(runs):
            for name, argv in COMMANDS.items():
                child = run_child([sys.executable, *argv], env=env, cwd=tmp)
                if child.returncode:
                    sys.exit(f"startup: {name} failed:\n{child.stderr[-2000:]}")
                walls[name].append(child.wall_s)
                rss[name] = child.peak_rss_mb
    mid = {name: median(values) for name, values in walls.items()}
    ratio = mid["sycobench --help"] / mid["import hydra"]
    print(f"startup: sycobench --help {mid['sycobench --help']:.3f} s vs import hydra {mid['import hydra']:.3f} s "
          f"(x{ratio:.2f}; bare python {mid['bare python']:.3f} s), medians of {runs}")
    for name, values in walls.items():
        print(f"  {name}: {', '.join(f'{v:.3f}' for v in values)} s; peak RSS {rss[name]:.0f} MB")


if __name__ == "__main__":
    main()
