"""The notebook API: compose configs with overrides, run a job or a sweep, load and report folders,
and get Polars frames back.

    from sycobench.api import compose, run, load, report, sweep
    result = run(compose(["model=mock", "scenario.limit=10"]))   # in Jupyter: await arun(cfg)
    runs = sweep(["model.sycophancy=0,0.5", "scenario.limit=10"])  # in Jupyter: await asweep([...])
    frames = load(runs.sweep_dir)         # answers, scores, tables
    tables = report([result.job_dir, runs.sweep_dir], out="paper/")
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

import polars as pl
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from sycobench.paths import CONF_DIR
from sycobench.config import ReportConfig, register_configs, to_config
from sycobench.errors import ConfigError, SycobenchError
from sycobench.scenario_file import ScenarioConfig, check_scenario_files

__all__ = ["Loaded", "RunResult", "SweepResult", "arun", "asweep", "compose", "load", "report", "run", "sweep"]


@dataclass
class RunResult:
    job_dir: Path
    status: str
    message: str
    records: pl.DataFrame
    stance_mix: pl.DataFrame | None
    uplift: pl.DataFrame | None
    summary: pl.DataFrame | None
    totals: dict = field(default_factory=dict)  # planned, skipped, and per role calls, tokens, cost (job.json's)


def compose(overrides: list[str] | None = None) -> DictConfig:
    """The same config the CLI would compose, from any working directory."""
    from sycobench.app import describe_error
    from sycobench.providers.keys import refuse_keys_in_overrides
    from sycobench.store.dirs import register_resolver

    overrides = _overrides(overrides, "compose")
    register_configs()
    register_resolver()
    refuse_keys_in_overrides(overrides)
    check_scenario_files(overrides)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="sycobench"):
            cfg = hydra_compose(config_name="config", overrides=overrides)
    except SycobenchError:
        raise
    except Exception as exc:  # the same one line the command line prints
        raise ConfigError(describe_error(exc)) from None
    ScenarioConfig(OmegaConf.to_container(cfg.scenario, resolve=True))  # the scenario file is checked here, not by a schema
    return cfg


def _overrides(overrides: object, call: str) -> list[str]:
    """`overrides` as a list of strings, or one ConfigError naming what was given instead."""
    overrides = [] if overrides is None else overrides
    odd = (next((f"a list holding {type(o).__name__}" for o in overrides if not isinstance(o, str)), None)
           if isinstance(overrides, (list, tuple)) else type(overrides).__name__)
    if odd:
        raise ConfigError(f"{call}(overrides): give a list of strings, e.g. {call}(['scenario.limit=10']); got {odd}")
    return list(overrides)


@dataclass
class Loaded:
    """A job or sweep folder as frames."""

    answers: pl.DataFrame  # one row per model call: target answers and judge calls (`role`), ids, side, error, cost, latency
    scores: pl.DataFrame  # one row per (answer, scorer): score, the prompt, the answer, the judge's reply, factor levels
    tables: dict[str, pl.DataFrame]  # every report table, as report() returns them
    jobs: pl.DataFrame  # each job: folder, model, status, message

    @property
    def uplift(self) -> pl.DataFrame:
        return self.tables["uplift"]


def _report_config(options: dict) -> ReportConfig:
    """The report's options, checked and converted as the command line's `report.*` are ('300' is 300)."""
    types = {f.name: f.type for f in fields(ReportConfig)}
    unknown = sorted(set(options) - set(types))
    if unknown:
        raise ConfigError(f"{', '.join(unknown)}: not a report option; report options are: {', '.join(types)}")
    merged = OmegaConf.structured(ReportConfig)
    for name, value in options.items():
        try:
            merged = OmegaConf.merge(merged, {name: value})
        except Exception:  # noqa: BLE001 - OmegaConf's type errors: the option and the type it wants instead
            raise ConfigError(f"report option {name}={str(value)[:60]!r}: must be {types[name]}") from None
    return OmegaConf.to_object(merged)


def _paths(paths: str | Path | list[str | Path]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    found = [Path(p).expanduser() for p in items]
    for path in found:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder; give a job folder, a sweep folder or a legacy .jsonl")
    return found


def load(path: str | Path | list[str | Path], **options: object) -> Loaded:
    """A job folder, a sweep folder or a legacy file (or several) as frames: `answers`, `scores` (with
    their text) and every report table. `options` are the report's (`bootstrap=`, `threshold=`, `seed=`,
    `reference=`, `scorers=`)."""
    from sycobench.report import build_report, present
    from sycobench.report.collect import collect
    from sycobench.report.load import factor_map

    report_cfg = _report_config(options)
    data = collect(_paths(path))
    tables = build_report(data, report_cfg)
    results = tables["results"]
    scores = data.results_with_text(results, factor_map(data.factors).collect()).collect()
    return Loaded(data.calls, scores, present(data, tables), data.jobs)


def report(paths: str | Path | list[str | Path], out: str | Path | None = None, **options: object) -> dict[str, pl.DataFrame]:
    """Every report table of these folders or files (as written to CSV: sides named by party); with `out`,
    the whole report is written there too (report.html, plots, headline.tex, CSV and Parquet)."""
    cfg = _report_config(options)
    if out is None:
        from sycobench.report import build_report, present
        from sycobench.report.collect import collect

        data = collect(_paths(paths))
        return present(data, build_report(data, cfg))
    from sycobench.report import write_report

    return write_report(_paths(paths), Path(out).expanduser(), cfg)


async def _arun(cfg: DictConfig, job_dir: Path | None, *, page: bool = True, job_id: str | None = None) -> RunResult:
    from sycobench.job import arun_job
    from sycobench.report.load import load_results
    from sycobench.spec import prepare_job
    from sycobench.store import JobFolder, claim_dir

    spec = prepare_job(to_config(cfg), job_dir)  # every check, before the folder or its log is touched
    if job_dir is None:
        job_dir = Path(claim_dir(str(Path.cwd() / "outputs" / "notebook")))
    folder = JobFolder(job_dir)
    folder.make()
    handler = logging.FileHandler(folder.file("log"))
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    root = logging.getLogger("sycobench")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        result = await arun_job(spec, job_dir, job_id=job_id, page=page)
    finally:
        root.removeHandler(handler)
        handler.close()
    tables = result.tables or {}
    records = load_results(folder) if folder.has_answers() else pl.DataFrame()
    return RunResult(job_dir, result.status, result.message, records,
                     tables.get("stance_mix"), tables.get("uplift"), tables.get("summary"), result.totals)


def run(cfg: DictConfig, *, job_dir: str | Path | None = None) -> RunResult:
    """Run one job and return its frames. Inside a running event loop (Jupyter), use
    `await arun(cfg)`: the job is one coroutine and runs in the caller's loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_arun(cfg, Path(job_dir) if job_dir else None))
    raise SycobenchError("run() was called inside a running event loop (e.g. Jupyter); "
                         "use `result = await arun(cfg)` there")


