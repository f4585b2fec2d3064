"""TOML text read the one way every reader of a config (a preset, a run's config.toml, a --set value)
needs: tomllib's, with nesting too deep for it said as the damage it is, not a RecursionError."""
from __future__ import annotations

import tomllib


class NestedTooDeeply(tomllib.TOMLDecodeError):
    """TOML nested deeper than tomllib can read: a TOMLDecodeError, so each reader's own words for
    text that is no valid TOML (a damaged config.toml, its .recovered offer) say it too."""


def loads(text: str) -> dict:
    """``tomllib.loads(text)``.  tomllib recurses once per level of [ or { with no limit of its
    own, so a few hundred levels (a damaged or hostile file) end in a RecursionError that no
    caller of tomllib expects; it is raised here as the TOMLDecodeError they all catch."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        # raised outside the except block: the stack is unwound by then
        pass
    raise NestedTooDeeply("nested too deeply")
