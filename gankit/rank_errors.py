"""A torchrun run's errors, said once: which rank failed, told to the others.

A rank's error goes through the launch's key-value store: a rank > 0 prints its own unless
rank 0 failed with the same message (a bad config, a divergence: said once), so an error only
one rank hits (its data, its machine) is never lost; and a rank stopped by torchrun can name
the rank whose failure stopped it.

A failed rank also leaves a mark in torchrun's folder for the attempt (shared by the ranks of
one machine), read without torch: a rank that torchrun stops while it is still importing torch
cannot reach the store, and without the mark it printed its own stop line beside rank 0's error.
This module imports torch only when it asks the store.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ERROR_WAIT = 5.0     # seconds a rank > 0 waits for rank 0's error before printing its own


def launched() -> bool:
    """Whether torchrun (or a launcher like it) started this process."""
    return any(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def launched_rank() -> int | None:
    """This process's rank when torchrun started it among several; None for one process."""
    if not launched() or os.environ.get("WORLD_SIZE", "") == "1":
        return None
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return None


def _group_ready() -> bool:
    dist = sys.modules.get("torch.distributed")   # never initialised unless imported
    return dist is not None and dist.is_available() and dist.is_initialized()


def _error_store():
    """The launch's store: torchrun's agent store (reachable before and after the process group
    exists), else the process group's; None without either."""
    try:
        import torch.distributed as dist
        if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True" and "MASTER_PORT" in os.environ:
            return dist.TCPStore(os.environ.get("MASTER_ADDR", "localhost"), int(os.environ["MASTER_PORT"]),
                                 is_master=False, timeout=timedelta(seconds=2))
        if _group_ready():
            return dist.distributed_c10d._get_default_store()
    except Exception:
        pass
    return None


def _attempt() -> str:
    # a restarted torchrun (--max-restarts) keeps its store: an earlier attempt's errors are not this one's
    return os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")


def _error_key(rank: int) -> str:
    return f"gankit/error/{_attempt()}/{rank}"


def _marks_folder() -> Path | None:
    """torchrun's folder for this attempt, shared by this machine's ranks: each rank's error file
    (TORCHELASTIC_ERROR_FILE) is ``.../attempt_N/LOCAL_RANK/error.json``; None for another layout."""
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not error_file:
        return None
    folder = Path(error_file).parent.parent
    return folder if folder.name == f"attempt_{_attempt()}" and folder.is_dir() else None


def _mark(rank: int, kind: str = "error") -> Path | None:
    folder = _marks_folder()
    return None if folder is None else folder / f"gankit-{kind}-rank-{rank}"


def mark_alive():
    """This rank's pid in the attempt's folder, and a mark when it leaves through Python: a rank
    whose process is gone with neither that mark nor an error was killed (SIGKILL: the
    out-of-memory killer), which no message of its own can say."""
    import atexit
    rank = launched_rank()
    mark = None if rank is None else _mark(rank, "pid")
    if mark is None:
        return
    try:
        mark.write_text(str(os.getpid()))
    except OSError:
        return
    atexit.register(mark_left)


def mark_left():
    """This rank ends through Python (gankit.__main__ calls it before os._exit, where atexit
    does not run)."""
    rank = launched_rank()
    mark = None if rank is None else _mark(rank, "left")
    if mark is not None and mark.with_name(f"gankit-pid-rank-{rank}").exists():
        try:
            mark.touch()
        except OSError:
            pass


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:        # another user's process of that number: alive
        return False
    try:      # a zombie not yet reaped by torchrun is gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def lost_peers() -> list[int]:
    """The other ranks on this machine that ended without a word: no error, no exit through
    Python (killed by a signal)."""
    rank = launched_rank()
    if rank is None or _marks_folder() is None:
        return []
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return []
    lost = []
    for r in range(size):
        pid = _mark(r, "pid")
        if r == rank or not pid.exists() or _mark(r, "left").exists() or _mark(r).exists():
            continue
        try:
            if _gone(int(pid.read_text())):
                lost.append(r)
        except (OSError, ValueError):
            continue
    return lost


def _marked_peers(rank: int) -> list[int] | None:
    """The other ranks whose marks this machine sees; None when a rank on another machine may
    have failed unseen (or there is no folder to look in)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        whole = int(os.environ.get("LOCAL_WORLD_SIZE", "0")) == size   # every rank on this machine
    except ValueError:
        return None
    if _mark(rank) is None:
        return None
    marked = [r for r in range(size) if r != rank and _mark(r).exists()]
    return marked if marked or whole else None


def error_line(message: str, wait: float | None = None, stop=lambda: False, store=None) -> str | None:
    """What this process prints for its error ``message``: rank 0 (or a lone process) the
    message; a rank > 0 ``rank N: message``, or None when rank 0 failed with the same message
    (waited for up to ``wait`` seconds, or until ``stop()``)."""
    rank = launched_rank()
    if not rank:
        return message
    store = _error_store() if store is None else store
    theirs = None
    if store is not None:
        key, deadline = _error_key(0), time.monotonic() + (ERROR_WAIT if wait is None else wait)
        try:
            while not store.check([key]) and time.monotonic() < deadline and not stop():
                time.sleep(0.05)
            theirs = store.get(key).decode() if store.check([key]) else None
        except (Exception, KeyboardInterrupt):   # store gone, Ctrl-C: the rank says its own
            pass
    elif not _group_ready():
        # no store and no group yet: a failure before joining comes from the arguments and the
        # config, the same on every rank; rank 0 says it
        return None
    return None if theirs == message else f"rank {rank}: {message}"


def post_error(message: str, store=None):
    """Tells the other ranks this one failed with ``message`` (after printing it)."""
    rank = launched_rank()
    if rank is None:
        return
    mark = _mark(rank)
    if mark is not None:
        try:
            mark.touch()
        except OSError:
            pass
    store = _error_store() if store is None else store
    if store is not None:
        try:
            store.set(_error_key(rank), message)
        except Exception:
            pass


def failed_peers(store=None, ask_store: bool = True) -> list[int] | None:
    """The other ranks that reported an error (post_error) in this launch; None when that
    cannot be known.  ``ask_store`` False: the marks only, without importing torch (a signal
    handler may have cut torch's import short)."""
    rank = launched_rank()
    if rank is None:
        return []
    marked = _marked_peers(rank)
    if marked:
        return marked
    store = (_error_store() if store is None else store) if ask_store else None
    if store is None:
        return marked
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        return [r for r in range(size) if r != rank and store.check([_error_key(r)])]
    except Exception:
        return marked
