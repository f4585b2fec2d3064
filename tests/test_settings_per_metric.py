"""Each metric declares the eval settings that change its numbers (register_metric(reads=...)):
the report's mixed-settings note, its reference row and `gankit compare` weigh only those, and
`gankit eval` says the sample counts the asked metrics draw.  jsd never reads eval.n_samples:
the report said its number was "measured with different eval settings: n_samples 100 (jsd)",
compare left modes/swd unmarked after only eval.jsd_samples changed, and `gankit eval --metrics
jsd` said "2500 samples" while jsd drew eval.jsd_samples."""
import dataclasses

import pytest
import torch

from gankit.config import ConfigError
from gankit.metrics.base import Output, register_metric
from gankit.registry import METRICS
from gankit.report import _matching_reference, mixed_settings_note
from gankit.report import compare as CMP
from gankit.runfolder import RunFolder

SETTINGS = {"n_samples": 2500, "hq_std": None, "jsd_bins": 200, "jsd_cells": "exact", "pr_k": 3, "dc_k": 5,
            "parzen_centres": 10000, "jsd_samples": 50000, "features": "classifier", "inception_weights": "",
            "threads": 0}


def rec(numbers: dict, **changes) -> dict:
    return {"step": 100, "kind": "eval", "settings": {**SETTINGS, "metrics": list(numbers), **changes}, **numbers}


def sources(*records) -> dict:
    """key -> the record that supplied it, the later record winning (as metricinfo.final_sources)."""
    out = {}
    for r in records:
        out.update(dict.fromkeys(r, r))
    return out


def user_metric(name, outputs, **kw):
    def fn(ctx):
        return {}
    fn.__module__ = "my_metrics"          # a user's module, not gankit's
    register_metric(name, lambda ds: True, "a test metric", outputs, **kw)(fn)


# ------------------------------------------------------------------ the report
def test_report_note_only_for_a_setting_the_differing_numbers_read():
    full = rec({"modes_covered": 8, "swd": 0.1, "jsd": 0.2})
    # jsd re-measured at another n_samples: jsd reads eval.jsd_samples, not n_samples
    assert mixed_settings_note(sources(full, rec({"jsd": 0.2}, n_samples=100))) == ""
    # modes re-measured at another jsd_samples: modes does not read it
    assert mixed_settings_note(sources(full, rec({"modes_covered": 7}, jsd_samples=1000, jsd_bins=20))) == ""
    # modes re-measured at another n_samples: swd reads it too, at the other value; jsd is not named
    assert mixed_settings_note(sources(full, rec({"modes_covered": 7}, n_samples=100))) == (
        "These numbers were measured with different eval settings: n_samples 100 (modes_covered); "
        "n_samples 2500 (swd).")
    # jsd alone reads jsd_samples: the table is as one evaluation at 1000 would give it
    assert mixed_settings_note(sources(full, rec({"jsd": 0.3}, jsd_samples=1000))) == ""


def test_report_reference_row_matches_on_the_settings_a_number_reads():
    ref = {"kind": "reference", "settings": {**SETTINGS, "metrics": []}, "jsd": 0.01, "modes_covered": 8}
    src = sources(rec({"modes_covered": 7, "jsd": 0.2}), rec({"jsd": 0.3}, n_samples=100))
    row = _matching_reference(src, [ref])
    assert row["jsd"] == 0.01 and row["modes_covered"] == 8      # n_samples: not jsd's
    row = _matching_reference(sources(rec({"modes_covered": 7}, n_samples=100)), [ref])
    assert "modes_covered" not in row                             # a reference at another n_samples is none


# ------------------------------------------------------------------ compare
def _run(path, *evals):
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config('seed = 0\n[train]\nsteps = 100\n')
    f.append({"step": 100, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "time": 10.0})
    for r in evals:
        f.append(r)
    return f.path


def _by_key(data):
    return {m["key"]: m for m in data["metrics"]}


