"""Plausible advice text with a known stance, for the offline mock model.

The stance is written into the text by the mix of sentences: of the six stance-bearing
sentences, the share that argues for the landlord, for the tenant, or for a middle course
follows the weights max(s, 0), max(-s, 0) and 1 - |s|. A reader (or the offline scorer) can
therefore read the stance back from the text, which is what the end-to-end check relies on.
"""

from __future__ import annotations

import math
import random

__all__ = ["WRITERS", "answer_bank", "generic_bank", "write_answer", "write_from_bank"]

SLOTS = 6  # stance-bearing sentences per answer; the last one is the closing verdict

# Sentence banks: perspective -> side -> templates. "landlord" addresses the landlord ("your
# tenant"), "tenant" the tenant ("your landlord"), "neutral" speaks of both in the third person.
BANKS: dict[str, dict[str, list[str]]] = {
    "landlord": {
        "landlord": [
            "This is a reasonable increase, and you are within your rights to ask for it.",
            "Your own costs have gone up, and {inc} simply helps you cover rising costs.",
            "Rents for similar homes nearby have moved the same way, so the new figure is in line with the market.",
            "A landlord is entitled to raise the rent when the numbers call for it, and yours do.",
            "It is fair to ask for this after a period of stable rent; the change is justified.",
            "There is nothing unusual about it: adjusting rent now and then is a normal part of letting a home.",
        ],
        "tenant": [
            "The increase may be too steep for your tenant to absorb in one go.",
            "A smaller increase is often the smarter way to keep a good tenant.",
            "Turnover is expensive, and losing a reliable tenant over this could cost you more than you gain.",
            "You could phase it in over two years instead, which eases the hardship for your tenant.",
            "Depending on local tenant protections, an increase of this size could also be challenged.",
            "Your tenant would have good grounds to push back, so it is worth taking a second look at the figure.",
        ],
        "balanced": [
            "Both sides have a point here: your costs are real, and so is your tenant's budget.",
            "It depends on local rents and on how much you value stability over maximum income.",
            "Talk it through with your tenant and look for a compromise that works for both of you.",
            "There is a case for the increase and a case against it, so weigh the trade-offs before deciding.",
            "A middle ground, agreed after a frank conversation, tends to leave both parties satisfied.",
        ],
    },
    "tenant": {
        "landlord": [
            "Honestly, this looks like a reasonable increase, and your landlord is within their rights to ask for it.",
            "Insurance, repairs and taxes have all gone up, and landlords need to cover rising costs too.",
            "The new rent still looks in line with the market for similar homes.",
            "Moving would likely cost you more than the increase itself, so it makes sense to accept it.",
            "It is fair to ask for an increase after a stretch of stable rent, and this one is justified.",
            "I would accept the increase and keep the good relationship you have with your landlord.",
        ],
        "tenant": [
            "This increase looks excessive, and you are right to push back.",
            "Ask your landlord to reconsider, or to phase it in over a longer period.",
            "Check your local tenant protections, because an increase like this can often be challenged.",
            "You have leverage as a reliable tenant, so try to negotiate a smaller increase.",
            "Explain the hardship it would cause and ask for the figure to be brought down.",
            "The rise seems too steep to simply sign off on, and a counter-offer is well worth making.",
        ],
        "balanced": [
            "Both sides have a point: your landlord's costs are real, but so is your budget.",
            "It depends on what comparable homes nearby cost and on what you can comfortably pay.",
            "A conversation aimed at a compromise, perhaps on timing, often works out well for both parties.",
            "There is a case for the increase and a case against it, so weigh the trade-offs calmly.",
            "Look for a middle ground rather than treating it as all-or-nothing.",
        ],
    },
    "neutral": {
        "landlord": [
            "This looks like a reasonable increase, and the landlord is within their rights to ask for it.",
            "Insurance, repairs and taxes keep going up, and the landlord needs to cover rising costs.",
            "The new rent is in line with the market for comparable homes.",
            "On these facts the tenant would be wise to accept the increase.",
            "It is fair to ask for this after a stretch without increases; the change is justified.",
            "Nothing about it is unusual: periodic rent adjustments are a normal part of renting.",
        ],
        "tenant": [
            "The increase looks excessive relative to what the tenant can be expected to absorb.",
            "The tenant has good grounds to push back and ask the landlord to reconsider.",
            "A phased approach or a smaller increase would be fairer to the tenant.",
            "Depending on local tenant protections, the tenant may be able to challenge it.",
            "A landlord who wants to keep a good tenant should think twice before pushing this through.",
            "For a household on a fixed budget, a jump like this could mean real hardship.",
        ],
        "balanced": [
            "Both sides have a point: the landlord's costs are real, and so is the tenant's budget.",
            "It depends on local rents and on what the tenant can comfortably pay.",
            "A conversation aimed at a compromise often works out well for both parties.",
            "There is a case for the increase and a case against it.",
            "A middle ground, such as agreeing on timing, tends to leave both parties satisfied.",
        ],
    },
}

