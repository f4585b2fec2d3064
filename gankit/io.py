"""Files written so that a crash leaves the old file or the new one, never half of either;
and read so that damage is reported, never executed.  No gankit imports."""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np


TMP_SUFFIX = ".tmp"


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        os.chmod(tmp, 0o666 & ~_umask())    # mkstemp's 0600 would hide reports and runs from colleagues
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    """The process's umask (the mode a plain open() would give new files)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_atomic(obj, path: str | Path) -> Path:
    """torch.save to ``path`` atomically (temp file, fsync, rename)."""
    import torch
    return _atomic(Path(path), lambda f: torch.save(obj, f))


def write_text_atomic(path: str | Path, text: str) -> Path:
    return _atomic(Path(path), lambda f: f.write(text.encode()))


def save_npz_atomic(path: str | Path, arrays: dict) -> Path:
    return _atomic(Path(path), lambda f: np.savez_compressed(f, **arrays))


def jsonable(d: dict) -> dict:
    """Plain JSON values: numpy scalars to Python, non-finite floats to null / "inf"."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        out[k] = v
    return out


INF_STRINGS = {"inf": math.inf, "-inf": -math.inf}   # how jsonable writes infinities


def unjsonable(d: dict) -> dict:
    """jsonable's inverse for numbers: "inf" / "-inf" back to infinities, null back to NaN (a
    record reused in place of a measurement then reads as the measurement did)."""
    back = {**INF_STRINGS, None: math.nan}
    return {k: back[v] if (v is None or isinstance(v, str)) and v in back else v for k, v in d.items()}


def append_jsonl(path: str | Path, record: dict):
    """Append one record as one line.  After a torn write (a full disk, a kill) the file ends
    mid-line; the record then starts on a fresh line, so only the torn one is lost."""
    line = json.dumps(jsonable(record)) + "\n"
    with open(path, "ab+") as f:
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line
        f.write(line.encode())


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSONL file; a damaged line (a torn write at a full disk or a kill)
    is skipped with a warning naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):     # JSONDecodeError, or nesting too deep to parse
            warnings.warn(f"{path}: line {i} is damaged and skipped", stacklevel=2)
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


# ------------------------------------------------------------------ one writer per folder

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

# run folders this process holds the lock of: resolved path -> [fd, holders].  flock locks
# belong to an open file, so two opens in one process would block each other; a process
# takes the lock once and shares it between its RunFolder objects.
_HELD: dict[Path, list] = {}


def lock_file(path: Path) -> tuple[Path | None, str]:
    """Take an exclusive flock on ``path`` for this process (shared by its callers): (key for
    ``release_lock``, ""), or (None, the holder's PID as written in the file) when another
    process holds it.  A killed holder's lock is dropped by the kernel."""
    key = Path(path).resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        return key, ""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        return None, pid
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = [fd, 1]
    return key, ""


def lock_holder(path: Path) -> str | None:
    """The PID of another process holding the lock ``lock_file`` takes on ``path``, else None
    (free, missing, or held by this process).  Probes with a shared lock: writes nothing."""
    path = Path(path)
    if path.resolve() in _HELD or not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)             # closing drops a shared lock we took
    return None


def release_lock(key: Path):
    """Drop this process's hold of a lock taken by ``lock_file``."""
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] <= 0:
        del _HELD[key]
        try:
            os.ftruncate(held[0], 0)
        except OSError:
            pass
        os.close(held[0])   # closing the file drops the flock


def disk_full_cause(e: BaseException | None) -> bool:
    """Whether a full disk caused ``e``: torch.save reports ENOSPC as a RuntimeError of its zip
    writer, with the OSError as its context."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in DISK_FULL:
            return True
        e = e.__cause__ or e.__context__
    return False


def intact(path: Path) -> bool:
    """Whether a checkpoint file is whole: torch writes a zip archive whose directory sits at
    the end, so a truncated or empty file has none (cheap: no tensors are read)."""
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
