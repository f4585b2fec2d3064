"""data.standardize on a Gaussian mixture whose weights are relative (not summing to 1)."""
import types

import pytest
import torch

from gankit.data.scaling import moments, point_scaler

MEANS = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
STDS = torch.tensor([1.0, 1.0])


def _mixture(weights, x=None):
    return types.SimpleNamespace(kind="points", means=MEANS, stds=STDS, weights=torch.tensor(weights), x=x)


@pytest.mark.parametrize("weights", [[1.0, 3.0], [0.25, 0.75], [1e30, 3e30]])
def test_relative_weights_give_the_mixtures_exact_moments(weights):
    # mean 0.25*0 + 0.75*10 = 7.5; variance 1 + 0.25*7.5^2 + 0.75*2.5^2 = 19.75 per coordinate
    s = point_scaler(_mixture(weights), "per_dim")
    assert torch.allclose(s.shift, torch.full((2,), 7.5), atol=1e-5)
    assert torch.allclose(s.scale, torch.full((2,), 19.75 ** 0.5), atol=1e-5)


def test_relative_weights_match_the_datas_own_moments():
    w = torch.tensor([1.0, 3.0])
    g = torch.Generator().manual_seed(0)
    x = MEANS[torch.multinomial(w / w.sum(), 20000, True, generator=g)] + torch.randn(20000, 2, generator=g)
    s = point_scaler(_mixture([1.0, 3.0]), "global")
    assert (s.shift - x.mean(0)).abs().max() < 0.15
    assert (s.scale - x.std(0)).abs().max() < 0.15


def test_modes_far_from_zero_keep_their_variance():
    # two modes at 1e8 and 1e8 + 2 (std 1): variance 1 + 1 = 2, lost to E[x^2] - m^2 in float64
    ds = types.SimpleNamespace(kind="points", means=torch.tensor([[1e8], [1e8 + 2]], dtype=torch.float64),
                               stds=torch.tensor([1.0, 1.0], dtype=torch.float64),
                               weights=torch.tensor([1.0, 1.0], dtype=torch.float64))
    mean, var = moments(ds)
    assert abs(float(mean[0]) - (1e8 + 1)) < 1e-6
    assert abs(float(var[0]) - 2.0) < 1e-6


@pytest.mark.parametrize("weights", [[-1.0, 3.0], [0.0, 0.0], [float("nan"), 1.0]])
def test_weights_no_mixture_has_are_measured_from_the_rows(weights):
    x = torch.tensor([[1.0, -2.0], [3.0, 2.0], [5.0, 0.0]])
    s = point_scaler(_mixture(weights, x=x), "per_dim")
    assert torch.allclose(s.shift, x.mean(0))
    assert torch.allclose(s.scale, x.var(0, unbiased=False).sqrt())
