"""Run.sample / generate_from refuse conditions they cannot use in words (gankit/train/sampling.py):
y and c together (c won, and y came back as the classes, wrong), c on an unconditional run and
no c on a conditional one (G's raw TypeError, before)."""
from __future__ import annotations

import pytest
import torch

from gankit import config as C
from gankit.train.run import Run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from conftest import TINY
    d = tmp_path_factory.mktemp("f131")
    # untrained runs are enough: only the checks before G and G's call are under test
    return (Run.create(C.load("ring-vanilla", TINY), d / "u"), Run.create(C.load("ring-cgan", TINY), d / "c"))


def test_sample_refuses_y_with_c_rather_than_returning_the_wrong_classes(runs):
    _, cond = runs
    c3, _ = cond.conditions(2, y=torch.tensor([3, 3]))
    x3, y3 = cond.sample(2, seed=1, c=c3)          # c alone still works
    assert x3.shape == (2, 2) and y3 is None
    with pytest.raises(C.ConfigError, match=r"^y and c: give one of them, not both"):
        cond.sample(2, seed=1, y=torch.tensor([0, 1]), c=c3)
    with pytest.raises(C.ConfigError, match=r"^y and c: give one of them"):
        cond.conditions(2, y=torch.tensor([0, 1]), c=c3)


def test_generate_from_refuses_c_on_an_unconditional_run(runs):
    plain, _ = runs
    z = torch.randn(3, plain.cfg.noise.dim)
    assert plain.generate_from(z).shape == (3, 2)
    with pytest.raises(C.ConfigError, match=r"^y/c: this run is not conditional \(condition.kind = 'none'\)"):
        plain.generate_from(z, c=torch.tensor([1, 2, 3]))


def test_generate_from_asks_for_c_on_a_conditional_run(runs):
    _, cond = runs
    z = torch.randn(3, cond.cfg.noise.dim)
    with pytest.raises(C.ConfigError, match=r"^c: this run is conditional \(condition.kind = 'label'\); give c"):
        cond.generate_from(z)
    c, _ = cond.conditions(3, y=torch.tensor([1, 2, 3]))      # the way the message names
    x = cond.generate_from(z, c)
    assert x.shape == (3, 2) and torch.isfinite(x).all()
