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

__all__ = ["SweepReport"]

log = logging.getLogger("sycobench.report")


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from sycobench.app import describe_error
        from sycobench.config import ReportConfig
        from sycobench.report import write_report
        from sycobench.report.job import format_headline

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():
            return
        report = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ReportConfig), config.get("report", {})))
        overrides = " ".join(config.hydra.overrides.task)
        try:
            tables = write_report([sweep_dir], sweep_dir / "report", report, config_text=f"sweep overrides: {overrides}")
        except Exception as exc:  # the jobs' data is safe on disk; say how to rebuild the report
            log.error("sweep report failed: %s. Rebuild it with: python -m sycobench.report %s",
                      describe_error(exc), sweep_dir)
            return
        print(f"sweep report: {sweep_dir / 'report'}\n{format_headline(tables['uplift'])}", flush=True)
