"""The rendered report: every file written, valid PNGs, a self-contained escaped HTML page."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import matplotlib.image as mpimg
import numpy as np
import polars as pl
import pytest

from sycobench.report.plots import FORMATS
from sycobench.report.render import PLOTS, render_report

MODELS = ["acme/alpha-1", "beta/omega-2-instruct"]
EVIL = "evil/<script>alert(1)</script>"
FAILED_MESSAGE = "CreditsError: out of credits after 12 calls"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAPER = {"headline.tex", "headline.md"}


def _tables(models: list[str], scorers: list[str]) -> dict[str, pl.DataFrame]:
    keys = [(m, s) for m in models for s in scorers]
    g = len(keys)
    si = 0.123 + 0.1 * np.arange(g)
    upl = pl.DataFrame({
        "model_id": [m for m, _ in keys], "scorer": [s for _, s in keys],
        "a_n": [40] * g, "a_agree_p": 0.41 + 0.01 * np.arange(g), "a_uplift": [0.2] * g,
        "b_n": [39] * g, "b_agree_p": 0.52 + 0.01 * np.arange(g), "b_uplift": [0.1] * g,
        **{f"{c}{x}": [v + d] * g for c, v in [("uplift_a", 0.2), ("uplift_b", 0.1), ("lean", 0.01),
                                               ("both_sides_affirmed", 0.3)]
           for x, d in [("", 0.0), ("_lo", -0.05), ("_hi", 0.05)]},
        "sycophancy_index": si, "sycophancy_index_lo": si - 0.073, "sycophancy_index_hi": si + 0.077,
        "n_triplets": 37 + np.arange(g), "n_triplets_incomplete": [3] * g, "si_p_value": 0.0123 + 0.01 * np.arange(g),
        "si_split_half": [None] * g, "some_future_column": ["x"] * g,
    })
    sides = ["a", "b", "neutral", "all"]
    mix = pl.DataFrame([
        {"model_id": m, "scorer": s, "side": p, "n": 40, "unscorable_n": 1, "mean_score": 0.1,
         **{f"p_{b}{x}": v + d for b, v in [("neg", 0.2), ("neu", 0.3), ("pos", 0.5)]
            for x, d in [("", 0.0), ("_lo", -0.1), ("_hi", 0.1)]}}
        for m, s in keys for p in sides
    ])
    levels = ["50", "100", "200"]
    by_factor = pl.DataFrame([
        {"model_id": m, "scorer": s, "factor": f, "level": lv, "n_triplets": 12, "sycophancy_index": 0.1 * i,
         "sycophancy_index_lo": 0.1 * i - 0.1, "sycophancy_index_hi": 0.1 * i + 0.1}
        for m, s in keys for f in ("amount", "justification") for i, lv in enumerate(levels)
    ])
    compare = pl.DataFrame({"model_id": models[1], "scorer": scorers[0], "reference": models[0], "n_triplets": [35],
                            "si_diff": [0.25], "si_diff_lo": [0.111], "si_diff_hi": [0.389]})
    health = pl.DataFrame({
        "model_id": models, "calls": [120, 118], "errors": [2, 0], "blocked": [1, 0],
        "errors_by_class": ['{"blocked": 1, "rate_limit": 1}', "{}"], "unscorable_rate": [0.01, 0.0],
        "prompt_tokens": [1000, None], "completion_tokens": [2000, 1500], "reasoning_tokens": [None, None],
        "cost_target_usd": [0.0123, 0.02], "cost_judge_usd": [0.001, None], "latency_p50_s": [1.2, 1.4],
        "latency_p95_s": [3.0, 4.0], "cache_hits": [0, 5],
    })
    jobs = pl.DataFrame({"job": ["j0", "j1", "j2"], "model_id": [*models, "gamma/broken"],
                         "status": ["ok", "ok", "failed"], "message": ["", "", FAILED_MESSAGE],
                         "overrides": ["", "", "model=broken"]})
    tables = {"stance_mix": mix, "uplift": upl, "compare": compare, "by_factor": by_factor, "health": health,
              "jobs": jobs}
    if len(scorers) > 1:
        rng = np.random.default_rng(0)
        a = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], 80)
        tables["agreement"] = pl.DataFrame({
            "model_id": ["all"], "scorer_a": [scorers[0]], "scorer_b": [scorers[1]], "n": [80], "spearman": [0.812],
            "krippendorff_alpha": [0.745], "mae": [0.2], "weighted_kappa": [0.6],
        })
        tables["pairs"] = pl.DataFrame({"scorer_a": scorers[0], "scorer_b": scorers[1], "score_a": a,
                                        "score_b": np.clip(a + rng.choice([-0.5, 0.0, 0.5], 80), -1, 1)})
    return tables


META = {
    "title": "Test report", "created_at": "2025-01-02T03:04:05+00:00", "code_version": "sycobench 0.1.0 (git abc1234)",
    "sources": ["runs/job-a", "runs/job-b"], "config": "model:\n  id: acme/alpha-1\nreport:\n  threshold: 0.33\n",
    "totals": {"calls": 238, "errors": 2, "cost_target_usd": 0.0323, "cost_judge_usd": 0.001},
    "threshold": 0.33, "bootstrap": 2000, "seed": 7,
}


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> tuple[Path, list[Path], dict[str, pl.DataFrame]]:
    out = tmp_path_factory.mktemp("report")
    tables = _tables(MODELS, ["offline", "judge:gpt-4o"])
    return out, render_report(tables, out, meta=META, formats=FORMATS), tables


class _Balance(HTMLParser):
    """Checks that every non-void element is closed, in order."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.resources += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _parse(text: str) -> _Balance:
    parser = _Balance()
    parser.feed(text)
    parser.close()
    return parser


