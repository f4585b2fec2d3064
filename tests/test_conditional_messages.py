"""What conditional runs say on a user's own labelled data (audit a120): a caption naming a class
without data, runs on other class sets compared or reopened, class metrics with too few samples,
the report's caption of a few classes shown, and a label of digits given to the API."""
from types import SimpleNamespace

import pytest
import torch

from gankit.api import condition_args
from gankit.config import ConfigError
from gankit.data.conditional import ConditionalData
from gankit.data.images import ImageDataset


def _images(names, labels):
    """8x8 grey images with these labels, classes named ``names`` (a folder of each)."""
    x = torch.randint(0, 256, (len(labels), 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return ImageDataset(x, torch.as_tensor(labels), class_names=list(names), name="mine")


def _fake_run(ds):
    return SimpleNamespace(conditional=True, dataset=ds)


def test_a_caption_naming_a_class_without_data_is_refused_as_its_label_is():
    # folder triangle/ held only unreadable files: class 2 has a name, a word, and no data
    ds = ConditionalData(_images(["circle", "square", "triangle"], [0, 1] * 6), "text")
    run = _fake_run(ds)
    with pytest.raises(ConfigError, match=r"label 'triangle': the classes with data are 0 \(circle\), 1 \(square\)"):
        condition_args(run, 2, "triangle")
    with pytest.raises(ConfigError, match=r"text 'a thick triangle': class 2 \(triangle\) has no data; the classes "
                                          r"with data are 0 \(circle\), 1 \(square\)"):
        condition_args(run, 2, text="a thick triangle")
    with pytest.raises(ConfigError, match="known words: a, bright, circle, faint, large, small, square, thick, thin$"):
        condition_args(run, 2, text="a thick hexagon")
    with pytest.raises(ConfigError, match="must name exactly one class of: circle, square$"):
        condition_args(run, 2, text="a thick")
    assert condition_args(run, 2, text="a thick square")["c"].shape[0] == 2


@pytest.fixture(scope="module")
def class_added(tmp_path_factory):
    """Two 2-step label runs on one data.path: A on circle/ and square/, B after triangle/ was added
    there; returns (A, B)."""
    from test_families_inputs import DC, FAST, _folder

    from gankit import api
    from gankit import config as C
    from gankit.train.run import Run
    tmp = tmp_path_factory.mktemp("added")
    root = tmp / "shapes"
    sets = FAST + DC + ["data.name=image-folder", f'data.path="{root}"', "data.channels=3", "condition.kind=label"]
    for k, name in enumerate(("circle", "square", "triangle")):
        _folder(root / name, 10, 8, seed=k)
        if k:
            run = Run.create(C.load("mnist-dcgan", sets), tmp / "AB"[k - 1]).train()
            api.evaluate(run, ["image_stats"], reference=False)
            run.close()
    return tmp / "A", tmp / "B"


def test_compare_ranks_no_runs_whose_class_folders_differ_under_one_data_path(class_added, capsys):
    from gankit.cli import main
    from gankit.report import compare as CMP
    data = CMP.compare_data(list(class_added))
    assert data["metrics"] and all(m["best"] == [] for m in data["metrics"])
    assert "class folders (A: circle, square; B: circle, square, triangle)" in data["note"]
    assert "the data's images (A: 20 " in data["note"]
    assert main(["compare", *map(str, class_added), "--text"]) == 0
    assert "no value is marked better: the runs differ in class folders" in capsys.readouterr().out


def test_a_run_whose_data_gained_a_class_folder_is_refused_naming_the_class(class_added, capsys, tmp_path):
    from gankit.cli import main
    from gankit.train.run import Run
    a, _ = class_added
    with pytest.raises(ConfigError, match=r"class 2 was none, is now 'triangle'") as e:
        Run.open(a)
    assert e.value.__context__ is None or e.value.__suppress_context__
    for argv in (["eval", str(a), "--metrics", "image_stats"],
                 ["sample", str(a), "-n", "2", "--out", str(tmp_path / "s.npy")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "class 2 was none, is now 'triangle'" in err and "does not fit" not in err, argv


def test_within_class_measures_the_classes_given_enough_and_names_those_left_out():
    """120 samples over 50 classes give 20 classes 3 generated samples: it refused, saying no class
    had 3 ("2 or 3 each"); the classes with enough are measured, the others named in a warning."""
    from gankit.data.toy import GaussianMixture
    from gankit.metrics.base import TooFewSamples
    from gankit.metrics.conditional import _within_class
    from gankit.metrics.context import EvalContext
    base = GaussianMixture(torch.arange(50.0)[:, None].repeat(1, 2) * 10, torch.ones(50))
    noise = torch.Generator().manual_seed(1)

    def sample(n, seed=None, y=None, c=None):
        return base.means[y] + torch.randn(n, 2, generator=noise), None

    def ctx(n):
        return EvalContext(dataset=ConditionalData(base, "label"), settings=SimpleNamespace(n_samples=n), seed=0,
                           device=torch.device("cpu"), step=0, sample=sample)
    with pytest.warns(UserWarning, match=r"within_class: \d+ of 50 classes \(\d+, .*\) had fewer than 3 generated "
                                         r"or real samples \(120 over 50 classes\) and are left out of the mean"):
        out = _within_class(ctx(120))
    assert out["fd_within_class"] > 0
    with pytest.raises(TooFewSamples, match=r"no class had 3 or more samples of each kind \(99 samples over 50 "
                                            r"classes: 1 or 2 each\)"):
        _within_class(ctx(99))


def test_eval_that_measures_nothing_names_the_metrics_skipped_and_the_samples_they_need(tmp_path, tiny):
    """It named an internal class ("on this data (ConditionalData)") and hinted at image classifiers."""
    from gankit import api
    from gankit import config as C
    from gankit.train.run import Run
    run = Run.create(C.load("ring-cgan", tiny + ["train.steps=2"]), tmp_path / "r").train()
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(ConfigError) as e:
        api.evaluate(run, ["cond_accuracy", "within_class"], ["eval.n_samples=5"], record=False, strict=True)
    said = str(e.value)
    assert said == ("metrics ['cond_accuracy', 'within_class']: nothing measured; cond_accuracy, within_class "
                    "skipped with eval.n_samples = 5 (the warnings above say why); overrides=[\"eval.n_samples=96\"] lets "
                    "them all run"), said
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(ConfigError, match=r"=8\"\] lets it run$"):
        api.evaluate(run, ["cond_accuracy"], ["eval.n_samples=5"], record=False, strict=True)
    run.close()


def test_the_report_caption_says_how_many_classes_fixed_samples_fewer_than_them_show(monkeypatch):
    """train.n_fixed = 16 over 50 classes showed 16 rows under "generated for each condition"."""
    import numpy as np

    from gankit.report import conditional as RC
    from gankit.report import page
    monkeypatch.setattr(RC, "_image_rows", lambda *a: None)
    monkeypatch.setattr(page, "png", lambda *a, **k: None)
    ds = SimpleNamespace(kind="image", class_names=[f"c{k:02d}" for k in range(50)], condition_kind="label",
                         classes=torch.arange(50))
    snap = {"step": np.array(20), "samples": np.zeros((16, 1, 4, 4)), "labels": np.arange(16)}
    (section,) = RC.condition_sections(ds, [snap])
    assert "the first 16 of 50 classes (the run's fixed samples, train.n_fixed, hold no others)" \
        in section.paragraphs[0]
    every = dict(snap, samples=np.zeros((100, 1, 4, 4)), labels=np.arange(100) % 50)
    said = RC.condition_sections(ds, [every])[0].paragraphs[0]
    assert "the first 20 of 50 classes." in said and "n_fixed" not in said
    few = SimpleNamespace(kind="image", class_names=["a", "b"], condition_kind="label", classes=torch.arange(2))
    assert "first" not in RC.condition_sections(few, [dict(snap, labels=np.arange(16) % 2)])[0].paragraphs[0]


def test_a_string_of_digits_given_to_the_api_is_a_class_number_as_on_the_command_line():
    """api.sample(run, 2, label="3") drew folder '3' (class 1) where --label 3 is class number 3."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)            # numbered folders: said when loaded
        ds = ConditionalData(_images(["100", "3", "7", "8"], [0, 1, 2, 3] * 2), "label")
        three = _fake_run(ConditionalData(_images(["100", "3", "7"], [0, 1, 2] * 2), "label"))
    run = _fake_run(ds)
    assert condition_args(run, 2, "3")["y"].tolist() == [3, 3] == condition_args(run, 2, 3)["y"].tolist()
    assert condition_args(run, 1, " 2 ")["y"].tolist() == [2]
    hint = r"label 3: the classes with data are 0 \(100\), 1 \(3\), 2 \(7\); .*\(folder '3' is class 1: label 1\)"
    for asked in ("3", 3):
        with pytest.raises(ConfigError, match=hint):
            condition_args(three, 1, asked)


def test_a_points_file_for_a_conditional_run_says_its_columns_are_coordinates(tmp_path):
    """A CSV with a 'label' column: every column of a points file is a coordinate; the refusal
    said "PointsFile has no labels", a class name the user never wrote."""
    from gankit import config as C
    from gankit.data.conditional import ConditionalData
    from gankit.data.points import PointsFile
    path = tmp_path / "pts.csv"
    path.write_text("x,y,label\n" + "".join(f"{i * 0.1},{i * 0.2},{i % 2}\n" for i in range(20)))
    with pytest.raises(C.ConfigError) as e:
        ConditionalData(PointsFile(path), "label")
    said = str(e.value)
    assert "the points file 'pts.csv' has no labels" in said and "coordinate" in said
    assert "PointsFile" not in said
