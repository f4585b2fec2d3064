"""Audit F136, report and compare reading damaged run folders: a checkpoint that will not load
(a pickle weights_only refuses, a list where the weights are) was taken as the run's step ("step
90 of 40", and a final evaluation `gankit eval` never measures); values near float64's limit in
metrics.jsonl crashed the figures in matplotlib's ticker; a mode_counts of a million entries made
a table of a million rows for 8 modes; compare showed an edited eval record's "many" and {} as
metric values where the report leaves them out."""
from __future__ import annotations

import shutil
import warnings

import pytest
import torch

from gankit.report import report_context
from gankit.report.compare import compare_data
from gankit.report.progress import run_progress
from gankit.runfolder import RunFolder

SETTINGS = {"n_samples": 500, "metrics": ["modes"], "threads": 0}


class _Refused:
    """A pickled object of a class weights_only does not allow (as a hostile file's os.system)."""


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _evaluated(run, **numbers):
    RunFolder(run).append({"step": 30, "kind": "eval", "source": "final", "settings": SETTINGS,
                           "modes_covered": 3, "modes_total": 8, "hq_fraction": 0.5, "reverse_kl": 0.25, **numbers})
    return run


# ------------------------------------------------------------------ 1: checkpoints that will not load
@pytest.mark.parametrize("state", [{"step": 90, "models": _Refused()},        # weights_only refuses it
                                   {"step": 90, "models": [1, 2, 3]}],        # loads; no checkpoint (fault)
                         ids=["refused-pickle", "not-a-checkpoint"])
def test_a_checkpoint_that_does_not_load_is_not_the_runs_step(tiny_run_dir, tmp_path, state):
    run = _copy(tiny_run_dir, tmp_path / "run")
    torch.save(state, run / "checkpoints" / "step_00000090.pt")
    folder = RunFolder(run)
    with pytest.warns(UserWarning, match=r"skipped unreadable step_00000090\.pt \(.+\); using step_00000030\.pt"):
        done = run_progress(folder, folder.records())
    assert (done.step, done.checkpoint) == (30, 30)        # eval and --resume take step 30 too
    _evaluated(run)
    with pytest.warns(UserWarning, match="skipped unreadable step_00000090.pt"):
        data = compare_data([run], curves=False)
    assert (data["runs"][0]["step"], data["runs"][0]["state"]) == (30, "finished")


def test_only_unloadable_checkpoints_leave_nothing_to_resume_from(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path / "run")
    for p in (run / "checkpoints").glob("step_*.pt"):
        torch.save({"step": 1, "models": "weights"}, p)
    folder = RunFolder(run)
    with pytest.warns(UserWarning, match="none is left to resume from"):
        done = run_progress(folder, folder.records())
    assert done.checkpoint is None and done.damaged and done.step == 30      # the records' step stays


# ------------------------------------------------------------------ 2: values past float64's axis range
@pytest.mark.parametrize("values", [[1e308], [-1e308], [1e308, -1e308], [10 ** 308]])
def test_values_near_the_float_limit_are_noted_not_plotted(values):
    from gankit.report import plots
    from gankit.report.compare_figure import figure_compare
    records = [{"step": s, "kind": "train", "foo": 1.0 + s / 10} for s in (10, 20, 30)]
    records += [{"step": 40 + i, "kind": "train", "foo": v} for i, v in enumerate(values)]
    fig = plots.figure_curves(records)          # tight_layout computes the ticks: it raised here
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    signs = sorted({"-" if v < 0 else "" for v in values})
    assert sorted(t.split(" = ")[1].split(" ")[0] for t in legend) == sorted(f"{s}inf" for s in signs), legend
    drawn = [y for line in fig.axes[0].get_lines() if line.get_transform() == fig.axes[0].transData
             for y in line.get_ydata() if y == y]                       # NaN: the line's break at an infinity
    assert drawn and max(map(abs, drawn)) < 10                          # the finite curve alone is drawn
    assert fig.axes[0].get_ylim()[1] < 10
    ev = [{"step": s, "kind": "eval", "foo": v} for s, v in ((10, 0.5), (20, values[0]), (30, 0.7))]
    plots.figure_eval(ev, ["foo"], {}, {"foo": values[-1]})
    figure_compare([("a", records), ("b", records[:3])], [("foo", "train", "foo")])


def test_a_report_of_such_values_is_drawn(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path / "run")
    RunFolder(run).append({"step": 31, "kind": "train", "foo": 1e308})     # a panel of its own
    curves = [s.title for s in report_context(run)["curves"]]
    assert "Training curves" in curves


# ------------------------------------------------------------------ 3: a modes table of any length
def test_mode_counts_of_another_length_than_the_datas_modes_make_no_table(tiny_run_dir, tmp_path):
    run = _evaluated(_copy(tiny_run_dir, tmp_path / "run"), mode_counts=[1] * 5000)
    with pytest.warns(UserWarning, match="holds 5,000 mode_counts for data of 8 modes: no modes table"):
        context = report_context(run)
    assert "Modes" not in [s.title for s in context["curves"]]


def test_mode_counts_of_the_datas_modes_make_the_table():
    from types import SimpleNamespace

    from gankit.report.points import mode_section
    data = SimpleNamespace(modes=torch.zeros(8, 2), mode_weights=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = mode_section({"step": 30, "mode_counts": [1] * 8}, data, "metrics.jsonl")
    assert len(table.rows) == 8
    gone = SimpleNamespace(modes=None, mode_weights=None)         # the data gone: any table a page holds
    assert len(mode_section({"step": 30, "modes_total": 8, "mode_counts": [0] * 9}, gone, "m").rows) == 9
    with pytest.warns(UserWarning, match="holds 1,000,000 mode_counts for a table of at most 10,000 rows"):
        assert mode_section({"step": 30, "mode_counts": [0] * 10 ** 6}, gone, "m") is None


# ------------------------------------------------------------------ 4: compare and non-numbers
def test_compare_leaves_out_what_is_no_number_as_the_report_does(tiny_run_dir, tmp_path):
    a = _evaluated(_copy(tiny_run_dir, tmp_path / "a"))
    n = _evaluated(_copy(tiny_run_dir, tmp_path / "n"), modes_covered="many", hq_fraction={}, modes_total=[],
                   reverse_kl="inf")
    with pytest.warns(UserWarning, match=r"n/metrics.jsonl: the evaluation of step 30 holds modes_covered = "
                                         r"\"many\", modes_total = \[\], hq_fraction = \{\}: no number"):
        data = compare_data([a, n], curves=False)
    values = {m["key"]: m["values"] for m in data["metrics"]}
    assert values["modes_covered"] == [3, None] and values["hq_fraction"] == [0.5, None]
    assert values["modes_total"] == [8, None] and values["reverse_kl"] == [0.25, "inf"]   # "inf" is a result
    shown = {m["key"]: m["shown"] for m in data["metrics"]}
    assert shown["modes_covered"][1] == "" and shown["hq_fraction"][1] == ""
