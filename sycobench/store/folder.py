"""A job folder, owned by one class: its file names, its records, its grid, its job.json and its lock.

Every other module goes through `JobFolder`; none builds a path inside a job folder itself. A
folder records a fingerprint of every setting that changes an answer, and a run into a folder made
with other settings is refused before any call. While a job writes to a folder it holds an OS-level
lock on it (`.lock`), so a second job is refused instead of mixing records into the first.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from filelock import FileLock, Timeout

from sycobench.errors import ConfigError, DataError
from sycobench.paths import read_yaml
from sycobench.records import ANSWER_KEY, RUN_FIELDS, RUN_SHAPE, SCORE_FIELDS, SCORE_SHAPE
from sycobench.scenario import Prompt
from sycobench.store import columnar
from sycobench.store.jsonl import JsonlWriter, check_records, read_blocks, read_frame, read_jsonl, stream_frame
from sycobench.store.pending import ANSWER_COLUMNS, Pending

__all__ = ["JobFolder", "ReportFolder", "SweepFolder", "find_jobs", "results_file"]

RUN, SCORES = "run", "scores"  # the two record files: <name>.jsonl, and their columnar copies <name>.parquet
_FILES = {"grid": "grid.jsonl", "meta": "job.json", "config": "config.yaml", "results": "results.parquet",
          "log": "run.log", "lock": ".lock", "overrides": ".hydra/overrides.yaml", "hydra": ".hydra/hydra.yaml",
          "report": "report"}  # a single job's own report page (report.html, plots, tables), as a sweep has
_SHAPES = {RUN: (RUN_SHAPE, RUN_FIELDS), SCORES: (SCORE_SHAPE, SCORE_FIELDS)}
_KEY = list(ANSWER_KEY)
_GRID_SCHEMA = {"prompt_id": pl.String, "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String}))}
_WHOLE_GRID = 1 << 20  # bytes of grid.jsonl that prompts() parses at once (a roster job's grid: ~55 kB)
_PROMPT_SCHEMA = {"prompt_id": pl.String, "scenario": pl.String, "factors": pl.String, "messages": _GRID_SCHEMA["messages"]}
# Settings added to the shipped data after folders were written with it, at the value that gives the
# answers those folders hold: a fingerprint that lacks them still matches (resume keeps working).
_ADDED_LATER = {"scenario.mock.writer": "rent", "model.caving": 0.0}
# Settings that fingerprints once held and that never change an answer: ignored where an old one has them.
_NEUTRAL_LATER = ("scenario.offline_cues",)


class JobFolder:
    """`JobFolder(path)`: the files of one job, read and written only here (docs/records.md)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._grid: tuple[tuple[int, int], list[Prompt]] | None = None
        self._index: tuple[tuple[int, int] | None, tuple[pl.DataFrame, pl.DataFrame]] | None = None

    def __repr__(self) -> str:
        return f"JobFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobFolder) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, what: str) -> Path:
        """The path of one of the folder's files: `grid`, `meta`, `config`, `results`, `log`, ..."""
        return self.path / _FILES[what]

    def records(self, name: str) -> Path:
        """`run` or `scores`: the JSONL record file."""
        return self.path / f"{name}.jsonl"

    def table(self, name: str) -> Path:
        return self.path / f"{name}.csv"

    def is_job(self) -> bool:
        return self.records(RUN).exists() or self.file("meta").exists()

    def has_answers(self) -> bool:
        path = self.records(RUN)
        return path.exists() and path.stat().st_size > 0

    def make(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    # -- job.json ---------------------------------------------------------------------------------

    def read_meta(self) -> dict[str, Any]:
        path = self.file("meta")
        if not path.exists():
            return {}
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise DataError(f"{path}: not a readable job.json; move it aside (the job's records are kept) and retry") from None
        if not isinstance(meta, dict):
            raise DataError(f"{path}: not a job.json object; move it aside (the job's records are kept) and retry")
        return meta

    def status(self) -> str | None:
        try:
            return self.read_meta().get("status")
        except DataError:
            return None

    def save_meta(self, meta: dict[str, Any]) -> None:
        """Written whole to a temporary file and renamed, so job.json is never half written. On a full
        disk, where the temporary file cannot be written, job.json is rewritten in place (its old blocks
        are freed first), so the job still ends with a final status."""
        path = self.file("meta")
        text = json.dumps(meta, indent=2, default=str)
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(text)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if not path.exists():
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            with path.open("r+") as fh:
                fh.truncate(0)
                fh.write(text)

    def saved_fingerprint(self) -> dict[str, Any] | None:
        path = self.file("meta")
        if not path.is_file():
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: unreadable ({exc.__class__.__name__}); move the folder aside or run into a new one") from None
        found = meta.get("fingerprint") if isinstance(meta, dict) else None
        return found if isinstance(found, dict) else None

    def check_fingerprint(self, current: dict[str, Any]) -> None:
        """Refuse a run into a folder whose answers came from other settings (a folder with no
        answers yet, e.g. after a dry run, takes the new settings)."""
        if not self.has_answers():
            return
        old = self.saved_fingerprint()
        if old is None:
            return
        missing = object()
        old = {**{k: v for k, v in _ADDED_LATER.items() if k in current},
               **{k: v for k, v in old.items() if k not in _NEUTRAL_LATER}}
        changed = [
            f"{key} {_show(old[key]) if key in old else '(unset)'} -> {_show(current[key]) if key in current else '(unset)'}"
            for key in sorted(set(old) | set(current))
            if old.get(key, missing) != current.get(key, missing)
        ]
        if changed:
            raise ConfigError(
                f"{self.path} holds answers made with other settings: {'; '.join(changed)}. "
                "Run into a new folder (drop hydra.run.dir / job_dir, or pick another) or restore those settings."
            )

    # -- the saved config and Hydra's record --------------------------------------------------------

    def write_config(self, text: str) -> None:
        with _naming(self.file("config")):
            self.file("config").write_text(text)

    def saved_config(self) -> dict[str, Any] | None:
        """The job's config.yaml as plain data, or None when the folder has none (legacy, hand-made)."""
        path = self.file("config")
        if not path.exists():
            return None
        try:
            data = read_yaml(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise DataError(f"{path}: not a readable config.yaml ({type(exc).__name__}); restore it from the job's "
                            ".hydra/config.yaml") from None
        return data if isinstance(data, dict) else None

    def parties(self) -> tuple[str, str]:
        """The job's party ids (A, B) from its saved scenario; jobs from before scenarios were data are rent."""
        try:
            parties = (self.saved_config() or {})["scenario"]["parties"]
            return str(parties[0]["id"]), str(parties[1]["id"])
        except (DataError, KeyError, IndexError, TypeError):
            return "landlord", "tenant"

    def overrides(self) -> list[str]:
        path = self.file("overrides")
        if not path.exists():
            return []
        return [str(o) for o in (read_yaml(path.read_text(encoding="utf-8")) or [])]

    def write_overrides(self, overrides: list[str]) -> None:
        """The job's overrides where Hydra keeps them, for a job not started by Hydra (a notebook sweep)."""
        path = self.file("overrides")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(list(overrides)), encoding="utf-8")

    def choices(self) -> str:
        """The config-group options Hydra chose for the job, e.g. `model=grok-4-fast scorer=judge`."""
        path = self.file("hydra")
        if not path.exists():
            return ""
        choices = ((read_yaml(path.read_text(encoding="utf-8")) or {}).get("hydra") or {}).get("runtime", {})
        return " ".join(f"{k}={v}" for k, v in (choices.get("choices") or {}).items()
                        if not k.startswith("hydra/") and v is not None)

    # -- the grid -----------------------------------------------------------------------------------

    def write_grid(self, grid: list[Prompt]) -> None:
        with _naming(self.file("grid")), self.file("grid").open("w", encoding="utf-8") as fh:
            for prompt in grid:
                fh.write(json.dumps(prompt.to_dict(), ensure_ascii=False) + "\n")

    def read_grid(self) -> list[Prompt]:
        """Every prompt of the job, checked: a malformed line is one DataError naming it. Read once
        while the file stays the same."""
        stamp = self._grid_stamp()
        if stamp is None:
            return []
        if self._grid is not None and self._grid[0] == stamp:
            return self._grid[1]
        prompts = list(self.grid_prompts())
        self._grid = (stamp, prompts)
        return prompts

    def _grid_stamp(self) -> tuple[int, int] | None:
        """What a kept read of the grid is checked against: its size and mtime (None: no grid)."""
        try:
            stat = self.file("grid").stat()
        except FileNotFoundError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def grid_prompts(self) -> Iterator[Prompt]:
        """The job's prompts one at a time, checked as `read_grid` checks them, none of them kept."""
        path = self.file("grid")
        for number, r in enumerate(read_jsonl(path), start=1):
            try:
                prompt = Prompt(**r)
                ok = isinstance(prompt.prompt_id, str) and isinstance(prompt.messages, list) and all(
                    isinstance(m, dict) and isinstance(m.get("content"), str) for m in prompt.messages)
            except TypeError:
                ok = False
            if not ok:
                raise DataError(f"{path}:{number}: not a prompt as in docs/records.md (prompt_id, triplet_id, "
                                "scenario, version, perspective, factors, messages); repair that line, or remove it "
                                "(its answers are then reported without their prompt)")
            yield prompt

    def prompt_table(self, *, rows: int = 1024) -> pl.DataFrame:
        """Each prompt once (the first line of a prompt id): `prompt_id`, `scenario`, `factors` (as JSON
        text) and `messages`, built `rows` prompts at a time, so no Python copy of the grid is held."""
        parts: list[pl.DataFrame] = []
        chunk: list[tuple[str, str, str, list[dict[str, Any]]]] = []

        def flush() -> None:
            parts.append(pl.DataFrame(chunk, schema=_PROMPT_SCHEMA, orient="row"))
            chunk.clear()

        for p in self.grid_prompts():
            chunk.append((p.prompt_id, p.scenario,
                          json.dumps(p.factors, ensure_ascii=False) if p.factors is not None else None,
                          [{"role": m.get("role"), "content": m["content"]} for m in p.messages]))
            if len(chunk) >= rows:
                flush()
        if chunk or not parts:
            flush()
        return pl.concat(parts).unique("prompt_id", keep="first", maintain_order=True)

    def _grid_index(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The grid's `prompt_id, triplet_id`, a row a line in its order, and its triplets' factor levels,
        long (`triplet_id, factor, level`, levels as text, in the order the scenario declares them): read in
        one pass, kept while the file stays the same. No text is kept: a job's table step would hold every
        prompt's text through its page."""
        stamp = self._grid_stamp()
        if self._index is not None and self._index[0] == stamp:
            return self._index[1]
        pairs, levels = [], {}
        for p in self.grid_prompts():
            pairs.append((p.prompt_id, p.triplet_id))
            levels.update(dict.fromkeys((p.triplet_id, str(name), None if level is None else str(level))
                                        for name, level in (p.factors or {}).items()))
        index = (pl.DataFrame(pairs, schema={"prompt_id": pl.String, "triplet_id": pl.String}, orient="row"),
                 pl.DataFrame(list(levels), schema={"triplet_id": pl.String, "factor": pl.String, "level": pl.String},
                              orient="row"))
        self._index = (stamp, index)
        return index

    def prompt_ids(self) -> pl.Series:
        """The id of every prompt in the job's grid, in its order."""
        return self._grid_index()[0]["prompt_id"]

    def prompts(self) -> pl.DataFrame:
        """Each prompt's `messages`, once (grid.jsonl holds one line a prompt, not an answer). Parsed by Polars
        once the grid's lines have been checked (_grid_index); a grid Polars cannot read so (a torn last
        line, a key it does not know how to type) goes line by line, as the check does."""
        self._grid_index()  # a malformed line is a DataError naming it
        size = (self._grid_stamp() or (0, 0))[0]
        if size == 0:
            return pl.DataFrame(schema=_GRID_SCHEMA)
        if size > _WHOLE_GRID:  # a large grid a chunk at a time: the reader's buffers are the file's
            return self.prompt_table().select(list(_GRID_SCHEMA))
        try:
            frame = pl.read_ndjson(self.file("grid"), schema=_GRID_SCHEMA)
        except pl.exceptions.PolarsError:
            return self.prompt_table().select(list(_GRID_SCHEMA))
        return frame.unique("prompt_id", keep="first", maintain_order=True)

    def shared_prompts(self) -> pl.DataFrame:
        """`prompt_id, triplet_id` of every prompt the grid lists in more than one triplet (an imported
        legacy run's neutral prompt serves several); empty for a grid sycobench made."""
        pairs = self._grid_index()[0].unique(maintain_order=True)
        return pairs.filter(pl.len().over("prompt_id") > 1)

    def factors(self) -> pl.DataFrame:
        """The factor levels of every triplet, long: `triplet_id, factor, level` (levels as text)."""
        return self._grid_index()[1]

    # -- records ------------------------------------------------------------------------------------

    def check_records(self) -> None:
        """Both record files, before anything is appended: a record of the wrong shape is refused."""
        for name, (shape, layout) in _SHAPES.items():
            check_records(self.records(name), shape, layout)

    def check_prompts(self, prompt_ids: set[str]) -> None:
        """Refuse record files holding an answer to a prompt that is not in the job's grid, naming the line."""
        for name in (RUN, SCORES):
            path = self.records(name)
            if not path.exists():
                continue
            found = set(self.frame(name, ["prompt_id"])["prompt_id"].unique().to_list()) - prompt_ids
            if not found:
                continue
            for number, line in enumerate(path.read_bytes().splitlines(), start=1):
                if line.strip() and str(json.loads(line).get("prompt_id")) in found:
                    raise DataError(f"{path}:{number}: prompt_id {json.loads(line)['prompt_id']!r} is not in this job's "
                                    "grid: the record belongs to another job. Move it to that job's folder or delete "
                                    "that line, then resume.")

    def foreign_prompts(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` whose prompt is not in the job's grid (a record pasted from another job)."""
        prompts = self.prompt_ids()
        if not prompts.len():
            return frame.head(0)
        return frame.filter(~pl.col("prompt_id").is_in(prompts.implode()))

    def writer(self, name: str) -> JsonlWriter:
        """An append-only writer of `run` or `scores` records (a torn last line is set aside first)."""
        return JsonlWriter(self.records(name))

    def read(self, name: str) -> Iterator[dict[str, Any]]:
        """Every record of `run` or `scores`, one at a time."""
        return read_jsonl(self.records(name))

    def frame(self, name: str, columns: list[str]) -> pl.DataFrame:
        """These columns of `run` or `scores`, typed by the layout: from the fresh columnar copy, else
        the JSONL (parsed by Polars, only the columns asked for)."""
        return self.scan(name, columns).collect()

    def scan(self, name: str, columns: list[str] | dict[str, pl.DataType], *, lazy: bool = False) -> pl.LazyFrame:
        """As `frame`, lazily; with `lazy`, a JSONL source is parsed only when collected or sunk."""
        layout = _SHAPES[name][1]
        schema = columns if isinstance(columns, dict) else {c: layout[c] for c in columns}
        copy = columnar.scan_copy(self.path, name, schema)
        if copy is not None:
            return copy
        path = self.records(name)
        return stream_frame(path, schema) if lazy else read_frame(path, schema).lazy()

    def blocks(self, name: str, columns: dict[str, pl.DataType], *, rows: int) -> Iterator[pl.DataFrame]:
        """`columns` of `name`, about `rows` records at a time, in file order (memory holds a block)."""
        scan = columnar.scan_copy(self.path, name, dict(columns))
        if scan is not None:
            # a slice reads only the row groups it spans, but decodes each whole: a group is read once, in
            # blocks of `rows` (two reads of half a group cost twice one read of it)
            step = -(-max(rows, columnar.GROUP_ROWS) // columnar.GROUP_ROWS) * columnar.GROUP_ROWS
            for start in itertools.count(0, step):
                part = scan.slice(start, step).collect()
                yield from (part.slice(at, rows) for at in range(0, part.height, rows))
                if part.height < step:
                    return
        yield from read_blocks(self.records(name), columns, size=rows * 1024)

    def write_copies(self) -> list[Path]:
        """The columnar copies of both record files (docs/records.md), once the records are final."""
        return columnar.write_copies(self.path)

    def fresh_copy(self, name: str) -> Path | None:
        return columnar.fresh_copy(self.path, name)

    def null_columns(self, name: str) -> set[str]:
        """The columns of `run` or `scores` null in every record, as its fresh columnar copy names them."""
        return columnar.null_columns(self.path, name)

    # -- what is done, and what is left -------------------------------------------------------------

    def call_status(self, model_id: str) -> dict[tuple[str, int], bool]:
        """(prompt_id, k) -> whether it has a successful answer (False: only failed calls)."""
        runs = self.frame(RUN, ["model_id", "prompt_id", "k", "error"]).filter(pl.col("model_id") == model_id)
        done = runs.group_by("prompt_id", "k").agg(pl.col("error").is_null().any().alias("ok"))
        return {(p, k): ok for p, k, ok in done.iter_rows()}

    def scored_keys(self, scorer: str, *, with_errors: bool = False) -> pl.DataFrame:
        """The answers `scorer` has scored (or tried: `with_errors`), by ANSWER_KEY."""
        scores = self.frame(SCORES, [*_KEY, "scorer", "error"]).filter(pl.col("scorer") == scorer)
        if not with_errors:
            scores = scores.filter(pl.col("error").is_null())
        return scores.select(_KEY).unique()

    def pending(self, scorer: str, *, retry_errors: bool = True, rows: int = 2048) -> Pending:
        """Successful answers that `scorer` has not scored yet (resumable scoring), with their prompt,
        read a block of about `rows` records at a time (`Pending`); `retry_errors`: answers whose
        scoring failed before count as not scored."""
        return Pending(self.scan(RUN, [*_KEY, "error"]), self.scored_keys(scorer, with_errors=not retry_errors),
                       blocks=lambda: self.blocks(RUN, ANSWER_COLUMNS, rows=rows), prompts=self.prompt_table,
                       source=self.records(RUN))

    def answer_texts(self, model_id: str, prompt_ids: set[str]) -> dict[tuple[str, int], str]:
        """(prompt_id, k) -> the text of its successful answer, for these prompts (a later turn's history)."""
        if not prompt_ids or not self.has_answers():
            return {}
        ids = pl.Series(sorted(prompt_ids), dtype=pl.String).implode()
        found = (self.scan(RUN, ["model_id", "prompt_id", "k", "error", "response_text"])
                 .filter((pl.col("model_id") == model_id) & pl.col("error").is_null() & pl.col("prompt_id").is_in(ids))
                 .unique(["prompt_id", "k"], keep="first").collect())
        return {(p, k): text or "" for p, k, text in found.select("prompt_id", "k", "response_text").iter_rows()}

    def count_pending(self, scorer: str, *, retry_errors: bool = True) -> int:
        return self.pending(scorer, retry_errors=retry_errors).total

    def spent(self) -> float:
        """What earlier runs of this job paid, answers and judge calls together (cached calls: $0); a
        panel's record counts each judge's call (`judges`), since some may have come from the cache."""
        fresh = ~pl.col("cached").fill_null(False)
        scores = self.frame(SCORES, ["cost_usd", "cached", "judges"])
        panel = pl.col("judges").list.len().fill_null(0) > 0
        judges = scores.filter(panel).select(pl.col("judges").explode().struct.unnest())
        return sum(float(frame.filter(fresh)["cost_usd"].fill_null(0).sum())
                   for frame in (self.frame(RUN, ["cost_usd", "cached"]), scores.filter(~panel), judges))

    def gaps(self, prompt_ids: list[str], samples: int, model_id: str, scorer: str | None,
             parents: dict[str, str] | None = None) -> str:
        """What keeps a job from being complete: planned calls with no answer, answers not scored.
        Counted per planned (prompt, sample), without listing the plan. `parents`: a later turn's prompt
        -> the prompt it follows; such a call waits (it is not planned) while its first turn has no answer."""
        keys = ["prompt_id", "k"]
        grid = pl.Series("prompt_id", prompt_ids, dtype=pl.String).unique()
        planned = grid.len() * samples
        tried = (self.scan(RUN, [*_KEY, "error"])
                 .filter((pl.col("model_id") == model_id) & pl.col("prompt_id").is_in(grid.implode())
                         & pl.col("k").is_between(0, samples - 1))
                 .group_by(keys).agg(pl.col("error").is_null().any().alias("ok")).collect())
        answered = tried.filter("ok").select(keys)
        failed = tried.height - answered.height  # tried, never answered
        waiting = 0
        if parents:  # later-turn (prompt, k) never tried whose parent (same k) has no answer
            links = pl.DataFrame(list(parents.items()), schema={"prompt_id": pl.String, "parent_id": pl.String},
                                 orient="row").filter(pl.col("prompt_id").is_in(grid.implode()))
            later = links.join(pl.DataFrame({"k": list(range(samples))}, schema={"k": pl.Int64}), how="cross")
            waiting = (later.join(tried.select(keys), on=keys, how="anti")
                       .join(answered.rename({"prompt_id": "parent_id"}), on=["parent_id", "k"], how="anti").height)
        problems = []
        if failed:
            problems.append(f"{failed} of {planned} calls failed after retries")
        if planned - answered.height - failed - waiting:
            problems.append(f"{planned - answered.height - failed - waiting} of {planned} calls not made yet")
        if waiting:
            problems.append(f"{waiting} of {planned} second-turn calls wait for their first turn's answer")
        if scorer is not None:
            scored = self.scored_keys(scorer).filter(pl.col("model_id") == model_id).select(keys)
            unscored = answered.join(scored, on=keys, how="anti").height
            if unscored:
                problems.append(f"{unscored} answers have no score from {scorer} (the scorer's call failed)")
        return "; ".join(problems)

    def scorers(self) -> set[str]:
        """The scorers that have scored this job."""
        if not self.records(SCORES).exists():
            return set()
        return set(self.frame(SCORES, ["scorer"])["scorer"].drop_nulls().unique().to_list())

    # -- the lock -----------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold `.lock` (flock) for the job's life; the OS releases it if the process dies.

        Not re-entrant: a second holder is refused, in another process or in this one (two jobs of
        one notebook, say). The command line takes it before Hydra writes there and hands it to the job."""
        self.make()
        with _held(self.file("lock").resolve(), f"{self.path} is in use by another running sycobench job; wait for "
                   "it to end or run into a new folder"):
            yield


class SweepFolder:
    """A sweep's folder: its jobs (at any depth), Hydra's multirun.yaml, and the report beside them."""

    REPORT = "report"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def holds_a_sweep(self) -> bool:
        return self.multirun.exists() or bool(find_jobs(self.path)) if self.path.is_dir() else False

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One sweep at a time per folder (`.sweep.lock`, released by the OS if the process dies)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with _held(self.path / ".sweep.lock", f"hydra.sweep.dir={self.path} is in use by another running sycobench "
                   "sweep; wait for it to end or sweep into a new folder"):
            yield

    def remove_lock(self) -> None:
        """Drop the lock file of a sweep that stopped before it wrote anything (so it leaves no trace)."""
        (self.path / ".sweep.lock").unlink(missing_ok=True)

    @property
    def multirun(self) -> Path:
        return self.path / "multirun.yaml"

    @property
    def report(self) -> Path:
        return self.path / self.REPORT

    @property
    def log(self) -> Path:
        """The console output of a sweep the notebook API handed to a launcher."""
        return self.path / "sweep.log"

    def overrides(self) -> list[str]:
        """The sweep's own overrides, as it was started (multirun.yaml)."""
        data = read_yaml(self.multirun.read_text(encoding="utf-8")) or {}
        return [str(o) for o in ((data.get("hydra") or {}).get("overrides") or {}).get("task") or []]


class ReportFolder:
    """A report's folder: its tables, pages, every answer (`results.parquet`) and what it was built from."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def results(self) -> Path:
        return results_file(self.path)

    @property
    def _meta(self) -> Path:
        return self.path / "report.json"

    def check_target(self, sources: list[str]) -> None:
        """Refuse to write over a job's own files, or over another report (one built from other sources)."""
        if JobFolder(self.path).is_job():
            raise ConfigError(f"{self.path} is a job folder: a report there would overwrite the job's own tables; "
                              "choose another folder (e.g. --out <job>/report)")
        if not (self._meta.exists() or self.results.exists() or (self.path / "report.html").exists()):
            return
        try:
            meta = json.loads(self._meta.read_text(encoding="utf-8"))
            built_from, relative = meta.get("sources"), meta.get("relative")
        except (OSError, ValueError, AttributeError):
            built_from = relative = None
        wanted = sorted(map(_resolved, sources))
        moved = [_resolved(str(self.path / r)) for r in relative or []]  # a folder copied with its report
        if sorted(map(_resolved, built_from or [])) != wanted and sorted(moved) != wanted:
            raise ConfigError(f"{self.path} holds another report (built from {', '.join(built_from or ['?'])}); "
                              "choose a new folder for this one, or delete that report first")

    @contextmanager
    def writing(self, sources: list[str]) -> Iterator[None]:
        """Checked (check_target) before anything is written, then held (`.report.lock`, released by the
        OS if the process dies) while the report is written: a second report into the folder meanwhile
        is refused, and two reports never mix their files. A report that stops before writing anything
        leaves no trace."""
        self.check_target(sources)
        made = [p for p in (self.path, *self.path.parents) if not p.exists()]  # the folders made here, deepest first
        self.path.mkdir(parents=True, exist_ok=True)
        with _held(self.path / ".report.lock", f"{self.path} is being written by another running sycobench "
                   "report; wait for it to end or choose another folder"):
            try:
                self.check_target(sources)  # again: a report that ended meanwhile may have left its own
                yield
            except BaseException:
                if made and [p.name for p in self.path.iterdir()] == [".report.lock"]:
                    (self.path / ".report.lock").unlink()
                    for folder in made:
                        folder.rmdir()
                raise

    def write_meta(self, sources: list[str]) -> None:
        """What the report was built from, as given and relative to the report (which a copy keeps)."""
        self.path.mkdir(parents=True, exist_ok=True)
        relative = [os.path.relpath(_resolved(s), self.path.resolve()) for s in sources]
        self._meta.write_text(json.dumps({"sources": sources, "relative": relative}, indent=2))


@contextmanager
def _held(path: Path, refused: str) -> Iterator[None]:
    """An OS-level lock on `path` (flock; the OS drops it if the process dies), held for the block; taken
    at once or refused with `refused` (a ConfigError). Not re-entrant, even within one process."""
    lock = FileLock(str(path), thread_local=False, is_singleton=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(refused) from None
    try:
        yield
    finally:
        lock.release()


def _resolved(source: str) -> str:
    return str(Path(source).resolve())


def find_jobs(path: Path) -> list[JobFolder]:
    """A job folder holds run.jsonl (or only job.json, if it failed early); a sweep folder holds
    job folders at any depth (never inside a report folder)."""
    if JobFolder(path).is_job():
        return [JobFolder(path)]
    found = {p.parent for p in path.rglob(f"{RUN}.jsonl")}
    found |= {p.parent for p in path.rglob(_FILES["meta"])}
    jobs = sorted(found, key=lambda p: (len(p.parts), _num(p.name), str(p)))
    return [JobFolder(j) for j in jobs if SweepFolder.REPORT not in j.relative_to(path).parts]


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A failed write (a full disk) names the file it was writing."""
    try:
        yield
    except OSError as exc:
        if exc.filename:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def results_file(out: Path) -> Path:
    """Where a report (of a job or of many) writes every answer with its text."""
    return out / _FILES["results"]


def _num(name: str) -> int:
    return int(name) if name.isdigit() else 1 << 30


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
