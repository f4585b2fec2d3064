"""Atomic checkpoints: write a temp file, fsync, rename; load without running code."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import torch

PATTERN = re.compile(r"step_(\d+)\.pt$")


def save_atomic(obj, path: str | Path) -> Path:
    """torch.save to ``path`` so that a crash leaves either the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def list_checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PATTERN.search(p.name))]
    return sorted(found)


def save_checkpoint(obj, folder: str | Path, step: int, keep: int) -> Path:
    path = save_atomic(obj, Path(folder) / f"step_{step:08d}.pt")
    for _, old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    return torch.load(path, map_location=map_location, weights_only=True)


def load_latest(folder: str | Path, map_location="cpu") -> tuple[dict, Path]:
    """The newest checkpoint that loads; a damaged newest one falls back to the one before."""
    errors = []
    for _, path in reversed(list_checkpoints(folder)):
        try:
            return load_checkpoint(path, map_location), path
        except Exception as e:  # a truncated file: say so, try the previous one
            errors.append(f"{path.name}: {e}")
    detail = ("; unreadable: " + "; ".join(errors)) if errors else ""
    raise FileNotFoundError(f"no loadable checkpoint in {folder}{detail}. Train first: "
                            "gankit train PRESET --out RUN_DIR")
