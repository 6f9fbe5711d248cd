"""report.html in a real browser: Playwright driving the system's Chromium, at 1280 px (and 800 px).

Two reports: a mock sweep (two roster models, two sycophancy levels) built by the CLI, and one
rendered in-process from synthetic results with a judge, unscorable answers and twelve models.
Every expected count comes from results.parquet through Polars, not from the page.
Screenshots land in each test's tmp folder.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import quote, urlencode
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import missing_component

from sycobench.report.tables import build_tables
from sycobench.report.transcripts import stance_bin
from tests.synthetic import synthetic_results
from tests.test_cli import sycobench

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTH = 1280
THRESHOLD = 0.33


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:  # CI installs it: there a missing browser fails, never skips
        missing_component("Chromium not found on PATH: install the Debian package (apt-get install chromium), "
                          "as .ci/run does, then rerun the browser tests")
    return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    roster = root / "models.json"
    roster.write_text(json.dumps([{"id": "mock/a", "label": "Mock A"}, {"id": "mock/b", "label": "Mock B"}]))
    proc = sycobench("-m", "+roster=file", f"roster.file={roster}", "model=mock", "model.sycophancy=0,0.6",
                     "scenario.limit=30", "report.bootstrap=200", f"hydra.sweep.dir={root / 'sweep'}", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root / "sweep" / "report"


@pytest.fixture(scope="module")
def judged_report(tmp_path_factory) -> Path:
    """Twelve models with long ids, two scorers, some unscorable answers: the hard case for layout and filters."""
    from sycobench.report.render import render_report

    out = tmp_path_factory.mktemp("judged")
    models = [f"some-provider-{i}/a-rather-long-model-name-{i}-instruct-preview" for i in range(12)]
    results = synthetic_results(models, triplets=10, scorers=("offline", "judge:acme/j-1"))
    unscorable = (pl.col("scorer") != "offline") & (pl.col("triplet_id") == "t003") & (pl.col("perspective") == "tenant")
    results = results.with_columns(
        score=pl.when(unscorable).then(None).otherwise(pl.col("score")),
        unscorable=pl.when(unscorable).then(pl.lit("refusal")),
    )
    tables = build_tables(results.drop("messages", "response_text", "raw", "unscorable"), bootstrap=100,
                          permutations=100)
    # The headline and the transcripts are what is under test; the other plots would only cost time.
    render_report({"uplift": tables["uplift"]}, out, meta={"title": "judged", "threshold": THRESHOLD}, results=results)
    results.write_parquet(out / "results.parquet")
    return out


class Page:
    """One open report, with every console error and uncaught exception it raised."""

    def __init__(self, browser, report: Path, shots: Path, *, width: int = WIDTH, hash: str = "") -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto((report / "report.html").as_uri() + hash)
        self.shots = shots

    def choose(self, control: str, value: str) -> None:
        self.page.select_option(f"#{control}", value)

    def cards(self, attr: str) -> list[str]:
        return self.page.eval_on_selector_all(".tv-triplet", f"els => els.map(e => e.getAttribute('data-{attr}'))")

    def shown(self) -> int:
        """How many triplets pass the filters (the status line), checked against the pages' contents."""
        return int(self.page.inner_text("#tv-status").split(" of ")[0])

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=False)


@pytest.fixture
def sweep_page(chromium, sweep_report, tmp_path) -> Iterator[Page]:
    page = Page(chromium, sweep_report, tmp_path)
    yield page
    page.page.close()


@pytest.fixture
def judged_page(chromium, judged_report, tmp_path) -> Iterator[Page]:
    page = Page(chromium, judged_report, tmp_path)
    yield page
    page.page.close()


def _triplets(report: Path) -> pl.DataFrame:
    """One row per (model, scorer, triplet): |L − T| and the SI share, computed here independently."""
    results = pl.read_parquet(report / "results.parquet")
    return results.group_by("model_id", "scorer", "triplet_id").agg(
        l=pl.col("score").filter(pl.col("perspective") == "landlord").mean(),
        t=pl.col("score").filter(pl.col("perspective") == "tenant").mean(),
    ).with_columns(gap=(pl.col("l") - pl.col("t")).abs())


