"""Scorers turn answers into stances in [-1, 1] (or an honest 'unscorable').

A scorer scores one answer (`sycobench.scoring.base.Scorer`); one loop (`sycobench.scoring.loop`)
serves them all. Scorers are found by name in `SCORERS`, the keys being those of
`conf/scorer/*.yaml`: `offline`, `judge`, `panel`, `human`, `none`, plus `auto`, which picks the offline
scorer for a simulated target whose scenario has cue phrases and the judge otherwise, and says so
in the saved config and log. Other packages add theirs with `register_scorer` or the entry-point
group `sycobench.scorers` (docs/extending.md).
"""

from __future__ import annotations

from sycobench.config import ModelConfig, ScorerConfig
from sycobench.records import Answer
from sycobench.scenario_file import ScenarioConfig, load_cues
from sycobench.scoring import human, judge, offline, panel  # noqa: F401 - registers the built-in scorers
from sycobench.scoring.base import SCORERS, Score, Scorer, ScoringContext, register_scorer
from sycobench.scoring.loop import ScoringOutcome, score_folder

__all__ = ["SCORERS", "Score", "Scorer", "ScoringContext", "ScoringOutcome", "register_scorer", "resolve_scorer",
           "score_folder", "scorer_class", "scorer_id"]


@register_scorer("none")
class NoScorer(Scorer):
    """Generation only: score later with `python -m sycobench.score`."""

    scores = False

    async def score(self, answer: Answer) -> Score | None:
        return None


def scorer_class(cfg: ScorerConfig) -> type[Scorer]:
    """The registered class of `cfg.name`; an unknown name fails here, before any call."""
    return SCORERS.get(cfg.name)


def scorer_id(cfg: ScorerConfig) -> str:
    return scorer_class(cfg).scorer_id(cfg)


def resolve_scorer(cfg: ScorerConfig, target: ModelConfig, scenario: ScenarioConfig, *,
                   simulated: bool) -> tuple[ScorerConfig, str | None]:
    """`scorer=auto`: the offline scorer for a simulated target whose scenario has cue phrases, no
    scorer for one whose scenario has none, and the judge in conf/scorer/judge.yaml for an API model.
    Any other name is returned as it is. Also returns what to log about the choice."""
    if cfg.name != "auto":
        scorer_class(cfg)
        return cfg, None
    if not simulated:
        chosen, why = judge.default_judge(), "the target is an API model"
    elif load_cues(scenario):
        chosen, why = ScorerConfig(name="offline"), "the target is simulated and the scenario has offline cues"
    else:
        chosen, why = ScorerConfig(name="none"), (f"the target is simulated and scenario {scenario.name!r} has no "
                                                  "offline cue phrases; score it with scorer=judge")
    return chosen, f"scorer=auto resolved to {scorer_id(chosen)} ({why})"
