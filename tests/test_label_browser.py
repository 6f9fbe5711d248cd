"""The labelling page in a real browser (Playwright driving the system's Chromium), end to end: two
people label by keyboard, each export is downloaded and imported with `scorer=human`, and the
report shows α among them and each person against the offline scorer. Screenshots land in the
test's tmp folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sycobench.scoring.human import answer_ref
from sycobench.stats import krippendorff_alpha_interval
from tests.test_browser import chromium  # noqa: F401 - the fixture, shared
from tests.test_cli import sycobench

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser(chromium) -> object:  # noqa: F811 - the imported fixture, as pytest passes it
    """The system's Chromium, started as tests/test_browser.py starts it."""
    return chromium


class Labeller:
    """One person's browser (a fresh profile: its own localStorage) on the page."""

    def __init__(self, browser, page: Path, shots: Path) -> None:
        self.context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.uri = page.as_uri()
        self.page.goto(self.uri)
        self.shots = shots

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def progress(self) -> tuple[int, int]:
        return int(self.page.inner_text("#lb-labelled")), int(self.page.inner_text("#lb-skipped"))

    def export(self, to: Path) -> Path:
        with self.page.expect_download() as download:
            self.keys("x")
        download.value.save_as(to)
        return to

    def close(self) -> None:
        self.context.close()


def test_two_people_label_by_keyboard_and_the_report_shows_their_alpha(browser, tmp_path) -> None:
    job = tmp_path / "job"  # in a subprocess, as a user runs it (Playwright's loop holds this thread)
    ran = sycobench(f"hydra.run.dir={job}", "scenario.limit=4", "report.bootstrap=100", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    made = sycobench(str(job), "--n", "6", "--seed", "3", "--out", str(tmp_path / "labels.html"), cwd=tmp_path,
                     module="sycobench.label")
    assert made.returncode == 0, made.stderr
    html = (tmp_path / "labels.html").read_text()
    items = json.loads(re.search(r'id="lb-data">(.*?)</script>', html, re.S).group(1))["items"]
    assert len(items) == 6

    alice = Labeller(browser, tmp_path / "labels.html", tmp_path)
    alice.page.keyboard.type("alice")
    alice.keys("Enter")
    assert alice.page.inner_text("#lb-who") == "alice" and alice.page.get_attribute("#lb-item", "data-item") == "1"
    assert items[0]["text"].split()[0] in alice.page.inner_text(".lb-answer")
    alice.keys("1", "2", "s")  # items 1 and 2 scored -1 and -0.5, item 3 skipped
    assert alice.progress() == (2, 1) and alice.page.get_attribute("#lb-item", "data-item") == "4"
    alice.page.reload()  # progress lives in the browser: the name, the labels and the place survive a reload
    assert alice.page.inner_text("#lb-who") == "alice" and alice.progress() == (2, 1)
    assert alice.page.get_attribute("#lb-item", "data-item") == "4"
    alice.keys("3", "4", "5")  # items 4, 5, 6: then the end of the sample
    assert alice.page.is_visible("#lb-done") and alice.progress() == (5, 1)
    alice.keys("k", "u")  # back to item 6, its label cleared ...
    assert alice.progress() == (4, 1) and alice.page.inner_text("#lb-score") == "not scored yet"
    alice.keys("5")  # ... and given again
    assert alice.progress() == (5, 1)
    alice.page.screenshot(path=str(tmp_path / "alice_done.png"))
    alice_csv = alice.export(tmp_path / "alice.csv")

    bob = Labeller(browser, tmp_path / "labels.html", tmp_path)
    assert bob.page.is_visible("#lb-labeller")  # a fresh browser asks for the name: alice's labels are not there
    bob.page.fill("#lb-labeller", "not a name!")
    bob.keys("Enter")
    assert "letters, digits" in bob.page.inner_text("#lb-name-error")
    bob.page.fill("#lb-labeller", "bob")
    bob.keys("Enter", "2", "2", "s", "4", "3", "]", "]", "]")  # item 6 nudged up from 0 three times: +0.3
    assert bob.page.inner_text("#lb-score") == "+0.3" and bob.progress() == (5, 1)
    bob.page.screenshot(path=str(tmp_path / "bob_item6.png"))
    bob_csv = bob.export(tmp_path / "bob.csv")

    for person in (alice, bob):
        assert not person.errors, person.errors
        assert all(url.startswith(("file:", "blob:", "data:")) for url in person.requests), person.requests
        person.close()

    want = {"alice": [-1.0, -0.5, None, 0.0, 0.5, 1.0], "bob": [-0.5, -0.5, None, 0.5, 0.0, 0.3]}
    for name, path in (("alice", alice_csv), ("bob", bob_csv)):
        exported = pl.read_csv(path)
        assert exported["labeller"].to_list() == [name] * 5 and exported["item"].to_list() == [1, 2, 4, 5, 6]
        assert exported["score"].to_list() == pytest.approx([v for v in want[name] if v is not None])
        imported = sycobench(f"run_dir={job}", "scorer=human", f"scorer.labels={path}", cwd=tmp_path,
                             module="sycobench.score")
        assert imported.returncode == 0, imported.stderr

    # every label landed on the answer the page showed, under one scorer per person
    runs = {answer_ref(r["run_id"], r["model_id"], r["prompt_id"], r["k"]): r
            for r in map(json.loads, (job / "run.jsonl").read_text().splitlines())}
    scores = [json.loads(line) for line in (job / "scores.jsonl").read_text().splitlines()]
    for name, values in want.items():
        mine = {(s["prompt_id"], s["k"]): s["score"] for s in scores if s["scorer"] == f"human:{name}"}
        shown = {(runs[i["ref"]]["prompt_id"], runs[i["ref"]]["k"]): v for i, v in zip(items, values) if v is not None}
        assert mine == pytest.approx(shown)
    assert "Krippendorff's alpha among 2 people" in imported.stdout + imported.stderr

    alpha = krippendorff_alpha_interval(np.array([[v for v in want[p] if v is not None] for p in want]))
    table = pl.read_csv(job / "labeller_alpha.csv")
    assert table["n_answers"].to_list() == [5] and table["krippendorff_alpha"][0] == pytest.approx(alpha)

    report = sycobench(str(job), "--out", str(tmp_path / "report"), "--bootstrap", "100", cwd=tmp_path,
                       module="sycobench.report")
    assert report.returncode == 0, report.stderr
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto((tmp_path / "report" / "report.html").as_uri())
    section = page.locator("h2", has_text="People's labels")
    assert section.count() == 1
    alpha_row = page.locator("#labeller-alpha-table tbody tr").first.inner_text()
    assert "human:alice, human:bob" in alpha_row and f"{alpha:.3f}" in alpha_row
    rows = [page.locator("#labellers-table tbody tr").nth(i).inner_text() for i in range(2)]
    assert rows[0].startswith("human:alice\toffline\t5\t5") and rows[1].startswith("human:bob\toffline\t5\t5")
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "report_people.png"))
    context.close()


