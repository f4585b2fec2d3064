"""Conditional GANs: wrap G and D so they take a condition, and the extra D/G terms.

- The matching-aware D (Reed et al. 2016): real x with a *wrong* condition is
  scored as fake, weight ``condition.mismatch_weight``, so G cannot ignore c.
- AC-GAN (Odena et al. 2017): D also classifies; D learns the class of real x and
  of G(z, c) (weight ``condition.aux_weight``), G is rewarded for being classified as c.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.config import ConfigError
from gankit.nets.conditional import CondDiscriminator, CondGenerator, ConditionEncoder


def noise_dim_for(cfg) -> int:
    """G's input size: z, plus e(c) when G conditions by concatenation."""
    c = cfg.condition
    return cfg.noise.dim + (c.embed_dim if c.kind != "none" and c.g_mode == "concat" else 0)


def wrap_nets(cfg, data, G, D):
    """Conditional wrappers around the plain nets (unchanged when unconditional)."""
    c = cfg.condition
    if c.kind == "none":
        return G, D
    enc = lambda: ConditionEncoder(c.kind, data.n_conditions, c.embed_dim, c.text_encoder)  # noqa: E731
    feature_dim = getattr(D, "feature_dim", None)
    if feature_dim is None:
        raise ConfigError(f"condition: the discriminator {type(D).__name__} exposes no feature_dim")
    if c.d_mode == "acgan" and c.kind != "label":
        raise ConfigError("condition.d_mode = 'acgan' classifies labels: use condition.kind = 'label'")
    try:
        Gc = CondGenerator(G, enc(), c.g_mode)
        Dc = CondDiscriminator(D, enc(), c.d_mode, data.n_classes, feature_dim)
    except ValueError as e:
        raise ConfigError(f"condition: {e}") from None
    return Gc, Dc


def conditional_terms(c, dataset, loss, cond_gen: torch.Generator):
    """The matching-aware and AC-GAN terms, as (D terms, G terms) for the GAN objective.
    Each is ``term(D, real, fake, ctx)`` with D bound to the batch's condition
    (``D.net`` is the module) and the real Batch in ``ctx.scratch["batch"]``."""
    if c.kind == "none":
        return [], []
    d_terms, g_terms = [], []

    # mismatched pairs only mean something to a D whose realism score sees c
    if c.mismatch_weight > 0 and c.d_mode in ("concat", "projection"):
        def mismatch(D, real, fake, ctx):
            b = ctx.scratch["batch"]
            wrong = dataset.mismatched(b.y, cond_gen, b.c, c.attribute_mismatch).to(real.device)
            # the fake half alone: 0 for a D that rejects every mismatched pair (non-saturating)
            return c.mismatch_weight * loss.d_loss_fake(D.net(real, wrong))
        mismatch.log_as = "mismatch"
        d_terms.append(mismatch)
    if c.d_mode == "acgan":
        def aux_d(D, real, fake, ctx):
            y = ctx.scratch["batch"].y.to(real.device)
            return c.aux_weight * (F.cross_entropy(D.class_logits(real), y)
                                   + F.cross_entropy(D.class_logits(fake), y))

        def aux_g(D, real, fake, ctx):
            return c.aux_weight * F.cross_entropy(D.class_logits(fake), ctx.scratch["batch"].y.to(fake.device))
        aux_d.log_as, aux_g.log_as = "aux_d", "aux_g"
        d_terms.append(aux_d)
        g_terms.append(aux_g)
    return d_terms, g_terms
