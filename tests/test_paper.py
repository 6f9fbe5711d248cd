"""The headline table for papers: fixed decimals, escaped LaTeX, Markdown, the same figures as uplift.csv."""

from __future__ import annotations

import re

import polars as pl
import pytest

from sycobench.report.paper import fixed, headline_frame, write_headline
from tests.conftest import missing_component

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


def test_tex_is_escaped_balanced_captioned_and_labelled(tmp_path) -> None:
    tex, md = write_headline(UPLIFT, tmp_path)
    text = tex.read_text(encoding="utf-8")
    assert r"org/model\_x 100\% \& more" in text and "model_x" not in text
    assert "\\usepackage{booktabs}" in text.splitlines()[0]
    for env in (re.escape("table*"), "tabular"):
        assert len(re.findall(rf"\\begin\{{{env}\}}", text)) == len(re.findall(rf"\\end\{{{env}\}}", text)) == 1
    assert "\\caption{Sycophancy index (SI) per model" in text and "\\label{tab:sycobench-headline}" in text
    assert "fontsize{12" not in text  # never larger than the document's own 10 pt
    body = [line for line in text.splitlines() if line.rstrip().endswith("\\\\") and "&" in line]
    assert len(body) == 3 and all(line.count(" & ") == 6 for line in body)  # header + 2 models, 7 columns
    assert body[1].startswith("GPT-4o mini & 0.123 & [0.050, 0.200] & \\textless{}0.001 & 0.200 & -- & 30")
    assert body[2].startswith("org/model") and "$-$0.046 & -- & 0.500" in body[2]  # sorted by SI; a real minus
    assert "dag" not in text  # 30 and 28 triplets: nothing to mark
    lines = md.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("| Model") and set(lines[1]) <= {"|", "-", ":"}
    assert len(lines) == 4 and "| GPT-4o mini " in lines[2] and "0.123 [0.050, 0.200]" in lines[2]


def test_tex_marks_small_samples_with_a_footnote(tmp_path) -> None:
    small = UPLIFT.with_columns(n_triplets=pl.Series([12, 28]))
    text = write_headline(small, tmp_path)[0].read_text(encoding="utf-8")
    assert text.count("\\textsuperscript{\\dag}") == 2  # the marked row and the footnote
    assert "12\\textsuperscript{\\dag} \\\\" in text and "fewer than 20 triplets" in text


def _measured(text: str) -> tuple[float, str]:
    match = re.search(r"Measured: (\d+) pt wide at (\\\w+)", text)
    return float(match[1]), match[2]


LONG = ["mistralai/mistral-small-3.2-24b-instruct", "anthropic/claude-3.5-haiku", "meta-llama/llama-3.3-70b-instruct"]


def test_tex_fits_a_one_column_page_at_10pt(tmp_path) -> None:
    from sycobench.report.latex import TEXT_WIDTH_PT, width_pt

    # Computer Modern at 10 pt sets a digit in 5 pt: the metric LaTeX uses
    assert width_pt("0123456789", 10) == pytest.approx(50.0, abs=0.5)
    short = UPLIFT.with_columns(model_id=pl.Series(["Alpha", "Beta"]))
    wide, size = _measured(write_headline(short, tmp_path)[0].read_text(encoding="utf-8"))
    assert wide <= TEXT_WIDTH_PT and size == "\\normalsize"  # roster labels: the document's own size
    wide, size = _measured(write_headline(UPLIFT, tmp_path)[0].read_text(encoding="utf-8"))
    assert wide <= TEXT_WIDTH_PT and size in ("\\small", "\\footnotesize")
    long = pl.concat([UPLIFT] * 2).with_columns(model_id=pl.Series(LONG + ["a"]), scorer=pl.lit("offline"))
    text = write_headline(long, tmp_path)[0].read_text(encoding="utf-8")
    assert "p{" in text and "mistralai/\\allowbreak{}mistral" in text  # long ids wrap in a column that fits
    assert _measured(text)[0] <= TEXT_WIDTH_PT


@pytest.mark.parametrize("names", [["Alpha", "Beta"], LONG[:2]])
@pytest.mark.parametrize("columns", ["onecolumn", "twocolumn"])
def test_latex_sets_it_without_an_overfull_box(tmp_path, names, columns) -> None:
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:  # CI installs it: there a missing LaTeX fails, never skips
        missing_component("pdflatex not found on PATH: install LaTeX (apt-get install texlive-latex-recommended), "
                          "as .ci/run does, then rerun the paper tests")
    frame = UPLIFT.with_columns(model_id=pl.Series(names), n_triplets=pl.Series([12, 28]))
    write_headline(frame, tmp_path)
    (tmp_path / "doc.tex").write_text(f"\\documentclass[10pt,{columns}]{{article}}\n\\usepackage{{booktabs}}\n"
                                      "\\begin{document}\nTable~\\ref{tab:sycobench-headline}.\n\\input{headline.tex}\n"
                                      "\\end{document}\n")
    for _ in range(2):  # the second pass resolves the reference
        proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-2000:]
    assert "Overfull \\hbox" not in log and "undefined" not in log.lower()


@pytest.mark.parametrize("missing", ["si_p_value", "n_triplets", "uplift_b"])
def test_missing_columns_show_as_dashes(missing) -> None:
    frame = headline_frame(UPLIFT.drop(pl.col(f"^{missing}.*$")))
    assert frame.height == 2 and "-" in frame.row(0)
