"""Check a config's memory needs before allocating: a batch, a width or a JSD grid that would
need more memory than the machine has stops with a message saying what it would need, instead
of an allocator traceback (or the kernel's OOM killer) minutes later.

The estimate is a lower bound of the big parts, each counted once, and the check compares the
most alive at once (weights and batches, plus the largest of training, generating and the JSD
grid) with the machine's memory:
- G and D with their gradients and two Adam moments: 4 x parameters x 4 bytes; the nets are
  built on the ``meta`` device (shapes only, nothing allocated) to count their parameters;
- one training step's activations: the outputs of every layer of G on a batch and of D on a
  real and a fake batch, kept for the backward pass (x 2 for their gradients), measured by
  running the meta nets with forward hooks;
- evaluation: the largest sample set drawn from G (fixed-noise snapshots, eval samples, JSD
  samples, Parzen centres), what G holds generating a chunk of 10,000 of them (a layer's input
  and output, more for conv layers), and, where the jsd metric is measured, the JSD grid
  (bins^dim cells), and the noise of the largest draw (drawn at once: n x noise.dim);
- the toy mixtures' own tensors (ring, grid, gmm: their modes' means, stds and weights), counted
  from the config alone, so that ``check_data_memory`` refuses a data.n_modes the machine cannot
  hold before the dataset is built;
- an image folder's pixels (files x channels x side^2, the side from data.size or the first
  image's header), refused by ``check_data_memory`` before any image is decoded (a folder of
  photos was decoded for minutes, then killed by the kernel); once built, an image dataset's
  pixels are counted from the dataset, and every part that grows with the images' side names
  the setting that gives it (data.size, data.resolution).
On a GPU the parts held on the host (the data's tensors, the evaluation samples, the JSD grid in
numpy) are checked against the host's available memory, the rest against the GPU's.
Conditional and sequence nets need more than z and x to run, so their activations and
generation are left out (a warning says so).
"""
from __future__ import annotations

import math
import os
import warnings

import torch

from gankit.config import ConfigError

GB = 2**30
GENERATE_CHUNK = 10000   # Run.generate_from draws samples in chunks of this many


def machine_memory(device: torch.device) -> int | None:
    """Bytes of memory of the device (physical RAM for the CPU, or the container's limit where
    it is lower: a process past it is killed however much RAM the machine has); None when unknown."""
    if device.type == "cuda":
        try:
            return torch.cuda.get_device_properties(device).total_memory
        except (RuntimeError, AssertionError):
            return None
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    limit = container_limit()
    return min(ram, limit) if limit else ram


def available_host_memory() -> int | None:
    """Bytes of host memory free for this process now (MemAvailable, within the container's limit);
    else the machine's memory (off Linux)."""
    ram = machine_memory(torch.device("cpu"))
    try:
        with open("/proc/meminfo") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return ram
    return min(kb * 1024, ram) if ram else kb * 1024


CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")   # v2, v1


def container_limit(paths=CGROUP_LIMITS) -> int | None:
    """The cgroup's memory limit in bytes; None where there is none ("max", v1's huge number)."""
    for p in paths:
        try:
            with open(p) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
        return None
    return None


# generating on the CPU, a conv layer holds about 2.5 x (its input + its output): oneDNN copies
# both into blocked layouts.  Calibrated with DCGAN G at widths 16, 32 and 64 on 64x64x3
# (eval mode, no_grad, peak RSS over 500-1000 samples minus that of 1): 2.4-2.55 x.
CONV_GENERATE_FACTOR = 2.5
CONV_TYPES = (torch.nn.modules.conv._ConvNd,)


def _per_sample_activations(G, D, noise_dim: int, shape) -> tuple[int, int] | None:
    """(all, generating): elements of the layer outputs of G on one z and D on one sample,
    summed; and the most G holds at once without gradients: the largest of a layer's input plus
    its output (x CONV_GENERATE_FACTOR for conv layers) (meta tensors)."""
    counts = [0, 0]

    def numel(t):
        return t[0].numel() if isinstance(t, torch.Tensor) and t.dim() else int(isinstance(t, torch.Tensor))

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            counts[0] += numel(output)

    def g_hook(module, inputs, output):
        hook(module, inputs, output)
        if isinstance(output, torch.Tensor):
            ins = sum(numel(t) for t in inputs if t is not output)   # in place: one tensor
            held = ins + numel(output)
            counts[1] = max(counts[1], held * CONV_GENERATE_FACTOR if isinstance(module, CONV_TYPES) else held)

    handles = [m.register_forward_hook(g_hook if net is G else hook) for net in (G, D) for m in net.modules()
               if not list(m.children())]
    try:
        G(torch.empty(2, noise_dim, device="meta"))
        D(torch.empty(2, *shape, device="meta"))
    except Exception:   # nets that need more than z and x (conditions, sequences): no estimate
        return None
    finally:
        for h in handles:
            h.remove()
    return counts[0], int(counts[1])


