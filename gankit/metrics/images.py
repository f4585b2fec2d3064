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

from gankit import seeds
from gankit.config import ConfigError
from gankit.metrics.base import Output, register_metric
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


# ------------------------------------------------------------------ metrics of an evaluation

def eval_samples(ctx, n: int | None = None) -> Tensor:
    n = n or ctx.settings.n_samples
    return ctx.cached(("samples", n), lambda: ctx.generate(n, "samples").float())


def _inception_path(settings) -> str:
    return getattr(settings, "inception_weights", "") or os.environ.get("GANKIT_INCEPTION", "")


def _use_inception(settings) -> bool:
    return getattr(settings, "features", "classifier") == "inception"


def has_features(ds) -> bool:
    """A dataset has evaluation features if a shipped classifier fits it (or Inception is set up)."""
    if getattr(ds, "kind", None) != "image":
        return False
    from gankit.metrics.features import weights_path
    own = ds.classifier is not None and ds.shape[0] == 1 and weights_path(ds.classifier).is_file()
    return own or bool(os.environ.get("GANKIT_INCEPTION"))


def extract(ctx, x: Tensor) -> tuple[Tensor, Tensor, str]:
    """(features, class probabilities, name of the extractor) of images x."""
    ds = ctx.dataset
    if _use_inception(ctx.settings) or ds.classifier is None or ds.shape[0] != 1:
        from gankit.metrics.features import InceptionFeatures
        f, p = InceptionFeatures(_inception_path(ctx.settings), ctx.device)(x)
        return f, p, "inception"
    from gankit.metrics.features import classifier_outputs, load_classifier
    f, p = classifier_outputs(load_classifier(ds.classifier), x, device=ctx.device)
    return f, p, "classifier"


def _fake_features(ctx):
    return ctx.cached("fake_feat", lambda: extract(ctx, eval_samples(ctx)))


_REAL_CACHE: dict = {}


def real_subset(ds, n: int, run_seed: int) -> Tensor:
    """The n training images the feature metrics compare with (a fixed subset per run seed)."""
    g = torch.Generator().manual_seed(seeds.stream_seed(run_seed, "real_subset"))
    x = ds.split("train")
    return x[torch.randperm(len(x), generator=g)[:n]]


def _real_features(ctx, n: int):
    """Features of n training images (a fixed subset), cached per dataset and extractor."""
    ds = ctx.dataset
    key = (id(ds), n, _use_inception(ctx.settings))
    if key not in _REAL_CACHE:
        _REAL_CACHE.clear()
        _REAL_CACHE[key] = extract(ctx, real_subset(ds, n, ctx.seed))
    return _REAL_CACHE[key]


def _fd_key(kind):
    return "fid" if kind == "inception" else "fcd"   # Frechet classifier distance with gankit's nets


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


@register_metric("fid", has_features, "Frechet distance of features (fcd: gankit's classifier; fid: Inception)",
                 {"fcd": Output("Frechet classifier distance", "lower", ".3f"),
                  "fid": Output("FID (Inception)", "lower", ".3f")})
def _fid(ctx):
    f, _, kind = _fake_features(ctx)
    r, _, _ = _real_features(ctx, len(f))
    return {_fd_key(kind): fid_from_features(r.numpy(), f.numpy())}


@register_metric("kid", has_features, "kernel distance of features, unbiased MMD^2 (kcd / kid)",
                 {"kcd": Output("kernel classifier distance", "lower", ".4f"),
                  "kcd_std": Output("kcd std over subsets", None, ".4f"),
                  "kid": Output("KID (Inception)", "lower", ".4f"),
                  "kid_std": Output("KID std over subsets", None, ".4f")})
def _kid(ctx):
    f, _, kind = _fake_features(ctx)
    r, _, _ = _real_features(ctx, len(f))
    m, s = kid(r.numpy(), f.numpy(), n_subsets=50, subset_size=min(1000, len(f)), seed=ctx.seed)
    pre = "kid" if kind == "inception" else "kcd"
    return {pre: m, f"{pre}_std": s}


