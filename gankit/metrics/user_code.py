"""A user's metrics and datasets in the reference row's cache key, by the code that runs.

A user's metric or dataset (a notebook cell, an --import) counts by its code objects, through the
functions, classes and plain values they name (globals, closures, defaults), never the file on
disk (an edited file need not be the code imported).  What cannot be read as code or value (a
library object, whose repr need not show its state) is keyed by this process alone: a row
measured again is safe, another code's row is not.  Apart from reference.py, which keys the
rows and keeps them, since following code is a concern of its own.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np
import torch

_PROCESS = os.urandom(8).hex()
_OPAQUE: dict[int, object] = {}     # kept alive, so that an id never names another object later
LARGE = 1_000_000                   # elements of an array a checkpoint's record keys by its shape


@functools.lru_cache(maxsize=None)
def _library_dirs() -> tuple[str, ...]:
    import site
    import sysconfig
    dirs = {p for k, p in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(getattr(site, "getsitepackages", list)() + [site.getusersitepackages()])
    return tuple(str(Path(d).resolve()) + os.sep for d in dirs)


def _users(module) -> bool:
    """Whether the code of ``module`` (a name) is the user's, so followed: not gankit's (in
    ``_code_hash``), nor the standard library's or an installed package's (named with its version)."""
    from gankit.registry import is_gankit
    if not module or module == "__main__":
        return True
    if is_gankit(module) or module in sys.builtin_module_names:
        return False
    path = getattr(sys.modules.get(module), "__file__", None)
    return path is None or not str(Path(path).resolve()).startswith(_library_dirs())


def _version(module) -> str:
    """A library's version where its package tells it (an upgrade may change what it computes)."""
    v = getattr(sys.modules.get(str(module).split(".")[0]), "__version__", None)
    return f"@{v}" if isinstance(v, str) else ""


def _names(code: types.CodeType) -> set[str]:
    """Every global or attribute name ``code`` and the code nested in it read."""
    return set(code.co_names).union(*(_names(k) for k in code.co_consts if isinstance(k, types.CodeType)))


# callables made of others: the parts that say what they run
_WRAPPERS = {types.MethodType: ("__func__", "__self__"), functools.partial: ("func", "args", "keywords"),
             staticmethod: ("__func__",), classmethod: ("__func__",), property: ("fget", "fset")}


