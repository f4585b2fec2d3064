"""A folder holding the user's own config.toml (a run's copied and edited) is no gankit run:
`train --out` there, `train FOLDER/config.toml --out FOLDER` and `train --resume --out FOLDER`
trained into it and wrote over the file (its comments and values gone)."""
from __future__ import annotations

import shutil

from gankit import config as C
from gankit.cli import main
from gankit.runfolder import LOCK_NAME, RunFolder


def _users_folder(tmp_path, tiny):
    """A folder with a config.toml as a user keeps one: a run's, edited, with comments."""
    folder = tmp_path / "mine"
    folder.mkdir()
    text = C.dumps_toml(C.load("ring-vanilla", tiny)).replace("seed = 0", "seed = 7  # the lucky one", 1)
    (folder / "config.toml").write_text("# my experiment, edited by hand\n" + text)
    return folder, (folder / "config.toml").read_bytes()


def _sets(tiny):
    return [a for kv in tiny for a in ("--set", kv)]


def test_a_new_run_into_a_folder_holding_the_users_config_is_refused(tmp_path, tiny, capsys):
    folder, before = _users_folder(tmp_path, tiny)
    assert main(["train", "ring-vanilla", "--out", str(folder), *_sets(tiny)]) == 1
    err = capsys.readouterr().err
    assert "not a gankit run (config.toml)" in err and "never writes over them" in err, err
    assert (folder / "config.toml").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml"]


def test_training_a_folders_own_config_into_it_is_refused(tmp_path, tiny, capsys, monkeypatch):
    folder, before = _users_folder(tmp_path, tiny)
    for given in (str(folder / "config.toml"), "config.toml"):     # also from inside the folder
        monkeypatch.chdir(folder if given == "config.toml" else tmp_path)
        assert main(["train", given, "--out", str(folder)]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{given} is the config.toml of --out {folder}" in err, err
        assert "the file can stay where it is" in err and f"gankit train {given} --out NEW" in err, err
        assert (folder / "config.toml").read_bytes() == before
        assert sorted(p.name for p in folder.iterdir()) == ["config.toml"]


def test_a_gankit_runs_own_config_given_to_train_into_it_is_refused(tiny_run_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    before = (run / "config.toml").read_bytes()
    assert main(["train", str(run / "config.toml"), "--out", str(run)]) == 1
    assert "is the config.toml of --out" in capsys.readouterr().err
    assert (run / "config.toml").read_bytes() == before


def test_resume_of_a_folder_holding_only_the_users_config_is_refused(tmp_path, tiny, capsys):
    folder, before = _users_folder(tmp_path, tiny)
    assert main(["train", "--resume", "--out", str(folder), "--set", "train.steps=40"]) == 1
    err = capsys.readouterr().err
    assert "holds a config.toml but no run" in err and f"gankit train {folder / 'config.toml'} --out NEW" in err, err
    assert (folder / "config.toml").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml"]     # no lock file made either


def test_a_run_from_before_the_lock_file_is_told_by_what_training_wrote(tiny_run_dir, tmp_path):
    run = tmp_path / "old"
    shutil.copytree(tiny_run_dir, run)
    (run / LOCK_NAME).unlink()
    assert RunFolder(run).is_gankit_run()                     # records, checkpoints, snapshots
    for name in ("metrics.jsonl", "checkpoints", "samples"):
        shutil.rmtree(run / name) if (run / name).is_dir() else (run / name).unlink()
    assert not RunFolder(run).is_gankit_run()                 # its config.toml alone
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_00000010.pt.damaged").write_bytes(b"cut")
    assert RunFolder(run).is_gankit_run()
