"""``gankit invert`` and ``gankit complete``: latent inversion of a trained G from the command
line (the logic is gankit/train/inversion.py; this parses, loads images, writes files)."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.config import ConfigError
from gankit.data.points import npy_shortfall

MASKS = ("top", "bottom", "left", "right", "centre")
NPY_MAGIC = b"\x93NUMPY"                            # how every file numpy.save writes begins


def _load_npy(p: Path, what: str) -> tuple[torch.Tensor, str]:
    """The array in ``p`` as a tensor, and the dtype it was written with (messages name that,
    not the wider type it is read as)."""
    if not p.is_file():
        raise ConfigError(f"{what} {p}: {'is a folder, not a .npy file' if p.is_dir() else 'no such file'}")
    fix = "write it with numpy.save from an array of numbers"
    with open(p, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if head != NPY_MAGIC:      # numpy would try it as a pickle and talk of allow_pickle
        raise ConfigError(f"{what} {p}: not a readable .npy array: it is not a numpy array file (a text "
                          f"file or another format named .npy?); {fix}")
    if (short := npy_shortfall(p)) is not None:
        raise ConfigError(f"{what} {p}: not a readable .npy array: it {short}; {fix}")
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        why = "it holds Python objects, not numbers" if "allow_pickle" in str(e) else str(e)
        raise ConfigError(f"{what} {p}: not a readable .npy array ({why}); {fix}") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf":
        raise ConfigError(f"{what} {p}: expected an array of numbers, got "
                          f"{getattr(a, 'dtype', type(a).__name__)}")
    written = str(a.dtype)
    if a.dtype.kind in "bf" and a.dtype != np.float32:
        a = a.astype(np.float32)
    elif a.dtype.kind in "iu" and a.dtype != np.uint8:
        a = a.astype(np.int64)                       # torch's unsigned 16/32/64-bit types lack min/max
    return torch.as_tensor(a), written


def _heldout(spec: str, dataset) -> torch.Tensor:
    n = None
    if spec != "heldout":
        head, _, count = spec.partition(":")
        if head != "heldout" or not count.isdigit() or int(count) < 1:
            raise ConfigError(f"--images {spec}: write heldout (every held-out image) or heldout:N "
                              "with N >= 1 (the first N)")
        n = int(count)
    if getattr(dataset, "heldout", None) is None:
        raise ConfigError(f"--images {spec}: this run's data hold no images out (too few images, or "
                          "data.holdout=0); give a .npy file, an image file or a folder of images")
    return dataset.split("heldout", n)


def _to_run_shape(x: torch.Tensor, shape: tuple[int, ...], spec: str) -> torch.Tensor:
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
        raise ConfigError(f"--images {spec}: array of shape {given}, but the run's images are "
                          f"{shape} (C, H, W); give {layouts} with C={c}, H={h}, W={w}, or a folder or "
                          f"an image file (resized to {h}x{w}, converted to {'grey' if c == 1 else 'RGB'})")
    return x.contiguous()


def _read_file(p: Path, dataset, notes: dict, wide: bool = False) -> np.ndarray:
    """One image file as the run's uint8 (C, H, W): as it is where it already has the run's size
    (a held-out image saved at it comes back unchanged); else prepared as the run's own files
    were, fitted by its resize policy to the side they had, then resized (28 -> 32: a zero pad)."""
    from gankit.data.image_decode import fit_image, read_image
    from gankit.data.images import resize_images
    c, h, w = dataset.shape
    im = read_image(p, c, notes, wide)
    if im.size != (w, h):
        im = fit_image(im, getattr(dataset, "file_side", w), getattr(dataset, "file_resize", "stretch"), p)
    a = np.array(im, dtype=np.uint8)                 # a writable copy: torch warns of a read-only one
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return resize_images(torch.as_tensor(a)[None], w)[0].numpy()


def _read_folder(root: Path, spec: str, dataset, files: list | None) -> torch.Tensor:
    """Every image file under ``root`` (sub-folders too: invert has no classes; hidden ones
    left out), each read by _read_file; an unreadable one is skipped with a warning.  The
    training-data reader's messages (data.path, class folders, data.channels) are not for here."""
    import warnings as w
    from gankit.data.image_decode import ImageDataError, one_scale
    from gankit.data.image_files import IMAGE_SUFFIXES
    give = "give a folder holding image files, a .npy file, an image file or heldout[:N]"
    paths = sorted(q for q in root.rglob("*") if not any(part.startswith(".") for part in q.relative_to(root).parts))
    broken = [q for q in paths if q.is_symlink() and not q.exists()]
    found = [q for q in paths if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES]
    other = [q for q in paths if q.is_file() and q.suffix.lower() not in IMAGE_SUFFIXES]
    for what, some in (("non-image file(s)", other), ("link(s) to missing files", broken)):
        if some:
            w.warn(f"--images {spec}: skipped {len(some)} {what}, e.g. "
                   f"{[str(q.relative_to(root)) for q in some[:3]]}", stacklevel=3)
    if not found:
        raise ConfigError(f"--images {spec}: holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); {give}")
    images, read, notes = [], [], {}
    for q in found:
        try:
            images.append(_read_file(q, dataset, notes))
        except ImageDataError as e:
            w.warn(f"{e}; skipped", stacklevel=3)
            continue
        read.append(q)
    if not images:
        raise ConfigError(f"--images {spec}: none of the {len(found)} image files could be read; {give}")
    one_scale(root, images, read, notes.get("depth", {}),
              lambda q: _read_file(q, dataset, {}, wide=True).transpose(1, 2, 0))
    _say_notes(spec, notes, len(images))
    if files is not None:
        files.extend(str(q.relative_to(root)) for q in read)
    return torch.as_tensor(np.stack(images))


