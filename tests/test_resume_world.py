"""A resume on fewer processes than trained the run (gankit/train/run_state.py): the objective
state only the ranks gone held is said to be left behind."""
import warnings

import pytest
import torch.multiprocessing as mp

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.run import Run
from test_distributed import EBM, free_port, worker


def test_a_resume_on_fewer_processes_says_which_ranks_objective_state_stays_behind(tmp_path):
    """A 2-process energy model resumed on 1 process continued rank 0's replay buffer and
    silently dropped rank 1's own chains (held by the checkpoint's objective_ranks[1])."""
    folder = tmp_path / "ebm2"
    mp.spawn(worker, args=(2, free_port(), [("create", "mnist-ebm", EBM + ["train.steps=3"], str(folder))]),
             nprocs=2, join=True)
    state, _ = RunFolder(folder).load_checkpoint()
    assert state["world_size"] == 2 and "replay" in state["objective_ranks"][1]
    with warnings.catch_warnings():        # a reader (sampling, evaluating) drops nothing of the run
        warnings.filterwarnings("error", message=".*not carried over")
        Run.open(folder).close()
    with pytest.warns(UserWarning, match=r"trained on 2 processes before, 1 now: rank 1's objective state "
                                         r"\(replay\) is not carried over, rank 0's continues; resume on 2"):
        run = Run.open(folder, ["train.steps=4"], write=True)
    run.train().close()
