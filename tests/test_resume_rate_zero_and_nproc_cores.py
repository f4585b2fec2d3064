"""A resume past the end of a schedule that decays to 0 says those steps train at rate 0 (the
note called it only "their final value"), and --nproc above the usable cores of a CPU run is
warned, far above them refused, before any process starts (64 on 2 cores took minutes of c10d
socket time-outs)."""
import os
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit import cli
from gankit import config as C
from gankit.train.run import Run
from gankit.train.schedule import Schedule, resume_schedule
from gankit.wording import command_line


def _note(final: float, steps: int = 25, step: int = 20, kind: str = "linear") -> str:
    run = SimpleNamespace(schedule_span=(0, 20), cfg=SimpleNamespace(train=SimpleNamespace(
        steps=steps, lr_on_resume="continue")), step=step, is_main=True)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        returned = resume_schedule(run, Schedule(kind=kind, final=final))
    assert [str(w.message) for w in said] == [returned]
    return returned


def test_a_resume_past_a_decay_to_zero_says_its_steps_train_at_rate_zero(tmp_path, tiny):
    over = tiny + ["objective.lr_decay_final=1.0", "train.lr_schedule=\"linear\"",     # train.lr_final: 0
                   "train.steps=20", "train.checkpoint_every=10", "eval.metrics=[\"modes\"]",
                   "train.live_report=false", "train.sample_every=100", "objective.drs=false"]
    Run.create(C.load("ring", over), tmp_path / "r").train().close()
    run = Run.open(tmp_path / "r", ["train.steps=25"])
    before = [p.detach().clone() for p in run.G.parameters()]
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        run.train()
    assert run.step == 25
    # what the note claims: the 5 steps moved no weight of G
    assert all(torch.equal(a, b) for a, b in zip(before, run.G.parameters()))
    notes = [str(w.message) for w in said if "learning-rate schedule" in str(w.message)]
    assert len(notes) == 1, notes
    assert "final value, 0, after step 20: the 5 steps from 20 to 25 change no weight" in notes[0]
    assert 'overrides=["train.lr_on_resume=restart"] starts the schedule anew over them' in notes[0]


def test_the_rate_zero_note_speaks_the_callers_words_and_only_for_a_rate_of_zero():
    with command_line():
        line = _note(0.0)
    assert line.endswith("change no weight (--set train.lr_on_resume=restart starts the schedule anew over them)")
    assert "final value, 0," in _note(0.0, kind="cosine") and "final value, 0," in _note(0.0, step=15)
    kept = _note(0.1)      # a working final rate: the note as it was
    assert "final value after step 20" in kept and "change no weight" not in kept
    stops = _note(0.0, steps=18, step=10)     # training ends before the decay does: no step at rate 0
    assert "training stops at step 18" in stops and "change no weight" not in stops


@pytest.fixture
def two_cores(monkeypatch):
    """A CPU machine of 2 usable cores, where --nproc would launch (recorded, not started)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    started = []
    import gankit.train.launch as L
    monkeypatch.setattr(L, "launch", lambda nproc, argv, advice=None: started.append(nproc) or 0)
    return started


def _line(n: int) -> str:
    return (f"--nproc {n} starts {n} processes on 2 usable cores: each runs on a fraction of a core, and "
            "starting them can take minutes (docs/scaling.md); use --nproc 2 or fewer")


def _train(tmp_path, tiny_cli, n, *more):
    return cli.main(["train", "ring-vanilla", "--out", str(tmp_path / "r"), "--nproc", str(n), *tiny_cli,
                     "--set", "train.batch_size=64", *more])      # a batch 64 and 8 processes share


def test_nproc_far_above_the_cores_is_refused_before_any_process_starts(tmp_path, tiny_cli, two_cores, capsys):
    assert _train(tmp_path, tiny_cli, 64) == 2
    assert two_cores == []
    assert capsys.readouterr().err.strip() == f"gankit: error: {_line(64)}"
    assert not (tmp_path / "r").exists()


def test_nproc_above_the_cores_is_warned_once_and_launched(tmp_path, tiny_cli, two_cores, capsys):
    assert _train(tmp_path, tiny_cli, 8) == 0      # 4 per core: slow, not refused
    assert two_cores == [8]
    err = capsys.readouterr().err
    assert err.count(_line(8)) == 1, err
    assert _train(tmp_path, tiny_cli, 2) == 0 and two_cores == [8, 2]
    assert "usable core" not in capsys.readouterr().err


def test_a_resume_checks_the_folders_device_too(tmp_path, tiny_cli, two_cores, capsys, monkeypatch):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.toml").write_text('[train]\ndevice = "cpu"\n')
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)     # a GPU machine, the run on its CPU
    assert cli.main(["train", "--resume", "--out", str(tmp_path / "r"), "--nproc", "64"]) == 2
    assert two_cores == [] and _line(64) in capsys.readouterr().err
    # the same folder resumed on the GPUs: their count is checked as the ranks start, not the cores
    assert cli.main(["train", "--resume", "--out", str(tmp_path / "r"), "--nproc", "64",
                     "--set", "train.device=cuda"]) == 0
    assert two_cores == [64] and "usable core" not in capsys.readouterr().err


def test_a_resume_of_a_deeply_nested_config_leaves_it_to_the_ranks(tmp_path, two_cores, capsys, monkeypatch):
    """The device read before launching goes through gankit's TOML reader: a damaged config.toml
    nested past its depth is "unknown", for rank 0 to name under the folder's lock (a bare
    tomllib ended in a RecursionError traceback here)."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.toml").write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)     # unknown device on a GPU machine
    assert cli.main(["train", "--resume", "--out", str(tmp_path / "r"), "--nproc", "64"]) == 0
    assert two_cores == [64] and "Traceback" not in capsys.readouterr().err
