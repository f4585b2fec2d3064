"""The images and masks that latent inversion reads (``gankit invert``/``complete`` and
``gankit.api.invert``/``complete``): files, folders, arrays and the run's held-out split, in the
run's (C, H, W) and the data's [-1, 1]; every wrong input refused with what to give instead."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.config import ConfigError
from gankit.data.points import npy_shortfall
from gankit.train.inversion_specs import MASKS, PATTERN, is_split, several  # noqa: F401  (their home)

NPY_MAGIC = b"\x93NUMPY"                            # how every file numpy.save writes begins


def _load_npy(p: Path, said: str) -> tuple[torch.Tensor, str]:
    """The array in ``p`` as a tensor, and the dtype it was written with (messages name that,
    not the wider type it is read as); ``said``: the input as the user gave it, in messages."""
    if not p.is_file():
        raise ConfigError(f"{said}: {'is a folder, not a .npy file' if p.is_dir() else 'no such file'}")
    fix = "write it with numpy.save from an array of numbers"
    with open(p, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if head != NPY_MAGIC:      # numpy would try it as a pickle and talk of allow_pickle
        raise ConfigError(f"{said}: not a readable .npy array: it is not a numpy array file (a text "
                          f"file or another format named .npy?); {fix}")
    if (short := npy_shortfall(p)) is not None:
        raise ConfigError(f"{said}: not a readable .npy array: it {short}; {fix}")
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        why = "it holds Python objects, not numbers" if "allow_pickle" in str(e) else str(e)
        raise ConfigError(f"{said}: not a readable .npy array ({why}); {fix}") from None
    return _numbers(a, said)


def _numbers(a, said: str) -> tuple[torch.Tensor, str]:
    """An array of numbers (numpy's, torch's, nested lists) as a CPU tensor of a type the checks
    can take, and the dtype it was given in."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        a = (a.float() if a.dtype == torch.bfloat16 else a).numpy()     # numpy has no bfloat16
    elif not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except ValueError as e:                      # ragged nested lists
            raise ConfigError(f"{said}: not an array of numbers ({e})") from None
    if a.dtype.kind not in "biuf":
        raise ConfigError(f"{said}: expected an array of numbers, got {a.dtype}")
    written = str(a.dtype)
    if a.dtype.kind in "bf" and a.dtype != np.float32:
        a = a.astype(np.float32)
    elif a.dtype.kind in "iu" and a.dtype != np.uint8:
        a = a.astype(np.int64)                       # torch's unsigned 16/32/64-bit types lack min/max
    return torch.as_tensor(np.ascontiguousarray(a)), written


IMAGE_FORMS = ("an array or tensor of images, a path to a .npy file, an image file or a folder of them, "
               "a glob pattern (imgs/*.png) or a list of image files, or heldout[:N]")
MASK_FORMS = (f"one of {', '.join(MASKS)}, a path to a .npy file, or an array of (H, W), (1, H, W) or (C, H, W) "
              "with 1 = missing, 0 = known")


def _an_array(a, said: str, forms: str):
    """``a`` when it can be an array of numbers; else (None, a dict, ...) refused listing ``forms``,
    the inputs taken (numpy would call it an array of objects)."""
    if isinstance(a, (np.ndarray, torch.Tensor, list, tuple)) or np.isscalar(a) and not isinstance(a, (str, bytes)):
        return a
    raise ConfigError(f"{said}: got {type(a).__name__}; give {forms}")


def _heldout(spec: str, dataset, said: str) -> torch.Tensor:
    n = None
    if spec != "heldout":
        head, _, count = spec.partition(":")
        if head != "heldout" or not count.isdigit() or int(count) < 1:
            raise ConfigError(f"{said}: write heldout (every held-out image) or heldout:N "
                              "with N >= 1 (the first N)")
        n = int(count)
    if getattr(dataset, "heldout", None) is None:
        raise ConfigError(f"{said}: this run's data hold no images out (too few images, or "
                          "data.holdout=0); give a .npy file, an image file or a folder of images")
    x = dataset.split("heldout", n)
    if n is not None and n > len(x):
        warnings.warn(f"{said}: the run's held-out split holds {len(x)} images, fewer than {n}; all "
                      f"{len(x)} are used", stacklevel=3)
    return x


