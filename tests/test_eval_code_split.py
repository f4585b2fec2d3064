"""The evaluation figure after a user's metric was edited (audit a170): the numbers of the old
code and of the new are two lines, not one joined through a 100x jump, and the legend says where
the code changed."""
import math

from gankit.report import plots
from gankit.report.metricinfo import KeyInfo


def _records(codes):
    """Eval records of a user's metric "edm" at steps 10..60, measured by the given code hashes."""
    out = []
    for step, code in zip(range(10, 70, 10), codes):
        settings = {"n_samples": 500, "metrics": ["edm"], "user_code": {"metric edm": code}}
        out.append({"kind": "eval", "step": step, "settings": settings, "edm": 1.3 if code == "old" else 133.0})
    return out


INFOS = {"edm": KeyInfo("edm", "edm", "edited metric", "scaled mean norm", "lower", ".4f", 0, frozenset({"n_samples"}))}


def _drawn(ax):
    """The key's drawn lines: (steps, values) of every line with points (no legend proxies)."""
    return [(list(map(float, line.get_xdata())), list(map(float, line.get_ydata())))
            for line in ax.get_lines() if len(line.get_xdata())]


def _legend(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def test_edited_metric_code_splits_the_curve_and_says_so():
    fig = plots.figure_eval(_records(["old"] * 3 + ["new"] * 3), ["edm"], INFOS)
    ax = fig.axes[0]
    lines = _drawn(ax)
    assert [steps for steps, _ in lines] == [[10, 20, 30], [40, 50, 60]], lines
    assert all(math.isclose(v, 1.3) for v in lines[0][1]) and all(math.isclose(v, 133.0) for v in lines[1][1])
    assert ax.get_lines()[0].get_color() != ax.get_lines()[1].get_color()     # told apart, not only broken
    assert _legend(ax) == ["metric code changed at step 40"]


def test_unchanged_metric_code_stays_one_line():
    fig = plots.figure_eval(_records(["old"] * 6), ["edm"], INFOS)
    ax = fig.axes[0]
    assert [steps for steps, _ in _drawn(ax)] == [[10, 20, 30, 40, 50, 60]]
    assert _legend(ax) == []


def test_records_without_settings_do_not_split():
    recs = _records(["old"] * 3 + ["new"] * 3)
    for r in recs[:3]:
        del r["settings"]          # an older gankit's: no code recorded, no change to show
    fig = plots.figure_eval(recs, ["edm"], INFOS)
    assert [steps for steps, _ in _drawn(fig.axes[0])] == [[10, 20, 30, 40, 50, 60]]
