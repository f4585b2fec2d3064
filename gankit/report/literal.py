"""``literal_text``: the decorator of gankit's figure functions (kept apart from axes.py, so a
module can apply it without importing matplotlib until a figure is drawn)."""
from __future__ import annotations

import functools


def literal_text(fn):
    """A figure function whose text is printed as given: labels carry user text (run folders,
    class folders, captions), and a "$" there must print, not start math, also while
    tight_layout measures it; the process's rcParams stay as the user set them."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        import matplotlib
        with matplotlib.rc_context({"text.parse_math": False}):
            return fn(*args, **kwargs)
    return inner
