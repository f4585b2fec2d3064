"""An image folder's side before and after it is read: the --set that gives its images another
side, the note on a large side the folder chose itself (data.size = 0), and its extent (image
files, side) told from file names and one header, so the memory check (gankit.train.budget)
refuses a folder too big to hold before any image is decoded (PIL reads one header, no pixels)."""
from __future__ import annotations

import warnings

from gankit.data.image_decode import too_many_pixels
from gankit.data.image_files import ImageDataError, list_image_folder


# a side above which an image folder's own size is named with the way to train smaller
LARGE_SIDE = 256
# building an image folder's dataset holds about 3 x its pixels at its peak (the decoded images,
# their stack, the training and held-out copies; measured peak RSS over 70 768x768 RGB photos
# and at data.size=512: 3.1-3.4 x)
FOLDER_BUILD_COPIES = 3


def folder_resize_hint(resize: str):
    """side -> the --set that gives an image folder's images that side."""
    return lambda side: (f"--set data.size={side}"
                         + (" --set data.resize=stretch (or crop, pad)" if resize == "error" else ""))


def large_side_note(name: str, side: int, size: int, resize: str) -> str | None:
    """Why a folder's own large side (data.size = 0) is costly and how to train smaller; None for a
    side the user chose or a small one."""
    if size or side <= LARGE_SIDE:
        return None
    return (f"{name}: images of {side}x{side} (data.size = 0 keeps the first image's size); a "
            f"DCGAN's G and D grow a layer of twice the channels each time the side doubles "
            f"({side * 8}-channel maps at width 32), slow to train on a CPU and large in memory; "
            f"to train smaller: {folder_resize_hint(resize)(64)}")


def folder_extent(path: str, size: int, resize: str) -> tuple[int, int] | None:
    """(image files, side) of an image folder before any is decoded, for the memory check: the files
    ``load_image_folder`` would read (one sub-folder per class, else the folder's own files; less
    those found skipped before the first read) and the side ``data.size`` gives, or with 0 the
    first read image's, from its header alone (files the loader skips from theirs passed over);
    None where it cannot be told (the loader then says what is wrong)."""
    try:
        from PIL import Image
    except ImportError:      # the loader says how to install it
        return None
    try:
        with warnings.catch_warnings():     # the loader says what it leaves out, once
            warnings.simplefilter("ignore")
            files = [p for p, _ in list_image_folder(path)[1]]
    except (ImageDataError, OSError):
        return None
    if size or not files:
        return (len(files), size) if files else None
    for skipped, p in enumerate(files[:10]):      # the first the loader reads, as it takes its side
        try:
            with warnings.catch_warnings(), Image.open(p) as im:    # the header only: no pixels decoded
                warnings.simplefilter("ignore")                    # the loader warns about the file
                w, h = im.size
        except Exception:    # noqa: BLE001 (any unreadable file: the loader skips it with a warning)
            continue
        if too_many_pixels(w, h):   # the loader skips it: its side (8200x8200) asked for 225 GB
            continue
        return len(files) - skipped, (max(w, h) if resize == "error" else min(w, h))
    return None
