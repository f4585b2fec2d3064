"""How a run records where its data (and its Inception weights) are: absolute, ~ expanded and
`..` folded, so one file has one name; a relative place that config.toml records (gankit before
2026-12-04) is refused, not read against whatever folder the command runs in."""
import numpy as np
import pytest

from gankit import config as C
from gankit.cli import main
from gankit.runfolder import RunFolder


def _points(path, seed=0, shift=0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, (np.random.default_rng(seed).normal(size=(300, 2)) + shift).astype(np.float32))
    return path


def _train(run, tiny, *sets):
    args = [a for kv in tiny + ["data.name='points'", "train.steps=10", "eval.metrics=['energy']", *sets]
            for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(run), *args]) == 0
    return run


def test_a_data_path_with_dotdot_is_recorded_folded(tmp_path, monkeypatch, tiny):
    """`../data/p.npy` from scratch/ was recorded `/x/scratch/../data/p.npy`: renaming scratch lost
    the data, and compare called the same file two data sets."""
    data = _points(tmp_path / "data" / "p.npy")
    (tmp_path / "scratch").mkdir()
    monkeypatch.chdir(tmp_path / "scratch")
    run = _train(tmp_path / "r1", tiny, "data.path='../data/p.npy'")
    assert C.load(RunFolder(run).read_config()).data.params["path"] == str(data)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scratch").rename(tmp_path / "scratch_old")
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.npy")]) == 0


def test_a_symlinked_data_folder_is_recorded_as_named(tmp_path, monkeypatch):
    from gankit.data import absolute_data_location
    _points(tmp_path / "real" / "p.npy")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "real")
    cfg = C.load("ring", ["data.name=points", "data.path=../link/./p.npy"])
    absolute_data_location(cfg)
    assert cfg.data.params["path"] == str(tmp_path / "link" / "p.npy")


@pytest.fixture
def old_run(tmp_path, monkeypatch, tiny):
    """A run whose config.toml records data.path relative, as gankit before 2026-12-04 wrote it,
    and a current folder holding another points file of that name."""
    data = _points(tmp_path / "data" / "pts.npy")
    run = _train(tmp_path / "old", tiny, f"data.path='{data}'")
    toml = run / "config.toml"
    toml.write_text(toml.read_text().replace(f'"{data}"', '"pts.npy"'))
    assert C.load(RunFolder(run).read_config()).data.params["path"] == "pts.npy"
    _points(tmp_path / "elsewhere" / "pts.npy", seed=5, shift=20.0)
    monkeypatch.chdir(tmp_path / "elsewhere")
    return run, data


def test_a_relative_data_path_read_from_config_toml_is_refused(old_run, tmp_path, capsys):
    run, data = old_run
    said = (f"{run / 'config.toml'} records data.path 'pts.npy' relative (an older gankit); give its place: "
            "--set data.path=ABSOLUTE (or edit config.toml)")
    before = (run / "config.toml").read_text()
    for cmd in (["eval", str(run), "--no-record", "--metrics", "energy"],
                ["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.npy")],
                ["report", str(run)],
                ["train", "--resume", "--out", str(run), "--set", "train.steps=12"]):
        assert main(cmd) == 2, cmd
        assert said in capsys.readouterr().err, cmd
    assert (run / "config.toml").read_text() == before       # the resume recorded nothing
    from gankit.train.run import Run
    with pytest.raises(C.ConfigError, match="relative"):
        Run.open(run)
    # the place given now, absolute or relative to here (the user's own word): taken, and recorded
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.npy"),
                 "--set", f"data.path={data}"]) == 0
    assert main(["report", str(run), "--set", "data.path=../data/pts.npy"]) == 0
    # the recorded word given now is the user's too (report drew the decoy then, saying so)
    assert main(["report", str(run), "--set", "data.path=pts.npy"]) == 0
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=12",
                 "--set", "data.path=../data/pts.npy"]) == 0
    assert C.load(RunFolder(run).read_config()).data.params["path"] == str(data)


def test_inception_weights_are_recorded_absolute_and_so_are_an_eval_records_settings(tmp_path, monkeypatch, tiny):
    """eval.inception_weights was recorded as given (relative, ~ unexpanded): from another folder
    the run's Inception file was not found, and two names of one file were two eval settings."""
    from gankit.data import absolute_data_location
    from gankit.eval_records import eval_settings
    from gankit.train.run import Run
    data = _points(tmp_path / "data" / "p.npy")
    home = tmp_path / "home"
    (home / "w").mkdir(parents=True)
    (home / "w" / "inc.pt").write_text("x")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home / "w")
    run = _train(tmp_path / "r", tiny, f"data.path='{data}'", "eval.inception_weights='../w/inc.pt'")
    full = str(home / "w" / "inc.pt")
    assert C.load(RunFolder(run).read_config()).eval.inception_weights == full
    monkeypatch.chdir(tmp_path)
    evals = [r for r in RunFolder(run).records() if r.get("kind") == "eval"]
    assert evals and evals[-1]["settings"]["inception_weights"] == full      # the final evaluation's
    r = Run.open(run)
    try:
        assert eval_settings(r, ["energy"])["inception_weights"] == full
    finally:
        r.close()
    # a resume's new place, given with ~: recorded expanded
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=12",
                 "--set", "eval.inception_weights=~/w/inc.pt"]) == 0
    assert C.load(RunFolder(run).read_config()).eval.inception_weights == full
    # one an older gankit recorded relative is left as read when the run is opened (not given now)
    cfg = C.load("ring", ["eval.inception_weights=inc.pt"])
    absolute_data_location(cfg, ["train.steps=3"])
    assert cfg.eval.inception_weights == "inc.pt"
    absolute_data_location(cfg, ["eval.inception_weights=inc.pt"])
    assert cfg.eval.inception_weights == str(tmp_path / "inc.pt")


def test_an_evaluations_own_inception_weights_are_recorded_absolute(tmp_path, monkeypatch):
    """api.evaluate(overrides=["eval.inception_weights=../w.pt"]) recorded the path as typed."""
    import json

    from gankit import api
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    api.train("ring-vanilla", out="run", overrides=["train.steps=4", "train.progress=false",
                                                    'eval.metrics=["modes"]', "eval.n_samples=200"],
              report=False)
    api.evaluate("run", ["modes"], overrides=["eval.inception_weights=../w.pt"])
    evals = [json.loads(x) for x in (tmp_path / "sub" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["settings"].get("inception_weights") for r in evals if r.get("kind") == "eval"][-1] == \
        str(tmp_path / "w.pt")


def test_a_folder_made_by_training_then_moved_is_not_made_again_by_a_record(tmp_path, tiny):
    """The folder did not exist when its RunFolder was built (training made it): once moved, an
    evaluation's record made the old path again, holding only a metrics.jsonl."""
    from gankit.runfolder import RunFolderError
    folder = RunFolder(tmp_path / "nb")
    folder.claim_new()
    folder.unlock()
    (tmp_path / "nb").rename(tmp_path / "moved")
    with pytest.raises(RunFolderError, match="is gone"):
        folder.append({"step": 1, "kind": "eval"})
    assert not (tmp_path / "nb").exists()

