"""Files written so that a crash leaves the old file or the new one, never half of either;
read so that damage is reported, never executed; and the folder gankit's caches live in.
No gankit imports."""
from __future__ import annotations

import errno
import json
import math
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np


TMP_SUFFIX = ".tmp"

CACHE_ENV = "GANKIT_CACHE"
_warned_no_cache = False


def cache_folder(part: str = "") -> Path | None:
    """gankit's cache folder (with ``part``, that sub-folder of it): $GANKIT_CACHE when set and
    not empty, else ~/.cache/gankit.  None, with one warning per process, when there is no home
    folder to put it in (HOME unset and a user id with no passwd entry, as under ``docker run
    --user``): every cache only saves time, so its users then work without it."""
    global _warned_no_cache
    root = os.environ.get(CACHE_ENV)     # empty counts as unset: "" would mean the current folder
    if not root:
        try:
            home = Path.home()
        except (RuntimeError, KeyError, OSError):
            home = None
        # a home that is not absolute ("~" itself where Python cannot expand it) would put the
        # cache in whatever folder the process runs in
        if home is None or not home.is_absolute():
            if not _warned_no_cache:
                _warned_no_cache = True
                warnings.warn(f"no home folder (HOME is not set and this user has none), so gankit "
                              f"keeps no caches; set {CACHE_ENV} (or HOME) to a writable folder to "
                              "keep them", stacklevel=2)
            return None
        root = home / ".cache" / "gankit"
    return Path(root) / part if part else Path(root)


class WriteError(OSError):
    """A file that could not be written, named as the caller knows it (never its temp file),
    with the cause in words; ``errno`` is the cause's, so ``disk_full_cause`` still sees it."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def write_atomic(path: str | Path, write, by_name: bool = False) -> Path:
    """Write ``path`` so that a crash leaves the old file or the new one: ``write`` fills a
    temp file in the same folder (``write(file)``, or with ``by_name`` ``write(temp_path)``
    for writers that take the format from the name's suffix), which is fsynced and renamed.
    A failure raises WriteError naming ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WriteError(e.errno, _folder_failure(e, path.parent), str(path)) from e
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                   suffix=TMP_SUFFIX + (path.suffix if by_name else ""))
    except OSError as e:     # its message would name a random temp name that never existed
        raise WriteError(e.errno, write_failure(e, "the folder"), str(path)) from e
    try:
        os.chmod(tmp, 0o666 & ~_umask())    # mkstemp's 0600 would hide reports and runs from colleagues
        if by_name:
            os.close(fd)
            write(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        # a second Ctrl-C / SIGTERM inside torch.save: its zip writer then fails in turn, and
        # that RuntimeError would hide the interruption the user asked for
        stop = interruption_cause(e)
        cause = os_error_cause(e) if isinstance(e, (OSError, RuntimeError)) else None
        if cause is not None and cause.errno is None:     # numpy's short write keeps no errno
            n = _errno_at_end(tmp)
            cause = OSError(n, os.strerror(n)) if n else cause
        if os.path.exists(tmp):
            os.unlink(tmp)
        if stop is not None and stop is not e:
            raise stop from None
        if cause is None or isinstance(e, WriteError):
            raise
        raise WriteError(cause.errno, write_failure(cause, "the file"), str(path)) from e
    return path


def _folder_failure(e: OSError, folder: Path) -> str:
    """Why ``folder`` could not be made, in words: a file in the way is named as such (its
    errno, File exists or Not a directory, does not say which part of the path it is)."""
    if e.errno in (errno.EEXIST, errno.ENOTDIR):
        for part in (folder, *folder.parents):
            if os.path.lexists(part) and not part.is_dir():
                return (f"its folder {folder} cannot be created: {part} is a file, not a folder; move that "
                        "file away (if it is what belongs there, put the folder back in its place)")
    return f"its folder {e.filename or folder} cannot be created ({e.strerror or e})"


TOO_LARGE = ("the file would exceed the file-size limit (ulimit -f) or the largest file this drive "
             "takes (4 GB on FAT32)")


def write_failure(e: OSError, where: str = "the file") -> str:
    """Why a write failed, in words (``where``: "the folder" or "the file" it concerns)."""
    said = e.strerror or str(e)
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"{where} is not writable ({said})"
    if e.errno == errno.EROFS:
        return f"the drive is read-only ({said})"
    if e.errno in DISK_FULL:
        return f"the disk is full ({said})"
    if e.errno == errno.EFBIG:
        return f"{TOO_LARGE} ({said})"
    return said


def _errno_at_end(tmp: str) -> int | None:
    """The errno of one more byte written at the end of ``tmp``: the kernel's reason (a
    file-size limit, a full disk) for a short write whose writer kept only the byte counts."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return None
    try:
        os.write(fd, b"\0")
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
    return None


def _umask() -> int:
    """The process's umask (the mode a plain open() would give new files)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_atomic(obj, path: str | Path) -> Path:
    """torch.save to ``path`` atomically (temp file, fsync, rename)."""
    import torch
    return write_atomic(Path(path), lambda f: torch.save(obj, f))


# lone surrogates: a file name's undecodable bytes (surrogateescape keeps them as U+DC80..U+DCFF)
# or a JSON "\\ud800" escape; no UTF-8 text can hold either
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_A_BYTE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def displayable(text) -> str:
    """``text`` as text that can be shown and written: a file name's undecodable bytes (kept
    as lone surrogates by Python's surrogateescape) and any other lone surrogate become
    U+FFFD, the rest is kept.  Plots (matplotlib refuses them) and pages use it."""
    text = str(text)
    if not _LONE_SURROGATE.search(text):
        return text
    raw = _NOT_A_BYTE.sub("\ufffd", text).encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "replace")


