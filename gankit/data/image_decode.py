"""Decoding one image file for gankit: what Pillow reads, turned into the grey or RGB picture a
viewer shows (EXIF orientation; 16-bit, 32-bit and float pixels scaled to 8 bits, one scale for
a folder's files; transparent pixels over black; decompression bombs refused from the header),
and fitted to a square side by a resize policy.

Apart from image_files.py (image folders, single files) and idx_files.py (IDX sets), which find the
files and decide what a bad one means there (an error, or a warning and a skip): these read one file.
``ImageDataError`` lives here, the lowest of the three; image_files.py re-exports it.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from gankit.config import ConfigError
from gankit.streams import pasteable


class ImageDataError(ConfigError):
    """An image file or folder cannot be used; the message says which and why.  ``reason``, where
    set, is a key of SKIPS: a folder's reader says the files skipped for one reason in one line."""
    reason: str | None = None


MAX_PIXELS = 2**26   # 67 megapixels: a larger image is a photo to downscale, a mistake or a decompression bomb
DOWNSCALE = "mogrify -resize 2048x2048"   # ImageMagick, in place, keeping the aspect ratio

# why image files were skipped, as one line says it of several: (what they are, the fix, given
# the folder and the first such file)
SKIPS = {
    "unreadable": ("are not readable images (empty, truncated or not images)",
                   lambda root, first: "replace them or remove them"),
    "permission": ("cannot be read by this user (Permission denied)",
                   lambda root, first: f"let them be read: chmod -R a+rX {pasteable(root)} "
                                       "(or run gankit as their owner)"),
    "large": (f"are over the {MAX_PIXELS / 1e6:.0f} megapixels gankit reads (a guard against decompression bombs)",
              lambda root, first: f"if they are photos, downscale them, e.g. {DOWNSCALE} {pasteable(first)} "
                                  "(ImageMagick; in place, keeping the aspect ratio)"),
}


class FilesSkipped(UserWarning):
    """Image files a folder's reader left out (unreadable, too large, not images, beside the class
    folders).  Said when a run is made; a later command that opens the run says them again only
    with a refusal of its data as changed (gankit.data.build_run_dataset keeps them): a file
    damaged since training is then named, not only counted."""


def refused(message: str, reason: str) -> ImageDataError:
    e = ImageDataError(message)
    e.reason = reason
    return e


def no_permission(path: Path, folder: bool = False) -> ImageDataError:
    """A file or folder this user may not read: the chmod that lets it, naming it."""
    how = f"chmod -R a+rX {pasteable(path)}" if folder else f"chmod a+r {pasteable(path)}"
    return refused(f"{path} cannot be read by this user (Permission denied); let it be read: {how} "
                   "(or run gankit as its owner)", "permission")


