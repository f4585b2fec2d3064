"""Run configuration: typed sections (schema.py), the strict types (core.py) and --set overrides (overrides.py), and
presets, TOML files and config.toml (files.py).

Everything a caller needs is importable from here: ``from gankit import config as C;
C.load("ring", ["train.steps=100"])``.
"""
from gankit.config.core import (  # noqa: F401
    PRESET_DIR, Component, ConfigError, coerce_dataclass, coerce_value, describe, opt, to_dict)
from gankit.config.overrides import apply_overrides, parse_override  # noqa: F401
from gankit.config.files import dumps_toml, load, preset_names, read_toml, resolve_source  # noqa: F401
from gankit.config.schema import (  # noqa: F401
    ConditionConfig, EvalConfig, NoiseConfig, OptimConfig, RunConfig, TrainConfig)
