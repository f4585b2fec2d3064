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


def build_run_dataset(cfg, run_dir):
    """``build_dataset`` for a run trained before: if its data are not where config.toml says,
    the error also says how to give their new place."""
    from pathlib import Path

    from gankit.config import ConfigError
    from gankit.identity import DATA_LOCATION_KEYS
    try:
        return build_dataset(cfg)
    except ConfigError as e:
        moved = [(k, v) for k, v in cfg.data.params.items()
                 if k in DATA_LOCATION_KEYS and isinstance(v, str) and v and not Path(v).expanduser().exists()]
        if not moved:
            raise
        k, v = moved[0]
        # v is config.toml's value or the reader's own --set: say nothing about which
        raise ConfigError(f"{e}. {run_dir}: nothing at data.{k} = {v!r}; if the data moved, give their "
                          f"new place with --set data.{k}=NEW (gankit eval, sample, report, invert, complete, "
                          f"train --resume) or in {Path(run_dir) / 'config.toml'}") from None
