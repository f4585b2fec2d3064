"""A train record the storage refuses (a file-size limit, a full disk) stops training after its
step with that step checkpointed, as a signal does (audit F80: it ended training with every step
since the last checkpoint lost, and --resume started from step 0)."""
from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import gankit.runfolder as runfolder
import gankit.runfolder.records as rf_records
from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.runfolder.records import RecordNotWritten
from gankit.train.run import Run

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["train.steps=40", "train.batch_size=16", "train.log_every=1", "train.checkpoint_every=30",
         "train.sample_every=1000", "train.n_fixed=16", "train.progress=false", "generator.hidden=[8]",
         "discriminator.hidden=[8]", "train.eval_every=0"]


def _refuse_train_records_from(monkeypatch, step: int, errnum=errno.EFBIG):
    real = rf_records.append_jsonl

    def append(path, record):
        if record.get("kind") == "train" and record["step"] >= step:
            raise OSError(errnum, os.strerror(errnum))
        real(path, record)
    monkeypatch.setattr(rf_records, "append_jsonl", append)


def test_a_refused_record_stops_after_its_step_with_a_checkpoint(tmp_path, monkeypatch):
    run_dir = tmp_path / "r"
    _refuse_train_records_from(monkeypatch, 17)
    run = Run.create(C.load("ring", SMALL), run_dir)
    with pytest.raises(RecordNotWritten) as e:
        run.train()
    said = str(e.value)
    ckpt = run_dir / "checkpoints" / "step_00000017.pt"
    assert said.startswith(f"file too large while writing a record to {run_dir / 'metrics.jsonl'}"), said
    assert f"training stopped after step 17 of 40 and kept it: checkpoint {ckpt} written" in said
    assert "(the record of step 17 is not in metrics.jsonl)" in said
    assert said.endswith(f"then continue with gankit train --resume --out {run_dir}")
    assert [s for s, _ in RunFolder(run_dir).checkpoints()] == [17]
    run.close()
    monkeypatch.undo()

    # the records lack step 17 alone; a resume continues from it and says nothing of a gap
    resumed = Run.open(run_dir, write=True)
    assert resumed.step == 17
    resumed.train().close()
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == [s for s in range(1, 41) if s != 17]


def test_when_the_checkpoint_is_refused_too_the_error_is_as_before(tmp_path, monkeypatch):
    """A full disk refuses both: no checkpoint is claimed, the record's error stands."""
    run_dir = tmp_path / "r"
    _refuse_train_records_from(monkeypatch, 5, errno.ENOSPC)

    def full(state, target):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(runfolder, "save_atomic", full)
    run = Run.create(C.load("ring", SMALL), run_dir)
    with pytest.raises(RecordNotWritten) as e:
        run.train()
    said = str(e.value)
    assert said.startswith(f"disk full while writing a record to {run_dir / 'metrics.jsonl'}"), said
    assert "stopped after" not in said and " written" not in said
    assert RunFolder(run_dir).checkpoints() == []
    run.close()


def test_under_a_real_file_size_limit_the_steps_trained_are_kept(tmp_path):
    run_dir = tmp_path / "r"
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    args = [a for kv in SMALL + ["train.steps=2000", "train.checkpoint_every=1000"] for a in ("--set", kv)]
    p = subprocess.run([sys.executable, "-m", "gankit", "train", "ring", "--out", str(run_dir), *args],
                       capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, hard)))
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    (step, path), = RunFolder(run_dir).checkpoints()
    assert 0 < step < 1000
    assert f"training stopped after step {step} of 2000 and kept it: checkpoint {path} written" in p.stderr


def test_the_error_survives_pickling_with_its_parts():
    import pickle
    e = pickle.loads(pickle.dumps(RecordNotWritten("disk full while writing a record", "free some space")))
    assert (str(e), e.said, e.then) == ("disk full while writing a record; free some space",
                                        "disk full while writing a record", "free some space")


@pytest.mark.parametrize("stop,said", [(2, "stopped at once by a second SIGINT;"),
                                       (RecordNotWritten("a", "b"), "stopped at once by SIGINT;")])
def test_a_signal_while_stopping_says_second_only_after_a_signal(stop, said):
    import signal
    import types

    from gankit.train.signals import StopOnSignal, TrainingInterrupted
    with pytest.raises(TrainingInterrupted, match=said):
        StopOnSignal(types.SimpleNamespace(stop=stop))._handle(signal.SIGINT, None)
