"""From a RunConfig to the objects the loop needs: data, nets, loss, optimizers."""
from __future__ import annotations

import torch
from torch import nn

from gankit.components import DATASETS, DISCRIMINATORS, GENERATORS, LOSSES
from gankit.config import ConfigError
from gankit.schema import OptimConfig, RunConfig


def build_dataset(cfg: RunConfig):
    ds = DATASETS.build(cfg.data.name, cfg.data.params, where="data")
    if ds.size is not None and cfg.train.batch_size > ds.size:
        raise ConfigError(f"train.batch_size: {cfg.train.batch_size} is larger than the data "
                          f"({ds.size} points); use --set train.batch_size={ds.size} or less")
    return ds


def build_nets(cfg: RunConfig, data) -> tuple[nn.Module, nn.Module]:
    """G and D; each factory gets the noise dimension and the dataset (its shape, vocabulary,
    classes: whatever the net needs to know)."""
    from gankit.train.conditional import noise_dim_for
    G = GENERATORS.build(cfg.generator.name, cfg.generator.params, where="generator",
                         noise_dim=noise_dim_for(cfg), data=data)
    D = DISCRIMINATORS.build(cfg.discriminator.name, cfg.discriminator.params,
                             where="discriminator", data=data)
    return G, D


def build_loss(cfg: RunConfig):
    return LOSSES.build(cfg.loss.name, cfg.loss.params, where="loss")


def build_optimizer(params, oc: OptimConfig) -> torch.optim.Optimizer:
    params = list(params)
    if oc.name == "adam":
        return torch.optim.Adam(params, lr=oc.lr, betas=tuple(oc.betas), weight_decay=oc.weight_decay)
    if oc.name == "sgd":
        return torch.optim.SGD(params, lr=oc.lr, momentum=oc.momentum, weight_decay=oc.weight_decay)
    if oc.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=oc.lr, momentum=oc.momentum, weight_decay=oc.weight_decay)
    raise ConfigError(f"optimizer {oc.name!r}: valid choices: adam, sgd, rmsprop")
