"""A job folder's records as the frames every table is built from (through the store, never its files).

`calls`: one row per model call (target answers and judge calls), deduplicated so a resumed call
counts once. `results`: one row per (answer, scorer), with the answer's scenario and side (`a`,
`b`, `neutral`). `factors`: the levels of every triplet, long (`triplet_id, factor, level`), since
each scenario declares factors of its own. The text behind each result is joined only on demand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import logging

import polars as pl

from sycobench.errors import DataError
from sycobench.records import ANSWER_KEY, RUN_FIELDS, SCORE_FIELDS
from sycobench.report.frame import surely_distinct
from sycobench.store import ROW, RUN, SCORES, JobFolder, first_rows, lazy_frames, sink_whole, take_rows

__all__ = ["RUN_SCHEMA", "SCORE_SCHEMA", "SMALL_ENGINE", "TEXT_COLUMNS", "TURN_COLUMNS", "JobParties", "factor_map",
           "load_calls", "load_factors", "load_results", "load_text", "protocol_of", "sink_with_text", "texted_blocks",
           "with_text"]

KEY = list(ANSWER_KEY)
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
# Polars' default (streaming) engine runs `unique` on these small per-job frames ~10x slower, and costs more
# than the joins of a block of text.
SMALL_ENGINE = "in-memory"
# The columns the tables read, typed by the one layout in sycobench.records; no text (see load_text).
RUN_SCHEMA = {name: RUN_FIELDS[name] for name in (
    "model_id", "model_label", "api", "prompt_id", "triplet_id", "scenario", "perspective", "side", "k", "usage",
    "cost_usd", "latency_s", "queued_s", "cached", "error", "ended_at", "turn", "parent_id", "style", "objector")}
#: what a job of several turns adds to its calls and results: the protocol, and each answer's turn
#: (a second turn's parent prompt, objection style and the side it objects for)
TURN_COLUMNS = ["protocol", "turn", "parent_id", "style", "objector"]
SCORE_SCHEMA = {name: SCORE_FIELDS[name] for name in (
    "model_id", "prompt_id", "k", "scorer", "score", "unscorable", "usage", "cost_usd", "latency_s", "queued_s",
    "cached", "error", "scored_at", "labeller", "judges")}
# What was asked and answered, carried into results.parquet and the transcript view; tables never read it.
TEXT_COLUMNS = ["messages", "response_text", "raw", "unscorable"]
_RUN_TEXT = {name: RUN_FIELDS[name] for name in ("model_id", "prompt_id", "k", "error", "response_text", "messages")}
_SCORE_TEXT = {name: SCORE_FIELDS[name] for name in ("model_id", "prompt_id", "k", "scorer", "error", "raw")}
_PROMPTS = {"prompt_id": pl.String, "messages": RUN_FIELDS["messages"]}  # JobFolder.prompts()
FACTOR_MAP = pl.List(pl.Struct({"factor": pl.String, "level": pl.String}))
log = logging.getLogger("sycobench.report")


@dataclass(frozen=True)
class JobParties:
    """A job's scenario and its two parties: ids (as in records and CSV columns) and display names."""

    scenario: str
    a: str
    b: str
    a_name: str
    b_name: str

    @classmethod
    def of(cls, folder: JobFolder) -> JobParties:
        """From the job's saved scenario; jobs from before scenarios were data are rent."""
        scenario = (folder.saved_config() or {}).get("scenario") or {}
        try:
            a, b = scenario["parties"][:2]
            return cls(str(scenario.get("name") or "rent"), str(a["id"]), str(b["id"]), str(a.get("name") or a["id"]),
                       str(b.get("name") or b["id"]))
        except (KeyError, TypeError, ValueError):
            return RENT

    def side(self) -> pl.Expr:
        """`a`, `b` or `neutral` from `perspective` (records written before sides were recorded)."""
        return pl.col("perspective").replace_strict({self.a: "a", self.b: "b", "neutral": "neutral"}, default=None,
                                                   return_dtype=pl.String)


RENT = JobParties("rent", "landlord", "tenant", "landlord", "tenant")


def protocol_of(folder: JobFolder) -> str:
    """The job's protocol (`single` for jobs from before there were protocols)."""
    try:
        return str(((folder.saved_config() or {}).get("protocol") or {}).get("name") or "single")
    except (AttributeError, DataError):
        return "single"


def _turns(protocol: str) -> list[pl.Expr]:
    """The TURN_COLUMNS of a job of several turns; a single-turn job's frames go without them."""
    if protocol == "single":
        return []
    return [pl.col("turn").fill_null(1), "parent_id", "style", "objector"]


