"""From a RunConfig to the parts an objective declares: nets, loss, optimizers."""
from __future__ import annotations

import torch

from gankit.config import Component, ConfigError, OptimConfig, RunConfig
from gankit.registry import DISCRIMINATORS, GENERATORS, LOSSES, REGISTRIES
from gankit.train.conditional import noise_dim_for, wrap_nets


def build_nets(cfg: RunConfig, data, only: str | None = None):
    """G and D (conditional-wrapped when the run is conditional); each factory gets the noise
    dimension and the dataset (its shape, vocabulary, classes: whatever the net needs to
    know).  ``only="D"``: just D (e.g. a packed D built for a view of the data)."""
    G = None
    if only != "D":
        G = GENERATORS.build(cfg.generator.name, cfg.generator.params, where="generator",
                             noise_dim=noise_dim_for(cfg), data=data)
    D = DISCRIMINATORS.build(cfg.discriminator.name, cfg.discriminator.params,
                             where="discriminator", data=data)
    if cfg.condition.kind != "none":
        if G is None:
            raise ConfigError("a conditional D is built with its G")
        G, D = wrap_nets(cfg, data, G, D)
    return D if only == "D" else (G, D)


def build_net(registry: str, component: Component | dict, data, **kw):
    """Any registered net (e.g. an encoder an objective declares) from a config component."""
    comp = component if isinstance(component, Component) else Component(component["name"], {
        k: v for k, v in component.items() if k != "name"})
    return REGISTRIES[registry].build(comp.name, comp.params, where=registry, data=data, **kw)


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
