"""Scores of images from a classifier's class probabilities p(y|x) (Borji 2019, section 2).

Pure functions (probabilities in, floats out) and their registered metrics.  The
classifier is the dataset's shipped one or one trained on its labels
(gankit/metrics/own_classifier.py); p*(y) is the class share of the training labels over
the classifier's classes (0 for those the data lacks: MNIST-format files of digits 0-3
under the shipped 10-digit classifier).

- ``m_is``: modified Inception Score (Gurumurthy et al. 2017):
  exp(E_k E_{x_i, x_j in class k} KL(p(y|x_i) || p(y|x_j))), samples grouped by their
  predicted class k: within-class diversity (1 when every sample of a class is alike);
- ``mode_score``: exp(E_x KL(p(y|x) || p*(y)) - KL(p(y) || p*(y))) (Che et al. 2017);
  p(y) = E_x p(y|x); as written the p* terms of its two KLs cancel, leaving the IS formula
  (one split) for any p*;
- ``am_score``: KL(p*(y) || p(y)) + E_x H(p(y|x)) (Zhou et al. 2018); lower is better;
- ``cas``: classification accuracy score (Ravuri & Vinyals 2019) = GAN-train (Shmelkov
  et al. 2018): the held-out real accuracy of a classifier trained on generated images
  with the labels G was asked for; ``gan_test``: accuracy of the real-data classifier on
  those generated images; ``real_acc``: the same recipe trained on real images (the
  reference CAS is read against).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import xlogy

from gankit.metrics.base import Output, TooFewSamples, register_metric
from gankit.metrics.image_measures import as_array, as_probabilities

EPS = 1e-12


def _kl_rows(p, q):
    return (p * (np.log(p + EPS) - np.log(q + EPS))).sum(-1)


def _underflow_floor(given: np.ndarray) -> float:
    """A probability that underflowed to 0 in the caller's precision reads as that precision's
    smallest positive value (float32: 1.4e-45), the nearest a 0 there can stand for."""
    dtype = given.dtype if given.dtype in (np.float16, np.float32) else np.float64
    return float(np.finfo(dtype).smallest_subnormal)


def m_is(probs, max_per_class: int = 500) -> float:
    """Classes predicted for one sample have no pair to compare and are left out; with no class
    of 2 samples there is nothing to average, and 1 would read as a G without diversity."""
    floor = _underflow_floor(as_array(probs, None))
    p = as_probabilities(probs, "m_is")
    pred = p.argmax(1)
    per_class = []
    for k in np.unique(pred):
        a = p[pred == k][:max_per_class]
        if len(a) < 2:
            continue
        # mean over ordered pairs i != j of KL(a_i || a_j); the diagonal is 0.  Exact for any
        # positive probability (a floor of 1e-12 under the logs cut the tails that dominate the
        # KL of a confident classifier); an underflowed 0 reads as the floor above
        logs = np.log(np.maximum(a, floor))
        kl = xlogy(a, a).sum(1)[:, None] - a @ logs.T
        per_class.append(kl.sum() / (len(a) * (len(a) - 1)))
    if not per_class:
        raise TooFewSamples(f"m_is: no predicted class holds 2 or more of the {len(p)} samples")
    return float(math.exp(np.mean(per_class)))


def _shares(probs, prior, name: str):
    p = as_probabilities(probs, name)
    prior = np.asarray(prior, np.float64).reshape(-1)
    if len(prior) != p.shape[1]:
        raise ValueError(f"{name}: the prior has {len(prior)} classes, the probabilities {p.shape[1]}: "
                         "give one share per class of the classifier (0 for classes the data lacks)")
    return p, prior / prior.sum()


def mode_score(probs, prior) -> float:
    """The prior's terms of the two KLs, -sum_y p(y) log p*(y), cancel: the score is the same
    for any p* (where p* is 0 for a class G produces, both KLs are infinite and the score is
    this limit, finite).  One sample scores 1 whatever it is (p(y) is its p(y|x)): 2 or more."""
    p, prior = _shares(probs, prior, "mode_score")
    if len(p) < 2:
        raise TooFewSamples(f"mode_score: need 2 or more samples, got {len(p)}")
    py = p.mean(0)
    return float(math.exp(_kl_rows(p, prior[None]).mean() - _kl_rows(py, prior)))


def am_score(probs, prior) -> float:
    """A class the data lacks (p* = 0) adds nothing to KL(p* || p(y)), whatever G does there.
    Exact for any positive probability (a floor of 1e-12 under the logs capped the KL of a
    confident classifier: 22.6 instead of 51.7 for a logit gap of 60); an underflowed 0 in
    p(y) reads as the caller's smallest positive value, as in ``m_is``."""
    floor = _underflow_floor(as_array(probs, None))
    p, prior = _shares(probs, prior, "am_score")
    entropy = -xlogy(p, p).sum(1).mean()
    kl = (xlogy(prior, prior) - xlogy(prior, np.maximum(p.mean(0), floor))).sum()
    return float(kl + entropy)


def _labelled(ds) -> bool:
    from gankit.metrics.own_classifier import has_classifier
    return has_classifier(ds)


