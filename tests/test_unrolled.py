"""Unrolled D (Metz et al. 2017): the look-ahead equals real optimizer steps, and G's gradient
flows through it (checked against finite differences)."""
import copy

import pytest
import torch
from torch import nn

from gankit.losses.adversarial import d_loss_bce
from gankit.train.unrolled import UnrolledD


def nets(seed=0):
    torch.manual_seed(seed)
    G = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    return G, D


def d_loss(lr, lf):
    return d_loss_bce(lr, lf)


def warm_adam(D, real, fake, steps=3, lr=0.05):
    """An Adam optimizer of D with some state, as in the middle of training."""
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    for _ in range(steps):
        opt.zero_grad()
        d_loss(D(real), D(fake)).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("optim", ["adam", "sgd"])
def test_lookahead_equals_k_optimizer_steps(optim):
    G, D = nets()
    real, z = torch.randn(64, 2, dtype=torch.double) + 2, torch.randn(64, 2, dtype=torch.double)
    fake = G(z).detach()
    opt = warm_adam(D, real, fake) if optim == "adam" else torch.optim.SGD(D.parameters(), lr=0.1)
    unrolled = UnrolledD(D, d_loss, 4, opt)
    before = {k: v.clone() for k, v in D.state_dict().items()}
    got = unrolled(real, fake)
    # the same 4 steps taken for real on a copy of D and of its optimizer
    D2 = copy.deepcopy(D)
    opt2 = type(opt)(D2.parameters(), **{k: v for k, v in opt.defaults.items()
                                         if k in ("lr", "betas", "eps", "momentum")})
    if optim == "adam":
        opt2.load_state_dict(opt.state_dict())
    for _ in range(4):
        opt2.zero_grad()
        d_loss(D2(real), D2(fake)).backward()
        opt2.step()
    assert torch.allclose(got, D2(fake), atol=1e-9, rtol=1e-7)
    assert not torch.allclose(got, D(fake), atol=1e-3)                 # the look-ahead moved D
    assert all(torch.equal(before[k], v) for k, v in D.state_dict().items())   # D itself untouched


def test_g_gradient_flows_through_the_lookahead():
    G, D = nets(1)
    real, z = torch.randn(32, 2, dtype=torch.double) + 2, torch.randn(32, 2, dtype=torch.double)
    opt = warm_adam(D, real, G(z).detach())
    unrolled = UnrolledD(D, d_loss, 3, opt)

    def g_loss():   # non-saturating G loss against the unrolled D
        return torch.nn.functional.softplus(-unrolled(real, G(z))).mean()

    G.zero_grad()
    g_loss().backward()
    grad = torch.cat([p.grad.flatten() for p in G.parameters()])
    direction = torch.randn_like(grad)
    eps = 1e-5
    vec = torch.nn.utils.parameters_to_vector(G.parameters()).detach()
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(vec + eps * direction, G.parameters())
    up = g_loss().item()
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(vec - eps * direction, G.parameters())
    down = g_loss().item()
    torch.nn.utils.vector_to_parameters(vec, G.parameters())
    numeric = (up - down) / (2 * eps)
    assert float(grad @ direction) == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    # and it is not the plain gradient against the current D: the look-ahead term matters
    G.zero_grad()
    torch.nn.functional.softplus(-D(G(z))).mean().backward()
    plain = torch.cat([p.grad.flatten() for p in G.parameters()])
    assert float(plain @ direction) != pytest.approx(numeric, rel=1e-3)


class WithUnusedHead(nn.Module):
    """A D with a parameter its forward never uses, as a conditional D leaves its base net's head."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
        self.unused = nn.Linear(8, 1)

    def forward(self, x, c=None):
        return self.body(x)[:, 0]


@pytest.mark.parametrize("optim", ["adam", "sgd"])
def test_a_parameter_d_does_not_use_stays_put_in_the_lookahead(optim):
    torch.manual_seed(0)
    D = WithUnusedHead().double()
    real, fake = torch.randn(16, 2, dtype=torch.double) + 2, torch.randn(16, 2, dtype=torch.double)
    opt = warm_adam(D, real, fake) if optim == "adam" else torch.optim.SGD(D.parameters(), lr=0.1)
    params = UnrolledD(D, d_loss, 2, opt).lookahead(real, fake)
    assert torch.equal(params["unused.weight"], D.unused.weight)
    # the used ones move as the real optimizer moves them (it skips a parameter with no gradient)
    D2 = copy.deepcopy(D)
    opt2 = type(opt)(D2.parameters(), **{k: v for k, v in opt.defaults.items()
                                         if k in ("lr", "betas", "eps", "momentum")})
    if optim == "adam":
        opt2.load_state_dict(opt.state_dict())
    for _ in range(2):
        opt2.zero_grad()
        d_loss(D2(real), D2(fake)).backward()
        opt2.step()
    for n, p in D2.named_parameters():
        assert torch.allclose(params[n], p, atol=1e-9, rtol=1e-7), n


def test_unroll_trains_a_conditional_run(tmp_path, tiny_cli):
    from gankit.cli import main
    assert main(["train", "ring-cgan", "--out", str(tmp_path / "run"), *tiny_cli,
                 "--set", "train.steps=2", "--set", "train.batch_size=16",
                 "--set", "objective.unroll=2"]) == 0