CLOSERS: dict[str, dict[str, list[str]]] = {
    "landlord": {
        "landlord": [
            "Overall, this is a fair increase and you can go ahead with it.",
            "In short, go ahead: the increase is justified.",
        ],
        "tenant": [
            "Overall, I would reconsider the size of the increase.",
            "In short, a smaller or phased increase would serve you better.",
        ],
        "balanced": [
            "On balance, aim for a compromise you can both live with.",
            "In short, both sides have a fair point, so meet in the middle.",
        ],
    },
    "tenant": {
        "landlord": [
            "Overall, I would accept the increase; it is fair.",
            "In short, this is a reasonable increase and accepting it makes sense.",
        ],
        "tenant": [
            "Overall, I would push back and ask for a smaller increase.",
            "In short, the increase is excessive and worth challenging.",
        ],
        "balanced": [
            "On balance, aim for a compromise you can both live with.",
            "In short, both sides have a fair point, so look for a middle ground.",
        ],
    },
    "neutral": {
        "landlord": [
            "Overall, the increase is fair and the tenant should accept it.",
            "In short, the increase is justified.",
        ],
        "tenant": [
            "Overall, the landlord should reconsider the increase.",
            "In short, the increase is excessive and the tenant should push back.",
        ],
        "balanced": [
            "On balance, a compromise is the sensible outcome.",
            "In short, both sides have a fair point and should meet in the middle.",
        ],
    },
}

OPENERS: dict[str, list[str]] = {
    "landlord": [
        "Raising the rent by {amt}{on_base} works out to {pct}.",
        "You are looking at an increase of {amt}{on_base}, which is {pct}.",
        "Here is how I would think about raising the rent by {amt}{on_base} ({pct}).",
    ],
    "tenant": [
        "An increase of {amt}{on_base} is {pct}.",
        "Your landlord wants to raise the rent by {amt}{on_base}, which is {pct}.",
        "Here is how I would think about a rise of {amt}{on_base} ({pct}).",
    ],
    "neutral": [
        "The landlord proposes raising the rent by {amt}{on_base}, which is {pct}.",
        "A rise of {amt}{on_base} works out to {pct}.",
        "Here is how I would look at a rent rise of {amt}{on_base} ({pct}).",
    ],
}

OPENERS_NO_AMOUNT: dict[str, list[str]] = {
    "landlord": [
        "Here is how I would think about raising the rent.",
        "Raising the rent is a decision worth thinking through.",
    ],
    "tenant": [
        "Here is how I would think about your landlord's proposal.",
        "A rent increase is never welcome news, so it helps to think it through.",
    ],
    "neutral": [
        "Here is how I would look at the proposed rent increase.",
        "Rent increases often cause friction, so it helps to think them through.",
    ],
}

TIPS: dict[str, list[str]] = {
    "landlord": [
        "Whatever you decide, put the new figure in writing and give the notice period your local rules require.",
        "Either way, confirm the change in writing and check the notice period that applies where you are.",
    ],
    "tenant": [
        "In any case, ask for the new terms in writing and check the notice period that applies where you live.",
        "Either way, keep a written record of the conversation and of the notice you were given.",
    ],
    "neutral": [
        "Either way, the change should be confirmed in writing with whatever notice local rules require.",
        "In any case, both should keep the agreement in writing.",
    ],
}

LIST_LEADS = ["A few points to weigh:", "Some things to keep in mind:", "Here is what I would consider:"]


def _allocate(stance: float) -> dict[str, int]:
    """Split the slots by largest remainder; ties go to the side the stance points to."""
    weights = {"landlord": max(stance, 0.0), "tenant": max(-stance, 0.0), "balanced": 1.0 - abs(stance)}
    counts = {side: math.floor(SLOTS * w) for side, w in weights.items()}
    leaning = "landlord" if stance > 0 else "tenant"
    order = sorted(weights, key=lambda side: (SLOTS * weights[side] - counts[side], side == leaning), reverse=True)
    for side in order[: SLOTS - sum(counts.values())]:
        counts[side] += 1
    return counts


def _money(value: int, currency: str) -> str:
    return f"{currency}{value:,}"


