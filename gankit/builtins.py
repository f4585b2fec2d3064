"""The one place that loads components: gankit's own, installed plug-ins, a user's modules.

Registries hold names; nothing registers by being imported somewhere else.
``load_builtins()`` imports the modules below once (the registries call it on their
first look-up, the CLI calls it at start).  Third-party packages declare an entry point
in the group ``gankit.components`` (its value: a module to import); a user's own module
is named in the config's ``imports`` list or with ``gankit train --import MODULE``, and
is recorded in the run's config.toml so the run reopens from the command line.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from gankit.config.core import ConfigError

BUILTIN_MODULES = (
    "gankit.data.toy", "gankit.data.text", "gankit.data.oracle", "gankit.data.images",
    "gankit.nets.mlp", "gankit.nets.dcgan", "gankit.nets.sequence",
    "gankit.losses.adversarial",
    "gankit.metrics.points", "gankit.metrics.samples", "gankit.metrics.images", "gankit.metrics.text",
    "gankit.metrics.classifier_scores",
    "gankit.metrics.conditional", "gankit.metrics.inference",
    "gankit.train.gan", "gankit.train.seqgan",
    "gankit.train.vae", "gankit.train.ebm", "gankit.train.bigan", "gankit.train.ssgan",
    "gankit.train.infogan",
)
ENTRY_POINT_GROUP = "gankit.components"

_state = {"loaded": False, "loading": False}


def load_builtins() -> None:
    """Import gankit's component modules and the installed plug-ins (once)."""
    if _state["loaded"] or _state["loading"]:
        return
    _state["loading"] = True
    try:
        for name in BUILTIN_MODULES:
            importlib.import_module(name)
        from importlib.metadata import entry_points
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()
            except Exception as e:   # a broken plug-in must not stop gankit's own components
                print(f"gankit: warning: plug-in {ep.name!r} ({ep.value}) failed to load: {e}",
                      file=sys.stderr)
        _state["loaded"] = True
    finally:
        _state["loading"] = False


# a run records its imports in config.toml, and every later command imports them from there
RECORDED = ("where a run's config.toml names it (its imports = [...]) and the module moved or was "
            "renamed, edit it there")


# the sha1 of the bytes each file _import_file ran, by path: a file passed again after an edit is
# imported again
_RAN: dict[str, str] = {}


def _import_file(name: str, path: Path) -> None:
    """The file ``path`` itself as module ``name`` (the one the trust check looked at: an import
    by name would take the first ``name``.py on sys.path, e.g. one in the working directory).
    Imported once, unless its bytes changed since: then again, as a new process would (a module
    the user's own script imported counts as the file it is now: gankit cannot tell)."""
    import hashlib
    import importlib.util
    source = path.read_bytes()
    now = hashlib.sha1(source).hexdigest()
    have = sys.modules.get(name)
    if have is not None:
        here = getattr(have, "__file__", None)
        if here is None or Path(here).resolve() != path:
            raise ConfigError(f"imports: {str(path)!r} would be module {name!r}, but a module of that name from "
                              f"{here or 'elsewhere'} is already imported; rename one of the two files")
        if _RAN.setdefault(str(path), now) == now:
            return
        import warnings
        warnings.warn(f"imports: {path} changed since this process imported it; importing it again "
                      "(its components are registered anew under the same names)", stacklevel=3)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:    # the bytes read, not a .pyc of the same second and size as an edit (Python's check)
        exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)
    except BaseException:
        if have is None:
            sys.modules.pop(name, None)
        else:             # the edit failed to import: the code that ran before stays in use
            sys.modules[name] = have
        raise
    _RAN[str(path)] = now


