"""A run's data may move: the run folder records where they were (absolute), says how to give
their new place when they are gone, and opens with --set data.path=NEW (or an edited
config.toml) without losing its checkpoints."""
import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.identity import model_identity
from gankit.runfolder import RunFolder


@pytest.fixture
def points_run(tmp_path, monkeypatch, tiny):
    """A tiny run on a points file given by a relative path; returns (run folder, data file)."""
    data = tmp_path / "mine" / "p.npy"
    data.parent.mkdir()
    np.save(data, np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    monkeypatch.chdir(data.parent)
    run = tmp_path / "run"
    sets = [a for kv in tiny + ["data.name='points'", "data.path='p.npy'", "train.steps=10"]
            for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(run), *sets]) == 0
    monkeypatch.chdir(tmp_path)                      # later commands run from elsewhere
    return run, data


def test_a_relative_data_path_is_recorded_absolute_and_opens_from_any_folder(points_run, tmp_path):
    run, data = points_run
    assert C.load(RunFolder(run).read_config()).data.params["path"] == str(data)
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (5, 2)


def test_moved_data_are_named_with_the_fix_and_found_again(points_run, tmp_path, capsys):
    run, data = points_run
    moved = tmp_path / "elsewhere.npy"
    data.rename(moved)
    out = str(tmp_path / "s.npy")
    assert main(["sample", str(run), "-n", "5", "--out", out]) == 2
    err = capsys.readouterr().err
    assert str(data) in err and "--set data.path=NEW" in err and "config.toml" in err
    # a --set place that is not there either: named as given, not as what the run trained on
    assert main(["sample", str(run), "-n", "5", "--out", out, "--set", f"data.path={tmp_path / 'nowhere.npy'}"]) == 2
    err = capsys.readouterr().err
    assert "nowhere.npy" in err and "was trained on" not in err
    where = ["--set", f"data.path={moved}"]
    assert main(["sample", str(run), "-n", "5", "--out", out, *where]) == 0
    assert main(["eval", str(run), "--no-record", "--metrics", "mmd", "--set", "eval.n_samples=100", *where]) == 0
    assert main(["report", str(run), *where]) == 0
    # another setting is not the data's place: refused, with where such settings change
    assert main(["sample", str(run), "-n", "5", "--out", out, "--set", "train.steps=3"]) == 2
    assert "train --resume" in capsys.readouterr().err
    # continuing the run records the new place (given relative: recorded absolute); so does
    # editing config.toml by hand
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=12",
                 "--set", "data.path=elsewhere.npy"]) == 0
    assert C.load(RunFolder(run).read_config()).data.params["path"] == str(moved)
    moved.rename(data)
    toml = run / "config.toml"
    toml.write_text(toml.read_text().replace(str(moved), str(data)))
    assert main(["sample", str(run), "-n", "5", "--out", out]) == 0


def test_checkpoints_hashed_with_the_data_location_still_open_after_a_move(points_run, tmp_path):
    """Checkpoints written before the location left the model identity carry the old hash."""
    run, data = points_run
    for _, path in RunFolder(run).checkpoints():
        state = torch.load(path, weights_only=True)
        state["identity"] = model_identity(state["config"], legacy=True)
        torch.save(state, path)
    moved = tmp_path / "elsewhere.npy"
    data.rename(moved)
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npy"),
                 "--set", f"data.path={moved}"]) == 0


def test_the_model_identity_leaves_out_where_the_data_are_but_not_what_they_are():
    base = C.load("ring-vanilla", ["data.name='points'", "data.path='/a/p.npy'"])
    moved = C.load("ring-vanilla", ["data.name='points'", "data.path='/b/q.npy'"])
    other = C.load("ring-vanilla", ["data.name='points'", "data.path='/a/p.npy'", "data.standardize='none'"])
    assert model_identity(base) == model_identity(moved)
    assert model_identity(base, legacy=True) != model_identity(moved, legacy=True)
    assert model_identity(base) != model_identity(other)


def test_a_checkpoint_of_other_data_is_still_refused(points_run, tmp_path, capsys):
    run, data = points_run
    ck = RunFolder(run).checkpoints()[-1][1]
    state = torch.load(ck, weights_only=True)
    state["config"]["data"]["standardize"] = "none"       # a points file's default is global
    state["identity"] = model_identity(state["config"], legacy=True)
    torch.save(state, ck)
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 1
    assert "belongs to another run" in capsys.readouterr().err


def test_a_data_path_under_home_is_recorded_expanded(tmp_path, monkeypatch, tiny):
    """~ is the home of the one who trains: recorded as typed, another HOME (another user, a
    job scheduler) would look for the data in the wrong place."""
    from gankit.data import absolute_data_location
    home, other = tmp_path / "home", tmp_path / "other"
    home.mkdir(), other.mkdir()
    np.save(home / "p.npy", np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    monkeypatch.setenv("HOME", str(home))
    run = tmp_path / "run"
    sets = [a for kv in tiny + ["data.name='points'", "data.path='~/p.npy'", "train.steps=10",
                                   "eval.metrics=['energy']"] for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(run), *sets]) == 0
    assert C.load(RunFolder(run).read_config()).data.params["path"] == str(home / "p.npy")
    monkeypatch.setenv("HOME", str(other))
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.npy")]) == 0
    (home / "p.npy").rename(other / "p.npy")                 # moved: its new place given with ~
    assert main(["train", "--resume", "--out", str(run), "--set", "data.path=~/p.npy",
                 "--set", "train.steps=12"]) == 0
    assert C.load(RunFolder(run).read_config()).data.params["path"] == str(other / "p.npy")
    cfg = C.load("ring", ["data.name=points", "data.path=~/q.npy"])
    cfg.data.params["root"] = "~/images"                     # data.root of an image folder
    absolute_data_location(cfg)
    assert (cfg.data.params["path"], cfg.data.params["root"]) == (str(other / "q.npy"), str(other / "images"))


def test_images_added_to_the_folder_since_training_are_refused_not_held_out(tmp_path):
    """The held-out split is the last tenth of a fixed permutation of the folder's images: 10 images
    added made 11 of 15 held-out images ones the SS-GAN had trained on, and `classify` reported them
    as held-out accuracy."""
    import shutil

    from test_families_inputs import DC, FAST, _folder

    from gankit.train.run import Run
    root = tmp_path / "imgs"
    for k, name in enumerate(("cat", "dog")):
        _folder(root / name, 12, 8, seed=k)
    sets = FAST + DC + ["data.name=image-folder", f'data.path="{root}"', "data.channels=3"]
    Run.create(C.load("mnist-dcgan", sets), tmp_path / "r").train().close()
    Run.open(tmp_path / "r").close()                                   # the same data: opens
    shutil.copy(root / "cat" / "im00.png", root / "cat" / "new.png")
    with pytest.raises(C.ConfigError, match=r"holds 25 images now, 24 when this run was trained; its held-out split \(2 "):
        Run.open(tmp_path / "r")
    (root / "cat" / "new.png").unlink()
    Run.open(tmp_path / "r", write=True).close()                      # as they were: opens again
    small = tmp_path / "small"                     # too few to hold any out: trained on all 18
    for k, name in enumerate(("cat", "dog")):
        _folder(small / name, 9, 8, seed=k)
    Run.create(C.load("mnist-dcgan", sets[:-2] + [f'data.path="{small}"', "data.channels=3"]),
               tmp_path / "s").train().close()
    _folder(small / "cat2", 6, 8, seed=5)
    with pytest.raises(C.ConfigError, match="holds 24 images now, 18 when this run was trained; it trained on all"):
        Run.open(tmp_path / "s")
