"""The run folder: the one module that writes and reads it.

Training, evaluation, sampling and the report meet only here:

    config.toml        the resolved config (every option, defaults filled in)
    metrics.jsonl      append-only records {"step", "kind": "train" | "eval" | ..., ...}
    checkpoints/       step_<8 digits>.pt: every declared module and optimizer, objective
                       state, step, config, the model identity, all RNG states
    samples/           step_<8 digits>.npz: fixed-noise samples, D on a grid (1-D/2-D data),
                       and the figures that need the model (z interpolation, nearest
                       training images), so the report never builds a model
    report.html        rebuilt from the folder alone
    .gankit.lock       marks the folder as a gankit run; locked (flock) by the process that
                       trains, and holds its PID

What the folder promises (docs/reliability.md lists every case): atomic writes (temp file,
fsync, rename; a killed writer's temp files go when training starts again); one writer at a
time (a flock naming its PID); a folder that is not a gankit run is never written into; a torn
last record is skipped with a warning; a checkpoint carries its run's model identity and loads
with ``torch.load(weights_only=True)``, so one of another run is refused and a hostile file runs
no code; an unreadable checkpoint is skipped, and set aside (``*.damaged``, never deleted) when
training continues; a full disk or a file-size limit stops with a message saying so, and the
previous checkpoint stays.

Its parts: lock.py (one writer, and a folder moved while training), checkpoint_read.py (the
newest checkpoint that loads; damaged ones skipped or set aside), records.py (metrics.jsonl:
appended, read once per process, cut back on a resume), config_file.py (config.toml
read, a damaged one recovered from the checkpoints), snapshot_files.py (samples/step_<n>.npz,
listed by name and loaded one at a time), ownership.py (whether gankit made the folder),
defaults.py (folders made for a new run), errors.py.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
import warnings
from pathlib import Path

from gankit.io import (TMP_SUFFIX, WriteError, held_here, intact, is_regular, os_error_cause, save_atomic,
                       storage_refusal, write_failure, write_text_atomic)
from gankit.runfolder.checkpoint_read import CheckpointReading
from gankit.runfolder.config_file import RECOVERED_CONFIG, read_config_file, recovery_advice
from gankit.runfolder.defaults import default_run_dir, gone_if_left_empty  # noqa: F401
from gankit.runfolder.errors import RunFolderError
from gankit.runfolder.lock import LOCK_NAME, NOT_WRITABLE, WriterLock
from gankit.runfolder.ownership import RUN_ENTRIES, STEP_FILE, Ownership  # noqa: F401
from gankit.runfolder.records import Records
from gankit.runfolder.snapshot_files import SnapshotFiles
from gankit.streams import pasteable


# (folder, step) of each checkpoint this process wrote: a Run object that a newer one of these
# passed is stale (another Run object of this process trained the folder since it was opened);
# one another process writes (a training beside a reader) is not this process's to refuse
WRITTEN_HERE: set[tuple[str, int]] = set()


class RunFolder(Records, CheckpointReading, SnapshotFiles, Ownership):
    def __init__(self, path: str | Path):
        # absolute from the start: a notebook's %cd must not send records to a new folder there
        self.path = Path(os.path.abspath(path))     # ".." collapsed, symlinks kept as given
        self._lock = WriterLock(self.path)
        self._was_there = self.path.is_dir()     # a folder gone since is not made again by a record
        self._checked: set[tuple] = set()      # (path, size, mtime) whose checksums matched
        self._skipped: set[Path] = set()       # step files warned of as not regular files
        self._unloadable: dict[Path, tuple] = {}    # found not to load by the lock's holder: set aside later
        # what a failed write tells the user to run once the storage has room (None: the command
        # again, or, where this process trains the folder, gankit train --resume)
        self.again: str | None = None

    # ------------------------------------------------------------------ layout
    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def records_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def report_path(self) -> Path:
        return self.path / "report.html"

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard event files (train.tensorboard = true), written by TensorBoard's writer."""
        return self.path / "tensorboard"

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    def is_run(self) -> bool:
        return self.config_path.is_file()

    def require_run(self):
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{self.path} is a file, not a run folder")
        if not self.is_run():
            if self.checkpoints() or self.damaged():
                # each checkpoint holds the full config: offered back as for a damaged file
                raise RunFolderError(f"{self.path} holds checkpoints but no config.toml "
                                     f"(removed?){recovery_advice(self)}")
            if self.path.is_dir() and any(self.path.iterdir()):    # the user's files: never trained into
                if runs := self._child_runs():      # runs/ given for runs/NAME: the runs it holds named
                    shown = ", ".join(p.name for p in runs[:3]) + (", ..." if len(runs) > 3 else "")
                    raise RunFolderError(f"{self.path} is not a run folder (no config.toml) but holds run folders "
                                         f"({shown}); give one of them ({runs[0]}), or compare them: "
                                         f"gankit compare {pasteable(self.path)}/*")
                raise RunFolderError(f"{self.path} is not a run folder (no config.toml) but holds other files; "
                                     "give a run folder, or train one into a new folder: gankit train PRESET "
                                     "--out NEW")
            from gankit.rank_errors import across_machines, on_every_machine
            if across_machines():      # rank 0's machine may hold it: another run would not resume this one
                raise RunFolderError(f"{self.path} is not a run folder on this machine (no config.toml); "
                                     + on_every_machine("its run folder"))
            if not self.path.exists():      # most often a mistyped path: said before the offer of a new run
                raise RunFolderError(f"{self.path} is not a run folder: it does not exist; check the path, or "
                                     f"create one with gankit train PRESET --out {self.path}")
            raise RunFolderError(f"{self.path} is not a run folder (no config.toml); create one with "
                                 f"gankit train PRESET --out {self.path}")

    def _child_runs(self) -> list[Path]:
        """The run folders (a config.toml inside) directly in this folder, by name, at most four
        (three to name, one to say there are more); [] where it cannot be listed."""
        runs = []
        try:
            for p in sorted(self.path.iterdir()):
                if (p / "config.toml").is_file():
                    runs.append(p)
                    if len(runs) > 3:
                        break
        except OSError:
            return []
        return runs

    def refuse_own_config(self, source: str | Path):
        """A new run into the folder whose config.toml is the config given (``source``) would write
        over that file (the run's resolved config goes there): refused."""
        try:
            same = os.path.samefile(Path(source).expanduser(), self.config_path)
        except (OSError, ValueError):
            return
        if same:
            raise RunFolderError(f"{source} is the config.toml of --out {self.path}, which the run would write "
                                 "over (with the resolved config); the file can stay where it is: train into "
                                 f"another folder (gankit train {pasteable(source)} --out NEW)")

    # ------------------------------------------------------------------ one writer
    def lock(self):
        """Take the folder's lock for this process (until ``unlock`` or the process ends).
        Another process that holds it: RunFolderError naming its PID."""
        self._lock.take()
        self._was_there = True      # made or found: once gone, a record does not make it again

    def unlock(self):
        self._lock.release()

    @property
    def locked(self) -> bool:
        return self._lock.key is not None

    def still_here(self):
        """RunFolderError once the folder this process locked was moved or deleted."""
        self._lock.still_here()

    def _remove_stale_temps(self):
        """Temp files of writers that were killed (only safe while this process holds the lock)."""
        for folder in (self.path, self.checkpoint_dir, self.samples_dir):
            if folder.is_dir():
                for p in folder.iterdir():
                    if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX) and p.is_file():
                        p.unlink(missing_ok=True)

    def check_new(self):
        """Refuse (without touching anything) a file, a folder of the user's and a trained run."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise RunFolderError(f"--out {p} is a file, not a folder; choose a folder for the run")
        self.refuse_in_use()
        if p.is_dir() and any(p.iterdir()) and not self.is_gankit_run():
            names = sorted(q.name for q in p.iterdir())
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise RunFolderError(f"--out {p} already holds files that are not a gankit run ({shown}); "
                                 "gankit never writes over them: choose a new or empty folder")
        if self.checkpoints() or self.damaged():
            raise RunFolderError(f"{p} already holds a trained run; continue it with --resume "
                                 "or choose another --out folder")
        self._refuse_missing_checkpoints()
        self._refuse_linked_folders()

    def refuse_in_use(self):
        """A new run into a folder another process trains: FolderInUse naming its PID.  Said before
        "already holds a trained run", whose --resume advice that process's lock would refuse."""
        self._lock.refuse_taken("continue it with --resume, or train the new run into another --out folder")

    def _refuse_linked_folders(self):
        # as a linked metrics.jsonl (io/files.py LINKED): a writer clears, prunes and moves files here
        for d in (self.checkpoint_dir, self.samples_dir):
            if d.is_symlink():
                raise RunFolderError(f"{d} is a symbolic link (to {os.readlink(d)}), and gankit writes and deletes "
                                     f"a run's files only inside its folder, never through a link; replace the link "
                                     f"by a folder of its own (holding copies of the files it points to)")

    def _refuse_missing_checkpoints(self):
        """A run whose checkpoints went missing (or whose checkpoints/ is a file) is no run stopped
        before its first checkpoint: a new run there would erase its records and snapshots."""
        if (missing := self.missing_checkpoints()) is not None:
            raise RunFolderError(f"{missing[0]}; training a new run into it would erase its records and "
                                 f"snapshots: {missing[1]}")

    def claim_new(self):
        """Make this folder a new run's (see ``check_new``): lock it, and clear what a run
        that never reached its first checkpoint left."""
        self.check_new()
        p = self.path
        try:
            p.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise RunFolderError(f"--out {p}: a part of this path is a file, not a folder") from None
        self.lock()
        if self.checkpoints() or self.damaged():
            self.unlock()
            raise RunFolderError(f"{p} already holds a trained run; continue it with --resume "
                                 "or choose another --out folder")
        try:
            self._refuse_missing_checkpoints()
        except RunFolderError:
            self.unlock()
            raise
        if self.is_run():     # a run stopped before its first checkpoint (nothing to resume): said, not silent
            warnings.warn(f"{p} held a run that stopped before its first checkpoint; this new run takes its "
                          "place (its config.toml, records and sample grids are replaced)", stacklevel=4)
        self._remove_stale_temps()
        self.clear_records()
        self.clear_snapshots()
        self.report_path.unlink(missing_ok=True)

    def claim_existing(self):
        """Lock a run to continue writing it; remove stale temp files and set aside damaged
        checkpoints (so they are neither loaded, nor counted when pruning, nor lost): every
        truncated one, and the newest ones whose data fail their checksums, down to the one
        training continues from (reading older ones too would cost a read of each).  A folder
        holding a config.toml and nothing gankit wrote is the user's: refused before it is locked
        (taking the lock makes the lock file that marks a gankit run)."""
        if not self.lock_path.is_file() and not self._trained_here():
            raise RunFolderError(f"{self.path} holds a config.toml but no run (no records, checkpoints or "
                                 f"{LOCK_NAME}): gankit trains no run into your folder; train a new run with "
                                 f"it into another folder: gankit train {pasteable(self.config_path)} --out NEW "
                                 "(the file can stay where it is)")
        self._refuse_linked_folders()
        self.lock()
        self._remove_stale_temps()
        for _, path in self.checkpoints():
            if not intact(path):
                self._set_aside(path)
        for _, path in reversed(self.checkpoints()):
            if (why := self._checksum_failure(path)) is None:
                break
            self._set_aside(path, why)

    @contextmanager
    def _writing(self, what: str, kept=lambda: "", error=None):
        """A write the storage refuses (a full disk or quota, a file-size limit) ends in one
        RunFolderError naming ``what`` and ``kept()`` (what survives), or ``error(said, then)``
        (RecordNotWritten); others pass through."""
        self.still_here()
        try:
            yield
        except Exception as e:
            refused = storage_refusal(e, self.path)
            if refused is None:
                raise
            what_happened, detail, fix = refused
            said, then = f"{what_happened} while writing {what}{detail}{kept()}", f"{fix}, then {self._again()}"
            raise (error(said, then) if error else RunFolderError(f"{said}; {then}")) from None

    def _again(self) -> str:
        """What to run once a failed write is mended: training is continued, not run again
        (gankit train PRESET --out RUN would be refused)."""
        if self.again is not None:
            return self.again
        if self.locked or held_here(self.lock_path):
            return f"continue with gankit train --resume --out {pasteable(self.path)}"
        return "run the command again"

    # ------------------------------------------------------------------ config
    def read_config(self) -> dict:
        """The raw config dict of config.toml; RunFolderError where it is damaged
        (gankit/runfolder/config_file.py)."""
        self.require_run()
        return read_config_file(self)

    def write_config(self, toml_text: str):
        with self._writing(str(self.config_path)):
            write_text_atomic(self.config_path, toml_text)

    # ------------------------------------------------------------------ checkpoints
    def _numbered(self, folder: Path, ext: str) -> list[tuple[int, Path]]:
        """The step_<n>.<ext> files of ``folder`` by step.  Those that are not regular files
        (a FIFO would block every reader, a link to /dev/zero fill the memory) are skipped with
        a warning, once per folder object: only looked at, never opened."""
        if not folder.is_dir():
            return []
        found = []
        for p in folder.iterdir():
            if not ((m := STEP_FILE.match(p.name)) and m.group(2) == ext):
                continue
            if is_regular(p):
                found.append((int(m.group(1)), p))
            elif os.path.lexists(p) and p not in self._skipped:     # else pruned since the listing
                self._skipped.add(p)
                warnings.warn(f"{p}: not a regular file (a FIFO, a device, a folder, or a link to one or to "
                              "nothing); skipped: remove it, or put the real file there", stacklevel=3)
        return sorted(found)

    def checkpoints(self) -> list[tuple[int, Path]]:
        return self._numbered(self.checkpoint_dir, "pt")

    def save_checkpoint(self, state: dict, step: int, keep: int) -> Path:
        """Write step_<step>.pt (with the model identity of ``state["config"]``), then remove
        older checkpoints beyond the ``keep`` newest readable ones.  Only older files are
        pruned, and only after the new one is on disk, so the newest readable checkpoint is
        never removed; a damaged older file, or one found not to load, is set aside, not counted."""
        if "config" in state:
            from gankit.identity import model_identity
            state = {**state, "identity": model_identity(state["config"])}
        target = self.checkpoint_dir / f"step_{step:08d}.pt"
        self._set_aside_unloadable()       # never replaced, never counted below: kept as .damaged
        there = is_regular(target)     # gankit drs writes its step again: the file there stays whole
        def kept() -> str:
            if there:
                return f"; {target.name} is kept as it was"
            prev = [p.name for s, p in self.checkpoints() if p != target]
            return f"; the previous checkpoint {prev[-1]} is kept" if prev else ""
        with self._writing(str(target), kept):
            path = save_atomic(state, target)
        WRITTEN_HERE.add((str(self.path.resolve()), step))
        older = []
        for s, p in self.checkpoints():
            if s < step:
                if intact(p):
                    older.append(p)
                else:
                    self._set_aside(p)
        for old in older[:max(0, len(older) - (keep - 1))]:
            old.unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ report
    def write_report(self, html_text: str) -> Path:
        if not self.path.is_dir():     # moved or deleted since it was read: make no partial folder
            raise RunFolderError(f"{self.path} is gone (deleted or moved); report.html is not written")
        try:
            with self._writing(str(self.report_path)):
                return write_text_atomic(self.report_path, html_text)
        except OSError as e:         # a read-only folder or drive: the report can be made from a copy
            if (denied := os_error_cause(e, NOT_WRITABLE)) is None:
                raise
            said = str(e) if isinstance(e, WriteError) else f"cannot write {self.report_path}: {write_failure(denied)}"
            raise RunFolderError(f"{said}; copy the run somewhere writable (cp -a {pasteable(self.path)} NEW) "
                                 "and run gankit report NEW") from None
