"""What reaches the console: no third-party INFO chatter, and in a sweep one line per phase per job.

Every line still reaches the job's run.log; only the console is filtered. A line meant for the
console of a sweep says so with `extra=CONSOLE`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CONSOLE", "LIBRARIES", "SweepConsole", "closed_pipe", "quiet_libraries", "quieted", "sweep_console"]

#: `log.info(..., extra=CONSOLE)`: this line is shown on a sweep's console too
CONSOLE = {"console": True}
#: libraries whose INFO lines say nothing a user acts on (fontTools logs every font it subsets for a PDF)
LIBRARIES = ("fontTools", "matplotlib", "PIL", "httpx", "httpcore", "asyncio", "filelock", "numexpr")


def quiet_libraries(level: int = logging.WARNING) -> None:
    """Raise the third-party loggers to `level` (WARNING): their warnings and errors still show."""
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(level)


@contextmanager
def quieted(*names: str, level: int = logging.WARNING) -> Iterator[None]:
    """These loggers at `level` or above for the block only (no lasting change to a caller's logging)."""
    loggers = [logging.getLogger(name) for name in names]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.getEffectiveLevel() < level:
            logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, before):
            logger.setLevel(old)


class SweepConsole(logging.Filter):
    """On a sweep's console: warnings and errors, and the lines marked CONSOLE."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or bool(getattr(record, "console", False))


def sweep_console() -> None:
    """Filter the root logger's console handlers (not its files) for a sweep job; idempotent."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            if not any(isinstance(f, SweepConsole) for f in handler.filters):
                handler.addFilter(SweepConsole())


def closed_pipe() -> None:
    """Exit 0 once stdout's reader has gone (`| head`): later writes, and Python's own flush at exit,
    go to /dev/null instead of raising BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)
