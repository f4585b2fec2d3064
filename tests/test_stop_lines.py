"""The stop line of a command that a signal stopped outside the training loop, on several
processes: the resume command carries --nproc N as the loop's own line does, every command says
to fix another rank's error first, and a rank > 0 stopped before anything began leaves the one
line to rank 0's error."""
import os
import signal
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from gankit import cli, cli_train, rank_errors
from gankit.cli_errors import Terminated, interrupted_line
from gankit.train.signals import TrainingInterrupted

FIXED = "once that error is fixed"


@pytest.fixture
def one_process(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TORCHELASTIC_USE_AGENT_STORE"):
        monkeypatch.delenv(k, raising=False)


def as_rank(monkeypatch, rank: int, world: int = 2, local: int | None = None):
    """This process as torchrun's rank ``rank`` of ``world`` (``local`` of them on this machine:
    all by default), with no store to ask."""
    local = world if local is None else local
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank % local))
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(local))
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE", raising=False)


def _why(peers) -> str:
    return "; torchrun stops every process when one fails, " + (
        f"and rank {peers[0]} failed (its error says why)" if peers else "so another process's error may say why")


def stopped_by_torchrun(peers):
    """The SIGTERM torchrun sends when a rank failed: ``peers`` those known to (None: unknown)."""
    stop = Terminated(signal.SIGTERM, _why(peers))
    stop.peers = peers
    return stop


def written(tmp_path, name="r") -> Path:
    run = tmp_path / name
    run.mkdir(exist_ok=True)
    (run / "config.toml").write_text("")
    return run


def commands(tmp_path) -> dict:
    """A parsed command of each kind the stop line names, and one it does not (list)."""
    run = written(tmp_path)
    return {
        "train": Namespace(command="train", run_folder=str(run), resume=False, set=[], nproc=1),
        "eval": Namespace(command="eval", run_dir=str(run)),
        "drs": Namespace(command="drs", run_dir=str(run), steps=3, quantile=None, lr=None),
        "sample": Namespace(command="sample", run_dir=str(run), out="s.png"),
        "invert": Namespace(command="invert", run_dir=str(run), out=None),
        "complete": Namespace(command="complete", run_dir=str(run), out="c"),
        "report": Namespace(command="report", run_dir=str(run)),
        "compare": Namespace(command="compare", run_dirs=[str(run)], out=None, json=False, text=True),
        "sweep": Namespace(command="sweep", results="r.jsonl"),
        "list": Namespace(command="list"),
        None: None,
    }