def import_modules(names: list[str]) -> None:
    """Import a user's component modules (by module name, or a path to a .py file), at their
    word (a config they gave, --import, or a run folder's entries they trusted before): their
    code is recorded as theirs, so the run folders that name it import it later."""
    from gankit import trusted_imports
    from gankit.environment import note_user_module
    names = [n for n in names if n not in trusted_imports.LEFT_OUT]    # a run folder's, not trusted
    where = {n: trusted_imports.locate(n) for n in names}
    theirs = _given_now(where)
    trusted_imports.trust(names)
    _VOUCHED.update(w for n, w in where.items() if w and n not in theirs)
    for name in names:
        path, here = None, None
        if name.endswith(".py"):
            path = Path(name).expanduser()
            if not path.is_file():
                raise ConfigError(f"imports: {name!r} is not a file ({RECORDED})")
            path = path.resolve()
            folder, name = str(path.parent), path.stem
            if folder not in sys.path:
                sys.path.insert(0, folder)      # the module's own imports of files beside it
        else:
            _refuse_a_path(name)
            # a module found in the working directory: imported from there, as `python -m` would,
            # with the directory first on sys.path for this import (what stays after: _keep_working_dir)
            here = trusted_imports.working_dir_for(name)
            if here is not None:
                sys.path.insert(0, here)
        imported = False
        try:
            if path is None:
                importlib.import_module(name)
            else:
                _import_file(name, path)
            imported = True
        except ImportError as e:
            if e.name and e.name != name and not name.startswith(e.name + "."):   # the module ran; its import failed
                raise ConfigError(f"imports: {name!r} imports {e.name!r}, which is not installed ({e}); "
                                  f"install it (pip install ...) or remove that import") from None
            raise ConfigError(f"imports: cannot import {name!r} ({e}); put the module in the "
                              f"working directory or on PYTHONPATH ({RECORDED})") from None
        except ConfigError:
            raise
        except Exception as e:        # the user's module raised while it ran: where, in one line
            import traceback
            tb = traceback.extract_tb(e.__traceback__)
            at = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
            if isinstance(e, SyntaxError):      # the frame is importlib's; the place is the file's
                at = f" at {e.filename}:{e.lineno}"
            raise ConfigError(f"imports: importing {name!r} failed{at}: {type(e).__name__}: {e}") from None
        finally:
            if here is not None:
                _keep_working_dir(here, imported and name in theirs, imported)
        # a later ImportError raised in its file (a factory's lazy import of a helper beside it) is
        # then told as the user's, not as a broken install (environment.import_failure_line)
        note_user_module(_users_file(name, path))


# the code of run folders' entries that import_modules recorded as trusted itself (trusted_imports'
# rules let them in: the store, gankit's own, already imported): in trusted_imports' session record
# too, but no word of the user on this command line (_given_now)
_VOUCHED: set[str] = set()


def _given_now(where: dict[str, str | None]) -> set[str]:
    """The entries (-> the code each resolves to) the user gave in this process (--import, api
    imports=, a config given to train): trusted_imports.given recorded their code before this
    import, which a run folder's entry (read by eval, sample, report, resume) never is; code
    import_modules itself vouched for earlier does not count."""
    from gankit.trusted_imports import trusted_in_session
    return {n for n, w in where.items() if w and trusted_in_session(w) and w not in _VOUCHED}


def _users_file(name: str, path: Path | None) -> str | None:
    """The file of module ``name``, just imported, where it is the user's own: given as a path, or
    found in the working directory (a package there: the file within it); None for an installed one."""
    file = getattr(sys.modules.get(name), "__file__", None)
    if file is None or path is not None:
        return file
    try:
        top, where = Path.cwd().resolve() / name.split(".")[0], Path(file).resolve()
    except OSError:           # the working directory was removed
        return None
    return file if where == top.with_name(top.name + ".py") or where.is_relative_to(top) else None


def _keep_working_dir(here: str, given: bool, imported: bool) -> None:
    """The working directory ``here``, put first on sys.path for one import of a module found in
    it, after that import.  The user's own word (``given``): it stays first, as with ``python -m``
    (the module's lazy imports of files beside it, e.g. in a factory, find them).  A run folder's
    entry: moved to the end, so a later import of anything installed (a lazy ``import tomli_w``,
    torch's sympy) still takes the installed one, never a namesake in the folder gankit runs in.
    Safe to keep there at all: that entry was imported only because trusted_imports found its file
    in this directory and the user imported that very file before, so this is a folder they chose
    to import code from and its other files are theirs; only names found nowhere else (the
    module's own helpers) reach it.  A failed import leaves no trace on sys.path."""
    while here in sys.path:
        sys.path.remove(here)
    if imported:
        if given:
            sys.path.insert(0, here)
        else:
            sys.path.append(here)


def _refuse_a_path(name: str) -> None:
    """A path without .py (``--import mods/parts``, ``mods/``) named as a module: said so, with
    what to give instead (the import would say "No module named 'mods/'", or fail inside importlib
    on the leading dot of ``../parts``)."""
    if "/" not in name and os.sep not in name and not name.startswith("."):
        return
    bare = Path(name.rstrip("/" + os.sep)).expanduser()
    if bare.name and bare.with_name(bare.name + ".py").is_file():
        fix = f"give the file itself: {str(bare)}.py"
    elif bare.is_dir():
        fix = (f"give one of its .py files ({str(bare)}{os.sep}FILE.py), or a package's name with the folder "
               "that holds the package on PYTHONPATH")
    else:
        fix = ("give a .py file's path (ending in .py) or a module name (found in the working directory "
               "or on PYTHONPATH)")
    raise ConfigError(f"imports: {name!r} looks like a path, not a module name: {fix}")
