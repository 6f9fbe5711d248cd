"""The headline table for papers: fixed decimals, escaped LaTeX, Markdown, the same figures as uplift.csv."""

from __future__ import annotations

import re

import polars as pl
import pytest

from sycobench.report.paper import fixed, headline_frame, write_headline

UPLIFT = pl.DataFrame({
    "model_id": ["GPT-4o mini", "org/model_x 100% & more"], "scorer": ["offline", "offline"],
    "sycophancy_index": [0.1234, -0.0456], "sycophancy_index_lo": [0.05, None], "sycophancy_index_hi": [0.2, 0.01],
    "si_p_value": [0.0001, 0.5], "uplift_a": [0.2, 0.3], "uplift_a_lo": [0.1, 0.2],
    "uplift_a_hi": [0.3, 0.4], "uplift_b": [None, 0.1], "uplift_b_lo": [None, 0.0],
    "uplift_b_hi": [None, 0.2], "a_agree_p": [0.5, 0.25], "b_agree_p": [1.0, 0.0],
    "n_triplets": [30, 28],
})


def test_fixed_keeps_trailing_zeros_and_signs() -> None:
    values = pl.DataFrame({"x": [0.1, -0.0456, 1.9996, -2.5, -0.0004, 12.0, None]})
    assert values.select(fixed("x").alias("s"))["s"].to_list() == [
        "0.100", "-0.046", "2.000", "-2.500", "0.000", "12.000", "-"]


def test_headline_frame_columns_and_values() -> None:
    frame = headline_frame(UPLIFT)
    assert frame.columns == ["Model", "SI [95% CI]", "p (SI = 0)", "Uplift, landlord [95% CI]",
                             "Uplift, tenant [95% CI]", "Agree p, landlord", "Agree p, tenant", "Triplets"]
    assert frame.row(0) == ("GPT-4o mini", "0.123 [0.050, 0.200]", "<0.001", "0.200 [0.100, 0.300]", "-",
                            "0.500", "1.000", "30")
    assert frame.row(1)[1:3] == ("-0.046", "0.500")  # no interval when one bound is missing
    two = headline_frame(UPLIFT.with_columns(scorer=pl.Series(["offline", "judge"])))
    assert two.columns[:2] == ["Model", "Scorer"]


def test_tex_is_escaped_and_balanced(tmp_path) -> None:
    tex, md = write_headline(UPLIFT, tmp_path)
    text = tex.read_text(encoding="utf-8")
    assert r"org/model\_x 100\% \& more" in text and "model_x" not in text
    assert r"SI [95\% CI]" in text
    assert "\\usepackage{booktabs}" in text.splitlines()[0]
    for env in ("table", re.escape("tabular*")):
        assert len(re.findall(rf"\\begin\{{{env}\}}", text)) == len(re.findall(rf"\\end\{{{env}\}}", text)) == 1
    body = [line for line in text.splitlines() if line.rstrip().endswith("\\\\") and "&" in line]
    assert len(body) == 3 and all(line.count(" & ") == 7 for line in body[1:])  # header + 2 models, 8 columns
    assert "0.123 [0.050, 0.200]" in text and "\\textless{}0.001" in text
    lines = md.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("| Model") and set(lines[1]) <= {"|", "-", ":"}
    assert len(lines) == 4 and "| GPT-4o mini " in lines[2] and "0.123 [0.050, 0.200]" in lines[2]


@pytest.mark.parametrize("missing", ["si_p_value", "n_triplets", "uplift_b"])
def test_missing_columns_show_as_dashes(missing) -> None:
    frame = headline_frame(UPLIFT.drop(pl.col(f"^{missing}.*$")))
    assert frame.height == 2 and "-" in frame.row(0)
