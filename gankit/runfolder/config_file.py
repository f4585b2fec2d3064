"""Reading a run's config.toml, and getting a damaged one back from the checkpoints."""
from __future__ import annotations

import os
import tomllib

from gankit import trusted_imports
from gankit.config import toml_read
from gankit.identity import as_written_then
from gankit.io import displayable, write_text_atomic
from gankit.runfolder.errors import RunFolderError, _Vanished

RECOVERED_CONFIG = "config.toml.recovered"
# the tables every config.toml gankit writes holds (a resolved config); a file that parses
# without one was cut or emptied, and defaults would fill in for the run's own settings
CONFIG_SECTIONS = ("data", "generator", "discriminator", "objective", "loss", "optim_d", "optim_g",
                   "train", "eval")


def read_config_file(folder) -> dict:
    """The raw config dict of ``folder``'s config.toml.  One that is not UTF-8 or TOML, or (in a
    folder gankit made) lacks a table gankit always writes (cut or emptied: defaults would stand
    in for the run's settings), is damaged."""
    path = folder.config_path
    try:
        raw = toml_read.loads(path.read_text(encoding="utf-8"))     # too deep: a TOMLDecodeError too
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RunFolderError(f"{path} is damaged ({e}){recovery_advice(folder)}") from None
    # the lock file marks a folder gankit made, so gankit wrote its config.toml whole (folders
    # made by hand, e.g. to compare records, may hold a few keys)
    missing = [k for k in CONFIG_SECTIONS if not isinstance(raw.get(k), dict) or not raw[k]]
    if missing and folder.lock_path.is_file():
        raise RunFolderError(f"{path} is damaged: it lacks [{'], ['.join(missing)}], which "
                             f"gankit always writes (cut or emptied?){recovery_advice(folder)}")
    return _trusted_imports_only(raw, path)


def _trusted_imports_only(raw: dict, path) -> dict:
    """``raw``, its imports whose code this user never imported with gankit left out of this
    process's imports (a folder from elsewhere may name a module of its own, and importing runs
    it: gankit/trusted_imports.py).  The list itself stays: a resume writes it back whole."""
    imports = raw.get("imports")
    if isinstance(imports, list) and all(isinstance(m, str) for m in imports):   # else a config error
        trusted_imports.leave_out(imports, path)
    return as_written_then(raw)


def recovery_advice(folder) -> str:
    """How to get a damaged config.toml back: every checkpoint holds the run's full config;
    the newest readable one's is written beside it for the user to review (config.toml
    itself is never written over: it may hold hand edits worth keeping)."""
    fix = "; restore it from a backup, or train anew into another folder (--out NEW)"
    try:
        found = folder._newest_loadable()[0]
    except _Vanished:
        found = None
    if found is None or not isinstance(found[2].get("config"), dict):
        return fix
    target = folder.path / RECOVERED_CONFIG
    try:
        target = write_recovered(folder, found[2]["config"])
        from gankit.streams import pasteable
    except Exception as e:       # a read-only folder, or a config TOML cannot hold
        return (f"; each checkpoint holds the run's full config, but writing it to {target} failed "
                f"({' '.join(str(e).split())[:120]}){fix}")
    kept = f" ({RECOVERED_CONFIG}, which differs, is kept)" if target.name != RECOVERED_CONFIG else ""
    return (f"; each checkpoint holds the run's full config: {found[1].name}'s is now in {target}{kept}; review "
            f"it, then put it in place: mv {pasteable(target)} {pasteable(folder.config_path)}")


def write_recovered(folder, config: dict):
    """``config`` (a checkpoint's) as config.toml.recovered beside config.toml, which is never
    written over: it may hold hand edits worth keeping.  Nor is a config.toml.recovered that holds
    other text: the user was asked to review it, and may have edited it; the next free name is
    taken then (.recovered.1, .2, ..., as damaged checkpoints are numbered).  Its path."""
    import tomli_w

    from gankit.config.files import without_none
    text = tomli_w.dumps(without_none(config))
    target, n = folder.path / RECOVERED_CONFIG, 0
    while os.path.lexists(target):
        try:
            if target.is_file() and target.read_bytes() == displayable(text).encode():
                return target         # offered already, as it is written: no second copy
        except OSError:      # unreadable: kept as it is too
            pass
        n += 1
        target = folder.path / f"{RECOVERED_CONFIG}.{n}"
    return write_text_atomic(target, text)
