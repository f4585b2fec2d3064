"""Audit F141: the eval curves (report and compare) draw numbers measured with other eval settings
(a `gankit eval --set eval.n_samples=10000` of the last step) as lines of their own, each beside
the real data measured alike, and the caption counts evaluated steps; the modes table shows no
float32 noise as a centre; compare --text prints its star legend only when a value is starred."""
import math

from gankit.report import plots
from gankit.report.compare_figure import figure_compare
from gankit.report.metricinfo import key_infos
from gankit.runfolder import RunFolder


def _settings(n):
    return {"n_samples": n, "metrics": ["modes"], "metrics_code": "62fabc7ef629588d"}


def _evals():
    """The audit's run: steps 100..300 at n_samples=500, then step 300 re-measured at 10000."""
    out = [{"kind": "eval", "step": s, "source": "train.eval_every", "settings": _settings(500),
            "modes_covered": c, "modes_total": 8} for s, c in ((100, 2), (200, 1), (300, 1))]
    out.append({"kind": "eval", "step": 300, "source": "gankit eval", "settings": _settings(10000),
                "modes_covered": 2, "modes_total": 8})
    return out


# the real data's number at each setting: different, so each dashed line can be told by its value
REFS = [{"kind": "reference", "step": 300, "settings": _settings(500), "modes_covered": 7, "modes_total": 8},
        {"kind": "reference", "step": 300, "settings": _settings(10000), "modes_covered": 8, "modes_total": 8}]


def _drawn(ax):
    """(steps, values) of every line with points, dashed reference lines apart: (value, colour)."""
    lines, dashed = [], []
    for line in ax.get_lines():
        x, y = list(map(float, line.get_xdata())), list(map(float, line.get_ydata()))
        if line.get_linestyle() == "--":
            dashed.append((y[0], line.get_color()))
        elif x:
            lines.append((x, y))
    return lines, dashed


def _legend(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def test_eval_curve_splits_by_the_settings_a_number_reads_with_each_own_reference():
    evals = _evals()
    fig = plots.figure_eval(evals, ["modes_covered"], key_infos(), {"modes_covered": 8}, REFS)
    ax = fig.axes[0]
    lines, dashed = _drawn(ax)
    # not one line through (300, 1) and (300, 2), the re-measure looking like training
    assert lines == [([100.0, 200.0, 300.0], [2.0, 1.0, 1.0]), ([300.0], [2.0])], lines
    assert sorted(v for v, _ in dashed) == [7.0, 8.0], dashed      # each setting's real data
    colour = {v: c for v, c in dashed}
    assert colour[7.0] != colour[8.0]
    assert _legend(ax) == ["real data @ n_samples=500", "real data @ n_samples=10000",
                           "modes_covered @ n_samples=500", "modes_covered @ n_samples=10000"]


def test_one_setting_is_drawn_as_before_unlabelled():
    evals = _evals()[:3]
    fig = plots.figure_eval(evals, ["modes_covered"], key_infos(), {"modes_covered": 7}, REFS)
    lines, dashed = _drawn(fig.axes[0])
    assert lines == [([100.0, 200.0, 300.0], [2.0, 1.0, 1.0])]
    assert dashed == [(7.0, "#666666")] and _legend(fig.axes[0]) == ["real data"]


def test_a_setting_no_metric_of_the_number_reads_does_not_split():
    """jsd_samples is read by jsd alone: a change of it is the same modes measure."""
    evals = _evals()[:3]
    evals[2] = {**evals[2], "settings": {**_settings(500), "jsd_samples": 999}}
    fig = plots.figure_eval(evals, ["modes_covered"], key_infos(), None)
    assert _drawn(fig.axes[0])[0] == [([100.0, 200.0, 300.0], [2.0, 1.0, 1.0])]


def test_compare_figure_splits_a_runs_eval_curve_by_settings():
    fig = figure_compare([("mix", _evals()), ("mix2", _evals()[:3])], [("modes", "eval", "modes_covered")])
    ax = fig.axes[0]
    lines, _ = _drawn(ax)
    assert sorted(lines) == sorted([([100.0, 200.0, 300.0], [2.0, 1.0, 1.0]), ([300.0], [2.0]),
                                    ([100.0, 200.0, 300.0], [2.0, 1.0, 1.0])]), lines
    assert _legend(ax) == ["mix @ n_samples=500", "mix @ n_samples=10000"]


def _fake_run(path):
    """A ring run folder with the audit's evaluations (report_context reads the folder alone)."""
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config("seed = 0\n[train]\nsteps = 300\n")
    for r in _evals():
        f.append({**r, "mode_counts": [1] * r["modes_covered"] + [0] * (8 - r["modes_covered"])})
    return f.path


def test_report_caption_counts_evaluated_steps_and_modes_table_has_no_float_noise(tmp_path):
    from gankit.report import report_context
    ctx = report_context(_fake_run(tmp_path / "mix"))
    by = {s.title: s for s in ctx["curves"]}
    caption = by["Evaluation metrics over training"].paragraphs[0]
    assert caption.startswith("3 evaluated steps;"), caption      # 4 records of 3 steps
    centres = [row[1] for row in by["Modes"].rows]
    assert centres[0] == "1, 0" and centres[2] == "0, 1" and centres[4] == "-1, 0" and centres[6] == "0, -1", centres
    assert not any("e-" in c or "-0," in c or c.endswith("-0") for c in centres), centres
    assert centres[1] == "0.7071, 0.7071"


def test_mode_centres_zero_relative_to_the_data_scale():
    import torch

    from gankit.report.points import mode_section

    class Data:      # a mixture on a 1e-9 scale: its small centres are the data, not noise
        modes = torch.tensor([[1e-9, 3e-16], [-2e-9, -0.0]], dtype=torch.float64)
    rows = mode_section({"step": 1, "mode_counts": [1, 0]}, Data()).rows
    assert [r[1] for r in rows] == ["1e-09, 0", "-2e-09, 0"]


def test_compare_text_star_legend_only_when_something_is_starred(tmp_path, capsys):
    from gankit.cli import main
    a = _fake_run(tmp_path / "a")
    b = RunFolder(tmp_path / "b")            # stopped before any evaluation: nothing to star
    b.path.mkdir()
    b.write_config("seed = 0\n[train]\nsteps = 300\n")
    b.append({"step": 50, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "time": 5.0})
    assert main(["compare", str(a), str(b.path), "--text"]) == 0
    text = capsys.readouterr().out
    assert "modes_covered" in text and " *" not in text, text
    assert "the better value" not in text, text
    c = _fake_run(tmp_path / "c")            # a run beaten on modes_covered: a star, and its legend
    with open(RunFolder(c).records_path, "a") as f:
        f.write('{"step": 300, "kind": "eval", "source": "gankit eval", "settings": {"n_samples": 10000, '
                '"metrics": ["modes"], "metrics_code": "62fabc7ef629588d"}, "modes_covered": 5, "modes_total": 8}\n')
    assert main(["compare", str(a), str(c), "--text"]) == 0
    text = capsys.readouterr().out
    assert "5 *" in text and "* the better value" in text, text
