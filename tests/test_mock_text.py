from __future__ import annotations

import random
import re

import numpy as np
import pytest

from sycobench.providers.mock_text import BANKS, CLOSERS, LIST_LEADS, OPENERS, OPENERS_NO_AMOUNT, TIPS, write_answer
from sycobench.scoring.offline import score_text

PERSPECTIVES = ("landlord", "tenant", "neutral")
STANCES = np.linspace(-1, 1, 9)


def _answers(seeds: range = range(8)):
    for seed in seeds:
        rng = random.Random(seed)
        for perspective in PERSPECTIVES:
            for stance in STANCES:
                amount = rng.choice([None, 50, 100, 400])
                base = rng.choice([None, 1200]) if amount else None
                yield perspective, float(stance), write_answer(float(stance), perspective=perspective, amount=amount, base_rent=base, rng=rng)


def _bank_lines(perspective: str, side: str) -> list[str]:
    lines = BANKS[perspective][side] + CLOSERS[perspective][side]
    return [line.format(inc="the €100 increase") for line in lines]


def _count(text: str, perspective: str, side: str) -> int:
    return sum(line in text for line in _bank_lines(perspective, side))


def test_same_rng_state_same_text() -> None:
    a = write_answer(0.3, perspective="tenant", amount=100, base_rent=1200, rng=random.Random(7))
    b = write_answer(0.3, perspective="tenant", amount=100, base_rent=1200, rng=random.Random(7))
    assert a == b


def test_texts_vary_across_seeds() -> None:
    texts = {write_answer(0.8, perspective="landlord", amount=100, base_rent=1200, rng=random.Random(seed)) for seed in range(20)}
    assert len(texts) >= 15


def test_length_is_chat_sized() -> None:
    counts = [len(text.split()) for _, _, text in _answers()]
    assert 80 <= min(counts) and max(counts) <= 200


def test_addresses_the_asker() -> None:
    for perspective, _, text in _answers():
        lower = text.lower()
        if perspective == "landlord":
            assert "your landlord" not in lower
        elif perspective == "tenant":
            assert "your tenant" not in lower
        else:
            assert not re.search(r"\byou(?:r|'re)?\b", lower), text


@pytest.mark.parametrize("perspective", PERSPECTIVES)
def test_each_perspective_uses_its_own_voice(perspective: str) -> None:
    texts = " ".join(text.lower() for p, _, text in _answers() if p == perspective)
    expected = {"landlord": "your tenant", "tenant": "your landlord", "neutral": "the landlord"}[perspective]
    assert expected in texts


def test_mentions_amount_and_share_of_rent() -> None:
    text = write_answer(0.0, perspective="tenant", amount=100, base_rent=1200, rng=random.Random(1))
    assert "€100 on €1,200" in text and "about 8%" in text
    assert "$400" in write_answer(0.0, perspective="landlord", amount=400, rng=random.Random(1), currency="$")
    assert "€" not in write_answer(0.0, perspective="neutral", rng=random.Random(1))


def test_no_raw_codes_or_placeholders() -> None:
    for _, _, text in _answers():
        assert not re.search(r"[_{}]", text), text


@pytest.mark.parametrize("perspective", PERSPECTIVES)
def test_extreme_stances_use_one_bank_only(perspective: str) -> None:
    for seed in range(5):
        pro = write_answer(1.0, perspective=perspective, amount=100, base_rent=1200, rng=random.Random(seed))
        con = write_answer(-1.0, perspective=perspective, amount=100, base_rent=1200, rng=random.Random(seed))
        mid = write_answer(0.0, perspective=perspective, amount=100, base_rent=1200, rng=random.Random(seed))
        assert _count(pro, perspective, "landlord") == 6 and _count(pro, perspective, "tenant") == _count(pro, perspective, "balanced") == 0
        assert _count(con, perspective, "tenant") == 6 and _count(con, perspective, "landlord") == _count(con, perspective, "balanced") == 0
        assert _count(mid, perspective, "balanced") == 6 and _count(mid, perspective, "landlord") == _count(mid, perspective, "tenant") == 0


@pytest.mark.parametrize("perspective", PERSPECTIVES)
def test_the_mix_follows_the_stance(perspective: str) -> None:
    grid = np.linspace(-1, 1, 41)
    pro = [_count(write_answer(float(s), perspective=perspective, amount=100, base_rent=1200, rng=random.Random(3)), perspective, "landlord") for s in grid]
    con = [_count(write_answer(float(s), perspective=perspective, amount=100, base_rent=1200, rng=random.Random(3)), perspective, "tenant") for s in grid]
    assert np.all(np.diff(pro) >= 0) and np.all(np.diff(con) <= 0)
    assert pro[0] == 0 and con[-1] == 0


def test_stance_outside_the_range_is_clipped() -> None:
    assert write_answer(1.7, perspective="tenant", rng=random.Random(2)) == write_answer(1.0, perspective="tenant", rng=random.Random(2))


def test_unknown_perspective_is_rejected() -> None:
    with pytest.raises(ValueError, match="perspective"):
        write_answer(0.0, perspective="agent", rng=random.Random(0))


@pytest.mark.parametrize("perspective", PERSPECTIVES)
def test_every_sentence_reads_in_its_own_direction(perspective: str) -> None:
    """The offline scorer can only read the stance back if each sentence carries its side."""
    for side, sign in (("landlord", 1), ("tenant", -1)):
        for line in _bank_lines(perspective, side):
            score = score_text(line).score
            assert score is not None and score * sign > 0.3, (line, score)
    for line in _bank_lines(perspective, "balanced"):
        assert score_text(line).score == pytest.approx(0.0), line
    fillers = OPENERS[perspective] + OPENERS_NO_AMOUNT[perspective] + TIPS[perspective] + LIST_LEADS
    for line in fillers:
        assert score_text(line.format(amt="€100", on_base=" on €1,200", pct="about 8%")).reason == "no_stance_cues", line
