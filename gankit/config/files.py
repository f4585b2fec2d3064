"""Where configs come from and go: presets and TOML files in (``load``), config.toml out
(``dumps_toml``); the types and coercion they go through are core.py's, the overrides overrides.py's."""
from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
import warnings
from pathlib import Path

from gankit.config.core import PRESET_DIR, ConfigError, coerce_dataclass, component_sections, to_dict
from gankit.config.overrides import apply_overrides
from gankit.config.toml_read import MAX_DEPTH, NestedTooDeeply, loads as toml_loads


def read_toml(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        if (path / "config.toml").is_file():    # a run folder: its config, or the run itself, was meant
            raise ConfigError(f"config file {str(path)!r} is a folder (a run's, it holds config.toml); give "
                              f"{str(path / 'config.toml')!r} to train anew from its config, or continue the "
                              f"run with gankit train --resume --out {str(path)!r}")
        raise ConfigError(f"config file {str(path)!r} is a folder, not a file; give a preset name "
                          "or a path to a .toml file")
    if not path.exists():
        from gankit.rank_errors import across_machines, on_every_machine
        # another machine of the run may hold it
        here, same = (" on this machine", f"; {on_every_machine('it')}") if across_machines() else ("", "")
        raise ConfigError(f"config file {str(path)!r} does not exist{here}; give a preset name "
                          f"({', '.join(preset_names())}) or a path to a .toml file{same}")
    if not path.is_file():   # a pipe (<(...)) is read once, but a run reads its config more than once
        raise ConfigError(f"config file {str(path)!r} is not a regular file (a pipe or a device); "
                          "save the config to a .toml file and give its path")
    try:
        # a byte order mark (some Windows editors write one) is no TOML: read past it
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text file in UTF-8 (byte {e.start} is 0x{e.object[e.start]:02x}); "
                          "a config is a TOML text file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror})") from None
    try:
        return toml_loads(text)
    except NestedTooDeeply as e:
        raise ConfigError(f"{path}: not valid TOML: {e} (lists or tables within each other, more than "
                          f"{MAX_DEPTH} levels deep); give a config that nests them less deeply") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}{_twice(str(e), text)}") from None


def _twice(error: str, text: str) -> str:
    """For tomllib's "Cannot overwrite a value (at line N, ...)": the key given twice, named
    (tomllib gives only the place: the end of line N, or of the document)."""
    if not error.startswith("Cannot overwrite a value"):
        return ""
    lines = text.splitlines()
    at = re.search(r"at line (\d+)", error)
    n = int(at.group(1)) if at else len(lines)
    while n > 1 and not lines[n - 1].strip():     # "at end of document": the last line with text
        n -= 1
    line = lines[n - 1].strip() if 0 < n <= len(lines) else ""
    if line.startswith("[") and "]" in line:
        what = f"opens the table {line[:line.rindex(']') + 1]}"
    elif "=" in line and line.split("=", 1)[0].strip():
        what = f"sets {line.split('=', 1)[0].strip()}"
    else:
        return ""
    return f"; line {n} {what}, which (or a key it lies within) was given a value before; keep one"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def resolve_source(name_or_path: str) -> dict:
    """A preset name or a TOML path -> raw dict.  A bare preset name is the preset even where a
    file or folder of that name lies here (a run folder named after its preset, a word list
    called words); such a file is read as ./NAME."""
    p = Path(name_or_path).expanduser()      # ~/cfg.toml given through the API (the CLI expands its own)
    preset = PRESET_DIR / f"{name_or_path}.toml"
    if p.suffix != ".toml" and "/" not in name_or_path and os.sep not in name_or_path and preset.is_file():
        return read_toml(preset)
    if p.suffix == ".toml" or p.exists():
        return read_toml(p)
    # RING -> ring: difflib compares case-sensitively, and ranks a case-only difference low
    lower = {n.lower(): n for n in preset_names()}
    close = difflib.get_close_matches(name_or_path.lower(), list(lower), n=1)
    hint = f" (did you mean {lower[close[0]]!r}?)" if close else ""
    raise ConfigError(f"no preset or file named {name_or_path!r}{hint}; presets: "
                      f"{', '.join(preset_names())}; or pass a path to a .toml file")


def load(name_or_path: str | dict, overrides: list[str] | None = None):
    """Preset name, TOML path or raw dict (+ ``--set`` overrides) -> RunConfig.

    The modules named in the config's ``imports`` are imported first, so components they
    register (a user's dataset, net, loss, metric or objective) are known when it is checked.
    """
    from gankit.builtins import import_modules
    from gankit.config.schema import RunConfig
    raw = resolve_source(name_or_path) if not isinstance(name_or_path, dict) else name_or_path
    raw, dropped, given = _metrics_once(raw), [], {}
    source = raw
    raw = apply_overrides(raw, overrides or [], component_sections(RunConfig), dropped, given)
    notes = _radius_follows_data(source, raw, "hq_std" in given.get(("eval",), ()))
    imports = raw.get("imports", [])
    if not isinstance(imports, list) or not all(isinstance(m, str) for m in imports):
        raise ConfigError(f"imports: expected a list of module names, got {imports!r}")
    import_modules(imports)
    try:
        cfg = coerce_dataclass(RunConfig, raw, "")
    except ConfigError as e:
        if e.plain is not None and not _given(e.where, given):
            raise ConfigError(e.plain, where=e.where) from None    # the file's value: no --set advice
        raise
    for note in notes + _dropped_notes(cfg, dropped):
        warnings.warn(note)     # one place: the CLI's two loads of a config say it once
    return cfg


