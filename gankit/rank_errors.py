"""A torchrun run's errors, said once: which rank failed, told to the others.

A rank's error goes through the launch's key-value store: a rank > 0 prints its own unless
rank 0 failed with the same message (a bad config, a divergence: said once), so an error only
one rank hits (its data, its machine) is never lost; and a rank stopped by torchrun can name
the rank whose failure stopped it.

A failed rank also leaves a mark in torchrun's folder for the attempt (shared by the ranks of
one machine), read without torch: a rank that torchrun stops while it is still importing torch
cannot reach the store, and without the mark it printed its own stop line beside rank 0's error.
This module imports torch only when it asks the store.

Before joining the process group the ranks meet in the store (``wait_for_peers``): a rank that
failed before the join (its config file missing on its machine) is told to the others within
seconds, where torch's join waited half an hour without a word (across machines no torchrun
stops the others).
"""
from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ERROR_WAIT = 5.0     # seconds a rank > 0 waits for rank 0's error before printing its own
JOIN_WAIT = 300.0    # seconds a rank waits before the process group for the others to arrive or fail
STOP_WAIT = 10.0     # seconds it then waits for torchrun's SIGTERM when the failed rank is on its machine
_POLL = 0.05


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


def across_machines() -> bool:
    """Whether this launch spans machines: fewer of its ranks run on this machine than in all."""
    try:
        return int(os.environ["LOCAL_WORLD_SIZE"]) < int(os.environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        return False


def on_every_machine(what: str) -> str:
    """The advice for ``what`` (a config file, a run folder) that a rank's machine lacks."""
    return (f"a run across machines reads {what} at the same path on every machine (a filesystem they "
            "share, or a copy on each)")


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


_HOSTED: list = []      # rank 0's store as a rank > 0 reached it (or None), asked once


def _hosted_store():
    """Rank 0's store where torchrun's agent hosts none (gankit.train.distributed.setup hosts it
    there before the join), for a rank > 0 that failed before joining; None when nothing listens
    at MASTER_ADDR:MASTER_PORT within ERROR_WAIT seconds (rank 0 failed before hosting it, or was
    not started), found without torch's client, whose failed tries print C++ stack traces."""
    if launched_rank() in (None, 0) or "MASTER_PORT" not in os.environ or _group_ready() \
            or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        return None
    if not _HOSTED:
        try:
            where = os.environ.get("MASTER_ADDR", "localhost"), int(os.environ["MASTER_PORT"])
            if not _listening(*where, ERROR_WAIT):
                raise ConnectionError(f"nothing listens at {where[0]}:{where[1]}")
            import torch.distributed as dist
            _HOSTED.append(dist.TCPStore(*where, is_master=False, timeout=timedelta(seconds=ERROR_WAIT)))
        except Exception:
            _HOSTED.append(None)
    return _HOSTED[0]


def _listening(host: str, port: int, wait: float) -> bool:
    """Whether something accepts connections at host:port within ``wait`` seconds, asked with a
    plain socket: torch's TCPStore client prints each failed try as a C++ stack trace (c10d's
    logging, which TORCH_CPP_LOG_LEVEL set after torch's import does not quieten)."""
    import socket
    deadline = time.monotonic() + wait
    while True:
        try:
            with socket.create_connection((host, port), timeout=max(0.1, min(1.0, deadline - time.monotonic()))):
                return True
        except OSError:     # refused (rank 0 not hosting: failed, or not there yet), unreachable, timed out
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


def _attempt() -> str:
    # a restarted torchrun (--max-restarts) keeps its store: an earlier attempt's errors are not this one's
    return os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")


def _error_key(rank: int) -> str:
    return f"gankit/error/{_attempt()}/{rank}"


def _errors_key() -> str:
    return f"gankit/errors/{_attempt()}"       # how many ranks posted an error: one read a poll


def _joined_key(rank: int) -> str:
    return f"gankit/joined/{_attempt()}/{rank}"


def _seen_key(rank: int) -> str:
    return f"gankit/seen/{_attempt()}/{rank}"


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


def seen_here(rank: int) -> bool:
    """Whether ``rank`` failed on this machine (its mark in this machine's attempt folder)."""
    mark = _mark(rank)
    return mark is not None and mark.exists()


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
    store = (_error_store() or _hosted_store()) if store is None else store
    theirs = None
    if store is not None:
        key, deadline = _error_key(0), time.monotonic() + (ERROR_WAIT if wait is None else wait)
        try:
            while not store.check([key]) and time.monotonic() < deadline and not stop():
                time.sleep(0.05)
            theirs = store.get(key).decode() if store.check([key]) else None
        except (Exception, KeyboardInterrupt):   # store gone, Ctrl-C: the rank says its own
            pass
    elif not _group_ready() and not across_machines():
        # no store and no group yet: a failure before joining comes from the arguments and the
        # config, the same on every rank; rank 0 says it (on another machine, rank 0's line is
        # not on this one's screen, and this machine's files may be what failed)
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
    store = (_error_store() or _hosted_store()) if store is None else store
    if store is not None:
        try:
            store.set(_error_key(rank), message)
            store.add(_errors_key(), 1)
            if across_machines() and not _group_ready():
                _await_seen(store, rank)
        except Exception:
            pass


def _await_seen(store, rank: int):
    """Until the ranks waiting to join have read this rank's error, for up to ERROR_WAIT seconds:
    the store may be this machine's torchrun agent's, which ends as soon as this rank does."""
    others = [r for r in range(int(os.environ.get("WORLD_SIZE", "1"))) if r != rank]
    deadline = time.monotonic() + ERROR_WAIT
    while time.monotonic() < deadline and not all(
            store.check([_seen_key(r)]) or store.check([_error_key(r)]) for r in others):
        time.sleep(_POLL)


def wait_for_peers(store, wait: float | None = None, stop_wait: float | None = None) -> dict[int, str | None]:
    """Waits, before this rank joins the process group, until every rank has come this far or
    one failed before it (post_error).  ``{rank: its error}`` of those that failed, ``{rank:
    None}`` of those that neither came nor failed within ``wait`` seconds (killed, stuck), ``{}``
    when all came.  A rank that failed on this machine is torchrun's to tell: it stops the others
    with SIGTERM, whose line says so, and that is awaited for up to ``stop_wait`` seconds first.
    A rank that came this far and then failed says another's failure, not its own: not counted."""
    rank, size = launched_rank() or 0, int(os.environ.get("WORLD_SIZE", "1"))
    everyone = [_joined_key(r) for r in range(size)]
    store.set(_joined_key(rank), str(os.getpid()))
    deadline = time.monotonic() + (JOIN_WAIT if wait is None else wait)
    while not store.check(everyone):
        if int(store.add(_errors_key(), 0)):
            failed = {r: store.get(_error_key(r)).decode("utf-8", "replace") for r in range(size)
                      if r != rank and store.check([_error_key(r)]) and not store.check([_joined_key(r)])}
            if failed:
                store.set(_seen_key(rank), "1")
                if any(seen_here(r) for r in failed):
                    end = time.monotonic() + (STOP_WAIT if stop_wait is None else stop_wait)
                    while time.monotonic() < end:
                        time.sleep(_POLL)
                return failed
        if time.monotonic() > deadline:
            return {r: None for r in range(size) if not store.check([_joined_key(r)])}
        time.sleep(_POLL)
    return {}


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
