"""A classifier for labelled image data that ships none: trained on the data, cached on disk.

gankit ships evaluation classifiers for MNIST and Fashion-MNIST only.  For any other
labelled images (a folder with one sub-folder per class, sklearn's digits),
``dataset_classifier(ds)`` trains gankit's small CNN (features.EvalClassifier) on the
training split, with a fixed seed and recipe (Adam 1e-3, batch 128, ``STEPS`` steps, one
torch thread: ``train_classifier``), and keeps it as safetensors under the gankit cache dir,
keyed by a hash of the images, labels, architecture and recipe.  safetensors keeps no
checksum, so the file's metadata also holds a sha1 of its key and weights (``DIGEST``): a
file that cannot be read, belongs to another key, lacks that digest (an older gankit wrote
it), does not match it (damaged bytes load without an error) or holds NaN or inf weights is
retrained, with a warning, and rewritten atomically.  The first evaluation that needs it
trains it (``gankit eval RUN --metrics class_scores`` does so ahead of time).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import warnings

import torch

from gankit import seeds
from gankit.config import ConfigError
from gankit.seeds import CPU

STEPS = 400
DIGEST = "sha1"     # metadata entry: sha1 of the key and every weight, written with them


def recipe() -> str:
    # v2: trained in channels-last layout; 1thread: on one torch thread (train_classifier), so
    # weights cached under another thread count are not served as this recipe's
    return f"adam1e-3-b128-s{STEPS}-seed0-1thread-v2"


def has_classifier(ds) -> bool:
    """A shipped classifier fits ds, or ds is labelled images one can be trained on."""
    if getattr(ds, "kind", None) != "image":
        return False
    from gankit.metrics.features import weights_path
    key = getattr(ds, "classifier", None)
    if key and ds.shape[0] == 1 and weights_path(key).is_file():
        return True
    if getattr(ds, "channel_classes", None) is not None:   # Stacked MNIST: classified per channel
        return False
    labels = getattr(ds, "labels", None)
    return labels is not None and int(labels.max()) >= 1


@contextlib.contextmanager
def one_thread():
    """torch's intra-op threads at 1 inside, the caller's count back after (an exception too)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_classifier(x, y, n_classes: int, steps: int | None = None, seed: int = 0):
    """gankit's CNN trained on (x, y) by the fixed recipe, on one torch thread: on some CPUs its
    convolutions' and batch norm's gradients change in the last bits with the thread count, and
    400 steps make that another classifier (held-out accuracy 0.9778 at 1 thread, 0.9722 at 2),
    so cas and a cached classifier would depend on eval.threads, torchrun or the machine's load.
    It costs 1.6-1.9x the time of two threads on a 2-core machine (docs/metrics.md)."""
    from gankit.process_state import gradients_on
    with one_thread(), gradients_on():     # also under a caller's torch.no_grad
        return _train(x, y, n_classes, steps, seed)


def _train(x, y, n_classes: int, steps: int | None, seed: int):
    from gankit.metrics.features import EvalClassifier
    with seeds.forked(CPU):
        seeds.seed(CPU, seed)
        net = EvalClassifier(in_channels=x.shape[1], n_classes=n_classes)
    steps = STEPS if steps is None else steps
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    with seeds.forked(CPU):     # dropout draws from the seed, not the caller's stream
        seeds.seed(CPU, seed)
        for _ in range(steps):
            i = torch.randint(0, len(x), (min(128, len(x)),), generator=g)
            loss = torch.nn.functional.cross_entropy(net(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


@torch.no_grad()
def accuracy(net, x, y) -> float:
    from gankit.metrics.features import classifier_outputs
    _, p = classifier_outputs(net, x)
    return float((p.argmax(1) == y).float().mean())


def _digest(key: str, tensors: dict) -> str:
    h = hashlib.sha1(key.encode())
    for n in sorted(tensors):
        a = tensors[n].detach().cpu().contiguous()
        h.update(f"\x00{n}{a.dtype}{tuple(a.shape)}".encode())
        h.update(a.reshape(-1).view(torch.uint8).numpy().tobytes() if a.numel() else b"")
    return h.hexdigest()


def _fault(key: str, meta: dict, tensors: dict) -> str | None:
    """Why the cached weights ``tensors`` with ``meta`` cannot stand in for a fresh training, or None."""
    if meta.get("key") != key:
        return "belongs to other data or another recipe"
    if DIGEST not in meta:
        return "has no digest (an older gankit wrote it)"
    if meta[DIGEST] != _digest(key, tensors):
        return "is damaged (digest mismatch)"
    bad = [n for n, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        return f"holds NaN or inf in {bad[:3]}"
    return None


def _load_cached(path, key: str, arch: dict):
    """The classifier cached at ``path``, or None (with a one-line warning) when it cannot be trusted."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    from gankit.metrics.features import EvalClassifier
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
        fault = _fault(key, meta, tensors)
        if fault is None:
            net = EvalClassifier(**arch)
            net.load_state_dict(tensors)
            net.eval()
            net.meta = meta
            return net
    except Exception as e:   # truncated, foreign layout or shapes: retrain, never trust it
        fault = f"is damaged ({type(e).__name__})"
    warnings.warn(f"classifier cache {path} {fault}; retraining it", stacklevel=3)
    return None


def dataset_classifier(ds):
    """The shipped classifier of ds, or one trained on its labelled training split (cached)."""
    from gankit.metrics.features import load_classifier, weights_path
    key = getattr(ds, "classifier", None)
    if key and ds.shape[0] == 1 and weights_path(key).is_file():
        return load_classifier(key)
    if not has_classifier(ds):
        raise ConfigError("this image data has no labels, so no classifier can be trained on it; "
                          "put each class in its own sub-folder")
    from gankit.io import cache_folder
    from gankit.metrics.feature_nets import tensor_hash
    x, y = ds.split("train"), ds.split_labels("train")
    n_classes = int(ds.n_classes or int(y.max()) + 1)
    name = tensor_hash(x, y) + "-" + recipe() + f"-c{n_classes}"
    folder = cache_folder("classifiers")
    path = None if folder is None else folder / f"{name[:24]}.safetensors"
    arch = {"in_channels": x.shape[1], "n_classes": n_classes}
    if path is not None and path.is_file():
        net = _load_cached(path, name, arch)
        if net is not None:
            return net
    if path is None:
        return _trained(ds, x, y, n_classes, name, arch, None)
    from gankit.io.locks import computing
    with computing(path, "this data's classifier") as waited:
        net = _load_cached(path, name, arch) if waited and path.is_file() else None
        return net if net is not None else _trained(ds, x, y, n_classes, name, arch, path)


def _trained(ds, x, y, n_classes: int, name: str, arch: dict, path):
    """A classifier trained on (x, y), its held-out accuracy in its meta; saved at ``path``."""
    from safetensors.torch import save_file
    from gankit.io import write_atomic
    net = train_classifier(x, y, n_classes)
    held, hy = getattr(ds, "heldout", None), ds.split_labels("heldout")
    acc = accuracy(net, ds.split("heldout"), hy) if held is not None and hy is not None else float("nan")
    net.meta = {"key": name, "arch": json.dumps(arch), "heldout_accuracy": f"{acc:.4f}", "recipe": recipe()}
    if path is None:
        return net
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    net.meta[DIGEST] = _digest(name, tensors)
    try:   # atomic: a crash or a second process never leaves half a file under the key
        write_atomic(path, lambda tmp: save_file(tensors, tmp, metadata=net.meta), by_name=True)
    except OSError as e:
        warnings.warn(f"cannot write the classifier cache {path}: {e}", stacklevel=2)
    return net