def test_every_file_is_written_the_page_figures_as_svg_and_the_paper_copies_valid(full) -> None:
    out, written, _ = full
    figures = {str(Path(name).with_suffix(f".{fmt}")) for name in PLOTS.values() for fmt in FORMATS}
    expected = {*figures, *PAPER, "report.md", "report.html"}
    assert {p.name for p in written} == expected
    assert all(p.parent == out and p.stat().st_size > 0 for p in written)
    for name in PLOTS.values():
        path = out / name
        root = ElementTree.parse(path).getroot()  # the page's own SVG: well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and float(root.get("width")) > 300
        assert path.with_suffix(".png").read_bytes()[:8] == PNG_MAGIC  # matplotlib's copies for papers
        image = mpimg.imread(path.with_suffix(".png"))
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
        assert path.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def test_html_is_self_contained_and_well_formed(full) -> None:
    out, _, _ = full
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    parsed = _parse(page)
    assert parsed.errors == [] and parsed.stack == []
    assert [r for r in parsed.resources if not r.startswith("#")] == []  # in-page links only: contents, transcripts
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == len(PLOTS)  # each figure inline
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page


def test_headline_values_and_meta_appear(full) -> None:
    out, _, tables = full
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    first = tables["uplift"].row(0, named=True)
    si = f"{first['sycophancy_index']:.3f} [{first['sycophancy_index_lo']:.3f}, {first['sycophancy_index_hi']:.3f}]"
    for text in (si, f"{first['si_p_value']:.3f}", f"{first['a_agree_p']:.3f}",
                 f"{first['b_agree_p']:.3f}", f"| {first['n_triplets']} |", "0.250 [0.111, 0.389]",
                 META["code_version"], "runs/job-b", "seed 7", "How to read this", "id: acme/alpha-1"):
        assert text in md, text
    value, interval = si.split(" ", 1)
    assert f'{value}<br><span class="ci">{interval}</span>' in page  # the interval sits under its value
    assert si in (out / "headline.md").read_text(encoding="utf-8")
    assert "(forest_si.svg)" in md and "(stance_mix.svg)" in md


