"""Files looked at before they are opened: a run folder may hold a link, a FIFO or a device
where gankit expects a regular file (a FIFO blocks whoever opens it, /dev/zero never ends, a
link leads out of the folder); and checkpoints checked whole before they are loaded."""
from __future__ import annotations

import errno
import os
import stat
import zipfile
from pathlib import Path

from gankit.io import WriteError

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


def unshare(path: str | Path) -> None:
    """Give ``path`` a file of its own before it is written in place (records appended): a
    regular file hard-linked elsewhere (st_nlink > 1: a run snapshot made with ``cp -al``) is
    replaced by a copy (temp file in the same folder, fsynced, renamed over it), so the other
    name keeps the file as it was.  Missing, or not a regular file: left to the writer."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_nlink <= 1:
        return
    import shutil

    from gankit.io import write_atomic

    def copy(out):
        os.fchmod(out.fileno(), stat.S_IMODE(st.st_mode))
        with open_regular(path) as f:
            shutil.copyfileobj(f, out)
    write_atomic(path, copy)


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
