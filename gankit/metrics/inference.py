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

RECON_IMAGES = 256      # held-out images inverted (the first ones of the split: fixed across runs)
RECON_STEPS = 300       # Adam steps on z per image


def cluster_accuracy(pred, true) -> float:
    """Share of samples whose cluster maps to their class under the best one-to-one matching
    of clusters to classes (Hungarian algorithm on the contingency table)."""
    from scipy.optimize import linear_sum_assignment
    pred, true = np.asarray(pred, np.int64), np.asarray(true, np.int64)
    k = int(max(pred.max(), true.max())) + 1
    table = np.zeros((k, k), np.int64)
    np.add.at(table, (pred, true), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(pred))


def _labelled_heldout(ds) -> bool:
    return getattr(ds, "kind", None) == "image" and getattr(ds, "heldout_labels", None) is not None


def _heldout(ds) -> bool:
    return getattr(ds, "kind", None) == "image" and getattr(ds, "heldout", None) is not None


@register_metric("classify", _labelled_heldout,
                 "held-out accuracy of the objective's classifier (SS-GAN's D, InfoGAN's code)",
                 {"test_accuracy": Output("held-out accuracy", "higher", ".4f", headline=True),
                  "cluster_accuracy": Output("held-out accuracy, best class matching", "higher", ".4f",
                                             headline=True)},
                 needs="labelled images with a held-out split: mnist5k, fashion-mnist, digits8x8, or a "
                       "folder with one sub-folder per class and at least 20 images (data.holdout > 0)",
                 reads=())
def _classify(ctx):
    if ctx.classify is None:
        raise NotForThisRun("this run's objective has no classifier to measure (the ssgan objective's D "
                            "and infogan's categorical code have one)")
    ds = ctx.dataset
    pred = ctx.classify(ds.split("heldout")).argmax(1).numpy()
    true = ds.split_labels("heldout").numpy()
    out = {"cluster_accuracy": cluster_accuracy(pred, true)}
    if getattr(ctx.classify, "classes_named", True):     # an unsupervised code's index is not the class
        out["test_accuracy"] = float((pred == true).mean())
    return out


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