class _Digest:
    """sha1 of a value as it runs: code objects, the user's functions and classes, plain values."""

    def __init__(self, module: str, versioned: bool = True):
        self.memo: dict[int, tuple[object, str]] = {}    # the object kept: its id stays its own
        self.opaque = False
        self.own = module.split(".")[0]     # the registering package: followed, also where installed
        self.versioned = versioned          # False: a library's parts by name alone (trained_code)

    def version(self, module) -> str:
        return _version(module) if self.versioned else ""

    def users(self, module) -> bool:
        from gankit.registry import is_gankit
        return _users(module) or (str(module).split(".")[0] == self.own and not is_gankit(self.own))

    def __call__(self, v) -> str:
        if id(v) not in self.memo:
            self.memo[id(v)] = (v, "cycle")              # a function that calls itself
            self.memo[id(v)] = (v, hashlib.sha1(self._text(v).encode("utf-8", "surrogateescape")).hexdigest())
        return self.memo[id(v)][1]

    def opaque_key(self, v) -> str:
        """An object whose state cannot be read (a library's random generator): named by its type,
        the same in every process, so records of unchanged code stay comparable; the flag keeps
        a row keyed so off the disk cache, where another state's row would be a wrong hit."""
        self.opaque = True
        t = type(v)
        return f"opaque:{t.__module__}.{t.__qualname__}{self.version(t.__module__)}"

    def _text(self, v) -> str:
        t = type(v)
        if v is None or t in (bool, int, float, complex, str, bytes, torch.dtype, torch.device):
            return f"{t.__name__}:{v!r}"
        if t in (tuple, list, set, frozenset):
            parts = [self(e) for e in v]
            return f"{t.__name__}:" + ",".join(sorted(parts) if t in (set, frozenset) else parts)
        if t is dict:
            return "dict:" + ",".join(sorted(f"{self(k)}={self(x)}" for k, x in v.items()))
        if isinstance(v, types.CodeType):    # not its file name and lines: a cell run again is the same code
            return "code:" + "|".join([v.co_code.hex(), self(v.co_consts), repr(v.co_names), repr(v.co_varnames),
                                       repr(v.co_freevars), repr(v.co_cellvars), v.co_exceptiontable.hex(),
                                       f"{v.co_argcount},{v.co_posonlyargcount},{v.co_kwonlyargcount},{v.co_flags}"])
        if isinstance(v, types.FunctionType):
            return self._function(v)
        if isinstance(v, type):
            return self._class(v)
        if isinstance(v, types.ModuleType):   # the attributes it reads: with the function's names
            return f"module:{v.__name__}"
        for kind, fields in _WRAPPERS.items():
            if isinstance(v, kind):
                return f"{kind.__name__}:" + ":".join(self(getattr(v, f)) for f in fields)
        if isinstance(v, (torch.Tensor, np.ndarray)):
            if not self.versioned and (v.numel() if isinstance(v, torch.Tensor) else v.size) > LARGE:
                # a checkpoint's record (hashed at every Run): a large array a part reads (a memory
                # map of data larger than RAM) by its shape; the data's own digest covers the data
                return f"{t.__name__}:{tuple(v.shape)}:{v.dtype}"
            from gankit.metrics.feature_nets import tensor_hash
            return f"{t.__name__}:{tensor_hash(v)}"
        if isinstance(v, (types.BuiltinFunctionType, np.ufunc)) and \
                isinstance(getattr(v, "__self__", None), (types.ModuleType, type(None))):
            return f"builtin:{getattr(v, '__module__', None)}.{v.__name__}"
        if self.users(t.__module__) and isinstance(getattr(v, "__dict__", None), dict):
            return f"object:{self(t)}:{self(vars(v))}"
        return self.opaque_key(v)

    def _function(self, f) -> str:
        if not self.users(f.__module__):
            return f"function:{f.__module__}.{f.__qualname__}{self.version(f.__module__)}"
        names = _names(f.__code__)
        used = {n: f.__globals__[n] for n in names if n in f.__globals__}
        # a module the code imports when it runs (a factory's lazy `import helpers`): a local name
        # then, found in sys.modules once imported; the user's own is followed as a global one is
        lazy = [sys.modules[n] for n in names - set(used) if n in sys.modules and self.users(n)]
        todo, seen = [v for v in used.values() if isinstance(v, types.ModuleType)] + lazy, set()
        while todo:         # helper.fn(x), pkg.sub.fn(x): the user's modules' attributes it names
            mod = todo.pop()
            if id(mod) not in seen and self.users(mod.__name__):
                seen.add(id(mod))
                for n in names & set(vars(mod)):
                    x = used[f"{mod.__name__}.{n}"] = vars(mod)[n]
                    todo += [x] if isinstance(x, types.ModuleType) else []
        cells = []
        for c in f.__closure__ or ():
            try:
                cells.append(c.cell_contents)
            except ValueError:       # a cell not yet filled
                cells.append("<empty cell>")
        return f"function:{self([f.__code__, used, cells, f.__defaults__, f.__kwdefaults__])}"

    def _class(self, cls) -> str:
        if not self.users(cls.__module__):
            return f"class:{cls.__module__}.{cls.__qualname__}{self.version(cls.__module__)}"
        # its methods and class attributes; of the dunder entries only methods (the others are
        # Python's bookkeeping: __dict__, __weakref__, dataclass fields), and no ABC cache
        body = {k: v for k, v in vars(cls).items() if k != "_abc_impl" and not (
            k.startswith("__") and k.endswith("__") and not isinstance(
                v, (types.FunctionType, staticmethod, classmethod, property)))}
        return f"class:{cls.__qualname__}:{self(list(cls.__bases__))}:{self(body)}"


def _user_code(names: list[str] | None = None, data: str | None = None) -> tuple[dict[str, str], bool]:
    """({"metric NAME" or "dataset NAME": sha1 of its code} of the metrics ``names`` (default all)
    and the dataset ``data`` (default all) registered outside gankit, whether some of that code
    could be keyed for this process alone)."""
    from gankit.registry import DATASETS, METRICS, is_gankit
    parts, opaque = {}, False
    for reg, wanted in ((METRICS, names), (DATASETS, [data] if data else None)):
        for e in reg.entries():
            if is_gankit(e.module) or (wanted and e.name not in wanted):
                continue
            runs = e.factory
            if reg is METRICS:     # the factory returns its Metric, whose fn is the user's function
                m = e.factory()
                applies = getattr(m, "applies", None)      # a user's is wrapped (_UserApplies)
                runs = (getattr(m, "fn", m), getattr(applies, "fn", applies))
            parts[f"{reg.kind} {e.name}"], unread = _entry_code(e, runs)
            opaque |= unread
    return parts, opaque


def _entry_code(e, runs, versioned: bool = True) -> tuple[str | None, bool]:
    """(sha1 of what a registered entry runs, whether some of it was keyed for this process alone).
    ``versioned`` False (trained_code's record in a checkpoint): the libraries' parts named without
    their versions and the interpreter by its bytecode format, so an upgrade of gankit, torch or
    Python's patch release is no other code; None where the code cannot be read (another process
    could not compare a key of this one)."""
    digest = _Digest(e.module, versioned)     # one each: an entry's digest never depends on the others asked
    try:
        code = digest(runs)
    except Exception:      # code that fails to be read: a key of this process alone
        if not versioned:
            return None, True
        digest.opaque = True
        _OPAQUE.setdefault(id(runs), runs)
        code = f"unreadable:{_PROCESS}:{id(runs)}"
    python = sys.version if versioned else BYTECODE
    # bytecode is the interpreter's; a checkpoint's record leaves the module's name out: the file
    # run as a script (__main__) and imported with --import is the same code
    code = f"{python}\0{e.module if versioned else ''}\0{code}"
    return hashlib.sha1(code.encode("utf-8", "surrogateescape")).hexdigest(), digest.opaque


