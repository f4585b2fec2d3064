"""gankit eval of a folder renamed or deleted while it measured recreated the old folder holding
only a metrics.jsonl; a record is now refused there, with the numbers measured."""
from __future__ import annotations

import shutil

import pytest

from gankit.cli import main
from gankit.runfolder import RunFolder, RunFolderError


def test_a_record_to_a_folder_moved_since_it_was_opened_makes_no_new_folder(tiny_run_dir, tmp_path):
    run = tmp_path / "EV"
    shutil.copytree(tiny_run_dir, run)
    folder = RunFolder(run)
    run.rename(tmp_path / "EV2")
    with pytest.raises(RunFolderError, match=r"EV is gone \(moved or deleted since it was opened\)"):
        folder.append({"step": 30, "kind": "eval"})
    assert not run.exists()


def test_a_new_folder_is_still_made_for_its_first_record(tmp_path):
    folder = RunFolder(tmp_path / "new" / "run")
    folder.append({"step": 1, "kind": "train"})
    assert [r["step"] for r in folder.records()] == [1]


def test_eval_of_a_folder_moved_while_it_measured_says_so_with_the_numbers(tiny_run_dir, tmp_path, monkeypatch,
                                                                          capsys):
    from gankit.train.run_eval import RunEvaluation
    run = tmp_path / "EV"
    shutil.copytree(tiny_run_dir, run)
    measure = RunEvaluation.evaluate

    def moved_meanwhile(self, *args, **kw):
        out = measure(self, *args, **kw)
        run.rename(tmp_path / "EV2")
        return out
    monkeypatch.setattr(RunEvaluation, "evaluate", moved_meanwhile)
    assert main(["eval", str(run), "--metrics", "modes"]) == 1
    err = capsys.readouterr().err
    assert f"{run} is gone (moved or deleted since it was opened)" in err, err
    assert "measured, not recorded: modes_covered" in err, err
    assert not run.exists()