def jsd_grid_bytes(cfg, dataset) -> int:
    """Bytes of the JSD grid: centres (float64), p_data per cell, the histogram and the
    divergence's temporaries.  exact (normal-CDF products per axis, numpy, tracemalloc peak:
    70-89 bytes a cell in 1-D and 2-D, any number of modes); centre (log_prob of every cell
    for every mode)."""
    dim = dataset.dim
    cells = cfg.eval.jsd_bins ** dim
    if getattr(cfg.eval, "jsd_cells", "exact") == "exact" and hasattr(dataset, "cell_probs"):
        return cells * 8 * (dim + 9)
    modes = len(dataset.modes) if dataset.modes is not None else 1
    return cells * (8 * (3 * dim + 4) + 8 * modes * dim)


# the toy mixtures whose tensors grow with a setting: name -> (modes, dimension, the settings)
_MIXTURES = {"ring": (lambda p: p["n_modes"], lambda p: 2, "data.n_modes"),
             "grid": (lambda p: p["n"] ** 2, lambda p: 2, "data.n"),
             "gmm": (lambda p: p["n_modes"], lambda p: p["dim"], "data.n_modes, data.dim")}
# building one: the means, one std and one weight a mode kept (4 x dim + 8 bytes), and the
# temporaries beside them (measured peak RSS: 21-25 bytes a mode in 2-D, 130 for gmm in 16-D)
MIXTURE_BUILD_BYTES = (8, 12)      # 8 x dim + 12 bytes a mode


def data_parts(cfg, building: bool = False, drivers: dict[str, str] | None = None) -> dict[str, int]:
    """Bytes of the data's own tensors that the config alone tells (the toy mixtures' modes): what
    the dataset keeps, or with ``building`` what building it holds at its peak."""
    entry = _MIXTURES.get(cfg.data.name)
    if entry is None:
        return {}
    params = cfg.data.params
    try:
        modes, dim = int(entry[0](params)), int(entry[1](params))
    except (KeyError, TypeError, ValueError):     # a user's own entry under this name
        return {}
    per_mode = MIXTURE_BUILD_BYTES[0] * dim + MIXTURE_BUILD_BYTES[1] if building else 4 * dim + 8
    key = f"the data's {modes:,} modes"
    if drivers is not None:
        drivers[key] = entry[2]
    return {key: modes * per_mode}


def image_folder_parts(cfg, drivers: dict[str, str]) -> tuple[dict[str, int], str | None]:
    """Bytes that building an image folder's dataset holds at its peak, told from its file names and
    one header, and the note on a large side the folder chose (data.size = 0); ({}, None) for
    other data."""
    if cfg.data.name != "image-folder":
        return {}, None
    from gankit.data.images import FOLDER_BUILD_COPIES, folder_extent, large_side_note
    p = cfg.data.params
    try:
        extent = folder_extent(p["path"], int(p["size"]), p["resize"]) if p["path"] else None
        channels = int(p["channels"])
    except (KeyError, TypeError, ValueError):     # a user's own entry under this name
        return {}, None
    if extent is None:
        return {}, None
    n, side = extent
    key = f"the data's {n:,} images of {channels}x{side}x{side}"
    drivers[key] = "data.size, data.channels, the images in data.path"
    note = large_side_note(os.path.basename(os.path.normpath(p["path"])), side, int(p["size"]), p["resize"])
    return {key: FOLDER_BUILD_COPIES * n * channels * side * side}, note


def estimate(cfg, dataset, drivers: dict[str, str] | None = None) -> dict[str, int]:
    """Bytes of the big parts of a run (see the module's docstring); a part that cannot be
    estimated for these nets is left out.  ``drivers``, when given, is filled with each part's
    settings that change it."""
    from gankit.train.build import build_nets
    from gankit.train.conditional import noise_dim_for
    parts: dict[str, int] = {}
    why = {} if drivers is None else drivers
    shape = tuple(dataset.shape)
    per_x = math.prod(shape) * 4
    B = cfg.train.batch_size
    parts["data batches"] = 2 * B * per_x
    why["data batches"] = "train.batch_size"
    dim = getattr(dataset, "dim", 0)
    asked = set(cfg.eval.metrics)
    jsd_grid = (getattr(dataset, "kind", "points") == "points" and dim <= 2 and dataset.has_density
                and (not asked or "jsd" in asked))
    # the largest draw from G: eval.jsd_samples only where the jsd metric applies (a density in
    # 1-D or 2-D), eval.parzen_centres only for images (the parzen metric)
    draws = {"train.n_fixed": cfg.train.n_fixed, "eval.n_samples": cfg.eval.n_samples}
    if jsd_grid:
        draws["eval.jsd_samples"] = cfg.eval.jsd_samples
    if getattr(dataset, "kind", "points") == "image" and (not asked or "parzen" in asked):
        draws["eval.parzen_centres"] = cfg.eval.parzen_centres
    n_eval = max(draws.values())
    drawn = ", ".join(k for k, v in draws.items() if v == n_eval)
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
        why["G and D weights with gradients and Adam state"] = "the nets' widths"
        if cfg.condition.kind == "none" and getattr(dataset, "kind", "points") != "text":
            act = _per_sample_activations(G, D, noise_dim_for(cfg), shape)
            if act is not None:
                total, held = act
                # G on B, D on B real + B fake; values kept for backward and their gradients
                parts["one training step's activations"] = 2 * 4 * total * 3 * B
                why["one training step's activations"] = "train.batch_size, the nets' widths"
                chunk = min(n_eval, GENERATE_CHUNK)
                key = f"generating samples (chunks of {chunk:,})"
                parts[key] = 4 * held * chunk
                why[key] = f"{drawn}, the generator's width"
    parts["evaluation samples"] = 2 * n_eval * per_x
    why["evaluation samples"] = drawn
    parts["noise of the largest draw"] = 4 * n_eval * cfg.noise.dim
    why["noise of the largest draw"] = f"{drawn}, noise.dim"
    parts.update(data_parts(cfg, drivers=why))
    if getattr(dataset, "kind", "points") == "image" and isinstance(getattr(dataset, "x", None), torch.Tensor):
        held = dataset.x.nbytes + (dataset.heldout.nbytes if dataset.heldout is not None else 0)
        parts["the data's images"], why["the data's images"] = held, "the number of images"
    side = getattr(dataset, "side_setting", None)
    if side:     # the pixels, the batches, the samples, and a DCGAN's layers (one per doubling) grow with it
        for k in parts:
            if not k.startswith("noise of"):
                why[k] = f"{why[k]}, {side}"
    if jsd_grid:
        key = f"JSD grid ({cfg.eval.jsd_bins}^{dim} cells)"
        parts[key] = jsd_grid_bytes(cfg, dataset)
        why[key] = "eval.jsd_bins"
    return parts