def _to_run_shape(x: torch.Tensor, shape: tuple[int, ...], said: str) -> torch.Tensor:
    """(n, C, H, W) from the layouts people save: (n, C, H, W), (n, H, W, C), one image
    (C, H, W) / (H, W, C), and for grey data (n, H, W) / (H, W)."""
    c, h, w = shape
    given = tuple(x.shape)         # the error names the array as the user gave it
    if x.dim() == 2 and c == 1:
        x = x[None]
    if x.dim() == 3:
        if tuple(x.shape) == shape:
            x = x[None]
        elif tuple(x.shape) == (h, w, c):
            x = x[None]
        elif c == 1:
            x = x[:, None]
    if x.dim() == 4 and tuple(x.shape[1:]) == (h, w, c) and c != h:
        x = x.permute(0, 3, 1, 2)
    if x.dim() != 4 or tuple(x.shape[1:]) != shape:
        layouts = "(n, C, H, W) or (n, H, W, C)" + (", (n, H, W)" if c == 1 else "")
        raise ConfigError(f"{said}: array of shape {given}, but the run's images are "
                          f"{shape} (C, H, W); give {layouts} with C={c}, H={h}, W={w}, or a folder or "
                          f"an image file (resized to {h}x{w}, converted to {'grey' if c == 1 else 'RGB'})")
    return x.contiguous()


def _read_file(p: Path, dataset, notes: dict, wide: bool = False) -> np.ndarray:
    """One image file as the run's uint8 (C, H, W): as it is where it already has the run's size
    (a held-out image saved at it comes back unchanged); else prepared as the run's own files
    were, fitted by its resize policy to the side they had, then resized (28 -> 32: a zero pad)."""
    from gankit.data.image_decode import fit_image, read_image
    from gankit.data.images import resize_images
    from PIL import Image
    c, h, w = dataset.shape
    im = read_image(p, c, notes, wide)
    if c == 3:
        with Image.open(p) as f:                     # the header: read_image's RGB hides a grey file
            if f.mode.startswith(("1", "L", "I", "F")):
                notes["grey"] = notes.get("grey", 0) + 1
    if im.size != (w, h):
        side, policy = getattr(dataset, "file_side", w), getattr(dataset, "file_resize", "stretch")
        if im.size != (side, side):     # at the side the run's own files had it is prepared as they were
            notes.setdefault("resized", []).append(im.size)
            notes["fit"] = (w, h, policy)
        im = fit_image(im, side, policy, p)
    a = np.array(im, dtype=np.uint8)                 # a writable copy: torch warns of a read-only one
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return resize_images(torch.as_tensor(a)[None], w)[0].numpy()


def _read_folder(root: Path, said: str, dataset, files: list | None) -> torch.Tensor:
    """Every image file under ``root`` (sub-folders too: invert has no classes; hidden ones
    left out), read by _read_listed."""
    paths = sorted(q for q in root.rglob("*") if not any(part.startswith(".") for part in q.relative_to(root).parts))
    return _read_listed(paths, lambda q: str(q.relative_to(root)), root, said, dataset, files)