@register_metric("is", has_features, "Inception Score, 10 splits (cs: on gankit's classifier)",
                 {"cs": Output("classifier score", "higher", ".3f"),
                  "cs_std": Output("classifier score std over splits", None, ".3f"),
                  "is": Output("Inception Score", "higher", ".3f"),
                  "is_std": Output("Inception Score std over splits", None, ".3f")})
def _is(ctx):
    _, p, kind = _fake_features(ctx)
    m, s = inception_score(p.numpy(), splits=10)
    pre = "is" if kind == "inception" else "cs"     # "classifier score" with gankit's nets
    return {pre: m, f"{pre}_std": s}


@register_metric("prdc", has_features, "k-NN precision, recall, density, coverage of features (k = 5)",
                 {"precision": Output("precision (k-NN)", "higher", ".3f"),
                  "recall": Output("recall (k-NN)", "higher", ".3f"),
                  "density": Output("density", "higher", ".3f"),
                  "coverage": Output("coverage", "higher", ".3f")})
def _prdc(ctx):
    f, _, _ = _fake_features(ctx)
    n = min(len(f), 5000)
    r, _, _ = _real_features(ctx, len(f))
    return prdc(r[:n], f[:n], k=5)


@register_metric("class_hist", _classified, "class histogram of samples: classes dropped, KL to data",
                 {"classes_missing": Output("classes never generated", "lower", "d"),
                  "class_kl": Output("KL(class histogram || data)", "lower", ".4f"),
                  "class_min_share": Output("share of the rarest class", "higher", ".3f")})
def _class_hist(ctx):
    ds = ctx.dataset
    _, p, kind = _fake_features(ctx)
    if kind != "classifier":
        raise ConfigError("class_hist needs the dataset's own classifier (eval.features=classifier)")
    ref = None
    if ds.labels is not None:
        ref = np.bincount(ds.labels.numpy(), minlength=ds.n_classes)[:ds.n_classes]
    return class_histogram(p.argmax(1).numpy(), ds.n_classes, ref)


@register_metric("stacked_modes", _stackable, "Stacked MNIST: modes covered of 1,000 and KL to uniform",
                 {"stacked_modes": Output("Stacked MNIST modes covered", "higher", "d"),
                  "stacked_modes_total": Output("Stacked MNIST modes", None, "d"),
                  "stacked_kl": Output("KL(mode histogram || uniform)", "lower", ".3f"),
                  "stacked_channel_kl": Output("per-channel digit-share KL", "lower", ".3f")})
def _stacked(ctx):
    from gankit.metrics.features import channel_probs, load_classifier
    ds = ctx.dataset
    net = load_classifier(ds.classifier)
    digits = channel_probs(net, eval_samples(ctx), device=ctx.device).argmax(2)
    return stacked_modes(digits.numpy(), ds.channel_classes)


@register_metric("parzen", _held, "Parzen window log-likelihood of held-out images (Goodfellow 2014)",
                 {"parzen_ll": Output("Parzen log-likelihood (nats)", "higher", ".1f"),
                  "parzen_se": Output("Parzen standard error", None, ".1f"),
                  "parzen_sigma": Output("Parzen sigma", None, ".3f")})
def _parzen(ctx):
    ds = ctx.dataset
    n = min(ctx.settings.n_samples, 10000)
    centres = (eval_samples(ctx, n).reshape(n, -1) + 1) / 2        # pixels in [0, 1], as in the paper
    held = (ds.split("heldout").reshape(-1, centres.shape[1]) + 1) / 2
    n_valid = min(1000, len(held) // 2)
    return parzen_protocol(centres, held[:n_valid], held[n_valid:n_valid + 10000])


@register_metric("memorisation", _held, "NN distances to training vs held-out; exact and flipped copies",
                 {"copy_frac": Output("share of exact copies of training images", "lower", ".3f"),
                  "flip_copy_frac": Output("share of mirrored copies", "lower", ".3f"),
                  "nn_ratio": Output("NN distance to training / to held-out", None, ".3f")})
def _memorisation(ctx):
    ds = ctx.dataset
    x = eval_samples(ctx)[:2500]     # 2,500 samples: enough to see copies, cheap against 60k images
    return memorisation(x, ds.split("train"), ds.split("heldout"))
