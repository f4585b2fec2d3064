"""The sample figures' section of a critic (audit a157 F3): a WGAN's map of f(x), whose colour
bar says "critic f(x)", was titled "on D(x)" and captioned "D's output (red = judged real)"; a
1-D critic run's figure was "Figure 1: p_data, p_g and D(x)"."""
import numpy as np
import pytest

from gankit.data.toy import GaussianMixture
from gankit.report.points import point_sections


def _snap(dim: int, **d) -> dict:
    axes = np.meshgrid(*[np.linspace(-1.5, 1.5, 6)] * dim, indexing="xy")
    grid = np.stack([a.reshape(-1) for a in axes], 1)
    rng = np.random.default_rng(0)
    return {"step": np.int64(10), "samples": rng.normal(size=(50, dim)) * 0.5, "grid": grid,
            "grid_shape": np.array([6] * dim), "d_grid": rng.normal(size=len(grid)), **d}


@pytest.mark.parametrize("dim", [1, 2])
def test_a_critics_map_is_named_as_its_colour_bar_names_it(dim):
    import matplotlib.pyplot as plt
    data = GaussianMixture([[-1.0] * dim, [1.0] * dim], 0.1)
    (sec,) = point_sections(data, [_snap(dim, d_probabilistic=np.bool_(False))])
    text = sec.title + " " + " ".join(sec.paragraphs)
    assert "critic f(x)" in sec.title and "D(x)" not in sec.title, sec.title
    assert "judged real" not in text and "D's output" not in text, text
    if dim == 2:
        assert "the critic's score f(x)" in text, text
    (sec,) = point_sections(data, [_snap(dim, d_probabilistic=np.bool_(True))])     # D's probability as before
    assert "D(x)" in sec.title and (dim == 1 or "D's output (red = judged real)" in sec.paragraphs[0])
    # an objective's own score (the snapshot's d_label) names the map, as on its colour bar
    (sec,) = point_sections(data, [_snap(dim, d_probabilistic=np.bool_(False), d_label=np.str_("log r(x)"))])
    assert "log r(x)" in sec.title and "critic" not in sec.title, sec.title
    plt.close("all")
