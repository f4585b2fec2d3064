"""Metrics of what a model infers from images, not of its samples.

- ``classify``: held-out accuracy of the objective's classifier (the semi-supervised GAN's
  D; InfoGAN's Q, whose categorical code is read after the best matching of codes to
  classes: ``cluster_accuracy``).  Runs whose objective has no classifier get nothing.
- ``recon_error``: how well G reproduces held-out images it never saw, by latent inversion
  (gankit/train/inversion.py): mean squared error per pixel in the data's [-1, 1].  It
  optimises a code per image, so it runs only when named (``--metrics recon_error``).
"""
from __future__ import annotations

import numpy as np
import torch

from gankit.data.base import spread_rows
from gankit.metrics.base import NotForThisRun, Output, register_metric

RECON_IMAGES = 256      # held-out images inverted (spread over the split by a fixed permutation: every class)
RECON_STEPS = 300       # Adam steps on z per image


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


def _labelled_heldout(ds) -> bool:
    return getattr(ds, "kind", None) == "image" and getattr(ds, "heldout_labels", None) is not None


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
                 needs="labelled images with a held-out split: mnist5k, fashion-mnist, digits8x8, or a "
                       "folder with one sub-folder per class and at least 20 images (data.holdout > 0)",
                 reads=())
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
                 default=False, reads=())
def _recon(ctx):
    if ctx.invert is None:
        raise NotForThisRun("this run's samples cannot be inverted")
    x = spread_rows(ctx.dataset.split("heldout"), RECON_IMAGES)     # every class, also from a sorted file
    err = ctx.invert(x, steps=RECON_STEPS).error
    return {"recon_mse": float(err.mean()), "recon_mse_median": float(err.double().quantile(0.5))}
