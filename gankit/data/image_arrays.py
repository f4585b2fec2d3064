"""Advice for an array of images given where gankit reads points (data.name = "points").

Images are read from a folder of PNG/JPEG files (data.name = "image-folder"), not from arrays:
the message names the file and gives the Python line that writes its images as PNGs, fitted to
the array's layout and value range, or the reshape that trains its values as points.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CHANNELS = (1, 3, 4)     # grey, RGB, RGBA: what PIL saves from an array


def _one_image(shape: tuple[int, ...]) -> str | None:
    """How one image ``im`` of an array of this shape becomes what PIL saves, (H, W) or (H, W, C);
    None for an array that is not laid out as images: (N, H, W), (N, H, W, C) or (N, C, H, W)."""
    if len(shape) == 3:
        return "im"
    if len(shape) != 4:
        return None
    if shape[-1] in CHANNELS:
        return "im[..., 0]" if shape[-1] == 1 else "im"
    if shape[1] in CHANNELS:
        return "im[0]" if shape[1] == 1 else "im.transpose(1, 2, 0)"
    return None


def _to_uint8(a: np.ndarray) -> str | None:
    """The expression that turns ``x`` (values like ``a``'s) into 0-255 pixels ("x" when they are
    already uint8); None when the range says nothing (NaN, or beyond 0-255 and -1-1)."""
    if a.dtype == np.uint8:
        return "x"
    lo, hi = float(a.min()), float(a.max())
    if a.dtype.kind == "f" and 0 <= lo and hi <= 1:
        return "(x * 255).round().astype(np.uint8)"
    if a.dtype.kind == "f" and -1 <= lo and hi <= 1:       # a tanh's range
        return "((x + 1) * 127.5).round().astype(np.uint8)"
    if 0 <= lo and hi <= 255:
        return "np.round(x).astype(np.uint8)"
    return None


def image_array_advice(p: Path, a: np.ndarray) -> str:
    """data.path's error for a numeric array of 3 or more dimensions (``a``, read from ``p``)."""
    n, dim = len(a), int(np.prod(a.shape[1:]))
    flat = p.with_name(f"{p.stem}_flat.npy")
    points = (f"to train its values as points, save one point a row: np.save({str(flat)!r}, "
              f"np.load({str(p)!r}).reshape({n}, {dim})) and give --set data.path={flat}")
    one, pixels = _one_image(a.shape), _to_uint8(a) if a.size else None
    if one is None or not n:
        return f"data.path: {str(p)!r} holds an array of shape {a.shape}, not (n_points, dim); {points}"
    folder = p.with_name(f"{p.stem}_images")
    convert = "" if pixels in (None, "x") else f"x = {pixels}; "
    write = (f"import numpy as np, os; from PIL import Image; x = np.load({str(p)!r}); {convert}"
             f"os.makedirs({str(folder)!r}, exist_ok=True); [Image.fromarray({one}).save(os.path.join("
             f"{str(folder)!r}, f'{{i:06d}}.png')) for i, im in enumerate(x)]")
    scale = ("" if pixels is not None else f"its values ({float(a.min()):.3g} to {float(a.max()):.3g}) "
             "are not 0-255 pixels: scale them to 0-255 as uint8 first, then ")
    channels = 3 if one in ("im", "im.transpose(1, 2, 0)") and a.ndim == 4 else 1
    return (f"data.path: {str(p)!r} holds an array of shape {a.shape}, which looks like {n} images, and "
            f"gankit reads images from a folder of PNG/JPEG files, not from arrays; {scale}write them as "
            f"PNGs in Python ({write}) and train with --set data.name=image-folder --set data.path={folder}"
            + (" --set data.channels=3" if channels == 3 else "") + f"; or, {points}")
