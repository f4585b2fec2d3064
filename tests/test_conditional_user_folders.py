"""A user's labelled class folders: the real-data reference row of a conditional run keyed by its
images, class names recorded by every run on named classes (ssgan's D classifies them), folder
names that are other classes' numbers, the report after a class folder is renamed, and CAS refused
on a caption run in the user's terms."""
import shutil
import unicodedata
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.data.conditional import ConditionalData
from gankit.data.class_names import ClassNumbering
from gankit.data.images import ImageDataset
from gankit.train.run import Run


def _images(names, per=6, seed=0):
    """A labelled image dataset of 8x8 grey images, ``per`` of each class."""
    k = len(names)
    x = torch.randint(0, 256, (k * per, 1, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    return ImageDataset(x, torch.arange(k).repeat_interleave(per), class_names=list(names), name="mine")


def _quiet(names, kind="label", per=6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return ConditionalData(_images(names, per), kind)


def test_the_reference_row_of_a_conditional_run_is_keyed_by_its_images():
    """The images lie in the wrapper's base: other pixels under the same names and counts measured
    another run's real-data row (its cond_accuracy, image_stats) from the cache."""
    from gankit.metrics.reference import reference_key

    def key(ds):
        return reference_key(ds, {"name": "image-folder"}, {"n_samples": 60}, 0, ["image_stats"])
    for kind in ("label", "text"):
        a = ConditionalData(_images(["cat", "dog"], seed=0), kind)
        b = ConditionalData(_images(["cat", "dog"], seed=1), kind)     # same labels, other pixels
        assert key(a) != key(b), kind
        assert key(a) == key(ConditionalData(_images(["cat", "dog"], seed=0), kind))
    plain = _images(["cat", "dog"])
    assert key(plain) != key(_images(["cat", "dog"], seed=1))


def test_a_run_on_named_classes_records_them_whatever_its_condition():
    from gankit.data.class_names import class_names_record, refuse_other_classes
    raw = _images([unicodedata.normalize("NFD", "café"), "dog"], per=20)                 # 4 held out
    assert class_names_record(raw) == {"class_names": ["café", "dog"]}     # NFC, as a conditional run's
    assert class_names_record(ConditionalData(_images(["a", "b"]), "label")) == {"class_names": ["a", "b"]}
    assert raw.cut == (40, 4)
    refuse_other_classes({}, raw)                                            # runs saved before: open
    with pytest.raises(ConfigError, match=r"class 0 was 'bird', is now 'café'.*held-out split"):
        refuse_other_classes({"class_names": ["bird", "café"]}, raw)


def test_an_ssgan_run_refuses_a_renamed_class_folder(tmp_path, capsys):
    """ssgan's D is a classifier of the folder classes: after bird -> zebra its class 0 would be
    scored as 'cat' (classify 1.0 -> 0.0) and training would go on with the classes swapped."""
    from conftest import class_folders
    root = class_folders(tmp_path / "data", ("bird", "cat", "dog"), per_class=10)
    sets = ["data.name=image-folder", f'data.path="{root}"', "train.steps=2", "train.batch_size=8",
            "train.sample_every=2", "train.checkpoint_every=2", "train.n_fixed=8", "train.progress=false",
            "train.live_report=false", "generator.hidden=[8]", "discriminator.hidden=[8]",
            "objective.labels_per_class=2", "eval.n_samples=16", 'eval.metrics=["image_stats"]']
    Run.create(C.load("mnist-ssgan", sets), tmp_path / "run").train().close()
    (root / "bird").rename(root / "zebra")
    with pytest.raises(ConfigError, match=r"class 0 was 'bird', is now 'cat'.*semi-supervised D's outputs.*would mean other classes"):
        Run.open(tmp_path / "run")
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(tmp_path / "run"), "--set", "train.steps=4"]) == 2
    assert "class 0 was 'bird'" in capsys.readouterr().err
    (root / "zebra").rename(root / "bird")
    Run.open(tmp_path / "run").close()


def test_a_folder_named_by_another_class_s_number_is_warned_at_load_and_sampling():
    from gankit.api import condition_args
    with pytest.warns(ClassNumbering, match=r"folder '2' is class 0, class 2 is 'banana'.*folder '2' is --label 0"):
        ds = ConditionalData(_images(["2", "apple", "banana"]), "label")
    run = SimpleNamespace(conditional=True, dataset=ds)
    with pytest.warns(ClassNumbering, match=r"label 2 draws class 2 \('banana'\), not folder '2', which is "
                                            r"class 0: label 0 draws that one"):
        assert condition_args(run, 2, "2")["y"].tolist() == [2, 2]      # a number is a class number
    with pytest.warns(ClassNumbering, match=r"--label 2 draws class 2"):
        condition_args(run, 1, 2, None, ("--label", "--text"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassNumbering)
        assert condition_args(run, 1, 0)["y"].tolist() == [0]           # class 0 is folder '2': nothing to say
        assert condition_args(run, 1, "banana")["y"].tolist() == [2]
        ConditionalData(_images(["7", "apple", "banana"]), "label")      # 7 is no class's number
        ConditionalData(_images(["apple", "banana"]), "label")
        ConditionalData(_images(["0", "1", "2"]), "label")


def _renamed_run(tmp_path):
    """A 2-step label run on folders circle/ and square/, then circle/ renamed zcircle/ in place."""
    from conftest import TINY_FOLDER, class_folders
    root = class_folders(tmp_path / "imgs", ("circle", "square"))
    out = tmp_path / "run"
    assert main(["train", "fashion-cgan", "--out", str(out),
                 *[a for kv in TINY_FOLDER + [f"data.path='{root}'", 'eval.metrics=["image_stats"]',
                                               "train.live_report=false"] for a in ("--set", kv)]]) == 0
    (root / "circle").rename(root / "zcircle")
    return out, root


def test_the_report_of_a_run_whose_class_folder_was_renamed_comes_from_the_run_folder(tmp_path, capsys):
    from gankit.data import DataChanged
    from gankit.report import write_report
    out, root = _renamed_run(tmp_path)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        page = write_report(out).read_text()
    notes = [str(w.message) for w in said if issubclass(w.category, DataChanged)]
    assert len(notes) == 1 and "class 0 was 'circle', is now 'square'" in notes[0], notes
    assert "built from the run folder alone" in notes[0] and "each class named as the run's checkpoint" in notes[0]
    assert "One row per condition" in page and "is now &#39;square&#39;" in page
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert "class 0 was 'circle'" in capsys.readouterr().err
    # the reader's own place holding other classes is refused, as before (a mistyped place is said)
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    assert main(["report", str(out), "--set", f"data.path={moved}"]) == 2
    err = capsys.readouterr().err
    assert "class 0 was 'circle'" in err and "point data.path at the data the run trained on" in err
    assert main(["eval", str(out), "--no-record"]) == 2                 # eval and sample still refuse


def test_cas_refused_on_a_caption_run_says_it_needs_labels():
    from gankit.metrics import not_applying
    from gankit.registry import METRICS
    ds = _quiet(["cat", "dog"], "text", per=20)                 # a held-out split: CAS's other need
    msg = str(not_applying(METRICS.build("cas", where="eval.metrics"), ds))
    assert "ConditionalData" not in msg, msg
    assert ("does not apply to this data (a run conditioned on captions, condition.kind = 'text'): it needs a run "
            "conditioned on labels (condition.kind = 'label')") in msg
    plain = str(not_applying(METRICS.build("cond_accuracy", where="eval.metrics"), _images(["cat", "dog"])))
    assert "it needs a conditional run (condition.kind = 'label' or 'text')" in plain
