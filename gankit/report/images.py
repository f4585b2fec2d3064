"""The report's image section, built from the run folder alone:

- fixed-noise sample grids over training (samples/step_*.npz);
- linear interpolation in z between random pairs of noise vectors (paper Figure 3),
  from the latest checkpoint;
- samples beside their nearest training images (paper Figure 2), so copies of the
  training data (mirrored ones too) show.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


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


def grid_figure(snaps: list[dict], n: int = 64):
    import matplotlib.pyplot as plt
    k = len(snaps)
    ncol = int(np.ceil(np.sqrt(min(n, len(snaps[0]["samples"])))))
    fig, axes = plt.subplots(1, k, figsize=(2.6 * k, 2.8), squeeze=False)
    for ax, s in zip(axes[0], snaps):
        _show(ax, tile(s["samples"][:n], ncol), f"step {int(s['step'])}")
    fig.tight_layout()
    return fig


@torch.no_grad()
def interpolation_figure(run, rows: int = 8, steps: int = 10, seed: int = 1):
    """G(z_a + t (z_b - z_a)) for t in [0, 1], one row per random pair (paper Figure 3)."""
    import matplotlib.pyplot as plt
    from gankit.nets.noise import sample_noise
    g = torch.Generator(run.device).manual_seed(seed)
    za = sample_noise(rows, run.cfg.noise.dim, run.cfg.noise.dist, g, run.device)
    zb = sample_noise(rows, run.cfg.noise.dim, run.cfg.noise.dist, g, run.device)
    t = torch.linspace(0, 1, steps, device=run.device)
    z = (za[:, None] + t[None, :, None] * (zb - za)[:, None]).reshape(rows * steps, -1)
    was = run.G.training
    run.G.eval()
    x = run.objective.generate(z).cpu().numpy()
    run.G.train(was)
    fig, ax = plt.subplots(figsize=(1.0 * steps, 1.0 * rows))
    _show(ax, tile(x, steps))
    return fig


def neighbours_figure(samples: np.ndarray, train: torch.Tensor, rows: int = 8, k: int = 5):
    """Each row: a sample, then its k nearest training images (L2 in pixels)."""
    import matplotlib.pyplot as plt
    from gankit.metrics.image_measures import pairwise_sq_dists
    s = torch.as_tensor(samples[:rows]).float()
    d = pairwise_sq_dists(s, train)
    idx = d.topk(k, dim=1, largest=False).indices
    blocks = []
    for i in range(len(s)):
        blocks.append(s[i:i + 1].numpy())
        blocks.append(np.full_like(s[i:i + 1].numpy(), 1.0))   # a white gap column
        blocks.append(train[idx[i]].numpy())
    x = np.concatenate(blocks)
    fig, ax = plt.subplots(figsize=(1.0 * (k + 2), 1.0 * len(s)))
    _show(ax, tile(x, k + 2), "sample | nearest training images")
    return fig


def image_sections(run_dir: str | Path, dataset, snaps: list[dict], png) -> list[str]:
    """HTML sections for image data; ``png(fig)`` embeds a matplotlib figure."""
    from gankit.report import plots
    run_dir = Path(run_dir)
    out = []
    if snaps:
        chosen = plots.pick_snapshots(snaps, 6) if len(snaps) > 6 else snaps
        out.append("<h2>Samples from fixed noise over training</h2>" + png(grid_figure(chosen)))
        train = dataset.split("train")
        if len(train) > 20000:
            train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:20000]]
        out.append("<h2>Nearest training images (paper Figure 2)</h2><p>Left: a sample from the last "
                   f"snapshot. Right: its 5 nearest of {len(train)} training images in pixel space. "
                   "A sample equal to its neighbour is a copy; the memorisation metric also checks "
                   "mirrored copies.</p>" + png(neighbours_figure(snaps[-1]["samples"], train)))
    if any((run_dir / "checkpoints").glob("*")):
        try:
            from gankit.train.run import Run
            run = Run.open(run_dir)
            out.append(f"<h2>Linear interpolation in z (paper Figure 3)</h2><p>Step {run.step}: each row "
                       "walks in a straight line between two random noise vectors.</p>"
                       + png(interpolation_figure(run)))
        except Exception as e:   # the report still shows everything else
            out.append(f"<h2>Linear interpolation in z</h2><p>not available: {type(e).__name__}: {e}</p>")
    return out