def _classifier_classes(ds) -> int:
    """How many classes the data's classifier tells apart: the shipped one's (10 for MNIST's,
    whatever digits the data holds), else the data's own (the classifier trained on it)."""
    from gankit.metrics.features import load_classifier, weights_path
    key = getattr(ds, "classifier", None)
    if key and ds.shape[0] == 1 and weights_path(key).is_file():
        return int(load_classifier(key).n_classes)
    y = ds.labels
    return int(getattr(ds, "n_classes", None) or int(y.max()) + 1)


def _scorable(ds) -> bool:
    """Labelled images whose labels the classifier knows (IDX files of 12 classes read as MNIST
    would have labels the 10-digit classifier cannot name)."""
    return (_labelled(ds) and getattr(ds, "labels", None) is not None
            and int(ds.labels.max()) < _classifier_classes(ds))


def _prior(ds, n_classes: int):
    """Training label counts over the classifier's n_classes classes, 0 for those the data lacks
    (MNIST-format files of digits 0-3: 4 classes of data, 10 of the shipped classifier)."""
    y = ds.split_labels("train").numpy()
    return np.bincount(y, minlength=n_classes)[:n_classes].astype(np.float64)


def _probs(ctx):
    from gankit.metrics.features import classifier_outputs
    from gankit.metrics.images import eval_samples
    from gankit.metrics.own_classifier import dataset_classifier
    net = dataset_classifier(ctx.dataset)
    return ctx.cached("own_probs", lambda: classifier_outputs(net, eval_samples(ctx), device=ctx.device)[1])


@register_metric("class_scores", _scorable, "m-IS, Mode Score and AM Score from the data's classifier",
                 {"m_is": Output("modified Inception Score (within-class diversity)", "higher", ".3f"),
                  "mode_score": Output("Mode Score", "higher", ".3f"),
                  "am_score": Output("AM Score", "lower", ".3f")},
                 needs="labelled images whose labels the data's classifier knows (a shipped "
                       "classifier: labels below its number of classes)", reads=("n_samples",))
def _class_scores(ctx):
    p = _probs(ctx).numpy()
    prior = _prior(ctx.dataset, p.shape[1])
    scores = {"mode_score": mode_score(p, prior), "am_score": am_score(p, prior)}   # 2 or more samples
    try:
        return {"m_is": m_is(p), **scores}
    except TooFewSamples as e:     # the other two stand: they need no class of 2
        import warnings
        from gankit.wording import callers_words     # overrides=[...] where a program called gankit.api
        warnings.warn(f"class_scores: m_is left out: {e} (eval.n_samples = {len(p)}; more samples: "
                      + callers_words(f"--set eval.n_samples={max(500, 2 * len(p))}") + ")", stacklevel=2)
        return scores


def _label_conditional(ds) -> bool:
    return getattr(ds, "condition_kind", None) == "label" and _labelled(ds) \
        and getattr(ds, "heldout", None) is not None


def _cas_needs(ds) -> str:
    """What ``cas`` needs of ``ds``, naming only what it lacks: on labelled images conditioned on
    their labels that is the held-out split, with the reason these images have none."""
    if getattr(ds, "condition_kind", None) != "label":
        return "a run conditioned on labels (condition.kind = 'label') whose data hold a held-out split"
    if not _labelled(ds):
        return "labelled images (it trains an image classifier) with a held-out split"
    from gankit.data.images import MIN_HOLDOUT_IMAGES
    cut = getattr(ds, "cut", None)
    if cut is None:         # no split asked for: every image trains
        why = "data.holdout = 0 holds none out (a new run with --set data.holdout=0.1 would)"
    elif cut[1] == 0 and cut[0] < MIN_HOLDOUT_IMAGES:
        why = (f"these {cut[0]} images are too few to hold any out (data.holdout needs {MIN_HOLDOUT_IMAGES} "
               "or more; every image trains)")
    elif cut[1] == 0:       # _holdout_split gave each held-out image back to a class it took whole
        why = "each image data.holdout took was its class's last and went back to training (more images per class)"
    else:
        why = "these data have none"
    return f"a held-out split of the images to test on, and {why}"


