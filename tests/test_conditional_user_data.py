"""Conditional runs on a user's own labelled folders: a class number is the folder's place in
sorted name order, so a run records its class names and refuses data whose names or order
differ; numbered folders, Unicode spellings, class names on --label, the report's grid of many
classes and conditional accuracy with fewer samples than classes (audit a56)."""
import re
import shutil
import unicodedata
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit import config as C
from gankit.api import condition_args
from gankit.cli import main
from gankit.config import ConfigError
from gankit.data.conditional import ConditionalData, Vocab
from gankit.data.images import ImageDataset
from gankit.train.run import Run

NFC, NFD = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")


def _images(names, per=4):
    """A labelled image dataset of 8x8 grey images, ``per`` of each class."""
    k = len(names)
    x = torch.randint(0, 256, (k * per, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return ImageDataset(x, torch.arange(k).repeat_interleave(per), class_names=list(names), name="mine")


def _fake_run(ds):
    return SimpleNamespace(conditional=True, dataset=ds)


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    """A 2-step label run on folders circle/ and square/; returns (run folder, data folder)."""
    from test_families_inputs import DC, FAST, _folder
    tmp = tmp_path_factory.mktemp("shapes")
    root = tmp / "two"
    for k, name in enumerate(("circle", "square")):
        _folder(root / name, 10, 8, seed=k)
    sets = FAST + DC + ["data.name=image-folder", f'data.path="{root}"', "data.channels=3", "condition.kind=label"]
    Run.create(C.load("mnist-dcgan", sets), tmp / "run").train().close()
    return tmp / "run", root


def test_a_renamed_class_folder_is_refused_naming_old_and_new(shapes_run, tmp_path, capsys):
    run, root = shapes_run
    moved = tmp_path / "moved"
    shutil.copytree(root / "circle", moved / "zcircle")         # the same images, one folder renamed
    shutil.copytree(root / "square", moved / "square")
    with pytest.raises(ConfigError, match=r"class 0 was 'circle', is now 'square'; class 1 was 'square', "
                                          r"is now 'zcircle'.*point data\.path at the data the run trained on"):
        Run.open(run, [f'data.path="{moved}"'])
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "2", "--label", "0", "--out", str(tmp_path / "s.npy"),
                 "--set", f"data.path={moved}"]) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err and "class 0 was 'circle'" in err and len(err.strip().splitlines()) == 1
    # the report draws class k's grid as class k: it refuses too
    assert main(["report", str(run), "--set", f"data.path={moved}"]) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err and "class 0 was 'circle'" in err and f"data.path = '{moved}'" in err
    copy = tmp_path / "same"                                    # moved, names kept: opens
    shutil.copytree(root, copy)
    Run.open(run, [f'data.path="{copy}"']).close()


def test_checkpoints_without_class_names_open_as_before():
    from gankit.data.class_names import refuse_other_classes
    ds = ConditionalData(_images(["b", "a"]), "label")
    refuse_other_classes({}, ds)                                # an older run: nothing recorded
    refuse_other_classes({"class_names": ["b", "a"]}, ds)
    with pytest.raises(ConfigError, match="class 0 was 'a', is now 'b'"):
        refuse_other_classes({"class_names": ["a", "b"]}, ds)


def test_caption_word_ids_are_those_of_the_names_as_spelt_on_disk_and_recorded():
    """Normalising decomposed names to NFC must not move word ids: a caption run made before sorted
    the words as spelt on disk, and each word's embedding was trained under its id."""
    from gankit.data.class_names import class_names_record, refuse_other_classes
    names = [unicodedata.normalize("NFD", n) for n in ("café", "dog", "thé")]
    ds = ConditionalData(_images(names, per=6), "text")
    spelt = sorted(set(["-".join(n.lower().split()) for n in names] + [w for w in ds.vocab.words[2:]
                                                                           if w not in ds.class_names]))
    assert ds.vocab.words[2:] == [unicodedata.normalize("NFC", w) for w in spelt]
    assert ds.vocab.words.index("thé") < ds.vocab.words.index("thick")     # NFD order: 'the\u0301' < 'thi'
    rec = class_names_record(ds)
    assert rec["caption_words"] == ds.vocab.words
    refuse_other_classes(rec, ds)
    moved = dict(rec, caption_words=rec["caption_words"][:-2] + rec["caption_words"][-1:-3:-1])
    with pytest.raises(ConfigError, match=r"caption word \d+ was .*, is now"):
        refuse_other_classes(moved, ds)


