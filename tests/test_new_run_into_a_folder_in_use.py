"""A new run into a folder another process was training said "already holds a trained run;
continue it with --resume", and the --resume it advised was then refused as "in use (PID ...)".
A new run now says "in use", naming the PID, first."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from gankit.cli import main
from gankit.io.locks import lock_holder
from gankit.runfolder import LOCK_NAME, RunFolder
from gankit.runfolder.lock import FolderInUse
from gankit.train.run_checks import refuse_trained

IN_USE = "is in use: another gankit process (PID {pid}) is training it"
TRAINED = "already holds a trained run"


@pytest.fixture
def held_run(tiny_run_dir, tmp_path):
    """A trained run whose lock another process holds (as a training would), and that process."""
    folder = tmp_path / "busy"
    shutil.copytree(tiny_run_dir, folder)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from gankit.io.locks import lock_file; "
         "assert lock_file(sys.argv[1])[0]; print('held', flush=True); time.sleep(60)", str(folder / LOCK_NAME)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_holder(folder / LOCK_NAME) == str(holder.pid)
        yield folder, holder
    finally:
        holder.kill()
        holder.wait()


def _free(folder):
    deadline = time.monotonic() + 5
    while lock_holder(folder / LOCK_NAME) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock_holder(folder / LOCK_NAME) is None


def test_gankit_train_into_a_folder_in_use_says_in_use_not_trained(held_run, capsys, tiny_cli):
    folder, holder = held_run
    assert RunFolder(folder).checkpoints()               # a trained run: the refusal that came first
    before = {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")}
    assert main(["train", "ring", "--out", str(folder), *tiny_cli]) != 0
    err = capsys.readouterr().err
    assert IN_USE.format(pid=holder.pid) in err and TRAINED not in err, err
    assert f"kill {holder.pid}" in err and "--resume" in err, err
    assert {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")} == before   # nothing touched
    # the --resume it advises, run now, gives the same reason (wait or stop that process)
    assert main(["train", "--resume", "--out", str(folder)]) != 0
    assert IN_USE.format(pid=holder.pid) in capsys.readouterr().err


def test_the_new_run_checks_name_the_holder_before_the_trained_run(held_run):
    folder, holder = held_run
    with pytest.raises(FolderInUse, match=rf"PID {holder.pid}\) is training it"):
        RunFolder(folder).check_new()
    with pytest.raises(FolderInUse, match=rf"PID {holder.pid}\) is training it"):
        refuse_trained(RunFolder(folder), folder)
    holder.kill()
    holder.wait()
    _free(folder)               # once it is gone: a trained run, as before
    with pytest.raises(Exception, match=TRAINED):
        RunFolder(folder).check_new()
    with pytest.raises(Exception, match=TRAINED):
        refuse_trained(RunFolder(folder), folder)


def test_a_folder_this_process_holds_is_not_in_use(tiny_run_dir, tmp_path):
    folder = tmp_path / "mine"
    shutil.copytree(tiny_run_dir, folder)
    mine = RunFolder(folder)
    mine.lock()
    try:
        with pytest.raises(Exception, match=TRAINED):
            RunFolder(folder).check_new()
    finally:
        mine.unlock()
