"""gankit/train/gan_checks.py's warnings about the gradient penalty (audit F85): minibatch
std couples the samples through the batch statistics as batch norm does, so the penalty on
each sample's gradient of D's batch sum is warned about with it."""
import warnings

import pytest

from gankit import config as C
from gankit.train.run import Run

SMALL = ["train.steps=1", "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100",
         "train.n_fixed=8", "train.progress=false", "train.live_report=false", "generator.hidden=[8]",
         "discriminator.hidden=[8]", "eval.n_samples=50", 'eval.metrics=["energy"]', "train.batch_size=16"]


def _said(tmp_path, over) -> list[str]:
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Run.create(C.load("wgan-gp", SMALL + over), tmp_path / "r").train().close()
    return [str(w.message) for w in said]


@pytest.mark.parametrize("gp,minibatch,warned", [(10, "std", True), (10, "none", False), (0, "std", False)])
def test_the_gradient_penalty_on_a_d_with_minibatch_std_is_warned_about(tmp_path, gp, minibatch, warned):
    over = [f"objective.gp={gp}", f'objective.minibatch="{minibatch}"'] + (["objective.clip=0.01"] * (gp == 0))
    hits = [m for m in _said(tmp_path, over) if m.startswith("objective.gp with objective.minibatch")]
    assert len(hits) == int(warned)
    if warned:
        assert hits[0].startswith("objective.gp with objective.minibatch=std: the penalty takes each sample's")
        assert "set objective.minibatch=none" in hits[0] and "batch statistics" in hits[0]
