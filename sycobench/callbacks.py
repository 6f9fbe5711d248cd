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

__all__ = ["JobGuard", "ScoreGuard", "SweepReport", "sweep_outcome"]

log = logging.getLogger("sycobench.report")


class JobGuard(Callback):
    """A single run is checked, and its folder locked, before Hydra writes anything there."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from sycobench.app import exit_on_error, preflight_run

        # Hydra turns a callback's exception into a warning and goes on; an exit stops the run.
        exit_on_error(preflight_run)(config)


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


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from sycobench.app import set_outcome

        from sycobench.app import describe_error
        from sycobench.config import ReportConfig
        from sycobench.report import write_report
        from sycobench.report.job import format_headline

        from sycobench.store import SweepFolder

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():
            return
        code, not_ok = sweep_outcome(sweep_dir)
        set_outcome(code)
        if not_ok:
            log.error("sweep: %d job(s) did not end ok (exit %d):\n  %s", len(not_ok), code, "\n  ".join(not_ok))
        report = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ReportConfig), config.get("report", {})))
        overrides = " ".join(config.hydra.overrides.task)
        try:
            tables = write_report([sweep_dir], SweepFolder(sweep_dir).report, report,
                                  config_text=f"sweep overrides: {overrides}")
        except Exception as exc:  # the jobs' data is safe on disk; say how to rebuild the report
            log.error("sweep report failed: %s. Rebuild it with: python -m sycobench.report %s",
                      describe_error(exc), sweep_dir)
            return
        print(f"sweep report: {SweepFolder(sweep_dir).report}\n{format_headline(tables['uplift'])}", flush=True)
