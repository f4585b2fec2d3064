"""The registries of pluggable parts: names -> factories, nothing else.

An entry is a factory plus a dataclass of its parameters.  Building an entry
from a config section checks every key against that dataclass, so a typo names
the key and the keys that are valid.

This module imports only the config machinery, so any module may register into it
without an import cycle.  The built-in components are loaded from one place,
``gankit.builtins.load_builtins()``; a registry calls it on its first look-up, so
library code needs no import done for its side effects.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from gankit.config.core import ConfigError, coerce_dataclass


def is_gankit(module: str) -> bool:
    """Whether ``module`` is gankit's own (a built-in component), not a user's or a plug-in's."""
    return module == "gankit" or module.startswith("gankit.")


@dataclass
class Entry:
    name: str
    factory: Callable[..., Any]
    params: type | None  # dataclass of keyword arguments (None: takes none)
    help: str
    module: str = ""     # where it was defined (built-in or a user's module)


class Registry:
    """Maps names to factories, e.g. ``DATASETS.build("ring", {"n_modes": 8})``."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, params: type | None = None, help: str = ""):
        def deco(factory):
            module = getattr(factory, "__module__", "") or ""
            if not is_gankit(module):
                # gankit's own first: a clash is refused here, at the user's registration (found
                # later, gankit's module failed to load and every later look-up failed with it)
                from gankit.builtins import load_builtins
                load_builtins()
            old = self._entries.get(name)
            if old is not None and old.module != module:
                # the user's component is the one to rename, whichever registered first (a script
                # registers before gankit loads its own)
                rename = old.module if is_gankit(module) and not is_gankit(old.module) else module
                # a user's earlier one (a notebook cell since renamed, another module) can be dropped;
                # gankit's own cannot, so the way out is said only where it works
                drop = "" if is_gankit(old.module) else (
                    f", or drop the earlier one first: gankit.api.unregister({self.kind!r}, {name!r})")
                raise ConfigError(f"{self.kind} {name!r} is registered twice ({old.module} and {module}); "
                                  f"give the one in {rename} another name{drop}")
            if params is not None and dataclasses.is_dataclass(params):
                import inspect
                args = inspect.signature(factory).parameters
                if not any(p.kind is p.VAR_KEYWORD for p in args.values()):
                    stray = [f.name for f in dataclasses.fields(params) if f.name not in args]
                    if stray:
                        raise ConfigError(f"{self.kind} {name!r} ({module}): option(s) {stray} of "
                                          f"{params.__name__} are not arguments of {factory.__name__}"
                                          f"{inspect.signature(factory)}; a params field is passed by name")
            doc = (factory.__doc__ or "").strip().splitlines()
            self._entries[name] = Entry(name, factory, params, help or (doc[0] if doc else ""), module)
            return factory
        return deco

    def unregister(self, name: str) -> Entry:
        """Remove ``name``, registered outside gankit, and return its entry; gankit's own are refused."""
        entries = self._all()   # gankit's own loaded first: "unknown" is never said of a built-in
        entry = entries.get(name) if isinstance(name, str) else None
        if entry is None:
            import difflib
            mine = sorted(n for n, e in entries.items() if not is_gankit(e.module))
            close = difflib.get_close_matches(str(name), mine, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unregister: no {self.kind} {name!r} is registered{hint}; yours: "
                              f"{', '.join(mine) or 'none'}")
        if is_gankit(entry.module):
            raise ConfigError(f"unregister: {self.kind} {name!r} is gankit's own ({entry.module}) and cannot be "
                              f"removed; give yours another name")
        del self._entries[name]
        return entry

    def _all(self) -> dict[str, Entry]:
        from gankit.builtins import load_builtins   # late: builtins import the registering modules
        load_builtins()
        return self._entries

    def names(self) -> list[str]:
        return sorted(self._all())

    def refuse_unknown(self, names, where: str) -> None:
        """ConfigError naming ``where`` (--metrics, eval.metrics, metrics) for the first of
        ``names`` not registered, with the closest name and the valid ones."""
        unknown = [n for n in names or [] if n not in self._all()]
        if unknown:
            import difflib
            close = difflib.get_close_matches(str(unknown[0]), self.names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            more = f" (and {', '.join(map(repr, unknown[1:]))})" if unknown[1:] else ""
            raise ConfigError(f"{where}: unknown {self.kind} {unknown[0]!r}{hint}{more}; gankit list shows them: "
                              f"{', '.join(self.names())}")

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def get(self, name: str, where: str = "name") -> Entry:
        entries = self._entries if name in self._entries else self._all()
        if name not in entries:
            import difflib
            close = difflib.get_close_matches(str(name), list(entries), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            # a run made by a script that registered its own parts is opened from anywhere else
            # only with that code loaded
            raise ConfigError(f"{where}: unknown {self.kind} {name!r}{hint}; "
                              f"valid choices: {', '.join(self.names())}; {'an' if self.kind[0] in 'aeiou' else 'a'} "
                              f"{self.kind} of your own is "
                              f"loaded with gankit --import MODULE (or the config's imports = [...])")
        return entries[name]

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
            from gankit.config.core import with_choices
            out.append((f.name, default, with_choices(f.metadata.get("help", ""), f.metadata.get("choices"))))
        return out


DATASETS = Registry("dataset")
GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")
# other modules an objective may declare (encoders, ...): ctx.build_net("nets", {"name": ...})
NETS = Registry("net")
LOSSES = Registry("loss")
METRICS = Registry("metric")
OBJECTIVES = Registry("objective")

REGISTRIES = {
    "datasets": DATASETS,
    "generators": GENERATORS,
    "discriminators": DISCRIMINATORS,
    "nets": NETS,
    "losses": LOSSES,
    "metrics": METRICS,
    "objectives": OBJECTIVES,
}


def unregister(kind: str, name: str) -> None:
    """Remove a component of your own, e.g. ``unregister("metric", "my_metric")``: a notebook cell
    renamed and run again registers anew, and the earlier name (and a metric's output keys) held on
    until the kernel restarted.  ``kind`` is a registry's kind ("dataset", "generator", ...) or its
    plural; gankit's own components are refused."""
    by_kind = {r.kind: r for r in REGISTRIES.values()}
    reg = (by_kind.get(kind) or REGISTRIES.get(kind)) if isinstance(kind, str) else None
    if reg is None:
        raise ConfigError(f"unregister: unknown kind {kind!r}; valid kinds: {', '.join(by_kind)}")
    reg.unregister(name)