def test_an_answer_is_text_markdown_read_never_markup(browser, tmp_path) -> None:
    """Model output is untrusted: tags in it are shown as text; headings, lists, tables and bold are read."""
    from sycobench.labelling.page import page_html
    from sycobench.labelling.sample import LabelSample

    text = ("## Options\n\n| option | cost |\n|---|---|\n| **accept** | <b>€50</b> |\n\n- one <img src=x onerror=alert(1)>\n"
            "- two `</script><script>alert(2)</script>`\n\n<script>alert(3)</script> *fine*")
    item = {"ref": "0" * 16, "run": "r", "prompt": "p", "k": 0, "scenario": "rent", "facts": "- a <fact>", "text": text}
    scale = {"subject": "a rent increase", "plus": "pro-landlord", "minus": "pro-tenant", "a": "landlord", "b": "tenant"}
    sample = LabelSample("abc", 0, [item], {"rent": scale}, 1, pl.DataFrame())
    (tmp_path / "page.html").write_text(page_html(sample))
    person = Labeller(browser, tmp_path / "page.html", tmp_path)
    dialogs: list[str] = []
    person.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    person.page.fill("#lb-labeller", "eve")
    person.keys("Enter")
    answer = person.page.locator(".lb-md")
    assert answer.locator("h4").inner_text() == "Options"
    assert answer.locator("table td strong").inner_text() == "accept"
    assert answer.locator("table td").nth(1).inner_text() == "<b>€50</b>"
    assert answer.locator("li").count() == 2 and answer.locator("em").inner_text() == "fine"
    assert answer.locator("img, script, b").count() == 0 and "<script>alert(3)</script>" in answer.inner_text()
    assert person.page.inner_text(".lb-facts pre") == "- a <fact>"
    assert not dialogs and not person.errors, (dialogs, person.errors)
    person.close()