def test_page_loads_without_console_errors(sweep_page, sweep_report) -> None:
    sweep_page.page.locator("#tv-view").scroll_into_view_if_needed()
    sweep_page.shot("transcripts")
    assert sweep_page.errors == []
    total = _triplets(sweep_report).height
    assert total == 4 * 30
    assert sweep_page.shown() == total
    assert len(sweep_page.cards("model")) == 20  # one page at a time
    first = sweep_page.page.locator(".tv-triplet").first
    assert first.locator(".tv-cell").count() == 3
    assert [h.lower() for h in first.locator(".tv-cell h4").all_inner_texts()] == ["landlord asks", "tenant asks",
                                                                                    "neutral"]


def test_roster_labels_name_the_models(sweep_page) -> None:
    options = sweep_page.page.locator("#tv-model option").all_inner_texts()
    assert "Mock A [model.sycophancy=0.6]" in options and not any(o.startswith("mock/") for o in options)
    headline = sweep_page.page.inner_text("#headline-table")
    assert "Mock B [model.sycophancy=0]" in headline and "mock/b" not in headline


def test_filter_by_model_shows_only_its_triplets(sweep_page, sweep_report) -> None:
    triplets = _triplets(sweep_report)
    model = "mock/b [model.sycophancy=0.6]"
    sweep_page.choose("tv-model", model)
    assert set(sweep_page.cards("model")) == {model}
    assert sweep_page.shown() == triplets.filter(pl.col("model_id") == model).height
    sweep_page.shot("filtered")


def test_sorting_puts_the_most_sycophantic_triplets_first(sweep_page, sweep_report) -> None:
    triplets = _triplets(sweep_report)
    sweep_page.choose("tv-sort", "gap")
    gaps = [float(g) for g in sweep_page.cards("gap")]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[0] == pytest.approx(triplets["gap"].max(), abs=1e-6)
    sweep_page.choose("tv-sort", "contribution")
    shares = [float(c) for c in sweep_page.cards("contribution")]
    assert shares == sorted(shares, reverse=True)
    si = triplets.filter(pl.col("l").is_not_null() & pl.col("t").is_not_null()).group_by("model_id").agg(
        top=((pl.col("l") - pl.col("t")) / 2).max() / pl.len())
    assert shares[0] == pytest.approx(si["top"].max(), abs=1e-6)


def _level(factor: str, level: str) -> pl.Expr:
    """The rows whose triplet has `factor` at `level` (results.parquet keeps the levels as a map-like list)."""
    element = pl.element().struct
    return pl.col("factors").list.eval((element.field("factor") == factor) & (element.field("level") == level)).list.any()


def test_factor_and_bin_filters_match_the_parquet(sweep_page, sweep_report) -> None:
    results = pl.read_parquet(sweep_report / "results.parquet").with_columns(bin=stance_bin(THRESHOLD))
    sweep_page.choose("tv-f-amount", "100")
    assert sweep_page.shown() == results.filter(_level("amount", "100")).select("model_id", "triplet_id").n_unique()
    sweep_page.choose("tv-f-amount", "")
    assert [o.strip() for o in sweep_page.page.locator("#tv-bin option").all_inner_texts()] == [
        "any bin", "pro-landlord", "neutral", "pro-tenant", "unscorable"]
    sweep_page.choose("tv-bin", "pro-b")
    sweep_page.choose("tv-side", "a")
    hits = results.filter((pl.col("bin") == "pro-b") & (pl.col("perspective") == "landlord"))
    expected = hits.select("model_id", "triplet_id").n_unique()
    assert sweep_page.shown() == expected
    if expected:
        cell = sweep_page.page.locator(".tv-triplet").first.locator('.tv-cell[data-side="a"]')
        assert "pro-tenant" in cell.locator(".tv-bin").all_inner_texts()


def test_an_answer_expands_to_its_full_text(sweep_page, sweep_report) -> None:
    results = pl.read_parquet(sweep_report / "results.parquet")
    card = sweep_page.page.locator(".tv-triplet").first
    answer = card.locator('.tv-cell[data-side="a"] .tv-answer').first
    snippet = answer.locator(".tv-snippet").inner_text()
    answer.locator(".tv-full-toggle").click()
    full = answer.locator(".tv-full").inner_text()
    assert answer.locator(".tv-full").is_visible() and not answer.locator(".tv-snippet").is_visible()
    assert len(full) > len(snippet) and full.startswith(snippet.rstrip("…").rstrip())
    assert full.strip() in {t.strip() for t in results["response_text"].drop_nulls().to_list()}
    answer.locator(".tv-prompt-toggle").click()
    assert "user:" in answer.locator(".tv-prompt").inner_text()
    sweep_page.shot("expanded")
    answer.locator(".tv-full-toggle").click()
    assert answer.locator(".tv-full").count() == 0 and answer.locator(".tv-snippet").is_visible()


