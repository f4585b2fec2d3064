"""What the report's pictures and first numbers show (audit a68): G's samples on a mode are not
hidden by the mode markers, the key results lead the page, the birthday numbers are not scores,
one evaluation step draws no "over training" figure, and a packed D's map says what it is."""
import numpy as np

from gankit import config as C
from gankit.registry import METRICS
from gankit.report import report_context
from gankit.train.run import Run


def test_mode_markers_lie_under_the_samples():
    from gankit.report import plots
    rng = np.random.default_rng(0)
    modes = np.array([[1.0, 0.0], [-1.0, 0.0]])
    snap = {"step": np.int64(10), "samples": modes[rng.integers(0, 2, 200)] + rng.normal(0, 0.01, (200, 2))}
    fig = plots.figure_2d([snap], modes[rng.integers(0, 2, 200)], modes)
    ax = fig.axes[0]
    samples, markers = ax.collections[1], ax.collections[2]
    assert markers.get_zorder() < samples.get_zorder()


def test_the_birthday_numbers_are_descriptive_not_scores():
    """A failed run (3 of 8 modes, 1.5% HQ) had the higher support and ratio, starred by compare."""
    outputs = METRICS.build("birthday").outputs
    assert outputs["birthday_support"].better is None and outputs["birthday_ratio"].better is None


def test_the_key_results_lead_the_page_and_one_step_draws_no_curve(tmp_path):
    from gankit import api
    from conftest import TINY_CLI
    run = tmp_path / "r"
    api.train("ring", run, TINY_CLI + ["objective.pack=2"], report=False, log=lambda s: None)
    api.evaluate(run, ["jsd"], ["eval.jsd_samples=400"], log=lambda s: None)     # a second record, same step
    ctx = report_context(run)
    tiles = [t["key"] for t in ctx["headline"]]
    assert set(tiles[:4]) == {"modes_covered", "hq_fraction", "reverse_kl", "jsd"}, tiles
    assert not any("birthday" in k for k in tiles)
    assert not [c for c in ctx["curves"] if getattr(c, "anchor", "") == "eval-curves"]
    words = " ".join(" ".join(s.paragraphs) if hasattr(s, "paragraphs") else str(s) for s in ctx["sections"])
    assert "packed with 1 copy of itself" in words and "Green +: the mixture's modes." in words


def test_a_panel_whose_values_span_decades_is_on_a_log_axis():
    from gankit.report import plots
    rows = [{"step": i, "kind": "train", "loss_d": 1.0 + 0.1 * i, "loss_g": 690.0 / (i + 1)} for i in range(40)]
    fig = plots.figure_curves(rows)
    assert fig.axes[0].get_yscale() == "log"
    flat = [{"step": i, "kind": "train", "loss_d": 1.0, "loss_g": 2.0} for i in range(40)]
    assert plots.figure_curves(flat).axes[0].get_yscale() == "linear"


def test_2d_panels_without_a_d_map_share_one_frame():
    from gankit.report import plots
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 2))
    snaps = [{"step": np.int64(0), "samples": rng.normal(size=(100, 2)) * 0.1},
             {"step": np.int64(9), "samples": rng.normal(size=(100, 2)) * 1.5}]
    fig = plots.figure_2d(snaps, real)
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim() and fig.axes[0].get_ylim() == fig.axes[1].get_ylim()


def test_figure_1_says_when_p_g_is_cut_off():
    from gankit.report import plots
    grid = np.linspace(-3, 3, 200)
    p = np.exp(-0.5 * grid ** 2) / np.sqrt(2 * np.pi)
    snap = {"step": np.int64(0), "samples": np.full((500, 1), 0.01) + np.random.default_rng(0).normal(0, 1e-3, (500, 1))}
    fig = plots.figure_1d([snap], grid, p, np.random.default_rng(1).normal(size=(500, 1)))
    assert any("cut off" in t.get_text() for t in fig.axes[0].texts)