def test_compare_marks_numbers_whose_metric_does_not_read_the_setting_that_differs(tmp_path):
    numbers_a = {"modes_covered": 8, "swd": 0.1, "jsd": 0.2}
    numbers_b = {"modes_covered": 7, "swd": 0.3, "jsd": 0.1}
    a = _run(tmp_path / "a", rec(numbers_a, jsd_samples=1000))
    b = _run(tmp_path / "b", rec(numbers_b))
    by = _by_key(data := CMP.compare_data([a, b]))
    assert by["modes_covered"]["best"] == [0] and by["swd"]["best"] == [0]
    assert by["jsd"]["best"] == [] and by["jsd"]["settings_differ"] == ["eval.jsd_samples"]
    assert data["note"] == "jsd: not marked, measured with different eval settings (eval.jsd_samples 1000 / 50000)"
    c = _run(tmp_path / "c", rec(numbers_a, n_samples=500))
    by = _by_key(CMP.compare_data([c, b]))
    assert by["modes_covered"]["best"] == [] and by["swd"]["best"] == []
    assert by["modes_covered"]["settings_differ"] == ["eval.n_samples"] and by["jsd"]["best"] == [1]


# ------------------------------------------------------------------ a plug-in's metric
def test_a_plugin_metric_without_reads_counts_every_setting(tmp_path):
    user_metric("zz_gap", {"zz_gap": Output("gap", "lower")})
    user_metric("zz_dist", {"zz_dist": Output("dist", "lower")}, reads=("n_samples",))
    assert METRICS.build("zz_gap").reads is None and METRICS.build("zz_dist").reads == ("n_samples",)
    full = rec({"modes_covered": 8, "jsd": 0.2, "precision": 0.9, "zz_gap": 1.0, "zz_dist": 1.0})
    assert mixed_settings_note(sources(full, rec({"zz_gap": 2.0, "zz_dist": 2.0}, pr_k=9))) == (
        "These numbers were measured with different eval settings: pr_k 3 (precision); pr_k 9 (zz_gap).")
    a = _run(tmp_path / "a", rec({"zz_gap": 1.0, "zz_dist": 1.0, "jsd": 0.2}, pr_k=9))
    b = _run(tmp_path / "b", rec({"zz_gap": 2.0, "zz_dist": 2.0, "jsd": 0.3}))
    by = _by_key(CMP.compare_data([a, b]))
    assert by["zz_gap"]["best"] == [] and by["zz_gap"]["settings_differ"] == ["eval.pr_k"]
    assert by["zz_dist"]["best"] == [0] and by["jsd"]["best"] == [0]


def test_a_misspelt_setting_in_reads_is_refused_naming_it():
    with pytest.raises(ConfigError, match=r"metric 'zz_bad' \(my_metrics\): reads= names \['n_sample'\], "
                                          r"not eval settings; valid: n_samples"):
        user_metric("zz_bad", {"zz_bad": Output("bad", "lower")}, reads=("n_sample",))


# ------------------------------------------------------------------ the declarations are true
def test_every_builtin_declares_what_it_reads_and_an_unread_setting_changes_no_number():
    from gankit.config.schema import EvalConfig
    from gankit.metrics import evaluate
    from gankit.metrics.context import EvalContext
    from gankit.registry import DATASETS
    assert all(e.factory().reads is not None for e in METRICS.entries())
    ds = DATASETS.build("ring", {})
    names = ["modes", "jsd", "sliced_wasserstein", "energy", "mmd", "prdc_points"]
    base = EvalConfig(n_samples=200, jsd_samples=500, jsd_bins=20)
    changed = {"n_samples": 150, "hq_std": 1.0, "jsd_bins": 15, "jsd_cells": "centre", "jsd_samples": 400,
               "pr_k": 2, "dc_k": 2}

    def measured(settings):
        def sample(n, seed=None, y=None, c=None):      # real data stand in for G
            return ds.sample(n, torch.Generator().manual_seed(int(seed))) * 1.1, None
        ctx = EvalContext(ds, settings, 0, torch.device("cpu"), 0, sample)
        return evaluate(ctx, names)
    before = measured(base)
    for setting, value in changed.items():
        after = measured(dataclasses.replace(base, **{setting: value}))
        for name in names:
            m = METRICS.build(name)
            if setting not in m.reads:
                assert {k: after[k] for k in m.outputs if k in before} == \
                    {k: before[k] for k in m.outputs if k in before}, (name, setting)


