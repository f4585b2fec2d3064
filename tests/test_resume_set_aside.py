"""A resume never deletes what a run folder holds: lines gankit cannot read stay where they are
(finding a166-1), and records and snapshots past the checkpoint resumed from are moved aside to
metrics.discarded.jsonl and samples/discarded/, with one warning saying so (a166-2)."""
from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pytest

from gankit.io import read_jsonl
from gankit.runfolder import RunFolder


def _rec(step: int, kind: str = "train") -> str:
    return json.dumps({"step": step, "kind": kind, "loss_d": 0.5}) + "\n"


DAMAGED = '{"step": 0, "kind": "session" "resume": false}\n'      # a comma missing: no JSON
NOTE = '{"note": "lr too high from here"}\n'                    # a user's own line: no step


def _quiet(fn, *a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the skipped lines' warning: tested elsewhere
        return fn(*a)


def test_a_resume_with_nothing_past_its_step_leaves_unreadable_lines_in_place(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    text = DAMAGED + "".join(_rec(s) for s in (10, 20, 30)) + _rec(30, "eval") + NOTE
    folder.records_path.write_text(text)
    inode = os.stat(folder.records_path).st_ino
    moved = _quiet(folder.truncate_records, 30)
    assert folder.records_path.read_text() == text          # both skipped lines kept, byte for byte
    assert os.stat(folder.records_path).st_ino == inode      # not rewritten: nothing was past step 30
    assert moved == 0
    assert not (folder.path / "metrics.discarded.jsonl").exists()
    folder.append({"step": 31, "kind": "train"})
    assert folder.records_path.read_text() == text + json.dumps({"step": 31, "kind": "train"}) + "\n"


def test_a_torn_last_line_alone_is_set_aside_the_unreadable_ones_kept(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    text = DAMAGED + _rec(10) + NOTE + _rec(20)
    folder.records_path.write_text(text + '{"step": 30, "ki')        # a write cut short
    moved = _quiet(folder.truncate_records, 20)
    assert folder.records_path.read_text() == text
    assert moved == 0
    assert (folder.path / "metrics.discarded.jsonl").read_text() == '{"step": 30, "ki\n'
    assert [r["step"] for r in _quiet(folder.records)] == [10, 20]


def test_records_past_the_step_move_aside_with_the_lines_that_follow_them(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    kept = DAMAGED + _rec(10) + _rec(20) + NOTE
    past = _rec(30) + "garbage\n" + _rec(40, "eval")
    folder.records_path.write_text(kept + past)
    aside = folder.path / "metrics.discarded.jsonl"
    aside.write_text(_rec(99))                       # set aside by an earlier resume: appended to
    os.link(aside, tmp_path / "original.jsonl")      # as in a cp -al copy of the run: the original's kept
    moved = _quiet(folder.truncate_records, 20)
    assert folder.records_path.read_text() == kept
    assert aside.read_text() == _rec(99) + past
    assert (tmp_path / "original.jsonl").read_text() == _rec(99)
    assert moved == 2
    # the cache holds what the file holds, line numbers included, and later appends are read
    assert [r["step"] for r in _quiet(folder.records)] == [10, 20]
    folder.append({"step": 21, "kind": "train"})
    assert [r["step"] for r in _quiet(folder.records)] == [10, 20, 21] \
        == [r["step"] for r in _quiet(read_jsonl, folder.records_path) if "step" in r]


def _snapshot(folder: RunFolder, step: int, value: float):
    folder.save_snapshot(step, {"samples": np.full((4, 2), value, np.float32)})


def test_snapshots_past_the_step_move_to_samples_discarded(tmp_path):
    folder = RunFolder(tmp_path / "run")
    for s in (0, 10, 20, 30):
        _snapshot(folder, s, s)
    moved = folder.truncate_snapshots(10)
    assert folder.snapshot_steps() == [0, 10]                 # readers list samples/ alone
    aside = folder.samples_dir / "discarded"
    assert sorted(p.name for p in aside.iterdir()) == ["step_00000020.npz", "step_00000030.npz"]
    assert moved == 2
    _snapshot(folder, 20, -1.0)                               # a second trajectory past 10, discarded too
    assert folder.truncate_snapshots(10) == 1
    with np.load(aside / "step_00000020.npz") as z, np.load(aside / "step_00000020.2.npz") as z2:
        assert z["samples"][0, 0] == 20 and z2["samples"][0, 0] == -1     # the first kept, not overwritten
    assert folder.truncate_snapshots(10) == 0


def test_a_resume_from_an_older_checkpoint_moves_the_later_trajectory_aside(tiny_run_dir, tmp_path):
    from gankit.train.run import Run
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)
    later = [line for line in (run / "metrics.jsonl").read_text().splitlines(True) if json.loads(line)["step"] > 20]
    assert {json.loads(line)["step"] for line in later} == {30}      # the steps after the checkpoint at 20
    (run / "checkpoints" / "step_00000030.pt").unlink()       # as if damaged and set aside
    r = Run.open(run, ["train.steps=25", "train.sample_every=1000"], write=True)
    assert r.step == 20
    with pytest.warns(UserWarning) as said:
        r.train().close()
    moved = [str(w.message) for w in said if "moved to" in str(w.message)]
    assert moved == ["records and 1 snapshot past step 20 moved to metrics.discarded.jsonl and samples/discarded/ "
                     "(they came after the checkpoint resumed from)"]
    assert (run / "metrics.discarded.jsonl").read_text() == "".join(later)
    assert (run / "samples" / "discarded" / "step_00000030.npz").is_file()
    assert 30 not in RunFolder(run).snapshot_steps()
    assert all(rec["step"] <= 25 for rec in read_jsonl(run / "metrics.jsonl"))