# bidirectional embeddings, overrides, isolates and marks: in a name they reorder what follows
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown_name(text) -> str:
    """``displayable(text)`` with bidirectional controls written as \\uHHHH, for a name (a run
    folder, a class folder) shown inside a sentence, a title or a caption: a name holding U+202E
    would show the rest of the line reversed.  Right-to-left letters are kept as they are."""
    return _BIDI.sub(lambda m: f"\\u{ord(m[0]):04x}", displayable(text))


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8.  Text holding lone surrogates (see ``displayable``) is written
    with U+FFFD in their place, and a warning: writing the original bytes back would leave a
    file that is not UTF-8, which every reader of these files (TOML, JSON, a browser) refuses
    or garbles, and refusing to write would lose the whole file for one character."""
    shown = displayable(text)
    if shown is not text:
        warnings.warn(f"{path}: text that is not valid Unicode (the undecodable bytes of a file name?) "
                      "is written with \ufffd in its place", stacklevel=2)
    return write_atomic(Path(path), lambda f: f.write(shown.encode()))


def save_npz_atomic(path: str | Path, arrays: dict) -> Path:
    return write_atomic(Path(path), lambda f: np.savez_compressed(f, **arrays))


def jsonable(d: dict) -> dict:
    """Plain JSON values: numpy scalars to Python, non-finite floats to null / "inf"."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
        out[k] = v
    return out


INF_STRINGS = {"inf": math.inf, "-inf": -math.inf}   # how jsonable writes infinities


def unjsonable(d: dict) -> dict:
    """jsonable's inverse for numbers: "inf" / "-inf" back to infinities, null back to NaN (a
    record reused in place of a measurement then reads as the measurement did)."""
    back = {**INF_STRINGS, None: math.nan}
    return {k: back[v] if (v is None or isinstance(v, str)) and v in back else v for k, v in d.items()}


def append_jsonl(path: str | Path, record: dict):
    """Append one record as one line.  After a torn write (a full disk, a kill) the file ends
    mid-line; the record then starts on a fresh line, so only the torn one is lost.  A link or
    anything but a regular file there is refused (``open_in_place``)."""
    line = json.dumps(jsonable(record)) + "\n"
    try:
        with os.fdopen(open_in_place(path, os.O_RDWR | os.O_APPEND | os.O_CREAT), "ab+") as f:
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode())
    except WriteError:
        raise
    except OSError as e:     # a failed write names no file
        raise WriteError(e.errno, write_failure(e, "the file" if os.path.exists(path) else "the folder"),
                         str(path)) from e