def test_every_figure_is_shown_inline_and_no_text_leaves_it(sweep_page, judged_page) -> None:
    """The page's SVG figures as the browser lays them out, in its own fonts: each is shown, as wide as
    it was written (or the column), and every text lies inside its figure."""
    shown = set()
    for page in (sweep_page, judged_page):
        figures = page.page.evaluate("""() => [...document.querySelectorAll('figure > svg')].map(svg => {
            const r = svg.getBoundingClientRect();
            const out = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()])
                .filter(([, b]) => b.left < r.left - 1 || b.right > r.right + 1 || b.top < r.top - 1 || b.bottom > r.bottom + 1)
                .map(([text]) => text);
            return {name: svg.getAttribute('aria-label'), width: r.width, height: r.height, texts: svg.querySelectorAll('text').length, out};
        })""")
        names = [f["name"] for f in figures]
        assert names and all(f["width"] > 300 and f["height"] > 100 and f["texts"] > 5 for f in figures), figures
        assert {f["name"]: f["out"] for f in figures} == {name: [] for name in names}
        shown |= set(names)
    assert {"Stance mix by who asks", "Sycophancy index per model"} <= shown, shown


def _widths(page) -> dict:
    return page.evaluate("""() => ({
        page: document.documentElement.scrollWidth, view: window.innerWidth,
        boxes: [...document.querySelectorAll('.tbl, #tv-view, figure, pre')].filter(b => b.scrollWidth > b.clientWidth + 1)
            .map(b => (b.querySelector('table') || b).id || b.tagName)})""")


@pytest.mark.parametrize("width", [1280, 800])
def test_no_horizontal_scroll(chromium, sweep_report, judged_report, tmp_path, width) -> None:
    for report in (sweep_report, judged_report):
        page = Page(chromium, report, tmp_path, width=width)
        try:
            sizes = _widths(page.page)
            assert sizes["page"] <= sizes["view"] == width, sizes
            if width == WIDTH:  # at 1280 px no table needs a scroll bar of its own either
                assert sizes["boxes"] == [], sizes
            page.page.locator("#tv-view").scroll_into_view_if_needed()
            assert _widths(page.page)["page"] <= width
            page.page.screenshot(path=str(tmp_path / f"{report.name}-{width}.png"))
        finally:
            page.page.close()


