"""The stamp of gankit's metrics code: a sha1 of the code (not the text) of gankit.metrics,
gankit.data, the modules they read streams and operators from and the compiled kernels.  Every
eval record carries it (reference.metrics_code) and the reference row's cache key holds it, so a
change to how a number is measured sets the numbers apart in ``gankit compare``, and a change of
words alone (a warning, a docstring, a comment) does not."""
from __future__ import annotations

import ast
import functools
import hashlib
import os
import stat
import sys
from collections import Counter
from pathlib import Path

_SOURCES = ("metrics", "data")


def code_hash(root: Path | None = None) -> str:
    """sha1 of the code (``_code_of``) of gankit.metrics, gankit.data, the modules they read streams
    and operators from and the compiled kernels, under ``root`` (this gankit by default): any change
    to how a row is measured makes a new key, a change of words alone does not."""
    root = Path(__file__).resolve().parent.parent if root is None else Path(root)
    files = [f for d in _SOURCES for f in sorted((root / d).glob("*.py"))]
    # recon_error measures through latent inversion, which lives with training
    sources = [(f.name, f.read_bytes()) for f in files + [
        root / "ops.py", root / "seeds.py", root / "train" / "inversion.py", *sorted(root.glob("*_numba.py"))]]
    # parsing ~45 files costs 0.2-0.5 s, in every process that evaluates: kept on disk by the
    # files' bytes (1.5 ms to hash), so each version of the sources is parsed once per machine
    # (and by the Python that parses them: its syntax tree may differ)
    text = hashlib.sha1(sys.version.encode() + b"".join(n.encode() + b"\0" + b + b"\0" for n, b in sources)).hexdigest()
    from gankit.io import cache_folder, write_text_atomic
    folder = cache_folder("code_stamp")
    kept = folder / f"{text}.txt" if folder is not None else None
    said = _read_stamp(kept) if kept is not None else None
    if said is not None:
        return said
    h = hashlib.sha1()
    for name, b in sources:
        h.update(name.encode() + b"\0" + _code_of(b) + b"\0")
    stamp = h.hexdigest()
    if kept is not None:
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(kept, stamp + "\n")
        except OSError:      # a cache only saves time
            pass
    return stamp


def _read_stamp(kept: Path) -> str | None:
    """The stamp kept in ``kept``, or None when it is missing or damaged (then it is measured again
    and rewritten).  Only a regular file is read, and only its first bytes: a FIFO left in its place
    would block the read forever, a link to /dev/zero would read without end, and undecodable bytes
    raised UnicodeDecodeError out of every evaluation."""
    try:
        if not stat.S_ISREG(os.stat(kept).st_mode):
            return None
        # O_NONBLOCK: a FIFO swapped in between the stat and the open must not block the open
        fd = os.open(kept, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            said = os.read(fd, 256).decode("ascii").strip()
        finally:
            os.close(fd)
    except (OSError, ValueError):     # UnicodeDecodeError is a ValueError
        return None
    return said if len(said) == 40 and all(c in "0123456789abcdef" for c in said) else None


@functools.lru_cache(maxsize=256)   # parsed once per process (metrics_code, then a reference row's key)
def _code_of(source: bytes) -> bytes:
    """A file's syntax tree less its words: docstrings, comments, the messages of warnings.warn and
    of raised exceptions and the local strings only they read.  No number depends on them, and a
    hash of the text made a reworded warning refuse every earlier run in ``gankit compare``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source      # cannot be the code that runs; its bytes still tell it apart
    for n in ast.walk(tree):
        call = n.exc if isinstance(n, ast.Raise) else n.value if isinstance(n, ast.Expr) else None
        warn = isinstance(call, ast.Call) and getattr(call.func, "attr", getattr(call.func, "id", "")) == "warn" \
            and ast.unparse(call.func) in ("warnings.warn", "warn")
        if warn or isinstance(n, ast.Raise) and isinstance(call, ast.Call):
            # the message is the first argument (a raise's where it is text or a name); the category,
            # stacklevel, the exception's class and its other arguments (n_needed) stay
            if call.args and (warn or _is_text(call.args[0]) or isinstance(call.args[0], ast.Name)):
                call.args = call.args[1:]
            call.keywords = [k for k in call.keywords if k.arg not in ("message", "msg")]
        for f in _LISTS:   # docstrings, and any other string standing as a statement
            if isinstance(getattr(n, f, None), list):
                setattr(n, f, [s for s in getattr(n, f) if not (isinstance(s, ast.Expr) and isinstance(
                    s.value, ast.Constant) and isinstance(s.value.value, str))])
    for fn in _outer_functions(tree):   # then a local string nothing reads any more (a message's part)
        reads, kept, texts = Counter(), set(), []
        for n in ast.walk(fn):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store):
                reads[n.id] += 1
            kept.update(n.names if isinstance(n, (ast.Global, ast.Nonlocal)) else ())
            texts += [(n, s) for f in _LISTS if not isinstance(n, ast.ClassDef) and isinstance(getattr(n, f, None), list)
                      for s in getattr(n, f) if isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and _is_text(s.value)]
        dead: set[int] = set()
        while new := [s for _, s in texts if id(s) not in dead and all(isinstance(t, ast.Name) and t.id not in kept and
                      reads[t.id] <= 0 for t in (s.targets if isinstance(s, ast.Assign) else [s.target]))]:
            dead.update(map(id, new))
            reads.subtract(m.id for s in new for m in ast.walk(s.value) if isinstance(m, ast.Name))
        for n, _ in texts:
            for f in _LISTS:
                if isinstance(getattr(n, f, None), list):
                    setattr(n, f, [s for s in getattr(n, f) if id(s) not in dead])
    return _dump(tree).encode()


_LISTS = ("body", "orelse", "finalbody")


def _outer_functions(node):
    """The functions not inside another function: a nested one's locals are read with its outer's."""
    for c in ast.iter_child_nodes(node):
        yield from [c] if isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef)) else _outer_functions(c)


def _is_text(e) -> bool:
    """Whether an expression makes a str: a literal, an f-string, their +, % or .format/.join, a choice of two."""
    t = type(e)
    return (t is ast.JoinedStr or t is ast.Constant and isinstance(e.value, str)
            or t is ast.BinOp and (isinstance(e.op, ast.Add) and (_is_text(e.left) or _is_text(e.right))
                                   or isinstance(e.op, ast.Mod) and _is_text(e.left))
            or t is ast.IfExp and _is_text(e.body) and _is_text(e.orelse)
            or t is ast.Call and isinstance(e.func, ast.Attribute) and e.func.attr in ("format", "join")
            and _is_text(e.func.value))


def _dump(node) -> str:
    """``ast.dump`` without empty fields: its text differs between Pythons (3.13 leaves out what 3.12
    shows, 3.12 added type_params), and another Python is no new code."""
    if isinstance(node, list):
        return "[" + ",".join(map(_dump, node)) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    return type(node).__name__ + "(" + ",".join(
        f"{k}={_dump(v)}" for k, v in ast.iter_fields(node) if v is not None and v != []) + ")"