def jsonl_lines(path: Path):
    """(line number, line, parsed value or None where it does not parse) for each non-empty line
    of a JSONL file: records are separated by \n only (json.dumps never writes one inside a
    record), bytes that are not UTF-8 are replaced, and nesting too deep to parse is damage."""
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n"), 1):
        if not line.strip():
            continue
        try:
            yield i, line, json.loads(line)
        except (ValueError, RecursionError):     # JSONDecodeError, or nesting too deep to parse
            yield i, line, None


# ------------------------------------------------------------------ one writer per folder

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

def os_error_cause(e: BaseException | None, errnos=None) -> OSError | None:
    """The OSError behind ``e`` (itself, or in its cause/context chain: torch.save reports a
    failed write as a RuntimeError of its zip writer), with one of ``errnos`` if given."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and (errnos is None or e.errno in errnos):
            return e
        e = e.__cause__ or e.__context__
    return None


def interruption_cause(e: BaseException | None) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (Ctrl-C, or training's stop signal) behind ``e``: itself, or in its
    cause/context chain (a writer that failed while the interruption unwound through it)."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return e
        e = e.__cause__ or e.__context__
    return None


def disk_full_cause(e: BaseException | None) -> bool:
    """Whether a full disk (or quota) caused ``e``."""
    return os_error_cause(e, DISK_FULL) is not None


def too_large_cause(e: BaseException | None) -> bool:
    """Whether a file-size limit caused ``e``: EFBIG, from ``ulimit -f`` or a drive's largest
    file (FAT32: 4 GB)."""
    return os_error_cause(e, (errno.EFBIG,)) is not None


def storage_refusal(e: BaseException, folder: Path) -> tuple[str, str, str] | None:
    """(what happened, detail, the fix) when the storage refused a write (a full disk or quota,
    a file-size limit), or None when ``e`` is another failure."""
    if disk_full_cause(e):
        try:
            st = os.statvfs(_nearest_existing(Path(folder)))
        except OSError:
            return "disk full", " (free space unknown)", "free some space"
        free = f"{st.f_bavail * st.f_frsize / 2**20:.1f} MB free"
        # f_files 0: a drive with no fixed number of files (btrfs); else all of them are used
        if st.f_files > 0 and st.f_favail == 0:
            return ("no free inodes", f" (the drive holds as many files as it can, {free})",
                    "remove files you do not need from that drive (freeing space alone does not help)")
        return "disk full", f" ({free})", "free some space"
    if too_large_cause(e):
        return ("file too large", f": {TOO_LARGE}",
                "raise the limit (ulimit -f unlimited) or move the run to another drive")
    return None


def _nearest_existing(path: Path) -> Path:
    """``path``, or its nearest folder that exists (a run folder not made yet is on its drive)."""
    for part in (path, *path.parents):
        if part.exists():
            return part
    return path


def check_writable(path: str | Path, hint: str = ""):
    """Raise WriteError (naming ``path``, then ``hint``) when ``path`` could not be appended to:
    a read-only drive, no permission.  Writes nothing (a missing file: its folder is checked)."""
    path = Path(path)
    try:
        if os.path.lexists(path):
            os.close(open_in_place(path, os.O_WRONLY | os.O_APPEND))
        elif not os.access(path.parent, os.W_OK):     # access() keeps no errno: ask the drive
            n = errno.EROFS if os.statvfs(path.parent).f_flag & os.ST_RDONLY else errno.EACCES
            raise OSError(n, os.strerror(n), str(path.parent))
    except WriteError as e:      # a link or a FIFO there
        raise WriteError(e.errno, e.strerror + hint, str(path)) from None
    except OSError as e:
        where = "the file" if path.exists() else "the folder"
        raise WriteError(e.errno, write_failure(e, where) + hint, str(path)) from None


# the parts that live in their own modules, under the names every caller imports them by
from gankit.io.files import (LINKED, NOFOLLOW, NOT_REGULAR, checksum_failure, intact, is_regular,  # noqa: E402,F401
                             open_in_place, open_regular)
from gankit.io.locks import held_here, lock_file, lock_holder, lock_location, release_lock  # noqa: E402,F401
from gankit.io.jsonl import JsonlLog, read_jsonl  # noqa: E402,F401
