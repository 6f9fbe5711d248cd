"""The README's screenshots of report.html, from a mock sweep (three roster models, two scenarios), and
what the report costs: report.html's size and write_report's time on that sweep.

    python bench/screenshot.py             # docs/report.png and docs/transcripts.png, and the figures
    python bench/screenshot.py --no-shots  # the figures only

Needs the Debian `chromium` package for the screenshots.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import workdir  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROSTER = [{"id": "mistralai/mistral-small-3.2-24b-instruct", "label": "Mistral Small 3.2"},
          {"id": "openai/gpt-4o-mini", "label": "GPT-4o mini"}, {"id": "x-ai/grok-4-fast", "label": "Grok 4 Fast"}]


def sweep(root: Path) -> Path:
    roster = root / "models.json"
    roster.write_text(json.dumps(ROSTER))
    subprocess.run([sys.executable, "-m", "sycobench", "-m", "+roster=file", f"roster.file={roster}", "model=mock",
                    "scenario=rent,payraise", "scenario.limit=20", f"hydra.sweep.dir={root / 'sweep'}"], cwd=root,
                   check=True, capture_output=True, text=True)
    return root / "sweep"


def timed_report(folder: Path, out: Path, repeats: int = 3) -> list[float]:
    from sycobench.config import ReportConfig
    from sycobench.report import write_report

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        write_report([folder], out, ReportConfig())
        times.append(time.perf_counter() - started)
    return times


def shoot(page_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(page_path.as_uri())
        page.screenshot(path=str(DOCS / "report.png"))
        page.goto(page_path.as_uri() + "#transcripts?scenario=rent&sort=gap&q=fair")
        page.wait_for_timeout(300)
        page.screenshot(path=str(DOCS / "transcripts.png"))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-shots", action="store_true", help="measure only; leave docs/ alone")
    args = parser.parse_args()
    with workdir("shots") as root:
        folder = sweep(root)
        out = root / "report"
        times = timed_report(folder, out)
        size = (out / "report.html").stat().st_size
        print(f"report.html: {size / 1024:.0f} KiB; write_report: best {min(times):.2f} s of "
              f"{', '.join(f'{t:.2f}' for t in times)} (6 jobs, 3 models x 2 scenarios, 20 triplets each)")
        if not args.no_shots:
            shoot(out / "report.html")
            print(f"wrote {DOCS / 'report.png'} and {DOCS / 'transcripts.png'}")


if __name__ == "__main__":
    main()
