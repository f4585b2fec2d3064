"""The per-condition panels of a 2-D conditional run (audit a157 F6): every real class was one
light grey (the mode G was asked for not marked), the ring drawn as an ellipse (aspect not
kept) and each panel framed on its own samples."""
import math

import numpy as np
import torch


def test_2d_panels_mark_the_conditions_real_points_on_one_round_frame():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from gankit.data.conditional import ConditionalData
    from gankit.data.toy import GaussianMixture
    from gankit.report import conditional as CO
    th = torch.arange(8) * (2 * math.pi / 8)
    means = torch.stack([th.cos(), th.sin()], 1)
    ds = ConditionalData(GaussianMixture(means, 0.02), "label")
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(8), 20)
    # G near the centre for most conditions, one far off to the right: panels framed alone differ
    x = rng.normal(0, 0.1, size=(160, 2)) + np.where(y[:, None] == 3, [[1.8, 0.0]], [[0.0, 0.0]])
    fig = CO._point_panels(ds, x, y, list(range(8)), str)
    axes = [ax for ax in fig.axes if ax.get_title().startswith("condition")]
    assert len(axes) == 8
    assert len({(ax.get_xlim(), ax.get_ylim()) for ax in axes}) == 1, [ax.get_xlim() for ax in axes]
    lo, hi = axes[0].get_xlim()
    assert lo < -1.0 and hi > x[:, 0].max() > 1.8              # the real ring and every G's samples within
    assert all(ax.get_aspect() == 1.0 for ax in axes)          # the ring drawn round
    own = mcolors.to_rgba(CO.REAL_OWN)
    for k, ax in enumerate(axes):
        marked = [c for c in ax.collections if tuple(c.get_facecolor()[0][:3]) == own[:3]]
        assert len(marked) == 1, ax.get_title()
        pts = marked[0].get_offsets()
        assert len(pts) > 50 and np.abs(pts - means[k].numpy()).max() < 0.2, (k, pts[:3])
    plt.close(fig)
