"""The API as notebooks and scripts call it: an old Run object, messages a caller turned off,
sweeps started from a script or a notebook."""
from __future__ import annotations

import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

from gankit import api
from gankit.config import ConfigError
from gankit.metrics import progress
from gankit.report import metricinfo as MI
from gankit.train.run_state import RunError
from tests.conftest import child_env

ROOT = Path(__file__).resolve().parents[1]
QUIET = dict(evaluate=False, report=False, progress=False, log=None)


def test_an_old_run_object_does_not_record_over_the_newer_step(tmp_path, tiny):
    run = api.train("ring", out=tmp_path / "r", overrides=tiny + ["train.steps=10"], **QUIET)
    api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=20"], **QUIET)
    with pytest.raises(RunError, match=r"checkpoint of step 20, past this Run's step 10.*record=False"):
        api.evaluate(run, ["modes"])
    assert not run.folder.records("eval")
    assert "modes_covered" in api.evaluate(run, ["modes"], record=False)       # measuring is fine
    api.evaluate(api.open_run(tmp_path / "r"), ["modes"])
    assert [r["step"] for r in run.folder.records("eval")] == [20]


def test_the_final_evaluation_is_the_newest_step_not_the_last_line():
    evals = [{"step": 20, "kind": "eval", "a": 1.0}, {"step": 10, "kind": "eval", "a": 2.0},
             {"step": 20, "kind": "eval", "b": 3.0}]
    assert MI.final_step(evals) == 20
    assert MI.final_eval(evals) == {"step": 20, "kind": "eval", "a": 1.0, "b": 3.0}
    assert MI.final_sources(evals)["a"] is evals[0]


def test_no_log_means_no_evaluation_progress(tmp_path, tiny, capsys, monkeypatch):
    monkeypatch.setattr(progress, "AFTER", 0.0)       # every metric would print its line
    run = api.train("ring", out=tmp_path / "r", overrides=tiny + ["train.steps=10"], **QUIET)
    capsys.readouterr()
    api.evaluate(run, ["modes", "jsd"], log=None)
    assert capsys.readouterr().err == ""
    api.evaluate(run, ["modes", "jsd"], log=print)
    assert "evaluating step 10: jsd (2/2" in capsys.readouterr().err


def test_the_resumed_schedule_note_is_a_warning_a_caller_can_silence(tmp_path, tiny, capsys):
    api.train("ring", out=tmp_path / "r", overrides=tiny + ["train.steps=10", "train.lr_schedule=\"linear\"",
                                                      "objective.lr_decay_final=1.0"],
              **QUIET)
    with pytest.warns(UserWarning, match="learning-rate schedule continued as planned"):
        api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=20"], **QUIET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=30"], **QUIET)
    assert "schedule" not in capsys.readouterr().err


def test_a_sweep_of_parts_registered_in_a_notebook_is_refused(tmp_path, monkeypatch):
    from gankit.registry import DATASETS
    from gankit.sweep import Job, run_sweep

    def notebook_ring(**kw):
        raise AssertionError("not built: refused before")
    notebook_ring.__module__ = "__main__"
    DATASETS.register("nb-ring-a103")(notebook_ring)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))     # no __file__
    try:
        with pytest.raises(ConfigError, match=r"dataset 'nb-ring-a103': registered in this interactive "
                                              r"session.*imports=\['my_parts.py'\]"):
            run_sweep([Job(label="a", source="ring", seed=0, overrides=['data.name="nb-ring-a103"'])],
                      tmp_path / "res.jsonl", workers=1, log=lambda m: None)
    finally:
        DATASETS._entries.pop("nb-ring-a103", None)
    assert not (tmp_path / "res.jsonl").exists()


def test_a_script_without_the_main_guard_is_told_so(tmp_path):
    script = tmp_path / "noguard.py"
    script.write_text("from gankit.sweep import Job, run_sweep\n"
                      "run_sweep([Job(label='a', source='ring', seed=0, overrides=['train.steps=5'])], "
                      "'res.jsonl', workers=1)\n")
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env=child_env())
    assert "worker process died before starting any run; a script that calls run_sweep must call it " \
           "under `if __name__ == \"__main__\":`" in out.stderr


def _damaged_copy(folder, step_from: int, step_to: int):
    """A checkpoint that is a whole zip (``intact``) whose pickle does not load."""
    import zipfile
    src = folder / "checkpoints" / f"step_{step_from:08d}.pt"
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(folder / "checkpoints" / f"step_{step_to:08d}.pt", "w") as out:
        for n in z.namelist():
            d = z.read(n)
            out.writestr(n, b"\x00garbage" + d[8:] if n.endswith("data.pkl") else d)


