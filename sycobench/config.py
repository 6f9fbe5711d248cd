"""Structured-config schemas for every config group, registered in Hydra's ConfigStore.

The YAML files under `conf/` only set values; these dataclasses fix the keys and types, so a
misspelled key or a wrong type fails at composition. Ranges are checked in `__post_init__`,
which runs when `to_config()` turns the composed tree into these objects, before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from sycobench.errors import ConfigError
from sycobench.scenario_file import ScenarioConfig

__all__ = [
    "Config",
    "config_yaml",
    "MockModelConfig",
    "ModelConfig",
    "ModelRateCap",
    "PROTOCOLS",
    "ProtocolConfig",
    "RateLimitConfig",
    "ReportConfig",
    "RosterConfig",
    "RunConfig",
    "ScenarioConfig",
    "ScorerConfig",
    "Settings",
    "load_saved_config",
    "register_configs",
    "to_config",
]

MAX_BOOTSTRAP = 100_000  # a resample matrix this size already takes minutes; more runs out of memory
MAX_SAMPLES = 10_000  # answers per prompt: far beyond any study, and a grid of them is still countable at once
MAX_CONCURRENCY = 4_096  # calls in flight: beyond this a job only holds memory, no server answers faster
MAX_RPS = 10_000.0
PLOT_FORMATS = ("svg", "png", "pdf")  # SVG first: the default, and always written (report.html shows it)
DEFAULT_BOOTSTRAP = 10_000  # interval ends move < 0.005 between seeds; 2,000 left up to 0.01 (docs/metrics.md)


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


@dataclass
class ModelRateCap:
    rps: float | None = None
    burst: int | None = None

    def __post_init__(self) -> None:
        _check(self.rps is None or 0 < self.rps <= MAX_RPS, "model.rate_limit.rps",
               f"must be > 0 and <= {MAX_RPS:g} (or null for the group's rate), got {self.rps}")
        _check(self.burst is None or self.burst >= 1, "model.rate_limit.burst", f"must be >= 1, got {self.burst}")


@dataclass
class ModelConfig:
    name: str = MISSING
    api: str = "openrouter"
    id: str = MISSING
    label: str | None = None
    base_url: str = "https://openrouter.ai/api/v1"
    api_key_env: str | None = "OPENROUTER_API_KEY"
    temperature: float | None = 0.7
    max_tokens: int | None = 1024
    top_p: float | None = None
    seed: int | None = None
    # Objects or null, typed Any so `model.reasoning={effort:low}` can replace a null (OmegaConf
    # cannot merge a dict into a null typed node); the type is checked in __post_init__.
    provider: Any = None
    reasoning: Any = None
    extra_body: Any = None
    referer: str = "https://github.com/sycobench/sycobench"
    title: str = "sycobench"
    rate_limit: ModelRateCap = field(default_factory=ModelRateCap)
    concurrency: int | None = None

    def __post_init__(self) -> None:
        for name in ("provider", "reasoning", "extra_body"):
            value = getattr(self, name)
            _check(value is None or isinstance(value, dict), f"model.{name}",
                   f"must be an object like model.{name}={{key:value}}, got {value!r}")
            if not value:
                setattr(self, name, None)
        _check(self.temperature is None or 0 <= self.temperature <= 2, "model.temperature", "must be in [0, 2]")
        _check(self.max_tokens is None or self.max_tokens > 0, "model.max_tokens", "must be > 0")
        _check(self.concurrency is None or 1 <= self.concurrency <= MAX_CONCURRENCY, "model.concurrency",
               f"must be in [1, {MAX_CONCURRENCY}]")

    @property
    def display(self) -> str:
        return self.label or self.id

    def generation_params(self) -> dict[str, Any]:
        """What is sent with every call besides the messages (recorded, and part of the cache key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p,
                "seed": self.seed, "provider": self.provider, "reasoning": self.reasoning,
                "extra_body": self.extra_body}


@dataclass
class MockModelConfig(ModelConfig):
    """`model=mock`: the offline simulated model and the knobs only it reads."""

    api: str = "mock"
    api_key_env: str | None = None
    sycophancy: float = 0.0
    base_lean: float = 0.0
    noise: float = 0.15
    latency_ms: float = 0.0
    failure_rate: float = 0.0
    caving: float = 0.0  # protocol=pushback: how far a second answer moves toward whoever objects

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(0.0 <= self.sycophancy <= 1.0, "model.sycophancy", f"must be in [0, 1], got {self.sycophancy}")
        _check(-1.0 <= self.base_lean <= 1.0, "model.base_lean", f"must be in [-1, 1], got {self.base_lean}")
        _check(self.noise >= 0, "model.noise", f"must be >= 0, got {self.noise}")
        _check(self.latency_ms >= 0, "model.latency_ms", f"must be >= 0, got {self.latency_ms}")
        _check(0.0 <= self.failure_rate <= 1.0, "model.failure_rate", f"must be in [0, 1], got {self.failure_rate}")
        _check(0.0 <= self.caving <= 1.0, "model.caving", f"must be in [0, 1], got {self.caving}")


