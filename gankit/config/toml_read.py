"""TOML text read the one way every reader of a config (a preset, a run's config.toml, a --set value)
needs: tomllib's, with nesting too deep for it said as the damage it is, not a RecursionError."""
from __future__ import annotations

import tomllib

# the deepest a config may nest, in tables and lists within each other.  gankit's own configs nest
# about 4 levels; every walker of a config (copy.deepcopy, to_dict, the comparisons of report and
# compare) recurses once or more per level, so a few hundred levels from dotted keys or headers
# ([data.a.a.a...], which tomllib reads without recursing) would end in a RecursionError there
MAX_DEPTH = 64


class NestedTooDeeply(tomllib.TOMLDecodeError):
    """TOML nested deeper than tomllib can read: a TOMLDecodeError, so each reader's own words for
    text that is no valid TOML (a damaged config.toml, its .recovered offer) say it too."""


def loads(text: str) -> dict:
    """``tomllib.loads(text)``.  tomllib recurses once per level of [ or { with no limit of its
    own, so a few hundred levels (a damaged or hostile file) end in a RecursionError that no
    caller of tomllib expects; it is raised here as the TOMLDecodeError they all catch.  Dotted
    keys nest as deep without tomllib recursing, so the result's depth is measured too."""
    try:
        doc = tomllib.loads(text)
    except RecursionError:
        doc = None       # raised outside the except block: the stack is unwound by then
    if doc is None or _depth_over(doc, MAX_DEPTH):
        raise NestedTooDeeply("nested too deeply")
    return doc


def _depth_over(doc: dict, limit: int) -> bool:
    """Whether tables and lists in ``doc`` nest more than ``limit`` levels: with a stack of its
    own, not recursion (the depth measured is the one that would make recursion fail)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False
