"""A panel of LLM judges: every judge scores every answer, and the panel's score is their median.

Each judge is the LLM judge (`scoring.judge`) with its own model, on any OpenAI-compatible server,
asked exactly as `scorer=judge` asks it, so each call takes the job's one call path (cache, cost
cap, rate limits per key, retries) and counts in the judge totals. One record per answer: the
median in `score`, each judge's own score, reason and cost in `judges` (docs/records.md).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import replace
from typing import Any

from omegaconf import OmegaConf

from sycobench.config import ModelConfig, ScorerConfig
from sycobench.errors import ConfigError
from sycobench.records import Answer
from sycobench.runner import STOPS
from sycobench.scenario_file import ScenarioConfig
from sycobench.scoring.base import Score, Scorer, ScoringContext, register_scorer
from sycobench.scoring.judge import JudgeScorer, is_flipped

__all__ = ["PanelScorer", "judge_configs", "panel_score"]


def judge_configs(cfg: ScorerConfig) -> list[ScorerConfig]:
    """Each judge of the panel as `scorer=judge` would run it: the panel's context, flip, parse
    retries and structured output, the judge's own model."""
    return [replace(cfg, name="judge", model=model, judges=[]) for model in cfg.judges]


def panel_score(judges: list[tuple[str, Score]], *, flipped: bool, latency_s: float) -> Score:
    """The panel's Score from its judges' (id, Score): the median of the judges that gave a score.

    A judge whose call failed makes the panel's record a call error (so a resumed job asks again;
    the judges that answered come from the cache); when no judge gave a score, the answer is
    unscorable and the reason names each judge's."""
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0}
    for _, s in judges:
        for name in usage:
            usage[name] += (s.usage or {}).get(name) or 0
    entries = [{"scorer": sid, "score": s.score, "unscorable": s.unscorable, "value": s.value, "usage": s.usage,
                "cost_usd": s.cost_usd, "cached": s.cached, "attempts": s.attempts, "latency_s": s.latency_s,
                "queued_s": s.queued_s, "error": None if s.error is None else s.error.get("class")}
               for sid, s in judges]
    formats = sorted({s.response_format for _, s in judges if s.response_format})
    common = dict(
        flipped=flipped, usage=usage, judges=entries, latency_s=latency_s,
        cost_usd=sum(s.cost_usd or 0.0 for _, s in judges), attempts=sum(s.attempts or 0 for _, s in judges),
        cached=all(s.cached for _, s in judges), queued_s=max((s.queued_s or 0.0 for _, s in judges), default=0.0),
        response_format=",".join(formats) or None,
        raw="\n".join(f"{sid}: {s.raw}" for sid, s in judges if s.raw is not None) or None)
    failed = [(sid, s) for sid, s in judges if s.error is not None]
    if failed:
        sid, s = failed[0]
        return Score(error={**s.error, "message": f"{sid}: {s.error.get('message') or ''}"[:500]}, **common)
    scores = [s.score for _, s in judges if s.score is not None]
    if not scores:
        why = "; ".join(f"{sid}: {s.unscorable}" for sid, s in judges)
        return Score(unscorable=f"no judge gave a score ({why})"[:500], **common)
    return Score(score=float(statistics.median(scores)), **common)


@register_scorer("panel")
class PanelScorer(Scorer):
    """Several LLM judges on every answer, scored with their median."""

    calls_model = True
    flip_check = True
    reads_context = True

    def __init__(self, cfg: ScorerConfig, ctx: ScoringContext) -> None:
        super().__init__(cfg, ctx)
        self.judges = [JudgeScorer(judge, ctx) for judge in judge_configs(cfg)]

    @classmethod
    def scorer_id(cls, cfg: ScorerConfig) -> str:
        suffix = "" if cfg.context == "blinded" else f"/{cfg.context}"
        return f"panel:{','.join(m.id for m in cfg.judges)}{suffix}{'/flip' if cfg.flip_half else ''}"

    @classmethod
    def check(cls, cfg: ScorerConfig, *, scenario: ScenarioConfig, target: ModelConfig) -> None:
        if len(cfg.judges) < 2:
            raise ConfigError(f"scorer.judges: a panel needs at least two judges, got {len(cfg.judges)}; list them "
                              "in scorer.judges (conf/scorer/panel.yaml), or use scorer=judge for one")
        ids = [m.id for m in cfg.judges]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ConfigError(f"scorer.judges: judge {repeated[0]} is listed twice; each judge's scores are kept "
                              "under its model id, so list each model once")

    @classmethod
    def models(cls, cfg: ScorerConfig) -> list[tuple[str, ModelConfig]]:
        return [(f"scorer.judges.{i}", model) for i, model in enumerate(cfg.judges)]

    def config(self) -> dict[str, Any]:
        return OmegaConf.to_container(OmegaConf.structured(self.cfg))  # type: ignore[return-value]

    def summary(self) -> str:
        return "; ".join(judge.summary() for judge in self.judges)

    async def score(self, answer: Answer) -> Score:
        started = time.perf_counter()
        said = await asyncio.gather(*(judge.score(answer) for judge in self.judges), return_exceptions=True)
        for result in said:  # every judge's call has ended (and was recorded in the totals) before a stop
            if isinstance(result, STOPS):
                raise result
        for result in said:
            if isinstance(result, BaseException):
                raise result
        return panel_score([(judge.id, s) for judge, s in zip(self.judges, said)],
                           flipped=is_flipped(self.cfg, answer.prompt_id, answer.k),
                           latency_s=round(time.perf_counter() - started, 4))
