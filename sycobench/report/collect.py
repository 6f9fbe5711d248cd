"""Gather records from any mix of job folders, sweep folders and legacy files into one frame set.

Jobs of one model (shards, factor filters) merge into one grid; jobs that differ in a model
setting (e.g. `model.sycophancy=0,0.5`) become separate rows, labelled by that override.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl
from sycobench.errors import ConfigError
from sycobench.report.load import (RENT, SCORE_SCHEMA, SMALL_ENGINE, TEXT_COLUMNS, JobParties, load_calls, load_factors,
                                   load_results, load_text, texted_blocks, with_text)
from sycobench.store import ROW, RUN, SCORES, JobFolder, find_jobs, lazy_frames

__all__ = ["Collected", "NoScores", "collect", "job_label"]

# Overrides that select *which prompts or how* a job runs, not *which model*: merged across jobs.
_NOT_MODEL = ("model.id", "model.base_url", "model.label", "model.api_key_env", "model.concurrency", "model.rate_limit")


_LOADERS = 8  # threads that load jobs
_PARSING = threading.BoundedSemaphore(os.cpu_count() or 1)  # jobs whose records are parsed from JSONL at once
T = TypeVar("T")
#: what tells a row of a report's results from every other (an answer in several triplets has a row in each)
RESULT_KEY = ["job", "model_id", "scorer", "triplet_id", "prompt_id", "k"]
_TAKEN = ["messages", "response_text", "raw"]  # the text a row takes from results_with_text's (`unscorable`: its own)
_FACTORS = {"scenario": pl.String, "triplet_id": pl.String, "factor": pl.String, "level": pl.String}


class NoScores(ConfigError):
    """Nothing in these paths was scored (every job failed, or only dry runs): there is no report to write."""


@dataclass
class Collected:
    results: pl.DataFrame
    calls: pl.DataFrame
    jobs: pl.DataFrame
    sources: list[str]
    labels: dict[str, str] = field(default_factory=dict)  # model_id as in the tables -> roster label
    texts: dict[str, tuple[pl.LazyFrame, pl.LazyFrame]] = field(default_factory=dict)  # job -> load_text's frames
    factors: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_FACTORS))  # scenario, triplet_id, factor, level
    parties: dict[str, JobParties] = field(default_factory=dict)  # scenario -> its parties
    folders: dict[str, tuple[JobFolder, str | None]] = field(default_factory=dict)  # job -> its folder, its model's label
    parsed: bool = False  # a job's records were parsed from JSONL (it had no fresh columnar copies)

    def release(self) -> None:
        """Let go of the calls and the results (a report's page needs neither once its tables are built:
        it reads the tables, the scored rows and the text), so a large job's page holds no extra copy."""
        self.calls, self.results = self.calls.clear(), self.results.clear()

    def with_text(self, frame: pl.LazyFrame, *, jobs: list[str] | None = None,
                  prompts: pl.Series | None = None) -> pl.LazyFrame:
        """`frame` (rows of `results` from `jobs`, default all) with the text behind each row; given
        the rows' `prompts`, only their text is read (the filter reaches the columnar copies)."""
        parts = [self.texts[j] for j in (self.texts if jobs is None else jobs) if j in self.texts]
        if not parts:
            return frame.with_columns(*(pl.lit(None).alias(c) for c in TEXT_COLUMNS if c != "unscorable"))
        answers, replies = (pl.concat([part[i] for part in parts], how="diagonal_relaxed") for i in (0, 1))
        if prompts is not None:
            wanted = pl.col("prompt_id").is_in(prompts.unique().implode())
            answers, replies = answers.filter(wanted), replies.filter(wanted)
        return with_text(frame, answers, replies, by=("job",))

    def _by_job(self, rows: pl.DataFrame, *, few: bool = False, block: int = 8192) -> Iterator[pl.DataFrame]:
        """`rows` with their text, one job at a time; `few` rows read only their own prompts' text. A
        large job goes `block` rows at a time, each reading only its own prompts' text, so memory
        holds one block's text, not the job's."""
        for (job,), part in rows.group_by("job", maintain_order=True):
            if few or part.height <= block:
                yield self.with_text(part.lazy(), jobs=[job], prompts=part["prompt_id"] if few else None).collect(
                    engine=SMALL_ENGINE)
                continue
            for start in range(0, part.height, block):
                piece = part.slice(start, block)
                yield self.with_text(piece.lazy(), jobs=[job], prompts=piece["prompt_id"]).collect(
                    engine=SMALL_ENGINE)

    def rows_with_text(self, rows: pl.LazyFrame, *, taken: Sequence[pl.DataFrame] = ()) -> pl.LazyFrame:
        """A few rows of `results` (the transcript view's) with their text: from `taken` (rows of
        results_with_text's, taken as it passed them) where it holds them, else read a job at a time, a few
        jobs at once (in_order)."""
        rows = rows.collect()
        if taken and set(RESULT_KEY) <= set(rows.columns):
            text = pl.concat(taken, how="diagonal_relaxed").select(*RESULT_KEY, *_TAKEN).unique(RESULT_KEY)
            found = rows.drop(_TAKEN, strict=False).join(text, on=RESULT_KEY, how="inner", maintain_order="left")
            rows = rows.join(text.select(RESULT_KEY), on=RESULT_KEY, how="anti", maintain_order="left")
            if rows.is_empty():
                return found.lazy()
            return pl.concat([found, self.rows_with_text(rows.lazy()).collect()], how="diagonal_relaxed").lazy()
        makers = [partial(self._by_job, part, few=True) for _, part in rows.group_by("job", maintain_order=True)]
        return pl.concat([pl.DataFrame(schema=self._text_schema(rows)), *in_order(makers, ahead=self._ahead())],
                         how="diagonal_relaxed").lazy()

    def _ahead(self) -> int:
        """Jobs whose text is read ahead: a few from columnar copies; one where a job's JSONL is parsed
        (its buffers are large: four at once held 100 MB more at a million answers)."""
        return 1 if self.parsed else 4

    def _text_schema(self, rows: pl.DataFrame) -> pl.Schema:
        """The columns `with_text` gives `rows`, from the plan alone: collecting it, even for no rows,
        would read every job's text at once."""
        return self.with_text(rows.head(0).lazy()).collect_schema()

    def results_with_text(self, results: pl.DataFrame, levels: pl.DataFrame, *, keep: pl.DataFrame | None = None,
                          kept: list[pl.DataFrame] | None = None) -> pl.LazyFrame:
        """Every row of `results` with its text and its triplet's factor levels (`levels`: load.factor_map's),
        job after job, each job's answers read once, a block at a time (load.texted_blocks), the next jobs'
        blocks made meanwhile (in_order): memory holds a few blocks' text, never a job's. Rows of the
        prompts that `keep` (rows of `results`) holds are also added to `kept` as they pass: their keys
        (RESULT_KEY) and their text, for rows_with_text."""
        on = ["scenario", "triplet_id"]
        schema = self.with_text(results.head(0).lazy().drop(ROW, strict=False)).join(levels.lazy(), on=on,
                                                                                     how="left").collect_schema()
        if (keep is None) != (kept is None):
            raise TypeError("results_with_text: give `keep` and `kept` together")
        wanted = {} if keep is None else {job: part["prompt_id"].unique().implode()
                                          for (job,), part in keep.group_by("job")}

        def made(job: str, rows: pl.Series) -> Iterator[pl.DataFrame]:
            for block in blocks(job, rows):
                if job in wanted:  # a few rows a block: their prompts' rows are kept, the exact rows found later
                    shown = block.filter(pl.col("prompt_id").is_in(wanted[job]))
                    kept.append(_owned(shown.select(*RESULT_KEY, *_TAKEN), _TAKEN))
                yield block

        def blocks(job: str, rows: pl.Series) -> Iterator[pl.DataFrame]:
            # taken when its turn comes: all jobs' parts at once doubled the results' memory. A job's rows
            # side by side (as collect puts them) are a slice, not a copy: gathering them was a tenth of the step
            whole = rows.len() and rows[-1] - rows[0] + 1 == rows.len()  # ascending and distinct, so no gaps
            part = results.slice(rows[0], rows.len()) if whole else results[rows]
            if job in self.folders:  # a job folder: its answers block by block
                folder, model = self.folders[job]
                yield from texted_blocks(part, folder, levels, model=model)[0]()
                return
            # a legacy file's text is in memory; rows of no job (a combined scorer's) have none
            yield from (piece.join(levels, on=on, how="left", maintain_order="left")
                        for piece in self._by_job(part.drop(ROW, strict=False)))

        def frames() -> Iterator[pl.DataFrame]:
            jobs = results.select("job").with_row_index("_row").group_by("job", maintain_order=True).agg("_row")
            makers = [partial(made, job, rows) for job, rows in zip(jobs["job"], jobs["_row"])]
            for frame in in_order(makers, ahead=self._ahead()):
                yield frame if frame.schema == schema else frame.cast(dict(schema))

        return lazy_frames(frames, schema)


