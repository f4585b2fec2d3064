"""What the processes of a torchrun run say when one of them fails or is stopped, tested in
this process: a rank's place comes from the environment (RANK, WORLD_SIZE), the launch's store
is an in-memory one, and a Run's world is a stand-in, so no process is started."""
from __future__ import annotations

import numpy as np
import pytest
import torch.distributed as dist

from gankit import cli
from gankit import config as C
from gankit.config import ConfigError
from gankit.data import _batch_advice
from gankit.runfolder import RunFolder
from gankit import rank_errors
from gankit.train import distributed
from gankit.train.launch import PEER_LEFT, failure_exit_code, failure_report
from gankit.train.run import Run, RunError
from gankit.train.signals import TrainingInterrupted

SMALL = ["train.steps=2", "train.progress=false", "train.log_every=1", "train.checkpoint_every=2",
         "generator.hidden=[8]", "discriminator.hidden=[8]", "train.batch_size=2"]


@pytest.fixture
def store(monkeypatch):
    """The launch's store, shared by the ranks this test plays in turn."""
    s = dist.HashStore()
    monkeypatch.setattr(rank_errors, "_error_store", lambda: s)
    monkeypatch.setattr(rank_errors, "ERROR_WAIT", 0.2)
    return s


def as_rank(monkeypatch, rank: int, size: int = 2):
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(size))
    monkeypatch.setenv("LOCAL_RANK", str(rank))


def errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("gankit:")]


NO_OUT = ["train", "ring", "--set", "train.steps=1"]     # refused under torchrun: every rank must name --out


def test_an_error_of_rank_1_alone_is_printed_and_one_every_rank_hits_once(monkeypatch, capsys, store):
    """Rank 1's own error (its data file, on its machine) was dropped: a ConfigError was taken
    to be the same on every rank, so the run failed with no reason printed."""
    as_rank(monkeypatch, 1)
    assert cli.main(NO_OUT) == 2
    [line] = errors(capsys)
    assert line.startswith("gankit: error: rank 1: under torchrun give --out"), line
    as_rank(monkeypatch, 0)                   # rank 0 fails the same way: it says so, and tells the others
    assert cli.main(NO_OUT) == 2
    [line] = errors(capsys)
    assert line.startswith("gankit: error: under torchrun give --out"), line
    as_rank(monkeypatch, 1)                   # so rank 1 leaves it to rank 0
    assert cli.main(NO_OUT) == 2
    assert errors(capsys) == []
    said = rank_errors.error_line("its own data are missing", store=store)   # a different error: its own
    assert said == "rank 1: its own data are missing"


def test_a_rank_stopped_by_the_user_does_not_blame_another_process(monkeypatch, store):
    """Every rank stopped by the launcher's SIGTERM during set-up said another process's error
    might say why, though none had failed."""
    as_rank(monkeypatch, 0)
    with pytest.raises(TrainingInterrupted) as stopped:
        cli._terminated(15, None)
    assert "error" not in str(stopped.value) and "SIGTERM received; stopped" in str(stopped.value)
    as_rank(monkeypatch, 1)
    rank_errors.post_error("data.path: cannot read it")      # rank 1 failed: then rank 0 says so
    as_rank(monkeypatch, 0)
    with pytest.raises(TrainingInterrupted) as stopped:
        cli._terminated(15, None)
    assert "rank 1 failed (its error says why)" in str(stopped.value)


def test_the_summary_says_torchrun_stopped_only_the_ranks_it_stopped():
    """Every rank failing on its own (batch 5 on 2 processes: both exit 2) was summarised as
    'torchrun then stopped the others with SIGTERM'."""
    assert "stopped" not in failure_report({0: 2, 1: 2}, 2).split(")", 1)[1]
    assert "stopped" not in failure_report({0: 1, 1: 1}, 2).split(")", 1)[1]
    line = failure_report({0: 143, 1: 2}, 2)
    assert "rank 1's failure ended the run (torchrun then stopped the others with SIGTERM)" in line
    line = failure_report({0: 2, 1: 2, 2: 143}, 3)
    assert line.endswith("rank 0's failure ended the run (torchrun then stopped rank 2 with SIGTERM)"), line
    line = failure_report({0: PEER_LEFT, 1: 2}, 2)         # rank 0's collective failed as rank 1 left
    assert "rank 1's failure ended the run" in line and "SIGTERM" not in line, line
    assert failure_exit_code({0: PEER_LEFT, 1: 2}) == 2


@pytest.fixture
def three_points(tmp_path):
    path = tmp_path / "three.npy"
    np.save(path, np.array([[0, 0], [1, 1], [2, 2]], dtype=np.float32))
    return [*SMALL, "data.name=points", f"data.path={path}"]


