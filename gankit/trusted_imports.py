"""Which of a run folder's ``imports`` gankit may import: code this user imported before.

A run's config.toml records the modules that registered its components, so that eval, sample,
report and --resume can import them again.  A folder may come from someone else, and importing
a module runs it; so a folder's entries are imported only where the same code (the file or
package an entry resolves to, found without running it) was imported before by this user: named
in a config they gave to ``gankit train`` or with ``gankit --import``, which record it in
``trusted_imports.txt`` under $GANKIT_CONFIG_DIR (default ~/.config/gankit).  The others are
left out with a warning that names ``--import``, the user's explicit yes.
"""
from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path

from gankit.io import write_text_atomic

CONFIG_ENV = "GANKIT_CONFIG_DIR"
STORE = "trusted_imports.txt"


def store_path() -> Path | None:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]) / STORE
    base = os.environ.get("XDG_CONFIG_HOME")
    if not base:
        try:
            base = str(Path.home() / ".config")
        except RuntimeError:          # no home folder: nothing is recorded, --import still works
            return None
    return Path(base) / "gankit" / STORE


def search_path() -> list[str]:
    """Where a module name is looked for: sys.path, and the working directory as
    gankit.builtins.import_modules adds it (as ``python -m`` would)."""
    here = str(Path.cwd())
    return sys.path if "" in sys.path or here in sys.path else [here, *sys.path]


def locate(entry: str) -> str | None:
    """Where an ``imports`` entry's code lives (a .py path, or a module name's top-level file or
    package folder), found without importing anything; None where nothing is found."""
    if entry.endswith(".py"):
        path = Path(entry)
        return str(path.resolve()) if path.is_file() else None
    top = entry.split(".")[0]
    if not top.isidentifier():
        return None
    if top in sys.builtin_module_names:
        return f"builtin:{top}"
    try:
        spec = importlib.machinery.PathFinder.find_spec(top, search_path())
    except (ImportError, ValueError, OSError):
        return None
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        return str(Path(spec.origin).resolve())
    where = list(spec.submodule_search_locations or [])
    return str(Path(where[0]).resolve()) if where else None


def _read() -> set[str]:
    path = store_path()
    try:
        return set(path.read_text(encoding="utf-8").splitlines()) if path else set()
    except (OSError, UnicodeDecodeError):
        return set()


def trust(entries: list[str]) -> None:
    """Record the code of ``entries`` (imported at the user's word) as theirs.  A store that
    cannot be written is no failure: the folder's later readers then ask for --import."""
    found = {where for where in map(locate, entries) if where}
    known = _read()
    if found <= known:
        return
    path = store_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, "".join(f"{line}\n" for line in sorted(known | found)))
    except OSError:
        pass


def untrusted(entries: list[str]) -> list[str]:
    """The entries whose code this user never imported with gankit (an entry that resolves to
    nothing runs nothing: it stays, and its import says it cannot be found)."""
    known = _read()
    return [e for e in entries if (where := locate(e)) is not None and where not in known]
