"""Exit codes, one per outcome, so a script or a SLURM array can tell what happened (README).

    0    ok: every planned call has an answer, every answer is scored or unscorable with a reason
    1    internal error (a bug: please report it, with HYDRA_FULL_ERROR=1 for the traceback)
    2    usage or config error: nothing was done
    3    incomplete: calls failed after retries, the budget cap or a daily quota was reached (resumable)
    4    fatal provider error: bad or missing key (401), no credits (402)
    129  interrupted by SIGHUP (the terminal closed)
    130  interrupted (Ctrl-C, SIGINT)
    143  interrupted by SIGTERM (SLURM's scancel or time limit, `docker stop`, `timeout`)
"""

from __future__ import annotations

import asyncio

from sycobench.errors import AuthError, CreditsError, QuotaError, Signalled, SycobenchError, is_file_error

__all__ = [
    "FATAL",
    "HANGUP",
    "INCOMPLETE",
    "INTERRUPTIONS",
    "INTERNAL",
    "INTERRUPTED",
    "OK",
    "TERMINATED",
    "USAGE",
    "code_for_error",
    "code_for_status",
    "worst",
]

OK, INTERNAL, USAGE, INCOMPLETE, FATAL, INTERRUPTED, HANGUP, TERMINATED = 0, 1, 2, 3, 4, 130, 129, 143
_STATUS = {"ok": OK, "dry_run": OK, "incomplete": INCOMPLETE, "interrupted": INTERRUPTED}
# the worst job decides a sweep's code
_SEVERITY = [OK, INCOMPLETE, USAGE, INTERNAL, FATAL, HANGUP, INTERRUPTED, TERMINATED]
INTERRUPTIONS = (HANGUP, INTERRUPTED, TERMINATED)


def code_for_error(exc: BaseException) -> int:
    if isinstance(exc, Signalled):
        return 128 + exc.signum
    if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError)):  # Ctrl-C cancels a running job
        return INTERRUPTED
    if isinstance(exc, (AuthError, CreditsError)):
        return FATAL
    if isinstance(exc, QuotaError) or is_file_error(exc):  # a daily quota; a full disk or an unwritable file mid-job
        return INCOMPLETE
    if isinstance(exc, SycobenchError):
        return USAGE
    return INTERNAL


def code_for_status(status: str, exit_code: int | None = None) -> int:
    """A job's code from its job.json: its recorded code, else one implied by its status."""
    if isinstance(exit_code, int) and exit_code in _SEVERITY:
        return exit_code
    return _STATUS.get(status, INTERNAL)


def worst(codes: list[int]) -> int:
    return max(codes, key=_SEVERITY.index, default=OK)
