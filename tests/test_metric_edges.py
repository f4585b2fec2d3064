"""Metric numbers on awkward inputs: a very confident classifier, a group number no query has."""
import numpy as np
import torch
from scipy.special import entr, rel_entr, softmax

from gankit.metrics import nn_index as NI
from gankit.metrics.classifier_scores import am_score


def test_am_score_of_a_confident_classifier_is_its_definition():
    """KL(p* || p(y)) + E H(p(y|x)) (Zhou et al. 2018): a floor of 1e-12 under the logs read a
    class share of e^-60 as 1e-12, and the score 22.57 instead of 51.70."""
    p = np.repeat(softmax(np.array([[60.0] + [0.0] * 9]), 1), 50, 0)     # G collapsed onto class 0
    prior = np.full(10, 0.1)
    want = rel_entr(prior, p.mean(0)).sum() + entr(p).sum(1).mean()
    assert abs(am_score(p, prior) - want) < 1e-9 * want and abs(want - 51.697) < 1e-3
    # classes the data lacks add nothing, and ordinary inputs keep their value
    q = np.random.default_rng(0).dirichlet(np.ones(4), size=20)
    prior4 = np.array([0.5, 0.5, 0.0, 0.0])
    assert abs(am_score(q, prior4) - (rel_entr(prior4, q.mean(0)).sum() + entr(q).sum(1).mean())) < 1e-12
    # a share that underflowed to 0 in float32 reads as float32's smallest value, not as 0 (inf)
    z = np.zeros((5, 3), np.float32)
    z[:, 0] = 1
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    assert abs(am_score(z, np.ones(3)) - rel_entr(np.ones(3) / 3, [1, tiny, tiny]).sum()) < 1e-9


def test_nnindex_a_group_no_query_has_is_nan_on_both_routes(monkeypatch):
    """Groups [0, 0, 2, 2, 2, 2]: group 1 read inf where numba loads (its 1e300 start cast to
    float32) and NaN on the torch route."""
    g = torch.Generator().manual_seed(0)
    rows, q = torch.rand(40, 6, generator=g), torch.rand(6, 6, generator=g)
    groups = np.array([0, 0, 2, 2, 2, 2])
    d, j = NI.NNIndex(rows, k=4).query(q, groups=groups)
    monkeypatch.setattr(NI, "_numba", lambda: None)
    dt, jt = NI.NNIndex(rows, k=4).query(q, groups=groups)
    assert torch.isnan(d[1]) and torch.isnan(dt[1]) and j[1] == jt[1] == 0
    torch.testing.assert_close(d[[0, 2]], dt[[0, 2]])
    assert torch.equal(j, jt)
    full = torch.cdist(q.double(), rows.double()) ** 2
    assert torch.allclose(d[[0, 2]].double(), torch.stack([full[:2].min(), full[2:].min()]), rtol=1e-5)
