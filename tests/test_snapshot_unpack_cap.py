"""A snapshot .npz whose entries declare more than gankit reads from one snapshot (a
decompression bomb: a few kB of deflated zeros unpacking to gigabytes) is skipped with a warning
naming it, before anything is inflated (F134-3): it filled the memory of report, of the live
report and of the end of training.  Here a bomb of 8 MiB meets a cap of 1 MiB."""
from __future__ import annotations

import io
import shutil
import zipfile

import numpy as np
import pytest

from gankit.runfolder import RunFolder
from gankit.runfolder import snapshot_files


def _bomb(path, step: int, mib: int):
    """A valid npz (its step, then ``mib`` MiB of float64 zeros), deflated to a few kB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, arr in (("step", np.int64(step)), ("samples", np.zeros(mib << 17))):
            b = io.BytesIO()
            np.save(b, arr)
            z.writestr(f"{name}.npy", b.getvalue())


def test_a_snapshot_unpacking_past_the_cap_is_skipped_unread(tiny_run_dir, tmp_path, monkeypatch):
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)
    bomb = run / "samples" / "step_00000050.npz"
    _bomb(bomb, 50, 8)
    assert bomb.stat().st_size < 100_000
    # raising=False: without the cap (the code before) the bomb loads and the asserts below fail
    monkeypatch.setattr(snapshot_files, "MAX_UNPACKED", 1 << 20, raising=False)
    folder = RunFolder(run)
    good = [s for s in folder.snapshot_steps() if s != 50]
    assert good and all(folder.snapshot(s) is not None for s in good)    # the run's own fit under the cap

    real_load, opened = np.load, []

    def spy(file, *a, **k):
        opened.append(str(file))
        return real_load(file, *a, **k)
    monkeypatch.setattr(np, "load", spy)
    with pytest.warns(UserWarning, match=r"step_00000050\.npz: snapshot skipped: it would unpack to 8 MiB, "
                                         r"more than the 1 MiB .*decompression bomb"):
        assert folder.snapshot(50) is None
        snaps = folder.snapshots()
    assert str(bomb) not in opened and opened       # checked from the zip directory, never inflated
    assert [int(s["step"]) for s in snaps] == good       # every other step still read
    assert bomb.exists()       # skipped, never removed
