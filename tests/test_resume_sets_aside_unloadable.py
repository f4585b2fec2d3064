"""A checkpoint whose zip is whole but that does not load (a hostile pickle refused by
weights_only, or valid tensors with parts gankit never writes) is set aside as .damaged by
--resume, as a truncated one is (F134-1): it used to stay, be counted as readable by pruning
(which then deleted the last good checkpoint), or be replaced by the new checkpoint of its step.
A reader (eval, report) renames nothing."""
from __future__ import annotations

import os
import shutil
import warnings

import pytest
import torch

from gankit.runfolder import RunFolder
from gankit.train.run import Run


class _Hostile:
    def __reduce__(self):      # weights_only refuses it: never run, whatever it would do
        return (os.getpid, ())


def _copy(tiny_run_dir, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)      # checkpoints step 20 and 30 (keep_checkpoints = 2)
    return run, run / "checkpoints"


def _resume_to_40(run) -> str:
    """--resume to step 40 (checkpoint_every 10): the warnings' text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Run.open(run, ["train.steps=40"], write=True).train().close()
    return "\n".join(str(w.message) for w in caught)


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_resume_sets_aside_a_hostile_pickle_and_pruning_keeps_the_last_good_checkpoint(tiny_run_dir, tmp_path):
    run, ck = _copy(tiny_run_dir, tmp_path)
    torch.save({"step": 35, "models": _Hostile()}, ck / "step_00000035.pt")
    hostile = (ck / "step_00000035.pt").read_bytes()
    err = _resume_to_40(run)
    assert "step_00000035.pt is damaged (UnpicklingError" in err and "renamed to step_00000035.pt.damaged" in err
    # 30 (the one resumed from) is kept: the unloadable 35 is not counted as readable
    assert _names(ck) == ["step_00000030.pt", "step_00000035.pt.damaged", "step_00000040.pt"]
    assert (ck / "step_00000035.pt.damaged").read_bytes() == hostile      # kept as it was


def test_resume_sets_aside_a_checkpoint_with_a_bad_part_instead_of_writing_over_it(tiny_run_dir, tmp_path):
    run, ck = _copy(tiny_run_dir, tmp_path)
    state = torch.load(ck / "step_00000030.pt", weights_only=True)
    state["step"], state["models"]["G"] = 40, [1, 2]
    torch.save(state, ck / "step_00000040.pt")
    bad = (ck / "step_00000040.pt").read_bytes()
    err = _resume_to_40(run)
    assert "step_00000040.pt is damaged (ValueError: models.G is list" in err
    assert _names(ck) == ["step_00000030.pt", "step_00000040.pt", "step_00000040.pt.damaged"]
    assert (ck / "step_00000040.pt.damaged").read_bytes() == bad
    assert RunFolder(run).load_checkpoint()[0]["step"] == 40      # the new one loads


def test_a_reader_skips_an_unloadable_checkpoint_and_renames_nothing(tiny_run_dir, tmp_path):
    run, ck = _copy(tiny_run_dir, tmp_path)
    torch.save({"step": 35, "models": _Hostile()}, ck / "step_00000035.pt")
    before = _names(ck)
    folder = RunFolder(run)
    with pytest.warns(UserWarning, match="skipped unreadable step_00000035.pt"):
        state, path = folder.load_checkpoint()
    assert path.name == "step_00000030.pt" and not folder.locked
    assert folder._unloadable == {}      # nothing noted to set aside later either
    assert _names(ck) == before
