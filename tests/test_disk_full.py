"""Run folders on full or broken disks: a trained run whose checkpoints are missing (or whose
checkpoints/ is a file) is never taken for one stopped before its first checkpoint, a failed lock
write lets go of the lock, and each storage failure is worded by its cause.  The disks are
simulated (ENOSPC, EROFS by monkeypatching; folders built in tmp_path): no root, no mounts."""
from __future__ import annotations

import errno
import os
import shutil
import types
from pathlib import Path

import pytest

import gankit.io as gio
import gankit.io.locks as locks
import gankit.runfolder as rf
from gankit import config as C
from gankit.cli import main
from gankit.io import WriteError, save_atomic, storage_refusal
from gankit.runfolder import RunFolder, RunFolderError
from gankit.train.run import Run, RunError


def _copy(template, tmp_path) -> Path:
    dst = tmp_path / "r"
    shutil.copytree(template, dst)
    return dst


def _state(run: Path):
    """What a run keeps apart from its checkpoints: records and snapshots."""
    return (run / "metrics.jsonl").read_text(), sorted(p.name for p in (run / "samples").iterdir())


def _checkpoints_a_file(run: Path):
    shutil.rmtree(run / "checkpoints", ignore_errors=True)
    (run / "checkpoints").write_text("x")


# ---------------------------------------------------------------- checkpoints gone or a file
@pytest.mark.parametrize("how", ["deleted", "a file"])
def test_train_out_refuses_a_trained_run_whose_checkpoints_are_gone(tiny_run_dir, tmp_path, tiny, how, capsys):
    """The advised `gankit train PRESET --out RUN` replaced the records and snapshots by a new run's."""
    run = _copy(tiny_run_dir, tmp_path)
    _checkpoints_a_file(run) if how == "a file" else shutil.rmtree(run / "checkpoints")
    before = _state(run)
    assert main(["train", "ring", "--out", str(run)] + [a for kv in tiny for a in ("--set", kv)]) == 1
    err = capsys.readouterr().err
    assert "has records of training to step 30 but no checkpoint" in err and "Traceback" not in err
    assert ("is a file, not a folder" if how == "a file" else "checkpoints is missing") in err
    assert "put the checkpoints back" in err and "would erase" in err
    assert _state(run) == before


def test_train_out_still_reuses_a_run_stopped_before_its_first_checkpoint(tmp_path, tiny):
    run = tmp_path / "r"
    Run.create(C.load("ring", tiny), run).close()
    RunFolder(run).append({"step": 5, "kind": "train", "loss_d": 1.0})     # before the first checkpoint (10)
    RunFolder(run).check_new()


def test_a_checkpoints_file_is_refused_before_anything_is_erased(tmp_path, tiny):
    """Even with no records past the first checkpoint: the new run's first checkpoint would fail
    on it after its records and snapshots were cleared."""
    run = tmp_path / "r"
    Run.create(C.load("ring", tiny), run).close()
    RunFolder(run).append({"step": 5, "kind": "train", "loss_d": 1.0})
    _checkpoints_a_file(run)
    before = (run / "metrics.jsonl").read_text()
    with pytest.raises(RunFolderError, match=r"checkpoints is a file, not a folder.*move that file away"):
        RunFolder(run).claim_new()
    with pytest.raises(RunError, match=r"checkpoints is a file, not a folder"):
        Run.open(run, ["train.steps=40"], write=True)       # --resume would start again over it
    assert (run / "metrics.jsonl").read_text() == before


@pytest.mark.parametrize("command", ["eval", "sample"])
def test_eval_and_sample_say_to_put_the_checkpoints_back(tiny_run_dir, tmp_path, command, capsys):
    """They advised `train first: gankit train PRESET --out RUN`, which erased the run."""
    run = _copy(tiny_run_dir, tmp_path)
    _checkpoints_a_file(run)
    assert main([command, str(run)]) == 1
    err = capsys.readouterr().err
    assert "records of training to step 30" in err and "is a file, not a folder" in err
    assert "put the checkpoints back" in err and "PRESET" not in err


