"""Typed run configuration (the machinery; the sections are in schema.py, --set overrides in
overrides.py): dataclasses, strict loading, presets, clear errors.

Every field carries a one-line ``help``.  Loading checks unknown keys, types and
bounds and names the offending key with the valid choices.  Sections whose
options depend on a chosen component (``data``, ``generator``, ...) are
``Component`` fields: ``name`` picks a registry entry and the remaining keys are
checked against that entry's own parameter dataclass.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import difflib
import json
import math
import numbers
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

# Presets are the TOML files shipped in the package (gankit/presets, package data; the
# repository's configs/ is a link to it).
PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"


class ConfigError(ValueError):
    """A config key, value or file is wrong; the message says which and how to fix it.
    ``plain``: the message without its advice on writing a --set value, for a value that came
    from a file (gankit.config.files.load says which); ``where``: the key."""

    def __init__(self, message: str = "", plain: str | None = None, where: str | None = None):
        super().__init__(message)
        self.plain, self.where = plain, where


class UserOptionError(ConfigError):
    """An option a user's registered component does not take: their module, not the config,
    may be what changed (a report offers no config recovered from the checkpoints for it)."""


def _hinted(where: str, message: str, hint: str) -> ConfigError:
    """A value's error with advice on how --set writes it (``hint``, may be empty)."""
    return ConfigError(message + hint, plain=message if hint else None, where=where)


def opt(default: Any, help: str, *, choices=None, ge=None, gt=None, le=None,
        registry: str | None = None, allow_inf: bool = False):
    """A config field with its description and constraints.  Float fields refuse NaN always
    (it passes every bound check: nan < 0 and nan > 0 are both false) and +-inf unless
    ``allow_inf``."""
    meta = {"help": help, "choices": choices, "ge": ge, "gt": gt, "le": le, "registry": registry,
            "allow_inf": allow_inf}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        import copy
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Component:
    """A registry entry by name plus that entry's own options."""
    name: str
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, **self.params}


def _registry(kind: str):
    from gankit.registry import REGISTRIES   # late: the registry module imports this one
    return REGISTRIES[kind]


