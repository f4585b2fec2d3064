"""One writer per run folder: the flock on ``.gankit.lock``, and the check that the folder
holding it is still where it was (a folder moved or deleted while training is not recreated)."""
from __future__ import annotations

import errno
import os
import weakref
from pathlib import Path

from gankit.io import (WriteError, lock_file, lock_holder, lock_location, release_lock, storage_refusal,
                       write_failure)
from gankit.runfolder.errors import RunFolderError
from gankit.streams import pasteable

LOCK_NAME = ".gankit.lock"
# a drive or folder that refuses writes: the run can be copied somewhere writable
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class FolderInUse(RunFolderError):
    """Another process holds the folder's lock.  The advice is training's (continue with
    --resume); a command that is not training, such as gankit drs, says ``busy(then)`` instead:
    what to run once the folder is free."""

    def __init__(self, folder: Path, holder, then: str = "continue with --resume"):
        self.folder, self.holder = folder, holder
        super().__init__(self.busy(then))

    def busy(self, then: str) -> str:
        return (f"{self.folder} is in use: another gankit process (PID {self.holder}) is training it; wait "
                f"for it to finish or stop it (kill {self.holder}), then {then}")


class WriterLock:
    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / LOCK_NAME
        self.key: Path | None = None
        self._id: tuple[int, int] | None = None   # (device, inode) of the lock file taken

    def take(self):
        """Lock the folder for this process (made if missing); another process that holds it:
        RunFolderError naming its PID."""
        if self.key is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            key, holder = lock_file(self.path)
            st = os.stat(self.path)
        except WriteError as e:      # a link or a FIFO in the lock's place: its own message
            raise RunFolderError(str(e)) from None
        except OSError as e:
            if (refused := storage_refusal(e, self.folder)) is not None:    # a full disk: room, not a copy
                what, detail, fix = refused
                raise RunFolderError(f"cannot write {self.path}: {what}{detail}; {fix}, then run the command "
                                     "again") from None
            raise RunFolderError(self._refusal(e)) from None
        if key is None:
            raise FolderInUse(self.folder, holder)
        self.key, self._id = key, (st.st_dev, st.st_ino)
        weakref.finalize(self, release_lock, key)

    def refuse_taken(self, then: str):
        """FolderInUse where another live process holds the lock; a probe that takes and writes
        nothing (a folder this process holds, or a killed holder's, is not in use)."""
        if self.key is None and (holder := lock_holder(self.path)) is not None:
            raise FolderInUse(self.folder, holder, then)

    def _refusal(self, e: OSError) -> str:
        """Why the lock could not be taken (other than a full disk), and the fix that fits it."""
        if e.errno == errno.EISDIR or self.path.is_dir():     # made by hand or by another tool
            return (f"{self.path} is a folder, not gankit's lock (a file gankit makes there); look inside, "
                    f"then remove it (rm -r {pasteable(self.path)}) and run the command again")
        said = f"cannot write {self.path}: {write_failure(e, 'the folder')}"
        if e.errno in NOT_WRITABLE:
            return (f"{said}; training and drs write the run folder: copy it somewhere writable (cp -a "
                    f"{pasteable(self.folder)} NEW) and run the command on the copy (eval --no-record, "
                    "sample and compare only read it)")
        # an I/O error or the like: a copy would not be the fix
        return f"{said}; mend that, then run the command again"

    def release(self):
        if self.key is not None:
            key, self.key = self.key, None
            release_lock(key)

    def still_here(self):
        """While locked: refuse to write once the folder was moved or deleted (a write would
        recreate a partial folder at the old place, outside the lock)."""
        if self.key is None:
            return
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._id:
                return
        except OSError:
            pass
        now = lock_location(self.key) or ""
        if now and not now.endswith(" (deleted)") and Path(now).name == LOCK_NAME:
            new = Path(now).parent
            raise RunFolderError(f"{self.folder} was moved to {new} while training; the run's files are there "
                                 f"and nothing more is written here: continue with gankit train --resume "
                                 f"--out {new}")
        gone = "is gone (deleted or moved)" if not self.folder.is_dir() else f"lost its lock file {LOCK_NAME}"
        raise RunFolderError(f"{self.folder} {gone} while training; nothing more is written, so no partial "
                             f"folder is made there: if it was moved, continue where it is now with gankit "
                             "train --resume --out NEW_PLACE")
