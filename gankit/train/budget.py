"""Check a config's memory needs before allocating: a batch, a width or a JSD grid that would
need more memory than the machine has stops with a message saying what it would need, instead
of an allocator traceback (or the kernel's OOM killer) minutes later.

The estimate is a lower bound of the big parts, each counted once:
- G and D with their gradients and two Adam moments: 4 x parameters x 4 bytes; the nets are
  built on the ``meta`` device (shapes only, nothing allocated) to count their parameters;
- one training step's activations: the outputs of every layer of G on a batch and of D on a
  real and a fake batch, kept for the backward pass (x 2 for their gradients), measured by
  running the meta nets with forward hooks;
- evaluation: the largest sample set drawn from G (fixed-noise snapshots, eval samples, JSD
  samples), G's largest layer on a chunk of 10,000 of them, and, for 1-D/2-D data with a density, the JSD grid (bins^dim cells).
"""
from __future__ import annotations

import math
import os

import torch

from gankit.config import ConfigError

GB = 2**30
GENERATE_CHUNK = 10000   # Run.generate_from draws samples in chunks of this many


def machine_memory(device: torch.device) -> int | None:
    """Bytes of memory of the device (physical RAM for the CPU); None when unknown."""
    if device.type == "cuda":
        try:
            return torch.cuda.get_device_properties(device).total_memory
        except (RuntimeError, AssertionError):
            return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _per_sample_activations(G, D, noise_dim: int, shape) -> tuple[int, int] | None:
    """(all, largest): elements of the layer outputs of G on one z and D on one sample,
    summed and the largest one (meta tensors)."""
    counts = [0, 0]

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            n = output[0].numel() if output.dim() else 1
            counts[0] += n
            counts[1] = max(counts[1], n)

    handles = [m.register_forward_hook(hook) for net in (G, D) for m in net.modules()
               if not list(m.children())]
    try:
        G(torch.empty(2, noise_dim, device="meta"))
        D(torch.empty(2, *shape, device="meta"))
    except Exception:   # nets that need more than z and x (conditions, sequences): no estimate
        return None
    finally:
        for h in handles:
            h.remove()
    return counts[0], counts[1]


def estimate(cfg, dataset) -> dict[str, int]:
    """Bytes of the big parts of a run (see the module's docstring); a part that cannot be
    estimated for these nets is left out."""
    from gankit.train.build import build_nets
    from gankit.train.conditional import noise_dim_for
    parts: dict[str, int] = {}
    shape = tuple(dataset.shape)
    per_x = math.prod(shape) * 4
    B = cfg.train.batch_size
    parts["data batches"] = 2 * B * per_x
    dim = getattr(dataset, "dim", 0)
    density_grid = getattr(dataset, "kind", "points") == "points" and dim <= 2 and dataset.has_density
    # the largest draw from G: eval.jsd_samples only where the jsd metric applies (a density in
    # 1-D or 2-D), eval.parzen_centres only for images (the parzen metric)
    asked = set(cfg.eval.metrics)
    draws = [cfg.train.n_fixed, cfg.eval.n_samples]
    if density_grid and (not asked or "jsd" in asked):
        draws.append(cfg.eval.jsd_samples)
    if getattr(dataset, "kind", "points") == "image" and (not asked or "parzen" in asked):
        draws.append(cfg.eval.parzen_centres)
    n_eval = max(draws)
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):   # the caller's RNG untouched
            G, D = build_nets(cfg, dataset)
    except ConfigError:
        raise
    except Exception:   # a net that cannot be built on the meta device: skip its parts
        G = D = None
    if G is not None:
        n_params = sum(p.numel() for net in (G, D) for p in net.parameters())
        parts["G and D weights with gradients and Adam state"] = 4 * 4 * n_params
        if cfg.condition.kind == "none" and getattr(dataset, "kind", "points") != "text":
            act = _per_sample_activations(G, D, noise_dim_for(cfg), shape)
            if act is not None:
                total, largest = act
                # G on B, D on B real + B fake; values kept for backward and their gradients
                parts["one training step's activations"] = 2 * 4 * total * 3 * B
                # without gradients only a layer's input and output are alive at once
                parts["generating samples (chunks of 10,000)"] = 2 * 4 * largest * min(n_eval, GENERATE_CHUNK)
    parts["evaluation samples"] = 2 * n_eval * per_x
    if density_grid:
        cells = cfg.eval.jsd_bins ** dim
        modes = len(dataset.modes) if dataset.modes is not None else 1
        # centres and mesh (float64), the density over every cell and mode (float32)
        parts[f"JSD grid ({cfg.eval.jsd_bins}^{dim} cells)"] = cells * (8 * (3 * dim + 4) + 8 * modes * dim)
    return parts


def check_memory(cfg, dataset, device: torch.device):
    """ConfigError when the estimate exceeds the device's memory, naming the big parts."""
    total = machine_memory(device)
    if total is None:
        return
    parts = estimate(cfg, dataset)
    need = sum(parts.values())
    if need <= total:
        return
    shown = "; ".join(f"{k} {v / GB:.1f} GB" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])
                      if v >= 0.01 * need)
    raise ConfigError(f"this config would need at least {need / GB:.1f} GB of memory ({shown}), but "
                      f"this machine's {device.type} has {total / GB:.1f} GB; lower train.batch_size, "
                      "the nets' widths, eval.jsd_bins or the sample counts")
