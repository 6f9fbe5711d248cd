"""Validate a scorer: `python -m sycobench.validate [scorer=...]`.

Scores every answer of the labelled validation sets (v1, v2; every scenario they hold) with the scorer,
through the same scoring path as a job, one set folder per set and scenario, and writes in its run
folder: per set, scenario and split the figures (`validation.csv`), the same re-weighted to a label
mix, by length tercile and by who asked, the agreement among the labelling passes, and each answer's
score; for a panel (`scorer=panel`) each judge's figures beside the median's. Judges are also asked
with the scale reversed (the polarity-flip check) and, with `validation.context_check=true`, with the
other `scorer.context` as well. The figures are kept as the scorer's latest, per scenario, where job
and sweep reports find them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import hydra
import numpy as np
import polars as pl
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from sycobench.app import exit_on_error, run_entry
from sycobench.config import ModelConfig, ScenarioConfig, ScorerConfig, Settings
from sycobench.errors import ConfigError, DataError
from sycobench.paths import CONF_DIR
from sycobench.records import run_record
from sycobench.scenario import Prompt, build_grid
from sycobench.scoring import Scorer, ScoringContext, score_folder, scorer_class
from sycobench.spec import prepare_scorer
from sycobench.store import RUN, SCORES, JobFolder
from sycobench.validation import (
    SETS, check_prompts, current_version, figure_rows, figures_path, read_set, save_figures,
)
from sycobench.validation_metrics import (
    agreement_table, bin_code, context_table, flip_table, length_table, perspective_table, reweighted_table,
    with_lengths,
)

__all__ = ["ValidateAppConfig", "ValidationConfig", "judge_frames", "labeller_table", "load_answers", "main", "score_set",
           "validate"]

log = logging.getLogger("sycobench.validate")
# The answers stand in for a model that is not the mock, so scorer=auto picks what a real model gets.
SET_MODEL = ModelConfig(name="validation-set", api="openrouter", id="validation-set")


@dataclass
class ValidationConfig:
    data: str | None = None  # a JSONL set of your own instead of the shipped sets
    sets: list[str] = field(default_factory=lambda: list(SETS))
    scenarios: list[str] | None = None  # default: every scenario the sets hold
    label_mix: list[float] | None = None  # shares of -, 0, + to re-weight to; default each set's own
    limit: int | None = None  # the first N answers of each set and scenario (their figures are not kept)
    context_check: bool = False  # also score with the other scorer.context, and report how the two agree
    store: str | None = None
    save: bool = True
    threshold: float = 0.33

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ConfigError(f"validation.threshold: must be in (0, 1), got {self.threshold}")
        unknown = sorted(set(self.sets) - set(SETS))
        if unknown and self.data is None:
            raise ConfigError(f"validation.sets: unknown set {unknown[0]!r}; choose among {', '.join(SETS)}")
        if self.label_mix is not None and (len(self.label_mix) != 3 or min(self.label_mix) < 0 or sum(self.label_mix) <= 0):
            raise ConfigError(f"validation.label_mix: give three shares >= 0 for -, 0, + (e.g. [0.2,0.7,0.1]), "
                              f"got {list(self.label_mix)}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"validation.limit: must be >= 1 (or null for every answer), got {self.limit}")

    @property
    def mix(self) -> tuple[float, float, float] | None:
        if self.label_mix is None:
            return None
        total = sum(self.label_mix)
        return tuple(float(x) / total for x in self.label_mix)  # type: ignore[return-value]


@dataclass
class ValidateAppConfig(Settings):
    """The settings scoring uses (scorer, rate limit, run), plus where the set and the figures are."""

    validation: ValidationConfig = field(default_factory=ValidationConfig)


ConfigStore.instance().store(name="sycobench_validate_schema", node=ValidateAppConfig)


def load_answers(cfg: ValidationConfig) -> pl.DataFrame:
    """Every answer to validate on, with `set`, `scenario`, `words` and `length` (tercile)."""
    if cfg.data is not None:
        path = Path(cfg.data)
        frames = [read_set(path, path.stem)]
    else:
        frames = [read_set(path, name) for name in cfg.sets for path in SETS[name]]
    answers = pl.concat(frames, how="diagonal_relaxed")
    if cfg.scenarios is not None:
        missing = sorted(set(cfg.scenarios) - set(answers["scenario"]))
        if missing:
            raise ConfigError(f"validation.scenarios: the sets hold no answers of {missing[0]!r}; they hold "
                              f"{', '.join(sorted(set(answers['scenario'])))}")
        answers = answers.filter(pl.col("scenario").is_in(cfg.scenarios))
    answers = with_lengths(answers)
    if cfg.limit is not None:
        answers = answers.filter(pl.int_range(pl.len()).over("set", "scenario") < cfg.limit)
    return answers


def _scenario(name: str) -> ScenarioConfig:
    path = CONF_DIR / "scenario" / f"{name}.yaml"
    if not path.is_file():
        raise DataError(f"validation set: scenario {name!r} is not a shipped scenario (conf/scenario/); fix the "
                        "answers' scenario field")
    return ScenarioConfig(OmegaConf.to_container(OmegaConf.load(path)))  # type: ignore[arg-type]


def _set_job(folder: JobFolder, answers: pl.DataFrame, grid: dict[str, Prompt]) -> None:
    """The set as a job folder (k = the answer's line number), so any scorer scores it as it scores a job."""
    folder.make()
    used = answers["prompt_id"].unique(maintain_order=True).to_list()
    folder.write_grid([grid[p] for p in used])
    if folder.has_answers():
        return  # written by the first pass (a judge is asked again: flipped scale, other context)
    with folder.writer(RUN) as writer:
        for k, (pid, text) in enumerate(answers.select("prompt_id", "text").iter_rows()):
            p = grid[pid]
            writer.write(run_record(role="target", model_id=SET_MODEL.id, model_label=SET_MODEL.display,
                                    api=SET_MODEL.api, prompt_id=pid, triplet_id=p.triplet_id, scenario=p.scenario,
                                    version=p.version, perspective=p.perspective, factors=p.factors, k=k,
                                    response_text=text))


async def _run_scorer(folder: JobFolder, scorer: ScorerConfig, kind: type[Scorer], app: ValidateAppConfig,
                      scenario: ScenarioConfig) -> None:
    from sycobench.job import open_client

    async with open_client(app.run, app.rate_limit, folder, scenario=scenario) as client:
        outcome = await score_folder(folder, kind(scorer, ScoringContext(scenario, client)),
                                     concurrency=app.run.concurrency, totals=client.totals.judge,
                                     progress=app.run.progress, progress_every_s=app.run.progress_every_s)
    if outcome.stop is not None:
        raise outcome.stop


def score_set(answers: pl.DataFrame, scorer: ScorerConfig, app: ValidateAppConfig, work_dir: Path,
              grid: dict[str, Prompt], scenario: ScenarioConfig) -> pl.DataFrame:
    """`answers` (one scenario's) with the scorer's `score` (null = unscored) and whether it was `flipped`."""
    kind = scorer_class(scorer)
    folder = JobFolder(work_dir)
    _set_job(folder, answers, grid)
    asyncio.run(_run_scorer(folder, scorer, kind, app, scenario))
    sid = kind.scorer_id(scorer)
    records = folder.frame(SCORES, ["k", "scorer", "score", "flipped", "error", "judges"]).filter(pl.col("scorer") == sid)
    errors = records.filter(pl.col("error").is_not_null()).height
    if errors:
        log.warning("%s: %d answers could not be scored (call errors); they count as unscored", sid, errors)
    scores = records.filter(pl.col("error").is_null()).select("k", "score", pl.col("flipped").fill_null(False), "judges")
    return (answers.with_row_index("k").with_columns(pl.col("k").cast(pl.Int64))
            .join(scores, on="k", how="left").drop("k").with_columns(pl.col("flipped").fill_null(False)))


def judge_frames(scored: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """A panel's judges, each as `scored` with that judge's own `score` (null where it gave none), by
    judge id; empty for a scorer whose records hold no judges."""
    if "judges" not in scored.columns:
        return {}
    ids = scored.select(pl.col("judges").explode().struct.field("scorer").drop_nulls().unique(maintain_order=True))
    mine = pl.element().struct.field("scorer")
    return {jid: scored.with_columns(pl.col("judges").list.eval(pl.element().filter(mine == jid)
                                                                .struct.field("score")).list.first().alias("score"))
            for jid in ids.to_series().to_list()}


def labeller_table(answers: pl.DataFrame, *, threshold: float = 0.33) -> pl.DataFrame:
    """Per set and scenario, among the labelling passes (`labels`): Krippendorff's alpha (interval), how many
    answers the passes put more than one bin apart, and the share all passes put in one bin."""
    from sycobench.stats import krippendorff_alpha_interval

    rows = []
    labelled = answers.filter(pl.col("labels").list.len() >= 2) if "labels" in answers.columns else answers.clear()
    for (set_name, scenario), part in labelled.group_by("set", "scenario", maintain_order=True):
        width = int(part["labels"].list.len().max())
        matrix = part.select(pl.col("labels").list.get(i, null_on_oob=True).alias(str(i)) for i in range(width))
        bins = part.select(pl.col("labels").list.eval(bin_code(pl.element(), threshold)).alias("b")).select(
            (pl.col("b").list.max() - pl.col("b").list.min()).alias("spread"))["spread"]
        rows.append({"set": set_name, "scenario": scenario, "n": part.height, "passes": width,
                     "krippendorff_alpha": krippendorff_alpha_interval(matrix.to_numpy().T.astype(np.float64)),
                     "n_disagree_over_one_bin": int((bins > 1).sum()), "share_one_bin": float((bins == 0).mean())})
    schema = {"set": pl.String, "scenario": pl.String, "n": pl.Int64, "passes": pl.Int64,
              "krippendorff_alpha": pl.Float64, "n_disagree_over_one_bin": pl.Int64, "share_one_bin": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _other_context(scorer: ScorerConfig) -> ScorerConfig:
    return replace(scorer, context="full" if scorer.context == "blinded" else "blinded")


def validate(app: ValidateAppConfig, out_dir: Path) -> dict[str, pl.DataFrame]:
    cfg, tau = app.validation, app.validation.threshold
    # measuring a scorer against labels is what an unvalidated scorer may always do
    wanted = replace(app.scorer, allow_unvalidated=True)
    scorer, kind, _ = prepare_scorer(wanted, SET_MODEL, ScenarioConfig(), keys=True)
    if not kind.scores:
        raise ConfigError(f"scorer={scorer.name} scores nothing; validate scorer=offline, scorer=judge or scorer=human")
    if cfg.context_check and not kind.reads_context:
        raise ConfigError(f"validation.context_check: scorer={scorer.name} does not read scorer.context; use it "
                          "with a scorer that does (scorer=judge)")
    answers = load_answers(cfg)
    sid = kind.scorer_id(scorer)
    # the scorer's figures, and for a panel each judge's too, keyed by scorer id
    parts: dict[str, list[pl.DataFrame]] = {sid: []}
    flips: dict[str, list[pl.DataFrame]] = {}
    contexts: dict[str, list[pl.DataFrame]] = {}

    def add(table: dict[str, list[pl.DataFrame]], frames: dict[str, pl.DataFrame]) -> None:
        for name, frame in frames.items():
            table.setdefault(name, []).append(frame)

    def each(scored: pl.DataFrame, names: list[str] | None = None) -> dict[str, pl.DataFrame]:
        """The scorer's frame and its judges' by id; `names`: the ids of the same judges asked as
        configured, for a pass asked otherwise (scale reversed, other context: `.../flip`, `.../full`)."""
        judged = judge_frames(scored)
        return {sid: scored, **(dict(zip(names, judged.values())) if names else judged)}

    for (set_name, name), part in answers.group_by("set", "scenario", maintain_order=True):
        scenario = _scenario(name)
        kind.check(scorer, scenario=scenario, target=SET_MODEL)
        grid = {p.prompt_id: p for p in build_grid(scenario)}
        check_prompts(part, {name: set(grid)})
        work = out_dir / "scored" / f"{set_name}-{name}"
        scored = score_set(part, scorer, app, work, grid, scenario)
        mine = each(scored)
        add(parts, mine)
        names = [k for k in mine if k != sid]
        if kind.flip_check:
            other = each(score_set(part, replace(scorer, flip_half=not scorer.flip_half), app, work, grid, scenario),
                         names)
            plain, flipped = (other, mine) if scorer.flip_half else (mine, other)
            add(flips, {k: flip_table(plain[k], flipped[k], threshold=tau) for k in plain if k in flipped})
        if cfg.context_check:
            other = each(score_set(part, _other_context(scorer), app, work, grid, scenario), names)
            blinded, full = (mine, other) if scorer.context == "blinded" else (other, mine)
            add(contexts, {k: context_table(blinded[k], full[k], k, threshold=tau) for k in blinded if k in full})
    frames = {name: pl.concat(found, how="diagonal_relaxed").drop("judges", strict=False)
              for name, found in parts.items()}
    digests = frames[sid].select("set", "scenario", "set_sha").unique()
    built: dict[str, list[pl.DataFrame]] = {}
    for name, scored in frames.items():
        table = agreement_table(scored, name, threshold=tau).join(digests, on=["set", "scenario"], how="left")
        version = kind.version(scorer) if name == sid else current_version(name)
        add(built, {
            "validation": figure_rows(table, version=version, flips=pl.concat(flips[name]) if name in flips else None),
            "reweighted": reweighted_table(scored, name, mix=cfg.mix, threshold=tau),
            "by_length": length_table(scored, name, threshold=tau),
            "by_perspective": perspective_table(scored, name, threshold=tau),
        })
        if name in contexts:
            add(built, {"context": pl.concat(contexts[name])})
    tables = {name: pl.concat(found) for name, found in built.items()}
    tables["labellers"] = labeller_table(frames[sid], threshold=tau)
    rows = tables["validation"]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_csv(out_dir / ("validation.csv" if name == "validation" else f"validation_{name}.csv"),
                        float_precision=4)
    ids = ["set", "scenario", "id"]
    per_answer = frames[sid].select(*ids, "split", "perspective", "words", "label", "score")
    for name, scored in frames.items():  # a panel's judges: a column each
        if name != sid:
            per_answer = per_answer.join(scored.select(*ids, pl.col("score").alias(name)), on=ids, how="left",
                                         maintain_order="left")
    per_answer.write_csv(out_dir / "scores.csv", float_precision=4)
    if cfg.limit is not None:
        log.info("validation.limit=%d: figures of a slice, not kept as the scorer's latest", cfg.limit)
    elif cfg.save:
        store = Path(cfg.store) if cfg.store else figures_path()
        save_figures(rows, store)
        log.info("kept as the latest figures of %s in %s", ", ".join(rows["scorer"].unique(maintain_order=True)), store)
    return tables


_TITLES = {
    "validation": "figures per set, scenario and split",
    "reweighted": "re-weighted to the label mix (shares of -/0/+)",
    "by_length": "by length tercile (words)",
    "by_perspective": "by who asked",
    "labellers": "agreement among the labelling passes",
    "context": "context check: the same answers scored with context=blinded and context=full",
}


def format_table(table: pl.DataFrame) -> str:
    hidden = ("version", "set_sha", "validated_at", "scorer")
    cols = [c for c in table.columns if c not in hidden and table[c].null_count() < table.height]
    with pl.Config(tbl_rows=200, tbl_cols=30, tbl_width_chars=250, float_precision=3, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, fmt_str_lengths=40):
        return str(table.select(cols))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="validate")
@exit_on_error
def _hydra_main(cfg: DictConfig) -> None:
    app: ValidateAppConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    tables = validate(app, out_dir)
    print(f"validation of {tables['validation']['scorer'][0]} (tables in {out_dir})")
    for name, title in _TITLES.items():
        if name in tables and tables[name].height:
            print(f"\n{title}\n{format_table(tables[name])}")


def main() -> None:
    run_entry(_hydra_main, again="run the same command again: judge calls already made come from the cache, unpaid")


if __name__ == "__main__":
    main()
