import math

import numpy as np
import pytest
import torch

from gankit.registry import DATASETS
from gankit.config import ConfigError


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_ring_and_grid_defaults_follow_pacgan():
    ring = DATASETS.build("ring", {})
    assert ring.modes.shape == (8, 2) and ring.mode_std == 0.01
    assert torch.allclose(ring.modes.norm(dim=1), torch.ones(8))
    grid = DATASETS.build("grid", {})
    assert grid.modes.shape == (25, 2) and grid.mode_std == 0.05
    assert sorted(set(grid.modes[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_parameterised_sizes():
    assert DATASETS.build("ring", {"n_modes": 12}).modes.shape == (12, 2)
    assert DATASETS.build("grid", {"n": 7}).modes.shape == (49, 2)
    gm = DATASETS.build("gmm", {"dim": 10, "n_modes": 5})
    assert gm.sample(100, g()).shape == (100, 10) and gm.modes.shape == (5, 10)


def test_sampling_is_reproducible_from_the_generator():
    ds = DATASETS.build("ring", {})
    assert torch.equal(ds.sample(50, g(3)), ds.sample(50, g(3)))
    assert not torch.equal(ds.sample(50, g(3)), ds.sample(50, g(4)))


def test_mixture_log_prob_is_a_density():
    ds = DATASETS.build("mixture1d", {"means": [-2.0, 2.0], "stds": [0.5, 1.0], "weights": [1.0, 3.0]})
    x = torch.linspace(-10, 10, 20001)[:, None]
    assert abs(float(torch.trapezoid(ds.log_prob(x).exp(), x[:, 0])) - 1) < 1e-4
    s = ds.sample(40000, g())
    # P(x > 0) = 0.75 P(N(2, 1) > 0) + 0.25 P(N(-2, 0.5) > 0)
    expected = 0.75 * 0.97725 + 0.25 * 3.2e-5
    assert abs(float((s > 0).float().mean()) - expected) < 0.01


def test_linear_gaussian_of_seed_001():
    ds = DATASETS.build("linear", {})
    x = ds.sample(200000, g())
    A = torch.tensor([[1.0, 2.0], [-0.1, 0.5]])
    assert torch.allclose(x.mean(0), torch.tensor([1.0, 2.0]), atol=0.02)
    assert torch.allclose(torch.cov(x.T), A.T @ A, atol=0.03)


def test_swissroll_shape():
    assert DATASETS.build("swissroll", {}).sample(10, g()).shape == (10, 2)


def test_points_file_npy_and_csv(tmp_path):
    arr = np.random.default_rng(0).normal(size=(20, 3))
    np.save(tmp_path / "a.npy", arr)
    np.savetxt(tmp_path / "a.csv", arr, delimiter=",", header="x,y,z")
    for name in ("a.npy", "a.csv"):
        ds = DATASETS.build("points", {"path": str(tmp_path / name)})
        assert ds.size == 20 and ds.dim == 3
        s = ds.sample(7, g()).numpy()
        assert all(np.isclose(arr, row, atol=1e-5).all(1).any() for row in s)


def test_points_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        DATASETS.build("points", {"path": str(tmp_path / "nope.npy")})
    (tmp_path / "bad.csv").write_text("1,2\nx,y\nfoo,bar\n")
    with pytest.raises(ConfigError, match="cannot read"):
        DATASETS.build("points", {"path": str(tmp_path / "bad.csv")})
    np.save(tmp_path / "nan.npy", np.array([[1.0, math.nan]]))
    with pytest.raises(ConfigError, match="NaN"):
        DATASETS.build("points", {"path": str(tmp_path / "nan.npy")})
    with pytest.raises(ConfigError, match="give the file"):
        DATASETS.build("points", {})
