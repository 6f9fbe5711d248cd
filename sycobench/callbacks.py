"""Hydra callback: after a sweep, merge every job into `<sweep dir>/report/`.

It runs in the launching process once all jobs are done, whichever launcher ran them (basic,
joblib, submitit). Jobs record their own failures, so the report covers the jobs that finished
and lists the ones that failed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

__all__ = ["JobGuard", "ScoreGuard", "SweepGuard", "SweepReport", "same_sweep", "sweep_outcome"]

log = logging.getLogger("sycobench.report")


class JobGuard(Callback):
    """A single run is checked, and its folder locked, before Hydra writes anything there."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from sycobench.app import exit_on_error, preflight_run

        # Hydra turns a callback's exception into a warning and goes on; an exit stops the run.
        exit_on_error(preflight_run)(config)


# Settings a resumed sweep may change (pacing, reporting, where it runs); any other difference makes it another sweep.
_RESUMABLE = ("run.", "report.", "rate_limit.", "hydra.", "scorer.")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def same_sweep(saved: list[str], given: list[str]) -> bool:
    """Whether `given` (a sweep's overrides) resumes the sweep started with `saved`."""
    def core(overrides: list[str]) -> set[str]:
        return {o for o in overrides if not _key(o).startswith(_RESUMABLE)}
    return core(saved) == core(given)


_SWEEP_LOCK: list[Any] = []  # the sweep folder's lock, held by the launching process (never pickled with a job)


class SweepGuard(Callback):
    """A sweep is checked before Hydra writes anything in its folder: its values (a roster) are read,
    a folder holding another sweep's jobs is refused (a resume of that same sweep is not another
    sweep), one sweep at a time may write there, and a sweep with a value that does not compose, or
    that cannot run at all (no key, a model or scorer that cannot be called), stops before its first job
    and leaves the folder as it was; one where some jobs can run goes on and lists the others as failed."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from sycobench.app import exit_on_error

        exit_on_error(self._check)(config)

    def _check(self, config: DictConfig) -> None:
        from sycobench.errors import ConfigError
        from sycobench.store import SweepFolder

        params = OmegaConf.select(config, "hydra.sweeper.params")
        if params is not None:
            OmegaConf.to_container(params, resolve=True)  # a bad roster fails here, the folder untouched
        folder = SweepFolder(Path(str(config.hydra.sweep.dir)))
        given = [str(o) for o in config.hydra.overrides.task]
        existed = folder.path.exists()
        held = folder.lock()  # first: a sweep still running there is the answer, whatever it ran
        held.__enter__()
        if folder.holds_a_sweep():
            saved = folder.overrides() if folder.multirun.exists() else []
            if not folder.multirun.exists() or not same_sweep(saved, given):
                held.__exit__(None, None, None)
                if not existed:
                    folder.path.rmdir()
                raise ConfigError(
                    f"hydra.sweep.dir={folder.path} holds another sweep's jobs (started with: {' '.join(saved) or '?'}); "
                    f"sweep into a new folder, or resume that sweep with -m run.resume={folder.path}")
        try:  # a sweep no job of which can run (no key, say) stops here, before its first job
            _check_sweep(config)
        except BaseException:
            held.__exit__(None, None, None)
            if not existed:
                folder.remove_lock()
                folder.path.rmdir()
            raise
        _SWEEP_LOCK.append(held)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        while _SWEEP_LOCK:
            _SWEEP_LOCK.pop().__exit__(None, None, None)


class ScoreGuard(Callback):
    """`python -m sycobench.score`: a missing run_dir is refused before Hydra would create it."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        import sys

        from sycobench.store import find_jobs

        run_dir = OmegaConf.select(config, "run_dir")
        problem = None
        if run_dir is not None and not Path(str(run_dir)).is_dir():
            problem = "no such folder"
        elif run_dir is not None and not find_jobs(Path(str(run_dir))):
            problem = "no sycobench job folder found there"
        if problem:
            print(f"sycobench: error: run_dir={run_dir}: {problem}; give a job or sweep folder", file=sys.stderr)
            sys.exit(2)


