"""One exception tree for sycobench.

    SycobenchError                 shown to the user as one line: what went wrong and how to fix it
    ├── ConfigError                bad override, schema violation, malformed roster
    ├── DataError                  corrupt or inconsistent records on disk
    ├── ProviderError              a model call failed; carries model, prompt, status, class
    │   ├── AuthError              401: bad or missing key (stops every call using that key)
    │   ├── CreditsError           402: out of credits (stops the run)
    │   └── QuotaError             429 per-day quota (stops that model, resumable later)
    ├── CostCapReached             run.max_cost_usd would be passed (stops new calls, resumable)
    └── ScoringError               a scorer could not run

    Signalled (a BaseException, like KeyboardInterrupt): SIGTERM or SIGHUP ended the job (resumable)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SycobenchError",
    "ConfigError",
    "DataError",
    "ProviderError",
    "AuthError",
    "CreditsError",
    "QuotaError",
    "CostCapReached",
    "ScoringError",
    "Signalled",
    "is_file_error",
]


class SycobenchError(Exception):
    """Base class: every error a user sees is one of these."""


class ConfigError(SycobenchError):
    pass


class DataError(SycobenchError):
    pass


class ScoringError(SycobenchError):
    pass


class ProviderError(SycobenchError):
    """A failed model call, classified once at the provider edge."""

    def __init__(
        self,
        message: str,
        *,
        error_class: str = "provider_error",
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        model: str | None = None,
        prompt_id: str | None = None,
        attempts: int | None = None,
        partial: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.model = model
        self.prompt_id = prompt_id
        self.attempts = attempts  # set by the retry layer when it gives up
        self.queued_s: float | None = None  # set by the call path: time spent waiting for the rate limit
        # A Completion the provider received but would rather re-ask (e.g. empty content): the
        # call path asks once more, then records this one.
        self.partial = partial

    def __str__(self) -> str:
        where = f" [model={self.model}]" if self.model else ""
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.error_class}{status}: {self.message}{where}"


class AuthError(ProviderError):
    """Fatal for every call that uses the same key."""


class CreditsError(ProviderError):
    """Fatal for the whole run."""


class QuotaError(ProviderError):
    """Fatal for one model until its daily quota resets."""


class CostCapReached(SycobenchError):
    """The next call could pass `run.max_cost_usd`: no new call starts; the job is resumable."""


class Signalled(BaseException):
    """SIGTERM (SLURM's scancel and time limit, `docker stop`, `timeout`) or SIGHUP ended the job, as
    Ctrl-C does: the job is recorded as interrupted and can be resumed. Exit code 128 + the signal."""

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")


def is_file_error(exc: BaseException) -> bool:
    """An OS error about a file (a full disk, a read-only folder), not a library's IOError subclass
    without an errno (Hydra's MissingConfigException, say)."""
    return isinstance(exc, OSError) and exc.errno is not None
