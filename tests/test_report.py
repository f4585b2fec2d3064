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


def test_report_of_an_image_run_needs_no_checkpoint(tmp_path, digits):
    """Everything the report draws, model figures included, comes from the snapshots."""
    import shutil

    from gankit import config as C
    from gankit.report import write_report
    from gankit.train.run import Run
    run = Run.create(C.load("mnist-dcgan", digits + ["train.steps=3"]), tmp_path / "r").train()
    shutil.rmtree(run.dir / "checkpoints")
    (run.dir / "report.html").unlink(missing_ok=True)
    page = write_report(run.dir).read_text()
    for heading in ("Samples from fixed noise", "Nearest training images", "Linear interpolation in z"):
        assert heading in page, heading
    assert "Step 3" in page          # the last step got its snapshot although 3 % sample_every != 0
    assert "not available" not in page


def test_conditional_image_report_has_the_interpolation(tmp_path, digits):
    from gankit import config as C
    from gankit.report import write_report
    from gankit.train.run import Run
    cfg = C.load("mnist-dcgan", digits + ["condition.kind=label", "condition.d_mode=projection"])
    run = Run.create(cfg, tmp_path / "c").train()
    page = write_report(run.dir).read_text()
    assert "Linear interpolation in z" in page and "per condition" in page
    assert "not available" not in page


def test_log_axes_are_labelled_in_plain_numbers_not_raw_math():
    from gankit.report.plots import figure_curves, figure_lr
    recs = [{"step": s, "grad_norm_d": 3.0 + s, "grad_norm_g": 0.02 * (s + 1), "lr_d": 1e-2 * 0.5 ** s}
            for s in range(12)]
    for fig in (figure_curves(recs), figure_lr(recs)):
        fig.canvas.draw()
        logs = [ax for ax in fig.axes if ax.get_yscale() == "log"]
        assert logs
        labels = [t.get_text() for ax in logs for minor in (False, True)
                  for t in ax.get_yticklabels(minor=minor) if t.get_text()]
        assert labels and not any("$" in t or "mathdefault" in t for t in labels), labels
