"""Image metrics: a feature extractor (metrics/features.py) plus pure functions
from features (or pixels) to numbers.

Pure functions, in gankit/metrics/image_measures.py (numpy/torch in, floats out;
each checked against an independent computation in tests/test_image_metrics.py):

- ``frechet_distance``: ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), the FID
  formula, on any features;
- ``inception_score``: exp(E_x KL(p(y|x) || p(y))), mean and std over splits;
- ``kid``: unbiased MMD^2 with the cubic polynomial kernel, over subsets;
- ``prdc``: k-NN precision/recall (Kynkaanniemi 2019), density/coverage (Naeem 2020);
- ``parzen_protocol``: Goodfellow 2014's Gaussian Parzen window log-likelihood;
- ``stacked_modes``: modes of Stacked MNIST covered and KL(histogram || uniform);
- ``class_histogram``: mode dropping per class;
- ``memorisation``: nearest-neighbour distances to training vs held-out images,
  exact and horizontally flipped copies.

The registered metrics (``gankit eval RUN --metrics fid,is,...``) ask the dataset
for its classifier key, classes, held-out split and per-channel classes; none
names a dataset.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor

from gankit.components import METRICS
from gankit.config import ConfigError
from gankit.metrics.base import Metric
from gankit.metrics.image_measures import (
    fid_from_features,
    inception_score,
    kid,
    prdc,
    parzen_protocol,
    stacked_modes,
    class_histogram,
    memorisation,
)


# ------------------------------------------------------------------ run-level metrics

def _cache(run) -> dict:
    c = getattr(run, "_image_eval_cache", None)
    if c is None or c.get("step") != run.step:
        c = {"step": run.step}
        run._image_eval_cache = c
    return c


def eval_samples(run, n: int | None = None) -> Tensor:
    n = n or run.cfg.eval.n_samples
    c = _cache(run)
    key = ("samples", n)
    if key not in c:
        c[key] = run.generate(n, seed=run.cfg.seed + 13).float()
    return c[key]


def _inception_path(run) -> str:
    return getattr(run.cfg.eval, "inception_weights", "") or os.environ.get("GANKIT_INCEPTION", "")


def _use_inception(run) -> bool:
    return getattr(run.cfg.eval, "features", "classifier") == "inception"


def has_features(ds) -> bool:
    """A dataset has evaluation features if a shipped classifier fits it (or Inception is set up)."""
    if getattr(ds, "kind", None) != "image":
        return False
    from gankit.metrics.features import weights_path
    own = ds.classifier is not None and ds.shape[0] == 1 and weights_path(ds.classifier).is_file()
    return own or bool(os.environ.get("GANKIT_INCEPTION"))


def extract(run, x: Tensor) -> tuple[Tensor, Tensor, str]:
    """(features, class probabilities, name of the extractor) of images x."""
    ds = run.dataset
    if _use_inception(run) or ds.classifier is None or ds.shape[0] != 1:
        from gankit.metrics.features import InceptionFeatures
        f, p = InceptionFeatures(_inception_path(run), run.device)(x)
        return f, p, "inception"
    from gankit.metrics.features import classifier_outputs, load_classifier
    f, p = classifier_outputs(load_classifier(ds.classifier), x, device=run.device)
    return f, p, "classifier"


def _fake_features(run):
    c = _cache(run)
    if "fake_feat" not in c:
        c["fake_feat"] = extract(run, eval_samples(run))
    return c["fake_feat"]


_REAL_CACHE: dict = {}


def _real_features(run, n: int):
    """Features of n training images (a fixed subset), cached per dataset and extractor."""
    ds = run.dataset
    key = (id(ds), n, _use_inception(run))
    if key not in _REAL_CACHE:
        g = torch.Generator().manual_seed(run.cfg.seed + 17)
        x = ds.split("train")
        x = x[torch.randperm(len(x), generator=g)[:n]]
        _REAL_CACHE.clear()
        _REAL_CACHE[key] = extract(run, x)
    return _REAL_CACHE[key]


def _fd_key(kind):
    return "fid" if kind == "inception" else "fcd"   # Frechet classifier distance with gankit's nets


def _fid(run):
    f, _, kind = _fake_features(run)
    r, _, _ = _real_features(run, len(f))
    return {_fd_key(kind): fid_from_features(r.numpy(), f.numpy())}


def _kid(run):
    f, _, kind = _fake_features(run)
    r, _, _ = _real_features(run, len(f))
    m, s = kid(r.numpy(), f.numpy(), n_subsets=50, subset_size=min(1000, len(f)), seed=run.cfg.seed)
    pre = "kid" if kind == "inception" else "kcd"
    return {pre: m, f"{pre}_std": s}


def _is(run):
    _, p, kind = _fake_features(run)
    m, s = inception_score(p.numpy(), splits=10)
    pre = "is" if kind == "inception" else "cs"     # "classifier score" with gankit's nets
    return {pre: m, f"{pre}_std": s}


def _prdc(run):
    f, _, _ = _fake_features(run)
    n = min(len(f), 5000)
    r, _, _ = _real_features(run, len(f))
    return prdc(r[:n], f[:n], k=5)


def _class_hist(run):
    ds = run.dataset
    _, p, kind = _fake_features(run)
    if kind != "classifier":
        raise ConfigError("class_hist needs the dataset's own classifier (eval.features=classifier)")
    ref = None
    if ds.labels is not None:
        ref = np.bincount(ds.labels.numpy(), minlength=ds.n_classes)[:ds.n_classes]
    return class_histogram(p.argmax(1).numpy(), ds.n_classes, ref)


def _stacked(run):
    from gankit.metrics.features import channel_probs, load_classifier
    ds = run.dataset
    net = load_classifier(ds.classifier)
    digits = channel_probs(net, eval_samples(run), device=run.device).argmax(2)
    return stacked_modes(digits.numpy(), ds.channel_classes)


def _parzen(run):
    ds = run.dataset
    n = min(run.cfg.eval.n_samples, 10000)
    centres = (eval_samples(run, n).reshape(n, -1) + 1) / 2        # pixels in [0, 1], as in the paper
    held = (ds.split("heldout").reshape(-1, centres.shape[1]) + 1) / 2
    n_valid = min(1000, len(held) // 2)
    return parzen_protocol(centres, held[:n_valid], held[n_valid:n_valid + 10000])


def _memorisation(run):
    ds = run.dataset
    x = eval_samples(run)[:2500]     # 2,500 samples: enough to see copies, cheap against 60k images
    return memorisation(x, ds.split("train"), ds.split("heldout"))


def _image(ds):
    return getattr(ds, "kind", None) == "image"


def _held(ds):
    return _image(ds) and getattr(ds, "heldout", None) is not None


def _classified(ds):
    from gankit.metrics.features import weights_path
    return (_image(ds) and ds.classifier is not None and ds.shape[0] == 1 and ds.n_classes is not None
            and weights_path(ds.classifier).is_file())


def _stackable(ds):
    from gankit.metrics.features import weights_path
    return (_image(ds) and getattr(ds, "channel_classes", None) is not None and ds.classifier is not None
            and weights_path(ds.classifier).is_file())


_SPECS = [
    ("fid", _fid, has_features, "Frechet distance of features (fcd: gankit's classifier; fid: Inception)"),
    ("kid", _kid, has_features, "kernel distance of features, unbiased MMD^2 (kcd / kid)"),
    ("is", _is, has_features, "Inception Score, 10 splits (cs: on gankit's classifier)"),
    ("prdc", _prdc, has_features, "k-NN precision, recall, density, coverage of features (k = 5)"),
    ("class_hist", _class_hist, _classified, "class histogram of samples: classes dropped, KL to data"),
    ("stacked_modes", _stacked, _stackable, "Stacked MNIST: modes covered of 1,000 and KL to uniform"),
    ("parzen", _parzen, _held, "Parzen window log-likelihood of held-out images (Goodfellow 2014)"),
    ("memorisation", _memorisation, _held, "NN distances to training vs held-out; exact and flipped copies"),
]

for _name, _fn, _applies, _help in _SPECS:
    METRICS.register(_name, None, _help)(
        lambda _n=_name, _f=_fn, _a=_applies, _h=_help: Metric(_n, _f, _a, _h))
