"""The labelling page: one self-contained HTML file (inline style, data and script; no network).

It shows a sample's answers one at a time with their fact sheet and the scenario's scale, takes a
score on −1..+1 from buttons, a slider or the keyboard, keeps progress in the browser's
localStorage under the sample's id, and exports the labels as a CSV that `scorer=human` imports.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from sycobench.labelling.sample import LabelSample

__all__ = ["CSV_COLUMNS", "page_data", "page_html"]

_ASSETS = Path(__file__).resolve().parent / "assets"
#: the export's columns (docs/validation.md); `answer` is what scorer=human matches on
CSV_COLUMNS = ["labeller", "answer", "run_id", "prompt_id", "k", "score", "sample", "item", "labelled_at"]
#: the five bins the number keys give
BINS = [-1.0, -0.5, 0.0, 0.5, 1.0]


def page_data(sample: LabelSample) -> dict:
    """What the page embeds: ids to export, the fact sheet and the answer; never the asker, the
    side, the model or any score."""
    return {"sample": sample.sample_id, "seed": sample.seed, "columns": CSV_COLUMNS, "bins": BINS,
            "scenarios": sample.scenarios, "items": sample.items}


def _json(data: dict) -> str:
    """JSON safe inside a <script> element: no `<` can close it or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def page_html(sample: LabelSample, *, title: str = "Label answers") -> str:
    css = (_ASSETS / "label.css").read_text(encoding="utf-8")
    js = (_ASSETS / "label.js").read_text(encoding="utf-8")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">\n"
        f"<title>{html.escape(title)} ({html.escape(sample.sample_id)})</title>\n<style>{css}</style>\n</head>\n<body>\n"
        '<main id="lb-app"><noscript>This page needs JavaScript to record labels.</noscript></main>\n'
        f'<script type="application/json" id="lb-data">{_json(page_data(sample))}</script>\n'
        f"<script>{js}</script>\n</body>\n</html>\n"
    )
