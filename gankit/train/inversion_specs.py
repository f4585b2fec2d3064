"""What `gankit invert` and `complete` take as words, read without torch: the named masks (the
command line's help lists them) and whether --images names the held-out split or several files.
The images themselves are read by gankit/train/inversion_inputs.py."""
from __future__ import annotations

from pathlib import Path

from gankit.config import ConfigError

MASKS = ("top", "bottom", "left", "right", "centre")
PATTERN = set("*?[")                                # what makes --images a glob pattern


def is_split(spec) -> bool:
    """Whether ``spec`` names the run's held-out split (heldout, heldout:N) rather than a path;
    a file or folder of that name is refused as ambiguous, not read or passed over in silence."""
    if not isinstance(spec, str) or spec.partition(":")[0] != "heldout":
        return False
    if Path(spec).expanduser().exists():
        raise ConfigError(f"{spec!r} is both the run's held-out split and a file or folder here; for the "
                          f"files give ./{spec} (or its full path), for the split rename or move them")
    return True


def several(spec) -> bool:
    """Whether ``spec`` names several image files: a glob pattern (imgs/*.png) not itself a path
    that exists, or a list of paths."""
    if isinstance(spec, (list, tuple)):
        return bool(spec) and all(isinstance(q, (str, Path)) for q in spec)
    return isinstance(spec, (str, Path)) and bool(PATTERN & set(str(spec))) and not Path(spec).expanduser().exists()