async def arun(cfg: DictConfig, *, job_dir: str | Path | None = None) -> RunResult:
    """Awaitable `run`: the job runs as one coroutine in the caller's event loop, no threads."""
    return await _arun(cfg, Path(job_dir) if job_dir else None)


@dataclass
class SweepResult:
    """What a sweep did: each job's status, and the sweep's report tables (written to `sweep_dir/report`)."""

    sweep_dir: Path
    status: str  # ok, dry_run, incomplete, interrupted or failed: the worst of the jobs'
    message: str
    jobs: pl.DataFrame  # job, overrides, status, message, job_dir
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def uplift(self) -> pl.DataFrame | None:
        return self.tables.get("uplift")


_WORST = ("failed", "interrupted", "incomplete", "dry_run", "ok")  # the sweep's status: its worst job's


def _hydra_config(base: list[str]) -> DictConfig:
    """The composed config with its `hydra` node (launcher, sweeper params), for `base` overrides."""
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="sycobench"):
            return hydra_compose(config_name="config", overrides=base, return_hydra_config=True)
    except SycobenchError:
        raise
    except Exception as exc:
        from sycobench.app import describe_error

        raise ConfigError(describe_error(exc)) from None
    finally:
        GlobalHydra.instance().clear()


def _plan_sweep(overrides: list[str]) -> tuple[list[list[str]], list[str], str]:
    """Each job's overrides (roster and swept keys crossed, as the command line's -m does), the sweep's
    own `hydra.*` overrides, and the launcher the config names."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sycobench.sweep import job_overrides

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    hydra_cfg = _hydra_config(fixed)
    params = hydra_cfg.hydra.sweeper.get("params")
    params = OmegaConf.to_container(params, resolve=True) if params is not None else {}
    hydra_own = [o.input_line for o in parsed if o.get_key_element().startswith(("hydra.", "hydra/"))]
    task = [line for line in overrides if line not in hydra_own]
    jobs = job_overrides(task, params)
    return jobs, hydra_own, str(hydra_cfg.hydra.launcher.get("_target_", ""))


def _job_row(i: int, overrides: list[str], job_dir: Path, status: str, message: str) -> dict:
    return {"job": str(i), "overrides": " ".join(overrides), "status": status, "message": message,
            "job_dir": str(job_dir)}


async def _asweep(overrides: list[str], sweep_dir: Path | None, report_options: dict) -> SweepResult:
    """Plan, check, run (here, or through the named launcher) and report a sweep."""
    from sycobench.app import describe_error
    from sycobench.job import record_failure
    from sycobench.progress import bar_class, in_notebook
    from sycobench.spec import prepare_job
    from sycobench.store import JobFolder, SweepFolder, claim_dir
    from sycobench.sweep import check_sweep

    overrides = [*overrides, *_report_overrides(report_options)]
    jobs, hydra_own, launcher = _plan_sweep(overrides)
    check_sweep(jobs, lambda job: prepare_job(to_config(compose(job))),
                describe=describe_error)  # a sweep that cannot run at all stops here, before any folder
    named = [o.split("=", 1)[1] for o in hydra_own if o.startswith("hydra.sweep.dir=")]
    sweep_dir = Path(sweep_dir) if sweep_dir else Path(named[-1]) if named else \
        Path(claim_dir(str(Path.cwd() / "multirun" / "notebook")))
    if not launcher.endswith("BasicLauncher"):
        return await _launched(overrides, hydra_own, jobs, sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    bar = bar_class(in_notebook())(total=len(jobs), desc="sweep", unit="job")
    try:
        for i, job in enumerate(jobs):
            job_dir = sweep_dir / str(i)
            bar.set_postfix_str(" ".join(job)[:60], refresh=True)
            try:
                JobFolder(job_dir).write_overrides(job)  # how the report tells jobs of one model apart
                result = await _arun(compose(job), job_dir, page=False, job_id=str(i))
                rows.append(_job_row(i, job, job_dir, result.status, result.message))
            except SycobenchError as exc:  # one job's failure is listed; the sweep goes on, as on the command line
                if JobFolder(job_dir).status() in (None, "running"):
                    record_failure(job_dir, exc)
                rows.append(_job_row(i, job, job_dir, "failed", describe_error(exc)))
            bar.update()
    finally:
        bar.close()
    table = pl.DataFrame(rows)
    return _swept(sweep_dir, table, to_config(compose(jobs[0])).report, SweepFolder(sweep_dir).report)


async def _launched(overrides: list[str], hydra_own: list[str], jobs: list[list[str]], sweep_dir: Path) -> SweepResult:
    """The launcher the config names (joblib, submitit, ...) runs the jobs, through the command line's -m."""
    import sys

    from sycobench.progress import bar_class, in_notebook
    from sycobench.store import JobFolder, SweepFolder, find_jobs

    args = [sys.executable, "-m", "sycobench", "-m", *[o for o in overrides if not o.startswith("hydra.sweep.dir=")],
            f"hydra.sweep.dir={sweep_dir}"]
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log_path = SweepFolder(sweep_dir).log
    bar = bar_class(in_notebook())(total=len(jobs), desc="sweep", unit="job")
    with log_path.open("w", encoding="utf-8") as out:
        proc = await asyncio.create_subprocess_exec(*args, stdout=out, stderr=asyncio.subprocess.STDOUT)
        done = 0
        while proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), timeout=1.0)
            except TimeoutError:
                pass
            finished = sum(JobFolder(j.path).status() not in (None, "running") for j in find_jobs(sweep_dir))
            bar.update(finished - done)
            done = finished
    bar.close()
    rows = []
    for i, job in enumerate(find_jobs(sweep_dir)):
        meta = job.read_meta()
        rows.append(_job_row(i, jobs[i] if i < len(jobs) else [], job.path, meta.get("status") or "failed",
                             meta.get("message") or ""))
    if not rows:
        tail = log_path.read_text(encoding="utf-8").strip().splitlines()[-1:] or ["no output"]
        raise SycobenchError(f"the sweep started no job: {tail[0]} (its log: {log_path})")
    report_dir = SweepFolder(sweep_dir).report
    tables = {f.stem: pl.read_parquet(f) for f in sorted(report_dir.glob("*.parquet")) if f.stem != "results"}
    return _summary(sweep_dir, pl.DataFrame(rows), tables, report_dir)