def test_a_newest_checkpoint_that_does_not_load_leaves_the_older_one_evaluable(tmp_path, tiny):
    """It is skipped with a warning when the run is opened; it is no other Run's progress."""
    api.train("ring", out=tmp_path / "r", overrides=tiny + ["train.steps=10", "train.checkpoint_every=5"], **QUIET)
    _damaged_copy(tmp_path / "r", 10, 15)
    with pytest.warns(UserWarning, match="step_00000015.pt"):
        run = api.open_run(tmp_path / "r")
    assert run.step == 10
    api.evaluate(run, ["modes"])
    assert [r["step"] for r in run.folder.records("eval")] == [10]


def test_a_sweep_whose_jobs_import_their_parts_is_not_refused(tmp_path, monkeypatch):
    from gankit.registry import DATASETS
    from gankit.sweep_failures import refuse_unseen_parts
    from gankit.sweep import Job

    def notebook_ring(**kw):
        raise AssertionError("not built")
    notebook_ring.__module__ = "__main__"
    DATASETS.register("nb-ring-a108")(notebook_ring)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    try:
        job = Job(label="a", source="ring", seed=0, overrides=['data.name="nb-ring-a108"'], imports=["parts.py"])
        job.resolved = {"data": {"name": "nb-ring-a108"}}
        refuse_unseen_parts([job], None)          # its module registers the dataset in each worker
        job.imports = []
        with pytest.raises(ConfigError, match="nb-ring-a108"):
            refuse_unseen_parts([job], None)
    finally:
        DATASETS._entries.pop("nb-ring-a108", None)


def test_the_final_evaluation_and_the_reference_row_take_a_run_folder(tmp_path, tiny):
    """As every other api function: they took a Run only (a folder: 'str' object has no attribute 'cfg')."""
    over = ["train.steps=10", 'eval.metrics=["modes"]', "objective.drs=false"]     # drs: its fit is most of the time
    api.train("ring", out=tmp_path / "r", overrides=tiny + over, **QUIET)
    row = api.record_reference(str(tmp_path / "r"), ["modes"])
    assert row["kind"] == "reference" and row["modes_covered"] == 8
    assert set(api.final_evaluation(tmp_path / "r", log=None)) >= {"modes_covered", "hq_fraction"}
    assert [r["step"] for r in api.open_run(tmp_path / "r").folder.records("eval")] == [10]


@pytest.mark.parametrize("call, said", [
    (lambda: api.sample(5, 2), r"^run_or_dir: got int 5; give a Run \(from api.train or api.open_run\) or a run "),
    (lambda: api.report(3), r"^run_or_dir: got int 3; give a Run"),
    (lambda: api.evaluate([1, 2]), r"^run_or_dir: got list \[1, 2\]; give a Run"),
    (lambda: api.final_evaluation(3), r"^run: got int 3; give a Run"),
    (lambda: api.record_reference(None, ["modes"]), r"^run: got NoneType None; give a Run"),
    (lambda: api.invert(3.5, None), r"^run_or_dir: got float 3.5; give a Run"),
    (lambda: api.open_run(3), r"^run_dir: got int 3; give a run folder's path \(str or Path\)$"),
])
def test_a_run_of_another_type_is_refused_in_words(call, said):
    """Not posixpath's bare TypeError (expected str, bytes or os.PathLike object, not int)."""
    with pytest.raises(ConfigError, match=said):
        call()


def test_the_resumed_schedule_note_names_the_callers_line_and_its_words(tmp_path, tiny):
    """It named gankit/train/run_training.py and advised --set, which a program has not; a resume
    with nothing left to train said it again, though it changed nothing."""
    api.train("ring", out=tmp_path / "r", overrides=tiny + ["train.steps=10", "objective.drs=false"], **QUIET)
    with pytest.warns(UserWarning, match="continued as planned") as said:
        api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=20"], **QUIET)
    note = [w for w in said if "schedule" in str(w.message)]
    assert len(note) == 1 and note[0].filename == __file__, [(w.filename, str(w.message)) for w in said]
    assert 'overrides=["train.lr_on_resume=restart"] starts it anew' in str(note[0].message)
    assert "--set" not in str(note[0].message)
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=20"], **QUIET)
    assert not [str(w.message) for w in again if "schedule" in str(w.message)]