def peak(parts: dict[str, int]) -> int:
    """Bytes alive at once: the weights and batches throughout, plus the largest phase: a
    training step's activations, or generating the evaluation samples, or the JSD grid beside
    them (each phase frees its memory before the next)."""
    def part(prefix):
        return sum(v for k, v in parts.items() if k.startswith(prefix))
    samples = part("evaluation samples")
    phases = (part("one training step's activations"),
              part("generating samples") + part("noise of the largest draw") + samples,
              part("JSD grid") + samples)
    return part("data batches") + part("G and D weights") + part("the data's") + max(phases)


# parts held in host memory whatever the device: the dataset, the samples gathered on the CPU,
# the JSD grid (numpy)
HOST_PARTS = ("the data's", "evaluation samples", "JSD grid")


def check_data_memory(cfg, device: torch.device | None = None):
    """ConfigError when building the dataset would need more memory than the host has: called
    before it is built (a ring of 10^9 modes was killed by the kernel, with no message)."""
    cpu = device is None or device.type == "cpu"
    total = machine_memory(torch.device("cpu")) if cpu else available_host_memory()
    drivers: dict[str, str] = {}
    parts = data_parts(cfg, building=True, drivers=drivers)
    images, note = image_folder_parts(cfg, drivers)
    parts.update(images)
    if total is not None and parts and sum(parts.values()) > total:
        _refuse(parts, drivers, sum(parts.values()), total,
                "this machine's cpu has" if cpu else "this machine has available", note)


def check_memory(cfg, dataset, device: torch.device):
    """ConfigError when the estimate exceeds the device's memory, naming the big parts and the
    settings that drive them."""
    drivers: dict[str, str] = {}
    parts = estimate(cfg, dataset, drivers)
    note = getattr(dataset, "side_note", None)     # an image folder's own large side: how to train smaller
    if device.type != "cpu":    # the host's parts against the host, the rest against the device
        host = {k: v for k, v in parts.items() if k.startswith(HOST_PARTS)}
        free = available_host_memory()
        if free is not None and peak(host) > free:
            _refuse(host, drivers, peak(host), free, "this machine has available", note)
        parts = {k: v for k, v in parts.items() if k not in host}
    total = machine_memory(device)
    if total is None:
        return
    need = peak(parts)
    # nets that need more than z and x (conditions, sequences) are not driven, so their activations
    # and generation are left out: said only where what is counted already takes a large share
    if "one training step's activations" not in parts and total / 8 < need <= total:
        warnings.warn(f"the memory check counts {need / GB:.1f} GB of this machine's {total / GB:.1f} GB "
                      "without these nets' activations and generation (they need more than z and x: "
                      "conditions, sequences): a batch, width or sample count too big fails later, not here",
                      stacklevel=2)
    if need > total:
        _refuse(parts, drivers, need, total, f"this machine's {device.type} has", note)


def _refuse(parts: dict[str, int], drivers: dict[str, str], need: int, total: int, has: str,
            note: str | None = None):
    """``note``: a cause the settings named do not tell (an image folder's own large side)."""
    big = [k for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v >= 0.01 * need]
    shown = "; ".join(f"{k} {parts[k] / GB:.1f} GB: {drivers[k]}" for k in big)
    raise ConfigError(f"this config would need at least {need / GB:.1f} GB of memory ({shown}), but "
                      f"{has} {total / GB:.1f} GB; lower the settings named after the largest parts"
                      + (f". {note}" if note else ""))
