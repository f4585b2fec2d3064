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


@pytest.mark.parametrize("spelling", ["same", "dotted", "hardlink"])
def test_the_text_runs_corpus_is_kept(text_run, capsys, monkeypatch, spelling):
    monkeypatch.chdir(text_run)
    corpus = text_run / "corpus.txt"
    before = corpus.read_bytes()
    out = {"same": "corpus.txt", "dotted": "./x/../corpus.txt", "hardlink": "hard.txt"}[spelling]
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


def test_a_folder_given_as_out_is_told_a_file_name_in_a_format_of_the_runs_data(text_run, points_run, capsys,
                                                                                  no_open):
    """The suggested name writes what the run's samples are: a text run's as text, not token ids."""
    for run, folder, name in ((text_run / "run", text_run / "d.txt", "samples.txt"),
                              (points_run / "run_npy", points_run / "d.txt", "samples.npy")):
        folder.mkdir()
        assert main(["sample", str(run), "-n", "2", "--out", str(folder)]) == 2
        assert _error(capsys).endswith(f"is a folder; give a file name, e.g. {folder / name}")


@pytest.fixture(scope="module")
def idx_run(tmp_path_factory):
    """MNIST IDX files in the project folder (data.root = .), the run folder below them."""
    from test_families_inputs import DC, FAST
    from test_idx_test_files import _idx
    d = _idx(tmp_path_factory.mktemp("idx") / "project", n=24, nt=8)
    cwd = os.getcwd()
    os.chdir(d)
    try:
        assert main(["train", "mnist-dcgan", "--out", "runs/m1",
                     *_sets(FAST + DC + ["data.name=mnist", "data.root=."])]) == 0
    finally:
        os.chdir(cwd)
    return d


def test_samples_beside_the_idx_files_and_in_the_run_folder_are_written(idx_run, monkeypatch):
    """Only the train-* / t10k-* files are read in an IDX root: other files there are no data."""
    monkeypatch.chdir(idx_run)
    assert main(["sample", "runs/m1", "-n", "4", "--out", "samples.npy"]) == 0
    assert main(["sample", "runs/m1", "-n", "4", "--out", "runs/m1/grid.png"]) == 0
    assert np.load(idx_run / "samples.npy").shape[0] == 4 and (idx_run / "runs/m1/grid.png").is_file()


def test_a_link_to_an_idx_file_is_refused(idx_run, capsys, monkeypatch, no_open):
    monkeypatch.chdir(idx_run)
    if not os.path.lexists("x.npy"):
        os.link("train-images-idx3-ubyte.gz", "x.npy")
    before = (idx_run / "train-images-idx3-ubyte.gz").read_bytes()
    assert main(["sample", "runs/m1", "-n", "4", "--out", "x.npy"]) == 2
    line = _error(capsys)
    assert f"sample --out x.npy is a hard link to a file in the run's data (data.root = '{idx_run}')" in line, line
    assert line.endswith("e.g. --out samples.npy"), line
    assert (idx_run / "train-images-idx3-ubyte.gz").read_bytes() == before


def test_other_files_inside_the_image_folder_are_written(image_run, monkeypatch):
    """The loader reads only image files (not hidden): samples in .npy or .csv there are no data."""
    imgs = image_run / "imgs"
    monkeypatch.chdir(imgs)
    try:
        for out in ("s.npy", "s.csv", ".thumbs/s.png"):
            assert main(["sample", str(image_run / "run"), "-n", "4", "--out", out]) == 0, out
            assert (imgs / out).is_file()
    finally:        # the module's other tests use the folder as it was
        for out in ("s.npy", "s.csv", ".thumbs/s.png"):
            (imgs / out).unlink(missing_ok=True)
        (imgs / ".thumbs").rmdir()


def test_an_image_in_a_new_sub_folder_of_the_image_folder_is_refused(image_run, capsys, no_open):
    """A new sub-folder of images would be a class of the folder's data."""
    out = image_run / "imgs" / "grids" / "g.png"
    assert main(["sample", str(image_run / "run"), "-n", "4", "--out", str(out)]) == 2
    assert "lies inside the run's data" in _error(capsys)
    assert not out.parent.exists()


def test_a_symbolic_link_to_the_corpus_is_replaced_the_corpus_kept(text_run, capsys, monkeypatch):
    """os.replace replaces the link itself: the file it named is not written."""
    monkeypatch.chdir(text_run)
    corpus = text_run / "corpus.txt"
    before = corpus.read_bytes()
    if not os.path.lexists("sym.txt"):
        os.symlink("corpus.txt", "sym.txt")
    assert main(["sample", "run", "-n", "3", "--out", "sym.txt"]) == 0
    assert corpus.read_bytes() == before
    assert not os.path.islink("sym.txt") and len((text_run / "sym.txt").read_text().splitlines()) == 3


@pytest.fixture
def bind_mount(tmp_path):
    """mount(PATH): a folder that is PATH under another name (a bind mount); skipped where this
    user may not mount (it needs root)."""
    import subprocess
    made = []

    def mount(path):
        there = tmp_path / f"bound{len(made)}"
        there.mkdir()
        if subprocess.run(["mount", "--bind", str(path), str(there)], capture_output=True).returncode:
            pytest.skip("mount --bind is not allowed here")
        made.append(there)
        return there
    yield mount
    for there in made:
        subprocess.run(["umount", str(there)], check=True)


def test_the_data_under_another_name_is_kept(text_run, image_run, capsys, bind_mount, no_open):
    """A bind mount (or a case-insensitive drive) names the same file otherwise: compared by
    os.path.samefile, a file with one link too."""
    corpus = text_run / "corpus.txt"
    before = corpus.read_bytes()
    other = bind_mount(text_run) / "corpus.txt"
    assert main(["sample", str(text_run / "run"), "-n", "3", "--out", str(other)]) == 2
    assert f"is another name for the run's data (data.path = '{corpus}')" in _error(capsys)
    assert corpus.read_bytes() == before
    new = bind_mount(image_run / "imgs") / "new.png"
    assert main(["sample", str(image_run / "run"), "-n", "4", "--out", str(new)]) == 2
    assert f"lies inside the run's data (data.path = '{image_run / 'imgs'}')" in _error(capsys)
    assert not new.exists()
