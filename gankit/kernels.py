"""Loading gankit's numba-compiled loops (gankit/*_numba.py), with one clear fallback."""
from __future__ import annotations

import functools
import warnings


@functools.cache     # one import, and at most one warning, per kernel module
def load_kernels(name: str, what: str, fallback: str):
    """The module gankit.<name>, or None with one warning naming the fix where numba cannot
    load or cache it (not installed, no writable cache folder); the caller then runs ``fallback``."""
    try:
        return getattr(__import__("gankit", globals(), None, [name], 0), name)
    except Exception as e:      # numba's import/caching errors have no common base class
        if isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] in ("numba", "llvmlite"):
            fix = "numba is one of gankit's dependencies: pip install numba"     # no cache setting helps
        else:
            fix = "Setting NUMBA_CACHE_DIR to a writable folder usually fixes this"
        warnings.warn(f"{what}: numba kernels unavailable ({type(e).__name__}: {e}); using {fallback}. {fix}.",
                      stacklevel=3)
        return None
