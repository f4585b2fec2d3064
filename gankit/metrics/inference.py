"""Metrics of what a model infers from images, not of its samples.

- ``classify``: held-out accuracy of the objective's classifier (the semi-supervised GAN's
  D; InfoGAN's Q, whose categorical code is read after the best matching of codes to
  classes: ``cluster_accuracy``).  Runs whose objective has no classifier get nothing.
- ``recon_error``: how well G reproduces held-out images it never saw, by latent inversion
  (gankit/train/inversion.py): mean squared error per pixel in the data's [-1, 1].  It
  optimises a code per image, so it runs only when named (``--metrics recon_error``).
- ``code_nn``: 1-nearest-neighbour accuracy of the encoder's codes (BiGAN/ALI's E(x), the
  AE's and VAE's encoder means), held-out images against the training images' codes, and the
  same on raw pixels beside it (``one_nn_accuracy``: benchmarks/families.py bigan's measure).
- ``elbo``: the VAE's ELBO and its two terms on held-out images, in the units of the training
  log's elbo, recon_ll and kl.
"""
from __future__ import annotations

import numpy as np
import torch

from gankit.data.base import spread_rows
from gankit.metrics.base import NotForThisRun, Output, register_metric

RECON_IMAGES = 256      # held-out images inverted (spread over the split by a fixed permutation: every class)
RECON_STEPS = 300       # Adam steps on z per image
NN_TRAIN = 10000        # training images whose codes are code_nn's neighbours (spread: every class)
NN_HELDOUT = 2000       # held-out images code_nn classifies (MNIST-5k's 4,500 and 500 whole)
ELBO_IMAGES = 10000     # held-out images of the ELBO (spread)
ELBO_DRAWS = 4          # draws of q(z|x) per image for E_q log p(x|z)
CHUNK = 1000            # images through the nets at once
# metric -> the run options (not eval settings) that change the units of its numbers, which
# compare weighs beside its eval settings: a Bernoulli decoder's likelihood takes grey levels in
# [0, 1] as soft targets (always <= 0), a Gaussian one's is a density of pixels in [-1, 1] (may
# be > 0).  objective.sigma is not one: learned or fixed, a Gaussian's log-density is in one unit
OPTIONS_READ = {"elbo": ("objective.decoder",)}


def cluster_accuracy(pred, true, n_codes: int | None = None, n_classes: int | None = None) -> float:
    """Share of samples whose code maps to their class.  With as many codes as classes, under
    the best one-to-one matching (Hungarian algorithm on the contingency table); otherwise each
    code maps to the class it holds most of (many-to-one, cluster purity): a one-to-one matching
    of 20 codes to 3 classes scores a code that splits each class over several values (each value
    pure) below one that ignores the image.  Counts default to the values seen."""
    from scipy.optimize import linear_sum_assignment
    pred, true = np.asarray(pred, np.int64), np.asarray(true, np.int64)
    n_codes = int(pred.max()) + 1 if n_codes is None else max(int(n_codes), int(pred.max()) + 1)
    n_classes = int(true.max()) + 1 if n_classes is None else max(int(n_classes), int(true.max()) + 1)
    table = np.zeros((n_codes, n_classes), np.int64)
    np.add.at(table, (pred, true), 1)
    if n_codes != n_classes:
        return float(table.max(1).sum() / len(pred))
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(pred))


# what classify and code_nn need of the data
LABELLED_NEEDS = ("labelled images with a held-out split, of two or more classes: mnist5k, fashion-mnist, "
                  "digits8x8, or a folder with two or more class sub-folders and at least 20 images "
                  "(data.holdout > 0)")


HELDOUT_NEEDS = "images with a held-out split (data.holdout > 0)"
# said on points instead: data.holdout is an option of image data, no setting gives points a split
POINTS_NEEDS = ("held-out images, and point data (a file or a mixture) have no held-out split, so elbo, "
                "code_nn, classify and recon_error do not apply to them")


def _needs(images: str):
    """A metric's ``needs`` as a function of the data: ``images`` (what image data must hold),
    or on points that no setting gives them a held-out split."""
    return lambda ds: POINTS_NEEDS if getattr(ds, "kind", None) == "points" else images


def _labelled_heldout(ds) -> bool:
    """Labelled images with a held-out split, of two or more classes: of one class every
    prediction and every nearest neighbour has the right label (an accuracy of 1 that says nothing)."""
    held = getattr(ds, "heldout_labels", None)
    if getattr(ds, "kind", None) != "image" or held is None:
        return False
    train = getattr(ds, "labels", None)
    seen = torch.as_tensor(held).reshape(-1)
    if train is not None:
        seen = torch.cat([seen, torch.as_tensor(train).reshape(-1).to(seen.dtype)])
    return len(torch.unique(seen)) >= 2


def _heldout(ds) -> bool:
    return getattr(ds, "kind", None) == "image" and getattr(ds, "heldout", None) is not None


@register_metric("classify", _labelled_heldout,
                 "held-out accuracy of the objective's classifier (SS-GAN's D, InfoGAN's code)",
                 {"test_accuracy": Output("held-out accuracy", "higher", ".4f", headline=True),
                  "cluster_accuracy": Output("held-out accuracy, codes matched to classes one to one", "higher",
                                             ".4f", headline=True),
                  "cluster_purity": Output("held-out purity: each code read as the class it holds most of "
                                           "(as many codes as classes gives cluster_accuracy)", "higher", ".4f",
                                         headline=True)},
                 needs=_needs(LABELLED_NEEDS), reads=())