def _report_overrides(options: dict) -> list[str]:
    """`bootstrap=500` -> `report.bootstrap=500`: report options reach every job and the sweep's report
    (checked first, as `load` and `report` check theirs)."""
    _report_config(options)

    def value(v: object) -> str:
        if isinstance(v, (list, tuple)):
            return "[" + ",".join(value(x) for x in v) + "]"
        if v is None:
            return "null"
        return f"'{v}'" if isinstance(v, str) else str(v)

    return [f"report.{k}={value(v)}" for k, v in options.items()]


def _swept(sweep_dir: Path, jobs: pl.DataFrame, report_cfg: ReportConfig, out: Path) -> SweepResult:
    """The sweep's report (when any job answered), as the command line writes it."""
    from sycobench.report import write_report
    from sycobench.store import find_jobs

    from sycobench.report.collect import NoScores

    tables: dict[str, pl.DataFrame] = {}
    if any(job.has_answers() for job in find_jobs(sweep_dir)):
        try:
            tables = write_report([sweep_dir], out, report_cfg)
        except NoScores:  # every call failed: the jobs say why
            tables = {}
    return _summary(sweep_dir, jobs, tables, out)


def _summary(sweep_dir: Path, jobs: pl.DataFrame, tables: dict[str, pl.DataFrame], out: Path) -> SweepResult:
    statuses = jobs["status"].to_list()
    status = next((s for s in _WORST if s in statuses), "failed")
    counts = ", ".join(f"{n} {s}" for s, n in jobs.group_by("status", maintain_order=True).len().iter_rows())
    if tables:
        message = f"{jobs.height} job(s): {counts}; report: {out / 'report.html'}"
    elif status == "dry_run":
        message = f"{jobs.height} job(s): {counts}; no calls were made, so there is nothing to report"
    else:
        message = f"{jobs.height} job(s): {counts}; nothing to report: no job produced an answer"
    return SweepResult(sweep_dir, status, message, jobs, tables)


def sweep(overrides: list[str], *, sweep_dir: str | Path | None = None, **report_options: object) -> SweepResult:
    """Run a sweep: a roster (`+roster=paid`) or a grid of overrides (`model.sycophancy=0,0.5`), as the
    command line's -m would. With the default launcher the jobs run here, one after another (a bar
    counts them); with another launcher named in the overrides (`hydra/launcher=joblib`) that launcher
    runs them through the command line. Then the sweep's report is written to `sweep_dir/report`.
    A sweep no job of which can run raises before its first job. In Jupyter, `await asweep(...)`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(asweep(overrides, sweep_dir=sweep_dir, **report_options))
    raise SycobenchError("sweep() was called inside a running event loop (e.g. Jupyter); "
                         "use `result = await asweep(overrides)` there")


async def asweep(overrides: list[str], *, sweep_dir: str | Path | None = None, **report_options: object) -> SweepResult:
    """Awaitable `sweep`: its jobs run one after another in the caller's event loop."""
    return await _asweep(_overrides(overrides, "sweep"), Path(sweep_dir) if sweep_dir else None, dict(report_options))
