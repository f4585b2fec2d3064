"""One writer per run folder: an flock on its lock file, taken once per process; and one
process at a time computing a cache file (``computing``)."""
from __future__ import annotations

import errno
import fcntl
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from gankit.io import TMP_SUFFIX, _umask
from gankit.io.files import open_in_place

# run folders this process holds the lock of: resolved path -> [fd, holders].  flock locks
# belong to an open file, so two opens in one process would block each other; a process
# takes the lock once and shares it between its RunFolder objects.
_HELD: dict[Path, list] = {}


def lock_file(path: Path) -> tuple[Path | None, str]:
    """Take an exclusive flock on ``path`` for this process (shared by its callers): (key for
    ``release_lock``, ""), or (None, the holder's PID as written in the file) when another
    process holds it.  A killed holder's lock is dropped by the kernel.  A lock file hard-linked
    with another folder's (a ``cp -al`` copy of a run) is replaced by one of this folder's
    (``_own_lock``), so the two folders are locked apart."""
    key = Path(path).resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        return key, ""
    for _ in range(100):       # again only where the file was replaced between its open and its flock
        fd = open_in_place(path, os.O_RDWR | os.O_CREAT, 0o644)     # truncated below: never through a link
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            taken = True
        except BlockingIOError:
            taken = False
        try:
            shared = os.fstat(fd).st_nlink > 1
            pid = "" if taken else os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            if not taken and not (shared and _held_elsewhere(pid, key)):
                os.close(fd)
                return None, pid
            if shared:       # free, or held through the other folder's name: a new file here
                old, fd = fd, _own_lock(path, fd)
                os.close(old)
                if fd is None:      # replaced meanwhile by another process: open it again
                    continue
            elif not _still_at(path, fd):     # replaced since the open: the flock is on no folder's file
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            # an fd left open keeps the flock: a retry in this process (a notebook, once the disk
            # has room) would find the folder "in use by PID unknown"
            if fd is not None:
                os.close(fd)
            raise
        _HELD[key] = [fd, 1]
        return key, ""
    raise OSError(errno.EAGAIN, "its lock file keeps being replaced by another process", str(path))


def _still_at(path: Path, fd: int) -> bool:
    """Whether ``path`` is still the file open as ``fd``."""
    try:
        st, now = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


def _held_elsewhere(pid: str, key: Path) -> bool:
    """Whether process ``pid`` holds its lock through a name other than ``key`` (the lock file of
    a hard-linked copy of the folder); False where that cannot be seen (no /proc, another
    user's process): then the folder counts as in use."""
    if not pid.isdigit():
        return False
    try:
        names = [os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return str(key) not in names and any(Path(n).name == key.name for n in names)


def _own_lock(path: Path, shared: int) -> int | None:
    """A new lock file in ``path``'s place, flocked, replacing the hard-linked one open as
    ``shared``: the other folder keeps that one.  None where another process replaced it first.
    The folder itself is flocked meanwhile, so two processes of this folder replace it one at a
    time (the second finds it replaced)."""
    folder = os.open(Path(path).parent, os.O_RDONLY)
    fd = None
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)       # held for a rename: never long
        if not _still_at(path, shared):
            return None
        fd, tmp = tempfile.mkstemp(dir=Path(path).parent, prefix=f".{Path(path).name}.", suffix=TMP_SUFFIX)
        try:
            os.fchmod(fd, 0o644 & ~_umask())
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)     # a new file: nobody else holds it
            os.replace(tmp, path)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        return fd
    finally:
        os.close(folder)       # closing drops the folder's flock


def held_here(path: Path) -> bool:
    """Whether this process holds the lock ``lock_file`` takes on ``path``."""
    try:
        return Path(path).resolve() in _HELD
    except OSError:
        return False


def lock_holder(path: Path) -> str | None:
    """The PID of another process holding the lock ``lock_file`` takes on ``path``, else None
    (free, missing, held by this process, or held through a hard-linked copy's name).  Probes with a shared lock: writes nothing."""
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
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        # a hard-linked copy's lock, held through the other folder's name: this one is free
        return None if os.fstat(fd).st_nlink > 1 and _held_elsewhere(pid, path.resolve()) else pid
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


class _Hold:
    """One ``computing`` block's lock file descriptor (None once closed)."""
    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd: int | None = fd


# the cache lock descriptors ``computing`` holds or waits on now.  A child forked meanwhile (a
# multiprocessing pool started by another thread) shares them, and with them the flock, taken
# or still to come: it closes its copies at once, so neither it nor another process waits on a
# lock the child cannot release.  Each block has its own token, not a descriptor number, which
# the child may reuse.
_COMPUTING: set[_Hold] = set()


def _release(hold: _Hold | None):
    if hold is not None and hold.fd is not None:
        _COMPUTING.discard(hold)
        fd, hold.fd = hold.fd, None
        os.close(fd)             # closing drops the flock


if hasattr(os, "register_at_fork"):
    def _forget_in_child():
        for hold in list(_COMPUTING):
            _release(hold)
    os.register_at_fork(after_in_child=_forget_in_child)

WAIT_LIMIT = 600.0     # seconds: past it, the entry is computed here (the holder may be stopped)


@contextmanager
def computing(path: Path, what: str):
    """Held while this process computes the cache file ``path`` (a trained classifier, a
    reference row, features): another process about to compute the same file waits for this
    one (naming its PID; at most WAIT_LIMIT seconds), and the block's value (True) tells it to
    read what was written instead of computing it a second time (two sweep workers evaluating
    on the same data).  The lock file is the cache's locks/<folder>-<name>.lock, left there
    (removing it would let a third process lock a file the second no longer sees), so the cache
    folders hold only their entries.  Where no lock can be taken (no cache folder, read-only,
    no flock), each process computes as before: the cache only saves time."""
    from gankit.io import cache_folder
    hold = None
    try:
        folder = cache_folder("locks")
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            hold = _Hold(open_in_place(folder / f"{Path(path).parent.name}-{Path(path).name}.lock",
                                       os.O_RDWR | os.O_CREAT, 0o644))
            _COMPUTING.add(hold)
    except OSError:
        pass
    try:      # a Ctrl-C while waiting closes the descriptor too
        taken = None if hold is None else _take(hold.fd, path, what)
        if taken is None:
            _release(hold)
        else:
            try:
                os.ftruncate(hold.fd, 0)
                os.pwrite(hold.fd, f"{os.getpid()}\n".encode(), 0)
            except OSError:
                pass
        yield taken == "waited"
    finally:
        _release(hold)


def _take(fd: int, path: Path, what: str) -> str | None:
    """The flock on ``fd``: "free" (taken at once), "waited" (after its holder let go, up to
    WAIT_LIMIT s), or None where the folder takes no flock or the holder kept it past the limit."""
    import time
    got = _try_flock(fd)
    if got is not False:
        return got and "free"
    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    _say(f"gankit: waiting for process {holder} computing {what} (cache file {path}); at most "
         f"{WAIT_LIMIT / 60:g} minutes, then it is computed here")
    t0 = time.monotonic()
    while time.monotonic() - t0 < WAIT_LIMIT:
        time.sleep(0.1)
        got = _try_flock(fd)
        if got is not False:
            return got and "waited"
    _say(f"gankit: process {holder} still holds {what} after {WAIT_LIMIT / 60:g} minutes; computing it here")
    return None


def _try_flock(fd: int) -> bool | None:
    """True: the exclusive flock is taken; False: another holds it; None: no flock here."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return None


def _say(line: str):
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):   # no stderr to say it on
        pass
