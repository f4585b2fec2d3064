"""Reading a run's checkpoints back: the newest one that loads, damaged ones skipped with a
warning or set aside (``*.damaged``, never deleted), and a listing taken again when a file
vanished under the reader (a training run pruned it: no damage).

A mixin of RunFolder (it lists the checkpoints and reads the folder's paths through it), apart
from __init__.py, which holds the folder's layout and its writes: every reader of a checkpoint
goes through here, and so does a damaged one found by a writer (claim_existing, pruning).
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from gankit.io import checksum_failure
from gankit.runfolder.checkpoint_check import checkpoint_fault
from gankit.runfolder.errors import RunFolderError, _Vanished

# times a reader lists the checkpoints again when one vanished under it; each pass loses only
# if the writer prunes the newest file between the listing and the read, so a few suffice
LIST_AGAIN = 10

DAMAGED = re.compile(r"^step_\d+\.pt\.damaged(\.\d+)?$")     # a checkpoint set aside (_set_aside)


def load_mapped(path: str | Path) -> dict:
    """A checkpoint loaded with its tensors memory-mapped (not read in), as a reader that needs
    only a few of its entries wants it.  torch's memory map takes UTF-8 paths only: a run folder
    named with other bytes is read from an open file instead (each reader skipped every
    checkpoint of such a folder as unreadable)."""
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except UnicodeEncodeError:
        with open(path, "rb") as f:
            return torch.load(f, map_location="cpu", weights_only=True)


def damaged_name(path: Path) -> Path:
    """Where checkpoint ``path`` is set aside: step_N.pt.damaged, or .damaged.1, .2, ... where a
    step damaged again after a resume wrote it anew (set-aside files are never overwritten)."""
    target, n = path.with_name(path.name + ".damaged"), 0
    while os.path.lexists(target):
        n += 1
        target = path.with_name(f"{path.name}.damaged.{n}")
    return target


class CheckpointReading:
    """RunFolder's checkpoint reading (it reads the folder's paths, listing and lock file)."""

    def _checksum_failure(self, path: Path) -> str | None:
        """checksum_failure, once per file version (claim_existing, then the load)."""
        try:
            st = path.stat()
        except OSError:
            return None            # gone: the reader says so
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key in self._checked:
            return None
        why = checksum_failure(path)
        if why is None:
            self._checked.add(key)
        return why

    def _set_aside(self, path: Path, why: str = "truncated or empty"):
        # the folder is locked, so no other writer takes the name between the check and the rename
        target = damaged_name(path)
        os.replace(path, target)
        warnings.warn(f"{path} is damaged ({why}); renamed to {target.name} and not used", stacklevel=3)

    def damaged(self) -> list[Path]:
        """The checkpoints set aside: step_N.pt.damaged, and .damaged.1, .2, ... of a step set aside again."""
        d = self.checkpoint_dir
        if not d.is_dir():
            return []
        return sorted(p for p in d.glob("step_*.pt.damaged*") if DAMAGED.match(p.name))

    def _first_checkpoint_step(self) -> int | None:
        """The step of the run's first checkpoint, from config.toml (train.checkpoint_every,
        train.steps); None where it cannot be read."""
        import tomllib

        from gankit.config import toml_read
        try:
            train = toml_read.loads(self.config_path.read_text(encoding="utf-8")).get("train", {})
            every, steps = train["checkpoint_every"], train["steps"]
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError):
            return None
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (every, steps))
        return min(every, steps) if ints else None

    def missing_checkpoints(self, first: int | None = None) -> tuple[str, str] | None:
        """(what is wrong, the fix) for a run with no checkpoint that is not one stopped before its
        first: its records go past the first checkpoint's step (``first``, else config.toml's;
        unknown: any step), so the checkpoints went missing, or checkpoints/ is a file.  Starting
        such a run again would erase its records and snapshots.  None: not so."""
        d = self.checkpoint_dir
        if d.is_dir() and (self.checkpoints() or self.damaged()):
            return None
        a_file = os.path.lexists(d) and not d.is_dir()
        first = self._first_checkpoint_step() if first is None else first
        with warnings.catch_warnings():      # a damaged record is warned of by the command's own read
            warnings.simplefilter("ignore")
            recs = self.records()
        trained = max([r["step"] for r in recs if r.get("kind") == "train" and r["step"] > (first or 0)]
                      + [r["step"] for r in recs if r.get("kind") == "eval" and r["step"] >= (first or 1)],
                      default=0)
        if not trained and not a_file:
            return None
        where = (f"{d} is a file, not a folder" if a_file else f"{d} is missing" if not os.path.lexists(d)
                 else f"{d} holds none")
        fix = (f"put the checkpoints back in {d}" + (" (move that file away first)" if a_file else "")
               + ", or train anew into another folder (--out NEW)")
        if trained:
            return f"{self.path} has records of training to step {trained} but no checkpoint: {where}", fix
        return f"{where}; gankit keeps the run's checkpoints in that folder", fix

    @staticmethod
    def load_file(path: str | Path) -> dict:
        import torch
        return torch.load(path, map_location="cpu", weights_only=True)

    def _newest_loadable(self) -> tuple[tuple[int, Path, dict] | None, list[str]]:
        """(step, path, state) of the newest checkpoint that loads (None: none does), and what
        made the newer ones unreadable.  Raises _Vanished when a listed file is gone.  Where this
        process holds the lock (a resume, drs), each file skipped is noted, to be set aside when it
        writes a checkpoint (``_set_aside_unloadable``).  Readers rename nothing."""
        errors = []
        for step, path in reversed(self.checkpoints()):
            # torch.load does not check the zip's CRCs: overwritten bytes would load as weights
            if (why := self._checksum_failure(path)) is not None:
                if not path.exists():
                    raise _Vanished(path.name)
                self._skip_unreadable(path, why, errors)
                continue
            try:
                state = self.load_file(path)
                if (fault := checkpoint_fault(state)) is not None:    # valid CRCs, parts gankit never writes
                    raise ValueError(fault)
            except Exception as e:  # truncated, empty or not a checkpoint: try the one before
                if not path.exists():    # pruned (or set aside) by the training writing this run
                    raise _Vanished(path.name) from None
                first = (str(e).strip().splitlines() or [""])[0].split(". ")[0][:160]
                self._skip_unreadable(path, f"{type(e).__name__}: {first}", errors)
                continue
            return (step, path, state), errors
        return None, errors

    def _skip_unreadable(self, path: Path, why: str, errors: list[str]):
        """A checkpoint that does not load: named in ``errors`` (the warning), and noted, with its
        size and time, where this process holds the lock (a writer: a resume, drs)."""
        errors.append(f"{path.name} ({why})")
        if self.locked:
            try:
                st = path.stat()
            except OSError:
                return
            self._unloadable[path] = (st.st_size, st.st_mtime_ns, why)

    def _set_aside_unloadable(self):
        """Before the lock's holder writes a checkpoint: set aside (``.damaged``) each file it found
        not to load, unless replaced since.  Left in place, one of the step written would be
        replaced, and pruning would count the others as readable and could delete the last good
        checkpoint.  Not at the load itself: drs refuses to go on past such a file, changing nothing
        (gankit/sample_cli.py _refuse_skipped_newer)."""
        for path, (size, mtime, why) in list(self._unloadable.items()):
            del self._unloadable[path]
            try:
                st = path.stat()
            except OSError:
                continue        # gone already: nothing to keep
            if (st.st_size, st.st_mtime_ns) == (size, mtime):
                self._set_aside(path, why)

    def load_checkpoint(self, config: dict | None = None, stored: dict | None = None) -> tuple[dict, Path]:
        """The newest checkpoint that loads (on the CPU).  A damaged newer one is skipped
        with a warning naming it; one that vanished while being read (pruned by a training
        run writing newer ones) is no damage: the folder is listed again.  With ``config``
        (the run's resolved config), a checkpoint whose model identity differs is refused: it
        belongs to another run, or (``stored``: the config without this session's overrides)
        the overrides change what defines it."""
        for _ in range(LIST_AGAIN):
            try:
                found, errors = self._newest_loadable()
                break
            except _Vanished:
                continue
        else:
            raise RunFolderError(f"{self.checkpoint_dir}: the training writing this run pruned each checkpoint "
                                 f"listed before it could be read, {LIST_AGAIN} times over; run the command "
                                 "again (or have the run keep more: train.keep_checkpoints)")
        if found is not None:
            step, path, state = found
            inner = state.get("step")
            if isinstance(inner, int) and inner != step:
                raise RunFolderError(f"{path} holds step {inner}, not {step} as its name says (renamed or copied "
                                     f"by hand); rename it step_{inner:08d}.pt or move it out of {self.checkpoint_dir}")
            if config is not None:
                from gankit.identity import checkpoint_mismatch
                if (problem := checkpoint_mismatch(state, path, config, stored)) is not None:
                    raise RunFolderError(problem)
            if errors:
                warnings.warn(f"{self.checkpoint_dir}: skipped unreadable {'; '.join(errors)}; "
                              f"using {path.name}", stacklevel=2)
            return state, path
        detail = ("; unreadable: " + "; ".join(errors)) if errors else ""
        damaged = [p.name for p in self.damaged()]
        if damaged:
            detail += f"; set aside as damaged: {', '.join(damaged)}"
        if not detail and (missing := self.missing_checkpoints()) is not None:
            # "train first: gankit train PRESET --out RUN" would erase what is left of the run
            raise RunFolderError(f"no loadable checkpoint: {missing[0]}; {missing[1]}")
        from gankit.io import lock_holder
        holder = None if detail else lock_holder(self.lock_path)
        fix = ("put a good checkpoint back, or train anew into another folder (--out NEW)" if detail
               else f"process {holder} is training it and has written none yet: try again after its first "
                    f"checkpoint (train.checkpoint_every)" if holder
               else f"train first: gankit train PRESET --out {self.path}")
        raise RunFolderError(f"no loadable checkpoint in {self.checkpoint_dir}{detail}; {fix}")
