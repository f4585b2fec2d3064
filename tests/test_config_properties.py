"""Config values generated with Hypothesis over the schema: every float option refuses NaN and
+-inf naming its key, and any value for any key loads or raises a one-line ConfigError."""
from __future__ import annotations

import math

import pytest

def _float_keys():
    from gankit import config as C
    from gankit.config import RunConfig
    cfg = C.load("ring")
    keys = []
    for key, default, _ in C.describe(RunConfig):
        if isinstance(default, float):
            keys.append(key)
    for section in ("data", "loss", "objective", "generator", "discriminator"):
        for k, v in getattr(cfg, section).params.items():
            if isinstance(v, float):
                keys.append(f"{section}.{k}")
    return keys


def _all_keys():
    from gankit import config as C
    from gankit.config import RunConfig
    return [k for k, _, _ in C.describe(RunConfig)]


def _nested(key, value):
    raw: dict = {}
    node = raw
    *path, last = key.split(".")
    for p in path:
        node = node.setdefault(p, {})
    node[last] = value
    return raw


import hypothesis  # noqa: E402  (a test dependency: pyproject [test])
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FLOAT_KEYS = _float_keys()
ALL_KEYS = _all_keys()
ANY_VALUE = st.one_of(st.integers(min_value=-2**80, max_value=2**80), st.floats(allow_nan=True),
                      st.text(max_size=8), st.booleans(), st.lists(st.floats(), max_size=3),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(FLOAT_KEYS), value=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_numbers_are_refused_for_every_float_option(key, value):
    from gankit import config as C
    raw = C.apply_overrides(C.resolve_source("ring"), [])
    section, _, name = key.rpartition(".")
    node = raw
    for p in section.split(".") if section else []:
        node = node.setdefault(p, {})
    node[name] = value
    with pytest.raises(C.ConfigError, match=f"^{key.replace('.', '[.]')}: must be a finite number"):
        C.load(raw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(ALL_KEYS), value=ANY_VALUE)
def test_config_values_from_the_schema(key, value):
    """Any value for any key: accepted, or a ConfigError naming the key; never another error."""
    from gankit import config as C
    try:
        cfg = C.load(_nested(key, value))
    except C.ConfigError as e:
        assert str(e).startswith(key.split(".")[0]), (key, str(e))
        assert "\n" not in str(e)
        return
    for k, v in C.to_dict(cfg).items():   # accepted: every float in the config is finite
        for x in (v.values() if isinstance(v, dict) else [v]):
            if isinstance(x, float):
                assert math.isfinite(x)
