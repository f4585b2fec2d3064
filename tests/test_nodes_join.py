"""A run across machines whose rank fails before joining the process group (its config file or
run folder missing on its machine): the others are told within seconds, naming the rank and its
error, where rank 0 sat silent in torch's join for half an hour (no torchrun stops the processes
of another machine).  Two torchrun agents on this machine (--nnodes 2, c10d on localhost) stand
for two machines; in-process tests play the ranks in turn over an in-memory store."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch.distributed as dist

from gankit import cli, cli_train, rank_errors
from gankit.train import distributed

ROOT = Path(__file__).resolve().parents[1]
MISSING = {"config": "config file 'my.toml' does not exist on this machine",
           "folder": "is not a run folder on this machine (no config.toml)"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_machines(tmp_path, argv: list[str], timeout: float = 50) -> list[tuple[int | None, str]]:
    """(exit code, stderr) of ``gankit ARGV`` started by two torchrun agents, one in tmp_path/m0
    and one a second later in tmp_path/m1 (their own working folders, as two machines); None for
    an agent still running after ``timeout`` seconds (then killed)."""
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), LOCAL_WORLD_SIZE="")
    env.pop("LOCAL_WORLD_SIZE")
    agents = []
    for m in ("m0", "m1"):
        log = open(tmp_path / f"{m}.log", "w")
        agents.append((subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
             "--rdzv-backend", "c10d", "--rdzv-endpoint", f"localhost:{port}", "-m", "gankit", *argv],
            cwd=tmp_path / m, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True), log))
        time.sleep(1)
    end, out = time.monotonic() + timeout, []
    for p, log in agents:
        try:
            rc = p.wait(max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc = None
        log.close()
        out.append((rc, Path(log.name).read_text()))
    return out


def said(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("gankit:")]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="torchrun's agents (Linux)")
@pytest.mark.parametrize("lacking,where", [("config", "m1"), ("config", "m0"), ("folder", "m1")])
def test_a_rank_that_fails_before_joining_is_told_on_the_other_machine(tmp_path, tiny_run_dir, lacking, where):
    """my.toml (or the run folder of --resume --out runs/r) exists on one machine only: the rank
    on the other failed at once, and the rank that had it waited in torch's join until killed."""
    for m in ("m0", "m1"):
        (tmp_path / m).mkdir()
        if m != where:
            (tmp_path / m / "my.toml").write_text('data = {name = "ring"}\n[train]\nsteps = 4\n')
            shutil.copytree(tiny_run_dir, tmp_path / m / "runs" / "r")
    argv = (["train", "my.toml", "--out", str(tmp_path / "shared")] if lacking == "config"
            else ["train", "--resume", "--out", "runs/r"])
    start = time.monotonic()
    ends = two_machines(tmp_path, argv)
    took = time.monotonic() - start
    assert all(rc is not None for rc, _ in ends), (took, ends)     # none left waiting in the join
    assert took < 40, (took, ends)
    lines = {m: said(text) for m, (_, text) in zip(("m0", "m1"), ends)}
    other = "m0" if where == "m1" else "m1"
    [own] = lines[where]
    assert MISSING[lacking] in own, lines
    failed = 1 if own.startswith("gankit: error: rank 1: ") else 0
    [told] = lines[other]
    prefix = "gankit: error: " if failed == 1 else "gankit: error: rank 1: "
    assert told.startswith(f"{prefix}rank {failed} failed before joining the run: "), lines
    assert MISSING[lacking] in told, lines


@pytest.fixture
def launch(monkeypatch, tmp_path):
    """This process as rank ``rank`` of a two-machine launch (one rank each), over one store."""
    store = dist.HashStore()
    monkeypatch.setattr(rank_errors, "_error_store", lambda: store)
    monkeypatch.setattr(rank_errors, "ERROR_WAIT", 0.3)
    monkeypatch.setattr(distributed, "_launch_store", lambda rank, size: store)

    def as_rank(rank: int, size: int = 2):
        for k, v in dict(RANK=rank, LOCAL_RANK=0, WORLD_SIZE=size, LOCAL_WORLD_SIZE=1).items():
            monkeypatch.setenv(k, str(v))
        monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / f"machine{rank}" / "attempt_0" / "0" / "e.json"))
        (tmp_path / f"machine{rank}" / "attempt_0" / "0").mkdir(parents=True, exist_ok=True)
    as_rank.store = store
    return as_rank


def test_the_join_names_the_rank_that_failed_before_it_and_its_error(launch):
    launch(1)
    rank_errors.post_error("config file 'my.toml' does not exist")
    launch(0)
    start = time.monotonic()
    with pytest.raises(distributed.DistributedError) as e:
        distributed._wait_for_peers(0, 2)
    assert time.monotonic() - start < 1
    assert str(e.value) == "rank 1 failed before joining the run: config file 'my.toml' does not exist"
    assert launch.store.check([rank_errors._seen_key(0)])    # the failed rank's machine may now end


