import math

import pytest
import torch

from gankit.registry import LOSSES
from gankit.losses.adversarial import d_loss_bce, g_loss_minimax, g_loss_nonsaturating


def test_d_loss_matches_the_value_function():
    dr, df = torch.tensor([0.9, 0.6]), torch.tensor([0.2, 0.3])
    logit = lambda p: torch.log(p / (1 - p))
    expected = -(torch.log(dr).mean() + torch.log(1 - df).mean())
    assert torch.allclose(d_loss_bce(logit(dr), logit(df)), expected, atol=1e-6)


def test_at_the_equilibrium_d_loss_is_log4():
    z = torch.zeros(10)
    assert abs(float(d_loss_bce(z, z)) - math.log(4)) < 1e-6


def test_g_losses_closed_form():
    p = torch.tensor([0.1, 0.5, 0.8])
    logit = torch.log(p / (1 - p))
    assert torch.allclose(g_loss_minimax(logit), torch.log(1 - p).mean(), atol=1e-6)
    assert torch.allclose(g_loss_nonsaturating(logit), -torch.log(p).mean(), atol=1e-6)


def test_losses_are_stable_for_extreme_logits():
    x = torch.tensor([-1e4, 1e4])
    for f in (g_loss_minimax, g_loss_nonsaturating):
        assert torch.isfinite(f(x))
    assert torch.isfinite(d_loss_bce(x, x))


def test_saturating_gradient_vanishes_nonsaturating_does_not():
    """Seed 001: when D rejects the fakes (D(G(z)) -> 0), log(1 - D) gives G no gradient."""
    for logit_value in (-5.0, -10.0, -20.0):
        l1 = torch.tensor([logit_value], requires_grad=True)
        g_loss_minimax(l1).backward()
        l2 = torch.tensor([logit_value], requires_grad=True)
        g_loss_nonsaturating(l2).backward()
        d = torch.sigmoid(torch.tensor(logit_value))
        assert abs(float(l1.grad) + float(d)) < 1e-6          # -sigmoid(l) -> 0
        assert abs(float(l2.grad) + float(1 - d)) < 1e-6      # -(1 - sigmoid(l)) -> -1
    assert abs(float(l1.grad)) < 1e-8 and abs(float(l2.grad)) > 0.99


def test_registered_pairs():
    assert {"minimax", "nonsaturating"} <= set(LOSSES.names())
    ns = LOSSES.build("nonsaturating")
    assert ns.probabilistic and ns.g is g_loss_nonsaturating


def test_rsgan_closed_form_pairs_and_refusals():
    import pytest
    from gankit.config import ConfigError
    rs = LOSSES.build("rsgan")
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 0.5])
    # -E log sigmoid(C(x_r) - C(x_f)), paired by index; G: the roles swapped
    p = torch.sigmoid(real - fake)
    assert torch.allclose(rs.d_loss(real, fake), -torch.log(p).mean(), atol=1e-6)
    assert torch.allclose(rs.g_loss(fake, real), -torch.log(1 - p).mean(), atol=1e-6)
    # equal logits: log 2 each; shifting both by a constant changes nothing (only differences count)
    assert abs(float(rs.d_loss(fake, fake)) - math.log(2)) < 1e-6
    assert torch.allclose(rs.d_loss(real + 7, fake + 7), rs.d_loss(real, fake))
    # no gradient reaches the real logits from G's loss
    r = real.clone().requires_grad_(True)
    f = fake.clone().requires_grad_(True)
    rs.g_loss(f, r).backward()
    assert r.grad is None and f.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="real data"):
        rs.g_loss(fake)
    with pytest.raises(ConfigError, match="by index"):
        rs.d_loss(real, torch.zeros(3))


def test_rsgan_trains_a_gan_and_refuses_reinforce(tmp_path, tiny):
    import pytest
    from gankit import config as C
    from gankit.config import ConfigError
    from gankit.train.run import Run
    run = Run.create(C.load("ring", tiny + ["loss.name='rsgan'"]), tmp_path / "r")
    seen = []
    real_g = run.objective.loss.g
    run.objective.loss.g = lambda fake, real: (seen.append((fake.shape, real.shape)), real_g(fake, real))[1]
    run.train()
    # every G step compared its fakes with a real batch of the same size
    assert len(seen) == run.cfg.train.steps and all(f == r and len(f) for f, r in seen)
    with pytest.raises(ConfigError, match="gumbel"):
        Run.create(C.load("words", ["loss.name='rsgan'", "objective.estimator='rollout'"]), tmp_path / "w")
    with pytest.raises(ConfigError, match="unroll"):
        Run.create(C.load("ring", tiny + ["loss.name='rsgan'", "objective.unroll=2"]), tmp_path / "u")
    for preset in ("mnist-infogan", "mnist-bigan"):    # their G steps score fakes alone
        with pytest.raises(ConfigError, match="does not do"):
            Run.create(C.load(preset, ["loss.name='rsgan'", "data.name=digits8x8"]), tmp_path / preset)


@pytest.mark.parametrize("name", ["nonsaturating", "minimax", "hinge", "wgan", "lsgan"])
def test_the_swapped_g_loss_pulls_toward_the_fake_side(name):
    """BiGAN's encoder wants its pairs scored fake.  g_loss(-D) does that for losses symmetric
    about 0; for LSGAN it pulled D(x, E(x)) to -1, a target D never uses (its fake label is 0)."""
    from gankit.registry import LOSSES
    loss = LOSSES.build(name)
    d = torch.linspace(-3, 3, 601)
    per = torch.stack([loss.g_loss_swapped(v[None]) for v in d])
    if name == "lsgan":
        assert float(d[per.argmin()]) == pytest.approx(0.0, abs=1e-6)
        assert float(loss.g_loss_swapped(torch.tensor([0.0]))) == 0.0
    else:   # decreasing D's output lowers the loss everywhere
        assert bool((per[1:] >= per[:-1] - 1e-7).all())
