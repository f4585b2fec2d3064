"""Files planted in a run folder or handed in as data: a link that would have gankit write
outside the folder, a FIFO or a link to /dev/zero named like a checkpoint or a snapshot (which
would block every reader, or fill the memory), a .npy header declaring more than the file holds."""
import os
import signal
import struct
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from gankit.config import ConfigError
from gankit.io import WriteError, append_jsonl, intact, write_text_atomic
from gankit.runfolder import RunFolder


@contextmanager
def within(seconds: int = 5):
    """Fail, rather than hang the test run, when the body blocks (opening a FIFO does)."""
    def stop(*_):
        raise AssertionError(f"blocked for {seconds} s (a FIFO was opened?)")
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------ records: never through a link
def test_a_linked_records_file_is_refused_and_its_target_untouched(tmp_path):
    outside = tmp_path / "bashrc"
    outside.write_text("export FOO=1\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").symlink_to(outside)
    folder = RunFolder(run)
    with pytest.raises(WriteError, match=r"metrics.jsonl: it is a symbolic link.*replace the link by a copy"):
        folder.append({"step": 1, "kind": "eval", "note": "$(touch /tmp/pwned)"})
    with pytest.raises(WriteError, match=r"symbolic link.*; measures without recording$"):
        folder.check_records_writable("; measures without recording")
    assert outside.read_text() == "export FOO=1\n"


def test_a_dangling_link_is_not_followed_to_create_a_file(tmp_path):
    target = tmp_path / "made_outside.jsonl"
    (tmp_path / "metrics.jsonl").symlink_to(target)
    with pytest.raises(WriteError, match="symbolic link"):
        append_jsonl(tmp_path / "metrics.jsonl", {"step": 1})
    assert not target.exists()


def test_a_linked_lock_file_is_refused_and_its_target_not_truncated(tmp_path):
    from gankit.runfolder import RunFolderError
    outside = tmp_path / "profile"
    outside.write_text("export FOO=1\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".gankit.lock").symlink_to(outside)
    with pytest.raises(RunFolderError, match=r"\.gankit\.lock: it is a symbolic link.*remove it$") as e:
        RunFolder(tmp_path / "run").lock()
    assert "cp -a" not in str(e.value)       # the advice for a read-only folder does not fit a link
    assert outside.read_text() == "export FOO=1\n"


def test_a_fifo_records_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "metrics.jsonl")
    folder = RunFolder(tmp_path)
    with within():
        with pytest.raises(WriteError, match="not a regular file"):
            folder.check_records_writable()
        with pytest.raises(WriteError, match="not a regular file"):
            folder.append({"step": 1})


def test_records_still_append_to_a_regular_file_and_atomic_writes_replace_a_link(tmp_path):
    folder = RunFolder(tmp_path)
    folder.append({"step": 1})
    folder.append({"step": 2})
    assert [r["step"] for r in folder.records()] == [1, 2]
    outside = tmp_path / "outside.txt"
    outside.write_text("kept\n")
    link = tmp_path / "linked.toml"
    link.symlink_to(outside)
    write_text_atomic(link, "new\n")
    assert not link.is_symlink() and link.read_text() == "new\n" and outside.read_text() == "kept\n"


# ------------------------------------------------------------------ checkpoints and snapshots
def _folder_with_checkpoint(tmp_path) -> RunFolder:
    folder = RunFolder(tmp_path / "run")
    folder.save_checkpoint({"models": {"G": {"w": torch.zeros(1)}}, "step": 10, "rng": {"torch": torch.get_rng_state()}},
                           10, keep=3)
    return folder


def test_a_fifo_checkpoint_is_skipped_with_a_warning_and_readers_return(tmp_path):
    from gankit.report.progress import newest_intact_checkpoint
    folder = _folder_with_checkpoint(tmp_path)
    fifo = folder.checkpoint_dir / "step_00000099.pt"
    os.mkfifo(fifo)
    with within():
        with pytest.warns(UserWarning, match="step_00000099.pt: not a regular file"):
            assert [s for s, _ in folder.checkpoints()] == [10]
        assert not intact(fifo)
        assert newest_intact_checkpoint(folder)[0] == 10
        state, path = folder.load_checkpoint()
    assert path.name == "step_00000010.pt" and state["step"] == 10


def test_a_link_to_dev_zero_is_skipped_without_being_opened(tmp_path):
    folder = _folder_with_checkpoint(tmp_path)
    (folder.checkpoint_dir / "step_00000099.pt").symlink_to("/dev/zero")
    folder.samples_dir.mkdir()
    (folder.samples_dir / "step_00000050.npz").symlink_to("/dev/zero")
    with pytest.warns(UserWarning, match="not a regular file"):
        assert [s for s, _ in folder.checkpoints()] == [10]
    with pytest.warns(UserWarning, match="step_00000050.npz: not a regular file"):
        assert folder._numbered(folder.samples_dir, "npz") == []


def test_a_fifo_snapshot_is_skipped_and_a_link_to_a_regular_one_kept(tmp_path):
    folder = RunFolder(tmp_path)
    folder.save_snapshot(10, {"samples": np.zeros((2, 2), np.float32)})
    os.mkfifo(folder.samples_dir / "step_00000050.npz")
    os.symlink(folder.samples_dir / "step_00000010.npz", folder.samples_dir / "step_00000020.npz")
    with within():
        with pytest.warns(UserWarning, match="step_00000050.npz: not a regular file"):
            snaps = folder.snapshots()
    assert len(snaps) == 2        # the link to a regular file counts (its step inside says 10)


# ------------------------------------------------------------------ .npy headers
def _declaring_huge(path):
    hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 2), }"
    hdr = hdr + " " * (118 - len(hdr) - 1) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\0" * 64)
    return path


def test_points_whose_header_declares_more_than_the_file_holds_are_refused(tmp_path):
    from gankit.data.points import PointsFile
    p = _declaring_huge(tmp_path / "huge.npy")
    with pytest.raises(ConfigError, match=r"data.path: cannot read .*huge.npy' as numbers: it declares 1.46 TiB "
                                          r"of data \(shape \(100000000000, 2\), float64\) but holds 64 bytes: "
                                          r"the file is damaged or cut"):
        PointsFile(p)
    cut = tmp_path / "cut.npy"
    np.save(cut, np.ones((100, 2)))
    cut.write_bytes(cut.read_bytes()[:-8])
    with pytest.raises(ConfigError, match="declares 1.56 KiB of data .* but holds 1.55 KiB"):
        PointsFile(cut)
    whole = tmp_path / "whole.npy"
    np.save(whole, np.ones((100, 2)))
    assert PointsFile(whole).size == 100


def test_invert_images_whose_header_declares_too_much_are_refused(tmp_path):
    from gankit.train.inversion_inputs import _load_npy
    p = _declaring_huge(tmp_path / "huge.npy")
    with pytest.raises(ConfigError, match=r"--images .*huge.npy: not a readable .npy array: it declares "
                                          r"1.46 TiB .* but holds 64 bytes: the file is damaged or cut"):
        _load_npy(p, f"--images {p}")