def _read_listed(paths: list[Path], name, where, said: str, dataset, files: list | None) -> torch.Tensor:
    """The image files among ``paths`` (a folder's, a pattern's matches, several paths), each read
    by _read_file; the others and an unreadable one are skipped with a warning; ``name(path)``: how
    messages and ``files`` name it.  The training-data reader's messages (data.path, class folders,
    data.channels) are not for here."""
    import warnings as w
    from gankit.data.image_decode import ImageDataError, one_scale
    from gankit.data.image_files import IMAGE_SUFFIXES
    give = "give a folder holding image files, a .npy file, an image file or heldout[:N]"
    broken = [q for q in paths if q.is_symlink() and not q.exists()]
    found = [q for q in paths if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES]
    other = [q for q in paths if q.is_file() and q.suffix.lower() not in IMAGE_SUFFIXES]
    for what, some in (("non-image file(s)", other), ("link(s) to missing files", broken)):
        if some:
            w.warn(f"{said}: skipped {len(some)} {what}, e.g. {[name(q) for q in some[:3]]}", stacklevel=4)
    if not found:
        raise ConfigError(f"{said}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); {give}")
    images, read, notes = [], [], {}
    for q in found:
        try:
            images.append(_read_file(q, dataset, notes))
        except ImageDataError as e:
            w.warn(f"{e}; skipped", stacklevel=4)
            continue
        read.append(q)
    if not images:
        raise ConfigError(f"{said}: none of the {len(found)} image files could be read; {give}")
    one_scale(where, images, read, notes.get("depth", {}),
              lambda q: _read_file(q, dataset, {}, wide=True).transpose(1, 2, 0))
    _say_notes(said, notes, len(images))
    if files is not None:
        files.extend(name(q) for q in read)
    return torch.as_tensor(np.stack(images))


def _read_several(spec, dataset, files: list | None, said: str) -> torch.Tensor:
    """The images of a glob pattern's matches (sorted), or of several paths (a pattern the shell
    expanded: read as that pattern would be; a folder among them is skipped, as in a folder),
    each named as given."""
    import glob
    import warnings as w
    if isinstance(spec, (str, Path)):
        paths = [Path(q) for q in sorted(glob.glob(str(Path(spec).expanduser()), recursive=True))]
        if not paths:
            raise ConfigError(f"{said}: the pattern matches no files; give a pattern that matches image "
                              "files, a folder of images, a .npy file or heldout[:N]")
    else:
        paths = [Path(q).expanduser() for q in spec]
        # a .npy file or the held-out split is one input by itself: in a list it was skipped as a
        # non-image file or called missing, and fewer images inverted than listed
        alone = [str(q) for q in spec if Path(q).suffix.lower() == ".npy"
                 or str(q).partition(":")[0] == "heldout" and not os.path.lexists(Path(q).expanduser())]
        if alone:
            fix = f"--images {alone[0]}" if said.startswith("--") else f"images={alone[0]!r}"
            raise ConfigError(f"{said}: {alone[0]} is given alone, not in a list: {fix} (or leave it "
                              "out of the list of image files)")
        if missing := [str(q) for q in spec if not os.path.lexists(Path(q).expanduser())]:
            raise ConfigError(f"{said}: no such file: {', '.join(missing[:3])}{', ...' * (len(missing) > 3)}; "
                              "give image files that exist, a folder of images, a .npy file or heldout[:N]")
    if folders := [str(q) for q in paths if q.is_dir()]:
        w.warn(f"{said}: skipped {len(folders)} folder(s) among the files, e.g. {folders[:3]}; to read a "
               "folder's images give that folder alone", stacklevel=3)
    return _read_listed([q for q in paths if not q.is_dir()], str, said, said, dataset, files)


def _say_notes(said: str, notes: dict, n: int):
    """What reading the files changed, in an invert user's terms (the run's channels are fixed)."""
    if notes.get("colour"):
        warnings.warn(f"{said}: {notes['colour']} of {n} image(s) are in colour; they are "
                      "converted to grey, as the run's images are", stacklevel=4)
    if notes.get("transparent"):
        warnings.warn(f"{said}: {notes['transparent']} of {n} image(s) have transparent pixels; "
                      "they are composited over black", stacklevel=4)
    if notes.get("grey"):
        warnings.warn(f"{said}: {notes['grey']} of {n} image(s) are grey; they are copied to 3 channels "
                      "(R = G = B), as the run's images are RGB", stacklevel=4)
    if sizes := notes.get("resized"):
        w, h, policy = notes["fit"]
        seen = list(dict.fromkeys(f"{a}x{b}" for a, b in sizes))
        odd = sum(a != b for a, b in sizes)
        how = {"stretch": "stretched", "crop": "centre-cropped", "pad": "padded with black"}.get(policy, policy)
        warnings.warn(f"{said}: {len(sizes)} of {n} image(s) are resized from {', '.join(seen[:3])}"
                      f"{', ...' * (len(seen) > 3)} to the run's {w}x{h}"
                      + (f"; {odd} of them not square: {how}, as the run's own files were" if odd else ""), stacklevel=4)


