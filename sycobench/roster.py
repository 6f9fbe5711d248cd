"""Model rosters: an ordered JSON list of model ids, or objects with `id`, `label`, optional
`rate_limit {rps, burst}`, `concurrency` and `smoke`, in the original package's format.

`python -m sycobench -m +roster=paid` sweeps every model of `data/models.json`;
`+roster=free` uses `data/free_models.json`; `+roster=file roster.file=path/to/models.json`
any roster. The roster is read and checked when the sweep starts, before any job runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sycobench.errors import ConfigError

__all__ = ["RosterEntry", "load_roster", "roster_path", "roster_sweep", "roster_model", "register_resolver"]

from sycobench.paths import DATA_DIR

NAMED = {"paid": "models.json", "free": "free_models.json"}
_FIX = "Each entry must be a model id string or an object like {\"id\": \"org/slug\", \"label\": \"...\"}."


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
    if isinstance(item, str) and item.strip():
        return RosterEntry(id=item.strip())
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
        raise ConfigError(f"{where}: not a model entry ({item!r}). {_FIX}")
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


def roster_sweep(name_or_path: str) -> str:
    """The `model.id` sweep list for Hydra's sweeper, e.g. `'a/b','c/d:free'`."""
    return ",".join(f"'{e.id}'" for e in load_roster(name_or_path))


def roster_model(cfg: Any) -> Any:
    """The job's model with the label, rate cap and concurrency its roster entry sets (a new
    object: the config is not changed)."""
    model = cfg.model
    roster = getattr(cfg, "roster", None)
    if roster is None or not roster.file:
        return model
    entry = next((e for e in load_roster(roster.file) if e.id == model.id), None)
    if entry is None:
        return model
    rate = replace(model.rate_limit, rps=entry.rps if entry.rps is not None else model.rate_limit.rps,
                   burst=entry.burst if entry.burst is not None else model.rate_limit.burst)
    return replace(model, label=entry.label or model.label, rate_limit=rate,
                   concurrency=entry.concurrency if entry.concurrency is not None else model.concurrency)


def register_resolver() -> None:
    if not OmegaConf.has_resolver("roster"):
        OmegaConf.register_new_resolver("roster", roster_sweep)
