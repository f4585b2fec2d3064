"""What the commands that read a trained run take: where its data are now (``--set data.path=NEW``),
G's sampling settings where they draw samples, and a ``--out FILE`` checked before any work."""
from __future__ import annotations

from pathlib import Path

from gankit.config import ConfigError

# where the run's data are now (every command that opens a run); the temperature is for sampling
# and evaluating a sequence G (not for invert / complete, which take image runs)
DATA_MOVED_HELP = "data.path=NEW or data.root=NEW: where the run's data are now, if they moved (repeatable)"
DATA_SET_HELP = ("data.path=NEW or data.root=NEW: where the run's data are now, if they moved; "
                 "generator.temperature=T: sample a sequence G at temperature T (repeatable)")


def data_location_sets(sets: list[str], others: str | None = None,
                       sampling: bool = True) -> tuple[list[str], list[str]]:
    """``--set`` items of a command that reads a trained run: (the data's new location and, with
    ``sampling``, G's sampling settings; the rest); the rest is refused unless it starts with
    ``others`` (e.g. "eval.")."""
    from gankit.config.overrides import items_key_by_key
    from gankit.identity import DATA_LOCATION_KEYS, SAMPLING_KEYS, defines_run
    keys = {f"data.{k}" for k in DATA_LOCATION_KEYS} | {f"generator.{k}" for k in SAMPLING_KEYS if sampling}
    # a key=value this command takes, for an item without its =
    example = {"eval.": "eval.n_samples=2000"}.get(others, "data.path=NEW")
    where, rest = [], []
    for s in sets:
        # a table (eval={n_samples=50}, data={path="p.npy"}) is its keys one by one, as README says:
        # each is told apart by its key, and handed on as key=value
        for key, one in items_key_by_key(s, example):
            if key in keys:
                where.append(one)
            elif others is not None and key.startswith(others):
                rest.append(one)
            else:
                allowed = ([f"{others}KEY=VALUE settings"] if others else []) + sorted(keys)
                allowed = ", ".join(allowed[:-1]) + " or " + allowed[-1]
                shown = s if one == s else f"{s} (its {key})"
                # a key of the model identity is refused on --resume too: only a new run takes it
                how = (f"{key} defines the trained run and cannot change on --resume either; train a new run: "
                       f"gankit train RUN/config.toml --out NEW --set {one}") if defines_run(key) \
                    else "a run's other settings change with gankit train --resume --out RUN --set KEY=VALUE"
                raise ConfigError(f"--set {shown}: this command takes only {allowed} ({how})")
    return where, rest


def output_file(command: str, out: str, example: str) -> Path:
    """--out FILE checked before any work: not a folder, no file where a folder must be."""
    target = Path(out)
    if target.is_dir():
        raise ConfigError(f"{command} --out {out} is a folder; give a file name, e.g. {target / example}")
    if any(p.exists() and not p.is_dir() for p in target.parents):
        raise ConfigError(f"{command} --out {out}: a part of this path is a file, not a folder")
    return target


def shown_path(path, stream=None) -> str:
    """``shown`` for a path in a line the terminal prints: its control characters as \\xHH, as in
    warnings and errors (a folder named with ESC or BEL would colour the terminal or set its title)."""
    from gankit.data.text import printable
    from gankit.streams import shown
    return printable(shown(path, stream))