def _owned(rows: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """`rows` with text of their own in `columns` (the text read with the block; the keys are the results'):
    rows filtered from a block share its text buffers (Polars' strings are views into them), so a few rows kept
    from every block held every block's text."""
    def fresh(dtype: pl.DataType, expr: pl.Expr) -> pl.Expr:
        if dtype == pl.String:
            return expr + ""  # written anew
        if isinstance(dtype, pl.List):
            return expr.list.eval(fresh(dtype.inner, pl.element()))
        if isinstance(dtype, pl.Struct):
            return expr.struct.with_fields(*(fresh(f.dtype, pl.field(f.name)).alias(f.name) for f in dtype.fields))
        return expr

    return rows.with_columns(fresh(rows.schema[name], pl.col(name)).alias(name) for name in columns)


def in_order(makers: list[Callable[[], Iterator[T]]], *, ahead: int = 4, depth: int = 2) -> Iterator[T]:
    """What each maker makes, maker after maker, while the next `ahead` makers make theirs on threads
    (Polars works outside the GIL), each at most `depth` items ahead: memory holds a few items, never a
    whole maker's. A maker's error is raised here; closing the iterator stops the threads. One maker
    runs here, with no thread."""
    if len(makers) < 2:
        for make in makers:
            yield from make()
        return
    stop = threading.Event()

    def put(box: queue.Queue, item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(make: Callable[[], Iterator[T]], box: queue.Queue) -> None:
        own.add(threading.get_ident())
        try:
            for item in make():
                if not put(box, (True, item)):
                    return
            put(box, (False, None))
        except BaseException as exc:  # noqa: BLE001 - raised again by the reader
            put(box, (False, exc))

    own: set[int] = set()  # the pool's threads
    boxes = [queue.Queue(maxsize=depth) for _ in makers]
    pool = ThreadPoolExecutor(max_workers=ahead + 1)  # FIFO: the maker being read always has its thread
    try:
        for make, box in zip(makers, boxes):
            pool.submit(run, make, box)
        for box in boxes:
            while True:
                more, item = box.get()
                if more:
                    yield item
                    continue
                if item is not None:
                    raise item
                break
    finally:
        stop.set()
        # an interrupted reader may be closed by whichever thread drops it last, one of its own among them
        pool.shutdown(wait=threading.get_ident() not in own, cancel_futures=True)


def job_label(model_id: str, overrides: list[str]) -> str:
    """The model's name in the report: its id, plus any model setting this job overrode."""
    extra = [o for o in overrides if o.startswith("model.") and not o.startswith(_NOT_MODEL)]
    return f"{model_id} [{', '.join(extra)}]" if extra else model_id


def _model_label(calls: pl.DataFrame) -> str | None:
    if "model_label" not in calls.columns:
        return None
    named = calls["model_label"].drop_nulls()
    return named[0] if named.len() else None


def _unique_labels(labels: dict[str, str]) -> dict[str, str]:
    """Labels that would name two models the same are dropped: the id is the safer name then."""
    counts = Counter(labels.values())
    return {key: label for key, label in labels.items() if counts[label] == 1 and label != key}


Loaded = tuple[pl.DataFrame, pl.DataFrame]  # a job's load_calls and load_results(text=False, unscored=True, ...)


def _load(folder: JobFolder, loaded: Loaded | None = None
          ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, JobParties, pl.LazyFrame, pl.LazyFrame, bool]:
    """The job's frames, and whether its records were parsed from JSONL."""
    parties = JobParties.of(folder)
    parsed = False
    if loaded is not None:  # read by the job's own table step a moment ago
        name = pl.lit(str(folder.path)).alias("job")
        calls, results = (frame.with_columns(name) for frame in loaded)
    else:
        parsed = folder.fresh_copy(RUN) is None or folder.fresh_copy(SCORES) is None
        with _PARSING if parsed else nullcontext():  # JSONL parsed a job a core at a time: its buffers are large
            scores = folder.scan(SCORES, SCORE_SCHEMA).collect()  # read once, used twice
            calls = load_calls(folder, job=str(folder.path), scores=scores, parties=parties)
            results = load_results(folder, calls=calls, scores=scores, text=False, unscored=True, ordered=False)
            calls = calls.drop(ROW)  # the answers' row numbers are the results' now
    return calls, results, load_factors(folder, parties), parties, *load_text(folder), parsed


def check_sources(paths: list[Path]) -> None:
    """Every source is there (before a report makes its folder, which may be inside one)."""
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder")


def collect(paths: list[Path], *, loaded: dict[Path, Loaded] | None = None) -> Collected:
    """Every source in `paths` as one frame set. `loaded`: frames a job's table step has read already
    (by the job folder's resolved path), used instead of reading its records again."""
    loaded = {Path(p).resolve(): frames for p, frames in (loaded or {}).items()}
    results, calls, jobs, sources, factors = [], [], [], [], []
    texts: dict[str, tuple[pl.LazyFrame, pl.LazyFrame]] = {}
    labels: dict[str, str] = {}
    parties: dict[str, JobParties] = {}
    folders: dict[str, tuple[JobFolder, str | None]] = {}
    parsed = False
    given: set[Path] = set()
    seen: set[Path] = set()  # a source named twice, or a job in two (a sweep and one of its jobs), is read once
    check_sources(paths)
    for path in paths:
        if (where := path.resolve()) in given:
            continue
        given.add(where)
        if path.is_file():
            from sycobench.report.legacy import is_legacy, load_legacy

            if not is_legacy(path):
                raise ConfigError(f"{path}: not a run file of the original package; pass its job folder instead")

            res, cal, levels = load_legacy(path)
            res = res.with_columns(pl.lit(str(path)).alias("job"))
            factors.append(levels)
            parties.setdefault(RENT.scenario, RENT)
            keys = ["job", "model_id", "prompt_id", "k"]
            texts[str(path)] = (res.lazy().select(*keys, "response_text", messages=pl.lit(None)).unique(keys),
                                pl.LazyFrame(schema={**{k: res.schema[k] for k in keys}, "scorer": pl.String,
                                                     "raw": pl.String}))
            results.append(res.drop("response_text"))
            calls.append(cal.with_columns(pl.lit(str(path)).alias("job")))
            jobs.append({"job": str(path), "model_id": "legacy", "status": "ok", "message": "legacy file", "choices": "", "overrides": ""})
            sources.append(str(path))
            continue
        found = find_jobs(path)
        if not found:
            raise ConfigError(f"{path}: no sycobench job folders found (a job folder holds run records or a job status)")
        sources.append(str(path))
        found = [job for job in found if job.path.resolve() not in seen]
        seen.update(job.path.resolve() for job in found)
        # Polars parses and joins outside the GIL, so jobs load side by side; more jobs than cores fill the
        # gaps the Python between its steps leaves (50 jobs on 2 cores: 1.7 s with 8 threads, 2.3 s with 2)
        with ThreadPoolExecutor(max_workers=_LOADERS) as pool:
            frames_of = pool.map(lambda job: _load(job, loaded.get(job.path.resolve())) if job.has_answers() else None,
                                 found)
        for folder, frames in zip(found, frames_of):
            meta = folder.read_meta()
            overrides = folder.overrides()
            name = str(folder.path)
            status = meta.get("status", "ok" if folder.has_answers() else "failed")
            model_id = meta.get("model_id", "?")
            label = job_label(model_id, overrides)
            jobs.append({"job": name, "model_id": label, "status": status, "message": meta.get("message", ""),
                         "choices": folder.choices(), "overrides": " ".join(overrides)})
            if frames is None:
                continue
            job_calls, job_results, job_factors, job_parties, job_answers, job_replies, job_parsed = frames
            parsed = parsed or job_parsed
            factors.append(job_factors)
            parties.setdefault(job_parties.scenario, job_parties)
            display = _model_label(job_calls)
            if display:
                labels.setdefault(label, job_label(display, overrides))
            relabel = pl.lit(label).alias("model_id")
            calls.append(job_calls.with_columns(relabel) if label != model_id else job_calls)
            results.append(job_results.with_columns(relabel) if label != model_id else job_results)
            texts[name] = tuple(text.with_columns(pl.lit(name).alias("job"), *([relabel] if label != model_id else []))
                                for text in (job_answers, job_replies))
            folders[name] = (folder, label if label != model_id else None)
    by = _protocols(results, calls) if results else []  # a model's answers under two protocols: two sets
    merged = _merge(results, ["model_id", "scorer", "triplet_id", "prompt_id", "k", *by]) if results else None
    if merged is None or merged.is_empty():
        raise NoScores("no scored records in " + ", ".join(str(p) for p in paths))
    all_calls = pl.concat(calls, how="diagonal_relaxed")
    if "prompt_id" in all_calls.columns:  # a call seen by two sources counts once (legacy calls carry no id)
        keyed = (pl.col("role") == "target") & pl.col("prompt_id").is_not_null()
        target = _merge([c.filter(keyed) for c in calls if "prompt_id" in c.columns], ["model_id", "prompt_id", "k", *by])
        all_calls = pl.concat([target, all_calls.filter(~keyed)], how="diagonal_relaxed")
    levels = pl.concat([pl.DataFrame(schema=_FACTORS), *factors], how="diagonal_relaxed").unique(maintain_order=True)
    return Collected(merged, all_calls, pl.DataFrame(jobs), sources, _unique_labels(labels), texts, levels, parties,
                     folders, parsed)


def _protocols(*frames: list[pl.DataFrame]) -> list[str]:
    """When a source ran a protocol of several turns, every frame gets its `protocol` (`single` where
    none is said), in place; the key that keeps them apart, or none."""
    if not any("protocol" in f.columns for group in frames for f in group):
        return []
    for group in frames:
        group[:] = [f.with_columns((pl.col("protocol") if "protocol" in f.columns else pl.lit(None, pl.String))
                                   .fill_null("single").alias("protocol")) for f in group]
    return ["protocol"]


def _merge(frames: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    """The sources' frames as one, in order, a row that two sources hold (same `keys`) kept once,
    from the first. Only a model found in several sources can repeat a row, so only its rows are
    compared: comparing every row of a million-answer sweep held hundreds of MB."""
    merged = pl.concat(frames, how="diagonal_relaxed")
    sources = Counter(model for frame in frames for model in frame["model_id"].unique().to_list())
    shared = [model for model, count in sources.items() if count > 1]
    if not shared:
        return merged
    merged = merged.with_row_index("_at")
    first = merged.filter(pl.col("model_id").is_in(shared)).unique(subset=keys, keep="first")["_at"]
    return merged.filter(~pl.col("model_id").is_in(shared) | pl.col("_at").is_in(first.implode())).drop("_at")