def _classify(ctx):
    if ctx.classify is None:
        raise NotForThisRun("this run's objective has no classifier to measure (the ssgan objective's D "
                            "and infogan's categorical code have one)")
    ds = ctx.dataset
    logits = ctx.classify(ds.split("heldout"))
    pred, true = logits.argmax(1).numpy(), ds.split_labels("heldout").numpy()
    if getattr(ctx.classify, "classes_named", True):
        # a classifier of named classes is read as it is: relabelling its outputs to fit the
        # held-out labels would measure something it was not trained to do
        return {"test_accuracy": float((pred == true).mean())}
    # an unsupervised code's index is not the class: matched to the classes, one to one where
    # their numbers agree; otherwise a code is read as its majority class, another measure under
    # another name (with fewer codes than classes it cannot reach 1, with more it is easier), so
    # that compare never ranks the two against each other
    n_classes = max(int(getattr(ds, "n_classes", None) or 0), int(true.max()) + 1)
    name = "cluster_accuracy" if logits.shape[1] == n_classes else "cluster_purity"
    return {name: cluster_accuracy(pred, true, logits.shape[1], n_classes)}


@register_metric("recon_error", _heldout,
                 f"MSE per pixel of G's best reconstruction of {RECON_IMAGES} held-out images (inversion)",
                 {"recon_mse": Output("reconstruction MSE per pixel (held-out)", "lower", ".4f"),
                  "recon_mse_median": Output("median reconstruction MSE", "lower", ".4f")},
                 default=False, needs=_needs(HELDOUT_NEEDS), reads=())
def _recon(ctx):
    if ctx.invert is None:
        raise NotForThisRun("this run's samples cannot be inverted")
    x = spread_rows(ctx.dataset.split("heldout"), RECON_IMAGES)     # every class, also from a sorted file
    err = ctx.invert(x, steps=RECON_STEPS).error
    return {"recon_mse": float(err.mean()), "recon_mse_median": float(err.double().quantile(0.5))}


def one_nn_accuracy(train_f: torch.Tensor, train_y: torch.Tensor, test_f: torch.Tensor, test_y: torch.Tensor) -> float:
    """Share of test rows whose nearest training row (squared Euclidean distance; of equal ones,
    the first) has their label."""
    from gankit.metrics.image_measures import nn_sq_dist
    _, idx = nn_sq_dist(test_f, train_f)
    return float((train_y[idx] == test_y).double().mean())


def _by_chunks(fn, x: torch.Tensor, *args):
    """``fn`` over x by CHUNK rows, its outputs (a tensor, or a tuple of them) joined."""
    parts = [fn(x[i:i + CHUNK], *args) for i in range(0, len(x), CHUNK)]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat([p[k] for p in parts]) for k in range(len(parts[0])))
    return torch.cat(parts)


def _labelled_splits(ds) -> bool:
    return _labelled_heldout(ds) and getattr(ds, "labels", None) is not None


@register_metric("code_nn", _labelled_splits,
                 "1-NN accuracy of the encoder's codes of held-out images against the training images' "
                 "(BiGAN/ALI's E(x), the AE's and VAE's encoder means); raw pixels beside it",
                 {"code_nn_accuracy": Output("held-out 1-NN accuracy of the encoder's codes", "higher", ".4f",
                                             headline=True),
                  "pixel_nn_accuracy": Output("held-out 1-NN accuracy of raw pixels (the data's own: what the "
                                              "codes are read against)", None, ".4f")},
                 needs=_needs(LABELLED_NEEDS), reads=())
def _code_nn(ctx):
    codes = getattr(ctx, "codes", None)
    if codes is None:
        raise NotForThisRun("this run's objective has no encoder to measure (bigan's E(x), the ae's and "
                            "vae's encoder have one)")
    ds = ctx.dataset
    xtr, ytr = (spread_rows(t, NN_TRAIN) for t in (ds.split("train"), ds.split_labels("train")))
    xte, yte = (spread_rows(t, NN_HELDOUT) for t in (ds.split("heldout"), ds.split_labels("heldout")))
    pixels = ctx.cached("code_nn:pixels", lambda: one_nn_accuracy(xtr, ytr, xte, yte))
    return {"code_nn_accuracy": one_nn_accuracy(_by_chunks(codes, xtr), ytr, _by_chunks(codes, xte), yte),
            "pixel_nn_accuracy": pixels}


@register_metric("elbo", _heldout,
                 "the VAE's ELBO on held-out images, nats per image in the training log's units, and its "
                 "two terms",
                 {"heldout_elbo": Output("held-out ELBO, nats per image (a lower bound on log p(x))", "higher",
                                         ".2f", headline=True),
                  "heldout_recon_ll": Output("held-out E_q log p(x|z), nats per image", "higher", ".2f"),
                  "heldout_kl": Output("held-out KL(q(z|x) || p(z)), nats per image", None, ".2f")},
                 needs=_needs(HELDOUT_NEEDS), reads=())
def _elbo(ctx):
    bound = getattr(ctx, "elbo", None)
    if bound is None:
        raise NotForThisRun("this run's objective has no ELBO to measure (the vae objective has one)")
    x = spread_rows(ctx.dataset.split("heldout"), ELBO_IMAGES)
    g = torch.Generator().manual_seed(ctx.stream("elbo"))
    elbo, rec, kl = _by_chunks(bound, x, g, ELBO_DRAWS)
    return {"heldout_elbo": float(elbo.mean()), "heldout_recon_ll": float(rec.mean()), "heldout_kl": float(kl.mean())}
