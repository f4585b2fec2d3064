"""Advice that fits the fault in a run folder (audit F80): a deleted config.toml is recovered
from the checkpoints as a damaged one is, a folder in the lock's place is named as such, a
read-only drive's copy command names the real folder, and a garbage snapshot is called what it
is (not numpy's advice to load it unsafely)."""
from __future__ import annotations

import errno
import shutil

import pytest

from gankit.cli import main
from gankit.runfolder import RunFolder, RunFolderError
from gankit.streams import pasteable


def _copy(tiny_run_dir, tmp_path, name="r"):
    return shutil.copytree(tiny_run_dir, tmp_path / name)


def _error_line(argv, capsys) -> str:
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("gankit: error:")]
    assert rc == 1 and len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize("command", ["resume", "eval", "report"])
def test_a_deleted_config_is_recovered_from_the_checkpoints(tiny_run_dir, tmp_path, capsys, command):
    run = _copy(tiny_run_dir, tmp_path)
    (run / "config.toml").unlink()
    argv = {"resume": ["train", "--resume", "--out", run], "eval": ["eval", run],
            "report": ["report", run]}[command]
    said = _error_line(argv, capsys)
    recovered = run / "config.toml.recovered"
    assert "holds checkpoints but no config.toml" in said
    assert f"mv {pasteable(recovered)} {pasteable(run / 'config.toml')}" in said, said
    assert "step_00000030.pt's is now in" in said
    assert recovered.is_file() and not (run / "config.toml").exists()     # never put in place silently
    # the file written is the run's config: once moved into place, the run reads again
    recovered.rename(run / "config.toml")
    assert RunFolder(run).read_config()["train"]["steps"] == 30


def test_a_deleted_config_without_a_readable_checkpoint_keeps_the_plain_advice(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    (run / "config.toml").unlink()
    for _, p in RunFolder(run).checkpoints():
        p.write_bytes(b"")
    with pytest.raises(RunFolderError, match=r"holds checkpoints but no config.toml \(removed\?\); restore it "
                                             r"from a backup, or train anew into another folder"):
        RunFolder(run).require_run()
    assert not (run / "config.toml.recovered").exists()


def test_a_folder_in_the_locks_place_is_named_with_its_fix(tiny_run_dir, tmp_path, capsys):
    run = _copy(tiny_run_dir, tmp_path)
    (run / ".gankit.lock").unlink()
    (run / ".gankit.lock").mkdir()
    said = _error_line(["train", "--resume", "--out", run, "--set", "train.steps=40"], capsys)
    assert ".gankit.lock is a folder, not gankit's lock" in said
    assert f"rm -r {pasteable(run / '.gankit.lock')}" in said
    assert "writable" not in said and "cp -a" not in said       # the folder is writable: no copy


def test_a_read_only_drive_names_the_real_folder_in_the_copy_command(tiny_run_dir, tmp_path, monkeypatch):
    import gankit.runfolder.lock as lock
    run = _copy(tiny_run_dir, tmp_path, "ro run")

    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))
    monkeypatch.setattr(lock, "lock_file", read_only)
    with pytest.raises(RunFolderError) as e:
        RunFolder(run).lock()
    said = str(e.value)
    assert "the drive is read-only" in said and f"cp -a {pasteable(run)} NEW" in said, said
    assert "cp -a RUN NEW" not in said


def test_another_lock_failure_gets_no_read_only_advice(tiny_run_dir, tmp_path, monkeypatch):
    import gankit.runfolder.lock as lock
    run = _copy(tiny_run_dir, tmp_path)

    def io_error(path):
        raise OSError(errno.EIO, "Input/output error", str(path))
    monkeypatch.setattr(lock, "lock_file", io_error)
    with pytest.raises(RunFolderError, match=r"Input/output error; mend that, then run the command again$"):
        RunFolder(run).lock()


def test_a_garbage_snapshot_is_called_not_a_valid_npz(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    snap = sorted((run / "samples").glob("step_*.npz"))[-1]
    snap.write_bytes(bytes(range(256)) * 2)       # neither a zip nor a .npy: numpy speaks of pickles
    with pytest.warns(UserWarning) as said:
        assert RunFolder(run).snapshot(int(snap.stem[5:])) is None
    text = " ".join(str(w.message) for w in said)
    assert f"{snap}: damaged snapshot skipped (not a valid .npz file" in text, text
    assert "pickle" not in text and "allow_pickle" not in text
    assert f"move it out of {snap.parent}" in text


def test_a_new_run_into_a_folder_left_before_its_first_checkpoint_says_it_takes_its_place(tmp_path, tiny, capsys):
    """A run that failed at its first step (a NaN here; a user's net that raises alike) left config.toml,
    a record and the step-0 sample grid: training anew into the same --out replaced them without a word (F95)."""
    from gankit import config as C
    from gankit.train.loop import NonFiniteLoss
    from gankit.train.run import Run
    out = tmp_path / "r"
    run = Run.create(C.load("ring", tiny + ["optim_d.lr=1e30", "optim_g.lr=1e30"]), out)
    with pytest.raises(NonFiniteLoss, match="before its first checkpoint"):
        run.train()
    run.close()
    assert (out / "config.toml").is_file() and not RunFolder(out).checkpoints()
    over = tiny + ["train.steps=10", 'eval.metrics=["jsd"]', "eval.jsd_samples=200"]
    sets = [a for kv in over for a in ("--set", kv)]
    assert main(["train", "ring", "--out", str(out), *sets]) == 0
    err = capsys.readouterr().err
    assert f"{out} held a run that stopped before its first checkpoint; this new run takes its place" in err, err
    assert RunFolder(out).checkpoints()[-1][0] == 10 and "1e+30" not in (out / "config.toml").read_text()
    assert main(["train", "ring", "--out", str(out), *sets]) != 0          # a trained run: never replaced
    assert "already holds a trained run" in capsys.readouterr().err
