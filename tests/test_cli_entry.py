"""The command line's entry points (audit a116, F5/F6): no command shows the commands, `help
[COMMAND]` is a command, a mistyped command gets a "did you mean", a command's extra words are
refused with its own usage; and a signal the process was started ignoring stays ignored."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gankit.cli import main
from gankit.runfolder import RunFolder
from gankit.train.signals import STOP_SIGNALS, StopOnSignal

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "eval", "compare", "drs", "sample", "report", "list", "sweep", "invert", "complete")


def test_no_command_shows_the_commands_and_exits_2(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "arguments are required" not in err
    assert "commands:" in err and all(f"\n    {c} " in err for c in COMMANDS), err
    assert "gankit help COMMAND" in err


def test_help_shows_the_commands_or_one_commands_options(capsys):
    assert main(["help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gankit ") and all(f"\n    {c} " in out for c in COMMANDS), out
    assert main(["help", "train"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gankit train ") and "--resume" in out


def test_help_of_a_mistyped_command_says_which_was_meant(capsys):
    assert main(["help", "trian"]) == 2
    assert "invalid choice: 'trian' (did you mean 'train'?)" in capsys.readouterr().err


@pytest.mark.parametrize("typed,meant", [("trian", "train"), ("evl", "eval"), ("lst", "list")])
def test_a_mistyped_command_says_which_was_meant(capsys, typed, meant):
    assert main([typed, "ring"]) == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{typed}' (did you mean '{meant}'?); choose from train, eval" in err, err


def test_a_commands_extra_words_are_refused_with_its_own_usage(capsys):
    assert main(["report", "a", "b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: gankit report ") and "gankit report: error: unrecognized arguments: b" in err, err
    assert main(["--bogus", "list"]) == 2          # an option before the command is gankit's own
    assert "gankit: error: unrecognized arguments: --bogus" in capsys.readouterr().err


def test_train_help_says_where_the_presets_are_listed(capsys):
    assert main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "PRESET a preset's name (gankit list shows them)" in out, out


@pytest.fixture
def ignored():
    """Every signal training stops on ignored (SIGINT and SIGTERM as a shell's background job or a
    launcher leaves them, SIGHUP as nohup does), whatever the test process inherited."""
    before = {s: signal.signal(s, signal.SIG_IGN) for s in STOP_SIGNALS}
    yield
    for s, h in before.items():
        signal.signal(s, h)


def test_training_leaves_an_ignored_signal_ignored(ignored):
    with StopOnSignal(trainer=None) as stop:
        assert stop.saved == {}
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_the_command_line_leaves_an_ignored_sigterm_ignored(ignored, monkeypatch):
    from gankit import cli
    seen = []
    real = cli.build_parser

    def parser():
        seen.append(signal.getsignal(signal.SIGTERM))
        return real()
    monkeypatch.setattr(cli, "build_parser", parser)
    assert main(["--version"]) == 0
    assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_a_background_run_trains_to_its_end_through_a_ctrl_c(tmp_path):
    """`gankit train ... &` in a script: the shell makes the job ignore SIGINT, so a Ctrl-C at the
    terminal (sent to the whole process group) is not for it; it stopped the run (exit 130)."""
    steps, run = 600, tmp_path / "r"
    sets = [f"train.steps={steps}", "train.batch_size=16", "train.progress=false", "generator.hidden=[16, 16]",
            "discriminator.hidden=[16, 16]", "train.log_every=5", "train.sample_every=100000",
            "train.checkpoint_every=100000", "train.n_fixed=16", "eval.n_samples=100", 'eval.metrics=["modes"]']
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "gankit", "train", "ring", "--out", str(run),
                          *[a for kv in sets for a in ("--set", kv)]], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:      # a failure leaves no 600-step training behind
        records = RunFolder(run).records_path
        t0 = time.monotonic()
        while "\n" not in (records.read_text() if records.exists() else ""):    # a record: the loop runs
            assert p.poll() is None, p.communicate()
            assert time.monotonic() - t0 < 120, "timed out"
            time.sleep(0.02)
        signalled_at = json.loads(records.read_text().splitlines()[0])["step"]
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert signalled_at < steps             # the signal came while it trained
    assert p.returncode == 0, err
    assert "SIGINT" not in err
    assert [step for step, _ in RunFolder(run).checkpoints()] == [steps]
