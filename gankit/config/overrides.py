"""``--set`` overrides: ``key=value`` items read as TOML and applied to a raw config dict, before
the dict is coerced (core.py) into the typed config.

Apart from core.py: these edit plain dicts (a table given for a section, a component switched by
name, the options that switch drops), and know nothing of the types the result is checked against.
"""
from __future__ import annotations

import tomllib
from typing import Any

from gankit.config.core import ConfigError
from gankit.config.toml_read import MAX_DEPTH, NestedTooDeeply, loads as toml_loads


def parse_override(item: str, example: str = "train.steps=2000") -> tuple[list[str], Any]:
    """``a.b=value`` -> (["a", "b"], value); the value is read as TOML, else a string.
    ``example``: a key=value the command takes, shown when the ``=`` is missing."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, for example {example}")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        doc = toml_loads(f"v = {raw}")
    except NestedTooDeeply:     # no text either: a value read as text here would be said as another fault
        shown = repr(item) if len(item) <= 60 else f"{item[:40]!r}... ({len(item)} characters)"
        raise ConfigError(f"--set {shown}: the value of {key} is nested too deeply to read (lists or tables "
                          f"within each other, more than {MAX_DEPTH} levels deep); give it nested less deeply") from None
    except tomllib.TOMLDecodeError as e:
        _refuse_broken(item, key, raw, e)
        doc = {"v": raw}
    if len(doc) > 1:     # a line break ended the value: TOML read the rest as keys of its own
        raise ConfigError(f"--set {item!r}: a line break ends the value, and what follows it would be "
                          "dropped; give one key=value on one line to each --set")
    value = doc["v"]
    return key.split("."), value


def _refuse_broken(item: str, key: str, raw: str, error: Exception):
    """A value that opens a TOML table or list and never closes it is refused here: read
    as text it reached the config as a string, said as the wrong thing (eval={n_samples=5: "not a
    table"; gankit eval: "not an eval.* key").  A closed list of bare words ([fid,is]) is kept as
    text: the config, which knows the key's type, hints the list it meant (core._list_hint)."""
    text = raw.strip()
    # a table, closed or not, or a list never closed; text that only starts with a bracket
    # ("[2024] x.npy", "{x}.npy": a path) stays text
    if not (text[:1] == "{" and ("}" not in text or text[-1:] == "}") or text[:1] == "[" and "]" not in text):
        return
    import re
    # TOML counts columns in "v = VALUE": said as the value's own characters
    why = re.sub(r"\(at line 1, column (\d+)\)", lambda m: f"at character {int(m[1]) - 4}",
                 str(error)).replace("(at end of document)", "at its end")
    what, whole = ("table", '{a = 1, b = "text"}') if text[0] == "{" else ("list", '[1, "text"]')
    raise ConfigError(f"--set {item!r}: the value of {key} is not a valid TOML {what} ({why[0].lower()}{why[1:]}); "
                      f"write it whole, e.g. {key}={whole}, or quote text that starts with {text[0]}")


def items_key_by_key(item: str, example: str = "train.steps=2000") -> list[tuple[str, str]]:
    """(dotted key, ``key=value`` item) for each key ``item`` sets: a table given for a section
    (``eval={n_samples=50}``) is its keys one by one (``eval.n_samples=50``), as apply_overrides
    reads it, so a command that takes only some keys can tell them apart; other items are kept as given."""
    path, value = parse_override(item, example)
    if not isinstance(value, dict):
        return [(".".join(path), item)]
    return [(".".join(p), f"{'.'.join(p)}={toml_text(v)}") for p, v in _key_by_key({}, path, value, None)]


def toml_text(value) -> str:
    """``value`` as TOML on one line (tomli_w writes an array one item a line), as --set reads it back."""
    import tomli_w
    if isinstance(value, dict):
        return "{" + ", ".join(f"{tomli_w.dumps({k: 0}).rsplit(' = ', 1)[0]} = {toml_text(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).strip()[4:]


def apply_overrides(raw: dict, overrides: list[str], components: set[str] | None = None,
                    dropped: list | None = None, given: dict | None = None) -> dict:
    """``raw`` with the ``--set`` overrides applied.  A new ``name`` for a section in
    ``components`` (registry entries: every entry has options of its own) drops the old entry's
    options; other sections with a name (an optimizer) keep theirs: they apply to every name.
    ``components=None``: every section with a name is a component.  A table given for a section
    (``data={std=0.2}``) is its keys given one by one, in order (``data.std=0.2``).  ``dropped``
    collects (section, old name, new name, {dropped option: value}, the keys the overrides set
    in that section) for each switch that dropped options; ``given`` (section path -> keys)
    collects the keys the overrides themselves set."""
    import copy
    raw = copy.deepcopy(raw)
    given = {} if given is None else given
    for item in overrides:
        path, value = parse_override(item)
        for path, value in _key_by_key(raw, path, value, components):
            _apply_one(raw, item, path, value, components, given, dropped)
    return raw


def _key_by_key(raw: dict, path: list[str], value, components):
    """(path, value) of each key of a table given for a section, in order, nested tables key by
    key too; a table given for a key that holds a value is that value (its type error follows).
    Lazy: each key is looked at after the ones before it were applied (a name switch drops keys)."""
    node = raw
    for i, p in enumerate(path):
        node = node.get(p) if isinstance(node, dict) else 0
        if isinstance(node, str) and i == 0 and (components is None or p in components):
            node = {}                     # a component written as its name: data = "grid"
    if isinstance(value, dict) and (node is None or isinstance(node, dict)):
        for k, v in value.items():
            yield from _key_by_key(raw, [*path, k], v, components)
    else:
        yield path, value


def _apply_one(raw, item, path, value, components, given, dropped):
    if isinstance(value, str) and len(path) >= 1 and _section_at(raw, path):
        path = [*path, "name"]      # `data=grid` is `data.name=grid`: the user's own keys stay
    node = raw
    for i, p in enumerate(path[:-1]):
        if isinstance(node.get(p), str):
            if i == 0 and (components is None or p in components):
                node[p] = {"name": node[p]}     # a component written as its name: data = "grid"
            else:
                key = ".".join(path[:i + 1])
                what = "a name (a string)" if p == "name" else f"a value ({node[p]!r})"
                fix = f"; write {key}={value}" if p == "name" and isinstance(value, str) else ""
                raise ConfigError(f"--set {item!r}: {key} is {what}, not a table{fix}")
        if not isinstance(node.get(p, {}), dict):
            key, held = ".".join(path[:i + 1]), node[p]
            if isinstance(held, list) and held and all(isinstance(t, dict) for t in held):
                # [[train]] in a file is an array of tables, which no section is
                raise ConfigError(f"--set {item!r}: {key} is an array of tables ([[{key}]] in the config "
                                  f"file), not a section; write [{key}], with single brackets")
            raise ConfigError(f"--set {item!r}: {key} is a value ({held!r}), not a section")
        node = node.setdefault(p, {})
    last, mine = path[-1], given.setdefault(tuple(path[:-1]), set())
    swappable = components is None or (len(path) == 2 and path[0] in components)
    if last == "name" and swappable and isinstance(node, dict) and node.get("name") not in (None, value):
        # switching component: the old component's options no longer apply, but the user's
        # own --set keys stay (and are checked against the new component)
        gone = {k: node.pop(k) for k in [k for k in node if k not in mine and k != "name"]}
        if gone and dropped is not None:     # mine: its keys given later are the user's own
            dropped.append((".".join(path[:-1]), node["name"], value, gone, mine))
    node[last] = value
    mine.add(last)


def _section_at(raw: dict, path: list[str]) -> bool:
    """Whether path names a component's table (one with a name) in raw."""
    node = raw
    for p in path:
        node = node.get(p) if isinstance(node, dict) else None
    return isinstance(node, dict) and "name" in node
