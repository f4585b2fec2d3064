"""Audit a158 (conditional GANs on a user's data): a points file's 'label' column trained as a
coordinate without a word, --resume's identity refusal said after the data's own advice, a class
of several words typed with spaces, CAS measuring fewer samples than eval.n_samples unsaid, and
CAS's refusal on data without a held-out split naming what they have."""
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.data.conditional import ConditionalData
from gankit.data.images import ImageDataset


def _images(names, per, holdout=0.1):
    k = len(names)
    x = torch.randint(0, 256, (k * per, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ImageDataset(x, torch.arange(k).repeat_interleave(per), class_names=list(names), name="mine",
                            holdout=holdout)


def _conditional(names, kind, per=6, holdout=0.1):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ConditionalData(_images(names, per, holdout), kind)


# ------------------------------------------------------------------ 1: a points file's label column

def _read(path):
    from gankit.data.points import PointsFile
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        ds = PointsFile(path)
    return ds, [str(w.message) for w in said if "read as" in str(w.message)]


def test_a_label_column_of_a_points_csv_is_said_to_be_a_coordinate(tmp_path):
    p = tmp_path / "pts.csv"
    p.write_text("x,y,Label\n0.1,0.2,0\n0.3,0.1,1\n0.5,0.9,1\n")
    ds, said = _read(p)
    assert ds.dim == 3                   # still trained as it is: the warning says so
    assert said == ["data.path: 'pts.csv': column 3 ('Label') is read as a coordinate; points files carry "
                    "no labels (docs/conditional.md): drop that column to train on the others alone"]
    p.write_text("class,x,target\n0,0.1,1\n1,0.3,0\n")
    assert _read(p)[1] == ["data.path: 'pts.csv': columns 1 ('class'), 3 ('target') are read as coordinates; "
                           "points files carry no labels (docs/conditional.md): drop those columns to train "
                           "on the others alone"]                                  # one warning for both
    p.write_text('"x","y","label"\n0.1,0.2,0\n0.3,0.1,1\n')      # R's write.csv quotes its header
    assert len(_read(p)[1]) == 1 and "is read as a coordinate" in _read(p)[1][0]
    p.write_text("x,y\n0.1,0.2\n0.3,0.1\n")       # 'y' is a coordinate's name: nothing said
    assert _read(p)[1] == []


# ------------------------------------------------------------------ 2: --resume's identity refusal first

def test_an_override_of_the_model_identity_is_refused_before_the_data_are_built(tmp_path):
    """The check Run.open makes before building the data (gankit/train/run.py calls it): data.size=4 on
    8x8 images failed in the image loader with advice to set data.resize, itself refused then."""
    from conftest import TINY_FOLDER, class_folders

    from gankit.identity import overrides_redefine
    from gankit.runfolder import RunFolder, RunFolderError
    from gankit.train.run import Run
    imgs = class_folders(tmp_path / "imgs", ("a", "b"))
    folder = RunFolder(tmp_path / "run")
    Run.create(C.load("fashion-cgan", TINY_FOLDER + [f"data.path={imgs}", "eval.metrics=['cond_accuracy']",
                                                     "train.live_report=false"]), folder.path).train().close()
    raw = folder.read_config()

    def said(*sets):
        return overrides_redefine(folder, C.to_dict(C.load(raw, list(sets))), C.to_dict(C.load(raw, [])))
    assert said("train.steps=12", "data.size=4") == (
        "--set data.size: these define the run (its model identity), so they cannot change on --resume; "
        "drop them, or start a new run with them (--out NEW)")
    assert said("train.steps=12") is None                 # not of the identity: the data are built
    with pytest.raises(RunFolderError, match=r"^--set data.size: these define the run"):   # Run.open asks first
        Run.open(folder.path, ["train.steps=12", "data.size=4"], write=True)
    # config.toml edited by hand and the override puts back what the checkpoint trained: no refusal
    edited = C.to_dict(C.load(raw, ["generator.width=16"]))
    assert overrides_redefine(folder, C.to_dict(C.load(raw, [])), edited) is None
    # no checkpoint yet: the run starts again from step 0, where the overrides may change it
    for _, path in folder.checkpoints():
        path.unlink()
    assert said("data.size=4") is None


# ------------------------------------------------------------------ 3: a class of several words

def test_a_class_of_several_words_is_read_as_typed_with_spaces():
    from gankit.train.sampling import condition_args
    ds = _conditional(["red circle", "big box", "T-shirt/top"], "text", holdout=0)
    assert ds.class_names == ["red-circle", "big-box", "t-shirt-top"]
    assert ds.parse("a thick large bright red circle") == (0, {"thickness": 1, "size": 1, "brightness": 1})
    assert ds.parse("a thin Big Box.") == (1, {"thickness": 0})
    assert ds.parse("a faint T-shirt/top") == (2, {"brightness": 0})
    assert ds.parse("a thick red-circle")[0] == 0                  # the class word itself, as before
    # the caption G reads is the one its class word makes: not 'red' and 'circle' as <unk>
    run = SimpleNamespace(conditional=True, dataset=ds)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = condition_args(run, 2, text="a thick large bright red circle")["c"]
    assert torch.equal(c, ds.vocab.encode(["a thick large bright red-circle"] * 2, ds.max_words))
    assert ds.vocab.decode(c[:1]) == ["a thick large bright red-circle"]
    with pytest.raises(ConfigError, match=r"unknown word\(s\) \['green', 'box'\].*\(big-box: a class is named whole"):
        ds.parse("a thick green box")


# ------------------------------------------------------------------ 4, 5: cas's samples and refusal

def test_cas_refused_without_a_held_out_split_names_only_the_split_and_why():
    from gankit.metrics import not_applying
    from gankit.registry import METRICS
    cas = METRICS.build("cas", where="eval.metrics")
    few = str(not_applying(cas, _conditional(["a", "b"], "label", per=8)))            # 16 images
    assert ("(a run conditioned on labels, condition.kind = 'label'): it needs a held-out split of the images "
            "to test on, and these 16 images are too few to hold any out (data.holdout needs 20 or more; "
            "every image trains);") in few, few
    assert "it needs a run conditioned on labels" not in few
    none = str(not_applying(cas, _conditional(["a", "b"], "label", per=20, holdout=0)))
    assert "and data.holdout = 0 holds none out (a new run with --set data.holdout=0.1 would);" in none, none
    # a caption run still hears that cas needs labels
    text = str(not_applying(cas, _conditional(["cat", "dog"], "text", per=20)))
    assert "it needs a run conditioned on labels (condition.kind = 'label')" in text


def test_cas_says_and_records_how_many_samples_it_trained_on(tmp_path, monkeypatch):
    """3 classes of 10 images: 3 held out, so 27 train and cap CAS (and real_acc) below 30."""
    from conftest import TINY_FOLDER, class_folders

    from gankit import api
    from gankit.metrics import own_classifier
    from gankit.train.run import Run
    monkeypatch.setattr(own_classifier, "STEPS", 5)
    imgs = class_folders(tmp_path / "imgs", ("a", "b", "c"), per_class=10)
    sets = [s for s in TINY_FOLDER if not s.startswith("data.holdout")]
    Run.create(C.load("fashion-cgan", sets + [f"data.path={imgs}", "eval.metrics=['cond_accuracy']",
                                              "train.live_report=false"]), tmp_path / "run").train().close()

    def cas(n):
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            rec = api.evaluate(tmp_path / "run", ["cas"], [f"eval.n_samples={n}"], record=False,
                               reference=False, log=lambda s: None)
        return rec["cas_samples"], [str(w.message) for w in said if str(w.message).startswith("cas:")]
    assert cas(30) == (27, ["cas: trains on 27 generated samples (9 of each class), not eval.n_samples = 30: "
                            "capped by the training split: its 27 images over 3 classes (real_acc trains on "
                            "as many real ones); cas_samples records the number"])
    n, said = cas(10)
    assert n == 9 and len(said) == 1 and "10 // 3 classes, as many of each (eval.n_samples = 9 or 12" in said[0]
    assert cas(12) == (12, [])