def load_images(spec, dataset, files: list | None = None, said: str | None = None) -> torch.Tensor:
    """Images in the data's [-1, 1] from ``spec``: FILE.npy or an array ((n, C, H, W), (n, H, W, C),
    one image, or (n, H, W) for grey data; uint8 or floats in [-1, 1]), an image file, a folder of
    images (both resized to the run's size), or ``heldout[:N]`` (the run's held-out split).
    ``files`` gets each image's file, relative to the folder, where they came from files;
    ``said``: how messages name the input (default ``--images SPEC``, the command line's)."""
    shape = tuple(dataset.shape)
    if getattr(dataset, "kind", "points") != "image" or len(shape) != 3:
        raise ConfigError(f"invert and complete fit G to images; this run's data "
                          f"({type(dataset).__name__}) are {getattr(dataset, 'kind', 'points')} of shape "
                          f"{shape}: train on image data (mnist5k, fashion-mnist, a folder) to use them")
    dtype = None                                     # the dtype an array was given in
    if several(spec):
        listed = spec if isinstance(spec, (str, Path)) else f"{spec[0]} ... ({len(spec)} paths)"
        said = said or f"--images {listed}"
        x = _read_several(spec, dataset, files, said)
    elif not isinstance(spec, (str, Path)):
        said = said or "images"
        x, dtype = _numbers(_an_array(spec, said, IMAGE_FORMS), said)
        x = _pixels_in_shape(x, dtype, shape, said)
    elif is_split(spec):
        return _heldout(str(spec), dataset, said or f"--images {spec}")
    else:
        said = said or f"--images {spec}"
        x, dtype = _read_path(Path(spec).expanduser(), dataset, files, said, shape)
    if len(x) == 0:
        raise ConfigError(f"{said}: holds 0 images; give at least one")
    if not x.dtype.is_floating_point:                # integers (any width): pixels in [0, 255]
        if len(x) and (x.min() < 0 or x.max() > 255):
            raise ConfigError(f"{said}: {dtype or str(x.dtype).replace('torch.', '')} values in "
                              f"[{int(x.min())}, {int(x.max())}]; integer pixels must lie in [0, 255]")
        if dtype is not None and 0 < x.max() <= 1:    # 0/1 of 255 is black: binary images saved as ints
            warnings.warn(f"{said}: {dtype} values all in [0, 1] are read as pixels in [0, 255] "
                          "(nearly black); if they are binary images, give x * 255 or x.astype(bool)",
                          stacklevel=2)
        return x.float() / 127.5 - 1
    x = x.float()
    if not torch.isfinite(x).all():
        raise ConfigError(f"{said}: the array holds NaN or infinite values")
    if x.min() < -1.01 or x.max() > 1.01:
        raise ConfigError(f"{said}: values in [{float(x.min()):.3g}, {float(x.max()):.3g}]; "
                          "give uint8 pixels in [0, 255] or floats in [-1, 1] (x / 127.5 - 1)")
    # a bool array was mapped to -1 / +1 already; uniform values (a white page) give no hint of a scale
    if len(x) and x.min() >= 0 and x.min() < x.max() and dtype != "bool":
        warnings.warn(f"{said}: float values all in [0, {float(x.max()):.3g}] are read as pixels in "
                      "[-1, 1] (0 is mid-grey); if they are pixels in [0, 1], give x * 2 - 1", stacklevel=2)
    return x.clamp(-1, 1)


def _pixels_in_shape(x: torch.Tensor, dtype: str, shape: tuple[int, ...], said: str) -> torch.Tensor:
    if dtype == "bool":                              # binary pixels: black and white, not mid-grey
        x = x * 2 - 1
    return _to_run_shape(x, shape, said)


