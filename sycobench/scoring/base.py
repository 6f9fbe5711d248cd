"""What a scorer is: it scores one answer. The registry entry is the scorer's class, whose class
methods answer what the core asks before any call: its id, its checks, the model it calls (and so
the key it needs and its price). One loop (`scoring.loop`) serves every scorer: it finds the answers
still to score, runs the scorer on them, and owns concurrency, progress, records and resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sycobench.registry import Registry

if TYPE_CHECKING:
    from sycobench.config import ModelConfig, ScorerConfig
    from sycobench.providers.client import ModelClient
    from sycobench.records import Answer
    from sycobench.scenario_file import ScenarioConfig

__all__ = ["SCORERS", "Score", "Scorer", "ScoringContext", "register_scorer"]


@dataclass(frozen=True, slots=True)
class Score:
    """What a scorer says of one answer: a stance in [-1, 1], or why there is none (`unscorable`),
    or, for a scorer that calls a model, the call's `error` (not the same as unscorable)."""

    score: float | None = None
    unscorable: str | None = None
    value: float | None = None  # an out-of-range number a judge gave (flagged, never clipped)
    raw: str | None = None  # the judge's reply
    flipped: bool = False
    usage: dict[str, int] | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    queued_s: float | None = None  # of latency_s, the time the model calls waited for the rate limit
    attempts: int | None = None
    cached: bool = False
    response_format: str | None = None
    error: dict[str, Any] | None = None
    labeller: str | None = None  # the person who gave a human label
    judges: list[dict[str, Any]] | None = None  # a panel's judges, one entry each (records.JUDGE)

    def fields(self) -> dict[str, Any]:
        """The fields by name, as they are (no deep copy: a record is serialised at once)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class ScoringContext:
    """What a scorer may use: the job's scenario, and the job's one call path (cache, cost cap,
    rate limits, retries, totals) for any model call it makes (None where no call may be made)."""

    scenario: ScenarioConfig
    client: ModelClient | None = None


class Scorer:
    """A scorer: `Scorer(cfg, ctx)`, then `await scorer.score(answer)` for each answer.

    Subclasses set `name` (the `scorer.name` users type) and override what differs; a scorer whose
    `score` returns None for an answer leaves it unscored (human labels that do not cover it)."""

    name: ClassVar[str] = ""
    #: answers are scored concurrently, with a progress bar, and calls count in the judge totals
    calls_model: ClassVar[bool] = False
    #: False: the scorer scores nothing (`none`: generation only); a job is then complete when answered
    scores: ClassVar[bool] = True
    #: `validate` also asks it with the scale reversed (`flip_half` toggled), for the polarity-flip check
    flip_check: ClassVar[bool] = False
    #: it reads `scorer.context` (blinded or full), so `validate` can compare the two (`validation.context_check`)
    reads_context: ClassVar[bool] = False
    #: False: its scores of a model that is not simulated are no measurement (docs/validation.md), so every
    #: table row they feed is marked unvalidated
    validated_on_real_models: ClassVar[bool] = True

    def __init__(self, cfg: ScorerConfig, ctx: ScoringContext) -> None:
        self.cfg = cfg
        self.ctx = ctx

    @classmethod
    def scorer_id(cls, cfg: ScorerConfig) -> str:
        """The `scorer` value of its records; distinct settings that change scores get distinct ids."""
        return cfg.name

    @classmethod
    def version(cls, cfg: ScorerConfig) -> str:
        """What its validation figures are kept under: figures of another version are never shown."""
        return cls.scorer_id(cfg)

    @classmethod
    def check(cls, cfg: ScorerConfig, *, scenario: ScenarioConfig, target: ModelConfig) -> None:
        """Raise ConfigError, naming the setting and the fix, if this scorer cannot score this job."""

    @classmethod
    def model(cls, cfg: ScorerConfig) -> ModelConfig | None:
        """The model the scorer calls, if any: its key is checked and its price estimated like the target's."""
        return None

    @classmethod
    def models(cls, cfg: ScorerConfig) -> list[tuple[str, ModelConfig]]:
        """Every model the scorer calls, each with the setting that names it (`scorer.model`,
        `scorer.judges.1`): keys, prices, the cost cap and the estimate cover each one."""
        model = cls.model(cfg)
        return [] if model is None else [("scorer.model", model)]

    @property
    def id(self) -> str:
        return self.scorer_id(self.cfg)

    def config(self) -> dict[str, Any]:
        """Recorded with every score as `scorer_config`."""
        return {"name": self.cfg.name}

    async def score(self, answer: Answer) -> Score | None:
        raise NotImplementedError

    def summary(self) -> str:
        """A line for the log once the loop is done (e.g. the judge's negotiated response format)."""
        return ""


#: `scorer.name` -> the scorer's class; plugins use the entry-point group `sycobench.scorers`
SCORERS: Registry[type[Scorer]] = Registry("scorer.name", "sycobench.scorers")


def register_scorer(name: str):  # noqa: ANN201 - a class decorator
    """`@register_scorer("length")` on a Scorer subclass: the class is then found by that name."""
    def add(cls: type[Scorer]) -> type[Scorer]:
        cls.name = cls.name or name
        return SCORERS.register(name)(cls)

    return add