def test_sample_names_the_class_it_drew_and_takes_a_name(shapes_run, tmp_path, capsys):
    run, _ = shapes_run
    out = str(tmp_path / "s.npy")
    assert main(["sample", str(run), "-n", "3", "--label", "square", "--out", out]) == 0
    assert "wrote 3 samples of class 1 ('square')" in capsys.readouterr().out
    assert main(["sample", str(run), "-n", "3", "--label", "0", "--out", out]) == 0
    assert "of class 0 ('circle')" in capsys.readouterr().out
    assert main(["sample", str(run), "-n", "3", "--label", "triangle", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "--label 'triangle': the classes with data are 0 (circle), 1 (square)" in err and "usage" not in err


def test_sample_without_a_label_says_which_classes_it_drew(shapes_run, tmp_path, capsys):
    """The samples' file does not hold their classes: the run's fixed noise takes them in turn,
    a --seed at the data's frequencies; the command says which."""
    import numpy as np
    run, _ = shapes_run
    out = str(tmp_path / "s.npy")
    assert main(["sample", str(run), "-n", "4", "--out", out]) == 0
    said = capsys.readouterr().out
    assert "classes in turn: sample i is the (i mod 2)-th of 0 ('circle'), 1 ('square')" in said
    assert main(["sample", str(run), "-n", "5", "--seed", "1", "--out", out]) == 0
    said = capsys.readouterr().out
    counts = re.findall(r"(\d) \('(?:circle|square)'\) x(\d)", said)
    assert "classes drawn at the data's frequencies" in said and sum(int(n) for _, n in counts) == 5
    assert np.load(out).shape[0] == 5


def test_condition_args_takes_a_name_or_a_number():
    fake = _fake_run(ConditionalData(_images(["circle", NFD]), "label"))
    assert condition_args(fake, 2, "circle")["y"].tolist() == [0, 0]
    assert condition_args(fake, 2, NFC)["y"].tolist() == [1, 1]        # typed composed, folder decomposed
    assert condition_args(fake, 2, 1)["y"].tolist() == [1, 1]
    with pytest.raises(ConfigError, match=r"label 'cube': the classes with data are 0 \(circle\), 1 \(café\)"):
        condition_args(fake, 2, "cube")


def test_numbered_folders_warn_once_with_their_class_numbers():
    from gankit.data.class_names import ClassNumbering
    names = sorted(str(k) for k in range(12))                  # 0, 1, 10, 11, 2, ...
    with pytest.warns(ClassNumbering, match=r"0 \(0\), 1 \(1\), 2 \(10\), 3 \(11\), 4 \(2\)"):
        ds = ConditionalData(_images(names, per=1), "label")
    with pytest.raises(ConfigError, match=r"label 3: the classes with data are 0 \(100\), 1 \(3\), 2 \(7\); "
                                          r"give one of the numbers or names \(folder '3' is class 1: label 1\)"):
        condition_args(_fake_run(_quiet(["100", "3", "7"])), 1, 3)
    assert condition_args(_fake_run(ds), 1, 2)["y"].tolist() == [2]   # numbers are not renumbered
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassNumbering)
        ConditionalData(_images(["0", "1", "2"], per=1), "label")      # names are their numbers: quiet


def _quiet(names):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ConditionalData(_images(names, per=1), "label")


def test_unicode_spellings_are_one_word_and_one_name(tmp_path):
    from gankit.data.image_files import load_image_folder
    from test_families_inputs import _folder
    assert Vocab.tokenize(f"a {NFD}") == Vocab.tokenize(f"a {NFC}") == ["a", NFC]
    for name in (NFD, "tea"):
        _folder(tmp_path / "d" / name, 4, 8, mode="L")
    _, _, names = load_image_folder(tmp_path / "d")
    assert names == [NFC, "tea"]
    text = ConditionalData(_images([NFD, "tea"], per=8), "text")
    assert text.parse(f"a thick {NFC}")[0] == 0                 # typed composed, known as the word listed
    for kind in ("label", "text"):
        with pytest.raises(ConfigError, match=r"class folders 0 and 1 are both named 'café' once Unicode is "):
            ConditionalData(_images([NFC, NFD], per=8), kind)


def test_the_report_grid_of_many_classes_says_it_shows_the_first_20(monkeypatch):
    import numpy as np

    from gankit.report import conditional as RC
    from gankit.report import page
    monkeypatch.setattr(RC, "_image_rows", lambda *a: None)
    monkeypatch.setattr(page, "png", lambda *a, **k: None)
    ds = SimpleNamespace(kind="image", class_names=[f"c{k:02d}" for k in range(50)], condition_kind="label")
    snap = {"step": np.array(20), "samples": np.zeros((100, 1, 4, 4)), "labels": np.arange(100) % 50}
    (section,) = RC.condition_sections(ds, [snap])
    assert "the first 20 of 50 classes" in section.paragraphs[0]
    few = dict(snap, labels=np.arange(100) % 5)
    assert "first" not in RC.condition_sections(ds, [few])[0].paragraphs[0]


def test_cond_accuracy_never_draws_more_samples_than_asked():
    from gankit.data.toy import GaussianMixture
    from gankit.metrics.base import TooFewSamples
    from gankit.metrics.conditional import _cond_accuracy
    from gankit.metrics.context import EvalContext
    base = GaussianMixture(torch.arange(50.0)[:, None] * 10, torch.ones(50))
    drawn = []

    def sample(n, seed=None, y=None, c=None):
        drawn.append(n)
        return base.means[y], None

    def ctx(n):
        return EvalContext(dataset=ConditionalData(base, "label"), settings=SimpleNamespace(n_samples=n), seed=0,
                           device=torch.device("cpu"), step=0, sample=sample)
    with pytest.raises(TooFewSamples, match="20 samples cannot give each of the 50 classes one") as e:
        _cond_accuracy(ctx(20))
    assert e.value.n_needed == 50 and not drawn
    assert _cond_accuracy(ctx(120))["cond_accuracy"] == 1.0 and drawn == [120]     # 2 a class and one more for 20 of them


def test_numbered_folders_are_warned_when_the_run_is_made_not_at_each_open(tmp_path):
    from test_families_inputs import DC, FAST, _folder

    from gankit.data.class_names import ClassNumbering
    root = tmp_path / "numbered"
    for k, name in enumerate(("0", "1", "10")):
        _folder(root / name, 4, 8, seed=k)
    sets = FAST + DC + ["data.name=image-folder", f'data.path="{root}"', "data.channels=3", "condition.kind=label"]
    with pytest.warns(ClassNumbering, match=r"2 \(10\)"):
        Run.create(C.load("mnist-dcgan", sets), tmp_path / "run").train().close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassNumbering)
        Run.open(tmp_path / "run").close()
        from gankit.report import write_report       # builds the data itself
        write_report(tmp_path / "run")


def test_the_report_of_a_conditional_run_with_no_readable_checkpoint_comes_from_its_records(shapes_run, tmp_path):
    run, _ = shapes_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for p in (copy / "checkpoints").glob("*.pt"):
        p.write_bytes(p.read_bytes()[:100])                    # truncated
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").is_file()
