"""Folders made for a new run when the user names none."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


def default_run_dir(stem: str, seed: int) -> Path:
    """runs/STEM-sSEED-TIME, made here (empty) so that it is this run's: with -2, -3 ... when
    a folder of that second exists (runs started in a loop, or at once from two shells)."""
    import time
    base = Path("runs") / f"{stem}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    base.parent.mkdir(parents=True, exist_ok=True)
    path, n = base, 1
    while True:
        try:
            path.mkdir()           # atomic: of two processes choosing one name, one gets it
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


@contextmanager
def gone_if_left_empty(path: str | Path | None):
    """The block makes a run in ``path``, a folder made for it (``default_run_dir``): when it
    fails before writing anything there (raises, or calls the function it is given: the exit
    code of ranks it launched), the empty folder goes too (None: nothing to do)."""
    def remove():
        if path is not None:
            try:
                os.rmdir(path)      # only ever an empty folder: whatever was written stays
            except OSError:
                pass
    try:
        yield remove                # the block calls it on a failure it reports without raising
    except BaseException:
        remove()
        raise