def test_every_commands_line_says_to_fix_the_other_ranks_error_first(tmp_path, monkeypatch, one_process):
    """train with a folder written, drs and sweep gave their next step as if nothing had failed,
    though the same command fails again until the other rank's error is fixed."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "r"
    for command, args in commands(tmp_path).items():
        plain = interrupted_line(args, Terminated(signal.SIGTERM))
        assert FIXED not in plain and "torchrun" not in plain, plain
        told = interrupted_line(args, stopped_by_torchrun([1]))
        assert "and rank 1 failed (its error says why): " in told, told
        assert told.count(FIXED) == 1, told
        # the same words as without it, the next step after the fix
        unfixed = told.replace(f"{FIXED}, ", "").replace(f" {FIXED}", "")
        assert unfixed == plain.replace(":", f"{_why([1])}:", 1), told
    args = commands(tmp_path)
    line = lambda c: interrupted_line(args[c], stopped_by_torchrun([1]))   # noqa: E731
    assert line("train").endswith(f"{run} keeps what was written; {FIXED}, continue with gankit train "
                                  f"--resume --out {run}"), line("train")
    assert line("drs").endswith(f"run gankit drs {run} --steps 3 again {FIXED}"), line("drs")
    assert line("sweep").endswith(f"recorded in r.jsonl; {FIXED}, rerun the same command with --resume to run "
                                  "the others (interrupted runs start over)"), line("sweep")
    assert line("report").endswith(f"is left as it was; run the same command again {FIXED}"), line("report")
    stop = stopped_by_torchrun([1])
    stop.evaluation_recorded = (30, "modes_covered 8")      # as api._evaluate sets it
    assert interrupted_line(args["eval"], stop).endswith(
        f"the reference row was not measured; {FIXED}, run the same command again to measure it (it records the "
        "evaluation once more)"), interrupted_line(args["eval"], stop)


def test_every_resume_command_of_a_run_on_several_processes_carries_nproc(tmp_path, monkeypatch):
    """Stopped outside the loop (before the first step, in the final evaluation or the DRS fit,
    writing the report), the line said `gankit train --resume --out F` without --nproc: pasted,
    the run went on in one process."""
    run = written(tmp_path)
    folder = Namespace(command="train", run_folder=str(run), resume=False, set=[], nproc=1)
    for rank in (0, 1):     # each rank prints its own line; torchrun gives each the world size
        as_rank(monkeypatch, rank)
        assert interrupted_line(folder, KeyboardInterrupt()).endswith(
            f"continue with gankit train --resume --out {run} --nproc 2")
        assert interrupted_line(folder, Terminated(signal.SIGTERM)).endswith(f"--out {run} --nproc 2")
        at_once = TrainingInterrupted(signal.SIGINT, "stopped at once by a second SIGINT; the last checkpoint "
                                                     "written is kept", at_once=True)
        assert interrupted_line(folder, at_once).endswith(f"continue with gankit train --resume --out {run} "
                                                          "--nproc 2")
    # stopped before _cmd_train began: a resume's own --set arguments, then --nproc
    begun = Namespace(command="train", resume=True, out=str(run), set=["train.steps=9"], nproc=1)
    assert interrupted_line(begun, KeyboardInterrupt()).endswith(
        f"nothing was changed; continue with gankit train --resume --out {run} --set train.steps=9 --nproc 2")
    # the process that launches the ranks (--nproc 3) knows it from its arguments
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k)
    launcher = Namespace(command="train", run_folder=str(run), resume=False, set=[], nproc=3)
    assert interrupted_line(launcher, KeyboardInterrupt()).endswith(f"--resume --out {run} --nproc 3")
    assert interrupted_line(folder, KeyboardInterrupt()).endswith(f"--resume --out {run}")    # one process
    # a WORLD_SIZE left exported in the shell of a plain command is no launch (torchrun sets RANK
    # and LOCAL_WORLD_SIZE beside it): no --nproc 4, which that command would refuse
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert interrupted_line(folder, KeyboardInterrupt()).endswith(f"--resume --out {run}")
    # two machines of 4 processes each: --nproc (this machine's processes) cannot say 8
    as_rank(monkeypatch, 5, world=8, local=4)
    assert interrupted_line(folder, KeyboardInterrupt()).endswith(
        f"--resume --out {run} started on every machine by the torchrun command that launched the run")


def test_the_loops_resume_command_follows_the_launch(monkeypatch, one_process):
    from gankit.train.run_training import _resume_suffix
    assert _resume_suffix() == ""
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert _resume_suffix() == ""
    as_rank(monkeypatch, 0, world=2)
    assert _resume_suffix() == " --nproc 2"
    as_rank(monkeypatch, 0, world=8, local=4)
    assert _resume_suffix() == " started on every machine by the torchrun command that launched the run"


def test_a_rank_stopped_before_anything_began_leaves_the_line_to_rank_0s_error(tmp_path, monkeypatch):
    """About 1 run in 4 of `train --nproc 2 --out r --set train.steps=abc`, rank 1 (slower to
    start) was stopped by torchrun after rank 0 printed the error: two lines for one cause."""
    nothing = Namespace(command="train", run_folder=str(tmp_path / "none"), resume=False, set=[], nproc=1)
    as_rank(monkeypatch, 1)
    assert interrupted_line(nothing, stopped_by_torchrun([0])) is None
    # its own line where it says more than rank 0's error: a folder to continue
    kept = Namespace(command="train", run_folder=str(written(tmp_path)), resume=False, set=[], nproc=1)
    assert interrupted_line(kept, stopped_by_torchrun([0])).endswith(
        f"{FIXED}, continue with gankit train --resume --out {tmp_path / 'r'} --nproc 2")
    # another rank than 0 failed (its error may be its own, printed as `rank 2: ...`): said
    as_rank(monkeypatch, 1, world=3)
    assert "rank 2 failed" in interrupted_line(nothing, stopped_by_torchrun([2]))
    # unknown in the signal handler (set-up had not imported the store's client): asked again
    monkeypatch.setattr(rank_errors, "failed_peers", lambda store=None, ask_store=True: [0])
    assert interrupted_line(nothing, stopped_by_torchrun(None)) is None
    assert interrupted_line(None, stopped_by_torchrun(None)) is None      # before the arguments were parsed
    monkeypatch.setattr(rank_errors, "failed_peers", lambda store=None, ask_store=True: [2])
    assert "and rank 2 failed (its error says why): no run folder was written; run the same command again " \
           f"{FIXED}" in interrupted_line(nothing, stopped_by_torchrun(None))
    monkeypatch.setattr(rank_errors, "failed_peers", lambda store=None, ask_store=True: None)
    assert "another process's error may say why" in interrupted_line(nothing, stopped_by_torchrun(None))
    # rank 0 always says its own
    as_rank(monkeypatch, 0)
    assert interrupted_line(nothing, stopped_by_torchrun([1])) is not None


def test_a_stop_every_rank_got_before_anything_began_is_said_once(tmp_path, monkeypatch):
    """Ctrl-C during set-up on 3 processes printed "stopped by SIGINT ...: run the same command
    again" three times, with no rank named; rank 0 says it for all."""
    nothing = Namespace(command="train", run_folder=str(tmp_path / "none"), resume=False, set=[], nproc=1)
    as_rank(monkeypatch, 2, world=3)
    assert interrupted_line(nothing, KeyboardInterrupt()) is None
    assert interrupted_line(None, KeyboardInterrupt()) is None                # before the arguments were parsed
    assert interrupted_line(nothing, Terminated(signal.SIGTERM, "", [])) is None   # the launcher's SIGTERM
    # asked after the handler could not: nobody failed, so nothing to blame and nothing to add
    monkeypatch.setattr(rank_errors, "failed_peers", lambda store=None, ask_store=True: [])
    assert interrupted_line(nothing, stopped_by_torchrun(None)) is None
    # a folder written: this rank's line names what to continue (rank 0's says the same, as before)
    kept = Namespace(command="train", run_folder=str(written(tmp_path)), resume=False, set=[], nproc=1)
    assert "continue with" in interrupted_line(kept, KeyboardInterrupt())
    as_rank(monkeypatch, 0, world=3)
    assert interrupted_line(nothing, KeyboardInterrupt()).startswith("train stopped by SIGINT")


