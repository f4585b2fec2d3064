"""A classifier for labelled image data that ships none: trained on the data, cached on disk.

gankit ships evaluation classifiers for MNIST and Fashion-MNIST only.  For any other
labelled images (a folder with one sub-folder per class, sklearn's digits),
``dataset_classifier(ds)`` trains gankit's small CNN (features.EvalClassifier) on the
training split, with a fixed seed and recipe (Adam 1e-3, batch 128, ``STEPS`` steps),
and keeps it as safetensors under the gankit cache dir, keyed by a hash of the images,
labels, architecture and recipe.  A damaged file is retrained.  ``gankit classifier RUN``
does this ahead of time and prints the held-out accuracy.
"""
from __future__ import annotations

import json
import warnings

import torch

from gankit.config import ConfigError

STEPS = 400


def recipe() -> str:
    return f"adam1e-3-b128-s{STEPS}-seed0-v2"      # v2: trained in channels-last layout


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


def train_classifier(x, y, n_classes: int, steps: int | None = None, seed: int = 0):
    from gankit.metrics.features import EvalClassifier
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = EvalClassifier(in_channels=x.shape[1], n_classes=n_classes)
    steps = STEPS if steps is None else steps
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    with torch.random.fork_rng(devices=[]):     # dropout draws from the seed, not the caller's stream
        torch.manual_seed(seed)
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


def dataset_classifier(ds):
    """The shipped classifier of ds, or one trained on its labelled training split (cached)."""
    from gankit.metrics.features import EvalClassifier, load_classifier, weights_path
    key = getattr(ds, "classifier", None)
    if key and ds.shape[0] == 1 and weights_path(key).is_file():
        return load_classifier(key)
    if not has_classifier(ds):
        raise ConfigError("this image data has no labels, so no classifier can be trained on it; "
                          "put each class in its own sub-folder")
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    from gankit.io import cache_folder
    from gankit.metrics.feature_nets import tensor_hash
    x, y = ds.split("train"), ds.split_labels("train")
    n_classes = int(ds.n_classes or int(y.max()) + 1)
    name = tensor_hash(x, y) + "-" + recipe() + f"-c{n_classes}"
    folder = cache_folder("classifiers")
    path = None if folder is None else folder / f"{name[:24]}.safetensors"
    arch = {"in_channels": x.shape[1], "n_classes": n_classes}
    if path is not None and path.is_file():
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
            if meta.get("key") == name:
                net = EvalClassifier(**arch)
                net.load_state_dict(load_file(str(path)))
                net.eval()
                net.meta = meta
                return net
        except Exception as e:   # truncated or foreign file: retrain, never trust it
            warnings.warn(f"classifier cache {path} is damaged ({type(e).__name__}); retraining", stacklevel=2)
    net = train_classifier(x, y, n_classes)
    held, hy = getattr(ds, "heldout", None), ds.split_labels("heldout")
    acc = accuracy(net, ds.split("heldout"), hy) if held is not None and hy is not None else float("nan")
    net.meta = {"key": name, "arch": json.dumps(arch), "heldout_accuracy": f"{acc:.4f}", "recipe": recipe()}
    if path is None:
        return net
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path), metadata=net.meta)
    except OSError as e:
        warnings.warn(f"cannot write the classifier cache {path}: {e}", stacklevel=2)
    return net
