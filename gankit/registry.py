"""One small registry used by data, nets, losses and metrics.

An entry is a factory plus a dataclass of its parameters.  Building an entry
from a config section checks every key against that dataclass, so a typo names
the key and the keys that are valid.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from gankit.config import ConfigError, coerce_dataclass


@dataclass
class Entry:
    name: str
    factory: Callable[..., Any]
    params: type | None  # dataclass of keyword arguments (None: takes none)
    help: str


class Registry:
    """Maps names to factories, e.g. ``DATASETS.build("ring", {"n_modes": 8})``."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, params: type | None = None, help: str = ""):
        def deco(factory):
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            doc = help or (factory.__doc__ or "").strip().splitlines()[0:1]
            self._entries[name] = Entry(name, factory, params,
                                        doc if isinstance(doc, str) else (doc[0] if doc else ""))
            return factory
        return deco

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def get(self, name: str, where: str = "name") -> Entry:
        if name not in self._entries:
            raise ConfigError(f"{where}: unknown {self.kind} {name!r}; "
                              f"valid choices: {', '.join(self.names())}")
        return self._entries[name]

    def params_of(self, name: str, kwargs: dict | None, where: str):
        """The typed parameter object for ``name`` built from ``kwargs``."""
        entry = self.get(name, f"{where}.name")
        kwargs = dict(kwargs or {})
        if entry.params is None:
            if kwargs:
                raise ConfigError(f"{where}: {self.kind} {name!r} takes no options, "
                                  f"got {', '.join(sorted(kwargs))}")
            return None
        return coerce_dataclass(entry.params, kwargs, where)

    def build(self, name: str, kwargs: dict | None = None, where: str | None = None, **extra):
        where = where or self.kind
        params = self.params_of(name, kwargs, where)
        entry = self._entries[name]
        if params is None:
            return entry.factory(**extra)
        return entry.factory(**{f.name: getattr(params, f.name)
                                for f in dataclasses.fields(params)}, **extra)

    def describe(self, name: str) -> list[tuple[str, Any, str]]:
        """(key, default, help) for each parameter of ``name``."""
        entry = self.get(name)
        if entry.params is None:
            return []
        out = []
        for f in dataclasses.fields(entry.params):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            out.append((f.name, default, f.metadata.get("help", "")))
        return out
