"""The report's image section, built from the run folder alone:

- fixed-noise sample grids over training (samples/step_*.npz);
- linear interpolation in z between random pairs of noise vectors (paper Figure 3);
- samples beside their nearest training images (paper Figure 2), so copies of the
  training data (mirrored ones too) show.

Both are rendered into the snapshots while training (gankit/train/snapshot.py).
"""
from __future__ import annotations

import numpy as np

from gankit.report.literal import literal_text


def tile(x: np.ndarray, ncol: int, pad: int = 1) -> np.ndarray:
    """Images (n, C, H, W) in [-1, 1] -> one (rows*H, ncol*W, C) array in [0, 1] (white gaps)."""
    x = np.clip((np.asarray(x, dtype=np.float32) + 1) / 2, 0, 1)
    n, c, h, w = x.shape
    nrow = -(-n // ncol)
    out = np.ones((nrow * (h + pad) - pad, ncol * (w + pad) - pad, c), np.float32)
    for i in range(n):
        r, q = divmod(i, ncol)
        out[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = x[i].transpose(1, 2, 0)
    return out


def _show(ax, img: np.ndarray, title: str = ""):
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


@literal_text
def grid_figure(snaps: list[dict], n: int = 64):
    from gankit.report.plots import figs
    k = len(snaps)
    ncol = int(np.ceil(np.sqrt(min(n, len(snaps[0]["samples"])))))
    fig, axes = figs.subplots(1, k, figsize=(2.6 * k, 2.8), squeeze=False)
    for ax, s in zip(axes[0], snaps):
        _show(ax, tile(s["samples"][:n], ncol), f"step {int(s['step'])}")
    fig.tight_layout()
    return fig


@literal_text
def interpolation_figure(x: np.ndarray, steps: int = 10):
    """A snapshot's z walk (rows * steps images): one row per pair of noise vectors."""
    from gankit.report.plots import figs
    rows = len(x) // steps
    fig, ax = figs.subplots(figsize=(1.0 * steps, 1.0 * rows))
    _show(ax, tile(x, steps))
    return fig


@literal_text
def neighbours_figure(blocks: np.ndarray):
    """A snapshot's (rows, 1 + k, C, H, W) array: each sample, a gap, its k nearest training images."""
    from gankit.report.plots import figs
    rows, k1 = blocks.shape[:2]
    gap = np.ones_like(blocks[:, :1])            # a white column between sample and neighbours
    x = np.concatenate([blocks[:, :1], gap, blocks[:, 1:]], 1).reshape(-1, *blocks.shape[2:])
    fig, ax = figs.subplots(figsize=(1.0 * (k1 + 1), 1.0 * rows))
    _show(ax, tile(x, k1 + 1), "sample | nearest training images")
    return fig


def image_sections(snaps: list[dict], grids: list[dict] | None = None) -> list:
    """Report sections for image data, from the snapshots alone: ``grids`` those of the sample
    grids (by default 6 of ``snaps`` spread over training), the newest of ``snaps`` holding
    them for the neighbours and the interpolation."""
    from gankit.report import plots
    from gankit.report.page import Section, png
    out = []
    if not snaps and not grids:
        return out
    chosen = grids if grids is not None else plots.pick_snapshots(snaps, 6)
    out.append(Section("Samples from fixed noise over training",
                       [f"The same noise vectors at {len(chosen)} moments of training."],
                       png(grid_figure(chosen), "sample grids over training"), anchor="samples"))
    last = [s for s in snaps if "neighbours" in s]
    if last:
        s = last[-1]
        out.append(Section("Nearest training images (paper Figure 2)", [
            f"Step {int(s['step'])}. Left: a fixed-noise sample. Right: its nearest of "
            f"{int(s['neighbour_pool'])} training images in pixel space. A sample equal to its "
            "neighbour is a copy; the memorisation metric also checks mirrored copies."],
            png(neighbours_figure(s["neighbours"]), "samples beside their nearest training images",
                wide=False)))
    last = [s for s in snaps if "interpolation" in s]
    if last:
        s = last[-1]
        out.append(Section("Linear interpolation in z (paper Figure 3)", [
            f"Step {int(s['step'])}: each row walks in a straight line between two random noise vectors."],
            png(interpolation_figure(s["interpolation"]), "interpolation in z", wide=False)))
    return out
