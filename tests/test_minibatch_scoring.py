"""D with batch-level features scored on samples outside a training batch (the plots of D over
the plane): each sample is scored as one more member of a batch of real samples, not beside
the other samples scored (a grid's dense neighbours read as a collapsed batch)."""
import pytest
import torch
from torch import nn

from gankit import config as C
from gankit.train import remedies as R
from gankit.train.run import Run


@pytest.mark.parametrize("stats", [lambda: R.MinibatchStd(4), lambda: R.MinibatchStd(0), lambda: R.MinibatchStd(3),
                                   lambda: R.MinibatchStd(1), lambda: R.MinibatchDiscrimination(6, 4, 3)])
def test_beside_scores_each_row_as_the_last_of_the_reference_batch(stats):
    torch.manual_seed(0)
    head = R.MinibatchHead(nn.Linear(6, 1), stats())
    nn.init.normal_(head.read.weight)          # a read-out that is not zero: the statistics count
    ref, x = torch.randn(7, 6), torch.randn(300, 6) * 0.01     # 300 rows close together
    with torch.no_grad():
        with R.beside(head, len(ref)):
            got = head(torch.cat([ref, x]))
        want = torch.cat([head(torch.cat([ref, x[i:i + 1]]))[-1:] for i in range(len(x))])
        alone = head(x)                                          # the rows as each other's batch
    assert got.shape == (len(ref) + len(x), 1)
    torch.testing.assert_close(got[len(ref):], want, rtol=1e-5, atol=1e-6)
    assert head.stats.reference == 0                             # the mode ends with the block
    if not isinstance(head.stats, R.MinibatchStd) or head.stats.group_size != 1:
        assert (alone - want).abs().max() > 1e-3


@pytest.mark.parametrize("over", [['objective.minibatch="discrimination"'],
                                  ['objective.minibatch="std"', "objective.minibatch_group=4"],
                                  ['objective.minibatch="discrimination"', "objective.pack=2"]])
def test_d_over_the_plane_is_what_a_training_batch_would_say(tmp_path, tiny, over):
    """The report's D(x) heat map: a minibatch-discrimination D scored 6,400 grid points in
    chunks of 1,024, each compared with ~1,000 dense neighbours, and read ~0 everywhere
    (max 5e-5 where training logged d_real 0.62)."""
    cfg = C.load("ring-vanilla", tiny + ["train.steps=8", "train.batch_size=16"] + over)
    run = Run.create(cfg, tmp_path / "r").train()
    grid = torch.stack(torch.meshgrid(torch.linspace(-2, 2, 30), torch.linspace(-2, 2, 30), indexing="xy"), -1)
    grid = grid.reshape(-1, 2)
    got = run.d_prob(grid)
    obj, D = run.objective, run.D.eval()
    assert obj.reference_rows == 16 - obj.pack
    ref = run._to_model(run.dataset.sample(obj.reference_rows, torch.Generator().manual_seed(cfg.seed)))
    with torch.no_grad():
        rows = R.pack(ref, obj.pack) if obj.pack > 1 else ref
        want = []
        for p in run._to_model(grid):
            p = p[None].repeat_interleave(obj.pack, 0)
            p = R.pack(p, obj.pack) if obj.pack > 1 else p
            want.append(D(torch.cat([rows, p]))[-1])
    torch.testing.assert_close(got, torch.sigmoid(torch.stack(want)).reshape(got.shape), rtol=1e-4, atol=1e-6)
    run.close()


def test_a_d_without_batch_features_is_scored_alone(tmp_path, tiny):
    run = Run.create(C.load("ring-vanilla", tiny + ["train.steps=4"]), tmp_path / "r").train()
    assert run.objective.reference_rows == 0
    x = torch.randn(50, 2)
    with torch.no_grad():
        want = torch.sigmoid(run.D.eval()(run._to_model(x)))
    torch.testing.assert_close(run.d_prob(x).reshape(-1), want.reshape(-1))
    run.close()
