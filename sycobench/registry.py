"""Name -> implementation tables for providers and scorers, open to other packages.

Built-ins register themselves with a decorator; another package adds its own the same way, or
through an entry point in the group named here, so it needs no change to sycobench
(docs/extending.md).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from sycobench.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, key: str, group: str) -> None:
        self.key = key  # the config key whose value names an entry, e.g. "model.api"
        self.group = group  # the entry-point group other packages register in
        self._entries: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            self._entries[name] = entry
            return entry

        return add

    def _load_entry_points(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for point in entry_points(group=self.group):
            if point.name not in self._entries:
                try:
                    self._entries[point.name] = point.load()
                except Exception as exc:  # a broken plugin must not hide the built-ins
                    raise ConfigError(f"{self.key}: the plugin {point.name!r} ({point.value}) failed to load: "
                                      f"{type(exc).__name__}: {exc}") from exc

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        if name not in self._entries:
            self._load_entry_points()
        if name not in self._entries:
            raise ConfigError(f"{self.key}: unknown {name!r}; known: {', '.join(self.names())} "
                              f"(or register one, see docs/extending.md)")
        return self._entries[name]
