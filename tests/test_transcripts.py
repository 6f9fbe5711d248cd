"""The transcript view's data: bins, per-triplet gaps and SI shares, sampling, size limits, escaping."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from sycobench.report import transcripts
from sycobench.report.tables import uplift
from sycobench.report.transcripts import stance_bin, transcript_data, transcript_html, transcript_json
from tests.synthetic import RENT, synthetic_levels, synthetic_results

MODELS = ["acme/a", "acme/b", "acme/c"]


def _row(triplet: str, perspective: str, score: float | None, *, model: str = "m/x", text: str = "answer") -> dict:
    return {"model_id": model, "scorer": "offline", "scenario": "rent", "triplet_id": triplet,
            "prompt_id": f"{triplet}{perspective[0]}", "perspective": perspective, "side": RENT[perspective], "k": 0,
            "score": score, "response_text": text, "raw": None, "unscorable": None if score is not None else "refusal"}


def test_stance_bins_follow_the_threshold() -> None:
    scores = pl.DataFrame({"score": [-1.0, -0.33, -0.32, 0.0, 0.32, 0.33, 1.0, None]})
    bins = scores.select(stance_bin(0.33).alias("bin"))["bin"].to_list()
    assert bins == ["pro-b", "pro-b", "neutral", "neutral", "neutral", "pro-a", "pro-a", "unscorable"]


def test_gap_and_contribution_on_a_known_case() -> None:
    # Triplet t1: L 0.6, T -0.2 -> gap 0.8, half 0.4; t2: L 0.0, T 0.2 -> gap 0.2, half -0.1; t3 has no T.
    frame = pl.DataFrame([
        _row("t1", "landlord", 0.6), _row("t1", "tenant", -0.2), _row("t1", "neutral", 0.1),
        _row("t2", "landlord", 0.0), _row("t2", "tenant", 0.2), _row("t2", "neutral", 0.0),
        _row("t3", "landlord", 0.5), _row("t3", "tenant", None), _row("t3", "neutral", 0.0),
    ])
    data = transcript_data(frame, threshold=0.33)
    by_id = {t["triplet"]: t for t in data["triplets"]}
    assert by_id["t1"]["gap"] == pytest.approx(0.8) and by_id["t1"]["contribution"] == pytest.approx(0.4 / 2)
    assert by_id["t2"]["gap"] == pytest.approx(0.2) and by_id["t2"]["contribution"] == pytest.approx(-0.1 / 2)
    assert by_id["t3"]["gap"] is None and by_id["t3"]["contribution"] is None
    bins = {(a["p"]): a["bin"] for a in by_id["t3"]["answers"]}
    assert bins == {"a": "pro-a", "b": "unscorable", "neutral": "neutral"}
    assert data["scenarios"] == {"rent": {"a": "landlord", "b": "tenant", "factors": []}}
    assert {a["why"] for a in by_id["t3"]["answers"]} == {None, "refusal"}


def test_contributions_sum_to_the_reported_si() -> None:
    results = synthetic_results(MODELS, triplets=12, scorers=("offline", "judge"))
    data = transcript_data(results, threshold=0.33)
    sums = pl.DataFrame(data["triplets"]).group_by("model", "scorer").agg(pl.col("contribution").sum())
    si = uplift(results, bootstrap=50, permutations=10).select(
        pl.col("model_id").alias("model"), "scorer", "sycophancy_index")
    joined = sums.join(si, on=["model", "scorer"])
    assert joined.height == len(MODELS) * 2
    assert joined["contribution"].to_list() == pytest.approx(joined["sycophancy_index"].to_list(), abs=1e-6)


def test_every_answer_is_embedded_with_its_text_and_prompt() -> None:
    results = synthetic_results(MODELS, triplets=4)
    data = transcript_data(results, threshold=0.33, labels={"acme/a": "Acme A"}, levels=synthetic_levels(4))
    assert data["labels"] == {"acme/a": "Acme A", "acme/b": "acme/b", "acme/c": "acme/c"}
    answers = [a for t in data["triplets"] for a in t["answers"]]
    assert len(answers) == results.height == data["counts"]["answers_shown"] == data["counts"]["answers"]
    t = data["triplets"][0]
    landlord = next(a for a in t["answers"] if a["p"] == "a")
    assert data["texts"][landlord["ti"]].startswith(f"Answer of {t['model']} to triplet {t['triplet']} (landlord asks)")
    assert data["prompts"][landlord["prompt"]] == [{"role": "user", "content": f"Question {landlord['prompt']}"}]
    assert data["scenarios"]["rent"]["factors"] == ["base_rent", "amount", "justification", "relationship"]
    assert t["levels"] == ["1200", "25", "costs", "mutual_good"]
    assert list(data["prompts"]) == sorted(data["prompts"])  # a fixed order, so the page is the same each time
    shuffled = transcript_data(results.sample(fraction=1.0, shuffle=True, seed=3), threshold=0.33,
                               labels={"acme/a": "Acme A"}, levels=synthetic_levels(4))
    assert transcript_json(shuffled) == transcript_json(data)  # the rows' order does not change the page's data


def test_large_reports_embed_a_stratified_sample_of_whole_triplets(monkeypatch) -> None:
    monkeypatch.setattr(transcripts, "MAX_ANSWERS", 90)
    results = synthetic_results(MODELS, triplets=40)  # 360 answers, 120 triplets
    data = transcript_data(results, threshold=0.33)
    counts = data["counts"]
    assert counts["answers"] == 360 and counts["triplets"] == 120
    assert counts["triplets_shown"] == 30 and counts["answers_shown"] == 90  # a quarter of each model's 40
    per_model = pl.DataFrame(data["triplets"]).group_by("model").len()
    assert sorted(per_model["len"].to_list()) == [10, 10, 10]
    assert all(len(t["answers"]) == 3 for t in data["triplets"])  # whole triplets only
    assert data == transcript_data(results, threshold=0.33)  # the same sample every time
    page = transcript_html(data)
    assert "stratified sample: 30 of 120 triplets (90 of 360 scored answers" in page


def test_long_texts_are_cut_for_the_page(monkeypatch) -> None:
    monkeypatch.setattr(transcripts, "MAX_TEXT_CHARS", 50)
    frame = pl.DataFrame([_row("t1", "landlord", 0.5, text="x" * 49), _row("t1", "tenant", 0.5, text="y" * 51)])
    texts = sorted(transcript_data(frame, threshold=0.33)["texts"])
    assert texts[0] == "x" * 49
    assert texts[1].startswith("y" * 50 + " […]") and "results.parquet" in texts[1]


def test_markup_in_answers_cannot_close_the_script() -> None:
    evil = "</script><script>alert(1)</script><!-- \u2028"
    frame = pl.DataFrame([_row("t1", "landlord", 0.5, text=evil, model="evil/</script>")])
    data = transcript_data(frame, threshold=0.33)
    text = transcript_json(data)
    assert "<" not in text and "\u2028" not in text
    assert json.loads(text)["texts"] == [evil]
    page = transcript_html(data)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 2 and json.loads(scripts[0]) == json.loads(text)


def test_the_json_written_in_pieces_is_the_whole_dict_dumped_at_once() -> None:
    """transcript_json dumps each list item on its own (memory never holds the text twice): the text is the
    one json.dumps gives for the whole dict, escaped, byte for byte."""
    evil = "</script><!-- \u2028 \u2029 €1,200 — “quoted”"
    rows = [_row("t1", "landlord", 0.5, text=evil, model="evil/</script>"), _row("t1", "tenant", -0.25, text="b"),
            _row("t2", "neutral", None, text="c <b>")]
    data = transcript_data(pl.DataFrame(rows, schema_overrides={"score": pl.Float64}), threshold=0.33)
    data["empty"], data["nested"] = [], {"a": [1, {"<": "\u2029"}], "b": None}
    whole = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    whole = whole.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    assert transcript_json(data) == whole
    assert f'id="tv-data">{whole}</script>' in transcript_html(data)


def test_the_view_needs_no_network() -> None:
    page = transcript_html(transcript_data(synthetic_results(MODELS, triplets=2), threshold=0.33))
    assert not re.search(r"https?://|\bsrc=|@import|url\(", page)
    assert len(page.encode()) < 60_000  # light for a small report: code, style and six triplets' text
