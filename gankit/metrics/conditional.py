"""Metrics of conditional generators: does G obey the condition?

- cond_accuracy: share of samples for class c that are recognised as c (for mixtures the
  mode the `modes` metric puts them on: nearest in that mode's std units; for images the
  shipped evaluation classifier, or one trained on the labelled images,
  gankit/metrics/own_classifier.py);
- attribute_accuracy (captions): share of asked words (thick/thin, ...) that the
  measured property of the sample matches; chance is 0.5;
- fd_within_class: mean over classes of the Frechet distance between generated and
  real samples of that class (classifier features for images, coordinates for points);
- diversity_ratio: mean pairwise distance within a class, generated over real (1 is
  as diverse as the data; near 0 is collapse inside the class).
"""
from __future__ import annotations

import torch

from gankit.metrics.base import Output, register_metric


def _is_conditional(ds) -> bool:
    return getattr(ds, "condition_kind", None) is not None


def _mode_of(ds, x) -> torch.Tensor:
    """The mode each point lies on, by the `modes` metric's own rule (nearest in that mode's
    std units), so the two metrics never read a point differently."""
    from gankit.metrics.modes import assign_modes
    return assign_modes(x.cpu(), ds.modes, 1.0 if ds.mode_std is None else ds.mode_std)[0]


def _features_and_predictions(ctx, x, real: bool = False):
    """(features, predicted class) with no metric naming a dataset; ``real``: x are real
    images, whose outputs are kept on disk (keyed by the images and the classifier).  Points
    have no classifier: their class is their mode (_mode_of), so the prediction is None."""
    ds = ctx.dataset
    if ds.kind == "points":
        return x.double(), None
    from gankit.metrics.feature_nets import feature_cache, module_hash, tensor_hash
    from gankit.metrics.features import classifier_outputs
    from gankit.metrics.own_classifier import dataset_classifier
    # the shipped classifier, or one trained on the labelled images and cached on disk
    net = dataset_classifier(ds)

    def make():
        f, p = classifier_outputs(net, x, device=ctx.device)
        return {"features": f.numpy(), "probs": p.numpy()}
    out = feature_cache(["class-outputs-v1", module_hash(net), tensor_hash(x)], make) if real else make()
    return torch.as_tensor(out["features"]).double(), torch.as_tensor(out["probs"]).argmax(1)


def _classes(ctx, n):
    classes = ctx.dataset.classes          # those with data (a user's files may skip some digits)
    return classes.repeat_interleave(max(1, n // len(classes)))


@register_metric("cond_accuracy", _is_conditional,
                 "share of samples for class c recognised as c (conditional runs)",
                 {"cond_accuracy": Output("conditional accuracy", "higher", ".3f")})
def _cond_accuracy(ctx):
    y = _classes(ctx, ctx.settings.n_samples)
    x = ctx.generate(len(y), "samples", y=y)
    if ctx.dataset.kind == "points":
        return {"cond_accuracy": float((_mode_of(ctx.dataset, x) == y.cpu()).float().mean())}
    _, pred = _features_and_predictions(ctx, x)
    return {"cond_accuracy": float((pred.cpu() == y).float().mean())}


@register_metric("attribute_accuracy", lambda ds: getattr(ds, "condition_kind", None) == "text",
                 "share of caption words (thick/thin, small/large, faint/bright) the sample matches",
                 {"attribute_accuracy": Output("attribute accuracy (chance 0.5)", "higher", ".3f")})
def _attribute_accuracy(ctx):
    ds = ctx.dataset
    g = torch.Generator().manual_seed(ctx.stream("captions"))
    y = _classes(ctx, ctx.settings.n_samples)
    bits = torch.randint(0, 2, (len(y), ds.attr_bits.shape[1]), generator=g)
    c = ds.vocab.encode(ds.caption(bits, y), ds.max_words)
    x = ctx.generate(len(y), "captions", c=c)
    got = ds.attributes(x, y)
    from gankit.data.conditional import ATTRIBUTES
    out = {f"attr_acc_{a}": float((got[:, i] == bits[:, i]).float().mean())
           for i, (a, _, _) in enumerate(ATTRIBUTES)}
    out["attribute_accuracy"] = float((got == bits).float().mean())
    return out


@register_metric("within_class", _is_conditional,
                 "Frechet distance and diversity within each class (conditional runs)",
                 {"fd_within_class": Output("Frechet distance within classes", "lower", ".3f"),
                  "diversity_ratio": Output("diversity within classes, generated / real", "higher", ".3f")})
def _within_class(ctx):
    from gankit.metrics.image_measures import frechet_distance, gaussian_stats
    ds = ctx.dataset
    y = _classes(ctx, ctx.settings.n_samples)
    x = ctx.generate(len(y), "within_class", y=y)
    g = torch.Generator().manual_seed(ctx.stream("within_class"))
    real, _, ry = ds.sample_conditional(len(y), g)
    ff, _ = _features_and_predictions(ctx, x)
    fr, _ = _features_and_predictions(ctx, real, real=True)
    fds, ratios = [], []
    for k in ds.classes.tolist():
        a, b = ff[y == k], fr[ry == k]
        if len(a) < 3 or len(b) < 3:
            continue
        fds.append(frechet_distance(*gaussian_stats(a.numpy()), *gaussian_stats(b.numpy())))
        ratios.append(float(torch.pdist(a).mean() / torch.pdist(b).mean().clamp_min(1e-12)))
    if len(fds) < len(ds.classes):
        from gankit.metrics.base import TooFewSamples
        short = len(ds.classes) - len(fds)
        if not fds:
            raise TooFewSamples(f"within_class: no class had 3 or more samples of each kind "
                                f"({len(y)} samples over {len(ds.classes)} classes)")
        import warnings
        warnings.warn(f"within_class: {short} of {len(ds.classes)} classes had fewer than 3 samples of "
                      f"each kind and are left out of the mean; more samples: --set eval.n_samples=N",
                      stacklevel=2)
    return {"fd_within_class": sum(fds) / len(fds), "diversity_ratio": sum(ratios) / len(ratios)}
