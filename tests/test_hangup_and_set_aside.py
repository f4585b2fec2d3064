"""Never losing work (audit a166): SIGHUP (a closed terminal, a dropped SSH session) stops
training as SIGTERM does, a second signal names the checkpoint it keeps (or that there is none
yet), and a checkpoint set aside twice at one step keeps both files."""
import errno
import os
import signal
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from gankit import cli, cli_train
from gankit import config as C

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")

# a run far too long to end by itself, with no checkpoint before the signal
LONG = ["train.steps=100000", "train.batch_size=16", "train.log_every=5", "train.checkpoint_every=100000",
        "train.sample_every=100000", "train.n_fixed=16", "train.progress=false",
        "generator.hidden=[8]", "discriminator.hidden=[8]"]


@pytest.fixture
def sighup_caught():
    """SIGHUP handled by the test (its default would kill pytest) wherever gankit installs none."""
    seen = []
    old = signal.signal(signal.SIGHUP, lambda signum, frame: seen.append(signum))
    yield seen
    signal.signal(signal.SIGHUP, old)


class _Broken:
    """A terminal that hung up: every write fails with EIO."""
    def write(self, text):
        raise OSError(errno.EIO, "Input/output error")

    def flush(self):
        raise OSError(errno.EIO, "Input/output error")


def _hang_up_at(monkeypatch, step: int):
    """A real SIGHUP to this process once training has written ``step`` (no checkpoint yet)."""
    from gankit.train import callbacks
    checkpointer = callbacks.Checkpointer.on_step_end

    def on_step_end(self, trainer):
        checkpointer(self, trainer)
        if trainer.step == step:
            signal.raise_signal(signal.SIGHUP)
        elif trainer.step > step:     # caught by the test's handler, not gankit's
            raise AssertionError("SIGHUP did not stop training")
    monkeypatch.setattr(callbacks.Checkpointer, "on_step_end", on_step_end)


def _train(run: Path) -> int:
    return cli.main(["train", "ring", "--out", str(run)] + [x for s in LONG for x in ("--set", s)])


def test_sighup_during_training_checkpoints_the_step_says_so_and_exits_129(tmp_path, monkeypatch, capsys,
                                                                          sighup_caught):
    """It killed the run: exit 129 by the signal, no line, the steps since the last checkpoint lost."""
    _hang_up_at(monkeypatch, 7)
    assert _train(tmp_path / "run") == 129
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("gankit: ")]
    saved = tmp_path / "run" / "checkpoints" / "step_00000007.pt"
    assert err == [f"gankit: SIGHUP received: stopped after step 7 of 100000, checkpoint {saved} written; "
                   f"continue with gankit train --resume --out {tmp_path / 'run'}"]
    assert saved.is_file() and sighup_caught == []


def test_sighup_with_the_terminal_gone_still_writes_the_checkpoint(tmp_path, monkeypatch, sighup_caught):
    """A closed terminal fails every write (EIO): the checkpoint is written before the line, and
    the line that cannot be written is dropped."""
    _hang_up_at(monkeypatch, 5)
    monkeypatch.setattr(sys, "stderr", _Broken())
    assert _train(tmp_path / "run") == 129
    assert [p.name for p in (tmp_path / "run" / "checkpoints").glob("step_*.pt")] == ["step_00000005.pt"]


def test_sighup_outside_the_training_loop_is_one_line_and_129(monkeypatch, capsys, sighup_caught):
    def hung_up(a, out):
        signal.raise_signal(signal.SIGHUP)
        raise AssertionError("SIGHUP did not stop the command")
    monkeypatch.setattr(cli_train, "_train", hung_up)
    assert cli.main(["train", "ring", "--out", "/nonexistent/r"]) == 129
    assert sighup_caught == []      # gankit's handler, put back after
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert err == ["gankit: train stopped by SIGHUP: no run folder was written; run the same command again"]
    signal.raise_signal(signal.SIGHUP)      # the test's own handler, put back
    assert sighup_caught == [signal.SIGHUP]


class _Trainer:
    def __init__(self):
        self.stop, self.callbacks = None, []


def test_the_training_loop_stops_after_its_step_on_sighup(sighup_caught):
    from gankit.train.signals import StopOnSignal
    trainer = _Trainer()
    with StopOnSignal(trainer):
        signal.raise_signal(signal.SIGHUP)
    assert trainer.stop == signal.SIGHUP and sighup_caught == []


