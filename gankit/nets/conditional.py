"""Conditioning for any G and D: labels or short texts, as wrappers around plain nets.

The condition is an explicit argument: ``G(z, c)`` and ``D(x, c)``.  The GAN objective
hands penalties a D bound to the batch's condition, so every loss, penalty and remedy
(gradient penalty on interpolates, feature matching, ...) works unchanged on
conditional models.

Generator: ``concat`` feeds [z, e(c)] to the base G; ``cbn`` (conditional batch
norm) replaces every BatchNorm of the base G by one whose scale and shift are
linear in e(c).  Discriminator, on the base D's features h(x):
``concat``     logit = MLP([h, e(c)])
``projection`` logit = w.h + e(c).V h            (Miyato & Koyama 2018)
``acgan``      logit = w.h, plus class logits U h (Odena et al. 2017; labels only)
``none``       logit = w.h: D never sees c (the ablation: G is then free to ignore c)

Every mode but ``concat`` has the linear head w.h on h alone, so objective.minibatch can
add its read-out of batch statistics there (w.h + W s(h)); concat's MLP has no such head.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.ops import PAD


class ConditionEncoder(nn.Module):
    """Labels (n,) -> embedding; token ids (n, L) -> mean of word embeddings or a GRU's last state."""

    def __init__(self, kind: str, n: int, dim: int, encoder: str = "bag"):
        super().__init__()
        self.kind, self.encoder = kind, encoder
        self.embed = nn.Embedding(n, dim, padding_idx=PAD if kind == "text" else None)
        if kind == "text" and encoder == "gru":
            self.gru = nn.GRU(dim, dim, batch_first=True)

    def forward(self, c: Tensor) -> Tensor:
        if self.kind == "label":
            return self.embed(c)
        e = self.embed(c)                                   # (n, L, d)
        mask = (c != PAD).unsqueeze(-1).float()
        if self.encoder == "gru":
            lengths = (c != PAD).sum(1).clamp_min(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
            return self.gru(packed)[1][0]
        return (e * mask).sum(1) / mask.sum(1).clamp_min(1.0)


def _check_rows(c: Tensor | None, x: Tensor):
    if c is None:
        raise TypeError("a conditional net needs its condition: call G(z, c) / D(x, c)")
    if len(c) != len(x):
        raise ValueError(f"the condition has {len(c)} rows but the batch has {len(x)}")


class ConditionalBatchNorm(nn.Module):
    """BN without its own affine; scale 1 + g(e) and shift b(e) linear in the condition embedding."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, dim: int, source):
        super().__init__()
        self.bn = type(bn)(bn.num_features, affine=False, momentum=bn.momentum, eps=bn.eps)
        self.gain = nn.Linear(dim, bn.num_features)
        self.bias = nn.Linear(dim, bn.num_features)
        for lin in (self.gain, self.bias):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.source = [source]            # a list: not registered as a sub-module

    def forward(self, x: Tensor) -> Tensor:
        e = self.source[0].current_embedding
        shape = (len(x), -1) + (1,) * (x.ndim - 2)
        return self.bn(x) * (1 + self.gain(e).view(shape)) + self.bias(e).view(shape)


class CondGenerator(nn.Module):
    def __init__(self, base: nn.Module, encoder: ConditionEncoder, mode: str):
        super().__init__()
        self.base, self.encoder, self.mode = base, encoder, mode
        self.current_embedding = None
        if mode == "cbn":
            swapped = 0
            for name, m in list(base.named_modules()):
                for cname, child in list(m.named_children()):
                    if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
                        setattr(m, cname, ConditionalBatchNorm(child, encoder.embed.embedding_dim, self))
                        swapped += 1
            if not swapped:
                raise ValueError("condition.g_mode = 'cbn' needs a generator with batch norm "
                                 "(e.g. generator.norm = 'batch'); or use g_mode = 'concat'")

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        _check_rows(c, z)
        e = self.encoder(c)
        if self.mode == "concat":
            return self.base(torch.cat([z, e], 1))
        self.current_embedding = e
        return self.base(z)


class CondDiscriminator(nn.Module):
    def __init__(self, base: nn.Module, encoder: ConditionEncoder, mode: str,
                 n_classes: int | None, feature_dim: int, hidden: int = 128):
        super().__init__()
        if not hasattr(base, "features"):
            raise ValueError(f"{type(base).__name__} has no features(x); it cannot be conditioned")
        self.base, self.encoder, self.mode = base, encoder, mode
        self.feature_dim = feature_dim          # the size of h, what head (and minibatch features) read
        d = encoder.embed.embedding_dim
        if mode == "concat":
            self.joint = nn.Sequential(nn.Linear(feature_dim + d, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
        else:
            self.head = nn.Linear(feature_dim, 1)
        if mode == "projection":
            self.proj = nn.Linear(d, feature_dim, bias=False)
        if mode == "acgan":
            if not n_classes:
                raise ValueError("condition.d_mode = 'acgan' needs class labels (condition.kind = 'label')")
            self.classifier = nn.Linear(feature_dim, n_classes)
        self.last_class_logits = None

    def features(self, x: Tensor) -> Tensor:
        return self.base.features(x).reshape(len(x), -1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        _check_rows(c, x)
        h = self.features(x)
        if self.mode == "concat":
            return self.joint(torch.cat([h, self.encoder(c)], 1))[:, 0]
        logit = self.head(h)[:, 0]
        if self.mode == "projection":
            logit = logit + (self.proj(self.encoder(c)) * h).sum(1)
        elif self.mode == "acgan":
            self.last_class_logits = self.classifier(h)
        return logit

    def class_logits(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