def _cas_size(ctx, k: int) -> int:
    """Generated samples of each of the k classes CAS trains on: eval.n_samples over the classes,
    capped by the training split (real_acc trains the same recipe on as many real images);
    a warning where the total is not eval.n_samples (cas_samples records it)."""
    import warnings
    n, train = ctx.settings.n_samples, len(ctx.dataset.split("train"))
    per = max(1, min(n, train) // k)
    if per * k != n:
        why = (f"capped by the training split: its {train} images over {k} classes (real_acc trains "
               f"on as many real ones)" if train < n
               else f"at least one of each of the {k} classes" if n < k
               else f"{n} // {k} classes, as many of each (eval.n_samples = {per * k} or {(per + 1) * k} "
                    "measures exactly that)")
        warnings.warn(f"cas: trains on {per * k} generated samples ({per} of each class), not eval.n_samples "
                      f"= {n}: {why}; cas_samples records the number", stacklevel=3)
    return per


@register_metric("cas", _label_conditional, "classification accuracy score (train on G, test on real) = "
                 "GAN-train; GAN-test (real-data classifier on G's samples)",
                 {"cas": Output("CAS / GAN-train (held-out real accuracy)", "higher", ".3f"),
                  "gan_test": Output("GAN-test (real classifier on G)", "higher", ".3f"),
                  "real_acc": Output("the same classifier trained on real images", None, ".3f"),
                  "cas_samples": Output("generated samples CAS trained on (as many of each class)", None, "d")},
                 reads=("n_samples",), needs=_cas_needs)
def _cas(ctx):
    from gankit.metrics.own_classifier import accuracy, dataset_classifier, train_classifier
    ds = ctx.dataset
    n = int(ds.n_classes)
    classes = getattr(ds, "classes", torch.arange(n))     # those with data
    y = classes.repeat_interleave(_cas_size(ctx, len(classes)))
    x = ctx.generate(len(y), "classifier", y=y).float()
    hx, hy = ds.split("heldout"), ds.split_labels("heldout")
    fake_net = train_classifier(x, y, n, seed=ctx.seed)
    return {"cas": accuracy(fake_net, hx, hy), "gan_test": accuracy(dataset_classifier(ds), x, y),
            "real_acc": real_accuracy(ds, len(y), n, ctx.seed, ctx.stream("classifier")),
            "cas_samples": len(y)}


def real_accuracy(ds, size: int, n_classes: int, seed: int, stream: int) -> float:
    """Held-out accuracy of the CAS recipe trained on ``size`` real images: it depends on the
    data, size and seeds alone, so it is trained once and its accuracy kept on disk."""
    from gankit.metrics.feature_nets import feature_cache, tensor_hash
    from gankit.metrics.own_classifier import accuracy, recipe, train_classifier
    g = torch.Generator().manual_seed(stream)
    rx, ry = ds.split("train"), ds.split_labels("train")
    idx = torch.randperm(len(rx), generator=g)[:size]
    hx, hy = ds.split("heldout"), ds.split_labels("heldout")
    key = ["cas-real-acc-v1", recipe(), str(n_classes), str(seed), torch.__version__,
           tensor_hash(rx[idx], ry[idx], hx, hy)]

    def make():
        real_net = train_classifier(rx[idx], ry[idx], n_classes, seed=seed)   # same size and recipe as CAS
        return {"acc": np.array([accuracy(real_net, hx, hy)])}
    return float(feature_cache(key, make, names=("acc",))["acc"][0])


# ------------------------------------------------------------------ low-level image statistics

def image_statistics(real, fake) -> dict:
    """Low-level statistics (Borji's measures 22-23), generated against real images in [-1, 1]:

    - ``pixel_js``: JS divergence of the pixel-intensity histograms (64 bins);
    - ``spectrum_dist``: mean |log P_fake(f) - log P_real(f)| of the mean power spectra
      (radially unaveraged, per frequency), blur and checkerboard artefacts raise it;
    - ``sharpness_ratio``: mean gradient magnitude, generated / real (Mathieu et al.
      2016's sharpness; below 1 is blurrier than the data).
    """
    real, fake = torch.as_tensor(real).float(), torch.as_tensor(fake).float()
    hr = torch.histc(real, 64, -1, 1).double()
    hf = torch.histc(fake.clamp(-1, 1), 64, -1, 1).double()
    hr, hf = hr / hr.sum(), hf / hf.sum()
    m = 0.5 * (hr + hf)

    def kl(a, b):
        nz = a > 0
        return float((a[nz] * (a[nz] / b[nz]).log()).sum())

    def spectrum(x):
        return (torch.fft.fft2(x - x.mean((-2, -1), keepdim=True)).abs() ** 2).mean((0, 1)).double()

    def sharp(x):
        return float((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())
    sd = float((spectrum(fake).clamp_min(1e-12).log() - spectrum(real).clamp_min(1e-12).log()).abs().mean())
    return {"pixel_js": 0.5 * kl(hr, m) + 0.5 * kl(hf, m), "spectrum_dist": sd,
            "sharpness_ratio": sharp(fake) / max(sharp(real), 1e-12)}


@register_metric("image_stats", lambda ds: getattr(ds, "kind", None) == "image",
                 "low-level image statistics: pixel histogram JS, power-spectrum distance, sharpness ratio",
                 {"pixel_js": Output("JS of pixel histograms", "lower", ".4f"),
                  "spectrum_dist": Output("mean |log power spectrum difference|", "lower", ".3f"),
                  "sharpness_ratio": Output("sharpness, generated / real (1 = as sharp)", None, ".3f")},
                 reads=("n_samples",))
def _image_stats(ctx):
    from gankit.metrics.images import eval_samples
    x = eval_samples(ctx)
    g = torch.Generator().manual_seed(ctx.stream("real_subset"))
    tr = ctx.dataset.split("train")
    real = tr[torch.randperm(len(tr), generator=g)[:len(x)]]
    return image_statistics(real, x)
