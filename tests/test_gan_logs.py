"""What a train record of the gan objective holds (audit F85): the losses are means over the
steps since the previous record, D's other numbers the recorded step's own, as
docs/watching.md says (it said loss_d was a step's own, "not their mean")."""
from pathlib import Path

import pytest
import torch

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.run import Run

SMALL = ["train.steps=2", "train.sample_every=100", "train.checkpoint_every=100", "train.n_fixed=8",
         "train.progress=false", "train.live_report=false", "generator.hidden=[8]", "discriminator.hidden=[8]",
         "eval.n_samples=50", 'eval.metrics=["energy"]', "train.batch_size=16", "objective.gp=0",
         "objective.clip=0.01"]


def _records(tmp_path, log_every: int) -> dict[int, dict]:
    torch.set_num_threads(1)
    Run.create(C.load("wgan-gp", SMALL + [f"train.log_every={log_every}"]), tmp_path / str(log_every)).train().close()
    return {r["step"]: r for r in RunFolder(tmp_path / str(log_every)).records("train")}


def test_losses_are_interval_means_and_the_critics_numbers_the_steps_own(tmp_path):
    each, every2 = _records(tmp_path, 1), _records(tmp_path, 2)
    assert sorted(each) == [1, 2] and sorted(every2) == [2]
    assert each[1]["loss_d"] != pytest.approx(each[2]["loss_d"], rel=0.1)      # a mean tells
    assert every2[2]["loss_d"] == pytest.approx((each[1]["loss_d"] + each[2]["loss_d"]) / 2, rel=1e-5)
    assert every2[2]["loss_g"] == pytest.approx((each[1]["loss_g"] + each[2]["loss_g"]) / 2, rel=1e-5)
    for key in ("critic_real", "critic_fake", "wasserstein_estimate", "grad_norm_d", "grad_norm_g"):
        assert every2[2][key] == pytest.approx(each[2][key], rel=1e-5), key
    row = next(line for line in (Path(__file__).parents[1] / "docs" / "watching.md").read_text().splitlines()
               if line.startswith("| `train` |"))
    assert "are means over the steps since the previous record" in row and "is the recorded step's own" in row
    assert "not their mean" not in row