# the interpreter's bytecode format: the same code hashes alike only under the same one
BYTECODE = importlib.util.MAGIC_NUMBER.hex()


def trained_code(cfg: dict, versioned: bool = True) -> dict[str, str]:
    """{"KIND NAME": sha1 of its code} of the user's own parts a config trains with (nets,
    losses, an objective, a dataset): named by any ``name`` in its tables and registered outside
    gankit.  An edited one trains other numbers from the same config (a sweep's results; a run's
    checkpoints, ``versioned`` False: see _entry_code)."""
    from gankit.registry import METRICS, NETS, REGISTRIES, is_gankit

    def names(t) -> set[str]:
        if not isinstance(t, dict):
            return set()
        own = {t["name"]} if isinstance(t.get("name"), str) else set()
        return own.union(*(names(v) for v in t.values()))
    used = names(cfg)
    entry_code = _entry_code if versioned else _recorded_code
    codes = {f"{reg.kind} {e.name}": entry_code(e, e.factory)[0]
             for reg in (*REGISTRIES.values(), NETS) if reg is not METRICS
             for e in reg.entries() if e.name in used and not is_gankit(e.module)}
    return {k: v for k, v in codes.items() if v is not None}


# a checkpoint's record of each registered factory, hashed once per process (the factory kept
# alive, so its id names no other later): a global its code reads that changes while it trains
# (a counter of draws) is no other code for the next Run of this process; a cell run again
# registers a new factory, hashed anew
_RECORDED: dict[int, tuple[object, tuple[str | None, bool]]] = {}


def _recorded_code(e, runs) -> tuple[str | None, bool]:
    if id(runs) not in _RECORDED:
        _RECORDED[id(runs)] = (runs, _entry_code(e, runs, versioned=False))
    return _RECORDED[id(runs)][1]


def code_record(cfg: dict) -> dict:
    """What each checkpoint records of the user's own parts its run trains with (``trained_code``
    without versions, and the bytecode format it was hashed under); {} for gankit's own parts."""
    parts = trained_code(cfg, versioned=False)
    return {"trained_code": parts, "trained_code_bytecode": BYTECODE} if parts else {}


def changed_code(state: dict, now: dict) -> list[str]:
    """The parts ("dataset 'hexagon'") whose code differs between a checkpoint's ``code_record``
    (any shape: a damaged one names none) and ``now``'s.  A part only one of them names is not
    compared (one not registered now is refused by its build), nor is any under another Python's
    bytecode (all of it differs there)."""
    was, parts = state.get("trained_code"), now.get("trained_code") or {}
    if not isinstance(was, dict) or state.get("trained_code_bytecode", BYTECODE) != BYTECODE:
        return []
    return [f"{k.split(' ', 1)[0]} {k.split(' ', 1)[1]!r}" for k, v in was.items()
            if isinstance(k, str) and k in parts and isinstance(v, str) and v != parts[k]]


def changed_since_training(run_dir, cfg: dict) -> list[str]:
    """``changed_code`` of the newest readable checkpoint of ``run_dir`` against the parts
    registered now, for a command that reads the run without loading it (gankit report); a run of
    gankit's own parts reads no checkpoint."""
    now = code_record(cfg)
    if not now:
        return []
    from gankit.runfolder import RunFolder
    from gankit.runfolder.checkpoint_read import load_mapped
    for _, path in reversed(RunFolder(run_dir).checkpoints()):
        try:
            state = load_mapped(path)
        except Exception:       # damaged or being written: the one before
            continue
        return changed_code(state, now) if isinstance(state, dict) else []
    return []


class CodeChanged(UserWarning):
    """A run read (eval, sample, report) with other code registered under one of its parts' names."""


def code_changed_line(changed: list[str], write: bool) -> str:
    """The refusal (``write``: a resume) or warning for the parts ``changed_code`` names."""
    names = " and ".join([", ".join(changed[:-1]), changed[-1]] if len(changed) > 1 else changed)
    runs, it = ("runs", "it") if len(changed) == 1 else ("run", "them")
    if write:
        return (f"{names} {runs} other code than when this run was trained: the steps from here train "
                f"with the code registered now; restore {it} to continue the run as trained, or train a new run")
    return (f"{names} {runs} other code than when this run was trained: what is measured or drawn now "
            f"comes from the code registered now; restore {it} to read the run as trained")


def user_code(names: list[str] | None = None, data: str | None = None) -> dict[str, str]:
    """The user's metrics and dataset a reference row is measured with (``_user_code``), as its
    record keeps them: {} where there are none."""
    return _user_code(names, data)[0]


def _user_code_hash(names: list[str] | None = None, data: str | None = None) -> str:
    """sha1 of ``user_code``: fixing a user's metric must measure its reference row again."""
    return _hash_of(user_code(names, data))


def _hash_of(parts: dict[str, str]) -> str:
    return hashlib.sha1("".join(f"{k}\0{v}\0" for k, v in sorted(parts.items())).encode()).hexdigest()
