"""A run's samples/ or checkpoints/ that is a symbolic link is refused when the run is created or
resumed, as a linked metrics.jsonl or lock file is (F134-2): a new run cleared the snapshots in
the folder the link pointed to (outside the run) and wrote its own there."""
from __future__ import annotations

import os
import shutil

import pytest

from gankit import config as C
from gankit.runfolder import RunFolderError
from gankit.train.run import Run

from conftest import TINY


def _listing(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_new_run_over_a_linked_samples_folder_is_refused_and_deletes_nothing(tiny_run_dir, tmp_path):
    outside = tmp_path / "outs"       # the user's files, outside any run
    shutil.copytree(tiny_run_dir / "samples", outside)
    before = _listing(outside)
    assert before
    run = tmp_path / "m"       # a run stopped before its first checkpoint: a new run takes its place
    run.mkdir()
    shutil.copy(tiny_run_dir / "config.toml", run)
    (run / ".gankit.lock").touch()
    (run / "samples").symlink_to(outside)
    with pytest.raises(RunFolderError, match=r"m/samples is a symbolic link \(to .*outs\).*replace the link by a folder"):
        Run.create(C.load("ring", TINY + ["train.steps=10"]), run)
    assert _listing(outside) == before        # none deleted, none written
    assert (run / "samples").is_symlink()


def test_a_resume_over_a_linked_checkpoints_folder_is_refused_and_prunes_nothing(tiny_run_dir, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)
    outside = tmp_path / "ck"
    os.replace(run / "checkpoints", outside)
    (run / "checkpoints").symlink_to(outside)
    before = _listing(outside)
    with pytest.raises(RunFolderError, match=r"r/checkpoints is a symbolic link \(to .*ck\)"):
        Run.open(run, ["train.steps=50"], write=True)
    assert _listing(outside) == before
    Run.open(run, []).close()      # a reader still reads through it: only writing is refused