def _fmt_type(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _suggest(key: str, valid: list[str], where: str = "") -> str:
    return f"{_did_you_mean(key, valid, where)}; valid keys: {', '.join(valid)}"


def _did_you_mean(key: str, valid: list[str], where: str) -> str:
    from gankit.config.schema import did_you_mean     # late: schema imports this module
    return did_you_mean(key, valid, where)


def coerce_value(tp, value, where: str, meta: dict | None = None):
    meta = meta or {}
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        optional = type(None) in args
        # TOML has no null: an empty value (--set eval.hq_std=) puts an optional option back to unset
        if optional and (value is None or isinstance(value, str) and not value.strip() and str not in args):
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce_value(a, value, where, meta)
            except ConfigError as e:
                errors.append(e)
        if not errors or not optional or str in args:
            raise errors[0] if errors else ConfigError(f"{where}: bad value {value!r}")
        raise ConfigError(f"{errors[0]}; an empty value leaves it unset: --set '{where}='",
                          plain=errors[0].plain or str(errors[0]), where=where)
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not valid{_close_choice(value, get_args(tp))}; "
                              f"valid choices: {', '.join(map(repr, get_args(tp)))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _hinted(where, f"{where}: expected a list, got {value!r}", _list_hint(value, where, tp))
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(coerce_value(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        items = [coerce_value(inner, v, f"{where}[{i}]", meta if inner is Component else None)
                 for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if tp is Component:
        return _coerce_component(value, where, meta["registry"])
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table of options, got {value!r}")
        return coerce_dataclass(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            lower = f"; TOML writes them lower-case: {where}={value.strip().lower()}" \
                if isinstance(value, str) and value.strip().lower() in ("true", "false") else ""
            raise _hinted(where, f"{where}: expected true or false, got {value!r}", lower)
        v = value
    elif tp is int:
        given = value       # 1e30 is named as given, not as int(1e30)'s 31 digits
        # numbers.Integral / Real: numpy's scalars (np.int64) from a program's dict are numbers too,
        # kept as plain ones; bool is refused (np.bool_ is neither)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not isinstance(value, numbers.Integral) and not float(value).is_integer():
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        value = int(value)
        if not -2**63 <= value <= 2**63 - 1:   # torch and numpy hold integers in 64 bits
            raise ConfigError(f"{where}: {given!r} does not fit in 64 bits; "
                              f"use a value of at most {2**63 - 1}")
        v = value
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _hinted(where, f"{where}: expected a number, got {value!r}", _toml_hint(value))
        try:
            v = float(value)
        except OverflowError:   # an integer past float's range
            raise ConfigError(f"{where}: {value} is too large for a number") from None
        if math.isnan(v) or (math.isinf(v) and not meta.get("allow_inf")):
            raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    elif tp is str:
        if isinstance(value, os.PathLike):      # a program's Path: config.toml records its text
            value = os.fspath(value)
        if not isinstance(value, str):
            raise _hinted(where, f"{where}: expected a string, got {value!r}", _quote_hint(value, where))
        value = str(value)      # np.str_ too
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            # a file name's undecodable bytes (surrogateescape): TOML holds only Unicode, so
            # config.toml could not record the value and a resume would not find it
            raise ConfigError(_undecodable(value, where))
        v = value
    else:
        raise ConfigError(f"{where}: unsupported type {_fmt_type(tp)}")
    _check_bounds(v, where, meta)
    return v


def _fs_utf8() -> bool:
    return sys.getfilesystemencoding().lower().replace("_", "-") in ("utf-8", "utf8")


def locale_message(name: str, where: str) -> str:
    """Why a UTF-8 name cannot be used here: Python decodes names (arguments, file names) in
    the locale's encoding, and an ASCII locale (LC_ALL=C) cannot spell a non-ASCII letter."""
    return (f"{where}: {name!r} is a UTF-8 name, but Python runs under a locale that is not UTF-8 "
            f"(names are read as {sys.getfilesystemencoding()}, e.g. LC_ALL=C); run gankit with "
            "PYTHONUTF8=1 (or LANG=C.UTF-8)")


def _undecodable(value: str, where: str) -> str:
    """The error for a string holding a name's undecodable bytes (lone surrogates)."""
    try:
        name = os.fsencode(value).decode("utf-8")
    except UnicodeError:        # bytes that are not UTF-8, or text mixed with them
        name = None
    if name is not None and not _fs_utf8():      # the bytes are UTF-8: the locale is the cause
        return locale_message(name, where)
    return (f"{where}: {value!r} holds bytes that are not UTF-8 (a file name in another encoding?), "
            "which config.toml cannot record; rename it, or link to it from a UTF-8 name (ln -s)")


def _check_bounds(v, where, meta):
    if meta.get("choices") is not None and v not in meta["choices"]:
        raise ConfigError(f"{where}: {v!r} is not valid{_close_choice(v, meta['choices'])}; valid choices: "
                          f"{', '.join(map(str, meta['choices']))}")
    if meta.get("ge") is not None and v < meta["ge"]:
        raise ConfigError(f"{where}: must be >= {meta['ge']}, got {v!r}")
    if meta.get("gt") is not None and v <= meta["gt"]:
        raise ConfigError(f"{where}: must be > {meta['gt']}, got {v!r}")
    if meta.get("le") is not None and v > meta["le"]:
        raise ConfigError(f"{where}: must be <= {meta['le']}, got {v!r}")


def _close_choice(value, choices) -> str:
    """" (did you mean 'cosine'?)" for a choice given in another case or spelled close (Adam, bf-16)."""
    texts = [c for c in choices if isinstance(c, str)] if isinstance(value, str) else []
    close = [c for c in texts if c.lower() == value.lower()] or \
        difflib.get_close_matches(str(value).lower(), texts, n=1)   # as registry names are met
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce_component(value, where: str, registry: str) -> Component:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or "name" not in value:
        raise ConfigError(f"{where}: needs a 'name' key; valid choices: "
                          f"{', '.join(_registry(registry).names())}")
    value = dict(value)
    name = value.pop("name")
    reg = _registry(registry)
    if not isinstance(name, str):    # a list or a table would reach the registry's look-up
        example = name[0] if isinstance(name, list) and name and isinstance(name[0], str) else reg.names()[0]
        raise ConfigError(f"{where}.name: a component's name is a string, e.g. {where}.name = \"{example}\"; "
                          f"got {name!r}")
    entry = reg.get(name, f"{where}.name")
    _refuse_user_stray(entry, reg.kind, value, where)
    # name is a key of the section too, though not of its options' dataclass: suggested and listed
    if value and entry.params is None:
        first = sorted(value)[0]
        raise ConfigError(f"{where}: {reg.kind} {name!r} takes no options, got {', '.join(sorted(value))}"
                          f"{_did_you_mean(first, ['name'], where)}")
    if entry.params is not None:
        _refuse_unknown(value, ["name", *(f.name for f in dataclasses.fields(entry.params))], where)
    params = reg.params_of(name, value, where)
    resolved = dataclasses.asdict(params) if params is not None else {}
    # tuples -> lists so the resolved config writes back to TOML unchanged
    resolved = {k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()}
    return Component(name, resolved)


def _refuse_user_stray(entry, kind: str, value: dict, where: str):
    """A key a user's component does not take, named with the module that registered it: the
    module may have changed since the config was written (an option dropped), and another
    component's option of the same name (data swissroll's scale) is no lead."""
    from gankit.registry import is_gankit
    valid = [f.name for f in dataclasses.fields(entry.params)] if entry.params else []
    stray = [k for k in value if k not in valid]
    if not stray or is_gankit(entry.module):
        return
    key, file = stray[0], getattr(sys.modules.get(entry.module), "__file__", None)
    module = f"{entry.module} ({file})" if file else entry.module
    from gankit.config.schema import close_spelling     # late: schema imports this module
    takes = f"valid keys: {', '.join(valid)}" if valid else "it takes no options"
    raise UserOptionError(
        f"{where}.{key}: unknown key {key!r}: {kind} {entry.name!r}, registered by your module {module}, "
        f"takes no option {key!r}{close_spelling(key, ['name', *valid])}; {takes}. If that "
        f"module changed since the config was written, restore its code; else remove {where}.{key} from "
        "the config", where=f"{where}.{key}")


def _refuse_unknown(data: dict, valid: list[str], where: str):
    """ConfigError for the first key of ``data`` not in ``valid``, with the key meant."""
    for key in data:
        if key not in valid:
            path = f"{where}.{key}" if where else key
            raise ConfigError(f"{path}: unknown key {key!r}{_suggest(key, valid, where)}")


def _hints(cls):
    return typing.get_type_hints(cls)


def coerce_dataclass(cls, data: dict, where: str):
    """Build dataclass ``cls`` from ``data``; every key checked, every error named."""
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _refuse_unknown(data, list(fields), where)
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            value = data[name]
            if hints[name] is Component and isinstance(value, dict) and "name" not in value:
                # options without a name (e.g. --set objective.pack=2): the default component's
                value = {"name": f.default_factory().name, **value}
            kwargs[name] = coerce_value(hints[name], value, key, dict(f.metadata))
        elif hints[name] is Component:  # resolve a default component's options too
            kwargs[name] = coerce_value(Component, f.default_factory().to_dict(), key, dict(f.metadata))
    try:
        obj = cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    check = getattr(obj, "check", None)
    if callable(check):
        check(where)
    return obj


def to_dict(obj) -> Any:
    """Plain dict/list/scalar form of a config (for TOML/JSON)."""
    if isinstance(obj, Component):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if getattr(obj, f.name) is not None}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def with_choices(help: str, choices) -> str:
    """An option's help with the values it takes (gankit list -v showed only the default)."""
    if not choices:
        return help
    return f"{help} (one of: {', '.join(map(str, choices))})"


def describe(cls, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, help) for every field, recursively."""
    out = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp) and tp is not Component:
            out.extend(describe(tp, key + "."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append((key, to_dict(default), with_choices(f.metadata.get("help", ""), f.metadata.get("choices"))))
    return out


def component_sections(cls) -> set[str]:
    """The top-level fields of config class ``cls`` that are registry components."""
    hints = typing.get_type_hints(cls)
    return {f.name for f in dataclasses.fields(cls) if hints[f.name] is Component}


# ---------------------------------------------------------------- what a --set value meant

def _toml_hint(value) -> str:
    """Why a --set value that looks like a list or a number arrived as text: it is not TOML."""
    if isinstance(value, str) and value.strip()[:1] in ("[", ".", "-", "+") or \
            isinstance(value, str) and value.strip()[:1].isdigit():
        return (" (--set values are TOML: quote the strings in a list, [\"a\", \"b\"], and write "
                "numbers in full, 0.5 rather than .5)")
    return ""


def _quote_hint(value, where: str) -> str:
    """How to give as text a --set value that TOML read as a date, a time, a number or a boolean."""
    if isinstance(value, (datetime.date, datetime.time)):
        text = value.isoformat()
    elif isinstance(value, (bool, int, float)):
        text = str(value).lower() if isinstance(value, bool) else str(value)
    else:
        return ""
    kind = type(value).__name__
    kind = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"       # an int, a float
    return f"; TOML reads it as {kind}: quote it to give text, --set '{where}=\"{text}\"'"


def _list_hint(value, where: str, tp) -> str:
    """How to write the list a --set value meant: modes,jsd, [fid,is] and (0.5,0.9) (TOML has no
    tuples, and needs its strings quoted) -> ["modes", "jsd"], ["fid", "is"], [0.5, 0.9]."""
    texts = get_args(tp)[:1] == (str,)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return _toml_hint(value)
    text = value.strip()
    why = _toml_hint(value) if text[:1] == "[" else ""       # a list, but not TOML: say why first
    if text[:1] + text[-1:] in ("[]", "()"):
        text = text[1:-1]
    items = [_list_item(v.strip().strip('"\''), texts) for v in text.split(",") if v.strip()]
    return f"{why}; a list is written --set '{where}=[{', '.join(items)}]'"


def _list_item(text: str, texts: bool) -> str:
    """One item of that list as TOML: a number in full (.5 -> 0.5) unless the list holds strings,
    else quoted."""
    for kind in () if texts else (int, float):
        with contextlib.suppress(ValueError):
            if math.isfinite(number := kind(text)):
                return repr(number)
    return json.dumps(text, ensure_ascii=False)
