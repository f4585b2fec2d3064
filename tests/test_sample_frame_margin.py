"""Points on the edge of a sample panel's frame (audit a157 F2): the frame was the data's
bounds exactly, widened only for samples strictly outside, so an EBM's step-0 samples clamped
to the data box and a ring's modes at +-1 (no D map) were drawn cut in half on the edge."""
import numpy as np


def test_the_frame_has_a_margin_around_the_data_and_samples():
    from gankit.report.plots import _frame
    lo, hi = _frame(-1.0, 1.0, np.array([-1.0, 0.0, 1.0]))
    assert -1.0 - 0.1 <= lo < -1.0 - 0.05 and 1.0 + 0.05 < hi <= 1.0 + 0.1, (lo, hi)     # 3-5% of the span
    lo, hi = _frame(-1.0, 1.0, np.array([-1.5, 0.0]))                                    # widened for G
    assert lo < -1.5 - 0.05 and 1.0 < hi, (lo, hi)


def test_2d_panels_draw_points_on_the_datas_bounds_whole():
    import matplotlib.pyplot as plt

    from gankit.report.plots import figure_2d
    th = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    modes = np.stack([np.cos(th), np.sin(th)], 1)
    real = np.repeat(modes, 20, axis=0)                  # modes at exactly +-1, no D map
    fig = figure_2d([{"step": np.int64(0), "samples": modes * 0.5}], real, modes)
    lo, hi = fig.axes[0].get_xlim()
    assert lo < -1.05 and hi > 1.05, (lo, hi)
    plt.close(fig)
    # a D map over the data box, G's samples clamped to its edges (an EBM's step-0 chains)
    g = np.stack(np.meshgrid(np.linspace(-1.2, 1.2, 10), np.linspace(-1.2, 1.2, 10)), -1).reshape(-1, 2)
    clamped = np.array([[-1.2, -1.2], [1.2, 1.2], [1.2, 0.0], [0.0, -1.2]])
    snap = {"step": 0, "grid": g, "grid_shape": [10, 10], "d_grid": np.full(100, 0.5), "samples": clamped}
    fig = figure_2d([snap], real)
    ax = fig.axes[0]
    (xl, xh), (yl, yh) = ax.get_xlim(), ax.get_ylim()
    assert xl < -1.25 and xh > 1.25 and yl < -1.25 and yh > 1.25, (ax.get_xlim(), ax.get_ylim())
    assert "outside" not in ax.get_title()
    plt.close(fig)
