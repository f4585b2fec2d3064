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
  as diverse as the data; near 0 is collapse inside the class; above 1 is wider than the
  data, noise reads so: a description, not a score ranked either way).
"""
from __future__ import annotations

import math

import torch

from gankit.metrics.base import Output, register_metric


CONDITIONAL = "a conditional run (condition.kind = 'label' or 'text')"


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


def _classes(ctx, n, metric: str = "this metric"):
    """n samples over the k classes with data (a user's files may skip some digits): n // k of
    each, and one more of each of the first n % k, so the number measured is the recorded
    eval.n_samples.  Fewer samples than classes is refused,
    not rounded up to one a class: the number would stand in the record beside an
    eval.n_samples it did not use."""
    classes = ctx.dataset.classes
    if n < len(classes):
        raise _too_few(f"{metric}: {n} samples cannot give each of the {len(classes)} classes one", len(classes))
    y = classes.repeat_interleave(n // len(classes))
    return torch.cat([y, classes[:n % len(classes)]])


@register_metric("cond_accuracy", _is_conditional,
                 "share of samples for class c recognised as c (conditional runs)",
                 {"cond_accuracy": Output("conditional accuracy", "higher", ".3f", headline=True)}, reads=("n_samples",),
                 needs=CONDITIONAL)
def _cond_accuracy(ctx):
    y = _classes(ctx, ctx.settings.n_samples, "cond_accuracy")
    x = ctx.generate(len(y), "samples", y=y)
    if ctx.dataset.kind == "points":
        return {"cond_accuracy": float((_mode_of(ctx.dataset, x) == y.cpu()).double().mean())}
    _, pred = _features_and_predictions(ctx, x)
    return {"cond_accuracy": float((pred.cpu() == y).double().mean())}


@register_metric("attribute_accuracy", lambda ds: getattr(ds, "condition_kind", None) == "text",
                 "share of caption words (thick/thin, small/large, faint/bright) the sample matches",
                 {"attribute_accuracy": Output("attribute accuracy (chance 0.5)", "higher", ".3f")},
                 reads=("n_samples",), needs="a run conditioned on captions (condition.kind = 'text')")
def _attribute_accuracy(ctx):
    ds = ctx.dataset
    g = torch.Generator().manual_seed(ctx.stream("captions"))
    y = _classes(ctx, ctx.settings.n_samples, "attribute_accuracy")
    bits = torch.randint(0, 2, (len(y), ds.attr_bits.shape[1]), generator=g)
    c = ds.vocab.encode(ds.caption(bits, y), ds.max_words)
    x = ctx.generate(len(y), "captions", c=c)
    got = ds.attributes(x, y)
    from gankit.data.conditional import ATTRIBUTES
    out = {f"attr_acc_{a}": float((got[:, i] == bits[:, i]).double().mean())
           for i, (a, _, _) in enumerate(ATTRIBUTES)}
    out["attribute_accuracy"] = float((got == bits).double().mean())
    return out


# samples of each kind (generated, real) a class needs: a covariance and a mean pairwise distance
WITHIN_MIN = 3


def _too_few(msg: str, n_needed: int):
    """TooFewSamples that carries the eval.n_samples that would be enough (the evaluation's hint)."""
    from gankit.metrics.base import TooFewSamples
    return TooFewSamples(msg, n_needed=n_needed)


def _enough_for_every_class(ds, real_per_class: int = WITHIN_MIN, skip=()) -> int:
    """An eval.n_samples that gives every class WITHIN_MIN generated samples and, at the data's
    class frequencies (real samples are drawn as training draws them), ``real_per_class`` real
    ones expected in its rarest class but those in ``skip`` (too few distinct images: no number
    of samples measures them, so they do not set the number)."""
    k = len(ds.classes)
    kept = torch.tensor([c for c in ds.classes.tolist() if c not in skip], dtype=torch.long)
    if not len(kept):
        return WITHIN_MIN * k
    if ds.labels is None:
        share = float(ds.base.weights.double()[kept].min() / ds.base.weights.double().sum())
    else:
        share = float(torch.bincount(ds.labels.long())[kept].min()) / len(ds.labels)
    return max(WITHIN_MIN, math.ceil(real_per_class / (k * share))) * k


def _distinct(rows: torch.Tensor, most: int) -> int:
    """How many distinct rows ``rows`` holds, counted up to ``most`` (each pass drops the copies of one)."""
    seen = 0
    while len(rows) and seen < most:
        rows = rows[(rows != rows[0]).any(1)]
        seen += 1
    return seen


def _few_distinct(ds) -> list[int]:
    """The classes holding fewer than WITHIN_MIN distinct training images: real samples are drawn
    from them with replacement, so more draws only repeat them (a Frechet distance against a point
    mass, no spread).  A mixture's classes are continuous: none."""
    if ds.labels is None:
        return []
    x, y = ds.x.flatten(1), ds.labels.long()
    return [c for c in ds.classes.tolist() if _distinct(x[y == c], WITHIN_MIN) < WITHIN_MIN]


def _listed(names: list[str], most: int = 8) -> str:
    """The first ``most`` names, then "..." where there are more."""
    return ", ".join(names[:most]) + (" ..." if len(names) > most else "")


def _class_name(ds, k: int) -> str:
    names = getattr(ds, "class_names", None)
    return names[k] if names and k < len(names) else str(k)


@register_metric("within_class", _is_conditional,
                 "Frechet distance and diversity within each class (conditional runs)",
                 {"fd_within_class": Output("Frechet distance within classes", "lower", ".3f"),
                  # described, not ranked: above 1 is more spread than the data (noise), not better
                  "diversity_ratio": Output("diversity within classes, generated / real (1 = the data's; "
                                            "above 1: wider than the data, not better)", None, ".3f"),
                  "diversity_classes": Output("classes diversity_ratio averages over (those with real spread)",
                                              None, "d")}, reads=("n_samples",), needs=CONDITIONAL)
def _within_class(ctx):
    from gankit.metrics.image_measures import frechet_distance, gaussian_stats
    ds = ctx.dataset
    n, k = ctx.settings.n_samples, len(ds.classes)
    # classes of too few distinct images stay out of the mean and of the hint: no eval.n_samples measures them
    few = _few_distinct(ds)
    if few:
        said = _listed([_class_name(ds, c) for c in few])
        if len(few) == k:
            from gankit.metrics.base import TooFewSamples
            raise TooFewSamples(f"within_class: every class holds fewer than {WITHIN_MIN} distinct images "
                                f"({said}); add images to the classes", more_helps=False)
    if n // k + (n % k > 0) < WITHIN_MIN:       # _classes gives the first n % k classes one more
        # the same count the warning below asks for when real samples run short: one hint that works
        each = ("fewer than one each" if n < k else f"{n // k} each" if n % k == 0
                else f"{n // k} or {n // k + 1} each")      # as _classes deals them out
        raise _too_few(f"within_class: no class had {WITHIN_MIN} or more samples of each kind "
                       f"({n} sample{'' if n == 1 else 's'} over {k} classes: {each})",
                       _enough_for_every_class(ds, 4 * WITHIN_MIN, few))
    y = _classes(ctx, n, "within_class")
    x = ctx.generate(len(y), "within_class", y=y)
    g = torch.Generator().manual_seed(ctx.stream("within_class"))
    real, _, ry = ds.sample_conditional(len(y), g)
    ff, _ = _features_and_predictions(ctx, x)
    fr, _ = _features_and_predictions(ctx, real, real=True)
    # a class's real spread below this is none: its few images (drawn with replacement) are copies
    flat = fr.std(0).norm() * 1e-6
    fds, ratios, thin, no_spread = [], [], [], []
    for c in ds.classes.tolist():
        if c in few:
            continue
        a, b = ff[y == c], fr[ry == c]
        if len(a) < WITHIN_MIN or len(b) < WITHIN_MIN:      # too few generated (n % k) or real ones drawn
            thin.append(c)
            continue
        fds.append(frechet_distance(*gaussian_stats(a.numpy()), *gaussian_stats(b.numpy())))
        spread = torch.pdist(b).mean()
        if len(torch.unique(real[ry == c].flatten(1), dim=0)) < WITHIN_MIN or not spread > flat:
            no_spread.append(c)
            continue
        ratios.append(float(torch.pdist(a).mean() / spread))
    import warnings

    from gankit.wording import callers_words     # overrides=[...] where a program called gankit.api
    if thin:
        # real samples come at the data's class frequencies: 12 expected in the rarest class
        # leave one class in thousands short of 3
        more = _enough_for_every_class(ds, 4 * WITHIN_MIN, few)
        if not fds:
            raise _too_few(f"within_class: no class had {WITHIN_MIN} or more samples of each kind "
                           f"({len(y)} drawn over {k} classes)", more)
        names = _listed([_class_name(ds, c) for c in thin])
        warnings.warn(f"within_class: {len(thin)} of {k} classes ({names}) had fewer than {WITHIN_MIN} "
                      f"generated or real samples ({n} over {k} classes) and are left out of the mean"
                      + (f"; more samples: {callers_words(f'--set eval.n_samples={more}')}" if more > n else ""),
                      stacklevel=2)
    if few:
        warnings.warn(f"within_class: {len(few)} of {k} classes ({said}) hold fewer than {WITHIN_MIN} distinct "
                      "images and are left out of fd_within_class and diversity_ratio (more samples only repeat "
                      "them); add images to those classes", stacklevel=2)
    out = {"fd_within_class": sum(fds) / len(fds), "diversity_classes": len(ratios)}
    if no_spread:
        names = _listed([_class_name(ds, c) for c in no_spread])
        what = f"over {len(ratios)} of {len(fds)} classes" if ratios else "skipped"
        warnings.warn(f"within_class: diversity_ratio {what}: the real samples drawn of {len(no_spread)} "
                      f"class(es) ({names}) hold fewer than {WITHIN_MIN} distinct images or lie on one "
                      "point, no spread to compare G's with (a class needs 3 or more distinct images)",
                      stacklevel=2)
    if ratios:
        out["diversity_ratio"] = sum(ratios) / len(ratios)
    return out