def test_drs_of_a_run_whose_checkpoints_are_gone_says_so_exit_1(tiny_run_dir, tmp_path, capsys):
    """It said "no checkpoint yet (stopped before its first one)", exit 2."""
    run = _copy(tiny_run_dir, tmp_path)
    shutil.rmtree(run / "checkpoints")
    assert main(["drs", str(run)]) == 1
    err = capsys.readouterr().err
    assert "records of training to step 30" in err and "checkpoints is missing" in err
    assert "put the checkpoints back" in err and "stopped before its first" not in err


def test_a_file_in_the_place_of_a_folder_is_named_as_such(tmp_path):
    (tmp_path / "checkpoints").write_text("x")
    with pytest.raises(WriteError) as e:
        save_atomic({"step": 1}, tmp_path / "checkpoints" / "step_00000001.pt")
    assert f"{tmp_path / 'checkpoints'} is a file, not a folder" in str(e.value)


# ---------------------------------------------------------------- the lock on a full disk
def test_a_failed_lock_write_lets_go_of_the_lock_and_says_free_space(tmp_path, monkeypatch):
    """The fd stayed open: a retry in the same process said "in use by PID unknown ... kill unknown",
    and the advice was the read-only drive's (copy the run)."""
    real = os.pwrite

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(locks.os, "pwrite", full)
    folder = RunFolder(tmp_path / "r")
    with pytest.raises(RunFolderError) as e:
        folder.lock()
    assert "disk full" in str(e.value) and "free some space" in str(e.value) and "cp -a" not in str(e.value)
    monkeypatch.setattr(locks.os, "pwrite", real)
    folder.lock()                   # the space freed: the same process takes it
    assert folder.locked
    folder.unlock()


# ---------------------------------------------------------------- what the storage refusal says
def _statvfs(files: int, favail: int):
    return lambda path: types.SimpleNamespace(f_bavail=5 * 2**20 // 4096, f_frsize=4096, f_files=files,
                                              f_favail=favail)


def test_a_drive_out_of_inodes_is_not_called_short_of_space(tmp_path, monkeypatch):
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(gio.os, "statvfs", _statvfs(16, 0))
    what, detail, fix = storage_refusal(full, tmp_path / "not-made-yet")
    assert what == "no free inodes" and "5.0 MB free" in detail and "remove files" in fix
    monkeypatch.setattr(gio.os, "statvfs", _statvfs(0, 0))      # btrfs: no fixed number of files
    assert storage_refusal(full, tmp_path)[0] == "disk full"


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_only_training_is_told_to_resume(tiny_run_dir, tmp_path, monkeypatch):
    run = _copy(tiny_run_dir, tmp_path)
    monkeypatch.setattr(rf, "write_text_atomic", _full)
    with pytest.raises(RunFolderError) as e:
        RunFolder(run).write_report("<html></html>")
    assert str(e.value).endswith("free some space, then run the command again") and "--resume" not in str(e.value)
    folder = RunFolder(run)
    folder.lock()                   # this process trains it
    try:
        with pytest.raises(RunFolderError, match=rf"then continue with gankit train --resume --out {run}$"):
            folder.write_config("x = 1\n")
    finally:
        folder.unlock()


def test_drs_on_a_full_disk_keeps_the_checkpoint_it_rewrites_and_says_run_drs_again(tiny_run_dir, tmp_path,
                                                                                      monkeypatch, capsys):
    """It said the previous checkpoint (step 20) is kept and advised train --resume."""
    run = _copy(tiny_run_dir, tmp_path)
    newest = run / "checkpoints" / "step_00000030.pt"
    before = newest.read_bytes()
    monkeypatch.setattr(rf, "save_atomic", _full)
    assert main(["drs", str(run), "--steps", "2"]) == 1
    err = capsys.readouterr().err
    assert "disk full while writing" in err and "step_00000030.pt is kept as it was" in err
    assert f"run gankit drs {run} again" in err and "--resume" not in err and "step_00000020" not in err
    assert newest.read_bytes() == before


def test_report_on_a_read_only_folder_says_how_to_make_it(tiny_run_dir, tmp_path, monkeypatch, capsys):
    run = _copy(tiny_run_dir, tmp_path)

    def read_only(path, text):
        raise WriteError(errno.EROFS, "the drive is read-only (Read-only file system)", str(path))
    monkeypatch.setattr(rf, "write_text_atomic", read_only)
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {run / 'report.html'}: the drive is read-only" in err
    assert f"cp -a {run} NEW" in err and "gankit report NEW" in err