def test_a_rank_that_came_to_the_join_and_then_failed_is_not_taken_for_the_cause(launch):
    """Rank 1 stopped for rank 2's failure posts its own line too: rank 0 names rank 2."""
    launch(2, size=3)
    rank_errors.post_error("data.path: cannot read it")
    launch(1, size=3)
    launch.store.set(rank_errors._joined_key(1), "1")
    rank_errors.post_error("rank 2 failed before joining the run: data.path: cannot read it")
    launch(0, size=3)
    assert rank_errors.wait_for_peers(launch.store, wait=1) == {2: "data.path: cannot read it"}


def test_ranks_that_all_come_join_and_one_that_never_comes_is_named(launch):
    launch(1)
    launch.store.set(rank_errors._joined_key(1), "1")
    launch(0)
    assert rank_errors.wait_for_peers(launch.store, wait=1) == {}
    launch(1, size=3)
    launch(0, size=3)
    assert rank_errors.wait_for_peers(launch.store, wait=0.2) == {2: None}


def test_rank_0s_error_is_said_once_on_its_machine_and_named_on_the_others(launch, tmp_path, monkeypatch):
    launch(0)
    rank_errors.post_error("train.steps: expected an integer")
    launch(1)
    with pytest.raises(distributed.DistributedError, match="^rank 0 failed before joining the run: train.steps"):
        distributed._wait_for_peers(1, 2)
    # rank 0 on this machine (its mark here): torchrun stops this rank and says why; failing that,
    # rank 0's own message, which rank 1 does not repeat
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / "machine0" / "attempt_0" / "1" / "e.json"))
    monkeypatch.setattr(rank_errors, "STOP_WAIT", 0.3)
    start = time.monotonic()
    with pytest.raises(distributed.DistributedError, match="^train.steps: expected an integer$"):
        distributed._wait_for_peers(1, 2)
    assert time.monotonic() - start >= 0.3


def test_a_rank_that_failed_first_waits_until_the_others_read_its_error(launch):
    """Its machine's torchrun may host the store, and ends with it: the error is read first."""
    launch(1)
    start = time.monotonic()
    rank_errors.post_error("x")
    assert time.monotonic() - start >= 0.3          # no reader: ERROR_WAIT, then it goes
    launch.store.set(rank_errors._seen_key(0), "1")
    start = time.monotonic()
    rank_errors.post_error("y")
    assert time.monotonic() - start < 0.2


def test_a_rank_on_another_machine_without_a_store_says_its_own_error(launch, monkeypatch):
    """Without a store (rank 0 hosts none yet) rank 0's line is on another screen, if any."""
    launch(1)
    monkeypatch.setattr(rank_errors, "_error_store", lambda: None)
    monkeypatch.setattr(rank_errors, "_hosted_store", lambda: None)
    assert rank_errors.error_line("config file 'my.toml' does not exist") == \
        "rank 1: config file 'my.toml' does not exist"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")       # one machine: rank 0 says it
    assert rank_errors.error_line("config file 'my.toml' does not exist") is None


# the lines a rank says across machines: what a peer machine's loss leaves, and a file one machine lacks

def test_a_rank_whose_peer_machine_was_killed_names_the_checkpoint_and_the_resume(tmp_path, monkeypatch, capsys,
                                                                                 tiny_run_dir):
    for k, v in dict(RANK=0, LOCAL_RANK=0, WORLD_SIZE=2, LOCAL_WORLD_SIZE=1).items():
        monkeypatch.setenv(k, str(v))
    monkeypatch.setattr(rank_errors, "_error_store", lambda: None)
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)

    def collective_failed(a, out):
        a.run_folder = out
        raise RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:8604")
    monkeypatch.setattr(cli_train, "_train", collective_failed)
    assert cli.main(["train", "--resume", "--out", str(run)]) == 3
    said = capsys.readouterr().err
    assert "rank 0: stopped, as another process of this run stopped" in said, said
    assert f"{run} keeps its checkpoint of step 30; continue with gankit train --resume --out {run} started on " \
           "every machine" in said, said


def test_a_file_one_machine_of_the_run_lacks_is_said_to_be_needed_at_the_same_path_on_each(tmp_path, monkeypatch):
    """--resume --out runs/r with runs/r on node 0 only: rank 1 advised to create a new run there."""
    from gankit.config import ConfigError
    from gankit.config.files import read_toml
    from gankit.runfolder import RunFolder, RunFolderError
    for k, v in dict(RANK=1, LOCAL_RANK=0, WORLD_SIZE=2, LOCAL_WORLD_SIZE=1).items():
        monkeypatch.setenv(k, str(v))
    with pytest.raises(RunFolderError) as e:
        RunFolder(tmp_path / "r").require_run()
    assert "not a run folder on this machine" in str(e.value) and "same path on every machine" in str(e.value)
    assert "gankit train PRESET" not in str(e.value)
    with pytest.raises(ConfigError, match="does not exist on this machine; give a preset name .*same path on every"):
        read_toml(tmp_path / "my.toml")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")        # one machine: as before
    with pytest.raises(RunFolderError, match="create one with gankit train PRESET"):
        RunFolder(tmp_path / "r").require_run()
