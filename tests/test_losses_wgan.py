"""Closed-form values of the WGAN, hinge, least-squares and label-smoothed losses."""
import math

import pytest
import torch
import torch.nn.functional as F

from gankit.registry import LOSSES
from gankit.losses import adversarial as A

REAL = torch.tensor([2.0, -0.5, 0.0, 1.5])
FAKE = torch.tensor([-1.0, 0.5, 3.0])


def test_wgan_closed_form():
    loss = LOSSES.build("wgan")
    # E f(fake) - E f(real) = 2.5/3 - 3/4
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(2.5 / 3 - 0.75)
    assert loss.g_loss(FAKE).item() == pytest.approx(-2.5 / 3)
    assert not loss.probabilistic and loss.wasserstein and loss.boundary is None


def test_wgan_critic_estimate_is_a_mean_difference():
    # -d_loss = E f(real) - E f(fake); shifting f by a constant leaves it unchanged
    loss = LOSSES.build("wgan")
    assert loss.d_loss(REAL + 7, FAKE + 7).item() == pytest.approx(loss.d_loss(REAL, FAKE).item(), abs=1e-5)


def test_hinge_closed_form():
    loss = LOSSES.build("hinge")
    # relu(1 - real) = [0, 1.5, 1, 0] -> 0.625; relu(1 + fake) = [0, 1.5, 4] -> 5.5/3
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(0.625 + 5.5 / 3)
    assert loss.g_loss(FAKE).item() == pytest.approx(-2.5 / 3)
    # a D beyond the margins pays nothing
    assert loss.d_loss(torch.full((3,), 1.0), torch.full((3,), -1.0)).item() == 0.0


def test_lsgan_closed_form():
    loss = LOSSES.build("lsgan")
    real_term = 0.5 * ((REAL - 1) ** 2).mean()       # (1 + 2.25 + 1 + 0.25)/4 / 2
    fake_term = 0.5 * (FAKE ** 2).mean()             # (1 + 0.25 + 9)/3 / 2
    assert real_term.item() == pytest.approx(4.5 / 8)
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(4.5 / 8 + 10.25 / 6)
    assert loss.g_loss(FAKE).item() == pytest.approx(0.5 * (4 + 0.25 + 4) / 3)
    assert loss.boundary == 0.5


def test_label_smoothing_closed_form():
    s = 0.1
    loss = LOSSES.build("nonsaturating", {"label_smoothing": s})
    want = ((1 - s) * F.softplus(-REAL) + s * F.softplus(REAL)).mean() + F.softplus(FAKE).mean()
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(want.item())
    # one-sided: fakes still target 0, so the fake term is the plain BCE one
    plain = LOSSES.build("nonsaturating")
    diff = loss.d_loss(REAL, FAKE) - plain.d_loss(REAL, FAKE)
    assert diff.item() == pytest.approx((s * (F.softplus(REAL) - F.softplus(-REAL))).mean().item())
    # the smoothed optimum of D on real data is 1 - s: the gradient vanishes at logit(1 - s)
    l = torch.tensor([math.log((1 - s) / s)], requires_grad=True)
    A.d_loss_bce_smoothed(l, torch.tensor([-1e9]), s).backward()
    assert abs(l.grad.item()) < 1e-6


def test_label_smoothing_zero_is_the_plain_loss():
    for name in ("minimax", "nonsaturating"):
        a, b = LOSSES.build(name, {"label_smoothing": 0.0}), LOSSES.build(name)
        assert a.d_loss(REAL, FAKE).item() == b.d_loss(REAL, FAKE).item()


@pytest.mark.parametrize("name", ["wgan", "hinge", "lsgan"])
def test_losses_pull_the_right_way(name):
    """D's loss falls when it raises real scores and lowers fake ones; G's when fakes rise."""
    loss = LOSSES.build(name)
    real = torch.full((5,), 0.5, requires_grad=True)    # inside every margin
    fake = torch.full((5,), 0.5, requires_grad=True)
    loss.d_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake2 = torch.full((5,), 0.5, requires_grad=True)
    loss.g_loss(fake2).backward()
    assert (fake2.grad < 0).all()


@pytest.mark.parametrize("constraint", [None, "objective.clip=0.01", "objective.gp=10",
                                        "objective.spectral_norm=true"])
def test_a_wgan_critic_without_a_lipschitz_constraint_is_warned_about(tmp_path, capsys, tiny_cli, constraint):
    """With no clipping, gradient penalty or spectral norm the critic diverges: say so, once."""
    from gankit.cli import main
    torch.set_num_threads(1)
    args = ["train", "ring", "--out", str(tmp_path / "w"), *tiny_cli, "--set", 'loss.name="wgan"',
            "--set", 'eval.metrics=["energy"]']   # tiny_cli has objective.r1=0
    assert main(args + (["--set", constraint] if constraint else [])) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "no Lipschitz constraint" in line]
    if constraint is None:
        assert len(warned) == 1 and warned[0].startswith("gankit: warning: loss.name=wgan")
        assert "objective.gp=10" in warned[0] and "objective.clip=0.01" in warned[0]
    else:
        assert not warned
