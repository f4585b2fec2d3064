"""Gradient penalty, R1, weight clipping and spectral norm: known answers, any input shape."""
import pytest
import torch
from torch import nn

from gankit.losses.penalties import (WeightClip, apply_spectral_norm, gradient_penalty,
                                     r1_penalty)


def linear_critic(w: torch.Tensor):
    return lambda x: (x.reshape(len(x), -1) * w.reshape(-1)).sum(1)


@pytest.mark.parametrize("shape", [(2,), (3, 4, 4), (5, 6)])   # points, images, sequences
def test_gradient_penalty_of_linear_critic(shape):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(shape, generator=g) * 0.7
    real, fake = torch.randn(8, *shape, generator=g), torch.randn(8, *shape, generator=g)
    lam = 10.0
    got = gradient_penalty(linear_critic(w), real, fake, lam)
    want = lam * (w.norm() - 1) ** 2          # grad of w.x is w everywhere
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    # zero-centred variant: lam |w|^2
    got0 = gradient_penalty(linear_critic(w), real, fake, lam, center=0.0)
    assert got0.item() == pytest.approx(lam * w.norm().item() ** 2, rel=1e-5)


def test_gradient_penalty_is_zero_for_unit_slope_and_trains():
    w = torch.tensor([0.6, 0.8])
    x = torch.randn(16, 2)
    assert gradient_penalty(linear_critic(w), x, x + 1, 3.0).item() == pytest.approx(0.0, abs=1e-10)
    # the penalty has a gradient with respect to D's weights
    D = nn.Linear(2, 1)
    pen = gradient_penalty(lambda v: D(v)[:, 0], x, x.flip(0), 10.0)
    pen.backward()
    assert D.weight.grad is not None and D.weight.grad.abs().sum() > 0


def test_r1_of_linear_critic():
    w = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    real = torch.randn(6, 2, 2)
    assert r1_penalty(linear_critic(w), real, gamma=4.0).item() == pytest.approx(
        0.5 * 4.0 * (w ** 2).sum().item(), rel=1e-6)


def test_weight_clip_keeps_every_weight_in_range():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(100)
    clip = WeightClip(D, 0.01)
    clip(0)
    ps = torch.cat([p.reshape(-1) for p in D.parameters()])
    assert ps.abs().max().item() <= 0.01
    assert (ps.abs() == 0.01).any()       # clamped, not rescaled to zero


def test_spectral_norm_top_singular_value_is_one():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1),
                      nn.Conv2d(3, 4, 3))
    opt = torch.optim.Adam(D.parameters())
    before = {id(p) for p in D.parameters()}
    apply_spectral_norm(D)
    assert {id(p) for p in D.parameters() if p.ndim} <= before | {id(p) for p in D.parameters()}
    assert all(any(p is q for g in opt.param_groups for q in g["params"])
               for p in D.parameters())       # the optimizer built before still holds them
    x = torch.randn(4, 5)
    for _ in range(30):                       # power iteration converges over forward passes
        D[:5](x)
        D[5](torch.randn(1, 3, 5, 5))
    for m in (D[0], D[2], D[4]):
        sigma = torch.linalg.matrix_norm(m.weight.detach(), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.02)
    conv_w = D[5].weight.detach().reshape(4, -1)
    assert torch.linalg.matrix_norm(conv_w, ord=2).item() == pytest.approx(1.0, abs=0.02)


def test_spectral_norm_of_a_named_matrix_that_is_no_layer():
    """Minibatch discrimination's T is a bare Parameter: h -> h T has norm 1 once normalised,
    whichever side the power iteration runs on (T and T^T share their singular values)."""
    from gankit.train.remedies import MinibatchDiscrimination
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 6), MinibatchDiscrimination(6, 4, 3))
    apply_spectral_norm(D)
    for _ in range(30):
        D(torch.randn(8, 2))
    T = D[1].T.detach()
    assert T.shape == (6, 12)
    assert torch.linalg.matrix_norm(T, ord=2).item() == pytest.approx(1.0, abs=0.02)
    h = torch.randn(100, 6)
    assert ((h @ T).norm(dim=1) <= h.norm(dim=1) * 1.02).all()


def test_feature_matching_is_the_squared_distance_of_the_means():
    from gankit.train.remedies import feature_matching
    torch.manual_seed(0)
    fr, ff = torch.randn(16, 3, 2), torch.randn(16, 3, 2).requires_grad_(True)
    got = feature_matching(fr.requires_grad_(True), ff)
    want = ((fr.mean(0) - ff.mean(0)) ** 2).sum()
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    got.backward()
    assert fr.grad is None                        # the real side is a fixed target
    assert torch.allclose(ff.grad, 2 * (ff.mean(0) - fr.mean(0)).detach() / 16, atol=1e-7)