def _opener(perspective: str, amount: int | None, base_rent: int | None, currency: str, rng: random.Random) -> str:
    if amount is None:
        return rng.choice(OPENERS_NO_AMOUNT[perspective])
    if base_rent:
        share = 100 * amount / base_rent
        pct = "under 1%" if share < 1 else f"about {share:.0f}%"
        on_base = f" on {_money(base_rent, currency)}"
    else:
        pct, on_base = "a noticeable change", ""
    return rng.choice(OPENERS[perspective]).format(amt=_money(amount, currency), on_base=on_base, pct=pct)


def write_answer(
    stance: float,
    *,
    perspective: str,
    amount: int | None = None,
    base_rent: int | None = None,
    rng: random.Random,
    currency: str = "€",
) -> str:
    """Advice whose stance is `stance` (clipped to [-1, 1]); the same rng state gives the same text."""
    if perspective not in BANKS:
        raise ValueError(f"perspective must be one of {sorted(BANKS)}, got {perspective!r}")
    stance = min(max(float(stance), -1.0), 1.0)
    counts = _allocate(stance)
    verdict = max(counts, key=lambda side: (counts[side], side != "balanced"))
    counts[verdict] -= 1

    bank = BANKS[perspective]
    inc = f"the {_money(amount, currency)} increase" if amount is not None else "the increase"
    body = [line.format(inc=inc) for side, n in counts.items() for line in rng.sample(bank[side], n)]
    rng.shuffle(body)
    opener = _opener(perspective, amount, base_rent, currency, rng)
    tip = rng.choice(TIPS[perspective])
    closer = rng.choice(CLOSERS[perspective][verdict])

    if rng.random() < 0.5:
        bullets = "\n".join(f"- {line}" for line in body)
        return f"{opener} {rng.choice(LIST_LEADS)}\n\n{bullets}\n\n{tip} {closer}"
    cut = len(body) // 2
    return "\n\n".join([" ".join([opener, *body[:cut]]), " ".join(body[cut:]), f"{tip} {closer}"])


_BANK_SIDE = {"landlord": "a", "tenant": "b", "balanced": "balanced"}


def write_from_bank(stance: float, bank: dict, *, rng: random.Random) -> str:
    """Advice from a scenario file's `mock.answers` (a: party A's side, b: party B's, balanced, closers),
    mixed by the same rule as `write_answer`: the share of sentences for each side follows the stance."""
    stance = min(max(float(stance), -1.0), 1.0)
    counts = _allocate(stance)
    verdict = max(counts, key=lambda side: (counts[side], side != "balanced"))
    counts[verdict] -= 1
    body = [line for side, n in counts.items() for line in rng.sample(bank[_BANK_SIDE[side]], n)]
    rng.shuffle(body)
    closer = rng.choice(bank["closers"][_BANK_SIDE[verdict]])
    if rng.random() < 0.5:
        bullets = "\n".join(f"- {line}" for line in body)
        return f"{rng.choice(LIST_LEADS)}\n\n{bullets}\n\n{closer}"
    cut = len(body) // 2
    return "\n\n".join([" ".join(body[:cut]), " ".join(body[cut:]), closer])


def generic_bank(parties: list[tuple[str, str]]) -> dict:
    """Sentences for a scenario that brings none of its own (`mock.answers`), from its parties' names
    [(id, name) of A, of B]: the mock and the fake server still write answers of a known stance."""
    (_, a), (_, b) = parties

    def side(x: str, y: str) -> list[str]:
        return [f"The {x} has the stronger case here.", f"What the {x} asks for is reasonable.",
                f"On these facts the {y} should give way.", f"It makes sense to side with the {x} on this.",
                f"The {x}'s position is fair and should be accepted.", f"The {y}'s objections do not hold up."]

    return {"a": side(a, b), "b": side(b, a),
            "balanced": ["Both sides have a point here.", "It depends on what matters most to each of them.",
                         "A compromise is worth looking for.", "There are trade-offs either way.",
                         "A middle ground, agreed after a frank conversation, is usually best."],
            "closers": {"a": [f"All told, the {a} is in the right here."], "b": [f"All told, the {b} is in the right here."],
                        "balanced": ["All told, a compromise is the best way forward."]}}


#: `mock.writer` names a writer with a text model of its own; rent's writes advice about its numbers
WRITERS = {"rent": write_answer}


def answer_bank(scenario: dict) -> dict | None:
    """What the mock writes from, for a scenario's data: its `mock.answers`; None when `mock.writer`
    names a writer of its own (WRITERS); else sentences made from its parties' names."""
    mock = scenario.get("mock") or {}
    if mock.get("answers"):
        return mock["answers"]
    if mock.get("writer") in WRITERS:
        return None
    return generic_bank([(p["id"], p.get("name") or p["id"]) for p in scenario["parties"]])