def _read_path(p: Path, dataset, files: list | None, said: str, shape) -> tuple[torch.Tensor, str | None]:
    from gankit.data.image_files import IMAGE_SUFFIXES
    if p.is_dir():
        return _read_folder(p, said, dataset, files), None
    if p.suffix.lower() == ".npy":
        x, dtype = _load_npy(p, said)
        return _pixels_in_shape(x, dtype, shape, said), dtype
    if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
        notes: dict = {}
        x = torch.as_tensor(_read_file(p, dataset, notes))[None]      # unreadable: its error, not a skip
        _say_notes(said, notes, 1)
        if files is not None:
            files.append(p.name)
        return x, None
    if not p.exists():
        raise ConfigError(f"{said}: no such file or folder; give a .npy file, an image file, "
                          "a folder of images, or heldout[:N]")
    raise ConfigError(f"{said}: give a .npy file, an image file "
                      f"({', '.join(sorted(IMAGE_SUFFIXES))}), a folder of images, or heldout[:N]")


def make_mask(spec, shape: tuple[int, ...], said: str | None = None) -> torch.Tensor:
    """1 where pixels are missing: a named part of the image, or FILE.npy or an array of (H, W),
    (1, H, W) or (C, H, W) with values 0 (known) and 1 (missing); ``said`` as load_images'."""
    h, w = shape[-2:]
    m = torch.zeros(shape)
    if isinstance(spec, str) and spec in MASKS:
        sl = {"top": (slice(0, h // 2), slice(None)), "bottom": (slice(h // 2, None), slice(None)),
              "left": (slice(None), slice(0, w // 2)), "right": (slice(None), slice(w // 2, None)),
              "centre": (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))}[spec]
        m[..., sl[0], sl[1]] = 1
        # on a tiny image a half or the centre can be every pixel or none (top of 1x1, centre of
        # 3x3): an empty known or missing set would report an MSE of 0 over nothing
        _check_some_missing(m, f"{said or f'--mask {spec}'}: on {h}x{w} images it", f"; pick another named mask "
                            "or give a .npy mask (1 = missing, 0 = known)")
        return m
    if isinstance(spec, (str, Path)):
        said = said or f"--mask {spec}"
        p = Path(spec).expanduser()
        if p.suffix.lower() != ".npy":
            raise ConfigError(f"{said}: one of {', '.join(MASKS)}, or a .npy file (1 = missing)")
        a = _load_npy(p, said)[0].float()
    else:
        said = said or "mask"
        a = _numbers(_an_array(spec, said, MASK_FORMS), said)[0].float()
    ok = [(h, w), (1, h, w)] + ([tuple(shape)] if len(shape) == 3 else [])
    if tuple(a.shape) not in ok:
        raise ConfigError(f"{said}: shape {tuple(a.shape)}, but one mask for all images must be "
                          f"{' or '.join(str(s) for s in dict.fromkeys(ok))} (1 = missing, 0 = known)")
    other = a[(a != 0) & (a != 1)]
    if len(other):      # a pixel is missing or known: a fraction would weigh the fit and the errors unevenly
        top = float(a.nan_to_num().max())
        raise ConfigError(f"{said}: values must be 0 (known) or 1 (missing); got {len(other)} other "
                          f"value(s), e.g. {float(other[0]):.3g}"
                          + ("; a 0/255 mask: divide it by 255" if top == 255 and not (other != 255).any() else ""))
    _check_some_missing(a, f"{said}:", " (1 = missing, 0 = known; to reconstruct whole images, invert them "
                        "instead)")
    return m + a.expand(shape)


def _check_some_missing(a: torch.Tensor, said: str, fix: str) -> None:
    """Refuse a mask that marks no pixel, or every pixel, as missing."""
    if a.max() == 0 or a.min() == 1:
        raise ConfigError(f"{said} marks {'no' if a.max() == 0 else 'every'} pixel as missing, so there "
                          "is nothing to " + ("fill" if a.max() == 0 else "fit G to") + fix)
