"""The job folder as a contract: what settings its answers came from, and who writes to it.

A folder records a fingerprint of every setting that changes an answer; a run into a folder
made with other settings is refused before any call. While a job writes to a folder it holds
an OS-level lock on it, so a second job is refused instead of mixing records into the first.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from sycobench.errors import ConfigError

__all__ = [
    "LOCK_NAME",
    "check_fingerprint",
    "claim_dir",
    "fingerprint",
    "job_lock",
    "register_resolver",
    "saved_fingerprint",
]

LOCK_NAME = ".lock"
# Model settings that never change an answer: names, HTTP headers, pacing, the key's variable.
_MODEL_NEUTRAL = {"name", "label", "rate_limit", "concurrency", "referer", "title", "api_key_env"}
# Mock-only knobs that do not change an answer (latency) are neutral too.
_MOCK_NEUTRAL = {"latency_ms"}


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _flat(f"{prefix}.{key}", value[key], out)
    else:
        out[prefix] = value


def _plain(node: Any) -> dict[str, Any]:
    if is_dataclass(node):
        return asdict(node)
    if hasattr(node, "to_dict"):  # a scenario: the whole file counts
        return node.to_dict()
    return dict(node)


def fingerprint(cfg: Any) -> dict[str, Any]:
    """Every setting that changes an answer, as flat `dotted.key -> value` pairs.

    Whole sections are included minus a short list of neutral keys, so a setting added later
    counts by default. Concurrency, rate limits, the scorer and the report never count."""
    model = {k: v for k, v in _plain(cfg.model).items() if k not in _MODEL_NEUTRAL | _MOCK_NEUTRAL}
    mock = getattr(cfg, "mock", None)  # a mock-only schema, where there is one
    if mock is not None:
        model["mock"] = {k: v for k, v in _plain(mock).items() if k not in _MOCK_NEUTRAL}
    out: dict[str, Any] = {}
    _flat("model", model, out)
    _flat("scenario", _plain(cfg.scenario), out)
    out["run.samples"] = cfg.run.samples
    return json.loads(json.dumps(out, default=str))  # exactly what job.json will hold


def saved_fingerprint(job_dir: Path) -> dict[str, Any] | None:
    path = job_dir / "job.json"
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc.__class__.__name__}); move the folder aside or run into a new one") from None
    found = meta.get("fingerprint") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else None


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def check_fingerprint(job_dir: Path, current: dict[str, Any]) -> None:
    """Refuse a run into a folder whose answers came from other settings (a folder with no
    answers yet, e.g. after a dry run, takes the new settings)."""
    records = job_dir / "run.jsonl"
    if not records.exists() or records.stat().st_size == 0:
        return
    old = saved_fingerprint(job_dir)
    if old is None:
        return
    missing = object()
    changed = [
        f"{key} {_show(old.get(key)) if key in old else '(unset)'} -> {_show(current.get(key, missing)) if key in current else '(unset)'}"
        for key in sorted(set(old) | set(current))
        if old.get(key, missing) != current.get(key, missing)
    ]
    if changed:
        raise ConfigError(
            f"{job_dir} holds answers made with other settings: {'; '.join(changed)}. "
            "Run into a new folder (drop hydra.run.dir / job_dir, or pick another) or restore those settings."
        )


_HELD: dict[str, FileLock] = {}


@contextmanager
def job_lock(job_dir: Path) -> Iterator[None]:
    """Hold `<job_dir>/.lock` (flock) for the job's life; the OS releases it if the process dies.

    Re-entrant within one process, so the CLI's early check and the job itself can both hold it."""
    job_dir.mkdir(parents=True, exist_ok=True)
    path = str((job_dir / LOCK_NAME).resolve())
    lock = _HELD.setdefault(path, FileLock(path, thread_local=False))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(
            f"{job_dir} is in use by another running sycobench job; wait for it to end or run into a new folder"
        ) from None
    try:
        yield
    finally:
        lock.release()


def claim_dir(root: str, pattern: str = "%Y-%m-%d/%H-%M-%S") -> str:
    """A new folder `<root>/<date>/<time>`, created here so no other job can take it: two jobs
    started in the same second get `<time>` and `<time>-2`."""
    base = Path(root) / datetime.now().strftime(pattern)
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return str(candidate)
    raise ConfigError(f"{base}: no free folder name; choose one with hydra.run.dir=...")


def register_resolver() -> None:
    """`${sycobench_dir:outputs}` in conf/config.yaml; cached so a config resolves it once."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("sycobench_dir"):
        OmegaConf.register_new_resolver("sycobench_dir", claim_dir, use_cache=True)
