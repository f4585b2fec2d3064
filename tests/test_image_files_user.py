"""A user's own image data (audit F83): a thin image under resize=crop, signed IDX labels, folders
and files this user may not read, IDX files laid out or named as downloads leave them, Netpbm
faces, photos over the pixel limit, many empty files, a macOS ._ file beside class folders."""
import builtins
import errno
import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.data import image_decode
from gankit.data.image_decode import ImageDataError, fit_image
from gankit.data.idx_files import load_idx_dir, read_idx
from gankit.data.image_files import load_image_folder


def idx(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i4"): 0x0C}[arr.dtype]
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def images(n=20) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def grey(path: Path, side=8, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((side, side), value, np.uint8)).save(path)


def caught(fn, *args, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn(*args, **kw)
    return out, [str(m.message) for m in w]


@pytest.fixture
def deny(monkeypatch):
    """deny(path): this user may not read path (a file, or a folder's listing).  chmod 000 does it
    for a user; root reads anything, so there the calls that open files and list folders are made
    to fail for it as they fail for a user."""
    denied = set()
    real_open, real_scandir = builtins.open, os.scandir

    def refuse(p):
        if isinstance(p, (str, os.PathLike)) and os.path.abspath(os.fspath(p)) in denied:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(p))

    def fake_open(file, *a, **kw):
        refuse(file)
        return real_open(file, *a, **kw)

    def fake_scandir(p="."):
        refuse(p)
        return real_scandir(p)
    if os.geteuid() == 0:
        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)
        monkeypatch.setattr(os, "scandir", fake_scandir)

    def deny(path: Path):
        denied.add(os.path.abspath(path))
        mode = path.stat().st_mode
        path.chmod(0)
        undo.append((path, mode))
    undo = []
    yield deny
    for path, mode in undo:
        path.chmod(mode)


# ------------------------------------------------------------------ 1. crop

def test_crop_resamples_only_its_box_and_gives_the_same_pixels(monkeypatch):
    """A 141-byte 1x60000 PNG under data.resize=crop took 400 MB at data.size=64 (1.2 GB at 128):
    the whole strip was scaled to 3,840,000 x 64 before the crop."""
    made = []
    real = Image.Image.resize

    def resize(self, size, *a, **kw):
        made.append(size)
        return real(self, size, *a, **kw)
    monkeypatch.setattr(Image.Image, "resize", resize)
    thin = Image.fromarray(np.full((1, 60000), 200, np.uint8))
    out = fit_image(thin, 64, "crop", Path("b.png"))
    assert out.size == (64, 64) and np.asarray(out).min() == 200
    assert max(w * h for w, h in made) <= 64 * 64, made
    monkeypatch.setattr(Image.Image, "resize", real)

    def whole_then_crop(im, size):            # the old way: the reference pixels
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
        left, top = (im.size[0] - size) // 2, (im.size[1] - size) // 2
        return im.crop((left, top, left + size, top + size))
    rng = np.random.default_rng(1)
    for w, h, size, shape in [(64, 48, 32, ()), (48, 64, 32, (3,)), (100, 37, 24, ()), (33, 90, 40, (3,))]:
        im = Image.fromarray(rng.integers(0, 256, (h, w, *shape), dtype=np.uint8))
        new = np.asarray(fit_image(im, size, "crop", Path("x.png")), int)
        old = np.asarray(whole_then_crop(im, size), int)
        assert new.shape == old.shape and np.abs(new - old).max() <= 1      # rounding only


# ------------------------------------------------------------------ 2. signed IDX labels

@pytest.mark.parametrize("dtype", [np.int8, ">i4"])
def test_negative_labels_in_a_signed_label_file_are_said_like_labels_over_9(tmp_path, dtype):
    """int8 / int32 labels of -1 passed the range check (uint8 never negative), then crashed in
    F.embedding (conditional runs) or np.bincount (class_hist)."""
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(images()))
    y = (np.arange(20) % 10).astype(dtype)
    y[5] = y[7] = -1
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(y))
    out, said = caught(load_idx_dir, tmp_path)
    assert "train_y" not in out and out["train_x"].shape == (20, 28, 28)
    assert any("train-labels-idx1-ubyte: labels -1 lie outside 0-9" in m and "without labels" in m for m in said), said