def _say_notes(spec: str, notes: dict, n: int):
    """What reading the files changed, in an invert user's terms (the run's channels are fixed)."""
    if notes.get("colour"):
        warnings.warn(f"--images {spec}: {notes['colour']} of {n} image(s) are in colour; they are "
                      "converted to grey, as the run's images are", stacklevel=4)
    if notes.get("transparent"):
        warnings.warn(f"--images {spec}: {notes['transparent']} of {n} image(s) have transparent pixels; "
                      "they are composited over black", stacklevel=4)


def load_images(spec: str, dataset, files: list | None = None) -> torch.Tensor:
    """Images in the data's [-1, 1]: FILE.npy ((n, C, H, W), (n, H, W, C), one image, or
    (n, H, W) for grey data; uint8 or floats in [-1, 1]), an image file, a folder of images
    (both resized to the run's size), or ``heldout[:N]`` (the run's held-out split).  ``files``
    gets each image's file, relative to the folder, where they came from files."""
    shape = tuple(dataset.shape)
    if getattr(dataset, "kind", "points") != "image" or len(shape) != 3:
        raise ConfigError(f"invert and complete fit G to images; this run's data "
                          f"({type(dataset).__name__}) are {getattr(dataset, 'kind', 'points')} of shape "
                          f"{shape}: train on image data (mnist5k, fashion-mnist, a folder) to use them")
    if spec.startswith("heldout"):
        return _heldout(spec, dataset)
    from gankit.data.image_files import IMAGE_SUFFIXES
    p = Path(spec).expanduser()
    dtype = None                                     # the dtype a .npy was written with
    if p.is_dir():
        x = _read_folder(p, spec, dataset, files)
    elif p.suffix.lower() == ".npy":
        x, dtype = _load_npy(p, "--images")
        if dtype == "bool":                          # binary pixels: black and white, not mid-grey
            x = x * 2 - 1
        x = _to_run_shape(x, shape, spec)
    elif p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
        notes: dict = {}
        x = torch.as_tensor(_read_file(p, dataset, notes))[None]      # unreadable: its error, not a skip
        _say_notes(spec, notes, 1)
        if files is not None:
            files.append(p.name)
    elif not p.exists():
        raise ConfigError(f"--images {spec}: no such file or folder; give a .npy file, an image file, "
                          "a folder of images, or heldout[:N]")
    else:
        raise ConfigError(f"--images {spec}: give a .npy file, an image file "
                          f"({', '.join(sorted(IMAGE_SUFFIXES))}), a folder of images, or heldout[:N]")
    if len(x) == 0:
        raise ConfigError(f"--images {spec}: holds 0 images; give at least one")
    if not x.dtype.is_floating_point:                # integers (any width): pixels in [0, 255]
        if len(x) and (x.min() < 0 or x.max() > 255):
            raise ConfigError(f"--images {spec}: {dtype or str(x.dtype).replace('torch.', '')} values in "
                              f"[{int(x.min())}, {int(x.max())}]; integer pixels must lie in [0, 255]")
        if dtype is not None and x.max() <= 1:        # 0/1 of 255 is black: binary images saved as ints
            warnings.warn(f"--images {spec}: {dtype} values all in [0, 1] are read as pixels in [0, 255] "
                          "(nearly black); if they are binary images, give x * 255 or x.astype(bool)",
                          stacklevel=2)
        return x.float() / 127.5 - 1
    x = x.float()
    if not torch.isfinite(x).all():
        raise ConfigError(f"--images {spec}: the array holds NaN or infinite values")
    if x.min() < -1.01 or x.max() > 1.01:
        raise ConfigError(f"--images {spec}: values in [{float(x.min()):.3g}, {float(x.max()):.3g}]; "
                          "give uint8 pixels in [0, 255] or floats in [-1, 1] (x / 127.5 - 1)")
    if len(x) and x.min() >= 0 and dtype != "bool":      # a bool array was mapped to -1 / +1 already
        warnings.warn(f"--images {spec}: float values all in [0, {float(x.max()):.3g}] are read as pixels in "
                      "[-1, 1] (0 is mid-grey); if they are pixels in [0, 1], give x * 2 - 1", stacklevel=2)
    return x.clamp(-1, 1)


