"""Files written so that a crash leaves the old file or the new one, never half of either;
read so that damage is reported, never executed; and the folder gankit's caches live in.
No gankit imports."""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import stat
import tempfile
import warnings
import zipfile
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
        raise WriteError(e.errno, f"its folder {e.filename or path.parent} cannot be created "
                                  f"({e.strerror or e})", str(path)) from e
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


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
LINKED = ("it is a symbolic link, and gankit writes this file only in place, never through a link "
          "(it could lead out of the folder); replace the link by a copy of the file it points to, or remove it")
NOT_REGULAR = "it is not a regular file (a FIFO, a device or a socket), and gankit writes only regular files; remove it"


def open_in_place(path: str | Path, flags: int, mode: int = 0o666) -> int:
    """A descriptor of ``path`` opened with ``flags`` (for files written in place: records
    appended, the lock).  A symbolic link is never followed (one planted in a run folder would
    have gankit extend or truncate a file outside it, such as a shell's start-up file) and a
    FIFO or device never opened (a FIFO blocks): both raise WriteError saying so."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise WriteError(errno.ELOOP, LINKED, str(path))
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        raise WriteError(errno.EINVAL, NOT_REGULAR, str(path))
    try:     # O_NOFOLLOW and the fstat below: a link or FIFO put there since the lstat
        fd = os.open(path, flags | NOFOLLOW | os.O_NONBLOCK, mode)
    except OSError as e:
        if e.errno == errno.ELOOP and os.path.islink(path):
            raise WriteError(errno.ELOOP, LINKED, str(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise WriteError(errno.EINVAL, NOT_REGULAR, str(path))
    os.set_blocking(fd, True)
    return fd


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


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSONL file; a damaged line (a torn write at a full disk or a kill)
    is skipped with a warning naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for i, _, rec in jsonl_lines(path):
        if rec is None:
            warnings.warn(f"{path}: line {i} is damaged and skipped", stacklevel=2)
        elif isinstance(rec, dict):
            out.append(rec)
    return out


# ------------------------------------------------------------------ one writer per folder

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

# run folders this process holds the lock of: resolved path -> [fd, holders].  flock locks
# belong to an open file, so two opens in one process would block each other; a process
# takes the lock once and shares it between its RunFolder objects.
_HELD: dict[Path, list] = {}


def lock_file(path: Path) -> tuple[Path | None, str]:
    """Take an exclusive flock on ``path`` for this process (shared by its callers): (key for
    ``release_lock``, ""), or (None, the holder's PID as written in the file) when another
    process holds it.  A killed holder's lock is dropped by the kernel."""
    key = Path(path).resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        return key, ""
    fd = open_in_place(path, os.O_RDWR | os.O_CREAT, 0o644)     # truncated below: never through a link
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        return None, pid
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[key] = [fd, 1]
    return key, ""


def lock_holder(path: Path) -> str | None:
    """The PID of another process holding the lock ``lock_file`` takes on ``path``, else None
    (free, missing, or held by this process).  Probes with a shared lock: writes nothing."""
    path = Path(path)
    if path.resolve() in _HELD or not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    finally:
        os.close(fd)             # closing drops a shared lock we took
    return None


def release_lock(key: Path):
    """Drop this process's hold of a lock taken by ``lock_file``."""
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] <= 0:
        del _HELD[key]
        try:
            os.ftruncate(held[0], 0)
        except OSError:
            pass
        os.close(held[0])   # closing the file drops the flock


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
        import shutil
        try:
            free = f"{shutil.disk_usage(folder).free / 2**20:.1f} MB free"
        except OSError:
            free = "free space unknown"
        return "disk full", f" ({free})", "free some space"
    if too_large_cause(e):
        return ("file too large", f": {TOO_LARGE}",
                "raise the limit (ulimit -f unlimited) or move the run to another drive")
    return None


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


def lock_location(key: Path) -> str | None:
    """Where the lock file this process holds under ``key`` (``lock_file``) is now: its path,
    followed through a rename of its folder, or None where the system cannot say (it may end
    in " (deleted)")."""
    held = _HELD.get(key)
    if held is None:
        return None
    try:
        return os.readlink(f"/proc/self/fd/{held[0]}")     # Linux; elsewhere nothing to follow
    except OSError:
        return None


def checksum_failure(path: Path) -> str | None:
    """Why a checkpoint's zip archive is damaged, or None: "truncated or empty" without its
    directory, else the entry that does not match its CRC-32 (bytes overwritten inside the file,
    its directory whole).  Reads the whole file once (about 20 ms for 50 MB from the page cache);
    entries written without a checksum (CRC 0: torch's ``set_crc32_options(False)``) are not checked."""
    if not intact(path):
        return "truncated or empty"
    try:
        with open_regular(path) as f, zipfile.ZipFile(f) as z:
            for info in z.infolist():
                if info.CRC == 0:
                    continue
                with z.open(info) as e:        # zipfile checks the CRC at the entry's end
                    while e.read(2**20):
                        pass
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        return "its data do not match their checksums: " + (" ".join(str(e).split()) or type(e).__name__)
    return None


def intact(path: Path) -> bool:
    """Whether a checkpoint file is whole: torch writes a zip archive whose directory sits at
    the end, so a truncated or empty file has none (cheap: no tensors are read).  Anything but a
    regular file is not (``open_regular``)."""
    try:
        with open_regular(path) as f, zipfile.ZipFile(f) as z:
            return bool(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def is_regular(path: str | Path) -> bool:
    """Whether ``path`` is a regular file, or a link to one; looked at, never opened: a FIFO
    blocks whoever opens it, and a device such as /dev/zero never ends."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | Path):
    """``path`` opened for reading in binary; OSError, without blocking, where it is not a
    regular file (``is_regular``; checked on the opened file, so nothing swapped in since counts)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