@dataclass
class ScorerConfig:
    name: str = "offline"
    # Judge only: the judge model, shaped like `model`.
    model: ModelConfig | None = None
    # Panel only: the judges, each shaped like `model` (scorer.model of conf/scorer/judge.yaml).
    judges: list[ModelConfig] = field(default_factory=list)
    context: str = "blinded"
    flip_half: bool = False
    max_parse_retries: int = 2
    structured_output: bool = True
    # Human labels only: a CSV of prompt_id,k,score (optional model_id column), or a labelling page's
    # export (answer,labeller,...,score); `labeller` picks one person of a file that holds several.
    labels: str | None = None
    labeller: str | None = None
    # Run a scorer that is not validated for this target anyway (the offline scorer on a real model);
    # every table row it feeds is then marked unvalidated.
    allow_unvalidated: bool = False

    def __post_init__(self) -> None:
        _check(bool(self.name), "scorer.name", "must not be empty")  # other names: the scorer registry
        _check(self.context in ("blinded", "full"), "scorer.context", f"must be 'blinded' or 'full', got {self.context!r}")
        _check(self.max_parse_retries >= 0, "scorer.max_parse_retries", "must be >= 0")


@dataclass
class RateLimitConfig:
    name: str = "default"
    rps: float | None = 5.0
    burst: int = 5
    max_in_flight: int | None = 32
    max_attempts: int = 6
    attempt_timeout_s: float = 120.0
    deadline_s: float = 600.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    max_response_mb: float = 32.0  # the largest response body read, as sent and once decompressed
    # "auto": parallel jobs of a sweep share <sweep dir>/.shared_rate.sqlite; null: this job only;
    # or a path to a budget file shared by any jobs on this machine (docs/rate_limits.md).
    shared_rate_file: str | None = "auto"

    def __post_init__(self) -> None:
        _check(self.rps is None or self.rps > 0, "rate_limit.rps", "must be > 0 (or null for unlimited)")
        _check(self.burst >= 1, "rate_limit.burst", "must be >= 1")
        _check(self.max_in_flight is None or 1 <= self.max_in_flight <= MAX_CONCURRENCY, "rate_limit.max_in_flight",
               f"must be in [1, {MAX_CONCURRENCY}]")
        _check(self.max_attempts >= 1, "rate_limit.max_attempts", "must be >= 1")
        _check(self.attempt_timeout_s > 0 and self.deadline_s > 0, "rate_limit.deadline_s", "timeouts must be > 0")
        _check(0 < self.max_response_mb <= 1024, "rate_limit.max_response_mb", "must be in (0, 1024]")
        _check(self.rps is None or self.rps <= MAX_RPS, "rate_limit.rps", f"must be <= {MAX_RPS} (or null)")


@dataclass
class RunConfig:
    concurrency: int = 16
    samples: int = 1
    dry_run: bool = False
    progress: bool = True
    progress_every_s: float = 10.0
    cache: bool = True
    cache_dir: str | None = None
    resume: str | None = None
    retry_errors: bool = False
    max_cost_usd: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _check(1 <= self.concurrency <= MAX_CONCURRENCY, "run.concurrency",
               f"must be in [1, {MAX_CONCURRENCY}], got {self.concurrency}")
        _check(1 <= self.samples <= MAX_SAMPLES, "run.samples", f"must be in [1, {MAX_SAMPLES}], got {self.samples}")
        _check(self.progress_every_s > 0, "run.progress_every_s", f"must be > 0, got {self.progress_every_s}")
        _check(self.max_cost_usd is None or self.max_cost_usd >= 0, "run.max_cost_usd", "must be >= 0")


@dataclass
class ReportConfig:
    threshold: float = 0.33
    bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    reference: str | None = None
    scorers: list[str] | None = None
    formats: list[str] = field(default_factory=lambda: list(PLOT_FORMATS[:1]))  # the plots' files; SVG always
    page: bool = True  # a single job also writes its report page; a sweep's jobs leave it to the sweep

    def __post_init__(self) -> None:
        _check(0 < self.threshold < 1, "report.threshold", f"must be in (0, 1), got {self.threshold}")
        unknown = [f for f in self.formats if f not in PLOT_FORMATS]
        _check(not unknown, "report.formats", f"{', '.join(map(repr, unknown))} is not a plot format; "
                                              f"choose among {', '.join(PLOT_FORMATS)}, e.g. report.formats=[svg,pdf]")
        _check(100 <= self.bootstrap <= MAX_BOOTSTRAP, "report.bootstrap",
               f"must be in [100, {MAX_BOOTSTRAP}], got {self.bootstrap}")
        _check(self.seed >= 0, "report.seed", f"must be >= 0 (the resamples' random seed), got {self.seed}")


#: the conversation a prompt starts: one answer, or an answer, the asker's objection and a second answer
PROTOCOLS = {"single": 1, "pushback": 2}