def make_mask(spec: str, shape: tuple[int, ...]) -> torch.Tensor:
    """1 where pixels are missing: a named part of the image, or FILE.npy (H, W), (1, H, W) or
    (C, H, W) with values in [0, 1]."""
    h, w = shape[-2:]
    m = torch.zeros(shape)
    if spec in MASKS:
        sl = {"top": (slice(0, h // 2), slice(None)), "bottom": (slice(h // 2, None), slice(None)),
              "left": (slice(None), slice(0, w // 2)), "right": (slice(None), slice(w // 2, None)),
              "centre": (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))}[spec]
        m[..., sl[0], sl[1]] = 1
        return m
    p = Path(spec).expanduser()
    if p.suffix.lower() != ".npy":
        raise ConfigError(f"--mask {spec}: one of {', '.join(MASKS)}, or a .npy file (1 = missing)")
    a = _load_npy(p, "--mask")[0].float()
    ok = [(h, w), (1, h, w)] + ([tuple(shape)] if len(shape) == 3 else [])
    if tuple(a.shape) not in ok:
        raise ConfigError(f"--mask {spec}: shape {tuple(a.shape)}, but one mask for all images must be "
                          f"{' or '.join(str(s) for s in dict.fromkeys(ok))} (1 = missing, 0 = known)")
    other = a[(a != 0) & (a != 1)]
    if len(other):      # a pixel is missing or known: a fraction would weigh the fit and the errors unevenly
        top = float(a.nan_to_num().max())
        raise ConfigError(f"--mask {spec}: values must be 0 (known) or 1 (missing); got {len(other)} other "
                          f"value(s), e.g. {float(other[0]):.3g}"
                          + ("; a 0/255 mask: divide it by 255" if top == 255 and not (other != 255).any() else ""))
    if a.max() == 0 or a.min() == 1:
        raise ConfigError(f"--mask {spec}: marks {'no' if a.max() == 0 else 'every'} pixel as missing, so there "
                          "is nothing to " + ("fill" if a.max() == 0 else "fit G to")
                          + " (1 = missing, 0 = known; to reconstruct whole images use gankit invert)")
    return m + a.expand(shape)


def _grid(rows: list[np.ndarray], out: Path):
    from gankit.report.plots import figs

    from gankit.report.images import tile
    img = tile(np.concatenate(rows), len(rows[0]))
    figs.imsave(out, img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)


def _write(out: Path, x, inv, extra: dict, shown: list[np.ndarray], stem: str, files: list[str] | None = None):
    # the set is written under pending names, then each renamed into place: a write that fails
    # (a full disk) leaves the folder's earlier set whole, never new images beside old z and errors
    from gankit.io import write_atomic, write_text_atomic
    out.mkdir(parents=True, exist_ok=True)
    pending: list[tuple[Path, Path]] = []

    def stage(name: str) -> Path:
        path = out / f".pending.{name}"
        pending.append((path, out / name))
        return path
    try:
        summary = _write_set(stage, x, inv, extra, shown, stem, files, write_atomic, write_text_atomic)
    except BaseException:
        for path, _ in pending:
            path.unlink(missing_ok=True)
        raise
    for path, final in pending:
        os.replace(path, final)
    return summary


def _write_set(stage, x, inv, extra, shown, stem, files, write_atomic, write_text_atomic) -> dict:
    write_atomic(stage(f"{stem}.npy"), lambda f: np.save(f, shown[-1]))
    write_atomic(stage("z.npy"), lambda f: np.save(f, inv.z.numpy()))
    if files:        # the row of each file: unreadable files in a folder were skipped
        import csv
        import io
        table = io.StringIO()
        rows = csv.writer(table, lineterminator="\n")
        rows.writerow(["index", "file", "mse"])
        rows.writerows([i, f, f"{e:.6g}"] for i, (f, e) in enumerate(zip(files, inv.error.tolist())))
        write_text_atomic(stage("errors.csv"), table.getvalue())
    else:
        write_text_atomic(stage("errors.csv"), "index,mse\n" + "".join(
            f"{i},{e:.6g}\n" for i, e in enumerate(inv.error.tolist())))
    summary = {"n": len(x), "mse_mean": float(inv.error.mean()), "mse_median": float(inv.error.double().quantile(0.5)),
               **extra}
    write_text_atomic(stage("summary.json"), json.dumps(summary, indent=1) + "\n")
    if x.dim() == 4:
        write_atomic(stage(f"{stem}.png"), lambda tmp: _grid([s[:16] for s in shown], tmp), by_name=True)
    return summary


# what invert and complete write into their folder: an existing --out holding anything else is
# someone's folder (the images read, say), whose same-named files they would replace
WRITTEN = {f"{stem}.{ext}" for stem in ("reconstructions", "completions") for ext in ("npy", "png")} | {
    "z.npy", "errors.csv", "summary.json"}


def _out_folder(a, default: str, stem: str) -> Path:
    """The folder to write to, checked before any work: a file there cannot become one, and the
    images' own folder (or one holding other files) is not written into."""
    command = getattr(a, "command", "invert")
    out = Path(a.out).expanduser() if a.out else Path(a.run_dir) / default
    spec = getattr(a, "images", None) or "heldout"
    images = Path(spec).expanduser()
    if not spec.startswith("heldout") and images.is_dir() and (
            out.resolve() == images.resolve() or images.resolve() in out.resolve().parents):
        given = f"{command} --out {a.out}" if a.out else f"{command}: {out}, the default output folder,"
        raise ConfigError(f"{given} is {'inside ' * (out.resolve() != images.resolve())}the --images folder, "
                          "whose files it could replace and would read as images next time; give --out a "
                          "folder outside it")
    if not a.out:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{command}: {out}, the default output folder, is a file; give --out FOLDER "
                              "(a new or existing folder)")
        return out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{command} --out {a.out} is a file; --out must be a folder (new or existing) for "
                          f"{stem}.npy, z.npy, errors.csv and summary.json")
    if any(p.exists() and not p.is_dir() for p in out.parents):
        raise ConfigError(f"{command} --out {a.out}: a part of this path is a file; --out must be a folder")
    theirs = sorted(p.name for p in out.iterdir() if p.name not in WRITTEN
                    and not p.name.startswith(".")) if out.is_dir() else []
    if theirs:
        raise ConfigError(f"{command} --out {a.out} holds {len(theirs)} file(s) invert and complete do not "
                          f"write ({', '.join(theirs[:3])}{', ...' * (len(theirs) > 3)}): it is not their "
                          "output folder; give a new or empty folder, or one they wrote before")
    return out


def _open(a):
    from gankit.cli import data_location_sets
    from gankit.train.run import Run
    return Run.open(a.run_dir, data_location_sets(a.set)[0])


def _images(n: int) -> str:
    return f"{n} image{'s' * (n != 1)}"


def _options(a) -> dict:
    return {"steps": a.steps, "lr": a.lr, "restarts": a.restarts, "use_encoder": not a.no_encoder}


def _cmd_invert(a):
    from gankit.train.inversion import invert_run
    out = _out_folder(a, "inversion", "reconstructions")
    run = _open(a)
    files: list[str] = []
    x = load_images(a.images, run.dataset, files)
    inv = invert_run(run, x, **_options(a))
    s = _write(out, x, inv, {}, [x.numpy(), inv.recon.numpy()], "reconstructions", files)
    from gankit.streams import shown
    print(f"inverted {_images(s['n'])}: MSE per pixel mean {s['mse_mean']:.4f}, median "
          f"{s['mse_median']:.4f}; wrote {shown(out / 'reconstructions.npy')}, errors.csv, summary.json")


def _cmd_complete(a):
    from gankit.train.inversion import complete
    out = _out_folder(a, "completion", "completions")
    run = _open(a)
    files: list[str] = []
    x = load_images(a.images, run.dataset, files)
    missing = make_mask(a.mask, tuple(x.shape[1:]))
    filled, inv = complete(run, x, missing, **_options(a))
    hole = ((filled - x) ** 2 * missing).flatten(1).sum(1) / missing.flatten().sum().clamp_min(1)
    masked = x * (1 - missing)
    s = _write(out, x, inv, {"missing_mse_mean": float(hole.mean())},
               [x.numpy(), masked.numpy(), filled.numpy()], "completions", files)
    from gankit.streams import shown
    named = f"the part {shown(a.mask)} marks" if Path(a.mask).suffix.lower() == ".npy" else shown(a.mask)
    print(f"completed {_images(s['n'])} ({named} missing): MSE per pixel on the filled part "
          f"{s['missing_mse_mean']:.4f}, on the known part {s['mse_mean']:.4f}; wrote {shown(out)}")


def add_parser(sub):
    for name, fn, help_ in (("invert", _cmd_invert, "fit G's code to images by optimisation: "
                             "reconstructions and their errors"),
                            ("complete", _cmd_complete, "fill a masked part of images from G fitted to "
                             "the rest")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("run_dir")
        p.add_argument("--images", required=True, help="FILE.npy, an image file (PNG, JPEG, ...), a folder of "
                       "image files (sub-folders too), or heldout[:N]")
        if name == "complete":
            p.add_argument("--mask", required=True, help=f"the part to fill: {', '.join(MASKS)}, or "
                           "FILE.npy (1 = missing)")
        p.add_argument("--out", help=f"output folder (default RUN_DIR/{'inversion' if name == 'invert' else 'completion'})")
        p.add_argument("--steps", type=int, default=300, help="Adam steps on z (default 300)")
        p.add_argument("--lr", type=float, default=0.05, help="Adam's learning rate on z (default 0.05)")
        p.add_argument("--restarts", type=int, default=1, help="starts per image; the best is kept (default 1)")
        p.add_argument("--no-encoder", action="store_true",
                       help="start from the prior even when the run has an encoder")
        from gankit.cli import DATA_MOVED_HELP
        p.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE", help=DATA_MOVED_HELP)
        p.set_defaults(fn=fn)
