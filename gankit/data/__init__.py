"""Datasets: low-dimensional mixtures with known modes, images, text, and the user's data.

Importing this package registers nothing; ``gankit.builtins.load_builtins()`` does.
"""
from __future__ import annotations


def build_dataset(cfg):
    """The run's dataset from ``cfg.data`` (wrapped for ``cfg.condition`` when conditional)."""
    from gankit.config import ConfigError
    from gankit.data.conditional import make_conditional
    from gankit.registry import DATASETS
    ds = DATASETS.build(cfg.data.name, cfg.data.params, where="data")
    if ds.size is not None and cfg.train.batch_size > ds.size:
        raise ConfigError(f"train.batch_size: {cfg.train.batch_size} is larger than the data "
                          f"({ds.size} {'sequences' if getattr(ds, 'kind', '') == 'text' else 'samples'}); use --set train.batch_size={ds.size} or less")
    return make_conditional(ds, cfg)