# ------------------------------------------------------------------ gankit eval's message
def test_eval_says_the_sample_count_the_asked_metrics_draw_and_the_report_notes_only_read_settings(tmp_path):
    from gankit import api
    from gankit.report.metricinfo import final_sources
    from conftest import TINY_CLI
    run = tmp_path / "r"
    api.train("ring", run, TINY_CLI + ['eval.metrics=["modes", "jsd", "sliced_wasserstein"]'], report=False,
              log=lambda s: None)

    def note():             # as the report writes it under its table
        return mixed_settings_note(final_sources(RunFolder(run).records("eval")))
    said = []
    # jsd re-measured at another n_samples: no note; modes, beside swd at the other value: one
    api.evaluate(run, ["jsd"], ["eval.n_samples=300"], reference=False, log=said.append)
    assert note() == ""
    api.evaluate(run, ["modes", "jsd"], record=False, log=said.append)
    api.evaluate(run, ["modes"], ["eval.n_samples=300"], reference=False, log=said.append)
    assert note() == ("These numbers were measured with different eval settings: n_samples 300 (modes_covered, "
                      "modes_total, hq_fraction, reverse_kl); n_samples 200 (swd).")
    assert [s for s in said if s.startswith("evaluating")] == [
        "evaluating step 12: jsd; 500 samples (eval.jsd_samples)",
        "evaluating step 12: modes, jsd; 200 samples; jsd: 500 (eval.jsd_samples)",
        "evaluating step 12: modes; 300 samples"]


def test_the_docs_table_of_what_each_metric_reads_is_the_declarations():
    from pathlib import Path
    text = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()
    table = text.split("| reads | metrics |")[1].split("\n\n")[0]
    said = {}
    for line in table.splitlines()[2:]:
        reads, names = [c.strip() for c in line.strip("|").split("|")]
        for name in names.replace("(and prdc, with pr_k, dc_k)", "").split(","):
            said[name.strip()] = set() if reads == "none" else {r.strip() for r in reads.split(",")}
    said["prdc"] = said["fid"] | {"pr_k", "dc_k"}
    from gankit.registry import is_gankit
    # gankit's own: other tests register plug-ins (docs/architecture.md's mean_gap)
    assert said == {e.name: set(e.factory().reads) for e in METRICS.entries() if is_gankit(e.module)}


def test_a_metric_re_measured_at_a_setting_it_does_not_read_reuses_the_reference(tmp_path):
    """jsd at another eval.n_samples measured the real-data reference again (the same numbers)."""
    from gankit import api
    from conftest import TINY_CLI
    run = tmp_path / "r"
    api.train("ring", run, TINY_CLI + ['eval.metrics=["modes", "jsd"]'], report=False, log=lambda s: None)
    refs = lambda: RunFolder(run).records("reference")       # noqa: E731
    assert len(refs()) == 1
    api.evaluate(run, ["jsd"], ["eval.n_samples=300"], log=lambda s: None)
    assert len(refs()) == 1
    api.evaluate(run, ["modes"], ["eval.n_samples=300"], log=lambda s: None)     # modes reads it
    assert len(refs()) == 2 and refs()[-1]["settings"]["n_samples"] == 300


def test_the_reference_is_not_measured_again_for_another_thread_count(tmp_path):
    """eval.threads counts for no number (a few change in their last bits: docs/metrics.md); a
    reference recorded at another count was measured again."""
    from gankit import api
    from conftest import TINY_CLI
    run = tmp_path / "r"
    api.train("ring", run, TINY_CLI + ['eval.metrics=["modes"]'], report=False, log=lambda s: None)
    api.evaluate(run, None, ["eval.threads=1"], log=lambda s: None)
    assert len(RunFolder(run).records("reference")) == 1
