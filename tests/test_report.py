import numpy as np

from gankit.report.plots import pick_snapshots, plot_samples_file


def test_sample_plot_of_images_is_a_grid(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, size=(9, 1, 8, 8)).astype(np.float32)
    plot_samples_file(None, x, tmp_path / "g.png")
    import matplotlib.image as mpimg
    img = mpimg.imread(tmp_path / "g.png")
    assert img.shape[:2] == (3 * 8 + 2, 3 * 8 + 2)     # 3 x 3 tiles with 1-pixel gaps


def test_pick_snapshots_keeps_first_and_last():
    snaps = [{"step": i} for i in range(20)]
    got = [s["step"] for s in pick_snapshots(snaps, 6)]
    assert got[0] == 0 and got[-1] == 19 and len(got) == 6
    assert pick_snapshots(snaps[:3], 6) == snaps[:3]
