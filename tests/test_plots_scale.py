"""Figures at the scale of long runs and many runs: the compare legend over 20 runs leaves the
panels' titles clear, a 200,000-step axis's tick labels stay apart."""
import pytest

from gankit.report import plots
from gankit.report.compare_figure import figure_compare


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _runs(n: int, steps: int = 1000):
    return [(f"sweep/lr_{i}/seed_{i % 3}",
             [{"step": s, "kind": "train", "loss_d": 1.0 + i / n, "loss_g": 0.7} for s in range(0, steps + 1, 100)]
             + [{"step": steps, "kind": "eval", "jsd": 0.1 * i}]) for i in range(n)]


@pytest.mark.parametrize("n_runs", [5, 20])
@pytest.mark.parametrize("panels", [[("losses: loss_d", "train", "loss_d")],
                                    [("loss_d", "train", "loss_d"), ("loss_g", "train", "loss_g"),
                                     ("JSD", "eval", "jsd")]])
def test_compare_legend_covers_no_title(n_runs, panels):
    fig = figure_compare(_runs(n_runs), panels)
    r = fig.canvas.get_renderer()
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent(r)
    for ax in fig.axes:
        if ax.axison:       # the panel with its title (set on the left) and tick labels
            assert not _boxes_overlap(legend, ax.get_tightbbox(r)), \
                f"the legend of {n_runs} runs covers {ax.get_title(loc='left')!r}"
    assert legend.y1 <= fig.bbox.y1 + 1 and legend.x0 >= -1 and legend.x1 <= fig.bbox.x1 + 1, \
        "the legend stays inside the figure"


@pytest.mark.parametrize("last_step", [200_000, 2_000_000])
def test_eval_step_labels_stay_apart(last_step):
    """4 panels a row, 3.6 in each: a long run's step labels (175000 200000) ran together."""
    from gankit.report.metricinfo import key_infos
    keys = ["jsd", "reverse_kl", "modes_covered", "loss_x"]
    evals = [{"step": s, "kind": "eval", **{k: 1.0 / (1 + s) for k in keys}}
             for s in range(0, last_step + 1, last_step // 100)]
    fig = plots.figure_eval(evals, keys, key_infos())
    r = fig.canvas.get_renderer()
    fig.canvas.draw()
    for ax in fig.axes:
        if not ax.axison:
            continue
        lo, hi = sorted(ax.get_xlim())      # ticks outside the view are not drawn
        labels = [t for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
        assert len(labels) >= 3
        boxes = sorted((t.get_window_extent(r) for t in labels), key=lambda b: b.x0)
        for a, b in zip(boxes, boxes[1:]):
            assert a.x1 < b.x0, f"step labels {[t.get_text() for t in labels]} run together"