def test_main_prints_nothing_for_a_rank_stopped_as_rank_0_failed(tmp_path, monkeypatch, capsys):
    as_rank(monkeypatch, 1)
    monkeypatch.setattr(rank_errors, "failed_peers", lambda store=None, ask_store=True: [0])

    def stopped(a, out):
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the command")
    monkeypatch.setattr(cli_train, "_train", stopped)
    assert cli.main(["train", "ring", "--out", str(tmp_path / "r")]) == 143
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("wrote", [True, False])
def test_the_launchers_line_names_the_resume_command_of_its_ranks(tmp_path, monkeypatch, capsys, one_process, wrote):
    """The process of --nproc said "continue with --resume": added to `gankit train ring --nproc 2`
    that is refused (a preset with --resume, or no --out for a folder named by the clock), and
    wrong when no rank had written the folder yet."""
    import torch.distributed.run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    run = tmp_path / "r"

    def stopped(argv):
        if wrote:      # rank 0 had written the run folder
            written(tmp_path)
        raise SignalException("stopped", signal.SIGINT)
    monkeypatch.setattr(torchrun, "main", stopped)
    assert cli.main(["train", "ring", "--nproc", "2", "--out", str(run)]) == 130
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert line.startswith("gankit: SIGINT received: the 2 processes were stopped"), line
    if wrote:
        assert line.endswith(f"; {run} keeps what was written; continue with gankit train --resume --out {run} "
                             "--nproc 2"), line
        assert "rank 0 writes a checkpoint" in line, line
    else:
        assert line.endswith("; no run folder was written; run the same command again"), line
        assert "checkpoint" not in line, line        # nothing to agree on before the folder exists