@pytest.mark.parametrize("code, dtype", [(0x0D, ">f4"), (0x0E, ">f8")])
def test_float_labels_that_are_not_whole_numbers_are_refused_not_truncated(tmp_path, code, dtype):
    """IDX label files of float type (0x0D, 0x0E): 3.7 became class 3 without a word; NaN an
    arbitrary integer.  Whole-number floats are class numbers and read as such."""
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(images()))
    labels = tmp_path / "train-labels-idx1-ubyte"

    def write(y):
        labels.write_bytes(bytes([0, 0, code, 1]) + struct.pack(">I", len(y)) + np.asarray(y, dtype).tobytes())
    write(np.arange(20) % 10 + 0.7)
    with pytest.raises(ImageDataError, match=r"train-labels-idx1-ubyte: 20 of its 20 float labels are not whole "
                                             r"numbers \(e.g. 0.7 for image 0\).*give the label file that came "
                                             r"with train-images-idx3-ubyte, or remove it"):
        load_idx_dir(tmp_path)
    y = (np.arange(20) % 10).astype(float)
    y[4] = np.nan
    write(y)
    with pytest.raises(ImageDataError, match=r"1 of its 20 float labels .*\(e.g. nan for image 4\)"):
        load_idx_dir(tmp_path)
    write(np.arange(20) % 10)
    assert load_idx_dir(tmp_path)["train_y"].tolist() == (np.arange(20) % 10).tolist()


# ------------------------------------------------------------------ 3. permissions

def test_an_unreadable_class_folder_is_refused_naming_it_and_chmod(tmp_path, deny):
    """It was "sub-folder(s) ['b'] hold no images and are not classes", and training went on with one class."""
    for c in "ab":
        grey(tmp_path / c / "x.png")
    deny(tmp_path / "b")
    with pytest.raises(ImageDataError) as e:
        load_image_folder(tmp_path)
    msg = str(e.value)
    assert f"{tmp_path / 'b'} cannot be read by this user" in msg and f"chmod -R a+rX {tmp_path / 'b'}" in msg, msg


def test_an_unreadable_image_says_permission_and_chmod_not_truncated(tmp_path, deny):
    for i in range(3):
        grey(tmp_path / f"{i}.png")
    deny(tmp_path / "1.png")
    (x, _, _), said = caught(load_image_folder, tmp_path)
    assert len(x) == 2
    line = next(m for m in said if "1.png" in m)
    assert "cannot be read by this user" in line and f"chmod a+r {tmp_path / '1.png'}" in line, line
    assert "truncated" not in line


def test_an_unreadable_idx_file_says_permission(tmp_path, deny):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(images()))
    deny(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(ImageDataError, match=r"cannot be read by this user .*chmod a\+r ") as e:
        read_idx(tmp_path / "train-images-idx3-ubyte")
    assert "gzip" not in str(e.value)


# ------------------------------------------------------------------ 4. IDX files as downloads leave them

def test_idx_files_each_in_a_folder_of_its_name_are_read(tmp_path):
    """Kaggle's download: train-images-idx3-ubyte/train-images-idx3-ubyte; it said "no
    train-images-idx3-ubyte(.gz) ... (found: train-images-idx3-ubyte, ...)"."""
    x = images()
    y = (np.arange(20) % 10).astype(np.uint8)
    for name, arr in (("train-images-idx3-ubyte", x), ("train-labels-idx1-ubyte", y)):
        (tmp_path / name).mkdir()
        (tmp_path / name / name).write_bytes(idx(arr))
    out = load_idx_dir(tmp_path)
    assert np.array_equal(out["train_x"], x) and len(out["train_y"]) == 20
    other = tmp_path / "other" / "train-images-idx3-ubyte"        # a folder of the name holding something else
    other.mkdir(parents=True)
    (other / "data.bin").write_bytes(idx(x))
    with pytest.raises(ImageDataError, match=r"found: train-images-idx3-ubyte/\); train-images-idx3-ubyte/ is a "
                                             r"folder, not the file: point data.root at the folder that holds"):
        load_idx_dir(tmp_path / "other")


def test_a_raw_idx_file_named_gz_is_read(tmp_path):
    """A browser unpacked train-images-idx3-ubyte.gz and kept the name: "not a readable gzip file"."""
    x = images()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(idx(x))
    assert np.array_equal(load_idx_dir(tmp_path)["train_x"], x)


def test_a_label_file_of_images_or_of_another_count_names_the_fix(tmp_path):
    """A copy of the image file as the label file said "100 labels for 100 images"."""
    x = images()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(x))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(x))
    with pytest.raises(ImageDataError, match=r"train-labels-idx1-ubyte: holds data of shape \(20, 28, 28\), not one "
                                             r"label per image .*give the label file that came with "
                                             r"train-images-idx3-ubyte, or remove it"):
        load_idx_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(np.zeros(18, np.uint8)))
    with pytest.raises(ImageDataError, match=r"18 labels for 20 images in train-images-idx3-ubyte; give the label "
                                             r"file that came with those images, or remove it"):
        load_idx_dir(tmp_path)


