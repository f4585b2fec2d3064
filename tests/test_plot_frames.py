"""The frame of the report's sample panels around a constant coordinate (audit a117 F10): a
3-D run whose second column is the constant 5 was framed y in [5, 5.5], the data on the bottom
edge and every sample "outside the frame"."""
import numpy as np


def test_a_constant_coordinate_is_framed_centred_on_its_value():
    from gankit.report.plots import _frame
    lo, hi = _frame(5.0, 5.0, np.full(10, 5.0))
    assert lo < 5.0 < hi and abs((lo + hi) / 2 - 5.0) < 1e-12
    lo, hi = _frame(5.0, 5.0, np.full(10, 5.0), scale=6.0)      # as wide as the other columns' spread
    assert abs((hi - lo) - 6.0) < 1e-9
    lo, hi = _frame(0.0, 0.0, np.zeros(3))
    assert lo < 0.0 < hi
    lo, hi = _frame(1e6, 1e6, np.full(3, 1e6), scale=1e-9)     # never an empty frame
    assert lo < 1e6 < hi


def test_samples_around_a_constant_column_are_inside_its_frame():
    import matplotlib.pyplot as plt

    from gankit.report.plots import figure_2d
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 3))
    real[:, 1] = 5.0
    x = rng.normal(size=(200, 3))
    x[:, 1] = 5.0 + rng.uniform(-1.0, 1.0, 200)       # G near the constant, on both sides of it
    fig = figure_2d([{"step": np.int64(30), "samples": x[:, :2]}], real[:, :2])
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert lo < 4.0 and hi > 6.0 and abs((lo + hi) / 2 - 5.0) < 0.5, (lo, hi)
    assert "outside" not in ax.get_title(), ax.get_title()
    plt.close(fig)
