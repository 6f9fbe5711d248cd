"""Worker processes for the report's figures and headline table, started early so that their start-up
overlaps the table step; without spare cores (or where a worker would run the main script again) the
same work runs in this process, the reason logged."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Workers"]

log = logging.getLogger("sycobench.report")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _spare_cores(cores: int, load: float | None) -> int:
    """Cores that other processes leave free: `cores` less the 1-minute load average without this
    process's own share. A worker on a busy core adds its start-up and draws no sooner."""
    if load is None:  # no load average on this system
        return cores
    return max(0, cores - round(max(0.0, load - 1.0)))


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _unsafe_main() -> str | None:
    """Why spawned workers must not start here, or None: a spawned worker imports the main script
    again, so a script without the `if __name__ == "__main__":` guard would run again in each worker.
    A notebook, `python -m ...` and installed commands are safe."""
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    path = getattr(main, "__file__", None)
    if spec_name or not path:  # `python -m pkg` (not imported again) or a notebook / interactive shell
        return None
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"the main script cannot be read ({exc})"
    if "__main__" not in source:
        return f"the main script {Path(path).name} has no `if __name__ == \"__main__\":` guard, so a worker would run it again"
    return None


@contextmanager
def _ctrl_c_left_here() -> Iterator[None]:
    """Workers started inside ignore Ctrl-C (they inherit it ignored): a terminal sends it to every
    process of the command, and this process alone stops, closing the pool, while a worker would print a
    traceback of its own. A Ctrl-C in the few milliseconds the workers take to start is lost. Only the
    main thread may change a signal's handling; elsewhere, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _start_worker(parent: int, modules: tuple[str, ...]) -> None:
    """Each worker, as it starts: a thread that ends it once `parent` has gone (killed, or ended by a
    signal it does not catch), since its queue would keep it waiting for work forever; then the imports
    its work needs."""
    from importlib import import_module

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.25)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    for name in modules:
        import_module(name)


class Workers:
    """Worker processes (spawned: safe beside Polars' threads, in a notebook and under Hydra), as many
    as spare cores and `tasks` allow. None are started with fewer than two spare cores or tasks, or
    where a worker would run the main script again (the reason logged). Each worker imports `warm` as
    it starts, so that the imports overlap the caller's work."""

    def __init__(self, tasks: int = 2, *, warm: tuple[str, ...] = ()) -> None:
        self.pool = None
        cores, load = _cores(), _load()
        workers = min(tasks, _spare_cores(cores, load))
        if tasks > 1 and cores > 1 and workers < 2:
            log.debug("figures drawn in this process: no spare core (load average %.1f on %d cores)", load, cores)
        unsafe = _unsafe_main() if workers > 1 else None
        if unsafe:
            log.info("figures drawn in this process: %s", unsafe)
        if workers < 2 or unsafe:
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            with _ctrl_c_left_here():
                self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_start_worker, initargs=(os.getpid(), warm))
                for _ in range(workers):  # a task each starts the workers now, not when their work is ready
                    self.pool.submit(os.getpid)
        except Exception as exc:  # noqa: BLE001 - drawn in this process instead
            log.info("figures drawn in this process: the worker pool did not start (%s: %s)", type(exc).__name__, exc)
            self.close()

    def start(self, calls: dict[str, Callable[[], Any]]) -> Callable[[], dict[str, Any]]:
        """Start each call (picklable, without arguments); returns the wait for their results, by name.
        In this process without a pool, or if the pool fails (a worker dies; the reason logged). A call's
        own error (a full disk, say) is raised as the call raised it, and nothing is run again."""
        here = lambda: {name: call() for name, call in calls.items()}  # noqa: E731
        if self.pool is None or not calls:
            return here

        def fallback(exc: BaseException) -> dict[str, Any]:
            log.info("figures drawn in this process: the worker pool failed (%s: %s)", type(exc).__name__, exc)
            return here()

        try:
            futures = {name: self.pool.submit(call) for name, call in calls.items()}
        except Exception as exc:  # noqa: BLE001 - run here instead
            return lambda failure=exc: fallback(failure)

        from concurrent.futures import BrokenExecutor

        def wait() -> dict[str, Any]:
            try:
                return {name: future.result() for name, future in futures.items()}
            except BrokenExecutor as exc:  # the pool, not the call: run here instead
                return fallback(exc)

        return wait

    def close(self, *, now: bool = False) -> None:
        """Stop the workers and wait for them (and the pool's own thread) to end: none outlives the report.
        `now`: the report has failed or been interrupted, so the workers are ended without finishing their work."""
        if self.pool is None:
            return
        if now:
            terminate = getattr(self.pool, "terminate_workers", None)  # Python 3.14 on
            if terminate is not None:
                terminate()
            else:
                for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                    process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(now=kind is not None)