def test_failed_job_message_is_listed(full) -> None:
    out, _, _ = full
    for name in ("report.md", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert FAILED_MESSAGE in text and "gamma/broken" in text


def test_amount_levels_sort_by_value(full) -> None:
    out, _, _ = full
    md = (out / "report.md").read_text(encoding="utf-8")
    amount = md.split("### amount", 1)[1].split("###", 1)[0]
    assert amount.index("| 50 |") < amount.index("| 100 |") < amount.index("| 200 |")


def test_one_scorer_without_pairs_skips_the_scatter(tmp_path) -> None:
    tables = _tables(MODELS, ["offline"])
    written = {p.name for p in render_report(tables, tmp_path, meta=META, formats=["png", "pdf"])}
    assert PLOTS["agreement"] not in written and PLOTS["stance_mix"] in written
    assert "agreement_scatter.pdf" not in written and {"stance_mix.pdf", "stance_mix.png"} <= written
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| scorer |" not in md and "Only one scorer" in md


@pytest.mark.parametrize("keep", [set(), {"uplift"}, {"jobs", "health"}])
def test_missing_or_empty_tables_do_not_crash(tmp_path, keep) -> None:
    full_tables = _tables(MODELS, ["offline", "judge"])
    tables = {k: v for k, v in full_tables.items() if k in keep}
    tables["stance_mix"] = full_tables["stance_mix"].clear()
    written = render_report(tables, tmp_path, meta={"title": "sparse", "threshold": 0.33})
    names = {p.name for p in written}
    assert {"report.md", "report.html"} <= names
    assert (PLOTS["forest"] in names) == ("uplift" in keep) == (PAPER <= names)
    assert PLOTS["stance_mix"] not in names and not (tmp_path / PLOTS["stance_mix"]).exists()
    assert _parse((tmp_path / "report.html").read_text(encoding="utf-8")).errors == []


def test_markup_in_model_ids_and_messages_is_escaped(tmp_path) -> None:
    tables = _tables([MODELS[0], EVIL], ["offline", "judge"])
    tables["jobs"] = tables["jobs"].with_columns(message=pl.lit("<img src=x onerror=alert(1)>"))
    render_report(tables, tmp_path, meta={**META, "title": "<b>title</b>"})
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>title" not in page
    assert page.count("<script") == 1  # the page's own script only
    assert "evil/&lt;script&gt;alert(1)&lt;/script&gt;" in page
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in md


def test_rows_on_few_triplets_are_marked_and_holm_is_stated(full) -> None:
    out, _, tables = full
    md = (out / "report.md").read_text(encoding="utf-8")
    headline = md.split("## Headline", 1)[1].split("## Stance mix", 1)[0]
    factors = md.split("## Factor breakdown", 1)[1].split("## Judge agreement", 1)[0]
    assert tables["uplift"]["n_triplets"].min() >= 20 and "†" not in headline.split("How to read")[0]
    assert "| 37 |" in headline
    assert tables["by_factor"]["n_triplets"].max() < 20
    assert factors.count("| 12 † |") == tables["by_factor"].height
    assert "fewer than 20 triplets" in factors and "Holm" in factors and "p (Holm)" in factors
    small = tables["uplift"].with_columns(n_triplets=pl.Series([19] + [20] * (tables["uplift"].height - 1)))
    render_report({**tables, "uplift": small}, out / "small", meta=META)
    headline = (out / "small" / "report.md").read_text(encoding="utf-8").split("## Headline", 1)[1]
    assert "| 19 † |" in headline and "| 20 |" in headline


def test_roster_labels_name_models_everywhere(tmp_path) -> None:
    tables = _tables(MODELS, ["offline"])
    labels = {MODELS[0]: "Alpha One"}
    render_report(tables, tmp_path, meta={**META, "labels": labels})
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "- Alpha One: acme/alpha-1" in md  # the one place the id still shows
    assert md.count("acme/alpha-1") == 2 and "| Alpha One |" in md  # the other is the config block
    assert "Alpha One" in (tmp_path / "headline.tex").read_text(encoding="utf-8")
    assert "acme/alpha-1" not in (tmp_path / "headline.md").read_text(encoding="utf-8")


def _ids(page: str, tag: str) -> list[str]:
    return re.findall(rf'<{tag} id="([^"]+)"', page)


def test_headline_is_the_first_table_and_the_contents_reach_every_section(full) -> None:
    out, _, tables = full
    page = (out / "report.html").read_text(encoding="utf-8")
    first = page.index("<table")
    assert page[first:first + 80].startswith('<table class="data" id="headline-table"')
    assert page.index('id="headline"') < first < page.index('<nav id="contents"')
    contents = page.split('<nav id="contents"', 1)[1].split("</nav>", 1)[0]
    linked = re.findall(r'href="#([^"]+)"', contents)
    sections = _ids(page, "h2")
    assert linked == sections and len(sections) >= 10
    assert {"headline", "how-to-read", "stance-mix", "factors", "health", "configuration"} <= set(sections)
    assert len(set(re.findall(r' id="([^"]+)"', page))) == len(re.findall(r' id="([^"]+)"', page))  # no id twice


def test_headline_has_a_table_per_scorer_sorted_by_si_linking_to_transcripts(full) -> None:
    out, _, tables = full
    page = (out / "report.html").read_text(encoding="utf-8")
    headline = page.split('id="headline"', 1)[1].split('<nav id="contents"', 1)[0]
    assert headline.count("<table") == 2  # offline and judge:gpt-4o, never ranked together
    uplift = tables["uplift"]
    for scorer, table in zip(("offline", "judge:gpt-4o"), headline.split("<table")[1:]):
        expected = uplift.filter(pl.col("scorer") == scorer).sort("sycophancy_index", descending=True)
        links = re.findall(r'<a href="(#transcripts\?[^"]+)">([^<]+)</a>', table)
        assert [name for _, name in links] == expected["model_id"].to_list()
        assert all(href.endswith(f"scorer={scorer.replace(':', '%3A')}") for href, _ in links)
        assert links[0][0].startswith("#transcripts?model=" + expected["model_id"][0].replace("/", "%2F"))


def test_unvalidated_scorers_are_kept_apart_from_validated_rows(tmp_path) -> None:
    tables = _tables(MODELS, ["offline", "judge:gpt-4o", "judge:tiny"])
    tables["uplift"] = tables["uplift"].with_columns(unvalidated=pl.col("scorer") == "judge:gpt-4o")
    render_report(tables, tmp_path, meta=META)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    headline = page.split('id="headline"', 1)[1].split('<nav id="contents"', 1)[0]
    validated, apart = headline.split('id="headline-not-validated"', 1)
    assert "scorer offline" in validated and "scorer judge:tiny" in validated and "judge:gpt-4o" not in validated
    assert "scorer judge:gpt-4o" in apart and "not validated" in apart and apart.count("<table") == 1
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert md.index("### scorer judge:tiny") < md.index("### Not validated") < md.index("### scorer judge:gpt-4o")


def test_long_tables_are_marked_for_folding_and_every_table_can_sort(full) -> None:
    out, _, _ = full
    page = (out / "report.html").read_text(encoding="utf-8")
    tables = re.findall(r'<table class="data"[^>]*data-top="(\d+)"', page)
    assert tables and all(int(top) == 12 for top in tables)
    assert "th button.sort" in page and "show all" in page  # the script that sorts and folds is inline


def test_png_only_by_default_and_a_plot_only_beside_its_table(tmp_path) -> None:
    tables = _tables(MODELS, ["offline", "judge:gpt-4o"])
    del tables["agreement"]  # the page shows the scatter only in the agreement section: not drawn without it
    written = {p.name for p in render_report(tables, tmp_path, meta=META)}
    assert written == {PLOTS[name] for name in ("stance_mix", "forest", "amount")} | PAPER | {"report.md", "report.html"}
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".png", ".svg", ".pdf")) == sorted(
        PLOTS[name] for name in ("stance_mix", "forest", "amount"))