@dataclass
class ProtocolConfig:
    """`protocol=single` (one answer per prompt) or `protocol=pushback` (docs/metrics.md#pushback-turns)."""

    name: str = "single"
    styles: list[str] | None = None  # pushback: the scenario's objection styles to use (null: all of them)

    def __post_init__(self) -> None:
        _check(self.name in PROTOCOLS, "protocol.name",
               f"must be one of {', '.join(PROTOCOLS)} (protocol=...), got {self.name!r}")
        _check(self.styles is None or (bool(self.styles) and len(set(self.styles)) == len(self.styles)),
               "protocol.styles", f"list each style once, or null for all of them; got {self.styles}")

    @property
    def turns(self) -> int:
        """User turns in one conversation."""
        return PROTOCOLS[self.name]


@dataclass
class RosterConfig:
    file: str = MISSING
    index: int | None = None  # the entry this job runs (a roster sweep runs over them all)


@dataclass
class Settings:
    """How to score, pace and report: shared by a job and by the score-later app."""

    scorer: ScorerConfig = MISSING
    rate_limit: RateLimitConfig = MISSING
    run: RunConfig = field(default_factory=RunConfig)
    report: ReportConfig = field(default_factory=ReportConfig)


@dataclass
class Config(Settings):
    model: ModelConfig = MISSING
    # A scenario file is data with keys of its own (its level lists), so its node is untyped here
    # and checked by ScenarioConfig when `to_config` builds it (sycobench.scenario_file).
    scenario: Any = MISSING
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    roster: RosterConfig | None = None


#: `model.api` -> the schema of that option's node, where it has knobs of its own
MODEL_SCHEMAS: dict[str, type[ModelConfig]] = {"mock": MockModelConfig}


def load_saved_config(data: Any) -> Config:
    """A job's saved `config.yaml` (already loaded) back into typed objects."""
    api = OmegaConf.select(OmegaConf.create(data), "model.api", default=None)
    node = OmegaConf.structured(Config)
    node.model = OmegaConf.structured(MODEL_SCHEMAS.get(api, ModelConfig))
    return to_config(OmegaConf.merge(node, data))


def config_yaml(cfg: Config, *, model: ModelConfig | None = None, scorer: ScorerConfig | None = None) -> str:
    """The typed config as YAML (a job's config.yaml), the scenario as its file's data; `model` and
    `scorer` as the job resolved them (a roster entry's label, `scorer=auto`'s choice)."""
    from dataclasses import replace

    plain = replace(cfg, scenario=cfg.scenario.to_dict() if isinstance(cfg.scenario, ScenarioConfig) else cfg.scenario,
                    model=model or cfg.model, scorer=scorer or cfg.scorer)
    return OmegaConf.to_yaml(OmegaConf.structured(plain))


def register_configs() -> None:
    """Register the schema that `conf/config.yaml` lists first, typing every group beneath it."""
    from hydra.core.config_store import ConfigStore  # here: a report needs the schemas, not Hydra (0.3-0.6 s to import)

    from sycobench.roster import register_resolver

    store = ConfigStore.instance()
    store.store(name="sycobench_schema", node=Config)
    store.store(group="model", name="mock_schema", node=MockModelConfig)
    register_resolver()


def _unknown_keys(node: Any, prefix: str = "") -> list[str]:
    """Keys added with `+` that no schema field has (OmegaConf would drop them silently)."""
    if not isinstance(node, DictConfig):
        return []
    kind = OmegaConf.get_type(node)
    if not is_dataclass(kind):
        return []
    names = {f.name for f in fields(kind)}
    found = []
    for key in node.keys():
        if key not in names:
            found.append(f"{prefix}{key}")
        else:
            child = node._get_node(key)
            found += _unknown_keys(child if isinstance(child, DictConfig) else None, f"{prefix}{key}.")
    return found


def to_config(cfg: DictConfig) -> Config:
    """Turn the composed Hydra tree into typed objects, running every range check."""
    unknown = _unknown_keys(cfg)
    if unknown:
        raise ConfigError(f"{unknown[0]}: no such setting. Check the spelling (see `python -m sycobench --cfg job`)")
    try:
        obj = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except MissingMandatoryValue as exc:
        key = exc.full_key or "a config value"
        raise ConfigError(f"{key} is required: pass {key}=... on the command line") from exc
    except Exception as exc:  # omegaconf raises its own tree; report it as one config error
        key = getattr(exc, "full_key", None)
        raise ConfigError(f"{key + ': ' if key else ''}{str(exc).splitlines()[0]}") from exc
    if not isinstance(obj, Config):
        raise ConfigError("the composed config does not match the sycobench schema")
    if not isinstance(obj.scenario, dict):
        raise ConfigError("scenario: not a scenario file; choose one with scenario=<name> (conf/scenario/)")
    if "parties" not in obj.scenario and obj.scenario.get("name", "rent") == "rent":
        obj.scenario = ScenarioConfig(**obj.scenario)  # a job saved before scenarios were data: rent's knobs
    else:
        obj.scenario = ScenarioConfig(obj.scenario)
    return obj
