"""Audit F147: `gankit report` loaded a run's newest checkpoint twice, once for its config as
trained (report.inputs.run_config) and once for its progress (report.progress.run_progress); the
report now reads it once and hands it on, and each reader still sees the file it picked itself."""
from __future__ import annotations

import shutil
import warnings
from collections import Counter

import pytest
import torch

from gankit.runfolder import RunFolder
from gankit.runfolder.errors import RunFolderError


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_the_report_loads_the_newest_checkpoint_once(tiny_run_dir, tmp_path, loads):
    from gankit.report import write_report
    from gankit.report.progress import run_progress
    from gankit.report.snapshots import Snapshots
    run = _copy(tiny_run_dir, tmp_path / "run")
    folder = RunFolder(run)
    newest = folder.checkpoints()[-1][1]
    assert newest.name == "step_00000030.pt"
    done = run_progress(folder, folder.records(), Snapshots(folder).whole_steps())     # read on its own
    loads.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no checkpoint skipped: none said
        page = write_report(run).read_text(encoding="utf-8")
    assert loads == Counter({str(newest): 1}), loads
    assert done.step == 30 and f"step {done.step} of 30" in page      # the step the progress reads alone


def test_a_newer_file_that_loads_but_fails_its_checks_is_still_the_config_read(tiny_run_dir, tmp_path):
    """The progress takes the newest intact checkpoint (step 30), the config as trained the newest
    file that loads (step 90 here, of another seed): refused in the words run_config says alone."""
    from gankit.report import report_context
    from gankit.report.inputs import run_config
    run = _copy(tiny_run_dir, tmp_path / "run")
    from gankit.identity import model_identity
    state = torch.load(RunFolder(run).checkpoints()[-1][1], weights_only=True)
    other = {**state["config"], "seed": 7}
    torch.save({**state, "step": 90, "models": [1, 2, 3], "config": other, "identity": model_identity(other)},
               run / "checkpoints" / "step_00000090.pt")
    with pytest.raises(RunFolderError) as alone:
        run_config(RunFolder(run))
    assert "step_00000090.pt" in str(alone.value) and "seed" in str(alone.value), str(alone.value)
    with pytest.warns(UserWarning, match=r"skipped unreadable step_00000090\.pt .*; using step_00000030\.pt"):
        with pytest.raises(RunFolderError) as got:
            report_context(run)
    assert str(got.value) == str(alone.value)
