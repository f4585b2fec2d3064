"""Records of odd shapes (audit a124): lines of metrics.jsonl that are valid JSON but no record,
records without a kind, final-evaluation values that are no number, and a train value at the
float limit: each told, none dropped without a word, none a traceback or a bare numpy warning."""
import io
import json
import shutil
import warnings

import pytest

from gankit.io import JsonlLog
from gankit.report import report_context


def test_lines_that_are_json_but_no_record_are_warned_of_once_each(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "kind": "train"}\n[1, 2, 3]\n42\n"text"\nnull\n')
    log = JsonlLog(path)
    with pytest.warns(UserWarning) as said:
        assert log.read() == [{"step": 1, "kind": "train"}]
    lines = [str(w.message) for w in said]
    for n, what in ((2, "an array"), (3, "a number"), (4, "a string"), (5, "null")):
        assert any(f"line {n} is {what}, not a record" in s for s in lines), lines
    with path.open("a") as f:
        f.write('{"step": 2, "kind": "train"}\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # the lines read before are not warned of again
        assert len(log.read()) == 2


def _with_record(run, record: dict):
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")


def test_an_evaluation_without_its_kind_is_warned_of(tmp_path, tiny_run_dir):
    """The page said "the final evaluation was not recorded" and nothing said why."""
    run = shutil.copytree(tiny_run_dir, tmp_path / "r")
    _with_record(run, {"step": 30, "source": "final", "settings": {}, "jsd": 0.1})
    with pytest.warns(UserWarning, match=r'1 record\(s\) without a "kind" .*at step\(s\) 30, left out'):
        ctx = report_context(run)
    assert ctx["unevaluated"] and not ctx["groups"]


def test_values_of_the_final_evaluation_that_are_no_number_are_warned_of(tmp_path, tiny_run_dir):
    """precision = "high" or recall = [1, 2] vanished from the table without a word."""
    run = shutil.copytree(tiny_run_dir, tmp_path / "r")
    _with_record(run, {"step": 30, "kind": "eval", "source": "final", "settings": {}, "reverse_kl": 0.5,
                       "jsd": "high", "hq_fraction": [1, 2], "modes_covered": True, "features": "random"})
    with pytest.warns(UserWarning, match=r'step 30 holds .*jsd = "high".*: no number, left out') as said:
        ctx = report_context(run)
    line = next(str(w.message) for w in said if "no number" in str(w.message))
    assert "hq_fraction = [1, 2]" in line and "modes_covered = true" in line and "features" not in line
    shown = {row["key"] for g in ctx["groups"] for row in g["rows"]}
    assert "reverse_kl" in shown and not shown & {"jsd", "hq_fraction", "modes_covered"}


def test_a_train_value_at_the_float_limit_is_drawn_without_numpy_warnings():
    """A record holding 1e308 printed "overflow encountered in exp" and left the log panel at
    1..10, showing none of its curves.  Values past 1e300 (curve_values.PLOT_LIMIT) are drawn as the
    infinities they nearly are: noted in the legend, the other values plotted (a span that wide
    crashed matplotlib's ticker on a linear panel)."""
    from gankit.report.plots import figure_curves
    recs = [{"step": s, "d_real": 0.5 + 0.01 * s, "d_fake": 0.4} for s in range(10)]
    recs[4]["d_real"] = 1e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = figure_curves(recs)
        fig.savefig(io.BytesIO(), format="png")
    ax = next(ax for ax in fig.axes if ax.lines)
    bottom, top = ax.get_ylim()
    assert bottom <= 0.4 and 0.5 < top < 1e300
    assert "d_real = inf at step 4" in [t.get_text() for t in ax.get_legend().get_texts()]
