"""Whether gankit's environment is whole, told before any work: the declared dependencies that
are not installed, and a package that is installed but cannot be imported, each as one line
with its pip command.  Standard library only: it must work where numpy or torch is what is
broken (gankit.cli imports it before anything else).
"""
from __future__ import annotations

import os
import re
import shlex
import sys

PIP_NAMES = {"PIL": "pillow", "sklearn": "scikit-learn", "tomli_w": "tomli-w", "yaml": "pyyaml",   # import: pip
             "skimage": "scikit-image", "cv2": "opencv-python"}


# declared, but gankit runs without them: numba's kernels have a torch route with the same values
# (gankit/kernels.py warns once and says to install it)
HAS_FALLBACK = {"numba"}


def missing_dependencies() -> list[str]:
    """gankit's declared dependencies (extras aside, and numba, which has a fallback) that are not
    installed, as their requirement strings; [] where the gankit running is no installed
    distribution (a source tree on PYTHONPATH, or another version's metadata found first).
    Reads installed metadata only, imports none of them (a few ms)."""
    from importlib import metadata

    import gankit
    try:
        dist = metadata.distribution("gankit")
    except metadata.PackageNotFoundError:
        return []
    if dist.version != gankit.__version__:    # another gankit's metadata (a source tree run over an install)
        return []
    missing = []
    for req in dist.requires or []:
        spec, _, marker = req.partition(";")
        if marker and ("extra" in marker or not _marker_applies(marker)):
            continue    # an extra's (tensorboard), or one for other platforms
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
        if name and name.group(1).lower() in HAS_FALLBACK:
            continue
        if name and next(iter(metadata.distributions(name=name.group(1))), None) is None:
            missing.append(spec.strip())
    return missing


def _marker_applies(marker: str) -> bool:
    try:     # packaging only where a requirement has a marker (none but extras so far)
        from packaging.markers import Marker
        return Marker(marker).evaluate()
    except Exception:      # no packaging, or a marker it cannot read: not claimed missing
        return False


def missing_line(missing: list[str]) -> str:
    names = [re.split(r"[^A-Za-z0-9._-]", spec, maxsplit=1)[0] for spec in missing]
    one = len(names) == 1
    return (f"gankit's declared dependenc{'y' if one else 'ies'} {', '.join(names)} {'is' if one else 'are'} "
            f"not installed (a damaged environment): pip install {' '.join(map(shlex.quote, missing))}, "
            "or reinstall gankit")


# the files of the user's own modules imported this process (a .py path, or a module found in the
# working directory: gankit.builtins.import_modules notes them), with their folders' helpers
_USER_FILES: set[str] = set()
_OWN = os.path.dirname(os.path.abspath(__file__))      # gankit's package: never the user's


def note_user_module(file: str | None) -> None:
    if file and not os.path.abspath(file).startswith(_OWN + os.sep):
        _USER_FILES.add(os.path.abspath(file))


def _users_frame(tb):
    """The innermost frame of traceback ``tb`` (where the failing import ran) where it is in a
    user's module or in a file beside one (a helper it imported), else None."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not _USER_FILES:
        return None
    file = os.path.abspath(tb.tb_frame.f_code.co_filename)
    folder = os.path.dirname(file)
    for mine in _USER_FILES:
        # a module beside it, or (a package's file) within the package's folder
        package = os.path.dirname(mine) if os.path.basename(mine) == "__init__.py" else None
        if folder == os.path.dirname(mine) or (package and file.startswith(package + os.sep)):
            return tb
    return None


def import_failure_line(e: ImportError) -> str:
    """A package that is installed but cannot be imported: the module, and the reinstall.  An
    import that failed in the user's own module (or a file beside it) is theirs to mend: no
    reinstall would help, so the line names their file and what to do there."""
    name, tb = e.name, e.__traceback__
    why = " ".join(str(e).split()) or type(e).__name__
    mine = _users_frame(tb)
    if mine is not None:
        at = f"{mine.tb_frame.f_code.co_filename}:{mine.tb_lineno}"
        top = (name or "").split(".")[0]
        if isinstance(e, ModuleNotFoundError) and top and top not in sys.modules:
            return (f"cannot import {name} ({why}), which your module {at} imports: put {top}.py (or the "
                    f"package folder {top}/) beside that file, or install the package that provides it")
        return f"cannot import {name or 'a module'} ({why}) in your module {at}: correct that import there"
    while not name and tb is not None and tb.tb_next is not None:
        tb = tb.tb_next       # raised by the package's own code (numpy's C part failing): its module
    name = name or (tb.tb_frame.f_globals.get("__name__") if tb is not None else None)
    name = None if name == "__main__" else name
    module = (name or "gankit").split(".")[0]
    package = PIP_NAMES.get(module, module)
    return f"cannot import {name or 'a module'} ({why}): pip install --force-reinstall {package}"


def print_error(line: str) -> None:
    try:      # before main's stream guards: a closed (None) or broken stderr drops the line
        if sys.stderr is not None:
            print(f"gankit: error: {line}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