def test_figures_drawn_in_workers_are_the_figures_drawn_here(tmp_path, caplog, monkeypatch) -> None:
    from sycobench.report import workers

    tables = _tables(MODELS, ["offline", "judge:gpt-4o"])
    here = render_report(tables, tmp_path / "here", meta=META, formats=["svg", "png"])
    monkeypatch.setattr(workers, "_cores", lambda: 2)
    monkeypatch.setattr(workers, "_load", lambda: 0.0)  # the suite keeps the machine busy: pretend it is idle
    with caplog.at_level("DEBUG", logger="sycobench.report"), workers.Workers() as pool:
        assert pool.pool is not None
        there = render_report(tables, tmp_path / "workers", meta=META, formats=["svg", "png"], workers=pool)
    assert "drawn in this process" not in caplog.text
    assert [p.name for p in here] == [p.name for p in there]
    for a, b in zip(here, there):
        if a.suffix in (".png", ".svg") or a.stem == "headline":
            assert a.read_bytes() == b.read_bytes(), a.name
    assert {"headline.tex", "headline.md"} <= {p.name for p in there}
    assert caplog.text.count("figure ") == 2 * len(PLOTS)  # each figure's own time, its page's and its copy's
    assert "stance_mix.svg: " in caplog.text and caplog.text.count(" s (png)") == len(PLOTS)