# ------------------------------------------------------------------ 5-8. image folders

def test_netpbm_faces_are_images(tmp_path):
    """AT&T/ORL faces (s1/*.pgm): every class folder "held no images"."""
    rng = np.random.default_rng(0)
    for s in ("s1", "s2"):
        (tmp_path / s).mkdir()
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (12, 10), dtype=np.uint8)).save(tmp_path / s / f"{i}.pgm")
    Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8)).save(tmp_path / "s2" / "c.ppm")
    x, y, names = load_image_folder(tmp_path, 8, 1, "stretch")
    assert x.shape == (5, 1, 8, 8) and names == ["s1", "s2"] and list(y) == [0, 0, 1, 1, 1]


def test_photos_over_the_pixel_limit_say_so_and_how_to_downscale(tmp_path, monkeypatch):
    """Two 9000x8000 photos were each "a decompression bomb or a wrong file", then "none of the 2
    image files could be read" with no fix.  (The limit is lowered here: the same check, small files.)"""
    monkeypatch.setattr(image_decode, "MAX_PIXELS", 30 * 30)
    for i in range(2):
        grey(tmp_path / f"{i}.png", side=40)
    with pytest.raises(ImageDataError) as e:
        load_image_folder(tmp_path)
    msg = str(e.value)
    assert "none of the 2 image files" in msg and "2 image files are over the" in msg, msg
    assert f"downscale them, e.g. mogrify -resize 2048x2048 {tmp_path / '0.png'}" in msg, msg
    grey(tmp_path / "2.png", side=20)
    (x, _, _), said = caught(load_image_folder, tmp_path)
    assert len(x) == 1 and sum("mogrify" in m for m in said) == 1, said
    # Pillow's own bomb limit, met in Image.open before gankit sees the size: the same advice
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageDataError, match=r"0.png is too large .*downscale it: mogrify -resize 2048x2048"):
        image_decode.read_image(tmp_path / "0.png", 1)


def test_many_unreadable_images_are_said_in_one_line(tmp_path):
    """300 zero-byte .png files beside 25 good ones printed 300 warnings."""
    for i in range(5):
        grey(tmp_path / f"g{i}.png")
    for i in range(30):
        (tmp_path / f"z{i:02d}.png").write_bytes(b"")
    (x, _, _), said = caught(load_image_folder, tmp_path)
    assert len(x) == 5
    lines = [m for m in said if "z0" in m]
    assert len(lines) == 1, said
    assert ("30 image files are not readable images" in lines[0] and "['z00.png', 'z01.png', 'z02.png']" in lines[0]
            and "replace them or remove them" in lines[0]), lines


def test_a_hidden_file_beside_class_folders_is_ignored(tmp_path):
    """macOS's ._Icon.png beside the class folders: "1 image(s) lie beside the class sub-folders"."""
    for c in "ab":
        grey(tmp_path / c / "x.png")
    (tmp_path / "._Icon.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (x, _, names), said = caught(load_image_folder, tmp_path)
    assert names == ["a", "b"] and len(x) == 2 and not said, said