def read_image(path: Path, channels: int, notes: dict | None = None, wide: bool = False):
    """The decoded image the way up a viewer shows it (EXIF orientation), converted to grey (1)
    or RGB (3); an ImageDataError saying why not.  ``notes["transparent"]`` counts images whose
    transparent pixels were composited over black; ``notes["depth"]`` maps each integer or float
    image's path to the range its own pixels suggested (_eight_bit), ``wide`` forces the wider."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            w, h = im.size   # from the header, before decoding anything
            if too_many_pixels(w, h):
                raise _too_large(path, f"is {w}x{h} pixels ({w * h / 1e6:.1f} megapixels)")
            bits = _low_grey_bits(im)      # the tile that tells it is gone once decoded
            im.load()
            if bits and isinstance(im.info.get("transparency"), int):
                # Pillow scales 2- and 4-bit grey up to 8 bits (1 -> 85 at 2 bits) but not the colour
                # key, so no pixel matched it: the key scaled the same way
                im.info["transparency"] = im.info["transparency"] * 255 // (2 ** bits - 1)
            im = _opaque(_eight_bit(ImageOps.exif_transpose(im), path, notes, wide), path, notes)
            if channels == 1 and notes is not None and im.mode not in ("L", "1", "I", "F"):
                rgb = np.asarray(im.convert("RGB"))
                if (rgb[..., 0] != rgb[..., 1]).any() or (rgb[..., 1] != rgb[..., 2]).any():
                    notes["colour"] = notes.get("colour", 0) + 1     # its colour is lost to grey: said once
            return im.convert("L" if channels == 1 else "RGB")
    except ImageDataError:
        raise
    except PermissionError:
        raise no_permission(path) from None
    except Image.DecompressionBombError as e:      # Pillow's own limit, met before the header is seen here
        raise _too_large(path, f"is too large ({e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise refused(f"{path} is not a readable image ({type(e).__name__}: {e}); it may be "
                      "truncated or not an image: replace it or remove it", "unreadable") from None


def _low_grey_bits(im) -> int:
    """2 or 4 where ``im`` (opened, not yet loaded) is a PNG grey image stored at that many bits per
    pixel (its raw mode L;2 or L;4), else 0.  1-bit ones are mode "1", whose key Pillow scales itself."""
    if im.format != "PNG" or im.mode != "L" or not im.tile:
        return 0
    args = im.tile[0][3]       # the raw mode: a string, or (raw mode, ...) in older Pillow
    raw = args if isinstance(args, str) else (args[0] if args else "")
    return {"L;2": 2, "L;4": 4}.get(raw, 0)


def too_many_pixels(w: int, h: int) -> bool:
    """What read_image refuses from the header alone; image_folder_side.folder_extent passes over such files
    too, so the memory check takes the side the loader takes."""
    return w * h > MAX_PIXELS


def _too_large(path: Path, said: str) -> ImageDataError:
    return refused(f"{path} {said}, over the {MAX_PIXELS / 1e6:.0f} megapixels gankit reads (a guard against "
                   f"decompression bombs); if it is a photo, downscale it: {DOWNSCALE} {pasteable(path)} "
                   "(ImageMagick; in place, keeping the aspect ratio)", "large")


# ranges an integer (I) or float (F) image may hold: the narrow one where its pixels fit, else the wide
NARROW, WIDE = {"I": "[0, 255]", "F": "[0, 1]"}, {"I": "[0, 65535]", "F": "[0, 255]"}


def _eight_bit(im, path: Path, notes: dict | None = None, wide: bool = False):
    """Grey images of 16 bits (I;16, I) or floats (F) as 8-bit L: Pillow's convert clips them at
    255 instead of scaling (a 16-bit ramp came out 97% white, a [0, 1] float image black).
    A 32-bit integer (I) or float (F) file does not say its range: the narrow one is taken where
    its pixels fit in it, unless ``wide`` (a folder holds one scale: load_image_folder)."""
    from PIL import Image
    if not (im.mode.startswith("I") or im.mode == "F"):
        return im
    a = np.asarray(im, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ImageDataError(f"{path} holds non-finite pixel values (NaN or inf); replace or remove it")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if im.mode == "F":
        if not (lo >= 0 and hi <= 255):
            raise ImageDataError(f"{path}: float pixels in [{lo:g}, {hi:g}]; gankit reads float images "
                                 "in [0, 1] or [0, 255]: rescale the file to one of them")
        narrow = hi <= 1
        if narrow and not wide:
            a = a * 255.0                              # floats in [0, 1]
    elif lo < 0 or hi > 65535:
        raise ImageDataError(f"{path}: integer pixels in [{lo:g}, {hi:g}]; gankit reads 8- and 16-bit "
                             "images: rescale the file to [0, 65535] or [0, 255]")
    else:
        narrow = hi <= 255 and not im.mode.startswith("I;16")
        if wide or not narrow:
            a = a / 257.0                              # 16 bits: 65535 -> 255
    if notes is not None and not im.mode.startswith("I;16"):
        notes.setdefault("depth", {})[path] = (im.mode[0], narrow)
    grey = Image.fromarray(np.rint(a).astype(np.uint8), "L")
    key = im.info.get("transparency")
    if isinstance(key, int) and im.mode != "F":
        # a 16-bit PNG's colour key (tRNS) names a 16-bit value: matched before scaling (65534 and 65535
        # both become 255), kept as alpha for _opaque; Pillow's own convert("RGBA") of I;16 is all clear
        clear = np.asarray(im, dtype=np.int64) == key
        if clear.any():
            return Image.merge("LA", (grey, Image.fromarray(np.where(clear, 0, 255).astype(np.uint8), "L")))
    return grey


def _opaque(im, path: Path, notes: dict | None):
    """Transparent pixels composited over black (the pad policy's colour): convert alone drops the
    alpha channel and shows whatever colour was stored under it."""
    from PIL import Image
    # "transparency" in info: a palette's clear entries, or a colour key (PNG tRNS of an L, RGB or 1
    # image; a 2- or 4-bit grey one scaled to 8 bits in read_image), which convert("RGBA") turns into alpha
    if not (im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info):
        return im
    rgba = im.convert("RGBA")
    if rgba.getextrema()[3][0] == 255:
        return im
    if notes is not None:
        notes["transparent"] = notes.get("transparent", 0) + 1
    else:
        warnings.warn(f"{path} has transparent pixels: composited over black", stacklevel=4)
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)


def fit_image(im, size: int, policy: str, path: Path, first: Path | None = None):
    """``im`` at size x size by ``policy``.  ``first``: the first image a folder's walk read, where
    the caller knows it (``path`` itself for the first); under "error" every image read before this
    one was size x size, so the message can tell one odd image from a folder of several sizes."""
    from PIL import Image
    w, h = im.size
    if (w, h) == (size, size):
        return im
    if policy == "error":
        resize = "choose a resize policy with --set data.resize=stretch|crop|pad"
        if first is not None and first != path:
            # data.size=w would refuse the images read before this one: only a resize policy fits both
            root = Path(os.path.commonpath([first, path]))      # the folder, above its class folders
            raise ImageDataError(f"{root} holds images of several sizes, e.g. {first.relative_to(root)} is "
                                 f"{size}x{size} and {path.relative_to(root)} is {w}x{h}; {resize}")
        # data.size fits every image seen where this square one is the first read (or the caller
        # knows no other: a single file)
        offer = f" or set data.size={w}" if w == h else ""
        raise ImageDataError(f"{path} is {w}x{h}, not {size}x{size}; {resize}{offer}")
    if policy == "stretch":
        return im.resize((size, size), Image.BILINEAR)
    if policy == "crop":  # scale the short side to size, centre crop the long one
        s = size / min(w, h)
        sw, sh = max(size, round(w * s)), max(size, round(h * s))      # the whole image, scaled
        left, top = (sw - size) // 2, (sh - size) // 2
        # only the crop's box is resampled (the same pixels): scaling a 1x60000 strip whole to
        # 64 rows took 400 MB, and memory grew with data.size
        fx, fy = w / sw, h / sh
        return im.resize((size, size), Image.BILINEAR,
                         box=(left * fx, top * fy, (left + size) * fx, (top + size) * fy))
    # pad: scale the long side to size, centre on a black square
    s = size / max(w, h)
    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR)
    canvas = Image.new(im.mode, (size, size))
    canvas.paste(im, ((size - im.size[0]) // 2, (size - im.size[1]) // 2))
    return canvas


def one_scale(root: Path, images: list, read: list, depth: dict, reread):
    """One range for a folder's 32-bit integer (or float) images: where some file's pixels exceed
    the narrow range, the files whose pixels fit in it are read again in the wide one (the same
    stored value was 200 in one file and 1 in another), with a warning naming them."""
    for kind, what in (("I", "32-bit integer"), ("F", "float")):
        narrow = [p for p, (k, n) in depth.items() if k == kind and n]
        if not narrow or len(narrow) == sum(k == kind for k, _ in depth.values()):
            continue
        where = {p: i for i, p in enumerate(read)}
        for p in narrow:
            a = np.asarray(reread(p), dtype=np.uint8)
            images[where[p]] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        warnings.warn(f"{root}: {len(narrow)} {what} image(s) have every pixel in {NARROW[kind]} while others "
                      f"exceed it, e.g. {[p.name for p in narrow[:3]]}; every {what} image is read as "
                      f"{WIDE[kind]} (one scale for the folder): rescale the files if they are not", stacklevel=3)
