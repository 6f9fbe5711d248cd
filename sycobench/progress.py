"""Progress for each phase of a job: a bar on a terminal, a log line every few seconds elsewhere
(SLURM logs, submitit, CI), both fed by the one totals object of the call path."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING

from sycobench.logs import CONSOLE

if TYPE_CHECKING:
    from sycobench.providers.client import RoleTotals

__all__ = ["Progress", "bar_class", "in_notebook"]

log = logging.getLogger("sycobench.progress")


def in_notebook() -> bool:
    """Inside a Jupyter kernel, where a bar shows though stderr is no terminal."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def bar_class(notebook: bool) -> type:
    """tqdm's notebook widget where Jupyter can draw it (ipywidgets), else its text bar (which Jupyter shows too)."""
    if notebook:
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as widget

            return widget
        except ImportError:
            pass
    from tqdm import tqdm

    return tqdm


class Progress:
    """`done/total` for one phase (`generate`, `judge`), with errors, retries and spend beside it."""

    def __init__(self, phase: str, total: int, stats: RoleTotals, *, enabled: bool = True,
                 every_s: float = 10.0, terminal: bool | None = None) -> None:
        self.phase, self.total, self.stats = phase, total, stats
        self.every_s = every_s
        self.done = 0
        self._closed = False
        self._started = self._last = time.monotonic()
        notebook = terminal is None and in_notebook()
        terminal = (sys.stderr.isatty() or notebook) if terminal is None else terminal
        # on a terminal the bar gives way to the phase's last line; a notebook keeps it (it shows no log lines)
        self._bar = bar_class(notebook)(total=total, desc=phase, unit="call", dynamic_ncols=True, leave=notebook) \
            if enabled and terminal else None
        self._lines = enabled and not terminal
        log.info("%s: %d to do", phase, total)

    def _figures(self) -> str:
        s = self.stats
        errors = sum(s.errors.values())
        return f"errors {errors}, retries {s.retries}, spent ${s.cost_usd:.4f}"

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return (f"{self.phase}: {self.done}/{self.total} ({self.done / elapsed:.1f}/s), {self._figures()}")

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            now = time.monotonic()
            if now - self._last >= 0.5:
                self._last = now
                self._bar.set_postfix_str(self._figures(), refresh=False)
        elif self._lines:
            now = time.monotonic()
            if now - self._last >= self.every_s:
                self._last = now
                log.info(self.line())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.set_postfix_str(self._figures(), refresh=False)
            self._bar.close()
            self._bar = None
        log.info("%s: done, %s", self.phase, self.line().split(": ", 1)[1], extra=CONSOLE)
