"""The snapshots a report draws, read from the run folder one file at a time: a long image run
holds a thousand of them (about 1 GB), the report shows at most eight."""
from __future__ import annotations

import numpy as np

from gankit.io import open_regular
from gankit.runfolder import RunFolder


def whole(path) -> bool:
    """Whether a snapshot file opens with its step: the zip directory (at the end of the file, so
    a cut or foreign file has none) and the small ``step`` member are read, not the arrays."""
    try:
        with open_regular(path) as f, np.load(f, allow_pickle=False) as z:
            int(z["step"])
    except Exception:        # cut, empty, not an npz, or no step in it
        return False
    return True


def pick_steps(steps: list, n: int = 6) -> list[int]:
    """Indices of at most n of ``steps`` (ascending) spread evenly over training's steps (always
    the first and last): the one nearest each of n evenly spaced steps, so a run resumed with
    another sample_every is not shown mostly from its denser part."""
    if len(steps) <= n:
        return list(range(len(steps)))
    s = np.array([float(x) for x in steps])
    targets = np.linspace(s[0], s[-1], n)
    return [int(i) for i in np.unique(np.abs(s[None, :] - targets[:, None]).argmin(1))]


class Snapshots:
    """The folder's snapshots by step, from their file names; each file is read when a figure
    asks for it, once.  A damaged file (RunFolder.snapshot warns) gives way to the nearest
    readable neighbour, so one bad file costs a panel its exact step, not the figure."""

    def __init__(self, folder: RunFolder):
        self.folder = folder
        self.steps = folder.snapshot_steps()      # the panels' choice: names only
        self._read: dict[int, dict | None] = {}
        self._whole: dict[int, bool] = {}

    def __len__(self) -> int:
        return len(self.steps)

    def none_note(self, live: bool = False) -> str:
        """Why the page shows no samples, in a sentence: samples/ is gone, holds no snapshot, or
        none of its snapshots opens."""
        from gankit.io import shown_name
        where = shown_name(self.folder.samples_dir)
        if live and not self.steps:
            return f"No samples yet: training writes its first snapshot to {where} as it starts."
        if not self.folder.samples_dir.is_dir():
            return (f"No samples: {where} is missing (moved or deleted?); the page draws them from the "
                    "snapshots training writes there (samples/step_<n>.npz).")
        if not self.steps:
            return (f"No samples: {where} holds no snapshot (samples/step_<n>.npz, written every "
                    "train.sample_every steps).")
        return (f"No samples: none of the {len(self.steps)} snapshot(s) in {where} opens (damaged: each "
                "is named in a warning).")

    def _is_whole(self, step: int, paths: dict) -> bool:
        if step not in self._whole:
            self._whole[step] = step in paths and whole(paths[step])
        return self._whole[step]

    def _paths(self) -> dict:
        return dict(self.folder.snapshot_paths())

    def whole_steps(self) -> list[int]:
        """The steps of the snapshot files that open (``whole``), ascending: what the run's
        snapshot count and step count, so a damaged file is not taken for training's progress."""
        paths = self._paths()
        return [s for s in self.steps if self._is_whole(s, paths)]

    def newest_whole(self) -> list[int]:
        """The newest of ``whole_steps``, in a list (empty when none opens); checked from the
        newest down, so usually one file is opened."""
        paths = self._paths()
        return next(([s] for s in reversed(self.steps) if self._is_whole(s, paths)), [])

    def _at(self, i: int) -> dict | None:
        if i not in self._read:
            self._read[i] = self.folder.snapshot(self.steps[i])
        return self._read[i]

    def _near(self, i: int, taken=()) -> int | None:
        """The index of the readable snapshot nearest index ``i`` (itself first, later before
        earlier), of those not in ``taken``; None when none is readable."""
        for d in range(len(self.steps)):
            for j in ((i,) if d == 0 else (i + d, i - d)):
                if 0 <= j < len(self.steps) and j not in taken and self._at(j) is not None:
                    return j
        return None

    def spread(self, n: int = 6) -> list[dict]:
        """At most n readable snapshots spread over training (pick_steps), the newest included."""
        taken: list[int] = []
        for i in pick_steps(self.steps, n):
            j = self._near(i, taken)
            if j is not None:
                taken.append(j)
        return [self._read[j] for j in sorted(taken)]

    def _one(self, i: int) -> list[dict]:
        j = self._near(i)
        return [] if j is None else [self._read[j]]

    def first(self) -> list[dict]:
        """The oldest readable snapshot, in a list (empty when there is none)."""
        return self._one(0)

    def last(self) -> list[dict]:
        """The newest readable snapshot, in a list (empty when there is none)."""
        return self._one(len(self.steps) - 1)

    def ends(self) -> list[dict]:
        """The oldest and the newest readable snapshots (one, when they are the same)."""
        first, last = self.first(), self.last()
        return first + [s for s in last if not any(s is f for f in first)]

    def newest_with(self, key: str) -> list[dict]:
        """The newest readable snapshot holding ``key`` (images: neighbours, interpolation); the
        older ones looked at on the way are not kept (a folder written before the key existed)."""
        for i in reversed(range(len(self.steps))):
            snap = self._read[i] if i in self._read else self.folder.snapshot(self.steps[i])
            if snap is not None and key in snap:
                self._read[i] = snap
                return [snap]
            if snap is None:
                self._read[i] = None      # damaged: warned once
        return []