def _given(where: str | None, given: dict) -> bool:
    """Whether key ``where`` ("data.std", "eval.metrics[0]") was given by --set (apply_overrides' record)."""
    if not where:
        return False
    *section, key = re.sub(r"\[\d+\]", "", where).split(".")
    return key in given.get(tuple(section), ())


def dumps_toml(cfg) -> str:
    """config.toml's text.  TOML has no null: an option set to None is left out, which reading
    the file back turns into its default; where that default is not None the run would resume,
    evaluate and sample under another setting, so it is refused (before any training)."""
    import tomli_w
    full, dropped = to_dict(cfg), []
    kept = without_none(full, dropped)
    if dropped:
        back = to_dict(load(kept))
        for key in dropped:
            value = functools.reduce(lambda d, k: d.get(k) if isinstance(d, dict) else None, key.split("."), back)
            if value is not None:
                raise ConfigError(f"{key} = None cannot be recorded in config.toml (TOML has no null), and "
                                  f"reading it back gives its default {value!r}: a resume, eval or sample would "
                                  "run with that instead; give it a value")
    return tomli_w.dumps(kept)


def without_none(d: dict, dropped: list[str] | None = None, where: str = "") -> dict:
    """``d`` as config.toml holds it: TOML has no null, so options set to None are left out
    (their keys added to ``dropped``)."""
    dropped = [] if dropped is None else dropped
    out = {}
    for k, v in d.items():
        key = f"{where}{k}"
        if isinstance(v, dict):
            out[k] = without_none(v, dropped, key + ".")
        elif isinstance(v, (list, tuple)) and any(x is None for x in v):
            raise ConfigError(f"{key}: {list(v)!r} holds None, which config.toml cannot record; "
                              "give every item a value")
        elif v is None:
            dropped.append(key)
        else:
            out[k] = v
    return out


# the tables every config.toml gankit writes holds (gankit/runfolder/config_file.py's
# CONFIG_SECTIONS; this layer does not import runfolder)
WRITTEN_SECTIONS = ("data", "generator", "discriminator", "objective", "loss", "optim_d", "optim_g",
                    "train", "eval")


def _metrics_once(raw: dict) -> dict:
    """``raw`` with a metric named twice in eval.metrics named once, where raw is a resolved
    config (every table config.toml holds): a run's config.toml written before such lists were
    refused is still evaluated and reported.  A preset, a file or --set with one is refused."""
    ev = raw.get("eval")
    if not all(isinstance(raw.get(k), dict) for k in WRITTEN_SECTIONS) or \
            not isinstance(ev.get("metrics"), list) or not all(isinstance(m, str) for m in ev["metrics"]):
        return raw
    return {**raw, "eval": {**ev, "metrics": list(dict.fromkeys(ev["metrics"]))}}


def _data_kind(raw: dict) -> tuple:
    data = raw.get("data")
    return (data, None) if isinstance(data, str) else \
        (data.get("name"), data.get("dim")) if isinstance(data, dict) else (None, None)


def _radius_follows_data(source: dict, raw: dict, user_set: bool) -> list[str]:
    """A preset's or file's eval.hq_std is a radius in std for its own data's dimension (gmm1200's
    37 holds 99.95 % of a 1,200-D mode; in 2-D it would call everything high quality), so an
    override that changes data.name or data.dim drops it, where the overrides did not set it
    too, and the radius follows the new data (docs/metrics.md)."""
    ev = raw.get("eval")
    if user_set or not isinstance(ev, dict) or ev.get("hq_std") is None or \
            _data_kind(source) == _data_kind(raw):
        return []
    value = ev.pop("hq_std")
    (old_name, old_dim), (new_name, new_dim) = _data_kind(source), _data_kind(raw)
    was = f"{old_name} data" + (f" of dim {old_dim}" if old_dim is not None else "")
    now = f"data.name={new_name}" if new_name != old_name else f"data.dim={new_dim}"
    return [f"eval.hq_std={_shown(value)} was set for {was}: not carried over to {now} (the HQ radius "
            f"follows the data's dimension, docs/metrics.md); to keep it: {_set_arg('eval.hq_std', value)}"]


def _dropped_notes(cfg, dropped: list) -> list[str]:
    """A line for each --set SECTION.name=NEW that dropped options NEW also takes (with
    another value): the switch keeps dropping them, the user learns how to keep them."""
    notes = []
    for section, old, new, gone, mine in dropped:
        comp = getattr(cfg, section, None)
        params = comp.params if getattr(comp, "name", None) == new else {}
        kept = {k: v for k, v in gone.items() if k in params and k not in mine and params[k] != v}
        if not kept:
            continue
        sets = " ".join(_set_arg(f"{section}.{k}", v) for k, v in kept.items())
        notes.append(f"{section}.name={new}: {old}'s {', '.join(f'{k}={_shown(v)}' for k, v in kept.items())} "
                     f"not carried over ({new} uses {', '.join(f'{k}={_shown(params[k])}' for k in kept)}); "
                     f"to keep {'them' if len(kept) > 1 else 'it'}: {sets}")
    return notes


def _shown(value) -> str:
    """``value`` as --set reads it back: TOML, a plain word unquoted (global, not "global")."""
    import tomli_w
    if isinstance(value, (list, tuple)):    # one line (tomli_w writes an array one item a line)
        return "[" + ", ".join(tomli_w.dumps({"v": v}).strip()[4:] if isinstance(v, str) else _shown(v)
                               for v in value) + "]"
    text = tomli_w.dumps({"v": value}).strip()[4:]
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][\w.+-]*", value) and value not in ("true", "false",
                                                                                             "inf", "nan"):
        return value
    return text


def _set_arg(key: str, value) -> str:
    text = _shown(value)
    return f"--set {key}={text}" if re.fullmatch(r"[\w.+-]+", text) else f"--set '{key}={text}'"