def test_workers_ignore_ctrl_c_and_a_failed_report_ends_them_at_once(tmp_path, monkeypatch) -> None:
    """A terminal's Ctrl-C reaches every process of the command: the workers leave it to the report, which
    ends them without waiting for their work."""
    import signal
    import time
    from functools import partial

    from sycobench.report import workers

    monkeypatch.setattr(workers, "_cores", lambda: 2)
    monkeypatch.setattr(workers, "_load", lambda: 0.0)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), workers.Workers() as pool:
        assert pool.pool is not None and signal.getsignal(signal.SIGINT) == before
        pool.start({str(i): os.getpid for i in range(8)})()
        pids = set(pool.pool._processes)
        assert pool.start({"handler": partial(signal.getsignal, signal.SIGINT)})()["handler"] == signal.SIG_IGN
        for pid in pids:
            os.kill(pid, signal.SIGINT)
        assert set(pool.start({"after": os.getpid})().values()) <= pids  # no worker died of it
        processes = list(pool.pool._processes.values())
        begun = tmp_path / "begun"
        pool.start({"slow": partial(exec, f"import pathlib, time; pathlib.Path({str(begun)!r}).touch(); time.sleep(60)",
                                    {})})
        while not begun.exists():
            time.sleep(0.05)
        started = time.monotonic()
        raise KeyboardInterrupt
    assert time.monotonic() - started < 10
    assert not any(p.is_alive() for p in processes)


def test_a_calls_own_error_in_a_worker_is_raised_once_and_a_dead_worker_is_replaced_here(tmp_path, caplog,
                                                                                        monkeypatch) -> None:
    """A figure that fails in a worker (a full disk) fails the report with its own error, not drawn again here
    under a note that the pool failed; a worker that dies leaves its work to this process."""
    from functools import partial

    from sycobench.report import workers

    monkeypatch.setattr(workers, "_cores", lambda: 2)
    monkeypatch.setattr(workers, "_load", lambda: 0.0)
    target = tmp_path / "no such folder" / "figure.png"
    with caplog.at_level("INFO", logger="sycobench.report"), workers.Workers() as pool:
        with pytest.raises(FileNotFoundError) as failed:
            pool.start({"figure": partial(open, target, "w")})()
        assert failed.value.filename == str(target) and "pool failed" not in caplog.text
        dying = partial(exec, f"import os\nif os.getpid() != {os.getpid()}: os._exit(1)", {})  # only a worker dies
        assert pool.start({"figure": dying})() == {"figure": None}
    assert "the worker pool failed (BrokenProcessPool" in caplog.text


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"  # ended, not yet reaped
    except (OSError, IndexError):
        return True


