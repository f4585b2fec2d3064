"""Run configuration: typed sections (schema.py) and the strict loader (core.py).

Everything a caller needs is importable from here: ``from gankit import config as C;
C.load("ring", ["train.steps=100"])``.
"""
from gankit.config.core import (  # noqa: F401
    PRESET_DIR, Component, ConfigError, apply_overrides, coerce_dataclass, coerce_value, describe,
    dumps_toml, load, opt, parse_override, preset_names, read_toml, resolve_source, to_dict)
from gankit.config.schema import (  # noqa: F401
    ConditionConfig, EvalConfig, NoiseConfig, OptimConfig, RunConfig, TrainConfig)
