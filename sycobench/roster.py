"""Model rosters: an ordered JSON list of model ids, or objects with `id`, `label`, optional
`rate_limit {rps, burst}`, `concurrency` and `smoke`, in the original package's format.

`python -m sycobench -m +roster=paid` sweeps every model of `data/models.json`;
`+roster=free` uses `data/free_models.json`; `+roster=file roster.file=path/to/models.json`
any roster. The roster is read and checked when the sweep starts, before any job runs.

Entries are data: the sweep runs over entry numbers (`roster.index=0,1,...`), and each job reads
its entry from the file. An id never passes through Hydra's override parser, so nothing in it is
interpolated, unquoted or split.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sycobench.errors import ConfigError

__all__ = ["RosterEntry", "check_model_id", "load_roster", "roster_path", "roster_indices", "roster_model",
           "register_resolver"]

from sycobench.paths import DATA_DIR

NAMED = {"paid": "models.json", "free": "free_models.json"}
_FIX = "Each entry must be a model id string or an object like {\"id\": \"org/slug\", \"label\": \"...\"}."
#: what a roster sweep's model.id says until each job reads its entry (conf/roster/*.yaml)
FROM_ROSTER = "(from the roster)"
_KEY_SHAPE = re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}")


def check_model_id(value: str) -> str | None:
    """Why `value` cannot be a model id or label (None when it can): an interpolation would read the
    environment when a saved config is loaded, a key-shaped value would leak a key."""
    if "${" in value:
        return "holds an interpolation (${...}), which would be resolved, e.g. into an API key"
    if _KEY_SHAPE.search(value):
        return "looks like an API key; a key goes in the environment, never into a model id"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "holds a control character"
    return None


@dataclass(frozen=True)
class RosterEntry:
    id: str
    label: str | None = None
    rps: float | None = None
    burst: int | None = None
    concurrency: int | None = None
    smoke: bool = False


def roster_path(name_or_path: str) -> Path:
    if name_or_path in NAMED:
        return DATA_DIR / NAMED[name_or_path]
    path = Path(name_or_path).expanduser()
    if not path.is_absolute() and not path.exists():
        path = DATA_DIR / path
    if not path.exists():
        raise ConfigError(f"roster {name_or_path!r}: no such file; use one of {sorted(NAMED)} or a path to a JSON roster")
    return path


def _entry(item: Any, where: str) -> RosterEntry:
    if isinstance(item, str):
        item = {"id": item}
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
        raise ConfigError(f"{where}: not a model entry ({str(item)[:80]!r}). {_FIX}")
    for name in ("id", "label"):
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: {name} must be text, got {value!r}")
        problem = check_model_id(value) if isinstance(value, str) else None
        if problem:
            raise ConfigError(f"{where}: the {name} {problem}; fix that entry")
    unknown = set(item) - {"id", "label", "rate_limit", "concurrency", "smoke"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: id, label, rate_limit, concurrency, smoke")
    rate = item.get("rate_limit") or {}
    if not isinstance(rate, dict) or set(rate) - {"rps", "burst"}:
        raise ConfigError(f"{where}: rate_limit must be an object with rps and/or burst")
    rps, burst, conc = rate.get("rps"), rate.get("burst"), item.get("concurrency")
    for name, value in (("rate_limit.rps", rps), ("rate_limit.burst", burst), ("concurrency", conc)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ConfigError(f"{where}: {name} must be a positive number, got {value!r}")
    if burst is not None and not isinstance(burst, int) or conc is not None and not isinstance(conc, int):
        raise ConfigError(f"{where}: rate_limit.burst and concurrency must be whole numbers")
    return RosterEntry(item["id"].strip(), item.get("label"), rps, burst, conc, bool(item.get("smoke", False)))


def load_roster(name_or_path: str) -> list[RosterEntry]:
    """Entries in file order, duplicates dropped, the smoke-test model (`"smoke": true`) first."""
    path = roster_path(name_or_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"roster {path}: not valid JSON (line {exc.lineno}: {exc.msg}). {_FIX}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"roster {path}: not UTF-8 text; give a JSON roster file. {_FIX}") from None
    except OSError as exc:
        raise ConfigError(f"roster {path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not isinstance(data, list) or not data:
        raise ConfigError(f"roster {path}: must be a non-empty JSON list of models. {_FIX}")
    entries: dict[str, RosterEntry] = {}
    for i, item in enumerate(data):
        entry = _entry(item, f"roster {path} entry {i}")
        entries.setdefault(entry.id, entry)
    ordered = list(entries.values())
    return sorted(ordered, key=lambda e: not e.smoke)  # stable: keeps the file order otherwise


def roster_indices(name_or_path: str) -> str:
    """The sweep over a roster's entries, for Hydra's sweeper: `0,1,...,n-1` (checked when the sweep starts)."""
    return ",".join(str(i) for i in range(len(load_roster(name_or_path))))


def roster_model(cfg: Any) -> Any:
    """The job's model: its roster entry's id (`roster.index`), and the label, rate cap and
    concurrency the entry sets (a new object: the config is not changed)."""
    model = cfg.model
    roster = getattr(cfg, "roster", None)
    if roster is None or not roster.file:
        return model
    entries = load_roster(roster.file)
    if roster.index is None:
        entry = next((e for e in entries if e.id == model.id), None)
        if entry is None and model.id == FROM_ROSTER:
            raise ConfigError("roster.index is not set: run the roster as a sweep (python -m sycobench -m "
                              "+roster=...) or pick one entry with roster.index=N")
        if entry is None:
            return model
    elif not 0 <= roster.index < len(entries):
        raise ConfigError(f"roster.index={roster.index}: roster {roster_path(roster.file)} has {len(entries)} entries "
                          f"(0 to {len(entries) - 1})")
    else:
        entry = entries[roster.index]
        model = replace(model, id=entry.id)
    rate = replace(model.rate_limit, rps=entry.rps if entry.rps is not None else model.rate_limit.rps,
                   burst=entry.burst if entry.burst is not None else model.rate_limit.burst)
    return replace(model, label=entry.label or model.label, rate_limit=rate,
                   concurrency=entry.concurrency if entry.concurrency is not None else model.concurrency)


def register_resolver() -> None:
    if not OmegaConf.has_resolver("roster_indices"):
        OmegaConf.register_new_resolver("roster_indices", roster_indices)
