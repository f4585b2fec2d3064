"""A sweep killed outright (SIGKILL, a closed terminal's SIGHUP where nothing catches it) leaves
nothing behind: its workers end with it, and the folder of run folders and markers it made under
TMPDIR is removed by the next sweep.

A worker left running would train every queued run for a results file no one writes (its
numbers lost), then wait forever on the dead sweep's pipe holding its memory.  On Linux the
kernel kills it when the sweep dies (prctl PR_SET_PDEATHSIG); elsewhere a thread of the worker
watches its parent.  The sweep's folder holds an ``owner`` file naming the sweep's PID (and its
start time, so a PID reused by another process is no owner): a later sweep removes only such
folders whose owner is gone, never another live sweep's, nor a folder it cannot prove is one.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

PREFIX = "gankit-sweep-"
OWNER = "owner"        # "PID START": the sweep that made the folder
PR_SET_PDEATHSIG = 1


def worker_start(parent: int):
    """A worker's initializer: SIGINT ignored (the sweep stops its workers), and its end tied to
    the sweep's (``parent``: the sweep's PID)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from gankit.train.threads import own_process
    own_process()      # a worker is gankit's own process: its inter-op threads are gankit's to set
    if not _die_with_parent():
        threading.Thread(target=_watch, args=(parent,), name="gankit-sweep-parent", daemon=True).start()
    if os.getppid() != parent:     # the sweep died before the tie was made
        os._exit(1)


def _die_with_parent() -> bool:
    """SIGKILL from the kernel when the parent dies (Linux); False where it cannot be asked for."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int):
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def make_folder() -> str:
    """The sweep's folder for run folders and markers, under TMPDIR, marked with its owner; the
    folders of sweeps that died first are removed."""
    remove_stale()
    root = tempfile.mkdtemp(prefix=PREFIX)
    try:
        Path(root, OWNER).write_text(f"{os.getpid()} {_started(os.getpid()) or '-'}")
    except OSError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root


def remove_stale(where: str | None = None):
    """Remove the sweep folders under ``where`` (TMPDIR) whose owner file names a sweep that is gone."""
    try:
        found = list(Path(where or tempfile.gettempdir()).glob(PREFIX + "*"))
    except OSError:
        return
    for folder in found:
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            owner = (folder / OWNER).read_text()
        except OSError:       # none: not a sweep's folder, or one from before owner files
            continue
        if not _alive(owner):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(owner: str) -> bool:
    """Whether the sweep an owner file names may still run (not proven gone: kept)."""
    try:
        pid, started = owner.split()
        pid = int(pid)
    except ValueError:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:      # another user's process: alive
        return True
    if _zombie(pid):
        return False
    now = _started(pid)       # a PID reused since: another process, the sweep is gone
    return now is None or started == "-" or now == started


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc); None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def _zombie(pid: int) -> bool:
    """A process that ended and was not reaped yet (Linux /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
