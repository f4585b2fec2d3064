"""``gankit invert`` and ``gankit complete``: latent inversion of a trained G from the command
line (the logic is gankit/train/inversion.py; this parses, loads images, writes files)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from gankit.config import ConfigError

MASKS = ("top", "bottom", "left", "right", "centre")


def load_images(spec: str, dataset) -> torch.Tensor:
    """Images in the data's [-1, 1]: FILE.npy ((n, C, H, W) or (n, H, W), uint8 or floats in
    [-1, 1]), a folder of images, or ``heldout[:N]`` (the run's held-out split)."""
    shape = tuple(dataset.shape)
    if getattr(dataset, "kind", "points") != "image" or len(shape) != 3:
        raise ConfigError(f"invert and complete fit G to images; this run's data "
                          f"({type(dataset).__name__}) are {getattr(dataset, 'kind', 'points')} of shape "
                          f"{shape}: train on image data (mnist5k, fashion-mnist, a folder) to use them")
    if spec.startswith("heldout"):
        n = int(spec.split(":", 1)[1]) if ":" in spec else None
        return dataset.split("heldout", n)
    p = Path(spec)
    if p.is_dir():
        from gankit.data.image_files import load_image_folder
        x, _, _ = load_image_folder(p, shape[-1], shape[0], "stretch")
        x = torch.as_tensor(x)
    elif p.suffix == ".npy" and p.is_file():
        x = torch.as_tensor(np.load(p))
    else:
        raise ConfigError(f"--images {spec}: give a .npy file, a folder of images, or heldout[:N]")
    if x.dim() == len(shape):
        x = x.unsqueeze(1) if len(shape) == 3 else x
    if tuple(x.shape[1:]) != shape:
        raise ConfigError(f"--images {spec}: images of shape {tuple(x.shape[1:])}, the run's data are {shape}")
    if x.dtype == torch.uint8:
        return x.float() / 127.5 - 1
    x = x.float()
    if x.min() < -1.01 or x.max() > 1.01:
        raise ConfigError(f"--images {spec}: float images must be in [-1, 1] (uint8 in [0, 255])")
    return x


def make_mask(spec: str, shape: tuple[int, ...]) -> torch.Tensor:
    """1 where pixels are missing: a named part of the image, or FILE.npy (H, W) / (C, H, W)."""
    h, w = shape[-2:]
    m = torch.zeros(shape)
    if spec in MASKS:
        sl = {"top": (slice(0, h // 2), slice(None)), "bottom": (slice(h // 2, None), slice(None)),
              "left": (slice(None), slice(0, w // 2)), "right": (slice(None), slice(w // 2, None)),
              "centre": (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))}[spec]
        m[..., sl[0], sl[1]] = 1
        return m
    p = Path(spec)
    if p.suffix != ".npy" or not p.is_file():
        raise ConfigError(f"--mask {spec}: one of {', '.join(MASKS)}, or a .npy file (1 = missing)")
    return m + torch.as_tensor(np.load(p)).float().expand(shape)


def _grid(rows: list[np.ndarray], out: Path):
    import matplotlib.pyplot as plt

    from gankit.report.images import tile
    img = tile(np.concatenate(rows), len(rows[0]))
    plt.imsave(out, img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)


def _write(out: Path, x, inv, extra: dict, shown: list[np.ndarray], stem: str):
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / f"{stem}.npy", shown[-1])
    np.save(out / "z.npy", inv.z.numpy())
    (out / "errors.csv").write_text("index,mse\n" + "".join(
        f"{i},{e:.6g}\n" for i, e in enumerate(inv.error.tolist())))
    summary = {"n": len(x), "mse_mean": float(inv.error.mean()), "mse_median": float(inv.error.median()),
               **extra}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    if x.dim() == 4:
        _grid([s[:16] for s in shown], out / f"{stem}.png")
    return summary


def _open(a):
    from gankit.train.run import Run
    return Run.open(a.run_dir)


def _options(a) -> dict:
    return {"steps": a.steps, "lr": a.lr, "restarts": a.restarts, "use_encoder": not a.no_encoder}


def _cmd_invert(a):
    from gankit.train.inversion import invert_run
    run = _open(a)
    x = load_images(a.images, run.dataset)
    inv = invert_run(run, x, **_options(a))
    out = Path(a.out or Path(a.run_dir) / "inversion")
    s = _write(out, x, inv, {}, [x.numpy(), inv.recon.numpy()], "reconstructions")
    print(f"inverted {s['n']} images: MSE per pixel mean {s['mse_mean']:.4f}, median "
          f"{s['mse_median']:.4f}; wrote {out}/reconstructions.npy, errors.csv, summary.json")


def _cmd_complete(a):
    from gankit.train.inversion import complete
    run = _open(a)
    x = load_images(a.images, run.dataset)
    missing = make_mask(a.mask, tuple(x.shape[1:]))
    filled, inv = complete(run, x, missing, **_options(a))
    hole = ((filled - x) ** 2 * missing).flatten(1).sum(1) / missing.flatten().sum().clamp_min(1)
    out = Path(a.out or Path(a.run_dir) / "completion")
    masked = x * (1 - missing)
    s = _write(out, x, inv, {"missing_mse_mean": float(hole.mean())},
               [x.numpy(), masked.numpy(), filled.numpy()], "completions")
    print(f"completed {s['n']} images ({a.mask} missing): MSE per pixel on the filled part "
          f"{s['missing_mse_mean']:.4f}, on the known part {s['mse_mean']:.4f}; wrote {out}")


def add_parser(sub):
    for name, fn, help_ in (("invert", _cmd_invert, "fit G's code to images by optimisation: "
                             "reconstructions and their errors"),
                            ("complete", _cmd_complete, "fill a masked part of images from G fitted to "
                             "the rest")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("run_dir")
        p.add_argument("--images", required=True, help="FILE.npy, a folder of images, or heldout[:N]")
        if name == "complete":
            p.add_argument("--mask", required=True, help=f"the part to fill: {', '.join(MASKS)}, or "
                           "FILE.npy (1 = missing)")
        p.add_argument("--out", help=f"output folder (default RUN_DIR/{'inversion' if name == 'invert' else 'completion'})")
        p.add_argument("--steps", type=int, default=300, help="Adam steps on z")
        p.add_argument("--lr", type=float, default=0.05, help="Adam's learning rate on z")
        p.add_argument("--restarts", type=int, default=1, help="starts per image; the best is kept")
        p.add_argument("--no-encoder", action="store_true",
                       help="start from the prior even when the run has an encoder")
        p.set_defaults(fn=fn)