def test_headline_is_the_first_table_one_per_scorer(sweep_page, judged_page) -> None:
    for page in (sweep_page, judged_page):
        first = page.page.evaluate("""() => {
            const table = document.querySelector('table');
            const headings = [...document.querySelectorAll('h2')].filter(
                h => h.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING);
            return [table.id, headings.length ? headings[headings.length - 1].id : null];
        }""")
        assert first == ["headline-table", "headline"]
    # twelve models under two scorers: a table of twelve for each, never one ranking of both
    tables = judged_page.page.locator("table[id^=headline-table]")
    assert tables.count() == 2 and [t.locator("tbody tr").count() for t in tables.all()] == [12, 12]
    for table in tables.all():
        si = [float(c.split()[0]) for c in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
        assert si == sorted(si, reverse=True)


def test_contents_reach_every_section(sweep_page) -> None:
    page = sweep_page.page
    sections = page.eval_on_selector_all("main h2", "hs => hs.map(h => h.id)")
    links = page.eval_on_selector_all("#contents a", "as => as.map(a => a.getAttribute('href').slice(1))")
    assert links == sections and "transcripts" in sections and len(sections) >= 10
    nav = page.locator("#contents")
    for section in sections:
        page.locator(f'#contents a[href="#{section}"]').click()
        page.wait_for_timeout(50)
        top, bottom = page.evaluate(f"() => {{ const r = document.getElementById('{section}').getBoundingClientRect();"
                                    " return [r.top, r.bottom]; }")
        box = nav.bounding_box()
        clear = top >= box["y"] + box["height"] - 1 or bottom <= box["y"] + 1  # not hidden under the contents
        assert clear and 0 <= top and bottom <= 900, (section, top, bottom, box)
        assert nav.is_visible()  # the contents stay on screen
    sweep_page.shot("contents")


def test_a_long_table_sorts_and_expands(sweep_page, sweep_report) -> None:
    page = sweep_page.page
    table = page.locator("#stance-mix-table")
    rows = table.locator("tbody tr")
    total = rows.count()
    mix = pl.read_parquet(sweep_report / "stance_mix.parquet")
    assert total == mix.height > 14
    visible = lambda: sum(r.is_visible() for r in rows.all())  # noqa: E731
    assert visible() == 12
    more = page.locator(".tbl:has(#stance-mix-table) + button.more")
    assert more.inner_text() == f"show all {total} rows"
    more.click()
    assert visible() == total
    header = table.locator("th", has_text="mean score")
    column = [h.strip() for h in table.locator("th").all_inner_texts()].index(header.inner_text().strip()) + 1
    header.locator("button").click()
    means = [float(t) for t in table.locator(f"tbody tr td:nth-child({column})").all_inner_texts()]
    assert means == sorted(means, reverse=True) and means[0] == pytest.approx(mix["mean_score"].max(), abs=5e-4)
    header.locator("button").click()
    means = [float(t) for t in table.locator(f"tbody tr td:nth-child({column})").all_inner_texts()]
    assert means == sorted(means)
    assert more.inner_text() == "show the top 12 rows"
    more.click()
    assert visible() == 12  # folded again, in the new order
    sweep_page.shot("sorted")


def test_a_link_with_filters_in_the_url_reopens_them(chromium, sweep_report, tmp_path) -> None:
    triplets = _triplets(sweep_report)
    model = "mock/a [model.sycophancy=0.6]"
    query = urlencode({"model": model, "bin": "pro-a", "side": "a", "sort": "gap"}, quote_via=quote)
    page = Page(chromium, sweep_report, tmp_path, hash=f"#transcripts?{query}")
    try:
        assert page.errors == []
        values = [page.page.input_value(f"#tv-{k}") for k in ("model", "bin", "side", "sort")]
        assert values == [model, "pro-a", "a", "gap"]
        assert set(page.cards("model")) == {model}
        gaps = [float(g) for g in page.cards("gap")]
        assert gaps == sorted(gaps, reverse=True)
        results = pl.read_parquet(sweep_report / "results.parquet").with_columns(bin=stance_bin(THRESHOLD))
        expected = results.filter((pl.col("model_id") == model) & (pl.col("bin") == "pro-a") & (pl.col("side") == "a"))
        assert page.shown() == expected.select("triplet_id").n_unique() <= triplets.height
        view = page.page.locator("#tv-view").bounding_box()
        assert view["y"] < 900  # the page opened at the view
        # a change is written back to the address, so the link can be copied
        page.choose("tv-bin", "")
        page.page.fill("#tv-search", "rent")
        page.page.wait_for_timeout(400)
        address = page.page.evaluate("location.hash")
        assert "bin=" not in address and "q=rent" in address and "model=mock%2Fa" in address
        again = Page(chromium, sweep_report, tmp_path, hash=address)
        try:
            assert again.page.input_value("#tv-search") == "rent" and again.shown() == page.shown()
        finally:
            again.page.close()
    finally:
        page.page.close()


def test_a_headline_model_opens_its_transcripts(sweep_page) -> None:
    link = sweep_page.page.locator("#headline-table tbody tr a").first
    name = link.inner_text()
    link.click()
    sweep_page.page.wait_for_timeout(100)
    model = sweep_page.page.input_value("#tv-model")
    assert set(sweep_page.cards("model")) == {model}
    label = sweep_page.page.locator("#tv-model option:checked").inner_text()
    assert label == name


def test_search_finds_an_answer_by_a_word_in_it(sweep_page, sweep_report) -> None:
    results = pl.read_parquet(sweep_report / "results.parquet")
    words = (results.select(pl.col("response_text").str.to_lowercase().str.extract_all(r"[a-z]{7,}").alias("w"))
             .explode("w").group_by("w").len().filter(pl.col("len").is_between(2, 30)).sort("len", "w"))
    word = words["w"][0]  # a word in a few answers only
    having = results.filter(pl.col("response_text").str.to_lowercase().str.contains(word, literal=True))
    expected = having.select("model_id", "scorer", "triplet_id").n_unique()
    sweep_page.page.fill("#tv-search", word.upper()[:1] + word[1:])  # case does not matter
    sweep_page.page.wait_for_timeout(400)
    assert sweep_page.shown() == expected
    keys = set(zip(sweep_page.cards("model"), sweep_page.cards("triplet")))
    assert keys <= set(having.select("model_id", "triplet_id").iter_rows())
    first = sweep_page.page.locator(".tv-triplet").first
    assert word in [m.lower() for m in first.locator("mark").all_inner_texts()]  # the passage that holds it is shown
    sweep_page.shot("search")


def test_keys_move_to_the_next_and_previous_triplet(judged_page) -> None:
    page = judged_page.page
    page.locator("h1").click()  # focus on the page, not a control
    for _ in range(3):
        page.keyboard.press("j")
    current = lambda: page.eval_on_selector_all(".tv-triplet", "cs => cs.findIndex(c => c.classList.contains('tv-current'))")  # noqa: E731
    assert current() == 2
    page.keyboard.press("k")
    assert current() == 1
    for _ in range(20):  # past the end of the first page: the next page opens
        page.keyboard.press("j")
    assert "page 2 of" in page.inner_text("#tv-pager") and current() == 1
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "tv-search"


def test_scorer_filter_judge_reply_and_unscorable(judged_page, judged_report) -> None:
    results = pl.read_parquet(judged_report / "results.parquet")
    assert judged_page.errors == []
    judged_page.choose("tv-scorer", "judge:acme/j-1")
    assert set(judged_page.cards("scorer")) == {"judge:acme/j-1"}
    assert judged_page.shown() == results.filter(pl.col("scorer") == "judge:acme/j-1").select(
        "model_id", "triplet_id").n_unique()
    answer = judged_page.page.locator(".tv-answer").first
    assert answer.locator(".tv-raw").count() == 0
    answer.locator(".tv-raw-toggle").click()
    assert answer.locator(".tv-raw").inner_text().startswith("judge reply p")
    box = judged_page.page.locator("#tv-unscorable")
    box.check()
    unscorable = results.filter(pl.col("score").is_null()).select("model_id", "scorer", "triplet_id").n_unique()
    assert judged_page.shown() == unscorable == 12
    assert "refusal" in judged_page.page.locator(".tv-triplet").first.inner_text()
    box.uncheck()
    judged_page.choose("tv-scorer", "")
    assert judged_page.shown() == results.select("model_id", "scorer", "triplet_id").n_unique()


def test_paging_walks_every_triplet_once(judged_page) -> None:
    total = judged_page.shown()
    seen: list[tuple[str, str, str]] = []
    pages = 0
    while True:
        pages += 1
        seen += zip(judged_page.cards("model"), judged_page.cards("scorer"), judged_page.cards("triplet"))
        nxt = judged_page.page.locator("#tv-pager button", has_text="next")
        if nxt.is_disabled():
            break
        nxt.click()
    assert len(seen) == len(set(seen)) == total == 12 * 2 * 10
    assert pages == 12


def test_a_missing_chromium_fails_in_ci_with_the_fix(monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        chromium_path()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium.*in CI this fails"):
        chromium_path()


@pytest.fixture(scope="module")
def scenarios_report(tmp_path_factory) -> Path:
    """A mock sweep over two scenarios, each with parties and factors of its own."""
    root = tmp_path_factory.mktemp("scenarios")
    proc = sycobench("-m", "scenario=payraise,usedcar", "model=mock", "scenario.limit=6", "report.bootstrap=200",
                     f"hydra.sweep.dir={root / 'sweep'}", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root / "sweep" / "report"


def test_several_scenarios_get_a_filter_and_three_columns_named_by_their_parties(chromium, scenarios_report,
                                                                                tmp_path) -> None:
    results = pl.read_parquet(scenarios_report / "results.parquet")
    page = Page(chromium, scenarios_report, tmp_path)
    try:
        assert page.errors == []
        options = page.page.locator("#tv-scenario option").all_inner_texts()
        assert options == ["all scenarios", "payraise (employee / employer)", "usedcar (seller / buyer)"]
        assert page.shown() == results.select("scenario", "model_id", "triplet_id").n_unique() == 12
        assert page.page.locator("#tv-factors select").count() == 0  # factors are a scenario's own: pick one first
        for scenario, heads in (("payraise", ["employee asks", "employer asks", "neutral"]),
                                ("usedcar", ["seller asks", "buyer asks", "neutral"])):
            page.choose("tv-scenario", scenario)
            assert set(page.cards("scenario")) == {scenario}
            assert page.shown() == results.filter(pl.col("scenario") == scenario).select("triplet_id").n_unique() == 6
            for card in page.page.locator(".tv-triplet").all():
                assert card.locator(".tv-cell").count() == 3
                assert [h.lower() for h in card.locator(".tv-cell h4").all_inner_texts()] == heads
            amounts = results.filter(pl.col("scenario") == scenario).select(
                pl.col("factors").list.eval(pl.element().filter(pl.element().struct.field("factor") == "amount")
                                            .struct.field("level")).list.first().alias("amount"))["amount"]
            level = amounts.unique().sort()[0]
            page.choose("tv-f-amount", level)
            assert page.shown() == results.filter((pl.col("scenario") == scenario) & _level("amount", level)).select(
                "triplet_id").n_unique()
            page.choose("tv-f-amount", "")
            bins = [o.strip() for o in page.page.locator("#tv-bin option").all_inner_texts()]
            assert bins[1] == f"pro-{heads[0].split()[0]}" and bins[3] == f"pro-{heads[1].split()[0]}"
            page.shot(f"scenario-{scenario}")
        text = page.page.inner_text("body").lower()
        assert "landlord" not in text and "tenant" not in text
    finally:
        page.page.close()


@pytest.fixture(scope="module")
def pushback_report(tmp_path_factory) -> Path:
    """A protocol=pushback job of the mock, reported: every asker objects in three styles, the neutral asker twice."""
    root = tmp_path_factory.mktemp("pushback")
    job = root / "job"
    proc = sycobench("protocol=pushback", "scenario.limit=6", "model.caving=0.6", "report.bootstrap=200",
                     f"hydra.run.dir={job}", cwd=root)
    assert proc.returncode == 0, proc.stderr
    report = sycobench(str(job), "--out", str(root / "report"), cwd=root, module="sycobench.report")
    assert report.returncode == 0, report.stderr
    return root / "report"


def test_pushback_transcripts_show_both_turns_of_each_asker_side_by_side(chromium, pushback_report, tmp_path) -> None:
    results = pl.read_parquet(pushback_report / "results.parquet")
    page = Page(chromium, pushback_report, tmp_path)
    try:
        assert page.errors == []
        assert page.shown() == results["triplet_id"].n_unique() == 6
        page.page.locator("#transcripts").scroll_into_view_if_needed()
        page.shot("pushback")
        for card in page.page.locator(".tv-triplet").all():
            triplet = card.get_attribute("data-triplet")
            mine = results.filter(pl.col("triplet_id") == triplet)
            for side, party in (("a", "landlord"), ("b", "tenant"), ("neutral", "neutral")):
                cell = card.locator(f'.tv-cell[data-side="{side}"]')
                one, two = cell.locator('.tv-turn[data-turn="1"]'), cell.locator('.tv-turn[data-turn="2"]')
                left, right = one.bounding_box(), two.bounding_box()
                assert right["x"] >= left["x"] + left["width"] - 1 and abs(right["y"] - left["y"]) < 2  # side by side
                answers = mine.filter(pl.col("perspective") == party)
                assert one.locator(".tv-answer").count() == answers.filter(pl.col("turn") == 1).height == 1
                assert two.locator(".tv-answer").count() == answers.filter(pl.col("turn") == 2).height
                scores = sorted(round(s, 2) for s in answers.filter(pl.col("turn") == 2)["score"].to_list())
                shown = sorted(float(t) for t in two.locator(".tv-score").all_inner_texts())
                assert shown == pytest.approx(scores, abs=0.006)
            assert card.locator('.tv-cell[data-side="neutral"] .tv-turn[data-turn="2"] .tv-answer').count() == 6
        answer = page.page.locator('.tv-triplet').first.locator('.tv-turn[data-turn="2"] .tv-answer').first
        answer.locator(".tv-prompt-toggle").click()
        objections = {m[-1]["content"] for m in results.filter(pl.col("turn") == 2)["messages"].to_list()}
        assert answer.locator(".tv-prompt").inner_text() in objections
        assert page.page.locator("h2", has_text="Pushback").count() == 1
        assert page.page.locator('figure svg[aria-label="Pushback: shift toward the objector"]').count() == 1
    finally:
        page.page.close()
