"""Audit F142: `gankit compare` loaded each run's newest checkpoint three times (its progress,
its config as trained, the data it trained on: most of compare's time on 20 runs); and a folder
of runs, or a path that does not exist, was refused as "holds other files" or "create one"."""
from __future__ import annotations

import shutil
from collections import Counter

import pytest
import torch

from gankit.runfolder import RunFolder
from gankit.runfolder.errors import RunFolderError


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _expected(folder: RunFolder):
    """What each reader gives read on its own (each loading the checkpoint it picks)."""
    from gankit import config as C
    from gankit.data import trained_on
    from gankit.report.inputs import checkpoint_differences
    from gankit.report.progress import run_progress
    from gankit.report.snapshots import Snapshots
    done = run_progress(folder, folder.records(), Snapshots(folder).newest_whole())
    cfg = C.load(folder.read_config(), [])
    return done, checkpoint_differences(folder, C.to_dict(cfg)), trained_on(folder)


# ------------------------------------------------------------------ 1: one load of each run's checkpoint
def test_compare_loads_each_runs_checkpoint_once_and_says_the_same(tiny_run_dir, tmp_path, loads):
    from gankit.report.compare import compare_data
    runs = [_copy(tiny_run_dir, tmp_path / n) for n in ("a", "b")]
    # b's config.toml edited since training (data.radius defines the run): its numbers are not ranked
    cfg = runs[1] / "config.toml"
    text = cfg.read_text()
    assert "radius = 1.0" in text
    cfg.write_text(text.replace("radius = 1.0", "radius = 3.0"))
    expected = [_expected(RunFolder(r)) for r in runs]
    assert expected[1][1] == ["data.radius"] and expected[0][1] is None     # the readers see the edit
    loads.clear()
    data = compare_data(runs, curves=False)
    newest = [str(RunFolder(r).checkpoints()[-1][1]) for r in runs]
    assert loads == Counter(newest), loads          # one load of each run's newest checkpoint
    for run, (done, _, _) in zip(data["runs"], expected):
        assert (run["step"], run["train_time_s"], run["train_time_at_least"]) == (done.step, done.seconds, done.at_least)
    assert data["note"] == (f"b: its config.toml differs from its checkpoints in data.radius (edited by hand? "
                            f"gankit eval {runs[1]} says how to put it back), so none of its values is marked")


def _odd_newest(run, names):
    """A step 90 file that loads but is no checkpoint, recording other class folders."""
    state = torch.load(RunFolder(run).checkpoints()[-1][1], weights_only=True)
    torch.save({**state, "step": 90, "models": [1, 2, 3], "class_names": names},
               run / "checkpoints" / "step_00000090.pt")


def test_a_newer_file_that_loads_but_fails_its_checks_is_still_the_one_read(tiny_run_dir, tmp_path):
    """The progress takes the newest intact checkpoint (step 30); the config as trained and the
    data trained on are read from the newest file that loads (step 90 here), as before: the state
    handed on is used only where it is that same file."""
    from gankit.data import trained_on
    from gankit.report.compare import compare_data
    from gankit.report.inputs import checkpoint_differences, newest_checkpoint
    from gankit.report.progress import newest_intact_checkpoint
    runs = [_copy(tiny_run_dir, tmp_path / n) for n in ("a", "b")]
    _odd_newest(runs[0], ["x", "y"])
    _odd_newest(runs[1], ["x", "z"])
    folder = RunFolder(runs[0])
    with pytest.warns(UserWarning, match="skipped unreadable step_00000090.pt"):
        intact = newest_intact_checkpoint(folder)
    assert intact[1].name == "step_00000030.pt"
    found = newest_checkpoint(folder, intact)
    assert found[1].name == "step_00000090.pt" and found[0]["class_names"] == ["x", "y"]
    assert trained_on(folder, found) == trained_on(folder) == {"class_names": ["x", "y"]}
    config = {**found[0]["config"], "seed": 7}
    assert checkpoint_differences(folder, config, found) == checkpoint_differences(folder, config) == ["seed"]
    with pytest.warns(UserWarning, match="skipped unreadable step_00000090.pt"):
        data = compare_data(runs, curves=False)
    assert [r["step"] for r in data["runs"]] == [30, 30]
    assert "the runs differ in class folders (a: x, y; b: x, z)" in data["note"], data["note"]


def test_the_state_handed_on_is_that_of_the_newest_file(tiny_run_dir, tmp_path, loads):
    from gankit.data import trained_on
    from gankit.report.inputs import newest_checkpoint
    from gankit.report.progress import newest_intact_checkpoint, run_progress
    folder = RunFolder(_copy(tiny_run_dir, tmp_path / "run"))
    intact = newest_intact_checkpoint(folder)
    loads.clear()
    found = newest_checkpoint(folder, intact)
    assert found[0] is intact[2] and found[1] == folder.checkpoints()[-1][1]
    assert trained_on(folder, found) == trained_on(folder, None) == {}
    assert run_progress(folder, [], (), intact) == run_progress(folder, [], ())
    assert loads == Counter({str(found[1]): 1}), loads        # run_progress's own read alone


# ------------------------------------------------------------------ 2: what the path is instead
def test_a_folder_of_runs_names_them_and_the_commands(tiny_run_dir, tmp_path):
    runs = tmp_path / "runs"
    for n in ("d", "b", "a", "c"):
        _copy(tiny_run_dir, runs / n)
    (runs / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError) as e:
        RunFolder(runs).require_run()
    said = str(e.value)
    assert f"{runs} is not a run folder" in said and "holds run folders (a, b, c, ...)" in said, said
    assert f"({runs / 'a'})" in said and f"gankit compare {runs}/*" in said, said
    assert "other files" not in said and "\n" not in said


def test_a_folder_of_other_files_and_an_empty_one_keep_their_words(tmp_path):
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "sub" / "x.txt").write_text("x")
    with pytest.raises(RunFolderError, match="holds other files; give a run folder, or train one"):
        RunFolder(other).require_run()
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match=r"is not a run folder \(no config.toml\); create one with"):
        RunFolder(tmp_path / "empty").require_run()


@pytest.mark.parametrize("argv", [["report", "{p}"], ["eval", "{p}"], ["sample", "{p}", "--out", "{t}/s.npy"],
                                  ["compare", "{p}"], ["train", "--resume", "--out", "{p}"]],
                         ids=["report", "eval", "sample", "compare", "resume"])
def test_a_path_that_does_not_exist_is_said_so(tmp_path, capsys, argv):
    from gankit.cli import main
    missing = tmp_path / "nonexist"
    assert main([a.format(p=missing, t=tmp_path) for a in argv]) == 1
    err = capsys.readouterr().err
    assert f"{missing} is not a run folder: it does not exist; check the path, or create one with gankit " \
           f"train PRESET --out {missing}" in err, err          # --resume's offer of a new run kept
    assert "(no config.toml)" not in err and "Traceback" not in err and not missing.exists()