def _trained_folder(tmp_path, tiny_cli, env) -> Path:
    """A tiny trained run: a config error of its --resume is found by the ranks (a new run's is
    refused by the launcher before any rank starts)."""
    run = tmp_path / "r"
    p = subprocess.run([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--out", str(run), *tiny_cli,
                        "--set", "train.steps=2"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    return run


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="torchrun's ranks (Linux)")
def test_a_config_error_on_two_ranks_is_one_line_when_rank_1_is_stopped_first(tmp_path, tiny_cli):
    """Rank 1 kept slow (a plug-in that sleeps on rank 1) until torchrun stops it for rank 0's
    config error: it printed its stop line beside that error."""
    slow = tmp_path / "slow_rank1.py"
    slow.write_text("import os, time\nif os.environ.get('RANK') == '1':\n    time.sleep(60)\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    run = _trained_folder(tmp_path, tiny_cli, env)
    p = subprocess.run([sys.executable, "-m", "gankit", "--import", str(slow), "train", "--resume", "--nproc",
                        "2", "--out", str(run), "--set", "train.steps=abc"],
                       capture_output=True, text=True, env=env, timeout=120)
    err = p.stderr
    assert p.returncode == 2, err[-3000:]
    assert "rank 1: exit code 143" in err, err[-3000:]      # rank 1 was stopped, not failing on its own
    assert err.count("gankit: error: train.steps: expected an integer") == 1, err[-3000:]
    assert "stopped by SIGTERM" not in err, err[-3000:]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="torchrun's ranks (Linux)")
def test_a_rank_stopped_while_it_imports_torch_leaves_the_line_to_rank_0s_error(tmp_path, tiny_cli):
    """Under load rank 1 was still importing torch when torchrun stopped it for rank 0's config
    error: it could not ask the store and printed its own stop line (1 CI run in ~50).  Here rank
    1's import of torch waits until the signal comes."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, sys, time\n"
        "class Slow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' and 'gankit.cli' in sys.modules:\n"
        "            time.sleep(60)\n"
        "if os.environ.get('RANK') == '1':\n"
        "    sys.meta_path.insert(0, Slow())\n")
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(hook), str(Path(__file__).parents[1])]))
    run = _trained_folder(tmp_path, tiny_cli, dict(os.environ, OMP_NUM_THREADS="1",
                                                   PYTHONPATH=str(Path(__file__).parents[1])))
    p = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume", "--nproc", "2",
                        "--out", str(run), "--set", "train.steps=abc"],
                       capture_output=True, text=True, env=env, timeout=120)
    err = p.stderr
    assert p.returncode == 2, err[-3000:]
    assert "rank 1: exit code 143" in err, err[-3000:]      # stopped in its import, not failing on its own
    assert err.count("gankit: error: train.steps: expected an integer") == 1, err[-3000:]
    assert "stopped by SIGTERM" not in err, err[-3000:]


def test_the_marks_of_failed_ranks_are_read_without_the_store(tmp_path, monkeypatch):
    """torchrun's folder for the attempt holds each rank's error file; a failed rank marks itself
    there, so a rank without torch (or without a store) knows who failed."""
    attempt = tmp_path / "run_x" / "attempt_0"

    def as_local_rank(rank, world=2, local=2, attempt=attempt):
        as_rank(monkeypatch, rank, world, local)
        (attempt / str(rank % local)).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(attempt / str(rank % local) / "error.json"))
    monkeypatch.setattr(rank_errors, "_error_store", lambda: None)
    as_local_rank(1)
    assert rank_errors.failed_peers(ask_store=False) == []       # every rank is on this machine: none failed
    as_local_rank(0)
    rank_errors.post_error("train.steps: expected an integer")
    as_local_rank(1)
    assert rank_errors.failed_peers(ask_store=False) == [0]
    with pytest.raises(TrainingInterrupted, match="rank 0 failed"):
        cli._terminated(signal.SIGTERM, None)
    # ranks on other machines: no mark seen is not "none failed"
    as_local_rank(5, world=8, local=4, attempt=tmp_path / "run_y" / "attempt_0")
    assert rank_errors.failed_peers(ask_store=False) is None
    # another restart's folder, or an error file of another layout: nothing read, nothing written
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    as_local_rank(1)
    assert rank_errors.failed_peers(ask_store=False) is None
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / "error.json"))
    rank_errors.post_error("x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_x", "run_y"]


def test_a_rank_killed_without_a_word_is_named_by_the_ranks_torchrun_stopped(tmp_path, monkeypatch, capsys):
    """Rank 1 SIGKILLed (the out-of-memory killer) under plain torchrun: rank 0 said "train
    stopped by SIGTERM ...; continue with --resume", as if someone had stopped the run."""
    attempt = tmp_path / "run_x" / "attempt_0"
    for r in (0, 1):
        (attempt / str(r)).mkdir(parents=True)

    def as_local_rank(rank):
        as_rank(monkeypatch, rank)
        monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(attempt / str(rank) / "error.json"))
    monkeypatch.setattr(rank_errors, "_error_store", lambda: None)
    monkeypatch.setattr("atexit.register", lambda f: None)       # this test process is no rank leaving
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        as_local_rank(1)
        monkeypatch.setattr(os, "getpid", lambda: killed.pid)
        rank_errors.mark_alive()
        monkeypatch.undo()
        as_local_rank(0)
        monkeypatch.setattr(rank_errors, "_error_store", lambda: None)
        assert rank_errors.lost_peers() == []                  # alive
    finally:
        killed.kill()                                          # also when an assert above failed
        killed.wait()
    assert rank_errors.lost_peers() == [1]
    with pytest.raises(Terminated) as stop:
        cli._terminated(signal.SIGTERM, None)
    nothing = Namespace(command="train", run_folder=str(tmp_path / "none"), resume=False, set=[], nproc=1)
    line = interrupted_line(nothing, stop.value)
    assert "rank 1 ended without an error of its own (killed by a signal" in line, line
    assert line.endswith("run the same command again once its cause is fixed"), line

    def collective_failed(a, out):
        raise RuntimeError("[gloo] Connection reset by peer")
    monkeypatch.setattr(cli_train, "_train", collective_failed)        # a collective that lost its peer
    assert cli.main(["train", "ring", "--out", str(tmp_path / "r")]) == 3
    said = capsys.readouterr().err
    assert "rank 0: stopped, as rank 1 ended without an error of its own (killed" in said, said
    assert "its error" not in said, said
    as_local_rank(1)       # a rank that left through Python (its mark) or with an error is not lost
    rank_errors.mark_left()
    as_local_rank(0)
    assert rank_errors.lost_peers() == []


def test_the_ranks_argv_keeps_a_folder_named_like_an_option():
    """`gankit train ring --out=-x --nproc 2`: the ranks got `--out -x` and each failed with
    `argument --out: expected one argument`."""
    from gankit.cli import build_parser
    from gankit.train.launch import train_argv
    a = build_parser().parse_args(["train", "ring", "--out=-x", "--nproc", "2", "--set", "train.steps=3"])
    again = build_parser().parse_args(train_argv(a))
    assert (again.out, again.config, again.set) == ("-x", "ring", ["train.steps=3"])
