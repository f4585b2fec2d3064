"""gankit sample --out onto what the run reads is refused before any work, the file kept: the run's
data file (however named: another spelling, a symbolic or hard link, config.toml's place after
--set data.path=NEW), a file inside its data folder, the run folder's own files; and an unknown
format lists only those the run's data take."""
import os

import numpy as np
import pytest

from gankit.cli import main
from gankit.train.run import Run

TEXT = ["data.name='textfile'", "data.level='char'", "data.max_len=5", "data.test_fraction=0.25", "noise.dim=6",
        "generator.hidden=8", "generator.embed_dim=8", "discriminator.hidden=8", "discriminator.embed_dim=8",
        "objective.pretrain_steps=1", "objective.d_pretrain_steps=1", "train.steps=2", "train.batch_size=4",
        "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100", "train.n_fixed=4",
        "train.progress=false", "train.live_report=false", "eval.n_samples=8", "eval.metrics=['novelty']"]
POINTS = ["data.name='points'", "train.steps=2", "train.batch_size=16", "train.log_every=1", "train.sample_every=100",
          "train.checkpoint_every=100", "train.n_fixed=16", "train.progress=false", "train.live_report=false",
          "generator.hidden=[8]", "discriminator.hidden=[8]", "eval.n_samples=16"]


def _sets(items):
    return [a for kv in items for a in ("--set", kv)]


def _error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("text")
    corpus = d / "corpus.txt"
    corpus.write_text("".join(f"{w}\n" for w in ["abcd", "bcda", "cdab", "dabc", "acbd", "bdca", "dcba", "cadb"] * 3))
    assert main(["train", "words", "--out", str(d / "run"), *_sets(TEXT + [f"data.path='{corpus}'"])]) == 0
    return d


@pytest.fixture(scope="module")
def points_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("points")
    np.save(d / "pts.npy", np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32))
    np.savetxt(d / "pts.csv", np.load(d / "pts.npy"), delimiter=",")
    for f in ("npy", "csv"):
        assert main(["train", "ring", "--out", str(d / f"run_{f}"), *_sets(POINTS + [f"data.path='{d}/pts.{f}'"])]) == 0
    return d


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    from test_families_inputs import DC, FAST, _folder
    d = tmp_path_factory.mktemp("images")
    _folder(d / "imgs", 12, 8)
    assert main(["train", "mnist-dcgan", "--out", str(d / "run"),
                 *_sets(FAST + DC + ["data.name=image-folder", f'data.path="{d / "imgs"}"', "data.channels=3"])]) == 0
    return d


@pytest.fixture
def no_open(monkeypatch):
    """Run.open fails the test: a refusal comes before the run is opened (its data read)."""
    def opened(*a, **k):
        raise AssertionError("the run was opened before the target was checked")
    monkeypatch.setattr(Run, "open", opened)


def test_samples_beside_the_data_and_in_the_run_folder_are_written(text_run, capsys, monkeypatch):
    monkeypatch.chdir(text_run)
    for out in ("samples.txt", "run/s.txt"):
        assert main(["sample", "run", "-n", "3", "--out", out]) == 0
        assert len((text_run / out).read_text().splitlines()) == 3


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_the_text_runs_corpus_is_kept(text_run, capsys, monkeypatch, spelling):
    monkeypatch.chdir(text_run)
    corpus = text_run / "corpus.txt"
    before = corpus.read_bytes()
    out = {"same": "corpus.txt", "dotted": "./x/../corpus.txt", "symlink": "sym.txt", "hardlink": "hard.txt"}[spelling]
    if spelling == "symlink" and not os.path.lexists(out):
        os.symlink("corpus.txt", out)
    if spelling == "hardlink" and not os.path.lexists(out):
        os.link("corpus.txt", out)
    try:
        code = main(["sample", "run", "-n", "5", "--out", out])
        assert corpus.read_bytes() == before
    finally:        # the module's other tests use the run
        corpus.write_bytes(before)
    assert code == 2
    line = _error(capsys)
    assert f"sample --out {out} " in line and f"the run's data (data.path = '{corpus}')" in line, line
    assert line.endswith("write the samples elsewhere, e.g. --out samples.txt"), line
    assert ("hard link" in line) == (spelling == "hardlink"), line


def test_config_tomls_place_is_kept_when_set_names_another(text_run, capsys, monkeypatch):
    """A later command without --set reads config.toml's place: samples there would be its data."""
    monkeypatch.chdir(text_run)
    (text_run / "copy.txt").write_bytes((text_run / "corpus.txt").read_bytes())
    before = (text_run / "corpus.txt").read_bytes()
    assert main(["sample", "run", "-n", "5", "--out", "corpus.txt", "--set", "data.path='copy.txt'"]) == 2
    assert "the run's data (data.path = " in _error(capsys)
    assert main(["sample", "run", "-n", "5", "--out", "copy.txt", "--set", "data.path='copy.txt'"]) == 2
    assert "(data.path = 'copy.txt')" in _error(capsys)
    assert (text_run / "corpus.txt").read_bytes() == before


@pytest.mark.parametrize("f", ["npy", "csv"])
def test_the_points_file_is_kept(points_run, capsys, monkeypatch, no_open, f):
    monkeypatch.chdir(points_run)
    before = (points_run / f"pts.{f}").read_bytes()
    assert main(["sample", f"run_{f}", "-n", "5", "--out", f"pts.{f}"]) == 2
    line = _error(capsys)
    assert f"the run's data (data.path = '{points_run / f'pts.{f}'}')" in line, line
    assert line.endswith(f"e.g. --out samples.{f}"), line
    assert (points_run / f"pts.{f}").read_bytes() == before


def test_a_plot_inside_the_image_folder_is_refused(image_run, capsys, monkeypatch, no_open):
    """Written among the training images, the next training or eval would read it as one."""
    imgs = image_run / "imgs"
    monkeypatch.chdir(imgs)      # samples.png here would be inside too: the example is beside the folder
    names = sorted(os.listdir(imgs))
    assert main(["sample", str(image_run / "run"), "-n", "4", "--out", "new.png"]) == 2
    line = _error(capsys)
    assert f"sample --out new.png lies inside the run's data (data.path = '{imgs}')" in line, line
    assert "would read the samples as data" in line and line.endswith(f"--out {image_run / 'samples.png'}"), line
    assert sorted(os.listdir(imgs)) == names


def test_the_run_folders_own_files_are_kept(text_run, capsys, monkeypatch, no_open):
    monkeypatch.chdir(text_run)
    if not os.path.lexists("cfg.txt"):
        os.link("run/config.toml", "cfg.txt")
    before = (text_run / "run" / "config.toml").read_bytes()
    assert main(["sample", "run", "-n", "5", "--out", "cfg.txt"]) == 2
    assert "is a hard link to the run folder's own config.toml" in _error(capsys)
    assert main(["sample", "run", "-n", "5", "--out", "run/samples/x.npy"]) == 2
    assert "lies inside the run folder's own samples" in _error(capsys)
    assert (text_run / "run" / "config.toml").read_bytes() == before
    assert not (text_run / "run" / "samples" / "x.npy").exists()


def test_an_unknown_format_lists_those_the_runs_data_take(text_run, points_run, capsys, no_open):
    assert main(["sample", str(text_run / "run"), "--out", str(text_run / "x.json")]) == 2
    assert _error(capsys).endswith("unknown format '.json'; use .txt, .npy, .csv")
    assert main(["sample", str(points_run / "run_npy"), "--out", str(points_run / "x.json")]) == 2
    assert _error(capsys).endswith("unknown format '.json'; use .npy, .csv, .png, .pdf, .svg")
