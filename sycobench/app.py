"""Command-line entry point: `python -m sycobench [overrides]` and the `sycobench` script.

Hydra composes the config; everything below `run_job` is plain Python. Errors reach the user
as one line that names the problem and the fix, with a non-zero exit code.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import sycobench.allocator  # noqa: F401  (first of ours: it must run before anything loads Polars)
import sycobench.exitcodes as exitcodes
from sycobench.config import register_configs, to_config
from sycobench.errors import Signalled, SycobenchError, is_file_error
from sycobench.providers.keys import refuse_keys_in_overrides
from sycobench.scenario_file import check_scenario_files
from sycobench.store.dirs import register_resolver

__all__ = ["CONF_DIR", "describe_error", "exit_on_error", "main", "preflight_run", "run_entry", "set_outcome"]

from sycobench.paths import CONF_DIR

log = logging.getLogger("sycobench")
register_configs()
register_resolver()
_outcome: list[int] = []  # the exit code the task or the sweep callback decided


def set_outcome(code: int) -> None:
    _outcome.append(code)


def _ours(exc: BaseException) -> SycobenchError | None:
    """Our own error behind `exc`: it may arrive wrapped by Hydra or OmegaConf (a resolver's error)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, SycobenchError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_error(exc: BaseException) -> str:
    """One line for any error raised before or during a job."""
    if (ours := _ours(exc)) is not None:
        return str(ours)
    if isinstance(exc, UnicodeDecodeError):  # Hydra reading a config file that is not text
        return (f"a config file is not UTF-8 text ({exc.reason} at byte {exc.start}); check the YAML files under "
                "conf/ and any hydra.searchpath folder for the one you chose")
    missing = re.search(r"Could not find '([\w/]+)/([^']+)'", str(exc))
    if missing and (CONF_DIR / missing.group(1)).is_dir():
        group, choice = missing.groups()
        options = sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
        return f"unknown {group} {choice!r}; choose one of: {', '.join(options)} (or add conf/{group}/{choice}.yaml)"
    if isinstance(exc, AssertionError) and "Unexpected type for root: NoneType" in str(exc):
        return ("an override sets a key inside a config node that is null here (e.g. scorer.model.id with "
                "scorer=offline); choose the option that has that node (scorer=judge) or drop the override")
    required = re.search(r"Missing mandatory value: ([\w.]+)", str(exc))
    if required:
        key = required.group(1)
        return f"{key} is required: pass {key}=... on the command line"
    cause = exc.__cause__ or exc.__context__
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    detail = str(cause).strip().splitlines() if cause is not None else text.splitlines()[1:]
    key = next((ln.split(":", 1)[1].strip() for ln in str(cause or exc).splitlines() if ln.strip().startswith("full_key:")), None)
    reason = detail[0] if detail else ""
    if key:
        return f"invalid config: {key}: {reason or first}. Check the override (see `python -m sycobench --cfg job`)."
    if reason and reason != first:
        return f"{first}: {reason}"
    return first


def _job(cfg: DictConfig) -> dict[str, Any]:
    from sycobench.job import run_job
    from sycobench.logs import quiet_libraries, sweep_console
    from sycobench.spec import prepare_job

    hc = HydraConfig.get()
    job_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    quiet_libraries()
    if multirun:  # a line per phase per job on the console; run.log keeps every line
        sweep_console()
    # Jobs on one machine share a rate budget file; SLURM nodes split the rate instead (docs/rate_limits.md).
    one_machine = multirun and hc.runtime.choices.get("hydra/launcher") != "submitit_slurm"
    try:
        _began.append(True)
        prepared = _prepared.pop() if _prepared else None
        spec = prepared or prepare_job(to_config(cfg), job_dir, sweep_dir=Path(hc.sweep.dir) if one_machine else None)
        # the run's lock, taken before Hydra wrote in the folder, covers the job
        result = run_job(spec, job_dir, job_id=str(hc.job.num) if multirun else None, locked=prepared is not None,
                         page=not multirun)
    except Exception as exc:
        if not multirun:
            raise
        # Hydra skips on_multirun_end when a job raises: record the failure, let the sweep go on.
        from sycobench.job import record_failure
        from sycobench.store import JobFolder

        if JobFolder(job_dir).status() in (None, "running"):
            record_failure(job_dir, exc)
        log.error("job failed: %s", describe_error(exc))
        return {"status": "failed", "job_dir": str(job_dir), "message": describe_error(exc)}
    if not multirun:
        set_outcome(exitcodes.code_for_status(result.status))
        if result.status == "incomplete":
            print(f"sycobench: incomplete: {result.message}", file=sys.stderr)
    return {"status": result.status, "job_dir": str(job_dir), "message": result.message}


_held: list[Any] = []  # the job folder's lock, taken before Hydra writes there and held to the end
_began: list[bool] = []  # a job of this process has begun (see _job_began)
_prepared: list[Any] = []  # the single run's JobSpec, prepared before Hydra wrote anything


def preflight_run(config: DictConfig) -> None:
    """Before Hydra creates or touches the job folder: prepare the job (every check it would
    fail), so a refused run writes nothing (Hydra writes .hydra/ and run.log before the task
    starts); then lock the folder. The task runs the spec prepared here."""
    import copy

    from omegaconf import OmegaConf, open_dict, read_write

    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    typed = to_config(task)  # a value of the wrong type stops here, before the job's modules load (~0.3 s)
    from sycobench.spec import prepare_job
    from sycobench.store import JobFolder

    try:
        job_dir = Path(str(OmegaConf.select(config, "hydra.run.dir")))
    except Exception:  # e.g. a run dir that interpolates Hydra's runtime: the job checks it itself
        prepare_job(typed)
        return
    _prepared[:] = [prepare_job(typed, job_dir)]
    lock = JobFolder(job_dir).lock()
    lock.__enter__()
    _held.append(lock)


def exit_on_error(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Inside the Hydra task: turn any error into one line on stderr and its exit code."""

    @functools.wraps(task)
    def wrapper(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except Exception as exc:
            if os.environ.get("SYCOBENCH_TRACEBACK"):
                raise
            if is_file_error(exc):
                from sycobench.job import describe_os_error

                print(f"sycobench: error: {describe_os_error(exc)}", file=sys.stderr)
                sys.exit(exitcodes.INCOMPLETE if _job_began() else exitcodes.USAGE)
            print(f"sycobench: error: {describe_error(exc)}", file=sys.stderr)
            sys.exit(exitcodes.code_for_error(_ours(exc) or exc))

    return wrapper


def _job_began() -> bool:
    """A job has begun in this process (its job.json then says how it ended): exit 3, not 2, for a full disk."""
    return bool(_began)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
@exit_on_error
def _hydra_main(cfg: DictConfig) -> dict[str, Any]:
    return _job(cfg)


def main() -> None:
    run_entry(_hydra_main)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def resume_argv(argv: list[str]) -> list[str]:
    """`run.resume=DIR`: re-run a job (or, with -m, a whole sweep) into its old folder with the
    overrides it was started with; later arguments on the command line win."""
    wanted = [a for a in argv if a.startswith("run.resume=")]
    if not wanted:
        return argv
    from sycobench.store import JobFolder, SweepFolder

    folder = Path(wanted[-1].split("=", 1)[1]).expanduser()
    sweep = "-m" in argv or "--multirun" in argv
    saved_file = SweepFolder(folder).multirun if sweep else JobFolder(folder).file("overrides")
    if not saved_file.exists():
        kind = "sweep" if sweep else "job"
        raise SycobenchError(f"run.resume={folder}: not a sycobench {kind} folder (no {saved_file.relative_to(folder)})")
    saved = SweepFolder(folder).overrides() if sweep else JobFolder(folder).overrides()
    given = [a for a in argv if not a.startswith("-") and "=" in a and not a.startswith("run.resume=")]
    flags = [a for a in argv if a.startswith("-")]
    keep = [o for o in saved if _key(o) not in {_key(g) for g in given} | {"run.resume", "hydra.run.dir", "hydra.sweep.dir"}]
    target = f"hydra.sweep.dir={_quoted(folder)}" if sweep else f"hydra.run.dir={_quoted(folder)}"
    return [*flags, *keep, *given, target]


def _quoted(path: Path) -> str:
    """A folder as one Hydra override value, whatever it holds (`,` `=` `'` `{` or `${`)."""
    return '"' + str(path).replace('"', '\\"').replace("${", "\\${") + '"'


# what on a command line can set `hydra.mode`: the key itself, or configs other than ours
_MODE_SETTERS = ("hydra.mode", "hydra.searchpath", "hydra/", "--config", "-cd", "-cn", "-cp")


@contextmanager
def _without_hydra_repeats(argv: list[str]) -> Iterator[None]:
    """Hydra repeats two compositions of the whole config (~0.2-0.3 s each) that sycobench has done or
    needs not: before each run it composes once only to read `hydra.mode`, which no config of ours sets
    (skipped where the command line cannot set it either; then -m decides, as when Hydra finds none);
    and before a sweep's launch it composes every job's config again, which the sweep guard has just
    composed (a batch the guard did not compose is checked as before)."""
    from hydra._internal.hydra import Hydra
    from hydra.plugins.sweeper import Sweeper

    from sycobench.sweep import COMPOSED

    validate = Sweeper.validate_batch_is_legal

    def validated(self: Sweeper, batch: Any) -> None:
        if not all(tuple(job) in COMPOSED for job in batch):
            validate(self, batch)

    patched = [(Sweeper, "validate_batch_is_legal", validated)]
    if not any(a.lstrip("+~").startswith(_MODE_SETTERS) for a in argv):
        patched.append((Hydra, "get_mode", lambda self, config_name, overrides: None))
    kept = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for owner, name, replacement in patched:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in kept:
            setattr(owner, name, original)
        COMPOSED.clear()


def run_entry(hydra_main: Callable[[], Any], *, again: str = "resume with run.resume=<job dir>") -> None:
    """Run a Hydra app, letting composition errors reach us so we can print them as one line. `again`:
    what to do after Ctrl-C or a signal (a job resumes; a command that scores runs again)."""
    user_wants_traceback = bool(os.environ.get("HYDRA_FULL_ERROR"))
    if user_wants_traceback:
        os.environ["SYCOBENCH_TRACEBACK"] = "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    _outcome.clear()
    try:
        refuse_keys_in_overrides(sys.argv[1:])
        sys.argv[1:] = resume_argv(sys.argv[1:])
        check_scenario_files(sys.argv[1:])
        with _without_hydra_repeats(sys.argv[1:]):
            hydra_main()
    except SystemExit:
        raise
    except Signalled as exc:
        print(f"sycobench: {exc}; {again}", file=sys.stderr)
        sys.exit(exitcodes.code_for_error(exc))
    except BrokenPipeError:  # the reader went away (`--help | head`): not an error
        from sycobench.logs import closed_pipe

        closed_pipe()
    except KeyboardInterrupt:
        print(f"sycobench: interrupted; {again}", file=sys.stderr)
        sys.exit(exitcodes.INTERRUPTED)
    except Exception as exc:
        if user_wants_traceback:
            raise
        if is_file_error(exc):  # a folder that cannot be written, before a job began (a job says so itself)
            from sycobench.job import describe_os_error

            print(f"sycobench: error: {describe_os_error(exc)}", file=sys.stderr)
            sys.exit(exitcodes.INCOMPLETE if _job_began() else exitcodes.USAGE)
        print(f"sycobench: error: {describe_error(exc)}", file=sys.stderr)
        ours = _ours(exc)
        sys.exit(exitcodes.code_for_error(ours) if ours is not None else exitcodes.USAGE)
    finally:
        while _held:
            _held.pop().__exit__(None, None, None)
    if _outcome:
        sys.exit(exitcodes.worst(_outcome))