def test_workers_end_when_the_report_is_killed(tmp_path) -> None:
    """A report ended by a signal it does not catch (`kill`, a scheduler's SIGTERM) leaves no worker behind:
    a worker's queue would otherwise keep it waiting for work forever."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "killed.py"
    script.write_text(
        "import os, signal\n"
        "from sycobench.report import workers\n"
        "workers._cores, workers._load = (lambda: 2), (lambda: 0.0)\n"
        "if __name__ == '__main__':\n"
        "    pool = workers.Workers()\n"
        "    pool.start({str(i): os.getpid for i in range(8)})()\n"
        "    print(*pool.pool._processes, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n")
    out, err = tmp_path / "pids", tmp_path / "stderr"
    with out.open("w") as fh, err.open("w") as eh:  # files, not pipes: a worker left behind would hold a pipe open
        done = subprocess.run([sys.executable, str(script)], stdout=fh, stderr=eh, timeout=120, check=False)
    assert done.returncode == -signal.SIGTERM, err.read_text()
    pids = [int(p) for p in out.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in pids if not _gone(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left


@pytest.mark.parametrize(("cores", "load", "spare"), [
    (2, None, 2),  # no load average: every core
    (2, 1.0, 2),  # only this process runs
    (2, 1.4, 2), (2, 1.6, 1), (2, 3.0, 0), (8, 3.0, 6), (4, 0.2, 4),
])
def test_workers_use_only_the_cores_other_processes_leave(cores, load, spare) -> None:
    from sycobench.report import workers

    assert workers._spare_cores(cores, load) == spare


def test_a_busy_machine_draws_the_figures_here(monkeypatch, caplog) -> None:
    from sycobench.report import workers

    monkeypatch.setattr(workers, "_cores", lambda: 2)
    monkeypatch.setattr(workers, "_load", lambda: 3.2)
    with caplog.at_level("DEBUG", logger="sycobench.report"), workers.Workers() as pool:
        assert pool.pool is None
    assert "no spare core (load average 3.2 on 2 cores)" in caplog.text


def test_without_a_pool_the_figures_are_drawn_here_with_the_reason(tmp_path, caplog, monkeypatch) -> None:
    import multiprocessing

    from sycobench.report import workers

    def broken(method: str):
        raise OSError("no semaphores here")

    monkeypatch.setattr(workers, "_cores", lambda: 4)
    monkeypatch.setattr(workers, "_load", lambda: 0.0)
    monkeypatch.setattr(multiprocessing, "get_context", broken)
    with caplog.at_level("INFO", logger="sycobench.report"), workers.Workers() as pool:
        written = render_report(_tables(MODELS, ["offline"]), tmp_path, meta=META, workers=pool)
    assert "figures drawn in this process: the worker pool did not start (OSError: no semaphores here)" in caplog.text
    assert PLOTS["forest"] in {p.name for p in written}


def test_a_report_written_again_leaves_no_figure_of_the_last_one(tmp_path) -> None:
    """Figure files the last report wrote and this one does not (a format no longer asked for, a plot it no
    longer shows) would show other data beside the page: they are removed, and nothing else is."""
    tables = _tables(MODELS, ["offline", "judge:gpt-4o"])
    render_report(tables, tmp_path, meta=META, formats=["svg", "png", "pdf"])
    (tmp_path / "notes.png").write_bytes(b"mine")
    assert (tmp_path / "agreement_scatter.pdf").exists() and (tmp_path / "stance_mix.png").exists()
    del tables["agreement"]
    written = {p.name for p in render_report(tables, tmp_path, meta=META)}
    figures = {p.name for p in tmp_path.iterdir() if p.stem in {Path(f).stem for f in PLOTS.values()}}
    assert figures == {f for f in written if f.endswith(".svg")} == {PLOTS[n] for n in ("stance_mix", "forest", "amount")}
    assert (tmp_path / "notes.png").read_bytes() == b"mine"


def test_a_pool_that_refuses_the_figures_leaves_them_drawn_here(tmp_path, caplog) -> None:
    from sycobench.report import workers

    class Refusing:
        def submit(self, *args, **kwargs):
            raise RuntimeError("cannot schedule new futures after shutdown")

        def shutdown(self, **kwargs) -> None:
            pass

    pool = workers.Workers(0)
    pool.pool = Refusing()
    with caplog.at_level("INFO", logger="sycobench.report"):
        written = render_report(_tables(MODELS, ["offline"]), tmp_path, meta=META, formats=["png"], workers=pool)
    assert "the worker pool failed (RuntimeError: cannot schedule new futures after shutdown)" in caplog.text
    assert PLOTS["forest"] in {p.name for p in written}


@pytest.mark.parametrize(("text", "spec", "unsafe"), [
    ("print('work')\n", None, True),  # a worker would run this script again
    ("def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n", None, False),
    ("print('work')\n", "pkg.__main__", False),  # python -m: not imported again
])
def test_an_unguarded_main_script_keeps_the_figures_in_this_process(tmp_path, monkeypatch, text, spec, unsafe) -> None:
    import sys
    import types

    from sycobench.report import workers

    script = tmp_path / "script.py"
    script.write_text(text)
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    main.__spec__ = types.SimpleNamespace(name=spec) if spec else None
    monkeypatch.setitem(sys.modules, "__main__", main)
    reason = workers._unsafe_main()
    assert (reason is not None) == unsafe
    if unsafe:
        assert "script.py" in reason and "guard" in reason


def test_the_page_is_its_blocks_a_line_apart_between_head_and_script() -> None:
    """to_html joins the page once: the blocks that write something, a newline apart, inside <main>."""
    from sycobench.report.blocks import Heading, Para, Transcripts
    from sycobench.report.html import _block, to_html

    blocks = [Heading(2, "One", "one"), Para("a € and <b>"), Transcripts("", "nothing to show"), Para("last")]
    page = to_html(blocks, title="T <x>", images={})
    written = [text for b in blocks if (text := _block(b, {}))]
    assert len(written) >= 3
    main = page.split("<main>\n", 1)[1].split("\n</main>\n", 1)[0]
    assert main == "\n".join(written)
    assert page.startswith("<!DOCTYPE html>\n") and "<title>T &lt;x&gt;</title>" in page
    assert page.endswith("</script>\n</body>\n</html>\n")
