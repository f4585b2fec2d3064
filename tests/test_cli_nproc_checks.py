"""`gankit train ... --nproc N` refuses a config no rank could train before starting any process.

A bad --set key or a global batch the processes cannot split was found by each rank: N processes
started, each printed the error, and torchrun added its own warnings ("failed (exitcode: 2)",
"Sending process ... closing signal SIGTERM") after it.
"""
from __future__ import annotations

import pytest

from gankit.cli import main
from gankit.train import launch


@pytest.fixture
def no_launch(monkeypatch, tmp_path):
    started = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(launch, "launch", lambda n, argv, advice=None: started.append(argv) or 0)
    return started


@pytest.mark.parametrize("bad, said", [
    ("generator.width=8", "generator.width: unknown key 'width'"),
    ("train.batch_size=63", "63 does not divide by 2"),
])
def test_a_config_no_rank_can_train_is_refused_before_the_launch(tmp_path, no_launch, capsys, bad, said):
    code = main(["train", "ring-vanilla", "--nproc", "2", "--out", str(tmp_path / "run"), "--set", bad])
    err = capsys.readouterr().err
    assert code == 2 and no_launch == []
    assert said in err and err.count("gankit: error:") == 1, err
    assert not (tmp_path / "run").exists()


def test_a_good_config_and_a_resume_still_launch(tmp_path, no_launch):
    assert main(["train", "ring-vanilla", "--nproc", "2", "--out", str(tmp_path / "run"),
                 "--set", "train.batch_size=64"]) == 0
    # a resume's config is the folder's: the ranks load it (the folder lock first), not this process
    assert main(["train", "--resume", "--nproc", "2", "--out", str(tmp_path / "run"),
                 "--set", "train.batch_size=63"]) == 0
    assert len(no_launch) == 2 and "--resume" in no_launch[1]