def _latest(frame: pl.DataFrame | pl.LazyFrame, keys: list[str], ts: str) -> pl.DataFrame:
    """Keep one row per key: the last success if any, else the last error (resumed calls count once).
    Records with no key twice (a job's usual ones) are kept as they are, in one chunk: sorting them by their
    time stamps cost half of reading them, and the frames joined from a copy's row groups as read held
    more memory (+240 MB at a million answers)."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect(engine=SMALL_ENGINE)
    if surely_distinct(frame, keys):
        return frame.rechunk()
    kept = (
        frame.lazy().with_columns(pl.col("error").is_null().alias("_ok"))
        .sort(["_ok", ts], nulls_last=False)
        .unique(subset=keys, keep="last", maintain_order=False)
        .drop("_ok")
    )
    # a record's row (ROW) is not carried on: the text of a key answered twice is its first success's, the
    # one the scoring loop scored, and texted_blocks finds that one by its key
    return (kept.with_columns(pl.lit(None, frame.schema[ROW]).alias(ROW)) if ROW in frame.columns else kept).collect(
        engine=SMALL_ENGINE)


def load_calls(folder: JobFolder, *, job: str | None = None, scores: pl.DataFrame | pl.LazyFrame | None = None,
               parties: JobParties | None = None) -> pl.DataFrame:
    """A row per call, the target's and the judges'; a target call's row also says where its record is in
    the run records (ROW), for load_results."""
    parties = parties or JobParties.of(folder)
    protocol = protocol_of(folder)
    turns = _turns(protocol)
    # each call's row in its records (ROW), kept with it: a report takes the answers' text by it (texted_blocks)
    runs = _latest(folder.scan(RUN, RUN_SCHEMA).with_row_index(ROW), KEY, "ended_at").lazy()
    name = pl.lit(job or str(folder.path)).alias("job")
    target = runs.select(
        name, "model_id", "api", pl.lit("target").alias("role"), "prompt_id", "triplet_id",
        pl.col("scenario").fill_null(parties.scenario), "perspective",
        pl.coalesce("side", parties.side()).alias("side"), "k",
        pl.col("error").struct.field("class").alias("error_class"), "latency_s", "queued_s",
        pl.col("cached").fill_null(False),
        pl.col("usage").struct.unnest(), "cost_usd", "model_label", *turns, ROW,
    )
    if scores is None:
        scores = folder.scan(SCORES, SCORE_SCHEMA)
    judged = scores.lazy().filter(pl.col("usage").is_not_null() | pl.col("error").is_not_null())
    panel = pl.col("judges").list.len().fill_null(0) > 0
    judge = judged.filter(~panel).select(
        name, "model_id", pl.lit("judge").alias("role"), "prompt_id",
        pl.col("error").struct.field("class").alias("error_class"), "latency_s", "queued_s",
        pl.col("cached").fill_null(False),
        pl.col("usage").struct.unnest(), "cost_usd",
    )
    # a panel's record holds several judges' calls: a row each, with its own cost, cache hit and error
    one = pl.col("judges").struct.field
    judges = judged.filter(panel).select("model_id", "prompt_id", "judges").explode("judges").select(
        name, "model_id", pl.lit("judge").alias("role"), "prompt_id", one("error").alias("error_class"),
        one("latency_s").alias("latency_s"), one("queued_s").alias("queued_s"),
        one("cached").fill_null(False).alias("cached"), one("usage").struct.unnest(), one("cost_usd").alias("cost_usd"),
    )
    calls = pl.concat([target, judge, judges], how="diagonal_relaxed")
    if turns:
        calls = calls.with_columns(protocol=pl.lit(protocol))
    calls = calls.collect(engine=SMALL_ENGINE)
    foreign = folder.foreign_prompts(calls)
    if foreign.height:
        log.warning("%s: %d record(s) answer prompts that are not in the job's grid (pasted from another job?); "
                    "they are set aside and not counted", folder.path, foreign.height)
        calls = calls.join(foreign.select("prompt_id").unique(), on="prompt_id", how="anti")
    return calls


def load_results(folder: JobFolder, *, calls: pl.DataFrame | None = None,
                 scores: pl.DataFrame | pl.LazyFrame | None = None, text: bool = True,
                 unscored: bool = False, ordered: bool = True) -> pl.DataFrame:
    """One row per (answer, scorer) a scorer saw; with `text`, also the prompt, answer and judge reply
    (TEXT_COLUMNS, from load_text). Scores for unknown or failed calls are dropped. With `unscored`,
    also a row for each answer that a scorer of the job has no score for (its call failed, or scoring
    stopped), with `scored = false` and no score: not scored, which the tables count apart from
    unscorable. Without `text`, each row also holds its answer's row in the run records (ROW).
    `ordered`: rows sorted by model, scorer, triplet, prompt and k, whatever order the records are in; else
    (a report's read: its tables never depend on row order) by model and scorer only, each one's rows in
    the same order for the same records."""
    if scores is None:
        scores = folder.scan(SCORES, SCORE_SCHEMA)
    calls = calls if calls is not None else load_calls(folder, scores=scores)
    turns = [c for c in TURN_COLUMNS if c in calls.columns]
    row = [ROW] if ROW in calls.columns else []
    answers = calls.lazy().filter((pl.col("role") == "target") & pl.col("error_class").is_null()).select(
        "job", *KEY, "triplet_id", "scenario", "perspective", "side", *turns, *row)
    shared = folder.shared_prompts()
    if shared.height:  # one answer in several triplets: a row in each, `dup` after its record's own
        answers = (answers.join(shared.lazy().rename({"triplet_id": "serves"}), on="prompt_id", how="left",
                                maintain_order="left")
                   .with_columns(dup=pl.col("serves").is_not_null() & (pl.col("serves") != pl.col("triplet_id")),
                                 triplet_id=pl.coalesce("serves", "triplet_id")).drop("serves"))
    answers = answers.collect(engine=SMALL_ENGINE)
    latest = _latest(scores, [*KEY, "scorer"], "scored_at").lazy()  # used twice
    scored = latest.filter(pl.col("error").is_null()).select(*KEY, "scorer", "score", "unscorable", "labeller",
                                                              "judges")
    columns = ["job", "model_id", "scorer", "scenario", "triplet_id", "prompt_id", "perspective", "side", "k", "score",
               "unscorable", "labeller", "judges", "scored", *(["dup"] if shared.height else []), *turns, *row]
    scored = scored.collect(engine=SMALL_ENGINE)
    if scored["judges"].null_count() == scored.height:  # no panel's (the usual job): a column of nulls made anew,
        # as read it held its pages' buffers (65 MB more at a million answers)
        scored = scored.with_columns(pl.lit(None, scored.schema["judges"]).alias("judges"))
    seen = _in_step(scored, answers)
    if seen is None:  # the scores in another order (a judge's, scored concurrently), or some missing
        seen = scored.lazy().join(answers.lazy(), on=KEY, how="inner", maintain_order="left").collect(
            engine=SMALL_ENGINE)
    parts = [seen.with_columns(scored=pl.lit(True)).select(columns)]
    pairs = latest.select("scorer", "labeller").unique().collect(engine=SMALL_ENGINE)
    # a score is unique per answer and scorer: as many rows as answers times scorers means none is missing
    if unscored and parts[0].height < answers.height * pairs["scorer"].n_unique():
        parts.append(answers.lazy().join(pairs.lazy(), how="cross").join(scored.lazy(), on=[*KEY, "scorer"], how="anti")
                     .with_columns(score=pl.lit(None, pl.Float64), unscorable=pl.lit(None, pl.String),
                                   judges=pl.lit(None, SCORE_FIELDS["judges"]), scored=pl.lit(False))
                     .select(columns).collect(engine=SMALL_ENGINE))
    results = pl.concat(parts) if unscored else parts[0].drop("scored")
    # A column of one value orders nothing (the same order as sorting by all five), and strings sort dearly:
    # a job's sort cost a tenth of its read, and its text step sorted the rows back into the records' order.
    # Jobs load side by side, so one thread sorts each
    varying = [c for c in ("model_id", "scorer") if results[c].n_unique() > 1]
    if ordered:
        results = results.sort(*varying, "triplet_id", "prompt_id", "k", multithreaded=False)
    elif varying:
        results = results.sort(*varying, maintain_order=True, multithreaded=False)
    if text:  # a user's frame: the row numbers are the report's own
        results = with_text(results.lazy().drop(row), *load_text(folder)).collect(engine=SMALL_ENGINE)
    return results


def _in_step(scored: pl.DataFrame, answers: pl.DataFrame) -> pl.DataFrame | None:
    """`scored` joined to `answers` by position, where each scorer scored every answer in the answers' own
    order (an offline scorer scores a job's answers as they were recorded): checking that costs a fifth of the
    join. Else None."""
    parts = []
    # one scorer (the usual job): its rows as they are (a group of them is a copy, a fifth of this step)
    scorers = [scored] if scored["scorer"].n_unique() == 1 else (
        part for _, part in scored.group_by("scorer", maintain_order=True))
    for part in scorers:
        if part.height != answers.height or not part.select(KEY).equals(answers.select(KEY), null_equal=False):
            return None
        parts.append(pl.concat([part, answers.drop(KEY)], how="horizontal"))
    return pl.concat(parts) if parts else None


def load_factors(folder: JobFolder, parties: JobParties | None = None) -> pl.DataFrame:
    """The job's factor levels, long: `scenario, triplet_id, factor, level` (from its grid)."""
    scenario = (parties or JobParties.of(folder)).scenario
    return folder.factors().select(pl.lit(scenario).alias("scenario"), pl.all())


def factor_map(factors: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """One row per triplet, its levels as one map-like column `factors` (a list of factor/level pairs)."""
    return (factors.lazy().group_by("scenario", "triplet_id", maintain_order=True)
            .agg(pl.struct("factor", "level").alias("factors")))


def load_text(folder: JobFolder, *, prompts: pl.LazyFrame | None = None) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The text behind the results, lazily: each answer's `messages` and `response_text` by
    ANSWER_KEY, each judge reply (`raw`) by those and `scorer`. From the columnar copies only
    these columns are read, and only when collected or sunk."""
    # A job holds one successful record per answer and per (answer, scorer) (docs/records.md); of a line
    # duplicated by hand, the first success is kept, the one the scoring loop scored (without sorting the text)
    answers = folder.scan(RUN, _RUN_TEXT, lazy=True).filter(pl.col("error").is_null())
    # a reply is a judge's: a scorer without replies (offline) adds no row, its nulls dropped as they are read;
    # none at all where the copy says so (a filter on a column it makes reads every key to drop them all)
    if "raw" in folder.null_columns(SCORES):
        replies = pl.LazyFrame(schema=_SCORE_TEXT)
    else:
        replies = folder.scan(SCORES, _SCORE_TEXT, lazy=True).filter(pl.col("error").is_null() &
                                                                     pl.col("raw").is_not_null())
    if prompts is None:  # the grid's text is read only when the text is
        prompts = lazy_frames(lambda: iter([folder.prompts()]), _PROMPTS)
    # answers: `unique` streams; a first-of-each-key mask was faster (68 -> 38 ms a job) but held every text
    # at once (+40 MB at 99,000 answers, bench/memory.py). Replies are short: the mask.
    return (_with_prompts(answers.select(*KEY, "response_text", "messages").unique(KEY, keep="first"), prompts),
            replies.select(*KEY, "scorer", "raw").filter(pl.struct(*KEY, "scorer").is_first_distinct()))


def _with_prompts(answers: Frame, prompts: Frame) -> Frame:
    """Each answer's `messages`: the conversation its record holds (a job of several turns), else its
    prompt from the grid."""
    return (answers.rename({"messages": "_sent"}).join(prompts, on="prompt_id", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_sent", "messages").alias("messages")).drop("_sent"))


def sink_with_text(results: pl.DataFrame, folder: JobFolder, *, factors: pl.DataFrame | None = None,
                   rows: int = 8192) -> None:
    """`results` with the text behind each row (with_text) and each triplet's factor levels, written
    to the job's results.parquet one block of the job's answers at a time (texted_blocks)."""
    levels = factor_map(factors if factors is not None else load_factors(folder)).collect()
    sink_whole(lazy_frames(*texted_blocks(results, folder, levels, rows=rows)), folder.file("results"),
               row_group_size=rows)


def texted_blocks(results: pl.DataFrame, folder: JobFolder, levels: pl.DataFrame, *, rows: int = 8192,
                  model: str | None = None) -> tuple[Callable[[], Iterator[pl.DataFrame]], pl.Schema]:
    """The maker of `results` (one job's rows) with their text (with_text) and their triplet's factor
    levels (`levels`: factor_map's), a block of the job's answers at a time in the order they were
    answered, so each answer's text is read once and memory holds one block of it (a job of one block:
    in the order of `results`); and their schema.
    `model`: the job's model as `results` names it (a sweep's label of it). Rows whose ROW (load_results)
    says where their records are go straight there; else each row's record is found by its key."""
    carried = results.get_column(ROW) if ROW in results.columns else None
    results = results.drop(ROW, strict=False)
    prompts = folder.prompts()
    answers, replies = load_text(folder, prompts=prompts.lazy())
    name = [pl.lit(model, pl.String).alias("model_id")] if model is not None else []
    # read once, not once a block: a judge's replies are short
    replies = replies.with_columns(*name).collect(engine=SMALL_ENGINE)

    def with_levels(rows: Frame) -> Frame:  # eager on a block: a plan cost more than its joins
        if levels.is_empty():  # a job with no grid (an old one): no levels, and no join to find none
            return rows.with_columns(pl.lit(None, levels.schema["factors"]).alias("factors"))
        return rows.join(levels.lazy() if isinstance(rows, pl.LazyFrame) else levels, on=["scenario", "triplet_id"],
                         how="left", maintain_order="left")

    def texted(part: Frame, block: Frame, replies: Frame) -> Frame:
        return with_levels(with_text(part, block, replies))

    def placed() -> pl.DataFrame:
        """The rows that have a successful answer in the records, with its record's number (ROW), in the
        records' order (a key's rows in the order of `results`)."""
        if carried is not None and not carried.has_nulls():  # read with the records: nothing to search
            placed = results.with_columns(carried).select(ROW, *results.columns)
            return placed if carried.is_sorted() else placed.sort(ROW, maintain_order=True)
        # each answer's first successful record, as the scoring loop finds them; joined in the records' order
        first = first_rows(folder.scan(RUN, [*KEY, "error"])).with_columns(*name).collect(engine=SMALL_ENGINE)
        return first.join(results, on=KEY, how="inner", maintain_order="left_right").select(ROW, *results.columns)

    def blocks() -> Iterator[pl.DataFrame]:
        # a block of records gives its rows their text by position: the text is never searched
        found = placed()
        if found.is_empty() or found[ROW].max() < rows:  # the answers are one block: one query finds their text
            yield texted(results.lazy(), answers.with_columns(*name), replies.lazy()).collect(engine=SMALL_ENGINE)
            return
        for lo, hi, taken in take_rows(found[ROW], folder.blocks(RUN, _RUN_TEXT, rows=rows)):
            part, taken = found.slice(lo, hi - lo).drop(ROW), taken.with_columns(*name)
            if not taken.select(KEY).equals(part.select(KEY)):  # rows moved: the records changed while being read
                raise DataError(f"{folder.records(RUN)} changed while its answers were being read; "
                                "write the report again")
            yield with_levels(_aligned_text(part, taken, prompts, replies))
        if found.height < results.height:  # rows with no successful answer in the records (not a job's): no text
            rest = results.join(found.select(KEY), on=KEY, how="anti", maintain_order="left")
            yield texted(rest, answers.head(0).collect(), replies.clear())

    return blocks, texted(results.head(0).lazy(), answers, replies.lazy()).collect_schema()


def _aligned_text(part: pl.DataFrame, taken: pl.DataFrame, prompts: pl.DataFrame, replies: pl.DataFrame) -> pl.DataFrame:
    """with_text of `part`, whose answers' records `taken` holds row for row (the same keys in the same order):
    the text is taken by position, not found by its keys (a third of a large report's text step)."""
    text = _with_prompts(taken.select("prompt_id", "response_text", "messages"), prompts)
    rows = part.with_columns(text["messages"], text["response_text"])
    if replies.is_empty():  # an offline scorer's: no replies, and no join to find none (a tenth of the step)
        rows = rows.with_columns(pl.lit(None, replies.schema["raw"]).alias("raw"))
    else:
        rows = rows.join(replies.select(*KEY, "scorer", "raw"), on=[*KEY, "scorer"], how="left", maintain_order="left")
    return rows.select(*(c for c in part.columns if c not in TEXT_COLUMNS), *TEXT_COLUMNS)


def with_text(results: Frame, answers: Frame, replies: Frame, *, by: tuple[str, ...] = ()) -> Frame:
    """Text-free results joined to their text (load_text), lazily or eagerly as given; `by` adds keys
    such as a sweep's job.
    Rows of a derived scorer have no reply of their own: they take the answer's text only."""
    keys = [*by, *KEY]
    names = results.collect_schema().names()
    columns = [c for c in names if c not in TEXT_COLUMNS]
    if "unscorable" not in names:  # legacy files say only `score`
        results = results.with_columns(unscorable=pl.lit(None, dtype=pl.String))
    return (
        results.join(answers.select(*keys, "messages", "response_text"), on=keys, how="left", maintain_order="left")
        .join(replies.select(*keys, "scorer", "raw"), on=[*keys, "scorer"], how="left", maintain_order="left")
        .select(*columns, *TEXT_COLUMNS)  # `unscorable` is the results' own
    )
