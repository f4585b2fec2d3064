"""Files written so that a crash leaves the old file or the new one, never half of either;
and read so that damage is reported, never executed.  No gankit imports."""
from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np


TMP_SUFFIX = ".tmp"


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
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
        except json.JSONDecodeError:
            warnings.warn(f"{path}: line {i} is damaged and skipped", stacklevel=2)
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