def sweep_outcome(sweep_dir: Path) -> tuple[int, list[str]]:
    """The sweep's exit code (its worst job's) and a line for each job that did not end ok."""
    import sycobench.exitcodes as exitcodes
    from sycobench.errors import DataError
    from sycobench.store import find_jobs

    codes, lines = [], []
    for job in find_jobs(sweep_dir):
        try:
            meta = job.read_meta()
        except DataError as exc:  # a damaged job.json is itself a failed job
            meta = {"status": "failed", "message": str(exc)}
        status = meta.get("status") or "failed"
        code = exitcodes.code_for_status(status, meta.get("exit_code"))
        if status == "running":
            status, code = "failed", exitcodes.INTERNAL  # the job's process died before it could say
        codes.append(code)
        if code != exitcodes.OK:
            lines.append(f"{job.name}: {status} (exit {code}) {meta.get('message') or ''}".rstrip())
    return exitcodes.worst(codes), lines


def _check_sweep(config: DictConfig) -> None:
    import copy

    from sycobench.app import describe_error
    from sycobench.errors import ConfigError, SycobenchError

    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict, read_write

    from sycobench.config import to_config
    from sycobench.spec import prepare_job
    from sycobench.sweep import COMPOSED, check_sweep, job_overrides

    loader = GlobalHydra.instance().config_loader()
    params = config.hydra.sweeper.get("params")
    params = OmegaConf.to_container(params, resolve=True) if params is not None else {}
    jobs = job_overrides(list(config.hydra.overrides.task), params, config_loader=loader)
    composed = {}
    for i, overrides in enumerate(jobs):  # every job's config composes (as Hydra's sweeper checks), or none runs
        try:
            composed[tuple(overrides)] = loader.load_sweep_config(config, overrides)
        except Exception as exc:  # noqa: BLE001 - Hydra's or OmegaConf's, whatever the value broke
            raise ConfigError(f"job {i} of the sweep ({' '.join(overrides)}): {describe_error(exc)}") from None
    COMPOSED.update(composed)

    def prepare(overrides: list[str]) -> None:
        job = copy.deepcopy(composed[tuple(overrides)])
        with read_write(job), open_dict(job):
            del job["hydra"]
        prepare_job(to_config(job))

    try:
        check_sweep(jobs, prepare, describe=describe_error)
    except SycobenchError:
        raise
    except Exception as exc:  # e.g. a roster that cannot be read, wrapped by OmegaConf: a usage error
        raise ConfigError(describe_error(exc)) from None


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from sycobench.app import describe_error, set_outcome
        from sycobench.config import ReportConfig
        from sycobench.report import write_report
        from sycobench.report.collect import NoScores
        from sycobench.report.terminal import headline_text, model_labels, terminal_width
        from sycobench.store import SweepFolder, find_jobs
        from sycobench.sweep import dry_run_summary, sweep_jobs_meta

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists() or not find_jobs(sweep_dir):
            log.error("the sweep expanded to no job: nothing ran (check the sweep's values, e.g. an empty range)")
            set_outcome(2)
            return
        code, not_ok = sweep_outcome(sweep_dir)
        set_outcome(code)
        if not_ok:
            log.error("sweep: %d job(s) did not end ok (exit %d):\n  %s", len(not_ok), code, "\n  ".join(not_ok))
        metas = sweep_jobs_meta(sweep_dir)
        if metas and all(m.get("status") == "dry_run" for m in metas):
            print(dry_run_summary([m.get("estimate") or {} for m in metas], width=terminal_width()), flush=True)
            return
        nothing = f"sweep: nothing to report: no job of {len(metas)} produced a scored answer"
        if not any(job.has_answers() for job in find_jobs(sweep_dir)):
            print(nothing, flush=True)
            return
        report = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ReportConfig), config.get("report", {})))
        overrides = " ".join(config.hydra.overrides.task)
        out = SweepFolder(sweep_dir).report
        try:
            tables = write_report([sweep_dir], out, report, config_text=f"sweep overrides: {overrides}")
        except NoScores:
            print(nothing, flush=True)
            return
        except Exception as exc:  # the jobs' data is safe on disk; say how to rebuild the report
            log.error("sweep report failed: %s. Rebuild it with: python -m sycobench.report %s",
                      describe_error(exc), sweep_dir)
            return
        print(f"sweep report: {out / 'report.html'}\n{headline_text(tables['uplift'], labels=model_labels(tables))}",
              flush=True)
