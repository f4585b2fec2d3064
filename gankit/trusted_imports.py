"""Which of a run folder's ``imports`` gankit may import: code this user imported before.

A run's config.toml records the modules that registered its components, so that eval, sample,
report and --resume can import them again.  A folder may come from someone else, and importing
a module runs it; so a folder's entries are imported only where the same code (the file or
package an entry resolves to, found without running it) was imported before by this user: named
in a config they gave to ``gankit train`` or with ``gankit --import``, which record it in
``trusted_imports.txt`` under $GANKIT_CONFIG_DIR (default ~/.config/gankit).  The others are
left out with a warning that names ``--import``, the user's explicit yes.  gankit's own modules
(found inside the installed package) are gankit's code; an entry that cannot be located, and any
``__main__`` (a program's command line), is left out too: "nothing found" is no proof that
nothing runs.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
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
    """Where a module name is looked for: sys.path, and the working directory first as
    gankit.builtins.import_modules adds it for a module found there (as ``python -m`` would)."""
    here = str(Path.cwd())
    return sys.path if "" in sys.path or here in sys.path else [here, *sys.path]


def _top(entry: str) -> str | None:
    """The top-level module a name imports first; None for a path or a relative name, which
    no import by name finds."""
    top = entry.split(".")[0]
    return None if not top or "/" in entry or os.sep in entry else top


def working_dir_for(entry: str) -> str | None:
    """The working directory where module name ``entry`` is found in it and sys.path lacks it
    (None otherwise): the import takes the code located there with the directory on sys.path for
    it alone, so no later import (a lazy ``import tomli_w``) takes a namesake from the folder
    gankit runs in."""
    here = str(Path.cwd())
    top = None if entry.endswith(".py") or "" in sys.path or here in sys.path else _top(entry)
    try:
        return here if top and importlib.machinery.PathFinder.find_spec(top, [here]) else None
    except (ImportError, ValueError, OSError):
        return None


def locate(entry: str) -> str | None:
    """Where an ``imports`` entry's code lives (a .py path, or a module name's top-level file or
    package folder), found without importing anything; None where nothing is found."""
    if entry.endswith(".py"):
        path = Path(entry)
        return str(path.resolve()) if path.is_file() else None
    top = _top(entry)
    if top is None:
        return None
    if top in sys.builtin_module_names:
        return f"builtin:{top}"
    try:
        spec = importlib.machinery.PathFinder.find_spec(top, search_path())
        if spec is None:    # a finder of an installed package (an editable install: gankit's own)
            spec = importlib.util.find_spec(top)
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


# the code this process imported at the user's word (also where the store cannot be written),
# and the entries of run folders it leaves out (gankit.builtins.import_modules skips them)
_SESSION: set[str] = set()
LEFT_OUT: set[str] = set()
_UNRECORDED: set[str] = set()


def trust(entries: list[str]) -> None:
    """Record the code of ``entries`` (imported at the user's word) as theirs: one line each,
    appended (processes started together each add theirs).  A store that cannot be written is
    said once: this process still trusts them, later ones will ask for --import."""
    found = {where for where in map(locate, entries) if where}
    _SESSION.update(found)
    new = found - _read()
    path = store_path()
    if not new or path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)    # a link (dotfiles) is the user's
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in sorted(new)))
    except OSError as e:
        if not _UNRECORDED:
            import warnings
            warnings.warn(f"could not record the imported code {', '.join(sorted(new))} in {path} "
                          f"({e.strerror or e}): later commands on runs that name it will ask for --import "
                          f"(set {CONFIG_ENV} to a writable folder)", stacklevel=3)
        _UNRECORDED.update(new)


def trusted_in_session(where: str) -> bool:
    """Whether this process recorded the code at ``where`` (a resolved file or module origin) as
    trusted: the user's word on this command line, or an entry import_modules let in."""
    return where in _SESSION


def given(entries: list[str]) -> None:
    """The user's own word for ``entries`` (``--import``, a config they gave to train): trusted,
    also where a run folder read earlier in this process had them left out."""
    LEFT_OUT.difference_update(entries)
    trust(entries)


def _imported_here(entry: str, where: str) -> bool:
    """Whether this process already runs the code ``entry`` resolves to (a script that imported
    its module before opening a run): importing it again runs nothing new.  A module name counts
    under its full name only: numpy loaded is no licence to import numpy.f2py.__main__."""
    if not entry.endswith(".py"):
        return entry in sys.modules
    origin = getattr(sys.modules.get(Path(entry).stem), "__file__", None)
    try:
        return origin is not None and str(Path(origin).resolve()) == where
    except OSError:
        return False


_OWN = Path(__file__).resolve().parent       # gankit's package folder: its modules are gankit's code


def _is_main(entry: str) -> bool:
    """A program's command line (``python -m pkg``'s code): importing it runs that program."""
    return (Path(entry).stem if entry.endswith(".py") else entry.split(".")[-1]) == "__main__"


def _may_import(entry: str, known: set[str]) -> bool:
    if _is_main(entry):
        return False
    where = locate(entry)
    return where is not None and (where in known or Path(where).is_relative_to(_OWN)
                                  or _imported_here(entry, where))


def _where_said(entry: str, known: set[str]) -> str:
    """An entry left out, with the code it names here and the user's own namesake (if any)."""
    where = locate(entry)
    stem = Path(where).parent.name if where.endswith("__init__.py") else Path(where).stem
    yours = sorted(k for k in known if Path(k).stem == stem or Path(k).parent.name == stem)
    return f"{entry!r} (here {where}" + (f", not the {yours[0]} you imported before" if yours else "") + ")"


def untrusted(entries: list[str]) -> list[str]:
    """The entries whose code this user never imported with gankit, or that cannot be located
    (what the import would find is then unknown)."""
    known = _read() | _SESSION
    return [e for e in entries if not _may_import(e, known)]


def leave_out(entries: list[str], named_in) -> list[str]:
    """The untrusted ``entries`` a run folder's file ``named_in`` lists, left out of every
    import in this process (said once each); the folder's own record of them is not changed."""
    left = untrusted(entries)
    new = [e for e in left if e not in LEFT_OUT]
    LEFT_OUT.difference_update(entries)
    LEFT_OUT.update(left)
    if not new:
        return left
    import warnings

    from gankit.streams import pasteable
    mains = [e for e in new if _is_main(e)]
    lost = [e for e in new if e not in mains and locate(e) is None]
    if mains:
        warnings.warn(f"{named_in} names imports {', '.join(map(repr, mains))}: a program's command line "
                      "(__main__), which would run in place of this command; never imported from a run "
                      "folder (remove it from that list)", stacklevel=3)
    if lost:
        warnings.warn(f"{named_in} names imports {', '.join(map(repr, lost))}, found nowhere here (moved, not "
                      "installed, not on PYTHONPATH, or not a module name), so not imported (components they "
                      "register are unknown); where the code is elsewhere: gankit --import FILE.py COMMAND ...",
                      stacklevel=3)
    new = [e for e in new if e not in mains and e not in lost]
    if new:
        known = _read() | _SESSION
        said = ", ".join(_where_said(e, known) for e in new)
        sets = " ".join(f"--import {pasteable(locate(e) if e.endswith('.py') else e)}" for e in new)
        warnings.warn(f"{named_in} names imports {said}: code that runs when imported and that you have "
                      f"not imported with gankit before, so not imported (components they register are unknown); "
                      f"if you trust that file: gankit {sets} COMMAND ... (in Python: import it first)",
                      stacklevel=3)
    return left
