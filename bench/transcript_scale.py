"""Transcript view at scale: ~100,000 scored answers (12 models) in report.html, opened in Chromium.

Builds the view's data and markup from a synthetic results frame (answers of ~1,200 characters),
writes a page holding only the view, and times in headless Chromium at 1280 px: load to the first
rendered triplet, a sort, and a model filter. Needs the Debian `chromium` package.

    python bench/transcript_scale.py
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import verdict, workdir  # noqa: E402

TARGET_MB, TARGET_LOAD_S, TARGET_ACTION_S = 40.0, 10.0, 1.0
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    import polars as pl
    from playwright.sync_api import sync_playwright

    from sycobench.report.transcripts import transcript_data, transcript_html
    from tests.synthetic import synthetic_results

    models = [f"org{i}/model-{i}" for i in range(12)]
    results = synthetic_results(models, triplets=2800).with_columns(
        response_text=pl.col("response_text") + pl.lit("x" * 700))
    start = time.perf_counter()
    data = transcript_data(results, threshold=0.33)
    page = ('<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>' + transcript_html(data)
            + "</body></html>")
    build_s = time.perf_counter() - start
    with workdir("transcripts") as tmp, sync_playwright() as pw:
        path = tmp / "report.html"
        path.write_text(page, encoding="utf-8")
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        tab.goto(path.as_uri())
        tab.wait_for_selector(".tv-triplet")
        t1 = time.perf_counter()
        tab.select_option("#tv-sort", "gap")
        t2 = time.perf_counter()
        tab.select_option("#tv-model", models[3])
        t3 = time.perf_counter()
        status = tab.inner_text("#tv-status")
        browser.close()
    size_mb = len(page.encode()) / 1e6
    counts = data["counts"]
    ok = size_mb <= TARGET_MB and t1 - t0 <= TARGET_LOAD_S and max(t2 - t1, t3 - t2) <= TARGET_ACTION_S
    print(f"transcript_scale: {counts['answers']:,} answers, {counts['answers_shown']:,} embedded "
          f"({counts['triplets_shown']:,} of {counts['triplets']:,} triplets); page {size_mb:.1f} MB built in "
          f"{build_s:.1f} s; Chromium load {t1 - t0:.2f} s, sort {t2 - t1:.2f} s, filter {t3 - t2:.2f} s "
          f"({status}); targets <= {TARGET_MB:g} MB, load <= {TARGET_LOAD_S:g} s, actions <= {TARGET_ACTION_S:g} s: "
          f"{verdict(ok)}")


if __name__ == "__main__":
    main()
