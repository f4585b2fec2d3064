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


# The report draws its figures at page.png's 90 dpi. A tile gets one screen pixel per image pixel
# up to _MOST pixels a side; larger ones are shrunk, antialiased: six 8x8 grids of 96-px samples
# at full size made a 3,000-px wide, 1 MB strip; at 48 they wrap into a page-wide ~0.7 MB figure.
_DPI = 90
_MOST = 48


def _pad(h: int) -> int:
    """The white gap between tiles: 1 px at 8-28 px, wider with the side, so it still shows
    where the figure draws a tile smaller than its pixels."""
    return max(1, h // 16)


def tile(x: np.ndarray, ncol: int, pad: int | None = None) -> np.ndarray:
    """Images (n, C, H, W) in [-1, 1] -> one (rows*H, ncol*W, C) array in [0, 1] (white gaps,
    ``pad`` pixels wide; by default scaled with the side)."""
    x = np.clip((np.asarray(x, dtype=np.float32) + 1) / 2, 0, 1)
    n, c, h, w = x.shape
    pad = _pad(h) if pad is None else pad
    nrow = -(-n // ncol)
    out = np.ones((nrow * (h + pad) - pad, ncol * (w + pad) - pad, c), np.float32)
    for i in range(n):
        r, q = divmod(i, ncol)
        out[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = x[i].transpose(1, 2, 0)
    return out


def _inches(px: int, side: int, least: float) -> float:
    """Inches for ``px`` tiled pixels of ``side``-px images: one screen pixel each up to _MOST a
    side, never less than ``least`` (the old fixed size, so small images look as before)."""
    return max(least, px * min(1.0, _MOST / side) / _DPI)


def _show(ax, img: np.ndarray, title: str = ""):
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def _fit(fig):
    """Once laid out: "nearest" keeps pixels sharp where each image pixel gets a screen pixel or
    more, but shrinking it drops whole rows and columns (the gaps first): antialias there."""
    w_in, h_in = fig.get_size_inches()
    for ax in fig.axes:
        for im in ax.get_images():
            h, w = im.get_array().shape[:2]
            box = ax.get_position()
            shown = min(box.width * w_in * _DPI / w, box.height * h_in * _DPI / h)
            im.set_interpolation("nearest" if shown >= 0.999 else "antialiased")


@literal_text
def grid_figure(snaps: list[dict], n: int = 64):
    from gankit.report.plots import figs
    k = len(snaps)
    ncol = int(np.ceil(np.sqrt(min(n, len(snaps[0]["samples"])))))
    imgs = [tile(s["samples"][:n], ncol) for s in snaps]
    side = np.shape(snaps[0]["samples"])[-2]
    panel = _inches(imgs[0].shape[1], side, 2.3) + 0.3          # + tight_layout's margins
    # panels side by side while they fit a page (~18 in at 90 dpi, six of 28 px); larger ones wrap
    per_row = k if k * panel <= 18 else max(1, int(18 // panel))
    rows = -(-k // per_row)
    fig, axes = figs.subplots(rows, per_row, figsize=(panel * per_row, (panel + 0.2) * rows),
                              squeeze=False)
    for ax in axes.flat[k:]:
        ax.set_axis_off()
    for ax, s, img in zip(axes.flat, snaps, imgs):
        _show(ax, img, f"step {int(s['step'])}")
    fig.tight_layout()
    _fit(fig)
    return fig


@literal_text
def interpolation_figure(x: np.ndarray, steps: int = 10):
    """A snapshot's z walk (rows * steps images): one row per pair of noise vectors."""
    from gankit.report.plots import figs
    rows = len(x) // steps
    img = tile(x, steps)
    side = np.shape(x)[-2]
    # the axes take ~3/4 of the default figure: size it so they, not the figure, hold the pixels
    fig, ax = figs.subplots(figsize=(_inches(img.shape[1] / 0.75, side, 1.0 * steps),
                                     _inches(img.shape[0] / 0.75, side, 1.0 * rows)))
    _show(ax, img)
    _fit(fig)
    return fig


@literal_text
def neighbours_figure(blocks: np.ndarray):
    """A snapshot's (rows, 1 + k, C, H, W) array: each sample, a gap, its k nearest training images."""
    from gankit.report.plots import figs
    rows, k1 = blocks.shape[:2]
    gap = np.ones_like(blocks[:, :1])            # a white column between sample and neighbours
    x = np.concatenate([blocks[:, :1], gap, blocks[:, 1:]], 1).reshape(-1, *blocks.shape[2:])
    img = tile(x, k1 + 1)
    side = blocks.shape[-2]
    fig, ax = figs.subplots(figsize=(_inches(img.shape[1] / 0.75, side, 1.0 * (k1 + 1)),
                                     _inches(img.shape[0] / 0.75, side, 1.0 * rows)))
    _show(ax, img, "sample | nearest training images")
    _fit(fig)
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
