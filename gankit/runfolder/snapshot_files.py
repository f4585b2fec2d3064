"""RunFolder's snapshots: samples/step_<n>.npz, written atomically at train.sample_every, listed by
name (no file opened) and loaded one at a time, a damaged file skipped with a warning."""
from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from gankit.io import is_regular, save_npz_atomic

DISCARDED = "discarded"      # samples/discarded/: snapshots past a resumed checkpoint
# A decompression bomb is a small file declaring a huge size: a few MB of deflated zeros unpacking to
# gigabytes would fill the memory of the report, the live report and the end of training.  A run's
# own snapshot can be as large (n_fixed 2500 RGB images of 256 x 256 as float32: about 1.8 GiB) but
# packs little: float32 samples deflate 1.1:1 (2.6:1 for 8-bit levels, 2.3:1 half saturated), so
# one packed over MAX_RATIO:1 is refused past MAX_UNPACKED, checked from the zip's directory before
# a byte is inflated.  Ratio alone cannot tell a bomb from a collapsed run (all-constant samples
# deflate about 1000:1, as zeros do), so MAX_UNPACKED is what fits comfortably in this machine's
# memory (half of it, from os.sysconf), at least 1 GiB and at most 16 GiB: a collapsed run's
# snapshot at 256 x 256 (or 512 x 512) RGB loads, a few MB declaring tens of GB is still refused.
MAX_RATIO = 100


def _memory_cap() -> int:
    try:
        half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):      # no sysconf (Windows): the floor alone
        half = 0
    return max(1 << 30, min(half, 16 << 30))


MAX_UNPACKED = _memory_cap()


class SnapshotFiles:
    """The snapshot half of RunFolder (it uses the folder's samples_dir, _numbered and _writing)."""

    def save_snapshot(self, step: int, arrays: dict):
        target = self.samples_dir / f"step_{step:08d}.npz"
        with self._writing(str(target)):
            save_npz_atomic(target, {"step": np.int64(step), **arrays})

    def has_snapshot(self, step: int) -> bool:
        return (self.samples_dir / f"step_{step:08d}.npz").is_file()

    def snapshot_paths(self) -> list[tuple[int, Path]]:
        """(step, path) of the regular samples/step_*.npz files, ascending: from the names alone."""
        return self._numbered(self.samples_dir, "npz")

    def snapshot_steps(self) -> list[int]:
        """The steps of the regular samples/step_*.npz files, ascending: from the names alone,
        no file opened (a damaged one is found only when ``snapshot`` loads it)."""
        return [s for s, _ in self._numbered(self.samples_dir, "npz")]

    def snapshot(self, step: int) -> dict | None:
        """The snapshot of ``step``; None where there is none or it is damaged (with a warning)."""
        p = self.samples_dir / f"step_{step:08d}.npz"
        if not is_regular(p):      # a name with another number of digits (step_5.npz)
            p = next((q for s, q in self._numbered(self.samples_dir, "npz") if s == step), None)
        return None if p is None else self._load_snapshot(p)

    def snapshots(self) -> list[dict]:
        """Every readable snapshot, oldest first (a damaged file is skipped with a warning)."""
        out = [snap for _, p in self._numbered(self.samples_dir, "npz")
               if (snap := self._load_snapshot(p)) is not None]
        return sorted(out, key=lambda s: int(s["step"]))

    def _load_snapshot(self, p: Path) -> dict | None:
        try:
            # checked before a byte is inflated: packed is the file's own size
            unpacked, packed = _unpacked_bytes(p), max(p.stat().st_size, 1)
            if unpacked > MAX_UNPACKED and unpacked > MAX_RATIO * packed:
                warnings.warn(f"{p}: snapshot skipped: it would unpack to {unpacked / 2**20:,.0f} MiB, more than the "
                              f"{MAX_UNPACKED / 2**20:,.0f} MiB gankit inflates from a file packed over {MAX_RATIO}:1 "
                              f"(this one: {packed / 2**20:,.1f} MiB, {unpacked / packed:,.0f}:1; a run's own samples "
                              f"pack under 3:1), so a decompression bomb, or not a snapshot gankit wrote; its step is "
                              f"left out of the report: move it out of {p.parent}", stacklevel=3)
                return None
            with np.load(p, allow_pickle=False) as z:
                snap = {k: z[k] for k in z.files}
            int(snap["step"])
        except Exception as e:   # truncated, empty, not an npz, or no step in it
            warnings.warn(f"{p}: damaged snapshot skipped ({_fault(e)}); its step is left out of the report: "
                          f"move it out of {p.parent}, or put a good copy back", stacklevel=3)
            return None
        return snap

    def clear_snapshots(self):
        for _, p in self._numbered(self.samples_dir, "npz"):
            p.unlink(missing_ok=True)

    def truncate_snapshots(self, step: int) -> int:
        """Move snapshots of steps after ``step`` (a resume continues from that checkpoint, as
        ``truncate_records``) to samples/discarded/; the number moved.  They came from weights no
        checkpoint holds any more, and the report would show them between the steps of the new
        trajectory; set aside, not deleted, as they may be all that is left of that work.  No
        reader lists samples/discarded/ (``_numbered`` reads samples/ alone); a name there already
        (a trajectory discarded before) is kept, the newer file getting step_<n>.2.npz."""
        later = [p for s, p in self._numbered(self.samples_dir, "npz") if s > step]
        if not later:
            return 0
        aside = self.samples_dir / DISCARDED
        with self._writing(str(aside)):
            aside.mkdir(exist_ok=True)
            for p in later:
                target, k = aside / p.name, 1
                while os.path.lexists(target):
                    k += 1
                    target = aside / f"{p.stem}.{k}{p.suffix}"
                os.replace(p, target)
        return len(later)


def _unpacked_bytes(p: Path) -> int:
    """What the entries of snapshot ``p`` unpack to, from the zip's directory (none inflated)."""
    with zipfile.ZipFile(p) as z:
        return sum(info.file_size for info in z.infolist())


def _fault(e: Exception) -> str:
    """What is wrong with a snapshot that does not load, in words: numpy's own text for a file
    that is no zip archive advises loading it with pickle (which would run code a file holds)."""
    if isinstance(e, KeyError):
        return "it holds no step: not a snapshot gankit wrote"
    if isinstance(e, OSError) and e.strerror:      # the file itself cannot be read (permissions)
        return f"cannot read it: {e.strerror}"
    return "not a valid .npz file: cut short, emptied or overwritten"