def test_an_ignored_sighup_stays_ignored(monkeypatch, capsys):
    """nohup leaves SIGHUP ignored: neither the loop nor the command line takes it back."""
    from gankit.train.signals import StopOnSignal
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        trainer = _Trainer()
        with StopOnSignal(trainer):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)
        assert trainer.stop is None

        def work(a, out):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGHUP)
            return 0
        monkeypatch.setattr(cli_train, "_train", work)
        assert cli.main(["train", "ring", "--out", "/nonexistent/r"]) == 0
    finally:
        signal.signal(signal.SIGHUP, old)


def _stopped_twice(tmp_path, tiny, at: int, every: int):
    """A run that a second SIGTERM stops at once after step ``at`` (a checkpoint every ``every``)."""
    from gankit.train.run import Run
    from gankit.train.signals import TrainingInterrupted

    class TwoSignals:
        def on_step_end(self, trainer):
            if trainer.step == at:
                signal.raise_signal(signal.SIGTERM)     # stop after this step ...
                signal.raise_signal(signal.SIGTERM)     # ... no: at once
    run = Run.create(C.load("ring", tiny + ["train.steps=30", f"train.checkpoint_every={every}"]), tmp_path / "r")
    run.objective.callbacks.append(TwoSignals())
    try:
        with pytest.raises(TrainingInterrupted) as stop:
            run.train()
    finally:
        run.close()
    assert stop.value.at_once
    return stop.value


def test_a_second_signal_before_any_checkpoint_says_a_resume_starts_again(tmp_path, tiny, capsys):
    """It said "the last checkpoint written is kept" with no checkpoint in the folder."""
    from gankit.cli_errors import interrupted_line
    stop = _stopped_twice(tmp_path, tiny, at=3, every=20)
    assert not list((tmp_path / "r" / "checkpoints").glob("step_*.pt"))
    assert str(stop) == ("stopped at once by a second SIGTERM; no checkpoint had been written yet: "
                         "gankit train --resume starts again from step 0")
    args = Namespace(command="train", run_folder=str(tmp_path / "r"), resume=False, set=[], nproc=1)
    assert interrupted_line(args, stop) == ("stopped at once by a second SIGTERM; no checkpoint had been written "
                                            f"yet: gankit train --resume --out {tmp_path / 'r'} starts again "
                                            "from step 0")


def test_a_second_signal_names_the_checkpoint_it_keeps(tmp_path, tiny):
    from gankit.cli_errors import interrupted_line
    stop = _stopped_twice(tmp_path, tiny, at=6, every=4)
    assert str(stop) == "stopped at once by a second SIGTERM; checkpoint step_00000004.pt (step 4) is kept"
    args = Namespace(command="train", run_folder=str(tmp_path / "r"), resume=False, set=[], nproc=1)
    assert interrupted_line(args, stop).endswith(f"(step 4) is kept; continue with gankit train --resume --out "
                                                 f"{tmp_path / 'r'}")


def test_a_step_set_aside_twice_keeps_both_damaged_files(tmp_path, tiny):
    """A resume wrote step 10 anew after its damaged file was set aside; damaged again, the second
    set-aside overwrote the first .damaged file (set-aside files are never deleted)."""
    from gankit.runfolder import RunFolder
    from gankit.train.run import Run
    over = tiny + ["train.steps=10", "train.checkpoint_every=10", "train.sample_every=10", "train.live_report=false"]
    Run.create(C.load("ring", over), tmp_path / "r").train().close()
    last = tmp_path / "r" / "checkpoints" / "step_00000010.pt"
    whole = last.read_bytes()
    for cut in (3000, 5000):
        last.write_bytes(whole[:cut])     # as a resume writes it again, then cut short
        folder = RunFolder(tmp_path / "r")
        with pytest.warns(UserWarning, match=r"renamed to step_00000010\.pt\.damaged(\.1)? and not used"):
            folder.claim_existing()       # what opening the run to resume it does
        folder.unlock()
        assert not last.exists()
    ck = tmp_path / "r" / "checkpoints"
    assert sorted((p.name, p.stat().st_size) for p in ck.glob("*.damaged*")) == [
        ("step_00000010.pt.damaged", 3000), ("step_00000010.pt.damaged.1", 5000)]
    assert [p.name for p in RunFolder(tmp_path / "r").damaged()] == ["step_00000010.pt.damaged",
                                                                       "step_00000010.pt.damaged.1"]
