"""Toy data options float32 cannot hold are refused by name when the config is read (audit a159):
the data are float32, so 1e-50 became 0 and 1e39 inf, and the run crashed or blamed the learning rate."""
import math

import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.data.toy import GaussianMixture, mixture1d


@pytest.mark.parametrize("source, sets, key, words", [
    ("ring", ["data.std=1e-50"], "data.std:", "smallest normal"),
    ("ring", ["data.radius=1e39"], "data.radius:", "beyond float32's range"),
    ("ring", ["data.radius=3e38"], "data.radius:", "span"),      # fits alone, not with the modes' spread
    ("ring", ["data.std=1e38"], "data.std:", "span"),
    ("grid", ["data.spacing=1e38"], "data.spacing:", "span"),
    ("grid", ["data.std=1e-40"], "data.std:", "smallest normal"),
    ("ring", ["data=gmm", "data.spread=1e39"], "data.spread:", "beyond float32's range"),
    ("ring", ["data=gmm", "data.std=1e-45"], "data.std:", "smallest normal"),
    ("figure1-1d", ["data={means=[0, 1e39], stds=[1, 1]}"], "data.means[1]:", "beyond float32's range"),
    ("figure1-1d", ["data={means=[0, 1], stds=[1, 1e-50]}"], "data.stds[1]:", "smallest normal"),
    ("ring", ["data=swissroll", "data.scale=1e-50"], "data.scale:", "smallest normal"),
    ("ring", ["data=swissroll", "data.scale=5e-38"], "data.scale:", "span"),
    ("ring", ["data=swissroll", "data.noise=1e-40"], "data.noise:", "smallest normal"),
    ("seed-linear", ["data.A=[[1e-40, 1], [1, 1]]"], "data.A[0][0]:", "smallest normal"),
    ("seed-linear", ["data.b=[1, 1e39]"], "data.b[1]:", "beyond float32's range"),
    ("seed-linear", ["data.A=[[1e38, 1], [1e38, 1]]"], "data.A:", "span"),
])
def test_toy_options_float32_cannot_hold_are_refused_by_key(source, sets, key, words):
    with pytest.raises(ConfigError) as e:
        C.load(source, sets)
    msg = str(e.value)
    assert msg.startswith(key) and words in msg and "float32" in msg, msg
    assert "\n" not in msg


def test_values_float32_holds_are_still_taken():
    # the bounds: the smallest normal float32 std and a large radius with room for its span
    assert C.load("ring", ["data.std=1.2e-38"]).data.params["std"] == 1.2e-38
    assert C.load("ring", ["data.radius=1e38", "data.std=1"]).data.params["radius"] == 1e38
    assert C.load("ring", ["data=swissroll", "data.noise=0"]).data.params["noise"] == 0


def test_relative_weights_past_float32_are_normalised_in_float64():
    # [1e39, 1] summed in float32 was inf, the weights nan: torch.multinomial crashed the run
    C.load("figure1-1d", ["data={means=[0, 1], stds=[0.5, 0.5], weights=[1e39, 1]}"])
    ds = mixture1d([0.0, 1.0], [0.5, 0.5], [1e39, 1.0], "none")
    assert torch.isfinite(ds.weights).all() and ds.weights[0] == 1 and 0 < ds.weights[1] < 1e-30
    x, idx = ds.sample_with_labels(100, torch.Generator().manual_seed(0))
    assert (idx == 0).all() and torch.isfinite(x).all()
    # past float64's sum too: [1.7e308, 1.7e308] summed is inf even in float64
    even = GaussianMixture([[0.0], [1.0]], 0.5, [1.7e308, 1.7e308])
    assert torch.allclose(even.weights, torch.tensor([0.5, 0.5]))


def test_a_tiny_std_float32_holds_has_a_finite_density():
    # std 1e-30 is normal in float32 but its square is not: the density is computed in float64
    ds = GaussianMixture([[0.0]], 1e-30)
    lp = ds.log_prob(torch.tensor([[0.0], [1e-30]]))
    assert torch.isfinite(lp).all() and lp[0] > lp[1]
    assert math.isclose(float(lp[0] - lp[1]), 0.5, rel_tol=1e-5)


def test_the_constructor_names_float32_for_a_std_it_turns_to_zero():
    with pytest.raises(ValueError, match="float32"):
        GaussianMixture([[0.0]], 1e-50)


def test_a_refused_option_leaves_no_run_folder(tmp_path):
    from gankit import api
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="data.std"):
        api.train("ring", out=out, overrides=["data.std=1e-50", "train.steps=2"])
    assert not out.exists()
