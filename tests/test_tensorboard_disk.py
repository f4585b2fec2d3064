"""TensorBoard on a disk that fills or is full: one warning naming the folder and the cause, then
TensorBoard off for the rest of the command; training, evaluation and their records go on, and a
failed attempt leaves no empty event file.  The disk is simulated: TensorBoard's file writes
raise ENOSPC after ``room`` of them."""
import errno
import json
import shutil
import threading

import pytest

from gankit import config as C
from gankit.cli import main
from gankit.train.run import Run

pytest.importorskip("tensorboard")


@pytest.fixture
def disk(monkeypatch):
    """disk.room: TensorBoard file writes that still succeed (None: all)."""
    from tensorboard.compat.tensorflow_stub.io import gfile
    real = gfile.LocalFileSystem._write
    state = type("Disk", (), {"room": None, "refused": 0})()

    def write(self, filename, content, mode):
        if state.room is not None:
            if state.room <= 0:
                open(filename, mode).close()       # the file is created, its bytes are not
                state.refused += 1
                raise OSError(errno.ENOSPC, "No space left on device")
            state.room -= 1
        return real(self, filename, content, mode)
    monkeypatch.setattr(gfile.LocalFileSystem, "_write", write)
    return state


@pytest.fixture
def thread_errors(monkeypatch):
    """What threading's hook would print (a writer thread's traceback): collected."""
    seen = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    from gankit.train import watch
    monkeypatch.setattr(watch, "_THREADS_QUIETED", False, raising=False)   # ours goes on top of this one
    return seen


def _eval_records(run_dir):
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "eval"]


def _events(run_dir):
    return sorted((run_dir / "tensorboard").glob("events.out.tfevents.*"))


def test_a_disk_filling_while_training_warns_once_and_training_goes_on(tmp_path, tiny, disk, thread_errors):
    disk.room = 6
    run = Run.create(C.load("ring", tiny + ["train.tensorboard=true", "train.live_report=false"]), tmp_path / "r")
    with pytest.warns(UserWarning) as warned:
        run.train()
    said = [str(w.message) for w in warned if "TensorBoard" in str(w.message)]
    assert len(said) == 1, said
    assert str(tmp_path / "r" / "tensorboard") in said[0] and "the disk is full" in said[0]
    assert "free some space" in said[0]
    assert disk.refused >= 1 and thread_errors == []
    assert run.step == 30 and [r["step"] for r in run.folder.records("train")] == [10, 20, 30]
    assert all(f.stat().st_size > 0 for f in _events(tmp_path / "r"))


def test_a_full_disk_at_the_start_leaves_no_empty_event_file(tmp_path, tiny, disk, thread_errors):
    disk.room = 0
    run = Run.create(C.load("ring", tiny + ["train.tensorboard=true", "train.live_report=false"]), tmp_path / "r")
    with pytest.warns(UserWarning, match="TensorBoard off for the rest of this command") as warned:
        run.train()
    assert sum("TensorBoard" in str(w.message) for w in warned) == 1
    assert run.step == 30 and _events(tmp_path / "r") == [] and thread_errors == []


def test_gankit_eval_on_a_full_disk_records_and_prints_its_numbers(tmp_path, tiny_run_dir, disk, thread_errors,
                                                                     capsys):
    run_dir = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run_dir)
    text = (run_dir / "config.toml").read_text().replace("tensorboard = false", "tensorboard = true")
    (run_dir / "config.toml").write_text(text)
    before, n_evals = _events(run_dir), len(_eval_records(run_dir))
    disk.room = 0
    assert main(["eval", str(run_dir), "--metrics", "modes"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("step 30: modes covered")       # the numbers, printed
    lines = [line for line in err.splitlines() if "TensorBoard" in line]
    assert len(lines) == 1 and lines[0].startswith("gankit: warning: TensorBoard off") and "disk is full" in lines[0]
    assert "Traceback" not in err and "Exception in thread" not in err and thread_errors == []
    assert _events(run_dir) == before        # the failed attempt's file is gone
    assert len(_eval_records(run_dir)) == n_evals + 1      # recorded, not only measured
