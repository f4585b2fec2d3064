"""Features for any image folder, and real-data features cached on disk.

``RandomConvFeatures``: a convolutional net with fixed-seed random weights (no
training, no download).  Naeem et al. 2020 (Reliable fidelity and diversity metrics,
section 5) showed that random-weight CNN embeddings rank generators for
density/coverage much as trained ones do; Frechet distance and KID on them are
comparable between runs on the same data and feature net, not with published FIDs.

    resize to 32x32 (bilinear, antialiased) -> grey to RGB ->
    [conv3x3 -> ReLU -> 2x2 max pool] x 3 (64, 128, 256) -> conv3x3 512 -> ReLU
    -> global mean and max pool -> 1024 features

Weights are drawn from torch.Generator().manual_seed(seed) (Kaiming normal), so every
machine with the same torch builds the same net; the cache key includes their hash.

Cache: ``feature_cache(key_parts, make)`` keeps float32 arrays in
``$GANKIT_CACHE`` (default ~/.cache/gankit; none without a home folder, see
``gankit.io.cache_folder``)/features/<sha1>.npz, keyed by a hash of
the data and the feature net's weights.  Each file also holds a sha1 of its key and
arrays, written with them: a file that cannot be read, holds objects (loaded with
allow_pickle=False), lacks that digest or does not match it (cut short, edited, copied
from another key), holds a NaN or inf, or whose arrays do not share one row count or
have the wrong width (``widths``, when the caller knows them) is recomputed and rewritten.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.io import CACHE_ENV, cache_folder  # noqa: F401  (CACHE_ENV: named here by callers)


class RandomConvFeatures(nn.Module):
    resolution = 32

    def __init__(self, seed: int = 0, widths=(64, 128, 256, 512)):
        super().__init__()
        layers, c = [], 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c = w
        self.body = nn.Sequential(*layers)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in self.body:
                if isinstance(m, nn.Conv2d):
                    fan_in = m.weight[0].numel()
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                    m.bias.zero_()
        self.seed = seed
        self.eval()

    def forward(self, x: Tensor) -> Tensor:
        x = x.float()
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              antialias=x.shape[-1] > self.resolution, align_corners=False)
        h = self.body(x)
        return torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1)

    @torch.no_grad()
    def features(self, x: Tensor, batch: int = 500, device=None) -> Tensor:
        if device is not None:
            self.to(device)
        dev = next(self.parameters()).device
        return torch.cat([self(x[i:i + batch].to(dev)).cpu() for i in range(0, len(x), batch)])


_NETS: dict[int, RandomConvFeatures] = {}


def random_features_net(seed: int = 0) -> RandomConvFeatures:
    if seed not in _NETS:
        with torch.random.fork_rng(devices=[]):     # default init, overwritten: the caller's stream untouched
            _NETS[seed] = RandomConvFeatures(seed)
    return _NETS[seed]


def tensor_hash(*tensors) -> str:
    h = hashlib.sha1()
    for t in tensors:
        a = np.ascontiguousarray(t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t))
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def module_hash(net: nn.Module) -> str:
    return tensor_hash(*[v for _, v in sorted(net.state_dict().items())])


def file_hash(path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path | None:
    """The feature cache's folder, or None where gankit keeps no caches (``cache_folder``)."""
    return cache_folder("features")


DIGEST = "_sha1"


def _digest(key: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha1(key.encode())
    for n in sorted(arrays):
        a = np.ascontiguousarray(arrays[n])      # hashed in place: no copy of a large array
        h.update(f"\x00{n}{a.dtype}{a.shape}".encode())
        h.update(a.reshape(-1).view(np.uint8) if a.size else b"")
    return h.hexdigest()


def _fault(key: str, z, out: dict[str, np.ndarray], widths) -> str | None:
    """Why the arrays ``out`` read from the cache file ``z`` cannot stand in for ``make()``, or None."""
    if DIGEST not in z.files:
        return "has no digest (an older gankit wrote it, or not gankit)"
    if str(z[DIGEST]) != _digest(key, out):
        return "does not match its digest (cut short, edited or from another key)"
    if len({len(v) for v in out.values()}) != 1:
        return f"holds arrays of different lengths {[len(v) for v in out.values()]}"
    for n, w in (widths or {}).items():
        if out[n].ndim != 2 or out[n].shape[1] != w:
            return f"holds {n} of shape {out[n].shape}, not (n, {w})"
    bad = [n for n, v in out.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    if bad:
        return f"holds NaN or inf in {bad}"
    return None


def feature_cache(key_parts: list[str], make, names=("features", "probs"),
                  widths: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Arrays ``names`` from the cache file for ``key_parts``, or ``make()`` (a dict) saved there.
    ``widths``: {name: columns} the arrays must have, where the caller knows them."""
    key = hashlib.sha1("\x00".join(key_parts).encode()).hexdigest()
    folder = cache_dir()
    path = None if folder is None else folder / f"{key}.npz"
    out = None if path is None else _read_cached(path, key, names, widths)
    if out is not None:
        return out
    if path is None:
        return {n: np.asarray(v, dtype=np.float32) for n, v in make().items()}
    from gankit.io.locks import computing
    with computing(path, "features") as waited:
        out = _read_cached(path, key, names, widths) if waited else None
        return out if out is not None else _computed(path, key, make, names)


def _read_cached(path: Path, key: str, names, widths) -> dict[str, np.ndarray] | None:
    """The arrays ``names`` of the cache file ``path``; None where it is missing, or (with a
    warning) damaged or not what the key asks for."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            out = {} if missing else {n: z[n] for n in names}
            fault = f"lacks {missing}" if missing else _fault(key, z, out, widths)
            if fault is None:
                return out
        warnings.warn(f"feature cache {path} {fault}; recomputing", stacklevel=3)
    except Exception as e:   # truncated, corrupt, or a pickle: never trusted
        warnings.warn(f"feature cache {path} is damaged ({type(e).__name__}); recomputing", stacklevel=3)
    return None


def _computed(path: Path, key: str, make, names) -> dict[str, np.ndarray]:
    """``make()``'s arrays as float32, saved at ``path`` with their digest."""
    out = {n: np.asarray(v, dtype=np.float32) for n, v in make().items()}
    from gankit.io import write_atomic
    digest = np.array(_digest(key, {n: out[n] for n in names if n in out}))
    try:   # a failed write (a full disk) leaves no temp file behind to keep it full
        write_atomic(path, lambda f: np.savez(f, **out, **{DIGEST: digest}))
    except OSError as e:
        warnings.warn(f"cannot write the feature cache {path}: {e}", stacklevel=3)
    return out