def two_ranks(monkeypatch, rank: int, agreed=None):
    """Run's world is rank ``rank`` of 2; rank 0's broadcasts are ``agreed`` (or what this rank sends)."""
    world = distributed.World(size=2, rank=rank, local_rank=rank, local_size=2, backend="gloo")
    monkeypatch.setattr(distributed, "setup", lambda device: world)
    monkeypatch.setattr(distributed, "check_same", lambda *a, **k: None)
    monkeypatch.setattr(distributed, "gather", lambda w, obj: [obj] * w.size)     # the ranks agree
    sent = []
    monkeypatch.setattr(distributed, "agree", lambda w, obj: sent.append(obj) or (obj if agreed is None else agreed))
    return sent


def test_the_batch_advice_for_small_data_is_one_the_processes_can_split(monkeypatch, tmp_path, three_points):
    """3 points, batch 8 on 2 processes: the advice (3) was then refused as not dividing by 2."""
    two_ranks(monkeypatch, 0)
    with pytest.raises(ConfigError, match=r"train\.batch_size=2\b") as refused:
        Run.create(C.load("ring-vanilla", [*three_points, "train.batch_size=8"]), tmp_path / "new")
    assert "3 or less" not in str(refused.value)
    distributed.local_config(C.load("ring-vanilla", three_points), distributed.World(size=2))   # accepted
    monkeypatch.undo()
    Run.create(C.load("ring-vanilla", three_points), tmp_path / "run").close()
    two_ranks(monkeypatch, 0)     # resumed on 2 processes: the data are built before the Run
    with pytest.raises(ConfigError, match=r"train\.batch_size=2\b"):
        Run.open(tmp_path / "run", ["train.batch_size=8"], write=True)
    assert "--nproc 1" in _batch_advice(8, 1, 2, "samples")    # fewer samples than processes


def test_the_advice_for_fewer_samples_than_processes_names_a_batch_that_fits():
    """2 rows, batch 3 on 3 processes: the advice (--nproc 2) kept batch 3, larger than the data
    and not dividing by 2."""
    said = _batch_advice(3, 2, 3, "samples")
    assert "--nproc 2 --set train.batch_size=2" in said, said
    assert "--nproc 1 --set train.batch_size=1" in _batch_advice(8, 1, 2, "samples")


def killed_before_its_first_checkpoint(tmp_path) -> RunFolder:
    folder = tmp_path / "run"
    Run.create(C.load("ring-vanilla", [*SMALL, "train.steps=100", "train.checkpoint_every=100"]), folder).close()
    RunFolder(folder).append({"kind": "session", "step": 1})
    return RunFolder(folder)


def test_the_other_ranks_follow_rank_0_on_a_resume_before_the_first_checkpoint(monkeypatch, tmp_path):
    """--resume --nproc 2 of a run killed before its first checkpoint: rank 0 started again from
    step 0 while rank 1 refused ("no loadable checkpoint ...; train first"), which was also its
    wrong advice next to rank 0's "in use" for a busy folder."""
    folder = killed_before_its_first_checkpoint(tmp_path)
    sent = two_ranks(monkeypatch, 0)
    with pytest.warns(UserWarning, match="starts again from step 0"):
        run = Run.open(folder.path, ["train.steps=20"], write=True)
    run.close()
    assert sent == [("again", None)] and run.step == 0 and folder.records() == []
    folder = killed_before_its_first_checkpoint(tmp_path / "b")
    two_ranks(monkeypatch, 1, agreed=("again", None))
    run = Run.open(folder.path, ["train.steps=20"], write=True)      # rank 1 follows: no load, no refusal
    run.close()
    assert run.step == 0 and folder.records() != []                 # only rank 0 writes the folder
    busy = f"{folder.path} is in use: another gankit process (PID 1) is training it"
    two_ranks(monkeypatch, 1, agreed=("load", busy))
    with pytest.raises(RunError) as refused:
        Run.open(folder.path, ["train.steps=20"], write=True)
    assert str(refused.value) == busy                                 # rank 0's words: printed once



def test_a_peers_error_quoted_in_a_stop_line_is_cut_at_a_word():
    """The quoted gloo error ended mid-word ("... This );")."""
    from gankit.cli_errors import _clipped
    text = "[pair.cc:553] Connection closed by peer [127.0.0.1]:5123 " + "word " * 40
    out = _clipped(text, 100)
    assert out.endswith(" ...") and len(out) <= 104 and out[:-4].endswith(("word", "5123"))
    assert _clipped("short", 100) == "short"


def test_the_report_says_a_session_ran_on_several_processes():
    """The session's command is one process's argv (no --nproc): pasted, it trained one process,
    whose draws differ; the report did not say the run had two."""
    from gankit.report.provenance import sessions
    rows = sessions([{"kind": "session", "step": 0, "command": "gankit train ring --out r", "world_size": 2},
                     {"kind": "session", "step": 5, "command": "gankit train --resume --out r", "world_size": 1},
                     {"kind": "session", "step": 9, "command": "gankit train --resume --out r", "world_size": True}])
    assert rows[0]["command"] == "gankit train ring --out r"        # pasteable as it is
    assert rows[0]["processes"] == "each of 2 processes (--nproc 2 or torchrun)"
    assert rows[1]["processes"] == rows[2]["processes"] == ""
