"""What a snapshot holds: everything the report draws that needs the model.

Fixed-noise samples (with their classes for conditional runs); for 1-D/2-D points, D on
a grid; for images, a walk in z between random noise pairs (paper Figure 3) and a few
samples beside their nearest training images (paper Figure 2).  The report reads these
arrays from the run folder and never builds a model.
"""
from __future__ import annotations

import numpy as np
import torch

from gankit.ops import sample_noise

NEIGHBOUR_POOL = 20000     # training images searched for nearest neighbours (a fixed subset)


@torch.no_grad()
def interpolation(run, rows: int = 8, steps: int = 10, seed: int = 1) -> np.ndarray:
    """G(z_a + t (z_b - z_a)) for t in [0, 1]: (rows * steps, C, H, W), one row per pair."""
    g = torch.Generator(run.device).manual_seed(seed)
    za = sample_noise(rows, run.cfg.noise.dim, run.cfg.noise.dist, g, run.device)
    zb = sample_noise(rows, run.cfg.noise.dim, run.cfg.noise.dist, g, run.device)
    t = torch.linspace(0, 1, steps, device=run.device)
    z = (za[:, None] + t[None, :, None] * (zb - za)[:, None]).reshape(rows * steps, -1)
    c = None
    if run.conditional:                 # each row keeps one condition: a class in turn
        classes = run.dataset.classes
        y = classes[torch.arange(rows).repeat_interleave(steps) % len(classes)]
        c, _ = run.conditions(rows * steps, y=y)
        c = c.to(run.device)
    return run.generate_from(z, c).numpy()


def neighbours(samples: np.ndarray, train: torch.Tensor, rows: int = 8, k: int = 5) -> np.ndarray:
    """(rows, 1 + k, C, H, W): each sample, then its k nearest training images (L2 in pixels)."""
    from gankit.metrics.image_measures import pairwise_sq_dists
    s = torch.as_tensor(samples[:rows]).float()
    d = pairwise_sq_dists(s, train)
    idx = d.topk(min(k, len(train)), dim=1, largest=False).indices
    shape = samples.shape[1:]
    return np.stack([np.concatenate([samples[i:i + 1], train[idx[i]].numpy().reshape(-1, *shape)])
                     for i in range(len(s))])


def snapshot_arrays(run) -> dict:
    ds = run.dataset
    x, y = run.sample(run.cfg.train.n_fixed)
    out = {"samples": x.numpy()}
    if y is not None:
        out["labels"] = y.numpy()
    if ds.kind == "points" and ds.dim <= 2 and not run.conditional:
        lo, hi = ds.bounds()
        n = 400 if ds.dim == 1 else 80
        axes = [torch.linspace(float(lo[i]), float(hi[i]), n) for i in range(ds.dim)]
        grid = torch.stack([a.reshape(-1) for a in torch.meshgrid(*axes, indexing="xy")], 1)
        d = run.d_prob(grid)
        if d is not None:
            out["grid"] = grid.numpy()
            out["grid_shape"] = np.array([n] * ds.dim)
            out["d_grid"] = d.numpy()
            out["d_probabilistic"] = np.bool_(run.objective.score_is_logit(run.loss))
            if run.objective.score_name:
                out["d_label"] = np.str_(run.objective.score_name)
    if ds.kind == "image":
        out["interpolation"] = interpolation(run)
        train = ds.split("train")
        if len(train) > NEIGHBOUR_POOL:
            train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:NEIGHBOUR_POOL]]
        out["neighbours"] = neighbours(out["samples"], train)
        out["neighbour_pool"] = np.int64(len(train))
    return out
